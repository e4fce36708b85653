# %% [markdown]
# # Chapter 2: Embeddings
#
# The tokenizer gave us integers. The first thing the network does is swap each
# integer for a vector of E numbers, looked up in a learned table. ALBERT adds up
# three such lookups per token (which piece it is, where it stands, which sentence
# it belongs to), normalises the sum, and projects it from E to H dimensions. In
# this chapter you will
#
# * do the three lookups by hand from the weight tables,
# * write LayerNorm out in full (mean and variance over the E numbers),
# * measure how long the word, position and type vectors are, and see what
#   LayerNorm keeps of their sum (its direction) and what it throws away (its
#   length),
# * apply the E→H projection, the "factorised embedding" of chapter 0, and draw
#   it beside the table BERT would need,
# * measure how similar the position vectors of nearby positions are,
#
# and check each result against `albert_np.model` and against the first entry of
# the model's `hidden_states`.

# %% [markdown]
# **Which model.** This chapter runs on the bundled `albert-tiny-en`. To use another
# checkpoint, set `ALBERT_NP_MODEL` before `tutorial_utils` is imported: in a shell
# `ALBERT_NP_MODEL=/path/to/checkpoint python tutorials/02_embeddings.py`; in Jupyter run
# `%env ALBERT_NP_MODEL=/path/to/checkpoint` in a cell above the imports (the variable
# is read once, at import; changing it later has no effect until the kernel restarts).

# %%
from tutorial_utils import *

import albert_np
from albert_np import AlbertModel, AlbertTokenizerFast
from albert_np.model import embedding_hidden_mapping_in, embeddings
from albert_np.ops import layer_norm

tok = AlbertTokenizerFast.from_pretrained(MODEL)
model = AlbertModel.from_pretrained(MODEL)
config = model.config
E, H = config.embedding_size, config.hidden_size
print(model)

# %% [markdown]
# The weights live in a nested dict whose keys follow the state-dict names of
# chapter 0 (`embeddings.word_embeddings.weight` is
# `params["embeddings"]["word_embeddings"]["weight"]`).

# %%
emb = model.params["embeddings"]
W_word = emb["word_embeddings"]["weight"]          # (V, E)
W_pos = emb["position_embeddings"]["weight"]       # (P, E)
W_type = emb["token_type_embeddings"]["weight"]    # (T, E)
gamma, beta = emb["LayerNorm"]["weight"], emb["LayerNorm"]["bias"]   # (E,), (E,)
for name, w in [("word", W_word), ("position", W_pos), ("token type", W_type),
                ("LayerNorm weight", gamma), ("LayerNorm bias", beta)]:
    print(f"{name:17s} {w.shape}")

# %% [markdown]
# ## 1. Three lookups
#
# We use a sentence pair, so that both token types appear.

# %%
enc = tok("The cat sat on the mat.", "It was tired.", return_tensors="np")
ids, types = enc["input_ids"][0], enc["token_type_ids"][0]     # (T,), (T,)
T = len(ids)
positions = np.arange(T)                                         # 0, 1, ..., T-1
print("tokens:   ", tok.convert_ids_to_tokens(ids))
print("ids:      ", ids)
print("types:    ", types)
print("positions:", positions)

# %% [markdown]
# A lookup is just row indexing: row `ids[t]` of the word table is the vector of
# token t. (It is the same as multiplying a one-hot row vector by the table, only
# without the V-1 multiplications by zero.)

# %%
word_vectors = W_word[ids]              # (T, E)
pos_vectors = W_pos[positions]          # (T, E)
type_vectors = W_type[types]            # (T, E)
one_hot = np.zeros((T, config.vocab_size), dtype=W_word.dtype)
one_hot[np.arange(T), ids] = 1
check("lookup == one-hot @ table", word_vectors, one_hot @ W_word)

x = word_vectors + pos_vectors + type_vectors   # (T, E)
print("sum of the three:", x.shape)

# %% [markdown]
# Note what each table knows. The word table holds one vector per piece,
# whatever its context. The position table holds one per position 0..P-1; it is
# the only way the network can tell "dog bites man" from "man bites dog", since
# everything after this treats the tokens as a set. The token-type table has just
# T rows (2): one vector is added to every token of sentence A, the other to every
# token of sentence B.
#
# ## 2. LayerNorm by hand
#
# LayerNorm rescales each token's vector on its own: subtract the mean of its E
# numbers, divide by their standard deviation, then multiply by a learned `gamma`
# and add a learned `beta` (each E numbers long). The variance is the *biased*
# one (divide by E, not E-1), and a tiny epsilon from the config keeps the
# division safe.

