# %% [markdown]
# # Chapter 13: Token classification: words, pieces and labels
#
# Named-entity recognition (NER) gives every *word* of a text a tag: is it part
# of a person's name, a place, a product, or nothing (`O`)? The model, though,
# reads SentencePiece *pieces*, and a rare word like "Gardena" is cut into
# several. This chapter is about the bookkeeping between the two:
#
# 1. `word_ids`: which word each piece came from, and which pieces start a word;
# 2. training: turning one label per word into one label per piece, with -100
#    on the pieces the loss must ignore;
# 3. inference: per-piece label probabilities, then the ways
#    `albert_np.tag_tokens` turns them back into words and entities (the
#    aggregation strategies `none`, `simple`, `first`, `average` and `max`).
#
# Every step is checked against `albert_np.training.features` (what fine-tuning uses)
# or `albert_np.tag_tokens` (what inference uses), on real WNUT-17 sentences.
#
# **Which head.** The bundled model was only pretrained: it has no
# token-classification head. On it, this chapter loads
# `tutorials/assets/albert-tiny-en-wnut17`, the same model fine-tuned on
# WNUT-17's training texts by `tutorials/assets/make_heads.py` (its README says
# how, and what it scores). The sentences here come from WNUT-17's dev set,
# which it never trained on. On any other checkpoint the chapter gives that
# checkpoint a new, random head with WNUT-17's 13 tag names, and says so: its
# outputs then *look* like NER, but the tags it picks are noise. The machinery,
# and what we check, is the same either way.

# %% [markdown]
# **Which model.** This chapter runs on the bundled `albert-tiny-en`. To use another checkpoint, set `ALBERT_NP_MODEL` before `tutorial_utils` is imported: in a shell `ALBERT_NP_MODEL=/path/to/checkpoint python tutorials/13_token_classification.py`; in Jupyter run `%env ALBERT_NP_MODEL=/path/to/checkpoint` in a cell above the imports (the variable is read once, at import; changing it later has no effect until the kernel restarts).

# %%
from tutorial_utils import *

import os

import albert_np
from albert_np import AlbertForTokenClassification, AlbertTokenizerFast
from albert_np.training import datasets, features, metrics
from albert_np.training.finetuning import predict

task = datasets.get_task("wnut17")
names = task.labels                                    # the 13 BIO tags, in id order
tok = AlbertTokenizerFast.from_pretrained(MODEL)       # a fast tokenizer: it knows word_ids
HERE = os.path.dirname(os.path.abspath(__file__)) if "__file__" in globals() else os.getcwd()
ASSET, made, trained = fine_tuned_asset("albert-tiny-en-wnut17")   # assets/make_heads.py; made: its dev scores and settings
if trained:
    tagger = AlbertForTokenClassification.from_pretrained(ASSET)
    print(f"tagger: {os.path.basename(ASSET)}, fine-tuned on WNUT-17 train; entity-level F1 on WNUT-17 dev "
          f"{made['dev_scores']['f1']:.1%} (precision {made['dev_scores']['precision']:.1%}, "
          f"recall {made['dev_scores']['recall']:.1%})")
else:
    tagger = AlbertForTokenClassification.from_pretrained(
        MODEL, num_labels=len(names), id2label=dict(enumerate(names)),
        label2id={n: i for i, n in enumerate(names)})
    print(f"tagger: {MODEL} with a NEW, UNTRAINED (random) classifier: its tags below are noise")
assert [tagger.config.id2label[i] for i in range(len(names))] == list(names)
print(names)

# %% [markdown]
# ## The data: one tag per word
#
# WNUT-17 ("emerging and rare entities") is user-written text (tweets, YouTube
# comments) with six entity types. It uses **BIO** tags: `B-person` begins a
# person's name, `I-person` continues it, `O` is outside any entity. So "Hillary
# Clinton" is `B-person I-person`, and two names side by side stay apart
# because the second starts with `B-` again. The file has one word and its tag
# a line; `datasets.load_examples` turns each sentence into
# `{"tokens": [words], "labels": [tag ids]}`. If the shared data folder is
# missing, two sentences written for this tutorial stand in.

