"""transformers' Auto* classes and pipeline(), resolved to albert_np's ALBERT classes.

Code written for transformers runs with one import changed:

    from albert_np import AutoTokenizer, AutoModelForMaskedLM, pipeline   # was: from transformers

    fill = pipeline(task="fill-mask", model="albert/albert-base-v2", dtype="auto")
    fill("Plants create [MASK] through a process known as photosynthesis.", top_k=5)

albert_np implements one architecture, so "auto" only means: read config.json,
check that its model_type is "albert" (a clear ValueError otherwise), and use
the ALBERT class of the requested kind.
"""
import logging
import os
from typing import Any, Optional, Union

import numpy as np

from . import tasks
from .config import AlbertConfig
from .hub import loading_options, resolve_file
from .hints import NameOrPath
from .io import read_json_object
from .modeling import (AlbertForMaskedLM, AlbertForMultipleChoice, AlbertForPreTraining,
                       AlbertForQuestionAnswering, AlbertForSequenceClassification,
                       AlbertForTokenClassification, AlbertModel, AlbertPreTrainedModel)
from .formats.tf_release import find_tf_release, release_config_dict
from .tokenization import AlbertTokenizer, AlbertTokenizerFast

logger = logging.getLogger(__name__)

TASK_ALIASES = {"sentiment-analysis": "text-classification", "ner": "token-classification"}
TASK_OF_CLASS = {   # the task pipeline(model=...) picks from config.json's architectures
    "AlbertForMaskedLM": "fill-mask", "AlbertForPreTraining": "fill-mask",
    "AlbertForSequenceClassification": "text-classification",
    "AlbertForTokenClassification": "token-classification",
    "AlbertForQuestionAnswering": "question-answering",
    "AlbertForMultipleChoice": "multiple-choice", "AlbertModel": "feature-extraction",
}


# %% model_type checks -----------------------------------------------------------------------------

def read_json(name_or_path, filename, *, required=True, **hub_options):
    """A JSON file of a folder or Hub repo as a dict (None when absent and not required).

    hub_options: the loading options of hub.resolve_file (revision, token, subfolder, ...).
    """
    release = find_tf_release(name_or_path) if filename == "config.json" and not hub_options.get("subfolder") \
        else None
    if release is not None:                    # an original TF release: its albert_config.json
        return release_config_dict(release)
    path = resolve_file(name_or_path, filename, required=required, **hub_options)
    return None if path is None else read_json_object(path)


def check_model_type(config_dict, name_or_path, what):
    """ValueError unless config.json describes an ALBERT (model_type "albert", or none given)."""
    model_type = config_dict.get("model_type")
    if model_type is None:
        logger.info("%s: config.json gives no model_type; reading it as ALBERT", name_or_path)
    elif model_type != "albert":
        raise ValueError(
            f"{what}: {name_or_path!r} is a {model_type!r} model (config.json model_type), not 'albert'. "
            f"albert_np implements only ALBERT; load this checkpoint with transformers instead.")


def _hub_kwargs(kwargs):
    """Split the loading options shared by every Auto class out of **kwargs (hub.loading_options:
    revision, cache_dir, local_files_only, force_download, token, subfolder); they go to
    huggingface_hub only. trust_remote_code is dropped: nothing remote ever runs here."""
    kwargs.pop("trust_remote_code", None)
    return loading_options(kwargs)


# %% Auto classes ----------------------------------------------------------------------------------

class AutoConfig:
    """AutoConfig.from_pretrained(name) -> AlbertConfig, after checking model_type."""

    def __init__(self) -> None:
        raise TypeError("use AutoConfig.from_pretrained(name_or_path)")

    @staticmethod
    def from_pretrained(name_or_path: NameOrPath, **kwargs: Any) -> AlbertConfig:
        """AlbertConfig of a folder or Hub repo; keyword arguments override its fields."""
        hub = _hub_kwargs(kwargs)
        check_model_type(read_json(name_or_path, "config.json", **hub), name_or_path, "AutoConfig")
        return AlbertConfig.from_pretrained(name_or_path, **hub, **kwargs)

    @staticmethod
    def for_model(model_type: str, **kwargs: Any) -> AlbertConfig:
        """AlbertConfig(**kwargs) for model_type "albert"."""
        check_model_type({"model_type": model_type}, model_type, "AutoConfig.for_model")
        return AlbertConfig(**kwargs)


