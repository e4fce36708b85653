# %% [markdown]
# # Chapter 1: The tokenizer
#
# A network works on numbers, so the first job is to turn text into a list of
# integers, the *token ids*. ALBERT does it in three stages, and this chapter
# takes each one apart on real text:
#
# 1. **Normalisation**: tidy the text (spaces, quotes, accents, case) so that
#    trivially different spellings become the same string.
# 2. **Segmentation**: cut the normalised text into *pieces* from a fixed
#    vocabulary, using SentencePiece's *unigram* model. We write the segmentation
#    algorithm (Viterbi over the piece scores) ourselves, in a dozen lines, and
#    check it against the `sentencepiece` library.
# 3. **Framing**: add the special tokens `[CLS]` and `[SEP]`, mark which sentence
#    each token belongs to (`token_type_ids`), and remember where each token came
#    from in the original text (offsets).

# %% [markdown]
# **Which model.** This chapter runs on the bundled `albert-tiny-en`. To use another
# checkpoint, set `ALBERT_NP_MODEL` before `tutorial_utils` is imported: in a shell
# `ALBERT_NP_MODEL=/path/to/checkpoint python tutorials/01_tokenizer.py`; in Jupyter run
# `%env ALBERT_NP_MODEL=/path/to/checkpoint` in a cell above the imports (the variable
# is read once, at import; changing it later has no effect until the kernel restarts).

# %%
from tutorial_utils import *

import math
import unicodedata

import albert_np
from albert_np import AlbertConfig, AlbertTokenizer, AlbertTokenizerFast
from albert_np.tokenization import (SPIECE_UNDERLINE, is_digit_comma_piece, preprocess_text,
                                    read_piece_types, split_digit_comma_piece, strip_accents)

tok = AlbertTokenizerFast.from_pretrained(MODEL)
sp = tok.sp_model                       # the sentencepiece.SentencePieceProcessor inside
print(tok)

# %% [markdown]
# ## 1. Normalisation, one step at a time
#
# Here is a deliberately awkward sentence: doubled spaces and a tab, LaTeX-style
# quotes (two backticks, two apostrophes), accented letters, a typographic
# ligature ("ﬁ" is one character), capitals, and numbers with commas.

# %%
text = "The  café’s ``déjà vu''\tcost $1,234 in 2012, and it was ﬁnally OVER!"
print(repr(text))

# %% [markdown]
# **Step 1, whitespace.** Split on any run of whitespace and join with single
# spaces. This also strips both ends.

# %%
step1 = " ".join(text.split())
print(repr(step1))

# %% [markdown]
# **Step 2, quotes.** Two backticks and two apostrophes both become a plain
# double quote `"`, the way the pretraining text was cleaned.

# %%
step2 = step1.replace("``", '"').replace("''", '"')
print(repr(step2))

# %% [markdown]
# **Step 3, accents.** Unicode can write "é" as one character, or as "e" followed
# by a *combining* acute accent. NFKD normalisation picks the second, decomposed
# form (the K also unfolds compatibility characters such as the ligature "ﬁ"
# into "f" + "i"). Then every combining mark is dropped.

# %%
for ch in "éàﬁ":
    parts = unicodedata.normalize("NFKD", ch)
    print(f"{ch!r} -> {[f'U+{ord(c):04X} {unicodedata.name(c)}' for c in parts]}")

decomposed = unicodedata.normalize("NFKD", step2)
step3 = "".join(c for c in decomposed if not unicodedata.combining(c))
print(repr(step3))
assert step3 == strip_accents(step2)

# %% [markdown]
# **Step 4, lowercase.** (The uncased ALBERT models were trained on lowercased
# text.)

# %%
step4 = step3.lower()
print(repr(step4))
assert step4 == preprocess_text(text) == tok.preprocess_text(text)
print("our four steps == albert_np.tokenization.preprocess_text")

