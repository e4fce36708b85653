"""Fine-tuning: a task's data and head, run through the one loop of train.py.

    finetune(task, model, train, dev, output_dir, ...)      one call, like HF's Trainer.train()
    python -m albert_np finetune --task sst2 --model DIR --train FILE --dev FILE --out DIR

The data is a list of features (F.featurize) cut into micro-batches, an epoch
at a time (EpochBatches: grouped by length, in an order drawn from (seed, epoch)
alone); grad_accum micro-batches make one optimiser step, and a step never
crosses an epoch. Every `eval_every` steps (default: each epoch end) the dev set
is scored with the task's metric (dropout off) and a checkpoint is written (see
train.py for its files); the best one is copied to output_dir/best at the end:

    output_dir/
      checkpoint-<step>/     the model + tokenizer, a loadable model folder, and the
                             training state (train.py)
      best/                  the best checkpoint's model + tokenizer, best_metrics.json
      log.jsonl              one JSON object a line: train steps, evaluations
      curves.png             loss and metric curves (when matplotlib is installed)
"""
import argparse
import dataclasses
import logging
import math
import os
import shutil
import sys
from typing import Optional

import numpy as np

from . import datasets
from . import features as F
from .distributed import world
from .modeling import model_class
from .tokenization import AlbertTokenizerFast
from .io import describe_os_error
from .train import (LOG_FILE, STATE_FILE, LoopArgs, NonFiniteLossError, Trainer, latest_checkpoint,
                    list_checkpoints, plot_curves)

logger = logging.getLogger(__name__)

__all__ = ["FinetuneArgs", "FinetuneResult", "EpochBatches", "finetune", "evaluate", "predict",
           "model_for_task", "tokenizer_for",
           "add_finetune_arguments", "finetune_main", "finetune_from_namespace"]

# --------------------------------------------------------------------------- arguments

@dataclasses.dataclass
class FinetuneArgs:
    """Hyper-parameters of a fine-tuning run (HF TrainingArguments' meanings).

    epochs: passes over the training set (a float is a step budget: 0.5 = half an epoch).
    max_steps: optimiser steps; overrides epochs when set.
    batch_size: examples per micro-batch (the global batch: under mpiexec -n N each rank
        takes batch_size / N rows of it); grad_accum micro-batches make one step.
    learning_rate: peak rate (> 0). warmup: steps if >= 1, else a fraction of all steps.
    schedule: "linear" (warmup, then linear decay to 0), "constant", "polynomial".
    optimizer: "adamw" (HF's default) or "lamb".
    eval_every: steps between evaluations; None = at the end of each epoch.
    save_every: steps between checkpoints; None = at every evaluation
        (a checkpoint is always written when training ends).
    keep_checkpoints: newest checkpoints kept (the best one is kept as well).
    metric_for_best: key of the metric dict; None = the task's main metric.
    group_by_length: batch examples of similar length (less padding).
    """
    epochs: float = 3.0
    max_steps: Optional[int] = None
    batch_size: int = 32
    eval_batch_size: int = 64
    learning_rate: float = 3e-5
    warmup: float = 0.1
    schedule: str = "linear"
    optimizer: str = "adamw"
    weight_decay: float = 0.01
    adam_eps: float = 1e-8
    max_grad_norm: float = 1.0
    grad_accum: int = 1
    eval_every: Optional[int] = None
    save_every: Optional[int] = None
    keep_checkpoints: int = 2
    seed: int = 42
    max_length: int = 128
    doc_stride: int = 128
    metric_for_best: Optional[str] = None
    group_by_length: bool = True
    progress: bool = True
    plot: bool = True

    def validate(self):
        """Raise ValueError naming any setting that cannot work, and what to use instead."""
        lr = self.learning_rate
        if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(lr) or lr <= 0:
            raise ValueError(f"learning_rate must be a number > 0, got {lr!r} (fine-tuning ALBERT "
                             f"typically uses 1e-5 to 5e-5)")
        for name in ("batch_size", "eval_batch_size", "grad_accum", "keep_checkpoints", "max_length"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        for name in ("max_steps", "eval_every", "save_every"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} must be a positive int or None, got {value!r}")
        if self.max_steps is None and not (self.epochs > 0 and math.isfinite(self.epochs)):
            raise ValueError(f"epochs must be > 0 (or set max_steps), got {self.epochs!r}")
        if not (self.warmup >= 0 and math.isfinite(self.warmup)):
            raise ValueError(f"warmup must be >= 0 (steps, or a fraction < 1 of all steps), got {self.warmup!r}")
        if self.schedule not in ("linear", "constant", "polynomial"):
            raise ValueError(f"schedule must be 'linear', 'constant' or 'polynomial', got {self.schedule!r}")
        if self.optimizer not in ("adamw", "lamb"):
            raise ValueError(f"optimizer must be 'adamw' or 'lamb', got {self.optimizer!r}")
        if not self.max_grad_norm >= 0:
            raise ValueError(f"max_grad_norm must be >= 0 (0 = no clipping), got {self.max_grad_norm!r}")
        if not self.weight_decay >= 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay!r}")
        eps = self.adam_eps
        if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not 0 < eps < math.inf:
            raise ValueError(f"adam_eps must be a positive number (e.g. 1e-8; 0 divides 0 by 0 wherever a "
                             f"gradient is zero, which makes the loss nan), got {eps!r}")
        return self


