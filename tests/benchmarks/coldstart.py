"""Cold start, side by side: a fresh Python process that imports the library and fills one mask.

    python tests/benchmarks/coldstart.py [--repeats 5] [--vocab 30000] [--profile]

Both sides run, alternately, in new processes on the same ALBERT-base-sized
folder (albert-base-v2 config, random weights, saved by albert_np):

    albert_np:     python -c "import albert_np; albert_np.fill_mask(TEXT, model=FOLDER)"
    transformers:  python -c "from transformers import pipeline; pipeline('fill-mask', model=FOLDER)(TEXT)"

The folder is made once and kept (default ~/.cache/albert_np/bench_coldstart/): a
SentencePiece vocabulary of --vocab pieces trained on ../shared/data text with
train_tokenizer (about a minute for 30,000 pieces; with --vocab fixture the
1,000-piece test vocabulary is used instead, and vocab_size follows it), and an
AlbertForMaskedLM of the albert-base-v2 preset. One untimed run of each side
warms the file cache. Prints the median and best wall times and the ratio
(goals: albert_np <= 0.5 s and >= 5x faster). --threads 1 pins both sides to
one BLAS / OpenMP thread: on a busy machine OpenBLAS threads that wait for each
other can cost seconds on the small matrices of one short sentence. --profile adds where albert_np's
time goes: `-X importtime` (slowest imports) and cProfile (slowest calls).
transformers is only ever imported by the child process that times it.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

TEXT = "Plants create [MASK] through a process known as photosynthesis."
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))          # the repository
SHARED_TEXT = os.path.join(REPO, "..", "shared", "data", "pretrain", "enwiki_2015_part1_of_2.txt.xz")
FIXTURE_SPIECE = os.path.join(REPO, "tests", "fixtures", "tokenizer", "spiece.model")
DEFAULT_FOLDER = os.path.join(os.path.expanduser("~"), ".cache", "albert_np", "bench_coldstart")

OURS = ("import albert_np\n"
        "albert_np.fill_mask({text!r}, model={folder!r})\n")
THEIRS = ("from transformers import pipeline\n"
          "pipeline('fill-mask', model={folder!r})({text!r})\n")


def make_folder(folder, vocab):
    """An albert-base-v2-shaped AlbertForMaskedLM (random weights) + tokenizer in `folder`, made once."""
    from albert_np.config import AlbertConfig
    from albert_np.modeling import AlbertForMaskedLM
    from albert_np.tokenization import AlbertTokenizerFast, train_tokenizer
    if os.path.exists(os.path.join(folder, "model.safetensors")):
        return folder
    os.makedirs(folder, exist_ok=True)
    if vocab == "fixture":
        spiece = FIXTURE_SPIECE
        if not os.path.exists(spiece):
            raise FileNotFoundError(f"{spiece} not found: --vocab fixture needs a repository checkout")
    else:
        if not os.path.exists(SHARED_TEXT):
            raise FileNotFoundError(f"{SHARED_TEXT} not found: train the vocabulary elsewhere, or use "
                                    f"--vocab fixture")
        print(f"training a {vocab}-piece SentencePiece vocabulary (once)...", flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            spiece = train_tokenizer(SHARED_TEXT, int(vocab), os.path.join(tmp, "spiece"),
                                     max_chars_per_file=30_000_000, input_sentence_size=300_000, seed=0)
            shutil.copy(spiece, os.path.join(folder, "bench.model"))
        spiece = os.path.join(folder, "bench.model")
    tokenizer = AlbertTokenizerFast(spiece)
    tokenizer.save_pretrained(folder)
    config = AlbertConfig.from_preset("albert-base-v2", vocab_size=tokenizer.vocab_size)
    AlbertForMaskedLM(config, seed=0).save_pretrained(folder)
    return folder


def wall_time(code, env):
    """Seconds for a fresh `python -c code`, start to exit."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"the timed process failed:\n{code}\n{done.stderr[-2000:]}")
    return seconds


def transformers_available():
    return subprocess.run([sys.executable, "-c", "import transformers, torch"], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode == 0


def profile(code, env, top=15):
    """Print the slowest imports (-X importtime) and the slowest calls (cProfile) of `code`."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", code], env=env, capture_output=True,
                          text=True)
    rows = []
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and "|" in line and "self [us]" not in line:
            _, cumulative, name = line[len("import time:"):].split("|")
            rows.append((int(cumulative), name.rstrip()))
    print("\nslowest imports (cumulative, -X importtime):")
    for us, name in sorted(rows, reverse=True)[:top]:
        print(f"  {us / 1e6:7.3f} s  {name}")
    with tempfile.TemporaryDirectory() as tmp:
        script, out = os.path.join(tmp, "coldstart.py"), os.path.join(tmp, "prof")
        with open(script, "w", encoding="utf-8") as f:
            f.write(code)
        subprocess.run([sys.executable, "-m", "cProfile", "-o", out, script], env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import pstats
        print("\nslowest calls (cumulative, cProfile):")
        pstats.Stats(out).sort_stats("cumulative").print_stats(top)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=5, help="timed runs of each side (default 5)")
    ap.add_argument("--vocab", default="30000", help="pieces of the trained vocabulary, or 'fixture'")
    ap.add_argument("--folder", help=f"model folder to use or create (default under {DEFAULT_FOLDER})")
    ap.add_argument("--profile", action="store_true", help="also profile albert_np's run")
    ap.add_argument("--threads", type=int, help="BLAS / OpenMP threads of both sides (default: their own); "
                    "on a busy machine 1 avoids threads waiting for each other")
    args = ap.parse_args(argv)
    folder = args.folder or os.path.join(DEFAULT_FOLDER, f"albert-base-v2-random-{args.vocab}")
    make_folder(folder, args.vocab)
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_VERBOSITY="error", TOKENIZERS_PARALLELISM="false",
               PYTHONPATH=os.pathsep.join([REPO] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
    if args.threads:
        env.update({k: str(args.threads) for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")})
    sides = {"albert_np": OURS.format(text=TEXT, folder=folder)}
    if transformers_available():
        sides["transformers"] = THEIRS.format(text=TEXT, folder=folder)
    else:
        print("transformers / torch not installed: timing albert_np only")
    times = {name: [] for name in sides}
    for name, code in sides.items():
        wall_time(code, env)                                   # warm the file cache
    for _ in range(args.repeats):
        for name, code in sides.items():                       # alternate: same machine state
            times[name].append(wall_time(code, env))
    threads = f"{args.threads} BLAS thread(s)" if args.threads else "default threads"
    print(f"\ncold start: fresh process, import + load + one fill-mask ({folder}; {threads}; "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f})")
    for name, t in times.items():
        print(f"  {name:<13} median {statistics.median(t):6.3f} s   best {min(t):6.3f} s   ({len(t)} runs)")
    ours = statistics.median(times["albert_np"])
    verdict = [f"albert_np {'<=' if ours <= 0.5 else '>'} 0.5 s"]
    if "transformers" in times:
        ratio = statistics.median(times["transformers"]) / ours
        print(f"  ratio         transformers / albert_np = {ratio:.1f}x")
        verdict.append(f"{ratio:.1f}x {'>=' if ratio >= 5 else '<'} 5x")
    print("  goals:        " + ", ".join(verdict))
    if args.profile or ours > 0.5:
        profile(sides["albert_np"], env)
    return 0


if __name__ == "__main__":
    sys.exit(main())
