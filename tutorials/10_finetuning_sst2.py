# %% [markdown]
# # Chapter 10: Fine-tuning a sentiment classifier on SST-2
#
# Pretraining gives ALBERT general-purpose vectors. *Fine-tuning* adapts it to
# one task: here SST-2, movie-review snippets labelled negative (0) or positive
# (1). We add a small classification head on top of the pooled `[CLS]` vector,
# then train **all** the weights (encoder and head) with the NumPy backprop of
# Chapters 7 and 8 and the AdamW optimiser and learning-rate schedule of Chapter 9.
#
# You will learn
#
# * how to write the fine-tuning loop yourself, in about twenty lines: batches,
#   forward and loss, backward, gradient clipping, the learning-rate schedule and
#   AdamW, and that it gives the library's losses step for step;
# * what one call to `albert_np.finetune` adds around that loop: evaluation,
#   checkpoints, and keeping the best model;
# * how to read its log, and to draw the loss curve from it;
# * how to use the saved model with `albert_np.classify`, checked against a
#   forward pass done by hand.
#
# **A word on budgets.** A real SST-2 run uses 67,000 training sentences for a
# few epochs (thousands of steps). Here we use **4,096 sentences for one epoch
# (128 steps of 32)**, about a minute on a laptop CPU for the bundled model, and
# score all 872 dev sentences. That is enough to learn a good part of sentiment:
# the dev accuracy ends clearly above the majority class (the chapter checks it).

# %% [markdown]
# **Which model.** This chapter runs on the bundled `albert-tiny-en`. To use another checkpoint, set `ALBERT_NP_MODEL` before `tutorial_utils` is imported: in a shell `ALBERT_NP_MODEL=/path/to/checkpoint python tutorials/10_finetuning_sst2.py`; in Jupyter run `%env ALBERT_NP_MODEL=/path/to/checkpoint` in a cell above the imports (the variable is read once, at import; changing it later has no effect until the kernel restarts).

# %%
from tutorial_utils import *

import os
import tempfile

import albert_np
from albert_np import step
from albert_np.params import named_parameters
from albert_np.training import datasets, optim
from albert_np.training import features as F

# %% [markdown]
# ## The data
#
# SST-2 comes as two TSV files with a `sentence` and a `label` column. The
# `"sst2"` task preset knows these columns, the label names and the metric
# (accuracy). We look for the files in the shared data folder (`../shared/data`
# next to the repository, or the folder named by `ALBERT_NP_DATA`).
#
# **If they are missing**, the chapter falls back to a few sentences written
# for this tutorial, passed to `finetune` as a list of dicts. Everything below
# runs the same way, only on less data.
#
# **On a larger checkpoint** than the bundled one (albert-base-v2 has H = 768
# and 12 layer applications: about 18 times the work per token of
# `albert-tiny-en`'s H = 256 and 6), the same budget would take most of an
# hour, so the chapter switches to a demo budget (32 sentences for 40 steps,
# 64 dev sentences) and prints that it did. That only shows the machinery: the
# model memorises 32 sentences, and the dev accuracy stays near chance.

# %%
HERE = os.path.dirname(os.path.abspath(__file__)) if "__file__" in globals() else os.getcwd()
DATA = os.environ.get("ALBERT_NP_DATA") or os.path.join(HERE, "..", "..", "shared", "data")
task = datasets.get_task("sst2")
train_file = os.path.join(DATA, task.files[0])
dev_file = os.path.join(DATA, task.files[1])

FALLBACK_POS = ["a warm , funny and moving film", "the best acting i have seen this year",
                "a delight from start to finish", "smart , sharp and beautifully shot",
                "i loved every minute of it", "a gentle and touching story",
                "the cast is wonderful", "clever writing and a great ending"]
FALLBACK_NEG = ["a dull and lifeless mess", "the plot makes no sense at all",
                "two hours i will never get back", "badly acted and badly written",
                "boring , slow and far too long", "the jokes fall flat",
                "a waste of a good cast", "i wanted to leave after ten minutes"]

