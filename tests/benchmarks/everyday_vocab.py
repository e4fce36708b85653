"""Issue 26 step 0: a vocabulary that can say everyday words, and the bundled model moved onto it.

    python tests/benchmarks/everyday_vocab.py coverage --tokenizer DIR_OR_MODEL [--with-sgd] [--top 1000]
    python tests/benchmarks/everyday_vocab.py mixture --out MIX.txt [--shares 0.60 0.05 0.35]
    python tests/benchmarks/everyday_vocab.py train --mixture MIX.txt --vocab-size 16000 --out PREFIX
    python tests/benchmarks/everyday_vocab.py transfer --model OLD_DIR --spiece NEW.model --out NEW_DIR

coverage: the share of the `--top` most frequent words of ../shared/data/everyday (all blocks,
sgd_dialogues left out unless --with-sgd) that the tokenizer encodes as one piece
(vocab_transfer.word_counts / split_words), and the words it splits.

mixture: one sentence per line (pretraining_data.split_sentences) from three sources, in shares
of characters (sentence characters, newlines not counted): everyday (every block that
pretraining_data.is_heldout_block does not hold out; sgd_dialogues capped at the size of the
biggest other everyday file, an even spread of its blocks), then Wikipedia (every `stride`-th
document of both parts, until its share is reached) and Gutenberg (every k-th 64-paragraph
document, the same way). All of everyday is used; the other two are sized from it.

train: tokenization.train_tokenizer (ALBERT's recipe) on the mixture, timed.

transfer: vocab_transfer.transfer_model, and the counts of how the new pieces were made.
"""
import argparse
import glob
import json
import math
import os
import sys
import time

import sentencepiece as spm

from albert_np import pretraining_data as pdata
from albert_np.io import atomic_open
from albert_np.tokenization import AlbertTokenizerFast, train_tokenizer
from albert_np.training import vocab_transfer as vt

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.path.join(HERE, "..", "..", "..", "shared", "data")
SGD = "sgd_dialogues"


def everyday_files(data_dir):
    files = sorted(glob.glob(os.path.join(data_dir, "everyday", "*.txt.xz")))
    if not files:
        raise FileNotFoundError(f"no everyday/*.txt.xz under {data_dir}: pass --data-dir")
    return files


def coverage(tokenizer, data_dir, top=1000, with_sgd=False):
    """(share of the `top` words that are one piece, split words, the words) over everyday/."""
    texts = (block for path in everyday_files(data_dir) if with_sgd or SGD not in os.path.basename(path)
             for block in pdata.everyday_blocks(path))
    words = vt.most_frequent(vt.word_counts(texts), top)
    split = vt.split_words(tokenizer, words)
    return 1 - len(split) / len(words), split, words


def _sentences(block):
    for line in block.split("\n"):
        yield from pdata.split_sentences(line)


def _spread(blocks, max_chars):
    """An even spread of blocks (every k-th) holding at most max_chars characters."""
    total = sum(len(b) for b in blocks)
    step = max(1, math.ceil(total / max_chars))
    out, n = [], 0
    for b in blocks[::step]:
        if n + len(b) > max_chars:
            break
        out.append(b)
        n += len(b)
    return out


