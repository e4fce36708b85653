# %% [markdown]
# # Chapter 9: One optimiser step by hand, and why ALBERT predicts sentence order
#
# Chapters 7 and 8 computed the gradient of the loss with respect to every
# weight. This chapter covers what happens next: the **optimiser step** that
# turns a gradient into new weights. Along the way we look at the task that
# produced the gradient, ALBERT's **sentence-order prediction** (SOP), the
# second half of its pretraining loss (the head is in Chapter 6).
#
# These are the last pieces of a training loop. Chapter 10 puts them together
# into a fine-tuning loop written out by hand, and Chapter 11 uses them for
# pretraining, with the SOP pairs of the last section built at scale.
#
# 1. Take a real gradient: two sentence pairs through the bundled model with
#    `step.loss_and_grads`, as the training loop does it.
# 2. Do one **AdamW** step by hand, with bias-corrected moments and
#    decoupled weight decay, and check every parameter against `optim.AdamW`.
# 3. Do one **LAMB** step by hand, with its per-tensor trust ratio, and check
#    it against `optim.LAMB`. ALBERT was pretrained with LAMB.
# 4. Compute the learning-rate schedule (warm-up, then linear decay) by hand.
# 5. Build a sentence-order example and a BERT-style next-sentence example from
#    the same document, and see why one can be solved by topic alone.
#
# All optimiser maths runs in float64 here, so by-hand and library results must
# agree to about 1e-12. Any real mistake shows up far above that level.

# %% [markdown]
# **Which model.** This chapter runs on the bundled `albert-tiny-en`. To use another checkpoint, set `ALBERT_NP_MODEL` before `tutorial_utils` is imported: in a shell `ALBERT_NP_MODEL=/path/to/checkpoint python tutorials/09_optimisers_and_sop.py`; in Jupyter run `%env ALBERT_NP_MODEL=/path/to/checkpoint` in a cell above the imports (the variable is read once, at import; changing it later has no effect until the kernel restarts).

# %%
from tutorial_utils import *

import copy

import albert_np
from albert_np.training import optim
from albert_np import step
from albert_np.training import pretraining_data as pdata
from albert_np.params import named_parameters

tok = albert_np.AlbertTokenizerFast.from_pretrained(MODEL)
model = albert_np.AlbertForPreTraining.from_pretrained(MODEL, dtype=np.float64)   # float64 for exact checks
config = model.config
print(model)

# %% [markdown]
# ## A small batch of real text
#
# Three short documents, written for this tutorial, each a list of sentences.
# `pretraining_data.sentence_order_pairs` cuts a document into segments A and B
# and swaps them half of the time. Label 1 means "swapped" (the ALBERT
# convention). We take one pair from each of the first two documents, write it as
# `[CLS] A [SEP] B [SEP]`, and hide two tokens per row for the masked-LM loss.
# That gives a batch of B = 2 rows of T = 40 tokens.

# %%
DOCS = {
    "bees": ["A honey bee colony lives in a hive built from wax.",
             "The queen lays the eggs, and thousands of workers do everything else.",
             "Young workers clean the cells and feed the larvae.",
             "Older workers fly out to collect nectar and pollen from flowers.",
             "Back in the hive, the nectar is dried until it becomes honey.",
             "In winter the bees cluster together and shiver to stay warm."],
    "bread": ["Bread starts as flour, water, salt and yeast.",
              "Kneading the dough stretches the gluten into a strong web.",
              "The yeast eats sugar and releases gas, so the dough rises.",
              "After shaping, the loaf rises a second time on the bench.",
              "A hot oven sets the crust and drives off most of the water.",
              "The loaf must cool before it is cut, or the crumb turns gummy."],
    "lighthouses": ["A lighthouse marks a dangerous coast for ships at night.",
                    "Early towers burned wood or coal in an open fire.",
                    "Later a lamp was placed behind large glass lenses.",
                    "The lenses bend the light into a narrow beam that sweeps the sea.",
                    "Each lighthouse flashes in its own pattern, so sailors know which one they see.",
                    "Today most lights run automatically and the keepers have gone."],
}
pieces = tok.convert_ids_to_tokens(list(range(tok.vocab_size)))
special_ids = sorted({tok.pad_token_id, tok.unk_token_id, tok.cls_token_id, tok.sep_token_id, tok.mask_token_id})
is_word_start = pdata.word_starts(pieces, special_ids)


