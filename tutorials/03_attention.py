# %% [markdown]
# # Chapter 3: Attention by hand
#
# After the embeddings, each token is a vector of H numbers that knows only
# which piece it is, where it stands, and which sentence it is in. Attention is
# the step where tokens look at each other: every token builds its new vector as
# a weighted average of (transformed) vectors of all the tokens, with weights it
# computes from how well its *query* matches their *keys*.
#
# In this chapter we
#
# * start with a toy: three tokens with hand-made 2-number queries, keys and
#   values, small enough to follow every number;
# * then compute the first layer's attention of the real model by hand, on a
#   batch of two sentences of different lengths: queries, keys and values from
#   the layer's weights; for one head scores / √D, the padding mask, softmax, the
#   weighted sum; all heads side by side, the output projection, the residual
#   connection and LayerNorm;
# * break it twice on purpose (no √D, no padding mask) and measure what changes;
# * find out, by computing averages over a few dozen sentences, which heads
#   of this checkpoint look at the previous token, at themselves, at `[CLS]` or
#   at `[SEP]`;
# * open the same attention in the interactive `albert_np.explain` page.
#
# Each step is checked against `albert_np.ops.scaled_dot_product_attention`,
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

import csv
import math
import os

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
# ## 1. A toy first: three tokens, two numbers each
#
# Forget the model for a moment. Take three tokens, "the", "cat", "sat", and
# give each, by hand, a query, a key and a value of D = 2 numbers:
#
# * "the" asks along the second axis, query (0, 2); "cat" offers exactly that,
#   key (0, 2);
# * "cat" asks along the *negative* first axis, query (-2, 0); "sat" offers
#   that, key (-2, 0) ("the" has key (2, 0), which points the other way);
# * "sat" asks for nothing: its query is (0, 0).
#
# The values are what each token hands over when it is looked at; we make them
# easy to recognise: "the" gives (1, 0), "cat" (0, 1), "sat" (1, 1).
#
# Attention then does three things. **Scores**: row i, column j is query i · key
# j, divided by √D. **Softmax** of each row: the weights with which token i
# reads the others, positive and summing to 1. **Weighted sum**: token i's
# output is its row of weights times the values.
#
# **Predict before you run:** which token will each of the three read most? And
# what will "sat", whose query is all zeros, do?

# %%
toy_tokens = ["the", "cat", "sat"]
Q = np.array([[0., 2.], [-2., 0.], [0., 0.]])     # (3, 2): one query per row
K = np.array([[2., 0.], [0., 2.], [-2., 0.]])     # (3, 2): one key per row
V = np.array([[1., 0.], [0., 1.], [1., 1.]])      # (3, 2): one value per row
toy_D = Q.shape[1]

toy_scores = Q @ K.T / math.sqrt(toy_D)           # (3, 3): row = query, column = key
print("scores = Q K^T / sqrt(2):\n", toy_scores.round(3))

# %% [markdown]
# Now the softmax, one row at a time, and for each row the token it reads most
# and why (the largest query · key in that row, or a tie).

# %%
def softmax_row(s):
    e = np.exp(s - s.max())                       # subtracting the max changes nothing, avoids overflow
    return e / e.sum()


toy_probs = np.stack([softmax_row(s) for s in toy_scores])   # (3, 3)
for i, token in enumerate(toy_tokens):
    row, dots = toy_probs[i], Q[i] @ K.T
    if np.allclose(dots, dots[0]):
        why = f"all its scores are equal ({dots[0]:g}), so it spreads its weight evenly"
    else:
        j = int(row.argmax())
        why = (f"reads '{toy_tokens[j]}' most: its query {Q[i]} · that key {K[j]} = {dots[j]:g}, "
               f"the largest in the row")
    print(f"'{token}': weights {row.round(3)} -> {why}")
assert toy_probs[0].argmax() == 1 and toy_probs[1].argmax() == 2 and np.allclose(toy_probs[2], 1 / 3)

toy_out = toy_probs @ V                           # (3, 3) @ (3, 2) -> (3, 2)
print("outputs = weights @ V:\n", toy_out.round(3))

# %% [markdown]
# "the" comes out close to the value of "cat", (0, 1), and "cat" close to that
# of "sat", (1, 1): each mostly copies what the token it reads hands over. "sat"
# gets the plain average of the three values, (2/3, 2/3): a zero query makes
# every score 0, and a softmax of equal scores is uniform. Note also that the
# weights are never exactly 0 or 1: in the row of "the", a score gap of
# 4/√2 ≈ 2.8 still leaves 0.053 on each of the other two tokens. Larger gaps
# (longer or better aligned vectors) would make the rows sharper.
#
# The library's `scaled_dot_product_attention` does the same with a batch axis
# and a head axis in front, (B, A, T, D); we give it our toy as B = A = 1.

