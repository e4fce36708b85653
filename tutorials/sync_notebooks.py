"""Write each chapter's .ipynb from its .py (jupytext percent format; the .py is the source).

    python tutorials/sync_notebooks.py          # rewrite every NN_*.ipynb
    python tutorials/sync_notebooks.py --check  # exit 1 if a notebook is out of date

Cells: `# %%` starts a code cell, `# %% [markdown]` a Markdown cell whose
lines drop their leading "# ". The notebooks are stored without outputs; the
tests check that every pair is in sync.
"""
import glob
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


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


def notebook_text(script_path):
    with open(script_path, encoding="utf-8") as f:
        return json.dumps(notebook(percent_cells(f.read())), indent=1, ensure_ascii=False) + "\n"


def chapters():
    return sorted(glob.glob(os.path.join(HERE, "[0-9][0-9]_*.py")))


def main(argv=None):
    check = "--check" in (argv if argv is not None else sys.argv[1:])
    stale = []
    for script in chapters():
        target = script[:-3] + ".ipynb"
        text = notebook_text(script)
        current = open(target, encoding="utf-8").read() if os.path.isfile(target) else None
        if current != text:
            stale.append(os.path.basename(target))
            if not check:
                with open(target, "w", encoding="utf-8") as f:
                    f.write(text)
    if check and stale:
        print("out of date: " + ", ".join(stale) + " (run python tutorials/sync_notebooks.py)")
        return 1
    print(("checked " if check else "wrote ") + f"{len(chapters())} notebooks"
          + (f" ({len(stale)} updated)" if stale and not check else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
