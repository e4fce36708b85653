# %% [markdown]
# # Chapter 0: The map, and a tour of the checkpoint
#
# Start here. This chapter first gives the map of the whole course: one picture
# of ALBERT's forward pass with the shape of every step, a cheat-sheet of the
# letters used for those shapes, a short glossary, and which chapters to read for
# which goal. Then we open the box. A trained ALBERT is nothing more than a
# folder of files: a few lines of JSON with the sizes, one binary file of named
# arrays, and the tokenizer's vocabulary. In this chapter you will
#
# * see the whole forward pass at once, with this checkpoint's sizes;
# * list the files in a checkpoint folder and see what each one is for;
# * read `config.json` field by field;
# * print every weight tensor with its name and shape, straight from the
#   safetensors file, and add them up to the parameter count;
# * work out, from the config alone, *why ALBERT is small*: the factorised
#   embedding and the sharing of one layer's weights across all layers. We build
#   a table in the spirit of Table 1 of the ALBERT paper, and check every total
#   against what the library counts.
#
# Everything is computed from the checkpoint you point `MODEL` at, so the same
# chapter works for the small bundled model and for `albert/albert-base-v2`.

# %% [markdown]
# **Which model.** This chapter runs on the bundled `albert-tiny-en`. To use another
# checkpoint, set `ALBERT_NP_MODEL` before `tutorial_utils` is imported: in a shell
# `ALBERT_NP_MODEL=/path/to/checkpoint python tutorials/00_tour_of_the_checkpoint.py`; in Jupyter run
# `%env ALBERT_NP_MODEL=/path/to/checkpoint` in a cell above the imports (the variable
# is read once, at import; changing it later has no effect until the kernel restarts).

# %%
from tutorial_utils import *

import json
import os

import albert_np
from albert_np import AlbertConfig, AlbertModel
from albert_np.formats.checkpoint import load_state_dict
from albert_np.heads import HEADS, expected_shapes
from albert_np.hub import is_local, resolve_file
from make_map import draw_map                     # tutorials/make_map.py: the picture below

print("MODEL =", MODEL)
config = AlbertConfig.from_pretrained(MODEL)

# %% [markdown]
# ## 0. The map
#
# Here is the whole forward pass, top to bottom. The token ids of B texts of T
# tokens each are looked up in three narrow tables (width E) and summed; a
# LayerNorm; one matrix widens every vector from E to H; then **one** layer,
# attention followed by a feed-forward block, is applied L times with the same
# weights; each head turns the final (B, T, H) vectors into logits. The numbers
# in the boxes are read from this checkpoint's config, so they change with
# `MODEL`. (The same picture, for the bundled model, is `tutorials/map.png`,
# written by `python tutorials/make_map.py`.)

# %%
if plt is not None:
    show(draw_map(config), "00_map.png")

# %% [markdown]
# Follow one token down the picture: its vector is E wide until the mapping, H
# wide in every layer, and only the heads change the last axis again (to V
# pieces, 2 sentence orders, or a number of labels). The dashed box holds one
# set of weights; the arrow on its right is the loop that reuses it.
#
# ### Shape cheat-sheet
#
# The letters used in every shape comment of the tutorials and of
# `albert_np/model.py`. The values for `albert-base-v2` come from its
# `config.json`; the code below prints this checkpoint's values beside them.
#
# | Symbol | Meaning | `config.json` field | albert-base-v2 |
# |---|---|---|--:|
# | B | batch: texts (rows) in one call | (the input) | any |
# | T | tokens per row, at most P | (the input) | ≤ 512 |
# | V | pieces in the vocabulary: rows of the word table, width of MLM logits | `vocab_size` | 30000 |
# | E | embedding width (ALBERT's narrow one) | `embedding_size` | 128 |
# | H | hidden width inside the layers | `hidden_size` | 768 |
# | A | attention heads | `num_attention_heads` | 12 |
# | D | width of one head, H / A | (derived) | 64 |
# | F | feed-forward middle width | `intermediate_size` | 3072 |
# | L | layer applications | `num_hidden_layers` | 12 |
# | G | distinct sets of layer weights (groups) | `num_hidden_groups` | 1 |
# | P | positions: rows of the position table | `max_position_embeddings` | 512 |
# | S | segment (token type) ids: rows of the type table | `type_vocab_size` | 2 |
#
# Shapes to remember: word table (V, E); mapping weight (H, E) (weights are
# stored (out, in)); activations (B, T, E) then (B, T, H); attention scores
# (B, A, T, T); masked-LM logits (B, T, V); pooled vector (B, H).

