# %% [markdown]
# # Chapter 15: fill_mask from scratch
#
# The capstone. Chapters 1 to 6 took ALBERT apart piece by piece, each time
# checking a by-hand step against the library. Here we put the pieces back
# together **without the library**. Fewer than 100 lines of NumPy (the count is
# printed below) turn a sentence
# with a `[MASK]` into the model's ranked guesses. They read three files of the
# checkpoint folder and nothing else:
#
# * `model.safetensors`, through the `safetensors` library (`safetensors.numpy.load_file`);
# * `spiece.model`, the SentencePiece model, through the `sentencepiece` library;
# * `config.json`, through `json`.
#
# No line of the from-scratch part imports `albert_np`. Only at the end do we
# ask the library, `albert_np.fill_mask`, for the same sentence, and check that
# the two agree: the same top-k tokens, with scores within 1e-5.
#
# Edit `SENTENCE` below and run the chapter again: the check runs on your
# sentence too.

# %% [markdown]
# **Which model.** This chapter runs on the bundled `albert-tiny-en`. To use another checkpoint, set `ALBERT_NP_MODEL` before `tutorial_utils` is imported: in a shell `ALBERT_NP_MODEL=/path/to/checkpoint python tutorials/15_fill_mask_from_scratch.py`; in Jupyter run `%env ALBERT_NP_MODEL=/path/to/checkpoint` in a cell above the imports (the variable is read once, at import; changing it later has no effect until the kernel restarts).

# %%
SENTENCE = "The cat sat on the [MASK]."         # your sentence: ordinary text with one [MASK]
TOP_K = 5

from tutorial_utils import MODEL, check, check_all    # MODEL is only a folder name here

# %% [markdown]
# ## The whole model, from the three files
#
# The code is in the order a token travels. `load` reads the files and turns
# every weight into float32 (the bundled file stores float16). `tokenize`
# repeats what ALBERT's tokenizer does to an ordinary sentence (chapter 1):
#
# 1. cut the text at `[MASK]`; the mask token swallows the spaces before it
#    (its `lstrip` flag), so "the [MASK]." gives the chunks "the" and ".";
# 2. normalise each chunk: collapse runs of whitespace, turn two backquotes or two
#    single quotes into `"`, decompose accents (NFKD) and drop them, lower-case
#    (the `do_lower_case` of `tokenizer_config.json`; ALBERT's tokenizers lower-case
#    by default, so without that file we do too);
# 3. let SentencePiece cut each chunk into pieces; it marks the start of a
#    word with "▁" and gives every piece its id;
# 4. put `[CLS]` in front and `[SEP]` at the end. `[MASK]`, `[CLS]` and `[SEP]`
#    are pieces of the SentencePiece vocabulary, so their ids come from it too.
#
# We leave out one rule, which ordinary sentences never need: ALBERT re-splits a
# piece such as "▁1990," that ends in a comma after a digit (chapter 1).
#
# Then the network (chapters 2 to 6). Shapes use B sentences, T tokens, E the embedding size,
# H the hidden size, A heads of size D = H/A, F the FFN size, V the vocabulary:
#
#     x = LayerNorm(word[ids] + position[0..T-1] + type[0])     (B, T, E)
#     h = x W_map^T + b_map                                     (B, T, H)
#     for i in 0 .. L-1:  g = i * G // L                        group g of G
#         for each of the group's inner_group_num layers:
#             a = LayerNorm(h + Attention(h, mask))             (B, T, H)
#             h = LayerNorm(a + act(a W_1^T + b_1) W_2^T + b_2) (B, T, F) -> (B, T, H)
#     z = LayerNorm(act(h W_dense^T + b_dense))                 (B, T, E)
#     logits = z W_word^T + b_vocab                             (B, T, V)   tied decoder
#
# All our checkpoints have G = 1 group of 1 layer: the same weights applied L
# times. The loop handles any G and `inner_group_num`, and a check near the end
# runs it on a checkpoint with 2 groups of 2 layers.

# %%
import inspect
import json
import math
import os
import unicodedata

import numpy as np
import sentencepiece
from safetensors.numpy import load_file