# %%
DATA = os.environ.get("ALBERT_NP_DATA") or os.path.join(HERE, "..", "..", "shared", "data")
dev_file = os.path.join(DATA, task.files[1])
if os.path.isfile(dev_file):
    examples = datasets.load_examples(task, dev_file, limit=40)
else:
    print("WNUT-17 not found: using two built-in sentences")
    examples = datasets.load_examples(task, [
        (["We", "drove", "down", "Redondo", "Beach", "Blvd", "to", "Gardena"],
         ["O", "O", "O", "B-location", "I-location", "I-location", "O", "B-location"]),
        (["Kylie", "Minogue", "sang", "on", "Tuesday"], ["B-person", "I-person", "O", "O", "O"])])
ex = next(e for e in examples if sum(l != 0 for l in e["labels"]) >= 3)   # one with a few entity words
for word, label in zip(ex["tokens"], ex["labels"]):
    print(f"{word:12} {names[label]}")

# %% [markdown]
# ## Words and pieces: `word_ids`
#
# We give the tokenizer the words themselves (`is_split_into_words=True`), so
# the word boundaries are the dataset's. Besides the ids, a fast tokenizer
# records for every piece the index of the word it came from, `word_ids`, with
# `None` for `[CLS]` and `[SEP]`.
#
# We can work that list out ourselves: each word is tokenised on its own
# (SentencePiece starts every word afresh, with its `▁` mark), so the pieces
# of the sentence are the pieces of its words one after another.

# %%
enc = tok(ex["tokens"], is_split_into_words=True)
word_ids = enc.word_ids()                                     # (T,): a word index or None

by_word = [tok(w, add_special_tokens=False)["input_ids"] for w in ex["tokens"]]
our_ids = [tok.cls_token_id] + [i for ids in by_word for i in ids] + [tok.sep_token_id]
our_word_ids = [None] + [w for w, ids in enumerate(by_word) for _ in ids] + [None]
check_all("word by word == the whole sentence", {
    "input_ids": (our_ids, enc["input_ids"]),
    "word_ids": ([-1 if w is None else w for w in our_word_ids], [-1 if w is None else w for w in word_ids])})

starts_word = [w is not None and (k == 0 or word_ids[k - 1] != w) for k, w in enumerate(word_ids)]
pieces = tok.convert_ids_to_tokens(enc["input_ids"])
for piece, w, first in zip(pieces, word_ids, starts_word):
    print(f"{piece:14} word {str(w):4} {'starts the word' if first else ''}")
print(f"{len(ex['tokens'])} words -> {len(pieces)} pieces (with [CLS] and [SEP])")

# %% [markdown]
# ## Training: labels for pieces
#
# The loss is computed per piece, so each piece needs a label, but the data has
# one per word. The usual choice (BERT's, and `albert_np.training.features`'): the
# **first piece of a word gets the word's label; every other piece, and
# `[CLS]`/`[SEP]`, gets -100**. The cross-entropy loss skips the label -100
# (its "ignore index"), so every word counts exactly once, however many pieces
# it has, and the model learns to put the word's decision on its first piece.
#
# We align the labels of all the sentences we loaded by hand and compare with
# `features.featurize`, the function that prepares WNUT-17 for fine-tuning.

# %%
def align(word_ids, word_labels):
    out = []
    for k, w in enumerate(word_ids):
        first = w is not None and (k == 0 or word_ids[k - 1] != w)
        out.append(word_labels[w] if first else -100)
    return out

