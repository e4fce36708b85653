"""Training: a backward pass beside every forward, in the order of ops.py and model.py.

Every piece comes as a pair, llm.c / cs231n style:

    out, cache = <op>_forward(x, ..., params of the op)
    dx         = <op>_backward(dout, cache, grads)

`cache` is a plain tuple of whatever the backward needs. `grads` is the op's own
gradient dict, shaped like its params ({"weight": ..., "bias": ...} for a
linear), and the backward *adds* into it (`+=`), never assigns. Accumulation is
what ALBERT needs: its encoder runs one set of layer weights L times, and the
gradient of a weight used in several places is the sum of the gradients of each
use (see albert_transformer_backward). No backward modifies `dout` in place.

The training forwards compute exactly what the inference functions of model.py
compute (tests/test_backprop.py asserts bitwise equality with training=False);
they only also keep caches, and apply dropout where Hugging Face does when
training=True. The inference path keeps no caches and stays as fast as before.

The public entry point for training loops is

    loss, outputs, grads = loss_and_grads(params, config, head, inputs, labels, rng, training)

with `grads` a flat {HF parameter name: array}, one entry per distinct parameter
(see named_parameters), ready for optim.AdamW.

Dimension legend: B batch, T tokens, C choices, E embedding_size, H hidden_size,
A heads, D = H / A, F intermediate_size, V vocab, L layer applications, G groups,
N = B * T rows, P gathered MLM positions per sequence.

Everything runs in the dtype of the parameters: float32 for training, float64
for the finite-difference gradient checks. Constants are cast to that dtype.
"""
import math

import numpy as np

from . import losses, ops
from .model import check_inputs, default_inputs, flatten
from .ops import attention_bias, merge_heads, split_heads

__all__ = [
    "map_params", "zeros_like_params", "named_parameters", "scatter_add_rows",
    "linear_forward", "linear_backward", "layer_norm_forward", "layer_norm_backward",
    "gelu_forward", "gelu_backward", "gelu_new_forward", "gelu_new_backward",
    "gelu_fast_forward", "gelu_fast_backward", "quick_gelu_forward", "quick_gelu_backward",
    "relu_forward", "relu_backward", "tanh_forward", "tanh_backward", "activation_pair",
    "softmax_forward", "softmax_backward", "dropout_forward", "dropout_backward",
    "scaled_dot_product_attention_forward", "scaled_dot_product_attention_backward",
    "embeddings_forward", "embeddings_backward",
    "embedding_hidden_mapping_in_forward", "embedding_hidden_mapping_in_backward",
    "albert_attention_forward", "albert_attention_backward",
    "albert_layer_forward", "albert_layer_backward",
    "albert_transformer_forward", "albert_transformer_backward",
    "pooler_forward", "pooler_backward", "albert_model_forward", "albert_model_backward",
    "gather_positions_forward", "gather_positions_backward",
    "mlm_head_forward", "mlm_head_backward", "classifier_forward", "classifier_backward",
    "question_answering_head_forward", "question_answering_head_backward",
    "model_forward", "model_backward", "loss_and_grads", "HEADS",
]

HEADS = ("sequence", "token", "qa", "multiple_choice", "mlm", "pretraining", None)