# %%
base = AlbertConfig.from_preset("albert-base-v2")


def sizes(cfg):
    """The cheat-sheet's letters for one config."""
    return {"V": cfg.vocab_size, "E": cfg.embedding_size, "H": cfg.hidden_size,
            "A": cfg.num_attention_heads, "D": cfg.hidden_size // cfg.num_attention_heads,
            "F": cfg.intermediate_size, "L": cfg.num_hidden_layers, "G": cfg.num_hidden_groups,
            "P": cfg.max_position_embeddings, "S": cfg.type_vocab_size}


# the albert-base-v2 column of the table above, as the library's preset has it
assert list(sizes(base).values()) == [30000, 128, 768, 12, 64, 3072, 12, 1, 512, 2]
print(f"{'symbol':8s} {'albert-base-v2':>15s} {'this checkpoint':>16s}")
for letter, value in sizes(config).items():
    print(f"{letter:8s} {sizes(base)[letter]:>15,} {value:>16,}")

# %% [markdown]
# ### Glossary
#
# * **piece**: an entry of the SentencePiece vocabulary: a word, part of a word
#   or a symbol ("▁" marks a piece that starts a word). A token id is a piece's
#   row in the word-embedding table (chapter 1).
# * **[CLS], [SEP], [MASK]**: special tokens. The tokenizer puts `[CLS]` first in
#   every input (the pooler reads its final vector) and `[SEP]` after each of the
#   one or two segments: `[CLS] A [SEP] B [SEP]`. `[MASK]` replaces most of the
#   pieces hidden in masked-LM pretraining, for the model to guess.
# * **state dict**: a flat dict from parameter name (such as
#   `albert.embeddings.word_embeddings.weight`) to array. A checkpoint file stores
#   one; `model.state_dict()` returns one.
# * **residual**: adding a block's input back to its output, `x + f(x)`. The
#   block only has to learn a change to `x`, and gradients have a direct path
#   around it.
# * **LayerNorm**: shifts and scales each token's vector to mean 0 and variance 1
#   over its features, `(x - mean) / sqrt(var + eps)`, then multiplies by a learned
#   weight and adds a learned bias. ALBERT applies it after each residual sum
#   ("post-LN"): `LayerNorm(x + f(x))`.
# * **pooler**: a dense H → H layer with tanh, applied to the final vector of the
#   first token (`[CLS]`); it gives one (B, H) vector per input for the
#   sentence-level heads.
# * **logit**: a raw score for one class, before softmax. Softmax,
#   `exp(z_i) / sum_j exp(z_j)`, turns a row of logits into probabilities; adding
#   the same number to every logit changes nothing.
# * **cross-entropy**: the loss `-log p_y`, where `p = softmax(logits)` and `y` is
#   the right class: 0 when the model gives the right class probability 1,
#   large when it is confidently wrong. A batch's loss is the mean over the
#   positions that have a label (in masked-LM training, the masked ones).
# * **weight tying**: using one array in two places. ALBERT's masked-LM decoder
#   (E → V) multiplies by the word-embedding table (V × E) instead of a matrix of
#   its own, so the table is stored once and, in training, gets the sum of the
#   gradients of both uses.
#
# ### Reading order
#
# | Goal | Chapters |
# |---|---|
# | Understand the forward pass, from text to logits | 00 → 01 → 02 → 03 → 04 → 05 → 06, then 15 (the capstone: `fill_mask` from scratch) |
# | Train: gradients by hand, optimisers, fine-tuning, pretraining | 07 → 08 → 09 → 10 → 11 (after 00–06) |
# | Apply it: question answering, token classification | 12, 13 (after 00–06 and 10) |
# | Open other checkpoints and formats | 14 |
# | Scale up: albert-large, -xlarge, -xxlarge | 16 |
#
# Now the tour of the checkpoint itself.

# %% [markdown]
# ## 1. The files
#
# A Hugging Face-style checkpoint is a folder (or a Hub repository with the same
# files). We ask for each file we know about; `resolve_file` returns a local path,
# downloading from the Hub only when `MODEL` is a Hub id.