# %%
lib_out, lib_probs = scaled_dot_product_attention(Q[None, None], K[None, None], V[None, None],
                                                  return_probs=True)   # (1, 1, 3, 2), (1, 1, 3, 3)
check_all("toy attention", {"weights": (toy_probs, lib_probs[0, 0]), "outputs": (toy_out, lib_out[0, 0])})

# %% [markdown]
# The real model does exactly this, with T tokens instead of 3, D numbers per
# query instead of 2 (D = H / A, printed at the top), A heads side by side, and
# queries, keys and values that are not made by hand but computed from each
# token's vector by learned weights.
#
# ## 2. The real model: the inputs
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
# ## 3. Queries, keys, values
#
# Every token gets three new vectors, each a linear map of its current vector:
# a *query* (what it is looking for), a *key* (what it offers to be found by),
# and a *value* (what it passes on when found), as in the toy. With A heads,
# each of the three H-vectors is cut into A slices of D numbers, and each head
# works with its own slices only: head h uses dimensions h·D to (h+1)·D.

# %%
q = dense(x, att["query"])                         # (B, T, H)
k = dense(x, att["key"])                           # (B, T, H)
v = dense(x, att["value"])                         # (B, T, H)

h = 0
cols = slice(h * D, (h + 1) * D)
q_h, k_h, v_h = q[..., cols], k[..., cols], v[..., cols]     # (B, T, D) each
print(f"head {h}: q, k, v slices of shape {q_h.shape}")

# %% [markdown]
# ## 4. One head, step by step
#
# **Scores.** Token i's score for token j is the dot product of query i and key j.
# All of them at once is one matrix product per sentence, (T, D) @ (D, T). We
# divide by √D: a dot product of D terms grows like √D, and without the division
# the softmax below would saturate for large heads (section 6 measures it).

# %%
scores = q_h @ k_h.transpose(0, 2, 1) / math.sqrt(D)          # (B, T, T): row i = query i, column j = key j
print("scores:", scores.shape)
one_head = {}                                                  # by-hand results to compare, checked at the end

# %% [markdown]
# **Padding mask.** A `<pad>` is not part of the text, so no token may look at it.
# We add a huge negative number to every score in a `<pad>` *column*; after the
# softmax those weights are exactly 0. (Rows of `<pad>` queries are computed too,
# and ignored later.) transformers, and the library, use the most negative float32
# number rather than -∞, so a row of only `<pad>` keys would not produce NaNs.

# %%
very_negative = np.finfo(np.float32).min
bias = np.where(mask[:, None, :] == 1, 0.0, very_negative).astype(np.float32)   # (B, 1, T)
one_head["mask bias vs attention_bias"] = (bias, attention_bias(mask, np.float32)[:, 0])
masked = scores + bias                                         # (B, T, T)

# %% [markdown]
# **Softmax** along each row (over the keys) turns scores into weights that are
# positive and sum to 1. Subtracting the row maximum first changes nothing
# mathematically and keeps `exp` from overflowing.

# %%
e = np.exp(masked - masked.max(axis=-1, keepdims=True))
probs = e / e.sum(axis=-1, keepdims=True)                      # (B, T, T)
one_head["rows sum to 1"] = (probs.sum(-1), np.ones((B, T)))
pad_columns = probs[np.broadcast_to(mask[:, None, :] == 0, probs.shape)]
print(f"{pad_columns.size} weights on <pad> keys; largest: {pad_columns.max() if pad_columns.size else 0.0}")
assert np.all(pad_columns == 0)

# %% [markdown]
# These are the numbers the model reports as its attention probabilities:
# `out.attentions[0]` has shape (B, A, T, T), one (T, T) map per head.
#
# **Weighted sum.** Token i's output is the weighted average of the value vectors,
# with its row of weights: (T, T) @ (T, D).

# %%
one_head[f"head {h} probabilities vs the model's"] = (probs, out.attentions[0][:, h])
ctx_h = probs @ v_h                                            # (B, T, D)
print("head output:", ctx_h.shape)
check_all(f"one head (head {h})", one_head)

