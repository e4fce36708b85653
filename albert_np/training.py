"""Fine-tuning: the training loop, evaluation, checkpoints and resume.

    finetune(task, model, train, dev, output_dir, ...)      one call, like HF's Trainer.train()
    python -m albert_np finetune --task sst2 --model DIR --train FILE --dev FILE --out DIR

One optimiser step:
    for each of grad_accum micro-batches (padded per batch, grouped by length):
        loss, _, grads = loss_and_grads(params, config, head, inputs, labels,
                                                  rng, training=True)     (dropout on)
        accumulated += grads / n_micro
    clip the global gradient norm; lr = base lr x schedule(step); AdamW (or LAMB) step.
Every `eval_every` steps (default: each epoch end) the dev set is scored with the
task's metric (dropout off), and a checkpoint is written atomically:

    output_dir/
      checkpoint-<step>/     config.json, model.safetensors   (model.save_pretrained)
                             tokenizer files                   (tokenizer.save_pretrained)
                             optimizer.npz                     (AdamW / LAMB moments)
                             trainer_state.json                (step, epoch, batch position,
                                                                RNG state, schedule, best metric)
                             data_order.npz                    (this epoch's batches)
                             log.jsonl                         (the log up to this step)
      best/                  the best checkpoint's model + tokenizer (at the end)
      log.jsonl              one JSON object a line: train steps, evaluations
      curves.png             loss and metric curves (when matplotlib is installed)

A checkpoint directory is built under a temporary name and renamed into place,
so it is either complete or absent. Resuming restores the weights, the
optimiser moments, the step, the dropout RNG (np.random.Generator
bit_generator.state), the epoch's batch order and position and the log, so a
resumed run continues with exactly the losses of an uninterrupted one.
"""
import argparse
import dataclasses
import json
import logging
import math
import os
import shutil
import sys
import time
from typing import Optional

import numpy as np

from . import datasets
from . import features as F
from .heads import loss_and_grads
from .params import named_parameters
from .io import atomic_open, atomic_write_text, make_temp_dir
from .optim import (LAMB, AdamW, clip_grad_norm, constant_with_warmup, linear_warmup_linear_decay,
                    polynomial_decay)

logger = logging.getLogger(__name__)

__all__ = ["FinetuneArgs", "FinetuneResult", "Trainer", "finetune", "evaluate", "predict",
           "NonFiniteLossError", "latest_checkpoint", "plot_curves",
           "add_finetune_arguments", "finetune_main", "finetune_from_namespace"]

STATE_FILE = "trainer_state.json"
OPTIMIZER_FILE = "optimizer.npz"
ORDER_FILE = "data_order.npz"
LOG_FILE = "log.jsonl"
CHECKPOINT_PREFIX = "checkpoint-"
STATE_VERSION = 1


_NOT_METRICS = ("type", "step", "epoch", "eval_seconds", "train_examples_per_second", "time")


class NonFiniteLossError(FloatingPointError):
    """The loss (or gradient norm) became nan/inf; training stopped, checkpoints kept."""


# --------------------------------------------------------------------------- arguments

@dataclasses.dataclass
class FinetuneArgs:
    """Hyper-parameters of a fine-tuning run (HF TrainingArguments' meanings).

    epochs: passes over the training set (a float is a step budget: 0.5 = half an epoch).
    max_steps: optimiser steps; overrides epochs when set.
    batch_size: examples per micro-batch; grad_accum micro-batches make one step.
    learning_rate: peak rate (> 0). warmup: steps if >= 1, else a fraction of all steps.
    schedule: "linear" (warmup, then linear decay to 0), "constant", "polynomial".
    optimizer: "adamw" (HF's default) or "lamb".
    eval_every: steps between evaluations; None = at the end of each epoch.
    save_every: steps between checkpoints; None = at every evaluation
        (a checkpoint is always written when training ends).
    keep_checkpoints: newest checkpoints kept (the best one is kept as well).
    metric_for_best: key of the metric dict; None = the task's main metric.
    group_by_length: batch examples of similar length (less padding).
    """
    epochs: float = 3.0
    max_steps: Optional[int] = None
    batch_size: int = 32
    eval_batch_size: int = 64
    learning_rate: float = 3e-5
    warmup: float = 0.1
    schedule: str = "linear"
    optimizer: str = "adamw"
    weight_decay: float = 0.01
    adam_eps: float = 1e-8
    max_grad_norm: float = 1.0
    grad_accum: int = 1
    eval_every: Optional[int] = None
    save_every: Optional[int] = None
    keep_checkpoints: int = 2
    seed: int = 42
    max_length: int = 128
    doc_stride: int = 128
    metric_for_best: Optional[str] = None
    group_by_length: bool = True
    progress: bool = True
    plot: bool = True

    def validate(self):
        """Raise ValueError naming any setting that cannot work, and what to use instead."""
        lr = self.learning_rate
        if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(lr) or lr <= 0:
            raise ValueError(f"learning_rate must be a number > 0, got {lr!r} (fine-tuning ALBERT "
                             f"typically uses 1e-5 to 5e-5)")
        for name in ("batch_size", "eval_batch_size", "grad_accum", "keep_checkpoints", "max_length"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        for name in ("max_steps", "eval_every", "save_every"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} must be a positive int or None, got {value!r}")
        if self.max_steps is None and not (self.epochs > 0 and math.isfinite(self.epochs)):
            raise ValueError(f"epochs must be > 0 (or set max_steps), got {self.epochs!r}")
        if not (self.warmup >= 0 and math.isfinite(self.warmup)):
            raise ValueError(f"warmup must be >= 0 (steps, or a fraction < 1 of all steps), got {self.warmup!r}")
        if self.schedule not in ("linear", "constant", "polynomial"):
            raise ValueError(f"schedule must be 'linear', 'constant' or 'polynomial', got {self.schedule!r}")
        if self.optimizer not in ("adamw", "lamb"):
            raise ValueError(f"optimizer must be 'adamw' or 'lamb', got {self.optimizer!r}")
        if not self.max_grad_norm >= 0:
            raise ValueError(f"max_grad_norm must be >= 0 (0 = no clipping), got {self.max_grad_norm!r}")
        if not self.weight_decay >= 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay!r}")
        return self