# %% [markdown]
# The library's tokenizer does one more thing first: it finds the special tokens
# (written literally in the text, such as `[MASK]`) and only normalises the text
# *between* them, so that `[MASK]` is neither lowercased nor cut up.

# %%
print(tok.tokenize("Paris is the [MASK] of FRANCE."))

# %% [markdown]
# ## 2. Segmentation: the unigram model, by hand
#
# The vocabulary is a list of pieces. A piece that starts a word begins with "▁"
# (SentencePiece's visible space), so "▁the" and "the" are different pieces: one
# at the start of a word, one inside a word. Each piece also has a *score*: the
# log-probability the unigram model gives it. Let us look at a few.

# %%
types = read_piece_types(tok._model_proto)        # NORMAL, CONTROL, UNKNOWN, USER_DEFINED, ...
print(f"{len(sp)} pieces; types:", {t: types.count(t) for t in sorted(set(types))})
for i in list(range(0, 12)) + [100, 1000, len(sp) - 1]:
    print(f"  id {i:5d}  {sp.id_to_piece(i)!r:14s} {types[i]:12s} score {sp.get_score(i):8.3f}")

# %% [markdown]
# The unigram model treats a segmentation as a sequence of independent draws, so
# its probability is the product of the piece probabilities, and its log-score the
# *sum* of the piece scores. Of all ways to cut a string into vocabulary pieces,
# the tokenizer picks the one with the highest total.
#
# Take one word and list a few of its segmentations, as the sentencepiece library
# ranks them, with the sum of scores we compute ourselves:

# %%
word = "unbelievably"
for pieces in sp.nbest_encode_as_pieces(word, 5):
    total = sum(sp.get_score(sp.piece_to_id(p)) for p in pieces)
    print(f"  {total:8.3f}  {pieces}")

# %% [markdown]
# Trying every segmentation is exponential in the length of the word; the
# *Viterbi* algorithm finds the best one in time proportional to
# length × longest piece. Read the string left to right; `best[i]` is the highest
# total score of any segmentation of the first `i` characters, and `back[i]`
# records where its last piece starts:
#
#     best[0] = 0
#     best[end] = max over start < end, with s[start:end] a piece, of best[start] + score(s[start:end])
#
# Then walk `back` from the end to read the pieces off. Two details from
# SentencePiece: a character that no piece covers becomes `<unk>`, with a score
# 10 below the worst piece; and *user-defined* pieces (symbols such as `"` and
# `.` that the vocabulary's trainer was told never to merge) get a bonus that
# makes them always win.
#
# SentencePiece also normalises the text once more itself (its built-in
# `nmt_nfkc` rules), turns spaces into "▁" and puts a "▁" in front. We ask it for
# that string with `sp.normalize` and run our Viterbi on it.

# %%
piece_to_id = {sp.id_to_piece(i): i for i in range(len(sp)) if types[i] in ("NORMAL", "USER_DEFINED")}
normal_scores = [sp.get_score(i) for i in range(len(sp)) if types[i] == "NORMAL"]
max_score, min_score = max(normal_scores), min(normal_scores)
UNK_SCORE = min_score - 10.0
longest = max(len(p) for p in piece_to_id)


def piece_score(piece):
    i = piece_to_id[piece]
    return len(piece) * max_score - 0.1 if types[i] == "USER_DEFINED" else sp.get_score(i)


def viterbi(s):
    """Best segmentation of the normalised string s: (pieces, ids, total score)."""
    n = len(s)
    best = [0.0] + [-math.inf] * n                      # best[i]: best score of s[:i]
    back = [0] * (n + 1)                                # back[i]: start of the last piece
    for end in range(1, n + 1):
        for start in range(max(0, end - longest), end):
            piece = s[start:end]
            if piece in piece_to_id:
                score = best[start] + piece_score(piece)
            elif end - start == 1:                      # a single unknown character
                score = best[start] + UNK_SCORE
            else:
                continue
            if score > best[end]:
                best[end], back[end] = score, start
    pieces, end = [], n
    while end > 0:
        pieces.append(s[back[end]:end])
        end = back[end]
    pieces.reverse()
    ids = [piece_to_id.get(p, tok.unk_token_id) for p in pieces]
    return pieces, ids, best[n]


