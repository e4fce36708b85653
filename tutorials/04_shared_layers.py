# %% [markdown]
# # Chapter 4: One shared layer, applied L times
#
# BERT stacks L transformer layers, each with its own weights. ALBERT keeps the
# stack but, in every released checkpoint, gives all L positions *the same*
# weights: one layer is built and then applied L times in a row, like a loop
# body. This is the second of ALBERT's two parameter savings (the first is the
# factorised embedding: words are stored in a small size E and mapped up to H).
#
# In this chapter you will:
#
# 1. write the whole encoder loop by hand (embeddings, the E -> H mapping, then
#    `for i in range(L)`) and check every intermediate state against
#    `AlbertModel(..., output_hidden_states=True)`;
# 2. learn the general rule behind the loop: *groups* (G distinct sets of layer
#    weights) and *inner groups* (several layers inside one set), with the index
#    rule `group = int(i / (L / G))` worked out for a few (L, G);
# 3. watch how the hidden state moves from one application to the next, using the
#    two measures of Figure 2 of the ALBERT paper (L2 distance and cosine
#    similarity between a layer's input and output), for the checkpoint and for a
#    randomly initialised model with unshared layers.

# %%
from tutorial_utils import *

import albert_np
from albert_np import AlbertConfig, AlbertModel, AlbertTokenizer
from albert_np.model import albert_layer
from albert_np.ops import activation, layer_norm, linear

model = AlbertModel.from_pretrained(MODEL)
tokenizer = AlbertTokenizer.from_pretrained(MODEL)
config = model.config
L, G = config.num_hidden_layers, config.num_hidden_groups
print(model)
print(f"L = {L} layer applications, G = {G} group(s), inner_group_num = {config.inner_group_num}")

# %% [markdown]
# ## Where the layer weights live
#
# The encoder's parameters sit under `params["encoder"]`. Besides the E -> H
# projection there is a list `albert_layer_groups` with G entries; each entry
# holds a list `albert_layers` with `inner_group_num` layers. Let us count what
# is actually stored, and compare with what L separate layers would cost.

# %%
encoder = model.params["encoder"]
groups = encoder["albert_layer_groups"]
print("groups stored:", len(groups), "| layers per group:", [len(g["albert_layers"]) for g in groups])

def count(tree):
    """Number of numbers in a nested dict/list of arrays."""
    if isinstance(tree, dict):
        return sum(count(v) for v in tree.values())
    if isinstance(tree, list):
        return sum(count(v) for v in tree)
    return tree.size

one_layer = count(groups[0]["albert_layers"][0])
stored = count(groups)
print(f"one layer: {one_layer:,} numbers; all stored layers: {stored:,}")
print(f"L = {L} unshared layers would need {L * config.inner_group_num * one_layer:,} "
      f"({L * config.inner_group_num * one_layer / stored:.0f}x as many)")
assert stored == G * config.inner_group_num * one_layer

# %% [markdown]
# ## The encoder loop, by hand
#
# Here is the whole encoder, written out with nothing but the library's single
# `albert_layer` function (attention block, then feed-forward block, each with a
# residual connection and a LayerNorm after it; see `albert_np/model.py`).
#
# 1. **Embeddings** (size E): word vector + token-type vector + position vector,
#    then LayerNorm.
# 2. **Mapping in**: one linear map from E up to H.
# 3. **The loop**: for application i = 0 .. L-1, pick the group
#    `g = int(i / (L / G))` and run that group's `inner_group_num` layers in turn.
#
# We keep the state after the mapping and after every application: L + 1 arrays,
# which is what `hidden_states` holds. We add the three embeddings in the same
# order as the library (float32 addition is not associative, so another order
# could differ in the last bit).

# %%
def encoder_by_hand(params, config, input_ids):
    """ids (B, T) -> list of L + 1 hidden states (B, T, H), computed step by step."""
    emb = params["embeddings"]
    B, T = input_ids.shape
    x = emb["word_embeddings"]["weight"][input_ids]                  # (B, T) -> (B, T, E)
    x = x + emb["token_type_embeddings"]["weight"][np.zeros((B, T), dtype=int)]  # one segment: type 0
    x = x + emb["position_embeddings"]["weight"][np.arange(T)]       # positions 0 .. T-1
    x = layer_norm(x, emb["LayerNorm"]["weight"], emb["LayerNorm"]["bias"], config.layer_norm_eps)

    h = linear(x, **params["encoder"]["embedding_hidden_mapping_in"])   # (B, T, E) -> (B, T, H)
    states = [h]
    act = activation(config.hidden_act)
    L, G = config.num_hidden_layers, config.num_hidden_groups
    for i in range(L):
        g = int(i / (L / G))                                          # which set of weights
        for layer in params["encoder"]["albert_layer_groups"][g]["albert_layers"]:
            h, _ = albert_layer(h, None, **layer, num_heads=config.num_attention_heads,
                                act=act, eps=config.layer_norm_eps)   # (B, T, H) -> (B, T, H)
        states.append(h)
    return states