@dataclasses.dataclass
class FinetuneResult:
    """What finetune returns.

    model: the fine-tuned model (the best checkpoint's weights when a dev set was given).
    metrics: dev metrics of that model. best_step, best_metric: where and what the best was.
    global_step: optimiser steps taken. examples_per_second: training throughput
    (forward + backward + update, evaluation excluded). log: the log entries.
    """
    model: object
    metrics: dict
    best_step: Optional[int]
    best_metric: Optional[float]
    global_step: int
    examples_per_second: float
    output_dir: str
    log: list


# --------------------------------------------------------------------------- model helpers

def model_class(head):
    """The modeling class of a task head."""
    from . import modeling
    return {"sequence": modeling.AlbertForSequenceClassification,
            "token": modeling.AlbertForTokenClassification,
            "qa": modeling.AlbertForQuestionAnswering,
            "multiple_choice": modeling.AlbertForMultipleChoice}[head]


def load_model(task, model, config_overrides=None):
    """A model for `task`: an instance is checked and returned; a folder / repo id is loaded
    with the task's head (a new head is initialised, its labels named after the task's)."""
    cls = model_class(task.head)
    if not isinstance(model, (str, os.PathLike)):
        if not isinstance(model, cls):
            raise TypeError(f"task {task.name} needs a {cls.__name__} (or a model folder), got "
                            f"{type(model).__name__}")
        if task.head in ("sequence", "token") and model.config.num_labels != task.num_labels:
            raise ValueError(f"the model has num_labels={model.config.num_labels} but task {task.name} "
                             f"has {task.num_labels} labels {list(task.labels or [])}")
        return model
    overrides = dict(config_overrides or {})
    if task.head in ("sequence", "token"):
        names = task.labels or ("LABEL_0",)
        overrides.setdefault("id2label", {i: str(n) for i, n in enumerate(names)})
        overrides.setdefault("label2id", {str(n): i for i, n in enumerate(names)})
        overrides.setdefault("num_labels", len(names))
        if task.head == "sequence":
            overrides.setdefault("problem_type", "regression" if task.is_regression
                                 else "single_label_classification")
    elif task.head == "qa":
        overrides.setdefault("num_labels", 2)
    return cls.from_pretrained(os.fspath(model), **overrides)


def load_tokenizer(tokenizer, model):
    """A tokenizer instance, or AlbertTokenizerFast.from_pretrained(tokenizer or the model folder)."""
    if tokenizer is not None and not isinstance(tokenizer, (str, os.PathLike)):
        return tokenizer
    from .tokenization import AlbertTokenizerFast
    source = tokenizer if tokenizer is not None else model
    if not isinstance(source, (str, os.PathLike)):
        raise ValueError("pass tokenizer= (an AlbertTokenizerFast or a folder): the model was given "
                         "as an object, so there is no folder to read spiece.model from")
    return AlbertTokenizerFast.from_pretrained(os.fspath(source))


def _pad_id(tokenizer):
    pad = getattr(tokenizer, "pad_token_id", None)
    return 0 if pad is None else int(pad)


# --------------------------------------------------------------------------- prediction

def predict(model, features, batch_size=64, pad_token_id=0):
    """Model outputs for every feature, in feature order, dropout off.

    Batches are sorted by length (little padding). Returns {"logits": [...]} or
    {"start_logits": [...], "end_logits": [...]}, one array per feature, cut to
    the feature's own length for token / qa outputs.
    """
    n = len(features)
    head = features.task.head
    keys = ("start_logits", "end_logits") if head == "qa" else ("logits",)
    out = {k: [None] * n for k in keys}
    for idx in F.sorted_batches(features.lengths, batch_size):
        inputs, _ = F.collate(features, idx, pad_token_id)
        result = model(**inputs)
        for k in keys:
            values = np.asarray(getattr(result, k))
            for row, i in enumerate(idx):
                v = values[row]
                if head in ("token", "qa"):
                    v = v[:features.lengths[i]]
                out[k][i] = v
    return out


