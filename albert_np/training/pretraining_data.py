"""Pretraining examples as in the ALBERT paper: sentence-order pairs and n-gram masking.

The recipe of google-research/albert's create_pretraining_data.py, rewritten to
stream and to be reproducible:

1. Documents are lists of sentences. Sentences are packed into a chunk until
   it reaches the target length (max_seq_length - 3; with probability
   short_seq_prob a random shorter target in [2, max]), the chunk is cut at a
   random sentence boundary into segments A and B, and with probability 0.5 the
   two are swapped: sentence-order prediction (SOP) label 1 = swapped,
   0 = in order (a stream with sop=False, over lists of unrelated sentences,
   keeps the order and labels every pair -100: no SOP loss). Pairs are truncated to fit, one token at a time from the
   longer side, front or back at random.
2. [CLS] A [SEP] B [SEP], token types 0 ... 0 1 ... 1.
3. n-gram masking over whole words (a word = a piece that starts a word, see
   word_starts, plus the pieces that continue it): 15 % of the tokens (at
   least 1, at most max_predictions_per_seq) are chosen as spans of n <= 3
   whole words (max_ngram; 1 gives single words), p(n) proportional to 1/n
   (6/11, 3/11, 2/11), falling back to shorter spans when a longer one would overshoot the budget. Each chosen
   token becomes [MASK] (80 %), a random token (10 %) or stays (10 %).

Where this differs from the original, on purpose:
- streaming: documents are read a block at a time (never the whole corpus);
  each block's documents and examples are shuffled within the block;
- reproducible: all randomness of block b in epoch e comes from
  np.random.default_rng([seed, e, b]) (the original drew n from NumPy's
  unseeded global RNG), so the stream can resume exactly from (epoch, block,
  offset) without replaying the RNG;
- a chunk of a single sentence is split at a random word boundary instead of
  borrowing a segment from a random other document (that was BERT's
  next-sentence negative, which SOP replaces);
- random replacements are drawn from ordinary pieces only (never [CLS],
  [SEP], [MASK], <pad>, <unk>).
"""
import gzip
import hashlib
import lzma
import re
import string

import numpy as np

# Wikipedia docs that are also in WikiText-103 test (../shared/data/SOURCES.md):
# kept out of pretraining so that the held-out figures are clean.
WIKITEXT_TEST_OVERLAP = {"21632", "44122"}

NGRAM_MAX = 3
MASK_PROB, RANDOM_PROB = 0.8, 0.1      # the rest (0.1) keeps the original token
NO_SOP_LABEL = -100                    # a pair without a sentence-order label: the SOP loss skips it

_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")


# ------------------------------------------------------------ reading text
def split_sentences(paragraph):
    """Cut a paragraph after . ! ? followed by a space and a capital or digit."""
    return [s.strip() for s in _SENTENCE_END.split(paragraph) if s.strip()]


def _open_text(path):
    """Text of a plain, .xz or .gz file; bytes that are not UTF-8 (a few in the Gutenberg
    books are Latin-1) become U+FFFD instead of stopping the stream."""
    name = str(path)
    if name.endswith(".xz"):
        return lzma.open(path, "rt", encoding="utf-8", errors="replace")
    if name.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8", errors="replace")
    return open(path, encoding="utf-8", errors="replace")


def wikipedia_documents(path, exclude_ids=WIKITEXT_TEST_OVERLAP):
    """WikiExtractor output (<doc id=.. title=..> ... </doc>) -> lists of sentences.

    The first line of each doc repeats the title and is dropped; each further
    line is a paragraph (or a heading ending in '.'), split into sentences.
    """
    doc, doc_id, skip = None, None, False
    with _open_text(path) as f:
        for line in f:
            if line.startswith("<doc "):
                m = re.search(r'id="([^"]*)"', line)
                doc_id = m.group(1) if m else None
                skip = doc_id in exclude_ids
                doc, first = [], True
                continue
            if line.startswith("</doc>"):
                if doc and not skip:
                    yield doc
                doc = None
                continue
            if doc is None:
                continue
            line = line.strip()
            if first:
                first = False
                continue
            if line:
                doc.extend(split_sentences(line))


