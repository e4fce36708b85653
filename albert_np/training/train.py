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
import dataclasses
import json
import logging
import math
import os
import shutil
import time
import zipfile

import numpy as np

from .. import step
from ..config import AlbertConfig
from ..io import atomic_open, make_temp_dir
from .optim import (LAMB, AdamW, clip_grad_norm, constant_with_warmup, linear_warmup_linear_decay,
                    polynomial_decay, warmup_stable_decay)
from .distributed import CHECK_EVERY, RankMismatchError, shard_rows, trim_padding, world
from .checkpoints import (CHECKPOINT_PREFIX, LOG_FILE, OPTIMIZER_FILE, ORDER_FILE, STATE_FILE, STATE_VERSION,
                          delete_checkpoint, list_checkpoints, model_identity, read_checkpoint_state, read_moments,
                          remove_stale_temp_dirs, replace_dir, write_json, write_log)
from .settings import warmup_steps_of
from ..params import named_parameters
from ..progress import progress_bar

logger = logging.getLogger(__name__)

__all__ = ["Trainer", "NonFiniteLossError", "plot_curves"]

NOT_METRICS = ("type", "step", "epoch", "eval_seconds", "train_examples_per_second", "time")


class NonFiniteLossError(FloatingPointError):
    """The loss (or gradient norm) became nan/inf; training stopped, checkpoints kept."""


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
    may_change: names of DATA_SETTINGS that a resume may change (logged as changed settings), e.g.
        the masking of a pretraining run's next phase; any other data setting must agree.
    evaluate: model -> metric dict. metric_for_best: the metric whose highest value marks the
    best checkpoint. step_metrics: [(labels, argmax outputs)] of a step -> extra log fields.
    With args.early_stopping_patience = N the run stops after N evaluations in a row that did not
    raise metric_for_best above its best by more than args.early_stopping_threshold (HF's
    EarlyStoppingCallback); the stop is logged ({"type": "early_stop", ...}) and a resumed run
    that had stopped stays stopped.
    """

    def __init__(self, model, source, head, output_dir, args, *, total_steps=None, desc="train", tokenizer=None,
                 evaluate=None, metric_for_best=None, step_metrics=None, may_change=()):
        self.model, self.source, self.head, self.args = model, source, head, args
        self.may_change = tuple(may_change)   # DATA_SETTINGS a resume may change (a new phase of the run)
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
            if name in args and name in current and args[name] != current[name] and name not in self.may_change:
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
            write_log(os.path.join(tmp, LOG_FILE), self.log)
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
            "weight_decay": opt["weight_decay"], **read_moments(os.path.join(path, OPTIMIZER_FILE))})
        self.step = state["global_step"]
        self.rng.bit_generator.state = state["rng_state"]
        self.best = state["best"]
        self.evals_without_improvement = state.get("evals_without_improvement", 0)
        self.examples_seen, self.train_seconds = state["examples_seen"], state["train_seconds"]
        self.cpu_seconds = state["cpu_seconds"]
        self.log = log
        if self.world.is_main:
            write_log(os.path.join(self.output_dir, LOG_FILE), self.log)    # drop what came after it
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
