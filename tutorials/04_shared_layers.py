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
# 1. count the layer weights the model really stores, and match them against
#    the checkpoint file's tensor names;
# 2. finish the layer that chapter 3 began: the feed-forward block (W_1, the
#    `gelu_new` activation written out from its formula, W_2, the residual and
#    the LayerNorm), checked step by step against the library;
# 3. write the whole encoder loop by hand (embeddings, the E -> H mapping, then
#    `for i in range(L)`) and check every intermediate state against
#    `AlbertModel(..., output_hidden_states=True)`;
# 4. learn the general rule behind the loop: *groups* (G distinct sets of layer
#    weights) and *inner groups* (several layers inside one set), with the index
#    rule `group = int(i / (L / G))` worked out for a few (L, G), and drawn;
# 5. watch how the hidden state moves from one application to the next, using the
#    two measures of Figure 2 of the ALBERT paper (L2 distance and cosine
#    similarity between a layer's input and output), for the checkpoint and for
#    randomly initialised models;
# 6. put everything together: the whole model, from token ids to
#    `last_hidden_state` and the pooled vector, built only from functions written
#    in these chapters, and matched against `AlbertModel` on a padded batch.

# %% [markdown]
# **Which model.** This chapter runs on the bundled `albert-tiny-en`. To use another
# checkpoint, set `ALBERT_NP_MODEL` before `tutorial_utils` is imported: in a shell
# `ALBERT_NP_MODEL=/path/to/checkpoint python tutorials/04_shared_layers.py`; in Jupyter run
# `%env ALBERT_NP_MODEL=/path/to/checkpoint` in a cell above the imports (the variable
# is read once, at import; changing it later has no effect until the kernel restarts).

# %%
from tutorial_utils import *

import math

import albert_np
from albert_np import AlbertConfig, AlbertModel, AlbertTokenizer
from albert_np.formats.checkpoint import load_state_dict
from albert_np.model import albert_attention, albert_layer, feed_forward
from albert_np.ops import activation, gelu, gelu_new, layer_norm, linear

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
# holds a list `albert_layers` with `inner_group_num` layers. The config's rule
# is therefore G x inner_group_num layers, each with the same 16 arrays (query,
# key, value and output dense with their biases, two LayerNorms, the two
# feed-forward matrices with their biases). Let us list the arrays the model
# actually holds, under their state-dict names, check them against that rule,
# and check them against the names and numbers in the checkpoint file.

# %%
encoder = model.params["encoder"]
groups = encoder["albert_layer_groups"]
print("groups stored:", len(groups), "| layers per group:", [len(g["albert_layers"]) for g in groups])


def leaves(tree, prefix):
    """[(state-dict name, array)] of every array in a nested dict / list."""
    if isinstance(tree, dict):
        return [leaf for k, v in tree.items() for leaf in leaves(v, f"{prefix}.{k}")]
    if isinstance(tree, list):
        return [leaf for i, v in enumerate(tree) for leaf in leaves(v, f"{prefix}.{i}")]
    return [(prefix, tree)]


held = dict(leaves(groups, "encoder.albert_layer_groups"))           # what the model holds
ONE_LAYER = ["attention.query.weight", "attention.query.bias", "attention.key.weight", "attention.key.bias",
             "attention.value.weight", "attention.value.bias", "attention.dense.weight", "attention.dense.bias",
             "attention.LayerNorm.weight", "attention.LayerNorm.bias", "ffn.weight", "ffn.bias",
             "ffn_output.weight", "ffn_output.bias", "full_layer_layer_norm.weight", "full_layer_layer_norm.bias"]
rule = {f"encoder.albert_layer_groups.{g}.albert_layers.{j}.{leaf}"
        for g in range(G) for j in range(config.inner_group_num) for leaf in ONE_LAYER}
assert set(held) == rule, sorted(set(held) ^ rule)
assert len({id(a) for a in held.values()}) == len(rule)             # all distinct arrays, none aliased
print(f"the model holds {len(held)} layer arrays = G x inner_group_num x 16 = "
      f"{G} x {config.inner_group_num} x {len(ONE_LAYER)}")

