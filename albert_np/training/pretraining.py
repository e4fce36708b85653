"""Pretraining ALBERT in NumPy: the corpus, its vocabulary, and MLM + SOP through train.py's loop.

    python -m albert_np pretrain-vocab --out runs/vocab/spiece --vocab-size 16000
    python -m albert_np pretrain --tokenizer runs/vocab/spiece.model --out runs/pretrain ...
    python -m albert_np pretrain --source mine=notes.txt,letters.txt.gz --tokenizer ... --out ... --dry-run

The text is a weighted mixture of sources (pretraining_sources.py: the project's default
mixture, or the user's files with --source / --mixture); the examples come from
pretraining_data.py (sentence-order pairs, n-gram masking), batched by StreamBatches
(train.py's batch source: a background thread makes the batches while the model runs, and the
stream's position is saved in each checkpoint); the gradients come from step.py with heads.py's
"pretraining" head, with the MLM head run only at the masked positions. The loop, its checkpoints and
exact resume are train.py's; under `mpiexec -n N` each batch (the global
batch) is split over N ranks (distributed.py). Shipping a checkpoint with a model card: model_card.py.
"""
import argparse
import dataclasses
import hashlib
import itertools
import json
import logging
import os
import queue
import tempfile
import threading
from typing import Optional

import numpy as np

from . import pretraining_data as pdata
from . import pretraining_sources as psources
from ..io import atomic_write_text
from ..config import AlbertConfig
from ..step import model_forward
from ..modeling import AlbertForPreTraining
from ..ops import log_softmax
from ..tokenization import AlbertTokenizerFast, train_tokenizer
from .settings import LoopSettings, add_settings_arguments, setting, settings_from_args
from .checkpoints import latest_checkpoint
from .train import Trainer

logger = logging.getLogger(__name__)

SHARED_DATA = psources.default_data_dir()       # the project's data folder (None from a wheel)
NO_DATA = ("no data folder: pass --data-dir (a folder holding pretrain/, everyday/ and wikitext-103/; "
           f"or set ${psources.DATA_ENV}), or your own text with --source NAME=FILE[,FILE...] or --mixture FILE.json")


def data_dir_or_default(data_dir):
    """data_dir, else the default data folder (psources.default_data_dir); ValueError when there is none."""
    data_dir = data_dir or psources.default_data_dir()
    if data_dir is None:
        raise ValueError(NO_DATA)
    return data_dir


def corpus_files(data_dir=None):
    """The corpus of the bundled model's first runs, data_dir/pretrain: Wikipedia (2 parts) and Gutenberg."""
    p = os.path.join(data_dir_or_default(data_dir), "pretrain")
    files = {"wiki1": os.path.join(p, "enwiki_2015_part1_of_2.txt.xz"),
             "wiki2": os.path.join(p, "enwiki_2015_part2_of_2.txt.xz"),
             "gutenberg": os.path.join(p, "gutenberg_nltk_13_books.txt.xz")}
    missing = [f for f in files.values() if not os.path.isfile(f)]
    if missing:
        raise FileNotFoundError(f"pretraining corpus not found: {missing}; pass --data-dir "
                                f"pointing at the folder that holds pretrain/")
    return files


def corpus_documents(data_dir=None):
    """Wikipedia and Gutenberg documents interleaved (WikiText test docs left out): the corpus of the
    runs before mixtures, and of the benchmarks (the default mixture adds the everyday text)."""
    f = corpus_files(data_dir)
    return pdata.interleave(pdata.wikipedia_documents(f["wiki1"]), pdata.wikipedia_documents(f["wiki2"]),
                            pdata.gutenberg_documents(f["gutenberg"]))


def vocabulary_sentences(sources, max_sentences):
    """Sentences for a vocabulary: from each source its share (weight / sum) of max_sentences, the
    first ones of its training documents (held-out blocks never), fewer when it has fewer."""
    for source in psources.check_sources(sources):
        quota = round(psources.shares(sources)[source.name] * max_sentences)
        yield from itertools.islice((s for doc in psources.source_documents(source) for s in doc), quota)


