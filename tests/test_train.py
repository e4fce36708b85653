"""train.py: fine-tuning and pretraining write one checkpoint format, and the
checkpoints of the two loops it replaced (training.py and pretraining.py at
commit ef93ff5) still resume, with the losses of a run that never stopped.
The settings: one dataclass (LoopSettings, extended by FinetuneSettings and
PretrainSettings), the commands' options made from it, the old option names
and the old names in checkpoints.
"""
import dataclasses
import json
import logging
import os
import shutil
import sys

import numpy as np
import pytest

import albert_np
from albert_np.__main__ import build_parser
from albert_np.training.finetuning import FinetuneSettings, finetune
from albert_np.training.model_card import export_bundled
from albert_np.modeling import model_class
from albert_np.training.pretraining import PretrainSettings
from albert_np.training.settings import RENAMED_SETTINGS, settings_from_args, warmup_steps_of
from albert_np.training.checkpoints import latest_checkpoint, read_checkpoint_state
from albert_np.training import train as loop

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_pretraining import TEXT  # noqa: E402
from test_pretraining import make as make_pretrainer  # noqa: E402
from test_finetuning import QUIET, RESUME, SIXTEEN, TRAIN24, folder, read_log, train_losses  # noqa: E402,F401

MODEL_FILES = {"config.json", "model.safetensors"}
TOKENIZER_FILES = {"spiece.model", "tokenizer_config.json", "special_tokens_map.json", "tokenizer.json"}
SHARED_KEYS = {"version", "global_step", "total_steps", "warmup_steps", "head", "rng_state", "optimizer",
               "best", "examples_seen", "train_seconds", "cpu_seconds", "mpi_ranks", "args",
               "evals_without_improvement",                         # early stopping's count
               "data_fingerprint"}


def read_state(checkpoint):
    with open(os.path.join(checkpoint, "trainer_state.json"), encoding="utf-8") as f:
        return json.load(f)


def moment_kinds(checkpoint):
    with np.load(os.path.join(checkpoint, "optimizer.npz")) as z:
        return {k.split("::")[0] for k in z.files}


def test_fine_tuning_and_pretraining_write_one_checkpoint_format(folder, tmp_path):
    finetune("sst2", folder, SIXTEEN, None, tmp_path / "ft", max_steps=3, batch_size=4, **QUIET)  # mid-epoch
    make_pretrainer(tmp_path / "pt", 3).train()
    ft, pt = tmp_path / "ft" / "checkpoint-3", tmp_path / "pt" / "checkpoint-3"
    files = MODEL_FILES | TOKENIZER_FILES | {"optimizer.npz", "log.jsonl", "trainer_state.json"}
    assert set(os.listdir(ft)) == files | {"data_order.npz"}          # + this epoch's batch order
    assert set(os.listdir(pt)) == files
    a, b = read_state(ft), read_state(pt)
    assert set(a) == SHARED_KEYS | {"epoch", "batch_pos", "num_train_features"}
    assert set(b) == SHARED_KEYS | {"data_state"}
    assert a["version"] == b["version"] == 2 and a["global_step"] == b["global_step"] == 3
    assert set(a["optimizer"]) == set(b["optimizer"]) == {"name", "step", "lr", "betas", "eps", "weight_decay"}
    assert moment_kinds(ft) == moment_kinds(pt) == {"exp_avg", "exp_avg_sq"}    # "exp_avg::<name>"
    # each checkpoint is a model folder as it is
    model_class("sequence").from_pretrained(ft)
    albert_np.AlbertForPreTraining.from_pretrained(pt)
    assert [e["step"] for e in read_log(pt) if e["type"] == "train"] == [1, 2, 3]


# ------------------------------------------------------------- the layouts of commit ef93ff5

