"""Make small checkpoints in Google's original ALBERT TF1 format, and TensorFlow's view of them.

Each case takes the weights of a tiny HF fixture (tests/fixtures/models/<source>), writes
them as TF1 variables under the scope names of google-research/albert's modeling.py
(kernels (in, out), LayerNorm gamma/beta, ...) with tf.compat.v1.train.Saver, adds what
a training run leaves beside them (adam_m / adam_v or lamb_m / lamb_v slots, global_step),
and records two oracles:

    tests/fixtures/tf1/<case>/albert_config.json     the original config format
                              <prefix>.index, <prefix>.data-0000i-of-0000N
                              tf_reader.npz          every tensor, as tf.train.load_checkpoint reads it
                              tf_forward.npz         inputs, and the outputs of a TF forward pass
                                                     written after the original modeling.py

Run once with TensorFlow installed (e.g. python3 -m venv /tmp/tf && /tmp/tf/bin/pip install
tensorflow-cpu safetensors), from the repo root:
    /tmp/tf/bin/python tests/make_tf_fixtures.py
The files are small (tens of KB) and committed, so the tests need no TensorFlow.
"""
import json
import os
import shutil

import numpy as np
import tensorflow as tf
from safetensors.numpy import load_file

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "fixtures", "tf1")
MODELS = os.path.join(HERE, "fixtures", "models")

# case: (HF source fixture, checkpoint prefix inside the case folder, TF name prefix,
#        original hidden_act, storage dtype of LayerNorms / of the rest, optimiser slots, shards)
CASES = {
    "release_pretraining": ("pretraining_g1_i1", "model.ckpt-best", "", "gelu",
                            (tf.float32, tf.float32), ("adam_m", "adam_v"), 1),
    "hub_mlm_g3_l5_relu": ("mlm_g3_l5_relu", "variables/variables", "module/", "relu",
                           (tf.float32, tf.float32), (), 2),
    "half_g2_i2": ("pretraining_g2_i2_gelu", "model.ckpt-1000", "", "gelu",
                   (tf.float16, tf.bfloat16), ("lamb_m", "lamb_v"), 1),
}
ORIGINAL_CONFIG_KEYS = ("vocab_size", "embedding_size", "hidden_size", "num_hidden_layers",
                        "num_hidden_groups", "num_attention_heads", "intermediate_size", "inner_group_num",
                        "hidden_dropout_prob", "attention_probs_dropout_prob", "max_position_embeddings",
                        "type_vocab_size", "initializer_range")


def tf_variables(hf, config):
    """{original TF name: array in TF layout} from an HF state dict (written independently of albert_np)."""
    out = {}

    def dense(tf_scope, hf_module):
        if hf_module + ".weight" in hf:
            out[tf_scope + "/kernel"] = hf[hf_module + ".weight"].T        # (out, in) -> (in, out)
            out[tf_scope + "/bias"] = hf[hf_module + ".bias"]

    def norm(tf_scope, hf_module):
        if hf_module + ".weight" in hf:
            out[tf_scope + "/gamma"] = hf[hf_module + ".weight"]
            out[tf_scope + "/beta"] = hf[hf_module + ".bias"]

    for kind in ("word", "token_type", "position"):
        out[f"bert/embeddings/{kind}_embeddings"] = hf[f"albert.embeddings.{kind}_embeddings.weight"]
    norm("bert/embeddings/LayerNorm", "albert.embeddings.LayerNorm")
    dense("bert/encoder/embedding_hidden_mapping_in", "albert.encoder.embedding_hidden_mapping_in")
    for g in range(config["num_hidden_groups"]):
        for i in range(config["inner_group_num"]):
            s = f"bert/encoder/transformer/group_{g}/inner_group_{i}/"
            h = f"albert.encoder.albert_layer_groups.{g}.albert_layers.{i}."
            for part in ("query", "key", "value"):
                dense(s + "attention_1/self/" + part, h + "attention." + part)
            dense(s + "attention_1/output/dense", h + "attention.dense")
            norm(s + "LayerNorm", h + "attention.LayerNorm")
            dense(s + "ffn_1/intermediate/dense", h + "ffn")
            dense(s + "ffn_1/intermediate/output/dense", h + "ffn_output")
            norm(s + "LayerNorm_1", h + "full_layer_layer_norm")
    dense("bert/pooler/dense", "albert.pooler")
    dense("cls/predictions/transform/dense", "predictions.dense")
    norm("cls/predictions/transform/LayerNorm", "predictions.LayerNorm")
    out["cls/predictions/output_bias"] = hf["predictions.bias"]
    if "sop_classifier.classifier.weight" in hf:
        out["cls/seq_relationship/output_weights"] = hf["sop_classifier.classifier.weight"]   # (2, H)
        out["cls/seq_relationship/output_bias"] = hf["sop_classifier.classifier.bias"]
    return out