state, _ = load_state_dict(MODEL)                                     # the file, read again
in_file = {k[len("albert."):] if k.startswith("albert.") else k: v for k, v in state.items()
           if ".albert_layer_groups." in k}
assert set(in_file) == set(held), sorted(set(in_file) ^ set(held))
for name, array in held.items():
    assert np.array_equal(array, in_file[name].astype(array.dtype)), name
one_layer = sum(held[f"encoder.albert_layer_groups.0.albert_layers.0.{leaf}"].size for leaf in ONE_LAYER)
stored = sum(a.size for a in in_file.values())
print(f"the file has the same {len(in_file)} names and numbers: {stored:,} layer parameters, "
      f"{one_layer:,} per layer")
print(f"L = {L} unshared layers would need {L * config.inner_group_num * one_layer:,} "
      f"({L * config.inner_group_num * one_layer / stored:.0f}x as many)")

# %% [markdown]
# ## Inside the layer: the feed-forward block
#
# Chapter 3 computed the first half of a layer, the attention block, and stopped
# at its output `a`. The second half works on each token on its own:
#
#     u = a W_1^T + b_1          (H -> F: the "intermediate" width, 4H in ALBERT)
#     g = gelu_new(u)            elementwise
#     f = g W_2^T + b_2          (F -> H)
#     out = LayerNorm(a + f)     residual connection, then this layer's last LayerNorm
#
# `gelu_new` is the tanh approximation of the GELU activation that ALBERT v2
# uses (`hidden_act` in config.json):
#
#     gelu_new(x) = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
#
# We write each step out and check it against the library: the activation
# against `albert_np.ops.gelu_new`, W_1 and the activation's output against what
# `albert_np.model.feed_forward` keeps in its cache (the input and output of its
# activation), f against `feed_forward` itself, and the whole layer against
# `albert_layer` and the model's `hidden_states[1]`.

# %%
text = ("The cat sat on the mat because it was warm. Later that day the dog came in "
        "from the garden and lay down beside it.")
ids = tokenizer(text, return_tensors="np")["input_ids"]              # (1, T)
print("tokens:", ids.shape[1])
ref = model(input_ids=ids, output_hidden_states=True)
x = ref.hidden_states[0]                                              # (1, T, H): the input of application 0
layer0 = groups[config.group_of_layer(0)]["albert_layers"][0]
A, eps = config.num_attention_heads, config.layer_norm_eps
a, _ = albert_attention(x, None, **layer0["attention"], config=config)   # chapter 3: (1, T, H)

W_1, b_1 = layer0["ffn"]["weight"], layer0["ffn"]["bias"]              # (F, H), (F,)
W_2, b_2 = layer0["ffn_output"]["weight"], layer0["ffn_output"]["bias"]  # (H, F), (H,)
print(f"W_1 {W_1.shape}, b_1 {b_1.shape}, W_2 {W_2.shape}, b_2 {b_2.shape}, hidden_act = {config.hidden_act!r}")


def gelu_new_by_hand(x):
    """0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), elementwise."""
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x * x * x)))


grid = np.linspace(-6, 6, 1201, dtype=np.float32)
check("gelu_new by hand vs ops.gelu_new", gelu_new_by_hand(grid), gelu_new(grid))
print(f"largest gap to the exact GELU x Phi(x) on [-6, 6]: {np.abs(gelu_new(grid) - gelu(grid)).max():.1e}")

# The model's own activation: gelu_new (and its other names) is the formula above.
uses_gelu_new = activation(config.hidden_act) is gelu_new
act_by_hand = gelu_new_by_hand if uses_gelu_new else activation(config.hidden_act)
if not uses_gelu_new:
    print(f"this checkpoint uses {config.hidden_act!r}, not gelu_new: the steps below use the library's")

u = a @ W_1.T + b_1                                                    # (1, T, H) -> (1, T, F)
g = act_by_hand(u)                                                     # (1, T, F)
f = g @ W_2.T + b_2                                                    # (1, T, F) -> (1, T, H)
cache = {}
f_lib = feed_forward(a, layer0["ffn"], layer0["ffn_output"], activation(config.hidden_act), cache=cache)
check("W_1 a + b_1 vs the library's activation input", u, cache["activation"]["x"])
check("activation vs the library's", g.reshape(-1, g.shape[-1]), cache["ffn_output"]["x"])
check("W_2 g + b_2 vs model.feed_forward", f, f_lib)


