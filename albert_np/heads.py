"""The heads of ALBERT, one table: what each head computes on top of the encoder.

For every head, HEADS[name] (a `Head`) defines once:
    shapes(config)                     its own weights: {HF state-dict name: shape}
    forward(params, config, enc, ...)  its outputs from the encoder's (model.py functions)
    backward(d_outputs, cache, grads)  -> (d_last_hidden_state, d_pooler_output) (backprop.py)
    check_labels(config, labels, ...)  the labels it trains on, checked, with HF's names (inputs.py)
    loss(config, outputs, labels)      -> (loss, cache), HF's loss conventions (losses.py)
    loss_backward(cache)               -> d_outputs
The model classes (modeling.py), the training step (step.py) and the
checkpoint code (expected_shapes below) read this table; none of them
branches on head names.

Head names (the `head` of each model class):
    None               AlbertModel                        last_hidden_state, pooler_output
    "pretraining"      AlbertForPreTraining               prediction_logits, sop_logits
    "mlm"              AlbertForMaskedLM                  logits (B, T, V)
    "sequence"         AlbertForSequenceClassification    logits (B, num_labels)
    "token"            AlbertForTokenClassification       logits (B, T, num_labels)
    "qa"               AlbertForQuestionAnswering         start_logits, end_logits (B, T)
    "multiple_choice"  AlbertForMultipleChoice            logits (B, C)

Shapes: the legend at the top of ops.py.
"""
from typing import Callable, NamedTuple

import numpy as np

from . import backprop, losses
from .inputs import (encoder_labels, mlm_labels, multiple_choice_labels, pretraining_labels, qa_labels,
                     require_labels, sequence_labels, token_labels)
from .model import classifier_head, gather_positions, mlm_head, question_answering_head
from .ops import activation, child
from .params import encoder_shapes


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


# ============================================================== the bare encoder: None
def no_shapes(config):
    return {}


def encoder_forward(params, config, enc, rng=None, cache=None, mlm_positions=None, num_choices=None):
    return {"last_hidden_state": enc["last_hidden_state"], "pooler_output": enc["pooler_output"]}


def encoder_backward(d, cache, grads):
    return d.get("last_hidden_state"), d.get("pooler_output")


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
        h = gather_positions(h, mlm_positions, cache=child(cache, "gather_positions"))    # (B, P, H)
    return mlm_head(h, **params["predictions"], act=activation(config.hidden_act), eps=config.layer_norm_eps,
                    cache=child(cache, "predictions"))


def mlm_logits_backward(d_logits, cache, grads):   # (B, T or P, V) -> (B, T, H)
    dh = backprop.mlm_head_backward(d_logits, cache["predictions"], grads["predictions"])
    if "gather_positions" in cache:
        dh = backprop.gather_positions_backward(dh, cache["gather_positions"])
    return dh


def mlm_forward(params, config, enc, rng=None, cache=None, mlm_positions=None, num_choices=None):
    return {"logits": mlm_logits(params, config, enc["last_hidden_state"], mlm_positions, cache)}


def mlm_backward(d, cache, grads):
    return mlm_logits_backward(d["logits"], cache, grads), None


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
                          dropout_p=classifier_dropout(config), rng=rng, cache=child(cache, "sop_classifier"))  # (B, 2)
    return {"prediction_logits": logits, "sop_logits": sop}


def pretraining_backward(d, cache, grads):
    dh = dpool = None
    if d.get("prediction_logits") is not None:
        dh = mlm_logits_backward(d["prediction_logits"], cache, grads)
    if d.get("sop_logits") is not None:
        dpool = backprop.classifier_head_backward(d["sop_logits"], cache["sop_classifier"],
                                                  grads["sop_classifier"]["classifier"])
    return dh, dpool


def pretraining_loss(config, outputs, labels):
    """MLM CE + SOP CE (HF), each term only when its labels are given."""
    # a 0-d array of the logits' dtype: numpy 1.x would promote 0.0 + float32 to float64
    total, cache, terms = np.zeros((), outputs["prediction_logits"].dtype), {}, {}
    if "mlm_labels" in labels:
        loss, cache["prediction_logits"] = losses.cross_entropy(outputs["prediction_logits"], labels["mlm_labels"])
        total, terms["prediction_logits"] = total + loss, float(loss)
    if "sentence_order_label" in labels:
        loss, cache["sop_logits"] = losses.cross_entropy(outputs["sop_logits"], labels["sentence_order_label"])
        total, terms["sop_logits"] = total + loss, float(loss)
    cache["terms"] = terms          # each term's own mean (step.loss_and_grads weights them)
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


def labelled_rows(labels):
    """The sentence-order rows of a batch that have a label (pairs of a sentence list carry -100)."""
    if labels.get("sentence_order_label") is None:
        return 0                                    # no SOP term (pretraining: MLM alone)
    return int(np.sum(np.asarray(labels["sentence_order_label"]) != -100))


def pretraining_items(labels, rows):
    return {"prediction_logits": masked_tokens(labels), "sop_logits": labelled_rows(labels)}


def token_items(labels, rows):
    require_labels("token", labels, ("labels",), "{'labels': (B, T) ints, -100 = ignored}")
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


def expected_shapes(config, head):
    """{HF state-dict name: shape} of the class for `head`: the encoder (under
    "albert." for a head; with a pooler where transformers' class has one) and
    the head's own weights."""
    spec = get_head(head)
    prefix = "albert." if head else ""
    shapes = {prefix + k: v for k, v in encoder_shapes(config, spec.pooler).items()}
    shapes.update(spec.shapes(config))
    return shapes
