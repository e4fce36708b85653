"""Pretraining ALBERT in NumPy: the corpus, its vocabulary, and the MLM + SOP loop.

    python -m albert_np pretrain-vocab --out runs/vocab/spiece --vocab-size 16000
    python -m albert_np pretrain --vocab runs/vocab/spiece.model --out runs/pretrain ...

The examples come from pretraining_data.py (sentence-order pairs, n-gram
masking); the gradients from backprop.py, with the MLM head run only at the
masked positions (gathered before the vocabulary projection).
"""
import dataclasses
import json
import logging
import math
import os
import queue
import shutil
import tempfile
import threading
import time

import numpy as np

from . import pretraining_data as pdata
from .io import make_temp_dir

logger = logging.getLogger(__name__)

SHARED_DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..",
                           "shared", "data")


def corpus_files(data_dir=SHARED_DATA):
    """The pretraining corpus of ../shared/data/pretrain: Wikipedia (2 parts) and Gutenberg."""
    p = os.path.join(data_dir, "pretrain")
    files = {"wiki1": os.path.join(p, "enwiki_2015_part1_of_2.txt.xz"),
             "wiki2": os.path.join(p, "enwiki_2015_part2_of_2.txt.xz"),
             "gutenberg": os.path.join(p, "gutenberg_nltk_13_books.txt.xz")}
    missing = [f for f in files.values() if not os.path.isfile(f)]
    if missing:
        raise FileNotFoundError(f"pretraining corpus not found: {missing}; pass --data-dir "
                                f"pointing at the folder that holds pretrain/")
    return files


def corpus_documents(data_dir=SHARED_DATA):
    """All training documents, Wikipedia and Gutenberg interleaved (WikiText test docs left out)."""
    f = corpus_files(data_dir)
    return pdata.interleave(pdata.wikipedia_documents(f["wiki1"]), pdata.wikipedia_documents(f["wiki2"]),
                            pdata.gutenberg_documents(f["gutenberg"]))


def train_pretraining_vocab(model_prefix, vocab_size=16000, max_sentences=3_000_000,
                            data_dir=SHARED_DATA, num_threads=None, seed=0):
    """Train the SentencePiece vocabulary (ALBERT recipe) on sentences of the corpus.

    Writes model_prefix.model / .vocab; returns the .model path.
    """
    from .tokenization import train_tokenizer
    os.makedirs(os.path.dirname(os.path.abspath(model_prefix)), exist_ok=True)
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as tmp:
        n = 0
        for doc in corpus_documents(data_dir):
            for sentence in doc:
                tmp.write(sentence + "\n")
                n += 1
            if n >= max_sentences:
                break
    logger.info("training a %d-piece vocabulary on %d sentences", vocab_size, n)
    try:
        return train_tokenizer([tmp.name], vocab_size, model_prefix, num_threads=num_threads, seed=seed)
    finally:
        os.unlink(tmp.name)


# ------------------------------------------------------------- held-out text
def wikitext_documents(path):
    """WikiText-103 (raw, or the tokenized .tokens with its @-@ marks) -> lists of sentences.

    ' = Title = ' lines start an article; ' = = Section = = ' headings are dropped.
    """
    doc = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            if line.startswith("= ") and line.endswith(" =") and not line.startswith("= ="):
                if doc:
                    yield doc
                doc = []
                continue
            if line.startswith("= ="):
                continue
            for mark, char in ((" @-@ ", "-"), (" @,@ ", ","), (" @.@ ", ".")):
                line = line.replace(mark, char)
            doc.extend(pdata.split_sentences(line))
    if doc:
        yield doc