def layer_norm_by_hand(y, p, eps):                                     # (..., H) -> (..., H)
    """(y - mean) / sqrt(var + eps) * weight + bias, over the last axis (chapter 2)."""
    mean = y.mean(-1, keepdims=True)
    var = ((y - mean) ** 2).mean(-1, keepdims=True)
    return (y - mean) / np.sqrt(var + eps) * p["weight"] + p["bias"]


out = layer_norm_by_hand(a + f, layer0["full_layer_layer_norm"], eps)   # (1, T, H)
out_lib, _ = albert_layer(x, None, **layer0, config=config)
check("residual + LayerNorm vs model.albert_layer", out, out_lib)
if config.inner_group_num == 1:                                        # one layer per application
    check("...vs the model's hidden_states[1]", out, ref.hidden_states[1])

# %% [markdown]
# The feed-forward block is where most of a layer's parameters are: W_1 and W_2
# hold 2 x H x F numbers, against 4 x H x H for the four attention matrices, so
# with F = 4H it is two thirds of the layer.

# %%
n_ffn = W_1.size + b_1.size + W_2.size + b_2.size
print(f"feed-forward: {n_ffn:,} of the layer's {one_layer:,} parameters ({n_ffn / one_layer:.0%})")

# %% [markdown]
# ## The encoder loop, by hand
#
# Here is the whole encoder, written out with nothing but the library's single
# `albert_layer` function (attention block, then feed-forward block, each with a
# residual connection and a LayerNorm after it; see `albert_np/model.py`), which
# we have just rebuilt by hand. (The last section replaces it by our own
# functions as well.)
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
    L, G = config.num_hidden_layers, config.num_hidden_groups
    for i in range(L):
        g = int(i / (L / G))                                          # which set of weights
        for layer in params["encoder"]["albert_layer_groups"][g]["albert_layers"]:
            h, _ = albert_layer(h, None, **layer, config=config)   # (B, T, H) -> (B, T, H)
        states.append(h)
    return states

ours = encoder_by_hand(model.params, config, ids)
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
# A picture of the loop, with this model's sizes: the data flows down the left
# column, through L applications; each application reads the weights of its
# group on the right. Beside it, the same L with G = 3 (or G = 1 when this model
# already has several groups), so that the rule `int(i / (L / G))` is visible.

# %%
def layer_size(H, F):
    """Parameters of one layer: 4 (H x H + H) attention maps, 2 LayerNorms, W_1, b_1, W_2, b_2."""
    return 4 * (H * H + H) + 2 * 2 * H + (F * H + F) + (H * F + H)


check("one layer: formula vs the arrays held", layer_size(config.hidden_size, config.intermediate_size),
      one_layer, 0, 0)


