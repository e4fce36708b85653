"""Two source trees of albert_np side by side: is a change slower anywhere?

    python tests/benchmarks/before_after.py OLD_TREE NEW_TREE [--rounds 3] [--only tokenizer,cold]

For example, with the commit before a refactor checked out beside the repository:
    git worktree add /tmp/old <commit>; python tests/benchmarks/before_after.py /tmp/old .

Each measurement runs in a fresh process that imports albert_np from one tree
(PYTHONPATH=TREE), and the two trees alternate, OLD NEW OLD NEW ..., for
--rounds rounds, so that both see the same machine load. Measured:
    forward 1x128, 8x128   AlbertModel of the albert-base-v2 shape (random weights, seed 0),
                           median of 10 / 5 calls after 2 warm-up calls
    train step 8x128       AlbertForSequenceClassification of that shape: loss_and_grads +
                           AdamW step, median of 3 after 1 warm-up
    cold start             wall time of `python -c "import albert_np; albert_np.fill_mask(TEXT)"`
                           on the bundled model, median of 3
    tokenizer              AlbertTokenizerFast (the test fixture vocabulary) batch-encoding
                           20,000 SST-2 sentences, lines/s, best of 3
Prints the median over rounds for each tree and the ratio NEW / OLD (time: > 1 is slower).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SST2 = os.path.join(HERE, "..", "..", "..", "shared", "data", "glue", "SST-2", "train.tsv")
TEXT = "The capital of France is [MASK]."

# One child program per measurement; each prints one JSON number. Names that moved
# between trees (loss_and_grads, named_parameters) are looked up where each tree has them.
PRELUDE = """
import json, time, statistics
import numpy as np
from albert_np.config import AlbertConfig
from albert_np.modeling import AlbertModel, AlbertForSequenceClassification
def median_time(fn, n, warm):
    for _ in range(warm):
        fn()
    times = []
    for _ in range(n):
        t = time.perf_counter(); fn(); times.append(time.perf_counter() - t)
    return statistics.median(times)
cfg = AlbertConfig.from_dict(dict(vocab_size=30000, embedding_size=128, hidden_size=768,
    num_attention_heads=12, intermediate_size=3072, num_hidden_layers=12))
rng = np.random.default_rng(0)
"""
FORWARD = PRELUDE + """
model = AlbertModel(cfg, seed=0)
ids = rng.integers(5, 30000, size=({B}, 128))
print(json.dumps(median_time(lambda: model(input_ids=ids), {n}, 2)))
"""
TRAIN_STEP = PRELUDE + """
try:
    from albert_np.step import loss_and_grads
    from albert_np.params import named_parameters
except ImportError:
    from albert_np.backprop import loss_and_grads, named_parameters
from albert_np.training.optim import AdamW
cfg.num_labels = 2
model = AlbertForSequenceClassification(cfg, seed=0)
opt = AdamW(named_parameters(model.params), lr=1e-5)
ids = rng.integers(5, 30000, size=(8, 128))
labels = {"labels": rng.integers(0, 2, size=8)}
def step():
    _, _, grads = loss_and_grads(model.params, cfg, "sequence", {"input_ids": ids}, labels)
    opt.step(grads)
print(json.dumps(median_time(step, 3, 1)))
"""
TOKENIZER = """
import json, time
from albert_np.tokenization import AlbertTokenizerFast
tok = AlbertTokenizerFast.from_pretrained({fixture!r})
with open({sst2!r}, encoding="utf-8") as f:
    lines = [line.split("\\t")[0] for line in f][1:20001]
best = 1e9
for _ in range(3):
    t = time.perf_counter(); tok(lines); best = min(best, time.perf_counter() - t)
print(json.dumps(len(lines) / best))
"""
COLDSTART = """
import json, subprocess, sys, time, statistics
times = []
for _ in range(3):
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import albert_np; albert_np.fill_mask({text!r})"], check=True,
                   capture_output=True)
    times.append(time.perf_counter() - t)
print(json.dumps(statistics.median(times)))
"""


def measure(tree, program):
    env = dict(os.environ, PYTHONPATH=os.path.abspath(tree), HF_HUB_OFFLINE="1")
    done = subprocess.run([sys.executable, "-c", program], env=env, cwd="/", capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"measurement failed in {tree}:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("old")
    p.add_argument("new")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--only", default=None,
                   help="comma-separated words; measure only the rows whose name contains one (e.g. tokenizer,cold)")
    a = p.parse_args()
    fixture = os.path.join(os.path.abspath(a.new), "tests", "fixtures", "tokenizer")
    rows = [("forward 1x128 (s)", FORWARD.format(B=1, n=10), "time"),
            ("forward 8x128 (s)", FORWARD.format(B=8, n=5), "time"),
            ("train step 8x128 (s)", TRAIN_STEP, "time"),
            ("cold start fill_mask (s)", COLDSTART.format(text=TEXT), "time"),
            ("tokenizer (lines/s)", TOKENIZER.format(fixture=fixture, sst2=os.path.abspath(SST2)), "rate")]
    if a.only:
        words = [w.strip() for w in a.only.split(",") if w.strip()]
        rows = [r for r in rows if any(w in r[0] for w in words)]
        if not rows:
            raise SystemExit(f"--only {a.only!r} matches no measurement")
    print(f"old: {a.old}\nnew: {a.new}\n{a.rounds} rounds, trees alternating\n")
    print(f"{'measure':28s} {'old':>10s} {'new':>10s} {'new/old':>8s}")
    for name, program, kind in rows:
        values = {"old": [], "new": []}
        for _ in range(a.rounds):
            for side in ("old", "new"):
                values[side].append(measure(getattr(a, side), program))
                time.sleep(1)                      # let BLAS threads go idle between trees
        old, new = statistics.median(values["old"]), statistics.median(values["new"])
        print(f"{name:28s} {old:10.4g} {new:10.4g} {new / old:8.3f}", flush=True)


if __name__ == "__main__":
    main()
