"""Tokens added to a tokenizer after its vocabulary was trained: AddedToken and reading them from files.

An added token is never split: the text is cut around it before normalisation, as around the
special tokens, and it gets one id. A new token's id follows the vocabulary (the first gets
vocab_size, the next vocab_size + 1, ...); a token that is already a piece of the SentencePiece
model keeps that piece's id and is only protected from splitting. With do_lower_case, a
normalized token (the default for non-special tokens) is lowercased and matched in the
lowercased text; a special token (normalized=False) is matched in the text as written.

The tokenizer's files keep them where transformers does: tokenizer.json "added_tokens" (read by
transformers 5), tokenizer_config.json "added_tokens_decoder" (transformers 4) and
"additional_special_tokens".
"""
import dataclasses
from typing import Optional

ADDED_TOKEN_FLAGS = ("single_word", "lstrip", "rstrip", "normalized", "special")


@dataclasses.dataclass
class AddedToken:
    """A token added to the vocabulary, with transformers' / tokenizers' fields.

    content: the token's text. lstrip / rstrip: it also takes the whitespace on its left / right.
    normalized: matched in the normalised (lowercased) text; default: True unless special.
    special: a special token (skipped by decode(skip_special_tokens=True)).
    single_word: not supported (always False).
    Matches: tokenizers.AddedToken (the fields albert_np uses).
    """
    content: str
    single_word: bool = False
    lstrip: bool = False
    rstrip: bool = False
    normalized: Optional[bool] = None
    special: bool = False

    def __post_init__(self):
        if not isinstance(self.content, str) or not self.content:
            raise ValueError(f"an added token must be a non-empty str, got {self.content!r:.80}")
        if not self.content.strip():
            raise ValueError(f"an added token cannot be whitespace only, got {self.content!r}")
        if self.single_word:
            raise ValueError(f"AddedToken({self.content!r}, single_word=True) is not supported by albert_np: "
                             f"the token is matched wherever it occurs (single_word=False)")
        if self.normalized is None:
            self.normalized = not self.special
        for name in ADDED_TOKEN_FLAGS:
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"AddedToken.{name} must be True or False, got {getattr(self, name)!r:.80}")

    def to_dict(self):
        """The JSON form of tokenizer.json / tokenizer_config.json (without the id)."""
        return {"content": self.content, **{name: getattr(self, name) for name in ADDED_TOKEN_FLAGS}}

    def __str__(self):
        return self.content


def as_added_token(token, special=False):
    """An AddedToken from a str, a dict of tokenizer_config.json, or any object with .content
    (albert_np's, transformers' or tokenizers' AddedToken); `special` for plain strings and dicts
    that do not say."""
    if isinstance(token, AddedToken):
        return dataclasses.replace(token, special=token.special or special)
    if isinstance(token, str):
        return AddedToken(token, special=special)
    if isinstance(token, dict):
        fields = {k: token[k] for k in ADDED_TOKEN_FLAGS if k in token and token[k] is not None}
        fields.setdefault("special", special)
        return AddedToken(token.get("content"), **fields)
    if isinstance(getattr(token, "content", None), str):
        fields = {k: getattr(token, k) for k in ADDED_TOKEN_FLAGS if isinstance(getattr(token, k, None), bool)}
        fields["special"] = fields.get("special", False) or special
        return AddedToken(token.content, **fields)
    raise TypeError(f"an added token must be a str or an AddedToken, got {type(token).__name__}: {token!r:.80}")


def saved_added_tokens(added_tokens_decoder=None, added_tokens=None):
    """[(id, AddedToken)] sorted by id, from tokenizer_config.json's "added_tokens_decoder"
    ({"id": {...}}) and/or tokenizer.json's "added_tokens" ([{"id": ..., ...}]); the first wins."""
    found = {}
    for key, value in (added_tokens_decoder or {}).items():
        found.setdefault(int(key), value)
    for value in added_tokens or ():
        found.setdefault(int(value["id"]), value)
    return sorted(((i, as_added_token(v)) for i, v in found.items()), key=lambda pair: pair[0])
