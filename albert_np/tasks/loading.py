"""Models and tokenizers for the tasks: the default model, what each task needs, a small cache.

`resolve(task, model, tokenizer)` turns whatever the caller gave (nothing, a Hub
id, a folder, a loaded object) into a (model, tokenizer) pair that can run the
task. A checkpoint is checked for the task's head before it is loaded, so that a
wrong checkpoint fails with a clear ValueError instead of running a random head.
Loaded models and tokenizers are kept in a small cache: a second call with the
same name costs only the forward pass. A local folder is remembered with the size and
modification time of each file in it, so a folder rewritten on disk (a new checkpoint saved
over it) is loaded again at the next call.
"""
import collections
import logging
import os
import threading
from typing import Union

from ..formats.checkpoint import safetensors_shapes
from ..config import AlbertConfig
from ..hub import resolve_file
from ..io import read_json
from ..modeling import (MODEL_CLASSES, AlbertForMaskedLM, AlbertForMultipleChoice, AlbertForPreTraining,
                        AlbertForQuestionAnswering, AlbertForSequenceClassification,
                        AlbertForTokenClassification, AlbertModel, AlbertPreTrainedModel)
from ..pretrained import bundled_model, resolve_name
from ..tokenization import AlbertTokenizer, AlbertTokenizerFast

logger = logging.getLogger(__name__)

# what a task function's model= and tokenizer= take: a Hub id or folder, or a loaded object
ModelArg = Union[str, os.PathLike, AlbertPreTrainedModel, None]
TokenizerArg = Union[str, os.PathLike, AlbertTokenizer, None]

HUB_DEFAULT = "albert/albert-base-v2"
# Used when no model is given (fill-mask, feature-extraction): the model shipped in the
# package when there is one (it works offline), else Hugging Face's albert-base-v2.
DEFAULT_MODEL = bundled_model() or HUB_DEFAULT
CACHE_SIZE = 4                            # models kept loaded, and as many tokenizers


# %% The cache -----------------------------------------------------------------------------------

_cache = collections.OrderedDict()        # key -> (folder signature, model or tokenizer), oldest first
_cache_lock = threading.Lock()             # guards _cache (never held while a model loads)
_default_announced = False


def clear_cache():
    """Forget every model and tokenizer loaded by the task functions."""
    with _cache_lock:
        _cache.clear()


def folder_signature(name_or_path):
    """(file name, size, mtime_ns) of each file in a local folder; None for a Hub id.

    Cheap (one scandir): checked on every cache hit, so that a rewritten folder is reloaded.
    """
    name = os.fspath(name_or_path)
    if not os.path.isdir(name):
        return None
    try:
        entries = [(e.name, e.stat()) for e in os.scandir(name) if e.is_file()]
    except OSError:
        return None
    return tuple(sorted((n, st.st_size, st.st_mtime_ns) for n, st in entries))


def _lookup(key):
    """The cached value of key (marked as the most recent), or None on a miss or when its folder
    changed on disk since it was loaded (the stale entry is dropped).

    One look at the folder per call: a caller that checks and then uses the entry could see
    the folder rewritten in between (another process saving over it) and find the entry gone.
    """
    signature = folder_signature(key[1])
    with _cache_lock:
        entry = _cache.get(key)
        if entry is None:
            return None
        if entry[0] != signature:
            logger.info("%s changed on disk: loading it again", key[1])
            _cache.pop(key, None)
            return None
        _cache.move_to_end(key)
        return entry[1]


def _cached(key, load):
    """Return the cached value of key, calling load() on a miss or when its folder changed on disk.

    Keeps the CACHE_SIZE most recent models and the CACHE_SIZE most recent tokenizers.
    """
    value = _lookup(key)
    if value is not None:
        return value
    signature = folder_signature(key[1])
    value = load()
    with _cache_lock:
        _cache[key] = (signature, value)
        for is_tokenizer in (False, True):
            kept = [k for k in _cache if (k[0] == "tokenizer") == is_tokenizer]
            for k in kept[:max(0, len(kept) - CACHE_SIZE)]:
                del _cache[k]
    return value