class AutoTokenizer:
    """AutoTokenizer.from_pretrained(name) -> AlbertTokenizerFast (use_fast=False: AlbertTokenizer)."""

    def __init__(self) -> None:
        raise TypeError("use AutoTokenizer.from_pretrained(name_or_path)")

    @staticmethod
    def from_pretrained(name_or_path: NameOrPath, *, use_fast: bool = True, **kwargs: Any) -> AlbertTokenizer:
        """The ALBERT tokenizer of a folder or Hub repo.

        Checks config.json's model_type when the folder has one, and
        tokenizer_config.json's tokenizer_class when it names one.
        """
        hub = _hub_kwargs(kwargs)
        config = read_json(name_or_path, "config.json", required=False, **hub)
        if config is not None:
            check_model_type(config, name_or_path, "AutoTokenizer")
        settings = read_json(name_or_path, "tokenizer_config.json", required=False, **hub) or {}
        tokenizer_class = settings.get("tokenizer_class")
        if tokenizer_class and not str(tokenizer_class).startswith("Albert"):
            raise ValueError(f"AutoTokenizer: {name_or_path!r} holds a {tokenizer_class} "
                             f"(tokenizer_config.json), not an ALBERT tokenizer; albert_np implements only ALBERT")
        cls = AlbertTokenizerFast if use_fast else AlbertTokenizer
        return cls.from_pretrained(name_or_path, **hub, **kwargs)


class _AutoModel:
    """Base of the AutoModel* classes: check model_type, then load `model_class`."""

    model_class = None

    def __init__(self) -> None:
        raise TypeError(f"use {type(self).__name__}.from_pretrained(name_or_path) or .from_config(config)")

    @classmethod
    def from_pretrained(cls, name_or_path: NameOrPath, *, dtype: Any = "auto", torch_dtype: Any = None,
                        device_map: Optional[str] = None, **kwargs: Any) -> AlbertPreTrainedModel:
        """Load `model_class` from a folder or Hub repo (see AlbertPreTrainedModel.from_pretrained).

        dtype / torch_dtype: "auto" or None (float32), np.float32 or np.float64 ("float32" etc. too).   # float64 ok
        device_map: None, "cpu" or "auto" (albert_np computes on the CPU). Other keyword
        arguments override config fields, e.g. num_labels=3 for a new classification head.
        """
        _check_device(device_map, "device_map")
        hub = _hub_kwargs(kwargs)
        check_model_type(read_json(name_or_path, "config.json", **hub), name_or_path, cls.__name__)
        return cls.model_class.from_pretrained(name_or_path, dtype=_dtype(torch_dtype or dtype), **hub, **kwargs)

    @classmethod
    def from_config(cls, config: AlbertConfig, **kwargs: Any) -> AlbertPreTrainedModel:
        """A randomly initialised `model_class` of an AlbertConfig (seed=0 unless given)."""
        if not isinstance(config, AlbertConfig):
            raise TypeError(f"{cls.__name__}.from_config needs an AlbertConfig, got {type(config).__name__}")
        return cls.model_class(config, **kwargs)


def _dtype(dtype):
    """"auto" / None -> np.float32; strings and NumPy dtypes -> NumPy scalar types; torch dtypes refused."""
    if dtype is None or dtype == "auto":
        return np.float32
    if isinstance(dtype, str) and dtype.startswith("torch."):
        dtype = dtype[len("torch."):]
    try:
        return np.dtype(dtype).type      # the scalar type: np.dtype("float64") == None is True in NumPy
    except TypeError:
        raise TypeError(f"dtype must be 'auto', 'float32', 'float64' or a NumPy dtype, got {dtype!r} "
                        f"(albert_np computes with NumPy; there are no torch dtypes here)") from None


def _check_device(device, name="device"):
    if device in (None, "cpu", "auto", -1) or str(device) in ("cpu", "cpu:0"):
        return
    raise ValueError(f"{name}={device!r}: albert_np computes with NumPy on the CPU; leave {name} unset")


class AutoModel(_AutoModel):
    """AutoModel.from_pretrained(name) -> AlbertModel."""
    model_class = AlbertModel


class AutoModelForPreTraining(_AutoModel):
    """AutoModelForPreTraining.from_pretrained(name) -> AlbertForPreTraining."""
    model_class = AlbertForPreTraining


class AutoModelForMaskedLM(_AutoModel):
    """AutoModelForMaskedLM.from_pretrained(name) -> AlbertForMaskedLM."""
    model_class = AlbertForMaskedLM


class AutoModelForSequenceClassification(_AutoModel):
    """AutoModelForSequenceClassification.from_pretrained(name) -> AlbertForSequenceClassification."""
    model_class = AlbertForSequenceClassification


