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
* Against transformers 5 also: token_type_ids are returned by default, decode() puts spaces around
  an added token, and a normalized added token is stored lowercased (README's tokenizer section has
  the table, and tests/test_tokenization_api.py shows each row).

The modules, in the order the pipeline uses them:

    normalization.py        the ALBERT rules: preprocess_text, the digit-comma rule, Alignment
    slow.py                 AlbertTokenizer: text -> pieces -> ids, one text at a time
    fast.py                 AlbertTokenizerFast: the same ids in batches, with offsets
    encoding.py             BatchEncoding; truncation, windows, [CLS]/[SEP], padding, packing, pad()
    decoding.py             ids -> text: pieces_to_text, decode's added tokens apart, decode_fills
    added_tokens.py         AddedToken: tokens added to the vocabulary (add_tokens), never split;
                            cutting a text around them and the special tokens
    files.py                a tokenizer's folder: from_pretrained / save_pretrained
    sentencepiece_proto.py  spiece.model read and written by hand; tokenizer.json <-> spiece.model
    train.py                train_tokenizer: a new vocabulary with ALBERT's recipe

Shapes: the legend at the top of albert_np/ops.py (B batch rows, T tokens per row).
"""
from .normalization import (SPIECE_UNDERLINE, Alignment, is_digit_comma_piece, lowercase_each_char,
                            normalize_units, preprocess_text, split_digit_comma_piece, strip_accents)
from .sentencepiece_proto import (read_normalizer_spec, read_piece_types, sentencepiece_model_from_tokenizer_json,
                                  sentencepiece_model_proto, tokenizer_json)
from .added_tokens import AddedToken
from .encoding import PADDING_STRATEGIES, TRUNCATION_STRATEGIES, BatchEncoding, words_from_ids
from .files import (DEFAULT_MODEL_MAX_LENGTH, SPECIAL_TOKEN_NAMES, SPECIAL_TOKENS_MAP_FILE, TOKENIZER_CONFIG_FILE,
                    TOKENIZER_JSON_FILE, VOCAB_FILE)
from .slow import AlbertTokenizer
from .fast import AlbertTokenizerFast
from .train import ALBERT_CONTROL_SYMBOLS, ALBERT_USER_DEFINED_SYMBOLS, train_tokenizer

__all__ = [
    "AlbertTokenizer", "AlbertTokenizerFast", "BatchEncoding", "train_tokenizer", "AddedToken",
    "SPIECE_UNDERLINE", "Alignment", "is_digit_comma_piece", "lowercase_each_char", "normalize_units",
    "preprocess_text", "split_digit_comma_piece", "strip_accents",
    "read_normalizer_spec", "read_piece_types", "sentencepiece_model_from_tokenizer_json",
    "sentencepiece_model_proto", "tokenizer_json",
    "PADDING_STRATEGIES", "TRUNCATION_STRATEGIES", "words_from_ids",
    "DEFAULT_MODEL_MAX_LENGTH", "SPECIAL_TOKEN_NAMES", "SPECIAL_TOKENS_MAP_FILE", "TOKENIZER_CONFIG_FILE",
    "TOKENIZER_JSON_FILE", "VOCAB_FILE",
    "ALBERT_CONTROL_SYMBOLS", "ALBERT_USER_DEFINED_SYMBOLS",
]
