"""The heads of ALBERT, one table: what each head computes on top of the encoder.

For every head, HEADS[name] (a `Head`) defines once:
    shapes(config)                     its own weights: {HF state-dict name: shape}
    forward(params, config, enc, ...)  its outputs from the encoder's (model.py functions)
    backward(d_outputs, cache, grads)  -> (d_last_hidden_state, d_pooler_output) (backprop.py)
    check_labels(config, labels, ...)  the labels it trains on, checked, with HF's names
    loss(config, outputs, labels)      -> (loss, cache), HF's loss conventions (losses.py)
    loss_backward(cache)               -> d_outputs
The model classes (modeling.py), the training loop (train.py, via loss_and_grads
below) and the checkpoint code (params.expected_shapes) read this table; none
of them branches on head names.

Head names (the `head` of each model class):
    None               AlbertModel                        last_hidden_state, pooler_output
    "pretraining"      AlbertForPreTraining               prediction_logits, sop_logits
    "mlm"              AlbertForMaskedLM                  logits (B, T, V)
    "sequence"         AlbertForSequenceClassification    logits (B, num_labels)
    "token"            AlbertForTokenClassification       logits (B, T, num_labels)
    "qa"               AlbertForQuestionAnswering         start_logits, end_logits (B, T)
    "multiple_choice"  AlbertForMultipleChoice            logits (B, C)

Dimension legend: B batch, T tokens, C choices, H hidden_size, E embedding_size,
V vocab, P gathered MLM positions per sequence.
"""
from typing import Callable, NamedTuple

import numpy as np

from . import backprop, losses
from .inputs import INPUT_KEYS, check_inputs, flatten_choices
from .model import albert_model, classifier_head, gather_positions, mlm_head, question_answering_head
from .ops import activation, child
from .params import encoder_shapes, flatten, named_parameters, zeros_like_params


class Head(NamedTuple):
    model_class: str          # the transformers class this head belongs to
    pooler: bool              # whether that class has a pooler
    classifier: bool          # whether it applies classifier dropout (classifier_dropout)
    choices: bool             # inputs are (B, C, T): C choices per example, run as B*C rows
    shapes: Callable          # config -> {name: shape} of the head's own weights
    forward: Callable         # (params, config, enc, rng, cache, mlm_positions, num_choices) -> outputs
    backward: Callable        # (d_outputs, cache, grads) -> (d_last_hidden_state, d_pooler_output)
    label_keys: tuple         # the keys of its labels dict
    check_labels: Callable    # (config, labels, B, T, dtype, hf_view) -> checked labels dict
    loss: Callable            # (config, outputs, checked labels) -> (loss 0-d array, cache)
    loss_backward: Callable   # cache -> d_outputs
    items: Callable           # (labels, rows) -> {loss term: how many items it is a mean over}


def classifier_dropout(config):
    """classifier_dropout_prob, or hidden_dropout_prob when it is None (transformers' rule)."""
    p = config.classifier_dropout_prob
    return config.hidden_dropout_prob if p is None else p


# ===================================================================== label checks
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


def _require(head, labels, keys, hint):
    missing = [k for k in keys if k not in labels]
    if missing:
        raise ValueError(f"head {head!r} needs labels={hint}")


# ============================================================== the bare encoder: None
def no_shapes(config):
    return {}


def encoder_forward(params, config, enc, rng=None, cache=None, mlm_positions=None, num_choices=None):
    return {"last_hidden_state": enc["last_hidden_state"], "pooler_output": enc["pooler_output"]}


def encoder_backward(d, cache, grads):
    return d.get("last_hidden_state"), d.get("pooler_output")


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


def encoder_loss(config, outputs, labels):
    loss, d = 0.0, {}
    for key in ("last_hidden_state", "pooler_output"):
        g = labels.get("d_" + key)
        if g is not None:
            if outputs[key] is None:
                raise ValueError(f"d_{key} given but the model has no {key}")
            loss += float(np.sum(g * outputs[key]))
            d[key] = g
    return np.asarray(loss), d


def identity(cache):
    return cache


# ====================================================================== masked LM
def mlm_shapes(config):
    E, H, V = config.embedding_size, config.hidden_size, config.vocab_size
    return {"predictions.bias": (V,), "predictions.dense.weight": (E, H), "predictions.dense.bias": (E,),
            "predictions.LayerNorm.weight": (E,), "predictions.LayerNorm.bias": (E,),
            "predictions.decoder.weight": (V, E), "predictions.decoder.bias": (V,)}