def evaluate(model, features, batch_size=64, pad_token_id=0):
    """The task's metrics (see features.task_metrics) of `model` on `features`."""
    return F.task_metrics(features, predict(model, features, batch_size, pad_token_id))


# --------------------------------------------------------------------------- checkpoint files

def _checkpoint_step(name):
    if not name.startswith(CHECKPOINT_PREFIX):
        return None
    tail = name[len(CHECKPOINT_PREFIX):]
    return int(tail) if tail.isdigit() else None


def list_checkpoints(output_dir):
    """[(step, path)] of the complete checkpoints in output_dir, oldest first."""
    if not os.path.isdir(output_dir):
        return []
    found = []
    for name in os.listdir(output_dir):
        step = _checkpoint_step(name)
        path = os.path.join(output_dir, name)
        if step is not None and os.path.isfile(os.path.join(path, STATE_FILE)):
            found.append((step, path))
    return sorted(found)


def latest_checkpoint(output_dir):
    """Path of the newest complete checkpoint in output_dir, or None."""
    found = list_checkpoints(output_dir)
    return found[-1][1] if found else None


def _replace_dir(tmp, final):
    """Move the finished folder `tmp` to `final`; an old `final` is removed after the swap."""
    old = None
    if os.path.exists(final):
        old = final + f".old-{os.getpid()}"
        os.replace(final, old)
    os.replace(tmp, final)
    if old:
        shutil.rmtree(old, ignore_errors=True)


def _write_json(path, obj):
    atomic_write_text(path, json.dumps(obj, indent=1) + "\n")


def _save_arrays(path, arrays):
    with atomic_open(path, "wb") as f:
        np.savez(f, **arrays)


def _read_log(path):
    if not os.path.isfile(path):
        return []
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


# --------------------------------------------------------------------------- the trainer

