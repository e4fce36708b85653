"""Everyday English evaluation (issue 26 step 2): one whole content word masked per sentence of the
held-out everyday blocks, scored through albert_np.fill_mask; and the same on WikiText-103 test.

    python tests/benchmarks/everyday_eval.py make [--data-dir DIR] [--out tests/benchmarks/everyday_eval.tsv]
    python tests/benchmarks/everyday_eval.py score --model DIR [--items TSV] [--json OUT]
    python tests/benchmarks/everyday_eval.py wikitext --model DIR [--data-dir DIR] [--json OUT]

The items (`make`; everyday_eval.tsv beside this script, committed, so that every model is scored
on the same ones) are chosen on words, never on a vocabulary:
- text: the blocks of every ../shared/data/everyday/*.txt.xz that pretraining_data.is_heldout_block
  holds out (no model of this project trains on them), each line split into sentences
  (pretraining_data.block_sentences); a sentence of 5 to 40 words (whitespace-separated) and no tab;
- a content word: a whitespace-separated token of 3 or more lower-case letters a-z only, not in
  STOP_WORDS (written below), and not the sentence's last token. So the word has a space on both
  sides: a [MASK] right before punctuation is read as [MASK] '▁' '.' (a bare '▁' piece that
  pretraining never shows; see cloze_probe.py), and a capitalised word is a name or starts the
  sentence;
- per block at most MAX_PER_BLOCK sentences with a content word, and one word of each: drawn by
  np.random.default_rng([SEED, the first 8 hex digits of the block's SHA-256]), so a block's items
  do not depend on the order of the files; sgd_dialogues is capped at SGD_CAP items (an even
  spread over its blocks), as its 17,193 task dialogues would otherwise be a third of the items.
Columns: source (the file's stem), block (the first 12 hex digits of its SHA-256), start (the
word's character offset in the sentence), word, sentence.

Scoring (`score`), for one model with its own tokenizer:
- everyday top-1 / top-5: the sentence with the word replaced by one [MASK], through
  albert_np.fill_mask(top_k=5) (batched); a hit when the word's piece '▁word' (its lower-cased
  spelling, as the tokenizer reads it alone) is the first / among the five predictions, compared as
  token ids (a continuation piece spelled alike would read 'themat'). An item whose word is not one
  '▁word' piece of this vocabulary cannot be predicted at one mask: it counts as a miss, and the
  misses are reported ("not_one_piece").
- whole-word recovery (both item sets): the word replaced by as many [MASK]s as it has pieces in
  this vocabulary ('[MASK][MASK]' is read as two masks), a hit when the top-1 piece of every mask is
  the word's piece there (never for a word with an <unk> piece). Every item is scorable by every
  vocabulary, so this is the figure that compares models with different vocabularies on the same
  words; its bias: the number of masks tells the model how many pieces the word has.

WikiText (`wikitext`): the same rules on WikiText-103 test (raw; pretraining.wikitext_documents),
WIKITEXT_ITEMS sentences drawn with SEED from those with a content word; its items are made again
at each run (the file is fixed). pretrain-eval's figure (15 % of the pieces masked) depends on the
vocabulary's pieces; these whole words do not.
"""
import argparse
import glob
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from albert_np.io import atomic_write_text
from albert_np.tasks import fill_mask, load_tokenizer
from albert_np.training import pretraining_data as pdata

HERE = Path(__file__).resolve().parent
ITEMS = HERE / "everyday_eval.tsv"
SHARED = HERE.parents[2] / "shared" / "data"
SEED = 26
MAX_PER_BLOCK = 1
SGD, SGD_CAP = "sgd_dialogues", 300
MIN_WORDS, MAX_WORDS = 5, 40
WIKITEXT_ITEMS = 3000
COLUMNS = ("source", "block", "start", "word", "sentence")

# Function words (articles, pronouns, prepositions, conjunctions, auxiliaries and modals, common
# determiners and adverbs of degree, time and place); everything else of 3+ letters is content.
STOP_WORDS = frozenset("""
a about above across after again against ago ahead all almost along already also although always am among an
and another any anybody anyone anything anyway anywhere are around as at away back be became because become
becomes been before behind being below beside besides between beyond both but by can cannot could did do does
doing done down during each either else enough even ever every everybody everyone everything everywhere except
few for from further had has have having he her here hers herself him himself his how however i if in inside
instead into is it its itself just least less let like many may maybe me might mine more most much must my
myself near neither never next no nobody none nor not nothing now of off often on once one only onto or other
others otherwise our ours ourselves out outside over own per perhaps quite rather really same shall she should
since so some somebody someone something sometimes somewhat somewhere soon still such than that the their
theirs them themselves then there therefore these they this those though through throughout thus till to
together too toward towards under unless until up upon us very was we well were what whatever when whenever
where wherever whether which while who whoever whom whose why will with within without would yet you your yours
yourself yourselves
""".split())


# ------------------------------------------------------------------ items
def block_id(block):
    return hashlib.sha256(block.encode("utf-8")).hexdigest()


