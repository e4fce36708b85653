"""The one training loop, for fine-tuning (finetuning.py) and pretraining (pretraining.py).

One optimiser step:
    micro_batches = source.next_step(grad_accum)           (the use's data)
    items = the step's loss items (step.loss_items: masked tokens, rows, ...)
    for each (inputs, labels) in micro_batches:
        loss, _, grads = step.loss_and_grads(params, config, head, inputs, labels, rng,
                                              training=True,                    (dropout on)
                                              weights=its items / the step's items)
        total += grads                 (= the gradient of the whole step taken as one batch)
    clip the global gradient norm; lr = base lr x schedule(step); AdamW (or LAMB) step.
Each micro-batch's dropout generator is seeded by a number drawn from the run's
generator (the rng_state of a checkpoint), one per shard. Under mpiexec
(distributed.py) rank r of N takes rows [r B/N, (r+1) B/N) of every micro-batch, and
the gradients of the ranks are summed with one Allreduce; --grad-accum N in one
process computes the same step. Rank 0 alone writes the log, checkpoints and the
progress bar, and runs the evaluation (its scores are broadcast to the others).

A use of the loop supplies its data, as a batch source, and its head:
    source.next_step(n)  -> [(inputs, labels)], at most n micro-batches of one step
    source.epoch_done    -> True right after the step that ended a pass over the data
    source.log_fields()  -> extra fields of a step's log entry (e.g. {"epoch": 1.5})
    source.state()       -> its position: JSON values, plus arrays (saved in data_order.npz)
    source.restore(state), source.close()
    source.fingerprint() -> (optional) a digest of its data, compared on resume and across ranks
and optionally evaluate(model) -> {metric: value} (the best checkpoint is kept by
metric_for_best) and step_metrics([(labels, argmax outputs)]) -> extra log fields.

A checkpoint, written under a temporary name and renamed into place, so that it
is either complete or absent:

    output_dir/checkpoint-<step>/
        config.json, model.safetensors   the model (model.save_pretrained): a model folder
        tokenizer files                  when the run has a tokenizer
        optimizer.npz                    "exp_avg::<name>", "exp_avg_sq::<name>" moments
        data_order.npz                   the source's arrays (fine-tuning: this epoch's batches)
        log.jsonl                        the log up to this step
        trainer_state.json               written last: marks the folder complete. Keys:
            version (2), global_step, total_steps, warmup_steps, head, rng_state (the
            run's Generator's bit_generator.state: it draws the dropout seeds), optimizer
            {name, step, lr, betas, eps, weight_decay}, best {metric, value, step},
            evals_without_improvement (early stopping's count), examples_seen (global), train_seconds,
            cpu_seconds (all ranks), mpi_ranks, args (the use's settings), data_fingerprint
            (source.fingerprint(): a digest of the data), and the source's JSON state
            (fine-tuning: epoch, batch_pos, num_train_features; pretraining: data_state)

Resuming checks that the run is the checkpoint's (Trainer.check_resume: the model's config
and labels, the data's settings and fingerprint; an error names what differs), then
restores all of it, so a resumed run continues with exactly the losses of
one that never stopped. Checkpoints of the two loops this one replaced are read
too (read_checkpoint_state converts them): fine-tuning's version 1 (the same
files), and pretraining's (no version; the model in model/, "exp_avg/<name>"
moments, the log only in output_dir/log.jsonl).
"""
import argparse
import dataclasses
import json
import logging
import math
import os
import re
import shutil
import sys
import time
import typing
import zipfile
from typing import Optional

import numpy as np

from .. import step
from ..config import AlbertConfig
from ..io import (STAGE_TAG, atomic_open, atomic_write_text, exchange_paths, make_temp_dir, parse_json,
                  read_json_object)
from .optim import (LAMB, AdamW, clip_grad_norm, constant_with_warmup, linear_warmup_linear_decay,
                    polynomial_decay, warmup_stable_decay)
from .distributed import CHECK_EVERY, RankMismatchError, shard_rows, trim_padding, world
from ..params import named_parameters
from ..progress import progress_bar

logger = logging.getLogger(__name__)

__all__ = ["LoopSettings", "setting", "add_settings_arguments", "settings_from_args", "warmup_steps_of",
           "Trainer", "NonFiniteLossError", "list_checkpoints", "latest_checkpoint", "read_checkpoint_state",
           "read_log", "replace_dir", "remove_stale_temp_dirs", "delete_checkpoint", "plot_curves"]

STATE_FILE = "trainer_state.json"
OPTIMIZER_FILE = "optimizer.npz"
ORDER_FILE = "data_order.npz"
LOG_FILE = "log.jsonl"
CHECKPOINT_PREFIX = "checkpoint-"
STATE_VERSION = 2

NOT_METRICS = ("type", "step", "epoch", "eval_seconds", "train_examples_per_second", "time")


class NonFiniteLossError(FloatingPointError):
    """The loss (or gradient norm) became nan/inf; training stopped, checkpoints kept."""


SCHEDULES = ("linear", "constant", "polynomial")
OPTIMIZERS = ("adamw", "lamb")
# settings renamed when the loop's settings became one dataclass (pretraining's old names) -> today's:
# mapped when an older checkpoint is read, and accepted on the command line with a deprecation note
RENAMED_SETTINGS = {"lr": "learning_rate", "steps": "max_steps", "warmup_steps": "warmup"}