def load(folder):
    """config (dict), weights {name: float32 array}, the SentencePiece model, lower-case?"""
    with open(os.path.join(folder, "config.json")) as f:
        config = json.load(f)
    weights = {k.removeprefix("albert."): v.astype(np.float32)
               for k, v in load_file(os.path.join(folder, "model.safetensors")).items()}
    sp = sentencepiece.SentencePieceProcessor(model_file=os.path.join(folder, "spiece.model"))
    tok_config = os.path.join(folder, "tokenizer_config.json")      # optional; ALBERT lower-cases
    lower = json.load(open(tok_config)).get("do_lower_case", True) if os.path.exists(tok_config) else True
    return config, weights, sp, lower


def normalise(text, lower):
    text = " ".join(text.split())                                    # strip, collapse whitespace
    text = text.replace("``", '"').replace("''", '"')
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return text.lower() if lower else text


def tokenize(sentence, sp, lower):
    """Text with [MASK] tokens -> the ids [CLS] ... [SEP] (a list of int)."""
    ids = [sp.piece_to_id("[CLS]")]
    for k, chunk in enumerate(sentence.split("[MASK]")):
        if k > 0:
            ids.append(sp.piece_to_id("[MASK]"))
        if k < sentence.count("[MASK]"):
            chunk = chunk.rstrip()                                   # [MASK] takes the spaces before it
        chunk = normalise(chunk, lower)
        if chunk:
            ids += sp.encode(chunk)                                  # SentencePiece: pieces -> ids
    return ids + [sp.piece_to_id("[SEP]")]


def act(name, x):
    """The config's hidden_act."""
    if name == "gelu_new":                                           # the tanh approximation
        return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x * x * x)))
    if name == "gelu":                                               # exact: x * Phi(x)
        return 0.5 * x * (1.0 + np.vectorize(math.erf, otypes=[x.dtype])(x / math.sqrt(2.0)))
    if name == "relu":
        return np.maximum(x, 0)
    raise ValueError(f"hidden_act {name!r}: this chapter knows gelu_new, gelu and relu")


def linear(x, w, name):                                              # (..., in) -> (..., out)
    return x @ w[name + ".weight"].T + w[name + ".bias"]


def layer_norm(x, w, name, eps):                                     # (..., n) -> (..., n)
    mean = x.mean(-1, keepdims=True)
    var = x.var(-1, keepdims=True)                                   # biased, as torch
    return (x - mean) / np.sqrt(var + eps) * w[name + ".weight"] + w[name + ".bias"]


