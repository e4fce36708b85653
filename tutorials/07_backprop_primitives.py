# %% [markdown]
# # Chapter 7: Backpropagation through the primitives
#
# Training needs, for every parameter, the derivative of the loss with respect
# to it. Backpropagation computes all of them in one backward sweep, one small
# piece at a time: each operation receives the gradient of the loss with respect
# to its *output* and returns the gradients with respect to its *inputs* (and
# parameters). ALBERT is built from only a handful of operations, so a handful
# of backward functions is enough.
#
# In this chapter you will derive, implement and check the backward pass of the
# four primitives everything else in ALBERT is made of, and of the loss that
# starts every backward sweep:
#
# 1. the linear layer `y = x W^T + b`,
# 2. LayerNorm,
# 3. softmax,
# 4. scaled dot-product attention (which uses softmax inside),
# 5. softmax followed by the cross-entropy loss, as the masked-LM and
#    classification heads compute it (with ignored `-100` labels).
#
# Each hand-written gradient is compared with two references: the library's
# `albert_np.backprop.*_backward` functions (fed by the forward of `albert_np.ops`
# run with a `cache` dict, exactly as training runs it), and central finite differences in
# float64, which need no calculus at all. We end with a table of relative
# errors, a look at why finite differences need a well-chosen step, and a note
# on why ALBERT's shared layers need gradients to be *added up*.

# %% [markdown]
# **Which model.** This chapter runs on the bundled `albert-tiny-en`. To use another checkpoint, set `ALBERT_NP_MODEL` before `tutorial_utils` is imported: in a shell `ALBERT_NP_MODEL=/path/to/checkpoint python tutorials/07_backprop_primitives.py`; in Jupyter run `%env ALBERT_NP_MODEL=/path/to/checkpoint` in a cell above the imports (the variable is read once, at import; changing it later has no effect until the kernel restarts).

# %%
from tutorial_utils import *

import albert_np
from albert_np import AlbertConfig
from albert_np import backprop as bp
from albert_np import losses, ops

config = AlbertConfig.from_pretrained(MODEL)      # for eps and the real sizes at the end
eps = config.layer_norm_eps
rng = np.random.default_rng(0)

# %% [markdown]
# ## The set-up: an upstream gradient and finite differences
#
# Suppose an operation computes `y = f(x)` somewhere inside the network, and the
# rest of the network turns y into a scalar loss. Backprop hands us
# `dy = dLoss/dy`, an array of y's shape, and asks for `dx = dLoss/dx`. By the
# chain rule, `dx_i = sum_j dy_j * dy_j/dx_i`. To test a backward function we
# need no real loss: take a random `dy` and the loss `Loss = sum(y * dy)`, whose
# gradient with respect to y is exactly `dy`.
#
# Finite differences then give an independent answer: nudge one input number up
# and down by h and look at how the loss changes,
#
#     dLoss/dx_i  ~  (Loss(x_i + h) - Loss(x_i - h)) / (2h),
#
# with an error of order h^2 from the approximation, plus rounding error of order
# machine-epsilon / h. In float64 with h around 1e-6 both are tiny. It costs two
# forward passes per input number, so it only works for small shapes: a check,
# never a training method.
#
# To compare two gradient arrays we use one relative error for the whole array,
# `|a - b| / (|a| + |b|)` with `|.|` the Euclidean norm; it does not blow up on the
# individual entries that happen to be near zero.

# %%
def numerical_grad(f, x, dy, h=1e-6):
    """d sum(f() * dy) / dx by central differences; f reads x, which we nudge in place."""
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        up = np.sum(f() * dy)
        x[i] = old - h
        down = np.sum(f() * dy)
        x[i] = old
        grad[i] = (up - down) / (2 * h)
    return grad

def rel_error(a, b):
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-300))

table = []        # rows: (primitive, gradient, rel. error vs library, rel. error vs finite differences)

