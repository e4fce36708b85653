# %% [markdown]
# # Chapter 8: Backprop through shared and tied weights
#
# ALBERT saves parameters in two ways. It runs **one** transformer layer `L`
# times (cross-layer sharing), and its masked-language-model head scores the
# vocabulary with the **word-embedding table itself** (the decoder is *tied* to
# the input embeddings). Both tricks mean that a single weight array takes part
# in the computation in several places. What, then, is "the" gradient of such a
# weight?
#
# The chain rule has a plain answer: **the gradient of a weight that is used in
# several places is the sum of the gradients of each use.** In this chapter we
# do not take that on trust. We will
#
# 1. run the forward pass one layer application at a time, with the library's
#    `*_forward` / `*_backward` pairs, and keep each application's gradient in
#    its **own** dictionary;
# 2. add those `L` gradients up and check that the sum is exactly what
#    `backprop.loss_and_grads` returns for the shared layer;
# 3. split the word-embedding gradient into its *lookup* part (the input side)
#    and its *decoder* part (the output side) and check that they add up to the
#    library's gradient;
# 4. nudge single weights in float64 and check by finite differences that the
#    loss responds to the **sum**, and not to any one part alone.

# %% [markdown]
# **Which model.** This chapter runs on the bundled `albert-tiny-en`. To use another checkpoint, set `ALBERT_NP_MODEL` before `tutorial_utils` is imported: in a shell `ALBERT_NP_MODEL=/path/to/checkpoint python tutorials/08_shared_and_tied_gradients.py`; in Jupyter run `%env ALBERT_NP_MODEL=/path/to/checkpoint` in a cell above the imports (the variable is read once, at import; changing it later has no effect until the kernel restarts).

# %%
from tutorial_utils import *

import albert_np
from albert_np import backprop as bp
from albert_np import losses
from albert_np import model as M
from albert_np.step import loss_and_grads
from albert_np.ops import activation
from albert_np.params import flatten, zeros_like_params

# %% [markdown]
# ## A model in float64 and one masked sentence
#
# Gradient checks need float64: a finite difference divides a tiny change of the
# loss by a tiny step, and float32 would drown that change in rounding error.
# `from_pretrained(..., dtype=np.float64)` loads the same weights, only wider.
#
# We use the masked-LM model (`AlbertForMaskedLM`), because it is the one where
# the word embeddings are used twice: once to look up the input tokens, once (as
# the decoder) to score every word of the vocabulary at the masked positions.

# %%
tok = albert_np.AlbertTokenizerFast.from_pretrained(MODEL)
model = albert_np.AlbertForMaskedLM.from_pretrained(MODEL, dtype=np.float64)
c, p = model.config, model.params
L, G, inner = c.num_hidden_layers, c.num_hidden_groups, c.inner_group_num
print(model)
print(f"L = {L} layer applications share G = {G} group(s) of {inner} layer(s)")

text = "The old library was closed for repairs, so the students met in the park instead."
ids = tok(text, return_tensors="np")["input_ids"]           # (1, T)
T = ids.shape[1]
masked = [3, T - 4]                                         # two positions to predict
labels = np.full_like(ids, -100)                            # -100 = "no loss here"
labels[0, masked] = ids[0, masked]
input_ids = ids.copy()
input_ids[0, masked] = tok.mask_token_id
print(" ".join(tok.convert_ids_to_tokens(input_ids[0].tolist())))
print("to predict:", tok.convert_ids_to_tokens(labels[0, masked].tolist()))

# %% [markdown]
# The library's answer comes from one call. `loss_and_grads` runs the forward
# pass, the cross-entropy loss and the whole backward pass, and returns one
# gradient per **distinct** parameter, under Hugging Face's names.

# %%
loss, outputs, grads = loss_and_grads(p, c, "mlm", {"input_ids": input_ids}, {"labels": labels})
print(f"loss = {loss:.6f}   ({len(grads)} gradient arrays)")
print("a decoder weight among them?", any(k.startswith("predictions.decoder") for k in grads))

