"""What a user passes to a model, checked before any maths runs: the inputs
(check_inputs) and the labels of each head (check_labels, and one `<head>_labels`
function per row of heads.HEADS).

Bad input raises a ValueError / TypeError that says what is wrong and what to
do, never an IndexError from deep inside NumPy.
"""
import numpy as np

from .losses import infer_problem_type

INPUT_KEYS = ("input_ids", "attention_mask", "token_type_ids", "position_ids", "inputs_embeds", "head_mask")


def check_inputs(config, input_ids=None, attention_mask=None, token_type_ids=None,
                 position_ids=None, inputs_embeds=None, head_mask=None):
    """Validate a model's inputs; return them as a dict of NumPy arrays (INPUT_KEYS)."""
    if (input_ids is None) == (inputs_embeds is None):
        raise ValueError("pass exactly one of input_ids or inputs_embeds "
                         f"(got {'both' if input_ids is not None else 'neither'})")
    if input_ids is not None:
        input_ids = _int_array("input_ids", input_ids)
        if input_ids.ndim == 1:
            raise ValueError(f"input_ids must be 2-D (batch, tokens), got shape {input_ids.shape}; "
                             f"for one sequence use input_ids[None] or return_tensors='np'")
        if input_ids.ndim != 2:
            raise ValueError(f"input_ids must be 2-D (batch, tokens), got shape {input_ids.shape}")
        shape = input_ids.shape
        if input_ids.size and (input_ids.min() < 0 or input_ids.max() >= config.vocab_size):
            bad = input_ids[(input_ids < 0) | (input_ids >= config.vocab_size)][0]
            raise ValueError(f"input_ids holds id {bad}, outside the vocabulary [0, {config.vocab_size}); "
                             f"was the text tokenized with this model's tokenizer?")
    else:
        inputs_embeds = np.asarray(inputs_embeds)
        if not np.issubdtype(inputs_embeds.dtype, np.floating):
            raise TypeError(f"inputs_embeds must be floating point, got dtype {inputs_embeds.dtype}")
        if inputs_embeds.ndim != 3 or inputs_embeds.shape[-1] != config.embedding_size:
            raise ValueError(f"inputs_embeds must have shape (batch, tokens, embedding_size="
                             f"{config.embedding_size}), got {inputs_embeds.shape}")
        shape = inputs_embeds.shape[:2]
        if not np.all(np.isfinite(inputs_embeds)):
            raise ValueError("inputs_embeds holds nan or inf values: every embedding must be a finite number")
    B, T = shape
    if T == 0:
        raise ValueError("the input has no tokens (sequence length 0)")
    if T > config.max_position_embeddings and position_ids is None:
        raise ValueError(f"sequence length {T} exceeds max_position_embeddings="
                         f"{config.max_position_embeddings}; truncate the input "
                         f"(tokenizer(..., truncation=True, max_length={config.max_position_embeddings}))")
    if attention_mask is not None:
        attention_mask = _int_array("attention_mask", attention_mask, allow_bool=True, allow_float=True)
        if attention_mask.shape != shape:
            raise ValueError(f"attention_mask has shape {attention_mask.shape} but the input is {shape}; "
                             f"it needs one 0/1 entry per token")
        if attention_mask.size and not np.all((attention_mask == 0) | (attention_mask == 1)):
            raise ValueError(f"attention_mask must hold only 0 (padding) and 1 (a token), got values "
                             f"{np.unique(attention_mask).tolist()[:10]}")
    if token_type_ids is not None:
        token_type_ids = _int_array("token_type_ids", token_type_ids)
        if token_type_ids.shape != shape:
            raise ValueError(f"token_type_ids has shape {token_type_ids.shape} but the input is {shape}")
        if token_type_ids.size and (token_type_ids.min() < 0 or token_type_ids.max() >= config.type_vocab_size):
            raise ValueError(f"token_type_ids must lie in [0, {config.type_vocab_size}), "
                             f"got values {np.unique(token_type_ids).tolist()}")
    if position_ids is not None:
        position_ids = _int_array("position_ids", position_ids)
        if position_ids.ndim == 1:
            position_ids = position_ids[None]
        if position_ids.shape[-1] != T or position_ids.shape[0] not in (1, B):
            raise ValueError(f"position_ids has shape {position_ids.shape}; expected ({B}, {T}) or (1, {T})")
        if position_ids.size and (position_ids.min() < 0 or position_ids.max() >= config.max_position_embeddings):
            raise ValueError(f"position_ids must lie in [0, {config.max_position_embeddings}), "
                             f"got max {position_ids.max()} / min {position_ids.min()}")
    if head_mask is not None:
        head_mask = np.asarray(head_mask)
        A, L = config.num_attention_heads, config.num_hidden_layers
        if head_mask.shape not in ((A,), (L, A)):
            raise ValueError(f"head_mask must have shape ({A},) or ({L}, {A}), got {head_mask.shape}")
    return {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids,
            "position_ids": position_ids, "inputs_embeds": inputs_embeds, "head_mask": head_mask}


