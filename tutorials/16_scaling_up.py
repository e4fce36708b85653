# %% [markdown]
# # Chapter 16: What changes for albert-large, xlarge and xxlarge
#
# Every chapter so far ran on one small checkpoint. Google released ALBERT in
# four sizes: base, large, xlarge and xxlarge. They share the code of chapters 1
# to 6 line for line; only the numbers in `config.json` change. This page works
# out, from those numbers alone, what the sizes cost:
#
# 1. the sizes E, H, A, F, L, V of each;
# 2. the parameters, counted from the shapes (building xxlarge in NumPy would take
#    about 0.9 GB of float32), checked against a built albert-base and the loaded checkpoint;
# 3. what the two ALBERT ideas save: sharing one layer across the L applications,
#    and the factorised embedding (V × E, then E × H, instead of V × H);
# 4. the compute: multiply-adds per token of a forward pass at T = 128 tokens;
# 5. the same numbers for BERT-base and BERT-large, counted the same way.
#
# Nothing here is downloaded: the four configs are presets in `albert_np.config`
# (the sizes of the released `config.json` files).

# %% [markdown]
# **Which model.** This chapter runs on the bundled `albert-tiny-en`. To use another checkpoint, set `ALBERT_NP_MODEL` before `tutorial_utils` is imported: in a shell `ALBERT_NP_MODEL=/path/to/checkpoint python tutorials/16_scaling_up.py`; in Jupyter run `%env ALBERT_NP_MODEL=/path/to/checkpoint` in a cell above the imports (the variable is read once, at import; changing it later has no effect until the kernel restarts).

# %%
from tutorial_utils import *

import albert_np
from albert_np import AlbertConfig
from albert_np.config import parameter_count
from albert_np.params import encoder_shapes, named_parameters

PRESETS = ["albert-base-v2", "albert-large-v2", "albert-xlarge-v2", "albert-xxlarge-v2"]
configs = {name.split("-")[1]: AlbertConfig.from_preset(name) for name in PRESETS}
configs["this checkpoint"] = AlbertConfig.from_pretrained(MODEL)

print(f"{'':16s} {'E':>5s} {'H':>5s} {'A':>4s} {'F':>6s} {'L':>4s} {'V':>6s}  groups x layers  act")
for name, c in configs.items():
    print(f"{name:16s} {c.embedding_size:5d} {c.hidden_size:5d} {c.num_attention_heads:4d} "
          f"{c.intermediate_size:6d} {c.num_hidden_layers:4d} {c.vocab_size:6d}  "
          f"{c.num_hidden_groups:6d} x {c.inner_group_num:<6d}  {c.hidden_act}")

# %% [markdown]
# E stays at 128 in all four; V (30000) too. H grows from 768 to 4096, with F = 4H
# and heads of D = H / A = 64 numbers each. xxlarge has 64 such heads but only
# 12 layer applications, half as many as large and xlarge.
#
# ## Parameters, counted from the shapes
#
# Writing out the shapes of chapter 0 (P = 512 positions, 2 token types):
#
#     embeddings   (V + P + 2) E + 2E         three tables and a LayerNorm
#     mapping      H E + H                    E -> H (absent when E = H, as in BERT)
#     one layer    4 (H H + H) + 2H           query, key, value, output; LayerNorm
#                  + F H + F + H F + H + 2H   the FFN; LayerNorm
#     pooler       H H + H
#     MLM head     E H + E + 2E + V           dense, LayerNorm, decoder bias (the decoder is tied)
#
# ALBERT stores G × inner_group_num layers (1 × 1 in all the releases); an
# unshared model stores L of them. As the papers do, we call the encoder
# (embeddings, mapping, layers, pooler) "the model" and list the MLM head apart.

# %%
def counts(V, E, H, F, stored_layers, P=512, types=2, factorised=True):
    """Parameters of each part, from the sizes alone."""
    layer = 4 * (H * H + H) + 2 * H + F * H + F + H * F + H + 2 * H
    return {"embeddings": (V + P + types) * E + 2 * E,
            "mapping": H * E + H if factorised else 0,
            "layers": stored_layers * layer,
            "pooler": H * H + H,
            "mlm head": E * H + E + 2 * E + V}


def model_size(parts):
    return sum(v for k, v in parts.items() if k != "mlm head")