def encode(doc):
    return [tok(s, add_special_tokens=False)["input_ids"] for s in doc]


T = 40
rng = np.random.default_rng(1)
input_ids = np.full((2, T), tok.pad_token_id)
token_type_ids = np.zeros((2, T), dtype=np.int64)
mlm_labels = np.full((2, T), -100)                            # -100: no MLM loss at this position
sop_labels = np.zeros(2, dtype=np.int64)
for row, name in enumerate(["bees", "bread"]):
    a, b, label = next(pdata.sentence_order_pairs(encode(DOCS[name]), rng, T - 3, 0.0, is_word_start))
    ids = [tok.cls_token_id] + a + [tok.sep_token_id] + b + [tok.sep_token_id]
    input_ids[row, :len(ids)] = ids
    token_type_ids[row, len(a) + 2:len(ids)] = 1               # segment B (and its [SEP])
    hide = rng.choice(np.arange(1, len(a) + 1), size=2, replace=False)   # two tokens of A
    mlm_labels[row, hide] = input_ids[row, hide]
    input_ids[row, hide] = tok.mask_token_id
    sop_labels[row] = label
    print(f"row {row}: SOP label {label}, A = {tok.decode(a)[:60]!r}...")
inputs = {"input_ids": input_ids, "token_type_ids": token_type_ids,
          "attention_mask": (input_ids != tok.pad_token_id).astype(np.int64)}
labels = {"labels": mlm_labels, "sentence_order_label": sop_labels}


def gradient():
    """Loss and {HF name: gradient} at the model's current weights (no dropout)."""
    loss, _, grads = step.loss_and_grads(model.params, config, "pretraining", inputs, labels)
    return loss, grads


loss, grads = gradient()
params = named_parameters(model.params)          # {name: the model's own array}; tied decoder listed once
assert set(grads) == set(params)
print(f"loss (MLM + SOP) = {loss:.4f}; {len(params)} parameter tensors, "
      f"{sum(p.size for p in params.values()):,} numbers")
for name in list(params)[:3]:
    print(f"  {name:50s} param {params[name].shape}  grad {grads[name].shape}")

# %% [markdown]
# ## What the loop does first: clip the global gradient norm
#
# The training loop (`train.py`) rescales the gradient before each step so that
# the norm of *all* gradients together is at most `max_grad_norm` (1.0 by
# default):
# `total = sqrt(sum over tensors of ||g||^2)`, `coef = min(1, max_norm / (total + 1e-6))`.

# %%
total = np.sqrt(sum(np.sum(g * g) for g in grads.values()))
coef = min(1.0, 1.0 / (total + 1e-6))
clipped = {k: g.copy() for k, g in grads.items()}
norm_lib = optim.clip_grad_norm(clipped, 1.0)           # clips in place, returns the norm before
check_all("clipping", {
    "global gradient norm": (total, norm_lib),
    "clipped gradients": (np.concatenate([coef * g.ravel() for g in grads.values()]),
                          np.concatenate([g.ravel() for g in clipped.values()]))}, atol=1e-15, rtol=1e-12)
grads = clipped
print(f"norm {total:.3f} -> scaled by {coef:.4f}")