# %% [markdown]
# There is no `predictions.decoder.weight` among the gradients. The decoder *is*
# the word-embedding table (the very same NumPy array), so it appears only once,
# under `albert.embeddings.word_embeddings.weight`. The gradient container that
# `loss_and_grads` builds with `zeros_like_params` copies that sharing. Where two
# paths of the parameters hold the same array, the two paths of the gradient hold
# the same zero array, so both uses add into one gradient:

# %%
word = p["albert"]["embeddings"]["word_embeddings"]["weight"]
print("decoder weight is the word table:         ", p["predictions"]["decoder"]["weight"] is word)
g = zeros_like_params(p)
print("and so are their gradients (one array):   ",
      g["predictions"]["decoder"]["weight"] is g["albert"]["embeddings"]["word_embeddings"]["weight"])
assert p["predictions"]["decoder"]["weight"] is word
assert g["predictions"]["decoder"]["weight"] is g["albert"]["embeddings"]["word_embeddings"]["weight"]

# %% [markdown]
# ## The forward pass, one application at a time
#
# Now we run the same computation by hand, keeping every application's cache.
# These are the forward functions of `albert_np/model.py`, the very ones
# inference runs; given a `cache` dict, each also stores in it whatever its
# backward (in `albert_np/backprop.py`) will need. With `G` groups, application `i` uses group `int(i / (L / G))`
# (`config.group_of_layer`); every released ALBERT has `G = 1`, so every
# application uses the same layer.

# %%
emb_p, enc_p = p["albert"]["embeddings"], p["albert"]["encoder"]
emb_cache, map_cache = {}, {}
e = M.embeddings(input_ids, np.zeros_like(input_ids), np.arange(T)[None, :], **emb_p,
                 eps=c.layer_norm_eps, cache=emb_cache)                      # (1, T, E)
h = M.embedding_hidden_mapping_in(e, **enc_p["embedding_hidden_mapping_in"],
                                  cache=map_cache)                           # (1, T, E) -> (1, T, H)
act = activation(c.hidden_act)

runs = []                          # (application i, group g, layer j in the group, cache)
for i in range(L):
    grp = c.group_of_layer(i)
    for j, layer in enumerate(enc_p["albert_layer_groups"][grp]["albert_layers"]):
        cache = {}
        h, _ = M.albert_layer(h, None, **layer, config=c, cache=cache)      # (1, T, H)
        runs.append((i, grp, j, cache))

head_cache = {}
logits = M.mlm_head(h, **p["predictions"], act=act, eps=c.layer_norm_eps, cache=head_cache)   # (1, T, V)
my_loss, ce_cache = losses.cross_entropy(logits, labels)
check("loss, by hand vs loss_and_grads", my_loss, loss, atol=1e-12, rtol=1e-12)

# %% [markdown]
# Each cache holds that application's *own* inputs and activations: application
# 3 saw different hidden states from application 0. Only the weights are shared,
# never the caches.
#
# ## The backward pass, with one gradient dictionary per application
#
# The backward functions *add* into the gradient dictionary they are given
# (`+=`). The library passes the same dictionary to all `L` applications, so
# their contributions pile up in one place. We pass each application a **fresh**
# dictionary of zeros instead, so that we can look at every contribution on its
# own.
#
# The head comes first. We give it its own zero gradients too. Because we pass
# only the `predictions` sub-tree, the decoder weight's gradient is a separate
# array here, not the word table's: this is the decoder's share alone.

# %%
dlogits = losses.cross_entropy_backward(np.ones((), np.float64), ce_cache)   # (1, T, V)
head_g = zeros_like_params(p["predictions"])
dh = bp.mlm_head_backward(dlogits, head_cache, head_g)                       # (1, T, V) -> (1, T, H)

per_app = {}                        # (i, j) -> gradients of that one application
for i, grp, j, cache in reversed(runs):                  # last application first
    layer = enc_p["albert_layer_groups"][grp]["albert_layers"][j]
    per_app[i, j] = zeros_like_params(layer)
    dh = bp.albert_layer_backward(dh, cache, per_app[i, j])                  # (1, T, H)

