"""The command line: python -m albert_np {fill-mask, classify, tag, qa, embed, info}.

Most tests call main(argv) in-process (fast); a few run `python -m albert_np` for real,
including the offline case: exit status 2, a message naming the cause and the fix, no traceback.
"""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import albert_np
import albert_np.pretrained

from albert_np import tasks
from albert_np import __main__ as cli
from albert_np.__main__ import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "tests", "fixtures", "tasks")
MLM = os.path.join(FIXTURES, "mlm")


def run(capsys, *argv):
    """(exit status, stdout, stderr) of main(argv)."""
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def python_m(*argv, env=None):
    return subprocess.run([sys.executable, "-m", "albert_np", *argv], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, **(env or {})}, timeout=120)


def test_fill_mask_json_equals_the_function(capsys):
    text = "john and emma lived in [MASK] before the war"
    status, out, _ = run(capsys, "fill-mask", text, "--model", MLM, "--top-k", "3", "--json")
    assert status == 0
    assert json.loads(out) == tasks.fill_mask(text, model=MLM, top_k=3)


def test_fill_mask_text_output_and_stdin(capsys, monkeypatch):
    import io
    monkeypatch.setattr(sys, "stdin", io.StringIO("the film was [MASK] in may.\n\nthe [MASK] won\n"))
    status, out, _ = run(capsys, "fill-mask", "-", "--model", MLM, "--top-k", "2")
    assert status == 0
    lines = out.splitlines()
    assert lines[0] == "the film was [MASK] in may." and len(lines) == 6
    best = tasks.fill_mask("the film was [MASK] in may.", model=MLM, top_k=1)[0]
    assert lines[1].split()[:2] == [f"{best['score']:.4f}", best["token_str"]]


def test_classify_tag_qa_embed(capsys):
    model = ["--tokenizer", MLM, "--json"]
    status, out, _ = run(capsys, "classify", "the film was released", "--model",
                         os.path.join(FIXTURES, "seq_single_label"), "--top-k", "0", *model)
    labels = json.loads(out)[0]
    assert status == 0 and sorted(x["label"] for x in labels) == ["negative", "neutral", "positive"]
    status, out, _ = run(capsys, "tag", "john and emma lived in alaska", "--model",
                         os.path.join(FIXTURES, "token_cls"), "--aggregation", "first", *model)
    assert status == 0 and json.loads(out) == [tasks.tag_tokens("john and emma lived in alaska",
                                                                os.path.join(FIXTURES, "token_cls"), "first",
                                                                tokenizer=MLM)]
    status, out, _ = run(capsys, "qa", "--question", "who visited russia?", "--context",
                         "the president of albania visited russia", "--model", os.path.join(FIXTURES, "qa"),
                         "--handle-impossible-answer", "--top-k", "2", *model)
    answers = json.loads(out)
    assert status == 0 and len(answers) == 2 and {"score", "start", "end", "answer"} == set(answers[0])
    status, out, _ = run(capsys, "embed", "the film", "emma", "--model", MLM, "--pooling", "mean", "--json")
    assert status == 0
    np.testing.assert_allclose(json.loads(out), tasks.embed(["the film", "emma"], MLM, pooling="mean"), rtol=1e-6)


def test_info(capsys):
    status, out, _ = run(capsys, "info", "--model", MLM, "--json")
    info = json.loads(out)
    model = tasks.load_model(MLM, "fill-mask")
    assert status == 0
    assert info["class"] == "AlbertForMaskedLM" and info["task"] == "fill-mask"
    assert info["parameters"] == model.num_parameters()
    assert [os.path.basename(f) for f in info["files"]] == ["config.json", "model.safetensors"]
    assert "spiece.model" in [os.path.basename(f) for f in info["tokenizer_files"]]
    assert info["config"]["hidden_size"] == 32
    status, out, _ = run(capsys, "info", "--model", MLM)
    assert status == 0 and "parameters  27,005" in out


def test_bad_input_exits_2_with_a_message(capsys):
    status, out, err = run(capsys, "fill-mask", "no mask here", "--model", MLM)
    assert status == 2 and err.startswith("albert_np: error: no [MASK] in 'no mask here'") and not out
    status, _, err = run(capsys, "classify", "a text")
    assert status == 2 and "classify needs --model" in err
    status, _, err = run(capsys, "fill-mask", "the [MASK]", "--model", os.path.join(ROOT, "no", "such", "folder"))
    assert status == 2 and "is not a folder on this machine" in err


def test_offline_hub_exits_2_without_traceback(tmp_path):
    done = python_m("fill-mask", "The capital of France is [MASK].", "--model", "albert/albert-base-v2",
                    env={"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path), "HF_HUB_CACHE": str(tmp_path / "hub")})
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "Hub is unreachable" in done.stderr and "--model /path/to/folder" in done.stderr


def test_default_model_works_offline_and_is_announced(tmp_path):
    """With no model and no Hub, fill-mask runs on the model shipped in the package."""
    assert tasks.DEFAULT_MODEL == albert_np.pretrained.bundled_model(), "the package ships its model"
    done = python_m("fill-mask", "The capital of France is [MASK].", "--json",
                    env={"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path), "HF_HUB_CACHE": str(tmp_path / "hub")})
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert "No model given: using the default, albert_np's bundled albert-tiny-en" in done.stderr
    result = json.loads(done.stdout)
    assert len(result) == 5 and all(r["sequence"].startswith("the capital of france is") for r in result)
    assert result == sorted(result, key=lambda r: -r["score"])


def test_a_hub_model_offline_says_what_to_do(tmp_path):
    done = python_m("fill-mask", "The capital of France is [MASK].", "--model", "albert/albert-base-v2",
                    env={"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path), "HF_HUB_CACHE": str(tmp_path / "hub")})
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "Hub is unreachable" in done.stderr and "--model /path/to/folder" in done.stderr


def test_python_m_runs_and_lists_the_commands():
    done = python_m("--help")
    assert done.returncode == 0
    for name in ("fill-mask", "classify", "tag", "qa", "embed", "info"):
        assert name in done.stdout
    done = python_m("fill-mask", "the film was [MASK] in may.", "--model", MLM, "--top-k", "1", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == tasks.fill_mask("the film was [MASK] in may.", model=MLM, top_k=1)


def test_a_command_returns_its_exit_status(capsys, monkeypatch):
    def run_it(args):
        print("hello " * len(args.texts))
        return 3
    monkeypatch.setattr(cli, "_embed_main", run_it)        # build_parser sets it as the command's func
    status, out, _ = run(capsys, "embed", "a", "b")
    assert status == 3 and out.split() == ["hello", "hello"]


def test_no_command_prints_help(capsys):
    status, out, _ = run(capsys)
    assert status == 2 and "fill-mask" in out


@pytest.mark.parametrize("argv", [["qa", "--question", "q"], ["tag"]])
def test_argparse_errors_exit_2(capsys, argv):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
