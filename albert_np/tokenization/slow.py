"""AlbertTokenizer: ALBERT's SentencePiece tokenizer, the readable reference (one text at a time).

Text -> chunks between special tokens -> preprocess_text (normalization.py) -> SentencePiece
pieces -> the digit-comma rule -> ids; encoding.py then adds [CLS]/[SEP], truncates and pads.
Reading and writing a tokenizer's folder is in files.py. The package docstring has the whole
pipeline and the known differences from transformers.
"""
import bisect
import logging
import os
import re

import numpy as np
import sentencepiece as spm

from ..hub import loading_options
from ..io import atomic_write_bytes
from .encoding import _Sequence, as_batch, build_batch, check_str, gc_paused, resolve_strategies
from .files import (DEFAULT_MODEL_MAX_LENGTH, SPECIAL_TOKEN_NAMES, VOCAB_FILE, check_sp_model_kwargs,
                    pretrained_init_kwargs, save_pretrained)
from .normalization import (SPIECE_UNDERLINE, is_digit_comma_piece, lowercase_each_char, preprocess_text,
                            split_digit_comma_piece)
from .sentencepiece_proto import model_proto_problem

logger = logging.getLogger(__name__)


def _token_text(token, name="token"):
    """A special token given as str, as {"content": ...} (tokenizer_config.json), or as AddedToken."""
    if isinstance(token, str):
        return token
    if isinstance(token, dict) and isinstance(token.get("content"), str):
        return token["content"]
    if isinstance(getattr(token, "content", None), str):
        return token.content
    raise TypeError(f"{name} must be a str (or a dict with 'content'), got {type(token).__name__}: {token!r}")


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
        sp_model_kwargs: passed to sentencepiece.SentencePieceProcessor: only the options of subword
            regularisation, {"enable_sampling": True, "nbest_size": -1, "alpha": 0.1}
            (SP_MODEL_KWARGS); others (model_file, reverse, ...) are refused, naming them.
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
        check_sp_model_kwargs(self.sp_model_kwargs, "sp_model_kwargs")
        where = self.vocab_file or "model_proto"
        self.sp_model = spm.SentencePieceProcessor(**self.sp_model_kwargs)
        try:
            self.sp_model.LoadFromSerializedProto(self._model_proto)
        except Exception as e:                        # sentencepiece raises RuntimeError/OSError
            raise ValueError(f"{where!r} is not a valid SentencePiece model ({e})") from e
        problem = model_proto_problem(self._model_proto)      # what sentencepiece loads without a word
        if problem:
            raise ValueError(f"{where!r} is not a complete SentencePiece model: {problem}. Download or save "
                             f"the tokenizer again")
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
        self._check_special_roles()
        if self.sp_model_kwargs.get("enable_sampling"):
            logger.warning(
                "sp_model_kwargs %s turns on sampling (subword regularisation): the same text gets different "
                "ids on every call, which suits training only. For repeatable ids, drop enable_sampling "
                "from sp_model_kwargs (tokenizer_config.json, or pass sp_model_kwargs={})", self.sp_model_kwargs)
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

    # Each of these roles needs a token of its own (bos / eos may share [CLS] / [SEP], as ALBERT's do).
    DISTINCT_ROLES = ("cls_token", "sep_token", "pad_token", "unk_token", "mask_token")

    def _check_special_roles(self):
        """ValueError when two roles share a token ([MASK] given as "[SEP]"), or unk_token is not the
        model's unknown piece (the piece SentencePiece gives to what it cannot segment)."""
        seen = {}
        for name in self.DISTINCT_ROLES:
            token = self.special_tokens_map[name]
            if token in seen:
                raise ValueError(f"{seen[token]} and {name} are both {token!r}: each of "
                                 f"{', '.join(self.DISTINCT_ROLES)} needs a token of its own (a {name} that is "
                                 f"also the {seen[token]} would be read as both). Check special_tokens_map.json / "
                                 f"tokenizer_config.json, or the tokens passed")
            seen[token] = name
        unk = self.sp_model.unk_id()
        if self._special_ids[self.unk_token] != unk:
            raise ValueError(f"unk_token {self.unk_token!r} (id {self._special_ids[self.unk_token]}) is not the "
                             f"SentencePiece model's unknown piece {self.sp_model.id_to_piece(unk)!r} (id {unk}), "
                             f"which unknown characters become: pass unk_token={self.sp_model.id_to_piece(unk)!r}")

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
            return self.sp_model.piece_to_id(check_str(tokens, "token"))
        if not isinstance(tokens, (list, tuple)):
            raise TypeError(f"tokens must be a str or a list of str, got {type(tokens).__name__}")
        return [self.sp_model.piece_to_id(check_str(t, "token")) for t in tokens]

    def convert_ids_to_tokens(self, ids, skip_special_tokens=False):
        """Id -> piece, or list of ids -> list of pieces (dropping special ids if asked)."""
        if isinstance(ids, (int, np.integer)):
            return self.sp_model.id_to_piece(self._check_id(ids))
        if isinstance(ids, (str, bytes)) or not hasattr(ids, "__iter__"):
            raise TypeError(f"token ids must be an int or a list of ints, got {type(ids).__name__}: {ids!r:.80}")
        skip = set(self.all_special_ids) if skip_special_tokens else ()
        return [self.sp_model.id_to_piece(i) for i in map(self._check_id, ids) if i not in skip]

    def _check_id(self, token_id):
        if isinstance(token_id, (bool, np.bool_)) or not isinstance(token_id, (int, np.integer)):
            raise TypeError(f"token ids must be ints, got {type(token_id).__name__} {token_id!r:.80}: "
                            f"pass the ids the tokenizer returned (an int dtype array, or a list of int)")
        token_id = int(token_id)
        if not 0 <= token_id < self.vocab_size:
            raise ValueError(f"token id {token_id} is outside the vocabulary [0, {self.vocab_size})")
        return token_id

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
        check_str(text, "text")
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
        texts, is_batched = as_batch(text, "text", is_split_into_words)
        pairs = None
        if text_pair is not None:
            pairs, pair_batched = as_batch(text_pair, "text_pair", is_split_into_words)
            if pair_batched != is_batched or len(pairs) != len(texts):
                raise ValueError(f"text has {len(texts) if is_batched else 'one'} example(s) and text_pair "
                                 f"{len(pairs) if pair_batched else 'one'}; give one text_pair per text")
        n_special = self.num_special_tokens_to_add(pairs is not None) if add_special_tokens else 0
        padding, truncation, max_length = resolve_strategies(padding, truncation, max_length, pairs is not None,
                                                             n_special, self.model_max_length)
        if not isinstance(stride, (int, np.integer)) or stride < 0:
            raise ValueError(f"stride must be an int >= 0, got {stride!r}")
        with gc_paused():
            encoded_a = self._encode_sequences(texts, is_split_into_words, return_offsets_mapping)
            encoded_b = self._encode_sequences(pairs, is_split_into_words, return_offsets_mapping) if pairs else None
            return build_batch(
                encoded_a, encoded_b, n_special=n_special, cls_id=self.cls_token_id, sep_id=self.sep_token_id,
                pad_id=self.pad_token_id, pad_type_id=self.pad_token_type_id, padding_side=self.padding_side,
                starts_word=self._starts_word, is_batched=is_batched, add_special_tokens=add_special_tokens,
                padding=padding, truncation=truncation, max_length=max_length, stride=stride,
                pad_to_multiple_of=pad_to_multiple_of, return_tensors=return_tensors,
                return_token_type_ids=True if return_token_type_ids is None else return_token_type_ids,
                return_attention_mask=True if return_attention_mask is None else return_attention_mask,
                return_overflowing_tokens=return_overflowing_tokens,
                return_special_tokens_mask=return_special_tokens_mask,
                return_offsets_mapping=return_offsets_mapping, return_length=return_length)

    def encode(self, text, text_pair=None, add_special_tokens=True, **kwargs):
        """Text (and optional pair) -> list of ids, special tokens included by default."""
        return self(text, text_pair, add_special_tokens=add_special_tokens, **kwargs)["input_ids"]

    # -- ids -> text --

    def convert_tokens_to_string(self, tokens):
        """Pieces -> text: SentencePiece decoding, special tokens kept verbatim.

        Matches: transformers AlbertTokenizer.convert_tokens_to_string.
        """
        out, run, _ = self._decode_runs(tokens, False)
        return (out + self.sp_model.decode_pieces(run)).strip()

    def _decode_runs(self, tokens, previous_special):
        """convert_tokens_to_string's loop: each run of ordinary pieces is decoded by SentencePiece,
        and a special token is kept verbatim, after a space unless a special token precedes it.

        Returns (the text so far, the last run of pieces (not decoded yet), previous_special):
        the state after `tokens`, from which the loop can go on (see decode_fills).
        """
        out, run = [], []
        for token in tokens:
            if token in self._special_ids:
                if not previous_special:
                    out.append(" ")
                out.append(self.sp_model.decode_pieces(run) + token)
                run, previous_special = [], True
            else:
                run.append(token)
                previous_special = False
        return "".join(out), run, previous_special

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

    def decode_fills(self, token_ids, fills, skip_special_tokens=False, clean_up_tokenization_spaces=None):
        """decode() of token_ids with one position replaced, for many positions and candidates at once.

        fills: [(position, [candidate id, ...]), ...]. Returns one list of texts per entry:
        [[decode(token_ids with token_ids[position] = c) for c in candidates] for position, candidates
        in fills] -- the same strings, in time linear in the text plus the output: the text is decoded
        once; then for each candidate only the pieces between the special tokens nearest its position
        are decoded again (a candidate joins them into one run), and the decoded text before and after
        them is copied. (fill_mask's sequences: decoding the whole text for each suggestion of each
        [MASK] took time quadratic in the number of masks.)
        """
        ids = [self._check_id(i) for i in (token_ids.tolist() if isinstance(token_ids, np.ndarray) else token_ids)]
        skip = set(self.all_special_ids) if skip_special_tokens else ()
        kept = [k for k, i in enumerate(ids) if i not in skip]               # positions in the decoded text
        pieces = [self.sp_model.id_to_piece(ids[k]) for k in kept]
        specials = [k for k, t in enumerate(pieces) if t in self._special_ids]
        ends, parts, length, start, previous = {}, [], 0, 0, False      # the whole text, decoded once
        for k in specials:                # after a special token the decoding goes on from the same state
            text, _, previous = self._decode_runs(pieces[start:k + 1], previous)
            parts.append(text)
            length += len(text)
            ends[k], start = length, k + 1
        whole = "".join(parts) + self.sp_model.decode_pieces(pieces[start:])
        clean = self.clean_up_tokenization_spaces if clean_up_tokenization_spaces is None \
            else clean_up_tokenization_spaces
        out = []
        for position, candidates in fills:
            q = bisect.bisect_left(kept, position)          # where the position is (or would be) in pieces
            own = q < len(kept) and kept[q] == position
            i = bisect.bisect_left(specials, q)
            a = specials[i - 1] if i > 0 else None          # the nearest special token before ...
            j = bisect.bisect_right(specials, q) if own else i
            b = specials[j] if j < len(specials) else None  # ... and after, the position's own excluded
            head = whole[:ends[a]] if a is not None else ""
            left = pieces[(a + 1 if a is not None else 0):q]
            right = pieces[(q + 1 if own else q):(b + 1 if b is not None else len(pieces))]
            texts = []
            for c in candidates:
                c = self._check_id(c)
                middle = left + ([] if c in skip else [self.sp_model.id_to_piece(c)]) + right
                text, run, _ = self._decode_runs(middle, a is not None)
                text = (head + text + (whole[ends[b]:] if b is not None else self.sp_model.decode_pieces(run))).strip()
                texts.append(self.clean_up_tokenization(text) if clean else text)
            out.append(texts)
        return out

    def batch_decode(self, sequences, skip_special_tokens=False, clean_up_tokenization_spaces=None):
        """decode() of each row of a list of id lists or a (B, T) array."""
        return [self.decode(s, skip_special_tokens, clean_up_tokenization_spaces) for s in sequences]

    # -- files --

    @classmethod
    def from_pretrained(cls, name_or_path, **kwargs):
        """Load from a folder or a Hub repo: spiece.model (or tokenizer.json) + tokenizer_config.json.

        Keywords: the loading options (hub.LOADING_OPTIONS: revision, cache_dir, local_files_only,
        force_download, token, subfolder), which go to huggingface_hub only; the others are the
        tokenizer's arguments and override the settings read from the files (e.g. do_lower_case=False).
        """
        options = loading_options(kwargs)
        init_kwargs = pretrained_init_kwargs(name_or_path, class_name=cls.__name__, **options)
        init_kwargs.update(kwargs)
        return cls(**init_kwargs)

    def save_vocabulary(self, save_directory, filename_prefix=None):
        """Write the SentencePiece model as [prefix-]spiece.model; returns (path,)."""
        if not os.path.isdir(save_directory):
            raise NotADirectoryError(f"save_vocabulary needs an existing folder, got {save_directory!r}")
        name = (filename_prefix + "-" if filename_prefix else "") + VOCAB_FILE
        path = os.path.join(save_directory, name)
        atomic_write_bytes(path, self._model_proto)
        return (path,)

    def save_pretrained(self, save_directory):
        """Write spiece.model, tokenizer_config.json, special_tokens_map.json and tokenizer.json.

        transformers loads the folder back: 4.x's AlbertTokenizer from spiece.model, 5.x's
        (tokenizers-backed) AlbertTokenizer from tokenizer.json. The four files replace the
        old ones as one unit (io.staged_folder); other files in the folder are kept.
        Returns the tuple of paths written.
        """
        return save_pretrained(self, save_directory)