feats = features.featurize(task, examples, tok, max_length=128)    # what fine-tuning trains on
ours_all = []
for k, e in enumerate(examples):
    wids = tok(e["tokens"], is_split_into_words=True).word_ids()
    ours_all.append(align(wids, e["labels"]))
    has_pieces = [w in wids for w in range(len(e["tokens"]))]
    assert [l for l in ours_all[-1] if l != -100] == [l for l, h in zip(e["labels"], has_pieces) if h]
    for w in np.flatnonzero(~np.array(has_pieces)):
        print(f"sentence {k}: the word {e['tokens'][w]!r} ({names[e['labels'][w]]}) has no pieces at all")
for k, (ours, theirs) in enumerate(zip(ours_all, feats.labels)):
    assert ours == theirs, k
check(f"labels of {len(examples)} sentences", np.concatenate(ours_all), np.concatenate(feats.labels))
print([(p, names[l] if l != -100 else -100) for p, l in zip(pieces, align(word_ids, ex["labels"]))])

# %% [markdown]
# One label per word, in order, as the assert says: but only for words that
# have a piece. A word that the tokenizer's normalisation deletes completely
# (a lone accent, say) has no piece to carry its label, and its label silently
# disappears from training and from the metric (`features.token_predictions`
# drops it from both the predictions and the gold tags). For an `O` word that
# is harmless; for an entity word it would shorten or remove the entity.
#
# What -100 does in the loss: `features.collate` pads a batch (the padding is
# labelled -100 as well), and the model's loss is the mean cross-entropy over
# the labelled pieces only. By hand, from the logits of shape (B, T, 13):

# %%
inputs, labels = features.collate(feats, range(min(4, len(feats))), tok.pad_token_id)   # (B, T) each
out = tagger(**inputs, labels=labels["labels"])
logits = out.logits                                                    # (B, T, 13)
log_p = logits - logits.max(-1, keepdims=True)
log_p = log_p - np.log(np.exp(log_p).sum(-1, keepdims=True))           # log-softmax over the tags
y = labels["labels"]                                                   # (B, T), -100 where ignored
kept = y != -100
loss = -log_p[kept, y[kept]].mean()                                    # over the labelled pieces
print(f"batch {y.shape}: {kept.sum()} labelled pieces of {y.size}; loss {loss:.4f} "
      f"(log 13 = {np.log(13):.4f}: a uniform guess)")
check("token-classification loss", loss, out.loss)

# %% [markdown]
# ## Inference: probabilities per piece
#
# At inference there are no word lists, only a text. `tag_tokens` tokenises
# the text with offsets, so every piece knows its characters, and its
# `word_ids` are the text's whitespace-separated words. The model gives logits
# of shape (T, 13); a softmax over the 13 tags gives each piece a probability
# for each tag. A piece the vocabulary does not know (`<unk>`, e.g. an emoji)
# is shown as the original characters it covers.

# %%
def read(text):
    """Tokenise `text` and run the tagger: what every later step needs."""
    enc = tok(text, return_offsets_mapping=True)
    ids = enc["input_ids"]
    logits = tagger(input_ids=np.array([ids])).logits[0]                 # (T, 13)
    probs = np.exp(logits - logits.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)                                # (T, 13): rows sum to 1
    shown = [text[a:b] if i == tok.unk_token_id else p
             for i, p, (a, b) in zip(ids, tok.convert_ids_to_tokens(ids), enc["offset_mapping"])]
    return {"pieces": shown, "offsets": enc["offset_mapping"], "words": enc.word_ids(), "probs": probs}

text = " ".join(ex["tokens"])
r = read(text)
print(f"{len(r['pieces'])} pieces, probabilities {r['probs'].shape}")

# %% [markdown]
# With `aggregation_strategy="none"`, every piece except `[CLS]` and `[SEP]` is
# reported with its most probable tag, that probability (`score`), its position
# (`index`) and its characters. We compare with `tag_tokens`, keeping even the
# `O` pieces (`ignore_labels=()`).