@dataclasses.dataclass
class FinetuneResult:
    """What finetune returns.

    model: the fine-tuned model (the best checkpoint's weights when a dev set was given).
    metrics: dev metrics of that model. best_step, best_metric: where and what the best was.
    global_step: optimiser steps taken. examples_per_second: training throughput
    (forward + backward + update, evaluation excluded). log: the log entries.
    """
    model: object
    metrics: dict
    best_step: Optional[int]
    best_metric: Optional[float]
    global_step: int
    examples_per_second: float
    output_dir: str
    log: list


# --------------------------------------------------------------------------- model helpers

def model_for_task(task, model, config_overrides=None):
    """A model for `task`: an instance is checked and returned; a folder / repo id is loaded
    with the task's head (a new head is initialised, its labels named after the task's)."""
    cls = model_class(task.head)
    if not isinstance(model, (str, os.PathLike)):
        if not isinstance(model, cls):
            raise TypeError(f"task {task.name} needs a {cls.__name__} (or a model folder), got "
                            f"{type(model).__name__}")
        if task.head in ("sequence", "token") and model.config.num_labels != task.num_labels:
            raise ValueError(f"the model has num_labels={model.config.num_labels} but task {task.name} "
                             f"has {task.num_labels} labels {list(task.labels or [])}")
        return model
    overrides = dict(config_overrides or {})
    if task.head in ("sequence", "token"):
        names = task.labels or ("LABEL_0",)
        overrides.setdefault("id2label", {i: str(n) for i, n in enumerate(names)})
        overrides.setdefault("label2id", {str(n): i for i, n in enumerate(names)})
        overrides.setdefault("num_labels", len(names))
        if task.head == "sequence":
            overrides.setdefault("problem_type", "regression" if task.is_regression
                                 else "single_label_classification")
    elif task.head == "qa":
        overrides.setdefault("num_labels", 2)
    return cls.from_pretrained(os.fspath(model), **overrides)


def tokenizer_for(tokenizer, model):
    """A tokenizer instance, or AlbertTokenizerFast.from_pretrained(tokenizer or the model folder)."""
    if tokenizer is not None and not isinstance(tokenizer, (str, os.PathLike)):
        return tokenizer
    source = tokenizer if tokenizer is not None else model
    if not isinstance(source, (str, os.PathLike)):
        raise ValueError("pass tokenizer= (an AlbertTokenizerFast or a folder): the model was given "
                         "as an object, so there is no folder to read spiece.model from")
    return AlbertTokenizerFast.from_pretrained(os.fspath(source))