pieces, ids, total = viterbi(sp.normalize(word))
print(pieces, f"{total:.3f}")
assert pieces == sp.nbest_encode_as_pieces(word, 1)[0]

# %% [markdown]
# Our Viterbi picks the top entry of sentencepiece's ranked list. Now check it on
# more words and on the whole normalised sentence (including a snowman, which no
# vocabulary piece covers, so it becomes `<unk>`).

# %%
samples = ["tokenization", "photosynthesis", "albert", "hello ☃ world", step4]
for s in samples:
    pieces, ids, total = viterbi(sp.normalize(s))
    print(f"{total:9.3f}  {pieces}")
    assert ids == sp.encode(s), (s, ids, sp.encode(s))
print("by-hand Viterbi == sentencepiece's encode on all", len(samples), "samples")

# %% [markdown]
# ### The digit-comma rule
#
# The original ALBERT code adds one rule after SentencePiece: a piece that ends in
# a comma right after a digit, such as "▁2012,", is split into the number and the
# comma, so that the comma is a token of its own (as it is everywhere else). We
# look for such pieces in this vocabulary and apply the rule by hand to one of
# them (to the one in our sentence, if this vocabulary has it): encode the piece
# again without its comma, then append the comma.

# %%
raw = sp.encode(step4, out_type=str)
digit_comma = [p for p in piece_to_id if is_digit_comma_piece(p)]
print(f"{len(digit_comma)} digit-comma pieces in the vocabulary, e.g. {digit_comma[:6]}")
if digit_comma:
    example = next((p for p in raw if is_digit_comma_piece(p)), digit_comma[0])
    without_comma = example[:-1].replace(SPIECE_UNDERLINE, "")
    by_hand = sp.encode(without_comma, out_type=str)
    if not example.startswith(SPIECE_UNDERLINE) and by_hand[0].startswith(SPIECE_UNDERLINE):
        by_hand = ([by_hand[0][1:]] if len(by_hand[0]) > 1 else []) + by_hand[1:]
    by_hand = by_hand + [","]
    print(f"{example!r} -> {by_hand}")
    assert by_hand == split_digit_comma_piece(example, lambda t: sp.encode(t, out_type=str))

final = tok.tokenize(text)
print("sentencepiece alone:", raw)
print("ALBERT tokenizer:   ", final)
rebuilt = []
for piece in raw:
    rebuilt += (split_digit_comma_piece(piece, lambda t: sp.encode(t, out_type=str))
                if is_digit_comma_piece(piece) else [piece])
assert rebuilt == final
print("sentencepiece + the digit-comma rule == the ALBERT tokenizer")

# %% [markdown]
# ## 3. Special tokens
#
# Five pieces have jobs rather than meanings. They are *control* pieces (or the
# unknown piece) in the SentencePiece model, which means SentencePiece never
# produces them from text: typing "[CLS]" gives ordinary pieces. The tokenizer adds
# them itself.

# %%
config = AlbertConfig.from_pretrained(MODEL)
for name in ("cls_token", "sep_token", "mask_token", "pad_token", "unk_token"):
    token = getattr(tok, name)
    token_id = getattr(tok, name + "_id")
    print(f"{name:11s} {token:7s} id {token_id}   type {types[token_id]}")
print("sentencepiece on the text '[CLS]':", sp.encode("[CLS]", out_type=str))
assert tok.pad_token_id == config.pad_token_id
assert sp.encode("[CLS]") != [tok.cls_token_id]