# ================================================================ gradient containers
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
    exactly the keys of loss_and_grads' grads.
    """
    flat = flatten(params)
    owner = {}
    for name, value in flat.items():              # prefer names outside the tied decoder
        if id(value) not in owner or owner[id(value)].startswith("predictions.decoder."):
            owner[id(value)] = name
    keep = set(owner.values())
    return {name: value for name, value in flat.items() if name in keep}


def scatter_add_rows(table_grad, ids, rows, skip=None):
    """table_grad[ids[n]] += rows[n] for every n, repeated ids summed.  (V, E) += (N, E)

    The backward of a table lookup (an embedding). Sorts the ids, sums each
    run of equal ids with np.add.reduceat, then adds one row per distinct id:
    the same result as np.add.at(table_grad, ids, rows), about twice as fast.
    ids: int array of any shape; rows: ids.shape + (E,); skip: an id whose row
    receives nothing (torch.nn.Embedding's padding_idx).
    """
    ids = ids.reshape(-1)                                  # (N,)
    rows = rows.reshape(ids.shape[0], -1)                  # (N, E)
    if skip is not None:
        keep = ids != skip
        if not keep.all():
            ids, rows = ids[keep], rows[keep]
    if ids.size == 0:
        return table_grad
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    starts = np.flatnonzero(np.concatenate(([True], sorted_ids[1:] != sorted_ids[:-1])))
    table_grad[sorted_ids[starts]] += np.add.reduceat(rows[order], starts, axis=0)
    return table_grad


# ============================================================================ linear
def linear_forward(x, weight, bias=None):          # (..., in) -> (..., out)
    """y = x @ weight.T + bias  (weight: (out, in)).   Returns (y, cache).

    Runs as one 2-D matrix product over all rows (N = prod(...), in), which
    gives the same numbers as ops.linear and is faster than NumPy's stacked matmul.
    Matches: torch.nn.Linear.
    """
    x2 = x.reshape(-1, x.shape[-1])                        # (..., in) -> (N, in)
    y = x2 @ weight.T                                      # (N, out)
    if bias is not None:
        y += bias
    return y.reshape(*x.shape[:-1], weight.shape[0]), (x2, weight, bias is not None)


def linear_backward(dout, cache, grads):           # (..., out) -> (..., in)
    """dx = dout @ W;  grads["weight"] += dout^T x;  grads["bias"] += sum_rows dout.

    grads: {"weight": (out, in), "bias": (out,)}, accumulated into.
    """
    x2, weight, has_bias = cache
    d2 = dout.reshape(-1, dout.shape[-1])                  # (N, out)
    grads["weight"] += d2.T @ x2                           # (out, N) @ (N, in) -> (out, in)
    if has_bias:
        grads["bias"] += d2.sum(axis=0)                    # (out,)
    return (d2 @ weight).reshape(*dout.shape[:-1], weight.shape[1])   # (N, in) -> (..., in)


# ======================================================================== layer norm
def layer_norm_forward(x, weight, bias, eps):      # (..., H) -> (..., H)
    """y = xhat * weight + bias,  xhat = (x - mean) / sqrt(var + eps).  Returns (y, cache).

    Biased variance, as torch. Same arithmetic, in the same order, as ops.layer_norm.
    Matches: torch.nn.LayerNorm.
    """
    mean = x.mean(-1, keepdims=True)                       # (..., 1)
    xhat = x - mean                                        # (..., H)
    var = np.mean(xhat * xhat, axis=-1, keepdims=True)     # (..., 1)
    rstd = 1.0 / np.sqrt(var + x.dtype.type(eps))          # (..., 1)
    xhat *= rstd
    y = xhat * weight
    y += bias
    return y, (xhat, rstd, weight)


def layer_norm_backward(dout, cache, grads):       # (..., H) -> (..., H)
    """The LayerNorm backward, with g = dout * weight:

        dx = rstd * (g - mean(g) - xhat * mean(g * xhat))   (means over the last axis)
        grads["weight"] += sum_rows dout * xhat;  grads["bias"] += sum_rows dout
    """
    xhat, rstd, weight = cache
    H = xhat.shape[-1]
    d2 = dout.reshape(-1, H)                               # (N, H)
    grads["bias"] += d2.sum(axis=0)
    g = dout * xhat                                        # (..., H)
    grads["weight"] += g.reshape(-1, H).sum(axis=0)
    g *= weight                                            # g * xhat, i.e. dxhat * xhat
    m2 = g.mean(-1, keepdims=True)                         # (..., 1) mean(dxhat * xhat)
    dx = dout * weight                                     # (..., H) dxhat
    m1 = dx.mean(-1, keepdims=True)                        # (..., 1) mean(dxhat)
    np.multiply(xhat, m2, out=g)
    dx -= g
    dx -= m1
    dx *= rstd
    return dx


# ======================================================================= activations
# Each activation's forward keeps what its derivative needs; the forwards repeat
# the arithmetic of ops.py step for step so that the outputs are bitwise equal.

def _tanh_gelu_forward(x, k):
    """0.5 x (1 + tanh(k (x + 0.044715 x^3))); cache keeps x and the tanh."""
    dt = x.dtype.type
    t = x * x                                              # x^2 (never x ** 3 on a big array)
    t *= dt(0.044715)
    t += dt(1.0)
    t *= x                                                 # x + 0.044715 x^3
    t *= dt(k)
    np.tanh(t, out=t)
    y = t + dt(1.0)
    y *= x
    y *= dt(0.5)
    return y, (x, t, k)


def _tanh_gelu_backward(dout, cache):
    """d/dx = 0.5 (1 + t) + 0.5 x (1 - t^2) k (1 + 3 * 0.044715 x^2),  t = tanh(...)."""
    x, t, k = cache
    dt = x.dtype.type
    u = x * x
    u *= dt(3 * 0.044715)
    u += dt(1.0)                                           # 1 + 3c x^2
    g = t * t
    np.subtract(dt(1.0), g, out=g)                         # 1 - t^2
    g *= u
    g *= x
    g *= dt(k)
    g += t
    g += dt(1.0)
    g *= dt(0.5)
    g *= dout
    return g


def gelu_new_forward(x):
    """GELU, tanh approximation (ALBERT v2's hidden_act).  Matches: ops.gelu_new."""
    return _tanh_gelu_forward(x, math.sqrt(2.0 / math.pi))


def gelu_new_backward(dout, cache):
    """dx = dout * (0.5 (1 + t) + 0.5 x (1 - t^2) sqrt(2/pi) (1 + 0.134145 x^2))."""
    return _tanh_gelu_backward(dout, cache)


def gelu_fast_forward(x):
    """0.5 x (1 + tanh(0.7978845608 x (1 + 0.044715 x^2))).  Matches: ops.gelu_fast."""
    return _tanh_gelu_forward(x, 0.7978845608)


def gelu_fast_backward(dout, cache):
    """As gelu_new_backward, with the constant 0.7978845608."""
    return _tanh_gelu_backward(dout, cache)


def gelu_forward(x):
    """Exact GELU: x Phi(x) = 0.5 x (1 + erf(x / sqrt(2))).  Matches: ops.gelu (torch gelu)."""
    dt = x.dtype.type
    e = ops.erf(x * dt(1.0 / math.sqrt(2.0)))
    y = dt(0.5) * x
    y *= dt(1.0) + e
    return y, (x, e)


def gelu_backward(dout, cache):
    """dx = dout * (Phi(x) + x phi(x)),  phi(x) = exp(-x^2 / 2) / sqrt(2 pi), the normal pdf."""
    x, e = cache
    dt = x.dtype.type
    pdf = x * x
    pdf *= dt(-0.5)
    np.exp(pdf, out=pdf)
    pdf *= dt(1.0 / math.sqrt(2.0 * math.pi))
    pdf *= x                                               # x phi(x)
    cdf = e + dt(1.0)
    cdf *= dt(0.5)                                         # Phi(x)
    pdf += cdf
    pdf *= dout
    return pdf


def quick_gelu_forward(x):
    """x sigmoid(1.702 x).  Matches: ops.quick_gelu."""
    s = ops.sigmoid(x * x.dtype.type(1.702))
    return x * s, (x, s)


def quick_gelu_backward(dout, cache):
    """dx = dout * (s + 1.702 x s (1 - s)),  s = sigmoid(1.702 x)."""
    x, s = cache
    dt = x.dtype.type
    g = dt(1.0) - s
    g *= s
    g *= x
    g *= dt(1.702)
    g += s
    g *= dout
    return g


def relu_forward(x):
    """max(x, 0).  Matches: ops.relu."""
    y = ops.relu(x)
    return y, y


def relu_backward(dout, cache):
    """dx = dout where the output is > 0, else 0 (torch's threshold_backward)."""
    y = cache
    return dout * (y > 0)


def tanh_forward(x):
    """tanh(x).  Matches: ops.tanh."""
    y = np.tanh(x)
    return y, y


def tanh_backward(dout, cache):
    """dx = dout * (1 - tanh(x)^2)."""
    y = cache
    g = y * y
    np.subtract(y.dtype.type(1.0), g, out=g)
    g *= dout
    return g


# ops function -> its (forward, backward) pair; activation_pair reads ops.ACTIVATIONS,
# so every hidden_act name the inference path accepts has a backward here.
_ACTIVATION_PAIRS = {
    ops.gelu: (gelu_forward, gelu_backward),
    ops.gelu_new: (gelu_new_forward, gelu_new_backward),
    ops.gelu_fast: (gelu_fast_forward, gelu_fast_backward),
    ops.quick_gelu: (quick_gelu_forward, quick_gelu_backward),
    ops.relu: (relu_forward, relu_backward),
    ops.tanh: (tanh_forward, tanh_backward),
}


def activation_pair(name):
    """(forward, backward) for a config's hidden_act, or a ValueError listing the choices."""
    return _ACTIVATION_PAIRS[ops.activation(name)]


# =========================================================================== softmax
def softmax_forward(x, axis=-1):
    """y = softmax(x) along `axis`.  Returns (y, cache).  Matches: ops.softmax."""
    y = ops.softmax(x, axis=axis)
    return y, (y, axis)


def softmax_backward(dout, cache):
    """dx = y * (dout - sum(dout * y))   (sum along the softmax axis)."""
    y, axis = cache
    dx = dout * y
    s = dx.sum(axis=axis, keepdims=True)
    dx -= y * s
    return dx


# =========================================================================== dropout
def dropout_forward(x, p, rng=None, training=False):
    """Inverted dropout when training (ops.dropout), identity otherwise.

    Returns (y, mask); mask holds the 1/(1 - p) scale, or is None when nothing
    was dropped (eval mode or p == 0), in which case y is x itself.
    rng: numpy Generator, required when training with p > 0.
    Matches: torch.nn.Dropout (in distribution; the random draws differ).
    """
    if not training or not p:
        return x, None
    if rng is None:
        raise ValueError(f"dropout with p={p} in training mode needs rng=np.random.default_rng(seed)")
    return ops.dropout(x, p, rng)


def dropout_backward(dout, mask):
    """dx = dout * mask (the mask kept from the forward); dout itself when mask is None."""
    return dout if mask is None else dout * mask


# ========================================================================= attention
def scaled_dot_product_attention_forward(q, k, v, bias=None, head_mask=None, dropout_p=0.0,
                                         rng=None, training=False):
    """out = dropout(softmax(q k^T / sqrt(D) + bias) * head_mask) v, per head.

    q, k, v: (B, A, T, D); bias: additive mask broadcastable to (B, A, T, T);
    head_mask: (A,) or broadcastable to (B, A, T, T); dropout_p:
    attention_probs_dropout_prob, applied to the probabilities when training.
    Returns (out (B, A, T, D), cache).
    Matches: ops.scaled_dot_product_attention; transformers eager_attention_forward.
    """
    D = q.shape[-1]
    scale = q.dtype.type(1.0 / math.sqrt(D))
    scores = q @ k.transpose(0, 1, 3, 2)                   # (B, A, T, T)
    scores *= scale
    if bias is not None:
        scores += bias
    probs = ops.softmax(scores, axis=-1)                   # (B, A, T, T)
    hm = None
    mixed = probs
    if head_mask is not None:
        hm = np.asarray(head_mask, dtype=probs.dtype)
        if hm.ndim == 1:
            hm = hm[None, :, None, None]                   # (1, A, 1, 1)
        mixed = probs * hm
    mixed, drop_mask = dropout_forward(mixed, dropout_p, rng, training)
    out = mixed @ v                                        # (B, A, T, D)
    return out, (q, k, v, probs, hm, mixed, drop_mask, scale)


def scaled_dot_product_attention_backward(dout, cache):   # (B, A, T, D) -> dq, dk, dv
    """Backward through probs @ v, dropout, head mask, softmax and the scaling.

    dv = P'^T dout;  dP' = dout v^T;  dP = dP' * dropmask * head_mask;
    dS = P * (dP - sum(dP * P)) / sqrt(D);  dq = dS k;  dk = dS^T q.
    (P = softmax probabilities, P' = what multiplied v.) The bias gets no gradient.
    """
    q, k, v, probs, hm, mixed, drop_mask, scale = cache
    dv = mixed.transpose(0, 1, 3, 2) @ dout                # (B, A, T, T) @ (B, A, T, D)
    dp = dout @ v.transpose(0, 1, 3, 2)                    # (B, A, T, T)
    if drop_mask is not None:
        dp *= drop_mask
    if hm is not None:
        dp *= hm
    s = np.multiply(dp, probs).sum(axis=-1, keepdims=True)  # (B, A, T, 1); softmax_backward, in place
    dp -= s
    dp *= probs                                            # d scores (after the bias)
    dp *= scale
    dq = dp @ k                                            # (B, A, T, D)
    dk = dp.transpose(0, 1, 3, 2) @ q                      # (B, A, T, D)
    return dq, dk, dv


# ======================================================================== embeddings
def embeddings_forward(input_ids, token_type_ids, position_ids, word_embeddings, position_embeddings,
                       token_type_embeddings, LayerNorm, eps, inputs_embeds=None, padding_idx=None,
                       dropout_p=0.0, rng=None, training=False):
    """e = dropout(LayerNorm(W_word[input_ids] + W_pos[position_ids] + W_type[token_type_ids])).

    input_ids, token_type_ids: (B, T) (token_type_ids may be (1, T)); position_ids
    (B, T) or (1, T); inputs_embeds (B, T, E) replaces the word lookup.
    padding_idx: config.pad_token_id (the word row that gets no gradient, as torch).
    dropout_p: hidden_dropout_prob. Returns (e (B, T, E), cache).
    Matches: model.embeddings; transformers AlbertEmbeddings.forward.
    """
    from_ids = inputs_embeds is None
    if from_ids:
        inputs_embeds = word_embeddings["weight"][input_ids]             # (B, T, E)
    x = inputs_embeds + token_type_embeddings["weight"][token_type_ids]  # (B, T, E)
    x += position_embeddings["weight"][position_ids]                     # broadcast over B
    y, ln_cache = layer_norm_forward(x, LayerNorm["weight"], LayerNorm["bias"], eps)
    y, mask = dropout_forward(y, dropout_p, rng, training)
    return y, (input_ids if from_ids else None, token_type_ids, position_ids, padding_idx,
               ln_cache, mask)


def embeddings_backward(dout, cache, grads):       # (B, T, E) -> d_inputs_embeds or None
    """Scatter the gradient of the sum back into the three tables.

    grads["word_embeddings"]["weight"][id] += sum of d over the tokens with that id
    (not for padding_idx, as torch.nn.Embedding(padding_idx=...)), likewise the
    position and token-type tables. With inputs_embeds the word table is not
    used and the gradient of inputs_embeds (B, T, E) is returned instead.
    """
    input_ids, token_type_ids, position_ids, padding_idx, ln_cache, mask = cache
    d = dropout_backward(dout, mask)
    d = layer_norm_backward(d, ln_cache, grads["LayerNorm"])           # (B, T, E)
    full = d.shape[:2]
    scatter_add_rows(grads["token_type_embeddings"]["weight"], np.broadcast_to(token_type_ids, full), d)
    scatter_add_rows(grads["position_embeddings"]["weight"], np.broadcast_to(position_ids, full), d)
    if input_ids is None:
        return d
    scatter_add_rows(grads["word_embeddings"]["weight"], input_ids, d, skip=padding_idx)
    return None


def embedding_hidden_mapping_in_forward(x, weight, bias):   # (B, T, E) -> (B, T, H)
    """E -> H projection of the factorised embedding.  Matches: model.embedding_hidden_mapping_in."""
    return linear_forward(x, weight, bias)


def embedding_hidden_mapping_in_backward(dout, cache, grads):   # (B, T, H) -> (B, T, E)
    return linear_backward(dout, cache, grads)


# ========================================================================= the layer
def albert_attention_forward(x, bias, query, key, value, dense, LayerNorm, num_heads, eps,
                             head_mask=None, attention_dropout=0.0, hidden_dropout=0.0,
                             rng=None, training=False):
    """out = LayerNorm(x + dropout(Dense(Attention(x W_q, x W_k, x W_v)))).

    x: (B, T, H); bias: additive mask (B, 1, 1, T) or None; head_mask: (A,) or None.
    Dropout, when training: attention_dropout (attention_probs_dropout_prob) on
    the probabilities, hidden_dropout (hidden_dropout_prob) on the dense output
    before the residual. Returns (out (B, T, H), cache).
    Matches: model.albert_attention; transformers AlbertAttention.forward.
    """
    qf, q_cache = linear_forward(x, **query)               # (B, T, H)
    kf, k_cache = linear_forward(x, **key)
    vf, v_cache = linear_forward(x, **value)
    q = split_heads(qf, num_heads)                         # (B, T, H) -> (B, A, T, D)
    k = split_heads(kf, num_heads)
    v = split_heads(vf, num_heads)
    ctx, att_cache = scaled_dot_product_attention_forward(q, k, v, bias, head_mask,
                                                          attention_dropout, rng, training)
    y, dense_cache = linear_forward(merge_heads(ctx), **dense)   # (B, A, T, D) -> (B, T, H)
    y, mask = dropout_forward(y, hidden_dropout, rng, training)
    y += x                                                 # y is our own array: safe in place
    out, ln_cache = layer_norm_forward(y, LayerNorm["weight"], LayerNorm["bias"], eps)
    return out, (num_heads, q_cache, k_cache, v_cache, att_cache, dense_cache, mask, ln_cache)


def albert_attention_backward(dout, cache, grads):  # (B, T, H) -> (B, T, H)
    """grads: the layer's "attention" gradients (query, key, value, dense, LayerNorm)."""
    num_heads, q_cache, k_cache, v_cache, att_cache, dense_cache, mask, ln_cache = cache
    dy = layer_norm_backward(dout, ln_cache, grads["LayerNorm"])       # (B, T, H)
    dctx = linear_backward(dropout_backward(dy, mask), dense_cache, grads["dense"])
    dq, dk, dv = scaled_dot_product_attention_backward(split_heads(dctx, num_heads), att_cache)
    dx = linear_backward(merge_heads(dq), q_cache, grads["query"])     # (B, A, T, D) -> (B, T, H)
    dx += linear_backward(merge_heads(dk), k_cache, grads["key"])
    dx += linear_backward(merge_heads(dv), v_cache, grads["value"])
    dx += dy                                                           # the residual
    return dx


def albert_layer_forward(x, bias, attention, ffn, ffn_output, full_layer_layer_norm, num_heads, act,
                         eps, head_mask=None, attention_dropout=0.0, hidden_dropout=0.0,
                         rng=None, training=False):
    """a = AttentionBlock(x);  out = LayerNorm(a + W_2 act(W_1 a + b_1) + b_2).

    x: (B, T, H) -> out (B, T, H); act: the hidden_act name ("gelu_new", ...).
    No dropout on the feed-forward output: transformers' AlbertLayer defines
    self.dropout but never applies it, and neither do we.
    Returns (out, cache).
    Matches: model.albert_layer; transformers AlbertLayer.forward.
    """
    act_forward, _ = activation_pair(act)
    a, att_cache = albert_attention_forward(x, bias, **attention, num_heads=num_heads, eps=eps,
                                            head_mask=head_mask, attention_dropout=attention_dropout,
                                            hidden_dropout=hidden_dropout, rng=rng, training=training)
    h, ffn_cache = linear_forward(a, **ffn)                # (B, T, H) -> (B, T, F)
    h, act_cache = act_forward(h)
    y, out_cache = linear_forward(h, **ffn_output)         # (B, T, F) -> (B, T, H)
    y += a
    out, ln_cache = layer_norm_forward(y, full_layer_layer_norm["weight"],
                                       full_layer_layer_norm["bias"], eps)
    return out, (act, att_cache, ffn_cache, act_cache, out_cache, ln_cache)


def albert_layer_backward(dout, cache, grads):     # (B, T, H) -> (B, T, H)
    """grads: the gradient dict of this layer (attention, ffn, ffn_output, full_layer_layer_norm)."""
    act, att_cache, ffn_cache, act_cache, out_cache, ln_cache = cache
    _, act_backward = activation_pair(act)
    dy = layer_norm_backward(dout, ln_cache, grads["full_layer_layer_norm"])   # (B, T, H)
    dh = linear_backward(dy, out_cache, grads["ffn_output"])          # (B, T, H) -> (B, T, F)
    dh = act_backward(dh, act_cache)
    da = linear_backward(dh, ffn_cache, grads["ffn"])                 # (B, T, F) -> (B, T, H)
    da += dy                                                           # the residual
    return albert_attention_backward(da, att_cache, grads["attention"])


def albert_transformer_forward(x, bias, embedding_hidden_mapping_in, albert_layer_groups, config,
                               head_mask=None, rng=None, training=False):
    """Map E -> H, then apply the shared layers L times, keeping one cache per application.

    for i in 0..L-1: g = int(i / (L / G)); run the inner_group_num layers of group g.
    x: (B, T, E); head_mask: None, (A,) or (L, A). Returns (last (B, T, H), cache).
    Matches: model.albert_transformer; transformers AlbertTransformer.forward.
    """
    h, map_cache = embedding_hidden_mapping_in_forward(x, **embedding_hidden_mapping_in)  # (B, T, H)
    runs = []
    for i in range(config.num_hidden_layers):
        g = config.group_of_layer(i)
        hm = None if head_mask is None else (head_mask if head_mask.ndim == 1 else head_mask[i])
        for j, layer in enumerate(albert_layer_groups[g]["albert_layers"]):
            h, layer_cache = albert_layer_forward(
                h, bias, **layer, num_heads=config.num_attention_heads, act=config.hidden_act,
                eps=config.layer_norm_eps, head_mask=hm,
                attention_dropout=config.attention_probs_dropout_prob,
                hidden_dropout=config.hidden_dropout_prob, rng=rng, training=training)
            runs.append((g, j, layer_cache))
    return h, (map_cache, runs)


def albert_transformer_backward(dout, cache, grads):   # (B, T, H) -> (B, T, E)
    """Backward through the L layer applications in reverse, then the E -> H map.

    ALBERT's parameter sharing, seen from the gradient. With G = 1 the forward is
        h_1 = f(h_0; W), h_2 = f(h_1; W), ..., h_L = f(h_{L-1}; W)
    with the SAME weights W at every step. The loss depends on W through all L
    uses, so by the chain rule its gradient is the sum of the L per-use terms:
        dLoss/dW = sum_i  (dLoss/dh_i) * (d f(h_{i-1}; W) / dW)
    Each albert_layer_backward call computes one term, using the cache of its
    own application (its own inputs and activations), and ADDS it into the
    group's gradient dict, which is the same dict object for every application
    of that group. Walking i = L-1 .. 0 while passing dLoss/dh_{i-1} down thus
    leaves grads holding the full sum. With G groups, application i adds into
    group int(i / (L / G)); with inner_group_num > 1, each of the group's layers
    has its own dict and receives its own sum. The caches cannot be shared
    across applications (each use sees different inputs) — only the weights are.
    grads: the encoder's gradient dict (embedding_hidden_mapping_in, albert_layer_groups).
    """
    map_cache, runs = cache
    d = dout
    for g, j, layer_cache in reversed(runs):
        d = albert_layer_backward(d, layer_cache, grads["albert_layer_groups"][g]["albert_layers"][j])
    return embedding_hidden_mapping_in_backward(d, map_cache, grads["embedding_hidden_mapping_in"])


def pooler_forward(h, weight, bias):               # (B, T, H) -> (B, H)
    """tanh(W h[:, 0] + b).  Returns (pooled, cache).  Matches: model.pooler."""
    z, lin_cache = linear_forward(h[:, 0], weight, bias)   # (B, H)
    p, tanh_cache = tanh_forward(z)
    return p, (h.shape, lin_cache, tanh_cache)


def pooler_backward(dout, cache, grads):           # (B, H) -> (B, T, H)
    """Only the first token ([CLS]) gets a gradient; the others get zeros."""
    shape, lin_cache, tanh_cache = cache
    dh = np.zeros(shape, dtype=dout.dtype)
    dh[:, 0] = linear_backward(tanh_backward(dout, tanh_cache), lin_cache, grads)
    return dh


def albert_model_forward(params, config, input_ids=None, attention_mask=None, token_type_ids=None,
                         position_ids=None, inputs_embeds=None, head_mask=None, rng=None,
                         training=False):
    """The ALBERT encoder with caches: ids -> contextual vectors and the pooled vector.

    params: the "albert" sub-dict; arguments as model.albert_model (assumed
    valid: see model.check_inputs). Dropout, when training, where transformers
    applies it: embeddings output, attention probabilities, attention output
    (hidden_dropout_prob, attention_probs_dropout_prob).
    Returns ({"last_hidden_state": (B, T, H), "pooler_output": (B, H) or None}, cache).
    Matches: model.albert_model; transformers AlbertModel.forward.
    """
    token_type_ids, position_ids, inputs_embeds, dtype = default_inputs(
        params, input_ids, token_type_ids, position_ids, inputs_embeds)
    x, emb_cache = embeddings_forward(
        input_ids, token_type_ids, position_ids, **params["embeddings"], eps=config.layer_norm_eps,
        inputs_embeds=inputs_embeds, padding_idx=config.pad_token_id,
        dropout_p=config.hidden_dropout_prob, rng=rng, training=training)   # (B, T, E)
    bias = None
    if attention_mask is not None and not np.all(attention_mask):
        bias = attention_bias(attention_mask, dtype)       # (B, 1, 1, T)
    hm = None if head_mask is None else np.asarray(head_mask, dtype=dtype)
    h, enc_cache = albert_transformer_forward(x, bias, **params["encoder"], config=config,
                                              head_mask=hm, rng=rng, training=training)
    pooled, pool_cache = pooler_forward(h, **params["pooler"]) if "pooler" in params else (None, None)
    return ({"last_hidden_state": h, "pooler_output": pooled}, (emb_cache, enc_cache, pool_cache))


def albert_model_backward(d_last_hidden_state, d_pooler_output, cache, grads):
    """Backward of albert_model_forward; either upstream gradient may be None.

    d_last_hidden_state: (B, T, H); d_pooler_output: (B, H); grads: the
    "albert" gradient dict. Returns d_inputs_embeds (B, T, E) when the forward
    ran on inputs_embeds, else None.
    """
    emb_cache, enc_cache, pool_cache = cache
    d = d_last_hidden_state
    if d_pooler_output is not None:
        dp = pooler_backward(d_pooler_output, pool_cache, grads["pooler"])   # (B, T, H)
        if d is not None:
            dp += d                                        # dp is ours; the upstream d is not touched
        d = dp
    if d is None:
        raise ValueError("albert_model_backward needs d_last_hidden_state or d_pooler_output")
    dx = albert_transformer_backward(d, enc_cache, grads["encoder"])          # (B, T, E)
    return embeddings_backward(dx, emb_cache, grads["embeddings"])


# ============================================================================= heads
def gather_positions_forward(h, positions):        # (B, T, H), (B, P) -> (B, P, H)
    """The rows of h at the given token positions (the masked tokens of pretraining)."""
    B = h.shape[0]
    rows = np.arange(B)[:, None]                           # (B, 1)
    return h[rows, positions], (h.shape, positions)


def gather_positions_backward(dout, cache):        # (B, P, H) -> (B, T, H)
    """Scatter-add the rows back (a position listed twice gets both gradients)."""
    shape, positions = cache
    B, T, H = shape
    dh = np.zeros(shape, dtype=dout.dtype)
    flat = (np.arange(B)[:, None] * T + positions).reshape(-1)           # (B * P,)
    scatter_add_rows(dh.reshape(B * T, H), flat, dout)
    return dh


def mlm_head_forward(h, dense, LayerNorm, decoder, act, eps, bias=None):   # (..., H) -> (..., V)
    """Masked-LM scores W_dec LayerNorm(act(W h + b)) + b_dec, with caches.

    h may be every token (B, T, H) or only gathered positions (B, P, H) (see
    gather_positions_forward): the head is per row, so gathering first computes
    the big (E -> V) product only where the loss needs it. The decoder weight is
    the word-embedding table (tied), so decoder gradients land in the word
    embeddings' gradient (zeros_like_params ties them). act: hidden_act name.
    Returns (logits (..., V), cache).  Matches: model.mlm_head.
    """
    act_forward, _ = activation_pair(act)
    x, dense_cache = linear_forward(h, **dense)            # (..., H) -> (..., E)
    x, act_cache = act_forward(x)
    x, ln_cache = layer_norm_forward(x, LayerNorm["weight"], LayerNorm["bias"], eps)
    logits, dec_cache = linear_forward(x, decoder["weight"], decoder["bias"])   # (..., E) -> (..., V)
    return logits, (act, dense_cache, act_cache, ln_cache, dec_cache)


def mlm_head_backward(dout, cache, grads):         # (..., V) -> (..., H)
    """grads: the "predictions" gradient dict (dense, LayerNorm, decoder -> tied arrays)."""
    act, dense_cache, act_cache, ln_cache, dec_cache = cache
    _, act_backward = activation_pair(act)
    dx = linear_backward(dout, dec_cache, grads["decoder"])            # (..., V) -> (..., E)
    dx = layer_norm_backward(dx, ln_cache, grads["LayerNorm"])
    dx = act_backward(dx, act_cache)
    return linear_backward(dx, dense_cache, grads["dense"])            # (..., E) -> (..., H)


def classifier_forward(x, classifier, dropout_p=0.0, rng=None, training=False):   # (..., H) -> (..., K)
    """logits = W dropout(x) + b: the SOP, sequence, token and multiple-choice heads.

    x: the pooled (B, H) vector or every token (B, T, H); classifier: {"weight": (K, H), "bias": (K,)}.
    Matches: model.sop_head / sequence_classification_head / token_classification_head
    (+ the classifier dropout of transformers' AlbertFor*).
    """
    x, mask = dropout_forward(x, dropout_p, rng, training)
    logits, lin_cache = linear_forward(x, **classifier)
    return logits, (mask, lin_cache)


def classifier_backward(dout, cache, grads):       # (..., K) -> (..., H)
    mask, lin_cache = cache
    return dropout_backward(linear_backward(dout, lin_cache, grads), mask)


def question_answering_head_forward(h, qa_outputs):   # (B, T, H) -> (B, T), (B, T)
    """Start and end scores, one per token.  Matches: model.question_answering_head."""
    logits, lin_cache = linear_forward(h, **qa_outputs)                # (B, T, 2)
    start = np.ascontiguousarray(logits[..., 0])
    end = np.ascontiguousarray(logits[..., 1])
    return (start, end), lin_cache


def question_answering_head_backward(d_start, d_end, cache, grads):   # (B, T), (B, T) -> (B, T, H)
    dlogits = np.stack([d_start, d_end], axis=-1)                     # (B, T, 2)
    return linear_backward(dlogits, cache, grads)


# ========================================================================= the model
def _classifier_dropout(config):
    """classifier_dropout_prob, or hidden_dropout_prob when it is None (as token classification)."""
    p = config.classifier_dropout_prob
    return config.hidden_dropout_prob if p is None else p


_INPUT_KEYS = ("input_ids", "attention_mask", "token_type_ids", "position_ids", "inputs_embeds",
               "head_mask")


def _prepare_inputs(config, head, inputs):
    """Validate an input dict; flatten multiple-choice (B, C, T) inputs to (B*C, T)."""
    if not isinstance(inputs, dict):
        raise TypeError(f"inputs must be a dict with keys among {_INPUT_KEYS}, got {type(inputs).__name__}")
    unknown = sorted(set(inputs) - set(_INPUT_KEYS))
    if unknown:
        raise ValueError(f"inputs has unknown keys {unknown}; expected some of {list(_INPUT_KEYS)} "
                         f"(labels go in the labels dict)")
    args = {k: inputs.get(k) for k in _INPUT_KEYS}
    C = None
    if head == "multiple_choice":
        ids, emb = args["input_ids"], args["inputs_embeds"]
        ref = np.asarray(ids if ids is not None else emb) if (ids is None) != (emb is None) else None
        if ref is None:
            raise ValueError("pass exactly one of input_ids or inputs_embeds")
        want = 3 if ids is not None else 4
        if ref.ndim != want:
            raise ValueError(f"multiple choice inputs must be (batch, choices, tokens"
                             f"{', embedding_size' if want == 4 else ''}), got shape {ref.shape}")
        B, C = ref.shape[:2]
        for k in ("input_ids", "attention_mask", "token_type_ids", "inputs_embeds"):
            if args[k] is not None:
                a = np.asarray(args[k])
                if a.shape[:2] != (B, C):
                    raise ValueError(f"{k} has shape {a.shape}; expected ({B}, {C}, ...) like the inputs")
                args[k] = a.reshape(B * C, *a.shape[2:])
        if args["position_ids"] is not None and np.ndim(args["position_ids"]) == 3:
            args["position_ids"] = np.asarray(args["position_ids"]).reshape(B * C, -1)
    checked = check_inputs(config, *(args[k] for k in _INPUT_KEYS))
    return dict(zip(_INPUT_KEYS, checked)), C


def model_forward(params, config, head, inputs, rng=None, training=False, mlm_positions=None):
    """Encoder + head forward with caches.  Returns (outputs, cache).

    params: model.params of the class for `head` (the bare encoder dict for head=None);
    inputs: dict of input_ids / attention_mask / token_type_ids / position_ids /
    inputs_embeds / head_mask ((B, C, T) for multiple_choice), validated as the
    model classes do. mlm_positions: (B, P) ints, for "mlm" / "pretraining":
    run the MLM head only at these positions.
    outputs, by head: sequence / token / multiple_choice / mlm: "logits";
    qa: "start_logits", "end_logits"; pretraining: "prediction_logits", "sop_logits";
    None: "last_hidden_state", "pooler_output". With mlm_positions the MLM
    logits are (B, P, V) instead of (B, T, V).
    """
    if head not in HEADS:
        raise ValueError(f"head must be one of {HEADS}, got {head!r}")
    args, C = _prepare_inputs(config, head, inputs)
    return _forward(params, config, head, args, C, rng, training, mlm_positions)


def _forward(params, config, head, args, C, rng, training, mlm_positions):
    enc_params = params if head is None else params["albert"]
    enc, enc_cache = albert_model_forward(enc_params, config, **args, rng=rng, training=training)
    h, pooled = enc["last_hidden_state"], enc["pooler_output"]
    p_cls = _classifier_dropout(config)
    if head is None:
        return dict(enc), (head, enc_cache, None)
    if head in ("mlm", "pretraining"):
        gather_cache = None
        x = h
        if mlm_positions is not None:
            x, gather_cache = gather_positions_forward(h, mlm_positions)       # (B, P, H)
        logits, mlm_cache = mlm_head_forward(x, **params["predictions"], act=config.hidden_act,
                                             eps=config.layer_norm_eps)        # (B, T or P, V)
        if head == "mlm":
            return {"logits": logits}, (head, enc_cache, (gather_cache, mlm_cache))
        sop, sop_cache = classifier_forward(pooled, params["sop_classifier"]["classifier"], p_cls,
                                            rng, training)                     # (B, 2)
        return ({"prediction_logits": logits, "sop_logits": sop},
                (head, enc_cache, (gather_cache, mlm_cache, sop_cache)))
    if head == "sequence":
        logits, cache = classifier_forward(pooled, params["classifier"], p_cls, rng, training)
        return {"logits": logits}, (head, enc_cache, cache)           # (B, num_labels)
    if head == "token":
        logits, cache = classifier_forward(h, params["classifier"], p_cls, rng, training)
        return {"logits": logits}, (head, enc_cache, cache)           # (B, T, num_labels)
    if head == "qa":
        (start, end), cache = question_answering_head_forward(h, params["qa_outputs"])
        return {"start_logits": start, "end_logits": end}, (head, enc_cache, cache)
    # multiple_choice: one score per (question, choice) row, then (B*C, 1) -> (B, C)
    logits, cache = classifier_forward(pooled, params["classifier"], p_cls, rng, training)
    return {"logits": logits.reshape(-1, C)}, (head, enc_cache, cache)


def model_backward(d_outputs, cache, grads):
    """Backward of model_forward: d_outputs has the outputs' keys (missing ones count as 0).

    grads: zeros_like_params(params) (nested, tied), accumulated into.
    Returns d_inputs_embeds ((B, T, E), or (B, C, T, E) for multiple choice) when
    the forward ran on inputs_embeds, else None.
    """
    head, enc_cache, head_cache = cache
    enc_grads = grads if head is None else grads["albert"]
    dh = dpool = None
    if head is None:
        dh, dpool = d_outputs.get("last_hidden_state"), d_outputs.get("pooler_output")
    elif head in ("mlm", "pretraining"):
        key = "logits" if head == "mlm" else "prediction_logits"
        gather_cache, mlm_cache = head_cache[:2]
        if d_outputs.get(key) is not None:
            dh = mlm_head_backward(d_outputs[key], mlm_cache, grads["predictions"])
            if gather_cache is not None:
                dh = gather_positions_backward(dh, gather_cache)               # (B, P, H) -> (B, T, H)
        if head == "pretraining" and d_outputs.get("sop_logits") is not None:
            dpool = classifier_backward(d_outputs["sop_logits"], head_cache[2],
                                        grads["sop_classifier"]["classifier"])
    elif head == "sequence":
        dpool = classifier_backward(d_outputs["logits"], head_cache, grads["classifier"])
    elif head == "token":
        dh = classifier_backward(d_outputs["logits"], head_cache, grads["classifier"])
    elif head == "qa":
        dh = question_answering_head_backward(d_outputs["start_logits"], d_outputs["end_logits"],
                                              head_cache, grads["qa_outputs"])
    else:                                                  # multiple_choice: (B, C) -> (B*C, 1)
        d = d_outputs["logits"].reshape(-1, 1)
        dpool = classifier_backward(d, head_cache, grads["classifier"])
    if dh is None and dpool is None:
        raise ValueError(f"no upstream gradient given for the outputs of head {head!r}")
    d_emb = albert_model_backward(dh, dpool, enc_cache, enc_grads)
    if d_emb is not None and head == "multiple_choice":
        C = d_outputs["logits"].shape[1]
        d_emb = d_emb.reshape(-1, C, *d_emb.shape[1:])
    return d_emb


# ============================================================================ labels
_LABEL_KEYS = {
    "sequence": ("labels",), "token": ("labels",), "multiple_choice": ("labels",),
    "qa": ("start_positions", "end_positions"),
    "mlm": ("labels", "mlm_positions", "mlm_ids", "mlm_weights"),
    "pretraining": ("labels", "sentence_order_label", "mlm_positions", "mlm_ids", "mlm_weights"),
    None: ("d_last_hidden_state", "d_pooler_output"),
}


def _int_labels(name, value, shape):
    a = np.asarray(value)
    if not np.issubdtype(a.dtype, np.integer):
        raise TypeError(f"{name} must hold integers (class indices), got dtype {a.dtype}")
    if a.shape != tuple(shape):
        raise ValueError(f"{name} has shape {a.shape}; expected {tuple(shape)}")
    return a


def _float_labels(name, value, shapes, dtype):
    a = np.asarray(value)
    if not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)
            or a.dtype == np.bool_):
        raise TypeError(f"{name} must be numbers, got dtype {a.dtype}")
    if a.shape not in [tuple(s) for s in shapes]:
        raise ValueError(f"{name} has shape {a.shape}; expected "
                         + " or ".join(str(tuple(s)) for s in shapes))
    return a.astype(dtype, copy=False)