def draw_encoder(ax, cfg, title):
    """The encoder of cfg as boxes: embeddings, E -> H, L applications, each joined to its group."""
    from matplotlib.patches import FancyBboxPatch
    L_, G_, inner = cfg.num_hidden_layers, cfg.num_hidden_groups, cfg.inner_group_num
    E_, H_, F_, A_ = cfg.embedding_size, cfg.hidden_size, cfg.intermediate_size, cfg.num_attention_heads
    per_group = inner * layer_size(H_, F_)
    rows = L_ + 3                                      # embeddings, E -> H, L applications, output
    ax.set_xlim(0, 10)
    ax.set_ylim(rows, -1)
    ax.axis("off")
    ax.set_title(title, fontsize=9)

    def box(x, y, w, h, text, colour, size=7.5):
        ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.03", fc=colour, ec="black"))
        ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=size)

    box(0.2, 0.1, 4.2, 0.8, f"embeddings: V x E = {cfg.vocab_size:,} x {E_}", "tab:blue")
    box(0.2, 1.1, 4.2, 0.8, f"E -> H map: {E_} -> {H_}", "tab:orange")
    for i in range(L_):
        g_ = int(i / (L_ / G_))
        rule_text = f"  (g = int({i} / ({L_} / {G_})) = {g_})" if G_ > 1 else ""
        box(0.2, i + 2.15, 4.2, 0.7, f"application {i}: group {g_}{rule_text}", "white", 7)
    box(0.2, L_ + 2.1, 4.2, 0.8, f"last_hidden_state (B, T, {H_}) -> pooler", "tab:green")
    for y in range(L_ + 2):
        ax.annotate("", xy=(2.3, y + 1.1), xytext=(2.3, y + 0.9), arrowprops=dict(arrowstyle="->"))
    for g_ in range(G_):
        apps = [i for i in range(L_) if int(i / (L_ / G_)) == g_]
        top, bottom = apps[0] + 2.15, apps[-1] + 2.85
        box(6.0, top, 3.8, bottom - top, f"layer weights, group {g_}\n{inner} layer(s): attention + FFN\n"
            f"H={H_}, A={A_}, F={F_}\n{per_group:,} parameters", "tab:purple" if G_ > 1 else "plum", 7)
        for i in apps:
            ax.plot([4.4, 6.0], [i + 2.5, (top + bottom) / 2], color="grey", lw=0.8)


other = config.copy()
other.num_hidden_groups = min(3, L) if G == 1 else 1
if plt is not None:
    fig, axes = plt.subplots(1, 2, figsize=(13, 0.42 * (L + 4) + 1))
    draw_encoder(axes[0], config, f"this model: L = {L}, G = {G}")
    draw_encoder(axes[1], other, f"the same with G = {other.num_hidden_groups} (not a released checkpoint)")
    fig.tight_layout()
    show(fig, "04_shared_layer_diagram.png")

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

contrast, random_states = {}, {}
for G_, name in [(L, f"random, unshared (G={L})"), (1, "random, shared (G=1)")]:
    m = random_model(G_)
    random_states[name] = list(m(input_ids=ids, output_hidden_states=True).hidden_states)
    contrast[name] = transitions(random_states[name])
contrast["this checkpoint"] = (dist, cos)
for name, (d, c) in contrast.items():
    print(f"{name:26s} L2: {np.array2string(d, precision=2)}   cos: {np.array2string(c, precision=3)}")

# %% [markdown]
# How much of each distance is a change of *length*, and how much a change of
# *direction*? For one token with input a and output b, the law of cosines
# splits the squared distance exactly in two:
#
#     |b - a|^2 = (|b| - |a|)^2 + 2 |a| |b| (1 - cos(a, b))
#                 length part     turn part
#
# We compute both parts per token (in float64, so that the identity can be
# checked tightly), average them over the tokens, and print the share of the
# length part in each application's mean squared distance.
#
# For the random models we can say in advance what must come out. Fresh
# LayerNorms have weight 1 and bias 0, so every application's output has length
# sqrt(H) exactly (up to eps); the input of application i > 0 is the output of
# application i - 1, so the length part of every later application is 0, and
# the length part of the first is the mean of (sqrt(H) - |input|)^2 over the
# tokens. We check all three; they hold for any config, trained or not.

# %%
def length_and_turn(states):
    """Per application: mean over tokens of |b - a|^2, of (|b| - |a|)^2, of 2 |a||b| (1 - cos)."""
    rows = []
    for a, b in zip(states[:-1], states[1:]):
        a = a.reshape(-1, a.shape[-1]).astype(np.float64)                # (B*T, H)
        b = b.reshape(-1, b.shape[-1]).astype(np.float64)
        na, nb = np.linalg.norm(a, axis=-1), np.linalg.norm(b, axis=-1)   # (B*T,)
        cosine = np.sum(a * b, -1) / (na * nb)
        rows.append((np.mean(np.sum((b - a) ** 2, -1)), np.mean((nb - na) ** 2),
                     np.mean(2 * na * nb * (1 - cosine))))
    return np.array(rows).T                                           # 3 x (L,)


