"""Pretraining ALBERT in NumPy: the corpus, its vocabulary, and MLM + SOP through train.py's loop.

    python -m albert_np pretrain-vocab --out runs/vocab/spiece --vocab-size 16000
    python -m albert_np pretrain --tokenizer runs/vocab/spiece.model --out runs/pretrain ...

The examples come from pretraining_data.py (sentence-order pairs, n-gram
masking), batched by StreamBatches (train.py's batch source: a background thread
makes the batches while the model runs, and the stream's position is saved in
each checkpoint); the gradients come from step.py with heads.py's "pretraining" head, with
the MLM head run only at the masked positions. The loop, its checkpoints and
exact resume are train.py's; under `mpiexec -n N` each batch (the global
batch) is split over N ranks (distributed.py). Shipping a checkpoint with a model card: model_card.py.
"""
import argparse
import dataclasses
import hashlib
import json
import logging
import os
import queue
import tempfile
import threading
from typing import Optional

import numpy as np

from . import pretraining_data as pdata
from ..config import AlbertConfig
from ..step import model_forward
from ..modeling import AlbertForPreTraining
from ..ops import log_softmax
from ..tokenization import AlbertTokenizerFast, train_tokenizer
from .train import LoopSettings, Trainer, add_settings_arguments, latest_checkpoint, setting, settings_from_args

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
                masked_lm_prob=0.15, max_ngram=pdata.NGRAM_MAX):
    """A PretrainingStream over `documents` (a function returning an iterator), tokenized by `tokenizer`."""
    def encode(sentences):
        return tokenizer(list(sentences), add_special_tokens=False)["input_ids"] if sentences else []
    special = sorted({tokenizer.pad_token_id, tokenizer.unk_token_id, tokenizer.cls_token_id,
                      tokenizer.sep_token_id, tokenizer.mask_token_id})
    pieces = tokenizer.convert_ids_to_tokens(list(range(tokenizer.vocab_size)))
    return pdata.PretrainingStream(documents, encode, pieces=pieces, cls_id=tokenizer.cls_token_id,
                                   sep_id=tokenizer.sep_token_id, mask_id=tokenizer.mask_token_id,
                                   special_ids=special, seed=seed, max_seq_length=max_seq_length,
                                   max_predictions_per_seq=max_predictions, block_docs=block_docs,
                                   masked_lm_prob=masked_lm_prob, max_ngram=max_ngram)


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
        sop_hits += int((sop.argmax(-1) == y).sum())
        sop_count += B
        sop_nll -= float(log_softmax(sop)[np.arange(B), y].sum())
    return {"mlm_accuracy": hits / max(count, 1), "sop_accuracy": sop_hits / max(sop_count, 1),
            "mlm_loss": mlm_nll / max(count, 1), "sop_loss": sop_nll / max(sop_count, 1),
            "masked_tokens": count, "pairs": sop_count,
            "replaced_accuracy": replaced_hits / max(replaced, 1), "replaced_tokens": replaced}


# --------------------------------------------------------------------- loop
@dataclasses.dataclass
class PretrainSettings(LoopSettings):
    """The settings of a pretraining run: the loop's (train.LoopSettings), with pretraining's
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
    block_docs: int = setting(256, "documents read and shuffled together, a block at a time")

    DATA_SETTINGS = LoopSettings.DATA_SETTINGS + ("max_seq_length", "max_predictions", "masked_lm_prob",
                                                  "max_ngram", "block_docs")

    def validate(self):
        """LoopSettings.validate, and this use's fields; returns self."""
        super().validate()
        if self.max_steps is None:
            raise ValueError("max_steps must be a positive int (pretraining has no epochs), got None")
        self.check_positive_ints("max_seq_length", "max_predictions", "block_docs")
        return self


