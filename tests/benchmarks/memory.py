"""Peak memory of base-sized inference, against what the forward has to hold.

    python tests/benchmarks/memory.py [--shapes 1x128,32x128]

Each shape runs in a fresh process: import albert_np, run one small matrix
product (OpenBLAS allocates its fixed per-thread work buffers, tens of MiB, on
the first one), note the resident set (the interpreter, NumPy and BLAS, the
package), load an ALBERT-base-shaped model saved
as safetensors (random weights), run AlbertModel's forward once, and read the
peak resident set (VmHWM). Reported: peak minus the import baseline, against
what is needed:
    parameters       every weight, float32
    activations      the most the forward must hold at once: the layer input,
                     the stacked Q/K/V, one (B, A, T, T) score array and the
                     context (attention), or the layer input, the FFN's
                     (N, F) intermediate and its output (FFN); plus the
                     (B, T, H) result. N = B * T.
Goal: peak - baseline <= 1.3 x (parameters + activations).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

CHILD = r"""
import json, sys
import numpy as np
def hwm():
    for line in open("/proc/self/status"):
        if line.startswith(("VmHWM", "VmRSS")):
            yield line.split()[0][:-1], int(line.split()[1]) * 1024
import albert_np
from albert_np.modeling import AlbertModel
a = np.ones((256, 256), np.float32)
a @ a                      # OpenBLAS allocates its per-thread work buffers on the first product
base = dict(hwm())["VmRSS"]
model = AlbertModel.from_pretrained(sys.argv[1])
loaded = dict(hwm())["VmRSS"]
B, T = int(sys.argv[2]), int(sys.argv[3])
ids = np.random.default_rng(0).integers(5, model.config.vocab_size, size=(B, T))
out = model(input_ids=ids).last_hidden_state
print(json.dumps({"base": base, "loaded": loaded, "peak": dict(hwm())["VmHWM"],
                  "params": sum(a.nbytes for a in model.state_dict().values() if a is not None)}))
"""


def needed_activations(config, B, T):
    H, F, A = config.hidden_size, config.intermediate_size, config.num_attention_heads
    N = B * T
    attention = N * H + 3 * N * H + B * A * T * T + N * H
    ffn = N * H + N * F + N * H
    return 4 * (max(attention, ffn) + N * H)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shapes", default="1x128,32x128")
    args = ap.parse_args(argv)
    import albert_np
    from albert_np.config import AlbertConfig
    from albert_np.modeling import AlbertModel
    config = AlbertConfig.from_preset("albert-base-v2")
    folder = tempfile.mkdtemp()
    AlbertModel(config, seed=0).save_pretrained(folder)
    print("ALBERT-base shape, random weights, float32 safetensors; MiB")
    print(f"{'shape':>7} {'params':>8} {'activ.':>8} {'needed':>8} {'model load':>10} {'peak-base':>10} {'ratio':>6}")
    for shape in args.shapes.split(","):
        B, T = (int(v) for v in shape.split("x"))
        env = dict(os.environ)
        tree = os.path.dirname(os.path.dirname(os.path.abspath(albert_np.__file__)))   # the same albert_np
        env["PYTHONPATH"] = os.pathsep.join([tree, env.get("PYTHONPATH", "")])
        r = json.loads(subprocess.run([sys.executable, "-c", CHILD, folder, str(B), str(T)], env=env,
                                      cwd=folder, capture_output=True, text=True, check=True).stdout)
        act = needed_activations(config, B, T)
        needed = r["params"] + act
        used = r["peak"] - r["base"]
        mib = 1 / 2 ** 20
        print(f"{shape:>7} {r['params'] * mib:8.1f} {act * mib:8.1f} {needed * mib:8.1f} "
              f"{(r['loaded'] - r['base']) * mib:10.1f} {used * mib:10.1f} {used / needed:6.2f}")


if __name__ == "__main__":
    main()
