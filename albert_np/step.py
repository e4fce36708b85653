"""One training step's maths, llm.c's trio: forward, loss, backward.

    outputs = model_forward(params, config, head, inputs, cache=cache)   # encoder + head (model.py)
    loss, d = the head's loss and its gradient                              # losses.py, via heads.HEADS
    grads   = model_backward(d, cache, grads)                               # backprop.py, in reverse

`loss_and_grads` runs the three for the training loop (training/train.py); the
update (the optimiser step) is optim.py's. The model classes of modeling.py run
the same forward (`run_model`) at inference. Shapes: the legend in ops.py.
"""
from . import backprop
from .heads import HEADS, classifier_dropout, get_head
from .inputs import INPUT_KEYS, check_inputs, check_labels, flatten_choices
from .model import albert_model
from .ops import child
from .params import flatten, named_parameters, zeros_like_params


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
                       skip_padding=skip_padding, cache=child(cache, "albert_model"))
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
    d_emb = backprop.albert_model_backward(dh, dpool, cache["albert_model"], grads["albert"] if head else grads)
    if d_emb is not None and cache["num_choices"] is not None:
        d_emb = d_emb.reshape(-1, cache["num_choices"], *d_emb.shape[1:])
    return d_emb


def loss_items(head, labels):
    """How many items each loss term of one batch is a mean over, labels as loss_and_grads takes them.

    pretraining: {"prediction_logits": masked tokens ("mlm_weights" 1, or labels != -100),
                  "sop_logits": labelled rows (sentence_order_label != -100)}
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
    lab = check_labels(spec, config, labels, B // (C or 1), T, dtype)
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
