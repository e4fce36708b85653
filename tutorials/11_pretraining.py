# %% [markdown]
# # Chapter 11: Pretraining: sentence order and n-gram masking
#
# Before ALBERT can be fine-tuned on anything, it learns from plain text with
# two self-made exercises:
#
# * **masked language modelling (MLM)**: hide about 15 % of the tokens and
#   predict them. ALBERT hides whole words, and often two or three words in a
#   row (**n-gram masking**), so that the model cannot simply finish a word from
#   its other pieces;
# * **sentence-order prediction (SOP)**: show two consecutive stretches of a
#   document, A and B, sometimes swapped, and ask whether they are in the
#   original order.
#
# This chapter builds such examples from real text and looks at them token by
# token. It then checks the n-gram lengths and the 80 / 10 / 10 corruption rule
# against the recipe over many draws, runs a few optimiser steps of the library's
# training loop on a fresh tiny model, and measures masked-token and
# sentence-order accuracy on held-out text.

# %% [markdown]
# **Which model.** This chapter runs on the bundled `albert-tiny-en`. To use another checkpoint, set `ALBERT_NP_MODEL` before `tutorial_utils` is imported: in a shell `ALBERT_NP_MODEL=/path/to/checkpoint python tutorials/11_pretraining.py`; in Jupyter run `%env ALBERT_NP_MODEL=/path/to/checkpoint` in a cell above the imports (the variable is read once, at import; changing it later has no effect until the kernel restarts).

# %%
from tutorial_utils import *

import collections
import itertools
import os
import tempfile

import albert_np
from albert_np.training import pretraining as pt
from albert_np.training import pretraining_data as pdata

# %% [markdown]
# ## Text to learn from
#
# The corpus lives in the shared data folder (`../shared/data` next to the
# repository, or the folder named by `ALBERT_NP_DATA`): a 2015 Wikipedia extract
# and thirteen Project Gutenberg books (`pretrain/`), and WikiText-103 for
# held-out text. `corpus_documents` streams it as documents, each a list of
# sentences, without ever loading the whole corpus.
#
# **If the folder is missing**, this chapter falls back to a short built-in text
# (written for this tutorial), so that every cell still runs. The numbers will
# then be noisier, but every check still holds.

# %%
HERE = os.path.dirname(os.path.abspath(__file__)) if "__file__" in globals() else os.getcwd()
DATA = os.environ.get("ALBERT_NP_DATA") or os.path.join(HERE, "..", "..", "shared", "data")

FALLBACK = [
    "Rivers begin as small streams high in the hills.",
    "Rain and melting snow gather in narrow channels and run downhill.",
    "As more streams join, the water grows deeper and wider.",
    "A large river can carry sand and stones for hundreds of kilometres.",
    "Where the land becomes flat, the river slows down and starts to bend.",
    "These bends are called meanders, and they slowly move across the valley.",
    "During a flood the river spreads over its banks and leaves fine mud behind.",
    "That mud makes the surrounding fields rich and easy to farm.",
    "For this reason many early towns were built close to rivers.",
    "People used the water for drinking, washing and growing crops.",
    "Boats carried goods between towns long before there were roads.",
    "Bridges were built where the river was narrow or shallow.",
    "Near the sea the river finally drops the last of its sand.",
    "The sand can build a wide fan of land called a delta.",
    "Some deltas grow by several metres every year.",
    "Others shrink when dams upstream hold the sand back.",
]

try:
    documents = list(itertools.islice(pt.corpus_documents(DATA), 24))   # the first 24 documents
    doc = next(d for d in documents if len(d) >= 40)[:40]              # a long Wikipedia article
    print(f"corpus found in {os.path.normpath(DATA)}")
except FileNotFoundError:
    documents = [FALLBACK]
    doc = FALLBACK
    print("corpus not found: using the built-in fallback text")
print(f"{len(doc)} sentences, starting: {doc[0][:100]!r}")

tok = albert_np.AlbertTokenizerFast.from_pretrained(MODEL)
print(f"tokenizer: {tok.vocab_size} pieces")

