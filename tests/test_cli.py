"""The command line: python -m albert_np {fill-mask, classify, tag, qa, embed, info}.

Most tests call main(argv) in-process (fast); a few run `python -m albert_np` for real,
including the offline case: exit status 2, a message naming the cause and the fix, no traceback.
"""
import argparse
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


# %% One error prefix, and no option that does nothing ---------------------------------------------

COMMANDS = ["fill-mask", "classify", "tag", "qa", "embed", "info", "explain", "convert", "finetune", "pretrain",
            "pretrain-vocab", "pretrain-export", "pretrain-eval"]


def test_the_commands_are_all_listed():
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert sorted(sub.choices) == sorted(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_a_bad_option_gets_the_error_prefix(capsys, command):
    with pytest.raises(SystemExit) as e:
        main([command, "--no-such-option"])
    err = capsys.readouterr().err
    assert e.value.code == 2
    # a command whose arguments all parse leaves the unknown option to the top-level parser
    last = err.splitlines()[-1]
    assert last.startswith((f"albert_np: error: {command}: ", "albert_np: error: unrecognized arguments")), err


def test_usage_names_the_console_command(capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["/venv/bin/albert-np", "qa"])
    with pytest.raises(SystemExit):
        main(["qa"])
    err = capsys.readouterr().err
    assert err.startswith("usage: albert-np qa") and "albert_np: error: qa: the following arguments" in err


NO_SUCH = os.path.join(ROOT, "no", "such", "path")


@pytest.mark.parametrize("argv", [
    ["fill-mask", "no mask here", "--model", MLM],
    ["classify", "a text"],
    ["tag", "a text"],
    ["qa", "--question", "q", "--context", "c"],
    ["embed", "a text", "--model", NO_SUCH],
    ["info", "--model", NO_SUCH],
    ["explain", "a text", "--out", "page.html", "--model", NO_SUCH],
    ["convert", NO_SUCH, "out"],
    ["finetune", "--task", "sst2", "--model", NO_SUCH, "--train", NO_SUCH + ".tsv", "--out", "run"],
    ["pretrain", "--out", "run", "--tokenizer", NO_SUCH + ".model", "--max-steps", "1"],
    ["pretrain-vocab", "--out", "vocab/spiece", "--data-dir", NO_SUCH, "--max-sentences", "10"],
    ["pretrain-export", "--checkpoint", NO_SUCH, "--tokenizer", NO_SUCH, "--out", "export"],
    ["pretrain-eval", "--model", NO_SUCH],
], ids=lambda argv: argv[0])
def test_every_command_reports_errors_with_the_prefix(capsys, monkeypatch, tmp_path, argv):
    monkeypatch.chdir(tmp_path)
    status, out, err = run(capsys, *argv)
    assert status == 2, (out, err)
    assert "albert_np: error: " in err and "Traceback" not in err, err


class RecordingNamespace(argparse.Namespace):
    """A Namespace that notes which options a command reads."""

    def __getattribute__(self, name):
        if not name.startswith("_"):
            object.__getattribute__(self, "__dict__").setdefault("_read", set()).add(name)
        return object.__getattribute__(self, name)


def _stub(result):
    def call(*args, **kwargs):
        return result
    return call


@pytest.mark.parametrize("argv", [
    ["fill-mask", "a [MASK]", "--top-k", "2", "--targets", "a"],
    ["classify", "a", "--text-pair", "b", "--function", "none", "--top-k", "0", "--model", MLM],
    ["tag", "a", "--aggregation", "first", "--model", MLM],
    ["qa", "--question", "q", "--context", "c", "--doc-stride", "8", "--max-answer-len", "3", "--max-seq-len", "64",
     "--max-question-len", "8", "--handle-impossible-answer", "--top-k", "2", "--model", MLM],
    ["embed", "a", "--pooling", "mean"],
    ["info", "--model", MLM],
    ["explain", "a [MASK]", "--pair", "b", "--out", "p.html", "--top-k", "2", "--no-truncation"],
], ids=lambda argv: argv[0])
def test_every_option_of_a_command_is_read(monkeypatch, tmp_path, capsys, argv):
    """An option the command never reads does nothing: each option must be read by the command's main."""
    class Pipe:
        def __init__(self, *args, **kwargs):
            pass

        def __call__(self, *args, **kwargs):
            return [[{"label": "x", "score": 1.0}]]

    class Page:
        data = {"tokens": {"ids": [1]}, "model": {"name": "m", "class": "c"}}

        def save(self, path):
            open(path, "w").close()
            return path
    monkeypatch.setattr(cli, "fill_mask", _stub([{"score": 1.0, "token_str": "a", "sequence": "a a"}]))
    monkeypatch.setattr(cli, "TextClassificationPipeline", Pipe)
    monkeypatch.setattr(cli, "tag_tokens", _stub([[]]))
    monkeypatch.setattr(cli, "answer_question", _stub([{"score": 1.0, "start": 0, "end": 1, "answer": "c"}]))
    monkeypatch.setattr(cli, "embed", _stub(np.zeros((1, 2), np.float32)))
    monkeypatch.setattr(cli, "explain", _stub(Page()))
    monkeypatch.chdir(tmp_path)
    parser = cli.build_parser()
    args = parser.parse_args(argv + ["--json"] * (argv[0] not in ("explain",)), namespace=RecordingNamespace())
    args.__dict__.pop("_read", None)
    assert (args.func(args) or 0) == 0
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[argv[0]]
    options = {a.dest for a in sub._actions if a.dest != "help"}
    assert options - args.__dict__.get("_read", set()) == set(), f"{argv[0]}: options that do nothing"
    capsys.readouterr()


def test_info_takes_no_batch_size_or_tokenizer(capsys):
    for option in ("--batch-size", "--tokenizer"):
        with pytest.raises(SystemExit):
            main(["info", "--model", MLM, option, "8"])
        assert f"unrecognized arguments: {option} 8" in capsys.readouterr().err
