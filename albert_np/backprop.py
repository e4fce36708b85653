"""The backward pass: one `<name>_backward` for each forward of ops.py and model.py,
in the same order, so that the files read side by side (llm.c's pairing).

    out = <name>(x, ..., cache=cache)           # ops.py / model.py: fills the dict `cache`
    dx  = <name>_backward(dout, cache, grads)   # here: reads it

`grads` is the gradient dict of the function's own parameters, shaped like them
({"weight": ..., "bias": ...} for a linear), and a backward *adds* into it
(`+=`), never assigns. Accumulation is what ALBERT needs: its encoder runs one
set of layer weights L times, and the gradient of a weight used in several
places is the sum of the gradients of each use (see albert_transformer_backward).
No backward modifies `dout` in place.

Nothing else is here: tests/test_backprop.py checks that every function of
ops.py and model.py taking `cache=` has its `<name>_backward`, in the same
order, and that every function here is one of them. The heads' losses are in
losses.py, the whole forward-loss-backward step of a training loop in step.py
(`loss_and_grads`), gradient containers in params.py.

Shapes: the legend at the top of ops.py. Everything runs in the dtype of the
parameters (float32; float64 for gradient checks).
"""
import math

import numpy as np

from . import ops
from .ops import merge_heads, scatter_add_rows, split_heads


# ============================================================================ linear
def linear_backward(dout, cache, grads):           # (..., out) -> (..., in)
    """dx = dout @ W;  grads["weight"] += dout^T x;  grads["bias"] += sum_rows dout."""
    x2, weight = cache["x"], cache["weight"]
    d2 = dout.reshape(-1, dout.shape[-1])                  # (N, out)
    grads["weight"] += d2.T @ x2                           # (out, N) @ (N, in) -> (out, in)
    if cache["has_bias"]:
        grads["bias"] += d2.sum(axis=0)                    # (out,)
    return (d2 @ weight).reshape(*dout.shape[:-1], weight.shape[1])   # (N, in) -> (..., in)


# ======================================================================== layer norm
def layer_norm_backward(dout, cache, grads):       # (..., H) -> (..., H)
    """The LayerNorm backward, with g = dout * weight:

        dx = rstd * (g - mean(g) - xhat * mean(g * xhat))   (means over the last axis)
        grads["weight"] += sum_rows dout * xhat;  grads["bias"] += sum_rows dout
    """
    xhat, rstd, weight = cache["xhat"], cache["rstd"], cache["weight"]
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
def gelu_backward(dout, cache):
    """dx = dout * (Phi(x) + x phi(x)),  phi(x) = exp(-x^2 / 2) / sqrt(2 pi), the normal pdf."""
    x, e = cache["x"], cache["erf"]
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


def _tanh_gelu_backward(dout, cache):
    """dx = dout * 0.5 (1 + t + (1 - t^2) k x (1 + 3 * 0.044715 x^2)),  t = tanh(...).

    k = sqrt(2/pi) for gelu_new, 0.7978845608 for gelu_fast (the cache holds it).
    """
    x, t, k = cache["x"], cache["t"], cache["k"]
    dt = x.dtype.type
    u = x * x
    u *= dt(3 * 0.044715 * k)
    u += dt(k)
    u *= x                                                 # k x (1 + 3c x^2)
    g = t * t
    g *= u
    np.subtract(u, g, out=g)                               # (1 - t^2) k x (1 + 3c x^2)
    g += t
    g += dt(1.0)
    g *= dout
    g *= dt(0.5)
    return g


def gelu_new_backward(dout, cache):
    """The tanh approximation's derivative, k = sqrt(2/pi) (see _tanh_gelu_backward)."""
    return _tanh_gelu_backward(dout, cache)


def gelu_fast_backward(dout, cache):
    """The tanh approximation's derivative, k = 0.7978845608 (see _tanh_gelu_backward)."""
    return _tanh_gelu_backward(dout, cache)


def quick_gelu_backward(dout, cache):
    """dx = dout * (s + 1.702 x s (1 - s)),  s = sigmoid(1.702 x)."""
    x, s = cache["x"], cache["s"]
    dt = x.dtype.type
    g = dt(1.0) - s
    g *= s
    g *= x
    g *= dt(1.702)
    g += s
    g *= dout
    return g


def relu_backward(dout, cache):
    """dx = dout where the output is > 0, else 0 (torch's threshold_backward)."""
    return dout * (cache["y"] > 0)


def tanh_backward(dout, cache):
    """dx = dout * (1 - tanh(x)^2)."""
    y = cache["y"]
    g = y * y
    np.subtract(y.dtype.type(1.0), g, out=g)
    g *= dout
    return g


