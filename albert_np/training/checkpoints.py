"""A training run's files: checkpoint folders, the trainer state, the log, and safe replacement.

A checkpoint is output_dir/checkpoint-<step>/ (model, tokenizer, optimizer.npz, trainer_state.json
written last, so that a folder without it is incomplete); the best model is output_dir/best/.
train.Trainer writes and reads them with these functions; read_checkpoint_state also converts
the layouts of the loops it replaced.
"""
import json
import logging
import os
import re
import shutil
import zipfile

import numpy as np

from ..io import STAGE_TAG, atomic_open, atomic_write_text, exchange_paths, make_temp_dir, parse_json, read_json_object
from .settings import RENAMED_SETTINGS

logger = logging.getLogger(__name__)

STATE_FILE = "trainer_state.json"
OPTIMIZER_FILE = "optimizer.npz"
ORDER_FILE = "data_order.npz"
LOG_FILE = "log.jsonl"
CHECKPOINT_PREFIX = "checkpoint-"
STATE_VERSION = 2


# --------------------------------------------------------------------------- checkpoint files

def list_checkpoints(output_dir):
    """[(step, path)] of the complete checkpoints in output_dir, oldest first."""
    output_dir = os.fspath(output_dir)
    if not os.path.isdir(output_dir):
        return []
    found = []
    for name in os.listdir(output_dir):
        tail = name[len(CHECKPOINT_PREFIX):] if name.startswith(CHECKPOINT_PREFIX) else ""
        path = os.path.join(output_dir, name)
        if tail.isascii() and tail.isdigit() and os.path.isfile(os.path.join(path, STATE_FILE)):
            found.append((int(tail), path))
    return sorted(found)


def latest_checkpoint(output_dir):
    """Path of the newest complete checkpoint in output_dir, or None."""
    found = list_checkpoints(output_dir)
    return found[-1][1] if found else None


# make_temp_dir's names (tempfile.mkdtemp's 8-character suffix): a checkpoint or best/ being written,
# or a checkpoint being deleted; and the staging folders that model.save_pretrained makes beside them
# (io.staged_folder: "..tmp-checkpoint-<step>-XXXXXXXX.albert_np-new-XXXXXXXX", "-old-<pid>").
TEMP_DIR_RE = re.compile(r"\.?\.tmp-(checkpoint-\d+|best|deleting-checkpoint-\d+)-[A-Za-z0-9_]{8}"
                         r"(" + re.escape(STAGE_TAG) + r"(new-[A-Za-z0-9_]{8}|old-\d+))?")


def remove_stale_temp_dirs(output_dir):
    """Delete the temp folders that a killed save (or deletion) left in output_dir; returns their paths.

    Only albert_np's own: folders named .tmp-checkpoint-<step>-XXXXXXXX, .tmp-best-XXXXXXXX or
    .tmp-deleting-checkpoint-<step>-XXXXXXXX (tempfile.mkdtemp's 8-character suffix), and the
    staging folders of a model save into one of them (..tmp-checkpoint-<step>-XXXXXXXX.albert_np-new-...).
    Anything else in the folder is left alone. The Trainer calls it when it starts (rank 0).
    """
    output_dir = os.fspath(output_dir)
    removed = []
    if not os.path.isdir(output_dir):
        return removed
    for name in os.listdir(output_dir):
        path = os.path.join(output_dir, name)
        if TEMP_DIR_RE.fullmatch(name) and os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    if removed:
        logger.info("removed %d unfinished checkpoint folder(s) left by an interrupted save: %s",
                    len(removed), ", ".join(removed))
    return removed


def delete_checkpoint(path):
    """Delete a checkpoint folder so that no kill leaves it looking complete.

    It is first renamed, in one step, to .tmp-deleting-checkpoint-<step>-XXXXXXXX (which
    list_checkpoints never lists, and remove_stale_temp_dirs deletes at the next start); only
    then are its files removed. Deleting in place could be killed after some weights are gone
    but before trainer_state.json is, leaving a checkpoint that resumes into a crash.
    """
    parent, name = os.path.split(os.path.abspath(path))
    hidden = make_temp_dir(parent, f".tmp-deleting-{name}-")
    os.rename(path, os.path.join(hidden, name))    # atomic: the checkpoint is no longer listed
    shutil.rmtree(hidden, ignore_errors=True)


def replace_dir(tmp, final):
    """Move the finished folder `tmp` to `final`. An old `final` is swapped out in one step
    (io.exchange_paths) and then removed; where the system cannot swap, it is renamed away first."""
    if os.path.exists(final) and exchange_paths(tmp, final):
        shutil.rmtree(tmp, ignore_errors=True)        # now the old folder
        return
    old = None
    if os.path.exists(final):
        old = final + f".old-{os.getpid()}"
        os.replace(final, old)
    os.replace(tmp, final)
    if old:
        shutil.rmtree(old, ignore_errors=True)