class AutoModelForTokenClassification(_AutoModel):
    """AutoModelForTokenClassification.from_pretrained(name) -> AlbertForTokenClassification."""
    model_class = AlbertForTokenClassification


class AutoModelForQuestionAnswering(_AutoModel):
    """AutoModelForQuestionAnswering.from_pretrained(name) -> AlbertForQuestionAnswering."""
    model_class = AlbertForQuestionAnswering


class AutoModelForMultipleChoice(_AutoModel):
    """AutoModelForMultipleChoice.from_pretrained(name) -> AlbertForMultipleChoice."""
    model_class = AlbertForMultipleChoice


# %% pipeline() ------------------------------------------------------------------------------------

def pipeline(task: Optional[str] = None, model: tasks.loading.ModelArg = None,
             tokenizer: tasks.loading.TokenizerArg = None, *,
             revision: Optional[str] = None, dtype: Any = "auto", torch_dtype: Any = None,
             device: Union[str, int, None] = None, device_map: Optional[str] = None, use_fast: bool = True,
             local_files_only: bool = False, batch_size: int = tasks.DEFAULT_BATCH_SIZE,
             progress: Optional[bool] = None, **call_defaults: Any) -> tasks.Pipeline:
    """A reusable task object, called like transformers' pipelines.

    Args:
        task: "fill-mask", "text-classification" ("sentiment-analysis"), "token-classification"
            ("ner"), "question-answering", "feature-extraction" or "multiple-choice";
            None picks it from the model's config.json architectures.
        model: Hub id, folder or loaded albert_np model; None: the task's default
            (DEFAULT_MODEL for fill-mask and feature-extraction).
        tokenizer: None (the model's), Hub id, folder or a loaded tokenizer.
        dtype / torch_dtype: "auto" (float32), "float32" or "float64".
        device / device_map: None or "cpu" (NumPy computes on the CPU).
        use_fast: accepted for compatibility; both tokenizers give the same ids, and the
            tasks use AlbertTokenizerFast for its offsets.
        batch_size, progress: see tasks.Pipeline.
        call_defaults: default arguments of every call, e.g. top_k=3 or aggregation_strategy="first".
    Returns:
        a tasks.*Pipeline (FillMaskPipeline, TextClassificationPipeline, ...).
    """
    _check_device(device)
    _check_device(device_map, "device_map")
    if not use_fast:
        logger.info("use_fast=False: the tasks use AlbertTokenizerFast anyway (same ids, plus offsets)")
    if task is None:
        task = infer_task(model, revision=revision, local_files_only=local_files_only)
    name = TASK_ALIASES.get(task, task)
    if name not in tasks.PIPELINES:
        raise ValueError(f"unknown task {task!r}; albert_np runs {', '.join(sorted(tasks.PIPELINES))} "
                         f"(and the aliases {', '.join(sorted(TASK_ALIASES))})")
    if isinstance(model, (str, os.PathLike)):
        check_model_type(read_json(model, "config.json", revision=revision, local_files_only=local_files_only),
                         model, f"pipeline({name!r})")
    return tasks.PIPELINES[name](model, tokenizer, revision=revision, dtype=_dtype(torch_dtype or dtype),
                                 local_files_only=local_files_only, batch_size=batch_size, progress=progress,
                                 **call_defaults)


def infer_task(model, *, revision=None, local_files_only=False):
    """The task of a model from its class, or from the architectures in its config.json."""
    if model is None:
        raise ValueError("pipeline() needs a task or a model: e.g. pipeline('fill-mask') or "
                         "pipeline(model='path/to/albert-folder')")
    if not isinstance(model, (str, os.PathLike)):
        name = type(model).__name__
    else:
        config = read_json(model, "config.json", revision=revision, local_files_only=local_files_only)
        check_model_type(config, model, "pipeline")
        name = next((a for a in config.get("architectures") or () if a in TASK_OF_CLASS), None)
        if name is None:
            raise ValueError(f"cannot tell the task of {model!r}: its config.json names no ALBERT "
                             f"architecture ({config.get('architectures')}); pass task=")
    if name not in TASK_OF_CLASS:
        raise ValueError(f"cannot tell the task of a {name}; pass task=")
    logger.info("pipeline: task %r from %s", TASK_OF_CLASS[name], name)
    return TASK_OF_CLASS[name]


__all__ = ["AutoConfig", "AutoTokenizer", "AutoModel", "AutoModelForPreTraining", "AutoModelForMaskedLM",
           "AutoModelForSequenceClassification", "AutoModelForTokenClassification",
           "AutoModelForQuestionAnswering", "AutoModelForMultipleChoice", "pipeline"]