def train_pretraining_vocab(model_prefix, vocab_size=16000, max_sentences=3_000_000,
                            data_dir=None, num_threads=None, seed=0, sources=None):
    """Train the SentencePiece vocabulary (ALBERT recipe) on sentences of the sources.

    sources: a list of pretraining_sources.Source (default: the default mixture under data_dir);
    each gives its share of max_sentences (vocabulary_sentences). Writes model_prefix.model /
    .vocab; returns the .model path.
    """
    if sources is None:
        sources = psources.default_mixture(data_dir_or_default(data_dir))
    os.makedirs(os.path.dirname(os.path.abspath(model_prefix)), exist_ok=True)
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as tmp:
        n = 0
        for sentence in vocabulary_sentences(sources, max_sentences):
            tmp.write(sentence + "\n")
            n += 1
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
def collate_pretraining(examples, pad_id, max_predictions):
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


def make_stream(documents, tokenizer, seed, max_seq_length=128, max_predictions=20, block_docs=256,
                masked_lm_prob=0.15, max_ngram=pdata.NGRAM_MAX, sop=True, key=()):
    """A PretrainingStream over `documents` (a function returning an iterator), tokenized by `tokenizer`.

    sop=False: pairs without a sentence-order label (-100); key: more seed integers (a mixture's source)."""
    def encode(sentences):
        return tokenizer(list(sentences), add_special_tokens=False)["input_ids"] if sentences else []
    special = sorted({tokenizer.pad_token_id, tokenizer.unk_token_id, tokenizer.cls_token_id,
                      tokenizer.sep_token_id, tokenizer.mask_token_id})
    pieces = tokenizer.convert_ids_to_tokens(list(range(tokenizer.vocab_size)))
    return pdata.PretrainingStream(documents, encode, pieces=pieces, cls_id=tokenizer.cls_token_id,
                                   sep_id=tokenizer.sep_token_id, mask_id=tokenizer.mask_token_id,
                                   special_ids=special, seed=seed, max_seq_length=max_seq_length,
                                   max_predictions_per_seq=max_predictions, block_docs=block_docs,
                                   masked_lm_prob=masked_lm_prob, max_ngram=max_ngram, sop=sop, key=key)


def source_stream(source, tokenizer, args):
    """The PretrainingStream of one source of a mixture (args: PretrainSettings); its random numbers
    are keyed by the source's name, so adding or removing another source leaves them alone."""
    return make_stream(lambda: psources.source_documents(source), tokenizer, args.seed, args.max_seq_length,
                       args.max_predictions, args.block_docs, args.masked_lm_prob, args.max_ngram,
                       sop=source.sop, key=(psources.name_key(source.name),))


def mixture_stream(sources, tokenizer, args):
    """The MixtureStream of `sources` (args: PretrainSettings)."""
    return psources.MixtureStream({s.name: source_stream(s, tokenizer, args) for s in sources},
                                  psources.shares(sources), args.seed)


def mixture_plan(sources, manifest, tokenizer, args):
    """What a run of args.max_steps steps would read of each source: a list of rows
    {name, share, documents, examples_per_document, examples_per_epoch, examples, epochs, tokens_per_example}.

    Examples per document are measured on the source's first block (its first args.block_docs
    documents, made into examples as in training); examples = share x the run's examples.
    """
    total = args.max_steps * args.batch_size * args.grad_accum
    p = psources.shares(sources)
    rows = []
    for s in sources:
        docs = list(itertools.islice(psources.source_documents(s), args.block_docs))
        examples = source_stream(s, tokenizer, args).block_examples(0, 0, docs) if docs else []
        per_doc = len(examples) / max(len(docs), 1)
        n_docs = manifest["sources"][s.name]["documents"]
        per_epoch = per_doc * n_docs
        planned = p[s.name] * total
        rows.append({"name": s.name, "share": p[s.name], "documents": n_docs,
                     "heldout_blocks": manifest["sources"][s.name]["heldout_blocks"],
                     "examples_per_document": per_doc, "examples_per_epoch": per_epoch, "examples": planned,
                     "epochs": planned / per_epoch if per_epoch else float("inf"),
                     "tokens_per_example": float(np.mean([len(e["input_ids"]) for e in examples]))
                     if examples else 0.0})
    return rows


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
    return [collate_pretraining(examples[i:i + batch_size], tokenizer.pad_token_id, P)
            for i in range(0, len(examples), batch_size)]


