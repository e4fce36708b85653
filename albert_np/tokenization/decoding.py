"""Pieces -> text: how ALBERT's tokenizers decode, as plain functions on lists of pieces.

    ids -> pieces (the tokenizer's vocabulary)
        -> runs of ordinary pieces, each decoded by SentencePiece ("▁" becomes a space);
           a special token ([CLS], [SEP], ...) is kept verbatim, after a space unless
           a special token precedes it                                  pieces_to_text
        -> decode(): tokens added to the vocabulary stand apart, joined by spaces   join_apart
        -> clean_up_tokenization: no space before . ? ! , and English contractions

`decode_pieces` is the SentencePiece model's own decoder (sp_model.decode_pieces), passed in so
that this module needs neither a model nor a tokenizer. decode_fills is decode() of one text
with one position replaced, for many positions and candidates at once (fill_mask's suggestions).
Matches: transformers 4 AlbertTokenizer.convert_tokens_to_string / PreTrainedTokenizer.decode.
"""
import bisect
from typing import Callable, Collection, List, Optional, Sequence, Tuple

DecodePieces = Callable[[List[str]], str]

# (what tokenisation leaves, what clean_up_tokenization writes instead)
CLEAN_UP_REPLACEMENTS = ((" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"),
                         (" n't", "n't"), (" 'm", "'m"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re"))


def clean_up_tokenization(text: str) -> str:
    """Remove the spaces that tokenisation leaves before punctuation and English contractions."""
    for before, after in CLEAN_UP_REPLACEMENTS:
        text = text.replace(before, after)
    return text


def decode_runs(pieces: Sequence[str], special: Collection[str], decode_pieces: DecodePieces,
                previous_special: bool = False) -> Tuple[str, List[str], bool]:
    """pieces_to_text's loop: each run of ordinary pieces is decoded by SentencePiece, and a special
    token is kept verbatim, after a space unless a special token precedes it.

    Returns (the text so far, the last run of pieces (not decoded yet), previous_special): the
    state after `pieces`, from which the loop can go on (decode_fills starts it mid-text).
    """
    out, run = [], []
    for piece in pieces:
        if piece in special:
            if not previous_special:
                out.append(" ")
            out.append(decode_pieces(run) + piece)
            run, previous_special = [], True
        else:
            run.append(piece)
            previous_special = False
    return "".join(out), run, previous_special


def pieces_to_text(pieces: Sequence[str], special: Collection[str], decode_pieces: DecodePieces) -> str:
    """Pieces -> text: SentencePiece decoding, the special tokens kept verbatim, the ends stripped.

    Matches: transformers AlbertTokenizer.convert_tokens_to_string.
    """
    out, run, _ = decode_runs(pieces, special, decode_pieces)
    return (out + decode_pieces(run)).strip()


def join_apart(tokens: Sequence[str], apart: Collection[str], to_text: Callable[[List[str]], str]) -> str:
    """decode()'s loop: each run of tokens not in `apart` -> to_text(run); a token in `apart` (the
    added tokens) stands alone; the parts are joined by single spaces (an empty run adds nothing).

    Matches: transformers 4 PreTrainedTokenizer._decode ("legacy added tokens").
    """
    parts, run = [], []
    for token in tokens:
        if token in apart:
            text = to_text(run) if run else ""
            if text:
                parts.append(text)
            parts.append(token)
            run = []
        else:
            run.append(token)
    if run or not parts:
        parts.append(to_text(run))
    return " ".join(parts)


def decode_fills(pieces: Sequence[str], positions: Sequence[int],
                 fills: Sequence[Tuple[int, Sequence[Optional[str]]]], special: Collection[str],
                 decode_pieces: DecodePieces, clean: bool) -> List[List[str]]:
    """The texts of one sequence with one position replaced, for many positions and candidates.

    pieces: the sequence's pieces that are decoded (skipped special tokens already left out);
    positions: each one's position in the sequence (increasing). fills: [(position, [candidate
    piece, or None for a candidate that is skipped, ...]), ...]; a position that is not in
    `positions` (a skipped token) is where the candidate is inserted.
    Returns [[pieces_to_text(pieces with the piece at `position` = candidate) (+ clean-up) for each
    candidate] for each fill]: the text is decoded once; for each candidate only the pieces between
    the special tokens nearest its position are decoded again (a candidate joins them into one run)
    and the decoded text before and after them is copied, so the time is linear in the text plus the
    output (decoding the whole text for each suggestion of each [MASK] took time quadratic in the
    number of masks).
    """
    specials = [k for k, p in enumerate(pieces) if p in special]
    ends, parts, length, start, previous = {}, [], 0, 0, False      # the whole text, decoded once
    for k in specials:                # after a special token the decoding goes on from the same state
        text, _, previous = decode_runs(pieces[start:k + 1], special, decode_pieces, previous)
        parts.append(text)
        length += len(text)
        ends[k], start = length, k + 1
    whole = "".join(parts) + decode_pieces(list(pieces[start:]))
    out = []
    for position, candidates in fills:
        q = bisect.bisect_left(positions, position)     # where the position is (or would be) in pieces
        own = q < len(positions) and positions[q] == position
        i = bisect.bisect_left(specials, q)
        a = specials[i - 1] if i > 0 else None          # the nearest special token before ...
        j = bisect.bisect_right(specials, q) if own else i
        b = specials[j] if j < len(specials) else None  # ... and after, the position's own excluded
        head = whole[:ends[a]] if a is not None else ""
        left = list(pieces[(a + 1 if a is not None else 0):q])
        right = list(pieces[(q + 1 if own else q):(b + 1 if b is not None else len(pieces))])
        texts = []
        for candidate in candidates:
            middle = left + ([] if candidate is None else [candidate]) + right
            text, run, _ = decode_runs(middle, special, decode_pieces, a is not None)
            text = (head + text + (whole[ends[b]:] if b is not None else decode_pieces(run))).strip()
            texts.append(clean_up_tokenization(text) if clean else text)
        out.append(texts)
    return out
