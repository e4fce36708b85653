"""Pretraining throughput: one process with 1 and 2 BLAS threads vs `mpiexec -n 2` (MPI ranks).

    python tests/benchmarks/pretrain_throughput.py [--steps 30] [--skip 5] [--ranks 2]

The bundled model's shape (V=16000, E=128, H=256, L=6, 4 heads, F=1024),
random weights, batch 64 x 128 (the global batch), LAMB, the real data pipeline
on ../shared/data/pretrain (the batches are the same in every run). Each setting
runs in its own processes (BLAS reads its thread count at start-up), one after
the other:

    threads   one process, OPENBLAS_NUM_THREADS=1 and 2
    mpi       mpiexec -n --ranks single-threaded ranks (albert_np/training/distributed.py; needs mpi4py)

After --skip warm-up steps it prints tokens per second of wall time, tokens per
CPU-second (all threads of all ranks, as the trainer counts them), and for MPI
the time a step spends in its Allreduce (waiting for the slower rank included),
and the time of the bare Allreduce of the gradient buffer (ranks in step, after
a Barrier).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BATCH, SEQ = 64, 128


def child(args):
    """Run --steps pretraining steps; rank 0 prints the log entries and the Allreduce times as JSON lines."""
    sys.path.insert(0, ROOT)
    import numpy as np
    from albert_np.training import pretraining as pt
    from albert_np.config import AlbertConfig
    from albert_np.training.distributed import world
    from albert_np.modeling import AlbertForPreTraining
    from albert_np.tokenization import AlbertTokenizerFast
    tok = AlbertTokenizerFast.from_pretrained(os.path.join(ROOT, "albert_np", "pretrained", "albert-tiny-en"))
    cfg = AlbertConfig(vocab_size=tok.vocab_size, embedding_size=128, hidden_size=256, num_hidden_layers=6,
                       num_attention_heads=4, intermediate_size=1024, hidden_dropout_prob=0.0,
                       attention_probs_dropout_prob=0.0)
    model = AlbertForPreTraining(cfg, seed=0)
    targs = pt.PretrainSettings(max_steps=args.steps, batch_size=BATCH, max_seq_length=SEQ, learning_rate=2e-3,
                                warmup=10, eval_every=10**9, save_every=10**9, progress=False)
    W = world()
    out = tempfile.mkdtemp() if W.is_main else None
    out = W.bcast(out)
    try:
        trainer = pt.make_trainer(model, tok, lambda: pt.corpus_documents(args.data_dir), out, targs)
        log = trainer.train()
        bare = []
        for _ in range(10):                     # the bare collective: every rank arrives together
            if W.comm is not None:
                W.comm.Barrier()
            t0 = time.perf_counter()
            W.allreduce_sum_(trainer._flat)
            bare.append(time.perf_counter() - t0)
        if W.is_main:
            for e in log:
                print(json.dumps(e), flush=True)
            print(json.dumps({"type": "allreduce", "step_ms": 1e3 * trainer.allreduce_seconds / args.steps,
                              "bare_ms": 1e3 * float(np.median(bare)), "bytes": trainer._flat.nbytes}), flush=True)
    finally:
        if W.is_main:
            shutil.rmtree(out, ignore_errors=True)


def measure(setting, threads, ranks, args):
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads))
    cmd = [sys.executable, os.path.abspath(__file__), "--child", "--steps", str(args.steps),
           "--data-dir", args.data_dir]
    if ranks > 1:
        mpiexec = os.path.join(os.path.dirname(sys.executable), "mpiexec")
        cmd = [mpiexec if os.path.isfile(mpiexec) else "mpiexec", "-n", str(ranks), *cmd]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    log = [e for e in lines if e["type"] == "train"]
    a, b = log[args.skip - 1], log[-1]
    wall = (b["step"] * BATCH / b["examples_per_second"]        # seconds spent in steps 1..b
            - a["step"] * BATCH / a["examples_per_second"])
    cpu = b["cpu_seconds"] - a["cpu_seconds"]
    steps = b["step"] - a["step"]
    tokens = steps * BATCH * SEQ
    extra = ""
    for e in lines:
        if e["type"] == "allreduce" and ranks > 1:
            extra = (f", Allreduce {e['step_ms']:.1f} ms/step (bare {e['bare_ms']:.1f} ms for "
                     f"{e['bytes'] / 1e6:.1f} MB)")
    print(f"{setting:8s} {threads} BLAS thread(s) x {ranks} process(es): {tokens / wall:7.0f} tokens/s, "
          f"{tokens / cpu:7.0f} tokens per CPU-second, {wall / steps:.2f} s/step, {cpu / steps:.2f} CPU-s/step, "
          f"loss at step {b['step']} {b['loss']:.4f}{extra}", flush=True)
    return tokens / wall, tokens / cpu


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--skip", type=int, default=5, help="warm-up steps left out of the timing")
    p.add_argument("--ranks", type=int, default=2, help="MPI ranks of the mpiexec setting")
    p.add_argument("--data-dir", default=os.path.join(ROOT, "..", "shared", "data"))
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        return child(args)
    if not 1 <= args.skip < args.steps:
        p.error(f"--skip must be in [1, --steps), got {args.skip}")
    print(f"pretraining steps {args.skip + 1}-{args.steps}, batch {BATCH} x {SEQ}, albert-tiny-en shape, random init")
    one = measure("threads", 1, 1, args)
    two = measure("threads", 2, 1, args)
    mpi = measure("mpi", 1, args.ranks, args)
    print(f"ratio mpi / 2 threads: {mpi[0] / two[0]:.2f}x tokens/s, {mpi[1] / two[1]:.2f}x tokens per CPU-second; "
          f"mpi / 1 thread: {mpi[0] / one[0]:.2f}x tokens/s")


if __name__ == "__main__":
    main()
