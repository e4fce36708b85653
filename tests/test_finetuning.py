"""finetuning.py (through train.py's loop): a tiny model overfits 16 examples; a killed and resumed run
continues with bit-identical losses and weights; NaN stops the run with the last
good checkpoint kept; bad settings and data fail with clear errors; the CLI runs
end to end on tiny files.
"""
import importlib.util
import json
import logging
import os
import sys

import numpy as np
import pytest

from albert_np import step
from albert_np.training import train
from albert_np.training import checkpoints
from albert_np.training import features as F
from albert_np.config import AlbertConfig
from albert_np.training.finetuning import finetune, finetune_main, tokenizer_for
from albert_np.modeling import AlbertModel, model_class
from albert_np.training.train import NonFiniteLossError

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_features import make_tokenizer  # noqa: E402

POSITIVE = ["a good film", "a great movie", "brilliant cast", "funny and fine", "the actors were great",
            "a fine story", "good music", "a brilliant director"]
NEGATIVE = ["a bad film", "an awful movie", "dull cast", "boring and terrible", "the plot was bad",
            "a dull story", "awful music", "a terrible script"]
SIXTEEN = [(s, 1) for s in POSITIVE] + [(s, 0) for s in NEGATIVE]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A tiny random ALBERT (bare encoder) + tokenizer saved as a model folder."""
    return tiny_model_folder(tmp_path_factory.mktemp("tiny"))


def tiny_model_folder(root):
    """A tiny random ALBERT (bare encoder, dropout 0.1) + tokenizer saved in root/model; returns its path."""
    os.makedirs(root, exist_ok=True)
    tok = make_tokenizer(str(root))
    config = AlbertConfig(vocab_size=tok.vocab_size, embedding_size=16, hidden_size=32, num_hidden_layers=2,
                          num_attention_heads=2, intermediate_size=64, max_position_embeddings=64,
                          hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1,
                          classifier_dropout_prob=0.1)
    path = str(root / "model")
    AlbertModel(config, seed=0).save_pretrained(path)
    tok.save_pretrained(path)
    return path


def train_losses(log):
    return [(e["step"], e["loss"]) for e in log if e["type"] == "train"]


def read_log(out):
    with open(os.path.join(out, "log.jsonl"), encoding="utf-8") as f:
        return [json.loads(line) for line in f]


QUIET = dict(progress=False, plot=False)


def test_tiny_model_overfits_sixteen_examples(folder, tmp_path):
    result = finetune("sst2", folder, SIXTEEN, SIXTEEN, tmp_path / "out", max_steps=60, batch_size=8,
                      learning_rate=3e-3, warmup=0, eval_every=10, seed=0, weight_decay=0.0,
                      config_overrides={"hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0,
                                        "classifier_dropout_prob": 0.0}, **QUIET)
    assert result.metrics["accuracy"] == 1.0
    losses = [loss for _, loss in train_losses(result.log)]
    assert losses[-1] < 0.05 and losses[0] > 0.5
    # the returned model is the best checkpoint, and best/ holds it
    assert result.best_metric == 1.0 and result.best_step <= 60
    best = model_class("sequence").from_pretrained(tmp_path / "out" / "best")
    for k, v in best.state_dict().items():
        np.testing.assert_array_equal(v, result.model.state_dict()[k])
    with open(tmp_path / "out" / "best" / "best_metrics.json") as f:
        assert json.load(f)["accuracy"] == 1.0


def test_tiny_model_overfits_tagging(folder, tmp_path):
    rows = [(["Paris", "is", "great"], ["B-location", "O", "O"]),
            (["the", "London", "team", "won"], ["O", "B-group", "I-group", "O"]),
            (["Tesla", "makes", "cars"], ["B-corporation", "O", "O"]),
            (["I", "met", "John", "Smith"], ["O", "O", "B-person", "I-person"])] * 2
    result = finetune("wnut17", folder, rows, rows, tmp_path / "tag", max_steps=80, batch_size=4,
                      learning_rate=3e-3, warmup=0, eval_every=40, weight_decay=0.0,
                      config_overrides={"hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0,
                                        "classifier_dropout_prob": 0.0}, **QUIET)
    assert result.metrics == {"precision": 1.0, "recall": 1.0, "f1": 1.0}


RESUME = dict(max_steps=8, batch_size=4, grad_accum=2, learning_rate=2e-3, warmup=2, save_every=4,
              keep_checkpoints=2, seed=7, **QUIET)
TRAIN24 = SIXTEEN + [(s + " indeed", y) for s, y in SIXTEEN[::2]]          # 6 micro-batches: 3 steps/epoch


def test_resume_after_a_kill_is_bit_identical(folder, tmp_path, monkeypatch):
    straight = finetune("sst2", folder, TRAIN24, SIXTEEN, tmp_path / "a", **RESUME)

    real = step.loss_and_grads
    calls = {"n": 0}

    def dies_in_step_6(*args, **kwargs):              # micro-batch 11 = first half of step 6
        calls["n"] += 1
        if calls["n"] == 11:
            raise KeyboardInterrupt("simulated kill")
        return real(*args, **kwargs)

    monkeypatch.setattr(step, "loss_and_grads", dies_in_step_6)
    with pytest.raises(KeyboardInterrupt):
        finetune("sst2", folder, TRAIN24, SIXTEEN, tmp_path / "b", **RESUME)
    assert [s for s, _ in train_losses(read_log(tmp_path / "b"))] == [1, 2, 3, 4, 5]
    assert checkpoints.latest_checkpoint(tmp_path / "b").endswith("checkpoint-4")
    monkeypatch.setattr(step, "loss_and_grads", real)

    resumed = finetune("sst2", folder, TRAIN24, SIXTEEN, tmp_path / "b", resume_from="latest", **RESUME)
    # epoch boundaries at steps 3 and 6, dropout on, 2 micro-batches a step: all continue exactly
    assert train_losses(resumed.log) == train_losses(straight.log)
    assert train_losses(read_log(tmp_path / "b")) == train_losses(straight.log)      # step 5 logged once
    evals = [{k: v for k, v in e.items() if k not in ("time", "eval_seconds", "train_examples_per_second")}
             for e in resumed.log if e["type"] == "eval"]
    assert evals == [{k: v for k, v in e.items() if k not in ("time", "eval_seconds", "train_examples_per_second")}
                     for e in straight.log if e["type"] == "eval"]
    a, b = straight.model.state_dict(), resumed.model.state_dict()
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    for name in ("trainer_state.json", "optimizer.npz", "model.safetensors", "data_order.npz", "log.jsonl"):
        assert os.path.isfile(tmp_path / "b" / "checkpoint-8" / name)


def test_checkpoint_holds_the_training_state(folder, tmp_path):
    finetune("sst2", folder, TRAIN24, None, tmp_path / "c", **dict(RESUME, max_steps=4))
    ckpt = tmp_path / "c" / "checkpoint-4"
    state = json.loads((ckpt / "trainer_state.json").read_text())
    assert (state["global_step"], state["epoch"], state["batch_pos"]) == (4, 1, 2)
    assert state["rng_state"]["bit_generator"] == "PCG64"
    with np.load(ckpt / "data_order.npz") as z:
        assert sorted(z["order"].tolist()) == list(range(24)) and z["sizes"].sum() == 24
    with np.load(ckpt / "optimizer.npz") as z:
        assert any(k.startswith("exp_avg::albert.embeddings") for k in z.files)
    # an interrupted write leaves only a temp folder, which resume ignores
    os.makedirs(tmp_path / "c" / ".tmp-checkpoint-6-xyz")
    os.makedirs(tmp_path / "c" / "checkpoint-9")                   # no trainer_state.json: incomplete
    assert checkpoints.latest_checkpoint(tmp_path / "c").endswith("checkpoint-4")


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(folder, tmp_path, monkeypatch):
    real = step.loss_and_grads

    def nan_in_step_5(*args, **kwargs):
        loss, outputs, grads = real(*args, **kwargs)
        nan_in_step_5.n += 1
        return (float("nan") if nan_in_step_5.n == 9 else loss), outputs, grads
    nan_in_step_5.n = 0
    monkeypatch.setattr(step, "loss_and_grads", nan_in_step_5)
    out = tmp_path / "nan"
    with pytest.raises(NonFiniteLossError, match=r"loss became nan at step 5 .*checkpoint-4"):
        finetune("sst2", folder, TRAIN24, SIXTEEN, out, **dict(RESUME, save_every=2))
    assert checkpoints.latest_checkpoint(out).endswith("checkpoint-4")
    assert not any(n.startswith("checkpoint-") and int(n.split("-")[1]) > 4 for n in os.listdir(out))
    assert read_log(out)[-1]["type"] == "error" and read_log(out)[-1]["step"] == 5
    monkeypatch.setattr(step, "loss_and_grads", real)
    resumed = finetune("sst2", folder, TRAIN24, SIXTEEN, out, resume_from="latest", **dict(RESUME, save_every=2))
    assert resumed.global_step == 8 and np.isfinite([l for _, l in train_losses(resumed.log)]).all()


def test_nan_in_the_weights_is_caught_too(folder, tmp_path):
    from albert_np.modeling import AlbertForSequenceClassification
    model = AlbertForSequenceClassification.from_pretrained(folder, num_labels=2)
    model.params["classifier"]["weight"][0, 0] = np.nan
    tok = tokenizer_for(folder, folder)
    with pytest.raises(NonFiniteLossError, match="at step 1 .*no checkpoint was written yet"):
        finetune("sst2", model, SIXTEEN, None, tmp_path / "w", tokenizer=tok, max_steps=2, **QUIET)


@pytest.mark.parametrize("settings, pattern", [
    (dict(learning_rate=0.0), r"learning_rate must be a number > 0, got 0.0"),
    (dict(learning_rate=-1e-5), r"learning_rate must be a number > 0, got -1e-05"),
    (dict(batch_size=0), r"batch_size must be a positive int, got 0"),
    (dict(grad_accum=1.5), r"grad_accum must be a positive int"),
    (dict(schedule="cosine"), r"schedule must be 'linear', 'constant' or 'polynomial'"),
])
def test_bad_settings(folder, tmp_path, settings, pattern):
    with pytest.raises(ValueError, match=pattern):
        finetune("sst2", folder, SIXTEEN, None, tmp_path / "x", **settings, **QUIET)


def test_bad_data_fails_before_training(folder, tmp_path):
    (tmp_path / "train.tsv").write_text("text\tlabel\na fine film\t1\n")
    with pytest.raises(ValueError, match=r"column 'sentence' is missing.*\['label', 'text'\]"):
        finetune("sst2", folder, tmp_path / "train.tsv", None, tmp_path / "x", **QUIET)
    with pytest.raises(TypeError, match="label 0.7, a float"):
        finetune("sst2", folder, [("a film", 0.7)], None, tmp_path / "x", **QUIET)
    with pytest.raises(TypeError, match="unknown settings \\['lr'\\]"):
        finetune("sst2", folder, SIXTEEN, None, tmp_path / "x", lr=1e-3)


def test_wrong_label_shape_or_dtype_in_a_batch(folder, tmp_path, monkeypatch):
    """Labels that reach the loss with a wrong shape / dtype fail clearly (not deep in NumPy)."""
    real = F.collate

    def float_labels(*args, **kwargs):
        inputs, labels = real(*args, **kwargs)
        return inputs, {"labels": labels["labels"].astype(np.float32)}
    monkeypatch.setattr(F, "collate", float_labels)
    with pytest.raises(TypeError, match="labels must hold integers"):
        finetune("sst2", folder, SIXTEEN, None, tmp_path / "x", max_steps=1, **QUIET)

    def wrong_shape(*args, **kwargs):
        inputs, labels = real(*args, **kwargs)
        return inputs, {"labels": labels["labels"][:, None]}
    monkeypatch.setattr(F, "collate", wrong_shape)
    with pytest.raises(ValueError, match=r"labels has shape \(8, 1\); expected \(8,\)"):
        finetune("sst2", folder, SIXTEEN, None, tmp_path / "y", max_steps=1, batch_size=8, **QUIET)


@pytest.mark.parametrize("task, rows, metric", [
    ("wnut17", [(["Paris", "is", "great"], ["B-location", "O", "O"]),
                (["the", "London", "team"], ["O", "B-group", "I-group"])] * 3, "f1"),
    ("stsb", [("a good film", "a great film", 4.5), ("a dull plot", "paris", 0.5),
              ("funny", "boring", 1.0), ("the cast", "the actors", 3.8)], "spearman"),
    ("cosmosqa", [{"context": s, "question": "how was it ?", "answer0": "good", "answer1": "bad",
                   "answer2": "dull", "answer3": "fine", "label": str(i % 4)}
                  for i, s in enumerate(POSITIVE[:6])], "accuracy"),
])
def test_every_head_trains_and_checkpoints(folder, tmp_path, task, rows, metric):
    result = finetune(task, folder, rows, rows, tmp_path / task, max_steps=3, batch_size=2,
                      learning_rate=1e-3, eval_every=3, **QUIET)
    assert metric in result.metrics and result.global_step == 3
    assert os.path.isfile(tmp_path / task / "best" / "model.safetensors")


def test_squad_trains_on_windows(folder, tmp_path):
    ctx = " ".join(f"the team played game {i} in london ." for i in range(12))
    rows = [{"id": str(i), "question": f"where was game {i} played ?", "context": ctx,
             "answers": {"text": ["london"], "answer_start": [ctx.index(f"game {i} in london") + len(f"game {i} in ")]}}
            for i in range(4)]
    result = finetune("squad", folder, rows, rows, tmp_path / "sq", max_steps=2, batch_size=4, max_length=48,
                      doc_stride=16, **QUIET)
    assert set(result.metrics) == {"exact_match", "f1"}


def test_plot_curves(tmp_path):
    pytest.importorskip("matplotlib")
    log = [{"type": "train", "step": i, "loss": 1.0 / i} for i in range(1, 120)]
    log += [{"type": "eval", "step": 60, "accuracy": 0.6}, {"type": "eval", "step": 119, "accuracy": 0.7}]
    path = train.plot_curves(log, str(tmp_path / "c.png"), "accuracy")
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def restore_logging():
    """The CLI sets the albert_np logger's level; put it back for the other tests."""
    logger = logging.getLogger("albert_np")
    level = logger.level
    yield
    logger.setLevel(level)