# %% [markdown]
# ## 5. All heads
#
# Every head does the same with its own slices; the head outputs are put side by
# side again to give an H-vector per token. The library does all heads in one go
# by reshaping (B, T, H) to (B, A, T, D) (`split_heads`); we loop, and compare.
# The function takes the scale as an argument, so that section 6 can break it.

# %%
def attention_heads_by_hand(q, k, v, mask, scale=1 / math.sqrt(D)):
    """All A heads with a Python loop; returns (context (B, T, H), probs (B, A, T, T))."""
    bias = np.where(mask[:, None, :] == 1, 0.0, np.finfo(np.float32).min).astype(np.float32)
    outputs, all_probs = [], []
    for h in range(A):
        cols = slice(h * D, (h + 1) * D)
        s = q[..., cols] @ k[..., cols].transpose(0, 2, 1) * scale + bias
        e = np.exp(s - s.max(axis=-1, keepdims=True))
        p = e / e.sum(axis=-1, keepdims=True)
        outputs.append(p @ v[..., cols])
        all_probs.append(p)
    return np.concatenate(outputs, axis=-1), np.stack(all_probs, axis=1)


ctx, probs_all = attention_heads_by_hand(q, k, v, mask)        # (B, T, H), (B, A, T, T)
lib_ctx, lib_probs = scaled_dot_product_attention(
    split_heads(q, A), split_heads(k, A), split_heads(v, A),
    attention_bias(mask, np.float32), return_probs=True)      # (B, A, T, D), (B, A, T, T)
check_all("all heads", {"head 0 slice == the single head above": (ctx[..., :D], ctx_h),
                        "context vs scaled_dot_product_attention": (ctx, merge_heads(lib_ctx)),
                        "probabilities vs the model's": (probs_all, out.attentions[0])})

# %% [markdown]
# **Output projection, residual, LayerNorm.** The joined head outputs go
# through one more dense layer (H → H), which mixes the heads. Its result is
# *added* to the block's input x (the residual connection: the block only has to
# learn a correction to x), and LayerNorm (over H this time, with this block's
# own gamma and beta) normalises each token.

# %%
def layer_norm(y, p, eps):
    mean = y.mean(-1, keepdims=True)
    var = ((y - mean) ** 2).mean(-1, keepdims=True)
    return (y - mean) / np.sqrt(var + eps) * p["weight"] + p["bias"]


def attention_block_by_hand(x, mask, **kw):
    """The whole attention block of layer 1: heads, output projection, residual, LayerNorm."""
    c, _ = attention_heads_by_hand(dense(x, att["query"]), dense(x, att["key"]), dense(x, att["value"]),
                                   mask, **kw)
    return layer_norm(x + dense(c, att["dense"]), att["LayerNorm"], config.layer_norm_eps)   # (B, T, H)


a = attention_block_by_hand(x, mask)
a_lib, _ = albert_attention(x, attention_bias(mask, np.float32), **att, config=config)
check("attention block vs albert_attention", a, a_lib)

# %% [markdown]
# The feed-forward half of the layer, which turns `a` into `hidden_states[1]`, is
# the subject of the next chapter.
#
# ## 6. Break it
#
# Two pieces of the computation above look like details. Remove each in turn
# and measure what happens.
#
# **(a) No √D.** The *entropy* of a row of weights, -Σ p log p, says how spread
# it is: log n for a row spread evenly over n tokens, 0 for a row that puts all
# its weight on one token. We compare the mean entropy of the real tokens' rows
# (all heads, both sentences) with the scaling and without it.
#
# **Predict before you run:** will the rows be sharper or flatter without the
# division?

# %%
def mean_row_entropy(p, mask):
    """Mean of -sum p log p over the rows of real (not <pad>) queries; p: (B, A, T, T)."""
    ent = -np.sum(p * np.log(np.maximum(p, 1e-30)), axis=-1)   # (B, A, T)
    rows = np.broadcast_to(mask[:, None, :] == 1, ent.shape)
    return float(ent[rows].mean())


_, probs_unscaled = attention_heads_by_hand(q, k, v, mask, scale=1.0)
with_scale, without_scale = mean_row_entropy(probs_all, mask), mean_row_entropy(probs_unscaled, mask)
even = float(np.mean([math.log(n) for n in mask.sum(1) for _ in range(int(n))]))
print(f"sqrt(D) = {math.sqrt(D):.1f}. Mean row entropy with /sqrt(D): {with_scale:.3f} nats;  "
      f"without: {without_scale:.3f} nats  (evenly spread rows: {even:.3f})")
assert without_scale <= with_scale + 1e-6