def albert_counts(c, shared=True):
    return counts(c.vocab_size, c.embedding_size, c.hidden_size, c.intermediate_size,
                  c.num_hidden_groups * c.inner_group_num if shared else c.num_hidden_layers,
                  c.max_position_embeddings, c.type_vocab_size)


parts = {name: albert_counts(c) for name, c in configs.items()}
from_shapes = {name: sum(int(np.prod(s)) for s in encoder_shapes(c).values()) for name, c in configs.items()}
print(f"{'':16s} {'embeddings':>11s} {'mapping':>9s} {'layers':>12s} {'pooler':>11s} {'model':>12s} "
      f"{'float32':>9s} {'mlm head':>9s}")
for name, p in parts.items():
    print(f"{name:16s} {p['embeddings']:11,d} {p['mapping']:9,d} {p['layers']:12,d} {p['pooler']:11,d} "
          f"{model_size(p):12,d} {model_size(p) * 4 / 1e6:6.0f} MB {p['mlm head']:9,d}")

base = albert_np.AlbertModel(configs["base"])                       # 47 MB: the one we build
loaded = albert_np.AlbertForMaskedLM.from_pretrained(MODEL)        # no pooler; the decoder is tied
check_all("parameter counts", {
    **{f"{name}: formula == albert_np's shape table": (model_size(parts[name]), from_shapes[name])
       for name in configs},
    **{f"{name}: formula + head == parameter_count": (model_size(parts[name]) + parts[name]["mlm head"],
                                                      parameter_count(configs[name])) for name in configs},
    "base: formula == a built AlbertModel": (model_size(parts["base"]),
                                             sum(v.size for v in named_parameters(base.params).values())),
    "this checkpoint: formula == the loaded AlbertForMaskedLM": (
        model_size(parts["this checkpoint"]) - parts["this checkpoint"]["pooler"]
        + parts["this checkpoint"]["mlm head"], sum(v.size for v in named_parameters(loaded.params).values())),
}, atol=0, rtol=0)
del base

# %% [markdown]
# The ALBERT paper (Lan et al., 2019, Table 1) reports 12M, 18M, 60M and 235M
# parameters for base, large, xlarge and xxlarge. Our counts, rounded the same way:

# %%
paper = {"base": 12e6, "large": 18e6, "xlarge": 60e6, "xxlarge": 235e6}
for name, reported in paper.items():
    ours = model_size(parts[name])
    print(f"{name:8s} computed {ours / 1e6:6.1f}M   paper {reported / 1e6:4.0f}M   "
          f"computed / paper = {ours / reported:.3f}")
    assert 0.94 < ours / reported <= 1.0

# %% [markdown]
# Every count lies a little below the paper's: 2 to 3% for base, large and
# xlarge, 5% for xxlarge (the ratios above). The paper does not say how it
# counted. Our count is the one that the library's shape table and a model
# built by albert_np give.
#
# ## What sharing saves, and what the factorised embedding saves
#
# An unshared model stores all L layers (BERT's choice). An unfactorised model
# has a V × H word table and no mapping (also BERT's choice). For each size we
# count all four combinations. BERT-base and BERT-large are the unshared,
# unfactorised models with BERT's own vocabulary (V = 30522) and their own
# sizes (H = 768, L = 12 and H = 1024, L = 24, F = 4H).

# %%
def variants(c):
    V, E, H, F, L = (c.vocab_size, c.embedding_size, c.hidden_size, c.intermediate_size,
                     c.num_hidden_layers)
    stored = c.num_hidden_groups * c.inner_group_num
    return {"ALBERT (shared, E)": model_size(counts(V, E, H, F, stored)),
            "unshared, E": model_size(counts(V, E, H, F, L)),
            "shared, E = H": model_size(counts(V, H, H, F, stored, factorised=False)),
            "unshared, E = H": model_size(counts(V, H, H, F, L, factorised=False))}


albert = [n for n in configs if n != "this checkpoint"]
table = {name: variants(configs[name]) for name in albert}
bert = {"BERT-base": model_size(counts(30522, 768, 768, 3072, 12, factorised=False)),
        "BERT-large": model_size(counts(30522, 1024, 1024, 4096, 24, factorised=False))}
print(f"{'':9s}" + "".join(f"{k:>22s}" for k in table["base"]))
for name, row in table.items():
    print(f"{name:9s}" + "".join(f"{v / 1e6:21.1f}M" for v in row.values()))
