"""backprop.py and step.loss_and_grads: every backward against finite differences
(float64), the forward with a cache against the same forward without one (bitwise),
dropout placement, and clear errors for bad labels.

Gradient check: with a random upstream gradient `dout`, the scalar sum(forward * dout)
is differentiated numerically with the five-point stencil
    f'(x) ~ (f(x - 2h) - 8 f(x - h) + 8 f(x + h) - f(x + 2h)) / 12h,   h = 1e-4
(truncation O(h^4), rounding ~1e-16 |f| / h), and compared per tensor by
    relative error = max |ours - numeric| / max(max |ours|, max |numeric|)  <= 1e-6.
Parameters are drawn at moderate scales so that no softmax saturates and every
gradient stands well above the rounding noise. A gradient that is exactly 0 in
theory (the attention key bias: the softmax ignores the constant q.b_k along a row)
comes out as rounding (< 1e-13) on our side; there the numeric value must be noise
(< 1e-8), as a relative error would compare noise with noise.
"""
import inspect
import math
import zlib

import numpy as np
import pytest

from albert_np import backprop as bp
from albert_np import step
from albert_np import model as M
from albert_np import modeling, ops
from albert_np.config import AlbertConfig
from albert_np.params import flatten, map_params, named_parameters, zeros_like_params

TOL = 1e-6
H_STEP = 1e-4
EXACT_ZERO = 1e-13                                 # our rounding of an exactly-zero gradient
NOISE = 1e-8                                       # finite-difference noise bound
WORST = {}                                         # check kind -> worst relative error seen


@pytest.fixture(scope="module", autouse=True)
def report_worst():
    yield
    print("\n[backprop gradient checks] worst relative error per kind: "
          + ", ".join(f"{k} {v:.1e}" for k, v in sorted(WORST.items())))


def record(kind, err):
    WORST[kind] = max(WORST.get(kind, 0.0), err)


def grad_error(name, ours, numeric):
    """Relative error of `ours` against `numeric` (see the module docstring); asserts it."""
    ours, numeric = np.asarray(ours, np.float64), np.asarray(numeric, np.float64)
    if np.abs(ours).max(initial=0.0) <= EXACT_ZERO:
        assert np.abs(numeric).max(initial=0.0) <= NOISE, f"{name}: ours is 0, numeric {np.abs(numeric).max():.2e}"
        return 0.0
    scale = max(np.abs(ours).max(), np.abs(numeric).max())
    err = float(np.abs(ours - numeric).max() / scale)
    assert err <= TOL, f"{name}: relative error {err:.2e}"
    return err


def numeric_grad(f, x, idx=None, h=H_STEP):
    """Five-point finite differences of the scalar f() w.r.t. x, changed in place and restored.

    idx: flat indices to probe (all when None). Returns an array of len(idx).
    """
    flat = x.reshape(-1)
    assert np.shares_memory(flat, x)
    idx = range(flat.size) if idx is None else idx
    out = []
    for i in idx:
        old = flat[i]
        values = []
        for k in (-2, -1, 1, 2):
            flat[i] = old + k * h
            values.append(f())
        flat[i] = old
        out.append((values[0] - 8 * values[1] + 8 * values[2] - values[3]) / (12 * h))
    return np.array(out)


def rand(rng, *shape, scale=1.0):
    return rng.standard_normal(shape) * scale


def zeros_for(params):
    return zeros_like_params(params)


def run(fn, *args, **kwargs):
    """(output, cache) of a forward function run with a cache, as training runs it."""
    cache = {}
    return fn(*args, **kwargs, cache=cache), cache


def check(name, ours, f, x, kind="op"):
    err = grad_error(name, ours, numeric_grad(f, x).reshape(ours.shape))
    record(kind, err)
    return err


# ============================================================= single-op checks
def test_linear():
    rng = np.random.default_rng(0)
    x, W, b = rand(rng, 2, 3, 4), rand(rng, 5, 4), rand(rng, 5)
    dout = rand(rng, 2, 3, 5)
    out, cache = run(ops.linear, x, W, b)
    g = {"weight": np.zeros_like(W), "bias": np.zeros_like(b)}
    dx = bp.linear_backward(dout, cache, g)
    f = lambda: float(np.sum(run(ops.linear, x, W, b)[0] * dout))  # noqa: E731
    check("dx", dx, f, x)
    check("dW", g["weight"], f, W)
    check("db", g["bias"], f, b)
    # accumulation: a second backward adds the same amount again
    bp.linear_backward(dout, cache, g)
    dW2 = g["weight"].copy()
    np.testing.assert_allclose(dW2, 2 * numeric_grad(f, W).reshape(W.shape), rtol=1e-6, atol=1e-9)


def test_linear_without_bias():
    rng = np.random.default_rng(1)
    x, W, dout = rand(rng, 3, 4), rand(rng, 2, 4), rand(rng, 3, 2)
    out, cache = run(ops.linear, x, W)
    g = {"weight": np.zeros_like(W)}
    dx = bp.linear_backward(dout, cache, g)
    f = lambda: float(np.sum(run(ops.linear, x, W)[0] * dout))  # noqa: E731
    check("dx", dx, f, x)
    check("dW", g["weight"], f, W)


@pytest.mark.parametrize("eps", [1e-12, 1e-5])
def test_layer_norm(eps):
    rng = np.random.default_rng(2)
    x, w, b = rand(rng, 2, 3, 6, scale=2.0) + 0.5, rand(rng, 6), rand(rng, 6)
    dout = rand(rng, 2, 3, 6)
    _, cache = run(ops.layer_norm, x, w, b, eps)
    g = {"weight": np.zeros_like(w), "bias": np.zeros_like(b)}
    dx = bp.layer_norm_backward(dout, cache, g)
    f = lambda: float(np.sum(run(ops.layer_norm, x, w, b, eps)[0] * dout))  # noqa: E731
    check("dx", dx, f, x)
    check("dweight", g["weight"], f, w)
    check("dbias", g["bias"], f, b)