class Trainer:
    """The fine-tuning loop and its state; `finetune` builds one and calls `train`.

    State that a checkpoint holds: the model weights, the optimiser, `step`
    (optimiser steps done), `epoch` and `batch_pos` (micro-batches done in the
    epoch), `batches` (this epoch's order), the dropout `rng`, `best`, `log`.
    """

    def __init__(self, task, model, tokenizer, train_features, dev_features, output_dir, args):
        self.task = task
        self.model = model
        self.tokenizer = tokenizer
        self.train_features = train_features
        self.dev_features = dev_features
        self.output_dir = os.fspath(output_dir)
        self.args = args
        self.pad_id = _pad_id(tokenizer)
        self.metric_name = args.metric_for_best or task.main_metric
        self.batches_per_epoch = math.ceil(len(train_features) / args.batch_size)
        self.steps_per_epoch = math.ceil(self.batches_per_epoch / args.grad_accum)
        self.total_steps = args.max_steps or max(1, math.ceil(args.epochs * self.steps_per_epoch))
        w = args.warmup
        self.warmup_steps = int(w) if w >= 1 else int(math.ceil(w * self.total_steps))
        self.rng = np.random.default_rng(args.seed)
        self.step, self.epoch, self.batch_pos, self.batches = 0, 0, 0, None
        self.best = {"metric": self.metric_name, "value": None, "step": None}
        self.log = []
        self.examples_seen, self.train_seconds = 0, 0.0
        self.last_checkpoint = None
        self._postfix = {}
        self.params = named_parameters(model.params)
        self.optimizer = self._make_optimizer()

    # -- set-up ---------------------------------------------------------------------------
    def _make_optimizer(self):
        a = self.args
        if a.optimizer == "lamb":
            return LAMB(self.params, lr=a.learning_rate, weight_decay=a.weight_decay)
        return AdamW(self.params, lr=a.learning_rate, eps=a.adam_eps, weight_decay=a.weight_decay)

    def lr_at(self, step):
        """Learning rate of the update that follows `step` completed steps (HF LambdaLR)."""
        a = self.args
        if a.schedule == "constant":
            mult = constant_with_warmup(step, self.warmup_steps)
        elif a.schedule == "polynomial":
            mult = polynomial_decay(step, self.warmup_steps, max(self.total_steps, self.warmup_steps + 1),
                                    lr_init=a.learning_rate)
        else:
            mult = linear_warmup_linear_decay(step, self.warmup_steps, self.total_steps)
        return a.learning_rate * mult

    def epoch_batches(self, epoch):
        """The micro-batches of `epoch`: a shuffle drawn from (seed, epoch) alone."""
        rng = np.random.default_rng([self.args.seed, epoch])
        if self.args.group_by_length:
            return F.length_grouped_batches(self.train_features.lengths, self.args.batch_size, rng)
        return F.shuffled_batches(len(self.train_features), self.args.batch_size, rng)

    # -- one step ---------------------------------------------------------------------------
    def train_step(self, group):
        """One optimiser update from the micro-batches in `group`. Returns (loss, grad norm, examples)."""
        total, losses, n_examples = None, [], 0
        scale = np.float32(1.0 / len(group))
        for idx in group:
            inputs, labels = F.collate(self.train_features, idx, self.pad_id)
            loss, _, grads = loss_and_grads(self.model.params, self.model.config, self.task.head,
                                                     inputs, labels, rng=self.rng, training=True)
            losses.append(float(loss))
            n_examples += len(idx)
            if total is None:
                total = {k: g * scale for k, g in grads.items()}
            else:
                for k, g in grads.items():
                    total[k] += g * scale
        loss = float(np.mean(losses))
        if not math.isfinite(loss):
            raise self._non_finite("loss", loss)
        norm = clip_grad_norm(total, self.args.max_grad_norm) if self.args.max_grad_norm > 0 \
            else float(np.sqrt(sum(float(np.sum(g * g)) for g in total.values())))
        if not math.isfinite(norm):
            raise self._non_finite("gradient norm", norm)
        self.optimizer.step(total, lr=self.lr_at(self.step))
        return loss, norm, n_examples

    def _non_finite(self, what, value):
        step = self.step + 1
        where = (f"the last good checkpoint is {self.last_checkpoint}" if self.last_checkpoint
                 else "no checkpoint was written yet")
        self._append_log({"type": "error", "step": step, "message": f"{what} is {value}"})
        return NonFiniteLossError(
            f"training stopped: the {what} became {value} at step {step} (epoch {self.epoch}, "
            f"micro-batch {self.batch_pos} of {self.batches_per_epoch}); nothing was saved after it and "
            f"{where}. Resume from it with a lower learning rate (now {self.args.learning_rate}), "
            f"more warmup or gradient clipping (max_grad_norm).")

    # -- the loop --------------------------------------------------------------------------
    def train(self):
        """Run until total_steps; evaluate and checkpoint on schedule. Returns self.best."""
        a = self.args
        bar = _progress_bar(self.total_steps, self.step, f"finetune {self.task.name}", a.progress)
        logger.info("training %s: %d features, %d steps (%d per epoch), batch %d x %d accumulation, "
                    "warmup %d, lr %g", self.task.name, len(self.train_features), self.total_steps,
                    self.steps_per_epoch, a.batch_size, a.grad_accum, self.warmup_steps, a.learning_rate)
        try:
            while self.step < self.total_steps:
                if self.batches is None:
                    self.batches = self.epoch_batches(self.epoch)
                group = self.batches[self.batch_pos:self.batch_pos + a.grad_accum]
                t0 = time.perf_counter()
                loss, norm, n = self.train_step(group)
                self.train_seconds += time.perf_counter() - t0
                lr = self.lr_at(self.step)
                self.step += 1
                self.batch_pos += len(group)
                self.examples_seen += n
                epoch_done = self.batch_pos >= len(self.batches)
                self._append_log({"type": "train", "step": self.step,
                                  "epoch": round(self.epoch + self.batch_pos / len(self.batches), 4),
                                  "loss": loss, "lr": lr, "grad_norm": norm, "examples": n})
                if epoch_done:
                    self.epoch, self.batch_pos, self.batches = self.epoch + 1, 0, None
                bar.update(1)
                self._postfix["loss"] = f"{loss:.4f}"
                bar.set_postfix(self._postfix, refresh=False)
                self._after_step(epoch_done, bar)
        finally:
            bar.close()
        return self.best

    def _after_step(self, epoch_done, bar):
        a = self.args
        last = self.step >= self.total_steps
        evaluated = False
        if self.dev_features is not None and (
                (a.eval_every and self.step % a.eval_every == 0)
                or (a.eval_every is None and epoch_done) or last):
            scores = self.run_evaluation()
            self._postfix[self.metric_name] = f"{scores[self.metric_name]:.4f}"
            bar.set_postfix(self._postfix, refresh=False)
            evaluated = True
        if evaluated or last or (a.save_every and self.step % a.save_every == 0):
            self.save_checkpoint()

    def run_evaluation(self):
        """Score the dev set, log it, update the best; returns the metric dict."""
        t0 = time.perf_counter()
        scores = evaluate(self.model, self.dev_features, self.args.eval_batch_size, self.pad_id)
        if self.metric_name not in scores:
            raise ValueError(f"metric_for_best={self.metric_name!r} is not among the task's metrics "
                             f"{sorted(scores)}")
        value = float(scores[self.metric_name])
        if _better(value, self.best["value"]):
            self.best = {"metric": self.metric_name, "value": value, "step": self.step}
        entry = {"type": "eval", "step": self.step, "epoch": self.epoch + self.batch_pos / max(1, self.batches_per_epoch),
                 **{k: float(v) for k, v in scores.items()},
                 "eval_seconds": round(time.perf_counter() - t0, 3),
                 "train_examples_per_second": self.examples_per_second()}
        self._append_log(entry)
        logger.info("step %d: %s", self.step, ", ".join(f"{k} {v:.4f}" for k, v in scores.items()))
        return scores

    def examples_per_second(self):
        return round(self.examples_seen / self.train_seconds, 3) if self.train_seconds else 0.0

    def _append_log(self, entry):
        entry = dict(entry, time=round(time.time(), 3))
        self.log.append(entry)
        os.makedirs(self.output_dir, exist_ok=True)
        with open(os.path.join(self.output_dir, LOG_FILE), "a", encoding="utf-8") as f:
            f.write(json.dumps(entry) + "\n")

    # -- checkpoints ---------------------------------------------------------------------------
    def trainer_state(self):
        """The JSON-able part of a checkpoint."""
        opt = self.optimizer.state_dict()
        return {
            "version": STATE_VERSION, "task": self.task.name, "head": self.task.head,
            "global_step": self.step, "epoch": self.epoch, "batch_pos": self.batch_pos,
            "total_steps": self.total_steps, "warmup_steps": self.warmup_steps,
            "num_train_features": len(self.train_features),
            "rng_state": self.rng.bit_generator.state,
            "optimizer": {"name": self.args.optimizer, "step": opt["step"], "lr": opt["lr"],
                          "betas": list(opt["betas"]), "eps": opt["eps"],
                          "weight_decay": opt["weight_decay"]},
            "best": self.best, "examples_seen": self.examples_seen,
            "train_seconds": self.train_seconds, "args": dataclasses.asdict(self.args),
        }

    def save_checkpoint(self):
        """Write checkpoint-<step> atomically (temp folder + rename); drop old ones."""
        final = os.path.join(self.output_dir, f"{CHECKPOINT_PREFIX}{self.step}")
        tmp = make_temp_dir(self.output_dir, f".tmp-{CHECKPOINT_PREFIX}{self.step}-")
        try:
            self.model.save_pretrained(tmp)
            if hasattr(self.tokenizer, "save_pretrained"):
                self.tokenizer.save_pretrained(tmp)
            opt = self.optimizer.state_dict()
            arrays = {f"exp_avg::{k}": v for k, v in opt["exp_avg"].items()}
            arrays.update({f"exp_avg_sq::{k}": v for k, v in opt["exp_avg_sq"].items()})
            _save_arrays(os.path.join(tmp, OPTIMIZER_FILE), arrays)
            if self.batches is not None:
                order = np.concatenate(self.batches) if self.batches else np.zeros(0, np.int64)
                sizes = np.array([len(b) for b in self.batches], dtype=np.int64)
                _save_arrays(os.path.join(tmp, ORDER_FILE), {"order": order, "sizes": sizes})
            with atomic_open(os.path.join(tmp, LOG_FILE), "w", encoding="utf-8") as f:
                f.writelines(json.dumps(e) + "\n" for e in self.log)
            _write_json(os.path.join(tmp, STATE_FILE), self.trainer_state())   # last: marks it complete
            _replace_dir(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        self.last_checkpoint = final
        self._rotate_checkpoints()
        logger.info("saved %s", final)
        return final

    def _rotate_checkpoints(self):
        found = list_checkpoints(self.output_dir)
        keep = {s for s, _ in found[-self.args.keep_checkpoints:]}
        if self.best["step"] is not None:
            keep.add(self.best["step"])
        for step, path in found:
            if step not in keep:
                shutil.rmtree(path, ignore_errors=True)

    def load_checkpoint(self, path):
        """Restore everything save_checkpoint wrote (the weights are loaded by the caller)."""
        with open(os.path.join(path, STATE_FILE), encoding="utf-8") as f:
            state = json.load(f)
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"{path}: trainer_state version {state.get('version')} is not {STATE_VERSION}")
        if state["num_train_features"] != len(self.train_features):
            raise ValueError(
                f"{path} was written while training on {state['num_train_features']} features, but "
                f"this run has {len(self.train_features)}: resume with the same training data, "
                f"--limit-train, --max-length and tokenizer")
        changed = {k: (v, getattr(self.args, k)) for k, v in state["args"].items()
                   if k not in ("progress", "plot") and hasattr(self.args, k) and getattr(self.args, k) != v}
        if changed:
            logger.warning("resuming with changed settings (checkpoint value, now): %s", changed)
        opt = state["optimizer"]
        if opt["name"] != self.args.optimizer:
            raise ValueError(f"{path} holds {opt['name']} state but optimizer={self.args.optimizer!r}")
        with np.load(os.path.join(path, OPTIMIZER_FILE)) as z:
            moments = {k: z[k] for k in z.files}
        self.optimizer.load_state_dict({
            "step": opt["step"], "lr": opt["lr"], "betas": tuple(opt["betas"]), "eps": opt["eps"],
            "weight_decay": opt["weight_decay"],
            "exp_avg": {k.split("::", 1)[1]: v for k, v in moments.items() if k.startswith("exp_avg::")},
            "exp_avg_sq": {k.split("::", 1)[1]: v for k, v in moments.items() if k.startswith("exp_avg_sq::")},
        })
        self.step, self.epoch, self.batch_pos = state["global_step"], state["epoch"], state["batch_pos"]
        self.rng.bit_generator.state = state["rng_state"]
        self.best = state["best"]
        self.examples_seen, self.train_seconds = state["examples_seen"], state["train_seconds"]
        self.batches = None
        order_path = os.path.join(path, ORDER_FILE)
        if os.path.isfile(order_path):
            with np.load(order_path) as z:
                self.batches = np.split(z["order"], np.cumsum(z["sizes"])[:-1]) if len(z["sizes"]) else []
        self.log = _read_log(os.path.join(path, LOG_FILE))
        with atomic_open(os.path.join(self.output_dir, LOG_FILE), "w", encoding="utf-8") as f:
            f.writelines(json.dumps(e) + "\n" for e in self.log)       # drop what came after it
        self.last_checkpoint = path
        logger.info("resumed from %s at step %d (epoch %d, micro-batch %d)", path, self.step,
                    self.epoch, self.batch_pos)

    def best_metrics(self):
        """The metrics logged at the best evaluation ({} without a dev set)."""
        for e in reversed(self.log):
            if e.get("type") == "eval" and e["step"] == self.best["step"]:
                return {k: v for k, v in e.items() if k not in _NOT_METRICS}
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
            _write_json(os.path.join(tmp, "best_metrics.json"),
                        {"step": step, "metric": self.metric_name, **self.best_metrics()})
            _replace_dir(tmp, os.path.join(self.output_dir, "best"))
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        if step != self.step:
            best = type(self.model).from_pretrained(source)
            self.model.load_state_dict(best.state_dict())
        return os.path.join(self.output_dir, "best")