def _pad_id(tokenizer):
    pad = getattr(tokenizer, "pad_token_id", None)
    return 0 if pad is None else int(pad)


# --------------------------------------------------------------------------- prediction

def predict(model, features, batch_size=64, pad_token_id=0):
    """Model outputs for every feature, in feature order, dropout off.

    Batches are sorted by length (little padding). Returns {"logits": [...]} or
    {"start_logits": [...], "end_logits": [...]}, one array per feature, cut to
    the feature's own length for token / qa outputs.
    """
    n = len(features)
    head = features.task.head
    keys = ("start_logits", "end_logits") if head == "qa" else ("logits",)
    out = {k: [None] * n for k in keys}
    for idx in F.sorted_batches(features.lengths, batch_size):
        inputs, _ = F.collate(features, idx, pad_token_id)
        result = model(**inputs)
        for k in keys:
            values = np.asarray(getattr(result, k))
            for row, i in enumerate(idx):
                v = values[row]
                if head in ("token", "qa"):
                    v = v[:features.lengths[i]]
                out[k][i] = v
    return out


def evaluate(model, features, batch_size=64, pad_token_id=0):
    """The task's metrics (see F.task_metrics) of `model` on `features`."""
    return F.task_metrics(features, predict(model, features, batch_size, pad_token_id))


# --------------------------------------------------------------------------- the data

class EpochBatches:
    """Micro-batches of fine-tuning features, epoch after epoch: train.py's batch source.

    Each epoch's order is drawn from (seed, epoch) alone; a step takes up to grad_accum
    micro-batches but never crosses the end of an epoch. Its state: epoch, batch_pos
    (micro-batches done in the epoch), num_train_features, and this epoch's order
    (arrays order and sizes) once drawn.
    """

    def __init__(self, features, batch_size, seed, group_by_length=True, pad_id=0):
        self.features, self.batch_size, self.seed = features, batch_size, seed
        self.group_by_length, self.pad_id = group_by_length, pad_id
        self.batches_per_epoch = math.ceil(len(features) / batch_size)
        self.epoch, self.batch_pos, self.batches = 0, 0, None
        self.epoch_done, self.position = False, 0.0

    def epoch_batches(self, epoch):
        """The micro-batches (index arrays) of `epoch`."""
        rng = np.random.default_rng([self.seed, epoch])
        if self.group_by_length:
            return F.length_grouped_batches(self.features.lengths, self.batch_size, rng)
        return F.shuffled_batches(len(self.features), self.batch_size, rng)

    def next_step(self, n):
        """[(inputs, labels)] of the next step: up to n micro-batches of this epoch."""
        if self.batches is None:
            self.batches = self.epoch_batches(self.epoch)
        group = self.batches[self.batch_pos:self.batch_pos + n]
        self.batch_pos += len(group)
        self.epoch_done = self.batch_pos >= len(self.batches)
        self.position = round(self.epoch + self.batch_pos / len(self.batches), 4)
        if self.epoch_done:
            self.epoch, self.batch_pos, self.batches = self.epoch + 1, 0, None
        return [F.collate(self.features, idx, self.pad_id) for idx in group]

    def log_fields(self):
        """The epoch as a fraction (1.5 = half-way through the second epoch)."""
        return {"epoch": self.position}

    def state(self):
        state = {"epoch": self.epoch, "batch_pos": self.batch_pos, "num_train_features": len(self.features)}
        if self.batches is not None:
            state["order"] = np.concatenate(self.batches) if self.batches else np.zeros(0, np.int64)
            state["sizes"] = np.array([len(b) for b in self.batches], dtype=np.int64)
        return state

    def restore(self, state):
        if state["num_train_features"] != len(self.features):
            raise ValueError(
                f"the checkpoint was written while training on {state['num_train_features']} features, but "
                f"this run has {len(self.features)}: resume with the same training data, "
                f"--limit-train, --max-length and tokenizer")
        self.epoch, self.batch_pos, self.batches = state["epoch"], state["batch_pos"], None
        self.position = round(self.epoch + self.batch_pos / max(1, self.batches_per_epoch), 4)
        if "sizes" in state:
            sizes = state["sizes"]
            self.batches = np.split(state["order"], np.cumsum(sizes)[:-1]) if len(sizes) else []

    def close(self):
        pass

