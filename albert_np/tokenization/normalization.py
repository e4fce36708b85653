"""ALBERT's text normalisation, before and after SentencePiece: the rules, with no model in sight.

Before segmentation (preprocess_text, one chunk between special tokens):
    strip + collapse whitespace -> `` and '' to " -> NFKD, drop combining marks -> lowercase
After segmentation: the digit-comma rule, a piece such as "▁12," re-split as "▁12" + ",".

normalize_units runs the same steps on characters that remember where they came from, so the
fast tokenizer can map every token back to a span of the original text (Alignment).
"""
import unicodedata

SPIECE_UNDERLINE = "\u2581"                       # "▁", SentencePiece's visible space

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


# %% Alignment from normalised characters back to the original text -------------------------------

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