def _cache_name(name_or_path):
    """A folder by its absolute path (so "./m", "m" and the bundled model's short name share an
    entry); a Hub id as given."""
    name = os.fspath(resolve_name(name_or_path))
    return os.path.abspath(name) if os.path.isdir(name) else name


def _default_model():
    """DEFAULT_MODEL, with a warning the first time it is used."""
    global _default_announced
    if not _default_announced:
        if DEFAULT_MODEL == HUB_DEFAULT:
            logger.warning("No model given: using the default %s", DEFAULT_MODEL)
        else:
            logger.warning("No model given: using the default, albert_np's bundled %s "
                           "(pass model=%r for Hugging Face's)", os.path.basename(DEFAULT_MODEL),
                           HUB_DEFAULT)
        _default_announced = True
    return DEFAULT_MODEL


# %% What each task needs ------------------------------------------------------------------------

class TaskSpec:
    """What a task needs from a model: the classes that fit, the one to load, the head weights."""

    def __init__(self, accepts, load_as, head_keys, head_name, has_default=False):
        self.accepts = accepts          # model classes the task can run
        self.load_as = load_as          # class used to load a name (unless config.architectures says better)
        self.head_keys = head_keys      # checkpoint tensors the head needs
        self.head_name = head_name      # words for error messages
        self.has_default = has_default  # model=None means DEFAULT_MODEL


TASK_SPECS = {
    "fill-mask": TaskSpec((AlbertForMaskedLM, AlbertForPreTraining), AlbertForMaskedLM,
                          ("predictions.dense.weight",), "masked-LM head", has_default=True),
    "text-classification": TaskSpec((AlbertForSequenceClassification,), AlbertForSequenceClassification,
                                    ("classifier.weight", "albert.pooler.weight"),
                                    "sequence-classification head"),
    "token-classification": TaskSpec((AlbertForTokenClassification,), AlbertForTokenClassification,
                                     ("classifier.weight",), "token-classification head"),
    "question-answering": TaskSpec((AlbertForQuestionAnswering,), AlbertForQuestionAnswering,
                                   ("qa_outputs.weight",), "question-answering head"),
    "multiple-choice": TaskSpec((AlbertForMultipleChoice,), AlbertForMultipleChoice,
                                ("classifier.weight", "albert.pooler.weight"), "multiple-choice head"),
    "feature-extraction": TaskSpec((AlbertPreTrainedModel,), AlbertModel, (), "encoder", has_default=True),
}


def checkpoint_tensors(name_or_path, *, revision=None, local_files_only=False):
    """{tensor name: shape or None} of a checkpoint, read from the file headers only.

    A sharded checkpoint lists its names from model.safetensors.index.json (shapes None).
    Used to say early and clearly that a checkpoint lacks the head a task needs.
    """
    kw = dict(revision=revision, local_files_only=local_files_only, required=False)
    try:
        path = resolve_file(name_or_path, "model.safetensors", **kw)
        if path is not None:
            return safetensors_shapes(path)
        index = resolve_file(name_or_path, "model.safetensors.index.json", **kw)
        if index is not None:
            return {name: None for name in read_json(index)["weight_map"]}
    except (ValueError, KeyError, TypeError, AttributeError):
        pass          # a damaged file: from_pretrained says precisely what is wrong
    return {}         # no safetensors either: from_pretrained will say so


# %% Loading -------------------------------------------------------------------------------------

def load_tokenizer(name_or_path, *, revision=None, local_files_only=False):
    """AlbertTokenizerFast of a folder or Hub repo, loaded once per process (cached)."""
    key = ("tokenizer", _cache_name(name_or_path), revision)
    return _cached(key, lambda: AlbertTokenizerFast.from_pretrained(
        name_or_path, revision=revision, local_files_only=local_files_only))