def _check_labels(config, head, labels, B, T, dtype):
    """Validate the labels dict of loss_and_grads; returns a normalised copy."""
    if not isinstance(labels, dict):
        raise TypeError(f"labels must be a dict with keys among {_LABEL_KEYS[head]}, "
                        f"got {type(labels).__name__}")
    allowed = _LABEL_KEYS[head]
    unknown = sorted(set(labels) - set(allowed))
    if unknown:
        raise ValueError(f"labels for head {head!r} take keys {list(allowed)}; got unknown {unknown}")
    lab = {k: v for k, v in labels.items() if v is not None}
    out = {}
    n = config.num_labels
    if head == "sequence":
        if "labels" not in lab:
            raise ValueError("head 'sequence' needs labels={'labels': ...}")
        y = np.asarray(lab["labels"])
        ptype = config.problem_type
        if ptype is None:
            ptype = ("regression" if n == 1 else "single_label_classification"
                     if np.issubdtype(y.dtype, np.integer) else "multi_label_classification")
        if ptype == "single_label_classification":
            out["labels"] = _int_labels("labels", y, (B,))
        elif ptype == "multi_label_classification":
            out["labels"] = _float_labels("labels", y, [(B, n)], dtype)
        else:
            out["labels"] = _float_labels("labels", y, [(B,), (B, 1)] if n == 1 else [(B, n)], dtype)
        out["problem_type"] = ptype
    elif head == "token":
        if "labels" not in lab:
            raise ValueError("head 'token' needs labels={'labels': (B, T) ints, -100 = ignored}")
        out["labels"] = _int_labels("labels", lab["labels"], (B, T))
    elif head == "multiple_choice":
        if "labels" not in lab:
            raise ValueError("head 'multiple_choice' needs labels={'labels': (B,) ints in [0, C)}")
        out["labels"] = _int_labels("labels", lab["labels"], (B,))
    elif head == "qa":
        for k in ("start_positions", "end_positions"):
            if k not in lab:
                raise ValueError("head 'qa' needs labels={'start_positions': (B,), 'end_positions': (B,)}")
            a = np.asarray(lab[k])
            out[k] = _int_labels(k, a.reshape(B) if a.shape == (B, 1) else a, (B,))
    elif head in ("mlm", "pretraining"):
        gathered = [k for k in ("mlm_positions", "mlm_ids", "mlm_weights") if k in lab]
        if gathered:
            if "labels" in lab:
                raise ValueError("give either labels (B, T) or mlm_positions + mlm_ids, not both")
            if "mlm_positions" not in lab or "mlm_ids" not in lab:
                raise ValueError("the gathered MLM loss needs both mlm_positions and mlm_ids (B, P)")
            pos = np.asarray(lab["mlm_positions"])
            if pos.ndim != 2 or pos.shape[0] != B:
                raise ValueError(f"mlm_positions has shape {pos.shape}; expected ({B}, P)")
            P = pos.shape[1]
            pos = _int_labels("mlm_positions", pos, (B, P))
            if pos.size and (pos.min() < 0 or pos.max() >= T):
                raise ValueError(f"mlm_positions must lie in [0, {T}), got min {pos.min()} max {pos.max()}")
            ids = _int_labels("mlm_ids", lab["mlm_ids"], (B, P))
            if "mlm_weights" in lab:
                w = _float_labels("mlm_weights", lab["mlm_weights"], [(B, P)], dtype)
                if not np.all((w == 0) | (w == 1)):
                    raise ValueError("mlm_weights must be 0 (padding slot) or 1 (a real prediction)")
                ids = np.where(w == 1, ids, -100)
            out["mlm_positions"], out["mlm_labels"] = pos, ids
        elif "labels" in lab:
            out["mlm_labels"] = _int_labels("labels", lab["labels"], (B, T))
        if head == "pretraining" and "sentence_order_label" in lab:
            out["sentence_order_label"] = _int_labels("sentence_order_label",
                                                      lab["sentence_order_label"], (B,))
        if not out:
            raise ValueError(f"head {head!r} needs labels: 'labels' (B, T) or mlm_positions + mlm_ids"
                             + (", and/or 'sentence_order_label' (B,)" if head == "pretraining" else ""))
    else:                                                  # head None: upstream gradients
        H = config.hidden_size
        if not lab:
            raise ValueError("head None needs labels={'d_last_hidden_state': (B, T, H)} "
                             "and/or {'d_pooler_output': (B, H)}: the upstream gradients")
        if "d_last_hidden_state" in lab:
            out["d_last_hidden_state"] = _float_labels("d_last_hidden_state", lab["d_last_hidden_state"],
                                                       [(B, T, H)], dtype)
        if "d_pooler_output" in lab:
            out["d_pooler_output"] = _float_labels("d_pooler_output", lab["d_pooler_output"],
                                                   [(B, H)], dtype)
    return out