# %%
eps = config.layer_norm_eps
mean = x.mean(axis=-1, keepdims=True)                       # (T, 1)
var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)        # (T, 1), biased
normed = (x - mean) / np.sqrt(var + eps)                    # (T, E): mean 0, variance 1 per token
e_by_hand = normed * gamma + beta                           # (T, E)
print(f"eps = {eps};  per-token variances before LayerNorm: {var.ravel()[:4].round(4)} ...")
check_all("normalised rows", {"mean 0": (normed.mean(-1), np.zeros(T)),
                              "variance 1": (normed.var(-1), np.ones(T))}, atol=1e-4)

# %% [markdown]
# The library does exactly this in `albert_np.model.embeddings`. It takes the
# batch as (B, T) arrays, so we add a batch axis of 1.

# %%
e_lib = embeddings(ids[None], types[None], positions[None], **emb, eps=eps)   # (1, T, E)
check("embeddings: by hand vs library", e_by_hand, e_lib[0])

# %% [markdown]
# ## 2b. What LayerNorm keeps, and what it throws away
#
# How long are the three vectors we added, and what does LayerNorm make of
# their sum? The table gives the length (Euclidean norm) of each token's
# vectors: the rows of this sentence, and, for comparison, all rows of the
# word and position tables.

# %%
def norms(rows):                                                # (n, E) -> (n,)
    return np.linalg.norm(rows, axis=-1)


print(f"{'length of':40s} {'mean':>6s} {'min':>6s} {'max':>6s}")
for name, rows in [("word rows of this sentence", word_vectors),
                   ("position rows 0..T-1", pos_vectors),
                   ("type rows of this sentence", type_vectors),
                   ("their sum x", x),
                   ("x after LayerNorm, before gamma, beta", normed),
                   ("x after LayerNorm, with gamma, beta", e_by_hand),
                   (f"all {len(W_word):,} rows of the word table", W_word),
                   (f"all {len(W_pos)} rows of the position table", W_pos)]:
    n_ = norms(rows)
    print(f"{name:40s} {n_.mean():6.3f} {n_.min():6.3f} {n_.max():6.3f}")
ratio = norms(word_vectors).mean() / norms(pos_vectors).mean()
print(f"sqrt(E) = {np.sqrt(E):.3f};  on this checkpoint and sentence the word vectors are on average "
      f"{ratio:.2f} times as long as the position vectors")
check("every normalised row has length sqrt(E)", norms(normed), np.full(T, np.sqrt(E)), atol=1e-4, rtol=1e-4)

# %% [markdown]
# Whatever the lengths going in, every row leaves the normalisation (before
# gamma and beta) with length exactly √E: a mean of 0 and a variance of 1 over E
# numbers mean the squares add up to E. So the length of the sum is thrown away,
# on any checkpoint. What survives is its *direction*, and that does depend on
# how large each of the three parts is. Doubling the whole sum changes nothing;
# doubling only the word vectors tilts the sum towards them, and the output
# changes. The cosine of the sum with its word part and with its position part
# shows the tilt.
#
# **Predict before you run:** which of the two doublings changes LayerNorm's
# output?

# %%
def cosine_rows(a, b):                                          # (n, E), (n, E) -> (n,)
    return np.sum(a * b, -1) / (norms(a) * norms(b))


def ln(y):
    return layer_norm(y, gamma, beta, eps)


x_word2 = 2 * word_vectors + pos_vectors + type_vectors        # (T, E): only the word part doubled
same = np.abs(ln(2 * x) - e_by_hand).max()
changed = np.abs(ln(x_word2) - e_by_hand).max()
print(f"LayerNorm(2 x) vs LayerNorm(x): max |diff| {same:.1e};  "
      f"with only the word vectors doubled: max |diff| {changed:.3f}")
print(f"mean cosine of the sum with its word part {cosine_rows(x, word_vectors).mean():.3f}, "
      f"with its position part {cosine_rows(x, pos_vectors).mean():.3f};  with the word part doubled: "
      f"{cosine_rows(x_word2, word_vectors).mean():.3f} and {cosine_rows(x_word2, pos_vectors).mean():.3f}")
assert same < 1e-5 < changed

# %% [markdown]
# So LayerNorm does not make the three parts equal partners: each counts in
# proportion to its length. A word vector much longer than the position vector
# would drown the position in the direction of the sum, and LayerNorm would keep
# that direction as it is. The table above says how the lengths compare on this
# checkpoint; training is what sets them (a freshly initialised model draws all
# three tables with the same spread, so their rows start about equally long).

# %% [markdown]
# ## 3. From E to H: the factorised embedding
#
# The transformer layers work with H-dimensional vectors, so one dense layer
# (weight of shape (H, E), PyTorch's (out, in) layout) lifts each token from E to
# H. Its weights belong to the encoder.