def evaluate_pretraining(model, batches):
    """Masked-token top-1 accuracy, SOP accuracy and both losses on fixed batches (no dropout).

    The SOP figures count the pairs with an order label only ("pairs"; -100 marks the others).
    Also replaced_accuracy: top-1 only over the predictions whose input token was
    replaced ([MASK] or random), i.e. without the kept tokens a model can copy.
    """
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
        lab = y != pdata.NO_SOP_LABEL                                            # pairs with an order label
        sop_hits += int((sop.argmax(-1) == y)[lab].sum())
        sop_count += int(lab.sum())
        sop_nll -= float(log_softmax(sop)[np.flatnonzero(lab), y[lab]].sum())
    return {"mlm_accuracy": hits / max(count, 1), "sop_accuracy": sop_hits / max(sop_count, 1),
            "mlm_loss": mlm_nll / max(count, 1), "sop_loss": sop_nll / max(sop_count, 1),
            "masked_tokens": count, "pairs": sop_count,
            "replaced_accuracy": replaced_hits / max(replaced, 1), "replaced_tokens": replaced}


# --------------------------------------------------------------------- loop
@dataclasses.dataclass
class PretrainSettings(LoopSettings):
    """The settings of a pretraining run: the loop's (settings.LoopSettings), with pretraining's
    defaults (the bundled model's first recipe), and the data's. The `pretrain` command has an
    option for each (--learning-rate, --max-seq-length, ...).

    The schedule: linear warm-up, then linear decay to 0 at max_steps (polynomial of power 1,
    lr_end 0); with decay_steps > 0 the rate stays at its peak and decays over the last
    decay_steps only (optim.warmup_stable_decay), so that a copy of any checkpoint can be
    cooled down and exported while the run goes on.
    """
    max_steps: int = 10000
    batch_size: int = 64
    learning_rate: float = 2e-3
    warmup: float = 500
    schedule: str = "polynomial"
    lr_end: float = 0.0
    optimizer: str = "lamb"            # the paper's
    eval_every: Optional[int] = 500
    save_every: Optional[int] = 500
    seed: int = 0
    max_seq_length: int = setting(128, "tokens per sequence (a pair of segments)")
    max_predictions: int = setting(20, "masked tokens predicted per sequence, at most")
    masked_lm_prob: float = setting(0.15, "share of the tokens to predict (the held-out sets keep 0.15)")
    max_ngram: int = setting(3, "longest masked span, in words; 1 = single words")
    heldout_examples: int = setting(1024, "WikiText-103 validation sequences scored at each evaluation")
    block_docs: int = setting(256, "documents read and shuffled together, a block at a time (of each source)")
    max_source_epochs: float = setting(
        16.0, "refuse a run that would read any source of the mixture more times than this (0 = no limit)")

    DATA_SETTINGS = LoopSettings.DATA_SETTINGS + ("max_seq_length", "max_predictions", "masked_lm_prob",
                                                  "max_ngram", "block_docs")

    def validate(self):
        """LoopSettings.validate, and this use's fields; returns self."""
        super().validate()
        if self.max_steps is None:
            raise ValueError("max_steps must be a positive int (pretraining has no epochs), got None")
        self.check_positive_ints("max_seq_length", "max_predictions", "block_docs")
        m = self.max_source_epochs
        if isinstance(m, bool) or not isinstance(m, (int, float)) or not m >= 0:
            raise ValueError(f"max_source_epochs must be a number >= 0 (0 = no limit), got {m!r}")
        return self


