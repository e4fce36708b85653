# %% [markdown]
# # Chapter 4: One layer, and the whole model from your own functions
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
#    `gelu_new` activation written out from its formula, W_2), the residual
#    connection and the LayerNorm, checked step by step against the library,
#    and drawn as one picture with this model's shapes;
# 3. write the encoder loop by hand (embeddings, the E -> H mapping, then
#    `for i in range(L)`) and check every intermediate state against
#    `AlbertModel(..., output_hidden_states=True)`;
# 4. break the layer on purpose: take the residual connections out, and watch
#    what L applications do to the tokens;
# 5. put everything together: the whole model, from token ids to
#    `last_hidden_state` and the pooled vector, built only from functions written
#    in these chapters, and matched against `AlbertModel` on a padded batch.
#
# Chapter 5 goes on from here: groups of layer weights, and what changes in the
# hidden state from one application to the next.

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
from albert_np import AlbertModel, AlbertTokenizer
from albert_np.formats.checkpoint import load_state_dict
from albert_np.model import albert_attention, albert_layer, feed_forward
from albert_np.ops import activation, gelu, gelu_new, layer_norm, linear

model = AlbertModel.from_pretrained(MODEL)
tokenizer = AlbertTokenizer.from_pretrained(MODEL)
config = model.config
L, G = config.num_hidden_layers, config.num_hidden_groups
H, F = config.hidden_size, config.intermediate_size
print(model)
print(f"L = {L} layer applications, G = {G} group(s), inner_group_num = {config.inner_group_num}")

# %% [markdown]
# ## Where the layer weights live
#
# The encoder's parameters sit under `params["encoder"]`. Besides the E -> H
# projection there is a list `albert_layer_groups` with G entries; each entry
# holds a list `albert_layers` with `inner_group_num` layers (chapter 5 is about
# these two numbers; every released checkpoint has G = 1 and one layer in it).
# The config's rule is therefore G x inner_group_num layers, each with the same
# 16 arrays (query, key, value and output dense with their biases, two
# LayerNorms, the two feed-forward matrices with their biases). Let us list the
# arrays the model actually holds, under their state-dict names, check them
# against that rule, and check them against the names and numbers in the
# checkpoint file.

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
eps = config.layer_norm_eps
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


def layer_norm_by_hand(y, p, eps):                                     # (..., H) -> (..., H)
    """(y - mean) / sqrt(var + eps) * weight + bias, over the last axis (chapter 2)."""
    mean = y.mean(-1, keepdims=True)
    var = ((y - mean) ** 2).mean(-1, keepdims=True)
    return (y - mean) / np.sqrt(var + eps) * p["weight"] + p["bias"]


out = layer_norm_by_hand(a + f, layer0["full_layer_layer_norm"], eps)   # (1, T, H)
out_lib, _ = albert_layer(x, None, **layer0, config=config)
steps = {"W_1 a + b_1 (the activation's input)": (u, cache["activation"]["x"]),
         "activation": (g.reshape(-1, g.shape[-1]), cache["ffn_output"]["x"]),
         "W_2 g + b_2 (feed_forward)": (f, f_lib),
         "LayerNorm(a + f) (albert_layer)": (out, out_lib)}
if config.inner_group_num == 1:                                        # one layer per application
    steps["...the model's hidden_states[1]"] = (out, ref.hidden_states[1])
check_all("feed-forward block and the whole layer", steps)

# %% [markdown]
# The feed-forward block is where most of a layer's parameters are: W_1 and W_2
# hold 2 x H x F numbers, against 4 x H x H for the four attention matrices, so
# with F = 4H it is two thirds of the layer.

# %%
n_ffn = W_1.size + b_1.size + W_2.size + b_2.size
print(f"feed-forward: {n_ffn:,} of the layer's {one_layer:,} parameters ({n_ffn / one_layer:.0%}); F / H = {F / H:g}")

# %% [markdown]
# ## The layer in one picture
#
# Here is the whole layer, with this model's sizes. The data flows down the
# middle column; B is the batch, T the tokens. The two grey arrows on the left
# are the *residual* paths: the block's input goes round the block and is added
# to its output. Each addition is followed at once by a LayerNorm: this
# ordering (sublayer, add, then normalise) is called *post-LN*, and it is what
# ALBERT and BERT use (many later models normalise *before* each block instead,
# "pre-LN"). Only the feed-forward block widens the vectors, to F.