# forward activation (ops.ACTIVATIONS) -> its backward: every hidden_act has one.
ACTIVATION_BACKWARDS = {
    ops.gelu: gelu_backward, ops.gelu_new: gelu_new_backward, ops.gelu_fast: gelu_fast_backward,
    ops.quick_gelu: quick_gelu_backward, ops.relu: relu_backward, ops.tanh: tanh_backward,
}


# =========================================================================== softmax
def softmax_backward(dout, cache):
    """dx = y * (dout - sum(dout * y))   (sum along the softmax axis)."""
    y, axis = cache["y"], cache["axis"]
    dx = dout * y
    s = dx.sum(axis=axis, keepdims=True)
    dx -= y * s
    return dx


def dropout_backward(dout, cache):
    """dx = dout * mask (the mask kept by the forward); dout itself when nothing was dropped."""
    mask = cache["mask"]
    return dout if mask is None else dout * mask


# ========================================================================= attention
def scaled_dot_product_attention_backward(dout, cache):   # (B, A, T, D) -> dq, dk, dv
    """Backward through probs @ v, dropout, head mask, softmax and the scaling.

    dv = P'^T dout;  dP' = dout v^T;  dP = dP' * dropmask * head_mask;
    dS = P * (dP - sum(dP * P)) / sqrt(D);  dq = dS k;  dk = dS^T q.
    (P = softmax probabilities, P' = what multiplied v.) The bias gets no gradient.
    """
    q, k, v, probs, mixed = cache["q"], cache["k"], cache["v"], cache["probs"], cache["mixed"]
    dv = mixed.transpose(0, 1, 3, 2) @ dout                # (B, A, T, T) @ (B, A, T, D)
    dp = dout @ v.transpose(0, 1, 3, 2)                    # (B, A, T, T)
    mask = cache["dropout"]["mask"]
    if mask is not None:
        dp *= mask
    if cache["head_mask"] is not None:
        dp *= cache["head_mask"]
    s = np.multiply(dp, probs).sum(axis=-1, keepdims=True)  # (B, A, T, 1); softmax_backward, in place
    dp -= s
    dp *= probs                                            # d scores (after the bias)
    dp *= cache["scale"]
    dq = dp @ k                                            # (B, A, T, D)
    dk = dp.transpose(0, 1, 3, 2) @ q                      # (B, A, T, D)
    return dq, dk, dv


# ======================================================================== embeddings
def embeddings_backward(dout, cache, grads, padding_idx=None):   # (B, T, E) -> d_inputs_embeds or None
    """Scatter the gradient of the sum back into the three tables.

    `grads["word_embeddings"]["weight"][id] += sum of d over the tokens with that id`
    (not for padding_idx, as torch.nn.Embedding(padding_idx=...)), likewise the
    position and token-type tables. With inputs_embeds the word table is not
    used and the gradient of inputs_embeds (B, T, E) is returned instead.
    """
    d = dropout_backward(dout, cache["dropout"])
    d = layer_norm_backward(d, cache["LayerNorm"], grads["LayerNorm"])   # (B, T, E)
    full = d.shape[:2]
    scatter_add_rows(grads["token_type_embeddings"]["weight"], np.broadcast_to(cache["token_type_ids"], full), d)
    scatter_add_rows(grads["position_embeddings"]["weight"], np.broadcast_to(cache["position_ids"], full), d)
    if cache["input_ids"] is None:
        return d
    scatter_add_rows(grads["word_embeddings"]["weight"], cache["input_ids"], d, skip=padding_idx)
    return None


def embedding_hidden_mapping_in_backward(dout, cache, grads):   # (B, T, H) -> (B, T, E)
    """The E -> H map is one linear: its backward (grads: embedding_hidden_mapping_in's)."""
    return linear_backward(dout, cache, grads)


# ========================================================================= the layer
def albert_attention_backward(dout, cache, grads):  # (B, T, H) -> (B, T, H)
    """grads: the layer's "attention" gradients (query, key, value, dense, LayerNorm)."""
    A = cache["num_heads"]
    dy = layer_norm_backward(dout, cache["LayerNorm"], grads["LayerNorm"])   # (B, T, H)
    dctx = linear_backward(dropout_backward(dy, cache["dropout"]), cache["dense"], grads["dense"])
    dq, dk, dv = scaled_dot_product_attention_backward(split_heads(dctx, A), cache["scaled_dot_product_attention"])
    dqkv = np.concatenate([merge_heads(dq), merge_heads(dk), merge_heads(dv)], axis=-1)   # (B, T, 3H)
    H = dq.shape[1] * dq.shape[3]
    stacked = {"weight": np.zeros((3 * H, H), dtype=dqkv.dtype), "bias": np.zeros(3 * H, dtype=dqkv.dtype)}
    dx = linear_backward(dqkv, cache["query_key_value"], stacked)   # the stacked W_q, W_k, W_v (model.stack_qkv)
    for i, name in enumerate(("query", "key", "value")):
        grads[name]["weight"] += stacked["weight"][i * H:(i + 1) * H]
        grads[name]["bias"] += stacked["bias"][i * H:(i + 1) * H]
    dx += dy                                                           # the residual
    return dx