def _loss(config, head, outputs, lab):
    """(loss, d_outputs) for a head's outputs and checked labels (HF's loss conventions)."""
    if head is None:                                       # a vector-Jacobian product in disguise
        loss = 0.0
        d = {}
        for key in ("last_hidden_state", "pooler_output"):
            g = lab.get("d_" + key)
            if g is not None:
                if outputs[key] is None:
                    raise ValueError(f"d_{key} given but the model has no {key}")
                loss += float(np.sum(g * outputs[key]))
                d[key] = g
        return loss, d
    if head == "sequence":
        logits = outputs["logits"]
        one = np.ones((), logits.dtype)
        loss, cache, _ = losses.sequence_classification_loss(logits, lab["labels"], config.num_labels,
                                                             lab["problem_type"])
        return float(loss), {"logits": losses.sequence_classification_loss_backward(one, cache)}
    if head in ("token", "multiple_choice"):
        logits = outputs["logits"]
        one = np.ones((), logits.dtype)
        loss, cache = losses.cross_entropy(logits, lab["labels"])
        return float(loss), {"logits": losses.cross_entropy_backward(one, cache)}
    if head == "qa":
        start, end = outputs["start_logits"], outputs["end_logits"]
        one = np.ones((), start.dtype)
        loss, cache = losses.question_answering_loss(start, end, lab["start_positions"], lab["end_positions"])
        ds, de = losses.question_answering_loss_backward(one, cache)
        return float(loss), {"start_logits": ds, "end_logits": de}
    # mlm / pretraining: sum of the terms whose labels are given (HF: MLM CE + SOP CE)
    key = "logits" if head == "mlm" else "prediction_logits"
    total, d = 0.0, {}
    if "mlm_labels" in lab:
        logits = outputs[key]
        one = np.ones((), logits.dtype)
        loss, cache = losses.cross_entropy(logits, lab["mlm_labels"])
        total += float(loss)
        d[key] = losses.cross_entropy_backward(one, cache)
    if "sentence_order_label" in lab:
        sop = outputs["sop_logits"]
        one = np.ones((), sop.dtype)
        loss, cache = losses.cross_entropy(sop, lab["sentence_order_label"])
        total += float(loss)
        d["sop_logits"] = losses.cross_entropy_backward(one, cache)
    return total, d


