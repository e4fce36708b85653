"""Fine-tuning: a task's data and head, run through the one loop of train.py.

    finetune(task, model, train, dev, output_dir, ...)      one call, like HF's Trainer.train()
    python -m albert_np finetune --task sst2 --model DIR --train FILE --dev FILE --out DIR

The data is a list of features (F.featurize) cut into micro-batches, an epoch
at a time (EpochBatches: grouped by length, in an order drawn from (seed, epoch)
alone); grad_accum micro-batches make one optimiser step, and a step never
crosses an epoch. Every `eval_every` steps (default: each epoch end) the dev set
is scored with the task's metric (dropout off) and a checkpoint is written (see
train.py for its files); the best one is copied to output_dir/best at the end:

    output_dir/
      checkpoint-<step>/     the model + tokenizer, a loadable model folder, and the
                             training state (train.py)
      best/                  the best checkpoint's model + tokenizer, best_metrics.json
      log.jsonl              one JSON object a line: train steps, evaluations
      curves.png             loss and metric curves (when matplotlib is installed)
"""
import argparse
import dataclasses
import logging
import math
import os
import shutil
import sys
from typing import Any, List, Optional, Union

import numpy as np

from . import datasets
from . import features as F
from .distributed import world
from ..modeling import AlbertPreTrainedModel, model_class
from ..tokenization import AlbertTokenizerFast
from ..hints import NameOrPath, PathLike
from ..io import describe_os_error
from .settings import LoopSettings, add_settings_arguments, setting, settings_from_args
from .checkpoints import LOG_FILE, STATE_FILE, delete_checkpoint, latest_checkpoint, list_checkpoints
from .train import NonFiniteLossError, Trainer, plot_curves

logger = logging.getLogger(__name__)

__all__ = ["FinetuneSettings", "FinetuneResult", "EpochBatches", "finetune", "evaluate", "predict",
           "model_for_task", "tokenizer_for",
           "add_finetune_arguments", "finetune_main", "finetune_from_namespace"]

# --------------------------------------------------------------------------- settings

@dataclasses.dataclass
class FinetuneSettings(LoopSettings):
    """The settings of a fine-tuning run: the loop's (settings.LoopSettings, whose defaults are
    fine-tuning's) and these. finetune(...) takes each as a keyword argument, the `finetune`
    command as an option (--learning-rate, --no-group-by-length, ...)."""
    max_steps: Optional[int] = setting(None, "optimiser steps of the run (unset: --epochs passes over the data)")
    epochs: float = setting(
        3.0, "passes over the training set (a fraction is a step budget: 0.5 = half an epoch); "
             "--max-steps overrides it")
    eval_batch_size: int = setting(64, "examples per batch when the dev set is scored")
    max_length: int = setting(128, "tokens per feature (longer texts are cut; SQuAD: windows of this size)")
    doc_stride: int = setting(128, "SQuAD: tokens shared by neighbouring windows of a long context")
    metric_for_best: Optional[str] = setting(
        None, "the dev metric whose highest value marks the best checkpoint (unset: the task's main metric)")
    group_by_length: bool = setting(True, "batch examples of similar length (less padding); "
                                          "--no-group-by-length: plain shuffled batches")

    DATA_SETTINGS = LoopSettings.DATA_SETTINGS + ("max_length", "doc_stride", "group_by_length")

    def validate(self):
        """LoopSettings.validate, and this use's fields; returns self."""
        super().validate()
        self.check_positive_ints("eval_batch_size", "max_length")
        if self.max_steps is None and not (self.epochs > 0 and math.isfinite(self.epochs)):
            raise ValueError(f"epochs must be > 0 (or set max_steps), got {self.epochs!r}")
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

def model_for_task(task, model, config_overrides=None):
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


def tokenizer_for(tokenizer, model):
    """A tokenizer instance, or AlbertTokenizerFast.from_pretrained(tokenizer or the model folder)."""
    if tokenizer is not None and not isinstance(tokenizer, (str, os.PathLike)):
        return tokenizer
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
    """The task's metrics (see F.task_metrics) of `model` on `features`."""
    return F.task_metrics(features, predict(model, features, batch_size, pad_token_id))


