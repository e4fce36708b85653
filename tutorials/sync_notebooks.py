"""Write each chapter's .ipynb from its .py, executed, with its outputs (the .py is the source).

After editing a chapter, or after the bundled model changes, run from the repository root:

    OPENBLAS_NUM_THREADS=1 python tutorials/sync_notebooks.py --execute --table

That runs every chapter as a script and as a notebook, rewrites every NN_*.ipynb with
its outputs and the chapter table in tutorials/README.md (a few minutes; it needs the
`tutorials` extra: matplotlib, nbclient, nbformat, ipykernel). Other uses:

    python tutorials/sync_notebooks.py --execute 05 08   # only these chapters
    python tutorials/sync_notebooks.py --table           # only the README table, from the notebooks
    python tutorials/sync_notebooks.py --check           # exit 1 if a notebook or the table is stale

Cells: `# %%` starts a code cell, `# %% [markdown]` a Markdown cell whose lines
drop their leading "# ". Anything before the first marker is not part of the notebook.

--execute, for each chapter: runs the script once (`python NN_name.py` from the
repository root, pictures drawn off-screen) and times it; builds the notebook from
the script and runs its cells in a fresh `python3` kernel of this interpreter, in
tutorials/, and times that (kernel start-up not included). Both runs use this
checkout's albert_np, the bundled model (ALBERT_NP_MODEL is ignored), one BLAS
thread and PYTHONHASHSEED=0. It stores the outputs and, in the notebook's
metadata under "albert_np":

    script_sha256     sha256 of the .py the notebook was built and run from
    model_sha256      sha256 of the bundled albert_np/pretrained/albert-tiny-en/model.safetensors
    seconds_script    wall seconds of the script run
    seconds_notebook  wall seconds of running the notebook's cells
    checks            calls of tutorial_utils.check (by hand == library) that ran in the notebook
    asserts           `assert` statements in the chapter's code (counted in the source, not per run)
    pictures          image outputs in the notebook

Outputs are tidied so that re-running changes little beyond the timings:
consecutive prints are one stream output; figures are PNGs at FIGURE_DPI and
tqdm's warning about missing ipywidgets is silenced (both by SETUP, run before
the first cell); absolute paths under the repository's parent folder are written
relative to tutorials/ (where the notebook runs); and the random part of
temporary folder names is replaced by XXXXXXXX.
Notebooks are written atomically (a temporary file, then os.replace).

--table writes, for each chapter, a "Read (min)" estimate by a stated rule
(READING_RULE): 200 words of Markdown prose a minute, plus 20 s per code cell,
plus the notebook's run time, rounded up to the next minute; it is computed
from the stored notebook (its Markdown cells, its code cells, seconds_notebook).

--check needs only the standard library (the test suite uses it): a notebook is
stale when its cells differ from the script, when it has not been executed (no
metadata, a code cell without an execution count, counts not 1, 2, 3, ... in
order, an error output), or when the script or the bundled model changed since
it was executed. Checking all chapters also compares the README table with the
notebooks' metadata.
"""
import argparse
import ast
import functools
import hashlib
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from fractions import Fraction

from albert_np.io import file_sha256

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
README = os.path.join(HERE, "README.md")
MODEL_FILE = os.path.join(ROOT, "albert_np", "pretrained", "albert-tiny-en", "model.safetensors")
TABLE_START, TABLE_END = "<!-- chapter-table:start -->", "<!-- chapter-table:end -->"
FIGURE_DPI = 72            # pictures in the notebooks: small files, still readable
TIMEOUT_S = 1800           # per script run and per notebook cell
META_KEYS = ("script_sha256", "model_sha256", "seconds_script", "seconds_notebook", "checks", "asserts",
             "pictures")
REEXECUTE = "re-run `python tutorials/sync_notebooks.py --execute {nn}`"
WORDS_PER_MINUTE = 200     # reading speed for the Markdown prose
SECONDS_PER_CODE_CELL = 20  # reading a code cell and its output
READING_RULE = (f"{WORDS_PER_MINUTE} words of Markdown prose a minute, plus {SECONDS_PER_CODE_CELL} s per code "
                f"cell, plus the notebook's run time, rounded up to the next minute")


# ---------------------------------------------------------------- building (no outputs)