def _int_array(name, value, allow_bool=False, allow_float=False):
    arr = np.asarray(value)
    if arr.dtype == object:
        raise TypeError(f"{name} must be a rectangular array of ints; got ragged or mixed data "
                        f"(pad the batch: tokenizer(..., padding=True))")
    if np.issubdtype(arr.dtype, np.integer):
        return arr
    if allow_bool and arr.dtype == np.bool_:
        return arr.astype(np.int64)
    if allow_float and np.issubdtype(arr.dtype, np.floating):
        if not np.all((arr == 0) | (arr == 1)):
            raise ValueError(f"{name} must hold only 0 and 1, got other values")
        return arr.astype(np.int64)
    raise TypeError(f"{name} must hold integers, got dtype {arr.dtype}")


def flatten_choices(input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None,
                    inputs_embeds=None, head_mask=None):
    """Multiple-choice inputs (B, C, T) -> (B*C, T): every choice is one sequence.

    Returns (inputs dict, C). position_ids may stay (T,) / (1, T), shared by all rows.
    """
    ref = input_ids if input_ids is not None else inputs_embeds
    if (input_ids is None) == (inputs_embeds is None):
        raise ValueError("pass exactly one of input_ids or inputs_embeds "
                         f"(got {'both' if input_ids is not None else 'neither'})")
    ref = np.asarray(ref)
    want = 3 if input_ids is not None else 4
    if ref.ndim != want:
        raise ValueError(f"multiple choice inputs must be (batch, choices, tokens"
                         f"{', embedding_size' if want == 4 else ''}), got shape {ref.shape}")
    B, C = ref.shape[:2]
    out = {"position_ids": position_ids, "head_mask": head_mask}
    for k, v in (("input_ids", input_ids), ("attention_mask", attention_mask),
                 ("token_type_ids", token_type_ids), ("inputs_embeds", inputs_embeds)):
        if v is not None:
            v = np.asarray(v)
            if v.shape[:2] != (B, C):
                raise ValueError(f"{k} has shape {v.shape}; expected ({B}, {C}, ...) like the inputs")
            v = v.reshape(B * C, *v.shape[2:])
        out[k] = v
    if position_ids is not None and np.ndim(position_ids) == 3:
        out["position_ids"] = np.asarray(position_ids).reshape(B * C, -1)
    return out, C


# ======================================================================= labels
def check_labels(spec, config, labels, B, T, dtype, hf_view=False):
    """The labels dict of a head (`spec`, its row of heads.HEADS), checked: known keys only,
    shapes and dtypes right. B, T: the batch's rows and tokens; hf_view: see int_labels."""
    if not isinstance(labels, dict):
        raise TypeError(f"labels must be a dict with keys among {spec.label_keys}, got {type(labels).__name__}")
    unknown = sorted(set(labels) - set(spec.label_keys))
    if unknown:
        raise ValueError(f"labels for {spec.model_class} take keys {list(spec.label_keys)}; got unknown {unknown}")
    return spec.check_labels(config, {k: v for k, v in labels.items() if v is not None}, B, T, dtype, hf_view)


def int_labels(name, value, shape, hf_view=False):
    """`value` as an integer array of `shape`, or a clear error.

    hf_view: also accept any array with as many elements (reshaped), as
    transformers' heads do with labels.view(-1); the model classes use it.
    """
    a = np.asarray(value)
    if not np.issubdtype(a.dtype, np.integer):
        raise TypeError(f"{name} must hold integers (class indices), got dtype {a.dtype}")
    return _shaped(name, a, [shape], hf_view)


def float_labels(name, value, shapes, dtype, hf_view=False):
    """`value` as a `dtype` array of one of `shapes`, or a clear error."""
    a = np.asarray(value)
    if not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer) or a.dtype == np.bool_):
        raise TypeError(f"{name} must be numbers, got dtype {a.dtype}")
    return _shaped(name, a, shapes, hf_view).astype(dtype, copy=False)


def _shaped(name, a, shapes, hf_view):
    shapes = [tuple(s) for s in shapes]
    if a.shape in shapes:
        return a
    if hf_view and a.size == int(np.prod(shapes[0])):
        return a.reshape(shapes[0])
    raise ValueError(f"{name} has shape {a.shape}; expected " + " or ".join(map(str, shapes)))


def require_labels(head, labels, keys, hint):
    """A ValueError saying what labels= head `head` needs when any of `keys` is missing."""
    missing = [k for k in keys if k not in labels]
    if missing:
        raise ValueError(f"head {head!r} needs labels={hint}")