@pytest.mark.parametrize("name", ["gelu", "gelu_new", "gelu_fast", "quick_gelu", "relu", "tanh",
                                  "gelu_pytorch_tanh", "gelu_python", "gelu_accurate"])
def test_activations(name):
    rng = np.random.default_rng(3)
    x = rand(rng, 4, 9, scale=2.0)
    x[np.abs(x) < 1e-3] = 0.5                      # keep relu away from its kink
    dout = rand(rng, 4, 9)
    fwd = ops.activation(name)
    bwd = bp.ACTIVATION_BACKWARDS[fwd]
    y, cache = run(fwd, x)
    dx = bwd(dout, cache)
    f = lambda: float(np.sum(run(fwd, x)[0] * dout))  # noqa: E731
    check(name, dx, f, x)
    assert dx.dtype == np.float64


def cache_taking_forwards(module):
    """The functions defined in `module` that take `cache=None`, in the order of the file."""
    funcs = [f for f in vars(module).values()
             if inspect.isfunction(f) and f.__module__ == module.__name__
             and "cache" in inspect.signature(f).parameters
             and inspect.signature(f).parameters["cache"].default is None]
    return sorted(funcs, key=lambda f: f.__code__.co_firstlineno)


def test_every_forward_has_its_backward_in_the_same_order_and_nothing_else():
    forwards = [f.__name__ for f in cache_taking_forwards(ops) + cache_taking_forwards(M)]
    backwards = [f for f in vars(bp).values() if inspect.isfunction(f) and f.__module__ == bp.__name__]
    backwards = [f.__name__ for f in sorted(backwards, key=lambda f: f.__code__.co_firstlineno)]
    assert backwards == [name + "_backward" for name in forwards], (
        "backprop.py must hold exactly one <name>_backward per cache-taking forward of ops.py then "
        f"model.py, in their order.\nforwards:  {forwards}\nbackwards: {backwards}")
    # the forwards the model really runs are among them (the check above is not vacuous)
    for name in ("linear", "layer_norm", "scaled_dot_product_attention", "embeddings",
                 "embedding_hidden_mapping_in", "albert_attention", "feed_forward", "albert_layer",
                 "albert_transformer", "albert_model", "mlm_head"):
        assert name in forwards, name


def test_every_activation_has_a_backward():
    assert set(ops.ACTIVATIONS.values()) == set(bp.ACTIVATION_BACKWARDS)
    for fwd, bwd in bp.ACTIVATION_BACKWARDS.items():
        assert bwd.__name__ == fwd.__name__ + "_backward", (fwd.__name__, bwd.__name__)
    with pytest.raises(ValueError, match="hidden_act 'swishy' is not supported"):
        ops.activation("swishy")


def test_cache_keys_name_functions_or_parameters():
    """A sub-cache is keyed by the parameters its part ran with, or by the function that filled it."""
    cfg = tiny_config(num_hidden_groups=2, inner_group_num=2, hidden_dropout_prob=0.1,
                      attention_probs_dropout_prob=0.1)
    model = modeling.AlbertForPreTraining(cfg)
    inputs = {"input_ids": np.array([[2, 5, 6, 3, 0]]), "attention_mask": np.array([[1, 1, 1, 1, 0]])}
    cache = {}
    step.run_model(model.params, cfg, "pretraining", step.prepare_inputs(cfg, "pretraining", inputs)[0],
                   rng=np.random.default_rng(0), cache=cache, mlm_positions=np.array([[1, 2]]))
    functions = {f.__name__ for f in cache_taking_forwards(ops) + cache_taking_forwards(M)}
    functions |= {"activation",          # HF's name of the layer's activation (its function varies)
                  "query_key_value"}     # the one product of the stacked query, key and value weights
    parameters = set()
    for name in flatten(model.params):              # every parameter path, the tied decoder's too
        parameters.update(name.split("."))
    seen = set()

    def walk(d, path):
        for key, value in d.items():
            if isinstance(value, dict):
                seen.add(key)
                assert key in functions | parameters, f"cache key {path + key!r} names no function or parameter"
                walk(value, path + key + ".")
            elif isinstance(value, list) and key == "runs":
                for g, j, c in value:
                    walk(c, f"{path}runs[{g}][{j}].")
    walk(cache, "")
    # every part of the model left its cache under a readable name
    assert {"albert_model", "encoder", "embeddings", "embedding_hidden_mapping_in", "attention",
            "query_key_value", "scaled_dot_product_attention", "feed_forward", "ffn", "ffn_output", "sop_classifier",
            "gather_positions", "predictions", "decoder", "pooler"} <= seen


@pytest.mark.parametrize("axis", [-1, 0])
def test_softmax(axis):
    rng = np.random.default_rng(4)
    x, dout = rand(rng, 3, 5, scale=3.0), rand(rng, 3, 5)
    _, cache = run(ops.softmax, x, axis)
    dx = bp.softmax_backward(dout, cache)
    f = lambda: float(np.sum(run(ops.softmax, x, axis)[0] * dout))  # noqa: E731
    check("dx", dx, f, x)


def test_dropout_uses_the_forward_mask():
    rng = np.random.default_rng(5)
    x, dout = rand(rng, 4, 6), rand(rng, 4, 6)
    y, cache = run(ops.dropout, x, 0.4, np.random.default_rng(7))
    mask = cache["mask"]
    assert mask is not None and np.any(mask == 0) and np.allclose(mask[mask > 0], 1 / 0.6)
    np.testing.assert_array_equal(y, x * mask)
    dx = bp.dropout_backward(dout, cache)
    f = lambda: float(np.sum(ops.dropout(x, 0.4, np.random.default_rng(7)) * dout))  # noqa: E731
    check("dx", dx, f, x)
    # inference (no rng) or p == 0: identity, no mask, no copy
    for args in ((0.4, None), (0.0, np.random.default_rng(0))):
        y, cache = run(ops.dropout, x, *args)
        assert y is x and cache["mask"] is None
        assert bp.dropout_backward(dout, cache) is dout