def _better(value, best):
    """Higher is better; nan (e.g. the correlation of constant predictions) is worst."""
    if not math.isfinite(value):
        return best is None
    return best is None or not math.isfinite(best) or value > best


def _progress_bar(total, initial, desc, enabled):
    """A tqdm bar (stderr), or a silent stand-in when disabled or tqdm is missing."""
    if enabled:
        try:
            from tqdm.auto import tqdm
            interactive = sys.stderr.isatty()
            return tqdm(total=total, initial=initial, desc=desc, dynamic_ncols=interactive,
                        mininterval=0.5 if interactive else 30.0, file=sys.stderr)
        except ImportError:
            pass

    class _Silent:
        def update(self, n=1):
            pass

        def set_postfix(self, *args, **kwargs):
            pass

        def close(self):
            pass
    return _Silent()


# --------------------------------------------------------------------------- plotting

def plot_curves(log, path, metric=None, title=None):
    """Training loss (and its running mean) and dev metrics against the step, as a PNG.

    Returns the path, or None when matplotlib is not installed (the run goes on).
    """
    try:        # a standalone Figure: pyplot's global state (a notebook's backend) is left alone
        import matplotlib  # noqa: F401  (fails first when matplotlib is absent)
        from matplotlib.figure import Figure
    except ImportError:
        logger.info("matplotlib is not installed: no %s", path)
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
        keys = [k for k in evals[0] if k not in _NOT_METRICS]
        for k in keys:
            ax.plot([e["step"] for e in evals], [e[k] for e in evals], marker="o",
                    lw=2 if k == metric else 1, label=k)
        ax.set_xlabel("optimiser step")
        ax.set_ylabel("dev metric")
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