# %%
def tag_pieces(r):
    out = []
    for k in range(1, len(r["pieces"]) - 1):                             # skip [CLS] and [SEP]
        best = int(r["probs"][k].argmax())
        out.append({"entity": names[best], "score": float(r["probs"][k, best]), "index": k,
                    "word": r["pieces"][k], "start": r["offsets"][k][0], "end": r["offsets"][k][1]})
    return out

def compare(ours, theirs):
    """Same entities, fields and order (asserted); returns (our scores, theirs) for check_all."""
    assert [{k: v for k, v in e.items() if k != "score"} for e in ours] == \
        [{k: v for k, v in e.items() if k != "score"} for e in theirs], (ours, theirs)
    return [e["score"] for e in ours], [e["score"] for e in theirs]

check("strategy none, every piece", *compare(
    tag_pieces(r), albert_np.tag_tokens(text, model=tagger, tokenizer=tok, aggregation_strategy="none",
                                        ignore_labels=())), atol=1e-6)

# %%
if plt is not None:
    n = len(r["pieces"])
    fig, ax = plt.subplots(figsize=(7, 0.28 * n + 1.5))
    im = ax.imshow(r["probs"][1:-1], aspect="auto", cmap="viridis")
    ax.set_yticks(range(n - 2), [f"{p}  (word {w})" for p, w in zip(r["pieces"][1:-1], r["words"][1:-1])],
                  fontsize=8)
    ax.set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize=8)
    ax.set_title("p(tag | piece), " + ("fine-tuned head" if trained else "this checkpoint's new head"), fontsize=10)
    fig.colorbar(im, ax=ax, label="probability")
    show(fig, "13_piece_label_probabilities.png")
top = r["probs"][1:-1].max(-1)                                           # each piece's best tag
print(f"probabilities from {r['probs'].min():.3f} to {r['probs'].max():.3f} (uniform: 1/13 = {1 / 13:.3f}); "
      f"{(top > 0.5).sum()} of {len(top)} pieces give one tag more than half")

# %% [markdown]
# Each row of the picture is one piece; a bright cell is a tag it is sure of.
# The line printed after the picture gives the range and counts the confident
# pieces. A random head keeps every probability within a small factor of 1/13,
# so no tag stands out (a column that is bright for most pieces then shows what
# all the hidden vectors have in common, seen through random weights). A
# fine-tuned tagger is sure of most pieces, and sure of `O` for most of them,
# since most words are not entities.
#
# ## From pieces to words and entities
#
# A user wants entities ("Redondo Beach Blvd": location), not pieces. The
# strategies differ in how a *word's* tag is chosen:
#
# * `simple`: no word step: each piece keeps its own tag;
# * `first`: the word takes the probabilities of its first piece (as in
#   training, where only the first piece was labelled);
# * `average`: the mean of its pieces' probability vectors, then the best tag;
# * `max`: the probabilities of its most confident piece.
#
# Then neighbours are **grouped**: a piece (or word) joins the group before it
# when it has the same entity type and its tag does not begin with `B-`. A
# group's type is the tag without its `B-`/`I-`, its score the mean of its
# members' scores, its text the pieces turned back into a string, and its span
# runs from the first start to the last end. Groups of type `O` are dropped at
# the end (the default `ignore_labels`).

# %%
def tag_words(r, strategy):
    """One item per word: its tag and score under `first`, `average` or `max`."""
    items = []
    for w in dict.fromkeys(w for w in r["words"] if w is not None):     # the words, in order
        ks = [k for k, wk in enumerate(r["words"]) if wk == w]           # this word's pieces
        p = r["probs"]
        if strategy == "first":
            scores = p[ks[0]]
        elif strategy == "average":
            scores = p[ks].mean(0)
        else:                                                            # max
            scores = p[max(ks, key=lambda k: p[k].max())]
        best = int(scores.argmax())
        items.append({"entity": names[best], "score": float(scores[best]),
                      "pieces": [r["pieces"][k] for k in ks],
                      "start": r["offsets"][ks[0]][0], "end": r["offsets"][ks[-1]][1]})
    return items