@pytest.mark.parametrize("extras", ["plain", "mask", "mask+head_mask+dropout"])
def test_scaled_dot_product_attention(extras):
    rng = np.random.default_rng(6)
    B, A, T, D = 2, 3, 4, 5
    q, k, v = (rand(rng, B, A, T, D) for _ in range(3))
    dout = rand(rng, B, A, T, D)
    bias = head_mask = None
    p, seed = 0.0, 11
    if extras != "plain":
        bias = ops.attention_bias(np.array([[1, 1, 1, 1], [1, 1, 0, 0]]), np.float64)
    if extras == "mask+head_mask+dropout":
        head_mask, p = np.array([1.0, 0.0, 0.5]), 0.3

    def fwd():
        return run(ops.scaled_dot_product_attention, q, k, v, bias, head_mask, p, np.random.default_rng(seed))
    (out, _), cache = fwd()
    dq, dk, dv = bp.scaled_dot_product_attention_backward(dout, cache)
    f = lambda: float(np.sum(fwd()[0][0] * dout))  # noqa: E731
    check("dq", dq, f, q)
    check("dk", dk, f, k)
    check("dv", dv, f, v)
    if p == 0.0:                                   # same numbers as the inference function
        ref, _ = ops.scaled_dot_product_attention(q, k, v, bias, head_mask)
        np.testing.assert_array_equal(out, ref)


# ----------------------------------------------------------------- model pieces
def tiny_config(**kw):
    base = dict(vocab_size=23, embedding_size=6, hidden_size=8, num_attention_heads=2,
                intermediate_size=10, num_hidden_layers=3, num_hidden_groups=1, inner_group_num=1,
                max_position_embeddings=16, type_vocab_size=2, pad_token_id=None, layer_norm_eps=1e-12,
                hidden_act="gelu_new", num_labels=3, classifier_dropout_prob=0.1)
    base.update(kw)
    return AlbertConfig(**base)


def randomize(params, rng, scale=0.3):
    """Replace every parameter by random values (ties kept), in float64, so that no
    gradient is degenerate: matrices N(0, scale^2), biases N(0, 0.1^2), LayerNorm
    weights 1 + N(0, 0.1^2). Moderate scales keep the softmaxes unsaturated, so that
    every tensor's gradient is well above the finite-difference noise."""
    new = {}

    def walk(node, name=""):
        if isinstance(node, dict):
            return {k: walk(v, k) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v, name) for v in node]
        if id(node) not in new:
            if node.ndim > 1:
                value = rng.standard_normal(node.shape) * scale
            else:
                value = rng.standard_normal(node.shape) * 0.1 + (1.0 if name == "weight" else 0.0)
            new[id(node)] = value
        return new[id(node)]
    return walk(params)


def layer_params(rng, H, F):
    lin = lambda o, i: {"weight": rand(rng, o, i, scale=0.4), "bias": rand(rng, o, scale=0.1)}  # noqa: E731
    ln = lambda n: {"weight": 1 + rand(rng, n, scale=0.1), "bias": rand(rng, n, scale=0.1)}  # noqa: E731
    return {"attention": {"query": lin(H, H), "key": lin(H, H), "value": lin(H, H), "dense": lin(H, H),
                          "LayerNorm": ln(H)},
            "ffn": lin(F, H), "ffn_output": lin(H, F), "full_layer_layer_norm": ln(H)}


def check_all_params(params, grads, f, kind="embeddings, pooler, heads", k=None):
    """Every entry of every parameter, or k random entries of each (k given)."""
    rng = np.random.default_rng(0)
    flat_grads = flatten(grads)
    for name, p in flatten(params).items():
        if k is None:
            check(name, flat_grads[name], f, p, kind)
        else:
            idx = sorted(rng.choice(p.size, size=min(k, p.size), replace=False).tolist())
            g = flat_grads[name]
            record(kind, grad_error(name, g.reshape(-1)[idx], numeric_grad(f, p, idx)))


@pytest.mark.parametrize("act", ["gelu_new", "gelu"])
def test_albert_layer_with_mask_head_mask_and_dropout(act):
    rng = np.random.default_rng(7)
    B, T, H, A, F = 2, 4, 6, 2, 7
    layer = layer_params(rng, H, F)
    x, dout = rand(rng, B, T, H), rand(rng, B, T, H)
    bias = ops.attention_bias(np.array([[1, 1, 1, 0], [1, 1, 1, 1]]), np.float64)
    hm = np.array([1.0, 0.5])
    cfg = AlbertConfig(hidden_size=H, num_attention_heads=A, intermediate_size=F, hidden_act=act,
                       layer_norm_eps=1e-12, attention_probs_dropout_prob=0.2, hidden_dropout_prob=0.3)

    def fwd():
        return run(M.albert_layer, x, bias, **layer, config=cfg, head_mask=hm, rng=np.random.default_rng(3))
    _, cache = fwd()
    grads = zeros_for(layer)
    dx = bp.albert_layer_backward(dout, cache, grads)
    f = lambda: float(np.sum(fwd()[0][0] * dout))  # noqa: E731
    check("dx", dx, f, x, "layer")
    check_all_params(layer, grads, f, "layer")