def mlm_logits(params, config, h, mlm_positions=None, cache=None):   # (B, T, H) -> (B, T or P, V)
    """The MLM head on every token, or only at mlm_positions (B, P) when given."""
    if mlm_positions is not None:
        h = gather_positions(h, mlm_positions, cache=child(cache, "gather"))    # (B, P, H)
    return mlm_head(h, **params["predictions"], act=activation(config.hidden_act), eps=config.layer_norm_eps,
                    cache=child(cache, "predictions"))


def mlm_logits_backward(d_logits, cache, grads):   # (B, T or P, V) -> (B, T, H)
    dh = backprop.mlm_head_backward(d_logits, cache["predictions"], grads["predictions"])
    if "gather" in cache:
        dh = backprop.gather_positions_backward(dh, cache["gather"])
    return dh


def mlm_forward(params, config, enc, rng=None, cache=None, mlm_positions=None, num_choices=None):
    return {"logits": mlm_logits(params, config, enc["last_hidden_state"], mlm_positions, cache)}


def mlm_backward(d, cache, grads):
    return mlm_logits_backward(d["logits"], cache, grads), None


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


def mlm_loss(config, outputs, labels):
    loss, cache = losses.cross_entropy(outputs["logits"], labels["mlm_labels"])
    return loss, cache


def mlm_loss_backward(cache):
    return {"logits": losses.cross_entropy_backward(1.0, cache)}


# ==================================================== pretraining: MLM + sentence order
def pretraining_shapes(config):
    # HF sizes the SOP classifier by num_labels (2 in every released config)
    n, H = config.num_labels, config.hidden_size
    return {**mlm_shapes(config), "sop_classifier.classifier.weight": (n, H),
            "sop_classifier.classifier.bias": (n,)}


def pretraining_forward(params, config, enc, rng=None, cache=None, mlm_positions=None, num_choices=None):
    logits = mlm_logits(params, config, enc["last_hidden_state"], mlm_positions, cache)   # (B, T or P, V)
    sop = classifier_head(enc["pooler_output"], **params["sop_classifier"]["classifier"],
                          dropout_p=classifier_dropout(config), rng=rng, cache=child(cache, "sop"))  # (B, 2)
    return {"prediction_logits": logits, "sop_logits": sop}


def pretraining_backward(d, cache, grads):
    dh = dpool = None
    if d.get("prediction_logits") is not None:
        dh = mlm_logits_backward(d["prediction_logits"], cache, grads)
    if d.get("sop_logits") is not None:
        dpool = backprop.classifier_head_backward(d["sop_logits"], cache["sop"],
                                                  grads["sop_classifier"]["classifier"])
    return dh, dpool


def pretraining_labels(config, labels, B, T, dtype, hf_view=False):
    out = check_mlm_labels(config, labels, B, T, dtype, hf_view)
    if "sentence_order_label" in labels:
        out["sentence_order_label"] = int_labels("sentence_order_label", labels["sentence_order_label"],
                                                 (B,), hf_view)
    if not out:
        raise ValueError("head 'pretraining' needs labels: 'labels' (B, T) or mlm_positions + mlm_ids, "
                         "and/or 'sentence_order_label' (B,)")
    return out


def pretraining_loss(config, outputs, labels):
    """MLM CE + SOP CE (HF), each term only when its labels are given."""
    total, cache, terms = 0.0, {}, {}
    if "mlm_labels" in labels:
        loss, cache["prediction_logits"] = losses.cross_entropy(outputs["prediction_logits"], labels["mlm_labels"])
        total, terms["prediction_logits"] = total + loss, float(loss)
    if "sentence_order_label" in labels:
        loss, cache["sop_logits"] = losses.cross_entropy(outputs["sop_logits"], labels["sentence_order_label"])
        total, terms["sop_logits"] = total + loss, float(loss)
    cache["terms"] = terms          # each term's own mean (loss_and_grads weights them)
    return total, cache


def pretraining_loss_backward(cache):
    return {k: losses.cross_entropy_backward(1.0, c) for k, c in cache.items() if k != "terms"}