# %% [markdown]
# ## Words and pieces
#
# The tokenizer cuts text into *pieces*. A piece that begins with `▁` starts a
# new word, and the pieces after it continue that word. `word_starts` turns
# this rule (plus punctuation and the special tokens) into one yes/no flag per
# vocabulary entry. `whole_words` then groups the positions of a sequence into
# words, which are the units that masking picks.

# %%
pieces = tok.convert_ids_to_tokens(list(range(tok.vocab_size)))
special_ids = sorted({tok.pad_token_id, tok.unk_token_id, tok.cls_token_id,
                      tok.sep_token_id, tok.mask_token_id})
is_word_start = pdata.word_starts(pieces, special_ids)

sentence_ids = np.array(tok(doc[0], add_special_tokens=False)["input_ids"])
words = pdata.whole_words(sentence_ids, is_word_start, np.zeros(len(sentence_ids), bool))
print(" | ".join(" ".join(pieces[sentence_ids[i]] for i in w) for w in words[:14]))
assert sorted(i for w in words for i in w) == list(range(len(sentence_ids)))   # every piece in one word

# %% [markdown]
# ## Sentence-order pairs
#
# `make_stream` turns documents into training examples. It packs consecutive
# sentences into a chunk that fills the sequence, cuts the chunk at a random
# sentence boundary into A and B, and **swaps them with probability 0.5**. The
# SOP label is 1 when A and B were swapped and 0 when they are in order. The
# input is `[CLS] A [SEP] B [SEP]`, and `token_type_ids` marks A with 0 and B
# with 1.
#
# The picture draws both cases for two short consecutive sentences. The colour
# says which sentence a token comes from (first or second in the document);
# the digit under each token is its `token_type_ids` entry. The token types
# mark the *position* in the pair (first or second segment), never the
# original order: only the label knows that. We build the two rows with the
# tokenizer's own pair encoding and check the token-type rule on them.

# %%
first_s, second_s = "Rain gathers in small streams.", "The streams join into a river."
sop_rows, type_pairs = [], {}
for label, (a, b) in ((0, (first_s, second_s)), (1, (second_s, first_s))):
    enc = tok(a, b)
    row_ids, types = np.array(enc["input_ids"]), np.array(enc["token_type_ids"])
    seps = np.flatnonzero(row_ids == tok.sep_token_id)
    assert row_ids[0] == tok.cls_token_id and len(seps) == 2 and seps[1] == len(row_ids) - 1
    expected = (np.arange(len(row_ids)) > seps[0]).astype(types.dtype)   # 0 up to the first [SEP]
    type_pairs[f"token types, label {label}"] = (types, expected)
    n_first = len(tok(a, add_special_tokens=False)["input_ids"])
    source = ["special"] + [("first" if a == first_s else "second")] * n_first + ["special"]
    source += [("second" if a == first_s else "first")] * (len(row_ids) - n_first - 3) + ["special"]
    sop_rows.append((label, tok.convert_ids_to_tokens(row_ids.tolist()), types, source))
check_all("token types: 0 up to the first [SEP], then 1", type_pairs, atol=0)

