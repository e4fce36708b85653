"""Training-step benchmark: albert_np vs PyTorch autograd, same weights and batch.

    python tests/benchmarks/train_step.py [--repeats 5] [--batch 8] [--seq 128] [--profile]

One random ALBERT-base-shaped model (V=30000, E=128, H=768, A=12, F=3072, L=12,
albert-base-v2 config: only the classifier has dropout) with a 2-label sequence
classification head, one batch (default B=8, T=128, some padding). One step is
forward + backward + AdamW update: step.loss_and_grads + optim.AdamW here,
transformers' AlbertForSequenceClassification (train mode, its default "sdpa"
attention) + loss.backward() + torch.optim.AdamW there. Each side runs
--repeats steps in a block, the blocks alternate (--rounds each) with a pause
between, so that neither library's idle threads steal the cores from the
other; the medians and the ratio albert_np / torch are printed (goal: <= 1). Without torch/transformers only
albert_np is timed. --profile prints albert_np's hot spots (cProfile) instead.
torch and transformers are imported only here, as the reference.
"""
import argparse
import os
import statistics
import tempfile
import time

import numpy as np

from albert_np.step import loss_and_grads
from albert_np.params import named_parameters
from albert_np.config import AlbertConfig
from albert_np.modeling import AlbertForSequenceClassification
from albert_np.training.optim import AdamW


def make_batch(config, B, T, seed=0):
    rng = np.random.default_rng(seed)
    ids = rng.integers(5, config.vocab_size, size=(B, T))
    mask = np.ones((B, T), dtype=np.int64)
    mask[B // 2:, T * 3 // 4:] = 0                   # padding in half of the rows
    ids[mask == 0] = 0
    types = np.zeros((B, T), dtype=np.int64)
    types[:, T // 2:] = 1
    return ({"input_ids": ids, "attention_mask": mask, "token_type_ids": types},
            {"labels": rng.integers(0, config.num_labels, size=B)})


def numpy_step_fn(model, config, inputs, labels):
    params = named_parameters(model.params)
    opt = AdamW(params, lr=1e-5, weight_decay=0.01)
    rng = np.random.default_rng(0)

    def step():
        loss, _, grads = loss_and_grads(model.params, config, "sequence", inputs, labels, rng=rng, training=True)
        opt.step(grads)
        return loss
    return step


def gemm_step_fn(config, B, T, seed=0):
    """The matrix products of one albert_np training step alone, on random inputs of their shapes.

    Forward: the E -> H map; per layer the stacked Q/K/V, q k^T, probs v, the
    output dense and the two FFN products. Backward: for every linear map dx and
    dW (two products), for attention dv, dp, dq and dk. This is the floor any
    NumPy implementation of the step has on this machine's BLAS.
    """
    rng = np.random.default_rng(seed)
    E, H, F, A = config.embedding_size, config.hidden_size, config.intermediate_size, \
        config.num_attention_heads
    D, N = H // A, B * T

    def r(*shape):
        return rng.standard_normal(shape).astype(np.float32)
    linears = [(r(N, E), r(H, E), r(N, H))] + [
        (r(N, i), r(o, i), r(N, o)) for _ in range(config.num_hidden_layers)
        for i, o in ((H, 3 * H), (H, H), (H, F), (F, H))]                 # x, W, dy
    q, k, v, p = r(B, A, T, D), r(B, A, T, D), r(B, A, T, D), r(B, A, T, T)

    def step():
        for x, w, dy in linears:
            x @ w.T                        # forward
            dy @ w                         # dx
            dy.T @ x                       # dW
        for _ in range(config.num_hidden_layers):
            q @ k.transpose(0, 1, 3, 2)    # forward scores
            p @ v                          # forward context
            p.transpose(0, 1, 3, 2) @ v    # dv
            v @ v.transpose(0, 1, 3, 2)    # dp = dctx v^T
            p @ k                          # dq
            p.transpose(0, 1, 3, 2) @ q    # dk
    return step


def torch_step_fn(model, inputs, labels, threads=None, attn="sdpa"):
    """The same step in PyTorch, or None (with a message) when torch is absent."""
    try:
        import torch
        import transformers
    except ImportError:
        print("torch/transformers not installed: timing albert_np only "
              "(pip install -e .[parity] for the side-by-side run)")
        return None
    if threads:
        torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory() as d:
        model.save_pretrained(d)
        hf = transformers.AlbertForSequenceClassification.from_pretrained(d, attn_implementation=attn).train()
    no_decay = [p for n, p in hf.named_parameters() if n.endswith("bias") or "LayerNorm" in n or "layer_norm" in n]
    decay = [p for n, p in hf.named_parameters() if not any(p is q for q in no_decay)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01},
                             {"params": no_decay, "weight_decay": 0.0}], lr=1e-5)
    t_inputs = {k: torch.tensor(v) for k, v in inputs.items()}
    t_labels = torch.tensor(labels["labels"])
    print(f"torch {torch.__version__} ({torch.get_num_threads()} threads, attention {attn!r}), "
          f"transformers {transformers.__version__}")

    def step():
        opt.zero_grad(set_to_none=True)
        loss = hf(**t_inputs, labels=t_labels).loss
        loss.backward()
        opt.step()
        return float(loss.detach())
    return step