# ================================================= sequence classification (pooled)
def classifier_shapes(config):
    return {"classifier.weight": (config.num_labels, config.hidden_size), "classifier.bias": (config.num_labels,)}


def sequence_forward(params, config, enc, rng=None, cache=None, mlm_positions=None, num_choices=None):
    return {"logits": classifier_head(enc["pooler_output"], **params["classifier"],    # (B, num_labels)
                                      dropout_p=classifier_dropout(config), rng=rng,
                                      cache=child(cache, "classifier"))}


def sequence_backward(d, cache, grads):
    return None, backprop.classifier_head_backward(d["logits"], cache["classifier"], grads["classifier"])


def sequence_labels(config, labels, B, T, dtype, hf_view=False):
    """(B,) ints; (B,) / (B, 1) floats (regression); (B, num_labels) floats (multi-label).
    The problem type is config.problem_type, or inferred as transformers does."""
    _require("sequence", labels, ("labels",), "{'labels': ...}")
    y = np.asarray(labels["labels"])
    n = config.num_labels
    ptype = config.problem_type or losses.infer_problem_type(n, y)
    if ptype == "single_label_classification":
        y = int_labels("labels", y, (B,), hf_view)
    elif ptype == "multi_label_classification":
        y = float_labels("labels", y, [(B, n)], dtype, hf_view)
    else:
        y = float_labels("labels", y, [(B,), (B, 1)] if n == 1 else [(B, n)], dtype, hf_view)
    return {"labels": y, "problem_type": ptype}


def sequence_loss(config, outputs, labels):
    loss, cache, _ = losses.sequence_classification_loss(outputs["logits"], labels["labels"], config.num_labels,
                                                         labels["problem_type"])
    return loss, cache


def sequence_loss_backward(cache):
    return {"logits": losses.sequence_classification_loss_backward(1.0, cache)}


# ========================================================= token classification
def token_forward(params, config, enc, rng=None, cache=None, mlm_positions=None, num_choices=None):
    return {"logits": classifier_head(enc["last_hidden_state"], **params["classifier"],   # (B, T, num_labels)
                                      dropout_p=classifier_dropout(config), rng=rng,
                                      cache=child(cache, "classifier"))}


def token_backward(d, cache, grads):
    return backprop.classifier_head_backward(d["logits"], cache["classifier"], grads["classifier"]), None


def token_labels(config, labels, B, T, dtype, hf_view=False):
    _require("token", labels, ("labels",), "{'labels': (B, T) ints, -100 = ignored}")
    return {"labels": int_labels("labels", labels["labels"], (B, T), hf_view)}


def cross_entropy_loss(config, outputs, labels):
    return losses.cross_entropy(outputs["logits"], labels["labels"])


def cross_entropy_loss_backward(cache):
    return {"logits": losses.cross_entropy_backward(1.0, cache)}


# ========================================================= question answering
def qa_shapes(config):
    return {"qa_outputs.weight": (config.num_labels, config.hidden_size), "qa_outputs.bias": (config.num_labels,)}


def qa_forward(params, config, enc, rng=None, cache=None, mlm_positions=None, num_choices=None):
    start, end = question_answering_head(enc["last_hidden_state"], **params["qa_outputs"],
                                         cache=child(cache, "qa_outputs"))     # (B, T), (B, T)
    return {"start_logits": start, "end_logits": end}


def qa_backward(d, cache, grads):
    return backprop.question_answering_head_backward(d["start_logits"], d["end_logits"], cache["qa_outputs"],
                                                     grads["qa_outputs"]), None


def qa_labels(config, labels, B, T, dtype, hf_view=False):
    out = {}
    for k in ("start_positions", "end_positions"):
        _require("qa", labels, (k,), "{'start_positions': (B,), 'end_positions': (B,)}")
        a = np.asarray(labels[k])
        out[k] = int_labels(k, a.reshape(B) if a.shape == (B, 1) else a, (B,), hf_view)
    return out


def qa_loss(config, outputs, labels):
    return losses.question_answering_loss(outputs["start_logits"], outputs["end_logits"],
                                          labels["start_positions"], labels["end_positions"])


def qa_loss_backward(cache):
    ds, de = losses.question_answering_loss_backward(1.0, cache)
    return {"start_logits": ds, "end_logits": de}