text = ("The cat sat on the mat because it was warm. Later that day the dog came in "
        "from the garden and lay down beside it.")
ids = tokenizer(text, return_tensors="np")["input_ids"]              # (1, T)
print("tokens:", ids.shape[1])

ours = encoder_by_hand(model.params, config, ids)
ref = model(input_ids=ids, output_hidden_states=True)
print(len(ours), "hand-made states;", len(ref.hidden_states), "from AlbertModel")
for i, (a, b) in enumerate(zip(ours, ref.hidden_states)):
    check(f"hidden_states[{i}]", a, b)
check("last_hidden_state", ours[-1], ref.last_hidden_state)

# %% [markdown]
# That is the entire encoder. With G = 1 the loop body always picks group 0, so
# the *same* arrays are read L times: the model is deep in computation but
# shallow in parameters.
#
# ## Groups and inner groups
#
# The configuration allows more than one set of weights. `num_hidden_groups` (G)
# says how many distinct sets exist; the L applications are cut into G runs of
# (about) equal length, and run k uses set k. The rule is
# `group = int(i / (L / G))`, which `AlbertConfig.group_of_layer` implements.
# Let us print it for a few (L, G) pairs and check our own one-liner against it.

# %%
for L_, G_ in [(12, 1), (12, 2), (12, 3), (12, 4), (12, 12), (6, 4), (24, 5)]:
    cfg = AlbertConfig(num_hidden_layers=L_, num_hidden_groups=G_, hidden_size=64,
                       num_attention_heads=4, intermediate_size=128)
    rule = [cfg.group_of_layer(i) for i in range(L_)]
    assert rule == [int(i / (L_ / G_)) for i in range(L_)]
    print(f"L={L_:2d} G={G_:2d}: {rule}")

# %% [markdown]
# When G divides L every group runs L/G times in a row. When it does not (L=6,
# G=4, or L=24, G=5) the runs are uneven, but every group is still used, in
# order. G = 1 is ALBERT as released; G = L is BERT's arrangement, one set of
# weights per position.
#
# `inner_group_num` is the other knob: each group holds that many *different*
# layers, run one after another every time the group is applied. So one
# "application" is really `inner_group_num` layers, and `hidden_states` records
# the state only after the whole group has run, while `attentions` gets one entry
# per layer actually run (L * inner_group_num).
#
# Our hand loop already handles both knobs. To prove it on a case the checkpoint
# does not cover, build a small random model with L = 6, G = 3 and two inner
# layers, and compare again.

# %%
toy_config = AlbertConfig(vocab_size=config.vocab_size, embedding_size=16, hidden_size=32,
                          num_attention_heads=4, intermediate_size=64, num_hidden_layers=6,
                          num_hidden_groups=3, inner_group_num=2, hidden_act=config.hidden_act)
toy = AlbertModel(toy_config, seed=1)                  # fresh random weights, as HF initialises
toy_groups = toy.params["encoder"]["albert_layer_groups"]
print("toy: groups", len(toy_groups), "| layers per group", [len(g["albert_layers"]) for g in toy_groups],
      "| group of each application", [toy_config.group_of_layer(i) for i in range(6)])
toy_ref = toy(input_ids=ids, output_hidden_states=True, output_attentions=True)
toy_ours = encoder_by_hand(toy.params, toy_config, ids)
for i, (a, b) in enumerate(zip(toy_ours, toy_ref.hidden_states)):
    check(f"toy hidden_states[{i}]", a, b)
print("attention maps returned:", len(toy_ref.attentions), "= L * inner_group_num =", 6 * 2)
assert len(toy_ref.attentions) == 6 * 2

# %% [markdown]
# ## How the state moves from layer to layer
#
# If the same function is applied again and again, what happens to the vector of
# each token? The ALBERT paper (Figure 2) looks at two numbers for every layer:
# the **L2 distance** between the layer's input and output, and their **cosine
# similarity** (1 means the same direction). We compute both per token and
# average over the tokens of our sentence. `hidden_states[i]` is the input of
# application i and `hidden_states[i + 1]` its output.

# %%
def transitions(states):
    """Per application i: mean over tokens of |out - in| and of cos(in, out)."""
    dist, cos = [], []
    for a, b in zip(states[:-1], states[1:]):
        a, b = a.reshape(-1, a.shape[-1]), b.reshape(-1, b.shape[-1])   # (B*T, H)
        dist.append(float(np.linalg.norm(b - a, axis=-1).mean()))
        cosine = np.sum(a * b, -1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))   # (B*T,)
        cos.append(float(cosine.mean()))
    return np.array(dist), np.array(cos)

