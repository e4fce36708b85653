"""Optimisers, gradient clipping and learning-rate schedules.

Parameters and gradients are flat dicts   name -> np.ndarray   keyed by the
HF/PyTorch parameter names ("albert.embeddings.LayerNorm.weight", ...).
`step(grads)` updates the parameter arrays IN PLACE, so a model holding views
of them sees the new values. Optimiser state (m, v) has each parameter's dtype:
float32 for training, float64 when a test runs the maths in float64.

    AdamW   torch.optim.AdamW, the optimiser of HF's Trainer and GLUE/SQuAD recipes
    LAMB    the ALBERT paper's pretraining optimiser (google-research/albert)

Schedules return the MULTIPLIER of the base learning rate at a step (what
torch's LambdaLR multiplies by), so the rate for step s is  lr * schedule(s).
A training loop calls  opt.step(grads, lr=base_lr * linear_warmup_linear_decay(s, w, n)).
"""
import math

import numpy as np

__all__ = [
    "no_decay", "AdamW", "LAMB", "clip_grad_norm",
    "linear_warmup_linear_decay", "polynomial_decay", "constant_with_warmup",
]


def no_decay(name):
    """True for parameters that get no weight decay (nor LAMB trust ratio).

    Biases and LayerNorm parameters, by name: the name ends in "bias", or
    contains "LayerNorm" or "layer_norm" (ALBERT's "full_layer_layer_norm").
    Matches: the no_decay list of HF's run_glue/run_qa examples and
    ALBERT's exclude_from_weight_decay=["LayerNorm", "layer_norm", "bias"].
    """
    return name.endswith("bias") or "LayerNorm" in name or "layer_norm" in name


# --------------------------------------------------------------------------- shared checks

def _check_lr(lr):
    if not isinstance(lr, (int, float, np.floating, np.integer)) or not lr > 0 or not math.isfinite(lr):
        raise ValueError(f"learning rate must be > 0, got {lr!r}")
    return float(lr)


def _check_step_lr(lr):
    """A per-step rate may be 0: warmup schedules start at 0, as in HF's Trainer."""
    if not isinstance(lr, (int, float, np.floating, np.integer)) or not lr >= 0 or not math.isfinite(lr):
        raise ValueError(f"step learning rate must be >= 0 (base lr x schedule multiplier), got {lr!r}")
    return float(lr)


def _check_hyper(betas, eps, weight_decay):
    if len(betas) != 2 or not all(0.0 <= float(b) < 1.0 for b in betas):
        raise ValueError(f"betas must be two numbers in [0, 1), got {tuple(betas)!r}")
    if not eps >= 0:
        raise ValueError(f"eps must be >= 0, got {eps!r}")
    if not weight_decay >= 0:
        raise ValueError(f"weight_decay must be >= 0, got {weight_decay!r}")
    return (float(betas[0]), float(betas[1])), float(eps), float(weight_decay)


def _check_params(params):
    if not isinstance(params, dict) or not params:
        raise TypeError(
            f"params must be a non-empty dict name -> np.ndarray, got {type(params).__name__}"
            + (" (empty)" if isinstance(params, dict) else ""))
    for name, p in params.items():
        if not isinstance(p, np.ndarray) or not np.issubdtype(p.dtype, np.floating):
            raise TypeError(
                f"parameter {name!r} must be a floating np.ndarray updated in place, got "
                f"{type(p).__name__}" + (f" of dtype {p.dtype}" if isinstance(p, np.ndarray) else ""))
        if not p.flags.writeable:
            raise ValueError(f"parameter {name!r} is read-only; pass a writeable array (np.array(x))")
    return params


def _check_names_and_shapes(what, expected, given):
    """Raise a ValueError naming missing/extra keys or mismatched shapes."""
    missing = sorted(set(expected) - set(given))
    extra = sorted(set(given) - set(expected))
    if missing or extra:
        raise ValueError(
            f"{what} names must equal the parameter names: missing {missing[:5]}"
            f"{' ...' if len(missing) > 5 else ''}, unexpected {extra[:5]}"
            f"{' ...' if len(extra) > 5 else ''}")
    for name, p in expected.items():
        shape = np.shape(given[name])
        if shape != p.shape:
            raise ValueError(f"{what} {name!r} has shape {shape}, parameter has shape {p.shape}")