def compare(primitive, forward, gradients):
    """forward: (ours, library); gradients: {name: (ours, library, finite differences)}.
    Prints one line against the library, one against finite differences."""
    check_all(f"{primitive} vs the library", {"forward": forward,
              **{name: (ours, lib) for name, (ours, lib, _) in gradients.items()}}, atol=1e-12, rtol=1e-10)
    check_all(f"{primitive} vs finite differences",
              {name: (ours, num) for name, (ours, _, num) in gradients.items()}, atol=1e-7, rtol=1e-6)
    for name, (ours, lib, num) in gradients.items():
        table.append((primitive, name, rel_error(ours, lib), rel_error(ours, num)))

# %% [markdown]
# ## 1. Linear: y = x W^T + b
#
# With W of shape (out, in), written out per row n of x:
# `y[n, j] = sum_i x[n, i] W[j, i] + b[j]`. Each derivative is a single term:
#
# * `dy[n, j] / dx[n, i] = W[j, i]`, so `dx[n, i] = sum_j dy[n, j] W[j, i]`, i.e. **dx = dy W**;
# * `dy[n, j] / dW[j, i] = x[n, i]`, summed over all rows n: **dW = dy^T x**;
# * `dy[n, j] / db[j] = 1`, summed over rows: **db = sum over rows of dy**.
#
# Each gradient has the shape of the thing it belongs to, which is a quick
# sanity check. Leading axes (batch, tokens) are all "rows": we flatten them.

# %%
x = rng.standard_normal((2, 3, 4))               # (B, T, in)
W = rng.standard_normal((5, 4))                  # (out, in)
b = rng.standard_normal(5)                       # (out,)
dy = rng.standard_normal((2, 3, 5))              # (B, T, out): the upstream gradient

def linear_fwd():
    return x @ W.T + b                           # (B, T, in) -> (B, T, out)

dx = dy @ W                                      # (B, T, out) @ (out, in) -> (B, T, in)
dW = dy.reshape(-1, 5).T @ x.reshape(-1, 4)      # (out, N) @ (N, in) -> (out, in)
db = dy.reshape(-1, 5).sum(0)                    # (out,)

cache = {}                                       # the forward fills it with what the backward needs
y_lib = ops.linear(x, W, b, cache=cache)
g = {"weight": np.zeros_like(W), "bias": np.zeros_like(b)}   # the library *adds* into these
dx_lib = bp.linear_backward(dy, cache, g)
compare("linear", (linear_fwd(), y_lib), {
    "dx": (dx, dx_lib, numerical_grad(linear_fwd, x, dy)),
    "dW": (dW, g["weight"], numerical_grad(linear_fwd, W, dy)),
    "db": (db, g["bias"], numerical_grad(linear_fwd, b, dy))})

# %% [markdown]
# ## 2. LayerNorm
#
# For one row x of length H (LayerNorm works on each row separately):
#
#     mu = mean(x),  var = mean((x - mu)^2),  r = 1 / sqrt(var + eps)
#     xhat = (x - mu) * r,        y = xhat * w + b      (w, b: learned, length H)
#
# The parameter gradients are as easy as for the linear layer:
# **dw = sum over rows of dy * xhat**, **db = sum over rows of dy**.
#
# For dx, write `g = dy * w`, the gradient with respect to xhat. The subtle part is
# that every xhat_j depends on every x_i, through mu and r. Using
# `dmu/dx_i = 1/H`, `dvar/dx_i = 2 (x_i - mu) / H` and hence
# `dr/dx_i = -r^3 (x_i - mu) / H = -r^2 xhat_i / H`:
#
#     dxhat_j / dx_i = r * (delta_ij - 1/H - xhat_i * xhat_j / H)
#
# Summing `g_j * dxhat_j/dx_i` over j gives the whole backward in one line:
#
#     dx = r * (g - mean(g) - xhat * mean(g * xhat))
#
# The two subtracted terms remove from g its component along the all-ones vector
# (shifting x does not change xhat) and its component along xhat (scaling x - mu
# does not change xhat).

# %%
x = rng.standard_normal((2, 3, 8)) * 3 + 1       # (B, T, H), not already normalised
w = rng.standard_normal(8)
b = rng.standard_normal(8)
dy = rng.standard_normal((2, 3, 8))