# --------------------------------------------------------------------------- finetune

def make_trainer(task, model, tokenizer, train_features, dev_features, output_dir, args):
    """The train.py Trainer of a fine-tuning run: EpochBatches, the task's head and dev metric."""
    pad_id = _pad_id(tokenizer)
    source = EpochBatches(train_features, args.batch_size, args.seed, args.group_by_length, pad_id)
    steps_per_epoch = math.ceil(source.batches_per_epoch / args.grad_accum)
    total = args.max_steps or max(1, math.ceil(args.epochs * steps_per_epoch))
    warmup = int(args.warmup) if args.warmup >= 1 else int(math.ceil(args.warmup * total))
    loop = LoopArgs(total_steps=total, learning_rate=args.learning_rate, warmup_steps=warmup,
                    schedule=args.schedule, optimizer=args.optimizer, weight_decay=args.weight_decay,
                    adam_eps=args.adam_eps, max_grad_norm=args.max_grad_norm, grad_accum=args.grad_accum,
                    eval_every=args.eval_every, save_every=args.save_every,
                    keep_checkpoints=args.keep_checkpoints, seed=args.seed, batch_size=args.batch_size,
                    progress=args.progress,
                    plot=args.plot, desc=f"finetune {task.name}")
    evaluate_dev = None
    if dev_features is not None:
        def evaluate_dev(m):
            return evaluate(m, dev_features, args.eval_batch_size, pad_id)
    logger.info("training %s: %d features, %d steps (%d per epoch), batch %d x %d accumulation", task.name,
                len(train_features), total, steps_per_epoch, args.batch_size, args.grad_accum)
    return Trainer(model, source, task.head, output_dir, loop, tokenizer=tokenizer, evaluate=evaluate_dev,
                   metric_for_best=args.metric_for_best or task.main_metric, run_args=args)


def _prepare(task, source, tokenizer, args, limit, what):
    if source is None:
        return None
    examples = datasets.load_examples(task, source, limit=limit)
    features = F.featurize(task, examples, tokenizer, args.max_length, args.doc_stride)
    logger.info("%s: %d examples -> %d features (mean %.1f tokens)", what, len(examples),
                len(features), float(np.mean(features.lengths)))
    return features