def test_albert_transformer_accumulates_shared_weights():
    """G=2 groups of 2 inner layers over L=3 applications: application i runs group
    int(i / 1.5), so group 0 twice and group 1 once. Finite differences of a shared
    weight see every use of it, so they check the accumulated sum."""
    rng = np.random.default_rng(8)
    cfg = tiny_config(num_hidden_layers=3, num_hidden_groups=2, inner_group_num=2, embedding_size=5)
    assert [cfg.group_of_layer(i) for i in range(3)] == [0, 0, 1]
    H, E, F = cfg.hidden_size, cfg.embedding_size, cfg.intermediate_size
    enc = {"embedding_hidden_mapping_in": {"weight": rand(rng, H, E, scale=0.5), "bias": rand(rng, H)},
           "albert_layer_groups": [{"albert_layers": [layer_params(rng, H, F) for _ in range(2)]}
                                   for _ in range(2)]}
    x, dout = rand(rng, 2, 4, E), rand(rng, 2, 4, H)
    bias = ops.attention_bias(np.array([[1, 1, 0, 0], [1, 1, 1, 1]]), np.float64)
    hm = rng.uniform(0.5, 1.5, size=(3, 2))        # (L, A): a different row per application

    def fwd():
        return run(M.albert_transformer, x, bias, enc, config=cfg, head_mask=hm)
    (out, _, _), cache = fwd()
    ref, _, _ = M.albert_transformer(x, bias, enc, config=cfg, head_mask=hm)
    np.testing.assert_array_equal(out, ref)
    grads = zeros_for(enc)
    dx = bp.albert_transformer_backward(dout, cache, grads)
    f = lambda: float(np.sum(fwd()[0][0] * dout))  # noqa: E731
    check("dx", dx, f, x, "encoder (shared weights)")
    check_all_params(enc, grads, f, "encoder (shared weights)", k=4)


def test_embeddings_scatter_and_padding_idx():
    rng = np.random.default_rng(9)
    V, P, E = 7, 6, 4
    tables = {"word_embeddings": {"weight": rand(rng, V, E)}, "position_embeddings": {"weight": rand(rng, P, E)},
              "token_type_embeddings": {"weight": rand(rng, 2, E)},
              "LayerNorm": {"weight": 1 + rand(rng, E, scale=0.3), "bias": rand(rng, E)}}
    ids = np.array([[1, 3, 3, 0], [2, 1, 6, 3]])             # repeated ids, pad id 0
    types = np.array([[0, 0, 1, 1], [0, 1, 1, 1]])
    pos = np.arange(4)[None]
    dout = rand(rng, 2, 4, E)

    def fwd(p=0.25):
        return run(M.embeddings, ids, types, pos, **tables, eps=1e-12, dropout_p=p, rng=np.random.default_rng(1))
    for padding_idx in (None, 0):
        _, cache = fwd()
        grads = zeros_for(tables)
        assert bp.embeddings_backward(dout, cache, grads, padding_idx) is None
        f = lambda: float(np.sum(fwd()[0] * dout))  # noqa: E731
        if padding_idx is None:
            check_all_params(tables, grads, f)
        else:                                      # torch's padding_idx: row 0 gets no gradient
            assert not grads["word_embeddings"]["weight"][0].any()
            num = numeric_grad(f, tables["word_embeddings"]["weight"]).reshape(V, E)
            err = grad_error("word rows", grads["word_embeddings"]["weight"][1:], num[1:])
            record("embeddings, pooler, heads", err)
    # inputs_embeds path: the word table is unused, d_inputs_embeds comes back
    emb = rand(rng, 2, 4, E)

    def fwd_emb():
        return run(M.embeddings, None, types, pos, **tables, eps=1e-12, inputs_embeds=emb)
    _, cache = fwd_emb()
    grads = zeros_for(tables)
    d_emb = bp.embeddings_backward(dout, cache, grads)
    assert not grads["word_embeddings"]["weight"].any()
    check("d_inputs_embeds", d_emb, lambda: float(np.sum(fwd_emb()[0] * dout)), emb)


def test_scatter_add_rows_equals_add_at():
    rng = np.random.default_rng(10)
    ids = rng.integers(0, 50, size=(8, 30))
    rows = rng.standard_normal((8, 30, 3))
    a, b = np.zeros((50, 3)), np.zeros((50, 3))
    ops.scatter_add_rows(a, ids, rows)
    np.add.at(b, ids.reshape(-1), rows.reshape(-1, 3))
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_pooler_and_heads():
    rng = np.random.default_rng(11)
    B, T, H, E, V = 2, 4, 6, 5, 9
    h = rand(rng, B, T, H)
    pool = {"weight": rand(rng, H, H, scale=0.5), "bias": rand(rng, H)}
    d = rand(rng, B, H)
    _, cache = run(M.pooler, h, **pool)
    g = zeros_for(pool)
    dh = bp.pooler_backward(d, cache, g)
    f = lambda: float(np.sum(M.pooler(h, **pool) * d))  # noqa: E731
    check("pooler dh", dh, f, h)
    check_all_params(pool, g, f)
    # MLM head, on gathered positions, with the decoder tied to a word table
    word = rand(rng, V, E)
    pbias = rand(rng, V)
    pred = {"bias": pbias, "dense": {"weight": rand(rng, E, H, scale=0.5), "bias": rand(rng, E)},
            "LayerNorm": {"weight": 1 + rand(rng, E, scale=0.3), "bias": rand(rng, E)},
            "decoder": {"weight": word, "bias": pbias}}
    positions = np.array([[0, 2, 2], [3, 1, 0]])
    dl = rand(rng, B, 3, V)

    def fwd():
        x, gc = run(M.gather_positions, h, positions)
        logits, mc = run(M.mlm_head, x, **pred, act=ops.gelu_new, eps=1e-12)
        return logits, (gc, mc)
    _, (gc, mc) = fwd()
    g = zeros_for(pred)
    assert g["decoder"]["weight"] is not g["bias"] and g["decoder"]["bias"] is g["bias"]
    dh = bp.gather_positions_backward(bp.mlm_head_backward(dl, mc, g), gc)
    f = lambda: float(np.sum(fwd()[0] * dl))  # noqa: E731
    check("mlm dh", dh, f, h)
    check("decoder (tied) weight", g["decoder"]["weight"], f, word)
    check("predictions.bias (tied)", g["bias"], f, pbias)
    check("dense.weight", g["dense"]["weight"], f, pred["dense"]["weight"])
    # QA head
    qa = {"weight": rand(rng, 2, H), "bias": rand(rng, 2)}
    ds, de = rand(rng, B, T), rand(rng, B, T)
    (s, e), cache = run(M.question_answering_head, h, **qa)
    g = zeros_for(qa)
    dh = bp.question_answering_head_backward(ds, de, cache, g)

    def fqa():
        s, e = M.question_answering_head(h, **qa)
        return float(np.sum(s * ds) + np.sum(e * de))
    check("qa dh", dh, fqa, h)
    check_all_params(qa, g, fqa)