class StreamBatches:
    """Batches of the pretraining stream: train.py's batch source.

    documents: a function returning a fresh iterator of documents (one stream), or a list of
    pretraining_sources.Source (a mixture; manifest: its data_manifest, for the epochs logged).
    A background thread makes the batches ahead (NumPy and sentencepiece release the
    GIL) while the model runs. Its state is {"data_state": the stream's position after
    the last batch handed out} and, for a mixture, {"mixture": the sources, "data_manifest"};
    restore() continues from there identically. A checkpoint of another mixture is refused,
    unless change_mixture=True (the sources both know keep their positions; new ones start).
    """
    epoch_done = False                 # the stream wraps around by itself: no epoch-end evaluations

    def __init__(self, documents, tokenizer, args, manifest=None, change_mixture=False):
        self.documents, self.tokenizer, self.args = documents, tokenizer, args
        self.mixture = None if callable(documents) else psources.check_names(documents)
        self.manifest, self.change_mixture = manifest, change_mixture
        self._new_sources = False
        self.position = self._stream().state()
        self._queue = self._stop = self._thread = None
        self._fingerprint = None

    def _stream(self):
        a = self.args
        if self.mixture is not None:
            return mixture_stream(self.mixture, self.tokenizer, a)
        return make_stream(self.documents, self.tokenizer, a.seed, a.max_seq_length, a.max_predictions,
                           a.block_docs, a.masked_lm_prob, a.max_ngram)

    def state(self):
        if self.mixture is None:
            return {"data_state": self.position}
        return {"data_state": self.position, "mixture": [s.to_dict() for s in self.mixture],
                "data_manifest": self.manifest}

    FINGERPRINT_DOCUMENTS = 16

    def fingerprint(self):
        """A digest of what makes the stream's ids: the tokenizer (its SentencePiece model and
        normalisation) and, for one document stream, its first FINGERPRINT_DOCUMENTS documents
        (the data settings and the seed are compared as settings). A mixture's sources are
        compared by restore() instead (mixture_differences), which --change-mixture may allow."""
        if self._fingerprint is not None:
            return self._fingerprint
        tok = self.tokenizer
        h = hashlib.sha256(getattr(tok, "_model_proto", b""))
        h.update(json.dumps([tok.do_lower_case, tok.keep_accents, tok.remove_space]).encode())
        if self.mixture is None:
            for doc in itertools.islice(self.documents(), self.FINGERPRINT_DOCUMENTS):
                h.update(json.dumps(list(doc)).encode())
        self._fingerprint = h.hexdigest()
        return self._fingerprint

    def restore(self, state):
        saved = state.get("mixture")
        if self.mixture is None and saved is not None:
            raise ValueError("the checkpoint was written by a run over a mixture of sources; resume it with the "
                             "same --source / --mixture options")
        if self.mixture is not None:
            if saved is None:
                raise ValueError("the checkpoint was written by a run over one document stream (before mixtures): "
                                 "continue from its weights in a new run with --init CHECKPOINT and a new --out")
            changes = psources.mixture_differences(saved, self.mixture)
            if changes and not self.change_mixture:
                raise ValueError("the checkpoint's mixture differs from this run's (" + "; ".join(changes) +
                                 "): pass the same --source / --mixture options, or --change-mixture to go on "
                                 "with the new one")
            if changes:
                logger.warning("the mixture changes at this checkpoint: %s", "; ".join(changes))
            self._new_sources = bool(changes)
            self._stream().restore(state["data_state"], allow_new_sources=self._new_sources)
        else:
            self._stream().restore(state["data_state"])          # checks the seed
        self.position = state["data_state"]

    def log_fields(self):
        """A mixture's epochs read of each source: {"source_epochs": {name: epochs}}."""
        if self.mixture is None or self.manifest is None:
            return {}
        docs = {n: m["documents"] for n, m in self.manifest["sources"].items()}
        return {"source_epochs": psources.source_epochs(self.position, docs, self.args.block_docs)}

    def next_step(self, n):
        """n batches (inputs, labels) of args.batch_size examples each."""
        if self._queue is None:
            self._start()
        batches = []
        for _ in range(n):
            item = self._queue.get()
            if isinstance(item, BaseException):
                raise item
            inputs, labels, self.position = item
            batches.append((inputs, labels))
        return batches

    def _start(self):
        a, pad_id = self.args, self.tokenizer.pad_token_id
        stream = self._stream()                 # a fresh one: a stopped thread may still hold the old
        if self.mixture is not None:
            stream.restore(self.position, allow_new_sources=self._new_sources)
        else:
            stream.restore(self.position)
        q, stop = queue.Queue(maxsize=8), threading.Event()

        def produce():
            try:
                it = iter(stream)
                while not stop.is_set():
                    examples = [next(it) for _ in range(a.batch_size)]
                    q.put((*collate_pretraining(examples, pad_id, a.max_predictions), stream.state()))
            except BaseException as e:          # surface errors in the main thread
                q.put(e)
        thread = threading.Thread(target=produce, daemon=True)
        thread.start()
        self._queue, self._stop, self._thread = q, stop, thread

    def close(self):
        """Stop the producer thread and wait for it to end. A thread left running inside
        sentencepiece's C++ code when the interpreter exits aborts the process (SIGABRT)."""
        if self._stop is not None:
            self._stop.set()
            while self._thread.is_alive():      # take batches off a full queue so that put returns
                try:
                    self._queue.get(timeout=0.1)
                except queue.Empty:
                    pass
            self._thread.join()
        self._queue = self._stop = self._thread = None