# %%
WHAT = {
    "config.json": "the sizes and settings of the network (read below)",
    "model.safetensors": "every weight array, by name: a JSON header, then raw numbers",
    "spiece.model": "the SentencePiece vocabulary: pieces, their scores, the normaliser (chapter 1)",
    "tokenizer.json": "the same vocabulary in the `tokenizers` library's JSON format",
    "tokenizer_config.json": "tokenizer switches: lowercasing, accents, maximum length",
    "special_tokens_map.json": "which pieces are [CLS], [SEP], [MASK], <pad>, <unk>",
    "README.md": "the model card: how it was trained and how good it is",
}
if is_local(MODEL):
    names = sorted(os.listdir(MODEL))
else:
    names = [n for n in WHAT if resolve_file(MODEL, n, required=False) is not None]
for name in names:
    path = os.path.join(MODEL, name) if is_local(MODEL) else resolve_file(MODEL, name)
    if os.path.isfile(path):
        print(f"{name:26s} {os.path.getsize(path):>12,} bytes   {WHAT.get(name, '')}")

# %% [markdown]
# The weights dominate: everything else is a few kilobytes, apart from the
# vocabulary. Let us read the small file first.
#
# ## 2. `config.json`
#
# The config holds the handful of numbers that fix the shape of every array. We
# read the raw JSON (so you see exactly what is stored) and explain each field.
# The short names in brackets are the letters used in the shape comments all
# through `albert_np/model.py`.

# %%
with open(resolve_file(MODEL, "config.json"), encoding="utf-8") as f:
    raw = json.load(f)

MEANING = {
    "vocab_size": "V: number of word pieces (rows of the word-embedding table)",
    "embedding_size": "E: width of the embedding vectors (ALBERT's small one)",
    "hidden_size": "H: width of the vectors inside the transformer layers",
    "num_hidden_layers": "L: how many times a layer is applied",
    "num_hidden_groups": "G: how many distinct sets of layer weights (1 = all shared)",
    "inner_group_num": "layers inside each group (1 in every released ALBERT)",
    "num_attention_heads": "A: attention heads per layer; each has D = H / A dimensions",
    "intermediate_size": "F: width of the feed-forward block's middle",
    "hidden_act": "the feed-forward non-linearity",
    "max_position_embeddings": "P: longest input; rows of the position table",
    "type_vocab_size": "S: number of segment (token type) ids (sentence A / B)",
    "layer_norm_eps": "epsilon added to the variance inside every LayerNorm",
    "hidden_dropout_prob": "dropout on hidden vectors (training only)",
    "attention_probs_dropout_prob": "dropout on attention probabilities (training only)",
    "classifier_dropout_prob": "dropout before a classification head (training only)",
    "initializer_range": "std of the normal distribution fresh weights are drawn from",
    "pad_token_id": "id of <pad>",
    "bos_token_id": "id of the 'beginning' token ([CLS] in ALBERT)",
    "eos_token_id": "id of the 'end' token ([SEP] in ALBERT)",
    "tie_word_embeddings": "the MLM output layer reuses the word-embedding table",
    "model_type": "always 'albert'",
    "architectures": "the class that saved this checkpoint (which heads it has)",
    "id2label": "names of a classifier's outputs",
    "label2id": "the inverse of id2label",
    "problem_type": "regression / single- or multi-label classification, for heads",
}
for key, value in sorted(raw.items()):
    shown = json.dumps(value) if not isinstance(value, dict) else f"{{{len(value)} entries}}"
    print(f"{key:30s} {shown:24.24s} {MEANING.get(key, '(bookkeeping, not used by the maths)')}")

# %% [markdown]
# `AlbertConfig` reads the same file into an object. We keep the sizes in short
# variables named after the dimension legend, and from here on never type a size
# by hand.

# %%
config = AlbertConfig.from_pretrained(MODEL)       # read again here, as the section's subject
V, E, H = config.vocab_size, config.embedding_size, config.hidden_size
L, G, A, F = (config.num_hidden_layers, config.num_hidden_groups,
              config.num_attention_heads, config.intermediate_size)