def setting(default, help, **metadata):
    """A settings field: its default, and its command-line help (and choices) in its metadata."""
    return dataclasses.field(default=default, metadata={"help": help, **metadata})


@dataclasses.dataclass
class LoopSettings:
    """The settings of the training loop, one name each (HF TrainingArguments' names).

    finetuning.FinetuneSettings and pretraining.PretrainSettings add their own fields and
    set their own defaults (those here are fine-tuning's). The command line has an option
    for each field (add_settings_arguments: --learning-rate, --no-plot, ...), its help taken
    from the field's metadata; validate() checks them all. A checkpoint records them.
    """
    max_steps: Optional[int] = setting(None, "optimiser steps of the run")
    batch_size: int = setting(
        32, "examples per micro-batch: the global batch (under mpiexec -n N each rank takes "
            "batch_size / N of its rows)")
    grad_accum: int = setting(1, "micro-batches whose gradient, taken as one batch, makes one optimiser step")
    learning_rate: float = setting(3e-5, "the peak learning rate")
    warmup: float = setting(
        0.1, "warm-up, over which the rate grows linearly from 0: steps if >= 1, else a fraction of all steps")
    schedule: str = setting(
        "linear", "after warm-up: linear decay to 0, constant, or polynomial (power 1) decay to --lr-end",
        choices=SCHEDULES)
    lr_end: float = setting(1e-7, "the last learning rate of schedule polynomial")
    decay_steps: int = setting(
        0, "0: the rate decays over the whole run after warm-up; N: it stays at its peak and decays "
           "linearly to 0 over the last N steps only (warmup-stable-decay, for schedule linear or "
           "polynomial), so that a copy of any checkpoint can be cooled down")
    optimizer: str = setting("adamw", "AdamW (PyTorch's) or LAMB (the ALBERT paper's)", choices=OPTIMIZERS)
    weight_decay: float = setting(0.01, "decoupled weight decay (none on biases and LayerNorm weights)")
    adam_eps: float = setting(1e-8, "AdamW's epsilon, added to the root of the second moment")
    max_grad_norm: float = setting(1.0, "clip the global gradient norm to this; 0 = no clipping")
    eval_every: Optional[int] = setting(
        None, "steps between evaluations (unset: at the end of each epoch of fine-tuning, and of the run)")
    save_every: Optional[int] = setting(
        None, "steps between checkpoints (unset: at each evaluation, and at the end of the run)")
    keep_checkpoints: int = setting(2, "the newest checkpoints kept (the best one is kept as well)")
    seed: int = setting(42, "seed of the data order, the masking and the dropout (pretraining: the "
                            "initial weights too)")
    early_stopping_patience: Optional[int] = setting(
        None, "stop the run when the evaluation metric (metric_for_best) has not improved for this many "
              "evaluations in a row (unset: never stop early); the best checkpoint is kept")
    early_stopping_threshold: float = setting(
        0.0, "with early_stopping_patience: the least rise of the metric over its best that counts as improving")
    progress: bool = setting(True, "show a tqdm progress bar")
    plot: bool = setting(True, "write curves.png at each checkpoint (with matplotlib)")

    # The settings that define the data a step sees: a resume with any of them changed would train on
    # other batches than the checkpoint's run, so it is an error (the others, e.g. max_steps or the
    # learning rate, may change on resume, with a warning). Subclasses add their data's settings.
    DATA_SETTINGS = ("seed", "batch_size")

    def validate(self):
        """Raise ValueError naming any setting that cannot work, and what to use instead; returns self."""
        lr = self.learning_rate
        if not _is_number(lr) or not math.isfinite(lr) or lr <= 0:
            raise ValueError(f"learning_rate must be a number > 0, got {lr!r} (fine-tuning ALBERT typically "
                             f"uses 1e-5 to 5e-5, pretraining 1e-3 to 1e-2)")
        self.check_positive_ints("batch_size", "grad_accum", "keep_checkpoints")
        unset_is_fine = ("max_steps", "eval_every", "save_every")
        unset_is_fine += ("early_stopping_patience",)
        self.check_positive_ints(*(n for n in unset_is_fine if getattr(self, n) is not None), alternative=" or None")
        t = self.early_stopping_threshold
        if not (_is_number(t) and 0 <= t < math.inf):
            raise ValueError(f"early_stopping_threshold must be a number >= 0, got {t!r}")
        if not (_is_number(self.warmup) and self.warmup >= 0 and math.isfinite(self.warmup)):
            raise ValueError(f"warmup must be >= 0 (steps, or a fraction < 1 of all steps), got {self.warmup!r}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be {_one_of(SCHEDULES)}, got {self.schedule!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be {_one_of(OPTIMIZERS)}, got {self.optimizer!r}")
        if not self.max_grad_norm >= 0:
            raise ValueError(f"max_grad_norm must be >= 0 (0 = no clipping), got {self.max_grad_norm!r}")
        if not self.weight_decay >= 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay!r}")
        eps = self.adam_eps
        if not _is_number(eps) or not 0 < eps < math.inf:
            raise ValueError(f"adam_eps must be a positive number (e.g. 1e-8; 0 divides 0 by 0 wherever a "
                             f"gradient is zero, which makes the loss nan), got {eps!r}")
        if self.schedule == "polynomial" and not (_is_number(self.lr_end) and 0 <= self.lr_end < lr):
            raise ValueError(f"lr_end must be >= 0 and below learning_rate ({lr}) for schedule 'polynomial', "
                             f"got {self.lr_end!r}")
        d = self.decay_steps
        if isinstance(d, bool) or not isinstance(d, int) or d < 0 or (self.max_steps is not None
                                                                       and d > self.max_steps):
            raise ValueError(f"decay_steps must be an int between 0 and max_steps ({self.max_steps}), got {d!r}")
        if d and self.schedule == "constant":
            raise ValueError(f"decay_steps={d} decays the rate, but schedule 'constant' never does: use "
                             f"schedule 'linear' with it, or decay_steps 0")
        if d and self.schedule == "polynomial" and self.lr_end != 0:
            raise ValueError(f"decay_steps={d} decays the rate to 0, not to lr_end={self.lr_end}: set lr_end 0 "
                             f"or use schedule 'linear'")
        return self

    def check_positive_ints(self, *names, alternative=""):
        """Raise ValueError unless each field of `names` is an int >= 1 (validate's check, for subclasses too)."""
        for name in names:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int{alternative}, got {value!r}")