def training_accuracy(predicted):
    """Masked-token top-1 and SOP accuracy of one step, from [(labels, argmax outputs)]; the SOP
    accuracy over the pairs with an order label (not -100)."""
    hits = count = sop_hits = pairs = 0
    for labels, argmax in predicted:
        w = labels["mlm_weights"] > 0
        hits += int(((argmax["prediction_logits"] == labels["mlm_ids"]) & w).sum())
        count += int(w.sum())
        y = labels["sentence_order_label"]
        sop_hits += int((argmax["sop_logits"] == y).sum())          # -100 never equals an argmax
        pairs += int((y != pdata.NO_SOP_LABEL).sum())
    return {"mlm_accuracy": hits / max(count, 1), "sop_accuracy": sop_hits / max(pairs, 1)}


MASKING_SETTINGS = ("masked_lm_prob", "max_ngram", "max_predictions")


def make_trainer(model, tokenizer, documents, out_dir, args, heldout=None, manifest=None, plan=None,
                 change_mixture=False, change_masking=False):
    """train.py's Trainer for pretraining `model` (AlbertForPreTraining) on `documents`.

    args: PretrainSettings (validated here). documents: a function returning a fresh
    iterator of documents (lists of sentences), or a list of pretraining_sources.Source (a
    mixture: its manifest and plan are made here unless given, and a run that would read a
    source more than args.max_source_epochs times is refused). heldout: fixed batches
    (fixed_batches) scored every args.eval_every steps. change_mixture: resume a checkpoint
    of another mixture (StreamBatches). change_masking: resume a checkpoint whose masking
    (MASKING_SETTINGS) differs: the stream goes on where it was, masked the new way.
    """
    args.validate()
    if not callable(documents):
        manifest = manifest or psources.data_manifest(documents)
        plan = plan or mixture_plan(documents, manifest, tokenizer, args)
        psources.check_source_epochs(plan, args.max_source_epochs)
    evaluate = None
    if heldout:
        def evaluate(m):
            return evaluate_pretraining(m, heldout)
    source = StreamBatches(documents, tokenizer, args, manifest=manifest, change_mixture=change_mixture)
    # early stopping watches the held-out masked-token accuracy (which then also marks the best checkpoint)
    metric = "mlm_accuracy" if args.early_stopping_patience is not None else None
    return Trainer(model, source, "pretraining", out_dir, args, desc="pretrain",
                   tokenizer=tokenizer, evaluate=evaluate, step_metrics=training_accuracy, metric_for_best=metric,
                   may_change=MASKING_SETTINGS if change_masking else ())


