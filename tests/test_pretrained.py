"""pretrained/: the bundled model's short name "albert-tiny-en" works offline wherever a model is taken.

Every loader (configs, weights, tokenizers, the task functions, pipeline, the CLI) is checked with
the Hub cut off: huggingface_hub's download is replaced by a function that fails the test, and
HF_HUB_OFFLINE=1. The results are compared with the same calls on the bundled folder's path.
"""
import json
import os

import numpy as np
import pytest

import albert_np
from albert_np import hub, pretrained
from albert_np.__main__ import main
from albert_np.tasks import loading

BUNDLED = pretrained.bundled_model()
NAME = pretrained.BUNDLED_NAME
pytestmark = pytest.mark.skipif(BUNDLED is None, reason="this installation has no bundled model")


@pytest.fixture(autouse=True)
def no_hub(monkeypatch):
    """Any attempt to reach the Hub fails the test."""
    def refuse(repo_id, filename, **kwargs):
        raise AssertionError(f"the Hub was asked for {filename} of {repo_id}")
    monkeypatch.setattr(hub, "_hub_download", refuse)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    loading.clear_cache()
    yield
    loading.clear_cache()


def test_the_short_name_is_the_bundled_folder():
    assert NAME == "albert-tiny-en"
    assert pretrained.resolve_name(NAME) == BUNDLED
    assert pretrained.resolve_name("albert/albert-base-v2") == "albert/albert-base-v2"
    assert hub.is_local(NAME)
    assert hub.resolve_file(NAME, "config.json") == os.path.join(BUNDLED, "config.json")


def test_every_class_loads_it_by_name():
    ids = np.array([[2, 14, 4, 9, 3]])
    by_name = albert_np.AlbertForMaskedLM.from_pretrained(NAME)
    by_path = albert_np.AlbertForMaskedLM.from_pretrained(BUNDLED)
    np.testing.assert_array_equal(by_name(input_ids=ids).logits, by_path(input_ids=ids).logits)
    assert albert_np.AlbertConfig.from_pretrained(NAME) == albert_np.AlbertConfig.from_pretrained(BUNDLED)
    assert type(albert_np.AutoModel.from_pretrained(NAME)).__name__ == "AlbertModel"
    text = "The capital of France is [MASK]."
    for cls in (albert_np.AlbertTokenizer, albert_np.AlbertTokenizerFast, albert_np.AutoTokenizer):
        assert cls.from_pretrained(NAME)(text)["input_ids"] == cls.from_pretrained(BUNDLED)(text)["input_ids"]


def test_tasks_and_pipeline_take_it():
    text = "The capital of France is [MASK]."
    want = albert_np.fill_mask(text, model=BUNDLED, top_k=3)
    assert albert_np.fill_mask(text, model=NAME, top_k=3) == want
    assert albert_np.pipeline("fill-mask", model=NAME)(text, top_k=3) == want
    np.testing.assert_array_equal(albert_np.embed("a short text", model=NAME),
                                  albert_np.embed("a short text", model=BUNDLED))
    # one cache entry for the name and the folder
    assert ("fill-mask", BUNDLED, None, "auto") in loading._cache


def test_the_command_line_takes_it(capsys):
    text = "The capital of France is [MASK]."
    assert main(["fill-mask", text, "--model", NAME, "--top-k", "2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == albert_np.fill_mask(text, model=BUNDLED, top_k=2)
    assert main(["info", "--model", NAME, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["class"] == "AlbertForPreTraining"


def test_a_folder_of_that_name_wins(tmp_path, monkeypatch):
    config = albert_np.AlbertConfig(vocab_size=40, embedding_size=8, hidden_size=16, num_hidden_layers=1,
                                    num_attention_heads=2, intermediate_size=20, max_position_embeddings=16)
    albert_np.AlbertForMaskedLM(config).save_pretrained(tmp_path / NAME)
    monkeypatch.chdir(tmp_path)
    assert pretrained.resolve_name(NAME) == NAME
    assert albert_np.AlbertForMaskedLM.from_pretrained(NAME).config.vocab_size == 40


def test_an_installation_without_it_says_so(monkeypatch):
    monkeypatch.setattr(pretrained, "bundled_model", lambda: None)
    with pytest.raises(FileNotFoundError, match="albert_np's bundled model, but this installation has none"):
        albert_np.AlbertForMaskedLM.from_pretrained(NAME)


def test_readme_shows_the_real_output_of_make_demo():
    """README's `make demo` block is what the Makefile's demo command prints now, on the bundled model."""
    import re
    import shlex
    import subprocess
    import sys
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    makefile = open(os.path.join(root, "Makefile"), encoding="utf-8").read()
    recipe = re.search(r"^demo:.*\n\t\$\(PY\) (.*)$", makefile, re.M).group(1)
    assert recipe.count("[MASK]") == 3 and "The cat sat on the [MASK]." in recipe
    readme = open(os.path.join(root, "README.md"), encoding="utf-8").read()
    block = re.search(r"`make demo` prints.*?```text\n(.*?)```", readme, re.S).group(1).splitlines()
    assert block[0] == ".venv/bin/python " + recipe
    env = dict(os.environ, HF_HUB_OFFLINE="1", OPENBLAS_NUM_THREADS="1")
    done = subprocess.run([sys.executable] + shlex.split(recipe), cwd=root, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() + done.stdout.splitlines() == block[1:]
