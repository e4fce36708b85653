"""Google's original ALBERT releases (TF1): find the folder, read its config, name its files.

A release folder, as google-research/albert published them:

    albert_config.json                                   the original config format
    model.ckpt-best.index, model.ckpt-best.data-00000-of-00001   the weights (tf_checkpoint.py)
    30k-clean.model (+ 30k-clean.vocab)                  the SentencePiece model

(a TF-Hub module keeps them as variables/variables.* and assets/). `find_tf_release`
spots such a folder or a checkpoint prefix (".../model.ckpt-best"); AlbertConfig, the
model classes and the tokenizers call it, then `release_config_dict` and
TFRelease.vocab_file give them what they need in HF's names. Nothing here reads a
tensor: a config or a tokenizer can import it without the checkpoint readers.
"""
import glob
import logging
import os
import re
from typing import NamedTuple, Optional

from ..io import read_json_object
from .errors import CheckpointError

logger = logging.getLogger(__name__)

ORIGINAL_CONFIG_FILE = "albert_config.json"


# ----------------------------------------------------------------- config
# google-research/albert modeling.get_activation: "gelu" there is the tanh approximation
# (modeling.gelu: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))), which HF calls gelu_new.
ORIGINAL_ACTIVATIONS = {"gelu": "gelu_new", "relu": "relu", "tanh": "tanh"}
ORIGINAL_FIELDS = ("vocab_size", "embedding_size", "hidden_size", "num_hidden_layers", "num_hidden_groups",
                   "num_attention_heads", "intermediate_size", "inner_group_num", "hidden_dropout_prob",
                   "attention_probs_dropout_prob", "max_position_embeddings", "type_vocab_size",
                   "initializer_range")
# Original fields the released modeling.py never reads (net_structure_type etc. are experiment knobs).
UNUSED_FIELDS = {"down_scale_factor": 1, "net_structure_type": 0, "gap_size": 0, "num_memory_blocks": 0,
                 "layers_to_keep": []}


def original_config_dict(path):
    """HF config.json fields from an original albert_config.json.

    Layer norms: tf.contrib.layers.layer_norm's fixed epsilon 1e-12 (HF's default too).
    """
    original = read_json_object(path)
    act = original.get("hidden_act", "gelu")
    if act not in ORIGINAL_ACTIVATIONS:
        raise ValueError(f"{path}: hidden_act {act!r} is not one albert_np runs "
                         f"(the original code knows {', '.join(ORIGINAL_ACTIVATIONS)} and linear)")
    d = {k: original[k] for k in ORIGINAL_FIELDS if k in original}
    d.update(hidden_act=ORIGINAL_ACTIVATIONS[act], layer_norm_eps=1e-12, architectures=["AlbertForPreTraining"])
    for key, default in UNUSED_FIELDS.items():
        if original.get(key, default) != default:
            logger.warning("%s: %s=%r is not used by the released ALBERT code, nor here",
                           path, key, original[key])
    unknown = sorted(set(original) - set(ORIGINAL_FIELDS) - set(UNUSED_FIELDS) - {"hidden_act"})
    if unknown:
        logger.info("%s: ignoring unknown fields %s", path, unknown)
    return d


# ------------------------------------------------------------ the folder
class TFRelease(NamedTuple):
    """Files of an original release: checkpoint prefix, config (albert_config.json or config.json), vocab."""
    prefix: str
    config_file: Optional[str]
    vocab_file: Optional[str]


def _prefixes(folder):
    return sorted(p[:-len(".index")] for p in glob.glob(os.path.join(glob.escape(folder), "*.index")))


def _choose_prefix(folder):
    """The checkpoint of a folder (or its variables/): TF's `checkpoint` file, else model.ckpt-best, else the only one."""
    for where in (folder, os.path.join(folder, "variables")):
        state = os.path.join(where, "checkpoint")
        if os.path.isfile(state):
            with open(state, encoding="utf-8", errors="replace") as f:
                m = re.search(r'^model_checkpoint_path:\s*"(.*)"', f.read(), re.M)
            if m and os.path.isfile(os.path.join(where, m.group(1)) + ".index"):
                return os.path.join(where, m.group(1))
        found = _prefixes(where)
        best = os.path.join(where, "model.ckpt-best")
        if best in found:
            return best
        if len(found) > 1:
            raise CheckpointError(f"{where} holds several checkpoints ({', '.join(os.path.basename(p) for p in found)}): "
                                  f"pass the one to load as a prefix path, e.g. {found[-1]}")
        if found:
            return found[0]
    shards = sorted(glob.glob(os.path.join(glob.escape(folder), "*.data-?????-of-?????")))
    if shards:
        raise CheckpointError(f"{shards[0].rsplit('.data-', 1)[0]}.index not found: the checkpoint's index "
                              f"is missing beside its data shard {os.path.basename(shards[0])}")
    raise CheckpointError(f"{folder} has {ORIGINAL_CONFIG_FILE} but no checkpoint: expected "
                          f"model.ckpt-*.index and .data-* files (a TensorFlow checkpoint) beside it")


def _near(prefix, pattern):
    """Files matching `pattern` beside the checkpoint, in its parent, or in their assets/ folders."""
    here = os.path.dirname(os.path.abspath(prefix))
    for folder in (here, os.path.dirname(here)):
        for where in (folder, os.path.join(folder, "assets")):
            found = sorted(glob.glob(os.path.join(glob.escape(where), pattern)))
            if found:
                return found
    return []


def find_tf_release(name_or_path):
    """TFRelease when `name_or_path` is an original TF release folder or checkpoint prefix, else None.

    A folder with an HF config.json or model.safetensors is an HF folder, not a release.
    """
    if not isinstance(name_or_path, (str, os.PathLike)):
        return None
    path = os.fspath(name_or_path)
    if os.path.isdir(path):
        if any(os.path.isfile(os.path.join(path, f)) for f in ("config.json", "model.safetensors")):
            return None
        if not (os.path.isfile(os.path.join(path, ORIGINAL_CONFIG_FILE)) or _prefixes(path)
                or _prefixes(os.path.join(path, "variables"))):
            return None
        prefix = _choose_prefix(path)
    elif os.path.isfile(path + ".index"):
        prefix = path
    else:
        return None
    configs = _near(prefix, ORIGINAL_CONFIG_FILE) or _near(prefix, "config.json")
    vocabs = _near(prefix, "*.model")
    return TFRelease(prefix, configs[0] if configs else None, vocabs[0] if vocabs else None)


def release_config_dict(release):
    """The HF config dict of a release (from albert_config.json, or an HF config.json beside it)."""
    if release.config_file is None:
        raise FileNotFoundError(f"no {ORIGINAL_CONFIG_FILE} beside the checkpoint {release.prefix}: "
                                f"the model's sizes are not in the checkpoint itself. Put the release's "
                                f"{ORIGINAL_CONFIG_FILE} in its folder, or pass config=AlbertConfig(...)")
    if os.path.basename(release.config_file) == ORIGINAL_CONFIG_FILE:
        return original_config_dict(release.config_file)
    return read_json_object(release.config_file)