class StreamBatches:
    """Batches of the pretraining stream: train.py's batch source.

    A background thread makes the batches ahead (NumPy and sentencepiece release the
    GIL) while the model runs. Its state is {"data_state": the stream's position after
    the last batch handed out}; restore() continues from there identically.
    """
    epoch_done = False                 # the stream wraps around by itself: no epoch-end evaluations

    def __init__(self, documents, tokenizer, args):
        self.documents, self.tokenizer, self.args = documents, tokenizer, args
        self.position = self._stream().state()
        self._queue = self._stop = self._thread = None
        self._fingerprint = None

    def _stream(self):
        a = self.args
        return make_stream(self.documents, self.tokenizer, a.seed, a.max_seq_length, a.max_predictions,
                           a.block_docs, a.masked_lm_prob, a.max_ngram)

    def state(self):
        return {"data_state": self.position}

    FINGERPRINT_DOCUMENTS = 16

    def fingerprint(self):
        """A digest of what makes the stream's ids: the tokenizer (its SentencePiece model and
        normalisation) and the corpus's first FINGERPRINT_DOCUMENTS documents (the data settings
        and the seed are compared as settings)."""
        if self._fingerprint is not None:
            return self._fingerprint
        tok = self.tokenizer
        h = hashlib.sha256(getattr(tok, "_model_proto", b""))
        h.update(json.dumps([tok.do_lower_case, tok.keep_accents, tok.remove_space]).encode())
        for i, doc in enumerate(self.documents()):
            if i == self.FINGERPRINT_DOCUMENTS:
                break
            h.update(json.dumps(list(doc)).encode())
        self._fingerprint = h.hexdigest()
        return self._fingerprint

    def restore(self, state):
        self._stream().restore(state["data_state"])          # checks the seed
        self.position = state["data_state"]

    def log_fields(self):
        return {}

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
    """Masked-token top-1 and SOP accuracy of one step, from [(labels, argmax outputs)]."""
    hits = count = sop_hits = pairs = 0
    for labels, argmax in predicted:
        w = labels["mlm_weights"] > 0
        hits += int(((argmax["prediction_logits"] == labels["mlm_ids"]) & w).sum())
        count += int(w.sum())
        sop_hits += int((argmax["sop_logits"] == labels["sentence_order_label"]).sum())
        pairs += len(labels["sentence_order_label"])
    return {"mlm_accuracy": hits / max(count, 1), "sop_accuracy": sop_hits / max(pairs, 1)}


def make_trainer(model, tokenizer, documents, out_dir, args, heldout=None):
    """train.py's Trainer for pretraining `model` (AlbertForPreTraining) on `documents`.

    args: PretrainSettings (validated here). documents: a function returning a fresh
    iterator of documents (lists of sentences). heldout: fixed batches (fixed_batches)
    scored every args.eval_every steps.
    """
    args.validate()
    evaluate = None
    if heldout:
        def evaluate(m):
            return evaluate_pretraining(m, heldout)
    return Trainer(model, StreamBatches(documents, tokenizer, args), "pretraining", out_dir, args, desc="pretrain",
                   tokenizer=tokenizer, evaluate=evaluate, step_metrics=training_accuracy)


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
    p.add_argument("--workers", type=int, default=None, help=argparse.SUPPRESS)   # gone: mpiexec -n N
    add_settings_arguments(p, PretrainSettings, old_names=("lr", "steps", "warmup_steps"))


def load_spiece_tokenizer(path):
    """An AlbertTokenizerFast from a spiece.model file or a tokenizer folder."""
    if os.path.isfile(path):
        return AlbertTokenizerFast(vocab_file=path)
    return AlbertTokenizerFast.from_pretrained(path)


def pretrain_main(args):
    """`python -m albert_np pretrain`: new run, or resume the newest checkpoint in --out."""
    tok = load_spiece_tokenizer(args.tokenizer)
    targs = settings_from_args(PretrainSettings, args)
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
    trainer = make_trainer(model, tok, documents, args.out, targs, heldout=heldout)
    last = latest_checkpoint(args.out)
    main_rank = trainer.world.is_main
    if last:
        trainer.load_checkpoint(last)
        if main_rank:
            print(f"resuming from {last} (step {trainer.step})")
    if main_rank:
        tok.save_pretrained(args.out)
    trainer.train()
    if main_rank:
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
    tok = load_spiece_tokenizer(args.tokenizer or args.model)
    model = AlbertForPreTraining.from_pretrained(args.model)
    text = args.text or _wikitext(args.data_dir, "wiki.test.raw")
    batches = fixed_batches(lambda: wikitext_documents(text), tok, args.examples, 32,
                            max_seq_length=args.max_seq_length, max_predictions=args.max_predictions)
    result = {"text": text, **evaluate_pretraining(model, batches)}
    print(json.dumps(result, indent=1) if args.json else
          "\n".join(f"{k}: {v:.4f}" if isinstance(v, float) else f"{k}: {v}" for k, v in result.items()))