map_g = zeros_like_params(enc_p["embedding_hidden_mapping_in"])
de = bp.embedding_hidden_mapping_in_backward(dh, map_cache, map_g)           # (1, T, H) -> (1, T, E)
emb_g = zeros_like_params(emb_p)
bp.embeddings_backward(de, emb_cache, emb_g, c.pad_token_id)
print(f"{len(per_app)} separate gradient dictionaries, one per layer run")

# %% [markdown]
# ## Check 1: the shared layer's gradient is the sum over its `L` applications
#
# For every weight of the shared layer we add the `L` per-application gradients,
# in the order the backward pass visits them (last application first, as the
# library does), and compare with `loss_and_grads`.

# %%
sums = {}
for grp in range(G):
    for j in range(inner):
        prefix = f"albert.encoder.albert_layer_groups.{grp}.albert_layers.{j}."
        apps = [i for i in reversed(range(L)) if c.group_of_layer(i) == grp]
        for name in flatten(per_app[apps[0], j]):
            total = np.zeros_like(grads[prefix + name])
            for i in apps:
                total += flatten(per_app[i, j])[name]
            sums[prefix + name] = total
check_all("shared layer: sum over applications vs loss_and_grads",
          {name: (total, grads[name]) for name, total in sums.items()}, atol=1e-12, rtol=1e-10)

# %% [markdown]
# They agree to the last bit, or within rounding where the order of additions
# differs. The other weights were used once each, so there is nothing to add up
# for them, and they must simply agree:

# %%
once = {"embedding_hidden_mapping_in." + name: (mine, grads["albert.encoder.embedding_hidden_mapping_in." + name])
        for name, mine in flatten(map_g).items()}
for name in ("position_embeddings.weight", "token_type_embeddings.weight", "LayerNorm.weight"):
    once["embeddings." + name] = (flatten(emb_g)[name], grads["albert.embeddings." + name])
check_all("weights used once vs loss_and_grads", once, atol=1e-12, rtol=1e-10)

# %% [markdown]
# How much does each application contribute? Below is the size (Frobenius norm)
# of each application's gradient for a few of the shared matrices, next to the
# size of the sum. The sum can never be larger than the sizes of its parts added
# together (the triangle inequality). It is equal only when all the parts point
# the same way; the "ratio" line shows how close each matrix comes to that.
#
# Which way do the parts point? The cosine between the gradients of two
# applications i and j is <g_i, g_j> / (|g_i| |g_j|): 1 for the same direction,
# 0 for orthogonal, -1 for opposite. The squared size of the sum is the sum of
# *all* the pairwise dot products, |g_0 + ... + g_{L-1}|^2 = sum_ij <g_i, g_j>,
# so the table of dot products must rebuild the size of the library's gradient.
# That check uses every per-application gradient and can fail if any of them is
# wrong.

# %%
shown = ["attention.query.weight", "attention.dense.weight", "ffn.weight", "ffn_output.weight"]
prefix0 = "albert.encoder.albert_layer_groups.0.albert_layers.0."
apps0 = [i for i in range(L) if c.group_of_layer(i) == 0]
norms = np.array([[np.linalg.norm(flatten(per_app[i, 0])[n]) for n in shown] for i in apps0])  # (L0, 4)
total_norms = np.array([np.linalg.norm(sums[prefix0 + n]) for n in shown])
print("application " + " ".join(f"{n:>24s}" for n in shown))
for i, row in zip(apps0, norms):
    print(f"{i:11d} " + " ".join(f"{x:24.3e}" for x in row))
print(f"{'sum':>11s} " + " ".join(f"{x:24.3e}" for x in total_norms))
print(f"{'ratio':>11s} " + " ".join(f"{x:24.3f}" for x in total_norms / norms.sum(axis=0)))

