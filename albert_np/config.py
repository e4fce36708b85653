"""AlbertConfig: the hyper-parameters of an ALBERT model, as in HF's config.json.

Field names and defaults are those of `transformers.AlbertConfig` (whose defaults
describe ALBERT-xxlarge). `from_json_file` / `to_json_file` read and write the
same config.json that transformers does, so a folder saved by one loads in the other.
"""
import copy
import difflib
import json
import logging
import math
import numbers
import os
from typing import Any, Dict, Optional, Tuple, Type, TypeVar

import numpy as np

from .hub import LOADING_OPTIONS, loading_options, resolve_file
from .hints import NameOrPath, PathLike
from .io import atomic_write_text, read_json_object
from .ops import ACTIVATIONS
from .formats.tf_release import find_tf_release, release_config_dict

logger = logging.getLogger(__name__)

# Keys that old or foreign config.json files carry and that ALBERT ignores.
LEGACY_KEYS = (
    "down_scale_factor", "gap_size", "net_structure_type", "num_memory_blocks",
    "architectures", "transformers_version", "output_past", "layers_to_keep",
    "torch_dtype", "dtype", "_name_or_path", "use_cache", "return_dict",
    "torchscript", "chunk_size_feed_forward",
    "is_encoder_decoder", "is_decoder", "add_cross_attention", "tie_encoder_decoder",
    "prefix", "sep_token_id", "decoder_start_token_id", "task_specific_params",
    "finetuning_task", "tokenizer_class", "position_embedding_type", "model_type",
    "_attn_implementation", "attn_implementation", "_commit_hash",
)
# config.problem_type: the loss of a sequence-classification head (losses.py).
PROBLEM_TYPES = ("regression", "single_label_classification", "multi_label_classification")
MAX_LAYER_APPLICATIONS = 4096      # num_hidden_layers above this: a forward pass that never ends



C = TypeVar("C", bound="AlbertConfig")