def layer_norm_fwd():
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b

mu = x.mean(-1, keepdims=True)                   # (B, T, 1)
r = 1 / np.sqrt(((x - mu) ** 2).mean(-1, keepdims=True) + eps)   # (B, T, 1)
xhat = (x - mu) * r                              # (B, T, H)
g = dy * w                                       # dLoss/dxhat
dx = r * (g - g.mean(-1, keepdims=True) - xhat * (g * xhat).mean(-1, keepdims=True))
dw = (dy * xhat).reshape(-1, 8).sum(0)
db = dy.reshape(-1, 8).sum(0)

cache = {}
y_lib = ops.layer_norm(x, w, b, eps, cache=cache)
grads = {"weight": np.zeros_like(w), "bias": np.zeros_like(b)}
dx_lib = bp.layer_norm_backward(dy, cache, grads)
compare("LayerNorm", (layer_norm_fwd(), y_lib), {
    "dx": (dx, dx_lib, numerical_grad(layer_norm_fwd, x, dy)),
    "dw": (dw, grads["weight"], numerical_grad(layer_norm_fwd, w, dy)),
    "db": (db, grads["bias"], numerical_grad(layer_norm_fwd, b, dy))})

# %% [markdown]
# A consequence of the two projections, visible in the numbers: every row of dx
# sums to zero, and is orthogonal to that row's xhat.

# %%
print("max |sum of a row of dx|:  ", np.abs(dx.sum(-1)).max())
print("max |dx . xhat| per row:   ", np.abs((dx * xhat).sum(-1)).max())
assert np.abs(dx.sum(-1)).max() < 1e-12 and np.abs((dx * xhat).sum(-1)).max() < 1e-10

# %% [markdown]
# ## 3. Softmax
#
# `y_j = exp(x_j) / sum_k exp(x_k)` along the last axis. Its Jacobian is
# `dy_j / dx_i = y_j (delta_ij - y_i)`: raising x_i raises y_i and lowers every
# other y_j in proportion to its size. Contracting with dy:
#
#     dx_i = sum_j dy_j y_j (delta_ij - y_i) = y_i * (dy_i - sum_j dy_j y_j)
#
# In words: each input's gradient is its probability times how much its own
# upstream gradient exceeds the probability-weighted average one. Adding the same
# constant to all dy changes nothing, just as adding a constant to all x changes
# no probability.

# %%
x = rng.standard_normal((2, 3, 6)) * 2
dy = rng.standard_normal((2, 3, 6))

def softmax_fwd():
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)

y = softmax_fwd()
dx = y * (dy - (dy * y).sum(-1, keepdims=True))

cache = {}
y_lib = ops.softmax(x, cache=cache)
compare("softmax", (y, y_lib), {"dx": (dx, bp.softmax_backward(dy, cache), numerical_grad(softmax_fwd, x, dy))})
check("softmax: dy + 7 gives the same dx", y * ((dy + 7) - ((dy + 7) * y).sum(-1, keepdims=True)), dx,
      atol=1e-12)

# %% [markdown]
# ## 4. Scaled dot-product attention
#
# Per batch element and head, with Q, K, V of shape (T, D) and s = 1/sqrt(D):
#
#     S = s * Q K^T + bias         (T, T) scores; bias = 0, or a huge negative number at padding
#     P = softmax(S)               row by row
#     O = P V                      (T, D)
#
# Backwards, one line at a time, using the two rules we already have (a matrix
# product is a linear map, and softmax from section 3):
#
#     dV = P^T dO                  dP = dO V^T
#     dS = P * (dP - rowsum(dP * P))            (softmax backward, row by row)
#     dQ = s * dS K                dK = s * dS^T Q
#
# We add a padding mask: in the second sequence the last token is padding, so
# the bias of that key column is the most negative float and its probability is
# exactly 0.