def _one_of(names):
    """"'a', 'b' or 'c'"."""
    quoted = [repr(n) for n in names]
    return ", ".join(quoted[:-1]) + " or " + quoted[-1]


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def warmup_steps_of(warmup, total_steps):
    """Warm-up steps of a run: `warmup` itself when >= 1, else that fraction of total_steps, rounded up."""
    return int(warmup) if warmup >= 1 else int(math.ceil(warmup * total_steps))


# --------------------------------------------------------------------------- settings on the command line

class _RenamedOption(argparse.Action):
    """An old option name: sets the renamed setting, and says on stderr what to write instead."""

    def __init__(self, option_strings, dest, new_option, **kwargs):
        super().__init__(option_strings, dest, **kwargs)
        self.new_option = new_option

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"albert_np: {option_string} is deprecated and will be removed: use {self.new_option}",
              file=sys.stderr)
        setattr(namespace, self.dest, values)


def _option_type(annotation):
    """int, float, str or bool from a field's annotation (Optional[int] -> int)."""
    kinds = [a for a in (typing.get_args(annotation) or (annotation,)) if a in (int, float, str, bool)]
    if len(kinds) != 1:
        raise TypeError(f"a settings field must be an int, float, str or bool (or Optional), got {annotation}")
    return kinds[0]


def _setting_metadata(settings_class, name):
    """The metadata of field `name`: from the class that declares its help (a subclass that only
    changes a default inherits it)."""
    for cls in settings_class.__mro__:
        field = getattr(cls, "__dataclass_fields__", {}).get(name)
        if field is not None and "help" in field.metadata:
            return field.metadata
    raise TypeError(f"{settings_class.__name__}.{name} has no help: declare it with train.setting(default, help)")