dist, cos = transitions(ours)
# the same numbers for one application, written out directly, as a spot check
a, b = ours[0][0], ours[1][0]                                        # (T, H) input and output of layer 0
check("L2 distance, layer 0", dist[0], np.mean(np.sqrt(((b - a) ** 2).sum(-1))), atol=1e-4)
norms = [float(np.linalg.norm(h, axis=-1).mean()) for h in ours]     # mean |h| of each state
print("application   |input|   |output|   L2 distance   cosine similarity   (this checkpoint)")
for i in range(L):
    print(f"{i:11d}   {norms[i]:7.2f}   {norms[i + 1]:8.2f}   {dist[i]:11.3f}   {cos[i]:17.3f}")

# %% [markdown]
# Look at the lengths first. Every application ends with a LayerNorm, whose
# output has mean 0 and variance 1 over the H features before the learned scale
# and shift: its length *before* scale and shift is exactly sqrt(H) (up to eps),
# and after them roughly sqrt(H) times the typical size of the learned scale (the
# next cell prints that estimate beside the measured lengths). The input of the
# *first* application is different: it is the raw output of the E -> H linear
# map, with no LayerNorm after it, and its length is whatever that map produces.
# So the first L2 distance mostly measures a change of length (compare the
# `|input|` and `|output|` columns), while the later ones compare vectors of
# similar length and mostly measure a change of direction. The cosine
# similarity ignores length altogether, which is why the paper shows both.

# %%
w_ln = groups[-1]["albert_layers"][-1]["full_layer_layer_norm"]["weight"]
print(f"sqrt(H) = {np.sqrt(config.hidden_size):.2f};  sqrt(H) * rms(LayerNorm scale) = "
      f"{np.sqrt(config.hidden_size) * np.sqrt(np.mean(w_ln ** 2)):.2f}")
print(f"measured |output| of the applications: {np.array2string(np.array(norms[1:]), precision=2)}")
print(f"measured |input| of the first one (after the E -> H map): {norms[0]:.2f}")

# %% [markdown]
# For contrast, build a model of the same sizes in which every application has
# its own weights (G = L, BERT's arrangement), freshly initialised, and one with
# shared weights (G = 1), also freshly initialised. Neither has seen any data, so
# these curves say nothing about what training does; they show what the measures
# look like before any learning, which is the baseline the trained curve should
# be read against.

# %%
def random_model(G):
    cfg = config.copy()
    cfg.num_hidden_groups = G
    return AlbertModel(cfg, seed=0)

contrast = {}
for G_, name in [(L, f"random, unshared (G={L})"), (1, "random, shared (G=1)")]:
    m = random_model(G_)
    contrast[name] = transitions(list(m(input_ids=ids, output_hidden_states=True).hidden_states))
contrast["this checkpoint"] = (dist, cos)
for name, (d, c) in contrast.items():
    print(f"{name:26s} L2: {np.array2string(d, precision=2)}   cos: {np.array2string(c, precision=3)}")
d_random = contrast[f"random, unshared (G={L})"][0]
assert d_random[0] > 2 * d_random[1:].max()      # the first jump is there without any training

# %% [markdown]
# Two things to read off these rows. First, the large first distance appears in
# the random models too, so it is the length change explained above, not
# something learned. Second, with weights drawn with standard deviation
# `initializer_range`, the attention and feed-forward branches add only a little
# to the residual path, so a random layer mostly passes its input through; the
# random models' cosine similarities are the "no learning" baseline. Where the
# checkpoint's cosine similarity lies below that baseline, its layers turn the
# vectors more than random ones do: that turning was learned. The paper reports
# that with shared weights the transitions are smoother than BERT's (trained,
# unshared) ones; you can look at a full-size model by setting
# `ALBERT_NP_MODEL=albert/albert-base-v2`.

# %%
if plt is not None:
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    x = np.arange(L)
    for name, (d, c) in contrast.items():
        style = "-o" if name == "this checkpoint" else "--."
        axes[0].plot(x, d, style, label=name)
        axes[1].plot(x, c, style, label=name)
    axes[0].set(xlabel="layer application", ylabel="mean L2 distance in -> out", title="L2 distance")
    axes[1].set(xlabel="layer application", ylabel="mean cosine(in, out)", title="Cosine similarity")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    show(fig, "04_layer_transitions.png")

# %% [markdown]
# ## Summary
#
# * ALBERT's encoder is a loop: `for i in range(L): h = layer_g(h)` with
#   `g = int(i / (L / G))`, and `G = 1` in every released checkpoint.
# * Each group can hold `inner_group_num` layers run back to back; `hidden_states`
#   records one state per group application, `attentions` one map per layer run.
# * Sharing divides the encoder's layer parameters by L / G, but not the compute:
#   every application still costs a full layer.

# %% [markdown]
# ## Exercises
#
# 1. Unroll the loop: take the checkpoint, build a config with `num_hidden_groups = L`,
#    and fill every group with a *copy* of the single shared layer
#    (`copy.deepcopy`). Check with `check` that the outputs are unchanged. How many
#    parameters does the unrolled model report (`num_parameters()`)?
# 2. Run the shared layer more times than it was trained for: set
#    `config.num_hidden_layers = 2 * L` on a copy of the model's config and
#    continue the transitions plot. Does the state keep moving, or settle?