def split_tag(label):
    """("B" or "I", type): "B-person" -> ("B", "person"); "O" counts as ("I", "O")."""
    return (label[0], label[2:]) if label[:2] in ("B-", "I-") else ("I", label)

def group(items):
    groups = []
    for item in items:
        bi, kind = split_tag(item["entity"])
        if groups and kind == groups[-1]["kind"] and bi != "B":
            groups[-1]["members"].append(item)
        else:
            groups.append({"kind": kind, "members": [item]})
    return [{"entity_group": g["kind"], "score": float(np.mean([m["score"] for m in g["members"]])),
             "word": tok.convert_tokens_to_string([p for m in g["members"] for p in m["pieces"]]),
             "start": g["members"][0]["start"], "end": g["members"][-1]["end"]} for g in groups]

def entities(r, strategy, ignore=("O",)):
    if strategy == "none":
        return [e for e in tag_pieces(r) if e["entity"] not in ignore]
    items = ([dict(e, pieces=[e["word"]]) for e in tag_pieces(r)] if strategy == "simple"
             else tag_words(r, strategy))
    return [g for g in group(items) if g["entity_group"] not in ignore]

pairs = {}
for strategy in ("simple", "first", "average", "max"):
    for ignore in (("O",), ()):
        ours = entities(r, strategy, ignore)
        theirs = albert_np.tag_tokens(text, model=tagger, tokenizer=tok, aggregation_strategy=strategy,
                                      ignore_labels=ignore)
        pairs[f"{strategy}, ignore {ignore}: {len(theirs)} groups"] = compare(ours, theirs)
check_all("4 strategies x 2 ignore lists", pairs, atol=1e-6)

# %% [markdown]
# Here is what each strategy makes of the sentence (without the `O` groups),
# under the gold entities. The strategies can only disagree on words of several
# pieces: a one-piece word gets the same tag from all four.

# %%
gold_entities = [(" ".join(ex["tokens"][a:b + 1]), kind)
                 for kind, a, b in metrics.bio_chunks([names[l] for l in ex["labels"]])]
print(f"{'gold':8}", gold_entities)
for strategy in ("simple", "first", "average", "max"):
    print(f"{strategy:8}", [(e["word"], e["entity_group"]) for e in entities(r, strategy)])

# %% [markdown]
# Two of albert_np's choices differ from transformers' pipeline, as the
# docstring of `TokenClassificationPipeline` says: words are the tokenizer's
# whitespace words (transformers guesses word boundaries for ALBERT from the
# characters around each piece), and an entity of several words keeps its
# spaces ("redondo beach"), where transformers' word-level strategies glue
# the words together.
#
# Last, the same code against the library on more WNUT-17 sentences (emoji and
# all), with every strategy, called on the whole list at once:

# %%
sentences = [" ".join(e["tokens"]) for e in examples[:8]]
reads = [read(s) for s in sentences]
pairs = {}
for strategy in ("none", "simple", "first", "average", "max"):
    theirs = albert_np.tag_tokens(sentences, model=tagger, tokenizer=tok, aggregation_strategy=strategy)
    ours = [entities(r_s, strategy) for r_s in reads]
    assert [len(found) for found in ours] == [len(found) for found in theirs]
    pairs[f"{strategy}: {len(sentences)} sentences"] = compare([e for found in ours for e in found],
                                                               [e for found in theirs for e in found])
check_all(f"every strategy on {len(sentences)} sentences", pairs, atol=1e-6)