# ============================================================= multiple choice
def multiple_choice_shapes(config):
    return {"classifier.weight": (1, config.hidden_size), "classifier.bias": (1,)}


def multiple_choice_forward(params, config, enc, rng=None, cache=None, mlm_positions=None, num_choices=None):
    """One score per (question, choice) row of the B*C batch, then (B*C, 1) -> (B, C)."""
    logits = classifier_head(enc["pooler_output"], **params["classifier"], dropout_p=classifier_dropout(config),
                             rng=rng, cache=child(cache, "classifier"))
    return {"logits": logits.reshape(-1, num_choices)}


def multiple_choice_backward(d, cache, grads):
    d_rows = d["logits"].reshape(-1, 1)                    # (B, C) -> (B*C, 1)
    return None, backprop.classifier_head_backward(d_rows, cache["classifier"], grads["classifier"])


def multiple_choice_labels(config, labels, B, T, dtype, hf_view=False):
    _require("multiple_choice", labels, ("labels",), "{'labels': (B,) ints in [0, C)}")
    return {"labels": int_labels("labels", labels["labels"], (B,), hf_view)}


# ============================================= what each loss term is a mean over
def masked_tokens(labels):
    """The MLM predictions of a batch: mlm_weights 1, gathered ids, or labels != -100."""
    if "mlm_weights" in labels:
        return int(np.sum(np.asarray(labels["mlm_weights"]) > 0))
    if "mlm_ids" in labels:
        return int(np.asarray(labels["mlm_ids"]).size)
    if "labels" in labels:
        return int(np.sum(np.asarray(labels["labels"]) != -100))
    return 0                                        # no MLM term (pretraining: SOP alone)


def mlm_items(labels, rows):
    return {"loss": masked_tokens(labels)}


def pretraining_items(labels, rows):
    return {"prediction_logits": masked_tokens(labels), "sop_logits": rows}


def token_items(labels, rows):
    _require("token", labels, ("labels",), "{'labels': (B, T) ints, -100 = ignored}")
    return {"loss": int(np.sum(np.asarray(labels["labels"]) != -100))}


def row_items(labels, rows):
    return {"loss": rows}


def encoder_items(labels, rows):
    raise ValueError("head None has no loss to average: train a head among "
                     "('pretraining', 'mlm', 'sequence', 'token', 'qa', 'multiple_choice')")


# ==================================================================== the table
HEADS = {
    None: Head(
        model_class="AlbertModel", pooler=True, classifier=False, choices=False, shapes=no_shapes,
        forward=encoder_forward, backward=encoder_backward,
        label_keys=("d_last_hidden_state", "d_pooler_output"), check_labels=encoder_labels,
        loss=encoder_loss, loss_backward=identity, items=encoder_items),
    "pretraining": Head(
        model_class="AlbertForPreTraining", pooler=True, classifier=True, choices=False,
        shapes=pretraining_shapes, forward=pretraining_forward, backward=pretraining_backward,
        label_keys=("labels", "sentence_order_label", "mlm_positions", "mlm_ids", "mlm_weights"),
        check_labels=pretraining_labels, loss=pretraining_loss, loss_backward=pretraining_loss_backward,
        items=pretraining_items),
    "mlm": Head(
        model_class="AlbertForMaskedLM", pooler=False, classifier=False, choices=False,
        shapes=mlm_shapes, forward=mlm_forward, backward=mlm_backward,
        label_keys=("labels", "mlm_positions", "mlm_ids", "mlm_weights"),
        check_labels=mlm_labels, loss=mlm_loss, loss_backward=mlm_loss_backward, items=mlm_items),
    "sequence": Head(
        model_class="AlbertForSequenceClassification", pooler=True, classifier=True, choices=False,
        shapes=classifier_shapes, forward=sequence_forward, backward=sequence_backward,
        label_keys=("labels",), check_labels=sequence_labels, loss=sequence_loss,
        loss_backward=sequence_loss_backward, items=row_items),
    "token": Head(
        model_class="AlbertForTokenClassification", pooler=False, classifier=True, choices=False,
        shapes=classifier_shapes, forward=token_forward, backward=token_backward,
        label_keys=("labels",), check_labels=token_labels, loss=cross_entropy_loss,
        loss_backward=cross_entropy_loss_backward, items=token_items),
    "qa": Head(
        model_class="AlbertForQuestionAnswering", pooler=False, classifier=False, choices=False,
        shapes=qa_shapes, forward=qa_forward, backward=qa_backward,
        label_keys=("start_positions", "end_positions"), check_labels=qa_labels, loss=qa_loss,
        loss_backward=qa_loss_backward, items=row_items),
    "multiple_choice": Head(
        model_class="AlbertForMultipleChoice", pooler=True, classifier=True, choices=True,
        shapes=multiple_choice_shapes, forward=multiple_choice_forward, backward=multiple_choice_backward,
        label_keys=("labels",), check_labels=multiple_choice_labels, loss=cross_entropy_loss,
        loss_backward=cross_entropy_loss_backward, items=row_items),
}