# %% [markdown]
# ## AdamW by hand
#
# Adam keeps two running averages per number: `m` of the gradient and `v` of its
# square. Both start at zero, so early on they are too small. Dividing by
# `1 - b^t` removes that bias. At step t = 1, 2, ...:
#
#     m = b1 m + (1 - b1) g          m_hat = m / (1 - b1^t)
#     v = b2 v + (1 - b2) g^2        v_hat = v / (1 - b2^t)
#     p = p - lr * m_hat / (sqrt(v_hat) + eps)  -  lr * wd * p
#
# The last term is **decoupled weight decay** (the "W" in AdamW). It shrinks
# the weight directly, instead of adding `wd * p` to the gradient, where Adam's
# division by `sqrt(v_hat)` would make the decay strength differ from weight to
# weight. Biases and LayerNorm weights get no decay. In albert_np that is any
# name ending in "bias" or containing "LayerNorm" or "layer_norm" (ALBERT's
# `full_layer_layer_norm`).
#
# We take two steps. The second uses the gradient at the weights after the
# first, as real training would. The library updates the model's own arrays in
# place. Our copy `hand` is updated by the formulas above.
#
# **Predict before you run:** in step 1, one weight has a gradient 1000 times
# larger than another's. How much further does it move?

# %%
LR, BETAS, EPS, WD = 1e-3, (0.9, 0.999), 1e-8, 0.01


def decayed(name):
    return not (name.endswith("bias") or "LayerNorm" in name or "layer_norm" in name)


assert [decayed(n) for n in params] == [not optim.no_decay(n) for n in params]
short = {k: k.replace("albert.", "").replace("encoder.albert_layer_groups.0.albert_layers.0.", "layer.")
         for k in params}
excluded = [short[n] for n in params if not decayed(n)]
print(f"{len(excluded)} of {len(params)} tensors get no weight decay:")
for i in range(0, len(excluded), 4):
    print("   " + ", ".join(excluded[i:i + 4]))

start = {k: p.copy() for k, p in params.items()}        # to restore the model afterwards
hand = {k: p.copy() for k, p in params.items()}
m = {k: np.zeros_like(p) for k, p in params.items()}
v = {k: np.zeros_like(p) for k, p in params.items()}
adamw = optim.AdamW(params, lr=LR, betas=BETAS, eps=EPS, weight_decay=WD)
b1, b2 = BETAS
g_first = grads                                         # kept for the next cells
adam_pairs = {}
for t in (1, 2):
    if t == 2:
        loss, grads = gradient()                        # at the weights after step 1
        optim.clip_grad_norm(grads, 1.0)                # as the loop does before every step
    before = {k: p.copy() for k, p in params.items()}
    for k, g in grads.items():
        m[k] = b1 * m[k] + (1 - b1) * g
        v[k] = b2 * v[k] + (1 - b2) * g * g
        m_hat, v_hat = m[k] / (1 - b1 ** t), v[k] / (1 - b2 ** t)
        hand[k] = hand[k] - LR * m_hat / (np.sqrt(v_hat) + EPS) - (LR * WD * hand[k] if decayed(k) else 0)
    adamw.step(grads)
    ours = np.concatenate([(hand[k] - before[k]).ravel() for k in params])
    lib = np.concatenate([(params[k] - before[k]).ravel() for k in params])
    adam_pairs[f"step {t}: update of all {len(params)} tensors"] = (ours, lib)
    for k in params:                                     # and each tensor on its own
        assert np.allclose(hand[k], params[k], rtol=0, atol=1e-14), k
check_all("AdamW by hand vs optim.AdamW", adam_pairs, atol=1e-15, rtol=1e-10)


# %% [markdown]
# The first Adam step has a simple form. With `t = 1`, `m_hat = g` and
# `v_hat = g^2`, so the Adam part of the update is `-lr * g / (|g| + eps)`,
# which is about `-lr * sign(g)`. Every number moves by almost exactly `lr`,
# whether its gradient is large or small. So Adam's learning rate says how far
# each weight may move per step.
#
# Numbers whose gradient is exactly 0 do not move at all: for example, the rows
# of the 16,000-row word-embedding table for tokens that are not in this batch.
# Weight decay still shrinks those rows, because it does not look at the gradient.
# We check both facts with the library, starting again from the original weights.

# %%
g_all = np.concatenate([g_first[k].ravel() for k in params])
no_decay_step = {k: p.copy() for k, p in start.items()}
optim.AdamW(no_decay_step, lr=LR, betas=BETAS, eps=EPS, weight_decay=0.0).step(g_first)
moved = np.concatenate([(no_decay_step[k] - start[k]).ravel() for k in params])
big = np.abs(g_all) > 1e-5
check("first step = -lr * sign(g) where |g| > 1e-5", moved[big], -LR * np.sign(g_all[big]), atol=0, rtol=1e-3)
print(f"{np.mean(g_all == 0):.1%} of the numbers have a zero gradient in this batch")

