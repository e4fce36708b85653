"""train_tokenizer: a SentencePiece vocabulary trained with ALBERT's recipe on your text files."""
import lzma
import os
from typing import Any, Optional, Sequence, Union

import sentencepiece as spm

from ..hints import PathLike
from .normalization import preprocess_text

# ALBERT's SentencePiece recipe (google-research/albert README, "30k-clean" vocabulary).
ALBERT_CONTROL_SYMBOLS = ("[CLS]", "[SEP]", "[MASK]")
ALBERT_USER_DEFINED_SYMBOLS = ("(", ")", '"', "-", ".", "\u2013", "\u00a3", "\u20ac")  # ( ) " - . – £ €


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


def train_tokenizer(files: Union[PathLike, Sequence[PathLike]], vocab_size: int, model_prefix: PathLike, *,
                    max_chars_per_file: Optional[int] = None, do_lower_case: bool = True,
                    keep_accents: bool = False, character_coverage: float = 0.99995,
                    input_sentence_size: int = 10_000_000, num_threads: Optional[int] = None,
                    seed: Optional[int] = None, **sentencepiece_options: Any) -> str:
    """Train a SentencePiece vocabulary with ALBERT's recipe; returns the path of the .model file.

    Unigram model; `<pad>`=0, `<unk>`=1, no `<s>`/`</s>`; control symbols `[CLS] [SEP] [MASK]` (ids 2-4);
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
    if not files:
        raise ValueError("files is empty: give at least one text file to train the vocabulary on")
    for path in files:
        if not os.path.isfile(path):
            raise FileNotFoundError(f"training file {str(path)!r} not found" +
                                    (" (it is a folder: pass the files in it)" if os.path.isdir(path) else ""))
    n_special = 2 + len(ALBERT_CONTROL_SYMBOLS) + len(ALBERT_USER_DEFINED_SYMBOLS)
    if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size <= n_special:
        raise ValueError(f"vocab_size must be an int above the {n_special} special pieces (<pad> <unk> "
                         f"[CLS] [SEP] [MASK] and 8 symbols); ALBERT uses 30000. Got {vocab_size!r}")
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
    if not any(True for path, limit in zip(files, limits) for _ in _read_lines(path, limit)):
        raise ValueError(f"the training files hold no text (no non-empty line in {', '.join(map(str, files))}): "
                         f"give files with one sentence or paragraph per line")
    try:
        spm.SentencePieceTrainer.train(sentence_iterator=sentences(), model_prefix=str(model_prefix), **options)
    except RuntimeError as e:          # sentencepiece's own checks, e.g. a vocabulary too large for the text
        raise ValueError(f"sentencepiece could not train a {vocab_size}-piece vocabulary on "
                         f"{', '.join(map(str, files))}: {str(e).strip()}. A smaller vocab_size or more "
                         f"text usually fixes it (or hard_vocab_limit=False)") from e
    return str(model_prefix) + ".model"
