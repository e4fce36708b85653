"""From token ids to model inputs: BatchEncoding, truncation, overflowing windows, padding, packing.

Both tokenizers turn each text into a _Sequence (ids, offsets, word ids) and hand the lists to
build_batch, which truncates (or windows), adds [CLS]/[SEP], pads and packs them into a
BatchEncoding of lists or of (B, T) arrays. Nothing here looks at text.

Shapes: the legend at the top of albert_np/ops.py (B batch rows, T tokens per row).
"""
import contextlib
import gc
import itertools
from typing import List, NamedTuple, Optional

import numpy as np

PADDING_STRATEGIES = ("longest", "max_length", "do_not_pad")
TRUNCATION_STRATEGIES = ("longest_first", "only_first", "only_second", "do_not_truncate")


@contextlib.contextmanager
def gc_paused():
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


# %% What a row is made of ------------------------------------------------------------------------

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

    def __init__(self, data: Optional[dict] = None, *, rows: Optional[list] = None,
                 starts_word: Optional[list] = None) -> None:
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

    def word_ids(self, batch_index: int = 0) -> List[Optional[int]]:
        """Index of the word each token of row `batch_index` came from; None for `[CLS]`/`[SEP]`/`<pad>`.

        Words are whitespace-separated (special tokens in the text count as words); with
        is_split_into_words=True they are the given words. In a pair, each sequence counts from 0.
        """
        row = self._row(batch_index)
        second = None if row.b is None else _word_ids_of(row.b, self._starts_word)
        return self._layout(row, _word_ids_of(row.a, self._starts_word), second)

    def sequence_ids(self, batch_index: int = 0) -> List[Optional[int]]:
        """0 for tokens of the first text, 1 for the second, None for `[CLS]`/`[SEP]`/`<pad>`."""
        row = self._row(batch_index)
        return self._layout(row, [0] * len(row.a.ids), None if row.b is None else [1] * len(row.b.ids))


# %% Checking the inputs --------------------------------------------------------------------------

def check_str(value, what, index=None):
    """`value` itself when it is a str; otherwise a TypeError naming `what` (and its index in a list).

    A str holding a lone surrogate (U+D800-U+DFFF: half of a UTF-16 pair, or the undecodable
    bytes of a command-line argument) is not text and raises ValueError, naming where it is.
    """
    where = f" at index {index}" if index is not None else ""
    if not isinstance(value, str):
        raise TypeError(f"{what}{where} must be a str, got {type(value).__name__}: {value!r:.80}")
    if value.isascii():              # most text: no surrogate possible, and no bytes object built
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as e:
        raise ValueError(f"{what}{where} holds a lone surrogate {value[e.start]!r} at character {e.start}, "
                         f"which is not text: decode the bytes it came from as UTF-8 (errors='replace' "
                         f"turns bad bytes into U+FFFD), or remove it") from None
    return value


def as_batch(value, name, is_split_into_words):
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
                check_str(word, f"{name}[{i}]" if is_batched else name, j)
        return [list(words) for words in examples], is_batched
    if isinstance(value, str):
        return [check_str(value, name)], False
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            if isinstance(item, (list, tuple)):
                raise TypeError(f"{name}[{i}] is a {type(item).__name__}: pass words with "
                                f"is_split_into_words=True, and pairs as text=[...], text_pair=[...]")
            check_str(item, name, i)
        return list(value), True
    raise TypeError(f"{name} must be a str or a list of str, got {type(value).__name__}: {value!r:.80}")


def check_output_options(padding_side, return_tensors):
    """padding_side itself, or a ValueError for a bad padding side or return_tensors."""
    if padding_side not in ("right", "left"):
        raise ValueError(f"padding_side must be 'right' or 'left', got {padding_side!r}")
    if return_tensors not in (None, "np"):
        raise ValueError(f"return_tensors={return_tensors!r} is not supported: albert_np returns "
                         f"NumPy arrays (return_tensors='np') or lists (None); there is no torch here")
    return padding_side


def resolve_strategies(padding, truncation, max_length, is_pair, n_special, model_max_length):
    """Resolve padding / truncation arguments as transformers does; check max_length.

    n_special: the [CLS]/[SEP] tokens each row gets; model_max_length: max_length when none is given.
    Returns (padding, truncation, max_length) as names of PADDING_STRATEGIES / TRUNCATION_STRATEGIES.
    """
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
        max_length = model_max_length
    if max_length is not None:
        if not isinstance(max_length, (int, np.integer)) or isinstance(max_length, bool):
            raise TypeError(f"max_length must be an int, got {type(max_length).__name__}")
        if truncation != "do_not_truncate" and max_length <= n_special:
            raise ValueError(f"max_length={max_length} leaves no room for text: "
                             f"{'a pair' if is_pair else 'one text'} already takes {n_special} special "
                             f"tokens ([CLS]/[SEP]). Use max_length > {n_special}")
    if truncation == "only_second" and not is_pair:
        raise ValueError("truncation='only_second' needs a text_pair; for single texts use "
                         "truncation=True")
    return padding, truncation, max_length