# %%
def draw_layer(ax, cfg):
    """The inside of one post-LN ALBERT layer as boxes and arrows, labelled with cfg's sizes."""
    from matplotlib.patches import FancyBboxPatch
    H_, F_, A_ = cfg.hidden_size, cfg.intermediate_size, cfg.num_attention_heads
    rows = [  # (label, shape after the box, colour)
        ("input x  (the previous application's output)", f"(B, T, {H_})", "white"),
        (f"multi-head attention: Q, K, V, {A_} heads of D = {H_ // A_}", f"(B, T, {H_})", "#cfe2f3"),
        (f"attention.dense  {H_} -> {H_}", f"(B, T, {H_})", "#cfe2f3"),
        ("add  x + ...", f"(B, T, {H_})", "#fff2cc"),
        ("attention.LayerNorm  ->  a", f"(B, T, {H_})", "#d9ead3"),
        (f"ffn (W_1)  {H_} -> {F_}", f"(B, T, {F_})", "#f4cccc"),
        (f"{cfg.hidden_act}, elementwise", f"(B, T, {F_})", "#f4cccc"),
        (f"ffn_output (W_2)  {F_} -> {H_}", f"(B, T, {H_})", "#f4cccc"),
        ("add  a + ...", f"(B, T, {H_})", "#fff2cc"),
        ("full_layer_layer_norm  ->  output", f"(B, T, {H_})", "#d9ead3"),
    ]
    n = len(rows)
    ax.set_xlim(0, 10)
    ax.set_ylim(n, -0.2)
    ax.axis("off")
    for i, (label, shape, colour) in enumerate(rows):
        ax.add_patch(FancyBboxPatch((2.0, i + 0.15), 5.2, 0.6, boxstyle="round,pad=0.03", fc=colour, ec="black"))
        ax.text(4.6, i + 0.45, label, ha="center", va="center", fontsize=8)
        ax.text(7.5, i + 0.45, shape, ha="left", va="center", fontsize=8, family="monospace")
        if i < n - 1:
            ax.annotate("", xy=(4.6, i + 1.12), xytext=(4.6, i + 0.78), arrowprops=dict(arrowstyle="->"))
    for start, end, name in [(0, 3, "residual: x"), (4, 8, "residual: a")]:   # round the block, into the add
        ax.plot([2.0, 1.0, 1.0], [start + 0.45, start + 0.45, end + 0.45], color="grey", lw=1.5)
        ax.annotate("", xy=(2.0, end + 0.45), xytext=(1.0, end + 0.45),
                    arrowprops=dict(arrowstyle="->", color="grey", lw=1.5))
        ax.text(0.9, (start + end) / 2 + 0.45, name, rotation=90, ha="right", va="center", fontsize=8,
                color="grey")
    ax.set_title(f"one ALBERT layer (post-LN): H = {H_}, F = {F_}, A = {A_}; applied L = "
                 f"{cfg.num_hidden_layers} times", fontsize=9)


if plt is not None:
    fig, ax = plt.subplots(figsize=(9, 5.5))
    draw_layer(ax, config)
    show(fig, "04_post_ln_layer.png")

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
#    With G = 1 and one inner layer, as here, that is simply "apply *the* layer
#    again"; chapter 5 works the rule out for other settings.
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
        g = int(i / (L / G))                                          # which set of weights (0 when G = 1)
        for layer in params["encoder"]["albert_layer_groups"][g]["albert_layers"]:
            h, _ = albert_layer(h, None, **layer, config=config)   # (B, T, H) -> (B, T, H)
        states.append(h)
    return states

ours = encoder_by_hand(model.params, config, ids)
print(len(ours), "hand-made states;", len(ref.hidden_states), "from AlbertModel")
pairs = {f"hidden_states[{i}]": (a_, b_) for i, (a_, b_) in enumerate(zip(ours, ref.hidden_states))}
pairs["last_hidden_state"] = (ours[-1], ref.last_hidden_state)
check_all("encoder loop", pairs)

# %% [markdown]
# That is the entire encoder. With G = 1 the loop body always picks group 0, so
# the *same* arrays are read L times: the model is deep in computation but
# shallow in parameters.

# %% [markdown]
# ## Break it: take the residual connections out
#
# Each block adds its input back to its output before the LayerNorm. What is
# that addition for? Change that one thing: below, `layer_by_hand` is the layer
# written out once more, with a switch that drops the two residual additions
# (`LayerNorm(block(x))` instead of `LayerNorm(x + block(x))`), and we apply it L
# times to the same input. As a measure we take the mean cosine similarity
# between the vectors of *different* tokens of the sentence: 0 means unrelated
# directions, 1 means every token carries the same vector, and the sentence is
# lost.
#
# **Predict before you run:** without the residual paths, do the tokens stay
# apart, or do they become alike?

