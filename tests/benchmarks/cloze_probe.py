"""Cloze probe: does a masked-LM know plain English? Top-1 / top-k hit rates on cloze_probe.tsv.

    python tests/benchmarks/cloze_probe.py [--model PATH] [--top-k 5] [--verbose] [--json OUT]
    python tests/benchmarks/cloze_probe.py --check-corpus [--data-dir ../shared/data]

cloze_probe.tsv (beside this script) holds 75 sentences written for this project, 25 in each
category (grammar, everyday, fact): `category <TAB> sentence with one [MASK] <TAB> answer|answer|...`,
'#' lines are comments. Every accepted answer must be one vocabulary piece that starts a word
('▁word'), so that a single masked position can hold it; load_probe rejects any other row with
the file's line number. A sentence is a top-k hit when one of its accepted answers is among the
model's k likeliest pieces at the mask (compared as token ids, so fill_mask's token_str, which
drops the '▁', never matters).

Tokenizer quirk: '[MASK].' is read as [MASK] ▁ . (a bare '▁' piece before the full stop, as
transformers' fast ALBERT tokenizer does), whereas in pretraining a masked word's piece is followed
by '.' directly; so most masks here sit inside the sentence, and the report counts the masks right
before punctuation apart.

The bundled albert-tiny-en (607k sequences in three phases; see its model card) scores top-1
16.0 %, top-5 28.0 % (grammar 28.0 / 56.0, everyday 0.0 / 0.0, fact 20.0 / 28.0): it gets grammar
words (has, are, was, to) and some facts but not yet everyday nouns. Its first phase alone (403k
sequences, 15 % masking) scored 2.7 % / 9.3 %, predicting frequent pieces (▁the , ▁was ▁of ...)
whatever the context.

--check-corpus streams the pretraining corpus (albert_np.training.pretraining.corpus_documents: Wikipedia
2015 + 13 Gutenberg books, each document's sentences joined by spaces) and counts the probe
sentences that occur in it verbatim, with any accepted answer filled in, after lowercasing,
collapsing whitespace and ignoring the final . ! or ?. Result: 0 of the 75 sentences occur
(30,815 documents, 412,267,636 characters; 49.5 CPU-s, 2 min 17 s wall, nice'd on 2 cores shared
with a pretraining run).
"""
import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

from albert_np.io import atomic_write_text
from albert_np.pretrained import bundled_model
from albert_np.tasks import fill_mask, load_tokenizer

PROBE = Path(__file__).with_name("cloze_probe.tsv")
CATEGORIES = ("grammar", "everyday", "fact")
MASK = "[MASK]"


def load_probe(path, tokenizer):
    """Read and check a probe file.

    Returns a list of dicts, one per sentence: line (1-based line in the file), category, sentence
    (str, one [MASK]), answers (list of str), answer_ids (list of int, the '▁word' piece ids).
    Raises ValueError naming the file and line of the first bad row.
    """
    items, seen = [], {}
    with open(path, encoding="utf-8") as f:
        for n, raw in enumerate(f, 1):
            line = raw.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            where = f"{path}:{n}"
            cols = line.split("\t")
            if len(cols) != 3:
                raise ValueError(f"{where}: expected 3 tab-separated columns (category, sentence, answers), "
                                 f"got {len(cols)}: {line!r:.100}")
            category, sentence, answers = (c.strip() for c in cols)
            if category not in CATEGORIES:
                raise ValueError(f"{where}: category {category!r} is not one of {CATEGORIES}")
            if sentence.count(MASK) != 1:
                raise ValueError(f"{where}: the sentence must hold exactly one {MASK}, it has "
                                 f"{sentence.count(MASK)}: {sentence!r}")
            key = " ".join(sentence.lower().split())
            if key in seen:
                raise ValueError(f"{where}: duplicate of the sentence on line {seen[key]}: {sentence!r}")
            seen[key] = n
            words = answers.split("|")
            ids = []
            for w in words:
                if not w.strip():
                    raise ValueError(f"{where}: empty answer in {answers!r} (answers are separated by '|')")
                pieces = tokenizer.tokenize(w)
                piece_ids = tokenizer.convert_tokens_to_ids(pieces)
                if (len(pieces) != 1 or not pieces[0].startswith("▁") or pieces[0] == "▁"
                        or piece_ids[0] == tokenizer.unk_token_id):
                    raise ValueError(f"{where}: answer {w!r} is not one '▁word' piece of the vocabulary "
                                     f"(it tokenizes to {pieces}); choose a word that is, or drop it")
                ids.append(piece_ids[0])
            items.append({"line": n, "category": category, "sentence": sentence, "answers": words,
                          "answer_ids": ids})
    if not items:
        raise ValueError(f"{path}: no probe rows")
    return items


def fill_mask_top_k(sentences, model, top_k, batch_size=16):
    """Top-k piece ids at the single [MASK] of each sentence: list (N) of lists (top_k) of int.

    fill_mask returns one sentence's list unwrapped when given a list of one; wrap it back.
    """
    out = fill_mask(list(sentences), model=model, top_k=top_k, batch_size=batch_size, progress=False)
    if len(sentences) == 1:
        out = [out]
    return [[fill["token"] for fill in fills] for fills in out]


def before_punctuation(sentence):
    """Is the mask directly followed by punctuation (read as [MASK] ▁ .)?"""
    return re.search(re.escape(MASK) + r"[^\w\s]", sentence) is not None