def gutenberg_documents(path, paragraphs_per_doc=64):
    """NLTK's Gutenberg books -> documents of 64 consecutive paragraphs each.

    A book is too long to be one document (its sentences would all land in one
    shuffle block); blank lines separate paragraphs, '[Title by Author Year]'
    lines start a new book.
    """
    doc, para = [], []

    def flush_paragraph():
        if para:
            doc.extend(split_sentences(" ".join(para)))
            para.clear()
    count = 0
    with _open_text(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("[") and line.endswith("]") and " by " in line:
                flush_paragraph()
                if doc:
                    yield doc
                doc, count = [], 0
                continue
            if line:
                para.append(line)
                continue
            if para:
                flush_paragraph()
                count += 1
                if count >= paragraphs_per_doc:
                    yield doc
                    doc, count = [], 0
    flush_paragraph()
    if doc:
        yield doc


def interleave(*iterators):
    """Round-robin over document iterators until all are exhausted."""
    active = [iter(it) for it in iterators]
    while active:
        for it in list(active):
            try:
                yield next(it)
            except StopIteration:
                active.remove(it)


# -------------------------------------------------------- words and pieces
def word_starts(pieces, special_ids=()):
    """Boolean array over the vocabulary: does this piece start a new word?

    As the original (_is_start_piece_sp): pieces starting with '▁' or '<',
    punctuation, and pieces with characters outside a-z (foreign scripts are
    whole pieces); special tokens too. Other pieces continue the word before.
    """
    punct = set(string.punctuation) | {"€", "£"}
    letters = set("abcdefghijklmnopqrstuvwxyz") | punct
    starts = np.zeros(len(pieces), dtype=bool)
    for i, p in enumerate(pieces):
        starts[i] = (p.startswith("▁") or p.startswith("<") or p in punct
                     or not all(c.lower() in letters for c in p))
    starts[list(special_ids)] = True
    return starts


# ------------------------------------------------------ one document -> pairs
def sentence_order_pairs(doc, rng, max_num_tokens, short_seq_prob, is_word_start, sop=True):
    """Cut a tokenized document (list of id lists) into (A, B, swapped) pairs.

    Yields (tokens_a, tokens_b, label) with label 1 when A and B were swapped. sop=False
    (a list of unrelated sentences, whose order means nothing): A and B keep their order and
    the label is NO_SOP_LABEL (-100), which the SOP loss and accuracy skip.
    """
    target = max_num_tokens
    if rng.random() < short_seq_prob:
        target = int(rng.integers(2, max_num_tokens + 1))
    chunk, length = [], 0
    for i, segment in enumerate(doc):
        if not segment:
            continue
        chunk.append(segment)
        length += len(segment)
        if i < len(doc) - 1 and length < target:
            continue
        pair = _cut_chunk(chunk, rng, is_word_start)
        chunk, length = [], 0
        if pair is None:
            continue
        a, b = pair
        label = int(rng.random() < 0.5) if sop else NO_SOP_LABEL
        if label == 1:
            a, b = b, a
        truncate_pair(a, b, max_num_tokens, rng)
        yield a, b, label


def _cut_chunk(chunk, rng, is_word_start):
    """A = the first a_end segments, B = the rest; one segment is cut at a word start."""
    if len(chunk) >= 2:
        a_end = int(rng.integers(1, len(chunk)))             # 1 .. len - 1
        return [t for s in chunk[:a_end] for t in s], [t for s in chunk[a_end:] for t in s]
    seg = chunk[0]
    cuts = [j for j in range(1, len(seg)) if is_word_start[seg[j]]]
    if not cuts:
        return None
    j = cuts[int(rng.integers(len(cuts)))]
    return list(seg[:j]), list(seg[j:])


def truncate_pair(a, b, max_num_tokens, rng):
    """Drop tokens from the longer of a, b (front or back at random) until they fit."""
    while len(a) + len(b) > max_num_tokens:
        longer = a if len(a) > len(b) else b
        if rng.random() < 0.5:
            del longer[0]
        else:
            longer.pop()


# --------------------------------------------------------------- masking
def whole_words(ids, is_word_start, special):
    """Group positions into words: [[1], [2, 3], ...]; special tokens belong to none."""
    words = []
    for i, t in enumerate(ids):
        if special[i]:
            continue
        if words and not is_word_start[t] and words[-1][-1] == i - 1:
            words[-1].append(i)
        else:
            words.append([i])
    return words


def ngram_length(rng, longest):
    """Draw n in 1..longest with p(n) proportional to 1/n (6/11, 3/11, 2/11 for 3)."""
    p = 1.0 / np.arange(1, longest + 1)
    return int(rng.choice(np.arange(1, longest + 1), p=p / p.sum()))


def ngram_mask(ids, special, is_word_start, rng, *, masked_lm_prob, max_predictions,
               mask_id, replacement_ids, max_ngram=NGRAM_MAX):
    """Choose whole-word n-gram spans to predict and corrupt them 80/10/10.

    ids: (T,) ints; special: (T,) bool, never masked ([CLS], [SEP], pad).
    Returns (corrupted ids (T,), positions (P,), labels (P,)), positions sorted.
    """
    ids = np.asarray(ids)
    words = whole_words(ids, is_word_start, special)
    budget = min(max_predictions, max(1, int(round(len(ids) * masked_lm_prob))))
    covered = np.zeros(len(ids), dtype=bool)
    chosen = []
    for start in rng.permutation(len(words)):
        if len(chosen) >= budget:
            break
        n = ngram_length(rng, min(max_ngram, len(words) - start))
        span = [i for w in words[start:start + n] for i in w]
        while len(chosen) + len(span) > budget and n > 1:      # shorter n-grams fit better
            n -= 1
            span = [i for w in words[start:start + n] for i in w]
        if len(chosen) + len(span) > budget or covered[span].any():
            continue
        covered[span] = True
        chosen.extend(span)
    positions = np.array(sorted(chosen), dtype=np.int64)
    labels = ids[positions].copy()
    out = ids.copy()
    u = rng.random(len(positions))
    to_mask = u < MASK_PROB
    to_random = (u >= MASK_PROB) & (u < MASK_PROB + RANDOM_PROB)
    out[positions[to_mask]] = mask_id
    out[positions[to_random]] = replacement_ids[rng.integers(len(replacement_ids), size=int(to_random.sum()))]
    return out, positions, labels


# ---------------------------------------------------------------- stream
class PretrainingStream:
    """Iterate over pretraining examples, block by block, resumable exactly.

    documents: a function returning a fresh iterator of documents (lists of
    sentence strings), e.g. lambda: interleave(wikipedia_documents(p1), ...).
    encode: a function list[str] -> list[list[int]] (a tokenizer's batch encode,
    without special tokens). tokenizer ids for [CLS], [SEP], [MASK], <pad> and
    the pieces are needed for word starts and replacements.

    Each example is a dict: input_ids (T,), token_type_ids (T,), positions (P,),
    labels (P,), sentence_order_label (0/1, or -100 when sop=False: sentence lists).
    state() / restore() give the exact position (epoch, block, offset) for checkpoints.
    key: more integers for the random streams (a source of a mixture has its own), so
    that block b of epoch e draws from default_rng([seed, *key, e, b]).
    """

    def __init__(self, documents, encode, *, pieces, cls_id, sep_id, mask_id, special_ids,
                 seed=0, max_seq_length=128, short_seq_prob=0.1, masked_lm_prob=0.15,
                 max_predictions_per_seq=20, block_docs=256, max_ngram=NGRAM_MAX, sop=True, key=()):
        if max_seq_length < 8:
            raise ValueError(f"max_seq_length must be >= 8, got {max_seq_length}")
        if not 0 < masked_lm_prob < 1:
            raise ValueError(f"masked_lm_prob must be in (0, 1), got {masked_lm_prob}")
        if max_ngram < 1:
            raise ValueError(f"max_ngram must be >= 1 (1 = single words), got {max_ngram}")
        self.documents, self.encode = documents, encode
        self.cls_id, self.sep_id, self.mask_id = cls_id, sep_id, mask_id
        self.is_word_start = word_starts(pieces, special_ids)
        special = np.zeros(len(pieces), dtype=bool)
        special[list(special_ids)] = True
        self.replacement_ids = np.flatnonzero(~special)
        self.seed, self.max_seq_length, self.short_seq_prob = seed, max_seq_length, short_seq_prob
        self.masked_lm_prob, self.max_predictions = masked_lm_prob, max_predictions_per_seq
        self.block_docs, self.max_ngram = block_docs, max_ngram
        self.sop, self.key = bool(sop), tuple(int(k) for k in key)
        self.epoch, self.block, self.offset = 0, 0, 0

    def state(self):
        """Where the next example comes from: restore() with it continues identically."""
        return {"epoch": self.epoch, "block": self.block, "offset": self.offset, "seed": self.seed}

    def restore(self, state):
        if state.get("seed", self.seed) != self.seed:
            raise ValueError(f"the checkpoint's data seed {state['seed']} differs from {self.seed}")
        self.epoch, self.block, self.offset = state["epoch"], state["block"], state["offset"]

    def block_examples(self, epoch, block_index, docs):
        """All examples of one block, in their (seeded) shuffled order."""
        rng = np.random.default_rng([self.seed, *self.key, epoch, block_index])
        order = rng.permutation(len(docs))
        examples = []
        max_num_tokens = self.max_seq_length - 3
        for d in order:
            encoded = self.encode(docs[d])
            for a, b, label in sentence_order_pairs(encoded, rng, max_num_tokens, self.short_seq_prob,
                                                    self.is_word_start, self.sop):
                ids = np.array([self.cls_id, *a, self.sep_id, *b, self.sep_id], dtype=np.int64)
                types = np.zeros(len(ids), dtype=np.int64)
                types[len(a) + 2:] = 1
                special = np.zeros(len(ids), dtype=bool)
                special[[0, len(a) + 1, len(ids) - 1]] = True
                inp, pos, lab = ngram_mask(ids, special, self.is_word_start, rng,
                                           masked_lm_prob=self.masked_lm_prob,
                                           max_predictions=self.max_predictions,
                                           mask_id=self.mask_id, replacement_ids=self.replacement_ids,
                                           max_ngram=self.max_ngram)
                examples.append({"input_ids": inp, "token_type_ids": types, "positions": pos,
                                 "labels": lab, "sentence_order_label": label})
        return [examples[i] for i in rng.permutation(len(examples))]

    def __iter__(self):
        while True:
            docs_seen = 0
            block, block_index = [], 0
            for doc in self.documents():
                block_index = docs_seen // self.block_docs
                docs_seen += 1
                if block_index < self.block:                # fast-forward on resume
                    continue
                block.append(doc)
                if len(block) == self.block_docs:
                    yield from self._emit(block_index, block)
                    block = []
            if block:
                yield from self._emit(block_index, block)
            if docs_seen == 0:
                raise ValueError("the document source is empty")
            self.epoch, self.block, self.offset = self.epoch + 1, 0, 0

    def _emit(self, block_index, block):
        examples = self.block_examples(self.epoch, block_index, block)
        for i in range(self.offset, len(examples)):
            self.offset = i + 1
            yield examples[i]
        self.block, self.offset = block_index + 1, 0


# ------------------------------------------------------------ held-out everyday text
def everyday_blocks(path):
    """Blocks of an everyday file (../shared/data/everyday/*.txt.xz): the text between blank lines.

    Yields each block `.strip()`ped, its lines joined by "\n" (a story, a dialogue with one
    turn per line, ten sentences, a paragraph: see that folder's SOURCES.md).
    """
    lines = []
    with _open_text(path) as f:
        for line in f:
            if line.strip():
                lines.append(line.rstrip("\n"))
            elif lines:
                yield "\n".join(lines).strip()
                lines = []
    if lines:
        yield "\n".join(lines).strip()


def block_sentences(block):
    """A block's sentences: each line (a dialogue turn, a list item, a paragraph) split into sentences."""
    return [s for line in block.split("\n") for s in split_sentences(line)]


def is_heldout_block(block):
    """True for the ~5 % of everyday blocks kept out of training (vocabulary and model alike).

    A block is the text between blank lines of a ../shared/data/everyday file, `.strip()`ped.
    It is held out iff the first 8 hex digits of the SHA-256 of its UTF-8 bytes, read as an
    integer, are 0 modulo 20. The rule depends on the block's text only: not on the file, the
    order, a seed or the machine, so every reader (vocabulary training, the training stream,
    held-out evaluation) draws the same line.
    """
    if not isinstance(block, str):
        raise TypeError(f"block must be a str (one blank-line-separated block of text), got {type(block).__name__}")
    return int(hashlib.sha256(block.encode("utf-8")).hexdigest()[:8], 16) % 20 == 0
