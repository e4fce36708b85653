# %% [markdown]
# # Chapter 3: Attention by hand
#
# After the embeddings, each token is a vector of H numbers that knows only
# which piece it is, where it stands, and which sentence it is in. Attention is
# the step where tokens look at each other: every token builds its new vector as
# a weighted average of (transformed) vectors of all the tokens, with weights it
# computes from how well its *query* matches their *keys*.
#
# In this chapter we compute the first layer's attention of the real model by
# hand, on a batch of two sentences of different lengths:
#
# * queries, keys and values from the layer's weights;
# * for one head: scores / √D, the padding mask, softmax, the weighted sum;
# * all heads side by side, the output projection, the residual connection and
#   LayerNorm;
#
# and we check each step against `albert_np.ops.scaled_dot_product_attention`,
# `albert_np.model.albert_attention`, and the attention probabilities the model
# itself reports (`output_attentions=True`).

# %% [markdown]
# **Which model.** This chapter runs on the bundled `albert-tiny-en`. To use another
# checkpoint, set `ALBERT_NP_MODEL` before `tutorial_utils` is imported: in a shell
# `ALBERT_NP_MODEL=/path/to/checkpoint python tutorials/03_attention.py`; in Jupyter run
# `%env ALBERT_NP_MODEL=/path/to/checkpoint` in a cell above the imports (the variable
# is read once, at import; changing it later has no effect until the kernel restarts).

# %%
from tutorial_utils import *

import math

import albert_np
from albert_np import AlbertModel, AlbertTokenizerFast
from albert_np.model import albert_attention
from albert_np.ops import attention_bias, merge_heads, scaled_dot_product_attention, split_heads

tok = AlbertTokenizerFast.from_pretrained(MODEL)
model = AlbertModel.from_pretrained(MODEL)
config = model.config
H, A = config.hidden_size, config.num_attention_heads
D = H // A
print(model, f"  head size D = H / A = {H} / {A} = {D}")

# %% [markdown]
# ## 1. The inputs
#
# Two sentences, padded to the same length. The attention mask has 1 for real
# tokens and 0 for `<pad>`.

# %%
texts = ["The cat sat on the mat because it was tired.", "Dogs bark."]
enc = tok(texts, padding=True, return_tensors="np")
mask = enc["attention_mask"]                                     # (B, T)
B, T = mask.shape
for row in range(B):
    print(tok.convert_ids_to_tokens(enc["input_ids"][row]))
print(mask)

out = model(**enc, output_hidden_states=True, output_attentions=True)
x = out.hidden_states[0]                                         # (B, T, H): the input to layer 1 (chapter 2)
print("layer input x:", x.shape)

# %% [markdown]
# The first layer application uses the weights of group `group_of_layer(0)`
# (group 0; with G = 1 every layer uses them). An attention block has four dense
# layers, each with an (H, H) weight in PyTorch's (out, in) layout and a bias,
# and a LayerNorm.

# %%
layer = model.params["encoder"]["albert_layer_groups"][config.group_of_layer(0)]["albert_layers"][0]
att = layer["attention"]
for name in ("query", "key", "value", "dense"):
    print(f"{name:6s} weight {att[name]['weight'].shape}, bias {att[name]['bias'].shape}")


def dense(x, p):                                   # (..., in) -> (..., out)
    return x @ p["weight"].T + p["bias"]


# %% [markdown]
# ## 2. Queries, keys, values
#
# Every token gets three new vectors, each a linear map of its current vector:
# a *query* (what it is looking for), a *key* (what it offers to be found by),
# and a *value* (what it passes on when found). With A heads, each of the three
# H-vectors is cut into A slices of D numbers, and each head works with its own
# slices only: head h uses dimensions h·D to (h+1)·D.

# %%
q = dense(x, att["query"])                         # (B, T, H)
k = dense(x, att["key"])                           # (B, T, H)
v = dense(x, att["value"])                         # (B, T, H)

h = 0
cols = slice(h * D, (h + 1) * D)
q_h, k_h, v_h = q[..., cols], k[..., cols], v[..., cols]     # (B, T, D) each
print(f"head {h}: q, k, v slices of shape {q_h.shape}")

# %% [markdown]
# ## 3. One head, step by step
#
# **Scores.** Token i's score for token j is the dot product of query i and key j.
# All of them at once is one matrix product per sentence, (T, D) @ (D, T). We
# divide by √D: a dot product of D terms grows like √D, and without the division
# the softmax below would saturate for large heads.

# %%
scores = q_h @ k_h.transpose(0, 2, 1) / math.sqrt(D)          # (B, T, T): row i = query i, column j = key j
print("scores:", scores.shape)

# %% [markdown]
# **Padding mask.** A `<pad>` is not part of the text, so no token may look at it.
# We add a huge negative number to every score in a `<pad>` *column*; after the
# softmax those weights are exactly 0. (Rows of `<pad>` queries are computed too,
# and ignored later.) transformers, and the library, use the most negative float32
# number rather than -∞, so a row of only `<pad>` keys would not produce NaNs.