# %% [markdown]
# Dropping the division multiplies every score by √D (printed above), and a
# softmax of larger scores is sharper: the entropy can only go down (it stays
# about the same only where the scores are all close to 0, as in a freshly
# initialised model). Why it matters more for large D: if the D numbers of a
# query and a key are of size about 1 and unrelated, their dot product is a sum
# of D such products, so it is typically √D in size. The lines below show it
# with random vectors: without the division, larger heads give ever sharper
# rows (the entropy falls towards 0, and the gradient through a saturated
# softmax vanishes); with it, the rows stay equally spread whatever D is.

# %%
rng = np.random.default_rng(0)
n_keys = 16
for d in (4, 64, 1024):
    qs, ks = rng.normal(size=(1, 1, n_keys, d)), rng.normal(size=(1, 1, n_keys, d))
    s = qs @ ks.transpose(0, 1, 3, 2)                                          # (1, 1, 16, 16)
    ent = {}
    for label, scale in [("with", 1 / math.sqrt(d)), ("without", 1.0)]:
        z = s * scale
        p = np.exp(z - z.max(-1, keepdims=True))
        p /= p.sum(-1, keepdims=True)
        ent[label] = mean_row_entropy(p, np.ones((1, n_keys)))
    print(f"D = {d:4d}: spread (std) of q.k {s.std():5.1f} (sqrt(D) = {math.sqrt(d):4.1f});  "
          f"mean row entropy with /sqrt(D) {ent['with']:.2f}, without {ent['without']:.2f} "
          f"(even: log {n_keys} = {math.log(n_keys):.2f})")

# %% [markdown]
# **(b) No padding mask.** The mask should make the padded batch give the same
# result for the real tokens of the short sentence as running that sentence
# alone, without any padding. We run the attention block on the short sentence
# alone, and on the padded batch twice: with the mask, and with a mask of all
# ones (so its real tokens may also look at the `<pad>` tokens).

# %%
alone = tok(texts[1], return_tensors="np")
n = alone["input_ids"].shape[1]
x1 = model(**alone, output_hidden_states=True).hidden_states[0]          # (1, n, H)
a_alone = attention_block_by_hand(x1, alone["attention_mask"])           # (1, n, H)
a_nomask = attention_block_by_hand(x, np.ones_like(mask))                 # (B, T, H)
masked_diff = np.abs(a[1, :n] - a_alone[0]).max()
leak = np.abs(a_nomask[1, :n] - a_alone[0]).max()
print(f"short sentence's {n} real tokens, padded batch vs alone: with the mask max |diff| {masked_diff:.1e};  "
      f"without it {leak:.3g}")
assert masked_diff < 1e-4 < leak

# %% [markdown]
# With the mask the padded sentence gives its real tokens what they get alone,
# to float32 rounding. Without it every real token puts some of its weight on
# the `<pad>` tokens, whose values are not zero (a `<pad>` has a word, a
# position and a type vector like any token), so its output changes, and it
# would change again with the amount of padding, i.e. with whatever other
# sentences happen to share the batch.

# %% [markdown]
# ## 7. What do the heads do? Measure it
#
# Heads of trained transformers are often described by habits: a head that
# reads the token just before, one that reads the token itself, one that parks
# its weight on `[CLS]` or `[SEP]`. Rather than look at a few maps and guess,
# we measure each habit for every (layer application, head): over a few dozen
# sentences, the mean weight that a real token's row puts
#
# * on the **previous** token (every row but the first),
# * on **itself**,
# * on **`[CLS]`** and on **`[SEP]`**,
#
# and compare it with what a head that spreads its weight evenly would put
# there: 1/n for a sentence of n tokens, averaged over the same rows.
#
# The sentences are the first SST-2 dev sentences of 5 to 14 words, from the
# shared data folder (`../shared/data` next to the repository, or the folder
# named by `ALBERT_NP_DATA`); without that folder the chapter uses the short
# list written below, so the numbers differ a little between the two.