with_decay = {k: p.copy() for k, p in start.items()}
optim.AdamW(with_decay, lr=LR, betas=BETAS, eps=EPS, weight_decay=WD).step(g_first)
check_all("the rest of the first step", {
    "no move where g = 0": (moved[g_all == 0], np.zeros(int(np.sum(g_all == 0)))),
    "decay part = -lr * wd * p (0 where excluded)": (
        np.concatenate([(with_decay[k] - no_decay_step[k]).ravel() for k in params]),
        np.concatenate([(-LR * WD * start[k] if decayed(k) else 0 * start[k]).ravel() for k in params]))},
    atol=1e-18, rtol=1e-9)
for k, p in params.items():                             # put the model back to its loaded weights
    p[...] = start[k]

# %% [markdown]
# ## LAMB by hand
#
# ALBERT was pretrained with batches of 4096 sequences, using the LAMB optimiser
# (You et al., 2019). The ALBERT paper (Lan et al., ICLR 2020, section 4.1)
# gives a learning rate of 0.00176. With very large batches you want a large
# learning rate, so that the run needs fewer steps. But Adam moves every number
# by about `lr`, whatever the size of its tensor's weights. A rate that is a
# small step for a tensor of large weights is a huge step for a tensor of small
# ones. In the bundled model the word-embedding table's norm is many times the
# token-type table's (the table below prints every tensor's norm). Training then
# becomes unstable. LAMB computes the Adam direction `u` and then
# rescales it, separately for each tensor, so that the step's size is a fixed
# fraction of the tensor's own size:
#
#     m = b1 m + (1 - b1) g,   v = b2 v + (1 - b2) g^2           (no bias correction, as ALBERT's code)
#     u = m / (sqrt(v) + eps) + wd * p                          (wd term: decayed tensors only)
#     r = ||p|| / ||u||   (the trust ratio; r = 1 if either norm is 0, or for excluded tensors)
#     p = p - lr * r * u
#
# The norms are over the whole tensor. Two cases need the "r = 1" rule.
# A tensor that is all zeros (`||p|| = 0`) would get `r = 0` and could never
# move. A tensor with `u = 0` would get `r = ||p|| / 0 = inf`, and then
# `inf * 0` would be NaN. For every other decayed tensor,
# the step has norm exactly `lr * ||p||`, so each tensor changes by the same
# *relative* amount, `lr`. We check that as well.

# %%
LAMB_LR, LAMB_EPS = 1e-3, 1e-6
lamb_params = {k: p.copy() for k, p in start.items()}
optim.LAMB(lamb_params, lr=LAMB_LR, betas=BETAS, eps=LAMB_EPS, weight_decay=WD).step(g_first)

ratios, lamb_hand = {}, {}
for k, p in start.items():
    g = g_first[k]
    m1, v1 = (1 - b1) * g, (1 - b2) * g * g            # m, v after one step from zero
    u = m1 / (np.sqrt(v1) + LAMB_EPS) + (WD * p if decayed(k) else 0)
    w_norm, u_norm = np.linalg.norm(p), np.linalg.norm(u)
    r = w_norm / u_norm if decayed(k) and w_norm > 0 and u_norm > 0 else 1.0
    ratios[k] = r
    lamb_hand[k] = p - LAMB_LR * r * u
check(f"LAMB step: all {len(params)} tensors",
      np.concatenate([lamb_hand[k].ravel() for k in params]),
      np.concatenate([lamb_params[k].ravel() for k in params]), atol=1e-15, rtol=1e-12)
for k in params:
    if decayed(k):
        rel = np.linalg.norm(lamb_params[k] - start[k]) / np.linalg.norm(start[k])
        assert abs(rel - LAMB_LR) < 1e-9 * LAMB_LR, (k, rel)
