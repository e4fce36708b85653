"""Forward-pass benchmark: albert_np vs HF transformers (fp32), same weights and inputs.

    python tests/benchmarks/forward.py [--repeats 10] [--threads N]

Builds one random ALBERT-base-shaped model (albert-base-v2 config), saves it,
loads it in both libraries, and times the forward pass of AlbertModel at
batch 1 / seq 128 and batch 8 / seq 128, interleaving the two libraries so
that both see the same machine state. Prints medians and the ratio
albert_np / HF (goal: <= 1.1). transformers and torch are needed only here,
as the reference; without them only albert_np's times are printed.
"""
import argparse
import os
import statistics
import tempfile
import time

import numpy as np

from albert_np.config import AlbertConfig
from albert_np.modeling import AlbertModel


def median_time(fn, repeats):
    fn()                                   # warm-up (allocations, BLAS threads)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own)")
    ap.add_argument("--shapes", default="1x128,8x128", help="batch x seq, comma separated")
    args = ap.parse_args(argv)

    config = AlbertConfig.from_preset("albert-base-v2")
    ours = AlbertModel(config, seed=0)
    try:
        import torch
        import transformers
    except ImportError:
        torch = None
        print("torch/transformers not installed: timing albert_np only "
              "(pip install -e .[parity] for the side-by-side run)")
    hf = None
    if torch is not None:
        if args.threads:
            torch.set_num_threads(args.threads)
        with tempfile.TemporaryDirectory() as d:
            ours.save_pretrained(d)
            hf = transformers.AlbertModel.from_pretrained(d, attn_implementation="sdpa").eval()
        print(f"torch {torch.__version__} ({torch.get_num_threads()} threads), "
              f"transformers {transformers.__version__}, numpy {np.__version__}, "
              f"cores {os.cpu_count()}")
    print(f"model: albert-base-v2 shape, {ours.num_parameters():,} parameters, random weights, fp32")
    print(f"{'batch x seq':>12} {'albert_np (s)':>14} {'HF fp32 (s)':>12} {'ratio':>7}")
    rng = np.random.default_rng(0)
    for shape in args.shapes.split(","):
        B, T = (int(v) for v in shape.split("x"))
        ids = rng.integers(5, config.vocab_size, size=(B, T))
        mask = np.ones((B, T), dtype=np.int64)
        mask[B // 2:, T * 3 // 4:] = 0 if B > 1 else 1     # some padding in larger batches
        t_ours = median_time(lambda: ours(input_ids=ids, attention_mask=mask), args.repeats)
        if hf is not None:
            tids, tmask = torch.tensor(ids), torch.tensor(mask)

            def run_hf():
                with torch.inference_mode():
                    hf(input_ids=tids, attention_mask=tmask)
            t_hf = median_time(run_hf, args.repeats)
            # check, once, that both computed the same thing
            with torch.inference_mode():
                ref = hf(input_ids=tids, attention_mask=tmask).last_hidden_state.numpy()
            err = float(np.abs(ours(input_ids=ids, attention_mask=mask).last_hidden_state - ref).max())
            print(f"{shape:>12} {t_ours:14.4f} {t_hf:12.4f} {t_ours / t_hf:7.2f}   (max |diff| {err:.1e})")
        else:
            print(f"{shape:>12} {t_ours:14.4f} {'-':>12} {'-':>7}")


if __name__ == "__main__":
    main()
