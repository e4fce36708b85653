"""ALBERT's SentencePiece tokenizers: text -> input_ids, in plain Python on `sentencepiece`.

The pipeline, in the order it runs (one chunk = the text between special tokens):

    text
      -> lowercase every character outside special tokens      (do_lower_case)
      -> split out special tokens "[CLS] [SEP] <unk> <pad> [MASK]" ([MASK] eats the spaces before it)
      -> per chunk: strip + collapse whitespace                 (remove_space)
                    `` and '' -> "
                    NFKD, then drop combining marks             (unless keep_accents)
                    lowercase                                   (do_lower_case)
      -> SentencePiece unigram segmentation (the model's own nmt_nfkc normaliser runs inside)
      -> digit-comma rule: a piece such as "▁12," is re-split as "▁12" + ","
      -> ids;  [CLS] A [SEP]  or  [CLS] A [SEP] B [SEP];  truncate;  pad  -> BatchEncoding

Two tokenizers give the same ids on every input:

* `AlbertTokenizer`: the readable reference. One text at a time, token strings first, exactly
  like transformers 4.x's slow AlbertTokenizer and google-research/albert's tokenization.py.
* `AlbertTokenizerFast`: the same ids computed in batches through sentencepiece's multithreaded
  encoder, plus what fast tokenizers are used for: character offsets into the *original* text
  (through the normalisation above), word_ids(), sequence_ids(), and overlapping windows for long
  contexts (return_overflowing_tokens with stride).

Known, deliberate differences from transformers:
* transformers' own fast ALBERT tokenizer splits user-defined symbols ("-", "(", '"', ...) and
  digit-commas differently from its slow one; ours follow the slow one (and the original).
* Offsets exclude whitespace: "▁world" spans "world". A bare "▁" piece gets an empty span at the
  start of the word it precedes.
* Asking for more truncation than a sequence can give raises ValueError (transformers logs an
  error and returns an over-long sequence).

Legend: B batch rows, T tokens per row.
"""
import base64
import contextlib
import gc
import itertools
import json
import logging
import lzma
import os
import re
import unicodedata
from typing import NamedTuple

import numpy as np
import sentencepiece as spm

from . import hub
from .io import atomic_write_bytes

logger = logging.getLogger(__name__)

SPIECE_UNDERLINE = "\u2581"                       # "▁", SentencePiece's visible space
VOCAB_FILE = "spiece.model"
TOKENIZER_CONFIG_FILE = "tokenizer_config.json"
SPECIAL_TOKENS_MAP_FILE = "special_tokens_map.json"
TOKENIZER_JSON_FILE = "tokenizer.json"

# ALBERT's SentencePiece recipe (google-research/albert README, "30k-clean" vocabulary).
ALBERT_CONTROL_SYMBOLS = ("[CLS]", "[SEP]", "[MASK]")
ALBERT_USER_DEFINED_SYMBOLS = ("(", ")", '"', "-", ".", "\u2013", "\u00a3", "\u20ac")  # ( ) " - . – £ €

_NON_SPACE_RE = re.compile(r"\S+")                    # the words that str.split() returns

SPECIAL_TOKEN_NAMES = ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token",
                       "mask_token")                  # transformers' order, which all_special_tokens keeps
DEFAULT_MODEL_MAX_LENGTH = 512                        # ALBERT's position table has 512 rows

PADDING_STRATEGIES = ("longest", "max_length", "do_not_pad")
TRUNCATION_STRATEGIES = ("longest_first", "only_first", "only_second", "do_not_truncate")


# %% Text normalisation ---------------------------------------------------------------------------

_COMBINING_MARKS = None                               # {code point: None} for str.translate


def _combining_marks():
    """Every character with a non-zero canonical combining class (what unicodedata.combining flags)."""
    global _COMBINING_MARKS
    if _COMBINING_MARKS is None:
        _COMBINING_MARKS = dict.fromkeys(c for c in range(0x110000) if unicodedata.combining(chr(c)))
    return _COMBINING_MARKS


def strip_accents(text):
    """NFKD-decompose `text` and drop combining marks: "café" -> "cafe", "ﬁ" -> "fi".

    Matches: transformers AlbertTokenizer.preprocess_text (keep_accents=False branch), which
    filters with unicodedata.combining character by character; a translate table does the same.
    """
    if text.isascii():                                # NFKD leaves ASCII unchanged
        return text
    text = unicodedata.normalize("NFKD", text)
    return text if text.isascii() else text.translate(_combining_marks())


def preprocess_text(text, *, remove_space=True, keep_accents=False, do_lower_case=True):
    """ALBERT's normalisation of one chunk of text before SentencePiece.

    collapse whitespace -> `` and '' to " -> NFKD, drop combining marks -> lowercase.
    Matches: transformers 4.x AlbertTokenizer.preprocess_text. google-research/albert's
    preprocess_text is the same without the quote rule.
    """
    if remove_space:
        text = " ".join(text.split())
    text = text.replace("``", '"').replace("''", '"')
    if not keep_accents:
        text = strip_accents(text)
    if do_lower_case:
        text = text.lower()
    return text


def lowercase_each_char(text):
    """Lowercase character by character, as transformers' slow tokenizers do before splitting.

    Unlike str.lower() this never applies context rules, so a word-final "Σ" becomes "σ", not "ς".
    """
    return text.lower() if text.isascii() else "".join(map(str.lower, text))


def is_digit_comma_piece(piece):
    """True for pieces such as "▁12," or "5,": longer than one char, ending in "," after a digit."""
    return len(piece) > 1 and piece[-1] == "," and piece[-2].isdigit()


def split_digit_comma_piece(piece, encode_as_pieces):
    """ALBERT's digit-comma rule: re-encode a piece like "▁1990," as ["▁1990", ","].

    The piece without its comma (and without "▁") is encoded again; a "▁" that this re-encoding
    adds at the front is removed when the original piece did not start with one.
    Matches: google-research/albert encode_pieces; transformers AlbertTokenizer._tokenize.
    Args:
        piece: a piece for which is_digit_comma_piece(piece) holds.
        encode_as_pieces: str -> list of pieces (the SentencePiece model).
    """
    pieces = encode_as_pieces(piece[:-1].replace(SPIECE_UNDERLINE, ""))
    if piece[0] != SPIECE_UNDERLINE and pieces and pieces[0][0] == SPIECE_UNDERLINE:
        pieces = pieces[1:] if len(pieces[0]) == 1 else [pieces[0][1:]] + pieces[1:]
    return pieces + [piece[-1]]


# %% Alignment from normalised characters back to the original text ------------------------------

class Alignment:
    """Where each character of a normalised string came from in the original text.

    Character i of the normalised string came from original[starts[i]:ends[i]]. When every
    character maps one to one, only `shift` is kept (starts[i] = i + shift, ends[i] = i + 1 + shift).
    """
    __slots__ = ("starts", "ends", "shift")

    def __init__(self, starts=None, ends=None, shift=0):
        self.starts, self.ends, self.shift = starts, ends, shift

    def spans(self, spans):
        """Map normalised [begin, end) spans to original (start, end) spans; empty ones stay empty."""
        if self.starts is None:
            shift = self.shift
            return spans if not shift else [(b + shift, e + shift) for b, e in spans]
        starts, ends = self.starts, self.ends
        tail = ends[-1] if ends else 0
        return [(starts[b], ends[e - 1]) if b < e else ((starts[b], starts[b]) if b < len(starts) else (tail, tail))
                for b, e in spans]


def _fold_empty_units(units):
    """Drop units whose text became empty, giving their original span to a neighbour."""
    out = []
    pending_start = None                              # an empty unit before any non-empty one
    for text, start, end in units:
        if text:
            if pending_start is not None:
                start, pending_start = pending_start, None
            out.append([text, start, end])
        elif out:
            out[-1][2] = end                          # a dropped accent belongs to its base letter
        elif pending_start is None:
            pending_start = start
    return out


def normalize_units(units, *, remove_space, keep_accents, do_lower_case):
    """preprocess_text on a list of [text, start, end] units (one original character each).

    Returns (normalised string, Alignment). Each step keeps, for every output character, the
    span of original characters it came from, so a token's span is always exact.
    """
    units = [[c, s, e] for text, s, e in units for c in text]          # one char per unit
    if remove_space:                                  # strip, then one " " per whitespace run
        collapsed, run = [], None
        for unit in units:
            if unit[0].isspace():
                run = [" ", unit[1], unit[2]] if run is None else [" ", run[1], unit[2]]
            else:
                if run is not None and collapsed:
                    collapsed.append(run)
                run = None
                collapsed.append(unit)
        units = collapsed
    for quote in ("`", "'"):                          # `` -> " first, then '' -> "
        merged, i = [], 0
        while i < len(units):
            if units[i][0] == quote and i + 1 < len(units) and units[i + 1][0] == quote:
                merged.append(['"', units[i][1], units[i + 1][2]])
                i += 2
            else:
                merged.append(units[i])
                i += 1
        units = merged
    if not keep_accents:
        units = _fold_empty_units([[strip_accents(t), s, e] for t, s, e in units])
    if do_lower_case:
        whole = "".join(t for t, _, _ in units).lower()     # str.lower() has context rules (final σ/ς)
        units = [[t.lower(), s, e] for t, s, e in units]
        if len(whole) == sum(len(t) for t, _, _ in units):    # same length: take its characters 1:1
            pos = 0
            for unit in units:
                unit[0], pos = whole[pos:pos + len(unit[0])], pos + len(unit[0])
    starts, ends = [], []
    for text, s, e in units:
        starts.extend([s] * len(text))
        ends.extend([e] * len(text))
    return "".join(t for t, _, _ in units), Alignment(starts, ends)


# %% Minimal protobuf wire format: enough to read and write a SentencePiece ModelProto -----------

def _varint(n):
    """Protobuf base-128 varint; negative int32 values take ten bytes, as protobuf writes them."""
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field_varint(number, value):
    return _varint(number << 3 | 0) + _varint(int(value))