# --------------------------------------------------------------------------- the data

class EpochBatches:
    """Micro-batches of fine-tuning features, epoch after epoch: train.py's batch source.

    Each epoch's order is drawn from (seed, epoch) alone; a step takes up to grad_accum
    micro-batches but never crosses the end of an epoch. Its state: epoch, batch_pos
    (micro-batches done in the epoch), num_train_features, and this epoch's order
    (arrays order and sizes) once drawn.
    """

    def __init__(self, features, batch_size, seed, group_by_length=True, pad_id=0):
        self.features, self.batch_size, self.seed = features, batch_size, seed
        self.group_by_length, self.pad_id = group_by_length, pad_id
        self.batches_per_epoch = math.ceil(len(features) / batch_size)
        self.epoch, self.batch_pos, self.batches = 0, 0, None
        self.epoch_done, self.position = False, 0.0
        self._fingerprint = None

    def epoch_batches(self, epoch):
        """The micro-batches (index arrays) of `epoch`."""
        rng = np.random.default_rng([self.seed, epoch])
        if self.group_by_length:
            return F.length_grouped_batches(self.features.lengths, self.batch_size, rng)
        return F.shuffled_batches(len(self.features), self.batch_size, rng)

    def next_step(self, n):
        """[(inputs, labels)] of the next step: up to n micro-batches of this epoch."""
        if self.batches is None:
            self.batches = self.epoch_batches(self.epoch)
        group = self.batches[self.batch_pos:self.batch_pos + n]
        self.batch_pos += len(group)
        self.epoch_done = self.batch_pos >= len(self.batches)
        self.position = round(self.epoch + self.batch_pos / len(self.batches), 4)
        if self.epoch_done:
            self.epoch, self.batch_pos, self.batches = self.epoch + 1, 0, None
        return [F.collate(self.features, idx, self.pad_id) for idx in group]

    def fingerprint(self):
        """A digest of the training features (ids, token types, labels): checked on resume and
        across MPI ranks, so that a run never continues on other data or other label ids."""
        if self._fingerprint is None:                 # the features never change: hashed once
            self._fingerprint = F.fingerprint(self.features)
        return self._fingerprint

    def log_fields(self):
        """The epoch as a fraction (1.5 = half-way through the second epoch)."""
        return {"epoch": self.position}

    def state(self):
        state = {"epoch": self.epoch, "batch_pos": self.batch_pos, "num_train_features": len(self.features)}
        if self.batches is not None:
            state["order"] = np.concatenate(self.batches) if self.batches else np.zeros(0, np.int64)
            state["sizes"] = np.array([len(b) for b in self.batches], dtype=np.int64)
        return state

    def restore(self, state):
        if state["num_train_features"] != len(self.features):
            raise ValueError(
                f"the checkpoint was written while training on {state['num_train_features']} features, but "
                f"this run has {len(self.features)}: resume with the same training data, "
                f"--limit-train, --max-length and tokenizer")
        self.epoch, self.batch_pos, self.batches = state["epoch"], state["batch_pos"], None
        self.position = round(self.epoch + self.batch_pos / max(1, self.batches_per_epoch), 4)
        if "sizes" in state:
            sizes = state["sizes"]
            self.batches = np.split(state["order"], np.cumsum(sizes)[:-1]) if len(sizes) else []

    def close(self):
        pass

# --------------------------------------------------------------------------- finetune

def make_trainer(task, model, tokenizer, train_features, dev_features, output_dir, args):
    """The train.py Trainer of a fine-tuning run: EpochBatches, the task's head and dev metric.

    args: FinetuneSettings; the run is args.max_steps long, or args.epochs passes over the data.
    """
    pad_id = _pad_id(tokenizer)
    source = EpochBatches(train_features, args.batch_size, args.seed, args.group_by_length, pad_id)
    steps_per_epoch = math.ceil(source.batches_per_epoch / args.grad_accum)
    total = args.max_steps or max(1, math.ceil(args.epochs * steps_per_epoch))
    evaluate_dev = None
    if dev_features is not None:
        def evaluate_dev(m):
            return evaluate(m, dev_features, args.eval_batch_size, pad_id)
    logger.info("training %s: %d features, %d steps (%d per epoch), batch %d x %d accumulation", task.name,
                len(train_features), total, steps_per_epoch, args.batch_size, args.grad_accum)
    return Trainer(model, source, task.head, output_dir, args, total_steps=total, desc=f"finetune {task.name}",
                   tokenizer=tokenizer, evaluate=evaluate_dev, metric_for_best=args.metric_for_best or task.main_metric)


