"""AlbertTokenizer: ALBERT's SentencePiece tokenizer, the readable reference (one text at a time).

Text -> chunks between special tokens -> preprocess_text (normalization.py) -> SentencePiece
pieces -> the digit-comma rule -> ids; encoding.py then adds [CLS]/[SEP], truncates and pads.
Reading and writing a tokenizer's folder is in files.py. The package docstring has the whole
pipeline and the known differences from transformers.
"""
import dataclasses
import logging
import os
import re
from typing import Any, Dict, List, Optional, Sequence, Tuple, Type, TypeVar, Union

import numpy as np
import sentencepiece as spm

from ..hints import ArrayLike, NameOrPath, PathLike
from ..hub import loading_options
from ..io import atomic_write_bytes
from .added_tokens import (AddedToken, alternatives, as_added_token, check_special_roles, lowercase_outside,
                           special_token_spans, token_text)
from .decoding import clean_up_tokenization, decode_fills, join_apart, pieces_to_text
from .encoding import (BatchEncoding, _Sequence, as_batch, build_batch, check_output_options, check_str, gc_paused,
                       pad_batch, resolve_strategies)
from .files import (DEFAULT_MODEL_MAX_LENGTH, SPECIAL_TOKEN_NAMES, VOCAB_FILE, check_sp_model_kwargs,
                    pretrained_init_kwargs, save_pretrained)
from .normalization import (SPIECE_UNDERLINE, is_digit_comma_piece, lowercase_each_char, preprocess_text,
                            split_digit_comma_piece)
from .sentencepiece_proto import model_proto_problem, read_piece_types

logger = logging.getLogger(__name__)


