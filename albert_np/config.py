"""AlbertConfig: the hyper-parameters of an ALBERT model, as in HF's config.json.

Field names and defaults are those of `transformers.AlbertConfig` (whose defaults
describe ALBERT-xxlarge). `from_json_file` / `to_json_file` read and write the
same config.json that transformers does, so a folder saved by one loads in the other.
"""
import copy
import json
import logging
import os

from .hub import resolve_file
from .io import atomic_write_text, read_json_object
from .losses import PROBLEM_TYPES
from .ops import ACTIVATIONS
from .tf_checkpoint import find_tf_release, release_config_dict

logger = logging.getLogger(__name__)

# Keys that old or foreign config.json files carry and that ALBERT ignores.
LEGACY_KEYS = (
    "down_scale_factor", "gap_size", "net_structure_type", "num_memory_blocks",
    "architectures", "transformers_version", "output_past", "layers_to_keep",
    "torch_dtype", "dtype", "_name_or_path", "use_cache", "return_dict",
    "output_hidden_states", "output_attentions", "torchscript", "chunk_size_feed_forward",
    "is_encoder_decoder", "is_decoder", "add_cross_attention", "tie_encoder_decoder",
    "prefix", "sep_token_id", "decoder_start_token_id", "task_specific_params",
    "finetuning_task", "tokenizer_class", "position_embedding_type", "model_type",
    "_attn_implementation", "attn_implementation", "_commit_hash",
)