# %%
mapping = model.params["encoder"]["embedding_hidden_mapping_in"]
W_in, b_in = mapping["weight"], mapping["bias"]              # (H, E), (H,)
h0_by_hand = e_by_hand @ W_in.T + b_in                        # (T, E) -> (T, H)
print(f"{e_by_hand.shape} @ {W_in.T.shape} + {b_in.shape} -> {h0_by_hand.shape}")
e_to_h = {"by hand vs embedding_hidden_mapping_in": (h0_by_hand, embedding_hidden_mapping_in(e_lib, **mapping)[0])}

# %% [markdown]
# The model reports, in `hidden_states`, the input to the first layer followed by
# the output of each of the L layer applications. Entry 0 is what we just built.

# %%
out = model(**enc, output_hidden_states=True)
print(f"{len(out.hidden_states)} hidden states (1 + L = 1 + {config.num_hidden_layers}), "
      f"each {out.hidden_states[0].shape}")
e_to_h["hidden_states[0] vs by hand"] = (h0_by_hand, out.hidden_states[0][0])
check_all("E -> H", e_to_h)

# %% [markdown]
# Note that the E→H projection has no normalisation after it: the vectors enter
# the first layer as the projection leaves them.
#
# ## 4. A look at the tables
#
# First the summed vectors of our sentence before and after LayerNorm (the first
# 48 of the E dimensions), one row per token. Each panel has its own colour scale
# (see its colour bar): the pattern within a row survives LayerNorm, but the
# scale changes, as the standard deviations printed below show.

# %%
print("std of each token's vector before LayerNorm:", x.std(-1)[:5].round(4), "...")
print("std after LayerNorm (before gamma, beta):    ", normed.std(-1)[:5].round(4), "...")

if plt is not None:
    labels = tok.convert_ids_to_tokens(ids)
    k = min(48, E)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    for ax, data, title in [(axes[0], x[:, :k], "word + position + type"),
                            (axes[1], e_by_hand[:, :k], "after LayerNorm")]:
        lim = np.abs(data).max()
        im = ax.imshow(data, cmap="RdBu_r", vmin=-lim, vmax=lim, aspect="auto")
        ax.set_yticks(range(T))
        ax.set_yticklabels(labels, fontsize=7)
        ax.set_xlabel(f"dimension (first {k} of E={E})")
        ax.set_title(title)
        fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    show(fig, "02_embeddings.png")

# %% [markdown]
# Next the position table. The heatmap below shows the cosine similarity between
# the vectors of the first 64 positions, and the curve beside it sums the
# heatmap up by *distance*: the mean similarity of all pairs of positions k
# apart (the mean of the k-th diagonal), for k = 1, 2, ... For vectors drawn at
# random, the cosine of two E-dimensional vectors is about 0, give or take
# 1/√E; that band is shaded on the curve.
#
# A table that has learned word order shows a bright band along the diagonal:
# neighbouring positions get similar vectors, and the similarity falls with the
# distance. The printed numbers say whether this table does: compare the mean
# similarity at distance 1 with the one at distance 16, and both with 1/√E. (A
# freshly initialised table, such as that of a model built with
# `AlbertModel(config)`, has no band: every distance gives about 0.) Past the
# band the mean can fall *below* the random level: positions that far apart
# point in roughly opposite directions. The last few points of the curve average
# only a few pairs each, so they are noisy.

# %%
def cosine_matrix(rows):
    unit = rows / np.linalg.norm(rows, axis=-1, keepdims=True)
    return unit @ unit.T


n_pos = min(64, config.max_position_embeddings)
pos_sim = cosine_matrix(W_pos[:n_pos])                         # (n_pos, n_pos)
by_distance = np.array([np.diag(pos_sim, d).mean() for d in range(1, n_pos)])   # index d-1: distance d
# the same number for distance 1, straight from the table's rows, as a spot check
a_, b_ = W_pos[:n_pos - 1], W_pos[1:n_pos]
check_all("position similarity", {
    "cosine of a vector with itself": (np.diag(pos_sim), np.ones(n_pos)),
    "mean cosine at distance 1, from the rows":
        (by_distance[0], np.mean(np.sum(a_ * b_, -1) / (np.linalg.norm(a_, axis=-1) * np.linalg.norm(b_, axis=-1))))})
chance = 1 / np.sqrt(E)
for d in (1, 2, 4, 8, 16, 32, n_pos - 1):
    if d < n_pos:
        print(f"mean cosine of positions {d:2d} apart: {by_distance[d - 1]:6.3f}")
near, far = by_distance[0], by_distance[15] if n_pos > 16 else by_distance[-1]
print(f"random vectors: 0 +- {chance:.3f}.  Neighbours alike (distance 1 above {chance:.3f}): {near > chance};  "
      f"falls with distance (distance 1 minus distance 16 = {near - far:.3f} > {chance:.3f}): {near - far > chance}")

