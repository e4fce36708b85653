"""Cloze probe: does a masked-LM know plain English? Top-1 / top-k hit rates on cloze_probe.tsv.

    python tests/benchmarks/cloze_probe.py [--model PATH] [--top-k 5] [--verbose] [--json OUT]
    python tests/benchmarks/cloze_probe.py --check-corpus [--data-dir ../shared/data]
    python tests/benchmarks/cloze_probe.py --model OTHER_VOCABULARY_MODEL --scorable

cloze_probe.tsv (beside this script) holds 75 sentences written for this project, 25 in each
category (grammar, everyday, fact): `category <TAB> sentence with one [MASK] <TAB> answer|answer|...`,
'#' lines are comments. Every accepted answer must be one vocabulary piece that starts a word
('▁word'), so that a single masked position can hold it; load_probe rejects any other row with
the file's line number. A model with another vocabulary (run_probe, the command line) drops the
answers that are not one piece of its vocabulary; a sentence left with none is unscorable and
counts as a miss, and the report says how many sentences stay scorable (--scorable lists them).
A sentence is a top-k hit when one of its accepted answers is among the
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
2015 + 13 Gutenberg books, each document's sentences joined by spaces) and the everyday text
(../shared/data/everyday, each block a document; the training blocks and the held-out ones apart)
and counts the probe sentences that occur verbatim, with any accepted answer filled in, after
lowercasing, collapsing whitespace and ignoring the final . ! or ?; and their near matches: the
4 words left of the mask plus an accepted answer (words: runs of a-z, 0-9 and ', lower-cased; a
mask with fewer than 4 words on its left takes the words after the answer to make 5), with the
number of documents that hold one. Result (2026-12-07, 111.6 CPU-s): none of the 75 sentences occurs
verbatim in the pretraining corpus (30,815 documents, 412,267,636 characters), in everyday's
training blocks (56,319) or in its held-out blocks (3,036). Near matches: 10 sentences in the
pretraining corpus (most in 1 or 2 documents; line 73, 'president of the united states', in 392),
13 in everyday's training blocks, 4 in its held-out blocks: common phrases ('i am looking forward
to', 'sat down on a chair'), not copies of the probe.
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


def load_probe(path, tokenizer, strict=True):
    """Read and check a probe file.

    Returns a list of dicts, one per sentence: line (1-based line in the file), category, sentence
    (str, one [MASK]), answers (list of str), answer_ids (list of int, the '▁word' piece ids),
    unscorable (the answers that are not one piece: [] unless strict=False).
    Raises ValueError naming the file and line of the first bad row; with strict=False an answer
    that is not one '▁word' piece of this tokenizer is dropped instead (another vocabulary).
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
            ids, unscorable = [], []
            for w in words:
                if not w.strip():
                    raise ValueError(f"{where}: empty answer in {answers!r} (answers are separated by '|')")
                pieces = tokenizer.tokenize(w)
                piece_ids = tokenizer.convert_tokens_to_ids(pieces)
                if (len(pieces) != 1 or not pieces[0].startswith("▁") or pieces[0] == "▁"
                        or piece_ids[0] == tokenizer.unk_token_id):
                    if not strict:
                        unscorable.append(w)
                        continue
                    raise ValueError(f"{where}: answer {w!r} is not one '▁word' piece of the vocabulary "
                                     f"(it tokenizes to {pieces}); choose a word that is, or drop it")
                ids.append(piece_ids[0])
            items.append({"line": n, "category": category, "sentence": sentence, "answers": words,
                          "answer_ids": ids, "unscorable": unscorable})
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
    return {"top_k": top_k, "overall": rates(rows), "scorable": sum(bool(it["answer_ids"]) for it in items),
            "categories": {c: rates([r for r in rows if r["category"] == c])
                           for c in CATEGORIES if any(r["category"] == c for r in rows)},
            "mask_before_punctuation": rates([r for r, p in zip(rows, punct) if p]),
            "mask_inside": rates([r for r, p in zip(rows, punct) if not p]),
            "sentences": rows}


def run_probe(model, top_k=5, path=PROBE, batch_size=16):
    """Load the probe (answers that are not one piece of this model's vocabulary dropped), predict
    with fill_mask, score: the hit_rates dict plus "model", "probe" and "dropped" (line -> answers)."""
    tokenizer = load_tokenizer(model)
    items = load_probe(path, tokenizer, strict=False)
    predicted = fill_mask_top_k([it["sentence"] for it in items], model, top_k, batch_size)
    result = hit_rates(items, predicted, top_k)
    for row in result["sentences"]:
        row["predicted_pieces"] = tokenizer.convert_ids_to_tokens(row["predicted"])
    dropped = {it["line"]: it["unscorable"] for it in items if it["unscorable"]}
    return dict(model=str(model), probe=str(path), dropped=dropped, **result)


def report(result, verbose=False):
    """Printable text of run_probe's result."""
    k = result["top_k"]
    n = result["overall"]["n"]
    lines = [f"model {result['model']}", f"scorable {result['scorable']} of {n} sentences (the others: no accepted "
             f"answer is one piece of this vocabulary; they count as misses); answers dropped: "
             f"{result['dropped'] or 'none'}", f"{'':24} {'n':>3} {'top-1':>7} {f'top-{k}':>7}"]
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


def near_window(item, answer, size=5):
    """The near-match needle of one answer: the 4 words left of the mask and the answer (words after it
    when fewer than 4 are on the left), as words() of the filled sentence."""
    left, right = item["sentence"].split(MASK)
    before, after = words(left), words(right)
    take = before[-(size - 1):] if len(before) >= size - 1 else before
    window = take + words(answer) + after
    return " ".join(window[:size])