def write_old_finetune_checkpoint(new, out_dir):
    """The checkpoint training.py wrote at ef93ff5 (trainer_state version 1), holding `new`'s run state.

    Files: config.json, model.safetensors, tokenizer files, optimizer.npz ("exp_avg::<name>"),
    data_order.npz (order, sizes), log.jsonl, trainer_state.json without cpu_seconds.
    """
    state = read_state(new)
    old = os.path.join(out_dir, f"checkpoint-{state['global_step']}")
    os.makedirs(old)
    for name in MODEL_FILES | TOKENIZER_FILES | {"optimizer.npz", "data_order.npz"}:
        shutil.copy(os.path.join(new, name), old)
    keep = ("global_step", "epoch", "batch_pos", "total_steps", "warmup_steps", "num_train_features",
            "rng_state", "optimizer", "best", "examples_seen", "train_seconds", "args")
    v1 = {"version": 1, "task": "sst2", "head": "sequence", **{k: state[k] for k in keep}}
    with open(os.path.join(old, "trainer_state.json"), "w", encoding="utf-8") as f:
        json.dump(v1, f, indent=1)
    with open(os.path.join(old, "log.jsonl"), "w", encoding="utf-8") as f:
        for e in read_log(new):
            f.write(json.dumps({k: v for k, v in e.items() if k not in ("examples_per_second", "cpu_seconds")})
                    + "\n")
    return old


def old_setting_names(args):
    """Settings under the names pretraining.py's PretrainArgs gave them (steps, lr, warmup_steps)."""
    old = {new: old for old, new in RENAMED_SETTINGS.items()}
    return {old.get(k, k): v for k, v in args.items()}


def write_old_pretraining_checkpoint(new, out_dir, log):
    """The checkpoint pretraining.py wrote at ef93ff5, holding `new`'s run state.

    Files: model/ (config.json, model.safetensors), optimizer.npz ("exp_avg/<name>"),
    trainer_state.json {step, data_state, cpu_seconds, optimizer (no name), rng, args};
    no tokenizer and no log in the folder: the log is out_dir/log.jsonl (here with
    entries after the checkpoint too, as a run killed later leaves it).
    """
    state = read_state(new)
    old = os.path.join(out_dir, f"checkpoint-{state['global_step']}")
    os.makedirs(os.path.join(old, "model"))
    for name in MODEL_FILES:
        shutil.copy(os.path.join(new, name), os.path.join(old, "model"))
    with np.load(os.path.join(new, "optimizer.npz")) as z:
        np.savez(os.path.join(old, "optimizer.npz"), **{k.replace("::", "/"): z[k] for k in z.files})
    old_state = {"step": state["global_step"], "data_state": state["data_state"],
                 "cpu_seconds": state["cpu_seconds"],
                 "optimizer": {k: v for k, v in state["optimizer"].items() if k != "name"},
                 "rng": state["rng_state"], "args": old_setting_names(state["args"])}
    with open(os.path.join(old, "trainer_state.json"), "w", encoding="utf-8") as f:
        json.dump(old_state, f, indent=1)
    with open(os.path.join(out_dir, "log.jsonl"), "w", encoding="utf-8") as f:
        f.writelines(json.dumps({k: v for k, v in e.items() if k not in ("time", "examples")}) + "\n"
                     for e in log)
    return old


def test_an_old_fine_tuning_checkpoint_resumes_identically(folder, tmp_path):
    straight = finetune("sst2", folder, TRAIN24, None, tmp_path / "a", **RESUME)   # checkpoints 4 and 8
    write_old_finetune_checkpoint(tmp_path / "a" / "checkpoint-4", tmp_path / "old")
    resumed = finetune("sst2", folder, TRAIN24, None, tmp_path / "old", resume_from="latest", **RESUME)
    assert train_losses(resumed.log) == train_losses(straight.log)
    a, b = straight.model.state_dict(), resumed.model.state_dict()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    assert read_state(tmp_path / "old" / "checkpoint-8")["version"] == 2        # new ones in today's format


def test_an_old_pretraining_checkpoint_resumes_identically(tmp_path):
    straight = make_pretrainer(tmp_path / "a", 6).train()                     # checkpoints 3 and 6
    old = write_old_pretraining_checkpoint(tmp_path / "a" / "checkpoint-3", tmp_path / "old", straight)
    state, model_dir, log = read_checkpoint_state(old)
    assert model_dir == os.path.join(old, "model") and [e["step"] for e in log][-1] == 3
    resumed = make_pretrainer(tmp_path / "old", 6)
    resumed.load_checkpoint(latest_checkpoint(tmp_path / "old"))
    assert resumed.step == 3
    log = resumed.train()
    assert ([e["loss"] for e in log if e["type"] == "train"]
            == [e["loss"] for e in straight if e["type"] == "train"])
    assert resumed.cpu_seconds > state["cpu_seconds"]