def loss_and_grads(params, config, head, inputs, labels, rng=None, training=False):
    """Forward, loss and backward in one call: the entry point of training loops.

    params: model.params of the class for `head` (nested dict; the MLM decoder
        tied to the word embeddings as the classes build it); not modified.
    config: AlbertConfig. head: "sequence", "token", "qa", "multiple_choice",
        "mlm", "pretraining", or None (the bare AlbertModel).
    inputs: {"input_ids": (B, T), "attention_mask", "token_type_ids",
        "position_ids", "inputs_embeds": (B, T, E), "head_mask"}; (B, C, T) for
        multiple_choice.
    labels, by head (HF's names and loss conventions):
        sequence         {"labels"}: (B,) ints, (B,) / (B, 1) floats (regression),
                         (B, num_labels) floats (multi-label); config.problem_type or HF's rule
        token            {"labels": (B, T) ints, -100 ignored}
        multiple_choice  {"labels": (B,) ints in [0, C)}
        qa               {"start_positions": (B,), "end_positions": (B,)}
        mlm              {"labels": (B, T) ints, -100 ignored}, or the gathered form
                         {"mlm_positions": (B, P), "mlm_ids": (B, P), "mlm_weights": (B, P) 0/1}
                         which runs the MLM head only at those positions; the loss is
                         the mean over predictions with weight 1 (= the full-sequence loss
                         with labels -100 elsewhere)
        pretraining      as mlm, plus {"sentence_order_label": (B,)}; loss = MLM + SOP
                         (each term only when its labels are given)
        None             {"d_last_hidden_state": (B, T, H), "d_pooler_output": (B, H)}:
                         upstream gradients; loss = sum(d * output), so grads is the
                         vector-Jacobian product (a custom head's backward plugs in here)
    rng: numpy Generator for dropout; training: apply dropout (needs rng when any p > 0).
    Returns (loss: float, outputs: dict of logits as the model classes name them,
        grads: {HF name: array}) with one gradient per distinct parameter,
        named as named_parameters(params) (no predictions.decoder.* keys: the
        tied decoder's gradient is summed into the word embeddings' and
        predictions.bias's), each of its parameter's shape and dtype.
    Raises ValueError / TypeError for inputs or labels of the wrong shape or dtype.
    """
    if head not in HEADS:
        raise ValueError(f"head must be one of {HEADS}, got {head!r}")
    args, C = _prepare_inputs(config, head, inputs)
    enc = params if head is None else params["albert"]
    dtype = enc["embeddings"]["word_embeddings"]["weight"].dtype
    ref = args["input_ids"] if args["input_ids"] is not None else args["inputs_embeds"]
    B, T = ref.shape[:2]
    if C is not None:
        B //= C
    lab = _check_labels(config, head, labels, B, T, dtype)
    outputs, cache = _forward(params, config, head, args, C, rng, training, lab.get("mlm_positions"))
    loss, d_outputs = _loss(config, head, outputs, lab)
    grads = zeros_like_params(params)
    model_backward(d_outputs, cache, grads)
    flat = flatten(grads)
    return loss, outputs, {name: flat[name] for name in named_parameters(params)}
