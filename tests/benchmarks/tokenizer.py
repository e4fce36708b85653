"""Benchmark: AlbertTokenizerFast batch encoding against transformers' ALBERT tokenizer.

    python tests/benchmarks/tokenizer.py [--model FOLDER] [--lines 100000] [--data ../shared/data]

Both tokenizers load the same vocabulary (by default the test fixture, tests/fixtures/tokenizer)
and encode the same lines in one call per setting; the script prints lines/s for each and their
ratio. transformers (the project's test oracle, 5.x: a `tokenizers`-backed AlbertTokenizer) is
imported only here and only if installed; without it the comparison is skipped with a message.
Note that the two do not give identical ids on every line: transformers' tokenizers-based ALBERT
splits user-defined symbols and digit-commas differently from the original (ours does not).
"""
import argparse
import csv
import importlib
import json
import logging
import lzma
import os
import tempfile
import time
from pathlib import Path

from albert_np.tokenization import AlbertTokenizerFast

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]          # the repository
DEFAULT_MODEL = ROOT / "tests" / "fixtures" / "tokenizer"
DEFAULT_DATA = ROOT.parent / "shared" / "data"

SETTINGS = {                                      # what each timed call asks for
    "ids only": {},
    "ids + offsets": {"return_offsets_mapping": True},
    "padded np, max_length=128": {"padding": True, "truncation": True, "max_length": 128,
                                  "return_tensors": "np"},
}


def benchmark_lines(data, n_lines):
    """n_lines real lines: SST-2 train, SQuAD contexts and questions, then Wikipedia paragraphs."""
    data = Path(data)
    with open(data / "glue/SST-2/train.tsv", encoding="utf-8") as f:
        lines = [row[0] for row in list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))[1:]]
    with open(data / "squad/dev-v1.1.json", encoding="utf-8") as f:
        for article in json.load(f)["data"]:
            for paragraph in article["paragraphs"]:
                lines.append(paragraph["context"])
                lines += [qa["question"] for qa in paragraph["qas"]]
    with lzma.open(data / "pretrain/enwiki_2015_part2_of_2.txt.xz", "rt", encoding="utf-8") as f:
        for line in f:
            if len(lines) >= n_lines:
                break
            if line.strip() and not line.startswith(("<doc ", "</doc>")):
                lines.append(line.rstrip("\n"))
    return lines[:n_lines]


def time_call(fn, repeats):
    """Best wall time of `repeats` calls (the machine is shared; the best is the least disturbed)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def load_transformers_tokenizer(ours):
    """transformers' AlbertTokenizer for the same vocabulary, or None (with the reason) if absent."""
    try:
        transformers = importlib.import_module("transformers")      # an optional oracle, never a dependency
    except ImportError as e:
        return None, f"transformers is not installed ({e}); only albert_np was timed"
    transformers.logging.set_verbosity_error()       # no "sequence longer than 512" warnings
    with tempfile.TemporaryDirectory() as folder:
        ours.save_pretrained(folder)                  # tokenizer.json is what transformers 5 reads
        hf = transformers.AutoTokenizer.from_pretrained(folder)   # 5.x: the tokenizers-backed one
    return hf, f"transformers {transformers.__version__} {type(hf).__name__}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(DEFAULT_MODEL), help="folder with spiece.model (or Hub id)")
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="the shared data folder")
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args(argv)

    lines = benchmark_lines(args.data, args.lines)
    ours = AlbertTokenizerFast.from_pretrained(args.model)
    hf, about_hf = load_transformers_tokenizer(ours)
    print(f"{len(lines):,} lines ({sum(map(len, lines)) / len(lines):.0f} chars on average), "
          f"vocabulary {args.model} ({ours.vocab_size} pieces), {os.cpu_count()} cores, "
          f"sentencepiece threads: {ours.num_threads}")
    print(f"reference: {about_hf}")
    print(f"{'setting':28s} {'albert_np lines/s':>18s} {'transformers lines/s':>21s} {'ratio':>7s}")
    for name, kwargs in SETTINGS.items():
        ours_s = time_call(lambda: ours(lines, **kwargs), args.repeats)
        if hf is None:
            print(f"{name:28s} {len(lines) / ours_s:18,.0f} {'-':>21s} {'-':>7s}")
            continue
        hf_s = time_call(lambda: hf(lines, **kwargs), args.repeats)
        print(f"{name:28s} {len(lines) / ours_s:18,.0f} {len(lines) / hf_s:21,.0f} {hf_s / ours_s:6.2f}x")


if __name__ == "__main__":
    main()