# %%
B, A, T, D = 2, 2, 4, 3
q = rng.standard_normal((B, A, T, D))
k = rng.standard_normal((B, A, T, D))
v = rng.standard_normal((B, A, T, D))
attention_mask = np.array([[1, 1, 1, 1], [1, 1, 1, 0]])
bias = ops.attention_bias(attention_mask, np.float64)              # (B, 1, 1, T)
dO = rng.standard_normal((B, A, T, D))
s = 1 / np.sqrt(D)

def attention_fwd():
    S = s * q @ k.transpose(0, 1, 3, 2) + bias                     # (B, A, T, T)
    P = np.exp(S - S.max(-1, keepdims=True))
    P /= P.sum(-1, keepdims=True)
    return P @ v                                                   # (B, A, T, D)

S = s * q @ k.transpose(0, 1, 3, 2) + bias
P = np.exp(S - S.max(-1, keepdims=True))
P /= P.sum(-1, keepdims=True)
dv = P.transpose(0, 1, 3, 2) @ dO                                  # (B, A, T, D)
dP = dO @ v.transpose(0, 1, 3, 2)                                  # (B, A, T, T)
dS = P * (dP - (dP * P).sum(-1, keepdims=True))
dq = s * dS @ k                                                    # (B, A, T, D)
dk = s * dS.transpose(0, 1, 3, 2) @ q                              # (B, A, T, D)

cache = {}
out_lib, _ = ops.scaled_dot_product_attention(q, k, v, bias, cache=cache)
dq_lib, dk_lib, dv_lib = bp.scaled_dot_product_attention_backward(dO, cache)
compare("attention", (attention_fwd(), out_lib), {
    "dq": (dq, dq_lib, numerical_grad(attention_fwd, q, dO)),
    "dk": (dk, dk_lib, numerical_grad(attention_fwd, k, dO)),
    "dv": (dv, dv_lib, numerical_grad(attention_fwd, v, dO))})

# %% [markdown]
# The padded key gets no gradient at all: its column of P is exactly 0, so both
# `dV = P^T dO` and `dK = s dS^T Q` (with `dS = P * ...`) are exactly 0 in that
# row. Padding cannot learn anything from the tokens that ignore it.

# %%
print("probability given to the padded key:", P[1, :, :, 3].max())
print("dk, dv of the padded key:", np.abs(dk[1, :, 3]).max(), np.abs(dv[1, :, 3]).max())
assert not P[1, :, :, 3].any() and not dk[1, :, 3].any() and not dv[1, :, 3].any()

# %% [markdown]
# ## 5. The loss: softmax and cross-entropy
#
# Every backward sweep starts at the loss. The masked-LM head and the
# classification heads score K classes (K = V for the masked-LM head) with
# logits z, and the loss is the cross-entropy of the right class y_n under the
# softmax, averaged over the N positions that *count*: in the masked-LM a label
# of -100 marks a position with no loss (every token that was not masked):
#
#     p_n = softmax(z_n),    Loss = -(1/N) * sum over counted n of log p_n[y_n]
#
# Write log p_n[y] = z_n[y] - log sum_k exp(z_n[k]). Its derivative with respect
# to z_n[i] is delta_iy - p_n[i] (the first term gives the delta; the derivative
# of log-sum-exp is the softmax). With the minus sign and the mean:
#
#     dLoss/dz_n = (p_n - one_hot(y_n)) / N      for a counted position n
#     dLoss/dz_n = 0                             for a position labelled -100
#
# N is the number of counted positions, not the number of rows. Each counted row
# sums to zero (p sums to 1, the one-hot too), and its only negative entry is at
# the right class: the gradient step raises z[y] and lowers every other logit
# in proportion to its probability. The same result comes out of the two steps
# taken separately, d/dp of -log p[y] (which is -one_hot / (N p)) fed to the
# softmax backward of section 3; the combined formula never divides by p, which
# matters in float32 when p[y] underflows to 0.
#
# We check it on 2 x 4 positions with K = 7 classes, three of them labelled
# -100, against `albert_np.losses.cross_entropy` and its backward (the functions
# training uses), and against finite differences of the loss.

# %%
K = 7
z = rng.standard_normal((2, 4, K)) * 2                           # (B, T, K) logits
labels = np.array([[3, -100, 0, 6], [-100, 2, -100, 2]])              # (B, T): -100 = no loss here
counted = labels != -100
N = int(counted.sum())