def _grad(grads, name, p):
    """The gradient for `p` in p's dtype (a float64 grad must not upcast the state)."""
    g = np.asarray(grads[name])
    if not np.issubdtype(g.dtype, np.floating):
        raise TypeError(f"gradient {name!r} must be floating, got dtype {g.dtype}")
    return g.astype(p.dtype, copy=False)


class _AdamFamily:
    """What AdamW and LAMB share: hyper-parameters, first/second moments, (de)serialisation."""

    def __init__(self, params, lr, betas, eps, weight_decay, exclude):
        self.params = _check_params(params)
        self.lr = _check_lr(lr)
        self.betas, self.eps, self.weight_decay = _check_hyper(betas, eps, weight_decay)
        self.exclude = exclude
        self.step_count = 0
        self.m = {k: np.zeros_like(p) for k, p in params.items()}
        self.v = {k: np.zeros_like(p) for k, p in params.items()}

    def _begin_step(self, grads, lr):
        """Check the gradients, count the step; returns the learning rate of this step."""
        lr = self.lr if lr is None else _check_step_lr(lr)
        _check_names_and_shapes("gradient", self.params, grads)
        self.step_count += 1
        return lr

    def state_dict(self):
        """{"step": int, "lr", "betas", "eps", "weight_decay", "exp_avg": {name: m}, "exp_avg_sq": {name: v}} (copies)."""
        return {
            "step": int(self.step_count),
            "lr": self.lr, "betas": self.betas, "eps": self.eps, "weight_decay": self.weight_decay,
            "exp_avg": {k: v.copy() for k, v in self.m.items()},
            "exp_avg_sq": {k: v.copy() for k, v in self.v.items()},
        }

    def load_state_dict(self, state):
        """Restore a state_dict() (copies the arrays); names and shapes must match."""
        for key in ("step", "exp_avg", "exp_avg_sq"):
            if key not in state:
                raise ValueError(f"optimizer state_dict lacks {key!r}; it has keys {sorted(state)}")
        _check_names_and_shapes("exp_avg", self.params, state["exp_avg"])
        _check_names_and_shapes("exp_avg_sq", self.params, state["exp_avg_sq"])
        self.lr = _check_lr(state.get("lr", self.lr))
        self.betas, self.eps, self.weight_decay = _check_hyper(
            state.get("betas", self.betas), state.get("eps", self.eps),
            state.get("weight_decay", self.weight_decay))
        self.step_count = int(state["step"])
        for name, p in self.params.items():
            self.m[name] = np.array(state["exp_avg"][name], dtype=p.dtype)
            self.v[name] = np.array(state["exp_avg_sq"][name], dtype=p.dtype)


# --------------------------------------------------------------------------- AdamW