def test_zeros_like_params_and_named_parameters_keep_ties():
    cfg = tiny_config()
    m = modeling.AlbertForPreTraining(cfg)
    g = zeros_like_params(m.params)
    assert g["predictions"]["decoder"]["weight"] is g["albert"]["embeddings"]["word_embeddings"]["weight"]
    assert g["predictions"]["decoder"]["bias"] is g["predictions"]["bias"]
    names = named_parameters(m.params)
    assert not any(n.startswith("predictions.decoder.") for n in names)
    assert "albert.embeddings.word_embeddings.weight" in names and "predictions.bias" in names
    assert m.num_parameters() == sum(v.size for v in names.values())


# ================================================================ whole model
HEAD_CLASSES = {"sequence": modeling.AlbertForSequenceClassification,
                "token": modeling.AlbertForTokenClassification,
                "qa": modeling.AlbertForQuestionAnswering,
                "multiple_choice": modeling.AlbertForMultipleChoice,
                "mlm": modeling.AlbertForMaskedLM, "pretraining": modeling.AlbertForPreTraining,
                None: modeling.AlbertModel}


def make_batch(rng, cfg, head, B=2, T=5, C=2):
    shape = (B, C, T) if head == "multiple_choice" else (B, T)
    ids = rng.integers(0, cfg.vocab_size, size=shape)
    mask = np.ones(shape, dtype=np.int64)
    mask[..., -2:] = 0                              # padding in every row ...
    mask.reshape(-1, T)[0] = 1                     # ... but one full row
    types = rng.integers(0, cfg.type_vocab_size, size=shape)
    inputs = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
    n = cfg.num_labels
    labels = {
        "sequence": {"labels": rng.integers(0, n, size=B)},
        "token": {"labels": np.where(mask == 1, rng.integers(0, n, size=shape), -100)},
        "qa": {"start_positions": rng.integers(0, T, size=B), "end_positions": np.array([T + 3] + [1] * (B - 1))},
        "multiple_choice": {"labels": rng.integers(0, C, size=B)},
        "mlm": {"labels": np.where(rng.random(shape) < 0.5, rng.integers(0, cfg.vocab_size, size=shape), -100)},
        "pretraining": {"labels": np.where(rng.random(shape) < 0.5,
                                           rng.integers(0, cfg.vocab_size, size=shape), -100),
                        "sentence_order_label": rng.integers(0, 2, size=B)},
        None: {"d_last_hidden_state": rng.standard_normal((B, T, cfg.hidden_size)),
               "d_pooler_output": rng.standard_normal((B, cfg.hidden_size))},
    }[head]
    return inputs, labels


def sample_indices(rng, p, k=3, rows=None):
    idx = set(rng.choice(p.size, size=min(k, p.size), replace=False).tolist())
    if rows is not None and p.ndim == 2:            # make sure used rows of a table are probed
        for r in rng.choice(np.unique(rows), size=min(2, np.unique(rows).size), replace=False):
            idx.add(int(r) * p.shape[1] + int(rng.integers(p.shape[1])))
    return sorted(idx)


def whole_model_check(cfg, head, seed, training=False, labels_override=None, k=3):
    rng = np.random.default_rng(seed)
    model = HEAD_CLASSES[head](cfg, seed=seed, dtype=np.float64)
    params = randomize(model.params, rng)
    inputs, labels = make_batch(rng, cfg, head)
    if labels_override is not None:
        labels = labels_override(rng, inputs)

    def loss_fn():
        r = np.random.default_rng(seed + 100) if training else None
        return step.loss_and_grads(params, cfg, head, inputs, labels, rng=r, training=training)
    loss, outputs, grads = loss_fn()
    named = named_parameters(params)
    assert list(grads) == list(named)
    worst = 0.0
    for name, p in named.items():
        g = grads[name]
        assert g.shape == p.shape and g.dtype == np.float64, name
        rows = {"word_embeddings": inputs["input_ids"], "token_type_embeddings": inputs["token_type_ids"],
                "position_embeddings": np.arange(inputs["input_ids"].shape[-1])}.get(name.split(".")[-2])
        idx = sample_indices(rng, p, k=k, rows=rows)
        num = numeric_grad(lambda: loss_fn()[0], p, idx)
        if np.abs(g).max() <= EXACT_ZERO:          # exactly 0 in theory: numeric must be noise
            grad_error(f"{head} {name}", g.reshape(-1)[idx], num)
            continue
        scale = max(np.abs(g).max(), np.abs(num).max())   # the whole tensor's scale
        err = float(np.abs(g.reshape(-1)[idx] - num).max() / scale)
        assert err <= TOL, f"{head} {name}: relative error {err:.2e}"
        worst = max(worst, err)
    record("whole model", worst)
    return worst


CONFIGS = {
    "G1-inner1": dict(),
    "G2-inner2": dict(num_hidden_groups=2, inner_group_num=2),
    "E=H-relu": dict(embedding_size=8, hidden_act="relu", num_hidden_layers=2),
}


# every head on G2-inner2; the sentence-level heads and the MLM ones on every config
WHOLE_MODEL_CASES = [(head, name) for name in CONFIGS
                     for head in ("sequence", "token", "qa", "multiple_choice", "mlm", "pretraining", None)
                     if name == "G2-inner2" or head not in ("token", "qa", None)]


@pytest.mark.parametrize("head, cfg_name", WHOLE_MODEL_CASES)
def test_whole_model_gradients(head, cfg_name):
    cfg = tiny_config(**CONFIGS[cfg_name], num_labels=2 if head == "qa" else 3)
    whole_model_check(cfg, head, seed=zlib.crc32(f"{head}-{cfg_name}".encode()) % 1000)