# ------------------------------------------------------------- the settings: one dataclass, its options

# What a user got before the settings were one dataclass (commit 34a4eee), under today's names:
# the defaults of finetuning.FinetuneArgs, with LoopArgs' lr_end and decay_steps (not settable then) ...
FINETUNE_DEFAULTS_BEFORE = dict(
    epochs=3.0, max_steps=None, batch_size=32, eval_batch_size=64, learning_rate=3e-5, warmup=0.1,
    schedule="linear", optimizer="adamw", weight_decay=0.01, adam_eps=1e-8, max_grad_norm=1.0, grad_accum=1,
    eval_every=None, save_every=None, keep_checkpoints=2, seed=42, max_length=128, doc_stride=128,
    metric_for_best=None, group_by_length=True, progress=True, plot=True, lr_end=1e-7, decay_steps=0,
    early_stopping_patience=None, early_stopping_threshold=0.0)      # (early stopping came later: off)
# ... and of pretraining.PretrainArgs (steps, lr, warmup_steps), with what make_trainer fixed
# (schedule, lr_end, keep_checkpoints, plot) and LoopArgs' adam_eps
PRETRAIN_ARGS_BEFORE = dict(
    steps=10000, batch_size=64, grad_accum=1, lr=2e-3, optimizer="lamb", warmup_steps=500, decay_steps=0,
    weight_decay=0.01, max_grad_norm=1.0, max_seq_length=128, max_predictions=20, masked_lm_prob=0.15,
    max_ngram=3, eval_every=500, save_every=500, heldout_examples=1024, seed=0, block_docs=256, progress=True)
PRETRAIN_DEFAULTS_BEFORE = dict({RENAMED_SETTINGS.get(k, k): v for k, v in PRETRAIN_ARGS_BEFORE.items()},
                                schedule="polynomial", lr_end=0.0, keep_checkpoints=2, plot=True, adam_eps=1e-8,
                                early_stopping_patience=None, early_stopping_threshold=0.0)
REQUIRED = {"finetune": ["--task", "sst2", "--model", "m", "--out", "o"],
            "pretrain": ["--out", "o", "--tokenizer", "t"]}
SETTINGS = {"finetune": FinetuneSettings, "pretrain": PretrainSettings}


def parse(command, *argv):
    """The settings of `python -m albert_np COMMAND argv`, as the command builds them."""
    return settings_from_args(SETTINGS[command], build_parser().parse_args([command, *REQUIRED[command], *argv]))


def test_every_default_is_the_one_a_user_got_before():
    assert dataclasses.asdict(FinetuneSettings()) == FINETUNE_DEFAULTS_BEFORE
    # one setting is new since: max_source_epochs (the mixtures of pretraining_sources.py)
    assert dataclasses.asdict(PretrainSettings()) == dict(PRETRAIN_DEFAULTS_BEFORE, max_source_epochs=16.0)
    # ... on the command line too
    assert parse("finetune") == FinetuneSettings()
    assert parse("pretrain") == PretrainSettings()


def test_the_options_set_the_fields():
    assert parse("finetune", "--learning-rate", "1e-4", "--max-steps", "9", "--no-plot", "--no-group-by-length",
                 "--no-progress", "--eval-every", "3", "--schedule", "polynomial", "--lr-end", "0",
                 "--metric-for-best", "f1", "--epochs", "0.5") == \
        FinetuneSettings(learning_rate=1e-4, max_steps=9, plot=False, group_by_length=False, progress=False,
                         eval_every=3, schedule="polynomial", lr_end=0.0, metric_for_best="f1", epochs=0.5)
    assert parse("pretrain", "--warmup", "0.05", "--decay-steps", "300", "--optimizer", "adamw", "--adam-eps", "1e-6",
                 "--keep-checkpoints", "5", "--no-plot", "--max-ngram", "1", "--masked-lm-prob", "0.3") == \
        PretrainSettings(warmup=0.05, decay_steps=300, optimizer="adamw", adam_eps=1e-6, keep_checkpoints=5,
                         plot=False, max_ngram=1, masked_lm_prob=0.3)
    with pytest.raises(SystemExit):         # choices come from the field
        parse("finetune", "--schedule", "cosine")