if plt is not None:
    colours = {"special": "#d9d9d9", "first": "#9ecae1", "second": "#fdae6b"}
    width = max(len(r[1]) for r in sop_rows)
    fig, ax = plt.subplots(figsize=(0.62 * width + 2.4, 3.1))
    for r, (label, toks, types, source) in enumerate(sop_rows):
        y = 1.6 - 1.5 * r
        what = "in order" if label == 0 else "swapped"
        ax.text(-0.6, y + 0.2, f"label {label}\n({what})", ha="right", va="center", fontsize=9)
        for i, (t, tt, src) in enumerate(zip(toks, types, source)):
            ax.add_patch(plt.Rectangle((i, y), 0.95, 0.5, fc=colours[src], ec="black", lw=0.6))
            ax.text(i + 0.475, y + 0.25, t, ha="center", va="center", fontsize=7)
            ax.text(i + 0.475, y - 0.18, str(tt), ha="center", va="center", fontsize=7, color="dimgray")
        sep0 = toks.index("[SEP]")
        for name, lo, hi in (("segment A", 1, sep0), ("segment B", sep0 + 1, len(toks) - 1)):
            ax.text((lo + hi) / 2, y + 0.62, name, ha="center", va="bottom", fontsize=8)
        ax.text(-0.6, y - 0.18, "token_type_ids", ha="right", va="center", fontsize=7, color="dimgray")
    handles = [plt.Rectangle((0, 0), 1, 1, fc=colours[k], ec="black", lw=0.6) for k in colours]
    ax.legend(handles, ["[CLS] / [SEP]", "first sentence of the document",
                        "second sentence of the document"],
              loc="upper center", bbox_to_anchor=(0.5, -0.02), ncol=3, fontsize=8, frameon=False)
    ax.set(xlim=(-3.2, width + 0.2), ylim=(-0.5, 2.45))
    ax.axis("off")
    ax.set_title("Sentence-order prediction: [CLS] A [SEP] B [SEP], label 0 in order, 1 swapped",
                 fontsize=10)
    show(fig, "11_sop_pairs.png")

# %% [markdown]
# Each example also comes already masked. To see the original text we put the
# masked tokens back: `positions` says where they were and `labels` what they
# were.

# %%
SEQ = 64                           # short sequences keep the printout readable
stream = pt.make_stream(lambda: iter([doc]), tok, seed=0, max_seq_length=SEQ, max_predictions=10)
examples = list(itertools.islice(iter(stream), 120))       # the document, re-cut in several epochs


def original_ids(ex):
    ids = ex["input_ids"].copy()
    ids[ex["positions"]] = ex["labels"]                     # undo the masking
    return ids


def segments(ex):
    ids, types = original_ids(ex), ex["token_type_ids"]
    a = ids[1:np.flatnonzero(ids == tok.sep_token_id)[0]]   # between [CLS] and the first [SEP]
    b = ids[(types == 1)][:-1]                              # type 1, without the final [SEP]
    return a, b


for ex in examples[:3]:
    a, b = segments(ex)
    print(f"SOP label {ex['sentence_order_label']} ({'swapped' if ex['sentence_order_label'] else 'in order'})")
    print("   A:", tok.decode(a)[:110])
    print("   B:", tok.decode(b)[:110])

# %% [markdown]
# Does the label tell the truth? We can check it against the document itself.
# Write the document's token ids as one long string, find where A and B occur,
# and see which comes first. (A short segment can occur more than once. Those
# few cases are skipped, because their place is ambiguous.)

# %%
doc_ids = [t for s in tok(list(doc), add_special_tokens=False)["input_ids"] for t in s]
doc_str = " " + " ".join(map(str, doc_ids)) + " "


def where(seg):
    s = " " + " ".join(map(str, seg.tolist())) + " "
    return doc_str.find(s) if doc_str.count(s) == 1 else None


checked = 0
for ex in examples:
    a, b = segments(ex)
    pa, pb = where(a), where(b)
    if pa is None or pb is None:
        continue
    assert (pa > pb) == bool(ex["sentence_order_label"]), "label 1 <=> B comes first in the document"
    checked += 1
swapped = np.mean([ex["sentence_order_label"] for ex in examples])
print(f"label agrees with the document order in {checked} of {len(examples)} pairs "
      f"(the rest could not be located uniquely)")
print(f"fraction swapped: {swapped:.3f}   (the recipe: 0.5)")
assert checked >= 0.8 * len(examples)
assert abs(swapped - 0.5) < 0.15

# %% [markdown]
# ## n-gram masking, step by step
#
# Masking picks **whole words**, in spans of `n = 1, 2 or 3` consecutive words,
# with `p(n)` proportional to `1/n`: that is 6/11, 3/11 and 2/11. It keeps
# picking until 15 % of the sequence is chosen (rounded, at least one token, at
# most `max_predictions`). A span that would overshoot that budget is shortened;
# one that overlaps an earlier span is dropped. Each chosen token then becomes
# `[MASK]` with probability 0.8, a random piece with probability 0.1, or stays
# as it is with probability 0.1. The model must predict the original token at
# every chosen position, including the ones that look unchanged.
#
# The library's `ngram_mask` returns only the result. To see the spans, we
# write the same procedure out here, drawing the same random numbers in the
# same order, and then check that it gives exactly what `ngram_mask` gives.

