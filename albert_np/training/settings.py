"""The settings of the training loop: one dataclass, and its options on the command line.

LoopSettings holds every setting train.Trainer uses, one name each (HF TrainingArguments'
names); finetuning.FinetuneSettings and pretraining.PretrainSettings extend it. Each field is
declared with `setting(default, help)`, and add_settings_arguments makes an option of it, so
the commands and the dataclass cannot drift apart. validate() is the one check of them all.
"""
import argparse
import dataclasses
import math
import sys
import typing
from typing import Optional


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
    raise TypeError(f"{settings_class.__name__}.{name} has no help: declare it with settings.setting(default, help)")


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