# ----------------------------------------------------------------------- CLI
def _wikitext(data_dir, name):
    return os.path.join(data_dir, "wikitext-103", name)


def add_data_arguments(p):
    """--source, --mixture and --data-dir: the text a command reads (sources_from_args)."""
    found = psources.default_data_dir()
    g = p.add_argument_group(
        "data", "The text: the default mixture of the project's data folder (--data-dir), or your own files "
                "(--source, repeatable, or --mixture). See albert_np/training/pretraining_sources.py.")
    g.add_argument("--source", action="append", metavar="NAME=PATH[,PATH...][:WEIGHT][:OPTION...]",
                   help="a source of text, repeatable; replaces the default mixture. Files of plain UTF-8 text "
                        "(.txt, .txt.xz, .txt.gz), one document per blank-line-separated block. WEIGHT (default 1): "
                        "its share of the examples is WEIGHT / the sum of the weights. OPTION: nosop (a list of "
                        "unrelated sentences: no sentence-order label), noholdout (train on every block; by "
                        "default the ~5 %% of blocks that pretraining_data.is_heldout_block marks are never "
                        "trained on), paragraphs (the blocks are paragraphs of books: 64 make a document), "
                        "wikiextractor or gutenberg (those files' formats)")
    g.add_argument("--mixture", metavar="FILE.json",
                   help='the sources as a JSON file: {"sources": [{"name": ..., "paths": [...], "weight": ..., '
                        '"sop": true, "format": "blocks", "holdout": true}, ...]}; paths relative to the file')
    g.add_argument("--data-dir", default=None,
                   help=f"the project's data folder, holding pretrain/, everyday/ and wikitext-103/ (default: "
                        f"${psources.DATA_ENV}, else ../shared/data beside the repository checkout; here: "
                        f"{found or 'none found, so --data-dir, --source or --mixture is required'})")


def sources_from_args(args):
    """(the sources, a line saying where they come from) from --source / --mixture / --data-dir."""
    if args.source and args.mixture:
        raise ValueError("give --source options or --mixture FILE, not both")
    if args.source:
        return psources.check_sources(psources.check_names([psources.parse_source(x) for x in args.source])), \
            f"{len(args.source)} source(s) given with --source"
    if args.mixture:
        return psources.check_sources(psources.read_mixture(args.mixture)), f"the mixture file {args.mixture}"
    data_dir = data_dir_or_default(args.data_dir)
    return psources.check_sources(psources.default_mixture(data_dir)), f"the default mixture of {data_dir}"


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive int, got {value}")
    return value