def attention(h, mask, w, p, A):                                     # (B, T, H) -> (B, T, H)
    B, T, H = h.shape
    q, k, v = (linear(h, w, p + n).reshape(B, T, A, H // A).transpose(0, 2, 1, 3)
               for n in ("query", "key", "value"))                   # (B, A, T, D) each
    scores = q @ k.transpose(0, 1, 3, 2) / np.float32(math.sqrt(H // A))   # (B, A, T, T)
    scores = scores + (1 - mask[:, None, None, :]).astype(np.float32) * np.finfo(np.float32).min
    scores = np.exp(scores - scores.max(-1, keepdims=True))
    probs = scores / scores.sum(-1, keepdims=True)                   # softmax over the keys
    context = (probs @ v).transpose(0, 2, 1, 3).reshape(B, T, H)     # (B, A, T, D) -> (B, T, H)
    return linear(context, w, p + "dense")


def albert_layer(h, mask, w, p, c):                                  # (B, T, H) -> (B, T, H)
    eps = c["layer_norm_eps"]
    a = layer_norm(h + attention(h, mask, w, p + "attention.", c["num_attention_heads"]), w,
                   p + "attention.LayerNorm", eps)
    f = linear(act(c["hidden_act"], linear(a, w, p + "ffn")), w, p + "ffn_output")   # H -> F -> H
    return layer_norm(a + f, w, p + "full_layer_layer_norm", eps)


def mlm_logits(ids, mask, c, w):                                     # (B, T) ints -> (B, T, V)
    T = ids.shape[1]
    x = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:T]
         + w["embeddings.token_type_embeddings.weight"][0])          # (B, T, E)
    x = layer_norm(x, w, "embeddings.LayerNorm", c["layer_norm_eps"])
    h = linear(x, w, "encoder.embedding_hidden_mapping_in")          # (B, T, E) -> (B, T, H)
    L, G = c["num_hidden_layers"], c["num_hidden_groups"]
    for i in range(L):
        g = i * G // L                                               # the group of application i
        for j in range(c["inner_group_num"]):
            h = albert_layer(h, mask, w, f"encoder.albert_layer_groups.{g}.albert_layers.{j}.", c)
    z = act(c["hidden_act"], linear(h, w, "predictions.dense"))      # (B, T, H) -> (B, T, E)
    z = layer_norm(z, w, "predictions.LayerNorm", c["layer_norm_eps"])
    bias = w.get("predictions.bias", w.get("predictions.decoder.bias"))
    return z @ w["embeddings.word_embeddings.weight"].T + bias       # tied decoder: (B, T, V)


def fill_mask_from_scratch(sentence, folder, top_k=5):
    """[(score, token id, piece)] for the one [MASK] of `sentence`, best first, and all V probabilities."""
    config, weights, sp, lower = load(folder)
    ids = np.array([tokenize(sentence, sp, lower)])                  # (1, T)
    where = np.flatnonzero(ids[0] == sp.piece_to_id("[MASK]"))
    if len(where) != 1:
        raise ValueError(f"the sentence needs exactly one [MASK], it has {len(where)}")
    logits = mlm_logits(ids, np.ones_like(ids), config, weights)[0, where[0]]   # (V,)
    probs = np.exp(logits - logits.max())
    probs /= probs.sum()                                             # softmax over the vocabulary
    best = np.argsort(-probs, kind="stable")[:top_k]
    return [(float(probs[t]), int(t), sp.id_to_piece(int(t))) for t in best], probs


FROM_SCRATCH = [load, normalise, tokenize, act, linear, layer_norm, attention, albert_layer,
                mlm_logits, fill_mask_from_scratch]
lines = [s for f in FROM_SCRATCH for s in inspect.getsource(f).splitlines() if s.strip()]
print(f"from scratch: {len(FROM_SCRATCH)} functions, {len(lines)} non-blank lines "
      f"(and 7 import lines); imports of albert_np in them: "
      f"{sum('albert_np' in s for s in lines)}")
assert sum("albert_np" in s for s in lines) == 0 and len(lines) < 100

# %% [markdown]
# ## Run it
#
# One call: the files are read, the sentence is tokenised, the network runs,
# and the softmax at the `[MASK]` position is ranked.

# %%
config, weights, sp, lower = load(MODEL)
ids = tokenize(SENTENCE, sp, lower)
print(f"{SENTENCE!r} -> {[sp.id_to_piece(i) for i in ids]}")
print(f"config: L={config['num_hidden_layers']} applications of G={config['num_hidden_groups']} group(s) "
      f"of {config['inner_group_num']} layer(s), H={config['hidden_size']}, A={config['num_attention_heads']}, "
      f"hidden_act={config['hidden_act']}")
top, probs = fill_mask_from_scratch(SENTENCE, MODEL, TOP_K)
for score, token, piece in top:
    print(f"  {score:.6f}  {token:6d}  {piece}")

# %% [markdown]
# ## The check against the library
#
# Now, and only now, `albert_np`. Its `fill_mask` is transformers' fill-mask
# pipeline: the same sentence gives a list of `{"score", "token", "token_str",
# "sequence"}`. The token ids must be the same, in the same order, and the
# scores equal within 1e-5. On the way we also check the tokenizer's ids and the
# whole probability vector against `AlbertTokenizer` and `AlbertForMaskedLM`.

# %%
import albert_np

library = albert_np.fill_mask(SENTENCE, MODEL, top_k=TOP_K)
print("albert_np.fill_mask:")
for r in library:
    print(f"  {r['score']:.6f}  {r['token']:6d}  {r['token_str']}")
assert [t for _, t, _ in top] == [r["token"] for r in library], "the top-k tokens differ"
print(f"top-{TOP_K} token ids: the same, in the same order")
check(f"top-{TOP_K} scores: from scratch vs fill_mask", [s for s, _, _ in top], [r["score"] for r in library])

lib_tok = albert_np.AlbertTokenizer.from_pretrained(MODEL)
lib_model = albert_np.AlbertForMaskedLM.from_pretrained(MODEL)
enc = lib_tok(SENTENCE, return_tensors="np")
lib_logits = lib_model(**enc).logits[0]                                               # (T, V)
mask_at = int(np.flatnonzero(enc["input_ids"][0] == lib_tok.mask_token_id)[0])
lib_probs = np.exp(lib_logits[mask_at] - lib_logits[mask_at].max())
check_all("whole pipeline", {
    "token ids": (ids, enc["input_ids"][0]),
    "all V probabilities at [MASK]": (probs, lib_probs / lib_probs.sum()),
    "all V log-probabilities": (np.log(probs), np.log(lib_probs / lib_probs.sum())),
})

# %% [markdown]
# ## The attention mask, and groups of layers
#
# `fill_mask_from_scratch` passes a mask of ones: one sentence has nothing to
# hide. The mask matters in a batch, where shorter sentences are padded. Each
# padding position gets the most negative float32 added to its attention
# score. After the softmax it weighs exactly 0.
#
# **Predict before you run:** we append three `<pad>` tokens after `[SEP]` and
# mask them out. Do the probabilities at `[MASK]` change at all?

# %%
T = len(ids)
padded = np.array([ids + [sp.piece_to_id("<pad>")] * 3])                             # (1, T + 3)
mask = np.array([[1] * T + [0] * 3])
p_pad = mlm_logits(padded, mask, config, weights)[0, ids.index(sp.piece_to_id("[MASK]"))]
p_pad = np.exp(p_pad - p_pad.max())
p_pad /= p_pad.sum()
p_seen = mlm_logits(padded, np.ones_like(mask), config, weights)[0, ids.index(sp.piece_to_id("[MASK]"))]
p_seen = np.exp(p_seen - p_seen.max())
p_seen /= p_seen.sum()
print(f"three <pad> masked out:  max |change| of the V probabilities {np.abs(p_pad - probs).max():.1e}")
print(f"three <pad> attended to: max |change| {np.abs(p_seen - probs).max():.1e}")
assert np.abs(p_seen - probs).max() > 10 * np.abs(p_pad - probs).max()
check("padded and masked == unpadded (log-probs)", np.log(p_pad), np.log(probs))

# %% [markdown]
# Masked, the padding changes the probabilities by at most float32 rounding: the
# softmax gives the padded keys exp(very negative) = 0, so the sums are the same
# sums. Attended to, the `<pad>` vectors join every sum and the
# guesses move.
#
# Last, the groups. A checkpoint may have `num_hidden_groups` G > 1 (each run
# of L/G applications uses its own weights) and `inner_group_num` > 1 (each
# application runs several different layers in turn). No released ALBERT does
# either. So we make one: a small random `AlbertForMaskedLM` with L = 6
# applications, G = 2 groups of 2 layers each, and the exact `gelu`. We save
# it with the tokenizer and run both implementations on the folder.

# %%
import tempfile

with tempfile.TemporaryDirectory() as folder:
    cfg = albert_np.AlbertConfig(vocab_size=sp.get_piece_size(), embedding_size=32, hidden_size=64,
                                 num_attention_heads=4, intermediate_size=128, num_hidden_layers=6,
                                 num_hidden_groups=2, inner_group_num=2, hidden_act="gelu")
    albert_np.AlbertForMaskedLM(cfg, seed=1).save_pretrained(folder)
    lib_tok.save_pretrained(folder)
    print("groups:", [cfg.group_of_layer(i) for i in range(cfg.num_hidden_layers)],
          "(the library's group of each application)")
    L, G = cfg.num_hidden_layers, cfg.num_hidden_groups
    print("ours:  ", [i * G // L for i in range(L)], "(i * G // L)")
    small_top, small_probs = fill_mask_from_scratch(SENTENCE, folder, TOP_K)
    small_lib = albert_np.fill_mask(SENTENCE, folder, top_k=TOP_K)
    assert [t for _, t, _ in small_top] == [r["token"] for r in small_lib]
    check("2 groups x 2 layers, gelu: log top-k scores", np.log([s for s, _, _ in small_top]),
          np.log([r["score"] for r in small_lib]))

# %% [markdown]
# The two implementations agree here too, so the loop picks the right weights
# for every application. Everything in the library beyond these
# few functions does other work: batches and padding, the other heads,
# gradients, training, the other file formats, and checks on every input.

# %% [markdown]
# ## Exercises
#
# 1. ★ Turn lower-casing off (`lower=False`) for the sentence "The CAT sat on
#    the [MASK]." Which pieces change, and does the top-1 guess change?
# 2. ★★ The layer is shared, so nothing stops you from applying it fewer or more
#    times than `num_hidden_layers`. Run the bundled model with L = 1, 3, 6 and
#    12 applications and print the top-3 guesses for "The cat sat on the [MASK]."
# 3. ★★ Zero the position-embedding table and fill "The cat sat on the [MASK]."
#    again. Which guesses change, and why can the model still tell `[MASK]` from
#    the other tokens?
