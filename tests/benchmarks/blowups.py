"""Time ratios of the two algorithmic blow-ups of issue 27: many [MASK]s, and QA over many windows.

    python tests/benchmarks/blowups.py [--repeats 3]

    fill_mask, masks x4   fill_mask(text with M masks) with the bundled model (top_k=5), M = 200 and 800:
                          each suggestion's "sequence" is the whole text, and it used to be decoded
                          from scratch for every suggestion (time quadratic in M).
    QA, windows x4        answer_question over a context cut into W windows and 4 W windows
                          (tests/fixtures/tasks/qa: 128-token windows), top_k=1: the candidate
                          spans of all windows were merged by a linear scan each (quadratic in W).

A linear algorithm gives a ratio near 4 (a little more where sorting, n log n, shows); a
quadratic one near 16. Each time is the best of --repeats runs (the first call of each loads
the model and is not timed). Only the public API is used, so the script runs on any commit:
run it on two checkouts to compare, e.g.

    PYTHONPATH=/tmp/before python tests/benchmarks/blowups.py
    PYTHONPATH=.           python tests/benchmarks/blowups.py

Set OPENBLAS_NUM_THREADS=1 on a shared machine: the ratios then depend little on the load.
"""
import argparse
import logging
import os
import platform
import time

import numpy as np

import albert_np
from albert_np import tasks

HERE = os.path.dirname(os.path.abspath(__file__))
QA_MODEL = os.path.join(HERE, "..", "fixtures", "tasks", "qa")
QA_TOKENIZER = os.path.join(HERE, "..", "fixtures", "tasks", "mlm")     # the task fixtures share one vocabulary
WORDS = ("the film was released in may and the team lived in london before the war while ada wrote "
         "her notes on the engine").split()


def text_with_masks(n_masks, seed=0):
    """n_masks [MASK]s, each after two words of a fixed random word list."""
    rng = np.random.default_rng(seed)
    return " ".join(f"{rng.choice(WORDS)} {rng.choice(WORDS)} [MASK]" for _ in range(n_masks)) + "."


def long_context(n_words, seed=1):
    rng = np.random.default_rng(seed)
    return " ".join(rng.choice(WORDS, n_words)) + "."


def best_time(fn, repeats):
    fn()                                    # loads the model, warms the caches: not timed
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def qa_windows(context):
    """How many 128-token windows answer_question cuts `context` into (doc_stride 64)."""
    tok = albert_np.AlbertTokenizerFast.from_pretrained(QA_TOKENIZER)
    enc = tok("who lived in london?", context, truncation="only_second", max_length=128, stride=64,
              return_overflowing_tokens=True)
    return len(enc["input_ids"])


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--masks", type=int, default=200, help="masks of the smaller text (x4 for the larger)")
    p.add_argument("--words", type=int, default=3000, help="context words of the smaller QA input (x4)")
    args = p.parse_args()
    logging.getLogger("albert_np").setLevel(logging.ERROR)     # "no model given", "max_seq_len lowered"
    print(f"albert_np {albert_np.__file__}")
    print(f"numpy {np.__version__} ({_blas()}), CPU {_cpu()}, "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}")
    print(f"{'case':<40} {'small (s)':>10} {'large (s)':>10} {'ratio':>7}")
    m = args.masks
    t = [best_time(lambda n=n: tasks.fill_mask(text_with_masks(n), top_k=5, progress=False), args.repeats)
         for n in (m, 4 * m)]
    report(f"fill_mask, masks x4 ({m} -> {4 * m})", t)
    w = args.words
    contexts = [long_context(n) for n in (w, 4 * w)]
    windows = [qa_windows(c) for c in contexts]
    def answer(context):
        return tasks.answer_question("who lived in london?", context, model=QA_MODEL, tokenizer=QA_TOKENIZER,
                                     top_k=1, max_seq_len=128, doc_stride=64, progress=False)
    t = [best_time(lambda c=c: answer(c), args.repeats) for c in contexts]
    report(f"QA, windows x{windows[1] / windows[0]:.1f} ({windows[0]} -> {windows[1]})", t)


def report(name, times):
    a, b = times
    print(f"{name:<40} {a:>10.3f} {b:>10.3f} {b / a:>7.1f}", flush=True)


def _blas():
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{blas['name']} {blas['version']}"
    except Exception:                       # older NumPy: no dict mode
        return "BLAS unknown"


def _cpu():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


if __name__ == "__main__":
    main()