class AdamW(_AdamFamily):
    """Adam with decoupled weight decay, bias-corrected moments.

    For each parameter p with gradient g, at step t = 1, 2, ...:
        p <- p * (1 - lr * wd)                 (decay first; wd = 0 where exclude(name))
        m <- b1 m + (1 - b1) g                 (computed as m + (1 - b1)(g - m), torch's lerp)
        v <- b2 v + (1 - b2) g^2
        p <- p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
    Matches: torch.optim.AdamW (amsgrad=False, maximize=False), with the
    no-decay parameter group of HF's examples built from `exclude`.

    Args:
        params: dict name -> float ndarray, updated in place by step().
        lr: base learning rate (> 0); step(grads, lr=...) overrides it for one step
            (>= 0, so a warmup schedule may start at 0).
        betas: (b1, b2), each in [0, 1).
        eps: added after the square root of the bias-corrected v.
        weight_decay: decoupled decay rate (torch's default 0.01).
        exclude: name -> bool, True for parameters without weight decay.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01,
                 exclude=no_decay):
        super().__init__(params, lr, betas, eps, weight_decay, exclude)

    def step(self, grads, lr=None):
        """Apply one update from `grads` (dict name -> array, same names and shapes)."""
        lr = self._begin_step(grads, lr)
        b1, b2 = self.betas
        t = self.step_count
        bias_correction1 = 1.0 - b1 ** t
        bias_correction2_sqrt = math.sqrt(1.0 - b2 ** t)
        for name, p in self.params.items():
            f = p.dtype.type
            g = _grad(grads, name, p)
            m, v = self.m[name], self.v[name]
            if self.weight_decay and not self.exclude(name):
                p *= f(1.0 - lr * self.weight_decay)
            m += f(1.0 - b1) * (g - m)
            v *= f(b2)
            v += f(1.0 - b2) * (g * g)
            denom = np.sqrt(v) / f(bias_correction2_sqrt) + f(self.eps)
            p -= f(lr / bias_correction1) * (m / denom)


# --------------------------------------------------------------------------- LAMB

class LAMB(_AdamFamily):
    """Layer-wise adaptive Adam, as the ALBERT paper's TensorFlow code applies it.

    For each parameter p with gradient g (no bias correction, step unused):
        m <- b1 m + (1 - b1) g
        v <- b2 v + (1 - b2) g^2
        u  = m / (sqrt(v) + eps) + wd * p              (wd term skipped where exclude(name))
        r  = ||p|| / ||u||   if both norms > 0, else 1  (r = 1 where exclude(name))
        p <- p - lr * r * u
    ||.|| is the L2 norm of the whole tensor; ||p|| is taken before the update.
    Matches: google-research/albert lamb_optimizer.LAMBOptimizer with
    exclude_from_weight_decay = exclude_from_layer_adaptation = ["LayerNorm", "layer_norm", "bias"].

    Args:
        params: dict name -> float ndarray, updated in place by step().
        lr: base learning rate (> 0); step(grads, lr=...) overrides it for one step
            (>= 0, so a warmup schedule may start at 0).
        betas: (b1, b2), each in [0, 1).
        eps: added to sqrt(v) (1e-6 in the ALBERT code).
        weight_decay: L2 decay rate added to the update (ALBERT pretraining: 0.01).
        exclude: name -> bool, True for parameters with neither decay nor trust ratio.
    """

    def __init__(self, params, lr, betas=(0.9, 0.999), eps=1e-6, weight_decay=0.01,
                 exclude=no_decay):
        super().__init__(params, lr, betas, eps, weight_decay, exclude)

    def step(self, grads, lr=None):
        """Apply one update from `grads` (dict name -> array, same names and shapes)."""
        lr = self._begin_step(grads, lr)
        b1, b2 = self.betas
        for name, p in self.params.items():
            f = p.dtype.type
            g = _grad(grads, name, p)
            m, v = self.m[name], self.v[name]
            m *= f(b1)
            m += f(1.0 - b1) * g
            v *= f(b2)
            v += f(1.0 - b2) * (g * g)
            update = m / (np.sqrt(v) + f(self.eps))
            excluded = self.exclude(name)
            if self.weight_decay and not excluded:
                update += f(self.weight_decay) * p
            ratio = f(1.0)
            if not excluded:
                w_norm = np.linalg.norm(p.ravel())
                u_norm = np.linalg.norm(update.ravel())
                if w_norm > 0 and u_norm > 0:
                    ratio = f(w_norm / u_norm)
            p -= (f(lr) * ratio) * update


# --------------------------------------------------------------------------- clipping

def clip_grad_norm(grads, max_norm):
    """Scale all gradients in place so their global L2 norm is at most max_norm.

    total = sqrt(sum_i ||g_i||^2);  coef = min(1, max_norm / (total + 1e-6));  g_i <- coef * g_i
    Returns the norm BEFORE clipping, as a Python float.
    Matches: torch.nn.utils.clip_grad_norm_(params, max_norm) (norm_type=2).
    """
    if not isinstance(grads, dict) or not grads:
        raise TypeError("grads must be a non-empty dict name -> np.ndarray")
    if not max_norm >= 0:
        raise ValueError(f"max_norm must be >= 0, got {max_norm!r}")
    for name, g in grads.items():
        if not isinstance(g, np.ndarray) or not np.issubdtype(g.dtype, np.floating):
            raise TypeError(f"gradient {name!r} must be a floating np.ndarray clipped in place, "
                            f"got {type(g).__name__}")
    dtype = np.result_type(*grads.values())
    f = dtype.type
    norms = np.array([np.linalg.norm(g.ravel()) for g in grads.values()], dtype=dtype)
    total = np.sqrt((norms * norms).sum())
    coef = f(max_norm) / (total + f(1e-6))
    if not coef >= 1:                      # nan total -> nan grads, as torch
        for g in grads.values():
            g *= coef.astype(g.dtype)
    return float(total)


# --------------------------------------------------------------------------- schedules

def _check_steps(step, warmup_steps, total_steps=None):
    for name, value in (("step", step), ("warmup_steps", warmup_steps), ("total_steps", total_steps)):
        if value is not None and (not isinstance(value, (int, np.integer)) or value < 0):
            raise ValueError(f"{name} must be a non-negative int, got {value!r}")


def linear_warmup_linear_decay(step, warmup_steps, total_steps):
    """LR multiplier: 0 -> 1 linearly over warmup, then 1 -> 0 linearly at total_steps.

    step < warmup:  step / max(1, warmup)
    otherwise:      max(0, (total - step) / max(1, total - warmup))
    Matches: transformers.get_linear_schedule_with_warmup's lambda.
    """
    _check_steps(step, warmup_steps, total_steps)
    if step < warmup_steps:
        return float(step) / float(max(1, warmup_steps))
    return max(0.0, float(total_steps - step) / float(max(1, total_steps - warmup_steps)))


def polynomial_decay(step, warmup_steps, total_steps, *, lr_init, lr_end=1e-7, power=1.0):
    """LR multiplier: linear warmup, then (lr_init - lr_end) * remaining^power + lr_end.

    step < warmup:       step / max(1, warmup)
    step > total:        lr_end / lr_init
    otherwise:           ((lr_init - lr_end) * (1 - (step - warmup) / (total - warmup))^power + lr_end) / lr_init
    lr_init (the optimiser's base lr) is needed because the floor lr_end is absolute.
    Matches: transformers.get_polynomial_decay_schedule_with_warmup's lambda.
    """
    _check_steps(step, warmup_steps, total_steps)
    if not lr_init > lr_end:
        raise ValueError(f"lr_end ({lr_end}) must be smaller than the initial lr ({lr_init})")
    if total_steps <= warmup_steps:
        raise ValueError(
            f"total_steps ({total_steps}) must exceed warmup_steps ({warmup_steps}) "
            f"so that there is a decay phase")
    if step < warmup_steps:
        return float(step) / float(max(1, warmup_steps))
    if step > total_steps:
        return lr_end / lr_init
    pct_remaining = 1 - (step - warmup_steps) / (total_steps - warmup_steps)
    return ((lr_init - lr_end) * pct_remaining ** power + lr_end) / lr_init


def warmup_stable_decay(step, warmup_steps, total_steps, decay_steps):
    """LR multiplier: 0 -> 1 over warmup, 1 until the last decay_steps, then 1 -> 0 linearly at total.

    step < warmup:                 step / max(1, warmup)
    step < total - decay_steps:    1
    otherwise:                     max(0, (total - step) / max(1, decay_steps))
    A run on this schedule can be ended early by a short cool-down: resume a copy of any
    checkpoint at step s with total = s + decay_steps, and the rate decays from s on
    (Hu et al. 2024, MiniCPM; Hagele et al. 2024 find it matches a full-length linear decay).
    """
    _check_steps(step, warmup_steps, total_steps)
    if not isinstance(decay_steps, (int, np.integer)) or not 0 <= decay_steps <= total_steps:
        raise ValueError(f"decay_steps must be an int between 0 and total_steps ({total_steps}), got {decay_steps!r}")
    if step < warmup_steps:
        return float(step) / float(max(1, warmup_steps))
    if step < total_steps - decay_steps:
        return 1.0
    return max(0.0, float(total_steps - step) / float(max(1, decay_steps)))


def constant_with_warmup(step, warmup_steps):
    """LR multiplier: 0 -> 1 linearly over warmup, then 1.

    Matches: transformers.get_constant_schedule_with_warmup's lambda.
    """
    _check_steps(step, warmup_steps)
    if step < warmup_steps:
        return float(step) / float(max(1.0, warmup_steps))
    return 1.0