# %%
HERE = os.path.dirname(os.path.abspath(__file__)) if "__file__" in globals() else os.getcwd()
DATA = os.environ.get("ALBERT_NP_DATA") or os.path.join(HERE, "..", "..", "shared", "data")
sst2_dev = os.path.join(DATA, "glue", "SST-2", "dev.tsv")
FALLBACK = [
    "The children played in the park until it got dark.", "She opened the window to let in some air.",
    "My brother cooked dinner for the whole family.", "The train was late again this morning.",
    "We walked along the river and watched the boats.", "He forgot his umbrella and got very wet.",
    "The old dog slept by the fire all afternoon.", "I have never seen such a beautiful sunset.",
    "They moved to a small town near the sea.", "The teacher asked a question nobody could answer.",
    "Please put the books back on the shelf.", "The film was long, but the ending was worth it.",
    "A cold wind blew across the empty field.", "Our neighbours are painting their house blue.",
    "The baby laughed when the cat jumped.", "He writes a letter to his grandmother every week.",
    "The shop on the corner sells fresh bread.", "It rained all day, so we stayed inside.",
    "The bridge was closed for repairs last year.", "She found an old photograph in the drawer.",
    "The birds sang loudly outside my window.", "I would like a cup of tea, please.",
    "The team won the match in the last minute.", "Nobody knew where the key had gone.",
    "The music was too loud for the small room.", "He read the instructions twice before starting.",
    "The garden is full of flowers in spring.", "We missed the bus and had to walk home.",
    "The doctor told him to rest for a week.", "Her car would not start this morning.",
    "The students listened carefully to the story.", "A small boat sailed slowly into the harbour.",
]
if os.path.isfile(sst2_dev):
    with open(sst2_dev, encoding="utf-8") as f:
        rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))[1:]
    sentences = [r[0].strip() for r in rows if 5 <= len(r[0].split()) <= 14][:32]
    print(f"{len(sentences)} SST-2 dev sentences, e.g. {sentences[0]!r}")
else:
    sentences = FALLBACK
    print(f"no SST-2 dev file under {os.path.normpath(DATA)}: using the {len(sentences)} sentences written above")

batch = tok(sentences, padding=True, return_tensors="np")
real = batch["attention_mask"] == 1                                   # (N, T): real tokens
probs_by_layer = np.stack(model(**batch, output_attentions=True).attentions)   # (L, N, A, T, T)
L, N = probs_by_layer.shape[0], len(sentences)
print(f"{N} sentences, {int(real.sum())} real tokens; attentions of shape (L, N, A, T, T) = {probs_by_layer.shape}")

# %% [markdown]
# For each habit, one (N, T) array per (application, head) of the weight each
# row puts on the target, then the mean over the rows where the habit applies.

# %%
t_idx = np.arange(real.shape[1])
ids_b = batch["input_ids"]
weight_on = {
    "previous": np.concatenate([np.zeros_like(probs_by_layer[..., :1, 0]),
                                probs_by_layer[..., t_idx[1:], t_idx[:-1]]], axis=-1),   # (L, N, A, T)
    "itself": probs_by_layer[..., t_idx, t_idx],                                        # (L, N, A, T)
    "[CLS]": (probs_by_layer * (ids_b == tok.cls_token_id)[None, :, None, None, :]).sum(-1),
    "[SEP]": (probs_by_layer * (ids_b == tok.sep_token_id)[None, :, None, None, :]).sum(-1),
}
rows_for = {"previous": real & (t_idx > 0)[None], "itself": real, "[CLS]": real, "[SEP]": real}
n_real = real.sum(1, keepdims=True)                                           # (N, 1): tokens per sentence
mean_weight, uniform = {}, {}
for habit, w in weight_on.items():
    r = rows_for[habit][None, :, None, :]                                     # (1, N, 1, T)
    mean_weight[habit] = (w * r).sum((1, 3)) / r.sum()                        # (L, A)
    uniform[habit] = float(np.broadcast_to(1 / n_real, real.shape)[rows_for[habit]].mean())

# a spot check of one number, the slow way: head 0 of application 1, weight on itself
slow = np.mean([probs_by_layer[0, b, 0, t, t] for b in range(N) for t in range(int(n_real[b, 0]))])
check("application 1 head 0 on itself, by loops", mean_weight["itself"][0, 0], slow)

# %% [markdown]
# The table lists, for each habit, the three (application, head) pairs with the
# largest mean weight, next to the uniform share. We call a head *strong* in a
# habit when it puts at least 0.3 of its weight there on average: several times
# the uniform share on these sentences (the multiple is printed).