# %%
def ngram_mask_explained(ids, special, rng, masked_lm_prob=0.15, max_predictions=10, max_ngram=3):
    """ngram_mask, step by step; also returns the spans [(n, [positions])]."""
    words = pdata.whole_words(ids, is_word_start, special)
    budget = min(max_predictions, max(1, int(round(len(ids) * masked_lm_prob))))
    covered = np.zeros(len(ids), dtype=bool)
    spans, n_chosen = [], 0
    for start in rng.permutation(len(words)):              # words in a random order
        if n_chosen >= budget:
            break
        n = pdata.ngram_length(rng, min(max_ngram, len(words) - start))   # p(n) ~ 1/n
        span = [i for w in words[start:start + n] for i in w]
        while n_chosen + len(span) > budget and n > 1:     # too long for the budget: shorten
            n -= 1
            span = [i for w in words[start:start + n] for i in w]
        if n_chosen + len(span) > budget or covered[span].any():
            continue                                       # does not fit, or overlaps: skip
        covered[span] = True
        spans.append((n, span))
        n_chosen += len(span)
    positions = np.array(sorted(i for _, s in spans for i in s), dtype=np.int64)
    out = ids.copy()
    u = rng.random(len(positions))                         # one draw per chosen token
    out[positions[u < 0.8]] = tok.mask_token_id                           # 80 %: [MASK]
    to_random = (u >= 0.8) & (u < 0.9)                                    # 10 %: a random piece
    out[positions[to_random]] = stream.replacement_ids[
        rng.integers(len(stream.replacement_ids), size=int(to_random.sum()))]
    return out, positions, ids[positions], spans           # (the other 10 % stay unchanged)


ids = original_ids(examples[0])
special = np.isin(ids, [tok.cls_token_id, tok.sep_token_id])
mine = ngram_mask_explained(ids, special, np.random.default_rng(7))
lib = pdata.ngram_mask(ids, special, is_word_start, np.random.default_rng(7), masked_lm_prob=0.15,
                       max_predictions=10, mask_id=tok.mask_token_id,
                       replacement_ids=stream.replacement_ids)
check_all("ngram_mask_explained vs ngram_mask", {"corrupted ids": (mine[0], lib[0]),
                                                  "masked positions": (mine[1], lib[1]),
                                                  "labels": (mine[2], lib[2])}, atol=0)

# %% [markdown]
# Now the example as the model sees it, and then each chosen token with the
# span it belongs to and what happened to it. An n-gram counts **words**, and a
# word may have several pieces, so a "1-gram" can cover two or three positions.
# (A segment cut short at the front can also begin in the middle of a word.)

# %%
out, positions, labels, spans = mine
print(" ".join(pieces[t] for t in out))
print()
span_of = {i: (k, n) for k, (n, s) in enumerate(spans) for i in s}
budget = min(10, max(1, int(round(len(ids) * 0.15))))
print(f"{len(ids)} tokens, budget {budget}: chose {len(positions)} tokens in {len(spans)} spans "
      f"of {[n for n, _ in spans]} words")
print(f"{'pos':>4s} {'original':>14s}  {'span':>4s}  {'n-gram':>6s}   becomes")
for i in positions:
    k, n = span_of[i]
    what = ("[MASK]" if out[i] == tok.mask_token_id else
            "itself (kept)" if out[i] == ids[i] else f"{pieces[out[i]]} (random)")
    print(f"{i:4d} {pieces[ids[i]]:>14s}  {k:4d}  {n:6d}   {what}")
assert len(positions) <= budget

# %% [markdown]
# ## The n-gram lengths over many draws
#
# A single example shows only a handful of spans. To check the probabilities
# we count many draws. "Drawn" is `ngram_length` itself (10,000 draws with
# `n <= 3`). "Used" is the lengths of the spans that were really masked in the
# 120 examples above. Those come out shorter, because a span is shortened when
# it would overshoot the budget or run past the last word.

