"""Every tutorial chapter runs as a script on two checkpoints, and its notebook is in sync and executed.

The chapters assert what they claim (by-hand == library), so running them is
the test. Each runs on the bundled albert-tiny-en and on a checkpoint shaped like
albert-base-v2 (random weights, saved as AlbertForMaskedLM: no pooler, no SOP
head, as the Hub's checkpoints come), so that nothing in a chapter depends on the
bundled model's sizes or heads. The stored notebooks carry their outputs; a
plain-json check (`sync_notebooks.problems`) says when one must be re-executed.
With the `tutorials` extra (matplotlib, nbclient, ipykernel) the notebooks are
also executed in a Jupyter kernel and the pictures checked.
"""
import copy
import glob
import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np

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
    assert [os.path.basename(p)[:2] for p in CHAPTERS] == [f"{i:02d}" for i in range(17)]


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
def test_notebook_is_in_sync_and_executed(script):
    """The stored notebook has the script's cells, ran them all in one kernel without an error, and
    was executed from this version of the script on the bundled model (plain json: no Jupyter needed)."""
    found = sync_notebooks.problems(script)
    assert not found, "\n".join(found)
    nb = json.loads(open(script[:-3] + ".ipynb", encoding="utf-8").read())
    kinds = [c["cell_type"] for c in nb["cells"]]
    assert kinds[0] == "markdown" and "code" in kinds


def test_readme_chapter_table_matches_the_notebooks():
    assert not sync_notebooks.table_is_stale(), "run python tutorials/sync_notebooks.py --table"


def _executed_chapter(folder, nn="42", source="x = 1\nprint(x)\n", model=b"weights", prose=""):
    """A small chapter script, its model file and a notebook stamped as sync_notebooks --execute would;
    `prose` is added to its Markdown cell."""
    script = os.path.join(folder, f"{nn}_demo.py")
    text = (f"# %% [markdown]\n# # Chapter {int(nn)}: A demo\n" + (f"#\n# {prose}\n" if prose else "")
            + f"\n# %%\n{source}\n# %%\nimport os\n")
    with open(script, "w", encoding="utf-8") as f:
        f.write(text)
    model_file = os.path.join(folder, "model.safetensors")
    with open(model_file, "wb") as f:
        f.write(model)
    nb = sync_notebooks.notebook(sync_notebooks.percent_cells(text))
    nb["cells"][1].update(execution_count=1, outputs=[{"output_type": "stream", "name": "stdout", "text": ["1\n"]}])
    nb["cells"][2].update(execution_count=2)
    nb["metadata"]["albert_np"] = {
        "script_sha256": sync_notebooks.sha256_of_text(text),
        "model_sha256": hashlib.sha256(model).hexdigest(),
        "seconds_script": 1.25, "seconds_notebook": 2.0, "checks": 3, "asserts": 0, "pictures": 0}
    with open(script[:-3] + ".ipynb", "w", encoding="utf-8") as f:
        f.write(sync_notebooks.notebook_json(nb))
    return script, model_file, nb


def _rewrite(script, nb):
    with open(script[:-3] + ".ipynb", "w", encoding="utf-8") as f:
        f.write(sync_notebooks.notebook_json(nb))


def test_checker_fails_on_a_tampered_notebook(tmp_path):
    script, model_file, nb = _executed_chapter(str(tmp_path))
    assert sync_notebooks.problems(script, model_file) == []

    def found(nb):
        _rewrite(script, nb)
        messages = sync_notebooks.problems(script, model_file)
        assert messages and all("sync_notebooks.py --execute 42" in m for m in messages), messages
        return " ".join(messages)

    edited = copy.deepcopy(nb)
    edited["cells"][1]["source"] = ["x = 2\n", "print(x)"]
    assert "cells differ" in found(edited)
    unexecuted = copy.deepcopy(nb)
    del unexecuted["metadata"]["albert_np"]
    assert "not been executed" in found(unexecuted)
    no_outputs = copy.deepcopy(nb)
    no_outputs["cells"][2]["execution_count"] = None
    assert "have not been executed" in found(no_outputs)
    failed = copy.deepcopy(nb)
    failed["cells"][2]["outputs"] = [{"output_type": "error", "ename": "E", "evalue": "", "traceback": []}]
    assert "error output" in found(failed)
    old_script = copy.deepcopy(nb)
    old_script["metadata"]["albert_np"]["script_sha256"] = "0" * 64
    assert "script_sha256" in found(old_script)

    _rewrite(script, nb)
    with open(model_file, "ab") as f:                     # the bundled model is replaced
        f.write(b"!")
    sync_notebooks.sha256_of_file.cache_clear()
    messages = sync_notebooks.problems(script, model_file)
    assert len(messages) == 1 and "model_sha256" in messages[0] and "--execute 42" in messages[0]