def percent_cells(text):
    """[(kind, source)] of a percent-format script; kind is 'code' or 'markdown'."""
    cells, kind, lines = [], None, []

    def close():
        while lines and not lines[-1].strip():
            lines.pop()
        if kind is not None and lines:
            cells.append((kind, "\n".join(lines)))
    for line in text.splitlines():
        if line.startswith("# %%"):
            close()
            kind, lines = ("markdown" if "[markdown]" in line else "code"), []
            continue
        if kind is None:
            continue                                    # nothing before the first cell marker
        if kind == "markdown":
            line = line[2:] if line.startswith("# ") else line[1:] if line.startswith("#") else line
        if lines or line.strip():                       # drop leading blank lines
            lines.append(line)
    close()
    return cells


def notebook(cells):
    """An nbformat 4.5 notebook (as a dict) with these cells and no outputs."""
    out = []
    for i, (kind, source) in enumerate(cells):
        src = source.splitlines(keepends=True)
        cell = {"cell_type": kind, "id": f"cell-{i:03d}", "metadata": {}, "source": src}
        if kind == "code":
            cell.update(execution_count=None, outputs=[])
        out.append(cell)
    return {"cells": out,
            "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                         "language_info": {"name": "python"}},
            "nbformat": 4, "nbformat_minor": 5}


