"""Training losses, each as a forward/backward pair.

    loss, cache = <name>(logits, targets, ...)
    d_logits    = <name>_backward(dloss, cache)

`dloss` is the scalar upstream gradient (1.0 when the loss is the objective).
Every loss uses PyTorch's default "mean" reduction, so the numbers equal the
ones Hugging Face's ALBERT heads compute with torch.nn.*Loss. Inputs are never
modified in place; float32 in gives float32 out, float64 in gives float64 out.

Shapes: the legend at the top of ops.py (here N is the rows scored, the
flattened batch positions; K the classes: num_labels, or V for the MLM head).
"""
import numpy as np

from .config import PROBLEM_TYPES       # the problem types config.json may name
from .ops import log_softmax, sigmoid

__all__ = [
    "infer_problem_type",
    "cross_entropy", "cross_entropy_backward",
    "mse", "mse_backward",
    "bce_with_logits", "bce_with_logits_backward",
    "sequence_classification_loss", "sequence_classification_loss_backward",
    "question_answering_loss", "question_answering_loss_backward",
    "PROBLEM_TYPES",
]



# --------------------------------------------------------------------------- helpers

def _check_float(name, x):
    """Return x as an ndarray; raise TypeError unless it holds floats."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(
            f"{name} must be a floating-point array (float32, or float64 for gradient "
            f"checks), got dtype {x.dtype}; cast it with .astype(np.float32)")
    return x


def _upstream(dloss, dtype):
    """The scalar upstream gradient as a 0-d value of the loss's dtype."""
    d = np.asarray(dloss)
    if d.ndim != 0:
        raise ValueError(
            f"dloss must be a scalar (the gradient of the objective w.r.t. the loss), "
            f"got an array of shape {d.shape}")
    return d.astype(dtype)


def _mean_count(n, dtype):
    """1/n in `dtype` (so float32 stays float32: an np.int64 count would upcast)."""
    return dtype.type(1) / dtype.type(n)


# --------------------------------------------------------------------------- cross entropy

def cross_entropy(logits, labels, ignore_index=-100):
    """Mean negative log-likelihood of integer class labels under softmax(logits).

    loss = -(1/|S|) * sum_{n in S} log_softmax(logits)_{n, labels_n}
    where S = {n : labels_n != ignore_index}. When every label is ignored,
    |S| = 0 and the loss is nan (0/0), exactly as torch; its gradient is then 0.

    Args:
        logits: (..., K) float, classes on the LAST axis (HF always calls the
            loss as logits.view(-1, K), labels.view(-1); torch's own
            class-on-axis-1 layout for (N, K, d) inputs is not supported).
        labels: (...) integer, each in [0, K) or equal to ignore_index.
        ignore_index: label value that contributes neither loss nor gradient.
    Returns:
        loss: 0-d array of logits.dtype.
        cache: for cross_entropy_backward.
    Matches: torch.nn.functional.cross_entropy(logits, labels, ignore_index=...),
        i.e. the CrossEntropyLoss of AlbertForSequenceClassification,
        AlbertForTokenClassification, AlbertForMaskedLM and AlbertForPreTraining.
    """
    logits = _check_float("logits", logits)
    labels = np.asarray(labels)
    if not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(
            f"labels must be an integer array of class indices, got dtype {labels.dtype}; "
            f"for float targets use mse or bce_with_logits")
    if logits.ndim < 1 or logits.shape[:-1] != labels.shape:
        raise ValueError(
            f"logits shape {logits.shape} must be labels shape {labels.shape} plus a "
            f"trailing class axis, e.g. logits (N, K) with labels (N,)")
    K = logits.shape[-1]
    flat_logits = logits.reshape(-1, K)                                   # (..., K) -> (N, K)
    flat_labels = labels.reshape(-1)                                      # (...) -> (N,)
    valid = flat_labels != ignore_index                                   # (N,)
    bad = valid & ((flat_labels < 0) | (flat_labels >= K))
    if bad.any():
        raise ValueError(
            f"label value {flat_labels[bad][0]} is out of range: labels must lie in "
            f"[0, {K}) for {K} classes, or equal ignore_index={ignore_index}")
    logp = log_softmax(flat_logits, axis=-1)                              # (N, K)
    safe_labels = np.where(valid, flat_labels, 0)                         # (N,)
    picked = logp[np.arange(flat_labels.shape[0]), safe_labels]           # (N,)
    n_valid = int(valid.sum())
    dtype = logits.dtype
    with np.errstate(invalid="ignore", divide="ignore"):                  # 0/0 -> nan, as torch
        loss = -np.where(valid, picked, dtype.type(0)).sum() / dtype.type(n_valid)
    cache = (logp, safe_labels, valid, n_valid, logits.shape)
    return np.asarray(loss, dtype=dtype), cache