for name, states in [("this checkpoint", ours)] + list(random_states.items()):
    sq, length_part, turn_part = length_and_turn(states)
    check(f"{name}: |b-a|^2 = length + turn", sq, length_part + turn_part, atol=1e-9, rtol=1e-9)
    print(f"    share of the length part: {np.array2string(length_part / sq, precision=3)}")
    if name.startswith("random"):
        lengths = np.stack([np.linalg.norm(h, axis=-1) for h in states[1:]])   # (L, B, T)
        check(f"{name}: every output is sqrt(H) long", lengths,
              np.full(lengths.shape, np.sqrt(config.hidden_size)), atol=1e-3)
        first_in = np.linalg.norm(states[0].astype(np.float64), axis=-1)       # (B, T)
        check(f"{name}: first length part", length_part[0],
              np.mean((np.sqrt(config.hidden_size) - first_in) ** 2), rtol=1e-4)
        assert np.all(length_part[1:] <= 1e-4 * sq[1:]), length_part[1:] / sq[1:]

# %% [markdown]
# What the rows show. In the random models, the later applications' distances
# are all turn: their input and output have the same length. Their first
# distance, by contrast, is the length change from the E -> H map's output to
# sqrt(H), plus a turn, and its printed length share says how much of it is
# length; that is a property of the architecture, before any training. For the
# checkpoint the same split tells you whether its first jump is mostly length
# (a share near 1) or also direction. With weights drawn with standard deviation
# `initializer_range`, the attention and feed-forward branches add only a little
# to the residual path, so a random layer mostly passes its input through; the
# random models' cosine similarities are the "no learning" baseline. Where the
# checkpoint's cosine similarity lies below that baseline, its layers turn the
# vectors more than random ones do, and that turning was learned. The paper
# reports that with shared weights the transitions are smoother than BERT's
# (trained, unshared) ones; you can look at a full-size model by setting
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
# ## The whole model, from your own functions
#
# Everything is now in place to write ALBERT's encoder with no library maths at
# all: only NumPy and the functions of chapters 2, 3 and this one. Each piece
# below is one that an earlier section checked against the library on its own:
#
# * `dense`: x W^T + b;  `layer_norm_by_hand` (chapter 2);  `gelu_new_by_hand` (above);
# * `attention_block`: queries, keys, values, the padding mask, softmax, the
#   weighted sum, the output dense, residual and LayerNorm (chapter 3), all heads
#   at once by reshaping (B, T, H) to (B, A, T, D);
# * `ffn_block`: W_1, activation, W_2, residual and LayerNorm (above);
# * `albert_encoder_by_hand`: the three lookups and LayerNorm, the E -> H map,
#   the loop `for i in range(L)` with the group rule, and the pooler
#   tanh(W h_[CLS] + b).
#
# We run it on a padded batch of two texts of different lengths, with token
# types, and compare `last_hidden_state` (every row, padding included: padded
# rows are computed the same way by both) and `pooler_output` with `AlbertModel`.

# %%
def dense(x, p):                                       # (..., in) -> (..., out)
    return x @ p["weight"].T + p["bias"]


def attention_block(x, mask, p, num_heads, eps):        # (B, T, H) -> (B, T, H)
    """LayerNorm(x + Dense(multi-head attention of x over the unmasked tokens)) (chapter 3)."""
    B, T, H = x.shape
    D = H // num_heads
    q, k, v = (dense(x, p[name]).reshape(B, T, num_heads, D).transpose(0, 2, 1, 3)   # (B, A, T, D)
               for name in ("query", "key", "value"))
    scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(D)                            # (B, A, T, T)
    scores = scores + np.where(mask[:, None, None, :] == 1, 0, np.finfo(x.dtype).min).astype(x.dtype)
    e = np.exp(scores - scores.max(-1, keepdims=True))
    probs = e / e.sum(-1, keepdims=True)                                           # rows sum to 1
    context = (probs @ v).transpose(0, 2, 1, 3).reshape(B, T, H)                   # heads side by side
    return layer_norm_by_hand(x + dense(context, p["dense"]), p["LayerNorm"], eps)