@pytest.mark.parametrize("command, old, new, value", [
    ("finetune", "--lr", "--learning-rate", "0.001"),
    ("pretrain", "--lr", "--learning-rate", "0.001"),
    ("pretrain", "--steps", "--max-steps", "77"),
    ("pretrain", "--warmup-steps", "--warmup", "30"),
])
def test_an_old_option_name_works_and_names_the_new_one(command, old, new, value, capsys):
    via_old = parse(command, old, value)
    assert capsys.readouterr().err == f"albert_np: {old} is deprecated and will be removed: use {new}\n"
    via_new = parse(command, new, value)
    assert capsys.readouterr().err == ""
    assert via_old == via_new != SETTINGS[command]()
    with pytest.raises(SystemExit):
        build_parser().parse_args([command, "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert f"{old} (now {new})" in help_text                            # in the deprecation note ...
    assert help_text.count(f"{old} ") == 1 and f"[{old} " not in help_text   # ... and nowhere else


def test_old_names_only_where_the_command_had_them(capsys):
    with pytest.raises(SystemExit):
        parse("finetune", "--steps", "5")          # fine-tuning never had --steps
    assert "unrecognized arguments: --steps 5" in capsys.readouterr().err
    # the old switches are the --no- halves of today's
    assert parse("pretrain", "--no-progress") == PretrainSettings(progress=False)
    assert parse("finetune", "--no-plot", "--no-group-by-length") == FinetuneSettings(plot=False, group_by_length=False)


@pytest.mark.parametrize("cls, settings, pattern", [
    (FinetuneSettings, dict(schedule="constant", decay_steps=5), r"decay_steps=5 .*'constant' never does"),
    (PretrainSettings, dict(max_steps=10, decay_steps=11),
     r"decay_steps must be an int between 0 and max_steps \(10\)"),
    (PretrainSettings, dict(max_steps=None), r"max_steps must be a positive int \(pretraining has no epochs\)"),
    (PretrainSettings, dict(lr_end=0.1), r"lr_end must be >= 0 and below learning_rate \(0.002\)"),
    (FinetuneSettings, dict(schedule="polynomial", decay_steps=3), r"decays the rate to 0, not to lr_end=1e-07"),
    (FinetuneSettings, dict(warmup=-1), r"warmup must be >= 0 .*got -1"),
    (PretrainSettings, dict(max_predictions=0), r"max_predictions must be a positive int, got 0"),
    (FinetuneSettings, dict(eval_every=0), r"eval_every must be a positive int or None, got 0"),
    (FinetuneSettings, dict(epochs=0), r"epochs must be > 0 \(or set max_steps\)"),
    (PretrainSettings, dict(learning_rate=float("nan")), r"learning_rate must be a number > 0, got nan"),
])
def test_one_validate_names_each_bad_setting(cls, settings, pattern):
    with pytest.raises(ValueError, match=pattern):
        cls(**settings).validate()


def test_warmup_is_steps_or_a_fraction_of_the_run(tmp_path):
    assert [warmup_steps_of(w, 25) for w in (0, 0.1, 0.5, 1, 1.0, 7, 500)] == [0, 3, 13, 1, 1, 7, 500]
    trainer = make_pretrainer(tmp_path, 10, warmup=0.25)           # a fraction, new to pretraining
    assert trainer.warmup_steps == 3 and trainer.total_steps == 10
    assert [trainer.lr_at(s) for s in (0, 3)] == [0.0, 3e-3] and trainer.lr_at(1) == pytest.approx(1e-3, rel=1e-15)


def test_fine_tuning_can_cool_down_over_its_last_steps(folder, tmp_path):
    """decay_steps, pretraining's until now: the peak rate, then linear decay over the last N steps."""
    result = finetune("sst2", folder, SIXTEEN, None, tmp_path / "ft", max_steps=6, batch_size=4, warmup=0,
                      learning_rate=2e-3, decay_steps=2, **QUIET)
    assert [e["lr"] for e in result.log if e["type"] == "train"] == [2e-3] * 5 + [1e-3]


def test_a_state_file_with_the_old_setting_names_resumes_and_exports(tmp_path, caplog):
    """Checkpoints written before the settings were one dataclass (like the bundled model's run)
    record PretrainArgs' names (steps, lr, warmup_steps): they resume and export as before."""
    straight = make_pretrainer(tmp_path / "a", 6).train()                     # checkpoints 3 and 6
    shutil.copytree(tmp_path / "a" / "checkpoint-3", tmp_path / "old" / "checkpoint-3")
    state_file = tmp_path / "old" / "checkpoint-3" / "trainer_state.json"
    state = read_state(state_file.parent)
    names = old_setting_names(state["args"])
    state["args"] = {k: names[k] for k in PRETRAIN_ARGS_BEFORE}          # PretrainArgs' fields, no more
    assert (state["args"]["steps"], state["args"]["lr"], state["args"]["warmup_steps"]) == (6, 3e-3, 2)
    state_file.write_text(json.dumps(state, indent=1), encoding="utf-8")
    read, _, _ = read_checkpoint_state(state_file.parent)
    assert {k: read["args"][k] for k in ("max_steps", "learning_rate", "warmup")} == \
        {"max_steps": 6, "learning_rate": 3e-3, "warmup": 2}
    assert not {"steps", "lr", "warmup_steps"} & set(read["args"])
    resumed = make_pretrainer(tmp_path / "old", 6)
    with caplog.at_level(logging.WARNING, logger="albert_np"):
        resumed.load_checkpoint(latest_checkpoint(tmp_path / "old"))
    assert "changed settings" not in caplog.text                      # the names matched
    log = resumed.train()
    assert ([e["loss"] for e in log if e["type"] == "train"]
            == [e["loss"] for e in straight if e["type"] == "train"])
    # its model card says what the card of the same checkpoint under today's names says
    data = tmp_path / "data" / "wikitext-103"
    data.mkdir(parents=True)
    (data / "wiki.test.raw").write_text(" = Cats = \n" + "\n".join(TEXT), encoding="utf-8")
    cards = []
    for checkpoint in (state_file.parent, tmp_path / "a" / "checkpoint-3"):
        out = tmp_path / "export" / checkpoint.parent.name
        export_bundled(str(checkpoint), str(out), tokenizer=resumed.tokenizer, data_dir=str(tmp_path / "data"),
                       examples=8, name="albert-test")              # the title would be the folder's name
        cards.append((out / "README.md").read_text(encoding="utf-8"))
    assert cards[0] == cards[1]
    assert "| steps | 3 of a planned 6 |" in cards[0] and "lr 0.003, warm-up 2 steps, linear decay" in cards[0]


# ------------------------------------------------------------- early stopping

def evals(log):
    return [e for e in log if e["type"] == "eval"]


def test_early_stopping_after_patience_evaluations_without_improvement(folder, tmp_path, caplog):
    # a rate of 1e-12 leaves the weights (so the accuracy) as they are: the first evaluation is the
    # best, and each later one fails to improve on it
    out = tmp_path / "es"
    kw = dict(max_steps=20, batch_size=8, learning_rate=1e-12, eval_every=1, seed=3, **QUIET)
    with caplog.at_level(logging.INFO, logger="albert_np.training.train"):
        result = finetune("sst2", folder, SIXTEEN, SIXTEEN, out, early_stopping_patience=3, **kw)
    log = read_log(out)
    assert [e["step"] for e in evals(log)] == [1, 2, 3, 4]             # the best, then 3 without improvement
    assert len({e["accuracy"] for e in evals(log)}) == 1
    assert result.global_step == 4 and result.best_step == 1
    stop = [e for e in log if e["type"] == "early_stop"]
    assert stop == [dict(stop[0], step=4, metric="accuracy", best_step=1, evaluations_without_improvement=3)]
    assert "early stop at step 4 of 20" in caplog.text
    assert read_state(latest_checkpoint(out))["evals_without_improvement"] == 3
    assert os.path.isfile(out / "best" / "config.json")
    # resuming a run that stopped early does nothing more
    again = finetune("sst2", folder, SIXTEEN, SIXTEEN, out, resume_from="latest", early_stopping_patience=3, **kw)
    assert again.global_step == 4 and len([e for e in read_log(out) if e["type"] == "train"]) == 4
    # without patience the same run goes to the end
    full = finetune("sst2", folder, SIXTEEN, SIXTEEN, tmp_path / "full", **{**kw, "max_steps": 6})
    assert full.global_step == 6


def test_early_stopping_threshold_and_counting_by_hand(folder, tmp_path):
    # a rise must pass the threshold to count: with 2.0 no accuracy can, so the run stops as above
    out = tmp_path / "th"
    result = finetune("sst2", folder, SIXTEEN, SIXTEEN, out, max_steps=12, batch_size=8, learning_rate=1e-3,
                      eval_every=2, seed=1, early_stopping_patience=2, early_stopping_threshold=2.0, **QUIET)
    assert [e["step"] for e in evals(read_log(out))] == [2, 4, 6] and result.global_step == 6
    # the counter, by hand, on a sequence of metrics (HF EarlyStoppingCallback's rule)
    trainer = _Counter(patience=2, threshold=0.05)
    for value, expected in [(0.5, 0), (0.52, 1), (0.6, 0), (float("nan"), 1), (0.6, 2)]:
        trainer.see(value)
        assert trainer.evals_without_improvement == expected, value
    assert trainer.stopped_early()


class _Counter(loop.Trainer):
    """Trainer's early-stopping count alone: run_evaluation on given metric values."""

    def __init__(self, patience, threshold):
        self.args = FinetuneSettings(early_stopping_patience=patience, early_stopping_threshold=threshold)
        self.metric_name, self.evals_without_improvement, self.step = "m", 0, 0
        self.best = {"metric": "m", "value": None, "step": None}
        self.world = _OneRank()
        self.source = _NoSource()
        self.log, self.output_dir, self.examples_seen, self.train_seconds = [], None, 0, 0.0

    def see(self, value):
        self.step += 1
        self.evaluate = lambda model: {"m": value}
        self.model = None
        self.run_evaluation()

    def _append_log(self, entry):
        self.log.append(entry)


class _OneRank:
    is_main = True

    def bcast(self, value):
        return value


class _NoSource:
    def log_fields(self):
        return {}


def test_pretraining_stops_early_on_the_heldout_accuracy(tmp_path):
    # a rate of 1e-12 leaves the held-out accuracy as it is: best at the first evaluation (step 2)
    trainer = make_pretrainer(tmp_path / "pt", 40, learning_rate=1e-12, eval_every=2, early_stopping_patience=2)
    log = trainer.train()
    assert [e["step"] for e in evals(log)] == [2, 4, 6] and trainer.step == 6
    assert trainer.best == {"metric": "mlm_accuracy", "value": evals(log)[0]["mlm_accuracy"], "step": 2}
    assert [e["step"] for e in log if e["type"] == "early_stop"] == [6]


def test_early_stopping_needs_an_evaluation(folder, tmp_path):
    with pytest.raises(ValueError, match="early_stopping_patience=2 watches the evaluation metric"):
        finetune("sst2", folder, SIXTEEN, None, tmp_path / "x", max_steps=2, early_stopping_patience=2, **QUIET)
    with pytest.raises(ValueError, match="early_stopping_patience must be a positive int or None, got 0"):
        FinetuneSettings(early_stopping_patience=0).validate()
    with pytest.raises(ValueError, match="early_stopping_threshold must be a number >= 0"):
        FinetuneSettings(early_stopping_threshold=-1.0).validate()
    assert parse("finetune", "--early-stopping-patience", "3", "--early-stopping-threshold", "0.01") == \
        FinetuneSettings(early_stopping_patience=3, early_stopping_threshold=0.01)


def test_the_matplotlib_note_is_said_once(tmp_path, monkeypatch, caplog):
    module = loop
    monkeypatch.setitem(sys.modules, "matplotlib", None)              # `import matplotlib` fails
    monkeypatch.setattr(module, "_matplotlib_missing_said", False)
    with caplog.at_level(logging.INFO, logger="albert_np.training.train"):
        for _ in range(3):                                             # e.g. three checkpoints
            assert module.plot_curves([{"type": "train", "step": 1, "loss": 1.0}], str(tmp_path / "c.png")) is None
    notes = [r for r in caplog.records if "matplotlib is not installed" in r.getMessage()]
    assert len(notes) == 1 and notes[0].levelno == logging.WARNING and "--no-plot" in notes[0].getMessage()