# %% Truncation and windows -----------------------------------------------------------------------

def truncated_parts(a, b, truncation, max_length, stride, n_special, overflow, sample, starts_word):
    """[(a_part, b_part)]: one truncated example, or its windows when overflow is asked."""
    def cut(seq, start, stop, words=None):         # a window's word ids count from the text's start
        if seq.words is not None or (words is None and start != 0):
            words = _word_ids_of(seq, starts_word)
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
    words = _word_ids_of(seq, starts_word) if len(starts) > 1 else None    # once, not once per window
    parts = [cut(seq, s, s + width, words) for s in starts]
    return [(p, b) if target == "a" else (a, p) for p in parts]


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


# %% Rows -> columns ------------------------------------------------------------------------------

def build_batch(encoded_a, encoded_b, *, n_special, cls_id, sep_id, pad_id, pad_type_id, padding_side,
                starts_word, is_batched, add_special_tokens, padding, truncation, max_length, stride,
                pad_to_multiple_of, return_tensors, return_token_type_ids, return_attention_mask,
                return_overflowing_tokens, return_special_tokens_mask, return_offsets_mapping, return_length):
    """Truncate (or window), add [CLS]/[SEP], pad, and pack rows into a BatchEncoding.

    encoded_a, encoded_b: one _Sequence per text (encoded_b None for single texts).
    n_special, cls_id, sep_id, pad_id, pad_type_id, padding_side, starts_word: the tokenizer's.
    The other arguments are those of AlbertTokenizer.__call__, resolved by resolve_strategies.
    """
    examples = []                                 # (sample index, sequence a, sequence b)
    for sample, a in enumerate(encoded_a):
        b = encoded_b[sample] if encoded_b is not None else None
        if truncation == "do_not_truncate":
            examples.append((sample, a, b))
            continue
        for a_part, b_part in truncated_parts(a, b, truncation, max_length, stride, n_special,
                                              return_overflowing_tokens, sample, starts_word):
            examples.append((sample, a_part, b_part))

    cls, sep = ([cls_id], [sep_id]) if add_special_tokens else ([], [])
    ids, first_lengths = [], []                   # first_lengths: tokens of [CLS] A [SEP]
    for _, a, b in examples:
        ids.append(cls + a.ids + sep if b is None else cls + a.ids + sep + b.ids + sep)
        first_lengths.append(len(a.ids) + len(cls) + len(sep))
    lengths = [len(r) for r in ids]
    target = {"longest": max(lengths, default=0), "max_length": max_length}.get(padding)
    if target is not None and pad_to_multiple_of:
        target = -(-target // pad_to_multiple_of) * pad_to_multiple_of
    left = padding_side == "left"
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
        data = _columns_as_arrays(ids, lengths, first_lengths, is_pair, offsets, target, left,
                                  add_special_tokens, pad_id, **columns)
    else:
        data = _columns_as_lists(ids, lengths, first_lengths, is_pair, offsets, pads, left,
                                 add_special_tokens, pad_id, pad_type_id, **columns)
    if return_length:
        data["length"] = np.asarray(lengths, dtype=np.int64) if return_tensors == "np" else lengths
    if return_overflowing_tokens:
        mapping = [sample for sample, _, _ in examples]
        data["overflow_to_sample_mapping"] = (np.asarray(mapping, dtype=np.int64)
                                              if return_tensors == "np" else mapping)
    if not (is_batched or return_tensors == "np" or return_overflowing_tokens):
        data = {key: value[0] for key, value in data.items()}      # one text in, one row out
    return BatchEncoding(data, rows=rows, starts_word=starts_word)


def _columns_as_lists(ids, lengths, first_lengths, is_pair, offsets, pads, left, special, pad_id, pad_type_id,
                      token_type_ids, attention_mask, special_tokens_mask):
    """The output columns as lists of rows, each padded with its number of `pads`."""
    def pad(row, n, value):
        return row if not n else ([value] * n + row if left else row + [value] * n)

    def special_mask(n, first, pair):
        if not special:
            return [0] * n
        return [1] + [0] * (first - 2) + [1] + ([0] * (n - first - 1) + [1] if pair else [])

    data = {"input_ids": [pad(r, p, pad_id) for r, p in zip(ids, pads)]}
    if token_type_ids:                            # transformers: all 0 when no special tokens
        data["token_type_ids"] = [pad([0] * f + [int(special)] * (n - f), p, pad_type_id)
                                  for n, f, p in zip(lengths, first_lengths, pads)]
    if attention_mask:
        data["attention_mask"] = [pad([1] * n, p, 0) for n, p in zip(lengths, pads)]
    if special_tokens_mask:
        data["special_tokens_mask"] = [pad(special_mask(n, f, pair), p, 1)
                                       for n, f, pair, p in zip(lengths, first_lengths, is_pair, pads)]
    if offsets is not None:
        data["offset_mapping"] = [pad(o, p, (0, 0)) for o, p in zip(offsets, pads)]
    return data


def _columns_as_arrays(ids, lengths, first_lengths, is_pair, offsets, target, left, special, pad_id,
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
    data = {"input_ids": _pack(ids, width, pad_id, left)}
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


# %% Padding what was tokenised before ------------------------------------------------------------

def pad_batch(encoded_inputs, *, pad_values, padding, max_length, pad_to_multiple_of, left,
              return_attention_mask, return_tensors):
    """Pad the rows of already-tokenised inputs to one length (AlbertTokenizer.pad).

    encoded_inputs: a dict of lists (one example, or a batch of rows) or a list of such dicts.
    pad_values: {column: value} of the columns to pad (input_ids, token_type_ids, ...); other
    columns are left as they are. padding: "longest", "max_length" or "do_not_pad" (resolved).
    An attention_mask is made (1 on every given token) when absent, unless return_attention_mask
    is False, which drops it. Returns a BatchEncoding (lists, or (B, T) int64 arrays).
    """
    if isinstance(encoded_inputs, (list, tuple)):
        if not encoded_inputs or not all(isinstance(row, dict) for row in encoded_inputs):
            raise TypeError("pad takes a dict of lists (e.g. a BatchEncoding) or a non-empty list of dicts "
                            "(one per example)")
        keys = list(encoded_inputs[0])
        for i, row in enumerate(encoded_inputs):
            if set(row) != set(keys):
                raise ValueError(f"pad: example {i} has the keys {sorted(row)} but example 0 has {sorted(keys)}: "
                                 f"give every example the same keys")
        columns = {k: [row[k] for row in encoded_inputs] for k in keys}
        is_batched = True
    elif isinstance(encoded_inputs, dict):
        columns = dict(encoded_inputs)
        first = columns.get("input_ids")
        if first is None:
            raise ValueError(f"pad needs input_ids; the inputs hold {sorted(columns)}")
        first = np.asarray(first) if isinstance(first, np.ndarray) else first
        is_batched = (first.ndim == 2) if isinstance(first, np.ndarray) else (
            len(first) > 0 and isinstance(first[0], (list, tuple, np.ndarray)))
        if not is_batched:
            columns = {k: [v] for k, v in columns.items()}
    else:
        raise TypeError(f"pad takes a BatchEncoding, a dict of lists or a list of dicts, "
                        f"got {type(encoded_inputs).__name__}")
    if "input_ids" not in columns:
        raise ValueError(f"pad needs input_ids; the inputs hold {sorted(columns)}")
    rows = {k: [np.asarray(r).tolist() if isinstance(r, np.ndarray) else list(r) for r in v]
            for k, v in columns.items() if k in pad_values}
    lengths = [len(r) for r in rows["input_ids"]]
    for k, value in rows.items():
        if [len(r) for r in value] != lengths:
            raise ValueError(f"pad: the rows of {k!r} do not have the lengths of input_ids' rows ({lengths})")
    if return_attention_mask is False:
        rows.pop("attention_mask", None)
        columns.pop("attention_mask", None)
    elif "attention_mask" not in rows:
        rows["attention_mask"] = [[1] * n for n in lengths]
    target = {"longest": max(lengths, default=0), "max_length": max_length}.get(padding)
    if target is not None and pad_to_multiple_of:
        target = -(-target // pad_to_multiple_of) * pad_to_multiple_of
    data = {}
    for k in columns.keys() | rows.keys():
        if k not in rows:
            data[k] = columns[k]
            continue
        padded = []
        for row in rows[k]:
            n = max(0, target - len(row)) if target is not None else 0
            padded.append([pad_values[k]] * n + row if left else row + [pad_values[k]] * n)
        data[k] = padded
    order = [k for k in columns if k in data] + [k for k in data if k not in columns]
    data = {k: data[k] for k in order}
    if return_tensors == "np":
        for k, value in data.items():
            try:
                data[k] = np.asarray(value, dtype=np.int64 if k in pad_values else None)
            except ValueError as e:
                raise ValueError(f"pad: cannot make an array of {k!r} ({e}); its rows have different lengths: "
                                 f"pass padding=True (or 'max_length' with a max_length as long as the longest)") from e
    elif not is_batched:
        data = {k: v[0] for k, v in data.items()}
    if return_tensors == "np" and not is_batched:
        data = {k: v[0] for k, v in data.items()}
    return BatchEncoding(data)
