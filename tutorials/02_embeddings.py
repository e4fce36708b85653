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
# * apply the E→H projection, the "factorised embedding" of chapter 0,
#
# and check each result against `albert_np.model` and against the first entry of
# the model's `hidden_states`.

# %%
from tutorial_utils import *

import albert_np
from albert_np import AlbertModel, AlbertTokenizerFast
from albert_np.model import embedding_hidden_mapping_in, embeddings

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
check("normalised rows have mean 0", normed.mean(-1), np.zeros(T), atol=1e-5)
check("...and variance 1", normed.var(-1), np.ones(T), atol=1e-4)

# %% [markdown]
# The library does exactly this in `albert_np.model.embeddings`. It takes the
# batch as (B, T) arrays, so we add a batch axis of 1.

# %%
e_lib = embeddings(ids[None], types[None], positions[None], **emb, eps=eps)   # (1, T, E)
check("embeddings: by hand vs library", e_by_hand, e_lib[0])

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
check("E->H: by hand vs library", h0_by_hand, embedding_hidden_mapping_in(e_lib, **mapping)[0])

# %% [markdown]
# The model reports, in `hidden_states`, the input to the first layer followed by
# the output of each of the L layer applications. Entry 0 is what we just built.

# %%
out = model(**enc, output_hidden_states=True)
print(f"{len(out.hidden_states)} hidden states (1 + L = 1 + {config.num_hidden_layers}), "
      f"each {out.hidden_states[0].shape}")
check("hidden_states[0] vs by hand", h0_by_hand, out.hidden_states[0][0])

# %% [markdown]
# Note that the E→H projection has no normalisation after it: the vectors enter
# the first layer as the projection leaves them.
#
# ## 4. A look at the tables
#
# Left: the summed vectors of our sentence before and after LayerNorm (the first
# 48 of the E dimensions), one row per token. Each panel has its own colour
# scale: the pattern within a row survives LayerNorm, but the scale changes, as
# the standard deviations printed below show. Right: the cosine similarity between the
# position vectors of the first 64 positions. (This model is weakly trained, so do
# not read too much into the patterns; for a well-trained checkpoint, neighbouring
# positions tend to get similar vectors, which shows as a bright band along the
# diagonal.)

# %%
def cosine_matrix(rows):
    unit = rows / np.linalg.norm(rows, axis=-1, keepdims=True)
    return unit @ unit.T


print("std of each token's vector before LayerNorm:", x.std(-1)[:5].round(4), "...")
print("std after LayerNorm (before gamma, beta):    ", normed.std(-1)[:5].round(4), "...")
n_pos = min(64, config.max_position_embeddings)
pos_sim = cosine_matrix(W_pos[:n_pos])                         # (n_pos, n_pos)
check("cosine of a vector with itself", np.diag(pos_sim), np.ones(n_pos), atol=1e-5)
near = np.mean(np.diag(pos_sim, 1))
far = np.mean(pos_sim[np.triu_indices(n_pos, 16)])
print(f"mean cosine, neighbouring positions: {near:.3f};  positions 16+ apart: {far:.3f}")

if plt is not None:
    labels = tok.convert_ids_to_tokens(ids)
    k = min(48, E)
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.5), gridspec_kw={"width_ratios": [1, 1, 1.1]})
    for ax, data, title in [(axes[0], x[:, :k], "word + position + type"),
                            (axes[1], e_by_hand[:, :k], "after LayerNorm")]:
        lim = np.abs(data).max()
        ax.imshow(data, cmap="RdBu_r", vmin=-lim, vmax=lim, aspect="auto")
        ax.set_yticks(range(T))
        ax.set_yticklabels(labels, fontsize=7)
        ax.set_xlabel(f"dimension (first {k} of E={E})")
        ax.set_title(title)
    im = axes[2].imshow(pos_sim, cmap="viridis", vmin=-1, vmax=1)
    axes[2].set_title(f"cosine similarity of position vectors 0..{n_pos - 1}")
    axes[2].set_xlabel("position")
    axes[2].set_ylabel("position")
    fig.colorbar(im, ax=axes[2], fraction=0.046)
    fig.tight_layout()
    show(fig, "02_embeddings.png")

# %% [markdown]
# ## Exercises
#
# 1. The model accepts `inputs_embeds` (shape (B, T, E)) instead of `input_ids`.
#    Pass `word_vectors[None]` and check that `hidden_states[0]` is unchanged.
#    Then add a small vector to one token's word vector: which entries of
#    `hidden_states[0]` change, and which stay the same? Why?
# 2. LayerNorm subtracts the mean, so adding the same constant to all E numbers of
#    a token's sum changes nothing. Verify it. Does the same hold for multiplying
#    the sum by 2? What does that tell you about how large the word vectors may be
#    relative to the position vectors?