def test_checker_fails_on_a_real_notebook_with_an_edited_cell(tmp_path):
    script = shutil.copy(CHAPTERS[0], tmp_path)
    nb = json.loads(open(CHAPTERS[0][:-3] + ".ipynb", encoding="utf-8").read())
    nb["cells"][-1]["source"] = nb["cells"][-1]["source"] + ["\n# an edit made in Jupyter"]
    _rewrite(script, nb)
    assert any("cells differ" in m for m in sync_notebooks.problems(script))


def test_chapter_table(tmp_path):
    # Reading time of the first demo, by hand: its Markdown is "# Chapter 0: A demo" (4 words; a lone "#"
    # is not a word) and 286 more words, 290 in all: 290 * 60 / 200 = 87 s; 2 code cells * 20 s = 40 s;
    # the notebook ran 2.0 s. 87 + 40 + 2 = 129 s = 2.15 min, rounded up: 3 min.
    first, _, first_nb = _executed_chapter(str(tmp_path), "00", prose=" ".join(["word"] * 285) + " **bold** *")
    assert sync_notebooks.prose_words(first_nb) == 290 and sync_notebooks.reading_minutes(first_nb) == 3
    second, _, nb = _executed_chapter(str(tmp_path), "01")
    del nb["metadata"]["albert_np"]
    _rewrite(second, nb)
    table = sync_notebooks.chapter_table([first, second])
    lines = table.splitlines()
    assert lines[0] == "| Chapter | Title | Read (min) | Script (s) | Notebook (s) | Checks | Asserts | Pictures |"
    assert lines[2] == "| 00 | [A demo](00_demo.ipynb) ([.py](00_demo.py)) | 3 | 1.2 | 2.0 | 3 | 0 | 0 |"
    assert lines[3].startswith("| 01 | [A demo](01_demo.ipynb)") and lines[3].endswith(" | – | – | – | – | – | – |")
    assert lines[4] == "| | **All 2 chapters** | 3 | 1 | 2 | 3 | 0 | 0 |"
    assert "200 words of Markdown prose a minute, plus 20 s per code cell" in table
    assert hashlib.sha256(b"weights").hexdigest()[:12] in table and "Not executed yet: 01." in table

    readme = "# T\n\nintro\n\n<!-- chapter-table:start -->\nold\n<!-- chapter-table:end -->\n\n## Next\n"
    new = sync_notebooks.replace_table(readme, table)
    assert new == "# T\n\nintro\n\n<!-- chapter-table:start -->\n" + table + "<!-- chapter-table:end -->\n\n## Next\n"
    assert sync_notebooks.replace_table(new, table) == new
    with pytest.raises(ValueError, match="chapter-table"):
        sync_notebooks.replace_table("# no markers\n", table)


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


def test_exercise_lists_parse_a_chapter_and_the_readme():
    script = ("# %% [markdown]\n# # Chapter 9\n\n# %% [markdown]\n# ## Exercises\n#\n"
              "# 1. ★ Count the\n#    heads.\n# 2. ★★ Drop √D.\n\n# %%\nprint(1)\n")
    assert check_solutions.chapter_exercises(script) == ["★ Count the heads.", "★★ Drop √D."]
    readme = ("### 09. Nine\n\nintro\n\n**Exercises**\n\n1. ★ Count the heads.\n\n   <details><summary>Solution"
              "</summary>\n\n   x\n\n   </details>\n\n2. ★★ Drop\n   √D.\n\n### 10. Ten\n\nNo list.\n")
    found = check_solutions.readme_exercises(readme)
    assert found["09"][0] == ["★ Count the heads.", "★★ Drop √D."]
    assert "x" in found["09"][1][0] and found["09"][1][1] == "" and found["10"] == ([], [])