def profile(step, top=25):
    import cProfile
    import pstats
    step()
    pr = cProfile.Profile()
    pr.enable()
    step()
    pr.disable()
    pstats.Stats(pr).sort_stats("tottime").print_stats(top)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=3, help="steps per block")
    ap.add_argument("--rounds", type=int, default=2, help="blocks per library, alternating")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own)")
    ap.add_argument("--attn", default="sdpa", choices=["sdpa", "eager"], help="transformers attention")
    ap.add_argument("--profile", action="store_true", help="cProfile albert_np's step and exit")
    args = ap.parse_args(argv)

    config = AlbertConfig.from_preset("albert-base-v2", num_labels=2)
    model = AlbertForSequenceClassification(config, seed=0)
    inputs, labels = make_batch(config, args.batch, args.seq)
    ours = numpy_step_fn(model, config, inputs, labels)
    if args.profile:
        profile(ours)
        return
    theirs = torch_step_fn(model, inputs, labels, args.threads, args.attn)   # copies the weights first
    print(f"numpy {np.__version__}, cores {os.cpu_count()}; model: albert-base-v2 shape, "
          f"{model.num_parameters():,} parameters, random weights, fp32; "
          f"batch {args.batch} x {args.seq}, sequence classification, forward + backward + AdamW")
    first = [ours()] + ([theirs()] if theirs else [])  # warm-up, and the losses agree
    if theirs:
        print(f"first-step loss: albert_np {first[0]:.6f}, torch {first[1]:.6f} "
              f"(close, not equal: each side draws its own classifier-dropout mask)")
    def block(fn):                         # one library at a time (see forward.py), then a pause
        times = []
        for _ in range(args.repeats):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        time.sleep(1.0)
        return times
    gemm = gemm_step_fn(config, args.batch, args.seq)
    gemm()
    t_ours, t_torch, t_gemm = [], [], []
    for _ in range(args.rounds):           # blocks alternate: OURS THEIRS GEMM OURS THEIRS GEMM ...
        t_ours += block(ours)
        if theirs:
            t_torch += block(theirs)
        t_gemm += block(gemm)
    m_ours = statistics.median(t_ours)
    print(f"albert_np step: median {m_ours:.3f} s, min {min(t_ours):.3f} s  "
          f"(all: {', '.join(f'{x:.3f}' for x in t_ours)})")
    m_gemm = statistics.median(t_gemm)
    print(f"GEMMs alone:    median {m_gemm:.3f} s, min {min(t_gemm):.3f} s  (the same products as one "
          f"albert_np step, nothing else: ratio albert_np / GEMMs {m_ours / m_gemm:.2f})")
    if theirs:
        m_torch = statistics.median(t_torch)
        print(f"torch step:     median {m_torch:.3f} s, min {min(t_torch):.3f} s  "
              f"(all: {', '.join(f'{x:.3f}' for x in t_torch)})")
        print(f"GEMMs alone / torch step: {m_gemm / m_torch:.2f} (above 1: NumPy's products alone "
              f"take longer than torch's whole step)")
        print(f"ratio albert_np / torch: {m_ours / m_torch:.2f} (medians), "
              f"{min(t_ours) / min(t_torch):.2f} (minima; the steadier figure on a busy machine)  (goal <= 1)")


if __name__ == "__main__":
    main()