def cross_entropy_fwd():
    logp = z - z.max(-1, keepdims=True)
    logp = logp - np.log(np.exp(logp).sum(-1, keepdims=True))   # log softmax, (B, T, K)
    picked = np.take_along_axis(logp, np.where(counted, labels, 0)[..., None], -1)[..., 0]   # (B, T)
    return -(picked * counted).sum() / N

p_ce = np.exp(z - z.max(-1, keepdims=True))
p_ce /= p_ce.sum(-1, keepdims=True)                              # (B, T, K) softmax
one_hot = np.eye(K)[np.where(counted, labels, 0)] * counted[..., None]   # (B, T, K), zero rows where -100
dz = (p_ce - one_hot) / N * counted[..., None]                   # (B, T, K)

loss_lib, ce_cache = losses.cross_entropy(z, labels)
dz_lib = losses.cross_entropy_backward(1.0, ce_cache)            # upstream dLoss/dLoss = 1
compare("cross-entropy", (cross_entropy_fwd(), loss_lib),
        {"dz": (dz, dz_lib, numerical_grad(cross_entropy_fwd, z, 1.0))})

# the two steps separately: d(-log p[y])/dp, then the softmax backward of section 3
dp = -one_hot / (N * p_ce)                                       # (B, T, K)
check("softmax backward of d(-log p[y])/dp", p_ce * (dp - (dp * p_ce).sum(-1, keepdims=True)), dz,
      atol=1e-12)
print("rows labelled -100 are exactly zero:", not dz_lib[~counted].any())
print("max |sum of a counted row|:", np.abs(dz[counted].sum(-1)).max())
assert not dz_lib[~counted].any() and np.abs(dz[counted].sum(-1)).max() < 1e-15

# %% [markdown]
# ## The table
#
# Relative errors of our hand-derived gradients against the library's backward
# functions, and against finite differences (h = 1e-6, float64):

# %%
print(f"{'primitive':14s} {'grad':5s} {'vs backprop':>12s} {'vs finite diff.':>16s}")
for primitive, name, e_lib, e_num in table:
    print(f"{primitive:14s} {name:5s} {e_lib:12.1e} {e_num:16.1e}")
assert all(e_lib < 1e-12 and e_num < 1e-7 for _, _, e_lib, e_num in table)

# %% [markdown]
# Against the library the agreement is at the level of float64 rounding (the same
# formulas, with operations in a slightly different order). Against finite
# differences it is many orders of magnitude looser, and that is not a flaw of the
# gradients: it is the error of the finite differences themselves. The next plot
# shows where it comes from, for LayerNorm's dx: with a large step h the
# approximation error (of order h^2) dominates; with a tiny step, the rounding
# error of subtracting two nearly equal losses (of order 1e-16 / h) does.

# %%
x = rng.standard_normal((2, 3, 8)) * 3 + 1
w = rng.standard_normal(8)
b = rng.standard_normal(8)
dy = rng.standard_normal((2, 3, 8))
cache = {}
ops.layer_norm(x, w, b, eps, cache=cache)
exact = bp.layer_norm_backward(dy, cache, {"weight": np.zeros(8), "bias": np.zeros(8)})
steps = 10.0 ** -np.arange(1, 12)
errors = [rel_error(numerical_grad(layer_norm_fwd, x, dy, h), exact) for h in steps]
for h, e in zip(steps, errors):
    print(f"h = {h:.0e}: relative error {e:.1e}")
best_h = steps[int(np.argmin(errors))]
print("best step:", best_h)
assert 1e-8 <= best_h <= 1e-3 and errors[0] > min(errors) and errors[-1] > min(errors)

if plt is not None:
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.loglog(steps, errors, "o-")
    ax.set(xlabel="finite-difference step h", ylabel="relative error of dx",
           title="LayerNorm dx: finite differences vs the exact gradient")
    ax.invert_xaxis()
    show(fig, "07_finite_difference_step.png")