def content_words(sentence):
    """[(start, word)] of the content words of a sentence (see the module docstring)."""
    tokens, out, pos = sentence.split(" "), [], 0
    for i, t in enumerate(tokens):
        if (i < len(tokens) - 1 and len(t) >= 3 and t.isascii() and t.isalpha() and t.islower()
                and t not in STOP_WORDS):
            out.append((pos, t))
        pos += len(t) + 1
    return out


def candidate_sentences(sentences):
    """[(sentence, its content words)] of the sentences that may hold an item."""
    out = []
    for s in sentences:
        s = " ".join(s.split())                      # one space between words
        if MIN_WORDS <= len(s.split(" ")) <= MAX_WORDS and "\t" not in s:
            words = content_words(s)
            if words:
                out.append((s, words))
    return out


def block_items(source, block, per_block=MAX_PER_BLOCK):
    """The items of one held-out block: dicts with COLUMNS, in sentence order."""
    digest = block_id(block)
    candidates = candidate_sentences(pdata.block_sentences(block))
    if not candidates:
        return []
    rng = np.random.default_rng([SEED, int(digest[:8], 16)])
    chosen = sorted(rng.choice(len(candidates), size=min(per_block, len(candidates)), replace=False))
    items = []
    for c in chosen:
        sentence, words = candidates[c]
        start, word = words[int(rng.integers(len(words)))]
        items.append({"source": source, "block": digest[:12], "start": start, "word": word, "sentence": sentence})
    return items


def make_items(data_dir):
    """All items from the held-out blocks of data_dir/everyday/*.txt.xz (sorted by file name)."""
    files = sorted(glob.glob(os.path.join(data_dir, "everyday", "*.txt.xz")))
    if not files:
        raise FileNotFoundError(f"no everyday/*.txt.xz under {data_dir}: pass --data-dir")
    items = []
    for path in files:
        source = os.path.basename(path)[:-len(".txt.xz")]
        found = [it for b in pdata.everyday_blocks(path) if pdata.is_heldout_block(b)
                 for it in block_items(source, b)]
        if source == SGD and len(found) > SGD_CAP:
            found = [found[i] for i in np.linspace(0, len(found) - 1, SGD_CAP).round().astype(int)]
        items += found
    return items


def items_tsv(items):
    """The TSV text of the items, with its header."""
    lines = ["# everyday_eval.tsv: made by tests/benchmarks/everyday_eval.py make (see its docstring); "
             "do not edit by hand", "\t".join(COLUMNS)]
    lines += ["\t".join(str(it[c]) for c in COLUMNS) for it in items]
    return "\n".join(lines) + "\n"


def read_items(path=ITEMS):
    """The items of a TSV written by items_tsv; ValueError naming a bad line."""
    items = []
    with open(path, encoding="utf-8") as f:
        lines = [(n, line.rstrip("\n")) for n, line in enumerate(f, 1) if line.strip() and not line.startswith("#")]
    if not lines or tuple(lines[0][1].split("\t")) != COLUMNS:
        raise ValueError(f"{path}: the first row must be the header {COLUMNS}")
    for n, line in lines[1:]:
        cols = line.split("\t")
        if len(cols) != len(COLUMNS):
            raise ValueError(f"{path}:{n}: expected {len(COLUMNS)} tab-separated columns, got {len(cols)}")
        it = dict(zip(COLUMNS, cols))
        it["start"] = int(it["start"])
        if it["sentence"][it["start"]:it["start"] + len(it["word"])] != it["word"]:
            raise ValueError(f"{path}:{n}: the sentence has no {it['word']!r} at offset {it['start']}")
        items.append(it)
    return items


# ------------------------------------------------------------------ scoring
def masked(item, n_masks, mask_token):
    """The item's sentence with its word replaced by n_masks mask tokens."""
    s, a = item["sentence"], item["start"]
    return s[:a] + mask_token * n_masks + s[a + len(item["word"]):]


def _per_mask(fills, n_masks):
    """fill_mask's answer for one text as a list (masks) of lists (fillers)."""
    return [fills] if n_masks == 1 else fills


def _fill(texts, model, top_k, batch_size):
    if not texts:
        return []
    out = fill_mask(texts, model=model, top_k=top_k, batch_size=batch_size, progress=False)
    return [out] if len(texts) == 1 else out