@pytest.mark.parametrize("problem_type", ["regression", "multi_label_classification"])
def test_whole_model_sequence_problem_types(problem_type):
    n = 1 if problem_type == "regression" else 3
    cfg = tiny_config(num_labels=n, num_hidden_groups=2, inner_group_num=2)

    def labels(rng, inputs):
        B = inputs["input_ids"].shape[0]
        if problem_type == "regression":
            return {"labels": rng.standard_normal(B)}
        return {"labels": (rng.random((B, n)) < 0.5).astype(np.float64)}
    whole_model_check(cfg, "sequence", seed=21, labels_override=labels)


def test_whole_model_with_dropout_everywhere():
    cfg = tiny_config(hidden_dropout_prob=0.2, attention_probs_dropout_prob=0.3, classifier_dropout_prob=0.25,
                      num_hidden_groups=2, inner_group_num=2, hidden_act="gelu")
    for head in ("sequence", "token", "pretraining"):
        whole_model_check(cfg, head, seed=31, training=True, k=2)


def test_whole_model_gathered_mlm_equals_full():
    """The gathered MLM loss (pretraining data format) gives the same loss and grads as the
    full-sequence loss with labels -100 off the gathered positions; and its grads check out."""
    cfg = tiny_config(num_hidden_groups=2, inner_group_num=2)
    rng = np.random.default_rng(41)
    model = modeling.AlbertForPreTraining(cfg, seed=1, dtype=np.float64)
    params = randomize(model.params, rng)
    inputs, _ = make_batch(rng, cfg, "pretraining")
    positions = np.array([[1, 3, 0], [0, 2, 4]])
    ids = rng.integers(0, cfg.vocab_size, size=(2, 3))
    weights = np.array([[1.0, 1.0, 0.0], [1.0, 1.0, 1.0]])
    full = np.full((2, 5), -100)
    for b in range(2):
        for p in range(3):
            if weights[b, p]:
                full[b, positions[b, p]] = ids[b, p]
    sol = np.array([0, 1])
    g_loss, g_out, g_grads = step.loss_and_grads(params, cfg, "pretraining", inputs,
                                               {"mlm_positions": positions, "mlm_ids": ids,
                                                "mlm_weights": weights, "sentence_order_label": sol})
    f_loss, f_out, f_grads = step.loss_and_grads(params, cfg, "pretraining", inputs,
                                               {"labels": full, "sentence_order_label": sol})
    assert g_out["prediction_logits"].shape == (2, 3, cfg.vocab_size)
    assert abs(g_loss - f_loss) <= 1e-12 * abs(f_loss)
    for name in f_grads:
        np.testing.assert_allclose(g_grads[name], f_grads[name], rtol=1e-10, atol=1e-13, err_msg=name)

    def labels(rng, inputs):
        return {"mlm_positions": positions, "mlm_ids": ids, "mlm_weights": weights}
    whole_model_check(cfg, "mlm", seed=41, labels_override=labels, k=2)


def test_inputs_embeds_gradient():
    cfg = tiny_config(num_hidden_groups=2, inner_group_num=2)
    rng = np.random.default_rng(51)
    model = modeling.AlbertForSequenceClassification(cfg, seed=1, dtype=np.float64)
    params = randomize(model.params, rng)
    emb = rng.standard_normal((2, 5, cfg.embedding_size))
    inputs = {"inputs_embeds": emb, "attention_mask": np.array([[1, 1, 1, 0, 0], [1] * 5])}
    dlogits = rng.standard_normal((2, cfg.num_labels))
    cache = {}
    step.model_forward(params, cfg, "sequence", inputs, cache=cache)
    d_emb = step.model_backward({"logits": dlogits}, cache, zeros_like_params(params))
    f = lambda: float(np.sum(step.model_forward(params, cfg, "sequence", inputs)["logits"] * dlogits))  # noqa: E731
    check("d_inputs_embeds", d_emb, f, emb)
    _, _, grads = step.loss_and_grads(params, cfg, "sequence", inputs, {"labels": np.array([0, 2])})
    assert not grads["albert.embeddings.word_embeddings.weight"].any()


def test_padding_idx_row_gets_only_the_decoder_gradient():
    cfg = tiny_config(pad_token_id=0)
    m = modeling.AlbertForMaskedLM(cfg, seed=2, dtype=np.float64)
    inputs = {"input_ids": np.array([[0, 4, 5, 0, 0]])}
    labels = {"labels": np.array([[-100, 7, -100, -100, -100]])}
    _, _, g_mlm = step.loss_and_grads(m.params, cfg, "mlm", inputs, labels)
    m2 = modeling.AlbertForTokenClassification(cfg, seed=2, dtype=np.float64)
    _, _, g_tok = step.loss_and_grads(m2.params, cfg, "token", inputs, {"labels": np.array([[0, 1, 2, 0, 1]])})
    assert not g_tok["albert.embeddings.word_embeddings.weight"][0].any()      # lookup skips padding
    assert g_mlm["albert.embeddings.word_embeddings.weight"][0].any()          # decoder row 0 still learns


# ===================================================== training forward == inference
@pytest.mark.parametrize("head", list(HEAD_CLASSES))
@pytest.mark.parametrize("act", ["gelu_new", "gelu", "gelu_fast", "quick_gelu", "relu", "tanh"])
def test_training_forward_equals_inference_bitwise(head, act):
    cfg = AlbertConfig(vocab_size=97, embedding_size=16, hidden_size=48, num_attention_heads=4,
                       intermediate_size=80, num_hidden_layers=3, num_hidden_groups=2, inner_group_num=2,
                       max_position_embeddings=64, hidden_act=act, num_labels=2 if head == "qa" else 3,
                       hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1)
    model = HEAD_CLASSES[head](cfg, seed=3)
    model.params = _cast(randomize(model.params, np.random.default_rng(4), scale=0.2), np.float32)
    rng = np.random.default_rng(5)
    inputs, labels = make_batch(rng, cfg, head, B=3, T=37)
    if head is None:
        labels = {k: v.astype(np.float32) for k, v in labels.items()}
    _, outputs, grads = step.loss_and_grads(model.params, cfg, head, inputs, labels, training=False)
    ref = model(**inputs)
    for key, value in outputs.items():
        assert value.dtype == np.float32
        np.testing.assert_array_equal(value, getattr(ref, key), err_msg=f"{head} {key}")
    assert all(g.dtype == np.float32 for g in grads.values())
    # training=True with every dropout probability 0 is the inference function too
    cfg0 = cfg.copy()
    cfg0.hidden_dropout_prob = cfg0.attention_probs_dropout_prob = cfg0.classifier_dropout_prob = 0.0
    _, outputs0, _ = step.loss_and_grads(model.params, cfg0, head, inputs, labels, training=True)
    for key, value in outputs0.items():
        np.testing.assert_array_equal(value, getattr(ref, key))