# --------------------------------------------------------------------------- finetune

def _prepare(task, source, tokenizer, args, limit, what):
    if source is None:
        return None
    examples = datasets.load_examples(task, source, limit=limit)
    features = F.featurize(task, examples, tokenizer, args.max_length, args.doc_stride)
    logger.info("%s: %d examples -> %d features (mean %.1f tokens)", what, len(examples),
                len(features), float(np.mean(features.lengths)))
    return features


def finetune(task, model, train, dev=None, output_dir="finetune_output", tokenizer=None, *,
             resume_from=None, overwrite_output_dir=False, limit_train=None, limit_dev=None,
             config_overrides=None, **kwargs):
    """Fine-tune `model` on `task`; evaluate on `dev`; keep the best checkpoint.

    Args:
        task: a preset name ("sst2", "cola", "mrpc", "stsb", "rte", "wnut17", "squad",
            "cosmosqa") or a datasets.Task (datasets.get_task("sst2", text_columns=...)).
        model: a model folder / Hub id (loaded with the task's head) or a model instance.
        train, dev: a file path (TSV/CSV/JSONL/CoNLL/SQuAD JSON) or a list of examples
            (dicts with the task's columns; see datasets.load_examples). dev may be None.
        output_dir: where checkpoints, log.jsonl, curves.png and best/ go.
        tokenizer: an AlbertTokenizerFast, a folder, or None (the model folder).
        resume_from: a checkpoint folder, or "latest" / True for the newest in output_dir
            (starts afresh when there is none).
        overwrite_output_dir: start afresh in an output_dir that holds checkpoints
            (they and best/ are deleted); without it that is an error.
        limit_train, limit_dev: use only the first N examples.
        config_overrides: model config fields for a freshly loaded model, e.g.
            {"classifier_dropout_prob": 0.1, "hidden_dropout_prob": 0.1}.
        **kwargs: FinetuneArgs fields (epochs, max_steps, batch_size, learning_rate, ...).
    Returns:
        FinetuneResult (model with the best weights, dev metrics, throughput, log).
    Raises:
        ValueError / TypeError for bad settings or data, naming the offending value;
        NonFiniteLossError when the loss becomes nan/inf (checkpoints up to then are kept).
    """
    unknown = sorted(set(kwargs) - {f.name for f in dataclasses.fields(FinetuneArgs)})
    output_dir = os.fspath(output_dir)
    earlier = [os.path.basename(p) for _, p in list_checkpoints(output_dir)]
    if resume_from in (None, False) and not overwrite_output_dir and earlier:
        raise ValueError(f"{output_dir} already holds checkpoints {earlier}: pass resume_from='latest' "
                         f"(CLI --resume) to continue that run, overwrite_output_dir=True (--overwrite) "
                         f"to start again there, or another folder")
    if unknown:
        raise TypeError(f"finetune() got unknown settings {unknown}; the settings are "
                        f"{[f.name for f in dataclasses.fields(FinetuneArgs)]}")
    args = FinetuneArgs(**kwargs).validate()
    task = datasets.get_task(task)
    resume = _resolve_resume(resume_from, output_dir)
    tok = load_tokenizer(tokenizer, resume or model)
    net = load_model(task, resume or model, config_overrides if resume is None else None)
    train_features = _prepare(task, train, tok, args, limit_train, "train")
    if train_features is None:
        raise ValueError("train is None: pass a training file or a list of examples")
    dev_features = _prepare(task, dev, tok, args, limit_dev, "dev")
    os.makedirs(output_dir, exist_ok=True)
    trainer = Trainer(task, net, tok, train_features, dev_features, output_dir, args)
    if resume is not None:
        trainer.load_checkpoint(resume)
    else:
        _start_afresh(output_dir, overwrite_output_dir)
    if trainer.step < trainer.total_steps:
        trainer.train()
    elif trainer.last_checkpoint is None:
        trainer.save_checkpoint()
    trainer.export_best()
    metrics = trainer.best_metrics()
    if args.plot:
        plot_curves(trainer.log, os.path.join(output_dir, "curves.png"), trainer.metric_name,
                    f"{task.name}: {trainer.step} steps of {args.batch_size * args.grad_accum} examples, "
                    f"peak lr {args.learning_rate:g}")
    return FinetuneResult(trainer.model, metrics, trainer.best["step"], trainer.best["value"],
                          trainer.step, trainer.examples_per_second(), output_dir, trainer.log)