# %%
def layer_by_hand(h, layer, residual=True):                           # (B, T, H) -> (B, T, H)
    """One post-LN layer from this chapter's pieces; residual=False drops both additions."""
    B, T, _ = h.shape
    A = config.num_attention_heads
    p = layer["attention"]
    q, k, v = ((h @ p[n]["weight"].T + p[n]["bias"]).reshape(B, T, A, H // A).transpose(0, 2, 1, 3)
               for n in ("query", "key", "value"))                   # (B, A, T, D)
    scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(H // A)          # (B, A, T, T)
    e = np.exp(scores - scores.max(-1, keepdims=True))
    context = (e / e.sum(-1, keepdims=True) @ v).transpose(0, 2, 1, 3).reshape(B, T, H)
    attn = context @ p["dense"]["weight"].T + p["dense"]["bias"]
    a = layer_norm_by_hand(attn + (h if residual else 0), p["LayerNorm"], eps)
    u = a @ layer["ffn"]["weight"].T + layer["ffn"]["bias"]          # (B, T, F)
    f = act_by_hand(u) @ layer["ffn_output"]["weight"].T + layer["ffn_output"]["bias"]   # (B, T, H)
    return layer_norm_by_hand(f + (a if residual else 0), layer["full_layer_layer_norm"], eps)


def token_alikeness(h):
    """Mean cosine similarity between the vectors of different tokens of row 0."""
    n = h[0] / np.linalg.norm(h[0], axis=-1, keepdims=True)          # (T, H), unit rows
    c = n @ n.T
    T = len(c)
    return float((c.sum() - np.trace(c)) / (T * (T - 1)))


alike = {}
for residual in (True, False):
    h = ref.hidden_states[0]
    alike[residual] = [token_alikeness(h)]
    for i in range(L):
        h = layer_by_hand(h, layer0, residual)
        alike[residual].append(token_alikeness(h))
    if residual and G == 1 and config.inner_group_num == 1:
        check("layer_by_hand, L times vs last_hidden_state", h, ref.last_hidden_state, atol=1e-4)
for residual, name in [(True, "with the residual paths   "), (False, "without the residual paths")]:
    print(f"{name}: token alikeness after each application "
          f"{np.array2string(np.array(alike[residual]), precision=3)}")
assert alike[False][-1] > max(alike[True][-1], 0.99)                   # near 1: the tokens are one vector

# %% [markdown]
# Without the residual paths the token alikeness ends higher (compare the last
# numbers of the two rows; the chapter asserts it), close to 1: every application
# replaces a token's vector by a mixture of *all* tokens' vectors, computed
# afresh, and nothing keeps what was the token's own. Repeated averaging makes
# the rows alike, and the sentence's tokens become one vector. The residual
# path is what lets each token keep its own information across L applications
# (each block only *adds* a correction to it), and it also gives gradients a
# direct path back through the depth during training.

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
check_all("whole model", {"last_hidden_state": (h_ours, out_lib.last_hidden_state),
                          "pooler_output": (pooled_ours, out_lib.pooler_output)}, atol=1e-5, rtol=0)

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
# * A layer is an attention block and a feed-forward block (W_1, `gelu_new`,
#   W_2, widening each token from H to F and back), each followed by a residual
#   addition and then a LayerNorm (post-LN).
# * ALBERT's encoder is a loop: `for i in range(L): h = layer(h)`, with the same
#   weights every time in every released checkpoint (G = 1). Sharing divides the
#   encoder's layer parameters by L, but not the compute: every application
#   still costs a full layer.
# * Without the residual additions, repeated applications make the tokens'
#   vectors alike; with them, each token keeps its own.
# * With the embeddings and the E -> H map, that is the whole encoder, and the
#   few functions of these chapters reproduce `AlbertModel` to float32 rounding.
#   Chapter 5 looks at groups and at what each application changes.

# %% [markdown]
# ## Exercises
#
# 1. ★ The feed-forward block treats every token on its own. Show it: run
#    `albert_np.model.feed_forward` on a whole sentence's attention output, then on
#    one token's row alone, and compare that row of the two results.
# 2. ★ Swap the activation: give a copy of the config `hidden_act="gelu"` (the exact
#    GELU) and keep the same weights. How much does `last_hidden_state` change, and
#    does `fill_mask`'s top word for one sentence change?
# 3. ★★ Rewrite the layer as pre-LN (`x + block(LayerNorm(x))` for both blocks, the
#    same weights and LayerNorms) and apply it L times. How does the mean length of
#    the hidden vectors grow per application, compared with the post-LN layer?
