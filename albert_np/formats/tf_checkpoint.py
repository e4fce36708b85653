"""Google's original ALBERT releases (TF1 checkpoints) loaded without TensorFlow.

A release folder, as google-research/albert published them:

    albert_config.json                                   the original config format
    model.ckpt-best.index, model.ckpt-best.data-00000-of-00001   the weights (tensor_bundle.py)
    30k-clean.model (+ 30k-clean.vocab)                  the SentencePiece model

(a TF-Hub module keeps them as variables/variables.* and assets/, its names under `module/`).
These are the only checkpoints with the trained sentence-order-prediction head.
tf_release.py finds such a folder (or a checkpoint prefix, ".../model.ckpt-best") and
reads its config and vocabulary file; this file reads its weights (`read_tf_state_dict`),
in HF's names. `python -m albert_np convert SRC DST` writes an HF folder.
"""
import glob
import logging
import re

import numpy as np

from .errors import CheckpointError
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
    state, unknown, not_float = {}, [], []
    for name, array in tensors.items():
        mapped = hf_name(name)
        if mapped is None:
            unknown.append(name)
            continue
        if not np.issubdtype(array.dtype, np.floating):     # the file's dtype: never cast to a weight
            not_float.append(f"{name} ({array.dtype})")
            continue
        state[mapped[0]] = to_hf_layout(name, array, mapped[1]).astype(dtype, copy=False)
    if not_float:
        raise CheckpointError(f"{prefix}: {len(not_float)} weight(s) are stored as integers or booleans, not "
                              f"floats: {', '.join(not_float[:8])}. The checkpoint is damaged or not an ALBERT's")
    if unknown:
        logger.warning("%s: %d variables not part of an ALBERT model, left out: %s", prefix, len(unknown),
                       ", ".join(sorted(unknown)[:10]) + (" ..." if len(unknown) > 10 else ""))
    shards = sorted(glob.glob(glob.escape(prefix) + ".data-*"))
    return state, [prefix + ".index"] + shards
