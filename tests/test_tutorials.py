"""Every tutorial chapter runs as a script on two checkpoints, and its notebook is in sync.

The chapters assert what they claim (by-hand == library), so running them is
the test. Each runs on the bundled albert-tiny-en and on a checkpoint shaped like
albert-base-v2 (random weights, saved as AlbertForMaskedLM: no pooler, no SOP
head, as the Hub's checkpoints come), so that nothing in a chapter depends on the
bundled model's sizes or heads. With the `tutorials` extra (matplotlib,
nbclient, ipykernel) the notebooks are also executed in a Jupyter kernel and the
pictures checked.
"""
import glob
import importlib.util
import json
import os
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TUTORIALS = os.path.join(ROOT, "tutorials")
CHAPTERS = sorted(glob.glob(os.path.join(TUTORIALS, "[0-9][0-9]_*.py")))
HANG_GUARD_S = 300           # the 60 s budget per chapter is measured and reported, not asserted here

sys.path.insert(0, TUTORIALS)
import check_solutions  # noqa: E402
import sync_notebooks  # noqa: E402


def ids(paths):
    return [os.path.basename(p)[:-3] for p in paths]


def test_chapters_are_numbered_without_gaps():
    assert [os.path.basename(p)[:2] for p in CHAPTERS] == [f"{i:02d}" for i in range(14)]


@pytest.fixture(scope="session")
def base_shaped_checkpoint(tmp_path_factory):
    """A folder with albert-base-v2's sizes (vocab cut to the bundled tokenizer's 16000), random
    weights saved from AlbertForMaskedLM (so no pooler and no SOP head), and the bundled tokenizer."""
    from albert_np import AlbertConfig, AlbertForMaskedLM, AlbertTokenizerFast
    from albert_np.pretrained import bundled_model

    folder = str(tmp_path_factory.mktemp("albert-base-shaped"))
    tokenizer = AlbertTokenizerFast.from_pretrained(bundled_model())
    config = AlbertConfig.from_preset("albert-base-v2", vocab_size=tokenizer.vocab_size)
    assert config.vocab_size == 16000 and config.hidden_size == 768 and config.num_hidden_layers == 12
    AlbertForMaskedLM(config, seed=0).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.mark.parametrize("checkpoint", ["bundled", "base-shaped"])
@pytest.mark.parametrize("script", CHAPTERS, ids=ids(CHAPTERS))
def test_chapter_runs_as_a_script(script, checkpoint, tmp_path, request):
    env = dict(os.environ, ALBERT_NP_FIGURES=str(tmp_path), MPLBACKEND="Agg", PYTHONPATH=ROOT,
               HF_HUB_OFFLINE="1")
    env.pop("ALBERT_NP_MODEL", None)
    if checkpoint == "base-shaped":
        env["ALBERT_NP_MODEL"] = request.getfixturevalue("base_shaped_checkpoint")
    start = time.perf_counter()
    done = subprocess.run([sys.executable, script], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=HANG_GUARD_S)
    seconds = time.perf_counter() - start
    assert done.returncode == 0, f"{os.path.basename(script)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    pictures = sorted(os.listdir(tmp_path))
    print(f"{os.path.basename(script)} on the {checkpoint} checkpoint: {seconds:.1f} s, pictures: {pictures}")
    assert all(p.startswith(os.path.basename(script)[:2]) and p.endswith(".png") for p in pictures)
    if importlib.util.find_spec("matplotlib") is None:
        assert not pictures


@pytest.mark.parametrize("script", CHAPTERS, ids=ids(CHAPTERS))
def test_notebook_is_in_sync_and_has_no_outputs(script):
    path = script[:-3] + ".ipynb"
    assert os.path.isfile(path), f"{os.path.basename(path)} missing: run python tutorials/sync_notebooks.py"
    with open(path, encoding="utf-8") as f:
        text = f.read()
    assert text == sync_notebooks.notebook_text(script), "out of date: run python tutorials/sync_notebooks.py"
    nb = json.loads(text)
    assert all(c.get("outputs", []) == [] for c in nb["cells"])
    kinds = [c["cell_type"] for c in nb["cells"]]
    assert kinds[0] == "markdown" and "code" in kinds


def test_percent_format_parsing():
    cells = sync_notebooks.percent_cells("# %% [markdown]\n# # Title\n#\n# text\n\n# %%\nx = 1\n\n\n# %%\ny = 2\n")
    assert cells == [("markdown", "# Title\n\ntext"), ("code", "x = 1"), ("code", "y = 2")]


@pytest.mark.parametrize("script", CHAPTERS, ids=ids(CHAPTERS))
def test_notebook_runs_in_jupyter(script, tmp_path):
    nbclient = pytest.importorskip("nbclient", reason="notebook execution needs the tutorials extra")
    nbformat = pytest.importorskip("nbformat", reason="notebook execution needs the tutorials extra")
    pytest.importorskip("ipykernel", reason="notebook execution needs the tutorials extra")
    nb = nbformat.read(script[:-3] + ".ipynb", as_version=4)
    env_before = dict(os.environ)
    os.environ.update(ALBERT_NP_FIGURES=str(tmp_path), HF_HUB_OFFLINE="1")
    os.environ.pop("ALBERT_NP_MODEL", None)
    try:
        nbclient.NotebookClient(nb, timeout=HANG_GUARD_S, kernel_name="python3",
                                resources={"metadata": {"path": TUTORIALS}}).execute()
    finally:
        os.environ.clear()
        os.environ.update(env_before)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors


def test_exercise_solutions_print_what_the_readme_shows():
    text = open(check_solutions.README, encoding="utf-8").read()
    found = check_solutions.solutions(text)
    assert len(found) == text.count("<summary>Solution</summary>") >= 14      # every solution is parsed
    stale = [i + 1 for i, (_, code, printed) in enumerate(found) if check_solutions.run(code) != printed]
    assert not stale, (f"solutions {stale} print something else now: run "
                       f"`python tutorials/check_solutions.py --update` and reread the prose after them")


def test_check_solutions_finds_and_rewrites_a_stale_output():
    text = ("1. Q?\n\n   ```python\n   print(6 * 7)\n   print()\n   print('x')\n   ```\n\n   It prints:\n\n"
            "   ```text\n   41\n\n   x\n   ```\n\n   Prose.\n")
    [(match, code, printed)] = check_solutions.solutions(text)
    assert code == "print(6 * 7)\nprint()\nprint('x')\n" and printed == "41\n\nx\n"
    real = check_solutions.run(code)
    assert real == "42\n\nx\n" != printed
    fixed = check_solutions.replace_output(text, match, real)
    assert fixed == text.replace("   41\n", "   42\n")
    [(_, _, again)] = check_solutions.solutions(fixed)
    assert again == real