def _prepare(task, source, tokenizer, args, limit, what):
    if source is None:
        return None
    examples = datasets.load_examples(task, source, limit=limit)
    features = F.featurize(task, examples, tokenizer, args.max_length, args.doc_stride)
    logger.info("%s: %d examples -> %d features (mean %.1f tokens)", what, len(examples),
                len(features), float(np.mean(features.lengths)))
    return features


def finetune(task: Union[str, datasets.Task], model: Union[NameOrPath, AlbertPreTrainedModel],
             train: Union[PathLike, List[dict]], dev: Union[PathLike, List[dict], None] = None,
             output_dir: PathLike = "finetune_output", tokenizer: Union[NameOrPath, AlbertTokenizerFast, None] = None,
             *, resume_from: Union[PathLike, bool, None] = None, overwrite_output_dir: bool = False,
             limit_train: Optional[int] = None, limit_dev: Optional[int] = None,
             config_overrides: Optional[dict] = None, **kwargs: Any) -> FinetuneResult:
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
        **kwargs: FinetuneSettings fields (epochs, max_steps, batch_size, learning_rate, ...).
    Returns:
        FinetuneResult (model with the best weights, dev metrics, throughput, log).
    Raises:
        ValueError / TypeError for bad settings or data, naming the offending value;
        NonFiniteLossError when the loss becomes nan/inf (checkpoints up to then are kept).
    """
    unknown = sorted(set(kwargs) - {f.name for f in dataclasses.fields(FinetuneSettings)})
    output_dir = os.fspath(output_dir)
    if os.path.exists(output_dir) and not os.path.isdir(output_dir):
        raise ValueError(f"output_dir (--out) {output_dir!r} is a file, not a folder: give a folder")
    for name, source in (("train", train), ("dev", dev)):
        if isinstance(source, (str, os.PathLike)) and os.path.isdir(source):
            raise ValueError(f"{name} (--{name}) {os.fspath(source)!r} is a folder: give the data file in it "
                             f"(TSV, CSV, JSONL, CoNLL or SQuAD JSON)")
    earlier = [os.path.basename(p) for _, p in list_checkpoints(output_dir)]
    if resume_from in (None, False) and not overwrite_output_dir and earlier:
        raise ValueError(f"{output_dir} already holds checkpoints {earlier}: pass resume_from='latest' "
                         f"(CLI --resume) to continue that run, overwrite_output_dir=True (--overwrite) "
                         f"to start again there, or another folder")
    if unknown:
        raise TypeError(f"finetune() got unknown settings {unknown}; the settings are "
                        f"{[f.name for f in dataclasses.fields(FinetuneSettings)]}")
    args = FinetuneSettings(**kwargs).validate()
    task = datasets.get_task(task)
    resume = _resolve_resume(resume_from, output_dir)
    tok = tokenizer_for(tokenizer, resume or model)
    net = model_for_task(task, resume or model, config_overrides if resume is None else None)
    train_features = _prepare(task, train, tok, args, limit_train, "train")
    if train_features is None:
        raise ValueError("train is None: pass a training file or a list of examples")
    dev_features = _prepare(task, dev, tok, args, limit_dev, "dev")
    os.makedirs(output_dir, exist_ok=True)
    trainer = make_trainer(task, net, tok, train_features, dev_features, output_dir, args)
    main_rank = trainer.world.is_main       # under mpiexec, rank 0 alone writes files
    if resume is not None:
        trainer.load_checkpoint(resume)
    elif main_rank:
        _start_afresh(output_dir, overwrite_output_dir)
    if trainer.step < trainer.total_steps:
        trainer.train()
    elif trainer.last_checkpoint is None and main_rank:
        trainer.save_checkpoint()
    if main_rank:                           # the other ranks return the last weights
        trainer.export_best()
    metrics = trainer.best_metrics()
    if args.plot and main_rank:
        plot_curves(trainer.log, os.path.join(output_dir, "curves.png"), trainer.metric_name,
                    f"{task.name}: {trainer.step} steps of {args.batch_size * args.grad_accum} examples, "
                    f"peak lr {args.learning_rate:g}")
    return FinetuneResult(trainer.model, metrics, trainer.best["step"], trainer.best["value"],
                          trainer.step, trainer.examples_per_second(), output_dir, trainer.log)


def _start_afresh(output_dir, overwrite):
    """Clear what an earlier run left in output_dir (checkpoints, best/; the log is kept aside)."""
    if overwrite:
        for _, path in list_checkpoints(output_dir):
            delete_checkpoint(path)
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
    """Add the `finetune` sub-command's options to an argparse parser: the run's own (task,
    model, data, output) and one for each FinetuneSettings field (settings.add_settings_arguments)."""
    p = parser
    p.add_argument("--task", required=True, choices=sorted(datasets.TASKS), help="task preset")
    p.add_argument("--model", required=True, help="model folder or Hub id (config.json + model.safetensors)")
    p.add_argument("--tokenizer", default=None, help="tokenizer folder (default: the model folder)")
    p.add_argument("--train", default=None, help="training file (default: the preset's file under --data-dir)")
    p.add_argument("--dev", default=None, help="dev file (default: the preset's file under --data-dir)")
    p.add_argument("--data-dir", default=None,
                   help=f"folder of the shared data (default: ${datasets.DATA_ENV} or ../shared/data)")
    p.add_argument("--out", required=True, help="output folder (checkpoints, log.jsonl, curves.png, best/)")
    p.add_argument("--limit-train", type=int, default=None, help="use the first N training examples")
    p.add_argument("--limit-dev", type=int, default=None, help="use the first N dev examples")
    p.add_argument("--text-columns", default=None, help="comma-separated text column names")
    p.add_argument("--label-column", default=None, help="label column name")
    p.add_argument("--labels", default=None, help="comma-separated label names, in id order")
    p.add_argument("--format", default=None, choices=("tsv", "csv", "jsonl", "conll"),
                   help="file format (default: from the file name, else the preset's)")
    p.add_argument("--hidden-dropout", type=float, default=None, help="override hidden_dropout_prob")
    p.add_argument("--classifier-dropout", type=float, default=None, help="override classifier_dropout_prob")
    p.add_argument("--resume", nargs="?", const="latest", default=None,
                   help="resume from a checkpoint folder, or the latest in --out when no folder is given")
    p.add_argument("--overwrite", action="store_true",
                   help="start afresh in an --out folder that holds checkpoints (deletes them)")
    p.add_argument("--workers", type=int, default=None, help=argparse.SUPPRESS)   # gone: mpiexec -n N
    p.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    add_settings_arguments(p, FinetuneSettings, old_names=("lr",))
    return parser


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
    if getattr(ns, "workers", None) is not None:
        print(f"albert_np: error: --workers is gone: run `mpiexec -n {ns.workers} python -m albert_np finetune ...`",
              file=sys.stderr)
        return 2
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
                          config_overrides=overrides or None,
                          **dataclasses.asdict(settings_from_args(FinetuneSettings, ns)))
    except (ValueError, TypeError, FileNotFoundError, NonFiniteLossError) as e:
        print(f"albert_np: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:                       # read-only --out, disk full, a path through a file
        print(f"albert_np: error: {describe_os_error(e)}", file=sys.stderr)
        return 2
    if not world().is_main:
        return 0
    print(f"task {task.name}: {result.global_step} steps, {result.examples_per_second:.1f} training examples/s")
    if result.metrics:
        print(f"best step {result.best_step}: " + ", ".join(f"{k} {v:.4f}" for k, v in result.metrics.items()))
    print(f"best model: {os.path.join(result.output_dir, 'best')}; log: {os.path.join(result.output_dir, LOG_FILE)}")
    return 0


if __name__ == "__main__":
    sys.exit(finetune_main())