def _start_afresh(output_dir, overwrite):
    """Clear what an earlier run left in output_dir (checkpoints, best/; the log is kept aside)."""
    if overwrite:
        for _, path in list_checkpoints(output_dir):
            shutil.rmtree(path)
        shutil.rmtree(os.path.join(output_dir, "best"), ignore_errors=True)
    log = os.path.join(output_dir, LOG_FILE)
    if os.path.exists(log):
        os.replace(log, log + ".previous")


def _resolve_resume(resume_from, output_dir):
    if resume_from in (None, False):
        return None
    if resume_from is True or resume_from == "latest":
        path = latest_checkpoint(output_dir)
        if path is None:
            logger.info("no checkpoint in %s: starting afresh", output_dir)
        return path
    path = os.fspath(resume_from)
    if not os.path.isfile(os.path.join(path, STATE_FILE)):
        raise FileNotFoundError(f"{path} is not a complete checkpoint (no {STATE_FILE}); the checkpoints "
                                f"in {output_dir} are {[p for _, p in list_checkpoints(output_dir)]}")
    return path


# --------------------------------------------------------------------------- CLI

def add_finetune_arguments(parser):
    """Add the `finetune` sub-command's options to an argparse parser."""
    d = FinetuneArgs()
    p = parser
    p.add_argument("--task", required=True, choices=sorted(datasets.TASKS), help="task preset")
    p.add_argument("--model", required=True, help="model folder or Hub id (config.json + model.safetensors)")
    p.add_argument("--tokenizer", default=None, help="tokenizer folder (default: the model folder)")
    p.add_argument("--train", default=None, help="training file (default: the preset's file under --data-dir)")
    p.add_argument("--dev", default=None, help="dev file (default: the preset's file under --data-dir)")
    p.add_argument("--data-dir", default=None,
                   help=f"folder of the shared data (default: ${datasets.DATA_ENV} or ../shared/data)")
    p.add_argument("--out", required=True, help="output folder (checkpoints, log.jsonl, curves.png, best/)")
    p.add_argument("--epochs", type=float, default=d.epochs)
    p.add_argument("--max-steps", type=int, default=None, help="optimiser steps (overrides --epochs)")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help="examples per micro-batch")
    p.add_argument("--eval-batch-size", type=int, default=d.eval_batch_size)
    p.add_argument("--grad-accum", type=int, default=d.grad_accum, help="micro-batches per step")
    p.add_argument("--lr", type=float, default=d.learning_rate, help="peak learning rate")
    p.add_argument("--warmup", type=float, default=d.warmup, help="warmup steps (>= 1) or fraction (< 1)")
    p.add_argument("--schedule", choices=("linear", "constant", "polynomial"), default=d.schedule)
    p.add_argument("--optimizer", choices=("adamw", "lamb"), default=d.optimizer)
    p.add_argument("--weight-decay", type=float, default=d.weight_decay)
    p.add_argument("--max-grad-norm", type=float, default=d.max_grad_norm)
    p.add_argument("--eval-every", type=int, default=None, help="steps between evaluations (default: each epoch)")
    p.add_argument("--save-every", type=int, default=None, help="steps between checkpoints (default: each evaluation)")
    p.add_argument("--keep-checkpoints", type=int, default=d.keep_checkpoints)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--max-length", type=int, default=d.max_length)
    p.add_argument("--doc-stride", type=int, default=d.doc_stride, help="SQuAD window overlap in tokens")
    p.add_argument("--limit-train", type=int, default=None, help="use the first N training examples")
    p.add_argument("--limit-dev", type=int, default=None, help="use the first N dev examples")
    p.add_argument("--text-columns", default=None, help="comma-separated text column names")
    p.add_argument("--label-column", default=None, help="label column name")
    p.add_argument("--labels", default=None, help="comma-separated label names, in id order")
    p.add_argument("--format", default=None, choices=("tsv", "csv", "jsonl", "conll"),
                   help="file format (default: from the file name, else the preset's)")
    p.add_argument("--metric-for-best", default=None, help="metric that picks the best checkpoint")
    p.add_argument("--hidden-dropout", type=float, default=None, help="override hidden_dropout_prob")
    p.add_argument("--classifier-dropout", type=float, default=None, help="override classifier_dropout_prob")
    p.add_argument("--no-group-by-length", action="store_true", help="plain shuffled batches")
    p.add_argument("--resume", nargs="?", const="latest", default=None,
                   help="resume from a checkpoint folder, or the latest in --out when no folder is given")
    p.add_argument("--overwrite", action="store_true",
                   help="start afresh in an --out folder that holds checkpoints (deletes them)")
    p.add_argument("--no-progress", action="store_true", help="no tqdm progress bar")
    p.add_argument("--no-plot", action="store_true", help="do not write curves.png")
    p.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    return parser