def finetune(task, model, train, dev=None, output_dir="finetune_output", tokenizer=None, *,
             resume_from=None, overwrite_output_dir=False, limit_train=None, limit_dev=None,
             config_overrides=None, **kwargs):
    """Fine-tune `model` on `task`; evaluate on `dev`; keep the best checkpoint.

    Args:
        task: a preset name ("sst2", "cola", "mrpc", "stsb", "rte", "wnut17", "squad",
            "cosmosqa") or a datasets.Task (datasets.get_task("sst2", text_columns=...)).
        model: a model folder / Hub id (loaded with the task's head) or a model instance.
        train, dev: a file path (TSV/CSV/JSONL/CoNLL/SQuAD JSON) or a list of examples
            (dicts with the task's columns; see datasets.load_examples). dev may be None.
        output_dir: where checkpoints, log.jsonl, curves.png and best/ go.
        tokenizer: an AlbertTokenizerFast, a folder, or None (the model folder).
        resume_from: a checkpoint folder, or "latest" / True for the newest in output_dir
            (starts afresh when there is none).
        overwrite_output_dir: start afresh in an output_dir that holds checkpoints
            (they and best/ are deleted); without it that is an error.
        limit_train, limit_dev: use only the first N examples.
        config_overrides: model config fields for a freshly loaded model, e.g.
            {"classifier_dropout_prob": 0.1, "hidden_dropout_prob": 0.1}.
        **kwargs: FinetuneArgs fields (epochs, max_steps, batch_size, learning_rate, ...).
    Returns:
        FinetuneResult (model with the best weights, dev metrics, throughput, log).
    Raises:
        ValueError / TypeError for bad settings or data, naming the offending value;
        NonFiniteLossError when the loss becomes nan/inf (checkpoints up to then are kept).
    """
    unknown = sorted(set(kwargs) - {f.name for f in dataclasses.fields(FinetuneArgs)})
    output_dir = os.fspath(output_dir)
    if os.path.exists(output_dir) and not os.path.isdir(output_dir):
        raise ValueError(f"output_dir (--out) {output_dir!r} is a file, not a folder: give a folder")
    for name, source in (("train", train), ("dev", dev)):
        if isinstance(source, (str, os.PathLike)) and os.path.isdir(source):
            raise ValueError(f"{name} (--{name}) {os.fspath(source)!r} is a folder: give the data file in it "
                             f"(TSV, CSV, JSONL, CoNLL or SQuAD JSON)")
    earlier = [os.path.basename(p) for _, p in list_checkpoints(output_dir)]
    if resume_from in (None, False) and not overwrite_output_dir and earlier:
        raise ValueError(f"{output_dir} already holds checkpoints {earlier}: pass resume_from='latest' "
                         f"(CLI --resume) to continue that run, overwrite_output_dir=True (--overwrite) "
                         f"to start again there, or another folder")
    if unknown:
        raise TypeError(f"finetune() got unknown settings {unknown}; the settings are "
                        f"{[f.name for f in dataclasses.fields(FinetuneArgs)]}")
    args = FinetuneArgs(**kwargs).validate()
    task = datasets.get_task(task)
    resume = _resolve_resume(resume_from, output_dir)
    tok = tokenizer_for(tokenizer, resume or model)
    net = model_for_task(task, resume or model, config_overrides if resume is None else None)
    train_features = _prepare(task, train, tok, args, limit_train, "train")
    if train_features is None:
        raise ValueError("train is None: pass a training file or a list of examples")
    dev_features = _prepare(task, dev, tok, args, limit_dev, "dev")
    os.makedirs(output_dir, exist_ok=True)
    trainer = make_trainer(task, net, tok, train_features, dev_features, output_dir, args)
    main_rank = trainer.world.is_main       # under mpiexec, rank 0 alone writes files
    if resume is not None:
        trainer.load_checkpoint(resume)
    elif main_rank:
        _start_afresh(output_dir, overwrite_output_dir)
    if trainer.step < trainer.args.total_steps:
        trainer.train()
    elif trainer.last_checkpoint is None and main_rank:
        trainer.save_checkpoint()
    if main_rank:                           # the other ranks return the last weights
        trainer.export_best()
    metrics = trainer.best_metrics()
    if args.plot and main_rank:
        plot_curves(trainer.log, os.path.join(output_dir, "curves.png"), trainer.metric_name,
                    f"{task.name}: {trainer.step} steps of {args.batch_size * args.grad_accum} examples, "
                    f"peak lr {args.learning_rate:g}")
    return FinetuneResult(trainer.model, metrics, trainer.best["step"], trainer.best["value"],
                          trainer.step, trainer.examples_per_second(), output_dir, trainer.log)


def _start_afresh(output_dir, overwrite):
    """Clear what an earlier run left in output_dir (checkpoints, best/; the log is kept aside)."""
    if overwrite:
        for _, path in list_checkpoints(output_dir):
            shutil.rmtree(path)
        shutil.rmtree(os.path.join(output_dir, "best"), ignore_errors=True)
    log = os.path.join(output_dir, LOG_FILE)
    if os.path.exists(log):
        os.replace(log, log + ".previous")