def _field_bytes(number, data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def _field_float(number, value):
    return _varint(number << 3 | 5) + np.float32(value).tobytes()      # little-endian fixed32


def _read_fields(buf):
    """Yield (field_number, value) of one protobuf message; value is int or bytes."""
    pos = 0
    while pos < len(buf):
        key, pos = _read_varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _read_varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos:pos + 8], pos + 8
        elif wire == 2:
            size, pos = _read_varint(buf, pos)
            value, pos = buf[pos:pos + size], pos + size
        elif wire == 5:
            value, pos = buf[pos:pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire} in a SentencePiece model")
        yield number, value


def _read_varint(buf, pos):
    shift = result = 0
    while True:
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return result, pos


# SentencePiece ModelProto field numbers (sentencepiece_model.proto).
_PIECE_TYPES = {"NORMAL": 1, "UNKNOWN": 2, "CONTROL": 3, "USER_DEFINED": 4, "UNUSED": 5, "BYTE": 6}


def sentencepiece_model_proto(pieces, *, precompiled_charsmap=b"", normalizer_name="nmt_nfkc",
                              add_dummy_prefix=True):
    """Serialise a unigram SentencePiece ModelProto by hand (no protobuf library needed).

    Args:
        pieces: list of (piece, score, type) with type a key of _PIECE_TYPES.
        precompiled_charsmap: the model's normaliser table (bytes); empty for no normalisation.
    Returns:
        bytes that SentencePieceProcessor(model_proto=...) loads.
    """
    types = [t for _, _, t in pieces]
    if types.count("UNKNOWN") != 1:
        raise ValueError(f"a SentencePiece model needs exactly one UNKNOWN piece, got {types.count('UNKNOWN')}")
    ids = {t: i for i, (_, _, t) in reversed(list(enumerate(pieces)))}
    pad_id = next((i for i, (p, _, t) in enumerate(pieces) if p == "<pad>" and t == "CONTROL"), -1)
    out = bytearray()
    for piece, score, kind in pieces:                 # ModelProto.pieces = 1
        out += _field_bytes(1, _field_bytes(1, piece) + _field_float(2, score)
                            + _field_varint(3, _PIECE_TYPES[kind]))
    trainer = (_field_varint(3, 1) + _field_varint(4, len(pieces))      # model_type UNIGRAM, vocab_size
               + _field_varint(40, ids["UNKNOWN"]) + _field_varint(41, -1)  # unk_id, bos_id
               + _field_varint(42, -1) + _field_varint(43, pad_id))       # eos_id, pad_id
    out += _field_bytes(2, trainer)                   # ModelProto.trainer_spec = 2
    normalizer = (_field_bytes(1, normalizer_name if precompiled_charsmap else "identity")
                  + _field_bytes(2, precompiled_charsmap) + _field_varint(3, add_dummy_prefix)
                  + _field_varint(4, True) + _field_varint(5, True))
    out += _field_bytes(3, normalizer)                # ModelProto.normalizer_spec = 3
    return bytes(out)


def read_normalizer_spec(model_proto):
    """The NormalizerSpec of a serialised SentencePiece model, as a dict of the fields we use."""
    spec = {"name": "", "precompiled_charsmap": b"", "add_dummy_prefix": True}
    for number, value in _read_fields(model_proto):
        if number == 3:
            for field, v in _read_fields(value):
                if field == 1:
                    spec["name"] = bytes(v).decode("utf-8")
                elif field == 2:
                    spec["precompiled_charsmap"] = bytes(v)
                elif field == 3:
                    spec["add_dummy_prefix"] = bool(v)
    return spec


def read_piece_types(model_proto):
    """Type name ("NORMAL", "CONTROL", "USER_DEFINED", ...) of every piece of a serialised model.

    sentencepiece's Python API has is_control / is_unknown but no is_user_defined, so read the proto.
    """
    names = {number: name for name, number in _PIECE_TYPES.items()}
    types = []
    for number, value in _read_fields(model_proto):
        if number == 1:                                   # ModelProto.pieces
            kind = 1                                      # NORMAL when the field is absent
            for field, v in _read_fields(value):
                if field == 3:
                    kind = v
            types.append(names.get(kind, "NORMAL"))
    return types


def _find_in_tree(node, type_name):
    """Depth-first search of a tokenizer.json component tree for dicts with "type" == type_name."""
    if isinstance(node, dict):
        if node.get("type") == type_name:
            yield node
        for value in node.values():
            yield from _find_in_tree(value, type_name)
    elif isinstance(node, list):
        for value in node:
            yield from _find_in_tree(value, type_name)


def sentencepiece_model_from_tokenizer_json(path):
    """Rebuild a SentencePiece model from a transformers tokenizer.json with a Unigram model.

    The vocabulary and scores come from model.vocab, the normaliser table from the Precompiled
    normaliser, piece types from added_tokens (special -> CONTROL, other -> USER_DEFINED).
    Returns:
        (model_proto bytes, settings dict with do_lower_case / keep_accents read from the normaliser)
    """
    with open(path, encoding="utf-8") as f:
        spec = json.load(f)
    model = spec.get("model") or {}
    if model.get("type") != "Unigram":
        raise ValueError(f"{path} holds a {model.get('type')!r} model; an ALBERT tokenizer needs a "
                         f"SentencePiece Unigram model (spiece.model, or tokenizer.json with type Unigram)")
    vocab = model["vocab"]
    unk_id = model.get("unk_id")
    if unk_id is None:
        raise ValueError(f"{path}: the Unigram model has no unk_id, so no <unk> piece can be defined")
    kinds = ["NORMAL"] * len(vocab)
    for token in spec.get("added_tokens") or []:
        if token["id"] < len(vocab) and vocab[token["id"]][0] == token["content"]:
            kinds[token["id"]] = "CONTROL" if token.get("special") else "USER_DEFINED"
    kinds[unk_id] = "UNKNOWN"
    charsmaps = [n["precompiled_charsmap"] for n in _find_in_tree(spec.get("normalizer"), "Precompiled")]
    charsmap = base64.b64decode(charsmaps[0]) if charsmaps and charsmaps[0] else b""
    metaspaces = list(_find_in_tree(spec.get("pre_tokenizer"), "Metaspace"))
    prepend = (metaspaces[0].get("prepend_scheme", "always") != "never"
               and metaspaces[0].get("add_prefix_space", True)) if metaspaces else True
    proto = sentencepiece_model_proto([(p, s, k) for (p, s), k in zip(vocab, kinds)],
                                      precompiled_charsmap=charsmap, add_dummy_prefix=prepend)
    normalizer = spec.get("normalizer")
    settings = {"do_lower_case": any(True for _ in _find_in_tree(normalizer, "Lowercase")),
                "keep_accents": not any(True for _ in _find_in_tree(normalizer, "StripAccents"))}
    return proto, settings


@contextlib.contextmanager
def _gc_paused():
    """Pause Python's cyclic garbage collector while a batch is built.

    A batch makes millions of small lists and tuples; none can form a cycle, but their sheer number
    keeps triggering collections (measured: 1.7x slower on 100k lines). Reference counting still
    frees everything; the collector resumes (if it was on) when the batch is done.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _write_atomic(path, data):
    """Write bytes or text to `path` through a temporary file and os.replace (never half-written)."""
    atomic_write_bytes(path, data.encode("utf-8") if isinstance(data, str) else data)
    return path


def _token_text(token, name="token"):
    """A special token given as str, as {"content": ...} (tokenizer_config.json), or as AddedToken."""
    if isinstance(token, str):
        return token
    if isinstance(token, dict) and isinstance(token.get("content"), str):
        return token["content"]
    if isinstance(getattr(token, "content", None), str):
        return token.content
    raise TypeError(f"{name} must be a str (or a dict with 'content'), got {type(token).__name__}: {token!r}")


# %% Batches --------------------------------------------------------------------------------------

class _Sequence(NamedTuple):
    """One tokenised text before special tokens are added."""
    ids: list        # token ids
    offsets: list    # (start, end) character span of each token in the original text, or None
    words: list      # word index of each token; None: derive from ids (a word starts at "▁" pieces)


def words_from_ids(ids, starts_word):
    """Word index of each token of one chunk: a new word at the first token and at each "▁" piece."""
    words, word = [], -1
    for n, token_id in enumerate(ids):
        word += n == 0 or starts_word[token_id]
        words.append(word)
    return words


def _word_ids_of(seq, starts_word):
    return seq.words if seq.words is not None else words_from_ids(seq.ids, starts_word)


class _Row(NamedTuple):
    """Where the tokens of one output row came from: enough to rebuild word_ids / sequence_ids."""
    a: _Sequence
    b: _Sequence              # None for single texts
    special: bool             # [CLS]/[SEP] added
    pad_left: int
    pad_right: int


class BatchEncoding(dict):
    """The tokenizer's output: a dict of model inputs, usable as `model(**inputs)`.

    Keys are read as attributes too (`inputs.input_ids`). With return_tensors="np" every value is an
    int64 array of shape (B, T) (offset_mapping: (B, T, 2)); otherwise lists, unbatched when a
    single text was given. word_ids() and sequence_ids() say where each token came from; they are
    computed when asked for, so a large batch does not pay for them.
    Matches: transformers BatchEncoding (the parts listed here).
    """

    def __init__(self, data=None, *, rows=None, starts_word=None):
        super().__init__(data or {})
        self._rows = rows
        self._starts_word = starts_word

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"BatchEncoding has no field {name!r}; it holds {sorted(self)}") from None

    def _row(self, batch_index):
        if self._rows is None:
            raise ValueError("this BatchEncoding was not made by a tokenizer: it has no token origins")
        if not -len(self._rows) <= batch_index < len(self._rows):
            raise IndexError(f"batch_index {batch_index} out of range for a batch of {len(self._rows)} rows")
        return self._rows[batch_index]

    @staticmethod
    def _layout(row, first, second):
        """[None]*pad_left + [CLS] first [SEP] second [SEP] + [None]*pad_right, specials None."""
        special = [None] if row.special else []
        out = special + first + special
        if row.b is not None:
            out += second + special
        return [None] * row.pad_left + out + [None] * row.pad_right

    def word_ids(self, batch_index=0):
        """Index of the word each token of row `batch_index` came from; None for [CLS]/[SEP]/<pad>.

        Words are whitespace-separated (special tokens in the text count as words); with
        is_split_into_words=True they are the given words. In a pair, each sequence counts from 0.
        """
        row = self._row(batch_index)
        second = None if row.b is None else _word_ids_of(row.b, self._starts_word)
        return self._layout(row, _word_ids_of(row.a, self._starts_word), second)

    def sequence_ids(self, batch_index=0):
        """0 for tokens of the first text, 1 for the second, None for [CLS]/[SEP]/<pad>."""
        row = self._row(batch_index)
        return self._layout(row, [0] * len(row.a.ids), None if row.b is None else [1] * len(row.b.ids))


def _window_starts(n_tokens, budget, stride):
    """Start of each overlapping window of `budget` tokens, `stride` tokens shared by neighbours.

    Matches: tokenizers Encoding.truncate (direction right), as transformers' fast tokenizers
    use it for return_overflowing_tokens.
    """
    starts = [0]
    while starts[-1] + budget < n_tokens:
        starts.append(starts[-1] + budget - stride)
    return starts


def _longest_first_lengths(len_a, len_b, n_remove):
    """Lengths kept by longest_first truncation of a pair: even out, then take from both halves.

    Matches: transformers PreTrainedTokenizerBase.truncate_sequences (longest_first, pairs).
    """
    first = min(abs(len_a - len_b), n_remove)
    second = n_remove - first
    if len_a > len_b:
        return len_a - first - second // 2, len_b - (second - second // 2)
    return len_a - second // 2, len_b - first - (second - second // 2)


def _positions_in_rows(lengths, width, left):
    """(B, width) position of each cell within its row's tokens (negative or >= length on padding)."""
    positions = np.arange(width)[None, :]                        # (1, T)
    return positions - (width - lengths)[:, None] if left else np.broadcast_to(positions, (len(lengths), width))