print(f"every decayed tensor moved by ||dp|| / ||p|| = {LAMB_LR} (checked on the library's step)")

print(f"{'tensor':42s} {'||p||':>9s} {'trust ratio':>12s}")
for k in params:
    print(f"{short[k]:42s} {np.linalg.norm(start[k]):9.3f} {ratios[k]:12.4g}{'' if decayed(k) else '   (excluded)'}")

# %% [markdown]
# Why are the ratios so small? Without bias correction, the first `u` is about
# `0.1 / sqrt(0.001) = 3.16` times `sign(g)` in every entry. So `||u||` is about
# `3.16 * sqrt(size)`, and for a large tensor that is much more than `||p||`.
#
# One row stands out: `layer.attention.key.bias` has a norm of almost 0 after
# pretraining. In exact arithmetic its gradient is zero. Adding the same vector
# `b` to every key adds `q . b` to all of one query's scores, and softmax
# ignores a constant shift. So this bias cannot learn anything. It is in the
# checkpoint only because every linear layer has a bias in the layout.

# %%
key_b = "albert.encoder.albert_layer_groups.0.albert_layers.0.attention.key.bias"
query_b = key_b.replace("key", "query")
ratio = np.linalg.norm(g_first[key_b]) / np.linalg.norm(g_first[query_b])
print(f"||grad key.bias|| / ||grad query.bias|| = {ratio:.1e}")
assert ratio < 1e-6

# %%
if plt is not None:
    fig, ax = plt.subplots(figsize=(8, 4.5))
    names = list(params)
    ax.barh(range(len(names)), [ratios[k] for k in names],
            color=["tab:blue" if decayed(k) else "tab:gray" for k in names])
    ax.set_yticks(range(len(names)))
    ax.set_yticklabels([short[k] for k in names], fontsize=7)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("trust ratio ||p|| / ||u||  (log scale; grey: excluded, r = 1)")
    ax.set_title("LAMB's per-tensor trust ratios, first step on the bundled model")
    show(fig, "09_lamb_trust_ratios.png")

# %% [markdown]
# The zero-norm cases do not occur in the bundled model, so we make them on purpose:
# an all-zero weight matrix (as a freshly zero-initialised layer would be) and
# a tensor whose gradient is zero, with weight decay off so that `u = 0`.
# Without the "r = 1" rule, the first would never move and the second would
# turn into NaN.

# %%
toy_rng = np.random.default_rng(0)
toy = {"dense.weight": toy_rng.normal(size=(3, 4)), "zero.weight": np.zeros((3, 4)),
       "idle.weight": toy_rng.normal(size=(2, 2))}
toy_grads = {"dense.weight": toy_rng.normal(size=(3, 4)), "zero.weight": toy_rng.normal(size=(3, 4)),
             "idle.weight": np.zeros((2, 2))}
toy_start = copy.deepcopy(toy)
optim.LAMB(toy, lr=0.1, eps=LAMB_EPS, weight_decay=0.0).step(toy_grads)
toy_pairs = {}
for k, p in toy_start.items():
    u = (1 - b1) * toy_grads[k] / (np.sqrt((1 - b2) * toy_grads[k] ** 2) + LAMB_EPS)
    w_norm, u_norm = np.linalg.norm(p), np.linalg.norm(u)
    with np.errstate(invalid="ignore", divide="ignore"):
        naive = w_norm / u_norm
    r = w_norm / u_norm if w_norm > 0 and u_norm > 0 else 1.0
    print(f"{k:13s} ||p|| = {w_norm:.3g}, ||u|| = {u_norm:.3g}: naive r = {naive:.3g}, used r = {r:.3g}")
    toy_pairs[k] = (p - 0.1 * r * u, toy[k])
check_all("LAMB on the toy tensors", toy_pairs, atol=1e-15)
assert np.any(toy["zero.weight"] != 0), "the zero matrix has moved away from zero"