def load_model(name_or_path, task, *, revision=None, dtype="auto", local_files_only=False):
    """The model a task needs, loaded once per process (cached by task, name, revision, dtype).

    Checks the checkpoint's tensor names first, so that a checkpoint without the
    task's head fails with a clear ValueError instead of running a random head.
    """
    spec = TASK_SPECS[task]
    key = (task, _cache_name(name_or_path), revision, str(dtype))
    hit = _lookup(key)
    if hit is not None:
        return hit
    kw = dict(revision=revision, local_files_only=local_files_only)
    config = AlbertConfig.from_pretrained(name_or_path, **kw)
    cls = _class_for(spec, config)
    tensors = checkpoint_tensors(name_or_path, **kw)
    missing = [k for k in spec.head_keys if k not in tensors]
    if tensors and missing:
        archs = config.extra.get("architectures") or ["(not recorded)"]
        raise ValueError(
            f"{name_or_path!r} has no {spec.head_name} (its checkpoint lacks {', '.join(missing)}; "
            f"architectures: {', '.join(archs)}), so it cannot run {task!r}. Use a checkpoint "
            f"trained for this task" + (f", e.g. {DEFAULT_MODEL}" if spec.has_default else
                                        ", or fine-tune one first") + ".")
    shape = tensors.get("classifier.weight")
    if task == "multiple-choice" and shape and shape[0] != 1:
        raise ValueError(f"{name_or_path!r} has a classifier of {shape[0]} labels, not the single score "
                         f"per choice of a multiple-choice head")
    return _cached(key, lambda: cls.from_pretrained(name_or_path, dtype=dtype, **kw))


def _class_for(spec, config):
    """The class named in config.architectures when the task accepts it, else spec.load_as."""
    for name in config.extra.get("architectures") or ():
        cls = MODEL_CLASSES.get(name)
        if cls is not None and issubclass(cls, spec.accepts):
            return cls          # the checkpoint's own class: every weight is used, none made up
    return spec.load_as


def resolve(task, model=None, tokenizer=None, *, revision=None, dtype="auto", local_files_only=False):
    """(model, tokenizer) for a task from names, folders or loaded objects.

    model: None (the task's default), a Hub id / folder, or a loaded model.
    tokenizer: None (the model's own), a Hub id / folder, or a loaded tokenizer.
    Raises TypeError for a loaded model of the wrong class, ValueError for a
    checkpoint without the task's head or a task without a default model.
    """
    spec = TASK_SPECS[task]
    if model is None:
        if not spec.has_default:
            raise ValueError(f"{task!r} has no default model: pass model= (a Hub id or a folder of an "
                             f"ALBERT fine-tuned for {task}, or a loaded {spec.load_as.__name__})")
        model = _default_model()
    kw = dict(revision=revision, local_files_only=local_files_only)
    if isinstance(model, AlbertPreTrainedModel):
        if not isinstance(model, spec.accepts):
            raise TypeError(f"{task} needs {' or '.join(c.__name__ for c in spec.accepts)}; got "
                            f"{type(model).__name__}, which has no {spec.head_name}. Load the model with "
                            f"{spec.load_as.__name__}.from_pretrained(...)")
        loaded = model
    elif isinstance(model, (str, os.PathLike)):
        loaded = load_model(model, task, dtype=dtype, **kw)
    else:
        raise TypeError(f"model must be a Hub id, a folder or a loaded albert_np model, "
                        f"got {type(model).__name__}")
    if tokenizer is None:
        source = model if isinstance(model, (str, os.PathLike)) else getattr(model, "name_or_path", None)
        if source is None:
            raise ValueError(f"the {type(model).__name__} given was not loaded from a folder, so its tokenizer "
                             f"is unknown: pass tokenizer= (a folder, a Hub id or an AlbertTokenizerFast)")
        try:
            tokenizer = load_tokenizer(source, **kw)
        except FileNotFoundError as e:
            raise FileNotFoundError(f"{e}\nThe model's folder has no tokenizer: pass tokenizer= (the folder "
                                    f"or Hub id of the tokenizer it was trained with)") from e
    elif isinstance(tokenizer, (str, os.PathLike)):
        tokenizer = load_tokenizer(tokenizer, **kw)
    return loaded, tokenizer