def save_tf1(variables, path, name_prefix, dtypes, slots, global_step, shards):
    """Write `variables` with tf.compat.v1.train.Saver (float32 / float16 / bfloat16)."""
    graph = tf.Graph()
    with graph.as_default():
        made = []
        for k, (name, value) in enumerate(sorted(variables.items())):
            dtype = dtypes[0] if "LayerNorm" in name else dtypes[1]
            with tf.device(f"/cpu:{k % shards}"):
                made.append(tf.compat.v1.get_variable(name_prefix + name, initializer=tf.constant(value, dtype=dtype)))
                for s, slot in enumerate(slots if k % 4 == 0 else ()):     # some slots: small files
                    fill = np.full(value.shape, 0.001 * (s + 1), np.float32)
                    made.append(tf.compat.v1.get_variable(name_prefix + name + "/" + slot,
                                                          initializer=tf.constant(fill, dtype=dtype)))
        made.append(tf.compat.v1.get_variable(name_prefix + "global_step", dtype=tf.int64,
                                              initializer=tf.constant(global_step, tf.int64)))
        saver = tf.compat.v1.train.Saver(made, sharded=shards > 1)
        session_config = tf.compat.v1.ConfigProto(device_count={"CPU": shards})
        with tf.compat.v1.Session(graph=graph, config=session_config) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            saver.save(sess, path, write_meta_graph=False, write_state=False)


def gelu_original(x):
    """google-research/albert modeling.gelu: the tanh approximation."""
    return 0.5 * x * (1.0 + tf.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x * x * x)))


def tf_forward(get, cfg, act, input_ids, token_type_ids, mask):
    """The original ALBERT forward (modeling.py's structure) in TF ops, on the checkpoint's variables."""
    B, T = input_ids.shape
    A, H = cfg["num_attention_heads"], cfg["hidden_size"]
    D = H // A

    def dense(x, scope):
        return tf.tensordot(x, get(scope + "/kernel"), 1) + get(scope + "/bias")

    def norm(x, scope):
        mean, var = tf.nn.moments(x, axes=[-1], keepdims=True)
        return (x - mean) * tf.math.rsqrt(var + 1e-12) * get(scope + "/gamma") + get(scope + "/beta")

    x = (tf.gather(get("bert/embeddings/word_embeddings"), input_ids)
         + tf.gather(get("bert/embeddings/token_type_embeddings"), token_type_ids)
         + get("bert/embeddings/position_embeddings")[None, :T])
    x = norm(x, "bert/embeddings/LayerNorm")
    h = dense(x, "bert/encoder/embedding_hidden_mapping_in")
    adder = (1.0 - tf.cast(mask, tf.float32))[:, None, None, :] * -10000.0
    L, G = cfg["num_hidden_layers"], cfg["num_hidden_groups"]
    for layer in range(L):
        g = int(layer / L * G)
        for i in range(cfg["inner_group_num"]):
            s = f"bert/encoder/transformer/group_{g}/inner_group_{i}/"
            q, k, v = (tf.transpose(tf.reshape(dense(h, s + "attention_1/self/" + p), [B, T, A, D]), [0, 2, 1, 3])
                       for p in ("query", "key", "value"))
            probs = tf.nn.softmax(tf.matmul(q, k, transpose_b=True) / np.sqrt(D) + adder)
            ctx = tf.reshape(tf.transpose(tf.matmul(probs, v), [0, 2, 1, 3]), [B, T, H])
            a = norm(dense(ctx, s + "attention_1/output/dense") + h, s + "LayerNorm")
            f = dense(act(dense(a, s + "ffn_1/intermediate/dense")), s + "ffn_1/intermediate/output/dense")
            h = norm(f + a, s + "LayerNorm_1")
    out = {"last_hidden_state": h}
    t = norm(act(dense(h, "cls/predictions/transform/dense")), "cls/predictions/transform/LayerNorm")
    out["prediction_logits"] = (tf.matmul(t, get("bert/embeddings/word_embeddings"), transpose_b=True)
                                + get("cls/predictions/output_bias"))
    if get("bert/pooler/dense/kernel") is not None:
        pooled = tf.tanh(dense(h[:, 0], "bert/pooler/dense"))
        out["pooler_output"] = pooled
        out["sop_logits"] = (tf.matmul(pooled, get("cls/seq_relationship/output_weights"), transpose_b=True)
                             + get("cls/seq_relationship/output_bias"))
    return {k: v.numpy() for k, v in out.items()}