def get_head(head):
    """HEADS[head], or a ValueError listing the head names."""
    if head not in HEADS:
        raise ValueError(f"head must be one of {tuple(HEADS)}, got {head!r}")
    return HEADS[head]


def check_labels(config, head, labels, B, T, dtype, hf_view=False):
    """The labels dict of `head`, checked: known keys only, shapes and dtypes right."""
    spec = get_head(head)
    if not isinstance(labels, dict):
        raise TypeError(f"labels must be a dict with keys among {spec.label_keys}, got {type(labels).__name__}")
    unknown = sorted(set(labels) - set(spec.label_keys))
    if unknown:
        raise ValueError(f"labels for head {head!r} take keys {list(spec.label_keys)}; got unknown {unknown}")
    return spec.check_labels(config, {k: v for k, v in labels.items() if v is not None}, B, T, dtype, hf_view)


# =========================================================== one training step's maths
def prepare_inputs(config, head, inputs):
    """Validate an inputs dict as the model classes do; multiple-choice (B, C, T) inputs
    become (B*C, T). Returns (checked inputs dict, C or None)."""
    if not isinstance(inputs, dict):
        raise TypeError(f"inputs must be a dict with keys among {INPUT_KEYS}, got {type(inputs).__name__}")
    unknown = sorted(set(inputs) - set(INPUT_KEYS))
    if unknown:
        raise ValueError(f"inputs has unknown keys {unknown}; expected some of {list(INPUT_KEYS)} "
                         f"(labels go in the labels dict)")
    args, C = flatten_choices(**inputs) if get_head(head).choices else (dict(inputs), None)
    return check_inputs(config, **args), C


def run_model(params, config, head, args, num_choices=None, rng=None, cache=None, mlm_positions=None,
              skip_padding=False):
    """Encoder + head on checked inputs (see prepare_inputs). Returns the head's outputs.

    rng: dropout on (training). cache: a dict to fill for model_backward.
    mlm_positions: (B, P), run the MLM head only there. skip_padding: see
    model.albert_model (inference; the outputs at padding positions are not computed).
    """
    enc = albert_model(params["albert"] if head else params, config, **args, rng=rng,
                       skip_padding=skip_padding, cache=child(cache, "encoder"))
    out = HEADS[head].forward(params, config, enc, rng, cache, mlm_positions, num_choices)
    if cache is not None:
        cache.update(head=head, num_choices=num_choices)
    return out


def model_forward(params, config, head, inputs, rng=None, cache=None, mlm_positions=None):
    """prepare_inputs, then run_model: params of the class for `head` (the bare encoder
    dict for None); inputs: input_ids / attention_mask / token_type_ids / position_ids /
    inputs_embeds / head_mask ((B, C, T) for multiple_choice)."""
    get_head(head)
    args, C = prepare_inputs(config, head, inputs)
    return run_model(params, config, head, args, C, rng, cache, mlm_positions)


def model_backward(d_outputs, cache, grads):
    """Backward of run_model: d_outputs has the outputs' keys (missing ones count as 0).

    grads: params.zeros_like_params(params) (nested, tied), accumulated into.
    Returns d_inputs_embeds ((B, T, E), or (B, C, T, E) for multiple choice) when
    the forward ran on inputs_embeds, else None.
    """
    head = cache["head"]
    dh, dpool = HEADS[head].backward(d_outputs, cache, grads)
    if dh is None and dpool is None:
        raise ValueError(f"no upstream gradient given for the outputs of head {head!r}")
    d_emb = backprop.albert_model_backward(dh, dpool, cache["encoder"], grads["albert"] if head else grads)
    if d_emb is not None and cache["num_choices"] is not None:
        d_emb = d_emb.reshape(-1, cache["num_choices"], *d_emb.shape[1:])
    return d_emb