def cross_entropy_backward(dloss, cache):      # () -> (..., K)
    """Gradient of cross_entropy w.r.t. logits.

    d logits_n = dloss * (softmax(logits_n) - onehot(labels_n)) / |S|   for n in S
    d logits_n = 0                                                     otherwise
    """
    logp, safe_labels, valid, n_valid, shape = cache
    dtype = logp.dtype
    d = _upstream(dloss, dtype)
    if n_valid == 0:
        return np.zeros(shape, dtype=dtype)
    dlogits = np.exp(logp)                                                # (N, K) softmax
    dlogits[np.arange(dlogits.shape[0]), safe_labels] -= dtype.type(1)
    dlogits *= (valid.astype(dtype) * (d * _mean_count(n_valid, dtype)))[:, None]
    return dlogits.reshape(shape)                                         # (N, K) -> (..., K)


# --------------------------------------------------------------------------- mean squared error

def mse(preds, targets):
    """Mean squared error over every element.

    loss = mean((preds - targets)^2)

    Args:
        preds: (...) float. For a regression head (num_labels == 1) HF squeezes
            both logits (B, 1) and labels to (B,) first; sequence_classification_loss
            does that, a direct caller must do it (shapes must be equal here,
            torch would broadcast (B, 1) against (B,) into (B, B) with a warning).
        targets: same shape as preds; cast to preds.dtype.
    Returns:
        loss: 0-d array of preds.dtype; cache for mse_backward.
    Matches: torch.nn.functional.mse_loss (reduction="mean").
    """
    preds = _check_float("preds", preds)
    targets = np.asarray(targets)
    if preds.shape != targets.shape:
        raise ValueError(
            f"preds shape {preds.shape} and targets shape {targets.shape} must be equal; "
            f"squeeze a (B, 1) regression output to (B,) to match (B,) labels")
    if preds.size == 0:
        raise ValueError("mse of an empty array is undefined; pass at least one element")
    diff = preds - targets.astype(preds.dtype, copy=False)                # (...)
    loss = (diff * diff).sum() * _mean_count(diff.size, preds.dtype)
    return np.asarray(loss, dtype=preds.dtype), (diff,)


def mse_backward(dloss, cache):                # () -> (...)
    """d preds = dloss * 2 (preds - targets) / n."""
    (diff,) = cache
    d = _upstream(dloss, diff.dtype)
    return diff * (diff.dtype.type(2) * d * _mean_count(diff.size, diff.dtype))


# --------------------------------------------------------------------------- binary cross entropy

def bce_with_logits(logits, targets):
    """Mean binary cross entropy of targets in [0, 1] under sigmoid(logits).

    loss = mean( max(x, 0) - x * y + log(1 + exp(-|x|)) )
    which equals -[y log sigmoid(x) + (1 - y) log(1 - sigmoid(x))] without
    overflowing for large |x|.

    Args:
        logits: (...) float, one independent logit per label.
        targets: same shape, float probabilities (multi-hot 0/1 labels for
            multi-label classification); cast to logits.dtype.
    Returns:
        loss: 0-d array of logits.dtype; cache for bce_with_logits_backward.
    Matches: torch.nn.functional.binary_cross_entropy_with_logits (mean, no weights).
    """
    logits = _check_float("logits", logits)
    targets = np.asarray(targets)
    if logits.shape != targets.shape:
        raise ValueError(
            f"logits shape {logits.shape} and targets shape {targets.shape} must be equal "
            f"(one 0/1 target per logit)")
    if logits.size == 0:
        raise ValueError("bce_with_logits of an empty array is undefined; pass at least one element")
    y = targets.astype(logits.dtype, copy=False)
    per = np.maximum(logits, logits.dtype.type(0)) - logits * y + np.log1p(np.exp(-np.abs(logits)))
    loss = per.sum() * _mean_count(per.size, logits.dtype)
    return np.asarray(loss, dtype=logits.dtype), (logits, y)


def bce_with_logits_backward(dloss, cache):    # () -> (...)
    """d logits = dloss * (sigmoid(logits) - targets) / n."""
    logits, y = cache
    d = _upstream(dloss, logits.dtype)
    return (sigmoid(logits) - y) * (d * _mean_count(logits.size, logits.dtype))


# --------------------------------------------------------------------------- task losses

def infer_problem_type(num_labels, labels):
    """HF's rule: 1 label -> regression; integer labels -> single-label; else multi-label."""
    if num_labels == 1:
        return "regression"
    if np.issubdtype(np.asarray(labels).dtype, np.integer):
        return "single_label_classification"
    return "multi_label_classification"