# %%
very_negative = np.finfo(np.float32).min
bias = np.where(mask[:, None, :] == 1, 0.0, very_negative).astype(np.float32)   # (B, 1, T)
check("our mask bias vs attention_bias", bias, attention_bias(mask, np.float32)[:, 0])
masked = scores + bias                                         # (B, T, T)

# %% [markdown]
# **Softmax** along each row (over the keys) turns scores into weights that are
# positive and sum to 1. Subtracting the row maximum first changes nothing
# mathematically and keeps `exp` from overflowing.

# %%
e = np.exp(masked - masked.max(axis=-1, keepdims=True))
probs = e / e.sum(axis=-1, keepdims=True)                      # (B, T, T)
check("each row sums to 1", probs.sum(-1), np.ones((B, T)))
pad_columns = probs[np.broadcast_to(mask[:, None, :] == 0, probs.shape)]
print(f"{pad_columns.size} weights on <pad> keys; largest: {pad_columns.max() if pad_columns.size else 0.0}")
assert np.all(pad_columns == 0)

# %% [markdown]
# These are the numbers the model reports as its attention probabilities:
# `out.attentions[0]` has shape (B, A, T, T), one (T, T) map per head.

# %%
check(f"head {h} probabilities vs model", probs, out.attentions[0][:, h])

# %% [markdown]
# **Weighted sum.** Token i's output is the weighted average of the value vectors,
# with its row of weights: (T, T) @ (T, D).

# %%
ctx_h = probs @ v_h                                            # (B, T, D)
print("head output:", ctx_h.shape)

# %% [markdown]
# ## 4. All heads
#
# Every head does the same with its own slices; the head outputs are put side by
# side again to give an H-vector per token. The library does all heads in one go
# by reshaping (B, T, H) to (B, A, T, D) (`split_heads`); we loop, and compare.

# %%
def attention_heads_by_hand(q, k, v, mask):
    """All A heads with a Python loop; returns (context (B, T, H), probs (B, A, T, T))."""
    bias = np.where(mask[:, None, :] == 1, 0.0, np.finfo(np.float32).min).astype(np.float32)
    outputs, all_probs = [], []
    for h in range(A):
        cols = slice(h * D, (h + 1) * D)
        s = q[..., cols] @ k[..., cols].transpose(0, 2, 1) / math.sqrt(D) + bias
        e = np.exp(s - s.max(axis=-1, keepdims=True))
        p = e / e.sum(axis=-1, keepdims=True)
        outputs.append(p @ v[..., cols])
        all_probs.append(p)
    return np.concatenate(outputs, axis=-1), np.stack(all_probs, axis=1)


ctx, probs_all = attention_heads_by_hand(q, k, v, mask)        # (B, T, H), (B, A, T, T)
check("head 0 slice == the single head above", ctx[..., :D], ctx_h)

lib_ctx, lib_probs = scaled_dot_product_attention(
    split_heads(q, A), split_heads(k, A), split_heads(v, A),
    attention_bias(mask, np.float32), return_probs=True)      # (B, A, T, D), (B, A, T, T)
check("all heads vs scaled_dot_product_attention", ctx, merge_heads(lib_ctx))
check("all probabilities vs the model's", probs_all, out.attentions[0])

# %% [markdown]
# ## 5. Output projection, residual, LayerNorm
#
# The joined head outputs go through one more dense layer (H → H), which mixes
# the heads. Its result is *added* to the block's input x (the residual
# connection: the block only has to learn a correction to x), and LayerNorm
# (over H this time, with this block's own gamma and beta) normalises each token.

# %%
def layer_norm(y, p, eps):
    mean = y.mean(-1, keepdims=True)
    var = ((y - mean) ** 2).mean(-1, keepdims=True)
    return (y - mean) / np.sqrt(var + eps) * p["weight"] + p["bias"]


a = layer_norm(x + dense(ctx, att["dense"]), att["LayerNorm"], config.layer_norm_eps)   # (B, T, H)
a_lib, _ = albert_attention(x, attention_bias(mask, np.float32), **att, config=config)
check("attention block vs albert_attention", a, a_lib)

# %% [markdown]
# The feed-forward half of the layer, which turns `a` into `hidden_states[1]`, is
# the subject of the next chapter.
#
# ## 6. Padding really is invisible
#
# The mask should make the padded batch give the same result for the real tokens
# of the short sentence as running that sentence alone, without any padding.
# Let us check it with our own functions.

# %%
alone = tok(texts[1], return_tensors="np")
n = alone["input_ids"].shape[1]
x1 = model(**alone, output_hidden_states=True).hidden_states[0]          # (1, n, H)
ctx1, _ = attention_heads_by_hand(dense(x1, att["query"]), dense(x1, att["key"]),
                                  dense(x1, att["value"]), alone["attention_mask"])
a1 = layer_norm(x1 + dense(ctx1, att["dense"]), att["LayerNorm"], config.layer_norm_eps)
check("short sentence: padded batch vs alone", a[1, :n], a1[0])