# %%
rng = np.random.default_rng(0)
drawn = np.bincount([pdata.ngram_length(rng, 3) for _ in range(10_000)], minlength=4)[1:]
drawn = drawn / drawn.sum()
used_counts = collections.Counter()
corruption = collections.Counter()
for k, ex in enumerate(examples):
    ids = original_ids(ex)
    special = np.isin(ids, [tok.cls_token_id, tok.sep_token_id])
    out, positions, labels, spans = ngram_mask_explained(ids, special, np.random.default_rng(k))
    used_counts.update(n for n, _ in spans)
    corruption.update("mask" if o == tok.mask_token_id else "kept" if o == l else "random"
                      for o, l in zip(out[positions], labels))
used = np.array([used_counts[n] for n in (1, 2, 3)]) / sum(used_counts.values())
recipe = np.array([6, 3, 2]) / 11
print("n      recipe   drawn    used in masks")
for n in (1, 2, 3):
    print(f"{n}      {recipe[n - 1]:.3f}    {drawn[n - 1]:.3f}    {used[n - 1]:.3f}")
check("drawn n-gram lengths vs 6/11, 3/11, 2/11", drawn, recipe, atol=0.02, rtol=0)
mean_drawn, mean_used = drawn @ [1, 2, 3], used @ [1, 2, 3]
print(f"mean span length: drawn {mean_drawn:.2f} words, used {mean_used:.2f} words")
assert mean_used < mean_drawn, "budget and sequence end shorten the spans actually used"

# %%
if plt is not None:
    fig, ax = plt.subplots(figsize=(6, 3.5))
    x = np.arange(1, 4)
    ax.bar(x - 0.27, recipe, 0.27, label="recipe: 6/11, 3/11, 2/11")
    ax.bar(x, drawn, 0.27, label="drawn (10,000 draws)")
    ax.bar(x + 0.27, used, 0.27, label=f"used in masks ({sum(used_counts.values())} spans)")
    ax.set_xticks(x)
    ax.set_xticklabels(["1-gram", "2-gram", "3-gram"])
    ax.set_ylabel("fraction of spans")
    ax.set_title("n-gram length of masked spans")
    ax.legend()
    show(fig, "11_ngram_lengths.png")

# %% [markdown]
# The corruption rule, over all the masked tokens of those 120 examples:

# %%
total = sum(corruption.values())
for what, p in (("mask", 0.8), ("random", 0.1), ("kept", 0.1)):
    print(f"{what:7s} {corruption[what] / total:.3f}   (recipe {p})")
    assert abs(corruption[what] / total - p) < 0.05, what
print(f"({total} masked tokens)")

# %% [markdown]
# ## A few steps of pretraining
#
# `pretrain.make_trainer` puts it all together: the library's one training loop
# (`train.py`, the same as for fine-tuning) with the pretraining data and head.
# A background thread turns the document stream into batches
# (`collate_pretraining` pads them), and each step calls
# `loss_and_grads(..., "pretraining", ...)`. The loss is the MLM cross-entropy,
# computed only at the masked positions, plus the SOP cross-entropy. After the
# backward pass come the clipping, the schedule and a LAMB update (Chapter 9);
# apart from the data and the optimiser, this is the loop you wrote in Chapter 10. Every checkpoint records the model, the
# optimiser, the random state and the stream position, so a run can resume
# exactly where it stopped.
#
# We start from a **fresh, tiny** model (random weights, with sizes far below
# the bundled model's) that uses the same tokenizer, and train it for a few
# dozen steps in a temporary folder. That is enough to see the loss fall: the
# model first learns which tokens are common. It is nowhere near enough to
# learn language.

# %%
config = albert_np.AlbertConfig(vocab_size=tok.vocab_size, embedding_size=32, hidden_size=64,
                                num_hidden_layers=2, num_attention_heads=2, intermediate_size=128,
                                max_position_embeddings=128, pad_token_id=tok.pad_token_id)