def sequence_classification_loss(logits, labels, num_labels, problem_type=None):
    """The loss of AlbertForSequenceClassification, with its problem-type rule.

    problem_type, when None, is inferred as HF does:
        num_labels == 1                     -> "regression"        mse(squeeze(logits), squeeze(labels))
        num_labels > 1, integer labels      -> "single_label_classification"
                                               cross_entropy(logits.reshape(-1, K), labels.reshape(-1))
        otherwise (float labels)            -> "multi_label_classification"
                                               bce_with_logits(logits, labels)
    HF tests `labels.dtype in (torch.long, torch.int)`; here any NumPy integer
    dtype counts as integer.

    Args:
        logits: (B, num_labels) float.
        labels: (B,) int class ids, or (B,)/(B, 1) float targets for regression,
            or (B, num_labels) float 0/1 for multi-label.
        num_labels: config.num_labels.
        problem_type: config.problem_type, or None to infer.
    Returns:
        (loss, cache, problem_type).
    Matches: transformers AlbertForSequenceClassification.forward (loss part).
    """
    logits = _check_float("logits", logits)
    labels = np.asarray(labels)
    if not isinstance(num_labels, (int, np.integer)) or num_labels < 1:
        raise ValueError(f"num_labels must be a positive int, got {num_labels!r}")
    if problem_type is None:
        problem_type = infer_problem_type(num_labels, labels)
    if problem_type not in PROBLEM_TYPES:
        raise ValueError(f"problem_type must be one of {PROBLEM_TYPES} or None, got {problem_type!r}")

    if problem_type == "regression":
        if num_labels == 1:            # HF: loss_fct(logits.squeeze(), labels.squeeze())
            loss, inner = mse(np.squeeze(logits), np.squeeze(labels))
        else:
            loss, inner = mse(logits, labels)
    elif problem_type == "single_label_classification":
        loss, inner = cross_entropy(logits.reshape(-1, num_labels), labels.reshape(-1))
    else:
        loss, inner = bce_with_logits(logits, labels)
    return loss, (problem_type, inner, logits.shape), problem_type


def sequence_classification_loss_backward(dloss, cache):   # () -> (B, num_labels)
    """Gradient of sequence_classification_loss w.r.t. logits (logits' shape)."""
    problem_type, inner, shape = cache
    if problem_type == "regression":
        d = mse_backward(dloss, inner)
    elif problem_type == "single_label_classification":
        d = cross_entropy_backward(dloss, inner)
    else:
        d = bce_with_logits_backward(dloss, inner)
    return d.reshape(shape)


def question_answering_loss(start_logits, end_logits, start_positions, end_positions):
    """Span-extraction loss: mean of the start and end cross entropies.

    T = sequence length; positions are clamped to [0, T] and T is ignored, so
    answers cut off by truncation (position >= T) add nothing:
        loss = (CE(start_logits, clamp(start_positions, 0, T), ignore_index=T)
              + CE(end_logits,   clamp(end_positions,   0, T), ignore_index=T)) / 2
    Negative positions are clamped to 0 (the [CLS] "no answer" slot), as HF does.

    Args:
        start_logits, end_logits: (B, T) float.
        start_positions, end_positions: (B,) or (B, 1) integer token indices.
    Returns:
        loss: 0-d array; cache for question_answering_loss_backward.
    Matches: transformers AlbertForQuestionAnswering.forward (loss part).
    """
    start_logits = _check_float("start_logits", start_logits)
    end_logits = _check_float("end_logits", end_logits)
    if start_logits.ndim != 2 or start_logits.shape != end_logits.shape:
        raise ValueError(
            f"start_logits {start_logits.shape} and end_logits {end_logits.shape} must both "
            f"be (B, T)")
    T = start_logits.shape[1]
    positions = []
    for name, p in (("start_positions", start_positions), ("end_positions", end_positions)):
        p = np.asarray(p)
        if p.ndim > 1:                                                    # (B, 1) -> (B,)
            p = p.squeeze(-1)
        if p.shape != start_logits.shape[:1]:
            raise ValueError(
                f"{name} must have shape ({start_logits.shape[0]},), one index per example, "
                f"got {np.asarray(p).shape}")
        if not np.issubdtype(p.dtype, np.integer):
            raise TypeError(f"{name} must be integer token indices, got dtype {p.dtype}")
        positions.append(np.clip(p, 0, T))
    start_loss, start_cache = cross_entropy(start_logits, positions[0], ignore_index=T)
    end_loss, end_cache = cross_entropy(end_logits, positions[1], ignore_index=T)
    half = start_logits.dtype.type(0.5)
    loss = (start_loss + end_loss) * half
    return np.asarray(loss, dtype=start_logits.dtype), (start_cache, end_cache)


def question_answering_loss_backward(dloss, cache):    # () -> (B, T), (B, T)
    """Returns (d_start_logits, d_end_logits); each CE receives dloss / 2."""
    start_cache, end_cache = cache
    dtype = start_cache[0].dtype
    d_half = _upstream(dloss, dtype) * dtype.type(0.5)
    return cross_entropy_backward(d_half, start_cache), cross_entropy_backward(d_half, end_cache)