if plt is not None:
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.3), gridspec_kw={"width_ratios": [1, 1.2]})
    im = axes[0].imshow(pos_sim, cmap="viridis", vmin=-1, vmax=1)
    axes[0].set(title=f"cosine similarity of position vectors 0..{n_pos - 1}",
                xlabel="position", ylabel="position")
    fig.colorbar(im, ax=axes[0], fraction=0.046, label="cosine similarity")
    distances = np.arange(1, n_pos)
    axes[1].plot(distances, by_distance, "-o", ms=3)
    axes[1].axhspan(-chance, chance, color="grey", alpha=0.3, label="random vectors: 0 ± 1/√E")
    axes[1].set(xlabel="distance between positions", ylabel="mean cosine similarity",
                title="similarity against distance", ylim=(-1, 1))
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    show(fig, "02_position_similarity.png")

# %% [markdown]
# ## 5. The factorised embedding, drawn
#
# The two routes from a token id to an H-vector, with this model's sizes: ALBERT's
# narrow V×E table followed by the E→H map (chapter 0's first saving), and the
# V×H table BERT would need for the same H. The numbers in the boxes are
# parameter counts (weights plus biases), taken from the arrays themselves.

# %%
V = config.vocab_size
n_table, n_map = W_word.size, W_in.size + b_in.size
n_bert = V * H
assert W_word.shape == (V, E) and W_in.shape == (H, E) and b_in.shape == (H,)
print(f"ALBERT: V x E table {n_table:,} + E -> H map {n_map:,} = {n_table + n_map:,};  "
      f"BERT: V x H table {n_bert:,} ({n_bert / (n_table + n_map):.1f}x as many)")

if plt is not None:
    from matplotlib.patches import FancyBboxPatch

    fig, ax = plt.subplots(figsize=(11, 3.6))
    ax.set_xlim(0, 11)
    ax.set_ylim(0, 3.6)
    ax.axis("off")

    def box(x, y, w, text, colour):
        ax.add_patch(FancyBboxPatch((x, y), w, 0.8, boxstyle="round,pad=0.05", fc=colour, ec="black"))
        ax.text(x + w / 2, y + 0.4, text, ha="center", va="center", fontsize=8.5)

    def arrow(x0, x1, y):
        ax.annotate("", xy=(x1, y), xytext=(x0, y), arrowprops=dict(arrowstyle="->"))

    for y, name in [(2.4, "ALBERT"), (0.6, "BERT")]:
        ax.text(0.05, y + 1.0, name, fontsize=10, fontweight="bold")
        box(0.05, y, 1.55, f"token id\n(one of V={V:,})", "white")
        arrow(1.65, 1.85, y + 0.4)
    box(1.9, 2.4, 2.6, f"word table  V x E\n{V:,} x {E} = {n_table:,}", "tab:blue")
    arrow(4.55, 4.95, 2.8)
    box(5.0, 2.4, 1.2, f"e\n{E} numbers", "white")
    arrow(6.25, 6.65, 2.8)
    box(6.7, 2.4, 2.4, f"E -> H map (H x E + H)\n{H} x {E} + {H} = {n_map:,}", "tab:orange")
    arrow(9.15, 9.55, 2.8)
    box(9.6, 2.4, 1.3, f"h\n{H} numbers", "white")
    box(1.9, 0.6, 7.2, f"word table  V x H\n{V:,} x {H} = {n_bert:,}", "tab:red")
    arrow(9.15, 9.55, 1.0)
    box(9.6, 0.6, 1.3, f"h\n{H} numbers", "white")
    ax.set_title(f"token id -> H-vector: ALBERT {n_table + n_map:,} parameters, "
                 f"BERT {n_bert:,} (position and type tables, E or H wide, left out)", fontsize=9)
    show(fig, "02_factorised_embedding.png")

# %% [markdown]
# ## Exercises
#
# 1. ★ The model accepts `inputs_embeds` (shape (B, T, E)) instead of
#    `input_ids`. Pass the word vectors of a sentence and check that
#    `hidden_states[0]` is unchanged. Then add a small vector to one token's
#    word vector: which rows of `hidden_states[0]` change, and why?
# 2. ★ With `albert_np.ops.layer_norm`, check that adding a constant to, or
#    doubling, a token's summed embedding changes nothing (up to rounding), and that
#    doubling only its word part does change the result.
# 3. ★★ Print the mean length of the position rows of the bundled model in
#    blocks (0–63, 64–127, 128–255, 256–511) and compare with a freshly
#    initialised `AlbertModel(config)`. Which rows look trained, and what does
#    that suggest about the length of the sequences it was trained on?