if os.path.isfile(train_file) and os.path.isfile(dev_file):
    train, dev = train_file, dev_file
    print(f"SST-2 found in {os.path.normpath(os.path.dirname(train_file))}")
else:
    def rows(sentences, label):
        return [{"sentence": s, "label": label} for s in sentences]
    train = (rows(FALLBACK_POS[:6], 1) + rows(FALLBACK_NEG[:6], 0)) * 3   # 36 rows (32 used)
    dev = rows(FALLBACK_POS[6:], 1) + rows(FALLBACK_NEG[6:], 0)          # 4 unseen sentences
    print("SST-2 not found: using the built-in example sentences")

N_TRAIN, N_DEV, EPOCHS, BATCH, EVAL_EVERY = 4096, 872, 1, 32, 32
size = albert_np.AlbertConfig.from_pretrained(MODEL)
FULL_BUDGET = size.hidden_size ** 2 * size.num_hidden_layers <= 256 ** 2 * 6   # no more work than albert-tiny-en
if not FULL_BUDGET:
    N_TRAIN, N_DEV, EPOCHS, BATCH, EVAL_EVERY = 32, 64, 10, 8, 20
    print(f"a larger checkpoint (H={size.hidden_size}, L={size.num_hidden_layers}): the demo budget, "
          f"{N_TRAIN} sentences for {EPOCHS} epochs and {N_DEV} dev sentences, to keep the run short")
train_examples = datasets.load_examples(task, train, limit=N_TRAIN)
dev_examples = datasets.load_examples(task, dev, limit=N_DEV)
for ex in train_examples[:4]:
    print(ex["label"], ex["text_a"])
train_pos = np.mean([ex["label"] for ex in train_examples])
dev_majority = max(np.mean([ex["label"] for ex in dev_examples]),
                   1 - np.mean([ex["label"] for ex in dev_examples]))
print(f"{len(train_examples)} training sentences ({train_pos:.0%} positive), "
      f"{len(dev_examples)} dev sentences (majority class: {dev_majority:.1%})")

# %% [markdown]
# The last number is the baseline to beat. A model that always answers the
# more common dev label already gets that accuracy.
#
# ## The loop, written out
#
# Everything a fine-tuning run does to the weights fits in one loop. We write it
# here with the settings we will give `finetune` below (batch 32, peak learning
# rate 3e-4, warm-up over the first 10 % of the steps, seed 0), and run its
# first few steps. The pieces:
#
# * **The model**: the checkpoint's encoder and a fresh two-class head (the log
#   line about "newly initialised" classifier weights is expected). The fresh
#   weights are drawn from a fixed seed, so every load gives the same head.
# * **The batches**: `features.featurize` tokenizes each sentence (at most 128
#   tokens). `features.length_grouped_batches` shuffles the sentences, puts
#   sentences of similar length in the same batch (less padding), and shuffles
#   the batches. `finetune` draws epoch `e`'s order from
#   `np.random.default_rng([seed, e])`; we draw epoch 0's the same way.
#   `features.collate` pads one batch into arrays.
# * **Forward, loss, backward**: `step.loss_and_grads` (Chapters 7 and 8) with
#   `training=True`, so dropout is on (the classifier's dropout, p = 0.1, on the
#   bundled model). Its random numbers come from a generator seeded by a number
#   that the run's generator, `np.random.default_rng(seed)`, draws once per step.
# * **Clipping**: scale all gradients together so that their global norm is at
#   most 1 (Chapter 9).
# * **The schedule**: the rate of the update after `s` completed steps rises
#   linearly from 0 over the warm-up steps, then falls linearly to 0 at the last
#   step (Chapter 9).
# * **AdamW**: the by-hand update of Chapter 9, with no weight decay on biases
#   and LayerNorm weights.
#
# `finetune` runs `ceil(epochs x batches per epoch)` steps; the schedule needs
# that number, so we compute it the same way.