def score(items, model, top_k=5, batch_size=32):
    """Top-1 / top-k of the one-mask items and the whole-word recovery of every item (module docstring).

    Returns {"items", "one_piece", "not_one_piece", "top1", f"top{k}" (over all items, the
    not-one-piece ones as misses), "top1_of_one_piece", f"top{k}_of_one_piece", "whole_word_top1",
    "pieces_per_word", "by_source": {source: {"items", "one_piece", "top1", "topk", "whole_word_top1"}},
    "rows": [per item: word, pieces, hit1, hitk, whole]}.
    """
    tok = load_tokenizer(model)
    mask = tok.mask_token
    pieces = [tok.tokenize(it["word"]) for it in items]
    ids = [tok.convert_tokens_to_ids(p) for p in pieces]
    one = [len(p) == 1 and p[0].startswith("▁") and len(p[0]) > 1 and i[0] != tok.unk_token_id
           for p, i in zip(pieces, ids)]
    single = [n for n in range(len(items)) if one[n]]
    fills = _fill([masked(items[n], 1, mask) for n in single], model, top_k, batch_size)
    top = {n: [f["token"] for f in fills_n] for n, fills_n in zip(single, fills)}
    whole_fills = _fill([masked(it, len(p), mask) for it, p in zip(items, pieces)], model, 1, batch_size)
    rows = []
    for n, (it, p, i) in enumerate(zip(items, pieces, ids)):
        got = top.get(n, [])
        argmax = [m[0]["token"] for m in _per_mask(whole_fills[n], len(p))]
        rows.append({"source": it["source"], "word": it["word"], "pieces": p, "one_piece": one[n],
                     "hit1": one[n] and got[:1] == [i[0]], "hitk": one[n] and i[0] in got[:top_k],
                     "whole": argmax == i and tok.unk_token_id not in i,     # <unk> says no word
                     "predicted": tok.convert_ids_to_tokens(got)})

    def rates(group):
        k = len(group)
        single_rows = [r for r in group if r["one_piece"]]
        return {"items": k, "one_piece": len(single_rows), "not_one_piece": k - len(single_rows),
                "top1": sum(r["hit1"] for r in group) / k, f"top{top_k}": sum(r["hitk"] for r in group) / k,
                "top1_of_one_piece": sum(r["hit1"] for r in single_rows) / max(len(single_rows), 1),
                f"top{top_k}_of_one_piece": sum(r["hitk"] for r in single_rows) / max(len(single_rows), 1),
                "whole_word_top1": sum(r["whole"] for r in group) / k,
                "pieces_per_word": sum(len(r["pieces"]) for r in group) / k}
    sources = sorted({r["source"] for r in rows})
    return {"model": str(model), "top_k": top_k, **rates(rows),
            "by_source": {s: rates([r for r in rows if r["source"] == s]) for s in sources}, "rows": rows}


def wikitext_items(data_dir, n=WIKITEXT_ITEMS):
    """n items from WikiText-103 test (raw): one content word in each of n sentences drawn with SEED."""
    from albert_np.training.pretraining import wikitext_documents
    path = os.path.join(data_dir, "wikitext-103", "wiki.test.raw")
    candidates = [c for doc in wikitext_documents(path) for c in candidate_sentences(doc)]
    rng = np.random.default_rng(SEED)
    chosen = sorted(rng.choice(len(candidates), size=min(n, len(candidates)), replace=False))
    items = []
    for c in chosen:
        sentence, words = candidates[c]
        start, word = words[int(rng.integers(len(words)))]
        items.append({"source": "wikitext-103-test", "block": "-", "start": start, "word": word,
                      "sentence": sentence})
    return items


def report(result):
    k = result["top_k"]
    lines = [f"model {result['model']}",
             f"{'':34} {'items':>6} {'1-piece':>7} {'top-1':>7} {f'top-{k}':>7} {'whole':>7} {'pcs/w':>5}"]
    groups = [("all", result)] + list(result.get("by_source", {}).items())
    for name, r in groups:
        lines.append(f"{name:34} {r['items']:6d} {r['one_piece']:7d} {100 * r['top1']:6.1f}% "
                     f"{100 * r[f'top{k}']:6.1f}% {100 * r['whole_word_top1']:6.1f}% {r['pieces_per_word']:5.2f}")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make", help="write the items file from the held-out everyday blocks")
    m.add_argument("--data-dir", default=str(SHARED))
    m.add_argument("--out", default=str(ITEMS))
    for name in ("score", "wikitext"):
        s = sub.add_parser(name)
        s.add_argument("--model", required=True, help="a model folder (with its tokenizer) or Hub id")
        s.add_argument("--batch-size", type=int, default=32)
        s.add_argument("--json", metavar="OUT", help="write the result as JSON (atomically)")
        if name == "score":
            s.add_argument("--items", default=str(ITEMS))
        else:
            s.add_argument("--data-dir", default=str(SHARED))
            s.add_argument("--n", type=int, default=WIKITEXT_ITEMS)
    args = p.parse_args(argv)
    if args.cmd == "make":
        items = make_items(args.data_dir)
        atomic_write_text(args.out, items_tsv(items))
        counts = {}
        for it in items:
            counts[it["source"]] = counts.get(it["source"], 0) + 1
        print(json.dumps({"out": args.out, "items": len(items), "by_source": counts}, indent=1))
        return 0
    t0, c0 = time.time(), time.process_time()
    items = read_items(args.items) if args.cmd == "score" else wikitext_items(args.data_dir, args.n)
    result = score(items, args.model, batch_size=args.batch_size)
    result.update(wall_seconds=round(time.time() - t0, 1), cpu_seconds=round(time.process_time() - c0, 1))
    print(report(result) if args.cmd == "score" else report({**result, "by_source": {}}))
    print(f"({result['wall_seconds']} s wall, {result['cpu_seconds']} CPU-s)")
    if args.json:
        atomic_write_text(args.json, json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
