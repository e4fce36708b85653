"""AlbertTokenizerFast: AlbertTokenizer's ids in batches, with character offsets into the original text.

All the chunks of a batch go through sentencepiece's multithreaded encoder in one call. For offsets,
each chunk is normalised with an Alignment (normalization.py) that remembers which original
characters every normalised character came from; a piece's span in the normalised chunk then maps
back to the text. Plain ASCII, the common case, takes shortcuts computed for the whole batch in NumPy.
"""
import itertools
import logging
import os
import re
import unicodedata
from typing import Any, Optional

import numpy as np

from ..hints import PathLike
from .encoding import _Sequence, words_from_ids
from .normalization import (SPIECE_UNDERLINE, Alignment, is_digit_comma_piece, lowercase_each_char,
                            normalize_units, split_digit_comma_piece)
from .slow import AlbertTokenizer

logger = logging.getLogger(__name__)

_NON_SPACE_RE = re.compile(r"\S+")                    # the words that str.split() returns


class AlbertTokenizerFast(AlbertTokenizer):
    """AlbertTokenizer's ids, batched through sentencepiece's multithreaded encoder, with offsets.

    Adds return_offsets_mapping ((start, end) spans into the original text, special tokens (0, 0)),
    and word_ids() / sequence_ids() / overflowing windows as transformers' fast tokenizers do.
    Args:
        num_threads: threads for sentencepiece's batch encoder (default: all cores).
        everything else: as AlbertTokenizer.
    """

    is_fast = True

    def __init__(self, vocab_file: Optional[PathLike] = None, *, num_threads: Optional[int] = None,
                 **kwargs: Any) -> None:
        self.num_threads = num_threads or os.cpu_count() or 1
        super().__init__(vocab_file, **kwargs)

    def _load_model(self, added=None):
        super()._load_model(added)
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
        return [(None, self._no_split_ids[c]) if special else (self.preprocess_text(c), None)
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
            for match in self._verbatim_re.finditer(text) if self.do_lower_case else ():
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
                out.append((None, (self._no_split_ids[lowered[a:b]], span)))
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