P, S = config.max_position_embeddings, config.type_vocab_size
print(f"V={V} E={E} H={H} L={L} G={G} A={A} D={H // A} F={F} P={P} S={S}")
assert all(raw[k] == getattr(config, k) for k in ("vocab_size", "embedding_size", "hidden_size"))

# %% [markdown]
# ## 3. Every tensor in the weights file
#
# A safetensors file starts with 8 bytes giving the length of a JSON header, then
# the header (name, dtype, shape and byte range of each tensor), then the raw
# numbers. `load_state_dict` reads it (or its shards) into a dict of NumPy arrays.
# With `dtype=None` the arrays keep the dtype they were stored in; the models
# cast them to float32.

# %%
state, paths = load_state_dict(MODEL, dtype=None)
for name, array in state.items():
    print(f"{name:78s} {str(array.dtype):8s} {tuple(array.shape)}")
n_file = sum(int(a.size) for a in state.values())
print(f"\n{len(state)} tensors, {n_file:,} numbers in {[os.path.basename(p) for p in paths]}")

# %% [markdown]
# Read the names like paths. `albert.embeddings.*` are the lookup tables;
# `albert.encoder.embedding_hidden_mapping_in` is the E→H projection;
# `albert.encoder.albert_layer_groups.0.albert_layers.0.*` is **one** transformer
# layer (query, key, value, output dense, two LayerNorms, the two feed-forward
# matrices); `albert.pooler`, when present, turns the first token into a sentence
# vector; and the rest, when present, are task heads (`predictions.*` for the
# masked-LM head, `sop_classifier.*` for sentence-order prediction, ...).
#
# Notice what is *not* there: there is no `...albert_layer_groups.0.albert_layers.1`
# and no `layer.11`. With G groups there are only G layer weight sets, however
# many layers (L) the network runs. Notice too that there is no
# `predictions.decoder.weight`: the output layer of the masked-LM head is the
# word-embedding table itself ("tied"), so it is stored once.
#
# Checkpoints differ in which parts they hold: one saved from
# `AlbertForPreTraining` has the pooler and both pretraining heads, one saved
# from `AlbertForMaskedLM` may have neither the pooler nor the sentence-order
# head, a fine-tuned one has a classifier instead. So we do not assume: we sort
# the stored names into parts and report what this file has.

# %%
PARTS = [("embeddings.", "embeddings"), ("encoder.embedding_hidden_mapping_in.", "E->H mapping"),
         ("encoder.albert_layer_groups.", "layer weights"), ("pooler.", "pooler"),
         ("predictions.", "MLM head"), ("sop_classifier.", "SOP head"),
         ("classifier.", "classifier head"), ("qa_outputs.", "QA head")]
ENCODER_PARTS = ("embeddings", "E->H mapping", "layer weights", "pooler")


def part_of(name):
    """Which part of the network a state-dict name belongs to ('buffer' for index arrays)."""
    bare = name[len("albert."):] if name.startswith("albert.") else name
    if bare.endswith(("position_ids", "token_type_ids")):
        return "buffer"                                # index arrays some files carry: not parameters
    return next((part for prefix, part in PARTS if bare.startswith(prefix)), "other")


parts = {}
for name, array in state.items():
    n_tensors, n_numbers = parts.get(part_of(name), (0, 0))
    parts[part_of(name)] = (n_tensors + 1, n_numbers + int(array.size))
for part, (n_tensors, n_numbers) in parts.items():
    print(f"{part:16s} {n_tensors:3d} tensors {n_numbers:>12,} numbers")
for part in ("pooler", "MLM head", "SOP head"):
    print(f"has {part:9s}: {part in parts}")
assert sum(n for _, n in parts.values()) == sum(int(a.size) for a in state.values())

# %% [markdown]
# Which class saved the file? `config.json` may say (`architectures`); if it does
# not, we guess from the heads that are stored. Each shape must match what the
# config predicts for that class: `expected_shapes` writes the prediction down
# from the config, and we compare. Every encoder weight except the pooler must be
# in the file (without them there is no model); the pooler and the heads are
# optional, and a class that needs one the file lacks initialises it fresh.

# %%
CLASS_HEAD = {spec.model_class: h for h, spec in HEADS.items()}
saved_by = (raw.get("architectures") or [None])[0]
if saved_by in CLASS_HEAD:
    head = CLASS_HEAD[saved_by]