def _resolve_resume(resume_from, output_dir):
    if resume_from in (None, False):
        return None
    if resume_from is True or resume_from == "latest":
        path = latest_checkpoint(output_dir)
        if path is None:
            logger.info("no checkpoint in %s: starting afresh", output_dir)
        return path
    path = os.fspath(resume_from)
    if not os.path.isfile(os.path.join(path, STATE_FILE)):
        raise FileNotFoundError(f"{path} is not a complete checkpoint (no {STATE_FILE}); the checkpoints "
                                f"in {output_dir} are {[p for _, p in list_checkpoints(output_dir)]}")
    return path


# --------------------------------------------------------------------------- CLI

def add_finetune_arguments(parser):
    """Add the `finetune` sub-command's options to an argparse parser."""
    d = FinetuneArgs()
    p = parser
    p.add_argument("--task", required=True, choices=sorted(datasets.TASKS), help="task preset")
    p.add_argument("--model", required=True, help="model folder or Hub id (config.json + model.safetensors)")
    p.add_argument("--tokenizer", default=None, help="tokenizer folder (default: the model folder)")
    p.add_argument("--train", default=None, help="training file (default: the preset's file under --data-dir)")
    p.add_argument("--dev", default=None, help="dev file (default: the preset's file under --data-dir)")
    p.add_argument("--data-dir", default=None,
                   help=f"folder of the shared data (default: ${datasets.DATA_ENV} or ../shared/data)")
    p.add_argument("--out", required=True, help="output folder (checkpoints, log.jsonl, curves.png, best/)")
    p.add_argument("--epochs", type=float, default=d.epochs)
    p.add_argument("--max-steps", type=int, default=None, help="optimiser steps (overrides --epochs)")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help="examples per micro-batch")
    p.add_argument("--eval-batch-size", type=int, default=d.eval_batch_size)
    p.add_argument("--grad-accum", type=int, default=d.grad_accum, help="micro-batches per step")
    p.add_argument("--lr", type=float, default=d.learning_rate, help="peak learning rate")
    p.add_argument("--warmup", type=float, default=d.warmup, help="warmup steps (>= 1) or fraction (< 1)")
    p.add_argument("--schedule", choices=("linear", "constant", "polynomial"), default=d.schedule)
    p.add_argument("--optimizer", choices=("adamw", "lamb"), default=d.optimizer)
    p.add_argument("--weight-decay", type=float, default=d.weight_decay)
    p.add_argument("--max-grad-norm", type=float, default=d.max_grad_norm)
    p.add_argument("--eval-every", type=int, default=None, help="steps between evaluations (default: each epoch)")
    p.add_argument("--save-every", type=int, default=None, help="steps between checkpoints (default: each evaluation)")
    p.add_argument("--keep-checkpoints", type=int, default=d.keep_checkpoints)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--max-length", type=int, default=d.max_length)
    p.add_argument("--doc-stride", type=int, default=d.doc_stride, help="SQuAD window overlap in tokens")
    p.add_argument("--limit-train", type=int, default=None, help="use the first N training examples")
    p.add_argument("--limit-dev", type=int, default=None, help="use the first N dev examples")
    p.add_argument("--text-columns", default=None, help="comma-separated text column names")
    p.add_argument("--label-column", default=None, help="label column name")
    p.add_argument("--labels", default=None, help="comma-separated label names, in id order")
    p.add_argument("--format", default=None, choices=("tsv", "csv", "jsonl", "conll"),
                   help="file format (default: from the file name, else the preset's)")
    p.add_argument("--metric-for-best", default=None, help="metric that picks the best checkpoint")
    p.add_argument("--hidden-dropout", type=float, default=None, help="override hidden_dropout_prob")
    p.add_argument("--classifier-dropout", type=float, default=None, help="override classifier_dropout_prob")
    p.add_argument("--no-group-by-length", action="store_true", help="plain shuffled batches")
    p.add_argument("--resume", nargs="?", const="latest", default=None,
                   help="resume from a checkpoint folder, or the latest in --out when no folder is given")
    p.add_argument("--overwrite", action="store_true",
                   help="start afresh in an --out folder that holds checkpoints (deletes them)")
    p.add_argument("--no-progress", action="store_true", help="no tqdm progress bar")
    p.add_argument("--workers", type=int, default=None, help=argparse.SUPPRESS)   # gone: mpiexec -n N
    p.add_argument("--no-plot", action="store_true", help="do not write curves.png")
    p.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    return parser