# %% [markdown]
# ## The learning-rate schedule
#
# Neither optimiser uses a fixed rate. The loop multiplies the base rate by a
# schedule. The default schedule rises linearly from 0 over `warmup` steps, so
# that the first few steps are small while Adam's moment estimates are still
# noisy. It then falls linearly to 0 at the last step:
#
#     step < warmup:  step / warmup
#     otherwise:      max(0, (total - step) / (total - warmup))
#
# `Trainer.lr_at(step)` uses the multiplier at the number of steps already
# *completed*, as transformers' `LambdaLR` does. So the very first update has
# rate 0 when there is a warm-up.

# %%
TOTAL, WARMUP = 100, 10


def warmup_then_linear(step):
    if step < WARMUP:
        return step / WARMUP
    return max(0.0, (TOTAL - step) / (TOTAL - WARMUP))


steps = np.arange(TOTAL + 6)                                   # a few steps past the end, too
ours = np.array([warmup_then_linear(int(s)) for s in steps])
lib = np.array([optim.linear_warmup_linear_decay(int(s), WARMUP, TOTAL) for s in steps])
check("schedule multiplier, steps 0..105", ours, lib, atol=0)
print(f"peak {ours.max()} at step {int(steps[ours.argmax()])}; 0 from step {TOTAL} on")

if plt is not None:
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.plot(steps, LAMB_LR * ours, label="by hand")
    ax.plot(steps, LAMB_LR * lib, "k:", label="optim.linear_warmup_linear_decay")
    ax.axvline(WARMUP, color="gray", lw=0.5)
    ax.set_xlabel("completed steps")
    ax.set_ylabel("learning rate")
    ax.set_title(f"Warm-up ({WARMUP} steps), then linear decay to 0 at {TOTAL}")
    ax.legend()
    show(fig, "09_lr_schedule.png")

# %% [markdown]
# ## Sentence order (SOP) versus next sentence (NSP)
#
# BERT's second pretraining task was **next-sentence prediction**. Take
# segment A from a document. Half of the time B is the text that really follows A
# (label 0). The other half, B is a segment from a *different* document
# (label 1). ALBERT replaced it with **sentence-order prediction**, where both
# segments always come from the same place and the negatives are the same two
# segments in swapped order.
#
# First, SOP by hand. With a length budget that holds the whole document and
# no short sequences, `sentence_order_pairs` draws three random numbers.
# The first is the short-sequence draw. The second picks the sentence after
# which to cut, `a_end` in `1 .. n - 1`. The third is the coin flip for the swap.
# We draw the same numbers ourselves and check that we get the same pair.

# %%
doc = encode(DOCS["bees"])
flat = lambda sents: [t for s in sents for t in s]
for seed in range(8):
    r = np.random.default_rng(seed)
    r.random()                                                    # short_seq_prob = 0: full length
    a_end = int(r.integers(1, len(doc)))
    swapped = int(r.random() < 0.5)
    a, b = flat(doc[:a_end]), flat(doc[a_end:])
    if swapped:
        a, b = b, a
    lib_a, lib_b, lib_label = next(pdata.sentence_order_pairs(doc, np.random.default_rng(seed), 1000, 0.0,
                                                              is_word_start))
    assert (a, b, swapped) == (lib_a, lib_b, lib_label), seed
    if seed in (0, 2):
        print(f"seed {seed}: cut after sentence {a_end}, label {swapped} ({'swapped' if swapped else 'in order'})")
        print(f"   A: {tok.decode(a)[:75]}...\n   B: {tok.decode(b)[:75]}...")
print("by-hand SOP pairs == sentence_order_pairs for seeds 0..7")

# %% [markdown]
# Now NSP, from the same document, cut after sentence 3. The positive is the
# real continuation. The negative takes its B from the bread document.

# %%
A = flat(doc[:3])
nsp_pos = (A, flat(doc[3:]), 0)                                   # 0: B really follows A
nsp_neg = (A, flat(encode(DOCS["bread"])[2:5]), 1)                # 1: B from another document
sop_pos = (A, flat(doc[3:]), 0)                                   # 0: in order
sop_neg = (flat(doc[3:]), A, 1)                                   # 1: the same two segments, swapped
for name, (a, b, label) in [("NSP +", nsp_pos), ("NSP -", nsp_neg), ("SOP +", sop_pos), ("SOP -", sop_neg)]:
    print(f"{name} label {label}: A = {tok.decode(a)[:38]}... | B = {tok.decode(b)[:38]}...")