def feed_forward_backward(dout, cache, grads):      # (..., H) -> (..., F) -> (..., H)
    """grads: the layer's gradient dict (its "ffn" and "ffn_output" entries are added into)."""
    dh = linear_backward(dout, cache["ffn_output"], grads["ffn_output"])    # (..., H) -> (..., F)
    dh = ACTIVATION_BACKWARDS[cache["act"]](dh, cache["activation"])
    return linear_backward(dh, cache["ffn"], grads["ffn"])                  # (..., F) -> (..., H)


def albert_layer_backward(dout, cache, grads):     # (B, T, H) -> (B, T, H)
    """grads: the gradient dict of this layer (attention, ffn, ffn_output, full_layer_layer_norm)."""
    dy = layer_norm_backward(dout, cache["full_layer_layer_norm"], grads["full_layer_layer_norm"])
    da = feed_forward_backward(dy, cache["feed_forward"], grads)
    da += dy                                                           # the residual
    return albert_attention_backward(da, cache["attention"], grads["attention"])


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
    d = dout
    for g, j, layer_cache in reversed(cache["runs"]):
        d = albert_layer_backward(d, layer_cache, grads["albert_layer_groups"][g]["albert_layers"][j])
    return embedding_hidden_mapping_in_backward(d, cache["embedding_hidden_mapping_in"],
                                                grads["embedding_hidden_mapping_in"])


def pooler_backward(dout, cache, grads):           # (B, H) -> (B, T, H)
    """Only the first token ([CLS]) gets a gradient; the others get zeros."""
    dh = np.zeros(cache["shape"], dtype=dout.dtype)
    dh[:, 0] = linear_backward(tanh_backward(dout, cache["tanh"]), cache["linear"], grads)
    return dh


def albert_model_backward(d_last_hidden_state, d_pooler_output, cache, grads):
    """Backward of model.albert_model; either upstream gradient may be None.

    d_last_hidden_state: (B, T, H); d_pooler_output: (B, H); grads: the
    "albert" gradient dict. Returns d_inputs_embeds (B, T, E) when the forward
    ran on inputs_embeds, else None.
    """
    d = d_last_hidden_state
    if d_pooler_output is not None:
        dp = pooler_backward(d_pooler_output, cache["pooler"], grads["pooler"])   # (B, T, H)
        if d is not None:
            dp += d                                        # dp is ours; the upstream d is not touched
        d = dp
    if d is None:
        raise ValueError("albert_model_backward needs d_last_hidden_state or d_pooler_output")
    dx = albert_transformer_backward(d, cache["encoder"], grads["encoder"])     # (B, T, E)
    return embeddings_backward(dx, cache["embeddings"], grads["embeddings"], cache["padding_idx"])


# ============================================================================= heads
def gather_positions_backward(dout, cache):        # (B, P, H) -> (B, T, H)
    """Scatter-add the rows back (a position listed twice gets both gradients)."""
    B, T, H = cache["shape"]
    dh = np.zeros((B, T, H), dtype=dout.dtype)
    flat = (np.arange(B)[:, None] * T + cache["positions"]).reshape(-1)   # (B * P,)
    scatter_add_rows(dh.reshape(B * T, H), flat, dout)
    return dh


def mlm_head_backward(dout, cache, grads):         # (..., V) -> (..., H)
    """grads: the "predictions" gradient dict; its decoder entries are the word
    embeddings' and predictions.bias's gradients themselves (tied, see params.zeros_like_params)."""
    dx = linear_backward(dout, cache["decoder"], grads["decoder"])     # (..., V) -> (..., E)
    dx = layer_norm_backward(dx, cache["LayerNorm"], grads["LayerNorm"])
    dx = ACTIVATION_BACKWARDS[cache["act"]](dx, cache["activation"])
    return linear_backward(dx, cache["dense"], grads["dense"])         # (..., E) -> (..., H)


def classifier_head_backward(dout, cache, grads):  # (..., K) -> (..., H)
    return dropout_backward(linear_backward(dout, cache["linear"], grads), cache["dropout"])


def question_answering_head_backward(d_start, d_end, cache, grads):   # (B, T), (B, T) -> (B, T, H)
    return linear_backward(np.stack([d_start, d_end], axis=-1), cache, grads)   # (B, T, 2)