cosines, rebuilt = {}, {}
for n in shown:
    parts = np.stack([flatten(per_app[i, 0])[n].ravel() for i in apps0])   # (L0, size)
    dots = parts @ parts.T                                               # (L0, L0): <g_i, g_j>
    rebuilt[n] = (dots.sum(), np.sum(grads[prefix0 + n] ** 2))
    cos = dots / np.outer(np.sqrt(np.diag(dots)), np.sqrt(np.diag(dots)))
    cosines[n] = cos[~np.eye(len(apps0), dtype=bool)]                    # the pairs i != j
check_all("|sum|^2 from the <g_i, g_j> table", rebuilt, atol=0, rtol=1e-10)
if len(apps0) > 1:
    for n, off in cosines.items():
        print(f"{n:24s} cosine of two applications' gradients: min {off.min():+.2f}, "
              f"mean {off.mean():+.2f}, max {off.max():+.2f}")

# %% [markdown]
# The matrices differ a lot in scale, so the picture divides every bar by the
# norm of that matrix's summed gradient: the black bars are all 1, and a
# coloured bar shows what fraction of that size one application supplies.

# %%
if plt is not None:
    fig, ax = plt.subplots(figsize=(8, 3.5))
    width = 0.8 / (len(apps0) + 1)
    x = np.arange(len(shown))
    for k, i in enumerate(apps0):
        ax.bar(x + k * width, norms[k] / total_norms, width, label=f"application {i}",
               color=plt.cm.viridis(k / max(1, len(apps0) - 1)))          # early dark, late light
    ax.bar(x + len(apps0) * width, np.ones(len(shown)), width, color="black", label="sum (the gradient)")
    ax.set_xticks(x + 0.4 - width / 2)
    ax.set_xticklabels(shown, fontsize=8)
    ax.set_ylabel("norm / norm of the sum")
    ax.set_title("Gradient of the shared layer: one part per application, and their sum")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1), borderaxespad=0)
    show(fig, "08_per_application_gradients.png")

# %% [markdown]
# ## Check 2: the word embeddings get a lookup part and a decoder part
#
# The table `W` (V rows, E columns) is used twice:
#
# * **lookup**: the input vector of token `t` is row `W[t]`. Only rows of tokens
#   that occur in the input get a gradient from this use;
# * **decoder**: the score of word `v` at a masked position is `W[v] · x + b[v]`.
#   The softmax spreads the loss over the whole vocabulary, so **every** row
#   gets a gradient from this use.

# %%
lookup = emb_g["word_embeddings"]["weight"]                # (V, E): from the input lookup
decoder = head_g["decoder"]["weight"]                      # (V, E): from the tied decoder
check("lookup part + decoder part", lookup + decoder, grads["albert.embeddings.word_embeddings.weight"],
      atol=1e-12, rtol=1e-10)

rows_lookup = np.flatnonzero(np.abs(lookup).sum(axis=1))
rows_decoder = np.flatnonzero(np.abs(decoder).sum(axis=1))
in_input = np.unique(input_ids)
in_input = in_input[in_input != c.pad_token_id]
print(f"rows with a lookup gradient:  {len(rows_lookup):6d}  (distinct input tokens: {len(in_input)})")
print(f"rows with a decoder gradient: {len(rows_decoder):6d}  (vocabulary size V = {c.vocab_size})")
assert set(rows_lookup) <= set(in_input.tolist())
assert len(rows_decoder) == c.vocab_size

# %% [markdown]
# The decoder bias `predictions.decoder.bias` is tied in the same way to
# `predictions.bias`, which is why `loss_and_grads` lists only the latter:

# %%
check("predictions.bias", head_g["bias"], grads["predictions.bias"], atol=1e-12, rtol=1e-10)
assert head_g["decoder"]["bias"] is head_g["bias"]