class AlbertConfig:
    """Hyper-parameters of an ALBERT model (HF transformers' names and defaults).

    Sizes: vocab_size V, embedding_size E, hidden_size H, num_attention_heads A,
    intermediate_size F, num_hidden_layers L (layer applications),
    num_hidden_groups G (distinct parameter groups), inner_group_num (layers per group).
    """

    model_type = "albert"

    def __init__(self, vocab_size: int = 30000, embedding_size: int = 128, hidden_size: int = 4096,
                 num_hidden_layers: int = 12, num_hidden_groups: int = 1, num_attention_heads: int = 64,
                 intermediate_size: int = 16384, inner_group_num: int = 1, hidden_act: str = "gelu_new",
                 hidden_dropout_prob: float = 0.0, attention_probs_dropout_prob: float = 0.0,
                 max_position_embeddings: int = 512, type_vocab_size: int = 2, initializer_range: float = 0.02,
                 layer_norm_eps: float = 1e-12, classifier_dropout_prob: Optional[float] = 0.1,
                 pad_token_id: Optional[int] = 0, bos_token_id: Optional[int] = 2, eos_token_id: Optional[int] = 3,
                 tie_word_embeddings: bool = True, num_labels: Optional[int] = None,
                 id2label: Optional[Dict[Any, str]] = None, label2id: Optional[Dict[str, int]] = None,
                 problem_type: Optional[str] = None, output_hidden_states: bool = False,
                 output_attentions: bool = False, **kwargs: Any) -> None:
        self.vocab_size = vocab_size
        self.embedding_size = embedding_size
        self.hidden_size = hidden_size
        self.num_hidden_layers = num_hidden_layers
        self.num_hidden_groups = num_hidden_groups
        self.num_attention_heads = num_attention_heads
        self.intermediate_size = intermediate_size
        self.inner_group_num = inner_group_num
        self.hidden_act = hidden_act
        self.hidden_dropout_prob = hidden_dropout_prob
        self.attention_probs_dropout_prob = attention_probs_dropout_prob
        self.max_position_embeddings = max_position_embeddings
        self.type_vocab_size = type_vocab_size
        self.initializer_range = initializer_range
        self.layer_norm_eps = layer_norm_eps
        self.classifier_dropout_prob = classifier_dropout_prob
        self.pad_token_id = pad_token_id
        self.bos_token_id = bos_token_id
        self.eos_token_id = eos_token_id
        self.tie_word_embeddings = tie_word_embeddings
        self.problem_type = problem_type
        self.output_hidden_states = output_hidden_states     # the defaults of forward's arguments
        self.output_attentions = output_attentions
        self.validate_sizes()          # before the labels: num_labels=10**9 must not build a dict first
        self.id2label, self.label2id = _labels(num_labels, id2label, label2id, self.hidden_size)
        self.extra = {}  # legacy / unknown keys, kept so that a round trip loses nothing
        for key, value in kwargs.items():
            if key not in LEGACY_KEYS:
                logger.debug("AlbertConfig: keeping unknown key %r", key)
            self.extra[key] = value
        self.validate()

    # -- derived values ------------------------------------------------------
    @property
    def num_labels(self) -> int:
        return len(self.id2label)

    @num_labels.setter
    def num_labels(self, n: int) -> None:
        self.id2label, self.label2id = _labels(n, None, None, self.hidden_size)
        self.validate()

    INT_FIELDS = ("vocab_size", "embedding_size", "hidden_size", "num_hidden_layers", "num_hidden_groups",
                  "num_attention_heads", "intermediate_size", "inner_group_num", "max_position_embeddings",
                  "type_vocab_size")

    def validate_sizes(self) -> None:
        """TypeError / ValueError naming the field when a size, a rate or a flag cannot work.

        Also refuses, before anything is allocated, a model whose float32 parameters would not
        fit in this machine's memory (the estimate is in the message), and more than
        MAX_LAYER_APPLICATIONS layer applications (a forward pass would never end).
        """
        for name in self.INT_FIELDS:
            _check_int(name, getattr(self, name), low=1)
        if self.num_hidden_layers * self.inner_group_num > MAX_LAYER_APPLICATIONS:
            raise ValueError(f"AlbertConfig.num_hidden_layers={self.num_hidden_layers} x inner_group_num="
                             f"{self.inner_group_num} is more layer applications than albert_np runs (at most "
                             f"{MAX_LAYER_APPLICATIONS}; ALBERT uses 12-24): lower num_hidden_layers or "
                             f"inner_group_num")
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(f"hidden_size ({self.hidden_size}) is not a multiple of "
                             f"num_attention_heads ({self.num_attention_heads})")
        if self.num_hidden_groups > self.num_hidden_layers:
            raise ValueError(f"num_hidden_groups ({self.num_hidden_groups}) exceeds "
                             f"num_hidden_layers ({self.num_hidden_layers}): some groups would never run")
        if not isinstance(self.hidden_act, str) or self.hidden_act not in ACTIVATIONS:
            raise ValueError(f"AlbertConfig.hidden_act {self.hidden_act!r} is not supported; "
                             f"choose one of {', '.join(ACTIVATIONS)}")
        if self.problem_type is not None and (not isinstance(self.problem_type, str)
                                              or self.problem_type not in PROBLEM_TYPES):
            raise ValueError(f"AlbertConfig.problem_type {self.problem_type!r} is not one of {PROBLEM_TYPES}")
        for name in ("hidden_dropout_prob", "attention_probs_dropout_prob", "classifier_dropout_prob"):
            p = getattr(self, name)
            if name == "classifier_dropout_prob" and p is None:
                continue
            _check_number(name, p)
            if not 0.0 <= float(p) < 1.0:
                raise ValueError(f"AlbertConfig.{name} must be in [0, 1), got {p!r}")
        _check_number("layer_norm_eps", self.layer_norm_eps)
        if not 0.0 < float(self.layer_norm_eps) < math.inf:
            raise ValueError(f"AlbertConfig.layer_norm_eps must be a positive number (ALBERT uses 1e-12), "
                             f"got {self.layer_norm_eps!r}")
        _check_number("initializer_range", self.initializer_range)
        if not 0.0 <= float(self.initializer_range) < math.inf:
            raise ValueError(f"AlbertConfig.initializer_range must be a number >= 0 (ALBERT uses 0.02), "
                             f"got {self.initializer_range!r}")
        for name in ("pad_token_id", "bos_token_id", "eos_token_id"):
            if getattr(self, name) is not None:
                _check_int(name, getattr(self, name), low=0)
        for name in ("tie_word_embeddings", "output_hidden_states", "output_attentions"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"AlbertConfig.{name} must be true or false, got {getattr(self, name)!r:.80}")
        labels = len(getattr(self, "id2label", None) or ()) or 2
        _check_memory(self, labels)

    def validate(self) -> None:
        """Raise ValueError / TypeError naming the offending fields when the config cannot work."""
        self.validate_sizes()
        self.id2label, self.label2id = _labels(None, self.id2label, self.label2id, self.hidden_size)

    def group_of_layer(self, i: int) -> int:
        """Index of the parameter group that layer application i uses (HF's rule).

        group = int(i / (L / G)): the L applications are cut into G equal runs.
        """
        return int(i / (self.num_hidden_layers / self.num_hidden_groups))

    # -- (de)serialisation ---------------------------------------------------
    FIELDS = ("vocab_size", "embedding_size", "hidden_size", "num_hidden_layers",
              "num_hidden_groups", "num_attention_heads", "intermediate_size",
              "inner_group_num", "hidden_act", "hidden_dropout_prob",
              "attention_probs_dropout_prob", "max_position_embeddings", "type_vocab_size",
              "initializer_range", "layer_norm_eps", "classifier_dropout_prob",
              "pad_token_id", "bos_token_id", "eos_token_id", "tie_word_embeddings",
              "problem_type")

    # Fields written only when set (as transformers writes only what differs from its defaults):
    # the defaults of forward's output_hidden_states / output_attentions.
    OPTIONAL_FIELDS = ("output_hidden_states", "output_attentions")

    def to_dict(self) -> Dict[str, Any]:
        """A plain dict in HF's config.json layout (id2label keys as strings)."""
        d = {name: getattr(self, name) for name in self.FIELDS}
        d.update({name: True for name in self.OPTIONAL_FIELDS if getattr(self, name)})
        d["id2label"] = {str(k): v for k, v in self.id2label.items()}
        d["label2id"] = dict(self.label2id)
        d["model_type"] = "albert"
        for k, v in self.extra.items():
            if k not in ("model_type",):
                d.setdefault(k, v)
        return d

    @classmethod
    def from_dict(cls: Type[C], d: Dict[str, Any]) -> C:
        if not isinstance(d, dict):
            raise TypeError(f"a config must be a JSON object (a dict of fields), got {type(d).__name__}")
        d = dict(d)
        for key in d:
            if not isinstance(key, str) or key in ("self", "kwargs"):
                raise ValueError(f"config field name {key!r} is not a field of AlbertConfig")
        model_type = d.pop("model_type", "albert")
        if model_type != "albert":
            raise ValueError(f"this config.json describes a {model_type!r:.40} model (model_type), not 'albert'; "
                             f"albert_np only runs ALBERT checkpoints")
        return cls(**d)

    def to_json_string(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json_file(cls: Type[C], path: PathLike) -> C:
        try:
            return cls.from_dict(read_json_object(path))
        except (ValueError, TypeError) as e:
            if os.fspath(path) in str(e):
                raise
            raise type(e)(f"{path}: {e}") from e

    def to_json_file(self, path: PathLike) -> None:
        atomic_write_text(path, self.to_json_string())

    def save_pretrained(self, folder: PathLike) -> None:
        os.makedirs(folder, exist_ok=True)
        self.to_json_file(os.path.join(folder, "config.json"))

    @classmethod
    def override_names(cls) -> Tuple[str, ...]:
        """The keywords that from_pretrained takes as config overrides: the fields of config.json."""
        return cls.FIELDS + cls.OPTIONAL_FIELDS + ("num_labels", "id2label", "label2id")

    @classmethod
    def check_overrides(cls, overrides: Dict[str, Any], caller: str = "from_pretrained",
                        takes: Tuple[str, ...] = ()) -> None:
        """TypeError naming each keyword that is neither a config field nor a loading option
        (the closest known name suggested). takes: the caller's own keywords, listed in the message."""
        unknown = [k for k in overrides if k not in cls.override_names()]
        if not unknown:
            return
        known = LOADING_OPTIONS + tuple(takes)
        hints = []
        for k in unknown:
            close = difflib.get_close_matches(k, cls.override_names() + known, n=1)
            hints.append(f"{k!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise TypeError(f"{caller}() got {'an unexpected keyword' if len(unknown) == 1 else 'unexpected keywords'} "
                        f"{', '.join(hints)}: it takes the loading options {', '.join(known)}, "
                        f"and config fields to override ({', '.join(cls.override_names())})")

    @classmethod
    def from_pretrained(cls: Type[C], name_or_path: NameOrPath, **kwargs: Any) -> C:
        """Read config.json from a folder or a Hub repo; keyword overrides win.

        Keywords: the loading options (hub.LOADING_OPTIONS: revision, cache_dir, local_files_only,
        force_download, token, subfolder), which go to huggingface_hub and never into the config;
        and config fields to override (num_labels=3, output_hidden_states=True, ...). Anything
        else is a TypeError naming it.
        An original TF release folder or checkpoint prefix gives its albert_config.json (tf_checkpoint).
        """
        options = loading_options(kwargs)
        overrides = kwargs
        cls.check_overrides(overrides, f"{cls.__name__}.from_pretrained")
        release = find_tf_release(name_or_path) if "subfolder" not in options else None
        if release is not None:
            config = cls.from_dict(release_config_dict(release))
        else:
            config = cls.from_json_file(resolve_file(name_or_path, "config.json", **options))
        if overrides:
            d = config.to_dict()
            if "num_labels" in overrides and "id2label" not in overrides:
                d.pop("id2label"), d.pop("label2id")   # a new head: fresh LABEL_i names
            d.update(overrides)
            config = cls.from_dict(d)
        return config

    @classmethod
    def from_preset(cls: Type[C], name: str, **overrides: Any) -> C:
        """A config of the released models: 'albert-base-v2', 'albert-xxlarge-v1', ...

        An 'albert/' owner prefix is accepted. See PRESETS for the names.
        """
        key = name.split("/")[-1]
        if key not in PRESETS:
            raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(sorted(PRESETS))}")
        d = dict(PRESETS[key])
        d.update(overrides)
        return cls(**d)

    def copy(self: C) -> C:
        return copy.deepcopy(self)

    def __eq__(self, other):
        return isinstance(other, AlbertConfig) and self.to_dict() == other.to_dict()

    def __repr__(self):
        return f"AlbertConfig {self.to_json_string()}"


