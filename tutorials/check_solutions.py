"""Run every exercise solution in tutorials/README.md and compare what it prints with the README.

Each chapter ends with a Markdown cell "## Exercises": a numbered list, each item opening with
its difficulty (★ to ★★★). tutorials/README.md repeats that list word for word under the
chapter's "**Exercises**", each item followed by its solution in a collapsed block;
`exercise_lists` reads both and the tests compare them.

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


DETAILS = re.compile(r"<details>.*?</details>", re.S)
ITEM = re.compile(r"^(\d+)\. ", re.M)
DIFFICULTY = re.compile(r"★{1,3}(?!★) ")


def list_items(markdown):
    """The items of the numbered list in `markdown` ("1. ...", at the start of a line), each as one
    line of text with its whitespace collapsed; whatever precedes the first item is ignored."""
    starts = list(ITEM.finditer(markdown))
    ends = [m.start() for m in starts[1:]] + [len(markdown)]
    return [" ".join(markdown[m.end():end].split()) for m, end in zip(starts, ends)]


def chapter_exercises(script):
    """The exercise list of a chapter script (jupytext percent format): the items of its
    "## Exercises" Markdown cell, without the comment marks. [] when the chapter has none."""
    cells = re.split(r"^# %%.*$", script, flags=re.M)
    for cell in cells:
        lines = [line[2:] if line.startswith("# ") else line.lstrip("#") for line in cell.strip().splitlines()]
        if lines and lines[0].strip() == "## Exercises":
            return list_items("\n".join(lines[1:]))
    return []


def readme_exercises(text):
    """{chapter number "NN": (items, details)} from tutorials/README.md: under each "### NN." section,
    the numbered list after "**Exercises**" with the <details> blocks cut out of the items, and
    for each item the text of its <details> blocks (the solutions)."""
    found = {}
    for section in re.split(r"^(?=### \d\d\. )", text, flags=re.M)[1:]:
        number = section[4:6]
        body = section.split("**Exercises**", 1)
        if len(body) < 2:
            found[number] = ([], [])
            continue
        starts = list(ITEM.finditer(body[1]))
        ends = [m.start() for m in starts[1:]] + [len(body[1])]
        raw = [body[1][m.start():end] for m, end in zip(starts, ends)]
        found[number] = (list_items("".join(DETAILS.sub(" ", r) for r in raw)),
                         ["\n".join(DETAILS.findall(r)) for r in raw])
    return found


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