def loss_items(head, labels):
    """How many items each loss term of one batch is a mean over, labels as loss_and_grads takes them.

    pretraining: {"prediction_logits": masked tokens ("mlm_weights" 1, or labels != -100),
                  "sop_logits": rows}
    other heads: {"loss": masked tokens (mlm), labelled tokens (token: labels != -100),
                  or rows (sequence, multiple_choice, qa)}
    The training loop weights each shard's terms by their share of a step's items.
    """
    spec = get_head(head)
    given = [v for v in labels.values() if v is not None] if isinstance(labels, dict) else []
    if not given:
        raise ValueError(f"head {head!r} trains on labels with keys among {list(spec.label_keys)}; got {labels!r}")
    return spec.items(labels, len(given[0]))


def loss_and_grads(params, config, head, inputs, labels, rng=None, training=False, weights=None):
    """Forward, loss and backward in one call: the entry point of the training loop.

    params: model.params of the class for `head` (nested; the MLM decoder tied to
        the word embeddings as the classes build it); not modified.
    head: a key of HEADS. inputs: as model_forward.
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
                         upstream gradients; loss = sum(d * output)
    rng: numpy Generator for dropout; training: apply dropout (needs rng when any p > 0).
    weights: None, or {term: w} (the keys of loss_items): each loss term, and its
        gradient, multiplied by w, the shard's share of the term's items over a whole step;
        a term with w = 0 adds nothing (not even a nan loss). The returned loss is
        sum(w * term), so the weighted losses of a step's shards add up to its loss.
    Returns (loss: float, outputs: dict named as the model classes name them,
        grads: {HF name: array}), one gradient per distinct parameter, named as
        params.named_parameters(params) (the tied decoder's gradient is summed into
        the word embeddings' and predictions.bias's), each of its parameter's shape and dtype.
    Raises ValueError / TypeError for inputs or labels of the wrong shape or dtype.
    """
    spec = get_head(head)
    args, C = prepare_inputs(config, head, inputs)
    drops = [config.hidden_dropout_prob, config.attention_probs_dropout_prob]
    if spec.classifier:
        drops.append(classifier_dropout(config))
    if training and rng is None and any(drops):
        raise ValueError(f"training with dropout (p={max(drops)}) needs rng=np.random.default_rng(seed)")
    dtype = (params["albert"] if head else params)["embeddings"]["word_embeddings"]["weight"].dtype
    ref = args["input_ids"] if args["input_ids"] is not None else args["inputs_embeds"]
    B, T = ref.shape[:2]
    lab = check_labels(config, head, labels, B // (C or 1), T, dtype)
    cache = {}
    outputs = run_model(params, config, head, args, C, rng if training else None, cache, lab.get("mlm_positions"))
    loss, loss_cache = spec.loss(config, outputs, lab)
    d_outputs = spec.loss_backward(loss_cache)
    if weights is not None:
        if isinstance(loss_cache, dict) and "terms" in loss_cache:       # pretraining: MLM + SOP
            w, terms = weights, loss_cache["terms"]
        else:                                                            # one term: all outputs share it
            w = {k: weights["loss"] for k in d_outputs}
            terms = {"loss": float(loss)}
            w["loss"] = weights["loss"]
        loss = sum(w[k] * t for k, t in terms.items() if w[k])
        d_outputs = {k: d * d.dtype.type(w[k]) for k, d in d_outputs.items()}
    grads = zeros_like_params(params)
    model_backward(d_outputs, cache, grads)
    flat = flatten(grads)
    return float(loss), outputs, {name: flat[name] for name in named_parameters(params)}


def expected_shapes(config, head):
    """{HF state-dict name: shape} of the class for `head`: the encoder (under
    "albert." for a head; with a pooler where transformers' class has one) and
    the head's own weights."""
    spec = get_head(head)
    prefix = "albert." if head else ""
    shapes = {prefix + k: v for k, v in encoder_shapes(config, spec.pooler).items()}
    shapes.update(spec.shapes(config))
    return shapes