class AlbertConfig:
    """Hyper-parameters of an ALBERT model (HF transformers' names and defaults).

    Sizes: vocab_size V, embedding_size E, hidden_size H, num_attention_heads A,
    intermediate_size F, num_hidden_layers L (layer applications),
    num_hidden_groups G (distinct parameter groups), inner_group_num (layers per group).
    """

    model_type = "albert"

    def __init__(self, vocab_size=30000, embedding_size=128, hidden_size=4096,
                 num_hidden_layers=12, num_hidden_groups=1, num_attention_heads=64,
                 intermediate_size=16384, inner_group_num=1, hidden_act="gelu_new",
                 hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                 max_position_embeddings=512, type_vocab_size=2, initializer_range=0.02,
                 layer_norm_eps=1e-12, classifier_dropout_prob=0.1, pad_token_id=0,
                 bos_token_id=2, eos_token_id=3, tie_word_embeddings=True,
                 num_labels=None, id2label=None, label2id=None, problem_type=None,
                 **kwargs):
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
        # Labels, as HF: id2label wins, then num_labels, then the default of 2.
        if id2label is not None:
            id2label = {int(k): str(v) for k, v in dict(id2label).items()}
            if num_labels is not None and num_labels != len(id2label):
                raise ValueError(f"num_labels={num_labels} disagrees with id2label, which has "
                                 f"{len(id2label)} entries: {id2label}. Give one or make them agree.")
        elif num_labels is not None:
            id2label = {i: f"LABEL_{i}" for i in range(int(num_labels))}
        else:
            id2label = {0: "LABEL_0", 1: "LABEL_1"}
        self.id2label = id2label
        self.label2id = ({str(k): int(v) for k, v in dict(label2id).items()} if label2id is not None
                         else {v: k for k, v in id2label.items()})
        self.extra = {}  # legacy / unknown keys, kept so that a round trip loses nothing
        for key, value in kwargs.items():
            if key not in LEGACY_KEYS:
                logger.debug("AlbertConfig: keeping unknown key %r", key)
            self.extra[key] = value
        self.validate()

    # -- derived values ------------------------------------------------------
    @property
    def num_labels(self):
        return len(self.id2label)

    @num_labels.setter
    def num_labels(self, n):
        self.id2label = {i: f"LABEL_{i}" for i in range(int(n))}
        self.label2id = {v: k for k, v in self.id2label.items()}

    def validate(self):
        """Raise ValueError naming the offending fields when the sizes cannot work."""
        ints = ("vocab_size", "embedding_size", "hidden_size", "num_hidden_layers",
                "num_hidden_groups", "num_attention_heads", "intermediate_size",
                "inner_group_num", "max_position_embeddings", "type_vocab_size")
        for name in ints:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"AlbertConfig.{name} must be a positive int, got {value!r}")
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(f"hidden_size ({self.hidden_size}) is not a multiple of "
                             f"num_attention_heads ({self.num_attention_heads})")
        if self.num_hidden_groups > self.num_hidden_layers:
            raise ValueError(f"num_hidden_groups ({self.num_hidden_groups}) exceeds "
                             f"num_hidden_layers ({self.num_hidden_layers}): some groups would never run")
        if self.hidden_act not in ACTIVATIONS:
            raise ValueError(f"hidden_act {self.hidden_act!r} is not supported; "
                             f"choose one of {', '.join(ACTIVATIONS)}")
        if self.problem_type is not None and self.problem_type not in PROBLEM_TYPES:
            raise ValueError(f"problem_type {self.problem_type!r} is not one of {PROBLEM_TYPES}")
        for name in ("hidden_dropout_prob", "attention_probs_dropout_prob"):
            p = getattr(self, name)
            if not 0.0 <= float(p) < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {p!r}")
        if self.classifier_dropout_prob is not None and not 0.0 <= float(self.classifier_dropout_prob) < 1.0:
            raise ValueError(f"classifier_dropout_prob must be in [0, 1), got {self.classifier_dropout_prob!r}")

    def group_of_layer(self, i):
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

    def to_dict(self):
        """A plain dict in HF's config.json layout (id2label keys as strings)."""
        d = {name: getattr(self, name) for name in self.FIELDS}
        d["id2label"] = {str(k): v for k, v in self.id2label.items()}
        d["label2id"] = dict(self.label2id)
        d["model_type"] = "albert"
        for k, v in self.extra.items():
            if k not in ("model_type",):
                d.setdefault(k, v)
        return d

    @classmethod
    def from_dict(cls, d):
        d = dict(d)
        model_type = d.pop("model_type", "albert")
        if model_type != "albert":
            raise ValueError(f"this config.json describes a {model_type!r} model, not 'albert'; "
                             f"albert_np only runs ALBERT checkpoints")
        return cls(**d)

    def to_json_string(self):
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json_file(cls, path):
        return cls.from_dict(read_json_object(path))

    def to_json_file(self, path):
        atomic_write_text(path, self.to_json_string())

    def save_pretrained(self, folder):
        os.makedirs(folder, exist_ok=True)
        self.to_json_file(os.path.join(folder, "config.json"))

    @classmethod
    def from_pretrained(cls, name_or_path, revision=None, cache_dir=None, local_files_only=False,
                        **overrides):
        """Read config.json from a folder or a Hub repo; keyword overrides win.

        An original TF release folder or checkpoint prefix gives its albert_config.json (tf_checkpoint).
        """
        release = find_tf_release(name_or_path)
        if release is not None:
            config = cls.from_dict(release_config_dict(release))
        else:
            path = resolve_file(name_or_path, "config.json", revision=revision, cache_dir=cache_dir,
                                local_files_only=local_files_only)
            config = cls.from_json_file(path)
        if overrides:
            d = config.to_dict()
            if "num_labels" in overrides and "id2label" not in overrides:
                d.pop("id2label"), d.pop("label2id")   # a new head: fresh LABEL_i names
            d.update(overrides)
            config = cls.from_dict(d)
        return config

    @classmethod
    def from_preset(cls, name, **overrides):
        """A config of the released models: 'albert-base-v2', 'albert-xxlarge-v1', ...

        An 'albert/' owner prefix is accepted. See PRESETS for the names.
        """
        key = name.split("/")[-1]
        if key not in PRESETS:
            raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(sorted(PRESETS))}")
        d = dict(PRESETS[key])
        d.update(overrides)
        return cls(**d)

    def copy(self):
        return copy.deepcopy(self)

    def __eq__(self, other):
        return isinstance(other, AlbertConfig) and self.to_dict() == other.to_dict()

    def __repr__(self):
        return f"AlbertConfig {self.to_json_string()}"


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