for name, n in bert.items():
    print(f"{name:10s} {n / 1e6:.1f}M")

for name in albert:
    c, row = configs[name], table[name]
    sharing = row["unshared, E"] - row["ALBERT (shared, E)"]
    factorising = row["shared, E = H"] - row["ALBERT (shared, E)"]
    print(f"{name:8s} sharing saves {sharing / 1e6:6.1f}M ({sharing / row['unshared, E']:.0%} of the unshared "
          f"model); the factorised embedding saves {factorising / 1e6:5.1f}M "
          f"({factorising / row['shared, E = H']:.0%} of the shared model)")
    L, layer = c.num_hidden_layers, parts[name]["layers"]
    assert sharing == (L - 1) * layer
    tables = c.vocab_size + c.max_position_embeddings + c.type_vocab_size + 2     # rows of width E, and LN
    assert factorising == tables * (c.hidden_size - c.embedding_size) - (c.hidden_size * c.embedding_size
                                                                           + c.hidden_size)
    assert sharing > factorising
assert table["large"]["ALBERT (shared, E)"] < bert["BERT-base"] / 5
for albert_name, bert_name in (("base", "BERT-base"), ("large", "BERT-large")):
    extra_rows = (30522 - configs[albert_name].vocab_size) * configs[albert_name].hidden_size
    assert bert[bert_name] - table[albert_name]["unshared, E = H"] == extra_rows

# %% [markdown]
# Sharing saves more than factorising, at every size: (L − 1) copies of the layer.
# It is what makes albert-large more than five times smaller than BERT-base (an
# assert above checks it). The factorised embedding saves V (H − E) numbers, a
# little more for the other two tables, less the E × H mapping. Its share of the
# shared model falls as H grows (the percentages above), because the layer grows
# with H² and the tables only with H. The unshared, unfactorised column is BERT
# with ALBERT's vocabulary: for base and large it differs from the BERT rows by
# exactly the 522 extra word-table rows of BERT's vocabulary (30522 against 30000).
#
# The picture puts the four variants side by side, on a log scale, because
# they span two orders of magnitude.

# %%
if plt is not None:
    fig, ax = plt.subplots(figsize=(8, 4))
    kinds = list(table["base"])
    width = 0.2
    for k, kind in enumerate(kinds):
        ax.bar(np.arange(len(albert)) + (k - 1.5) * width, [table[n][kind] for n in albert], width, label=kind)
    ax.scatter(np.arange(len(albert)) - 1.5 * width, [paper[n] for n in albert], marker="_", s=200,
               color="k", zorder=3, label="paper, Table 1")
    for k, (name, n) in enumerate(bert.items()):
        ax.bar(len(albert) + k, n, 2 * width, color="0.4")
    ax.set_xticks(range(len(albert) + len(bert)), [f"albert-{n}" for n in albert] + list(bert))
    ax.set_yscale("log")
    ax.set_ylabel("parameters (without the MLM head)")
    ax.set_title("What sharing and the factorised embedding save")
    ax.legend(fontsize=8, loc="upper left")
    show(fig, "16_parameters_shared_vs_unshared.png")

# %% [markdown]
# In each group the blue bar (ALBERT as released) is the lowest; the black
# dashes on it mark the paper's counts. The gap to the
# orange bar (the same model, unshared) is a factor below L: the unshared model
# stores L layers instead of one, but the same embeddings. The larger the layer
# is next to the embeddings, the closer the factor comes to L:

# %%
for name in albert:
    ratio = table[name]["unshared, E"] / table[name]["ALBERT (shared, E)"]
    print(f"albert-{name:8s} unshared / shared = {ratio:4.1f}   (L = {configs[name].num_hidden_layers})")
    assert ratio < configs[name].num_hidden_layers

# %% [markdown]
# BERT-base and BERT-large (grey) stand as high as the unshared, unfactorised
# (red) bars of albert-base and albert-large.
#
# ## Compute: multiply-adds per token
#
# Sharing changes what is stored, not what is computed: each of the L
# applications still does all of its matrix products. For one token of a
# sequence of T tokens, counting each matrix product's multiply-adds:
#
#     mapping           E H
#     per application   3 H H            query, key, value
#                       T H              scores: the token's query against T keys (A heads of D)
#                       T H              the weighted sum of T values
#                       H H              output projection
#                       2 H F            the FFN
#     MLM head          H E + E V        per predicted position
#
# so the encoder costs E H + L (4 H² + 2 H F + 2 T H) multiply-adds per token,
# and one multiply-add is two floating-point operations (FLOPs). Lookups, the
# LayerNorms, the softmax and the activation are left out: they grow with H or
# T H, not with H². We first check the closed form against a list of every
# matrix product of one forward pass, with its shape.

