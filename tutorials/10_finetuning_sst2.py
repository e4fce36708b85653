# %% [markdown]
# # Chapter 10: Fine-tuning a sentiment classifier on SST-2
#
# Pretraining gives ALBERT general-purpose vectors. *Fine-tuning* adapts it to
# one task: here SST-2, movie-review snippets labelled negative (0) or positive
# (1). We add a small classification head on top of the pooled `[CLS]` vector,
# then train **all** the weights (encoder and head) with the NumPy backprop from
# Chapter 8 and the AdamW optimiser.
#
# You will learn
#
# * what one call to `albert_np.finetune` does: batching, the training step,
#   evaluation, checkpoints, and keeping the best model;
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
from albert_np.training import datasets

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
# ## One call: `finetune`
#
# `albert_np.finetune` loads the checkpoint with a fresh two-class head (the
# log line about "newly initialised" classifier weights is expected), tokenizes
# the sentences and batches sentences of similar length together. Each step:
#
#     loss, _, grads = step.loss_and_grads(params, config, "sequence", inputs, labels,
#                                              rng, training=True)     # dropout on
#     clip the gradient norm to 1, then one AdamW update with a warm-up / linear-decay rate
#
# Every `eval_every` steps it scores the dev set (dropout off), writes a
# checkpoint and remembers the best one. At the end it copies the best model to
# `output_dir/best/`. We run it in a temporary folder.

# %%
out_dir = tempfile.mkdtemp(prefix="albert_np_sst2_")
result = albert_np.finetune(
    "sst2", model=MODEL, train=train, dev=dev, output_dir=out_dir,
    limit_train=N_TRAIN, limit_dev=N_DEV,
    epochs=EPOCHS, batch_size=BATCH, learning_rate=3e-4, warmup=0.1, eval_every=EVAL_EVERY,
    seed=0, progress=False, plot=False)
print(f"{result.global_step} steps, best dev accuracy {result.best_metric:.3f} at step {result.best_step}")
print(f"{result.examples_per_second:.0f} training examples per second (forward + backward + update)")
print("in the output folder:", sorted(os.listdir(out_dir)))

# %% [markdown]
# ## The log
#
# `result.log` (also written to `output_dir/log.jsonl`, one JSON object per
# line) holds one `"train"` entry per step, with its loss, learning rate and
# gradient norm, and one `"eval"` entry per evaluation.

# %%
train_log = [e for e in result.log if e["type"] == "train"]
eval_log = [e for e in result.log if e["type"] == "eval"]
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
# * `finetune` = tokenize, batch by length, `loss_and_grads`, clip, AdamW, with
#   evaluation, atomic checkpoints and the best model kept along the way.
# * The training loss fell from about `log 2` (the untrained head is a coin
#   flip). The dev accuracy, against the majority baseline, says how much of
#   what the model learnt generalises; with 4,096 sentences it is clearly above.
# * The saved folder is a normal checkpoint: `classify` opens it, and its scores
#   are exactly a softmax over the classifier's logits.
#
# ## Exercises
#
# 1. Lower the budget to the demo one: `N_TRAIN, EPOCHS, BATCH, EVAL_EVERY = 32, 10, 8, 20`.
#    How do the training loss and the dev accuracy move now, compared with the
#    4,096-sentence run? Which of the two is the better guide to what the
#    model has learnt?
# 2. Try `learning_rate=3e-3`. Look at the loss curve and at `grad_norm` in the
#    log. What happens, and which setting of `finetune` would you change first
#    to make a large learning rate safe?
