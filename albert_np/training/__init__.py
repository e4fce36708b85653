"""Training: the one loop, its optimisers, and what feeds it.

    train.py             the loop (Trainer): steps, evaluation, resume, early stopping
    checkpoints.py       a run's files: checkpoint folders, trainer state, log, safe replacement
    settings.py          its settings (LoopSettings), one dataclass, and their command-line options
    optim.py             AdamW, LAMB, gradient clipping, learning-rate schedules
    distributed.py       data parallelism over MPI (mpiexec -n N)
    finetuning.py        `finetune`: a task's data -> features -> the loop (FinetuneSettings)
    datasets.py          TSV / CSV / JSONL / CoNLL / SQuAD readers and the task presets
    features.py          tokenised features, batches, and outputs back to answers and tags
    metrics.py           accuracy, F1, Matthews, Pearson / Spearman, SQuAD, entity F1
    pretraining.py       `pretrain`: MLM + sentence order on a text corpus (PretrainSettings)
    pretraining_sources.py  the text sources of a run: a weighted mixture, the everyday hold-out
    pretraining_data.py  sentence-order pairs and whole-word n-gram masking, streamed
    vocab_transfer.py    a model carried over to a new vocabulary (shared rows copied, new ones built)
    pretraining_sources.py  the text: sources and their weighted mixture, the everyday hold-out
    model_card.py        `pretrain-export`: a checkpoint shipped with its model card

Every training step is step.py's `loss_and_grads` (forward, loss, backward).
"""