else:
    head = "pretraining" if "SOP head" in parts else "mlm" if "MLM head" in parts else None
print(f"architectures: {raw.get('architectures')}  ->  head {head!r}, class {HEADS[head].model_class}")


def class_name(name):
    """A stored name as the class for `head` spells it (a bare encoder has no 'albert.' prefix)."""
    if part_of(name) not in ENCODER_PARTS:
        return name
    bare = name[len("albert."):] if name.startswith("albert.") else name
    return "albert." + bare if head else bare


predicted = expected_shapes(config, head)
stored = {class_name(k): v for k, v in state.items() if part_of(k) != "buffer"}
for name in stored:
    if name in predicted:
        assert tuple(stored[name].shape) == predicted[name], (name, stored[name].shape, predicted[name])
needed = [k for k in predicted if part_of(k) in ("embeddings", "E->H mapping", "layer weights")]
assert all(k in stored for k in needed), [k for k in needed if k not in stored]
print(f"all {sum(k in predicted for k in stored)} stored shapes match the config; "
      f"all {len(needed)} encoder weights (pooler aside) are in the file")

# %% [markdown]
# ## 4. The parameter count
#
# **The counting rule**, used for every count in this chapter: a parameter is one
# number of a distinct array the model trains. An array used in two places (the
# tied decoder, which *is* the word-embedding table; `predictions.decoder.bias`,
# which is `predictions.bias`) counts once, and index buffers (`position_ids`)
# do not count. This is what `model.num_parameters()` counts, and what PyTorch's
# `sum(p.numel() for p in model.parameters())` gives.
#
# We load the class that saved the file and ask the library. Applying the rule
# to the file by hand must give the same number, once we add what the class has
# and the file lacks (initialised fresh) and leave out what the file has and the
# class does not use.

# %%
model = getattr(albert_np, HEADS[head].model_class).from_pretrained(MODEL)
print(model)
flat = model.state_dict()
if head in ("pretraining", "mlm") and config.tie_word_embeddings:
    decoder, word = flat["predictions.decoder.weight"], flat["albert.embeddings.word_embeddings.weight"]
    print("decoder weight is the word-embedding table:", decoder is word)
    assert decoder is word

ALIASES = ("predictions.decoder.weight", "predictions.decoder.bias")   # the same arrays as others
used = [k for k in stored if k in predicted and k not in ALIASES]
unused = [k for k in stored if k not in predicted]
fresh = [k for k in predicted if k not in stored and k not in ALIASES]
n_used = sum(int(stored[k].size) for k in used)
n_fresh = sum(int(np.prod(predicted[k])) for k in fresh)
print(f"from the file: {n_used:,} numbers in {len(used)} arrays;  fresh: {n_fresh:,} in {fresh};  "
      f"unused: {unused}")
check("file (by the rule) + fresh vs num_parameters()", n_used + n_fresh, model.num_parameters(), 0, 0)

# %% [markdown]
# Let us count by hand, piece by piece, with the same rule. From here on we count
# the encoder (`AlbertModel`: embeddings, E→H projection, the stored layer sets and
# the pooler, without task heads), which is what the rest of the tutorial studies.
# When the file has no pooler, `AlbertModel` initialises one fresh, so the
# encoder's count includes it either way.

# %%
def linear_params(n_in, n_out):
    """A dense layer: an (out, in) matrix and a bias of length out."""
    return n_in * n_out + n_out


def layer_params(H, F):
    """One transformer layer: q, k, v, output dense, two LayerNorms (weight + bias), FFN."""
    attention = 4 * linear_params(H, H) + 2 * H
    feed_forward = linear_params(H, F) + linear_params(F, H) + 2 * H
    return attention + feed_forward


def encoder_params(V, E, H, F, P, S, n_layer_sets, factorised=True):
    """Embeddings (+ E->H projection when factorised), n_layer_sets layers, pooler."""
    width = E if factorised else H                      # BERT embeds straight into H
    embeddings = V * width + P * width + S * width + 2 * width
    mapping_in = linear_params(E, H) if factorised else 0
    return {"embeddings": embeddings + mapping_in,
            "layers": n_layer_sets * layer_params(H, F),
            "pooler": linear_params(H, H)}