def hit_rates(items, predicted, top_k):
    """Hit rates of predictions against the accepted answers.

    items: from load_probe (answer_ids used); predicted: list (N) of lists (>= top_k) of ids, best first.
    Returns {"top_k", "overall": {"n", "top1", "topk"}, "categories": {name: {...}},
             "mask_before_punctuation": {...}, "mask_inside": {...}, "sentences": [per item]}
    where top1 / topk are fractions of sentences with an accepted answer at rank 1 / in the first top_k.
    """
    if len(items) != len(predicted):
        raise ValueError(f"{len(items)} probe items but {len(predicted)} predictions")
    rows = []
    for item, ids in zip(items, predicted):
        ids = [int(i) for i in ids[:top_k]]
        ok = set(item["answer_ids"])
        rows.append({"line": item["line"], "category": item["category"], "sentence": item["sentence"],
                     "answers": item["answers"], "predicted": ids,
                     "hit1": bool(ids[:1]) and ids[0] in ok, "hitk": any(i in ok for i in ids)})

    def rates(group):
        n = len(group)
        return {"n": n, "top1": sum(r["hit1"] for r in group) / n if n else 0.0,
                "topk": sum(r["hitk"] for r in group) / n if n else 0.0}
    punct = [before_punctuation(r["sentence"]) for r in rows]
    return {"top_k": top_k, "overall": rates(rows),
            "categories": {c: rates([r for r in rows if r["category"] == c])
                           for c in CATEGORIES if any(r["category"] == c for r in rows)},
            "mask_before_punctuation": rates([r for r, p in zip(rows, punct) if p]),
            "mask_inside": rates([r for r, p in zip(rows, punct) if not p]),
            "sentences": rows}


def run_probe(model, top_k=5, path=PROBE, batch_size=16):
    """Load the probe, predict with fill_mask, score: the hit_rates dict plus "model" and "probe"."""
    tokenizer = load_tokenizer(model)
    items = load_probe(path, tokenizer)
    predicted = fill_mask_top_k([it["sentence"] for it in items], model, top_k, batch_size)
    result = hit_rates(items, predicted, top_k)
    for row in result["sentences"]:
        row["predicted_pieces"] = tokenizer.convert_ids_to_tokens(row["predicted"])
    return dict(model=str(model), probe=str(path), **result)


def report(result, verbose=False):
    """Printable text of run_probe's result."""
    k = result["top_k"]
    lines = [f"model {result['model']}", f"{'':24} {'n':>3} {'top-1':>7} {f'top-{k}':>7}"]
    groups = [("overall", result["overall"])] + list(result["categories"].items()) + [
        ("mask before punctuation", result["mask_before_punctuation"]), ("mask inside", result["mask_inside"])]
    for name, r in groups:
        lines.append(f"{name:24} {r['n']:3d} {100 * r['top1']:6.1f}% {100 * r['topk']:6.1f}%")
    if verbose:
        lines.append("")
        lines.append(f"{'line':>4} {'category':8} hit  sentence | accepted | top-{k}")
        for r in result["sentences"]:
            mark = "1" if r["hit1"] else ("k" if r["hitk"] else "-")
            lines.append(f"{r['line']:4d} {r['category']:8} {mark:3}  {r['sentence']} | {'|'.join(r['answers'])} | "
                         f"{' '.join(r['predicted_pieces'])}")
    return "\n".join(lines)


def normalise(text):
    """Lowercase, whitespace collapsed to single spaces."""
    return " ".join(text.lower().split())


def check_corpus(items, data_dir=None):
    """Probe sentences that occur verbatim in the pretraining corpus.

    Each item is looked for with every accepted answer filled in, normalised, final . ! ? dropped,
    starting at a word boundary, in each document's sentences joined by spaces.
    Returns (found: list of (line, text) found, documents read, characters read, CPU seconds).
    """
    from albert_np.training.pretraining import SHARED_DATA, corpus_documents
    needles = {}                                                   # normalised text -> probe line
    for it in items:
        for a in it["answers"]:
            needles[" " + normalise(it["sentence"].replace(MASK, a)).rstrip(".!?")] = it["line"]
    t0 = time.process_time()
    found, n_docs, n_chars = {}, 0, 0
    for doc in corpus_documents(data_dir or SHARED_DATA):
        text = " " + normalise(" ".join(doc))
        n_docs += 1
        n_chars += len(text)
        for needle, line in needles.items():
            if needle in text:
                found.setdefault(line, needle.strip())
    return sorted(found.items()), n_docs, n_chars, time.process_time() - t0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default=bundled_model(), help="model folder or Hub id (default: the bundled model)")
    p.add_argument("--top-k", type=int, default=5)
    p.add_argument("--probe", default=str(PROBE), help="probe file (default: cloze_probe.tsv beside this script)")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--verbose", action="store_true", help="also print one line per sentence")
    p.add_argument("--json", metavar="OUT", help="write the result as JSON (atomically)")
    p.add_argument("--check-corpus", action="store_true",
                   help="count probe sentences that occur verbatim in the pretraining corpus, then exit")
    p.add_argument("--data-dir", default=None, help="folder holding pretrain/ (default: ../shared/data)")
    args = p.parse_args(argv)
    if args.model is None:
        p.error("this installation has no bundled model: pass --model")
    if args.top_k < 1:
        p.error(f"--top-k must be at least 1, got {args.top_k}")
    if args.check_corpus:
        items = load_probe(args.probe, load_tokenizer(args.model))
        found, n_docs, n_chars, cpu = check_corpus(items, args.data_dir)
        for line, text in found:
            print(f"line {line}: {text!r}")
        print(f"{len(found)} of {len(items)} probe sentences occur verbatim in the pretraining corpus "
              f"({n_docs:,} documents, {n_chars:,} characters; {cpu:.1f} CPU-s)")
        return 0
    result = run_probe(args.model, args.top_k, args.probe, args.batch_size)
    print(report(result, args.verbose))
    if args.json:
        atomic_write_text(args.json, json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