# %% [markdown]
# ### A classifier that only knows the topic
#
# How much of NSP can be solved *without* understanding how sentences follow
# one another? Take the crudest topic detector there is: the share of word
# pieces (longer than three characters) that A and B have in common. Call a
# pair "random" when that share is below the median. We build every NSP and
# SOP pair the three documents allow: each cut point, each other document as
# a negative, and both orders.
#
# The overlap is **symmetric**: it is the same for (A, B) and (B, A). On SOP,
# each positive has a negative with exactly the same score. So *any* classifier
# built on this feature gets exactly half of SOP right, whatever its
# threshold. On NSP, the negatives come from another topic and give themselves
# away.

# %%
def overlap(a, b):
    words = lambda ids: {t for t in ids if len(pieces[t]) > 3}
    wa, wb = words(a), words(b)
    return len(wa & wb) / max(1, len(wa | wb))


enc = {name: encode(d) for name, d in DOCS.items()}
nsp, sop = [], []                                                 # (score, label)
for name, sents in enc.items():
    for cut in range(1, len(sents)):
        a, b = flat(sents[:cut]), flat(sents[cut:])
        nsp.append((overlap(a, b), 0))
        sop += [(overlap(a, b), 0), (overlap(b, a), 1)]
        for other, other_sents in enc.items():
            if other != name:
                nsp.append((overlap(a, flat(other_sents[cut:])), 1))
threshold = np.median([s for s, _ in nsp + sop])
accuracy = lambda pairs: np.mean([(s < threshold) == bool(y) for s, y in pairs])
print(f"{len(nsp)} NSP pairs: topic-only accuracy {accuracy(nsp):.2f}")
print(f"{len(sop)} SOP pairs: topic-only accuracy {accuracy(sop):.2f}")
assert accuracy(sop) == 0.5, "a symmetric feature cannot tell A,B from B,A"
assert accuracy(nsp) > 0.5

# %% [markdown]
# So a model can score well on NSP by noticing a change of topic, which the MLM
# task already teaches it. This gives it little reason to learn how one
# sentence leads to the next. SOP removes that shortcut: both orders have the
# same topic and the same words, and only the order differs.
#
# The ALBERT paper measured this directly. Lan et al., "ALBERT: A Lite BERT for
# Self-supervised Learning of Language Representations", ICLR 2020, Table 5 in
# section 4.6, trained an ALBERT-base three ways: no sentence loss, NSP, or
# SOP. The numbers below were read from the paper's text:
#
# | trained with | NSP accuracy | SOP accuracy | downstream average |
# |---|---|---|---|
# | none | 52.4 | 53.3 | 79.0 |
# | NSP  | 90.5 | 52.0 | 79.2 |
# | SOP  | 78.9 | 86.5 | 80.1 |
#
# The NSP-trained model does no better than chance on SOP (52.0 %). The paper
# concludes that NSP ends up modelling topic shift. The SOP-trained model
# solves NSP reasonably well (78.9 %). Downstream (the average over SQuAD 1.1,
# SQuAD 2.0, MNLI, SST-2 and RACE), SOP gains about one point over the others,
# mostly on tasks whose inputs span several sentences.

# %% [markdown]
# ## Exercises
#
# 1. ★ Give AdamW the same gradient twice. What is each step then, and does the
#    library agree?
# 2. ★ With `TOTAL, WARMUP = 100, 10`, work out on paper the schedule's
#    multiplier after 5 and after 55 completed steps, and the first completed
#    step at which it is below 0.5. Check with `optim.linear_warmup_linear_decay`.
# 3. ★★ Scale a real gradient of the bundled model by 1000 and take one LAMB
#    step. LAMB looks scale-free (`m / sqrt(v)`, then a trust ratio), so which
#    tensors' updates change, and why?
