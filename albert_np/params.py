"""Parameters as nested dicts named by Hugging Face's state-dict names, and their gradients.

"albert.encoder.albert_layer_groups.0.albert_layers.0.ffn.weight" is
params["albert"]["encoder"]["albert_layer_groups"][0]["albert_layers"][0]["ffn"]["weight"].
The MLM decoder weight and bias are the word-embedding table and predictions.bias
themselves (tied: the same array objects); gradients keep the same ties.
"""
import numpy as np


def nest(flat):
    """Flat HF state dict {"a.b.0.c": array} -> nested {"a": {"b": [{"c": array}]}}.

    Numeric path parts become list indices, so layer groups are lists.
    """
    root = {}
    for name, value in flat.items():
        parts = name.split(".")
        node = root
        for part, nxt in zip(parts[:-1], parts[1:]):
            key = int(part) if part.isdigit() else part
            child_is_list = nxt.isdigit()
            if isinstance(node, list):
                while len(node) <= key:
                    node.append(None)
                if node[key] is None:
                    node[key] = [] if child_is_list else {}
                node = node[key]
            else:
                if key not in node:
                    node[key] = [] if child_is_list else {}
                node = node[key]
        last = parts[-1]
        if isinstance(node, list):
            idx = int(last)
            while len(node) <= idx:
                node.append(None)
            node[idx] = value
        else:
            node[last] = value
    return root


def flatten(params, prefix=""):
    """Nested params -> flat {HF name: array}; the inverse of nest."""
    flat = {}
    items = enumerate(params) if isinstance(params, list) else params.items()
    for key, value in items:
        name = f"{prefix}{key}"
        if isinstance(value, (dict, list)):
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def map_params(params, fn):
    """fn applied to every parameter array, in the params' nested layout, ties kept.

    Where two paths of `params` hold the same array object (the MLM decoder
    weight is the word-embedding table, the decoder bias is predictions.bias),
    fn runs once and both paths of the result hold the same new array.
    """
    made = {}

    def build(node):
        if isinstance(node, dict):
            return {k: build(v) for k, v in node.items()}
        if isinstance(node, list):
            return [build(v) for v in node]
        if id(node) not in made:
            made[id(node)] = fn(node)
        return made[id(node)]

    return build(params)


def zeros_like_params(params):
    """A zero gradient for every parameter, in the params' nested layout.

    Tied parameters get tied gradients (see map_params), so both uses of the
    word-embedding table accumulate into one gradient.
    """
    return map_params(params, np.zeros_like)


def named_parameters(params):
    """Flat {HF name: array} with one entry per distinct parameter array.

    A tied array is listed once, under its owner's name: the MLM decoder's
    "predictions.decoder.weight" / ".bias" fold into
    "albert.embeddings.word_embeddings.weight" / "predictions.bias", as
    torch's named_parameters() does. These are the arrays themselves (an
    optimiser updating them in place updates the model), and their names are
    exactly the keys of step.loss_and_grads' grads.
    """
    flat = flatten(params)
    owner = {}
    for name, value in flat.items():              # prefer names outside the tied decoder
        if id(value) not in owner or owner[id(value)].startswith("predictions.decoder."):
            owner[id(value)] = name
    keep = set(owner.values())
    return {name: value for name, value in flat.items() if name in keep}


def encoder_shapes(config, pooler=True):
    """{HF name: shape} of the encoder (AlbertModel's names, no "albert." prefix)."""
    E, H, F, V = config.embedding_size, config.hidden_size, config.intermediate_size, config.vocab_size
    s = {
        "embeddings.word_embeddings.weight": (V, E),
        "embeddings.position_embeddings.weight": (config.max_position_embeddings, E),
        "embeddings.token_type_embeddings.weight": (config.type_vocab_size, E),
        "embeddings.LayerNorm.weight": (E,), "embeddings.LayerNorm.bias": (E,),
        "encoder.embedding_hidden_mapping_in.weight": (H, E),
        "encoder.embedding_hidden_mapping_in.bias": (H,),
    }
    for g in range(config.num_hidden_groups):
        for j in range(config.inner_group_num):
            p = f"encoder.albert_layer_groups.{g}.albert_layers.{j}."
            for lin in ("query", "key", "value", "dense"):
                s[p + f"attention.{lin}.weight"] = (H, H)
                s[p + f"attention.{lin}.bias"] = (H,)
            s[p + "attention.LayerNorm.weight"] = (H,)
            s[p + "attention.LayerNorm.bias"] = (H,)
            s[p + "ffn.weight"] = (F, H)
            s[p + "ffn.bias"] = (F,)
            s[p + "ffn_output.weight"] = (H, F)
            s[p + "ffn_output.bias"] = (H,)
            s[p + "full_layer_layer_norm.weight"] = (H,)
            s[p + "full_layer_layer_norm.bias"] = (H,)
    if pooler:
        s["pooler.weight"] = (H, H)
        s["pooler.bias"] = (H,)
    return s


def tie_decoder(flat, word_name):
    """Make the MLM decoder the word-embedding table and predictions.bias (same arrays), in place."""
    if "predictions.decoder.weight" in flat and word_name in flat:
        flat["predictions.decoder.weight"] = flat[word_name]
        flat["predictions.decoder.bias"] = flat["predictions.bias"]
    return flat


def resized_rows(table, n, mean_resizing=True, rng=None, std=0.02, fill=None):
    """`table` (V, ...) with n rows: rows 0..min(V, n)-1 kept, rows past V filled in.

    New rows: `fill` when given (predictions.bias: 0); else the mean of the old rows
    (mean_resizing, transformers 5's default); else draws from N(0, std) with `rng`.
    Returns a new array of table's dtype (the old one is left alone).
    """
    V = table.shape[0]
    out = np.empty((n,) + table.shape[1:], dtype=table.dtype)   # (n, ...)
    out[:min(V, n)] = table[:n]
    if n > V:
        if fill is not None:
            out[V:] = fill
        elif mean_resizing:
            out[V:] = table.mean(axis=0, dtype=np.float64)          # float64 ok: one mean row, summed exactly
        else:
            out[V:] = rng.normal(0.0, std, size=(n - V,) + table.shape[1:])
    return out


def init_weights(shapes, config, seed=0, dtype=np.float32):
    """Fresh weights of the given shapes ({HF name: shape}) as transformers initialises them.

    Linear / embedding weights ~ N(0, initializer_range), biases 0, LayerNorm
    (1, 0), the padding row of the word embeddings 0, the MLM bias 0; the
    decoder tied to the word embeddings.
    """
    rng = np.random.default_rng(seed)
    state = {}
    for name, shape in shapes.items():
        if "LayerNorm" in name or "layer_norm" in name:
            value = np.ones(shape) if name.endswith("weight") else np.zeros(shape)
        elif name.endswith("bias"):
            value = np.zeros(shape)
        else:
            value = rng.normal(0.0, config.initializer_range, size=shape)
        state[name] = value.astype(dtype)
    word = next((k for k in state if k.endswith("embeddings.word_embeddings.weight")), None)
    if word is not None and config.pad_token_id is not None and 0 <= config.pad_token_id < config.vocab_size:
        state[word][config.pad_token_id] = 0
    return tie_decoder(state, word)