def _args_from_cli(ns):
    """FinetuneArgs fields from parsed CLI options."""
    return dict(
        epochs=ns.epochs, max_steps=ns.max_steps, batch_size=ns.batch_size,
        eval_batch_size=ns.eval_batch_size, learning_rate=ns.lr, warmup=ns.warmup,
        schedule=ns.schedule, optimizer=ns.optimizer, weight_decay=ns.weight_decay,
        max_grad_norm=ns.max_grad_norm, grad_accum=ns.grad_accum, eval_every=ns.eval_every,
        save_every=ns.save_every, keep_checkpoints=ns.keep_checkpoints, seed=ns.seed,
        max_length=ns.max_length, doc_stride=ns.doc_stride, metric_for_best=ns.metric_for_best,
        group_by_length=not ns.no_group_by_length, progress=not ns.no_progress,
        plot=not ns.no_plot)


def finetune_main(argv=None):
    """`python -m albert_np finetune ...`: parse argv, run, print the result. Returns an exit code."""
    parser = argparse.ArgumentParser(prog="python -m albert_np finetune",
                                     description="Fine-tune ALBERT on a task (NumPy, CPU).")
    add_finetune_arguments(parser)
    return finetune_from_namespace(parser.parse_args(argv))


def finetune_from_namespace(ns):
    """Run `finetune` from options parsed with add_finetune_arguments (for a sub-command).

    Prints a summary; returns 0, or 2 with the error on stderr for bad data or settings.
    """
    logging.basicConfig(format="%(asctime)s %(name)s: %(message)s")     # no-op when already set up
    logging.getLogger("albert_np").setLevel(getattr(logging, ns.log_level))
    if getattr(ns, "workers", None) is not None:
        print(f"error: --workers is gone: run `mpiexec -n {ns.workers} python -m albert_np finetune ...`",
              file=sys.stderr)
        return 2
    try:
        task = datasets.get_task(ns.task, text_columns=ns.text_columns, label_column=ns.label_column,
                             labels=ns.labels, format=ns.format)
        train = ns.train or datasets.default_data_file(task, "train", ns.data_dir)
        dev = ns.dev or datasets.default_data_file(task, "dev", ns.data_dir)
        if train is None:
            raise ValueError(f"--train is required for task {task.name} (no default training file "
                             f"was found under --data-dir / ${datasets.DATA_ENV} / ../shared/data)")
        overrides = {k: v for k, v in (("hidden_dropout_prob", ns.hidden_dropout),
                                       ("classifier_dropout_prob", ns.classifier_dropout)) if v is not None}
        result = finetune(task, ns.model, train, dev, ns.out, ns.tokenizer, resume_from=ns.resume,
                          overwrite_output_dir=ns.overwrite, limit_train=ns.limit_train, limit_dev=ns.limit_dev,
                          config_overrides=overrides or None, **_args_from_cli(ns))
    except (ValueError, TypeError, FileNotFoundError, NonFiniteLossError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:                       # read-only --out, disk full, a path through a file
        print(f"error: {describe_os_error(e)}", file=sys.stderr)
        return 2
    if not world().is_main:
        return 0
    print(f"task {task.name}: {result.global_step} steps, {result.examples_per_second:.1f} training examples/s")
    if result.metrics:
        print(f"best step {result.best_step}: " + ", ".join(f"{k} {v:.4f}" for k, v in result.metrics.items()))
    print(f"best model: {os.path.join(result.output_dir, 'best')}; log: {os.path.join(result.output_dir, LOG_FILE)}")
    return 0


if __name__ == "__main__":
    sys.exit(finetune_main())