def add_pretrain_arguments(p):
    p.add_argument("--out", required=True, help="output folder (checkpoints, log.jsonl, curves.png, "
                                                "data_manifest.json); a run in it resumes from its newest checkpoint")
    p.add_argument("--tokenizer", required=True, help="spiece.model, or a tokenizer folder")
    p.add_argument("--init", default=None, help="start from this checkpoint or model folder instead of random "
                                                "weights (default: random, of the shape below)")
    for name, default in (("embedding-size", 128), ("hidden-size", 256), ("num-hidden-layers", 6),
                          ("num-attention-heads", 4), ("intermediate-size", 1024)):
        p.add_argument("--" + name, type=_positive_int, default=default,
                       help="of a model from random weights (default: %(default)s)")
    p.add_argument("--hidden-act", default="gelu_new", help="of a model from random weights (default: %(default)s)")
    p.add_argument("--heldout-text", default=None,
                   help="text scored every --eval-every steps, read as WikiText (' = Title = ' lines start "
                        "documents) (default: wikitext-103/wiki.valid.tokens of the data folder when it is "
                        "there, else none)")
    p.add_argument("--change-mixture", action="store_true",
                   help="resume a checkpoint whose mixture differs (e.g. more everyday text for the decay "
                        "phase): the sources both know keep their positions (default: refuse)")
    p.add_argument("--change-masking", action="store_true",
                   help="resume a checkpoint whose masking differs (--masked-lm-prob, --max-ngram, "
                        "--max-predictions; e.g. single words for the next phase): the stream goes on where it "
                        "was, masked the new way (default: refuse)")
    p.add_argument("--dry-run", action="store_true",
                   help="print the plan (steps, data, epochs of each source, output) and stop")
    add_data_arguments(p)
    p.add_argument("--workers", type=int, default=None, help=argparse.SUPPRESS)   # gone: mpiexec -n N
    add_settings_arguments(p, PretrainSettings, old_names=("lr", "steps", "warmup_steps"))


def load_spiece_tokenizer(path):
    """An AlbertTokenizerFast from a spiece.model file or a tokenizer folder."""
    if os.path.isfile(path):
        return AlbertTokenizerFast(vocab_file=path)
    return AlbertTokenizerFast.from_pretrained(path)


def describe_plan(args, where, plan, out, resume, model, heldout):
    """The text `pretrain` prints before it starts: steps, data, the epochs of each source, output."""
    a = args
    examples = a.max_steps * a.batch_size * a.grad_accum
    lines = [f"pretrain: {a.max_steps:,} steps of {a.batch_size * a.grad_accum} sequences of up to "
             f"{a.max_seq_length} tokens ({examples:,} sequences, {examples * a.max_seq_length:,} token slots), "
             f"{a.optimizer} at lr {a.learning_rate:g}",
             f"  model: {model}", f"  output: {out} ({resume})", f"  held-out evaluation: {heldout}",
             f"  data: {where}; every source read at most {a.max_source_epochs:g} times (--max-source-epochs)",
             f"  {'source':<12} {'share':>6} {'documents':>10} {'held out':>9} {'ex./doc':>8} {'tokens/ex.':>10} "
             f"{'examples':>11} {'epochs':>7}"]
    for r in plan:
        lines.append(f"  {r['name']:<12} {100 * r['share']:5.1f}% {r['documents']:>10,} {r['heldout_blocks']:>9,} "
                     f"{r['examples_per_document']:>8.2f} {r['tokens_per_example']:>10.1f} {round(r['examples']):>11,} "
                     f"{r['epochs']:>7.2f}")
    return "\n".join(lines)