def test_each_chapter_and_the_readme_list_the_same_graded_exercises_each_with_a_solution():
    """One exercise list per chapter, word for word the same in the chapter and in tutorials/README.md,
    each item marked ★ to ★★★ and followed in the README by exactly one runnable solution."""
    readme = check_solutions.readme_exercises(open(check_solutions.README, encoding="utf-8").read())
    assert sorted(readme) == [os.path.basename(p)[:2] for p in CHAPTERS]
    for script in CHAPTERS:
        number = os.path.basename(script)[:2]
        in_chapter = check_solutions.chapter_exercises(open(script, encoding="utf-8").read())
        in_readme, details = readme[number]
        assert in_chapter, f"chapter {number} has no '## Exercises' list"
        assert in_chapter == in_readme, (f"chapter {number}: the exercises differ between the chapter and "
                                         f"tutorials/README.md:\n{in_chapter}\n{in_readme}")
        for k, (item, detail) in enumerate(zip(in_chapter, details), 1):
            assert check_solutions.DIFFICULTY.match(item), f"exercise {number}.{k} has no ★ to ★★★ mark: {item[:60]}"
            assert len(check_solutions.solutions(detail)) == 1, f"exercise {number}.{k} needs one solution"


def test_check_all_prints_one_line_and_fails_on_the_pair_that_differs(capsys):
    import tutorial_utils
    before = tutorial_utils.checks_run()
    tutorial_utils.check_all("toy", {"a": (np.ones(3), np.ones(3)), "b": ([1.0, 2.0], [1.0, 2.0 + 3e-6])})
    out = capsys.readouterr().out.strip().splitlines()
    assert out == ["toy: 2 checks by hand == library (largest |diff| 3.0e-06, in 'b')"]
    assert tutorial_utils.checks_run() == before + 2
    with pytest.raises(AssertionError, match="toy: c: max"):
        tutorial_utils.check_all("toy", {"a": (1.0, 1.0), "c": (1.0, 1.1)})
    with pytest.raises(AssertionError, match="shape"):
        tutorial_utils.check_all("toy", {"d": (np.ones(2), np.ones(3))})


@pytest.mark.parametrize("name", ["albert-tiny-en-squad", "albert-tiny-en-wnut17"])
def test_fine_tuned_assets_were_made_from_the_bundled_weights(name, tmp_path, monkeypatch, capsys):
    import tutorial_utils
    from albert_np.pretrained import bundled_model
    monkeypatch.setattr(tutorial_utils, "MODEL", bundled_model())
    with open(os.path.join(bundled_model(), "model.safetensors"), "rb") as f:
        bundled = hashlib.sha256(f.read()).hexdigest()
    folder, record, trained = tutorial_utils.fine_tuned_asset(name)
    # a new bundled model needs new heads: tutorials/assets/make_heads.py, then the chapters re-executed
    assert record["base_weights_sha256"] == bundled and trained, \
        f"tutorials/assets/{name} was not made from the bundled model's weights: rerun make_heads.py"
    # a head made from other weights is refused, with a message that says what to do
    shutil.copytree(folder, tmp_path / name)
    record["base_weights_sha256"] = "0" * 64
    (tmp_path / name / "make_heads.json").write_text(json.dumps(record))
    _, _, trained = tutorial_utils.fine_tuned_asset(name, assets=str(tmp_path))
    assert not trained and "make_heads.py to remake it" in capsys.readouterr().out
    # on another checkpoint the chapters run the same code on untrained heads
    monkeypatch.setattr(tutorial_utils, "MODEL", str(tmp_path))
    assert tutorial_utils.fine_tuned_asset(name)[2] is False