def make_case(case, source, prefix, name_prefix, hidden_act, dtypes, slots, shards):
    folder = os.path.join(OUT, case)
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(os.path.dirname(os.path.join(folder, prefix)), exist_ok=True)
    with open(os.path.join(MODELS, source, "config.json")) as f:
        hf_config = json.load(f)
    hf = load_file(os.path.join(MODELS, source, "model.safetensors"))
    original = {k: hf_config[k] for k in ORIGINAL_CONFIG_KEYS}
    original.update(hidden_act=hidden_act, down_scale_factor=1, net_structure_type=0, gap_size=0,
                    num_memory_blocks=0, layers_to_keep=[])
    with open(os.path.join(folder, "albert_config.json"), "w") as f:
        json.dump(original, f, indent=2, sort_keys=True)
        f.write("\n")
    step = int(prefix.rsplit("-", 1)[1]) if prefix[-1].isdigit() else 125000
    save_tf1(tf_variables(hf, hf_config), os.path.join(folder, prefix), name_prefix, dtypes, slots, step, shards)

    reader = tf.train.load_checkpoint(os.path.join(folder, prefix))
    names = reader.get_variable_to_dtype_map()
    tensors = {n: reader.get_tensor(n) for n in names}
    stored = {n: t.astype(np.float32) if t.dtype.name == "bfloat16" else t for n, t in tensors.items()}
    np.savez_compressed(os.path.join(folder, "tf_reader.npz"), **stored)
    dtypes_seen = {n: names[n].name for n in names}
    with open(os.path.join(folder, "tf_dtypes.json"), "w") as f:
        json.dump(dtypes_seen, f, sort_keys=True)

    ref = np.load(os.path.join(MODELS, source, "reference.npz"))
    act = {"gelu": gelu_original, "relu": tf.nn.relu}[hidden_act]
    get = lambda n: (tf.constant(stored[name_prefix + n], tf.float32)            # noqa: E731
                     if name_prefix + n in stored else None)
    outputs = tf_forward(get, hf_config, act, ref["input_ids"], ref["token_type_ids"], ref["attention_mask"])
    np.savez_compressed(os.path.join(folder, "tf_forward.npz"), input_ids=ref["input_ids"],
             token_type_ids=ref["token_type_ids"], attention_mask=ref["attention_mask"],
             **{"out_" + k: v for k, v in outputs.items()})
    size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(folder) for f in fs)
    print(f"{case}: {len(names)} tensors, {size / 1024:.0f} KB, TF {tf.__version__}")


if __name__ == "__main__":
    for case, spec in CASES.items():
        make_case(case, *spec)