def ffn_block(a, layer, act, eps):                      # (B, T, H) -> (B, T, H)
    """LayerNorm(a + W_2 act(W_1 a + b_1) + b_2) (this chapter)."""
    return layer_norm_by_hand(a + dense(act(dense(a, layer["ffn"])), layer["ffn_output"]),
                              layer["full_layer_layer_norm"], eps)


def albert_encoder_by_hand(params, config, input_ids, attention_mask, token_type_ids, act):
    """ids (B, T) -> (last_hidden_state (B, T, H), pooled (B, H) or None), from scratch."""
    emb, eps = params["embeddings"], config.layer_norm_eps
    T = input_ids.shape[1]
    x = (emb["word_embeddings"]["weight"][input_ids]                 # (B, T, E)
         + emb["token_type_embeddings"]["weight"][token_type_ids]
         + emb["position_embeddings"]["weight"][np.arange(T)])
    x = layer_norm_by_hand(x, emb["LayerNorm"], eps)
    h = dense(x, params["encoder"]["embedding_hidden_mapping_in"])    # (B, T, E) -> (B, T, H)
    L, G = config.num_hidden_layers, config.num_hidden_groups
    for i in range(L):
        for layer in params["encoder"]["albert_layer_groups"][int(i / (L / G))]["albert_layers"]:
            a = attention_block(h, attention_mask, layer["attention"], config.num_attention_heads, eps)
            h = ffn_block(a, layer, act, eps)
    pooled = np.tanh(dense(h[:, 0], params["pooler"])) if "pooler" in params else None   # (B, H)
    return h, pooled


pair = tokenizer(["The dog came in from the garden.", "It lay down beside the cat, which was asleep."],
                 ["It was warm.", "Both slept."], padding=True, return_tensors="np")
print("batch:", pair["input_ids"].shape, "| padding per row:", (pair["attention_mask"] == 0).sum(1))
h_ours, pooled_ours = albert_encoder_by_hand(model.params, config, pair["input_ids"], pair["attention_mask"],
                                             pair["token_type_ids"], act_by_hand)
out_lib = model(**pair)
check("whole model: last_hidden_state", h_ours, out_lib.last_hidden_state, atol=1e-5, rtol=0)
check("whole model: pooler_output", pooled_ours, out_lib.pooler_output, atol=1e-5, rtol=0)

# the same functions on the toy model of the groups section (G = 3, two layers per group)
h_toy, pooled_toy = albert_encoder_by_hand(toy.params, toy_config, pair["input_ids"], pair["attention_mask"],
                                           pair["token_type_ids"], act_by_hand)
toy_out = toy(**pair)
check("toy model: last_hidden_state", h_toy, toy_out.last_hidden_state, atol=1e-5, rtol=0)
check("toy model: pooler_output", pooled_toy, toy_out.pooler_output, atol=1e-5, rtol=0)

# %% [markdown]
# The mask matters in this comparison: the shorter row is padded, and without
# the mask its real tokens would attend to the padding and come out different,
# as this last check shows.

# %%
h_nomask, _ = albert_encoder_by_hand(model.params, config, pair["input_ids"],
                                     np.ones_like(pair["attention_mask"]), pair["token_type_ids"], act_by_hand)
real = pair["attention_mask"] == 1
change = np.abs(h_nomask - out_lib.last_hidden_state)[real].max()
print(f"without the mask the real tokens change by up to {change:.3g}")
assert change > 1e-3

# %% [markdown]
# ## Summary
#
# * ALBERT's encoder is a loop: `for i in range(L): h = layer_g(h)` with
#   `g = int(i / (L / G))`, and `G = 1` in every released checkpoint.
# * Each group can hold `inner_group_num` layers run back to back; `hidden_states`
#   records one state per group application, `attentions` one map per layer run.
# * Sharing divides the encoder's layer parameters by L / G, but not the compute:
#   every application still costs a full layer.
# * A layer is an attention block and a feed-forward block (W_1, `gelu_new`, W_2),
#   each followed by a residual connection and a LayerNorm; with the embeddings
#   and the E -> H map, that is the whole encoder, and the few functions of these
#   chapters reproduce `AlbertModel` to float32 rounding.

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