def test_cli_end_to_end(folder, tmp_path, capsys, restore_logging):
    train = tmp_path / "train.tsv"
    train.write_text("sentence\tlabel\n" + "".join(f"{s}\t{y}\n" for s, y in SIXTEEN))
    out = tmp_path / "cli"
    argv = ["--task", "sst2", "--model", folder, "--train", str(train), "--dev", str(train), "--out", str(out),
            "--max-steps", "4", "--batch-size", "8", "--lr", "1e-3", "--eval-every", "2", "--seed", "1",
            "--max-length", "32", "--limit-train", "12", "--no-progress"]
    assert finetune_main(argv) == 0
    printed = capsys.readouterr().out
    assert "task sst2: 4 steps" in printed and "accuracy" in printed
    assert os.path.isfile(out / "best" / "config.json") and os.path.isfile(out / "best" / "spiece.model")
    has_matplotlib = importlib.util.find_spec("matplotlib") is not None
    assert os.path.isfile(out / "curves.png") == has_matplotlib        # the PNG only with matplotlib
    log = read_log(out)
    assert [e["step"] for e in log if e["type"] == "eval"] == [2, 4]
    assert sum(e["examples"] for e in log if e["type"] == "train") == 2 * 12     # 2 epochs of 8 + 4
    # resuming a finished run does no more steps
    assert finetune_main(argv + ["--resume"]) == 0
    assert len([e for e in read_log(out) if e["type"] == "train"]) == 4
    # a bad file: exit code 2 and the message on stderr
    bad = tmp_path / "bad.tsv"
    bad.write_text("text\tlabel\nfine\t1\n")
    assert finetune_main(argv[:5] + [str(bad)] + argv[6:]) == 2
    assert "already holds checkpoints ['checkpoint-2', 'checkpoint-4']" in capsys.readouterr().err
    assert finetune_main(argv[:5] + [str(bad)] + argv[6:] + ["--overwrite"]) == 2
    assert "column 'sentence' is missing" in capsys.readouterr().err
    # --overwrite starts again from step 0 in the same folder
    assert finetune_main(argv + ["--overwrite", "--max-steps", "2"]) == 0
    assert [e["step"] for e in read_log(out) if e["type"] == "train"] == [1, 2]
    assert sorted(n for n in os.listdir(out) if n.startswith("checkpoint-")) == ["checkpoint-2"]


def test_a_nan_metric_never_counts_as_best():
    better = train._better
    assert better(float("nan"), None) and better(0.1, float("nan")) and better(0.2, 0.1)
    assert not better(float("nan"), 0.1) and not better(0.1, 0.2) and not better(0.1, 0.1)


def test_no_png_without_matplotlib(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)           # `import matplotlib` fails
    assert train.plot_curves([{"type": "train", "step": 1, "loss": 1.0}], str(tmp_path / "c.png")) is None
    assert not os.path.exists(tmp_path / "c.png")