def _cast(params, dtype):
    return map_params(params, lambda a: a.astype(dtype))


def test_piece_forwards_equal_inference_bitwise():
    """Each function run with a cache (float32, sizes large enough for real BLAS kernels)
    returns exactly what it returns without one: keeping activations never changes a number."""
    rng = np.random.default_rng(6)
    f32 = lambda *s: rng.standard_normal(s).astype(np.float32)  # noqa: E731
    x, W, b = f32(3, 41, 64), f32(96, 64), f32(96)
    np.testing.assert_array_equal(run(ops.linear, x, W, b)[0], ops.linear(x, W, b))
    big, Wb, bb = f32(4, 128, 256), f32(640, 256), f32(640)  # multithreaded BLAS: one 2-D product vs stacked
    np.testing.assert_array_equal(run(ops.linear, big, Wb, bb)[0], ops.linear(big, Wb, bb))
    w, bb = f32(64), f32(64)
    np.testing.assert_array_equal(run(ops.layer_norm, x, w, bb, 1e-12)[0], ops.layer_norm(x, w, bb, 1e-12))
    for name in ("gelu", "gelu_new", "gelu_fast", "quick_gelu", "relu", "tanh"):
        fn = ops.activation(name)
        np.testing.assert_array_equal(run(fn, x)[0], fn(x), err_msg=name)
    np.testing.assert_array_equal(run(ops.softmax, x)[0], ops.softmax(x))
    layer = _cast(layer_params(rng, 64, 80), np.float32)
    bias = ops.attention_bias(np.array([[1] * 41, [1] * 30 + [0] * 11, [1] * 5 + [0] * 36]), np.float32)
    hm = np.array([1, 0, 1, 0.5], np.float32)
    cfg = AlbertConfig(hidden_size=64, num_attention_heads=4, intermediate_size=80, hidden_act="gelu_new",
                       layer_norm_eps=1e-12)
    (ours, _), _ = run(M.albert_layer, x, bias, **layer, config=cfg, head_mask=hm)
    ref, _ = M.albert_layer(x, bias, **layer, config=cfg, head_mask=hm)
    np.testing.assert_array_equal(ours, ref)
    pool = {"weight": f32(64, 64), "bias": f32(64)}
    np.testing.assert_array_equal(run(M.pooler, x, **pool)[0], M.pooler(x, **pool))


# ============================================================== dropout placement
class RecordingGenerator:
    """A Generator stand-in that records the shape of every dropout draw."""

    def __init__(self):
        self.inner = np.random.default_rng(0)
        self.shapes = []

    def random(self, shape, dtype=np.float64):
        self.shapes.append(tuple(shape))
        return self.inner.random(shape, dtype=dtype)


@pytest.mark.parametrize("head", ["sequence", "token", "qa", "multiple_choice", "mlm", "pretraining"])
def test_dropout_is_where_transformers_puts_it(head):
    """Embeddings output (B,T,E); per layer run: attention probs (B,A,T,T) and attention
    output (B,T,H) - no FFN-output dropout (HF defines AlbertLayer.dropout but never applies
    it); then the classifier dropout of the head (none for QA and MLM)."""
    cfg = tiny_config(hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1, classifier_dropout_prob=0.1,
                      num_hidden_layers=3, num_hidden_groups=2, inner_group_num=2,
                      num_labels=2 if head == "qa" else 3)
    model = HEAD_CLASSES[head](cfg, seed=0)
    inputs, labels = make_batch(np.random.default_rng(0), cfg, head)
    rec = RecordingGenerator()
    step.loss_and_grads(model.params, cfg, head, inputs, labels, rng=rec, training=True)
    N, T = (4, 5) if head == "multiple_choice" else (2, 5)
    E, H, A = cfg.embedding_size, cfg.hidden_size, cfg.num_attention_heads
    runs = cfg.num_hidden_layers * cfg.inner_group_num
    want = [(N, T, E)] + [(N, A, T, T), (N, T, H)] * runs
    want += {"sequence": [(N, H)], "multiple_choice": [(N, H)], "pretraining": [(N, H)],
             "token": [(N, T, H)], "qa": [], "mlm": []}[head]
    assert rec.shapes == want
    # eval mode draws nothing
    rec = RecordingGenerator()
    step.loss_and_grads(model.params, cfg, head, inputs, labels, rng=rec, training=False)
    assert rec.shapes == []


def test_training_needs_rng_when_dropout_is_on():
    cfg = tiny_config(hidden_dropout_prob=0.1)
    model = modeling.AlbertForSequenceClassification(cfg)
    inputs, labels = make_batch(np.random.default_rng(0), cfg, "sequence")
    with pytest.raises(ValueError, match="needs rng"):
        step.loss_and_grads(model.params, cfg, "sequence", inputs, labels, training=True)


# =================================================================== bad input
@pytest.fixture(scope="module")
def seq_model():
    cfg = tiny_config()
    return cfg, modeling.AlbertForSequenceClassification(cfg)


def _inputs(B=2, T=5, C=None):
    shape = (B, T) if C is None else (B, C, T)
    return {"input_ids": np.ones(shape, dtype=np.int64)}