# %%
SEED, LR, WARMUP_SHARE, WD, MAX_NORM = 0, 3e-4, 0.1, 0.01, 1.0
B1, B2, EPS = 0.9, 0.999, 1e-8                                  # AdamW's defaults
tok = albert_np.AlbertTokenizerFast.from_pretrained(MODEL)
features = F.featurize(task, train_examples, tok, max_length=128)
TOTAL = int(np.ceil(EPOCHS * np.ceil(len(features) / BATCH)))  # optimiser steps of the whole run
WARMUP = int(np.ceil(WARMUP_SHARE * TOTAL))
HAND_STEPS = min(8 if FULL_BUDGET else 3, TOTAL)                # only the first few here
print(f"{len(features)} features, mean length {np.mean(features.lengths):.1f} tokens; "
      f"the run has {TOTAL} steps, {WARMUP} of warm-up; we take the first {HAND_STEPS} by hand")

model = albert_np.AlbertForSequenceClassification.from_pretrained(MODEL, num_labels=2)
params = named_parameters(model.params)           # {HF name: the model's own array}, updated in place
m = {k: np.zeros_like(p) for k, p in params.items()}
v = {k: np.zeros_like(p) for k, p in params.items()}
batches = F.length_grouped_batches(features.lengths, BATCH, np.random.default_rng([SEED, 0]))   # epoch 0
run_rng = np.random.default_rng(SEED)             # draws one dropout seed per step

# %% [markdown]
# **Predict before you run:** with a warm-up, the rate of the very first update
# is `3e-4 x 0 / WARMUP = 0`. Does step 1 change the weights at all? Does it
# change anything else? (We keep a copy of the weights to find out.)

# %%
hand_log = []
before = {k: p.copy() for k, p in params.items()}
for t, idx in enumerate(batches[:HAND_STEPS], start=1):          # t = 1, 2, ...: this step's number
    inputs, labels = F.collate(features, idx, tok.pad_token_id)   # (B, T) arrays, padded
    dropout_rng = np.random.default_rng(run_rng.integers(0, 2**63 - 1))
    loss, _, grads = step.loss_and_grads(model.params, model.config, "sequence", inputs, labels,
                                         rng=dropout_rng, training=True)    # forward, loss, backward
    norm = np.sqrt(sum(np.sum(g * g) for g in grads.values()))           # global gradient norm
    scale = min(1.0, MAX_NORM / (norm + 1e-6))                           # clipping
    done = t - 1                                                         # completed steps
    lr = LR * (done / WARMUP if done < WARMUP else max(0.0, (TOTAL - done) / (TOTAL - WARMUP)))
    for k, p in params.items():                                          # AdamW, in place
        g = grads[k] * scale
        m[k] = B1 * m[k] + (1 - B1) * g
        v[k] = B2 * v[k] + (1 - B2) * g * g
        if not optim.no_decay(k):                                        # decoupled weight decay
            p *= 1 - lr * WD
        p -= lr * (m[k] / (1 - B1 ** t)) / (np.sqrt(v[k] / (1 - B2 ** t)) + EPS)
    hand_log.append({"loss": loss, "lr": lr, "grad_norm": float(norm)})
    if t == 1:
        unchanged = all(np.array_equal(before[k], p) for k, p in params.items())
        print(f"after step 1 (lr {lr:g}): weights unchanged: {unchanged}; "
              f"Adam's moments filled: {any(np.any(x != 0) for x in m.values())}")
        assert unchanged
    print(f"step {t}: {len(idx)} sentences of up to {inputs['input_ids'].shape[1]} tokens, "
          f"loss {loss:.4f}, grad norm {norm:.3f}, lr {lr:.2e}")