ours = encoder_params(V, E, H, F, P, S, n_layer_sets=G * config.inner_group_num)
for part, n in ours.items():
    print(f"{part:12s} {n:>14,}")
print(f"{'total':12s} {sum(ours.values()):>14,}")

encoder = AlbertModel(config)                      # the encoder's arrays (random values are fine to count)
in_file = sum(int(stored[k].size) for k in stored if part_of(k) in ENCODER_PARTS)
pooler_in_file = "pooler" in parts
check_all("encoder parameter count", {
    "by hand vs AlbertModel.num_parameters()": (sum(ours.values()), encoder.num_parameters()),
    "by hand vs the config's predicted shapes": (
        sum(ours.values()), sum(int(np.prod(s)) for s in expected_shapes(config, None).values())),
    "by hand vs the encoder arrays in the file": (
        sum(ours.values()) - (0 if pooler_in_file else ours["pooler"]), in_file),
}, atol=0, rtol=0)
print("(the file has", "a pooler)" if pooler_in_file else "no pooler: the by-hand count without it)")

# %% [markdown]
# ## 5. Why ALBERT is small
#
# ALBERT differs from BERT in two ways that save parameters.
#
# **Factorised embedding.** BERT looks each of the V pieces up as a vector of the
# hidden width H: a V×H table. ALBERT looks it up in a narrow V×E table and then
# multiplies by one shared E×H matrix (`embedding_hidden_mapping_in`). The cost
# goes from V·H to V·E + E·H. Since V is large and E is much smaller than H, that
# is a big saving:

# %%
bert_table, albert_tables = V * H, V * E + E * H
print(f"V·H       = {V:,}·{H:,} = {bert_table:>12,}")
print(f"V·E + E·H = {V:,}·{E:,} + {E:,}·{H:,} = {albert_tables:>12,}   "
      f"({bert_table / albert_tables:.1f}x fewer)")

# %% [markdown]
# **Cross-layer sharing.** BERT has L different layers. ALBERT (with G = 1) has
# one layer and applies it L times; the data flows through L layers but only one
# set of weights is stored and trained.

# %%
one = layer_params(H, F)
print(f"one layer: {one:,} parameters;  L={L} unshared copies: {L * one:,}")

# %% [markdown]
# Put the two together in a table for four variants of *this* config: as
# released, without sharing, without factorising, and without either (which is
# BERT's design with ALBERT's sizes). Then the same for the albert-base-v2 sizes
# (V = 30000). Every row follows the counting rule of section 4 and includes the
# pooler. The paper's Table 1 lists 12M parameters for ALBERT-base and 108M for
# BERT-base; it does not say what it counts, and rounds, so we do not try to
# reproduce those figures: we print our own, with and without the pooler, and
# check the base-sized ALBERT against the library as well.
#
# Two of the variants are ALBERT configs in their own right (unsharing is just
# `num_hidden_groups = L`), so we can check those against the library's own
# shape list. The unfactorised ones are not ALBERT configs (ALBERT with E = H
# still keeps an H×H projection), so we check them against that config minus the
# projection.

# %%
def variants(cfg):
    """Parameter counts of the four variants of an ALBERT config, checked where possible."""
    sizes = (cfg.vocab_size, cfg.embedding_size, cfg.hidden_size, cfg.intermediate_size,
             cfg.max_position_embeddings, cfg.type_vocab_size)
    sets = cfg.num_hidden_groups * cfg.inner_group_num
    L = cfg.num_hidden_layers * cfg.inner_group_num
    rows = {
        "ALBERT (factorised, shared)": encoder_params(*sizes, sets),
        "factorised, not shared": encoder_params(*sizes, L),
        "not factorised, shared": encoder_params(*sizes, sets, factorised=False),
        "neither (BERT-style)": encoder_params(*sizes, L, factorised=False),
    }
    # the library's own shape list for the same configs
    count = lambda c: sum(int(np.prod(s)) for s in expected_shapes(c, None).values())
    unshared = cfg.copy()
    unshared.num_hidden_groups, unshared.inner_group_num = L, 1
    wide = cfg.copy()
    wide.embedding_size = cfg.hidden_size
    mapping = linear_params(cfg.hidden_size, cfg.hidden_size)
    assert sum(rows["ALBERT (factorised, shared)"].values()) == count(cfg)
    assert sum(rows["factorised, not shared"].values()) == count(unshared)
    assert sum(rows["not factorised, shared"].values()) == count(wide) - mapping
    wide.num_hidden_groups, wide.inner_group_num = L, 1
    assert sum(rows["neither (BERT-style)"].values()) == count(wide) - mapping
    return rows


