"""Tokens added to a tokenizer after its vocabulary was trained: AddedToken, reading them from files,
the special tokens' roles, and cutting a text around the tokens that are never split.

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
import re
from typing import Optional

from .normalization import lowercase_each_char

ADDED_TOKEN_FLAGS = ("single_word", "lstrip", "rstrip", "normalized", "special")
# Each of these roles needs a token of its own (bos / eos may share [CLS] / [SEP], as ALBERT's do).
DISTINCT_ROLES = ("cls_token", "sep_token", "pad_token", "unk_token", "mask_token")


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


def token_text(token, name="token"):
    """A special token given as str, as {"content": ...} (tokenizer_config.json), or as AddedToken."""
    if isinstance(token, str):
        return token
    if isinstance(token, dict) and isinstance(token.get("content"), str):
        return token["content"]
    if isinstance(getattr(token, "content", None), str):
        return token.content
    raise TypeError(f"{name} must be a str (or a dict with 'content'), got {type(token).__name__}: {token!r}")


def check_special_roles(special_tokens_map, unk_token_id, unk_id, unk_piece):
    """ValueError when two roles share a token ([MASK] given as "[SEP]"), or unk_token (id
    unk_token_id) is not the model's unknown piece (unk_piece, id unk_id: the piece SentencePiece
    gives to what it cannot segment)."""
    seen = {}
    for name in DISTINCT_ROLES:
        token = special_tokens_map[name]
        if token in seen:
            raise ValueError(f"{seen[token]} and {name} are both {token!r}: each of "
                             f"{', '.join(DISTINCT_ROLES)} needs a token of its own (a {name} that is "
                             f"also the {seen[token]} would be read as both). Check special_tokens_map.json / "
                             f"tokenizer_config.json, or the tokens passed")
        seen[token] = name
    if unk_token_id != unk_id:
        raise ValueError(f"unk_token {special_tokens_map['unk_token']!r} (id {unk_token_id}) is not the "
                         f"SentencePiece model's unknown piece {unk_piece!r} (id {unk_id}), "
                         f"which unknown characters become: pass unk_token={unk_piece!r}")


# -- cutting a text around the tokens that are never split --

def alternatives(tokens):
    """A regex matching any of `tokens`, the longest first (so "[MASK]x" wins over "[MASK]")."""
    return re.compile("|".join(re.escape(t) for t in sorted(tokens, key=len, reverse=True)))


def lowercase_outside(text, split_pattern):
    """`text` lowercased except inside the tokens that split_pattern (a regex with one group) matches."""
    parts = split_pattern.split(text)                   # odd indices are the tokens
    return "".join(p if i % 2 else lowercase_each_char(p) for i, p in enumerate(parts))


def special_token_spans(text, pattern, lstrip, rstrip):
    """Split `text` into (start, end, is_special) spans around the matches of `pattern` (the special
    and added tokens). A token in `lstrip` ([MASK], an added token with lstrip=True) absorbs the
    whitespace before it, one in `rstrip` the whitespace after it.
    Matches: transformers Trie.split plus the lstrip / rstrip handling in PreTrainedTokenizer.tokenize.
    """
    spans, pos = [], 0
    for match in pattern.finditer(text):
        if match.start() < pos:                    # inside the whitespace an rstrip token took
            continue
        end = match.start()
        if match.group() in lstrip:
            while end > pos and text[end - 1].isspace():
                end -= 1
        if end > pos:
            spans.append((pos, end, False))
        spans.append((match.start(), match.end(), True))
        pos = match.end()
        if match.group() in rstrip:
            while pos < len(text) and text[pos].isspace():
                pos += 1
    if pos < len(text):
        spans.append((pos, len(text), False))
    return spans