# %% [markdown]
# ## One weight, used twice: gradients add up
#
# In ALBERT the same layer weights are used L times (chapter 4). If a weight W is
# used in several places, the loss depends on it through each use, and the
# chain rule *sums* the contributions. That is why the library's backward
# functions add into the gradient dictionary (`+=`) instead of overwriting it: we
# simply call the backward of each use with the same dictionary. Here
# `y = (x W^T) W^T`, one weight applied twice, is checked against finite
# differences.

# %%
x = rng.standard_normal((3, 4))
W = rng.standard_normal((4, 4))
dy = rng.standard_normal((3, 4))

def twice_fwd():
    return (x @ W.T) @ W.T

cache1, cache2 = {}, {}
y1 = ops.linear(x, W, cache=cache1)              # first use
y2 = ops.linear(y1, W, cache=cache2)             # second use, same W
grads = {"weight": np.zeros_like(W)}
d_y1 = bp.linear_backward(dy, cache2, grads)     # backward through the second use ...
bp.linear_backward(d_y1, cache1, grads)          # ... then the first, into the same grads
check("dW of a weight used twice", grads["weight"], numerical_grad(twice_fwd, W, dy), atol=1e-7)
check("... = sum of the two uses' dW", grads["weight"], dy.T @ y1 + d_y1.T @ x, atol=1e-12)

# %% [markdown]
# ## The same code at the checkpoint's sizes, in float32
#
# Nothing above depended on the tiny shapes. As a last check, run our attention
# backward at this checkpoint's real head count A and head size D (a short
# sequence of 16 tokens) in float32, the dtype used for training, against the
# library.

# %%
A, D = config.num_attention_heads, config.hidden_size // config.num_attention_heads
q, k, v, dO = (rng.standard_normal((1, A, 16, D)).astype(np.float32) for _ in range(4))
s = np.float32(1 / np.sqrt(D))
S = s * q @ k.transpose(0, 1, 3, 2)
P = np.exp(S - S.max(-1, keepdims=True))
P /= P.sum(-1, keepdims=True)
dP = dO @ v.transpose(0, 1, 3, 2)
dS = P * (dP - (dP * P).sum(-1, keepdims=True))
ours32 = (s * dS @ k, s * dS.transpose(0, 1, 3, 2) @ q, P.transpose(0, 1, 3, 2) @ dO)
cache = {}
ops.scaled_dot_product_attention(q, k, v, cache=cache)
assert all(a.dtype == np.float32 for a in ours32)
check_all(f"attention, A={A}, D={D}, float32", dict(zip(("dq", "dk", "dv"),
          zip(ours32, bp.scaled_dot_product_attention_backward(dO, cache)))), atol=1e-5)

# %% [markdown]
# ## Summary
#
# | primitive | backward |
# |---|---|
# | linear `y = x W^T + b` | `dx = dy W`, `dW = dy^T x`, `db = sum dy` |
# | LayerNorm | `dx = r (g - mean(g) - xhat mean(g xhat))` with `g = dy w`; `dw = sum dy xhat`, `db = sum dy` |
# | softmax | `dx = y (dy - sum(dy y))` |
# | attention | `dV = P^T dO`, `dS = softmax backward of dO V^T`, `dQ = s dS K`, `dK = s dS^T Q` |
# | softmax + cross-entropy | `dz = (softmax(z) - one_hot(y)) / N` on the N counted rows, 0 on rows labelled -100 |
#
# Every one was checked against the library and against finite differences, and
# a weight used more than once simply collects the sum of its uses' gradients.

# %% [markdown]
# ## Exercises
#
# 1. ★★ Derive the backward of `gelu_new`, 0.5 x (1 + tanh(c (x + 0.044715
#    x^3))), and check it against `backprop.gelu_new_backward` and a finite
#    difference.
# 2. ★★ In float32, take the logits [0, -120, 5] with the label 1 and compute the
#    cross-entropy gradient twice: the long way, d(-log p[y])/dp = -one_hot / p fed
#    to the softmax backward, and the combined p - one_hot. Which one survives,
#    and why?