def print_table(title, rows):
    print(title)
    print(f"  {'variant':30s} {'embeddings':>12s} {'layers':>12s} {'pooler':>10s} {'total':>13s}")
    for name, r in rows.items():
        print(f"  {name:30s} {r['embeddings']:>12,} {r['layers']:>12,} {r['pooler']:>10,} "
              f"{sum(r.values()):>13,}")


this_rows = variants(config)
base = AlbertConfig.from_preset("albert-base-v2")
base_rows = variants(base)
print_table(f"this model (V={V}, E={E}, H={H}, L={L}, F={F})", this_rows)
print()
print_table(f"albert-base-v2 preset (V={base.vocab_size}, E={base.embedding_size}, "
            f"H={base.hidden_size}, L={base.num_hidden_layers}, F={base.intermediate_size})", base_rows)

assert sum(this_rows["ALBERT (factorised, shared)"].values()) == encoder.num_parameters()
bert_base = sum(base_rows["neither (BERT-style)"].values())
albert_base = sum(base_rows["ALBERT (factorised, shared)"].values())
check("albert-base-v2 sizes: by hand vs AlbertModel(base).num_parameters()", albert_base,
      AlbertModel(base).num_parameters(), 0, 0)
pooler_base = base_rows["neither (BERT-style)"]["pooler"]
print(f"\nalbert-base: {albert_base / 1e6:.2f}M;  the same network BERT-style: {bert_base / 1e6:.2f}M "
      f"({bert_base / albert_base:.1f}x)")
print(f"without the pooler: {(albert_base - pooler_base) / 1e6:.2f}M and {(bert_base - pooler_base) / 1e6:.2f}M")

# %% [markdown]
# For the base sizes most of BERT's parameters sit in its 12 layers; sharing
# removes 11 of them. The embedding saving matters more the larger V·H is. Once
# both savings are made, what is left is mostly the V×E word table and the one
# layer; their shares in this model:

# %%
total = sum(ours.values())
print(f"word table V·E: {V * E / total:.0%} of the encoder;  the one layer: {one / total:.0%}")

# %% [markdown]
#
# A bar chart makes the proportions visible (a log scale would hide them, so each
# panel has its own linear scale).

# %%
if plt is not None:
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for ax, (title, rows) in zip(axes, [("this model", this_rows), ("albert-base-v2 sizes", base_rows)]):
        names = list(rows)
        left = np.zeros(len(names))
        for part, colour in [("embeddings", "tab:blue"), ("layers", "tab:orange"), ("pooler", "tab:green")]:
            values = np.array([rows[n][part] for n in names]) / 1e6
            ax.barh(names, values, left=left, color=colour, label=part)
            left += values
        for y, total in enumerate(left):
            ax.text(total, y, f" {total:.2f}M", va="center", fontsize=8)
        ax.set_xlim(0, left.max() * 1.25)
        ax.invert_yaxis()
        ax.set_title(title)
        ax.set_xlabel("parameters (millions)")
    axes[1].set_yticklabels([])
    fig.legend(*axes[0].get_legend_handles_labels(), loc="lower center", ncol=3, fontsize=9)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    show(fig, "00_parameter_budget.png")

# %% [markdown]
# Sharing saves *memory*, not *time*: the forward pass still runs L layers, each
# with a full layer's arithmetic. ALBERT is small on disk, not fast.

# %% [markdown]
# ## Exercises
#
# 1. ★ Use the shape cheat-sheet to write down the shape of every array of the
#    one stored layer (attention query, key, value and output dense, its
#    LayerNorm, the two feed-forward matrices and the LayerNorm after them) for
#    the bundled model, then print them from the state dict to check.
# 2. ★ For which embedding size E does the factorised embedding stop saving
#    anything, with V = 30000 and H = 768 (solve V·E + E·H = V·H)?
# 3. ★★ A BERT-style model would give each of the L layer positions its own
#    weights. How many parameters would the bundled model have then, and how many
#    times its real count?
