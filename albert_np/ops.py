"""The maths ALBERT is built from, as plain NumPy functions.

Dimension legend, the package's one (every shape comment of albert_np uses it):
    B batch, T tokens, C choices, E embedding_size, H hidden_size, A heads,
    D = H / A head size, F intermediate_size, V vocab, L layer applications,
    G groups, N rows (tokens of a batch flattened, or packed without padding),
    P gathered positions per sequence (the masked tokens of pretraining),
    K labels of a classifier.

Everything runs in the dtype of its inputs: float32 for inference and training,
float64 only when a gradient check asks for it. Constants are cast to the input
dtype so that NumPy never silently upcasts a float32 array to float64.

Training reuses these very functions. Each takes `cache=None`; a training
forward passes a dict instead, and the function stores in it what its backward
needs (backprop.py has `<name>_backward(dout, cache, ...)` for each, in this
order). Inference passes nothing, keeps nothing, and computes in place where it
can. `child(cache, key)` gives a block the sub-dict for one of its parts.
"""
import math

import numpy as np


def child(cache, key):
    """A fresh sub-cache cache[key] for one part of a block, or None at inference."""
    if cache is None:
        return None
    cache[key] = {}
    return cache[key]


def linear(x, weight, bias=None, cache=None):      # (..., in) -> (..., out)
    """Affine map with PyTorch's weight layout.

    y = x @ weight.T + bias,   weight: (out, in), bias: (out,)
    Keeps: the input rows x (N, in) and the weight.
    Matches: torch.nn.Linear.
    """
    # One 2-D GEMM over all rows: NumPy would otherwise loop over the leading
    # axes calling BLAS on many small matrices (about 25 % slower for (8, 128, H)).
    x2 = x.reshape(-1, x.shape[-1])                # (..., in) -> (N, in)
    y = x2 @ weight.T                              # (N, out)
    if bias is not None:
        y += bias
    if cache is not None:
        cache.update(x=x2, weight=weight, has_bias=bias is not None)
    return y.reshape(*x.shape[:-1], weight.shape[0])


def row_mean(x):                                   # (..., n) -> (..., 1)
    """The mean of the last axis, as a matrix-vector product with a vector of 1/n.

    The same number as x.mean(-1, keepdims=True) up to float32 rounding, but BLAS
    sums short rows about five times faster than NumPy's reduction over a last axis
    of 128 or 768 (0.15 vs 0.79 ms for the (8, 12, 128, 128) attention scores).
    """
    n = x.shape[-1]
    return (x @ np.full(n, 1.0 / n, dtype=x.dtype))[..., None]


def layer_norm(x, weight, bias, eps, out=None, cache=None):   # (..., H) -> (..., H)
    """Normalise the last axis to zero mean and unit variance, then scale and shift.

    y = xhat * weight + bias,  xhat = (x - mean) / sqrt(var + eps)   (biased variance, as torch)
    out: where to write y; out=x (the model's residual sums, which nothing else
    keeps) overwrites x and saves a copy. Otherwise a new array.
    Keeps: xhat, 1 / sqrt(var + eps) and the weight.
    Matches: torch.nn.LayerNorm.
    """
    H = x.shape[-1]
    xhat = np.subtract(x, row_mean(x), out=out)    # (..., H)
    var = np.einsum("...h,...h->...", xhat, xhat)[..., None]   # (..., 1): row-wise xhat . xhat
    var *= x.dtype.type(1.0 / H)
    rstd = 1.0 / np.sqrt(var + x.dtype.type(eps))  # (..., 1)
    xhat *= rstd
    if cache is None:
        y = xhat                                   # nothing to keep: scale in place
        y *= weight
    else:
        cache.update(xhat=xhat, rstd=rstd, weight=weight)
        y = xhat * weight
    y += bias
    return y


# ---------------------------------------------------------------- activations
def erf(x):
    """The error function, elementwise; NumPy has none.

    float32 (and other non-float64) inputs: |x| < 0.5 uses the Taylor series
    2/sqrt(pi) * sum_n (-1)^n x^(2n+1) / (n! (2n+1)) up to n = 7; elsewhere
    erf = 1 - erfc with the Chebyshev-fitted erfc of Numerical Recipes
    (fractional error < 1.2e-7). Both are within a few float32 ulps of math.erf.
    float64 inputs (gradient checks) go through math.erf itself, exactly.
    """
    x = np.asarray(x)
    if x.dtype == np.float64:                      # float64 ok: exact reference path
        return np.frompyfunc(math.erf, 1, 1)(x).astype(np.float64)   # float64 ok
    dt = x.dtype.type
    z = np.abs(x)
    # Taylor part (small |x|).
    x2 = x * x
    # Horner form of  x * (1 - x2/3 + x2^2/10 - x2^3/42 + x2^4/216 - x2^5/1320 + x2^6/9360 - x2^7/75600)
    poly = dt(-1.0 / 75600.0)
    for c in (1.0 / 9360.0, -1.0 / 1320.0, 1.0 / 216.0, -1.0 / 42.0, 1.0 / 10.0, -1.0 / 3.0, 1.0):
        poly = poly * x2 + dt(c)
    small = dt(2.0 / math.sqrt(math.pi)) * x * poly
    # erfc part (larger |x|).
    t = dt(1.0) / (dt(1.0) + dt(0.5) * z)
    p = dt(0.17087277)
    for c in (-0.82215223, 1.48851587, -1.13520398, 0.27886807, -0.18628806,
              0.09678418, 0.37409196, 1.00002368, -1.26551223):
        p = p * t + dt(c)
    erfc = t * np.exp(-z * z + p)
    large = np.copysign(dt(1.0) - erfc, x)
    return np.where(z < dt(0.5), small, large)


