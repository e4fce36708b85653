"""train.py: fine-tuning and pretraining write one checkpoint format, and the
checkpoints of the two loops it replaced (training.py and pretraining.py at
commit ef93ff5) still resume, with the losses of a run that never stopped.
"""
import json
import os
import shutil
import sys

import numpy as np

import albert_np
from albert_np.finetuning import finetune
from albert_np.modeling import model_class
from albert_np.train import latest_checkpoint, read_checkpoint_state

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_pretraining import make as make_pretrainer  # noqa: E402
from test_training import QUIET, RESUME, SIXTEEN, TRAIN24, folder, read_log, train_losses  # noqa: E402,F401

MODEL_FILES = {"config.json", "model.safetensors"}
TOKENIZER_FILES = {"spiece.model", "tokenizer_config.json", "special_tokens_map.json", "tokenizer.json"}
SHARED_KEYS = {"version", "global_step", "total_steps", "warmup_steps", "head", "rng_state", "optimizer",
               "best", "examples_seen", "train_seconds", "cpu_seconds", "mpi_ranks", "args"}


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
                 "rng": state["rng_state"], "args": state["args"]}
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