Tok = TypeVar("Tok", bound="AlbertTokenizer")


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
        padding_side: "right" or "left" (a call's padding_side= overrides it).
        additional_special_tokens: more special tokens (added to the vocabulary if new).
        added_tokens: [(id, AddedToken)] read from a saved folder (files.pretrained_init_kwargs).
    Tokens added later (add_tokens, add_special_tokens) are never split and get the ids that
    follow the vocabulary: len(tok) counts them, vocab_size does not (added_tokens.py).
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

    def __init__(self, vocab_file: Optional[PathLike] = None, *, model_proto: Optional[bytes] = None,
                 do_lower_case: bool = True, remove_space: bool = True, keep_accents: bool = False,
                 bos_token: Any = "[CLS]", eos_token: Any = "[SEP]", unk_token: Any = "<unk>",
                 sep_token: Any = "[SEP]", pad_token: Any = "<pad>", cls_token: Any = "[CLS]",
                 mask_token: Any = "[MASK]", sp_model_kwargs: Optional[dict] = None,
                 model_max_length: int = DEFAULT_MODEL_MAX_LENGTH, clean_up_tokenization_spaces: bool = False,
                 padding_side: str = "right", additional_special_tokens: Optional[List[Any]] = None,
                 added_tokens: Optional[Dict[int, Any]] = None) -> None:
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
        self.special_tokens_map = {name: token_text(tokens[name], name) for name in SPECIAL_TOKEN_NAMES}
        self._added_tokens = {}                 # id -> AddedToken, the tokens added to the vocabulary
        self._additional_special_tokens = []
        self._load_model(added=(added_tokens or (), additional_special_tokens or ()))

    # -- the SentencePiece model and lookup tables (rebuilt after unpickling) --

    def _load_model(self, added=None):
        """Load the SentencePiece model (checked: complete, its special pieces present and distinct),
        register `added` = (saved added tokens, additional special tokens) when given, and build the
        lookup tables."""
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
        if added is not None:
            saved, additional = added
            for token_id, token in saved:
                self._restore_added_token(token_id, token)
            for token in additional:
                self._additional_special_tokens.append(self._add(as_added_token(token, special=True)))
        self._build_tables()
        if self.sp_model_kwargs.get("enable_sampling"):
            logger.warning(
                "sp_model_kwargs %s turns on sampling (subword regularisation): the same text gets different "
                "ids on every call, which suits training only. For repeatable ids, drop enable_sampling "
                "from sp_model_kwargs (tokenizer_config.json, or pass sp_model_kwargs={})", self.sp_model_kwargs)

    def _build_tables(self):
        """The special and added tokens' ids and the patterns that cut them out of a text."""
        self._n_ids = len(self)                 # ids 0 .. len-1: the pieces, then the added tokens
        self._no_split_ids = {t.content: i for i, t in self._added_tokens.items()}    # matched text -> id
        self._special_ids = {}
        for name, token in self.special_tokens_map.items():
            token_id = self._no_split_ids.get(token, self.sp_model.piece_to_id(token))
            if token not in self._no_split_ids and self.sp_model.id_to_piece(token_id) != token:
                raise ValueError(
                    f"{name} {token!r} is not a piece of the SentencePiece model ({len(self.sp_model)} "
                    f"pieces; it maps to {self.sp_model.id_to_piece(token_id)!r}). ALBERT vocabularies "
                    f"define [CLS] [SEP] [MASK] as control symbols and <pad> <unk>; train one with "
                    f"train_tokenizer(), pass the special tokens this model uses, or add it with "
                    f"add_special_tokens({{{name!r}: {token!r}}})")
            self._special_ids[token] = token_id
        for token in self._additional_special_tokens:
            self._special_ids[token] = self._token_to_id(token)
        self._no_split_ids.update(self._special_ids)
        self.all_special_tokens = list(dict.fromkeys([*self.special_tokens_map.values(),
                                                      *self._additional_special_tokens]))
        self.all_special_ids = [self._special_ids[t] for t in self.all_special_tokens]
        # matched in the text as written: the special tokens and the added tokens with normalized=False;
        # the others (lowercased with the text) in the lowercased text
        verbatim = set(self.all_special_tokens) | {t.content for t in self._added_tokens.values() if not t.normalized}
        self._verbatim_re = alternatives(verbatim)
        self._special_split_re = re.compile(f"({self._verbatim_re.pattern})")
        self._special_re = alternatives(self._no_split_ids)
        # a text holding none of these (checked on the lowercased text) holds no token to cut out
        self._special_first_chars = sorted({c for t in self._no_split_ids for c in (t[0], lowercase_each_char(t[0]))})
        self._lstrip_tokens = {self.mask_token} | {t.content for t in self._added_tokens.values() if t.lstrip}
        self._rstrip_tokens = {t.content for t in self._added_tokens.values() if t.rstrip}
        # decode() writes these apart (transformers 4's "legacy added tokens"): the added tokens
        # that are not special, and the additional special tokens that follow the vocabulary
        self._decoded_apart = {t.content for i, t in self._added_tokens.items() if not t.special
                               or i >= self.vocab_size and t.content in self._additional_special_tokens}
        # word_ids: a token starts a word when its piece starts with "▁" (specials never do)
        self._starts_word = [self.sp_model.id_to_piece(i).startswith(SPIECE_UNDERLINE)
                             and not (self.sp_model.is_control(i) or self.sp_model.is_unknown(i))
                             for i in range(len(self.sp_model))] + [False] * (len(self) - len(self.sp_model))
        check_special_roles(self.special_tokens_map, self._special_ids[self.unk_token], self.sp_model.unk_id(),
                            self.sp_model.id_to_piece(self.sp_model.unk_id()))

    def __getstate__(self):                           # the model travels as its serialised bytes
        state = self.__dict__.copy()
        del state["sp_model"]
        return state

    def __setstate__(self, state):
        state.setdefault("_added_tokens", {})           # pickled before tokens could be added
        state.setdefault("_additional_special_tokens", [])
        self.__dict__.update(state)
        self._load_model()

    def __repr__(self):
        return (f"{type(self).__name__}(vocab_size={self.vocab_size}, do_lower_case={self.do_lower_case}, "
                f"remove_space={self.remove_space}, keep_accents={self.keep_accents}, "
                f"model_max_length={self.model_max_length})")

    # -- vocabulary --

    @property
    def vocab_size(self) -> int:
        """Number of pieces in the SentencePiece model (added tokens not counted: see len(tok))."""
        return len(self.sp_model)

    def __len__(self):
        """vocab_size plus the tokens added beyond it: the size the model's embeddings need."""
        return self.vocab_size + sum(i >= self.vocab_size for i in self._added_tokens)

    def get_vocab(self) -> Dict[str, int]:
        """{token: id} for every piece of the model and every added token."""
        vocab = {self.sp_model.id_to_piece(i): i for i in range(self.vocab_size)}
        vocab.update({t.content: i for i, t in self._added_tokens.items()})
        return vocab

    def get_added_vocab(self) -> Dict[str, int]:
        """{token: id} of the special tokens and the added tokens.  Matches: transformers get_added_vocab."""
        return {t: self._no_split_ids[t] for t in sorted(self._no_split_ids, key=self._no_split_ids.get)}

    @property
    def added_tokens_decoder(self) -> Dict[int, AddedToken]:
        """{id: AddedToken} of the special tokens and of the tokens added to the vocabulary."""
        out = {i: AddedToken(t, lstrip=t == self.mask_token, normalized=False, special=True)
               for t, i in self._special_ids.items() if i < self.vocab_size and i not in self._added_tokens}
        out.update(self._added_tokens)
        return dict(sorted(out.items()))

    @property
    def added_tokens_encoder(self) -> Dict[str, int]:
        """{content: id} of added_tokens_decoder."""
        return {t.content: i for i, t in self.added_tokens_decoder.items()}

    @property
    def additional_special_tokens(self) -> List[str]:
        """Special tokens beyond the seven named ones (add_special_tokens({"additional_special_tokens": [...]}))."""
        return list(self._additional_special_tokens)

    @property
    def additional_special_tokens_ids(self) -> List[int]:
        return [self._special_ids[t] for t in self._additional_special_tokens]

    # -- adding tokens --

    def add_tokens(self, new_tokens: Union[str, AddedToken, Sequence[Union[str, AddedToken]]],
                   special_tokens: bool = False) -> int:
        """Add tokens that are never split; returns how many new ids were made.

        new_tokens: a str, an AddedToken (lstrip / rstrip / normalized / special), or a list of them.
        A new token gets the next id after the vocabulary (len(tok) before the call); one that is
        already a piece keeps its id; one already added or special is left as it is. After adding,
        give the model the rows: model.resize_token_embeddings(len(tok)).
        Matches: transformers 4 PreTrainedTokenizer.add_tokens (transformers 5 also counts the
        tokens that were already pieces in the number it returns).
        """
        tokens = new_tokens if isinstance(new_tokens, (list, tuple)) else [new_tokens]
        before = len(self)
        for token in tokens:
            self._add(as_added_token(token, special=special_tokens))
        self._build_tables()
        return len(self) - before

    def add_special_tokens(self, special_tokens_dict: Dict[str, Any],
                           replace_additional_special_tokens: bool = True) -> int:
        """Set special tokens ({"pad_token": "[PAD]", "additional_special_tokens": ["<e1>", "<e2>"]}),
        adding those that are new to the vocabulary; returns how many new ids were made.

        Keys: bos_token, eos_token, unk_token, sep_token, pad_token, cls_token, mask_token and
        additional_special_tokens (transformers 5's name extra_special_tokens works too), whose list
        replaces the earlier one (or extends it, replace_additional_special_tokens=False); a token
        taken off the list stays in the vocabulary.  Matches: transformers add_special_tokens.
        """
        if not isinstance(special_tokens_dict, dict):
            raise TypeError(f"add_special_tokens takes a dict such as {{'additional_special_tokens': ['<e1>']}}, "
                            f"got {type(special_tokens_dict).__name__}")
        before = len(self)
        for key, value in special_tokens_dict.items():
            if key in SPECIAL_TOKEN_NAMES:
                old = self.special_tokens_map[key]
                self.special_tokens_map[key] = self._add(as_added_token(value, special=True))
                if old not in self.special_tokens_map.values() and self._special_ids[old] not in self._added_tokens:
                    # the token replaced stays an added token, never split (as in transformers)
                    self._added_tokens[self._special_ids[old]] = AddedToken(
                        old, lstrip=old in self._lstrip_tokens, normalized=False, special=True)
            elif key in ("additional_special_tokens", "extra_special_tokens"):
                if isinstance(value, (str, AddedToken)) or not isinstance(value, (list, tuple)):
                    raise TypeError(f"{key} must be a list of tokens, got {type(value).__name__}: {value!r:.80}")
                names = [self._add(as_added_token(v, special=True)) for v in value]
                kept = [] if replace_additional_special_tokens else self._additional_special_tokens
                self._additional_special_tokens = list(dict.fromkeys(kept + names))
            else:
                raise ValueError(f"add_special_tokens: unknown key {key!r}; use one of "
                                 f"{', '.join(SPECIAL_TOKEN_NAMES)} or additional_special_tokens")
        self._build_tables()
        return len(self) - before

    def _normalized(self, token):
        """The token as it is matched: lowercased when normalized and do_lower_case."""
        if token.normalized and self.do_lower_case:
            return dataclasses.replace(token, content=lowercase_each_char(token.content))
        return token

    def _add(self, token):
        """Register one AddedToken (tables not rebuilt): a new id, or the id of the piece it is.

        A token that is already special or added is left as it is (made special if asked); with
        do_lower_case a normalized one is lowercased first (transformers 4's order). Returns its
        content as matched.
        """
        for content in dict.fromkeys([token.content, self._normalized(token).content]):
            if content in self.special_tokens_map.values() or content in self._additional_special_tokens:
                return content
            for i, t in self._added_tokens.items():
                if t.content == content:
                    if token.special and not t.special:
                        self._added_tokens[i] = dataclasses.replace(t, special=True)
                    return content
        token = self._normalized(token)
        piece_id = self.sp_model.piece_to_id(token.content)
        if self.sp_model.id_to_piece(piece_id) != token.content:
            self._added_tokens[len(self)] = token                  # a new id
        elif self._piece_types()[piece_id] != "USER_DEFINED":      # (SentencePiece cuts those out itself)
            self._added_tokens[piece_id] = token                   # a piece, now never split
        return token.content

    def _restore_added_token(self, token_id, token):
        """Register an added token read from a saved folder, at its saved id."""
        token = self._normalized(token) if token_id >= self.vocab_size else token
        if token_id < self.vocab_size:
            if self.sp_model.id_to_piece(token_id) != token.content:
                raise ValueError(f"the tokenizer files list the added token {token.content!r} with id {token_id}, "
                                 f"but that id is the piece {self.sp_model.id_to_piece(token_id)!r} of the "
                                 f"SentencePiece model: the files come from different tokenizers")
            kind = self._piece_types()[token_id]
            if kind != "USER_DEFINED" and token.content not in self.special_tokens_map.values():
                self._added_tokens[token_id] = token          # a piece protected from splitting
            return
        if token_id != len(self):
            raise ValueError(f"the tokenizer files list the added token {token.content!r} with id {token_id}, "
                             f"but the next free id is {len(self)}: added tokens must follow the vocabulary "
                             f"without gaps (save the tokenizer again, or remove the entry)")
        self._added_tokens[token_id] = token

    def _piece_types(self):
        """Type of each piece of the model (NORMAL, CONTROL, USER_DEFINED, ...), read once."""
        if getattr(self, "_piece_type_list", None) is None:
            self._piece_type_list = read_piece_types(self._model_proto)
        return self._piece_type_list

    def num_special_tokens_to_add(self, pair: bool = False) -> int:
        """2 for [CLS] A [SEP], 3 for [CLS] A [SEP] B [SEP]."""
        return 3 if pair else 2

    def convert_tokens_to_ids(self, tokens: Union[str, Sequence[str]]) -> Union[int, List[int]]:
        """Piece (str) -> id, or list of pieces -> list of ids; unknown pieces -> unk_token_id."""
        if isinstance(tokens, str):
            return self._token_to_id(check_str(tokens, "token"))
        if not isinstance(tokens, (list, tuple)):
            raise TypeError(f"tokens must be a str or a list of str, got {type(tokens).__name__}")
        return [self._token_to_id(check_str(t, "token")) for t in tokens]

    def _token_to_id(self, token):
        token_id = self._no_split_ids.get(token)
        return self.sp_model.piece_to_id(token) if token_id is None else token_id

    def _id_to_token(self, token_id):
        token = self._added_tokens.get(token_id)
        return self.sp_model.id_to_piece(token_id) if token is None else token.content

    def convert_ids_to_tokens(self, ids: Union[int, ArrayLike],
                              skip_special_tokens: bool = False) -> Union[str, List[str]]:
        """Id -> piece, or list of ids -> list of pieces (dropping special ids if asked)."""
        if isinstance(ids, (int, np.integer)):
            return self._id_to_token(self._check_id(ids))
        if isinstance(ids, (str, bytes)) or not hasattr(ids, "__iter__"):
            raise TypeError(f"token ids must be an int or a list of ints, got {type(ids).__name__}: {ids!r:.80}")
        skip = set(self.all_special_ids) if skip_special_tokens else ()
        return [self._id_to_token(i) for i in map(self._check_id, ids) if i not in skip]

    def _check_id(self, token_id):
        if isinstance(token_id, (bool, np.bool_)) or not isinstance(token_id, (int, np.integer)):
            raise TypeError(f"token ids must be ints, got {type(token_id).__name__} {token_id!r:.80}: "
                            f"pass the ids the tokenizer returned (an int dtype array, or a list of int)")
        token_id = int(token_id)
        if not 0 <= token_id < self._n_ids:
            raise ValueError(f"token id {token_id} is outside the vocabulary [0, {self._n_ids})")
        return token_id

    # -- text -> pieces --

    def preprocess_text(self, text: str) -> str:
        """This tokenizer's normalisation of one chunk (see preprocess_text)."""
        return preprocess_text(text, remove_space=self.remove_space, keep_accents=self.keep_accents,
                               do_lower_case=self.do_lower_case)

    def _special_token_spans(self, text):
        """(start, end, is_special) spans of `text` around its special and added tokens (added_tokens.py)."""
        return special_token_spans(text, self._special_re, self._lstrip_tokens, self._rstrip_tokens)

    def _split_text(self, text):
        """[(chunk, is_special)]: lowercase outside special tokens, then split them out."""
        if self.do_lower_case:
            text = lowercase_outside(text, self._special_split_re)
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

    def tokenize(self, text: str) -> List[str]:
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
            out.append(_Sequence([self._token_to_id(p) for p, _ in pieces], None, [w for _, w in pieces]))
        return out

    # -- special tokens --

    def build_inputs_with_special_tokens(self, token_ids_0: List[int],
                                         token_ids_1: Optional[List[int]] = None) -> List[int]:
        """[CLS] A [SEP]  or  [CLS] A [SEP] B [SEP]."""
        cls, sep = [self.cls_token_id], [self.sep_token_id]
        if token_ids_1 is None:
            return cls + list(token_ids_0) + sep
        return cls + list(token_ids_0) + sep + list(token_ids_1) + sep

    def get_special_tokens_mask(self, token_ids_0: List[int], token_ids_1: Optional[List[int]] = None,
                                already_has_special_tokens: bool = False) -> List[int]:
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

    def create_token_type_ids_from_sequences(self, token_ids_0: List[int],
                                             token_ids_1: Optional[List[int]] = None) -> List[int]:
        """0 for [CLS] A [SEP], 1 for B [SEP]."""
        first = [0] * (len(token_ids_0) + 2)
        return first if token_ids_1 is None else first + [1] * (len(token_ids_1) + 1)

    # -- __call__ --

    def __call__(self, text: Union[str, Sequence[str], Sequence[Sequence[str]], None] = None,
                 text_pair: Union[str, Sequence[str], Sequence[Sequence[str]], None] = None, *,
                 text_target: Union[str, Sequence[str], None] = None,
                 text_pair_target: Union[str, Sequence[str], None] = None,
                 add_special_tokens: bool = True, padding: Union[bool, str] = False,
                 truncation: Union[bool, str, None] = None, max_length: Optional[int] = None, stride: int = 0,
                 is_split_into_words: bool = False, pad_to_multiple_of: Optional[int] = None,
                 padding_side: Optional[str] = None, return_tensors: Optional[str] = None,
                 return_token_type_ids: Optional[bool] = None, return_attention_mask: Optional[bool] = None,
                 return_overflowing_tokens: bool = False, return_special_tokens_mask: bool = False,
                 return_offsets_mapping: bool = False, return_length: bool = False) -> BatchEncoding:
        """Tokenise one text (or pair) or a batch, like a transformers tokenizer.

        Args:
            text: str, or list of str (a batch); with is_split_into_words, a list of words
                (one example) or a list of lists of words (a batch).
            text_pair: second texts, same structure as `text` (question/context, premise/hypothesis).
            text_target, text_pair_target: texts encoded the same way (same padding and truncation,
                on their own) whose input_ids become the "labels" of the result; given alone, their
                encoding is the result.  Matches: transformers' text_target.
            padding: False / "do_not_pad", True / "longest", "max_length".
            padding_side: "right" / "left" for this call (default: the tokenizer's padding_side).
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
        if text is None and text_target is None:
            raise ValueError("give text (and text_pair), text_target, or both")
        options = dict(add_special_tokens=add_special_tokens, padding=padding, truncation=truncation,
                       max_length=max_length, stride=stride, is_split_into_words=is_split_into_words,
                       pad_to_multiple_of=pad_to_multiple_of, padding_side=padding_side,
                       return_tensors=return_tensors, return_token_type_ids=return_token_type_ids,
                       return_attention_mask=return_attention_mask,
                       return_overflowing_tokens=return_overflowing_tokens,
                       return_special_tokens_mask=return_special_tokens_mask,
                       return_offsets_mapping=return_offsets_mapping, return_length=return_length)
        encoded = None if text is None else self._encode_texts(text, text_pair, **options)
        if text_target is None:
            return encoded
        if text_pair_target is not None and text is not None and text_pair is None:
            raise ValueError("text_pair_target without text_pair: give both pairs, or neither")
        target = self._encode_texts(text_target, text_pair_target, **options)
        if encoded is None:
            return target
        encoded["labels"] = target["input_ids"]
        return encoded

    def _encode_texts(self, text, text_pair, *, add_special_tokens, padding, truncation, max_length, stride,
                      is_split_into_words, pad_to_multiple_of, padding_side, return_tensors, return_token_type_ids,
                      return_attention_mask, return_overflowing_tokens, return_special_tokens_mask,
                      return_offsets_mapping, return_length):
        """__call__ for one set of texts (and pairs)."""
        padding_side = check_output_options(self.padding_side if padding_side is None else padding_side,
                                            return_tensors)
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
                pad_id=self.pad_token_id, pad_type_id=self.pad_token_type_id, padding_side=padding_side,
                starts_word=self._starts_word, is_batched=is_batched, add_special_tokens=add_special_tokens,
                padding=padding, truncation=truncation, max_length=max_length, stride=stride,
                pad_to_multiple_of=pad_to_multiple_of, return_tensors=return_tensors,
                return_token_type_ids=True if return_token_type_ids is None else return_token_type_ids,
                return_attention_mask=True if return_attention_mask is None else return_attention_mask,
                return_overflowing_tokens=return_overflowing_tokens,
                return_special_tokens_mask=return_special_tokens_mask,
                return_offsets_mapping=return_offsets_mapping, return_length=return_length)

    def encode(self, text: Union[str, Sequence[str]], text_pair: Union[str, Sequence[str], None] = None,
               add_special_tokens: bool = True, **kwargs: Any) -> List[int]:
        """Text (and optional pair) -> list of ids, special tokens included by default."""
        return self(text, text_pair, add_special_tokens=add_special_tokens, **kwargs)["input_ids"]

    def pad(self, encoded_inputs: Any, padding: Union[bool, str] = True, max_length: Optional[int] = None,
            pad_to_multiple_of: Optional[int] = None, padding_side: Optional[str] = None,
            return_attention_mask: Optional[bool] = None, return_tensors: Optional[str] = None) -> BatchEncoding:
        """Pad already-tokenised inputs to one length (what a data collator does).

        encoded_inputs: a BatchEncoding or dict of lists (one example or a batch), or a list of
            such dicts (the rows of a dataset), e.g. [{"input_ids": [...], "label": 1}, ...].
        Pads input_ids (pad_token_id), token_type_ids (0), attention_mask (0; made when absent
        unless return_attention_mask=False) and special_tokens_mask (1); other keys (labels, ...)
        are returned as they are (stacked with return_tensors="np").
        padding, max_length, pad_to_multiple_of, padding_side, return_tensors: as in __call__.
        Matches: transformers PreTrainedTokenizerBase.pad.
        """
        padding, _, max_length = resolve_strategies(padding, False, max_length, False, 0, self.model_max_length)
        padding_side = check_output_options(self.padding_side if padding_side is None else padding_side,
                                            return_tensors)
        return pad_batch(encoded_inputs, pad_values={"input_ids": self.pad_token_id,
                                                     "token_type_ids": self.pad_token_type_id,
                                                     "attention_mask": 0, "special_tokens_mask": 1},
                         padding=padding, max_length=max_length, pad_to_multiple_of=pad_to_multiple_of,
                         left=padding_side == "left", return_attention_mask=return_attention_mask,
                         return_tensors=return_tensors)

    # -- ids -> text --

    def convert_tokens_to_string(self, tokens: Sequence[str]) -> str:
        """Pieces -> text: SentencePiece decoding, special tokens kept verbatim (decoding.pieces_to_text).

        Matches: transformers AlbertTokenizer.convert_tokens_to_string.
        """
        return pieces_to_text(tokens, self._special_ids, self.sp_model.decode_pieces)

    clean_up_tokenization = staticmethod(clean_up_tokenization)

    def _clean_up(self, clean_up_tokenization_spaces):
        return self.clean_up_tokenization_spaces if clean_up_tokenization_spaces is None \
            else clean_up_tokenization_spaces

    def decode(self, token_ids: Union[int, ArrayLike], skip_special_tokens: bool = False,
               clean_up_tokenization_spaces: Optional[bool] = None) -> str:
        """Ids (list, 1-D array or int) -> text.

        Runs of pieces are decoded by SentencePiece; tokens added to the vocabulary (not special,
        or additional special ones past the vocabulary) stand apart, joined by spaces (decoding.py).
        Matches: transformers 4 PreTrainedTokenizer.decode for ALBERT (transformers 5 joins an added
        token to its neighbours without the space).
        """
        if isinstance(token_ids, np.ndarray):
            if token_ids.ndim > 1:
                raise ValueError(f"decode takes one sequence, got an array of shape {token_ids.shape}; "
                                 f"use batch_decode")
            token_ids = token_ids.tolist()
        if isinstance(token_ids, (int, np.integer)):
            token_ids = [int(token_ids)]
        tokens = self.convert_ids_to_tokens(token_ids, skip_special_tokens)
        text = join_apart(tokens, self._decoded_apart, self.convert_tokens_to_string)
        return clean_up_tokenization(text) if self._clean_up(clean_up_tokenization_spaces) else text

    def decode_fills(self, token_ids: ArrayLike, fills: Sequence[Tuple[int, Sequence[int]]],
                     skip_special_tokens: bool = False,
                     clean_up_tokenization_spaces: Optional[bool] = None) -> List[List[str]]:
        """decode() of token_ids with one position replaced, for many positions and candidates at once.

        fills: [(position, [candidate id, ...]), ...]. Returns one list of texts per entry:
        [[decode(token_ids with token_ids[position] = c) for c in candidates] for position, candidates
        in fills] -- the same strings, in time linear in the text plus the output (decoding.decode_fills;
        fill_mask's sequences).
        """
        ids = [self._check_id(i) for i in (token_ids.tolist() if isinstance(token_ids, np.ndarray) else token_ids)]
        skip = set(self.all_special_ids) if skip_special_tokens else ()
        positions = [k for k, i in enumerate(ids) if i not in skip]           # positions in the decoded text
        pieces = [self.sp_model.id_to_piece(ids[k]) for k in positions]
        fills = [(position, [None if c in skip else self.sp_model.id_to_piece(c)
                             for c in map(self._check_id, candidates)]) for position, candidates in fills]
        return decode_fills(pieces, positions, fills, self._special_ids, self.sp_model.decode_pieces,
                            self._clean_up(clean_up_tokenization_spaces))

    def batch_decode(self, sequences: ArrayLike, skip_special_tokens: bool = False,
                     clean_up_tokenization_spaces: Optional[bool] = None) -> List[str]:
        """decode() of each row of a list of id lists or a (B, T) array."""
        return [self.decode(s, skip_special_tokens, clean_up_tokenization_spaces) for s in sequences]

    # -- files --

    @classmethod
    def from_pretrained(cls: Type[Tok], name_or_path: NameOrPath, **kwargs: Any) -> Tok:
        """Load from a folder or a Hub repo: spiece.model (or tokenizer.json) + tokenizer_config.json.

        Keywords: the loading options (hub.LOADING_OPTIONS: revision, cache_dir, local_files_only,
        force_download, token, subfolder), which go to huggingface_hub only; the others are the
        tokenizer's arguments and override the settings read from the files (e.g. do_lower_case=False).
        """
        options = loading_options(kwargs)
        init_kwargs = pretrained_init_kwargs(name_or_path, class_name=cls.__name__, **options)
        init_kwargs.update(kwargs)
        return cls(**init_kwargs)

    def save_vocabulary(self, save_directory: PathLike, filename_prefix: Optional[str] = None) -> Tuple[str]:
        """Write the SentencePiece model as [prefix-]spiece.model; returns (path,)."""
        if not os.path.isdir(save_directory):
            raise NotADirectoryError(f"save_vocabulary needs an existing folder, got {save_directory!r}")
        name = (filename_prefix + "-" if filename_prefix else "") + VOCAB_FILE
        path = os.path.join(save_directory, name)
        atomic_write_bytes(path, self._model_proto)
        return (path,)

    def save_pretrained(self, save_directory: PathLike) -> Tuple[str, ...]:
        """Write spiece.model, tokenizer_config.json, special_tokens_map.json and tokenizer.json.

        transformers loads the folder back: 4.x's AlbertTokenizer from spiece.model, 5.x's
        (tokenizers-backed) AlbertTokenizer from tokenizer.json. The four files replace the
        old ones as one unit (io.staged_folder); other files in the folder are kept.
        Returns the tuple of paths written.
        """
        return save_pretrained(self, save_directory)