@pytest.mark.parametrize("head, labels, exc, match", [
    ("sequence", {"labels": np.array([0, 1, 2])}, ValueError, r"expected \(2,\)"),
    ("sequence", {"labels": np.array([[0], [1]])}, ValueError, r"expected \(2,\)"),
    ("token", {"labels": np.zeros((2, 4), np.int64)}, ValueError, r"expected \(2, 5\)"),
    ("token", {"labels": np.zeros((2, 5))}, TypeError, "integers"),
    ("qa", {"start_positions": np.array([1, 2]), "end_positions": np.array([1.0, 2.0])}, TypeError, "integers"),
    ("qa", {"start_positions": np.array([1, 2, 3]), "end_positions": np.array([1, 2])}, ValueError,
     r"expected \(2,\)"),
    ("qa", {"start_positions": np.array([1, 2])}, ValueError, "end_positions"),
    ("multiple_choice", {"labels": np.array([0, 1, 1])}, ValueError, r"expected \(2,\)"),
    ("mlm", {"labels": np.zeros((2, 6), np.int64)}, ValueError, r"expected \(2, 5\)"),
    ("mlm", {"mlm_positions": np.array([[0, 9]]), "mlm_ids": np.array([[1, 2]])}, ValueError,
     r"expected \(2, P\)"),
    ("mlm", {"mlm_positions": np.array([[0, 9], [1, 2]]), "mlm_ids": np.array([[1, 2], [3, 4]])}, ValueError,
     r"\[0, 5\)"),
    ("pretraining", {"sentence_order_label": np.array([0.0, 1.0])}, TypeError, "integers"),
    ("pretraining", {}, ValueError, "needs labels"),
    ("sequence", {"label": np.array([0, 1])}, ValueError, "unknown"),
    (None, {"d_last_hidden_state": np.zeros((2, 5, 3))}, ValueError, r"expected \(2, 5, 8\)"),
])
def test_bad_labels_raise_clear_errors(head, labels, exc, match):
    cfg = tiny_config(num_labels=2 if head == "qa" else 3)
    model = HEAD_CLASSES[head](cfg)
    inputs = _inputs(C=2) if head == "multiple_choice" else _inputs()
    with pytest.raises(exc, match=match):
        step.loss_and_grads(model.params, cfg, head, inputs, labels)


def test_sequence_label_dtype_and_problem_type(seq_model):
    cfg, model = seq_model
    cfg = cfg.copy()
    cfg.problem_type = "single_label_classification"
    with pytest.raises(TypeError, match="integers"):
        step.loss_and_grads(model.params, cfg, "sequence", _inputs(), {"labels": np.array([0.0, 1.0])})
    cfg.problem_type = "multi_label_classification"
    with pytest.raises(ValueError, match=r"expected \(2, 3\)"):
        step.loss_and_grads(model.params, cfg, "sequence", _inputs(), {"labels": np.array([0.0, 1.0])})


def test_bad_head_and_inputs(seq_model):
    cfg, model = seq_model
    with pytest.raises(ValueError, match="head must be one of"):
        step.loss_and_grads(model.params, cfg, "classification", _inputs(), {"labels": np.array([0, 1])})
    with pytest.raises(ValueError, match="unknown keys"):
        step.loss_and_grads(model.params, cfg, "sequence", {**_inputs(), "labels": 1}, {"labels": np.array([0, 1])})
    with pytest.raises(ValueError, match="2-D"):
        step.loss_and_grads(model.params, cfg, "sequence", {"input_ids": np.ones(5, np.int64)},
                          {"labels": np.array([0])})
    with pytest.raises(ValueError, match="multiple choice inputs must be"):
        step.loss_and_grads(HEAD_CLASSES["multiple_choice"](cfg).params, cfg, "multiple_choice", _inputs(),
                          {"labels": np.array([0, 1])})
    with pytest.raises(TypeError, match="labels must be a dict"):
        step.loss_and_grads(model.params, cfg, "sequence", _inputs(), np.array([0, 1]))


def test_math_constants_are_float32_safe():
    """No accidental float64 upcast in any backward on float32 inputs."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4)).astype(np.float32)
    for name in ("gelu", "gelu_new", "gelu_fast", "quick_gelu", "relu", "tanh"):
        fwd = ops.activation(name)
        y, cache = run(fwd, x)
        assert y.dtype == np.float32 and bp.ACTIVATION_BACKWARDS[fwd](x, cache).dtype == np.float32, name
    w, b = np.ones(4, np.float32), np.zeros(4, np.float32)
    _, c = run(ops.layer_norm, x, w, b, 1e-12)
    assert bp.layer_norm_backward(x, c, {"weight": np.zeros_like(w), "bias": np.zeros_like(b)}).dtype == np.float32
    q = rng.standard_normal((1, 2, 3, 2)).astype(np.float32)
    (out, _), c = run(ops.scaled_dot_product_attention, q, q, q, ops.attention_bias(np.array([[1, 1, 0]]), np.float32))
    assert all(d.dtype == np.float32 for d in bp.scaled_dot_product_attention_backward(out, c))
    assert math.isfinite(float(out.sum()))


def test_backwards_never_write_into_dout():
    """Every backward gets a read-only upstream gradient: an in-place write would raise."""
    cfg = tiny_config(num_hidden_groups=2, inner_group_num=2)
    rng = np.random.default_rng(12)
    for head in ("sequence", "token", "qa", "multiple_choice", "mlm", "pretraining", None):
        model = HEAD_CLASSES[head](cfg.copy() if head != "qa" else tiny_config(num_labels=2), seed=0)
        c = model.config
        inputs, _ = make_batch(rng, c, head)
        cache = {}
        outputs = step.model_forward(model.params, c, head, inputs, cache=cache)
        d = {}
        for key, value in outputs.items():
            if value is not None:
                g = rng.standard_normal(value.shape).astype(value.dtype)
                g.setflags(write=False)
                d[key] = g
        step.model_backward(d, cache, zeros_like_params(model.params))