fresh = albert_np.AlbertForPreTraining(config, seed=0)
print(fresh)

try:                                 # held-out text: WikiText-103 test, or the fallback text
    heldout_docs = lambda: pt.wikitext_documents(os.path.join(DATA, "wikitext-103", "wiki.test.raw"))
    heldout = pt.fixed_batches(heldout_docs, tok, 32, 32, max_seq_length=128, max_predictions=20,
                               block_docs=2)
except FileNotFoundError:
    heldout = pt.fixed_batches(lambda: iter([FALLBACK]), tok, 32, 32, max_seq_length=128,
                               max_predictions=20)
print(f"held-out: {len(heldout)} batches, {sum(len(b[1]['sentence_order_label']) for b in heldout)} pairs")

args = pt.PretrainSettings(max_steps=24, batch_size=8, learning_rate=1e-2, warmup=4, max_seq_length=64,
                           max_predictions=10, eval_every=24, save_every=24, block_docs=8, seed=0,
                           progress=False)
with tempfile.TemporaryDirectory() as out_dir:
    trainer = pt.make_trainer(fresh, tok, lambda: iter(documents), out_dir, args, heldout=heldout)
    log = trainer.train()
    print("written:", sorted(os.listdir(out_dir)))

train_log = [e for e in log if e["type"] == "train"]
losses = np.array([e["loss"] for e in train_log])
print(f"loss: first 5 steps {losses[:5].mean():.3f}, last 5 steps {losses[-5:].mean():.3f} "
      f"(a uniform guess over {tok.vocab_size} pieces, plus a coin flip: "
      f"{np.log(tok.vocab_size) + np.log(2):.3f})")
assert losses[-5:].mean() < losses[:5].mean(), "the loss should fall"

# %%
if plt is not None:
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot([e["step"] for e in train_log], losses, marker=".", label="MLM + SOP loss")
    ax.set_xlabel("optimiser step")
    ax.set_ylabel("training loss")
    ax.set_title(f"Pretraining a fresh tiny ALBERT: {args.max_steps} steps of {args.batch_size} pairs")
    ax.grid(alpha=0.3)
    ax.legend()
    show(fig, "11_pretraining_loss.png")

# %% [markdown]
# ## Held-out accuracy
#
# `evaluate_pretraining` runs a model without dropout on fixed held-out batches
# (the same masks every time, thanks to a fixed seed). It reports **masked-token
# top-1 accuracy** (how often the highest-scoring piece is the hidden one) and
# **SOP accuracy**. The "replaced" column is the same top-1 accuracy counted
# only where the input token was actually hidden ([MASK] or a random piece):
# one prediction in ten keeps its own token in the input, and a model can
# score those simply by copying what it sees, without reading any context.
# We score the tiny model we just trained and the chapter's
# checkpoint (`MODEL`, the bundled `albert-tiny-en` unless you chose another)
# on the same batches. Two simple baselines show what the numbers mean: SOP by
# coin flip is 0.5, and MLM by always guessing the most common hidden piece
# scores as printed below. A model that does not beat these has learnt little
# beyond how often each piece occurs.
#
# **Predict before you run:** after its 24 steps, does the fresh tiny model
# beat "always the most common piece" on masked tokens?
#
# **Not every checkpoint has an SOP head.** The checkpoints on the Hugging Face
# Hub (`albert/albert-base-v2` and its siblings) were converted from Google's
# releases *without* the sentence-order classifier (`sop_classifier.*`), and a
# model saved as `AlbertForMaskedLM` has none either. `from_pretrained` then
# creates the head with random weights (and logs that it did), so the SOP
# accuracy it gets is that of a **random** linear layer: a coin flip, not a
# measurement of the model. The cell below looks at the stored weight names
# first and says so. The MLM columns are unaffected. To see a *trained* SOP
# head, use one of Google's original TF releases (for example `albert_base`,
# whose folder holds `albert_config.json`, `model.ckpt-best.*` and
# `30k-clean.model`): albert_np reads it directly, so
# `ALBERT_NP_MODEL=/path/to/albert_base` runs this chapter on it (its own
# tokenizer included), or convert it once with
# `python -m albert_np convert albert_base/ albert-base-hf/` and point
# `ALBERT_NP_MODEL` at the new folder, which keeps the SOP head.

