"""Forward-pass benchmark: albert_np against HF eager, HF SDPA, ONNX Runtime and its own GEMMs.

    python tests/benchmarks/forward.py [--shapes 1x128,8x128,32x128,1x512] [--repeats 10]
                                       [--interleave]

One random ALBERT-base-shaped model (the albert-base-v2 config), saved once and
loaded by every library; no padding; AlbertModel's last_hidden_state.

Each library is timed in a block (a warm-up, then `repeats` calls, the median),
with a pause between blocks so that the other libraries' thread pools are idle:
PyTorch's OpenMP workers spin for a while after each call and would steal the
cores from NumPy's OpenBLAS threads. `--interleave` times call by call instead
(one albert_np call, one HF call, ...), the way an earlier version of this
script did: there the two libraries' threads fight, which is why it once
reported albert_np at 0.96x HF and a block measurement 1.27x.

"GEMM alone" runs the matrix products of albert_np's forward and nothing else,
on inputs of the same shapes (the E -> H map, per layer the fused Q/K/V
product, scores, context, output dense and the two FFN products): the floor
for any NumPy implementation. ONNX Runtime runs HF's model exported with
torch.onnx; torch, transformers and onnxruntime are benchmark oracles only.
"""
import argparse
import os
import statistics
import tempfile
import time

import numpy as np

from albert_np.config import AlbertConfig
from albert_np.model import albert_model
from albert_np.modeling import AlbertModel


def block_median(fn, repeats, warmup=2):
    """Median seconds of `repeats` calls after `warmup` calls; then a pause for idle threads."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    time.sleep(0.5)
    return statistics.median(times)


def gemm_only(config, B, T, rng):
    """A function that runs the forward's matrix products alone, on random inputs."""
    E, H, F, A = config.embedding_size, config.hidden_size, config.intermediate_size, \
        config.num_attention_heads
    D, N = H // A, B * T

    def r(*shape):
        return rng.standard_normal(shape).astype(np.float32)
    x_e, w_in = r(N, E), r(H, E)
    x, w_qkv, w_o = r(N, H), r(3 * H, H), r(H, H)
    q, k, v, p = r(B, A, T, D), r(B, A, T, D), r(B, A, T, D), r(B, A, T, T)
    a, w1, h, w2 = r(N, H), r(F, H), r(N, F), r(H, F)

    def run():
        x_e @ w_in.T
        for _ in range(config.num_hidden_layers):
            x @ w_qkv.T
            q @ k.transpose(0, 1, 3, 2)
            p @ v
            x @ w_o.T
            a @ w1.T
            h @ w2.T
    return run


def onnx_session(hf, T, torch):
    """ONNX Runtime session of HF's model (exported once, dynamic batch and length), or None."""
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    path = os.path.join(tempfile.mkdtemp(), "albert.onnx")
    ids = torch.ones((1, T), dtype=torch.long)
    torch.onnx.export(hf, (ids,), path, input_names=["input_ids"], output_names=["last_hidden_state"],
                      dynamic_axes={"input_ids": {0: "batch", 1: "seq"}}, dynamo=False)
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--shapes", default="1x128,8x128,32x128,1x512", help="batch x seq, comma separated")
    ap.add_argument("--interleave", action="store_true", help="time call by call (see the docstring)")
    ap.add_argument("--no-onnx", action="store_true")
    args = ap.parse_args(argv)

    config = AlbertConfig.from_preset("albert-base-v2")
    ours = AlbertModel(config, seed=0)
    import torch
    import transformers
    with tempfile.TemporaryDirectory() as d:
        ours.save_pretrained(d)
        eager = transformers.AlbertModel.from_pretrained(d, attn_implementation="eager").eval()
        sdpa = transformers.AlbertModel.from_pretrained(d, attn_implementation="sdpa").eval()
    session = None if args.no_onnx else onnx_session(eager, 128, torch)
    print(f"numpy {np.__version__}, torch {torch.__version__} ({torch.get_num_threads()} threads), "
          f"transformers {transformers.__version__}, onnxruntime "
          f"{__import__('onnxruntime').__version__ if session else '-'}, {os.cpu_count()} cores")
    print(f"model: albert-base-v2 shape, {ours.num_parameters():,} parameters, random weights, fp32, "
          f"no padding; median of {args.repeats} "
          f"{'interleaved calls' if args.interleave else 'calls, each library in its own block'}")
    cols = ("albert_np", "HF eager", "HF SDPA", "ORT", "GEMM alone")
    print(f"{'shape':>7} " + " ".join(f"{c:>10}" for c in cols) + f" {'np/HF best':>10} {'np/GEMM':>8}")
    rng = np.random.default_rng(0)
    for shape in args.shapes.split(","):
        B, T = (int(v) for v in shape.split("x"))
        ids = rng.integers(5, config.vocab_size, size=(B, T))
        tids = torch.tensor(ids)

        def run_ours():
            return albert_model(ours.params, config, input_ids=ids)["last_hidden_state"]

        def hf_runner(model):
            def run():
                with torch.inference_mode():
                    return model(input_ids=tids).last_hidden_state
            return run
        runners = {"albert_np": run_ours, "HF eager": hf_runner(eager), "HF SDPA": hf_runner(sdpa),
                   "GEMM alone": gemm_only(config, B, T, rng)}
        if session is not None:
            runners["ORT"] = lambda: session.run(None, {"input_ids": ids})[0]
        # once: every library computes the same thing
        ref = runners["HF eager"]().numpy()
        errs = {name: float(np.abs(np.asarray(runners[name]()) - ref).max())
                for name in ("albert_np", "HF SDPA", "ORT") if name in runners}
        if args.interleave:
            times = {name: [] for name in runners}
            for _ in range(args.repeats):
                for name, fn in runners.items():
                    t = time.perf_counter()
                    fn()
                    times[name].append(time.perf_counter() - t)
            med = {name: statistics.median(v) for name, v in times.items()}
        else:
            med = {name: block_median(fn, args.repeats) for name, fn in runners.items()}
        best_hf = min(med["HF eager"], med["HF SDPA"])
        cells = " ".join(f"{med[c] * 1e3:8.1f}ms" if c in med else f"{'-':>10}" for c in cols)
        print(f"{shape:>7} {cells} {med['albert_np'] / best_hf:10.2f} "
              f"{med['albert_np'] / med['GEMM alone']:8.2f}   max |diff| vs HF eager: "
              + ", ".join(f"{k} {v:.1e}" for k, v in errs.items()))


if __name__ == "__main__":
    main()