def write_json(path, obj):
    atomic_write_text(path, json.dumps(obj, indent=1) + "\n")


def write_log(path, log):
    with atomic_open(path, "w", encoding="utf-8") as f:
        f.writelines(json.dumps(e) + "\n" for e in log)


def read_log(path):
    """The entries of a log.jsonl ([] when there is none)."""
    if not os.path.isfile(path):
        return []
    with open(path, encoding="utf-8", errors="replace") as f:
        lines = [line for line in f if line.strip()]
    entries = []
    for i, line in enumerate(lines):
        try:
            entries.append(parse_json(line, f"{path}, line {i + 1},"))
        except ValueError:
            if i == len(lines) - 1:         # a line cut short by a killed run: drop it
                logger.warning("%s: its last line is incomplete (an interrupted write); ignored", path)
                break
            raise
    return entries


def read_checkpoint_state(path):
    """(trainer_state, model folder, log) of a checkpoint, in today's layout (version 2).

    Older checkpoints are converted as they are read: fine-tuning's version 1 (the
    same files, without cpu_seconds) and pretraining's (no version: "step", "rng",
    "data_state"; the model in model/; the log only in the run's log.jsonl); and the
    settings of "args" get today's names (RENAMED_SETTINGS: lr, steps, warmup_steps).
    """
    state_file = os.path.join(path, STATE_FILE)
    if not os.path.isfile(state_file):
        raise FileNotFoundError(f"{path} is not a checkpoint folder: it has no {STATE_FILE} (pass a "
                                f"{CHECKPOINT_PREFIX}<step> folder written by albert_np)")
    try:
        state = read_json_object(state_file)
        return _checkpoint_state(path, state)
    except (KeyError, TypeError) as e:
        raise ValueError(f"{state_file} is damaged or not albert_np's (missing or wrong field {e}): "
                         f"resume from an earlier checkpoint") from e


def _checkpoint_state(path, state):
    """read_checkpoint_state's conversion of a parsed trainer_state.json."""
    log_path = os.path.join(path, LOG_FILE)
    model_dir = path
    if state.get("version") == 1:
        state = {**state, "version": STATE_VERSION, "cpu_seconds": 0.0}
    elif "version" not in state and "data_state" in state:
        args = state["args"]
        state = {"version": STATE_VERSION, "global_step": state["step"], "total_steps": args["steps"],
                 "warmup_steps": args["warmup_steps"], "head": "pretraining", "rng_state": state["rng"],
                 "optimizer": {"name": args["optimizer"], **state["optimizer"]},
                 "best": {"metric": None, "value": None, "step": None}, "examples_seen": 0,
                 "train_seconds": 0.0, "cpu_seconds": state.get("cpu_seconds", 0.0), "args": args,
                 "data_state": state["data_state"]}
        model_dir = os.path.join(path, "model")
        log_path = os.path.join(os.path.dirname(os.path.abspath(path)), LOG_FILE)
    if state.get("version") != STATE_VERSION:
        raise ValueError(f"{path}: trainer_state version {state.get('version')} is not {STATE_VERSION}")
    log = [e for e in read_log(log_path) if e["step"] <= state["global_step"]]
    args = state["args"]                # settings under their old names (RENAMED_SETTINGS) -> today's
    state = {**state, "args": {RENAMED_SETTINGS[k] if k in RENAMED_SETTINGS and RENAMED_SETTINGS[k] not in args
                               else k: v for k, v in args.items()}}
    return state, model_dir, log


def read_moments(path):
    """{"exp_avg": {name: m}, "exp_avg_sq": {name: v}} from optimizer.npz ("::" or the old "/")."""
    moments = {"exp_avg": {}, "exp_avg_sq": {}}
    try:
        with np.load(path) as z:
            for key in z.files:
                kind, name = key.split("::", 1) if "::" in key else key.split("/", 1)
                moments[kind][name] = z[key]
    except FileNotFoundError:
        raise
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
        raise ValueError(f"{path} is damaged ({type(e).__name__}: {e}): resume from an earlier checkpoint, "
                         f"or delete this one's folder") from e
    return moments


def model_identity(config):
    """The config fields that define a model and its labels (AlbertConfig.FIELDS and id2label), as a dict."""
    d = config.to_dict()
    return {k: d[k] for k in (*type(config).FIELDS, "id2label")}