def pretrain_main(args):
    """`python -m albert_np pretrain`: new run, or resume the newest checkpoint in --out.

    It prints its plan first (describe_plan); --dry-run stops there.
    """
    from .distributed import world
    tok = load_spiece_tokenizer(args.tokenizer)
    targs = settings_from_args(PretrainSettings, args).validate()
    sources, where = sources_from_args(args)
    manifest = psources.data_manifest(sources)
    plan = mixture_plan(sources, manifest, tok, targs)
    data_dir = args.data_dir or psources.default_data_dir()
    heldout_text = args.heldout_text
    if heldout_text is None and data_dir and os.path.isfile(_wikitext(data_dir, "wiki.valid.tokens")):
        heldout_text = _wikitext(data_dir, "wiki.valid.tokens")
    last = latest_checkpoint(args.out)
    model_text = (f"from {args.init}" if args.init else
                  f"random weights, E {args.embedding_size}, H {args.hidden_size}, {args.num_hidden_layers} layers, "
                  f"{args.num_attention_heads} heads, F {args.intermediate_size}, {args.hidden_act}")
    when = f"every {targs.eval_every} steps" if targs.eval_every else "at the end"
    heldout_desc = (f"{targs.heldout_examples} sequences of {heldout_text} {when}"
                    if heldout_text else "none (no --heldout-text, and no WikiText-103 in the data folder)")
    main_rank = world().is_main
    if main_rank:
        print(describe_plan(targs, where, plan, args.out, f"resuming from {last}" if last else "a new run",
                            model_text, heldout_desc), flush=True)
    psources.check_source_epochs(plan, targs.max_source_epochs)
    if args.dry_run:
        return 0
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
    heldout = None
    if heldout_text:
        heldout = fixed_batches(lambda: wikitext_documents(heldout_text), tok, targs.heldout_examples, 32,
                                max_seq_length=targs.max_seq_length, max_predictions=targs.max_predictions)
    trainer = make_trainer(model, tok, sources, args.out, targs, heldout=heldout, manifest=manifest, plan=plan,
                           change_mixture=args.change_mixture, change_masking=args.change_masking)
    if last:
        trainer.load_checkpoint(last)
        if main_rank:
            print(f"resuming from {last} (step {trainer.step})")
    if main_rank:
        tok.save_pretrained(args.out)
        atomic_write_text(os.path.join(args.out, "data_manifest.json"),
                          json.dumps({"mixture": [s.to_dict() for s in sources], "plan": plan, **manifest},
                                     indent=1) + "\n")
    trainer.train()
    if main_rank:
        print(f"done: step {trainer.step}; checkpoints and log in {args.out}")


def add_vocab_arguments(p):
    p.add_argument("--out", required=True, help="model prefix: writes OUT.model and OUT.vocab")
    p.add_argument("--vocab-size", type=_positive_int, default=16000, help="pieces (default: %(default)s)")
    p.add_argument("--max-sentences", type=_positive_int, default=2_000_000,
                   help="sentences to train on, each source its share of them (default: %(default)s)")
    add_data_arguments(p)


def vocab_main(args):
    sources, where = sources_from_args(args)
    print(f"pretrain-vocab: {args.vocab_size} pieces from up to {args.max_sentences:,} sentences of {where}",
          flush=True)
    print(train_pretraining_vocab(args.out, args.vocab_size, args.max_sentences, sources=sources))


def add_eval_arguments(p):
    p.add_argument("--model", required=True, help="an AlbertForPreTraining folder (with its tokenizer)")
    p.add_argument("--tokenizer", default=None, help="spiece.model or folder (default: --model)")
    p.add_argument("--text", default=None, help="evaluation text, read as WikiText (default: "
                                                "wikitext-103/wiki.test.raw of --data-dir)")
    p.add_argument("--data-dir", default=None, help=f"the project's data folder (default: ${psources.DATA_ENV}, "
                                                    f"else ../shared/data beside the repository checkout)")
    p.add_argument("--examples", type=int, default=4000, help="sequences (default: %(default)s)")
    p.add_argument("--max-seq-length", type=int, default=128, help="(default: %(default)s)")
    p.add_argument("--max-predictions", type=int, default=20, help="(default: %(default)s)")
    p.add_argument("--json", action="store_true")


def eval_main(args):
    """Masked-token top-1 and SOP accuracy on held-out text (fixed seed: the same masks every time)."""
    tok = load_spiece_tokenizer(args.tokenizer or args.model)
    model = AlbertForPreTraining.from_pretrained(args.model)
    text = args.text or _wikitext(data_dir_or_default(args.data_dir), "wiki.test.raw")
    batches = fixed_batches(lambda: wikitext_documents(text), tok, args.examples, 32,
                            max_seq_length=args.max_seq_length, max_predictions=args.max_predictions)
    result = {"text": text, **evaluate_pretraining(model, batches)}
    print(json.dumps(result, indent=1) if args.json else
          "\n".join(f"{k}: {v:.4f}" if isinstance(v, float) else f"{k}: {v}" for k, v in result.items()))