def _pack(rows, length, pad_value, left, dtype=np.int64):
    """Stack ragged rows into a (B, length) array, padded on the right (or left)."""
    lengths = np.fromiter((len(r) for r in rows), dtype=np.int64, count=len(rows))
    out = np.full((len(rows), length), pad_value, dtype=dtype)
    positions = np.arange(length)
    mask = positions >= (length - lengths)[:, None] if left else positions < lengths[:, None]
    out[mask] = np.fromiter(itertools.chain.from_iterable(rows), dtype=dtype, count=int(lengths.sum()))
    return out


# %% The reference tokenizer ----------------------------------------------------------------------

class AlbertTokenizer:
    """ALBERT's SentencePiece tokenizer: one text at a time, token strings first.

        tok = AlbertTokenizer.from_pretrained("albert/albert-base-v2")   # or a local folder
        inputs = tok("Plants create [MASK] through photosynthesis.", return_tensors="np")
        inputs.input_ids == tok.mask_token_id

    Matches: transformers 4.x AlbertTokenizer (slow), id for id; google-research/albert
    FullTokenizer with an spm model (which lacks the `` -> " rule and lowercases whole strings).
    Args:
        vocab_file: path of a SentencePiece model (spiece.model). Or give model_proto (bytes).
        do_lower_case, remove_space, keep_accents: the normalisation switches (module docstring).
        *_token: the special tokens; each must be a piece of the SentencePiece model.
        sp_model_kwargs: passed to sentencepiece.SentencePieceProcessor, e.g.
            {"enable_sampling": True, "nbest_size": -1, "alpha": 0.1} for subword regularisation.
        model_max_length: length used by truncation=True / padding="max_length" without max_length.
        clean_up_tokenization_spaces: default of decode(): remove spaces before punctuation.
        padding_side: "right" or "left".
    """

    is_fast = False
    model_input_names = ["input_ids", "token_type_ids", "attention_mask"]
    pad_token_type_id = 0

    # The special tokens and their ids, e.g. tok.mask_token == "[MASK]", tok.mask_token_id == 4.
    bos_token = property(lambda self: self.special_tokens_map["bos_token"])
    eos_token = property(lambda self: self.special_tokens_map["eos_token"])
    unk_token = property(lambda self: self.special_tokens_map["unk_token"])
    sep_token = property(lambda self: self.special_tokens_map["sep_token"])
    pad_token = property(lambda self: self.special_tokens_map["pad_token"])
    cls_token = property(lambda self: self.special_tokens_map["cls_token"])
    mask_token = property(lambda self: self.special_tokens_map["mask_token"])
    bos_token_id = property(lambda self: self._special_ids[self.bos_token])
    eos_token_id = property(lambda self: self._special_ids[self.eos_token])
    unk_token_id = property(lambda self: self._special_ids[self.unk_token])
    sep_token_id = property(lambda self: self._special_ids[self.sep_token])
    pad_token_id = property(lambda self: self._special_ids[self.pad_token])
    cls_token_id = property(lambda self: self._special_ids[self.cls_token])
    mask_token_id = property(lambda self: self._special_ids[self.mask_token])

    def __init__(self, vocab_file=None, *, model_proto=None, do_lower_case=True, remove_space=True,
                 keep_accents=False, bos_token="[CLS]", eos_token="[SEP]", unk_token="<unk>",
                 sep_token="[SEP]", pad_token="<pad>", cls_token="[CLS]", mask_token="[MASK]",
                 sp_model_kwargs=None, model_max_length=DEFAULT_MODEL_MAX_LENGTH,
                 clean_up_tokenization_spaces=False, padding_side="right"):
        if (vocab_file is None) == (model_proto is None):
            raise ValueError("give exactly one of vocab_file (path of spiece.model) or model_proto (bytes)")
        if vocab_file is not None:
            if not os.path.isfile(vocab_file):
                raise FileNotFoundError(f"SentencePiece model {vocab_file!r} not found. Pass the path of an "
                                        f"ALBERT spiece.model, or use AlbertTokenizer.from_pretrained(folder)")
            with open(vocab_file, "rb") as f:
                model_proto = f.read()
        if padding_side not in ("right", "left"):
            raise ValueError(f"padding_side must be 'right' or 'left', got {padding_side!r}")
        self.vocab_file = vocab_file
        self._model_proto = bytes(model_proto)
        self.do_lower_case = bool(do_lower_case)
        self.remove_space = bool(remove_space)
        self.keep_accents = bool(keep_accents)
        self.sp_model_kwargs = dict(sp_model_kwargs or {})
        self.model_max_length = int(model_max_length)
        self.clean_up_tokenization_spaces = bool(clean_up_tokenization_spaces)
        self.padding_side = padding_side
        tokens = dict(bos_token=bos_token, eos_token=eos_token, unk_token=unk_token, sep_token=sep_token,
                      pad_token=pad_token, cls_token=cls_token, mask_token=mask_token)
        self.special_tokens_map = {name: _token_text(tokens[name], name) for name in SPECIAL_TOKEN_NAMES}
        self._load_model()

    # -- the SentencePiece model and lookup tables (rebuilt after unpickling) --

    def _load_model(self):
        try:
            self.sp_model = spm.SentencePieceProcessor(**self.sp_model_kwargs)
        except TypeError as e:
            raise TypeError(f"sp_model_kwargs {self.sp_model_kwargs} not accepted by "
                            f"sentencepiece.SentencePieceProcessor: {e}") from e
        try:
            self.sp_model.LoadFromSerializedProto(self._model_proto)
        except Exception as e:                        # sentencepiece raises RuntimeError/OSError
            where = self.vocab_file or "model_proto"
            raise ValueError(f"{where!r} is not a valid SentencePiece model ({e})") from e
        self._special_ids = {}
        for name, token in self.special_tokens_map.items():
            token_id = self.sp_model.piece_to_id(token)
            if self.sp_model.id_to_piece(token_id) != token:
                raise ValueError(
                    f"{name} {token!r} is not a piece of the SentencePiece model ({len(self.sp_model)} "
                    f"pieces; it maps to {self.sp_model.id_to_piece(token_id)!r}). ALBERT vocabularies "
                    f"define [CLS] [SEP] [MASK] as control symbols and <pad> <unk>; train one with "
                    f"train_tokenizer(), or pass the special tokens this model uses")
            self._special_ids[token] = token_id
        self.all_special_tokens = list(dict.fromkeys(self.special_tokens_map.values()))
        self.all_special_ids = [self._special_ids[t] for t in self.all_special_tokens]
        alternatives = "|".join(re.escape(t) for t in sorted(self.all_special_tokens, key=len, reverse=True))
        self._special_re = re.compile(alternatives)
        self._special_split_re = re.compile(f"({alternatives})")
        self._special_first_chars = sorted({t[0] for t in self.all_special_tokens})
        # word_ids: a token starts a word when its piece starts with "▁" (specials never do)
        self._starts_word = [self.sp_model.id_to_piece(i).startswith(SPIECE_UNDERLINE)
                             and not (self.sp_model.is_control(i) or self.sp_model.is_unknown(i))
                             for i in range(len(self.sp_model))]

    def __getstate__(self):                           # the model travels as its serialised bytes
        state = self.__dict__.copy()
        del state["sp_model"]
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._load_model()

    def __repr__(self):
        return (f"{type(self).__name__}(vocab_size={self.vocab_size}, do_lower_case={self.do_lower_case}, "
                f"remove_space={self.remove_space}, keep_accents={self.keep_accents}, "
                f"model_max_length={self.model_max_length})")

    # -- vocabulary --

    @property
    def vocab_size(self):
        """Number of pieces in the SentencePiece model."""
        return len(self.sp_model)

    def __len__(self):
        return self.vocab_size

    def get_vocab(self):
        """{piece: id} for every piece of the model."""
        return {self.sp_model.id_to_piece(i): i for i in range(self.vocab_size)}

    def num_special_tokens_to_add(self, pair=False):
        """2 for [CLS] A [SEP], 3 for [CLS] A [SEP] B [SEP]."""
        return 3 if pair else 2

    def convert_tokens_to_ids(self, tokens):
        """Piece (str) -> id, or list of pieces -> list of ids; unknown pieces -> unk_token_id."""
        if isinstance(tokens, str):
            return self.sp_model.piece_to_id(tokens)
        return [self.sp_model.piece_to_id(self._check_str(t, "token")) for t in tokens]

    def convert_ids_to_tokens(self, ids, skip_special_tokens=False):
        """Id -> piece, or list of ids -> list of pieces (dropping special ids if asked)."""
        if isinstance(ids, (int, np.integer)):
            return self.sp_model.id_to_piece(self._check_id(ids))
        skip = set(self.all_special_ids) if skip_special_tokens else ()
        return [self.sp_model.id_to_piece(self._check_id(i)) for i in ids if int(i) not in skip]

    def _check_id(self, token_id):
        token_id = int(token_id)
        if not 0 <= token_id < self.vocab_size:
            raise ValueError(f"token id {token_id} is outside the vocabulary [0, {self.vocab_size})")
        return token_id

    @staticmethod
    def _check_str(value, what, index=None):
        if not isinstance(value, str):
            where = f" at index {index}" if index is not None else ""
            raise TypeError(f"{what}{where} must be a str, got {type(value).__name__}: {value!r:.80}")
        return value

    # -- text -> pieces --

    def preprocess_text(self, text):
        """This tokenizer's normalisation of one chunk (see preprocess_text)."""
        return preprocess_text(text, remove_space=self.remove_space, keep_accents=self.keep_accents,
                               do_lower_case=self.do_lower_case)

    def _special_token_spans(self, text):
        """Split `text` into (start, end, is_special) spans around the special tokens.

        [MASK] absorbs the whitespace before it (transformers' AddedToken lstrip=True).
        Matches: transformers Trie.split plus the lstrip handling in PreTrainedTokenizer.tokenize.
        """
        spans, pos = [], 0
        for match in self._special_re.finditer(text):
            end = match.start()
            if match.group() == self.mask_token:
                while end > pos and text[end - 1].isspace():
                    end -= 1
            if end > pos:
                spans.append((pos, end, False))
            spans.append((match.start(), match.end(), True))
            pos = match.end()
        if pos < len(text):
            spans.append((pos, len(text), False))
        return spans

    def _lowercase_outside_special_tokens(self, text):
        if not self.do_lower_case:
            return text
        parts = self._special_split_re.split(text)        # odd indices are special tokens
        return "".join(p if i % 2 else lowercase_each_char(p) for i, p in enumerate(parts))

    def _split_text(self, text):
        """[(chunk, is_special)]: lowercase outside special tokens, then split them out."""
        text = self._lowercase_outside_special_tokens(text)
        return [(text[s:e], special) for s, e, special in self._special_token_spans(text)]

    def _encode_as_pieces(self, text):
        return self.sp_model.encode(text, out_type=str)

    def _tokenize_chunk(self, chunk):
        """Pieces of one chunk without special tokens: normalise, then segment."""
        return self._segment(self.preprocess_text(chunk))

    def _segment(self, text):
        """Pieces of preprocessed text: SentencePiece, then the digit-comma rule."""
        pieces = []
        for piece in self._encode_as_pieces(text):
            if is_digit_comma_piece(piece):
                pieces.extend(split_digit_comma_piece(piece, self._encode_as_pieces))
            else:
                pieces.append(piece)
        return pieces

    def tokenize(self, text):
        """Text -> list of pieces, special tokens in the text kept whole.

        "Hello [MASK]!" -> ["▁hello", "[MASK]", "▁!"].   Matches: transformers AlbertTokenizer.tokenize.
        """
        self._check_str(text, "text")
        pieces = []
        for chunk, is_special in self._split_text(text):
            if is_special:
                pieces.append(chunk)
            else:
                pieces.extend(self._tokenize_chunk(chunk))
        return pieces

    def _encode_sequences(self, texts, is_split_into_words, with_offsets):
        """Tokenise a list of texts (or of word lists) into _Sequence records, one at a time."""
        if with_offsets:
            raise NotImplementedError("return_offsets_mapping needs AlbertTokenizerFast (same ids, "
                                      "with character offsets); AlbertTokenizer has none")
        out = []
        for text in texts:
            if is_split_into_words:
                pieces = [(p, w) for w, word in enumerate(text) for p in self.tokenize(word)]
            else:
                pieces, word = [], -1          # a word starts with each chunk and each "▁" piece
                for chunk, is_special in self._split_text(text):
                    for n, p in enumerate([chunk] if is_special else self._tokenize_chunk(chunk)):
                        word += n == 0 or p.startswith(SPIECE_UNDERLINE)
                        pieces.append((p, word))
            out.append(_Sequence([self.sp_model.piece_to_id(p) for p, _ in pieces], None,
                                 [w for _, w in pieces]))
        return out

    # -- special tokens --

    def build_inputs_with_special_tokens(self, token_ids_0, token_ids_1=None):
        """[CLS] A [SEP]  or  [CLS] A [SEP] B [SEP]."""
        cls, sep = [self.cls_token_id], [self.sep_token_id]
        if token_ids_1 is None:
            return cls + list(token_ids_0) + sep
        return cls + list(token_ids_0) + sep + list(token_ids_1) + sep

    def get_special_tokens_mask(self, token_ids_0, token_ids_1=None, already_has_special_tokens=False):
        """1 where build_inputs_with_special_tokens adds a token, 0 elsewhere.

        With already_has_special_tokens=True: 1 for every special id in token_ids_0.
        """
        if already_has_special_tokens:
            if token_ids_1 is not None:
                raise ValueError("with already_has_special_tokens=True pass the full ids as token_ids_0 "
                                 "and no token_ids_1")
            special = set(self.all_special_ids)
            return [1 if int(i) in special else 0 for i in token_ids_0]
        if token_ids_1 is None:
            return [1] + [0] * len(token_ids_0) + [1]
        return [1] + [0] * len(token_ids_0) + [1] + [0] * len(token_ids_1) + [1]

    def create_token_type_ids_from_sequences(self, token_ids_0, token_ids_1=None):
        """0 for [CLS] A [SEP], 1 for B [SEP]."""
        first = [0] * (len(token_ids_0) + 2)
        return first if token_ids_1 is None else first + [1] * (len(token_ids_1) + 1)

    # -- __call__ --

    def __call__(self, text, text_pair=None, *, add_special_tokens=True, padding=False, truncation=None,
                 max_length=None, stride=0, is_split_into_words=False, pad_to_multiple_of=None,
                 return_tensors=None, return_token_type_ids=None, return_attention_mask=None,
                 return_overflowing_tokens=False, return_special_tokens_mask=False,
                 return_offsets_mapping=False, return_length=False):
        """Tokenise one text (or pair) or a batch, like a transformers tokenizer.

        Args:
            text: str, or list of str (a batch); with is_split_into_words, a list of words
                (one example) or a list of lists of words (a batch).
            text_pair: second texts, same structure as `text` (question/context, premise/hypothesis).
            padding: False / "do_not_pad", True / "longest", "max_length".
            truncation: False / None / "do_not_truncate", True / "longest_first", "only_first",
                "only_second". max_length alone (no padding, truncation=None) means "longest_first".
            max_length: the longest row, special tokens included.
            stride: with return_overflowing_tokens, tokens shared by neighbouring windows.
            return_tensors: None (lists) or "np" (int64 arrays of shape (B, T)).
            return_overflowing_tokens: split what truncation would drop into more rows
                (windows of max_length, `stride` tokens of overlap), with overflow_to_sample_mapping.
            return_offsets_mapping: (start, end) character spans (AlbertTokenizerFast only).
        Returns:
            BatchEncoding with input_ids, token_type_ids, attention_mask and what was asked.
        """
        if return_tensors not in (None, "np"):
            raise ValueError(f"return_tensors={return_tensors!r} is not supported: albert_np returns "
                             f"NumPy arrays (return_tensors='np') or lists (None); there is no torch here")
        texts, is_batched = self._as_batch(text, "text", is_split_into_words)
        pairs = None
        if text_pair is not None:
            pairs, pair_batched = self._as_batch(text_pair, "text_pair", is_split_into_words)
            if pair_batched != is_batched or len(pairs) != len(texts):
                raise ValueError(f"text has {len(texts) if is_batched else 'one'} example(s) and text_pair "
                                 f"{len(pairs) if pair_batched else 'one'}; give one text_pair per text")
        padding, truncation, max_length = self._strategies(padding, truncation, max_length, pairs is not None,
                                                           add_special_tokens)
        if not isinstance(stride, (int, np.integer)) or stride < 0:
            raise ValueError(f"stride must be an int >= 0, got {stride!r}")
        with _gc_paused():
            encoded_a = self._encode_sequences(texts, is_split_into_words, return_offsets_mapping)
            encoded_b = self._encode_sequences(pairs, is_split_into_words, return_offsets_mapping) if pairs else None
            return self._build_batch(
                encoded_a, encoded_b, is_batched=is_batched, add_special_tokens=add_special_tokens,
                padding=padding, truncation=truncation, max_length=max_length, stride=stride,
                pad_to_multiple_of=pad_to_multiple_of, return_tensors=return_tensors,
                return_token_type_ids=True if return_token_type_ids is None else return_token_type_ids,
                return_attention_mask=True if return_attention_mask is None else return_attention_mask,
                return_overflowing_tokens=return_overflowing_tokens,
                return_special_tokens_mask=return_special_tokens_mask,
                return_offsets_mapping=return_offsets_mapping, return_length=return_length)

    def _as_batch(self, value, name, is_split_into_words):
        """(list of examples, is_batched), checking every example's type."""
        if is_split_into_words:
            if not isinstance(value, (list, tuple)):
                raise TypeError(f"with is_split_into_words=True, {name} must be a list of words or a list "
                                f"of lists of words, got {type(value).__name__}")
            is_batched = bool(value) and isinstance(value[0], (list, tuple))
            examples = list(value) if is_batched else [value]
            for i, words in enumerate(examples):
                if not isinstance(words, (list, tuple)):
                    raise TypeError(f"{name}[{i}] must be a list of words, got {type(words).__name__}")
                for j, word in enumerate(words):
                    self._check_str(word, f"{name}[{i}]" if is_batched else name, j)
            return [list(words) for words in examples], is_batched
        if isinstance(value, str):
            return [value], False
        if isinstance(value, (list, tuple)):
            for i, item in enumerate(value):
                if isinstance(item, (list, tuple)):
                    raise TypeError(f"{name}[{i}] is a {type(item).__name__}: pass words with "
                                    f"is_split_into_words=True, and pairs as text=[...], text_pair=[...]")
                self._check_str(item, name, i)
            return list(value), True
        raise TypeError(f"{name} must be a str or a list of str, got {type(value).__name__}: {value!r:.80}")

    def _strategies(self, padding, truncation, max_length, is_pair, add_special_tokens):
        """Resolve padding / truncation arguments as transformers does; check max_length."""
        if max_length is not None and padding is False and truncation is None:
            truncation = "longest_first"
        padding = {True: "longest", False: "do_not_pad", None: "do_not_pad"}.get(padding, padding)
        truncation = {True: "longest_first", False: "do_not_truncate", None: "do_not_truncate"}.get(
            truncation, truncation)
        if padding not in PADDING_STRATEGIES:
            raise ValueError(f"padding={padding!r}: use True/'longest', 'max_length' or False")
        if truncation not in TRUNCATION_STRATEGIES:
            raise ValueError(f"truncation={truncation!r}: use True/'longest_first', 'only_first', "
                             f"'only_second' or False")
        if max_length is None and (padding == "max_length" or truncation != "do_not_truncate"):
            max_length = self.model_max_length
        if max_length is not None:
            if not isinstance(max_length, (int, np.integer)) or isinstance(max_length, bool):
                raise TypeError(f"max_length must be an int, got {type(max_length).__name__}")
            n_special = self.num_special_tokens_to_add(is_pair) if add_special_tokens else 0
            if truncation != "do_not_truncate" and max_length <= n_special:
                raise ValueError(f"max_length={max_length} leaves no room for text: "
                                 f"{'a pair' if is_pair else 'one text'} already takes {n_special} special "
                                 f"tokens ([CLS]/[SEP]). Use max_length > {n_special}")
        if truncation == "only_second" and not is_pair:
            raise ValueError("truncation='only_second' needs a text_pair; for single texts use "
                             "truncation=True")
        return padding, truncation, max_length

    def _build_batch(self, encoded_a, encoded_b, *, is_batched, add_special_tokens, padding, truncation,
                     max_length, stride, pad_to_multiple_of, return_tensors, return_token_type_ids,
                     return_attention_mask, return_overflowing_tokens, return_special_tokens_mask,
                     return_offsets_mapping, return_length):
        """Truncate (or window), add [CLS]/[SEP], pad, and pack rows into a BatchEncoding."""
        n_special = self.num_special_tokens_to_add(encoded_b is not None) if add_special_tokens else 0
        examples = []                                 # (sample index, sequence a, sequence b)
        for sample, a in enumerate(encoded_a):
            b = encoded_b[sample] if encoded_b is not None else None
            if truncation == "do_not_truncate":
                examples.append((sample, a, b))
                continue
            for a_part, b_part in self._truncated_parts(a, b, truncation, max_length, stride, n_special,
                                                        return_overflowing_tokens, sample, self._starts_word):
                examples.append((sample, a_part, b_part))

        cls, sep = ([self.cls_token_id], [self.sep_token_id]) if add_special_tokens else ([], [])
        ids, first_lengths = [], []                   # first_lengths: tokens of [CLS] A [SEP]
        for _, a, b in examples:
            ids.append(cls + a.ids + sep if b is None else cls + a.ids + sep + b.ids + sep)
            first_lengths.append(len(a.ids) + len(cls) + len(sep))
        lengths = [len(r) for r in ids]
        target = {"longest": max(lengths, default=0), "max_length": max_length}.get(padding)
        if target is not None and pad_to_multiple_of:
            target = -(-target // pad_to_multiple_of) * pad_to_multiple_of
        left = self.padding_side == "left"
        pads = [max(0, target - n) for n in lengths] if target is not None else [0] * len(lengths)
        rows = [_Row(a, b, add_special_tokens, p if left else 0, 0 if left else p)
                for (_, a, b), p in zip(examples, pads)]
        is_pair = [b is not None for _, _, b in examples]

        offsets = None
        if return_offsets_mapping:
            empty = [(0, 0)] if add_special_tokens else []
            offsets = [empty + a.offsets + empty + ([] if b is None else b.offsets + empty) for _, a, b in examples]
        columns = dict(token_type_ids=return_token_type_ids, attention_mask=return_attention_mask,
                       special_tokens_mask=return_special_tokens_mask)
        if return_tensors == "np":
            data = self._columns_as_arrays(ids, lengths, first_lengths, is_pair, offsets, target, left,
                                           add_special_tokens, **columns)
        else:
            data = self._columns_as_lists(ids, lengths, first_lengths, is_pair, offsets, pads, left,
                                          add_special_tokens, **columns)
        if return_length:
            data["length"] = np.asarray(lengths, dtype=np.int64) if return_tensors == "np" else lengths
        if return_overflowing_tokens:
            mapping = [sample for sample, _, _ in examples]
            data["overflow_to_sample_mapping"] = (np.asarray(mapping, dtype=np.int64)
                                                  if return_tensors == "np" else mapping)
        if not (is_batched or return_tensors == "np" or return_overflowing_tokens):
            data = {key: value[0] for key, value in data.items()}      # one text in, one row out
        return BatchEncoding(data, rows=rows, starts_word=self._starts_word)

    def _columns_as_lists(self, ids, lengths, first_lengths, is_pair, offsets, pads, left, special,
                          token_type_ids, attention_mask, special_tokens_mask):
        """The output columns as lists of rows, each padded with its number of `pads`."""
        def pad(row, n, value):
            return row if not n else ([value] * n + row if left else row + [value] * n)

        def special_mask(n, first, pair):
            if not special:
                return [0] * n
            return [1] + [0] * (first - 2) + [1] + ([0] * (n - first - 1) + [1] if pair else [])

        data = {"input_ids": [pad(r, p, self.pad_token_id) for r, p in zip(ids, pads)]}
        if token_type_ids:                            # transformers: all 0 when no special tokens
            data["token_type_ids"] = [pad([0] * f + [int(special)] * (n - f), p, self.pad_token_type_id)
                                      for n, f, p in zip(lengths, first_lengths, pads)]
        if attention_mask:
            data["attention_mask"] = [pad([1] * n, p, 0) for n, p in zip(lengths, pads)]
        if special_tokens_mask:
            data["special_tokens_mask"] = [pad(special_mask(n, f, pair), p, 1)
                                           for n, f, pair, p in zip(lengths, first_lengths, is_pair, pads)]
        if offsets is not None:
            data["offset_mapping"] = [pad(o, p, (0, 0)) for o, p in zip(offsets, pads)]
        return data

    def _columns_as_arrays(self, ids, lengths, first_lengths, is_pair, offsets, target, left, special,
                           token_type_ids, attention_mask, special_tokens_mask):
        """The output columns as int64 arrays of shape (B, T); the masks are computed, not copied."""
        if target is None and len(set(lengths)) > 1 or target is not None and max(lengths, default=0) > target:
            longest = max(range(len(lengths)), key=lengths.__getitem__)
            raise ValueError(
                f"cannot make an array from rows of different lengths ({min(lengths)} to {max(lengths)} "
                f"tokens; row {longest} is the longest): pass padding=True (and truncation=True, "
                f"max_length=...) with return_tensors='np'")
        width = target if target is not None else max(lengths, default=0)
        n_tokens = np.asarray(lengths, dtype=np.int64)[:, None]                   # (B, 1)
        first = np.asarray(first_lengths, dtype=np.int64)[:, None]                # (B, 1)
        position = _positions_in_rows(n_tokens[:, 0], width, left)                # (B, T)
        real = (position >= 0) & (position < n_tokens)                            # (B, T) not padding
        data = {"input_ids": _pack(ids, width, self.pad_token_id, left)}
        if token_type_ids:                            # transformers: all 0 when no special tokens
            second = (position >= first) & real if special else np.zeros_like(real)
            data["token_type_ids"] = second.astype(np.int64)
        if attention_mask:
            data["attention_mask"] = real.astype(np.int64)
        if special_tokens_mask:                       # [CLS], the [SEP] after each sequence, padding
            mask = ~real
            if special:
                pair = np.asarray(is_pair, dtype=bool)[:, None]
                mask |= (position == 0) | (position == first - 1) | pair & (position == n_tokens - 1)
            data["special_tokens_mask"] = mask.astype(np.int64)
        if offsets is not None:
            flat = [list(itertools.chain.from_iterable(o)) for o in offsets]
            data["offset_mapping"] = _pack(flat, 2 * width, 0, left).reshape(len(ids), width, 2)
        return data

    @staticmethod
    def _truncated_parts(a, b, truncation, max_length, stride, n_special, overflow, sample, starts_word):
        """[(a_part, b_part)]: one truncated example, or its windows when overflow is asked."""
        def cut(seq, start, stop):                     # a window's word ids count from the text's start
            words = seq.words if seq.words is not None or start == 0 else _word_ids_of(seq, starts_word)
            return _Sequence(seq.ids[start:stop], None if seq.offsets is None else seq.offsets[start:stop],
                             None if words is None else words[start:stop])
        if max_length is None:
            return [(a, b)]
        len_a, len_b = len(a.ids), 0 if b is None else len(b.ids)
        n_remove = len_a + len_b + n_special - max_length
        if n_remove <= 0:
            return [(a, b)]
        if b is None or truncation == "only_first":
            target, other = "a", len_b
        elif truncation == "only_second":
            target, other = "b", len_a
        else:                                           # longest_first on a pair
            if overflow:
                raise ValueError("return_overflowing_tokens with truncation='longest_first' on pairs is "
                                 "not supported (transformers returns no windows either): use "
                                 "truncation='only_second' (e.g. question, context) or 'only_first'")
            keep_a, keep_b = _longest_first_lengths(len_a, len_b, n_remove)
            return [(cut(a, 0, keep_a), cut(b, 0, keep_b))]
        seq = a if target == "a" else b
        budget = max_length - n_special - other
        if budget <= 0:
            raise ValueError(
                f"example {sample}: cannot truncate to max_length={max_length}: the "
                f"{'first' if target == 'a' else 'second'} sequence would have to lose {n_remove} of its "
                f"{len(seq.ids)} tokens while the other keeps {other}. Raise max_length or truncate the "
                f"other sequence (truncation='longest_first' or "
                f"'{'only_second' if target == 'a' else 'only_first'}')")
        if not overflow:
            starts, width = [0], budget
        else:
            if stride >= budget:
                raise ValueError(f"stride={stride} must be smaller than the {budget} tokens each window "
                                 f"holds (max_length={max_length} minus special tokens and the other text)")
            starts, width = _window_starts(len(seq.ids), budget, stride), budget
        parts = [cut(seq, s, s + width) for s in starts]
        return [(p, b) if target == "a" else (a, p) for p in parts]

    def encode(self, text, text_pair=None, add_special_tokens=True, **kwargs):
        """Text (and optional pair) -> list of ids, special tokens included by default."""
        return self(text, text_pair, add_special_tokens=add_special_tokens, **kwargs)["input_ids"]

    # -- ids -> text --

    def convert_tokens_to_string(self, tokens):
        """Pieces -> text: SentencePiece decoding, special tokens kept verbatim.

        Matches: transformers AlbertTokenizer.convert_tokens_to_string.
        """
        out, run, previous_special = "", [], False
        for token in tokens:
            if token in self._special_ids:
                if not previous_special:
                    out += " "
                out += self.sp_model.decode_pieces(run) + token
                run, previous_special = [], True
            else:
                run.append(token)
                previous_special = False
        return (out + self.sp_model.decode_pieces(run)).strip()

    @staticmethod
    def clean_up_tokenization(text):
        """Remove the spaces that tokenisation leaves before punctuation and English contractions."""
        for before, after in ((" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"),
                              (" n't", "n't"), (" 'm", "'m"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re")):
            text = text.replace(before, after)
        return text

    def decode(self, token_ids, skip_special_tokens=False, clean_up_tokenization_spaces=None):
        """Ids (list, 1-D array or int) -> text.

        Matches: transformers PreTrainedTokenizer.decode for ALBERT.
        """
        if isinstance(token_ids, np.ndarray):
            if token_ids.ndim > 1:
                raise ValueError(f"decode takes one sequence, got an array of shape {token_ids.shape}; "
                                 f"use batch_decode")
            token_ids = token_ids.tolist()
        if isinstance(token_ids, (int, np.integer)):
            token_ids = [int(token_ids)]
        text = self.convert_tokens_to_string(self.convert_ids_to_tokens(token_ids, skip_special_tokens))
        clean = self.clean_up_tokenization_spaces if clean_up_tokenization_spaces is None \
            else clean_up_tokenization_spaces
        return self.clean_up_tokenization(text) if clean else text

    def batch_decode(self, sequences, skip_special_tokens=False, clean_up_tokenization_spaces=None):
        """decode() of each row of a list of id lists or a (B, T) array."""
        return [self.decode(s, skip_special_tokens, clean_up_tokenization_spaces) for s in sequences]

    # -- files --

    @classmethod
    def from_pretrained(cls, name_or_path, revision=None, cache_dir=None, local_files_only=False, **kwargs):
        """Load from a folder or a Hub repo: spiece.model (or tokenizer.json) + tokenizer_config.json.

        Keyword arguments override the settings read from the files (e.g. do_lower_case=False).
        """
        def get(filename):
            return hub.resolve_file(name_or_path, filename, revision=revision, cache_dir=cache_dir,
                                    local_files_only=local_files_only, required=False)
        settings = {}
        for filename in (SPECIAL_TOKENS_MAP_FILE, TOKENIZER_CONFIG_FILE):
            path = get(filename)
            if path is not None:
                with open(path, encoding="utf-8") as f:
                    settings.update(json.load(f))
        init_kwargs = {}
        vocab_file = get(VOCAB_FILE)
        if vocab_file is not None:
            init_kwargs["vocab_file"] = vocab_file
        else:
            json_file = get(TOKENIZER_JSON_FILE)
            if json_file is None:
                message = (f"{name_or_path!r} has neither {VOCAB_FILE} nor {TOKENIZER_JSON_FILE}: an ALBERT "
                           f"tokenizer needs its SentencePiece model. Point at a folder written by "
                           f"save_pretrained (albert_np or transformers), or train one with train_tokenizer()")
                if not hub.is_local(name_or_path):      # absent, or is the Hub out of reach? ask again
                    try:
                        hub.resolve_file(name_or_path, VOCAB_FILE, revision=revision, cache_dir=cache_dir,
                                         local_files_only=local_files_only, required=True)
                    except FileNotFoundError as e:
                        raise FileNotFoundError(message) from e
                raise FileNotFoundError(message)
            init_kwargs["model_proto"], from_json = sentencepiece_model_from_tokenizer_json(json_file)
            for key, value in from_json.items():
                settings.setdefault(key, value)
            logger.info("built the SentencePiece model of %s from its tokenizer.json", name_or_path)
        known = {"do_lower_case", "remove_space", "keep_accents", "sp_model_kwargs", "model_max_length",
                 "clean_up_tokenization_spaces", "padding_side", *SPECIAL_TOKEN_NAMES}
        for key, value in settings.items():
            if key in known and value is not None:
                init_kwargs[key] = value
        if init_kwargs.get("model_max_length", 0) > 1e20:   # transformers writes int(1e30) for "none"
            init_kwargs["model_max_length"] = DEFAULT_MODEL_MAX_LENGTH
        ignored = sorted(set(settings) - known)
        if ignored:
            logger.debug("tokenizer settings not used by %s: %s", cls.__name__, ignored)
        init_kwargs.update(kwargs)
        return cls(**init_kwargs)

    def save_vocabulary(self, save_directory, filename_prefix=None):
        """Write the SentencePiece model as [prefix-]spiece.model; returns (path,)."""
        if not os.path.isdir(save_directory):
            raise NotADirectoryError(f"save_vocabulary needs an existing folder, got {save_directory!r}")
        name = (filename_prefix + "-" if filename_prefix else "") + VOCAB_FILE
        return (_write_atomic(os.path.join(save_directory, name), self._model_proto),)

    def save_pretrained(self, save_directory):
        """Write spiece.model, tokenizer_config.json, special_tokens_map.json and tokenizer.json.

        transformers loads the folder back: 4.x's AlbertTokenizer from spiece.model, 5.x's
        (tokenizers-backed) AlbertTokenizer from tokenizer.json. Every file is written atomically.
        Returns the tuple of paths written.
        """
        os.makedirs(save_directory, exist_ok=True)
        added = {str(self._special_ids[t]): {"content": t, "lstrip": t == self.mask_token, "normalized": False,
                                             "rstrip": False, "single_word": False, "special": True}
                 for t in self.all_special_tokens}
        config = {"added_tokens_decoder": added, **self.special_tokens_map,
                  "clean_up_tokenization_spaces": self.clean_up_tokenization_spaces,
                  "do_lower_case": self.do_lower_case, "keep_accents": self.keep_accents,
                  "model_max_length": self.model_max_length, "padding_side": self.padding_side,
                  "remove_space": self.remove_space, "sp_model_kwargs": self.sp_model_kwargs,
                  "tokenizer_class": "AlbertTokenizer"}
        special_map = dict(self.special_tokens_map)
        special_map["mask_token"] = {"content": self.mask_token, "lstrip": True, "normalized": False,
                                     "rstrip": False, "single_word": False}
        paths = self.save_vocabulary(save_directory)
        for name, content in ((TOKENIZER_CONFIG_FILE, config), (SPECIAL_TOKENS_MAP_FILE, special_map),
                              (TOKENIZER_JSON_FILE, self._tokenizer_json())):
            paths += (_write_atomic(os.path.join(save_directory, name),
                                    json.dumps(content, indent=2, ensure_ascii=False) + "\n"),)
        return paths

    def _tokenizer_json(self):
        """The `tokenizers` library's description of this tokenizer (what transformers 5 loads)."""
        sp = self.sp_model
        normalizer_spec = read_normalizer_spec(self._model_proto)
        added = []                         # as transformers' converter: control/unk special, user-defined not
        for i, kind in enumerate(read_piece_types(self._model_proto)):
            if kind in ("CONTROL", "UNKNOWN", "USER_DEFINED"):
                added.append({"id": i, "content": sp.id_to_piece(i), "single_word": False,
                              "lstrip": sp.id_to_piece(i) == self.mask_token, "rstrip": False,
                              "normalized": False, "special": kind != "USER_DEFINED"})
        steps = [{"type": "Replace", "pattern": {"String": "``"}, "content": '"'},
                 {"type": "Replace", "pattern": {"String": "''"}, "content": '"'}]
        if not self.keep_accents:
            steps += [{"type": "NFKD"}, {"type": "StripAccents"}]
        if self.do_lower_case:
            steps.append({"type": "Lowercase"})
        if normalizer_spec["precompiled_charsmap"]:
            steps.append({"type": "Precompiled", "precompiled_charsmap":
                          base64.b64encode(normalizer_spec["precompiled_charsmap"]).decode("ascii")})
        prepend = "always" if normalizer_spec["add_dummy_prefix"] else "never"
        metaspace = {"type": "Metaspace", "replacement": SPIECE_UNDERLINE, "prepend_scheme": prepend, "split": True}
        cls_, sep = self.cls_token, self.sep_token
        template = {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": cls_, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                       {"SpecialToken": {"id": sep, "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": cls_, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": sep, "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}},
                     {"SpecialToken": {"id": sep, "type_id": 1}}],
            "special_tokens": {t: {"id": t, "ids": [self._special_ids[t]], "tokens": [t]} for t in (cls_, sep)}}
        return {"version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
                "normalizer": {"type": "Sequence", "normalizers": steps},
                "pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "WhitespaceSplit"}, metaspace]},
                "post_processor": template, "decoder": metaspace,
                "model": {"type": "Unigram", "unk_id": self.unk_token_id, "byte_fallback": False,
                          "vocab": [[sp.id_to_piece(i), float(sp.get_score(i))] for i in range(len(sp))]}}


# %% The batched tokenizer ------------------------------------------------------------------------

class AlbertTokenizerFast(AlbertTokenizer):
    """AlbertTokenizer's ids, batched through sentencepiece's multithreaded encoder, with offsets.

    Adds return_offsets_mapping ((start, end) spans into the original text, special tokens (0, 0)),
    and word_ids() / sequence_ids() / overflowing windows as transformers' fast tokenizers do.
    Args:
        num_threads: threads for sentencepiece's batch encoder (default: all cores).
        everything else: as AlbertTokenizer.
    """

    is_fast = True

    def __init__(self, vocab_file=None, *, num_threads=None, **kwargs):
        self.num_threads = num_threads or os.cpu_count() or 1
        super().__init__(vocab_file, **kwargs)

    def _load_model(self):
        super()._load_model()
        sp = self.sp_model
        pieces = [sp.id_to_piece(i) for i in range(len(sp))]
        self._piece_length_np = np.array([len(p) for p in pieces], dtype=np.int64)
        self._starts_word_np = np.array(self._starts_word, dtype=np.int64)
        self._digit_comma_ids = frozenset(i for i, p in enumerate(pieces) if is_digit_comma_piece(p))
        self._is_digit_comma_np = np.array([is_digit_comma_piece(p) for p in pieces], dtype=np.int64)
        self._sampling = bool(self.sp_model_kwargs.get("enable_sampling"))
        self._offset_mapping = _has_offset_mapping(sp)
        # On printable ASCII the model's normaliser must be the identity for the shortcut offsets.
        probe = "".join(chr(c) for c in range(33, 127))
        try:
            self._ascii_is_identity = sp.normalize(probe) == SPIECE_UNDERLINE + probe
        except (AttributeError, TypeError):             # sentencepiece < 0.2 has no normalize()
            self._ascii_is_identity = False

    # -- text -> chunks --

    def _chunks(self, text):
        """[(preprocessed chunk text, None) or (None, special id)] of one text."""
        lowered = lowercase_each_char(text) if self.do_lower_case else text
        if not any(c in lowered for c in self._special_first_chars):   # no special token can occur
            return [(self.preprocess_text(lowered), None)]
        return [(None, self._special_ids[c]) if special else (self.preprocess_text(c), None)
                for c, special in self._split_text(text)]

    def _chunks_with_alignment(self, text):
        """[(preprocessed chunk, Alignment) or (None, (special id, (start, end)))] of one text."""
        stripped = text.strip()
        if (text.isascii() and self.remove_space and "``" not in text and "''" not in text
                and not any(c in text.lower() for c in self._special_first_chars)
                and " ".join(stripped.split()) == stripped):
            shift = len(text) - len(text.lstrip())        # the only change is stripping the ends
            return [(stripped.lower() if self.do_lower_case else stripped, Alignment(shift=shift))]
        lowered = lowercase_each_char(text) if self.do_lower_case else text
        starts = ends = None                            # lowered[k] came from text[k] ...
        if any(c in lowered for c in self._special_first_chars) or len(lowered) != len(text):
            units = []                                  # ... unless special tokens or "İ" -> "i̇"
            pos = 0
            for match in self._special_re.finditer(text) if self.do_lower_case else ():
                units += [[c.lower(), i, i + 1] for i, c in enumerate(text[pos:match.start()], pos)]
                units.append([match.group(), match.start(), match.end()])
                pos = match.end()
            units += [[c.lower() if self.do_lower_case else c, i, i + 1] for i, c in enumerate(text[pos:], pos)]
            lowered = "".join(u[0] for u in units)
            starts, ends = [], []
            for piece, a, b in units:
                starts += [a] * len(piece)
                ends += [b] * len(piece)
        out = []
        for a, b, special in self._special_token_spans(lowered):
            if special:
                span = (a, b) if starts is None else (starts[a], ends[b - 1])
                out.append((None, (self._special_ids[lowered[a:b]], span)))
            else:
                out.append(self._normalize_chunk_with_alignment(lowered, a, b, starts, ends))
        return out

    def _normalize_chunk_with_alignment(self, lowered, a, b, starts, ends):
        """(preprocess_text(lowered[a:b]), Alignment to the original text).

        starts/ends give the original span of each char of `lowered` (None: char k is text[k]).
        Word by word: plain ASCII words map one to one; others go through normalize_units. The
        result is checked against preprocess_text; should they ever differ, every character gets
        the whole chunk's span (coarse, never wrong).
        """
        if starts is None:                              # ranges slice and index like the lists
            starts, ends = range(len(lowered)), range(1, len(lowered) + 1)
        exact = self.preprocess_text(lowered[a:b])
        flags = dict(keep_accents=self.keep_accents, do_lower_case=self.do_lower_case)
        if not self.remove_space:
            normalised, alignment = normalize_units([[lowered[k], starts[k], ends[k]] for k in range(a, b)],
                                                    remove_space=False, **flags)
        else:
            parts, out_starts, out_ends, previous = [], [], [], None
            for match in _NON_SPACE_RE.finditer(lowered, a, b):
                k0, k1 = match.span()
                word = match.group()
                if previous is not None:                # one " " for the whitespace run between words
                    parts.append(" ")
                    out_starts.append(starts[previous])
                    out_ends.append(ends[k0 - 1])
                if word.isascii() and "``" not in word and "''" not in word:
                    parts.append(word.lower() if self.do_lower_case else word)
                    out_starts += starts[k0:k1]
                    out_ends += ends[k0:k1]
                else:
                    word, alignment = normalize_units([[lowered[k], starts[k], ends[k]] for k in range(k0, k1)],
                                                      remove_space=False, **flags)
                    parts.append(word)
                    out_starts += alignment.starts
                    out_ends += alignment.ends
                previous = k1
            normalised, alignment = "".join(parts), Alignment(out_starts, out_ends)
        if normalised != exact:                         # e.g. context-dependent lowercasing
            logger.debug("coarse offsets for chunk %r (per-character normalisation differs)", exact)
            normalised, alignment = exact, Alignment([starts[a]] * len(exact), [ends[b - 1]] * len(exact))
        return normalised, alignment

    # -- chunks -> pieces --

    def _fix_digit_commas(self, ids):
        """Apply the digit-comma rule to ids of a chunk (deterministic segmentation only)."""
        out = []
        for i in ids:
            if i in self._digit_comma_ids:
                out += self.sp_model.piece_to_id(
                    split_digit_comma_piece(self.sp_model.id_to_piece(i), self._encode_as_pieces))
            else:
                out.append(i)
        return out

    def _encode_chunks(self, texts):
        """Ids of each preprocessed chunk, batched; digit-comma rule applied."""
        if self._sampling:                             # sampled pieces must come from one call
            return [self.sp_model.piece_to_id(self._segment(t)) for t in texts]
        all_ids = self.sp_model.encode(texts, out_type=int, num_threads=self.num_threads)
        for k in self._chunks_with_digit_commas(all_ids):
            all_ids[k] = self._fix_digit_commas(all_ids[k])
        return all_ids

    def _chunks_with_digit_commas(self, all_ids):
        """Indices of the id lists that hold a piece such as "▁12," (checked for all at once)."""
        if not self._digit_comma_ids:
            return []
        counts = np.fromiter(map(len, all_ids), dtype=np.int64, count=len(all_ids))
        flat = np.fromiter(itertools.chain.from_iterable(all_ids), dtype=np.int64, count=int(counts.sum()))
        hits = np.concatenate(([0], np.cumsum(self._is_digit_comma_np[flat])))     # (tokens + 1,)
        first = np.cumsum(counts) - counts
        return np.flatnonzero(hits[first + counts] > hits[first]).tolist()

    def _encode_chunks_with_spans(self, texts):
        """[(ids, spans)] of each preprocessed chunk; spans index the chunk, whitespace excluded."""
        results = [None] * len(texts)
        simple = [] if self._sampling or not self._ascii_is_identity else [
            k for k, t in enumerate(texts) if t.isascii() and t.isprintable()]
        if simple:
            all_ids = self.sp_model.encode([texts[k] for k in simple], out_type=int, num_threads=self.num_threads)
            with_rule = set(self._chunks_with_digit_commas(all_ids))
            spans_of = self._spans_from_lengths(all_ids, [len(texts[k]) for k in simple])
            for n, (k, ids, spans) in enumerate(zip(simple, all_ids, spans_of)):
                if spans is not None:
                    results[k] = self._digit_commas_with_spans(ids, None, spans, texts[k]) if n in with_rule \
                        else (ids, spans)
        hard = [k for k in range(len(texts)) if results[k] is None]
        if hard:
            for k, (ids, pieces, spans) in zip(hard, _encode_with_char_spans(
                    self.sp_model, [texts[k] for k in hard], self.num_threads, self._offset_mapping)):
                spans = [_trim_space(texts[k], p, s, e) for p, (s, e) in zip(pieces, spans)]
                results[k] = self._digit_commas_with_spans(ids, pieces, spans, texts[k])
        return results

    def _spans_from_lengths(self, all_ids, n_chars):
        """Spans from piece lengths, for chunks the model copied verbatim (None for the others).

        With "▁" + text as the normalised string, a piece ends where the lengths add up to; one that
        starts with "▁" begins a character later. Computed for all chunks at once.
        """
        counts = np.fromiter(map(len, all_ids), dtype=np.int64, count=len(all_ids))           # (N,)
        flat = np.fromiter(itertools.chain.from_iterable(all_ids), dtype=np.int64, count=int(counts.sum()))
        first = np.cumsum(counts) - counts                                 # (N,) first token of each chunk
        lengths = self._piece_length_np[flat]                              # (tokens,)
        length_sums = np.concatenate(([0], np.cumsum(lengths)))            # (tokens + 1,)
        ends = length_sums[1:] - np.repeat(length_sums[first], counts) - 1  # the dummy "▁" sits at -1
        starts = ends - lengths + self._starts_word_np[flat]
        total = length_sums[first + counts] - length_sums[first] - 1       # (N,) where the last piece ends
        unk_sums = np.concatenate(([0], np.cumsum(flat == self.unk_token_id)))
        has_unk = unk_sums[first + counts] > unk_sums[first]
        n_chars = np.asarray(n_chars, dtype=np.int64)
        ok = (total == n_chars) & ~has_unk | (counts == 0) & (n_chars == 0)
        starts, ends = starts.tolist(), ends.tolist()
        return [list(zip(starts[f:f + c], ends[f:f + c])) if good else None
                for f, c, good in zip(first.tolist(), counts.tolist(), ok.tolist())]

    def _digit_commas_with_spans(self, ids, pieces, spans, text):
        """The digit-comma rule with spans: the comma keeps its char, the rest share the piece's."""
        if pieces is None and self._digit_comma_ids.isdisjoint(ids) or pieces is not None and not any(
                map(is_digit_comma_piece, pieces)):
            return ids, spans
        out_ids, out_spans = [], []
        for k, i in enumerate(ids):
            piece = pieces[k] if pieces is not None else self.sp_model.id_to_piece(i)
            if not is_digit_comma_piece(piece):
                out_ids.append(i)
                out_spans.append(spans[k])
                continue
            start, end = spans[k]
            sub = split_digit_comma_piece(piece, self._encode_as_pieces)
            widths = [len(p.lstrip(SPIECE_UNDERLINE)) for p in sub[:-1]]
            if sum(widths) == end - 1 - start and text[end - 1:end] == ",":
                for w in widths:                        # the surface is the piece itself
                    out_spans.append((start, start + w))
                    start += w
            else:
                out_spans += [(start, end - 1)] * len(widths)
            out_spans.append((end - 1, end))
            out_ids += self.sp_model.piece_to_id(sub)
        return out_ids, out_spans

    # -- texts -> sequences --

    def _encode_sequences(self, texts, is_split_into_words, with_offsets):
        """Tokenise a batch: normalise each text, segment all chunks in one threaded call."""
        if is_split_into_words:                        # every word is tokenised on its own
            flat = [word for words in texts for word in words]
            encoded = self._encode_sequences(flat, False, with_offsets)
            out, k = [], 0
            for words in texts:
                ids, offsets, word_ids = [], [] if with_offsets else None, []
                for w in range(len(words)):
                    ids += encoded[k].ids
                    word_ids += [w] * len(encoded[k].ids)
                    if with_offsets:
                        offsets += encoded[k].offsets  # offsets within each word, as transformers
                    k += 1
                out.append(_Sequence(ids, offsets, word_ids))
            return out
        plans = [self._chunks_with_alignment(t) if with_offsets else self._chunks(t) for t in texts]
        chunk_texts = [c for plan in plans for c, _ in plan if c is not None]
        if with_offsets:
            encoded = iter(self._encode_chunks_with_spans(chunk_texts))
        else:
            encoded = iter(self._encode_chunks(chunk_texts))
        out = []
        for plan in plans:
            if len(plan) == 1 and plan[0][0] is not None:   # the common case: no special token in the text
                if with_offsets:
                    chunk_ids, spans = next(encoded)
                    out.append(_Sequence(chunk_ids, plan[0][1].spans(spans), None))   # word ids when asked
                else:
                    out.append(_Sequence(next(encoded), None, None))
                continue
            ids, offsets, words, word = [], [] if with_offsets else None, [], -1
            for chunk, extra in plan:
                if chunk is None:                         # a special token in the text
                    special_id, span = extra if with_offsets else (extra, None)
                    word += 1
                    ids.append(special_id)
                    words.append(word)
                    if with_offsets:
                        offsets.append(span)
                    continue
                if with_offsets:
                    chunk_ids, spans = next(encoded)
                    offsets += extra.spans(spans)
                else:
                    chunk_ids = next(encoded)
                words += [word + 1 + w for w in words_from_ids(chunk_ids, self._starts_word)]
                word = words[-1] if words else word
                ids += chunk_ids
            out.append(_Sequence(ids, offsets, words))
        return out


def _trim_space(text, piece, start, end):
    """Drop the whitespace (or invisible characters) that a piece's leading "▁" stands for."""
    if piece.startswith(SPIECE_UNDERLINE):
        while start < end and (text[start].isspace() or unicodedata.category(text[start]) in ("Cc", "Cf")):
            start += 1
        if piece == SPIECE_UNDERLINE:
            start = end
    return start, end


def _has_offset_mapping(sp):
    """Whether this sentencepiece can return character offsets directly (newer than 0.2.0)."""
    try:
        sp.encode("a", out_type="offset_mapping")
        return True
    except (ValueError, RuntimeError, TypeError):
        return False


def _encode_with_char_spans(sp, texts, num_threads, offset_mapping):
    """[(ids, pieces, [(start, end)])] with character spans of each piece's surface in its text."""
    if offset_mapping:
        results = sp.encode(texts, out_type="offset_mapping", num_threads=num_threads)
        return [(r["ids"], r["pieces"], r["offsets"]) for r in results]
    out = []                                            # sentencepiece <= 0.2.0: immutable protos
    for text, proto in zip(texts, sp.encode(texts, out_type="immutable_proto", num_threads=num_threads)):
        spans = [(p.begin, p.end) for p in proto.pieces]
        if any(text[b:e] != p.surface for (b, e), p in zip(spans, proto.pieces)):   # byte offsets
            char_of_byte = np.cumsum([(b & 0xC0) != 0x80 for b in text.encode("utf-8")] + [1]) - 1
            spans = [(int(char_of_byte[b]), int(char_of_byte[e])) for b, e in spans]
        out.append(([p.id for p in proto.pieces], [p.piece for p in proto.pieces], spans))
    return out


# %% Training a vocabulary ------------------------------------------------------------------------

def _read_lines(path, max_chars):
    """Stream non-empty lines of a UTF-8 text file (.xz through lzma), up to max_chars characters.

    Bytes that are not UTF-8 become U+FFFD rather than stopping a long training run.
    """
    opener = lzma.open if str(path).endswith(".xz") else open
    total = 0
    with opener(path, "rt", encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith(("<doc ", "</doc>")):   # WikiExtractor markup
                continue
            total += len(line)
            if max_chars is not None and total > max_chars:
                return
            yield line


def train_tokenizer(files, vocab_size, model_prefix, *, max_chars_per_file=None, do_lower_case=True,
                    keep_accents=False, character_coverage=0.99995, input_sentence_size=10_000_000,
                    num_threads=None, seed=None, **sentencepiece_options):
    """Train a SentencePiece vocabulary with ALBERT's recipe; returns the path of the .model file.

    Unigram model; <pad>=0, <unk>=1, no <s>/</s>; control symbols [CLS] [SEP] [MASK] (ids 2-4);
    user-defined symbols ( ) " - . – £ € (always single pieces); character coverage 0.99995.
    Lines are streamed from `files` and normalised as the tokenizer will normalise them
    (preprocess_text: lowercased, accents dropped), so the vocabulary fits its inputs.
    Args:
        files: path or list of paths of text files (one sentence or paragraph per line; .xz ok).
        vocab_size: number of pieces, special ones included.
        model_prefix: writes model_prefix + ".model" and ".vocab".
        max_chars_per_file: read at most this many characters of each file (int, or one per file).
        seed: fixes sentencepiece's sampling of input sentences, for a reproducible model.
        sentencepiece_options: more SentencePieceTrainer options (they override the recipe).
    """
    files = [files] if isinstance(files, (str, os.PathLike)) else list(files)
    for path in files:
        if not os.path.isfile(path):
            raise FileNotFoundError(f"training file {str(path)!r} not found")
    limits = (list(max_chars_per_file) if isinstance(max_chars_per_file, (list, tuple))
              else [max_chars_per_file] * len(files))
    if len(limits) != len(files):
        raise ValueError(f"max_chars_per_file has {len(limits)} limits for {len(files)} files")
    if seed is not None:
        spm.set_random_generator_seed(seed)

    def sentences():
        for path, limit in zip(files, limits):
            for line in _read_lines(path, limit):
                yield preprocess_text(line, keep_accents=keep_accents, do_lower_case=do_lower_case)

    options = dict(model_type="unigram", vocab_size=vocab_size, pad_id=0, unk_id=1, bos_id=-1, eos_id=-1,
                   control_symbols=list(ALBERT_CONTROL_SYMBOLS),
                   user_defined_symbols=list(ALBERT_USER_DEFINED_SYMBOLS),   # a list: '"' breaks CSV
                   character_coverage=character_coverage, input_sentence_size=input_sentence_size,
                   shuffle_input_sentence=True, num_threads=num_threads or os.cpu_count() or 1,
                   minloglevel=2)
    options.update(sentencepiece_options)
    spm.SentencePieceTrainer.train(sentence_iterator=sentences(), model_prefix=str(model_prefix), **options)
    return str(model_prefix) + ".model"