# %%
T = 128


def macs_per_token(V, E, H, F, L, T, factorised=True):
    """Multiply-adds per token of one forward pass (encoder; the MLM head apart)."""
    encoder = (E * H if factorised else 0) + L * (4 * H * H + 2 * H * F + 2 * T * H)
    return encoder, H * E + E * V


def macs_by_listing(c, T):
    """The same, summed over the (rows, inner, columns) of every matrix product of a forward pass."""
    E, H, F, A = c.embedding_size, c.hidden_size, c.intermediate_size, c.num_attention_heads
    D = H // A
    products = [(T, E, H)]                                                   # mapping
    for _ in range(c.num_hidden_layers):
        products += [(T, H, H)] * 3 + [(T, D, T)] * A + [(T, T, D)] * A + [(T, H, H), (T, H, F), (T, F, H)]
    return sum(m * k * n for m, k, n in products) // T


flops = {}
for name, c in configs.items():
    enc, head = macs_per_token(c.vocab_size, c.embedding_size, c.hidden_size, c.intermediate_size,
                               c.num_hidden_layers, T)
    assert enc == macs_by_listing(c, T)
    flops[name] = 2 * enc
    print(f"{name:16s} encoder {2 * enc / 1e9:6.2f} GFLOPs per token at T={T}; "
          f"MLM head {2 * head / 1e6:5.1f} MFLOPs per predicted token; "
          f"attention's 2TH terms: {2 * T * c.hidden_size * c.num_hidden_layers / (enc - c.embedding_size * c.hidden_size):.1%}")
for name, (H, L) in {"BERT-base": (768, 12), "BERT-large": (1024, 24)}.items():
    enc, _ = macs_per_token(30522, H, H, 4 * H, L, T, factorised=False)
    flops[name] = 2 * enc
    print(f"{name:16s} encoder {2 * enc / 1e9:6.2f} GFLOPs per token at T={T}")
print(f"albert-xxlarge / BERT-large: {model_size(parts['xxlarge']) / bert['BERT-large']:.2f} x the parameters, "
      f"{flops['xxlarge'] / flops['BERT-large']:.2f} x the FLOPs per token")
assert flops["xxlarge"] > flops["BERT-large"] and model_size(parts["xxlarge"]) < bert["BERT-large"]
E, H = configs["base"].embedding_size, configs["base"].hidden_size
assert flops["base"] - flops["BERT-base"] == 2 * E * H and 0.09 < model_size(parts["base"]) / bert["BERT-base"] < 0.12
bert_large_layer = counts(30522, 1024, 1024, 4096, 1, factorised=False)["layers"]
print(f"one xxlarge layer / one BERT-large layer: {parts['xxlarge']['layers'] / bert_large_layer:.2f} x the "
      f"parameters, applied {configs['xxlarge'].num_hidden_layers} times instead of 24")

# %% [markdown]
# Per token, albert-base computes exactly what BERT-base computes, except for the
# small E × H mapping, although it stores about a tenth of the parameters (both
# asserted above). xxlarge stores fewer parameters than BERT-large yet computes
# several times more per token (the ratios are printed): its one layer is about
# sixteen times the size of a BERT-large layer, applied half as many times. ALBERT makes a model small on disk and in memory, and
# cheap to send between machines in distributed training. It does not make it fast.

# %% [markdown]
# ## Exercises
#
# 1. ★ For which embedding size E does the factorised embedding stop saving
#    parameters in albert-base (V E + E H + H ≥ V H)? Find the smallest such E.
# 2. ★★ Give albert-large G = 1, 2, 3, 4, 6, 8, 12 or 24 groups
#    (`num_hidden_groups`). With how many groups does it first have more
#    parameters than BERT-base? Use `albert_np.config.parameter_count` (it counts
#    the pooler and the MLM head too).
# 3. ★★ At which sequence length T do the attention terms 2 T H of albert-base
#    cost as much per token as the rest of the layer (4 H² + 2 H F)? What share
#    of the encoder's FLOPs do they take at T = 512?
