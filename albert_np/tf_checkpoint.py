"""Google's original ALBERT releases (TF1 checkpoints) loaded without TensorFlow.

A release folder, as google-research/albert published them:

    albert_config.json                                   the original config format
    model.ckpt-best.index, model.ckpt-best.data-00000-of-00001   the weights (tensor_bundle.py)
    30k-clean.model (+ 30k-clean.vocab)                  the SentencePiece model

(a TF-Hub module keeps them as variables/variables.* and assets/, its names under `module/`).
These are the only checkpoints with the trained sentence-order-prediction head.
`find_tf_release` spots such a folder or a checkpoint prefix (".../model.ckpt-best");
AlbertConfig, the model classes and the tokenizers call it, then
`original_config_dict`, `read_tf_state_dict` and TFRelease.vocab_file give them what
they need in HF's names. `python -m albert_np convert SRC DST` writes an HF folder.
"""
import glob
import json
import logging
import os
import re
from typing import NamedTuple, Optional

import numpy as np

from .checkpoint import CheckpointError
from .tensor_bundle import read_bundle

logger = logging.getLogger(__name__)

ORIGINAL_CONFIG_FILE = "albert_config.json"

# ------------------------------------------------------------------ names
# Original TF scope -> HF module (kernel -> .weight transposed, bias, gamma -> .weight, beta -> .bias).
MODULES = {
    "bert/embeddings/LayerNorm": "albert.embeddings.LayerNorm",
    "bert/encoder/embedding_hidden_mapping_in": "albert.encoder.embedding_hidden_mapping_in",
    "bert/pooler/dense": "albert.pooler",
    "cls/predictions/transform/dense": "predictions.dense",
    "cls/predictions/transform/LayerNorm": "predictions.LayerNorm",
}
# Inside bert/encoder/transformer/group_{g}/inner_group_{i}/ (modeling.attention_ffn_block).
LAYER_MODULES = {
    "attention_1/self/query": "attention.query",
    "attention_1/self/key": "attention.key",
    "attention_1/self/value": "attention.value",
    "attention_1/output/dense": "attention.dense",
    "LayerNorm": "attention.LayerNorm",                 # after attention + residual
    "ffn_1/intermediate/dense": "ffn",
    "ffn_1/intermediate/output/dense": "ffn_output",
    "LayerNorm_1": "full_layer_layer_norm",             # after the feed-forward + residual
}
LEAVES = {"kernel": "weight", "bias": "bias", "gamma": "weight", "beta": "bias"}
# Whole tensors, stored as HF stores them (no transpose).
TENSORS = {
    "bert/embeddings/word_embeddings": "albert.embeddings.word_embeddings.weight",
    "bert/embeddings/token_type_embeddings": "albert.embeddings.token_type_embeddings.weight",
    "bert/embeddings/position_embeddings": "albert.embeddings.position_embeddings.weight",
    "cls/predictions/output_bias": "predictions.bias",
    "cls/seq_relationship/output_weights": "sop_classifier.classifier.weight",    # (2, H)
    "cls/seq_relationship/output_bias": "sop_classifier.classifier.bias",
    "output_weights": "classifier.weight",              # run_classifier.py's fine-tuned head, (labels, H)
    "output_bias": "classifier.bias",
}
LAYER_NAME = re.compile(r"bert/encoder/transformer/group_(\d+)/inner_group_(\d+)/(.+)/(kernel|bias|gamma|beta)")
# What training leaves beside the weights: optimiser slots (BERT's AdamWeightDecay, ALBERT's LAMB,
# tf.train optimisers), step counters, fp16 loss scaling.
TRAINING_STATE = re.compile(r"(/(adam_m|adam_v|lamb_m|lamb_v)$|/Adam(_\d+)?$|/Momentum$|/Adagrad$"
                            r"|/ExponentialMovingAverage$|^global_step$|^good_steps$|^loss_scale$)")


def hf_name(tf_name):
    """(HF state-dict name, transpose?) of an original variable name; None when not a model weight."""
    name = tf_name[len("module/"):] if tf_name.startswith("module/") else tf_name     # TF-Hub export
    if name in TENSORS:
        return TENSORS[name], False
    scope, _, leaf = name.rpartition("/")
    if leaf not in LEAVES:
        return None
    if scope in MODULES:
        return f"{MODULES[scope]}.{LEAVES[leaf]}", leaf == "kernel"
    m = LAYER_NAME.fullmatch(name)
    if m and m.group(3) in LAYER_MODULES:
        g, i, part = m.group(1), m.group(2), LAYER_MODULES[m.group(3)]
        return f"albert.encoder.albert_layer_groups.{g}.albert_layers.{i}.{part}.{LEAVES[leaf]}", leaf == "kernel"
    return None


def is_training_state(tf_name):
    return TRAINING_STATE.search(tf_name[len("module/"):] if tf_name.startswith("module/") else tf_name) is not None


def to_hf_layout(tf_name, array, transpose):
    """A TF kernel (in, out) -> PyTorch's (out, in); 3-D attention kernels flattened to 2-D first."""
    if not transpose:
        return array
    if array.ndim == 3:         # dense_layer_3d (H, A, D) / dense_layer_3d_proj (A, D, H)
        array = (array.reshape(array.shape[0], -1) if tf_name.endswith(("query/kernel", "key/kernel", "value/kernel"))
                 else array.reshape(-1, array.shape[-1]))
    return np.ascontiguousarray(array.T)


def read_tf_state_dict(prefix, dtype=np.float32):
    """The weights of an original ALBERT checkpoint under HF's names: ({name: array}, [files read]).

    Optimiser slots and step counters are skipped; names that are neither weights nor
    training state are reported in a log warning (and left out).
    """
    tensors, _ = read_bundle(prefix, keep=lambda n: not is_training_state(n))
    state, unknown = {}, []
    for name, array in tensors.items():
        mapped = hf_name(name)
        if mapped is None:
            unknown.append(name)
            continue
        state[mapped[0]] = to_hf_layout(name, array, mapped[1]).astype(dtype, copy=False)
    if unknown:
        logger.warning("%s: %d variables not part of an ALBERT model, left out: %s", prefix, len(unknown),
                       ", ".join(sorted(unknown)[:10]) + (" ..." if len(unknown) > 10 else ""))
    shards = sorted(glob.glob(glob.escape(prefix) + ".data-*"))
    return state, [prefix + ".index"] + shards


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
    with open(path, encoding="utf-8") as f:
        try:
            original = json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path} is not valid JSON ({e})") from e
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
    with open(release.config_file, encoding="utf-8") as f:
        return json.load(f)