# %% [markdown]
# Step 1 leaves the weights as they were, but not the optimiser: `m` and `v`
# now hold the first gradient, and every later step uses them.
#
# ## One call: `finetune`
#
# `albert_np.finetune` runs that same loop (its `training/train.py`) over the
# whole training set, with the same settings and seed. Around it, every
# `eval_every` steps it scores the dev set (dropout off), writes a checkpoint
# and remembers the best one. At the end it copies the best model to
# `output_dir/best/`. We run it in a temporary folder.

# %%
out_dir = tempfile.mkdtemp(prefix="albert_np_sst2_")
result = albert_np.finetune(
    "sst2", model=MODEL, train=train, dev=dev, output_dir=out_dir,
    limit_train=N_TRAIN, limit_dev=N_DEV,
    epochs=EPOCHS, batch_size=BATCH, learning_rate=LR, warmup=WARMUP_SHARE, eval_every=EVAL_EVERY,
    weight_decay=WD, max_grad_norm=MAX_NORM, seed=SEED, progress=False, plot=False)
print(f"{result.global_step} steps, best dev accuracy {result.best_metric:.3f} at step {result.best_step}")
print(f"{result.examples_per_second:.0f} training examples per second (forward + backward + update)")
print("in the output folder:", sorted(os.listdir(out_dir)))

# %% [markdown]
# ## The log, and our loop against it
#
# `result.log` (also written to `output_dir/log.jsonl`, one JSON object per
# line) holds one `"train"` entry per step, with its loss, learning rate and
# gradient norm, and one `"eval"` entry per evaluation. Its first steps must be
# the ones our loop took: the same model, batches, dropout masks and updates.
# The evaluations do not disturb that, because they run with dropout off and
# draw no random numbers. The numbers agree to float32 rounding rather than bit
# for bit: the library computes the norm tensor by tensor and writes Adam's
# moments as `m + (1 - b1) (g - m)`, which rounds differently from our
# `b1 m + (1 - b1) g`.

# %%
train_log = [e for e in result.log if e["type"] == "train"]
eval_log = [e for e in result.log if e["type"] == "eval"]
check_all(f"our loop vs finetune's log, steps 1-{HAND_STEPS}",
          {key: ([e[key] for e in hand_log], [e[key] for e in train_log[:HAND_STEPS]])
           for key in ("loss", "grad_norm", "lr")}, atol=1e-5, rtol=1e-4)
print({k: (round(v, 4) if isinstance(v, float) else v) for k, v in train_log[0].items() if k != "time"})
losses = np.array([e["loss"] for e in train_log])
k = max(1, len(losses) // 5)
print(f"mean loss, first {k} steps: {losses[:k].mean():.3f};  last {k} steps: {losses[-k:].mean():.3f}"
      f"   (log 2 = {np.log(2):.3f}: a coin flip)")
for e in eval_log:
    print(f"step {e['step']:3d}: dev accuracy {e['accuracy']:.3f}")
assert losses[-k:].mean() < losses[:k].mean(), "the training loss should go down"

# %%
if plt is not None:
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.5))
    ax1.plot([e["step"] for e in train_log], losses, marker=".", lw=1, label="loss of each step")
    ax1.axhline(np.log(2), color="gray", ls="--", lw=1, label="log 2 (coin flip)")
    ax1.set_xlabel("optimiser step")
    ax1.set_ylabel("training loss")
    ax1.legend()
    ax2.plot([e["step"] for e in train_log], [e["lr"] for e in train_log])
    ax2.set_xlabel("optimiser step")
    ax2.set_ylabel("learning rate")
    ax2.set_title("warm-up, then linear decay", fontsize=9)
    fig.suptitle(f"SST-2, {len(train_examples)} training sentences, {EPOCHS} epoch(s)")
    show(fig, "10_sst2_loss.png")

# %% [markdown]
# The loss falls below `log 2` (with the demo budget far below: the model
# memorises its 32 sentences). Dev accuracy tells us whether what it learnt
# carries over to sentences it has not seen. With a few hundred dev sentences
# an accuracy is only known to a few points (its standard error is
# `sqrt(p (1 - p) / n)`), so we call it "above the baseline" only when it is
# more than two standard errors above:

# %%
acc = result.metrics["accuracy"]
noise = np.sqrt(acc * (1 - acc) / len(dev_examples))      # standard error of an accuracy on n sentences
print(f"dev accuracy of the best checkpoint: {acc:.3f} +- {noise:.3f}   "
      f"(always the majority label: {dev_majority:.3f})")
print("clearly above the majority baseline" if acc > dev_majority + 2 * noise
      else "within noise of the majority baseline: as expected with the demo budget")
if FULL_BUDGET and len(dev_examples) == 872:          # the real SST-2 dev set was found
    assert acc > dev_majority + 2 * noise, "4,096 sentences should take the model clearly past the majority class"

# %% [markdown]
# ## Using the fine-tuned model
#
# `output_dir/best/` is an ordinary Hugging Face-style folder (`config.json`,
# `model.safetensors`, tokenizer files). Any `albert_np` function that takes a
# `model=` argument can open it, and so can transformers. `classify` runs the
# text-classification pipeline on it:

# %%
best = os.path.join(out_dir, "best")
print("best/ holds:", sorted(os.listdir(best)))
texts = ["a warm and funny film with a great cast", "a dull , lifeless and far too long mess"]
predictions = albert_np.classify(texts, model=best)
for t, pred in zip(texts, predictions):
    print(f"{pred['label']}  score {pred['score']:.3f}   {t}")

# %% [markdown]
# What is behind that score? The pipeline tokenizes the text, runs the
# classifier and applies a softmax over the two logits. We do the same by hand
# with the model that `finetune` returned (the best checkpoint's weights) and
# check that the two agree:

# %%
tok = albert_np.AlbertTokenizerFast.from_pretrained(best)
for t, pred in zip(texts, predictions):
    logits = result.model(**tok(t, return_tensors="np")).logits[0]          # (2,)
    probs = np.exp(logits - logits.max())
    probs /= probs.sum()
    label = result.model.config.id2label[int(probs.argmax())]
    assert label == pred["label"]
    check(f"classify score, {t[:24]!r}", pred["score"], probs.max(), atol=1e-5, rtol=1e-5)

# %%
import shutil

shutil.rmtree(out_dir)                          # the demo's checkpoints are not worth keeping

# %% [markdown]
# ## What we saw
#
# * A fine-tuning step is forward, loss, backward (`step.loss_and_grads`, dropout
#   on), one global-norm clip, a learning rate from the warm-up / linear-decay
#   schedule, and one AdamW update. Written out, our loop gave the losses,
#   gradient norms and rates of `finetune`'s log, step for step.
# * `finetune` adds tokenizing, batching by length, evaluation, atomic
#   checkpoints and keeping the best model.
# * The training loss fell from about `log 2` (the untrained head is a coin
#   flip). The dev accuracy, against the majority baseline, says how much of
#   what the model learnt generalises; with the full budget on SST-2 the chapter
#   checks that it is clearly above.
# * The saved folder is a normal checkpoint: `classify` opens it, and its scores
#   are exactly a softmax over the classifier's logits.

# %% [markdown]
# ## Exercises
#
# 1. ★ Run `finetune` for 8 steps with a warm-up of a quarter of them, and check
#    every logged learning rate against `optim.linear_warmup_linear_decay`.
# 2. ★★ `grad_accum=2` splits each step's batch into two micro-batches. Split a
#    batch of 8 sentences into two halves of 4 (each padded to its own length),
#    give `step.loss_and_grads` the weights `{"loss": 0.5}` for each half, and
#    add the gradients. Do you get the whole batch's gradient (dropout off)?
# 3. ★★ Fine-tune on 16 rows for 16 steps with learning rates 3e-4, 3e-3 and
#    3e-2, and once more at 3e-2 with `max_grad_norm=0` (no clipping). What
#    happens to the loss? Does gradient clipping protect AdamW from a rate that
#    is too large, and why?