def write_mixture(out, data_dir, shares=(0.60, 0.05, 0.35), wiki_stride=14):
    """Write the vocabulary mixture to `out`; returns {source: {"chars", "bytes", "lines", ...}}."""
    wiki_share, gut_share, every_share = shares
    stats = {}
    with atomic_open(out, "w", encoding="utf-8") as f:
        def emit(name, sentences):
            s = stats.setdefault(name, {"chars": 0, "bytes": 0, "lines": 0})
            for sentence in sentences:
                f.write(sentence + "\n")
                s["chars"] += len(sentence)
                s["bytes"] += len(sentence.encode("utf-8"))
                s["lines"] += 1
            return s["chars"]

        kept = {}
        for path in everyday_files(data_dir):
            blocks = list(pdata.everyday_blocks(path))
            kept[os.path.basename(path)] = ([b for b in blocks if not pdata.is_heldout_block(b)], len(blocks))
        sgd_name = next(n for n in kept if SGD in n)
        cap = max(sum(map(len, b)) for n, (b, _) in kept.items() if n != sgd_name)
        kept[sgd_name] = (_spread(kept[sgd_name][0], cap), kept[sgd_name][1])
        for name, (blocks, n_all) in kept.items():
            every_chars = emit("everyday", (s for b in blocks for s in _sentences(b)))   # running total
            stats.setdefault("everyday_files", {})[name] = {"blocks": len(blocks), "of": n_all,
                                                            "chars": sum(map(len, blocks))}
        pretrain = os.path.join(data_dir, "pretrain")
        target = every_chars * wiki_share / every_share
        wiki = pdata.interleave(pdata.wikipedia_documents(os.path.join(pretrain, "enwiki_2015_part1_of_2.txt.xz")),
                                pdata.wikipedia_documents(os.path.join(pretrain, "enwiki_2015_part2_of_2.txt.xz")))
        n_docs = 0
        for i, doc in enumerate(wiki):
            if i % wiki_stride == 0:
                n_docs += 1
                if emit("wikipedia", doc) >= target:
                    break
        stats["wikipedia"].update(documents=n_docs, stride=wiki_stride, last_index=i)
        target = every_chars * gut_share / every_share
        books = list(pdata.gutenberg_documents(os.path.join(pretrain, "gutenberg_nltk_13_books.txt.xz")))
        step = max(1, int(sum(len(s) for d in books for s in d) // target))
        n_docs = 0
        for doc in books[::step]:
            n_docs += 1
            if emit("gutenberg", doc) >= target:
                break
        stats["gutenberg"].update(documents=n_docs, stride=step, of=len(books))
    total = sum(stats[k]["chars"] for k in ("wikipedia", "gutenberg", "everyday"))
    for k in ("wikipedia", "gutenberg", "everyday"):
        stats[k]["share"] = round(stats[k]["chars"] / total, 4)
    return stats


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data-dir", default=SHARED)
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("coverage")
    c.add_argument("--tokenizer", required=True, help="a tokenizer / model folder, or a spiece.model file")
    c.add_argument("--top", type=int, default=1000)
    c.add_argument("--with-sgd", action="store_true")
    m = sub.add_parser("mixture")
    m.add_argument("--out", required=True)
    m.add_argument("--shares", type=float, nargs=3, default=(0.60, 0.05, 0.35), metavar=("WIKI", "GUT", "EVERYDAY"))
    m.add_argument("--wiki-stride", type=int, default=14)
    t = sub.add_parser("train")
    t.add_argument("--mixture", required=True)
    t.add_argument("--vocab-size", type=int, default=16000)
    t.add_argument("--out", required=True, help="model prefix: writes OUT.model and OUT.vocab")
    t.add_argument("--threads", type=int, default=1)
    t.add_argument("--input-sentence-size", type=int, default=3_000_000)
    t.add_argument("--seed", type=int, default=0)
    x = sub.add_parser("transfer")
    x.add_argument("--model", required=True)
    x.add_argument("--spiece", required=True)
    x.add_argument("--out", required=True)
    args = p.parse_args(argv)

    if args.cmd == "coverage":
        path = args.tokenizer
        tok = AlbertTokenizerFast(vocab_file=path) if os.path.isfile(path) else AlbertTokenizerFast.from_pretrained(path)
        share, split, words = coverage(tok, args.data_dir, args.top, args.with_sgd)
        print(json.dumps({"tokenizer": path, "vocab_size": tok.vocab_size, "words": len(words),
                          "with_sgd": args.with_sgd, "one_piece": round(share, 4), "split": len(split),
                          "split_words": split}, ensure_ascii=False))
    elif args.cmd == "mixture":
        if abs(sum(args.shares) - 1) > 1e-6:
            p.error(f"--shares must add up to 1, got {args.shares}")
        t0 = time.time()
        stats = write_mixture(args.out, args.data_dir, tuple(args.shares), args.wiki_stride)
        print(json.dumps({"out": args.out, "seconds": round(time.time() - t0, 1), **stats}, indent=1))
    elif args.cmd == "train":
        t0, c0 = time.time(), time.process_time()
        path = train_tokenizer([args.mixture], args.vocab_size, args.out, num_threads=args.threads,
                               input_sentence_size=args.input_sentence_size, seed=args.seed)
        print(json.dumps({"model": path, "vocab_size": len(spm.SentencePieceProcessor(model_file=path)),
                          "threads": args.threads, "wall_seconds": round(time.time() - t0, 1),
                          "cpu_seconds": round(time.process_time() - c0, 1)}))
    else:
        counts = vt.transfer_model(args.model, args.spiece, args.out)
        print(json.dumps(counts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