def gelu(x, cache=None):
    """Exact GELU: x * Phi(x) = 0.5 * x * (1 + erf(x / sqrt(2))).  Keeps: x, the erf.

    Matches: torch gelu.
    """
    dt = x.dtype.type
    e = erf(x * dt(1.0 / math.sqrt(2.0)))
    if cache is not None:
        cache.update(x=x, erf=e)
    y = dt(0.5) * x
    y *= dt(1.0) + e
    return y


def _tanh_gelu(x, k, cache=None):
    """0.5 x (1 + tanh(k (x + 0.044715 x^3))).  Keeps: x, the tanh t, and k."""
    dt = x.dtype.type
    t = x * x                                      # x^2 (never x ** 3 on a big array)
    t *= dt(0.044715 * k)
    t += dt(k)
    t *= x                                         # k (x + 0.044715 x^3), one pass per step
    np.tanh(t, out=t)
    if cache is None:
        y = t                                      # nothing to keep: finish in place
        y += dt(1.0)
    else:
        cache.update(x=x, t=t, k=k)
        y = t + dt(1.0)
    y *= x
    y *= dt(0.5)
    return y


def gelu_new(x, cache=None):
    """GELU, tanh approximation (Google BERT / GPT-2; ALBERT v2's activation).

    0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3)))
    Matches: transformers NewGELUActivation, gelu_pytorch_tanh (same formula).
    """
    return _tanh_gelu(x, math.sqrt(2.0 / math.pi), cache)


def gelu_fast(x, cache=None):
    """0.5 * x * (1 + tanh(0.7978845608 * x * (1 + 0.044715 x^2))).  Matches: FastGELUActivation."""
    return _tanh_gelu(x, 0.7978845608, cache)


def quick_gelu(x, cache=None):
    """x * sigmoid(1.702 x).  Keeps: x and the sigmoid.  Matches: QuickGELUActivation."""
    s = sigmoid(x * x.dtype.type(1.702))
    if cache is not None:
        cache.update(x=x, s=s)
    return x * s


def relu(x, cache=None):
    """max(x, 0).  Keeps: the output.  Matches: torch.nn.ReLU."""
    y = np.maximum(x, x.dtype.type(0))
    if cache is not None:
        cache["y"] = y
    return y


def tanh(x, cache=None):
    """tanh(x).  Keeps: the output."""
    y = np.tanh(x)
    if cache is not None:
        cache["y"] = y
    return y


def sigmoid(x):
    """1 / (1 + exp(-x)), without overflow for large |x|."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


# hidden_act name (config.json) -> function; the names of transformers' ACT2FN.
ACTIVATIONS = {
    "gelu": gelu, "gelu_python": gelu, "gelu_accurate": gelu_new,
    "gelu_new": gelu_new, "gelu_pytorch_tanh": gelu_new,
    "gelu_fast": gelu_fast, "quick_gelu": quick_gelu, "relu": relu, "tanh": tanh,
}


def activation(name):
    """The function for a config's hidden_act, or a ValueError listing the choices."""
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(f"hidden_act {name!r} is not supported; choose one of "
                         f"{', '.join(sorted(ACTIVATIONS))}") from None


# ------------------------------------------------------------------- softmax
def softmax(x, axis=-1, out=None, cache=None):
    """exp(x - max) / sum(exp(x - max)) along `axis` (stable).  Keeps: the output.

    out: where to write the result; out=x (the attention scores, used once)
    overwrites x and saves a copy. Otherwise a new array.
    Matches: torch.softmax.
    """
    y = np.subtract(x, x.max(axis=axis, keepdims=True), out=out)
    np.exp(y, out=y)
    if axis in (-1, y.ndim - 1):
        y /= row_mean(y)                           # the mean, not the sum: the n cancels
        y *= y.dtype.type(1.0 / y.shape[-1])
    else:
        y /= y.sum(axis=axis, keepdims=True)
    if cache is not None:
        cache.update(y=y, axis=axis)
    return y