# %% [markdown]
# ## Check 3: finite differences see the sum, not a part
#
# The final judge is the loss itself. Nudge one weight up and down by a small
# step and measure the slope:
#
#     dLoss/dw  ≈  (Loss(w + eps) - Loss(w - eps)) / (2 eps)
#
# We use the plain inference forward (`model(...)`), which knows nothing about
# caches or gradients. Changing one entry of the shared layer changes it in every
# application at once, and changing a row of the word table changes the lookup
# and the decoder at once. So the measured slope should equal the **sum**.

# %%
def loss_now():
    return float(model(input_ids=input_ids, labels=labels).loss)


def finite_difference(array, index, eps=1e-6):
    old = array[index]
    array[index] = old + eps
    up = loss_now()
    array[index] = old - eps
    down = loss_now()
    array[index] = old                                     # put it back exactly
    return (up - down) / (2 * eps)


check("inference forward loss", loss_now(), loss, atol=1e-10, rtol=1e-10)

# %% [markdown]
# First, the entry of the shared feed-forward weight with the largest gradient:

# %%
name = prefix0 + "ffn.weight"
W = flatten(p)[name]
k = np.unravel_index(np.argmax(np.abs(grads[name])), W.shape)
fd = finite_difference(W, k)
parts = np.array([flatten(per_app[i, 0])["ffn.weight"][k] for i in apps0])
print(f"ffn.weight{tuple(int(a) for a in k)}:  finite difference {fd:+.8e}")
for i, part in zip(apps0, parts):
    print(f"    application {i}: {part:+.8e}")
print(f"    sum of the {len(parts)} parts: {parts.sum():+.8e}")
check("finite difference vs sum of applications", fd, parts.sum(), atol=1e-9, rtol=1e-6)
err_sum = abs(fd - parts.sum())
if len(parts) > 1:
    assert all(abs(fd - part) > 100 * err_sum for part in parts), "one part alone should not match"

# %% [markdown]
# Then an entry of the word-embedding table. We pick a row of a token that is in
# the input, and the column where both parts are large, so that leaving either
# out would clearly show:

# %%
row = int(ids[0, 1])                                        # the first real token of the sentence
col = int(np.argmax(np.minimum(np.abs(lookup[row]), np.abs(decoder[row]))))
fd = finite_difference(word, (row, col))
print(f"word_embeddings[{row} ({tok.convert_ids_to_tokens(row)!r}), {col}]: finite difference {fd:+.8e}")
print(f"    lookup part  {lookup[row, col]:+.8e}")
print(f"    decoder part {decoder[row, col]:+.8e}")
print(f"    sum          {lookup[row, col] + decoder[row, col]:+.8e}")
check("finite difference vs lookup + decoder", fd, lookup[row, col] + decoder[row, col],
      atol=1e-9, rtol=1e-6)
err_sum = abs(fd - (lookup[row, col] + decoder[row, col]))
assert abs(fd - lookup[row, col]) > 100 * err_sum and abs(fd - decoder[row, col]) > 100 * err_sum

# %% [markdown]
# ## What we saw
#
# * A weight used in several places gets the **sum** of the gradients of its
#   uses. For ALBERT's shared layer that is a sum over the `L` applications; for
#   the tied word table, lookup part plus decoder part.
# * The library gets this for free by *accumulating*: every backward does
#   `grads[...] += ...`, and the applications that share weights share one
#   gradient dictionary (`zeros_like_params` keeps tied arrays tied).
# * Each application still needs its **own cache**: the same weights see
#   different inputs at each depth, so their gradient contributions differ.
# * A finite difference, which knows nothing about any of this, agrees with the
#   sum and disagrees with every part on its own.

# %% [markdown]
# ## Exercises
#
# 1. ★ Untie the decoder (give it a copy of the word table) and recompute the
#    gradients. Which new name appears, and how do the two gradients relate to
#    the tied one?
# 2. ★★ Build a config with `num_hidden_groups = 2` and a fresh
#    `albert_np.AlbertForMaskedLM(config, dtype=np.float64)`. Which applications
#    use each group, and does a finite difference on one entry of group 1's
#    `ffn.weight` agree with the gradient `loss_and_grads` gives for it?
