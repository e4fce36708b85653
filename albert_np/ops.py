"""The maths ALBERT is built from, as plain NumPy functions (forward only).

Dimension legend (used in every shape comment of this package):
    B batch, T tokens, C choices, E embedding_size, H hidden_size, A heads,
    D = H / A head size, F intermediate_size, V vocab, L layer applications, G groups.

Everything runs in the dtype of its inputs: float32 for inference and training,
float64 only when a gradient check asks for it. Constants are cast to the input
dtype so that NumPy never silently upcasts a float32 array to float64.
Backward passes live beside their forwards in backprop.py.
"""
import math

import numpy as np


def linear(x, weight, bias=None):                  # (..., in) -> (..., out)
    """Affine map with PyTorch's weight layout.

    y = x @ weight.T + bias,   weight: (out, in), bias: (out,)
    Matches: torch.nn.Linear.
    """
    # One 2-D GEMM over all rows: NumPy would otherwise loop over the leading
    # axes calling BLAS on many small matrices (about 25 % slower for (8, 128, H)).
    y = (x.reshape(-1, x.shape[-1]) @ weight.T).reshape(*x.shape[:-1], weight.shape[0])
    if bias is not None:
        y += bias
    return y


def layer_norm(x, weight, bias, eps):              # (..., H) -> (..., H)
    """Normalise the last axis to zero mean and unit variance, then scale and shift.

    y = (x - mean) / sqrt(var + eps) * weight + bias   (biased variance, as torch)
    Matches: torch.nn.LayerNorm.
    """
    mean = x.mean(-1, keepdims=True)               # (..., 1)
    xc = x - mean                                  # (..., H)
    var = np.mean(xc * xc, axis=-1, keepdims=True) # (..., 1)
    xc *= 1.0 / np.sqrt(var + x.dtype.type(eps))
    xc *= weight
    xc += bias
    return xc


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


def gelu(x):
    """Exact GELU: x * Phi(x) = 0.5 * x * (1 + erf(x / sqrt(2))).  Matches: torch gelu."""
    dt = x.dtype.type
    return dt(0.5) * x * (dt(1.0) + erf(x * dt(1.0 / math.sqrt(2.0))))


def gelu_new(x):
    """GELU, tanh approximation (Google BERT / GPT-2; ALBERT v2's activation).

    0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3)))
    Matches: transformers NewGELUActivation, gelu_pytorch_tanh (same formula).
    """
    dt = x.dtype.type
    inner = x * x                                  # x^2 (never x ** 3 on a big array)
    inner *= dt(0.044715)
    inner += dt(1.0)
    inner *= x                                     # x + 0.044715 x^3
    inner *= dt(math.sqrt(2.0 / math.pi))
    np.tanh(inner, out=inner)
    inner += dt(1.0)
    inner *= x
    inner *= dt(0.5)
    return inner


def gelu_fast(x):
    """0.5 * x * (1 + tanh(0.7978845608 * x * (1 + 0.044715 x^2))).  Matches: FastGELUActivation."""
    dt = x.dtype.type
    inner = x * x
    inner *= dt(0.044715)
    inner += dt(1.0)
    inner *= x
    inner *= dt(0.7978845608)
    np.tanh(inner, out=inner)
    inner += dt(1.0)
    inner *= x
    inner *= dt(0.5)
    return inner


def quick_gelu(x):
    """x * sigmoid(1.702 x).  Matches: QuickGELUActivation."""
    return x * sigmoid(x * x.dtype.type(1.702))


def relu(x):
    """max(x, 0).  Matches: torch.nn.ReLU."""
    return np.maximum(x, x.dtype.type(0))


def sigmoid(x):
    """1 / (1 + exp(-x)), without overflow for large |x|."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


def tanh(x):
    return np.tanh(x)


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
def softmax(x, axis=-1):
    """exp(x - max) / sum(exp(x - max)) along `axis` (stable).  Matches: torch.softmax."""
    y = x - x.max(axis=axis, keepdims=True)
    np.exp(y, out=y)
    y /= y.sum(axis=axis, keepdims=True)
    return y


def log_softmax(x, axis=-1):
    """x - logsumexp(x) along `axis` (stable)."""
    m = x.max(axis=axis, keepdims=True)
    y = x - m
    y -= np.log(np.exp(y).sum(axis=axis, keepdims=True))
    return y


def dropout(x, p, rng):
    """Inverted dropout: zero each element with probability p, scale the rest by 1/(1-p).

    Returns (y, mask) where mask (same shape, x.dtype) already holds the 1/(1-p)
    scale, so y = x * mask; backward is dy * mask. p == 0 returns (x, None).
    rng: a numpy Generator (randomness is passed in, never global).
    """
    if p == 0.0:
        return x, None
    keep = rng.random(x.shape, dtype=np.float32) >= np.float32(p)
    mask = keep.astype(x.dtype) * x.dtype.type(1.0 / (1.0 - p))
    return x * mask, mask


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


def scaled_dot_product_attention(q, k, v, bias=None, head_mask=None, return_probs=False):
    """softmax(q k^T / sqrt(D) + bias) v, per head.

    q, k, v: (B, A, T, D); bias: additive, broadcastable to (B, A, T, T)
    (see attention_bias); head_mask: (A,) or broadcastable to (B, A, T, T),
    multiplies the probabilities (1 keeps a head, 0 silences it).
    Returns out (B, A, T, D), and probs (B, A, T, T) when return_probs.
    Matches: transformers eager_attention_forward (+ 4.x head_mask).
    """
    D = q.shape[-1]
    scores = q @ k.transpose(0, 1, 3, 2)           # (B, A, T, T)
    scores *= q.dtype.type(1.0 / math.sqrt(D))
    if bias is not None:
        scores += bias
    probs = softmax(scores, axis=-1)               # (B, A, T, T)
    if head_mask is not None:
        hm = np.asarray(head_mask, dtype=probs.dtype)
        if hm.ndim == 1:
            hm = hm[None, :, None, None]           # (1, A, 1, 1)
        probs *= hm
    out = probs @ v                                # (B, A, T, D)
    return (out, probs) if return_probs else (out, None)
