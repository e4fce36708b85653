"""Pretraining throughput: one process with BLAS threads vs data-parallel workers.

    python tests/benchmarks/pretrain_throughput.py [--steps 30] [--skip 5] [--threads 2] [--workers 2]

The bundled model's shape (V=16000, E=128, H=256, L=6, 4 heads, F=1024),
random weights, batch 64 x 128, LAMB, the real data pipeline on
../shared/data/pretrain (the batches are the same in both runs). Each setting runs
in its own process (BLAS reads its thread count at start-up), one after the
other:

    threads   one process, OPENBLAS_NUM_THREADS=--threads
    workers   --workers single-threaded worker processes (albert_np/parallel.py)

After --skip warm-up steps it prints tokens per second of wall time and tokens
per CPU-second (all threads and processes, as the trainer counts them), and the
ratios workers / threads.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def child(args):
    """Run --steps pretraining steps and print the log entries as JSON lines."""
    sys.path.insert(0, ROOT)
    from albert_np import pretraining as pt
    from albert_np.config import AlbertConfig
    from albert_np.modeling import AlbertForPreTraining
    from albert_np.tokenization import AlbertTokenizerFast
    tok = AlbertTokenizerFast.from_pretrained(os.path.join(ROOT, "albert_np", "pretrained", "albert-tiny-en"))
    cfg = AlbertConfig(vocab_size=tok.vocab_size, embedding_size=128, hidden_size=256, num_hidden_layers=6,
                       num_attention_heads=4, intermediate_size=1024, hidden_dropout_prob=0.0,
                       attention_probs_dropout_prob=0.0)
    model = AlbertForPreTraining(cfg, seed=0)
    targs = pt.PretrainArgs(steps=args.steps, batch_size=64, lr=2e-3, warmup_steps=10, eval_every=10**9,
                            save_every=10**9, workers=args.child_workers, progress=False)
    with tempfile.TemporaryDirectory() as out:
        trainer = pt.make_trainer(model, tok, lambda: pt.corpus_documents(args.data_dir), out, targs)
        for e in trainer.train():
            print(json.dumps(e), flush=True)


def measure(setting, threads, workers, args):
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads))
    cmd = [sys.executable, os.path.abspath(__file__), "--child-workers", str(workers), "--steps", str(args.steps),
           "--data-dir", args.data_dir]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    log = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    a, b = log[args.skip - 1], log[-1]
    tokens_per_step = 64 * 128
    wall = (b["step"] * 64 / b["examples_per_second"]           # seconds spent in steps 1..b
            - a["step"] * 64 / a["examples_per_second"])
    cpu = b["cpu_seconds"] - a["cpu_seconds"]
    tokens = (b["step"] - a["step"]) * tokens_per_step
    print(f"{setting:8s} {threads} BLAS thread(s) x {workers} process(es): {tokens / wall:7.0f} tokens/s, "
          f"{tokens / cpu:7.0f} tokens per CPU-second, {cpu / (b['step'] - a['step']):.2f} CPU-s/step, "
          f"loss at step {b['step']} {b['loss']:.4f}", flush=True)
    return tokens / wall, tokens / cpu


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--skip", type=int, default=5, help="warm-up steps left out of the timing")
    p.add_argument("--threads", type=int, default=2, help="BLAS threads of the one-process setting")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--data-dir", default=os.path.join(ROOT, "..", "shared", "data"))
    p.add_argument("--child-workers", type=int, default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child_workers is not None:
        return child(args)
    if not 1 <= args.skip < args.steps:
        p.error(f"--skip must be in [1, --steps), got {args.skip}")
    print(f"pretraining steps {args.skip + 1}-{args.steps}, batch 64 x 128, albert-tiny-en shape, random init")
    t_speed, t_eff = measure("threads", args.threads, 1, args)
    w_speed, w_eff = measure("workers", 1, args.workers, args)
    print(f"ratio workers / threads: {w_speed / t_speed:.2f}x tokens/s, {w_eff / t_eff:.2f}x tokens per CPU-second")


if __name__ == "__main__":
    main()