def _args_from_cli(ns):
    """FinetuneArgs fields from parsed CLI options."""
    return dict(
        epochs=ns.epochs, max_steps=ns.max_steps, batch_size=ns.batch_size,
        eval_batch_size=ns.eval_batch_size, learning_rate=ns.lr, warmup=ns.warmup,
        schedule=ns.schedule, optimizer=ns.optimizer, weight_decay=ns.weight_decay,
        max_grad_norm=ns.max_grad_norm, grad_accum=ns.grad_accum, eval_every=ns.eval_every,
        save_every=ns.save_every, keep_checkpoints=ns.keep_checkpoints, seed=ns.seed,
        max_length=ns.max_length, doc_stride=ns.doc_stride, metric_for_best=ns.metric_for_best,
        group_by_length=not ns.no_group_by_length, progress=not ns.no_progress,
        plot=not ns.no_plot)


def finetune_main(argv=None):
    """`python -m albert_np finetune ...`: parse argv, run, print the result. Returns an exit code."""
    parser = argparse.ArgumentParser(prog="python -m albert_np finetune",
                                     description="Fine-tune ALBERT on a task (NumPy, CPU).")
    add_finetune_arguments(parser)
    return finetune_from_namespace(parser.parse_args(argv))


def finetune_from_namespace(ns):
    """Run `finetune` from options parsed with add_finetune_arguments (for a sub-command).

    Prints a summary; returns 0, or 2 with the error on stderr for bad data or settings.
    """
    logging.basicConfig(format="%(asctime)s %(name)s: %(message)s")     # no-op when already set up
    logging.getLogger("albert_np").setLevel(getattr(logging, ns.log_level))
    try:
        task = datasets.get_task(ns.task, text_columns=ns.text_columns, label_column=ns.label_column,
                             labels=ns.labels, format=ns.format)
        train = ns.train or datasets.default_data_file(task, "train", ns.data_dir)
        dev = ns.dev or datasets.default_data_file(task, "dev", ns.data_dir)
        if train is None:
            raise ValueError(f"--train is required for task {task.name} (no default training file "
                             f"was found under --data-dir / ${datasets.DATA_ENV} / ../shared/data)")
        overrides = {k: v for k, v in (("hidden_dropout_prob", ns.hidden_dropout),
                                       ("classifier_dropout_prob", ns.classifier_dropout)) if v is not None}
        result = finetune(task, ns.model, train, dev, ns.out, ns.tokenizer, resume_from=ns.resume,
                          overwrite_output_dir=ns.overwrite, limit_train=ns.limit_train, limit_dev=ns.limit_dev,
                          config_overrides=overrides or None, **_args_from_cli(ns))
    except (ValueError, TypeError, FileNotFoundError, NonFiniteLossError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"task {task.name}: {result.global_step} steps, {result.examples_per_second:.1f} training examples/s")
    if result.metrics:
        print(f"best step {result.best_step}: " + ", ".join(f"{k} {v:.4f}" for k, v in result.metrics.items()))
    print(f"best model: {os.path.join(result.output_dir, 'best')}; log: {os.path.join(result.output_dir, LOG_FILE)}")
    return 0


if __name__ == "__main__":
    sys.exit(finetune_main())