# %% [markdown]
# * `[CLS]` starts every input; its final vector feeds the pooler and the
#   sentence-level heads.
# * `[SEP]` ends each sentence.
# * `[MASK]` hides a word during pretraining; the model learns to fill it in.
# * `<pad>` fills short rows of a batch up to the longest; the attention mask
#   (chapter 3) keeps the model from looking at them.
# * `<unk>` stands for text no piece covers, as the snowman above.
#
# ## 4. A sentence pair
#
# Tasks such as question answering and sentence-order prediction feed two texts
# at once: `[CLS] A [SEP] B [SEP]`. `token_type_ids` say which text each token
# belongs to (0 for A with its `[CLS]` and `[SEP]`, 1 for B with its `[SEP]`); the
# model adds a learned vector per type to each token (chapter 2).

# %%
first, second = "The cat sat on the mat.", "It was tired, so it slept."
enc = tok(first, second)
tokens = tok.convert_ids_to_tokens(enc["input_ids"])
for t, i, s in zip(tokens, enc["input_ids"], enc["token_type_ids"]):
    print(f"  {t:12s} {i:6d}  type {s}")

a = tok.convert_tokens_to_ids(tok.tokenize(first))
b = tok.convert_tokens_to_ids(tok.tokenize(second))
assert enc["input_ids"] == [tok.cls_token_id] + a + [tok.sep_token_id] + b + [tok.sep_token_id]
assert enc["token_type_ids"] == [0] * (len(a) + 2) + [1] * (len(b) + 1)
assert enc["attention_mask"] == [1] * len(enc["input_ids"])
print("ids and token types built by hand == tokenizer output")

# %% [markdown]
# A batch of texts of different lengths is padded with `<pad>`, and the
# `attention_mask` marks real tokens with 1 and padding with 0:

# %%
batch = tok(["A short one.", first], padding=True, return_tensors="np")
print(batch["input_ids"])
print(batch["attention_mask"])
assert np.all((batch["input_ids"] == tok.pad_token_id) == (batch["attention_mask"] == 0))

# %% [markdown]
# ## 5. Offsets: from tokens back to the text
#
# Normalisation changed the text (spaces, quotes, accents, case), so a token does
# not appear verbatim in the input. For tasks that must point at the input (a
# question-answering span, a named entity), the fast tokenizer keeps, for each
# token, the `(start, end)` character span of the *original* text it came from.
# Special tokens get `(0, 0)`.

# %%
enc = tok(text, return_offsets_mapping=True)
for token_id, (start, end) in zip(enc["input_ids"], enc["offset_mapping"]):
    piece = tok.convert_ids_to_tokens(token_id)
    print(f"  {piece:10s} ({start:2d}, {end:2d})  {text[start:end]!r}")
    if token_id in tok.all_special_ids:
        assert (start, end) == (0, 0)
    else:   # normalising the original span gives back the piece's text
        assert preprocess_text(text[start:end]) == piece.lstrip(SPIECE_UNDERLINE), piece

slow = AlbertTokenizer.from_pretrained(MODEL)
assert slow(text)["input_ids"] == enc["input_ids"]
print("every span normalises to its piece; the slow tokenizer gives the same ids")

# %% [markdown]
# With `(start, end)` in hand, an answer predicted as tokens i..j is simply
# `text[offsets[i][0]:offsets[j][1]]`, accents and capitals intact.

# %% [markdown]
# ## Exercises
#
# 1. ★ Tokenize `"The naïve archaeologist's résumé."` with offsets. Which
#    characters does each piece cover, and what happened to the accents?
# 2. ★★ Tokenize `"naïve"`, `"résumé"` and `"café"` with
#    `AlbertTokenizerFast(vocab_file=..., keep_accents=True)` (the vocabulary file
#    is `albert_np.hub.resolve_file(MODEL, "spiece.model")`) and without. Which
#    pieces change, and which of them does the vocabulary know?
# 3. ★★★ Change `viterbi` so that it keeps the two best segmentations of every
#    prefix, and so returns the best *two* segmentations of a word; compare with
#    `sp.nbest_encode_as_pieces(word, 2)` for "unbelievably" and "tokenization".
