"""Run every exercise solution in tutorials/README.md and compare what it prints with the README.

    python tutorials/check_solutions.py            # exit 1 and show the differences if any output is stale
    python tutorials/check_solutions.py --update   # rewrite the "It prints:" blocks with the real output
    python tutorials/check_solutions.py --only 3   # just the third solution (1-based, in file order)

A solution is a ```python block inside a <details><summary>Solution</summary> block,
followed by "It prints:" and a ```text block: the output the code gave on the bundled
albert-tiny-en. Each runs as its own process from the repository root (as a reader would
paste it), with one BLAS thread and HF_HUB_OFFLINE=1. Outputs that depend on the model
go stale when the bundled model changes: run --update then, and read the prose after
each block again (it may quote the numbers).
"""
import argparse
import difflib
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
README = os.path.join(HERE, "README.md")

# ```python ... ``` , "It prints:", ```text ... ```, all indented alike (inside a list item).
SOLUTION = re.compile(
    r"^(?P<indent>[ ]*)```python\n(?P<code>.*?)^(?P=indent)```\n\s*^(?P=indent)It prints:\n\s*"
    r"^(?P=indent)```text\n(?P<out>.*?)^(?P=indent)```$", re.S | re.M)


def dedent(block, indent):
    """The lines of a Markdown block without the list item's indent."""
    return "".join(line[len(indent):] if line.startswith(indent) else line.lstrip(" ")
                   for line in block.splitlines(keepends=True))


def solutions(text):
    """[(match, code, printed)] for each solution of the README text, in order."""
    return [(m, dedent(m["code"], m["indent"]), dedent(m["out"], m["indent"])) for m in SOLUTION.finditer(text)]


def run(code, timeout=600):
    """What `code` prints (stdout) when run as a script from the repository root; raises on failure."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", HF_HUB_OFFLINE="1", MPLBACKEND="Agg",
               PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(code)
    try:
        done = subprocess.run([sys.executable, f.name], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=timeout)
    finally:
        os.unlink(f.name)
    if done.returncode != 0:
        raise RuntimeError(f"the solution failed (exit {done.returncode}):\n{done.stderr[-2000:]}")
    return done.stdout


def replace_output(text, match, output):
    """text with the match's ```text block holding `output` (indented as the block was)."""
    indent = match["indent"]
    body = "".join(indent + line if line.strip() else line for line in output.splitlines(keepends=True))
    if body and not body.endswith("\n"):
        body += "\n"
    return text[:match.start("out")] + body + text[match.end("out"):]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--update", action="store_true", help="write the real outputs into the README")
    p.add_argument("--only", type=int, nargs="*", help="1-based numbers of the solutions to run")
    args = p.parse_args(argv)
    with open(README, encoding="utf-8") as f:
        text = f.read()
    found = solutions(text)
    stale = []
    for i in reversed(range(len(found))):           # back to front: replacing keeps earlier offsets valid
        if args.only and i + 1 not in args.only:
            continue
        match, code, printed = found[i]
        line = text.count("\n", 0, match.start()) + 1
        real = run(code)
        if real == printed:
            print(f"solution {i + 1} (README line {line}): output as shown")
            continue
        stale.append(i + 1)
        print(f"solution {i + 1} (README line {line}): output differs")
        sys.stdout.writelines(difflib.unified_diff(printed.splitlines(True), real.splitlines(True),
                                                   "README", "now", n=1))
        text = replace_output(text, match, real)
    if args.update and stale:
        tmp = README + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, README)
        print(f"updated {len(stale)} output block(s): {sorted(stale)}; reread the prose after each")
        return 0
    print(f"{len(found)} solutions, {len(stale)} with stale output" + (f": {sorted(stale)}" if stale else ""))
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