def _check_int(name, value, low):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"AlbertConfig.{name} must be an int, got {type(value).__name__} {value!r:.80}")
    if value < low:
        raise ValueError(f"AlbertConfig.{name} must be " + ("a positive int" if low == 1 else f"an int >= {low}")
                         + f", got {value!r}")


def _check_number(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"AlbertConfig.{name} must be a number, got {type(value).__name__} {value!r:.80}")
    if not math.isfinite(float(value)):
        raise ValueError(f"AlbertConfig.{name} must be a finite number, got {value!r}")


def _machine_memory():
    """Bytes of RAM of this machine, or None where the OS does not say."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def parameter_count(config, num_labels=2):
    """Parameters of the encoder plus the largest head (MLM or a classifier), from the sizes alone.

    Nothing is allocated: used to refuse a config that cannot fit before a weight is made.
    """
    V, E, H, F = config.vocab_size, config.embedding_size, config.hidden_size, config.intermediate_size
    embeddings = (V + config.max_position_embeddings + config.type_vocab_size + 2) * E
    layer = 4 * (H * H + H) + 2 * H + F * H + F + H * F + H + 2 * H
    encoder = embeddings + H * E + H + config.num_hidden_groups * config.inner_group_num * layer + H * H + H
    mlm = E * H + E + 2 * E + V
    classifier = num_labels * H + num_labels
    return encoder + max(mlm, classifier)


def _check_memory(config, num_labels):
    ram = _machine_memory()
    need = parameter_count(config, num_labels) * 4
    if ram is not None and need > ram:
        raise ValueError(f"this config needs about {need / 2**30:,.1f} GiB for its float32 parameters "
                         f"({parameter_count(config, num_labels):,} parameters: vocab_size={config.vocab_size}, "
                         f"hidden_size={config.hidden_size}, intermediate_size={config.intermediate_size}, "
                         f"num_hidden_groups={config.num_hidden_groups}, inner_group_num={config.inner_group_num}, "
                         f"{num_labels} labels), more than this machine's {ram / 2**30:,.1f} GiB of memory: "
                         f"lower those sizes")


def _labels(num_labels, id2label, label2id, hidden_size):
    """(id2label {int: str}, label2id {str: int}) checked, as HF: id2label wins, then num_labels, then 2."""
    if id2label is not None:
        if not isinstance(id2label, dict):
            raise TypeError(f"AlbertConfig.id2label must be a dict {{id: label}}, got {type(id2label).__name__}")
        checked = {}
        for k, v in id2label.items():
            try:
                i = int(k)
            except (TypeError, ValueError):
                raise ValueError(f"AlbertConfig.id2label has the key {k!r}, not a label id: its keys must be "
                                 f"0, 1, 2, ... (as strings in config.json)") from None
            if isinstance(k, bool) or isinstance(k, float) and k != i:
                raise ValueError(f"AlbertConfig.id2label has the key {k!r}, not a label id")
            if not isinstance(v, (str, int)) or isinstance(v, bool):
                raise TypeError(f"AlbertConfig.id2label[{k!r}] must be a label name (str), got {v!r:.80}")
            checked[i] = str(v)
        if sorted(checked) != list(range(len(checked))):
            raise ValueError(f"AlbertConfig.id2label keys must be 0..{len(checked) - 1}, one per label; "
                             f"got {sorted(checked)[:20]}")
        if not checked:
            raise ValueError("AlbertConfig.id2label is empty: give at least one label")
        if num_labels is not None:
            _check_int("num_labels", num_labels, low=1)
            if num_labels != len(checked):
                raise ValueError(f"num_labels={num_labels} disagrees with id2label, which has "
                                 f"{len(checked)} entries: {checked!r:.200}. Give one or make them agree.")
        id2label = dict(sorted(checked.items()))
    elif num_labels is not None:
        _check_int("num_labels", num_labels, low=1)
        ram = _machine_memory()
        need = int(num_labels) * (hidden_size * 4 + 200)     # classifier row + the label names
        if ram is not None and need > ram:
            raise ValueError(f"AlbertConfig.num_labels={num_labels} needs about {need / 2**30:,.1f} GiB "
                             f"(the classifier and its label names), more than this machine's "
                             f"{ram / 2**30:,.1f} GiB: lower num_labels")
        id2label = {i: f"LABEL_{i}" for i in range(int(num_labels))}
    else:
        id2label = {0: "LABEL_0", 1: "LABEL_1"}
    if label2id is None:
        return id2label, {v: k for k, v in id2label.items()}
    if not isinstance(label2id, dict):
        raise TypeError(f"AlbertConfig.label2id must be a dict {{label: id}}, got {type(label2id).__name__}")
    checked = {}
    for k, v in label2id.items():
        if isinstance(v, bool) or not isinstance(v, int):
            try:
                v = int(v) if isinstance(v, str) else None
            except ValueError:
                v = None
            if v is None:
                raise ValueError(f"AlbertConfig.label2id[{k!r}] must be a label id (int), "
                                 f"got {label2id[k]!r:.80}")
        checked[str(k)] = v
    return id2label, checked


def _preset(size, version):
    """Sizes of the released checkpoints (paper Table 1; HF config.json files)."""
    h, layers, heads = {"base": (768, 12, 12), "large": (1024, 24, 16),
                        "xlarge": (2048, 24, 16), "xxlarge": (4096, 12, 64)}[size]
    v1_dropout = 0.0 if size == "xxlarge" else 0.1
    return dict(vocab_size=30000, embedding_size=128, hidden_size=h, num_hidden_layers=layers,
                num_attention_heads=heads, intermediate_size=4 * h, num_hidden_groups=1,
                inner_group_num=1, max_position_embeddings=512, type_vocab_size=2,
                hidden_act="gelu" if version == 1 else "gelu_new",
                hidden_dropout_prob=v1_dropout if version == 1 else 0.0,
                attention_probs_dropout_prob=v1_dropout if version == 1 else 0.0,
                initializer_range=0.02, layer_norm_eps=1e-12, classifier_dropout_prob=0.1)


PRESETS = {f"albert-{size}-v{v}": _preset(size, v)
           for size in ("base", "large", "xlarge", "xxlarge") for v in (1, 2)}