def add_settings_arguments(parser, settings_class, old_names=()):
    """Add an option for each field of `settings_class` (LoopSettings or a subclass) to an argparse parser.

    --field-name, of the field's type (Optional[int]: an int, unset by default), with the field's
    default and the help of its metadata; a bool is a --name / --no-name switch. old_names: the
    keys of RENAMED_SETTINGS that the command had as options; they still work, with a deprecation
    note on stderr. Returns the argument group.
    """
    fields = dataclasses.fields(settings_class)
    renamed = [(old, RENAMED_SETTINGS[old]) for old in old_names]
    group = parser.add_argument_group(
        f"settings (the fields of {settings_class.__name__})",
        "Deprecated names, still accepted: " + ", ".join(f"--{_option(old)} (now --{_option(new)})"
                                                          for old, new in renamed) if renamed else None)
    types = typing.get_type_hints(settings_class)
    for f in fields:
        meta, kind = _setting_metadata(settings_class, f.name), _option_type(types[f.name])
        text = meta["help"].replace("%", "%%")
        if kind is bool:        # --plot / --no-plot
            group.add_argument(f"--{_option(f.name)}", action=argparse.BooleanOptionalAction, default=f.default,
                               help=f"{text} (default: {'on' if f.default else 'off'})")
        else:
            group.add_argument(f"--{_option(f.name)}", type=kind, default=f.default, choices=meta.get("choices"),
                               help=text if f.default is None else text + " (default: %(default)s)")
    for old, new in renamed:
        group.add_argument(f"--{_option(old)}", dest=new, type=_option_type(types[new]), action=_RenamedOption,
                           new_option=f"--{_option(new)}", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return group


def _option(name):
    return name.replace("_", "-")


def settings_from_args(settings_class, namespace):
    """A `settings_class` from the options that add_settings_arguments added, as argparse parsed them."""
    return settings_class(**{f.name: getattr(namespace, f.name) for f in dataclasses.fields(settings_class)})


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


def _write_log(path, log):
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


def _read_moments(path):
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


def _better(value, best):
    """Higher is better; nan (e.g. the correlation of constant predictions) is worst."""
    if not math.isfinite(value):
        return best is None
    return best is None or not math.isfinite(best) or value > best


def _plain(value):
    """A JSON-able number from a NumPy scalar (ints stay ints)."""
    return value.item() if hasattr(value, "item") else value


# --------------------------------------------------------------------------- the trainer

class Trainer:
    """The loop and its state: model weights, optimiser, step, dropout rng, data position,
    best evaluation, log, and time spent. `train()` runs to total_steps.

    model: an albert_np model (its arrays are updated in place). source: the batch source
        (see the module docstring). head: as step.loss_and_grads.
    args: the run's settings, a LoopSettings (or a subclass: FinetuneSettings, PretrainSettings),
        recorded in each checkpoint.
    total_steps: optimiser steps of the run; default args.max_steps (fine-tuning computes it
        from its epochs). The warm-up steps follow from args.warmup (warmup_steps_of).
    desc: the progress bar's label. tokenizer: saved into each checkpoint when given.
    evaluate: model -> metric dict. metric_for_best: the metric whose highest value marks the
    best checkpoint. step_metrics: [(labels, argmax outputs)] of a step -> extra log fields.
    With args.early_stopping_patience = N the run stops after N evaluations in a row that did not
    raise metric_for_best above its best by more than args.early_stopping_threshold (HF's
    EarlyStoppingCallback); the stop is logged ({"type": "early_stop", ...}) and a resumed run
    that had stopped stays stopped.
    """

    def __init__(self, model, source, head, output_dir, args, *, total_steps=None, desc="train", tokenizer=None,
                 evaluate=None, metric_for_best=None, step_metrics=None):
        self.model, self.source, self.head, self.args = model, source, head, args
        self.total_steps = args.max_steps if total_steps is None else total_steps
        if self.total_steps is None:
            raise ValueError("the run has no length: set max_steps (or pass total_steps=, e.g. from the epochs)")
        self.warmup_steps = warmup_steps_of(args.warmup, self.total_steps)
        self.desc = desc
        self.output_dir = os.fspath(output_dir)
        self.tokenizer, self.evaluate = tokenizer, evaluate
        self.metric_name, self.step_metrics = metric_for_best, step_metrics
        self.params = named_parameters(model.params)     # flat, distinct arrays: updated in place
        if args.optimizer == "lamb":
            self.optimizer = LAMB(self.params, lr=args.learning_rate, weight_decay=args.weight_decay)
        else:
            self.optimizer = AdamW(self.params, lr=args.learning_rate, eps=args.adam_eps,
                                   weight_decay=args.weight_decay)
        self.rng = np.random.default_rng(args.seed)      # draws one dropout seed per shard and step
        self.world = world()
        n = self.world.size
        if n > 1 and args.batch_size is not None and args.batch_size < n:
            raise ValueError(f"--batch-size {args.batch_size} is the global batch, split over the {n} MPI ranks: "
                             f"it has fewer rows than ranks; use a batch of at least {n} rows (a multiple "
                             f"of {n}) or mpiexec -n {args.batch_size} or fewer")
        if n > 1 and args.batch_size is not None and args.batch_size % n:
            raise ValueError(
                f"--batch-size {args.batch_size} is the global batch, split over the {n} MPI ranks: it must be "
                f"a multiple of {n} (each rank takes batch_size / {n} rows), e.g. {max(n, args.batch_size // n * n)} "
                f"or {(args.batch_size // n + 1) * n}; or run mpiexec with fewer ranks")
        # the gradients of a step, packed in one float32 buffer (named_parameters order) with two
        # more numbers, the loss and the CPU seconds: the ranks sum the whole buffer at once
        dtype = next(iter(self.params.values())).dtype
        self._flat = np.zeros(sum(a.size for a in self.params.values()) + 2, dtype=dtype)
        self._grads, offset = {}, 0
        for name, a in self.params.items():
            self._grads[name] = self._flat[offset:offset + a.size].reshape(a.shape)
            offset += a.size
        self.allreduce_seconds = 0.0    # time in the Allreduce, this call of train()
        if getattr(args, "early_stopping_patience", None) is not None and (evaluate is None or not metric_for_best):
            raise ValueError(f"early_stopping_patience={args.early_stopping_patience} watches the evaluation "
                             f"metric, but this run has no evaluation (give a dev set; pretraining: "
                             f"heldout_examples > 0) or no metric_for_best")
        self.step = 0
        self.evals_without_improvement = 0   # early stopping's count (args.early_stopping_patience)
        self.best = {"metric": metric_for_best, "value": None, "step": None}
        self.log = []
        self.examples_seen, self.train_seconds = 0, 0.0
        self.cpu_seconds = 0.0          # process time of all threads of all ranks, over resumes
        self._cpu_mark = time.process_time()
        self.last_checkpoint = None
        os.makedirs(self.output_dir, exist_ok=True)
        if self.world.is_main:
            remove_stale_temp_dirs(self.output_dir)      # what a killed save or deletion left

    def lr_at(self, step):
        """Learning rate of the update that follows `step` completed steps (HF LambdaLR)."""
        a, total, warmup = self.args, self.total_steps, self.warmup_steps
        if a.decay_steps:               # the peak, then the last decay_steps only
            mult = warmup_stable_decay(step, warmup, total, a.decay_steps)
        elif a.schedule == "constant":
            mult = constant_with_warmup(step, warmup)
        elif a.schedule == "polynomial":
            mult = polynomial_decay(step, warmup, max(total, warmup + 1), lr_init=a.learning_rate, lr_end=a.lr_end)
        else:
            mult = linear_warmup_linear_decay(step, warmup, total)
        return a.learning_rate * mult

    # -- one step ---------------------------------------------------------------------------
    def train_step(self, micro_batches):
        """One optimiser update from the gradient of `micro_batches` [(inputs, labels)] as one batch.

        Each loss term is weighted by the shard's share of the step's items (step.loss_items),
        so the gradient is the one of the whole step's mean loss, however it is split into
        micro-batches and over ranks. Returns (loss, grad norm, examples, [(labels, argmax outputs)]).
        """
        W, flat = self.world, self._flat
        items = {}
        for _, labels in micro_batches:            # every rank sees whole micro-batches: global counts
            for k, n in step.loss_items(self.head, labels).items():
                items[k] = items.get(k, 0) + n
        seeds = self.rng.integers(0, 2**63 - 1, size=len(micro_batches) * W.size)   # shard j N + r
        flat[:] = 0
        n_examples, predicted = 0, []
        for j, (inputs, labels) in enumerate(micro_batches):
            n_examples += len(inputs["input_ids"])
            if W.size > 1:
                inputs, labels = shard_rows(inputs, W.rank, W.size), shard_rows(labels, W.rank, W.size)
                if len(inputs["input_ids"]) == 0:   # a short last batch of an epoch: nothing here
                    continue
                inputs, labels = trim_padding(self.head, inputs, labels)
            mine = step.loss_items(self.head, labels)
            weights = {k: mine[k] / items[k] if items[k] else 0.0 for k in mine}
            loss, out, grads = step.loss_and_grads(
                self.model.params, self.model.config, self.head, inputs, labels,
                rng=np.random.default_rng(seeds[j * W.size + W.rank]), training=True, weights=weights)
            flat[-2] += loss
            for k, g in grads.items():
                self._grads[k] += g
            if self.step_metrics is not None:
                predicted.append((labels, {k: v.argmax(-1) for k, v in out.items() if isinstance(v, np.ndarray)}))
        now = time.process_time()
        flat[-1], self._cpu_mark = now - self._cpu_mark, now
        t0 = time.perf_counter()
        W.allreduce_sum_(flat)                      # the one collective of a step
        self.allreduce_seconds += time.perf_counter() - t0
        if self.step_metrics is not None and W.size > 1:
            parts = W.gather(predicted)
            predicted = [p for part in parts for p in part] if W.is_main else []
        loss, self.cpu_seconds = float(flat[-2]), self.cpu_seconds + float(flat[-1])
        if not math.isfinite(loss):
            raise self._non_finite("loss", loss)
        total = self._grads
        norm = clip_grad_norm(total, self.args.max_grad_norm) if self.args.max_grad_norm > 0 \
            else float(np.sqrt(sum(float(np.sum(g * g)) for g in total.values())))
        if not math.isfinite(norm):
            raise self._non_finite("gradient norm", norm)
        self.optimizer.step(total, lr=self.lr_at(self.step))
        return loss, norm, n_examples, predicted

    def _non_finite(self, what, value):
        step = self.step + 1
        where = (f"the last good checkpoint is {self.last_checkpoint}" if self.last_checkpoint
                 else "no checkpoint was written yet")
        self._append_log({"type": "error", "step": step, "message": f"{what} is {value}"})
        return NonFiniteLossError(
            f"training stopped: the {what} became {value} at step {step} of {self.total_steps}; nothing was saved "
            f"after it "
            f"and {where}. Resume from it with a lower learning rate (now {self.args.learning_rate}), "
            f"more warmup or gradient clipping (max_grad_norm).")

    # -- the loop --------------------------------------------------------------------------
    def train(self):
        """Run until total_steps; evaluate and checkpoint on schedule. Returns the log."""
        a, W = self.args, self.world
        self.allreduce_seconds = 0.0
        bar = progress_bar(self.total_steps, self.desc, initial=self.step, enabled=a.progress and W.is_main)
        postfix = {}
        if W.is_main:
            logger.info("%s: steps %d to %d, %d micro-batches a step, %d MPI rank(s), warmup %d, peak lr %g",
                        self.desc, self.step + 1, self.total_steps, a.grad_accum, W.size, self.warmup_steps,
                        a.learning_rate)
        try:
            if W.size > 1:                          # the same settings, model, labels and data everywhere
                W.check_same_run(self.run_identity())
            W.check_same(self.params, self.step)    # the same weights and step everywhere (a resume)
            if self.stopped_early() and self.step < self.total_steps:
                logger.info("%s: the run resumed had stopped early at step %d; nothing to do", self.desc, self.step)
            while self.step < self.total_steps and not self.stopped_early():
                t0 = time.perf_counter()
                micro_batches = self.source.next_step(a.grad_accum)
                loss, norm, n, predicted = self.train_step(micro_batches)
                self.train_seconds += time.perf_counter() - t0
                lr = self.lr_at(self.step)
                self.step += 1
                self.examples_seen += n
                entry = {"type": "train", "step": self.step, **self.source.log_fields(), "loss": loss,
                         "lr": lr, "grad_norm": norm, "examples": n}
                if self.step_metrics is not None:
                    entry.update(self.step_metrics(predicted))
                entry.update(examples_per_second=self.examples_per_second(),
                             cpu_seconds=self.cpu_seconds)
                self._append_log(entry)
                bar.update(1)
                postfix["loss"] = f"{loss:.4f}"
                bar.set_postfix(postfix, refresh=False)
                self._after_step(self.source.epoch_done, bar, postfix)
                if self.stopped_early():
                    self._stop_early()
                    break
        except (NonFiniteLossError, RankMismatchError):
            raise                                   # raised alike on every rank: no rank is left waiting
        except BaseException as e:
            if W.size > 1:                          # this rank alone: end the job, naming it
                W.abort(e, self.step + 1)
            raise
        finally:
            bar.close()
            self.source.close()
        return self.log

    def _after_step(self, epoch_done, bar, postfix):
        a = self.args
        last = self.step >= self.total_steps
        evaluated = False
        if self.evaluate is not None and ((a.eval_every and self.step % a.eval_every == 0)
                                          or (a.eval_every is None and epoch_done) or last):
            scores = self.run_evaluation()
            if self.metric_name:
                postfix[self.metric_name] = f"{scores[self.metric_name]:.4f}"
                bar.set_postfix(postfix, refresh=False)
            evaluated = True
        save = ((evaluated and (self.metric_name or a.save_every is None)) or last
                or (a.save_every and self.step % a.save_every == 0))
        if save or self.step % CHECK_EVERY == 0:
            self.world.check_same(self.params, self.step)   # collective: every rank, the same steps
        if save and self.world.is_main:
            self.save_checkpoint()
        elif save:
            self.last_checkpoint = os.path.join(self.output_dir, f"{CHECKPOINT_PREFIX}{self.step}")

    def stopped_early(self):
        """True once early_stopping_patience evaluations in a row have not improved the metric."""
        patience = getattr(self.args, "early_stopping_patience", None)
        return patience is not None and self.evals_without_improvement >= patience

    def _stop_early(self):
        """Log the early stop; write a checkpoint of this step unless the evaluation just did."""
        entry = {"type": "early_stop", "step": self.step, "metric": self.metric_name,
                 "best_value": self.best["value"], "best_step": self.best["step"],
                 "evaluations_without_improvement": self.evals_without_improvement}
        self._append_log(entry)
        if self.world.is_main:
            logger.info("early stop at step %d of %d: %s has not improved on %s (step %s) for %d evaluations",
                        self.step, self.total_steps, self.metric_name, self.best["value"], self.best["step"],
                        self.evals_without_improvement)
        final = os.path.join(self.output_dir, f"{CHECKPOINT_PREFIX}{self.step}")
        if self.last_checkpoint != final:
            self.world.check_same(self.params, self.step)
            if self.world.is_main:
                self.save_checkpoint()
            else:
                self.last_checkpoint = final

    def run_evaluation(self):
        """Evaluate, log it, update the best; returns the metric dict."""
        t0 = time.perf_counter()
        scores = self.world.bcast(self.evaluate(self.model) if self.world.is_main else None)
        if self.metric_name:
            if self.metric_name not in scores:
                raise ValueError(f"metric_for_best={self.metric_name!r} is not among the metrics "
                                 f"{sorted(scores)}")
            value = float(scores[self.metric_name])
            best = self.best["value"]
            threshold = getattr(self.args, "early_stopping_threshold", 0.0) or 0.0
            if _better(value, best) and (best is None or not math.isfinite(best) or value - best > threshold):
                self.evals_without_improvement = 0
            else:
                self.evals_without_improvement += 1
            if _better(value, best):
                self.best = {"metric": self.metric_name, "value": value, "step": self.step}
        self._append_log({"type": "eval", "step": self.step, **self.source.log_fields(),
                          **{k: _plain(v) for k, v in scores.items()},
                          "eval_seconds": round(time.perf_counter() - t0, 3),
                          "train_examples_per_second": self.examples_per_second()})
        if self.world.is_main:
            logger.info("step %d: %s", self.step, ", ".join(f"{k} {v:.4f}" for k, v in scores.items()))
        return scores

    def examples_per_second(self):
        """Training throughput (forward, backward, update and data; evaluation excluded), over resumes."""
        return round(self.examples_seen / self.train_seconds, 3) if self.train_seconds else 0.0

    def _append_log(self, entry):
        entry = dict(entry, time=round(time.time(), 3))
        self.log.append(entry)
        if not self.world.is_main:
            return
        with open(os.path.join(self.output_dir, LOG_FILE), "a", encoding="utf-8") as f:
            f.write(json.dumps(entry) + "\n")
        logger.debug("%s", entry)

    # -- what defines the run ------------------------------------------------------------------
    def data_fingerprint(self):
        """The source's fingerprint of its data (a hex digest), or None when it has none."""
        fingerprint = getattr(self.source, "fingerprint", None)
        return fingerprint() if fingerprint is not None else None

    def run_identity(self):
        """What every MPI rank must agree on before the first step: {part: JSON-able value}.

        The settings (but progress and plot), the model's config (sizes, activation, labels),
        the head, the run's length and position, and the data's fingerprint.
        """
        settings = {k: v for k, v in dataclasses.asdict(self.args).items() if k not in ("progress", "plot")}
        return {"settings": settings, "config": model_identity(self.model.config), "head": self.head,
                "total_steps": self.total_steps, "step": self.step, "data": self.data_fingerprint()}

    def check_resume(self, path, state, model_dir):
        """ValueError naming everything that differs between the checkpoint's run and this one:
        the model's config (sizes, activation, labels), the head, the data's settings
        (DATA_SETTINGS) and the data's fingerprint. Other settings that changed get a warning."""
        saved = model_identity(AlbertConfig.from_json_file(os.path.join(model_dir, "config.json")))
        now = model_identity(self.model.config)
        differ = [f"{k}: checkpoint {saved.get(k)!r:.120}, now {now.get(k)!r:.120}"
                  for k in now if saved.get(k) != now.get(k)]
        if state.get("head", self.head) != self.head:
            differ.append(f"head: checkpoint {state['head']!r}, now {self.head!r}")
        args, current = state["args"], dataclasses.asdict(self.args)
        for name in type(self.args).DATA_SETTINGS:
            if name in args and name in current and args[name] != current[name]:
                differ.append(f"{name}: checkpoint {args[name]!r}, now {current[name]!r}")
        saved_data, data = state.get("data_fingerprint"), self.data_fingerprint()
        if saved_data is not None and data is not None and saved_data != data:
            differ.append("the training data: its fingerprint differs (other examples, another order, other "
                          "labels, or another tokenizer or max_length)")
        if differ:
            raise ValueError(f"{path} was written by another run than this one; resuming would train another "
                             f"model or on other data. What differs:\n  " + "\n  ".join(differ)
                             + "\nResume with the checkpoint's model, labels, data and settings, or start a "
                               "new run (another output folder, or overwrite)")
        changed = {k: (v, current[k]) for k, v in args.items()
                   if k not in ("progress", "plot") and k in current and current[k] != v}
        if changed:
            logger.warning("resuming with changed settings (checkpoint value, now): %s", changed)

    # -- checkpoints ---------------------------------------------------------------------------
    def trainer_state(self):
        """The JSON-able part of a checkpoint (the source's JSON state merged in)."""
        opt = self.optimizer.state_dict()
        data_json = {k: v for k, v in self.source.state().items() if not isinstance(v, np.ndarray)}
        return {
            "version": STATE_VERSION, "global_step": self.step, "total_steps": self.total_steps,
            "warmup_steps": self.warmup_steps, "head": self.head,
            "rng_state": self.rng.bit_generator.state,
            "optimizer": {"name": self.args.optimizer, "step": opt["step"], "lr": opt["lr"],
                          "betas": list(opt["betas"]), "eps": opt["eps"],
                          "weight_decay": opt["weight_decay"]},
            "best": self.best, "evals_without_improvement": self.evals_without_improvement,
            "examples_seen": self.examples_seen,
            "train_seconds": self.train_seconds, "cpu_seconds": self.cpu_seconds,
            "mpi_ranks": self.world.size, "args": dataclasses.asdict(self.args),
            "data_fingerprint": self.data_fingerprint(), **data_json,
        }

    def save_checkpoint(self):
        """Write checkpoint-<step> atomically (temp folder + rename); drop old ones."""
        final = os.path.join(self.output_dir, f"{CHECKPOINT_PREFIX}{self.step}")
        remove_stale_temp_dirs(self.output_dir)
        tmp = make_temp_dir(self.output_dir, f".tmp-{CHECKPOINT_PREFIX}{self.step}-")
        try:
            self.model.save_pretrained(tmp)
            if hasattr(self.tokenizer, "save_pretrained"):
                self.tokenizer.save_pretrained(tmp)
            opt = self.optimizer.state_dict()
            arrays = {f"exp_avg::{k}": v for k, v in opt["exp_avg"].items()}
            arrays.update({f"exp_avg_sq::{k}": v for k, v in opt["exp_avg_sq"].items()})
            with atomic_open(os.path.join(tmp, OPTIMIZER_FILE), "wb") as f:
                np.savez(f, **arrays)
            data_arrays = {k: v for k, v in self.source.state().items() if isinstance(v, np.ndarray)}
            if data_arrays:
                with atomic_open(os.path.join(tmp, ORDER_FILE), "wb") as f:
                    np.savez(f, **data_arrays)
            _write_log(os.path.join(tmp, LOG_FILE), self.log)
            write_json(os.path.join(tmp, STATE_FILE), self.trainer_state())   # last: marks it complete
            replace_dir(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        self.last_checkpoint = final
        self._rotate_checkpoints()
        if self.args.plot:
            plot_curves(self.log, os.path.join(self.output_dir, "curves.png"), self.metric_name, self.desc)
        logger.info("saved %s", final)
        return final

    def _rotate_checkpoints(self):
        found = list_checkpoints(self.output_dir)
        keep = {s for s, _ in found[-self.args.keep_checkpoints:]}
        if self.best["step"] is not None:
            keep.add(self.best["step"])
        for number, path in found:
            if number not in keep:
                delete_checkpoint(path)

    def load_checkpoint(self, path):
        """Restore weights (in place), optimiser, step, RNG, data position, best and log."""
        state, model_dir, log = read_checkpoint_state(path)
        self.check_resume(path, state, model_dir)
        opt = state["optimizer"]
        if opt["name"] != self.args.optimizer:
            raise ValueError(f"{path} holds {opt['name']} state but optimizer={self.args.optimizer!r}")
        remove_stale_temp_dirs(self.output_dir)
        data_state = dict(state)
        if os.path.isfile(os.path.join(path, ORDER_FILE)):
            try:
                with np.load(os.path.join(path, ORDER_FILE)) as z:
                    data_state.update({k: z[k] for k in z.files})
            except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
                raise ValueError(f"{os.path.join(path, ORDER_FILE)} is damaged ({type(e).__name__}: {e}): "
                                 f"resume from an earlier checkpoint") from e
        self.source.restore(data_state)                 # checks that the data fits, first
        loaded = type(self.model).from_pretrained(model_dir).state_dict()
        for name, arr in self.params.items():
            arr[...] = loaded[name]                     # in place: the optimiser holds these arrays
        self.optimizer.load_state_dict({
            "step": opt["step"], "lr": opt["lr"], "betas": tuple(opt["betas"]), "eps": opt["eps"],
            "weight_decay": opt["weight_decay"], **_read_moments(os.path.join(path, OPTIMIZER_FILE))})
        self.step = state["global_step"]
        self.rng.bit_generator.state = state["rng_state"]
        self.best = state["best"]
        self.evals_without_improvement = state.get("evals_without_improvement", 0)
        self.examples_seen, self.train_seconds = state["examples_seen"], state["train_seconds"]
        self.cpu_seconds = state["cpu_seconds"]
        self.log = log
        if self.world.is_main:
            _write_log(os.path.join(self.output_dir, LOG_FILE), self.log)    # drop what came after it
        self.last_checkpoint = path
        logger.info("resumed from %s at step %d", path, self.step)

    def best_metrics(self):
        """The metrics logged at the best evaluation ({} without one)."""
        for e in reversed(self.log):
            if e.get("type") == "eval" and e["step"] == self.best["step"]:
                return {k: v for k, v in e.items() if k not in NOT_METRICS}
        return {}

    def export_best(self):
        """Copy the best checkpoint's model and tokenizer to output_dir/best; load its weights."""
        step = self.best["step"] if self.best["step"] is not None else self.step
        source = os.path.join(self.output_dir, f"{CHECKPOINT_PREFIX}{step}")
        if not os.path.isdir(source):
            logger.warning("the best checkpoint %s is gone; exporting the last weights", source)
            source = self.last_checkpoint
        tmp = make_temp_dir(self.output_dir, ".tmp-best-")
        try:
            for name in os.listdir(source):
                if name not in (OPTIMIZER_FILE, ORDER_FILE, STATE_FILE, LOG_FILE):
                    shutil.copy2(os.path.join(source, name), tmp)
            write_json(os.path.join(tmp, "best_metrics.json"),
                       {"step": step, "metric": self.metric_name, **self.best_metrics()})
            replace_dir(tmp, os.path.join(self.output_dir, "best"))
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        if step != self.step:
            best = type(self.model).from_pretrained(source)
            self.model.load_state_dict(best.state_dict())
        return os.path.join(self.output_dir, "best")


# --------------------------------------------------------------------------- plotting

_matplotlib_missing_said = False

def plot_curves(log, path, metric=None, title=None):
    """Training loss (and its running mean) and evaluation metrics against the step, as a PNG.

    Returns the path, or None when matplotlib is not installed (the run goes on).
    """
    try:        # optional dependency; a standalone Figure leaves pyplot's global state alone
        import matplotlib  # noqa: F401  (fails first when matplotlib is absent)
        from matplotlib.figure import Figure
    except ImportError:
        global _matplotlib_missing_said
        if not _matplotlib_missing_said:      # once a process, not at every checkpoint
            logger.warning("matplotlib is not installed, so no %s is drawn (pip install matplotlib, or pass "
                           "plot=False / --no-plot)", os.path.basename(path))
            _matplotlib_missing_said = True
        return None
    train = [e for e in log if e.get("type") == "train"]
    evals = [e for e in log if e.get("type") == "eval"]
    fig = Figure(figsize=(11 if evals else 6, 4))
    axes = fig.subplots(1, 2 if evals else 1, squeeze=False)
    ax = axes[0, 0]
    if train:
        steps = np.array([e["step"] for e in train])
        loss = np.array([e["loss"] for e in train])
        ax.plot(steps, loss, lw=0.6, alpha=0.4, label="loss per step")
        k = max(1, len(loss) // 50)
        if k > 1:
            smooth = np.convolve(loss, np.ones(k) / k, mode="valid")
            ax.plot(steps[k - 1:], smooth, lw=1.5, label=f"mean of {k} steps")
        ax.legend()
    ax.set_xlabel("optimiser step")
    ax.set_ylabel("training loss")
    ax.grid(alpha=0.3)
    if evals:
        ax = axes[0, 1]
        keys = [k for k in evals[0] if k not in NOT_METRICS and isinstance(evals[0][k], float)]
        for k in keys:
            ax.plot([e["step"] for e in evals], [e[k] for e in evals], marker="o",
                    lw=2 if k == metric else 1, label=k)
        ax.set_xlabel("optimiser step")
        ax.set_ylabel("evaluation metric")
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path