# %% [markdown]
# ## Entities found right and wrong
#
# How good is the tagger? NER is scored per *entity*, as seqeval does
# (`metrics.entity_scores`): a predicted entity counts only if its type, first
# word and last word all match a gold one. We tag the first 300 dev sentences the
# way fine-tuning's evaluation does (each word's tag is its first piece's,
# `features.token_predictions`), cut the tags into entities with
# `metrics.bio_chunks`, and sort them into three piles: found (right), missed
# (a gold entity with no exact match), and false alarms (a predicted entity
# with no exact match).
#
# **Predict before you run:** WNUT-17 is hard (rare, new names in noisy text):
# strong published systems reach an entity F1 of roughly 50-60 % on its test
# set. Which pile will be the biggest for a small model trained for minutes?

# %%
dev_examples = datasets.load_examples(task, dev_file, limit=300) if os.path.isfile(dev_file) else examples
dev_feats = features.featurize(task, dev_examples, tok, max_length=128)
pred_tags, gold_tags = features.token_predictions(dev_feats, predict(tagger, dev_feats, 64, tok.pad_token_id)["logits"])
scores = metrics.entity_scores(pred_tags, gold_tags)
print(f"{len(dev_examples)} dev sentences: entity F1 {scores['f1']:.1%} "
      f"(precision {scores['precision']:.1%}, recall {scores['recall']:.1%})")
if trained:
    print(f"(make_heads.py on all of WNUT-17 dev: entity F1 {made['dev_scores']['f1']:.1%})")

piles = {"found": [], "missed": [], "false alarm": []}
for k, (p_tags, g_tags) in enumerate(zip(pred_tags, gold_tags)):
    e = dev_examples[k]
    wids = tok(e["tokens"], is_split_into_words=True, truncation=True, max_length=128).word_ids()
    words = [e["tokens"][w] for w, l in zip(wids, dev_feats.labels[k]) if l != -100]   # the scored words
    assert len(words) == len(g_tags)
    pred, gold = set(metrics.bio_chunks(p_tags)), set(metrics.bio_chunks(g_tags))
    for pile, chunks in (("found", pred & gold), ("missed", gold - pred), ("false alarm", pred - gold)):
        piles[pile] += [(" ".join(words[a:b + 1]), kind) for kind, a, b in sorted(chunks, key=lambda c: c[1])]
for pile, found in piles.items():
    print(f"{pile:12} {len(found):4d}: {found[:6]}")
per_type = {kind: f"{v['f1']:.0%} of {v['number']}" for kind, v in scores["per_type"].items()}
print("F1 per type (of n gold entities):", per_type)

# %% [markdown]
# The three counts above are the whole story of the metric: precision is
# found / (found + false alarms), recall is found / (found + missed). A near
# miss, such as one word too few, lands in *two* piles, a miss and a false
# alarm. The per-type line shows which kinds of entity the tagger has learnt,
# and how many of each the sentences hold.

# %% [markdown]
# ## Summary
#
# * A fast tokenizer's `word_ids` link every piece to its word; a word's first
#   piece is where its `word_id` changes.
# * For training, the first piece carries the word's label and the rest -100,
#   which the loss skips: one prediction per word.
# * At inference, a softmax per piece gives (T, num_labels) probabilities; the
#   strategies pick a tag per piece (`simple`) or per word (`first`, `average`,
#   `max`), then neighbours with the same type and no `B-` are grouped.
# * Scored per entity, a prediction counts only when its type and both ends
#   match; a near miss costs both precision and recall.

# %% [markdown]
# ## Exercises
#
# 1. ★ Label a sentence with a rare word both ways: first piece only
#    (`features.align_word_labels`) and every piece. Which pieces differ?
# 2. ★★ Tag a sentence of your own with the fine-tuned tagger
#    (`tutorials/assets/albert-tiny-en-wnut17`) under the `simple`, `first`,
#    `average` and `max` strategies. On which words do they disagree, and why
#    only there?
# 3. ★★ Score the fine-tuned tagger on all of WNUT-17 dev, per entity type
#    (`metrics.entity_scores(...)["per_type"]`). Which type does it find best,
#    and which does it never find?