def words(text):
    """Lower-cased runs of a-z, 0-9 and ' (the near matches' words)."""
    return re.findall(r"[a-z0-9']+", text.lower())


def scan(documents, items):
    """Verbatim and near matches of the probe in `documents` (lists of sentences).

    Returns {"documents", "characters", "verbatim": [(line, text)], "near": [(line, window, documents
    holding it)]}; verbatim as check_corpus, near per near_window (counted once per document).
    """
    needles, near = {}, {}
    for it in items:
        for a in it["answers"]:
            needles[" " + normalise(it["sentence"].replace(MASK, a)).rstrip(".!?")] = it["line"]
            near[" " + near_window(it, a) + " "] = it["line"]
    found, near_count, n_docs, n_chars = {}, {}, 0, 0
    for doc in documents:
        text = " " + normalise(" ".join(doc))
        flat = " " + " ".join(words(text)) + " "
        n_docs += 1
        n_chars += len(text)
        for needle, line in needles.items():
            if needle in text:
                found.setdefault(line, needle.strip())
        for needle, line in near.items():
            if needle in flat:
                near_count[(line, needle.strip())] = near_count.get((line, needle.strip()), 0) + 1
    return {"documents": n_docs, "characters": n_chars, "verbatim": sorted(found.items()),
            "near": sorted((line, w, c) for (line, w), c in near_count.items())}


def check_corpus(items, data_dir=None):
    """Probe sentences that occur verbatim in the pretraining corpus.

    Each item is looked for with every accepted answer filled in, normalised, final . ! ? dropped,
    starting at a word boundary, in each document's sentences joined by spaces.
    Returns (found: list of (line, text) found, documents read, characters read, CPU seconds).
    """
    from albert_np.training.pretraining import corpus_documents
    t0 = time.process_time()
    r = scan(corpus_documents(data_dir), items)
    return r["verbatim"], r["documents"], r["characters"], time.process_time() - t0


def check_corpora(items, data_dir=None):
    """scan() of the pretraining corpus and of everyday/ (its training blocks and its held-out blocks apart).

    Returns {"pretrain": scan, "everyday": scan, "everyday_heldout": scan, "cpu_seconds"}.
    """
    import glob
    from albert_np.training import pretraining_data as pdata
    from albert_np.training.pretraining import corpus_documents, data_dir_or_default
    data_dir = data_dir_or_default(data_dir)
    files = sorted(glob.glob(os.path.join(data_dir, "everyday", "*.txt.xz")))

    def everyday(heldout):
        return (pdata.block_sentences(b) for f in files for b in pdata.everyday_blocks(f)
                if pdata.is_heldout_block(b) == heldout)
    t0 = time.process_time()
    out = {"pretrain": scan(corpus_documents(data_dir), items), "everyday": scan(everyday(False), items),
           "everyday_heldout": scan(everyday(True), items)}
    out["cpu_seconds"] = time.process_time() - t0
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default=bundled_model(), help="model folder or Hub id (default: the bundled model)")
    p.add_argument("--top-k", type=int, default=5)
    p.add_argument("--probe", default=str(PROBE), help="probe file (default: cloze_probe.tsv beside this script)")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--verbose", action="store_true", help="also print one line per sentence")
    p.add_argument("--json", metavar="OUT", help="write the result as JSON (atomically)")
    p.add_argument("--check-corpus", action="store_true",
                   help="count probe sentences that occur verbatim or nearly (4 words + the answer) in the "
                        "pretraining corpus and in everyday/, then exit")
    p.add_argument("--scorable", action="store_true",
                   help="list the sentences that this model's vocabulary can score (an accepted answer is one "
                        "piece), then exit")
    p.add_argument("--data-dir", default=None, help="folder holding pretrain/ (default: ../shared/data)")
    args = p.parse_args(argv)
    if args.model is None:
        p.error("this installation has no bundled model: pass --model")
    if args.top_k < 1:
        p.error(f"--top-k must be at least 1, got {args.top_k}")
    if args.scorable:
        items = load_probe(args.probe, load_tokenizer(args.model), strict=False)
        for it in items:
            if it["unscorable"]:
                print(f"line {it['line']}: {'unscorable' if not it['answer_ids'] else 'scorable'}; answers not one "
                      f"piece: {'|'.join(it['unscorable'])}")
        print(f"{sum(bool(it['answer_ids']) for it in items)} of {len(items)} probe sentences are scorable "
              f"with the vocabulary of {args.model}")
        return 0
    if args.check_corpus:
        items = load_probe(args.probe, load_tokenizer(args.model), strict=False)
        result = check_corpora(items, args.data_dir)
        for name in ("pretrain", "everyday", "everyday_heldout"):
            r = result[name]
            for line, text in r["verbatim"]:
                print(f"{name} line {line}: verbatim {text!r}")
            for line, window, n in r["near"]:
                print(f"{name} line {line}: near {window!r} in {n:,} documents")
            near_lines = len({line for line, _, _ in r["near"]})
            print(f"{name}: {len(r['verbatim'])} of {len(items)} probe sentences occur verbatim, {near_lines} have a "
                  f"near match ({r['documents']:,} documents, {r['characters']:,} characters)")
        print(f"({result['cpu_seconds']:.1f} CPU-s)")
        if args.json:
            atomic_write_text(args.json, json.dumps(result, indent=1) + "\n")
        return 0
    result = run_probe(args.model, args.top_k, args.probe, args.batch_size)
    print(report(result, args.verbose))
    if args.json:
        atomic_write_text(args.json, json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