ctx_nomask, _ = attention_heads_by_hand(q, k, v, np.ones_like(mask))
leak = np.abs(ctx_nomask[1, :n] - ctx[1, :n]).max()
print(f"without the mask the same tokens would change by up to {leak:.3g}")
assert leak > 1e-4

# %% [markdown]
# ## 7. What the heads look at
#
# The attention maps of a few heads for the first sentence (which has no
# padding), in the first layer and the last one (with G = 1 these are the same
# weights, applied to different inputs). Row i shows where token i looks.
# Each panel has its own colour scale, from its smallest weight (white) to its
# largest (darkest), both given in its title: a head that spreads its attention
# evenly has all weights near 1/n for n tokens, and on a 0-to-1 scale it would
# look blank; the colour bar beside each panel gives its scale. We also print
# each map's largest weight next to 1/n to show how far from even it is, the
# token each row attends to most, and how many rows of the head attend most to
# the token just before them, to themselves, to the token just after them, or
# to `[CLS]` / `[SEP]`: heads of trained transformers are often described by
# such habits, and these counts show which habits, if any, this checkpoint's
# heads have on this sentence.

# %%
row = 0
n_tok = int(mask[row].sum())
labels = tok.convert_ids_to_tokens(enc["input_ids"][row][:n_tok])
heads = list(range(min(4, A)))
last = len(out.attentions) - 1
for i, probs_layer in [(0, out.attentions[0]), (last, out.attentions[last])]:
    for hh in heads:
        top = probs_layer[row, hh, :n_tok, :n_tok].argmax(-1)              # (n_tok,)
        biggest = probs_layer[row, hh, :n_tok, :n_tok].max()
        special = np.isin(enc["input_ids"][row][top], [tok.cls_token_id, tok.sep_token_id])
        habits = {"previous": np.sum(top == np.arange(n_tok) - 1), "self": np.sum(top == np.arange(n_tok)),
                  "next": np.sum(top == np.arange(n_tok) + 1), "[CLS]/[SEP]": np.sum(special)}
        print(f"layer {i + 1} head {hh}: largest weight {biggest:.3f} (1/n = {1 / n_tok:.3f}); "
              f"most-attended token per row:", " ".join(labels[j] for j in top))
        print("    rows attending most to " + ", ".join(f"{k}: {v}/{n_tok}" for k, v in habits.items()))

if plt is not None:
    fig, axes = plt.subplots(2, len(heads), figsize=(3.3 * len(heads), 6.8), squeeze=False)
    for r, (i, probs_layer) in enumerate([(0, out.attentions[0]), (last, out.attentions[last])]):
        for c, hh in enumerate(heads):
            ax = axes[r, c]
            weights = probs_layer[row, hh, :n_tok, :n_tok]
            im = ax.imshow(weights, cmap="Blues", vmin=weights.min(), vmax=weights.max())
            fig.colorbar(im, ax=ax, fraction=0.046)
            ax.set_title(f"layer {i + 1}, head {hh}\n{weights.min():.3f} to {weights.max():.3f}", fontsize=9)
            ax.set_xticks(range(n_tok))
            ax.set_xticklabels(labels, rotation=90, fontsize=6)
            ax.set_yticks(range(n_tok))
            ax.set_yticklabels(labels if c == 0 else [], fontsize=6)
    fig.tight_layout()
    show(fig, "03_attention_heads.png")

# %% [markdown]
# ## 8. The same attention, interactive
#
# `albert_np.explain` runs the one forward pass with every attention and hidden
# state kept, and writes one self-contained page (no network) with a head view,
# a model view of every layer application × head, the change each application
# makes, and the masked-LM guesses. In a notebook the page shows inline; from a
# script, `page.save("attention.html")` writes it for a browser. Things to try:
# press ← → to change the head and ↑ ↓ the layer application, hover a token to
# keep only its lines, and click a thumbnail of the model view to open that head.
# Its weights are those of the maps above, stored in 8 bits (within 0.002).

# %%
from albert_np.explain import dense_attention                     # the page's weights, read back

page = albert_np.explain(texts[0], model=MODEL)
att0 = out.attentions[0][0, 0, :n_tok, :n_tok]                   # layer 1, head 0, first sentence
gap = np.abs(dense_attention(page.data, 0, 0) - att0).max()
print(f"page: {len(page.html) / 1e6:.2f} MB, {len(page.data['tokens']['ids'])} tokens; its layer-1 "
      f"head-0 weights are the model's above to {gap:.4f}")
assert gap <= 0.002
page

# %% [markdown]
# ## Exercises
#
# 1. Silence head 0 with `model(**enc, head_mask=np.array([0] + [1] * (A - 1)),
#    output_attentions=True)`. What happens to `attentions[0][:, 0]`? Reproduce
#    the first layer's attention block by hand with that head's context set to
#    zero, and check it.
# 2. Drop the division by √D in `attention_heads_by_hand` and compare the
#    *entropy* of each row of probabilities, -Σ p log p, with and without it. Why
#    does the scaling matter more for large D?