# ------------------------------------------------------------------ batches
def collate(examples, pad_id, max_predictions):
    """Pad a list of pretraining examples into arrays.

    Returns (inputs, labels): input_ids / attention_mask / token_type_ids (B, T);
    mlm_positions / mlm_ids (B, P) and mlm_weights (B, P) (0 marks a padding
    slot), sentence_order_label (B,). P = max_predictions.
    """
    B, T, P = len(examples), max(len(e["input_ids"]) for e in examples), max_predictions
    input_ids = np.full((B, T), pad_id, dtype=np.int64)
    attention_mask = np.zeros((B, T), dtype=np.int64)
    token_type_ids = np.zeros((B, T), dtype=np.int64)
    positions = np.zeros((B, P), dtype=np.int64)
    ids = np.zeros((B, P), dtype=np.int64)
    weights = np.zeros((B, P), dtype=np.float32)
    for i, e in enumerate(examples):
        n, k = len(e["input_ids"]), len(e["positions"])
        input_ids[i, :n] = e["input_ids"]
        attention_mask[i, :n] = 1
        token_type_ids[i, :n] = e["token_type_ids"]
        positions[i, :k], ids[i, :k], weights[i, :k] = e["positions"], e["labels"], 1.0
    sop = np.array([e["sentence_order_label"] for e in examples], dtype=np.int64)
    return ({"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids},
            {"mlm_positions": positions, "mlm_ids": ids, "mlm_weights": weights,
             "sentence_order_label": sop})


def make_stream(documents, tokenizer, seed, max_seq_length=128, max_predictions=20, block_docs=256):
    """A PretrainingStream over `documents` (a function returning an iterator), tokenized by `tokenizer`."""
    def encode(sentences):
        return tokenizer(list(sentences), add_special_tokens=False)["input_ids"] if sentences else []
    special = sorted({tokenizer.pad_token_id, tokenizer.unk_token_id, tokenizer.cls_token_id,
                      tokenizer.sep_token_id, tokenizer.mask_token_id})
    pieces = tokenizer.convert_ids_to_tokens(list(range(tokenizer.vocab_size)))
    return pdata.PretrainingStream(documents, encode, pieces=pieces, cls_id=tokenizer.cls_token_id,
                                   sep_id=tokenizer.sep_token_id, mask_id=tokenizer.mask_token_id,
                                   special_ids=special, seed=seed, max_seq_length=max_seq_length,
                                   max_predictions_per_seq=max_predictions, block_docs=block_docs)


def fixed_batches(documents, tokenizer, n_examples, batch_size, seed=12345, **stream_kw):
    """A fixed list of batches (the same on every call): held-out evaluation sets."""
    stream = make_stream(documents, tokenizer, seed, **stream_kw)
    it = iter(stream)
    examples = []
    for _ in range(n_examples):
        examples.append(next(it))
        if stream.epoch > 0:                      # the text is smaller than n_examples
            break
    P = stream.max_predictions
    return [collate(examples[i:i + batch_size], tokenizer.pad_token_id, P)
            for i in range(0, len(examples), batch_size)]


def evaluate_pretraining(model, batches):
    """Masked-token top-1 accuracy, SOP accuracy and both losses on fixed batches (no dropout).

    Also replaced_accuracy: top-1 only over the predictions whose input token was
    replaced ([MASK] or random), i.e. without the kept tokens a model can copy.
    """
    from .heads import model_forward
    from .ops import log_softmax
    c, p = model.config, model.params
    hits = count = sop_hits = sop_count = replaced_hits = replaced = 0
    mlm_nll = sop_nll = 0.0
    for inputs, labels in batches:
        out = model_forward(p, c, "pretraining", inputs, mlm_positions=labels["mlm_positions"])
        logits, sop = out["prediction_logits"], out["sop_logits"]              # (B, P, V), (B, 2)
        B = logits.shape[0]
        w = labels["mlm_weights"] > 0
        lp = log_softmax(logits)                                                 # (B, P, V)
        gold = np.take_along_axis(lp, labels["mlm_ids"][..., None], axis=-1)[..., 0]
        right = (logits.argmax(-1) == labels["mlm_ids"]) & w
        hits += int(right.sum())
        count += int(w.sum())
        # 10 % of the predictions keep their token, which the model can copy; the rest
        # ([MASK] or a random token) can only be guessed from the context
        shown = inputs["input_ids"][np.arange(B)[:, None], labels["mlm_positions"]]
        hidden = w & (shown != labels["mlm_ids"])
        replaced_hits += int((right & hidden).sum())
        replaced += int(hidden.sum())
        mlm_nll -= float(gold[w].sum())
        y = labels["sentence_order_label"]
        sop_hits += int((sop.argmax(-1) == y).sum())
        sop_count += B
        sop_nll -= float(log_softmax(sop)[np.arange(B), y].sum())
    return {"mlm_accuracy": hits / max(count, 1), "sop_accuracy": sop_hits / max(sop_count, 1),
            "mlm_loss": mlm_nll / max(count, 1), "sop_loss": sop_nll / max(sop_count, 1),
            "masked_tokens": count, "pairs": sop_count,
            "replaced_accuracy": replaced_hits / max(replaced, 1), "replaced_tokens": replaced}


# --------------------------------------------------------------------- loop
@dataclasses.dataclass
class PretrainArgs:
    steps: int = 10000
    batch_size: int = 64
    grad_accum: int = 1
    lr: float = 2e-3
    optimizer: str = "lamb"            # "lamb" (the paper) or "adamw"
    warmup_steps: int = 500
    weight_decay: float = 0.01
    max_grad_norm: float = 1.0
    max_seq_length: int = 128
    max_predictions: int = 20
    eval_every: int = 500
    save_every: int = 500
    heldout_examples: int = 1024
    seed: int = 0
    block_docs: int = 256
    workers: int = 1                   # >1: that many single-threaded processes share each batch
    progress: bool = True

    def validate(self):
        for name in ("steps", "batch_size", "grad_accum", "max_seq_length", "max_predictions",
                     "eval_every", "save_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.workers < 1:
            raise ValueError(f"workers must be >= 1, got {self.workers}")
        if self.batch_size % self.workers:
            raise ValueError(f"batch_size ({self.batch_size}) must be a multiple of workers "
                             f"({self.workers}): each worker takes an equal share of the rows")
        if not self.lr > 0:
            raise ValueError(f"learning rate must be > 0, got {self.lr}")
        if self.optimizer not in ("lamb", "adamw"):
            raise ValueError(f"optimizer must be 'lamb' or 'adamw', got {self.optimizer!r}")


class Pretrainer:
    """MLM + SOP pretraining with the NumPy backprop, checkpointed for exact resume.

    A checkpoint (out_dir/checkpoint-<step>/) holds the model (HF format), the
    optimiser state, the dropout RNG state and the data stream's position;
    resuming from it gives the same next batches and the same losses as a run
    that never stopped. Batches are prepared by a background thread (NumPy
    and sentencepiece release the GIL) while BLAS runs the model on both cores,
    or, with args.workers > 1, while that many single-threaded worker processes
    each run the backward pass on an equal share of the rows (parallel.py).
    """

    def __init__(self, model, tokenizer, documents, out_dir, args, heldout=None):
        from . import optim
        from .params import named_parameters
        args.validate()
        self.model, self.tokenizer, self.documents = model, tokenizer, documents
        self.out_dir, self.args = out_dir, args
        self.heldout = heldout or []
        self.params = named_parameters(model.params)       # flat, distinct arrays: updated in place
        Opt = optim.LAMB if args.optimizer == "lamb" else optim.AdamW
        self.optimizer = Opt(self.params, lr=args.lr, weight_decay=args.weight_decay)
        self.rng = np.random.default_rng(args.seed)
        self.step = 0
        self.data_state = None
        self.cpu_seconds = 0.0       # CPU time (all threads, worker processes too), summed over resumes
        self.worker_cpu_seconds = 0.0
        self.log = []
        os.makedirs(out_dir, exist_ok=True)

    # -- schedule ------------------------------------------------------------
    def lr_at(self, step):
        from .optim import polynomial_decay
        a = self.args
        return a.lr * polynomial_decay(step, a.warmup_steps, max(a.steps, a.warmup_steps + 1),
                                       lr_init=a.lr, lr_end=0.0, power=1.0)

    # -- data ------------------------------------------------------------------
    def _batches(self):
        """(inputs, labels, stream state after the batch), produced in a background thread."""
        a = self.args
        stream = make_stream(self.documents, self.tokenizer, a.seed, a.max_seq_length, a.max_predictions,
                             a.block_docs)
        if self.data_state is not None:
            stream.restore(self.data_state)
        q = queue.Queue(maxsize=8)
        stop = threading.Event()

        def produce():
            try:
                it = iter(stream)
                while not stop.is_set():
                    examples = [next(it) for _ in range(a.batch_size)]
                    q.put((*collate(examples, self.tokenizer.pad_token_id, a.max_predictions),
                           stream.state()))
            except BaseException as e:          # surface errors in the main thread
                q.put(e)
        thread = threading.Thread(target=produce, daemon=True)
        thread.start()
        try:
            while True:
                item = q.get()
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()

    # -- one optimiser step ------------------------------------------------
    def train_step(self, batches, workers=None):
        """One optimiser step over grad_accum batches; `workers` (GradientWorkers) shares each batch."""
        from .heads import loss_and_grads
        from .optim import clip_grad_norm
        from .parallel import split_rows
        a, c = self.args, self.model.config
        total, losses, hits, count, sop_hits, n_pairs = None, [], 0, 0, 0, 0
        for _ in range(a.grad_accum):
            inputs, labels, state = next(batches)
            if workers is None:
                loss, out, grads = loss_and_grads(self.model.params, c, "pretraining", inputs, labels,
                                                  rng=self.rng, training=True)
                predicted = [(labels, out["prediction_logits"].argmax(-1), out["sop_logits"].argmax(-1))]
            else:                                   # shard i of the rows -> worker i; mean gradient
                shards = list(zip(split_rows(inputs, workers.n), split_rows(labels, workers.n)))
                seeds = self.rng.integers(0, 2**63 - 1, size=workers.n)
                loss, argmax, grads, cpu = workers.loss_and_grads(shards, seeds)
                self.worker_cpu_seconds += cpu
                predicted = [(lab, am["prediction_logits"], am["sop_logits"])
                             for (_, lab), am in zip(shards, argmax)]
            if not math.isfinite(loss):
                raise FloatingPointError(
                    f"non-finite loss ({loss}) at step {self.step + 1}: stopping; the last good "
                    f"checkpoint in {self.out_dir} is kept (lower --lr or raise --warmup-steps)")
            if total is None:
                total = grads
            else:
                for k in total:
                    total[k] += grads[k]
            losses.append(loss)
            for lab, mlm_pred, sop_pred in predicted:
                w = lab["mlm_weights"] > 0
                hits += int(((mlm_pred == lab["mlm_ids"]) & w).sum())
                count += int(w.sum())
                sop_hits += int((sop_pred == lab["sentence_order_label"]).sum())
                n_pairs += len(lab["sentence_order_label"])
            self.data_state = state
        if a.grad_accum > 1:
            for g in total.values():
                g *= g.dtype.type(1.0 / a.grad_accum)
        norm = clip_grad_norm(total, a.max_grad_norm)
        lr = self.lr_at(self.step)
        self.optimizer.step(total, lr=lr)
        self.step += 1
        return {"type": "train", "step": self.step, "loss": float(np.mean(losses)), "lr": lr,
                "grad_norm": norm, "mlm_accuracy": hits / max(count, 1),
                "sop_accuracy": sop_hits / max(n_pairs, 1)}

    def train(self):
        from .training import _progress_bar
        a = self.args
        cpu0, cpu_before = time.process_time(), self.cpu_seconds
        self.worker_cpu_seconds = 0.0
        workers = None
        batches = self._batches()
        bar = _progress_bar(a.steps, self.step, "pretrain", a.progress)
        try:
            if a.workers > 1 and self.step < a.steps:
                from .parallel import GradientWorkers
                workers = GradientWorkers(self.model.params, self.params, self.model.config, "pretraining",
                                          a.workers, threads=1)
                self.worker_cpu_seconds = workers.startup_cpu_seconds
            t0, tokens = time.perf_counter(), 0
            while self.step < a.steps:
                entry = self.train_step(batches, workers)
                tokens += a.batch_size * a.grad_accum * a.max_seq_length
                entry["tokens_per_second"] = tokens / (time.perf_counter() - t0)
                self.cpu_seconds = (cpu_before + time.process_time() - cpu0  # this process, all threads
                                    + self.worker_cpu_seconds)               # + the worker processes
                entry["cpu_seconds"] = self.cpu_seconds
                self._append_log(entry)
                bar.update(1)
                bar.set_postfix(loss=f"{entry['loss']:.3f}", mlm=f"{entry['mlm_accuracy']:.3f}")
                if self.heldout and (self.step % a.eval_every == 0 or self.step == a.steps):
                    self._append_log({"type": "eval", "step": self.step,
                                      **evaluate_pretraining(self.model, self.heldout)})
                if self.step % a.save_every == 0 or self.step == a.steps:
                    self.save_checkpoint()
        finally:
            bar.close()
            batches.close()
            if workers is not None:
                workers.close()
        return self.log

    # -- log and checkpoints ---------------------------------------------------
    def _append_log(self, entry):
        self.log.append(entry)
        with open(os.path.join(self.out_dir, "log.jsonl"), "a", encoding="utf-8") as f:
            f.write(json.dumps(entry) + "\n")
        logger.info("%s", entry)

    def save_checkpoint(self):
        """out_dir/checkpoint-<step>/ written in a temp folder, then renamed (atomic)."""
        from .training import _replace_dir, _save_arrays, _write_json, plot_curves
        final = os.path.join(self.out_dir, f"checkpoint-{self.step}")
        tmp = make_temp_dir(self.out_dir, ".tmp-checkpoint-")
        self.model.save_pretrained(os.path.join(tmp, "model"))
        opt = self.optimizer.state_dict()
        _save_arrays(os.path.join(tmp, "optimizer.npz"),
                     {**{"exp_avg/" + k: v for k, v in opt["exp_avg"].items()},
                      **{"exp_avg_sq/" + k: v for k, v in opt["exp_avg_sq"].items()}})
        scalars = {k: v for k, v in opt.items() if k not in ("exp_avg", "exp_avg_sq")}
        _write_json(os.path.join(tmp, "trainer_state.json"),
                    {"step": self.step, "data_state": self.data_state, "cpu_seconds": self.cpu_seconds,
                     "optimizer": scalars,
                     "rng": self.rng.bit_generator.state, "args": dataclasses.asdict(self.args)})
        _replace_dir(tmp, final)
        for name in os.listdir(self.out_dir):           # keep the newest two
            if name.startswith("checkpoint-") and name != os.path.basename(final):
                step = int(name.split("-")[1])
                if step < self.step - self.args.save_every:
                    shutil.rmtree(os.path.join(self.out_dir, name), ignore_errors=True)
        plot_curves(self.log, os.path.join(self.out_dir, "curves.png"), metric="mlm_accuracy",
                    title="ALBERT pretraining")
        return final

    def load_checkpoint(self, path):
        """Restore model, optimiser, RNG, data position and log from a checkpoint folder."""
        from .modeling import AlbertForPreTraining
        from .training import _read_log
        with open(os.path.join(path, "trainer_state.json"), encoding="utf-8") as f:
            state = json.load(f)
        loaded = AlbertForPreTraining.from_pretrained(os.path.join(path, "model"))
        for name, arr in self.params.items():
            arr[...] = loaded.state_dict()[name]           # in place: the optimiser holds these arrays
        arrays = np.load(os.path.join(path, "optimizer.npz"))
        self.optimizer.load_state_dict({
            **state["optimizer"],
            "exp_avg": {k[len("exp_avg/"):]: arrays[k] for k in arrays.files if k.startswith("exp_avg/")},
            "exp_avg_sq": {k[len("exp_avg_sq/"):]: arrays[k] for k in arrays.files
                           if k.startswith("exp_avg_sq/")}})
        self.rng.bit_generator.state = state["rng"]
        self.step, self.data_state = state["step"], state["data_state"]
        self.cpu_seconds = state.get("cpu_seconds", 0.0)     # older checkpoints did not record it
        self.log = [e for e in _read_log(os.path.join(self.out_dir, "log.jsonl")) if e["step"] <= self.step]
        with open(os.path.join(self.out_dir, "log.jsonl"), "w", encoding="utf-8") as f:
            f.writelines(json.dumps(e) + "\n" for e in self.log)


def latest_pretraining_checkpoint(out_dir):
    steps = [int(n.split("-")[1]) for n in os.listdir(out_dir) if n.startswith("checkpoint-")
             and os.path.isfile(os.path.join(out_dir, n, "trainer_state.json"))] if os.path.isdir(out_dir) else []
    return os.path.join(out_dir, f"checkpoint-{max(steps)}") if steps else None


# ----------------------------------------------------------------------- CLI
def _wikitext(data_dir, name):
    return os.path.join(data_dir, "wikitext-103", name)


def add_pretrain_arguments(p):
    p.add_argument("--out", required=True, help="output folder (checkpoints, log.jsonl, curves.png)")
    p.add_argument("--tokenizer", required=True, help="spiece.model, or a tokenizer folder")
    p.add_argument("--data-dir", default=SHARED_DATA, help="folder holding pretrain/ and wikitext-103/")
    p.add_argument("--init", default=None, help="start from this checkpoint folder instead of random")
    for name, default in (("embedding-size", 128), ("hidden-size", 256), ("num-hidden-layers", 6),
                          ("num-attention-heads", 4), ("intermediate-size", 1024)):
        p.add_argument("--" + name, type=int, default=default)
    p.add_argument("--hidden-act", default="gelu_new")
    helps = {"workers": "split each batch over N single-threaded processes (data parallel; "
                        "batch size must be a multiple of N)",
             "grad_accum": "batches whose mean gradient makes one step"}
    for f in dataclasses.fields(PretrainArgs):
        if f.name != "progress":
            p.add_argument("--" + f.name.replace("_", "-"), type=type(f.default), default=f.default,
                           help=helps.get(f.name))
    p.add_argument("--no-progress", action="store_true")


def pretrain_main(args):
    """`python -m albert_np pretrain`: new run, or resume the newest checkpoint in --out."""
    from .config import AlbertConfig
    from .modeling import AlbertForPreTraining
    from .tokenization import AlbertTokenizerFast
    tok = (AlbertTokenizerFast(vocab_file=args.tokenizer) if os.path.isfile(args.tokenizer)
           else AlbertTokenizerFast.from_pretrained(args.tokenizer))
    targs = PretrainArgs(**{f.name: getattr(args, f.name) for f in dataclasses.fields(PretrainArgs)
                            if f.name != "progress"}, progress=not args.no_progress)
    if args.init:
        model = AlbertForPreTraining.from_pretrained(args.init)
    else:
        cfg = AlbertConfig(vocab_size=tok.vocab_size, embedding_size=args.embedding_size,
                           hidden_size=args.hidden_size, num_hidden_layers=args.num_hidden_layers,
                           num_attention_heads=args.num_attention_heads,
                           intermediate_size=args.intermediate_size, hidden_act=args.hidden_act,
                           max_position_embeddings=max(512, args.max_seq_length),
                           pad_token_id=tok.pad_token_id)
        model = AlbertForPreTraining(cfg, seed=args.seed)
    corpus_files(args.data_dir)                    # fail early, with the path, when absent

    def documents():
        return corpus_documents(args.data_dir)

    def valid():
        return wikitext_documents(_wikitext(args.data_dir, "wiki.valid.tokens"))
    heldout = fixed_batches(valid, tok, targs.heldout_examples, 32, max_seq_length=targs.max_seq_length,
                            max_predictions=targs.max_predictions)
    trainer = Pretrainer(model, tok, documents, args.out, targs, heldout=heldout)
    last = latest_pretraining_checkpoint(args.out)
    if last:
        trainer.load_checkpoint(last)
        print(f"resuming from {last} (step {trainer.step})")
    tok.save_pretrained(args.out)
    trainer.train()
    print(f"done: step {trainer.step}; checkpoints and log in {args.out}")


def add_vocab_arguments(p):
    p.add_argument("--out", required=True, help="model prefix: writes OUT.model and OUT.vocab")
    p.add_argument("--vocab-size", type=int, default=16000)
    p.add_argument("--max-sentences", type=int, default=2_000_000)
    p.add_argument("--data-dir", default=SHARED_DATA)


def vocab_main(args):
    print(train_pretraining_vocab(args.out, args.vocab_size, args.max_sentences, args.data_dir))


def add_eval_arguments(p):
    p.add_argument("--model", required=True, help="an AlbertForPreTraining folder (with its tokenizer)")
    p.add_argument("--tokenizer", default=None, help="spiece.model or folder (default: --model)")
    p.add_argument("--text", default=None, help="evaluation text (default: WikiText-103 test, raw)")
    p.add_argument("--data-dir", default=SHARED_DATA)
    p.add_argument("--examples", type=int, default=4000)
    p.add_argument("--max-seq-length", type=int, default=128)
    p.add_argument("--max-predictions", type=int, default=20)
    p.add_argument("--json", action="store_true")


def eval_main(args):
    """Masked-token top-1 and SOP accuracy on held-out text (fixed seed: the same masks every time)."""
    from .modeling import AlbertForPreTraining
    from .tokenization import AlbertTokenizerFast
    tok_path = args.tokenizer or args.model
    tok = (AlbertTokenizerFast(vocab_file=tok_path) if os.path.isfile(tok_path)
           else AlbertTokenizerFast.from_pretrained(tok_path))
    model = AlbertForPreTraining.from_pretrained(args.model)
    text = args.text or _wikitext(args.data_dir, "wiki.test.raw")
    batches = fixed_batches(lambda: wikitext_documents(text), tok, args.examples, 32,
                            max_seq_length=args.max_seq_length, max_predictions=args.max_predictions)
    result = {"text": text, **evaluate_pretraining(model, batches)}
    print(json.dumps(result, indent=1) if args.json else
          "\n".join(f"{k}: {v:.4f}" if isinstance(v, float) else f"{k}: {v}" for k, v in result.items()))


# ------------------------------------------------------------ the bundled model
def export_bundled(checkpoint, out_dir, *, tokenizer, data_dir=SHARED_DATA, examples=4000, note=""):
    """Ship a pretraining checkpoint: float16 weights, tokenizer files and a model card.

    Measures masked-token and SOP accuracy on WikiText-103 test (raw) with fixed
    masks and writes them, with the run's data, config, steps and compute, into
    README.md. The folder is built aside and renamed into place (atomic).
    Returns the evaluation results.
    """
    from .modeling import AlbertForPreTraining
    from .training import _read_log, _replace_dir
    with open(os.path.join(checkpoint, "trainer_state.json"), encoding="utf-8") as f:
        state = json.load(f)
    model = AlbertForPreTraining.from_pretrained(os.path.join(checkpoint, "model"))
    test = _wikitext(data_dir, "wiki.test.raw")
    batches = fixed_batches(lambda: wikitext_documents(test), tokenizer, examples, 32,
                            max_seq_length=state["args"]["max_seq_length"],
                            max_predictions=state["args"]["max_predictions"])
    results = evaluate_pretraining(model, batches)
    log = _read_log(os.path.join(os.path.dirname(checkpoint), "log.jsonl"))
    train = [e for e in log if e["type"] == "train" and e["step"] <= state["step"]]
    evals = [e for e in log if e["type"] == "eval" and e["step"] <= state["step"]]
    os.makedirs(os.path.dirname(os.path.abspath(out_dir)), exist_ok=True)
    tmp = make_temp_dir(os.path.dirname(os.path.abspath(out_dir)), ".tmp-export-")
    model.save_pretrained(tmp, storage_dtype="float16")
    tokenizer.save_pretrained(tmp)
    card = model_card(model, state, results, train, evals, note)
    with open(os.path.join(tmp, "README.md"), "w", encoding="utf-8") as f:
        f.write(card)
    _replace_dir(tmp, out_dir)
    return results


def model_card(model, state, results, train, evals, note=""):
    """The README.md of an exported model: what it is, how it was made, how good it is."""
    c, a = model.config, state["args"]
    tokens = state["step"] * a["batch_size"] * a["grad_accum"] * a["max_seq_length"]
    rows = "\n".join(f"| {e['step']} | {e['mlm_accuracy']:.3f} | {e['sop_accuracy']:.3f} | "
                     f"{e['mlm_loss']:.3f} |" for e in evals) or "| - | - | - | - |"
    speed = train[-1]["tokens_per_second"] if train else float("nan")
    timed = [e for e in train if "cpu_seconds" in e]    # logs before this field existed have none
    if timed:
        cpu = f"{timed[-1]['cpu_seconds'] / 3600:.2f} CPU-hours for steps {timed[0]['step']:,}-{timed[-1]['step']:,}"
        if timed[0]["step"] > 1:
            cpu += f" (steps before {timed[0]['step']:,} were not timed)"
    else:
        cpu = "not recorded"
    workers = a.get("workers", 1)
    procs = (f"at the end {workers} single-threaded data-parallel worker processes" if workers > 1
             else "one process with BLAS threads")
    return f"""# albert-tiny-en

A small English ALBERT pretrained from scratch by albert_np, in NumPy, on CPU.
It makes `albert_np.fill_mask(...)` work offline. It is a teaching model, far
weaker than Hugging Face's `albert/albert-base-v2` (pass `model="albert/albert-base-v2"`
for that one).

{note}

## Model

| field | value |
|---|---|
| architecture | AlbertForPreTraining (MLM + SOP heads) |
| vocab_size (SentencePiece unigram, ALBERT recipe) | {c.vocab_size} |
| embedding_size E / hidden_size H | {c.embedding_size} / {c.hidden_size} |
| layers L (one shared group) / heads / intermediate | {c.num_hidden_layers} / {c.num_attention_heads} / {c.intermediate_size} |
| hidden_act / dropout | {c.hidden_act} / {c.hidden_dropout_prob} |
| parameters | {model.num_parameters():,} |
| weights | float16 safetensors (loaded as float32) |

## Data

`../shared/data/pretrain/`: the Wikipedia extract (2015, 30,729 articles) and
13 Project Gutenberg books, streamed in blocks of {a['block_docs']} documents. The
two Wikipedia articles that are also in WikiText-103 test (Nero; American
Beauty) were left out. Examples follow the ALBERT recipe: sentence-order pairs,
whole-word n-gram masking (n <= 3), 15 % of tokens, max {a['max_predictions']}
predictions, sequences of {a['max_seq_length']} tokens.

## Training

| field | value |
|---|---|
| steps | {state['step']:,} of a planned {a['steps']:,} |
| batch | {a['batch_size']} x {a['grad_accum']} accumulation |
| tokens seen | {tokens:,} |
| optimiser | {a['optimizer'].upper()}, lr {a['lr']}, warm-up {a['warmup_steps']} steps, linear decay, weight decay {a['weight_decay']}, clip {a['max_grad_norm']} |
| compute | CPU only, NumPy (albert_np's own backprop), on a 2-core machine; {procs}; last measured {speed:,.0f} tokens/s |
| CPU time (process time of all threads and worker processes) | {cpu} |
| seed | {a['seed']} |

Held-out during training (WikiText-103 validation, fixed masks):

| step | masked-token top-1 | SOP accuracy | MLM loss |
|---|---|---|---|
{rows}

## Quality (WikiText-103 test, raw; {results['masked_tokens']:,} masked tokens, {results['pairs']:,} pairs)

| metric | value |
|---|---|
| masked-token top-1 accuracy | {results['mlm_accuracy']:.3f} |
| the same, only where the input token was replaced ([MASK] or random; {results['replaced_tokens']:,} tokens) | {results['replaced_accuracy']:.3f} |
| sentence-order accuracy | {results['sop_accuracy']:.3f} |
| MLM loss (nats / masked token) | {results['mlm_loss']:.3f} |

Reproduce: `python -m albert_np pretrain-eval --model <this folder>`.
"""


def add_export_arguments(p):
    p.add_argument("--checkpoint", required=True, help="a pretraining checkpoint-<step> folder")
    p.add_argument("--tokenizer", required=True, help="spiece.model or a tokenizer folder")
    p.add_argument("--out", required=True, help="folder to write (e.g. albert_np/pretrained/albert-tiny-en)")
    p.add_argument("--data-dir", default=SHARED_DATA)
    p.add_argument("--examples", type=int, default=4000)
    p.add_argument("--note", default="")


def export_main(args):
    from .tokenization import AlbertTokenizerFast
    tok = (AlbertTokenizerFast(vocab_file=args.tokenizer) if os.path.isfile(args.tokenizer)
           else AlbertTokenizerFast.from_pretrained(args.tokenizer))
    results = export_bundled(args.checkpoint, args.out, tokenizer=tok, data_dir=args.data_dir,
                             examples=args.examples, note=args.note)
    print(json.dumps(results, indent=1))