def read_text(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def notebook_json(nb):
    """The file text of a notebook: sorted keys, one-space indent, as nbformat writes."""
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def write_atomically(path, text):
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", dir=os.path.dirname(path))
    umask = os.umask(0)
    os.umask(umask)
    try:
        os.chmod(tmp, os.stat(path).st_mode & 0o777 if os.path.exists(path) else 0o666 & ~umask)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def sha256_of_text(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@functools.lru_cache(maxsize=None)
def sha256_of_file(path):
    return file_sha256(path)


def chapters():
    return sorted(os.path.join(HERE, n) for n in os.listdir(HERE) if re.fullmatch(r"\d\d_.+\.py", n))


def select(numbers):
    """The chapter scripts named by two-digit numbers (all of them when none are given)."""
    every = chapters()
    if not numbers:
        return every
    by_number = {os.path.basename(p)[:2]: p for p in every}
    wanted = [f"{int(n):02d}" if n.isdigit() else n for n in numbers]
    unknown = [n for n in wanted if n not in by_number]
    if unknown:
        raise SystemExit(f"no chapter {', '.join(unknown)}; chapters are {', '.join(sorted(by_number))}")
    return [by_number[n] for n in dict.fromkeys(wanted)]


def count_asserts(script_text):
    """`assert` statements in the code cells of a chapter (a static count)."""
    code = "\n".join(src for kind, src in percent_cells(script_text) if kind == "code")
    return sum(isinstance(node, ast.Assert) for node in ast.walk(ast.parse(code)))


def count_pictures(nb):
    return sum(any(k.startswith("image/") for k in o.get("data", {}))
               for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", []))


def title_of(nb):
    """'A tour of the checkpoint' from the first heading '# Chapter 0: A tour of the checkpoint'."""
    first = "".join(nb["cells"][0]["source"]).splitlines()[0] if nb["cells"] else ""
    m = re.match(r"#\s*Chapter\s+\d+\s*:\s*(.+)", first)
    return m.group(1).strip() if m else first.lstrip("# ").strip()


# ---------------------------------------------------------------- checking (plain json)

def problems(script, model_file=MODEL_FILE):
    """What is wrong with a chapter's notebook, as messages that say how to fix it ([] when nothing)."""
    name, nn = os.path.basename(script)[:-3] + ".ipynb", os.path.basename(script)[:2]
    fix = REEXECUTE.format(nn=nn)
    path = script[:-3] + ".ipynb"
    if not os.path.isfile(path):
        return [f"{name}: missing; {fix}"]
    try:
        nb = json.loads(read_text(path))
        cells = nb["cells"]
    except (ValueError, KeyError, TypeError) as e:
        return [f"{name}: not a readable notebook ({e}); {fix}"]
    script_text = read_text(script)
    want = [(c["cell_type"], c["id"], "".join(c["source"])) for c in notebook(percent_cells(script_text))["cells"]]
    got = [(c.get("cell_type"), c.get("id"),
            "".join(c.get("source", [])) if isinstance(c.get("source"), list) else c.get("source"))
           for c in cells]
    found = []
    if got != want:
        i = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
        found.append(f"cells differ from {os.path.basename(script)} (first at cell {i}; "
                     f"{len(got)} cells in the notebook, {len(want)} in the script)")
    meta = nb.get("metadata", {}).get("albert_np")
    if not isinstance(meta, dict):
        found.append("has not been executed (no albert_np metadata)")
    else:
        missing = [k for k in META_KEYS if k not in meta]
        if missing:
            found.append(f"albert_np metadata lacks {', '.join(missing)}")
        code = [c for c in cells if c.get("cell_type") == "code"]
        counts = [c.get("execution_count") for c in code]
        if None in counts:
            found.append(f"{counts.count(None)} of {len(code)} code cells have not been executed")
        elif counts != list(range(1, len(code) + 1)):
            found.append("code cells were not executed once each, top to bottom, in one kernel")
        errors = [i for i, c in enumerate(cells) for o in c.get("outputs", []) if o.get("output_type") == "error"]
        if errors:
            found.append(f"error output in cell {errors[0]}")
        if "pictures" in meta and meta["pictures"] != count_pictures(nb):
            found.append(f"metadata says {meta['pictures']} pictures, the outputs hold {count_pictures(nb)}")
        if meta.get("script_sha256") != sha256_of_text(script_text):
            found.append(f"executed from another version of {os.path.basename(script)} (script_sha256 differs)")
        model_sha = sha256_of_file(model_file)
        if meta.get("model_sha256") != model_sha:
            found.append(f"executed with another bundled model (model_sha256 "
                         f"{str(meta.get('model_sha256'))[:12]}..., the bundled model.safetensors is "
                         f"{model_sha[:12]}...)")
    return [f"{name}: {p}; {fix}" for p in found]


# ---------------------------------------------------------------- executing

def run_env():
    """The environment of both runs: this checkout's albert_np, bundled model, offline, one BLAS thread."""
    env = dict(os.environ)
    for k in ("ALBERT_NP_MODEL", "ALBERT_NP_FIGURES", "MPLBACKEND"):
        env.pop(k, None)
    env["PYTHONPATH"] = ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.update(HF_HUB_OFFLINE="1", OPENBLAS_NUM_THREADS=env.get("OPENBLAS_NUM_THREADS", "1"),
               OMP_NUM_THREADS=env.get("OMP_NUM_THREADS", "1"), PYTHONHASHSEED="0")
    return env


def run_script(script, env):
    """Run a chapter as a script; return its wall seconds (raise if it fails)."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, script], cwd=ROOT, env=dict(env, MPLBACKEND="Agg"),
                          capture_output=True, text=True, timeout=TIMEOUT_S)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{os.path.basename(script)} failed as a script:\n"
                           f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return seconds


def _path_rewriter():
    """A function that writes absolute paths under the repository's parent relative to tutorials/, and
    hides the random part of temporary folder names."""
    parents = sorted({os.path.dirname(ROOT), os.path.dirname(os.path.realpath(ROOT))}, key=len, reverse=True)
    under = re.compile("(?:" + "|".join(re.escape(p) for p in parents) + r")(?:/[^\s'\"(),\]\[:;]*)?")
    tmp = re.compile("((?:" + "|".join(re.escape(t) for t in {tempfile.gettempdir(), "/tmp"})
                     + r")/[A-Za-z_]*?)[a-z0-9_]{8}(?=[/\s'\",)\]]|$)")

    def rewrite(text):
        text = tmp.sub(lambda m: m.group(1) + "XXXXXXXX", text)
        return under.sub(lambda m: os.path.relpath(m.group(0), HERE), text)
    return rewrite


def tidy_outputs(outputs, rewrite):
    """Plain-dict outputs: streams merged, paths rewritten, text split into lines as nbformat stores it."""
    tidy = []
    for o in outputs:
        o = json.loads(json.dumps(o))                  # NotebookNode -> plain dicts
        if o["output_type"] == "stream":
            text = rewrite("".join(o["text"]) if isinstance(o["text"], list) else o["text"])
            if tidy and tidy[-1]["output_type"] == "stream" and tidy[-1]["name"] == o["name"]:
                tidy[-1]["text"] += text
            else:
                tidy.append({"output_type": "stream", "name": o["name"], "text": text})
            continue
        for mime, value in o.get("data", {}).items():
            if isinstance(value, list):
                value = "".join(value)
            if mime.startswith("text/") or mime == "application/javascript":
                value = rewrite(value)
            elif mime.startswith("image/"):
                value = value.replace("\n", "")
            o["data"][mime] = value
        if "text" in o:                                # error tracebacks (never stored: execution stops)
            o["text"] = rewrite(o["text"])
        tidy.append(o)
    for o in tidy:                                     # nbformat stores multi-line strings as lists of lines
        if o["output_type"] == "stream":
            o["text"] = o["text"].splitlines(keepends=True)
        for mime, value in o.get("data", {}).items():
            if isinstance(value, str) and not mime.startswith("image/") and "\n" in value:
                o["data"][mime] = value.splitlines(keepends=True)
    return tidy


async def _quietly(client, code, expressions=None):
    """Run code in the kernel without a cell, an execution count or output; return user_expressions."""
    msg_id = client.kc.execute(code, silent=True, store_history=False, user_expressions=expressions or {})
    reply = await client.async_wait_for_reply(msg_id)
    content = reply["content"]
    if content["status"] != "ok":
        raise RuntimeError(f"kernel: {content.get('ename')}: {content.get('evalue')}")
    return content.get("user_expressions", {})


SETUP = f"""\
import matplotlib, warnings
matplotlib.rcParams["figure.dpi"] = {FIGURE_DPI}
warnings.filterwarnings("ignore", message="IProgress not found")   # tqdm in a kernel without ipywidgets
"""
"""Run in the kernel before the first cell, without an execution count or output."""


def run_notebook(nb, env):
    """Execute a notebook's cells in a fresh python3 kernel of this interpreter, in tutorials/.

    Returns (seconds, checks): the wall seconds of the cells and how many `check` calls ran."""
    import asyncio
    import nbclient
    import nbformat

    node = nbformat.reads(json.dumps(nb), as_version=4)       # sources as strings, as nbclient wants
    client = nbclient.NotebookClient(node, timeout=TIMEOUT_S, kernel_name="python3", allow_errors=False,
                                     record_timing=False, resources={"metadata": {"path": HERE}})
    report = ("__import__('json').dumps({'checks': __import__('tutorial_utils').checks_run() "
              "if 'tutorial_utils' in __import__('sys').modules else 0, "
              "'executable': __import__('sys').executable})")

    async def run():
        async with client.async_setup_kernel(env=env):
            await _quietly(client, SETUP)
            start = time.perf_counter()
            for index, cell in enumerate(node.cells):
                await client.async_execute_cell(cell, index)
            seconds = time.perf_counter() - start
            result = (await _quietly(client, "", {"report": report}))["report"]
        return seconds, result

    seconds, result = asyncio.run(run())
    if result.get("status") != "ok":
        raise RuntimeError(f"could not read the check count from the kernel: {result}")
    info = json.loads(ast.literal_eval(result["data"]["text/plain"]))
    if os.path.realpath(info["executable"]) != os.path.realpath(sys.executable):
        raise RuntimeError(f"the python3 kernel ran {info['executable']}, not {sys.executable}")
    for cell, done in zip(nb["cells"], node.cells):
        if cell["cell_type"] == "code":
            cell["execution_count"] = done.execution_count
            cell["outputs"] = done.outputs
    return seconds, info["checks"]


def execute(script):
    """Run one chapter as a script and as a notebook; write its notebook with outputs and metadata."""
    env = run_env()
    script_text = read_text(script)
    seconds_script = run_script(script, env)
    nb = notebook(percent_cells(script_text))
    seconds_notebook, checks = run_notebook(nb, env)
    rewrite = _path_rewriter()
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"] = tidy_outputs(cell["outputs"], rewrite)
    nb["metadata"]["albert_np"] = {
        "script_sha256": sha256_of_text(script_text), "model_sha256": sha256_of_file(MODEL_FILE),
        "seconds_script": round(seconds_script, 1), "seconds_notebook": round(seconds_notebook, 1),
        "checks": checks, "asserts": count_asserts(script_text), "pictures": count_pictures(nb)}
    write_atomically(script[:-3] + ".ipynb", notebook_json(nb))
    return nb["metadata"]["albert_np"]


# ---------------------------------------------------------------- the README table

def prose_words(nb):
    """Words in the notebook's Markdown cells: whitespace-separated runs holding a letter or digit
    (so Markdown marks such as '#', '*' or '|' on their own do not count)."""
    text = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    return sum(1 for word in text.split() if re.search(r"\w", word))


def reading_minutes(nb):
    """Minutes to work through an executed chapter, by READING_RULE:
    words / WORDS_PER_MINUTE + code cells * SECONDS_PER_CODE_CELL + seconds_notebook, rounded up."""
    code_cells = sum(c["cell_type"] == "code" for c in nb["cells"])
    seconds = (Fraction(60 * prose_words(nb), WORDS_PER_MINUTE) + SECONDS_PER_CODE_CELL * code_cells
               + Fraction(str(nb["metadata"]["albert_np"]["seconds_notebook"])))
    return math.ceil(seconds / 60)


def chapter_table(scripts):
    """The Markdown chapter table, from the notebooks' albert_np metadata."""
    rows = ["| Chapter | Title | Read (min) | Script (s) | Notebook (s) | Checks | Asserts | Pictures |",
            "|---|---|--:|--:|--:|--:|--:|--:|"]
    totals = [0, 0.0, 0.0, 0, 0, 0]
    models, unexecuted = set(), []
    for script in scripts:
        base = os.path.basename(script)[:-3]
        nb = json.loads(read_text(script[:-3] + ".ipynb"))
        meta = nb.get("metadata", {}).get("albert_np")
        link = f"[{title_of(nb)}]({base}.ipynb) ([.py]({base}.py))"
        if not meta:
            unexecuted.append(base[:2])
            rows.append(f"| {base[:2]} | {link} | – | – | – | – | – | – |")
            continue
        values = [reading_minutes(nb)] + [meta[k] for k in ("seconds_script", "seconds_notebook", "checks",
                                                             "asserts", "pictures")]
        totals = [t + v for t, v in zip(totals, values)]
        models.add(meta["model_sha256"])
        rows.append(f"| {base[:2]} | {link} | {values[0]} | {values[1]:.1f} | {values[2]:.1f} | "
                    + " | ".join(str(v) for v in values[3:]) + " |")
    rows.append(f"| | **All {len(scripts)} chapters** | {totals[0]} | {totals[1]:.0f} | {totals[2]:.0f} | "
                + " | ".join(str(v) for v in totals[3:]) + " |")
    model = ", ".join(f"`{m[:12]}`" for m in sorted(models)) or "none"
    note = (f"\n\"Read (min)\" is the time to work through a chapter by a stated rule: {READING_RULE}.\n"
            f"\nGenerated by `python tutorials/sync_notebooks.py --table` from the notebooks' metadata; "
            f"bundled model.safetensors sha256 {model}.")
    if unexecuted:
        note += f" Not executed yet: {', '.join(unexecuted)}."
    return "\n".join(rows) + "\n" + note + "\n"


def replace_table(readme_text, table):
    """The README with the text between the chapter-table markers replaced by `table`."""
    if readme_text.count(TABLE_START) != 1 or readme_text.count(TABLE_END) != 1 \
            or readme_text.index(TABLE_START) > readme_text.index(TABLE_END):
        raise ValueError(f"README needs exactly one {TABLE_START} followed by one {TABLE_END}")
    head, rest = readme_text.split(TABLE_START)
    _, tail = rest.split(TABLE_END)
    return head + TABLE_START + "\n" + table + TABLE_END + tail


def table_is_stale(readme=README):
    text = read_text(readme)
    return replace_table(text, chapter_table(chapters())) != text


def write_table(readme=README):
    text = read_text(readme)
    new = replace_table(text, chapter_table(chapters()))
    if new != text:
        write_atomically(readme, new)
    return new != text


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("chapters", nargs="*", metavar="NN", help="chapter numbers (default: all)")
    parser.add_argument("--execute", action="store_true", help="run the chapters and write their notebooks")
    parser.add_argument("--table", action="store_true", help="rewrite the chapter table in tutorials/README.md")
    parser.add_argument("--check", action="store_true", help="exit 1 if a notebook is stale")
    args = parser.parse_args(argv)
    if not (args.execute or args.table or args.check):
        parser.error("choose --execute, --table and/or --check (see the top of this file)")
    scripts = select(args.chapters)
    if args.execute:
        for script in scripts:
            meta = execute(script)
            print(f"{os.path.basename(script)[:-3]}.ipynb: script {meta['seconds_script']:.1f} s, notebook "
                  f"{meta['seconds_notebook']:.1f} s, {meta['checks']} checks, {meta['pictures']} pictures",
                  flush=True)
    if args.table:
        print("tutorials/README.md: chapter table " + ("rewritten" if write_table() else "unchanged"))
    if args.check:
        found = [p for script in scripts for p in problems(script)]
        if not args.chapters and not found and table_is_stale():
            found.append("tutorials/README.md: the chapter table differs from the notebooks' metadata; "
                         "run `python tutorials/sync_notebooks.py --table`")
        if found:
            print("\n".join(found))
            return 1
        print(f"checked {len(scripts)} notebooks: in sync with their scripts and executed on the bundled model")
    return 0


if __name__ == "__main__":
    sys.exit(main())