# %%
has_sop = describe_checkpoint(MODEL)
pretrained = albert_np.AlbertForPreTraining.from_pretrained(MODEL)
name = os.path.basename(os.path.normpath(str(MODEL)))
scores = {"fresh tiny model, after the steps above": pt.evaluate_pretraining(fresh, heldout),
          name: pt.evaluate_pretraining(pretrained, heldout)}
random_sop = {name} if not has_sop else set()
hidden = np.concatenate([lab["mlm_ids"][lab["mlm_weights"] > 0] for _, lab in heldout])
common = np.bincount(hidden).argmax()
print(f"{'model':42s} {'MLM top-1':>10s} {'replaced':>9s} {'SOP acc':>8s} {'MLM loss':>9s}")
for name, s in scores.items():
    print(f"{name:42s} {s['mlm_accuracy']:10.3f} {s['replaced_accuracy']:9.3f} {s['sop_accuracy']:8.3f}"
          f"{'*' if name in random_sop else ' '}{s['mlm_loss']:9.3f}")
print(f"{'always ' + repr(pieces[common]):42s} {np.mean(hidden == common):10.3f} {'':9s} {0.5:8.3f}")
if random_sop:
    print(f"* no SOP head in {MODEL}: that SOP accuracy is of a randomly initialised head, not of the model.\n"
          f"  For a trained one, load an original TF release (ALBERT_NP_MODEL=/path/to/albert_base, or\n"
          f"  python -m albert_np convert albert_base/ albert-base-hf/) as explained above.")
    missing_sop = pretrained.params["sop_classifier"]["classifier"]["weight"]
    no_pooler = "albert.pooler.weight" not in checkpoint_weight_names(MODEL)
    print(f"  (the head {missing_sop.shape} was drawn fresh: std {missing_sop.std():.4f}, "
          f"initializer_range {pretrained.config.initializer_range}"
          f"{'; so was the pooler under it, absent from this checkpoint too' if no_pooler else ''})")
print(f"({scores[next(iter(scores))]['masked_tokens']} masked tokens, {len(hidden)} counted here)")
for name, s in scores.items():
    assert 0 <= s["mlm_accuracy"] <= 1 and 0 <= s["sop_accuracy"] <= 1
    assert s["masked_tokens"] == len(hidden)
    beats = s["mlm_accuracy"] > np.mean(hidden == common)
    print(f"{name}: MLM {'above' if beats else 'not above'} the always-{pieces[common]!r} baseline")

# %% [markdown]
# The first thing the MLM loss teaches a fresh model is how often each piece
# occurs, so after a few dozen steps its accuracy tends towards the "always the
# most common piece" line (compare the two above). Getting beyond that line
# takes far longer training; how far a checkpoint has come shows in its row. These are
# small held-out sets (a few hundred masked tokens), so the figures move by a
# few points from one set to another. The bundled model's card
# (`albert_np/pretrained/albert-tiny-en/README.md`) reports the same measures on
# 4,000 examples. `python -m albert_np pretrain-eval --model <folder>` computes
# them for any checkpoint. If a model's "replaced" figure is far below its
# top-1, most of its hits are copies of kept tokens. The bundled model is a
# few CPU-hours of NumPy pretraining (its card gives the recipe, the curve and
# the compute): it is there to make the library work offline and to teach, not
# to compete with `albert/albert-base-v2`.

# %% [markdown]
# ## Exercises
#
# 1. ★ Count how many masked tokens have a masked neighbour with `max_ngram=1`
#    (whole-word masking) and with `max_ngram=3`. Why might predicting a masked
#    word be easier when its neighbours are visible?
# 2. ★★ Pretrain a fresh tiny model (the chapter's sizes) for 24 steps with
#    `optimizer="lamb"` and with `optimizer="adamw"`, each at learning rates
#    1e-3, 1e-2 and 1e-1. At the same learning rate, which optimiser gets
#    further, and why?