def log_softmax(x, axis=-1):
    """x - logsumexp(x) along `axis` (stable).  Matches: torch.nn.functional.log_softmax."""
    y = x - x.max(axis=axis, keepdims=True)
    y -= np.log(np.exp(y).sum(axis=axis, keepdims=True))
    return y


def dropout(x, p, rng, cache=None):
    """Inverted dropout: zero each element with probability p, scale the rest by 1/(1-p).

    Applied only when training, i.e. when a Generator `rng` is given (randomness
    is passed in, never global); with rng None or p == 0 it returns x itself.
    Keeps: the mask, which already holds the 1/(1-p) scale (y = x * mask), or None.
    Matches: torch.nn.Dropout (in distribution; the random draws differ).
    """
    mask = None
    if rng is not None and p:
        keep = rng.random(x.shape, dtype=np.float32) >= np.float32(p)
        mask = keep.astype(x.dtype) * x.dtype.type(1.0 / (1.0 - p))
    if cache is not None:
        cache["mask"] = mask
    return x if mask is None else x * mask


# ----------------------------------------------------------------- attention
def attention_bias(attention_mask, dtype):         # (B, T) -> (B, 1, 1, T)
    """Turn a 0/1 padding mask into the additive bias added to attention scores.

    bias = 0 where mask == 1 (attend), finfo(dtype).min where mask == 0 (ignore),
    exactly as transformers builds it for eager attention. A 4-D (B, 1, T, T)
    mask of 0/1 is accepted too. None stays None (attend everywhere).
    """
    if attention_mask is None:
        return None
    m = np.asarray(attention_mask)
    if m.ndim == 2:
        m = m[:, None, None, :]                    # (B, 1, 1, T)
    return (1 - m.astype(dtype)) * np.finfo(dtype).min


def split_heads(x, num_heads):                     # (B, T, H) -> (B, A, T, D)
    B, T, H = x.shape
    return x.reshape(B, T, num_heads, H // num_heads).transpose(0, 2, 1, 3)


def merge_heads(x):                                # (B, A, T, D) -> (B, T, H)
    B, A, T, D = x.shape
    return x.transpose(0, 2, 1, 3).reshape(B, T, A * D)


def scaled_dot_product_attention(q, k, v, bias=None, head_mask=None, dropout_p=0.0, rng=None,
                                 return_probs=False, cache=None):
    """dropout(softmax(q k^T / sqrt(D) + bias) * head_mask) v, per head.

    q, k, v: (B, A, T, D); bias: additive, broadcastable to (B, A, T, T)
    (see attention_bias); head_mask: (A,) or broadcastable to (B, A, T, T),
    multiplies the probabilities (1 keeps a head, 0 silences it); dropout_p:
    attention_probs_dropout_prob, applied when training (rng given).
    Returns (out (B, A, T, D), probs (B, A, T, T) when return_probs else None).
    Keeps: q, k, v, the probabilities before and after the head mask and dropout.
    Matches: transformers eager_attention_forward (+ 4.x head_mask).
    """
    D = q.shape[-1]
    scale = q.dtype.type(1.0 / math.sqrt(D))
    scores = (q * scale) @ k.transpose(0, 1, 3, 2)   # (B, A, T, T); scaling q costs T*D, not T*T
    if bias is not None:
        scores += bias
    probs = softmax(scores, axis=-1, out=scores)   # (B, A, T, T), in the scores' memory
    hm = None
    if head_mask is not None:
        hm = np.asarray(head_mask, dtype=probs.dtype)
        if hm.ndim == 1:
            hm = hm[None, :, None, None]           # (1, A, 1, 1)
    mixed = probs
    if hm is not None:
        mixed = probs * hm if cache is not None else np.multiply(probs, hm, out=probs)
    drop = child(cache, "dropout")
    mixed = dropout(mixed, dropout_p, rng, cache=drop)
    out = mixed @ v                                # (B, A, T, D)
    if cache is not None:
        cache.update(q=q, k=k, v=v, probs=probs, head_mask=hm, mixed=mixed, scale=scale)
    return out, (mixed if return_probs else None)


def packed_attention(q, k, v, groups, num_heads):   # (N, H) x 3 -> (N, H)
    """Self-attention of sequences packed one after another, without padding.

    q, k, v: (N, H), the N real tokens of a batch, sequence after sequence.
    groups: [idx (b, t), ...]: each a set of b sequences of the same length t,
    idx their tokens' rows in q (model.packed_tokens). Each group is one
    (b, A, t, t) attention with nothing masked, the same numbers as the padded
    batch gives for its real tokens. Inference only (no cache, no dropout).
    """
    ctx = np.empty_like(q)                           # (N, H)
    for idx in groups:
        heads = [split_heads(z[idx], num_heads) for z in (q, k, v)]   # (b, t, H) -> (b, A, t, D)
        out, _ = scaled_dot_product_attention(*heads)
        ctx[idx] = merge_heads(out)                  # (b, A, t, D) -> (b, t, H)
    return ctx


# ------------------------------------------------------- the lookup's adjoint
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