# %%
STRONG = 0.3
print(f"{'habit':9s} {'uniform':>7s}   top three (application, head): mean weight   strong heads (>= {STRONG})")
found = []
for habit, m in mean_weight.items():
    order = np.argsort(m, axis=None)[::-1][:3]
    top = [(int(i // A) + 1, int(i % A), float(m.flat[i])) for i in order]
    strong = [(l + 1, hh) for l, hh in zip(*np.nonzero(m >= STRONG))]
    found += [(m[l - 1, hh] / uniform[habit], habit, l, hh) for l, hh in strong]
    print(f"{habit:9s} {uniform[habit]:7.3f}   " + ",  ".join(f"({l}, {hh}): {w:.2f}" for l, hh, w in top)
          + f"   {len(strong)}")
print(f"(a weight of {STRONG} is {STRONG / uniform['itself']:.0f} times the uniform share on these sentences)")
if found:
    ratio, habit, l_best, h_best = max(found)
    print(f"most marked habit: head {h_best} of application {l_best} puts "
          f"{mean_weight[habit][l_best - 1, h_best]:.2f} of its weight on {habit} on average, "
          f"against {uniform[habit]:.3f} for an evenly spreading head ({ratio:.0f} times as much)")
else:
    l_best, h_best, habit = 1, 0, None
    print(f"no head reaches {STRONG} in any habit: on these sentences every head spreads its weight "
          f"much as a uniform one would; the picture below shows head 0 of application 1")

# %% [markdown]
# Read the printed lines: a head listed as strong has the habit on these
# sentences, with the weight and the multiple of the uniform share printed. On
# a checkpoint with random weights expect no strong head: small random queries
# and keys give scores close to 0, so every row is close to uniform and every
# mean weight close to the uniform share. Note that the table counts (layer
# application, head) pairs: ALBERT applies the same weights L times, but to
# different inputs, so one head can show a habit in one application and not in
# another.
#
# The picture shows the head with the most marked habit (or head 0 of
# application 1 when no head is strong) on the chapter's first sentence. For a
# previous-token head look for a dark line just below the diagonal, for a
# head that reads itself the diagonal, for `[CLS]` or `[SEP]` a dark first or
# last column. Its colour scale runs from the map's smallest weight (white) to
# its largest (darkest), both given in the title.

# %%
n_tok = int(mask[0].sum())
labels = tok.convert_ids_to_tokens(enc["input_ids"][0][:n_tok])
best_map = out.attentions[l_best - 1][0, h_best, :n_tok, :n_tok]              # (n_tok, n_tok)
print(f"application {l_best}, head {h_best} on {texts[0]!r}: weight on the previous token "
      f"{np.diag(best_map, -1).mean():.2f}, on itself {np.diag(best_map).mean():.2f}, "
      f"on [CLS] {best_map[:, 0].mean():.2f}, on [SEP] {best_map[:, -1].mean():.2f} (uniform {1 / n_tok:.3f})")

if plt is not None:
    fig, ax = plt.subplots(figsize=(5.2, 4.6))
    im = ax.imshow(best_map, cmap="Blues", vmin=best_map.min(), vmax=best_map.max())
    fig.colorbar(im, ax=ax, fraction=0.046)
    ax.set_title(f"application {l_best}, head {h_best}" + (f" ({habit})" if habit else "")
                 + f"\n{best_map.min():.3f} to {best_map.max():.3f}", fontsize=9)
    ax.set_xticks(range(n_tok))
    ax.set_xticklabels(labels, rotation=90, fontsize=7)
    ax.set_yticks(range(n_tok))
    ax.set_yticklabels(labels, fontsize=7)
    ax.set_xlabel("key (the token read)")
    ax.set_ylabel("query (the token reading)")
    fig.tight_layout()
    show(fig, "03_attention_head.png")

# %% [markdown]
# ## 8. The same attention, interactive
#
# `albert_np.explain` runs the one forward pass with every attention and hidden
# state kept, and writes one self-contained page (no network) with a head view,
# a model view of every layer application × head, the change each application
# makes, and the masked-LM guesses. In a notebook the page shows inline; from a
# script, `page.save("attention.html")` writes it for a browser. Things to try:
# press ← → to change the head and ↑ ↓ the layer application, hover a token to
# keep only its lines, and click a thumbnail of the model view to open that head
# (try the one the table above singled out). Its weights are those of the maps
# above, stored in 8 bits (within 0.002).

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
# 1. ★ Silence head 0 with `head_mask`. What do the reported attention
#    probabilities of that head become, and do the other heads still sum to 1?
# 2. ★ In the toy of section 1, multiply the query of "the" by 3. Print its row
#    of weights and its output before and after. Which way does the row move,
#    and what would a query 100 times as long do?
# 3. ★★ Section 7 measured the weight on the previous token. Measure the weight
#    on the *next* token the same way, for every (layer application, head) of
#    the bundled model, and print the head with the largest mean next to the
#    largest previous-token mean.