def encoder_labels(config, labels, B, T, dtype, hf_view=False):
    """Upstream gradients stand in for labels: the loss is sum(d * output), so the
    gradients are a vector-Jacobian product (a custom head's backward plugs in here)."""
    H = config.hidden_size
    if not labels:
        raise ValueError("head None needs labels={'d_last_hidden_state': (B, T, H)} "
                         "and/or {'d_pooler_output': (B, H)}: the upstream gradients")
    out = {}
    if "d_last_hidden_state" in labels:
        out["d_last_hidden_state"] = float_labels("d_last_hidden_state", labels["d_last_hidden_state"],
                                                  [(B, T, H)], dtype)
    if "d_pooler_output" in labels:
        out["d_pooler_output"] = float_labels("d_pooler_output", labels["d_pooler_output"], [(B, H)], dtype)
    return out


def check_mlm_labels(config, labels, B, T, dtype, hf_view=False):
    """labels (B, T) with -100 where nothing is predicted, or the gathered form
    mlm_positions + mlm_ids (+ mlm_weights 0/1) (B, P). Returns {"mlm_labels"[, "mlm_positions"]}."""
    gathered = [k for k in ("mlm_positions", "mlm_ids", "mlm_weights") if k in labels]
    out = {}
    if gathered:
        if "labels" in labels:
            raise ValueError("give either labels (B, T) or mlm_positions + mlm_ids, not both")
        if "mlm_positions" not in labels or "mlm_ids" not in labels:
            raise ValueError("the gathered MLM loss needs both mlm_positions and mlm_ids (B, P)")
        pos = np.asarray(labels["mlm_positions"])
        if pos.ndim != 2 or pos.shape[0] != B:
            raise ValueError(f"mlm_positions has shape {pos.shape}; expected ({B}, P)")
        P = pos.shape[1]
        pos = int_labels("mlm_positions", pos, (B, P))
        if pos.size and (pos.min() < 0 or pos.max() >= T):
            raise ValueError(f"mlm_positions must lie in [0, {T}), got min {pos.min()} max {pos.max()}")
        ids = int_labels("mlm_ids", labels["mlm_ids"], (B, P))
        if "mlm_weights" in labels:
            w = float_labels("mlm_weights", labels["mlm_weights"], [(B, P)], dtype)
            if not np.all((w == 0) | (w == 1)):
                raise ValueError("mlm_weights must be 0 (padding slot) or 1 (a real prediction)")
            ids = np.where(w == 1, ids, -100)
        out["mlm_positions"], out["mlm_labels"] = pos, ids
    elif "labels" in labels:
        out["mlm_labels"] = int_labels("labels", labels["labels"], (B, T), hf_view)
    return out


def mlm_labels(config, labels, B, T, dtype, hf_view=False):
    out = check_mlm_labels(config, labels, B, T, dtype, hf_view)
    if not out:
        raise ValueError("head 'mlm' needs labels: 'labels' (B, T) or mlm_positions + mlm_ids")
    return out


def pretraining_labels(config, labels, B, T, dtype, hf_view=False):
    out = check_mlm_labels(config, labels, B, T, dtype, hf_view)
    if "sentence_order_label" in labels:
        out["sentence_order_label"] = int_labels("sentence_order_label", labels["sentence_order_label"],
                                                 (B,), hf_view)
    if not out:
        raise ValueError("head 'pretraining' needs labels: 'labels' (B, T) or mlm_positions + mlm_ids, "
                         "and/or 'sentence_order_label' (B,)")
    return out


def sequence_labels(config, labels, B, T, dtype, hf_view=False):
    """(B,) ints; (B,) / (B, 1) floats (regression); (B, num_labels) floats (multi-label).
    The problem type is config.problem_type, or inferred as transformers does."""
    require_labels("sequence", labels, ("labels",), "{'labels': ...}")
    y = np.asarray(labels["labels"])
    n = config.num_labels
    ptype = config.problem_type or infer_problem_type(n, y)
    if ptype == "single_label_classification":
        y = int_labels("labels", y, (B,), hf_view)
    elif ptype == "multi_label_classification":
        y = float_labels("labels", y, [(B, n)], dtype, hf_view)
    else:
        y = float_labels("labels", y, [(B,), (B, 1)] if n == 1 else [(B, n)], dtype, hf_view)
    return {"labels": y, "problem_type": ptype}


def token_labels(config, labels, B, T, dtype, hf_view=False):
    require_labels("token", labels, ("labels",), "{'labels': (B, T) ints, -100 = ignored}")
    return {"labels": int_labels("labels", labels["labels"], (B, T), hf_view)}


def qa_labels(config, labels, B, T, dtype, hf_view=False):
    out = {}
    for k in ("start_positions", "end_positions"):
        require_labels("qa", labels, (k,), "{'start_positions': (B,), 'end_positions': (B,)}")
        a = np.asarray(labels[k])
        out[k] = int_labels(k, a.reshape(B) if a.shape == (B, 1) else a, (B,), hf_view)
    return out


def multiple_choice_labels(config, labels, B, T, dtype, hf_view=False):
    require_labels("multiple_choice", labels, ("labels",), "{'labels': (B,) ints in [0, C)}")
    return {"labels": int_labels("labels", labels["labels"], (B,), hf_view)}
