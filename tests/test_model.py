"""albert_np's forward pass against transformers' outputs recorded in fixtures.

The fixtures (tests/fixtures/models/*) were written by tests/fixtures/make_fixtures.py
with transformers 5.23 + torch: tiny random ALBERTs saved by transformers, and
every output of a padded, two-segment batch. Tolerance: 1e-5 absolute (float32).
"""
import json
import math
import os

import numpy as np
import pytest

import albert_np
from albert_np import ops
from albert_np.modeling import MODEL_CLASSES

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "models")
CASES = sorted(os.listdir(FIXTURES))
TOL = 1e-5

INPUT_KEYS = ("input_ids", "attention_mask", "token_type_ids", "labels", "sentence_order_label",
              "start_positions", "end_positions", "head_mask")


def load_case(name):
    folder = os.path.join(FIXTURES, name)
    with open(os.path.join(folder, "config.json")) as f:
        arch = json.load(f)["architectures"][0]
    ref = dict(np.load(os.path.join(folder, "reference.npz")))
    model = MODEL_CLASSES[arch].from_pretrained(folder)
    return model, ref


def run(model, ref):
    feed = {k: ref[k] for k in INPUT_KEYS if k in ref}
    return model(**feed, output_hidden_states=True, output_attentions=True)


def test_fixture_cases_cover_the_issue():
    """The configs the issue names are all among the fixtures."""
    seen = {"groups": set(), "inner": set(), "act": set(), "e_ne_h": False, "ptype": set()}
    for name in CASES:
        with open(os.path.join(FIXTURES, name, "config.json")) as f:
            c = json.load(f)
        seen["groups"].add(c["num_hidden_groups"])
        seen["inner"].add(c["inner_group_num"])
        seen["act"].add(c["hidden_act"])
        seen["e_ne_h"] |= c["embedding_size"] != c["hidden_size"]
        ref = np.load(os.path.join(FIXTURES, name, "reference.npz"))
        if "SequenceClassification" in c["architectures"][0]:
            model = albert_np.AlbertForSequenceClassification.from_pretrained(os.path.join(FIXTURES, name))
            seen["ptype"].add(model.config.problem_type or albert_np.losses.infer_problem_type(
                model.config.num_labels, ref["labels"]))
        assert (ref["attention_mask"] == 0).any(), f"{name}: the batch must be padded"
        assert (ref["token_type_ids"] == 1).any(), f"{name}: the batch must use two segments"
    assert {1, 2, 3} <= seen["groups"] and {1, 2} <= seen["inner"] and seen["e_ne_h"]
    assert {"gelu", "gelu_new", "relu", "gelu_fast", "gelu_pytorch_tanh", "quick_gelu"} <= seen["act"]
    assert seen["ptype"] == {"regression", "single_label_classification", "multi_label_classification"}


@pytest.mark.parametrize("name", CASES)
def test_outputs_match_transformers(name):
    model, ref = load_case(name)
    out = run(model, ref)
    compared = 0
    for key, want in ref.items():
        if not key.startswith("out_"):
            continue
        field = key[4:]
        got = getattr(out, field)
        if field in ("hidden_states", "attentions"):
            assert len(got) == len(want), f"{field}: {len(got)} entries, transformers has {len(want)}"
            got = np.stack(got)
        got = np.asarray(got)
        assert got.shape == want.shape, (field, got.shape, want.shape)
        assert got.dtype == np.float32, (field, got.dtype)
        err = float(np.max(np.abs(got - want)))
        assert err <= TOL, f"{name}: {field} differs from transformers by {err:.3g}"
        compared += 1
    assert compared >= 4


def test_head_mask_changes_the_output():
    """The head_mask fixture really masks: without the mask the output differs."""
    model, ref = load_case("head_mask")
    feed = {k: ref[k] for k in ("input_ids", "attention_mask", "token_type_ids")}
    masked = model(**feed, head_mask=ref["head_mask"]).logits
    plain = model(**feed).logits
    assert np.abs(masked - plain).max() > 1e-3
    np.testing.assert_allclose(masked, ref["out_logits"], atol=TOL)


def test_hidden_state_count_follows_transformers_4():
    model, ref = load_case("pretraining_g2_i2_gelu")
    out = run(model, ref)
    c = model.config
    assert len(out.hidden_states) == c.num_hidden_layers + 1
    assert len(out.attentions) == c.num_hidden_layers * c.inner_group_num


def test_group_rule_matches_hf_formula():
    """Layer i uses group int(i / (L / G)), also when G does not divide L."""
    cfg = albert_np.AlbertConfig(num_hidden_layers=5, num_hidden_groups=3, hidden_size=8,
                                 num_attention_heads=2, intermediate_size=8, embedding_size=4)
    assert [cfg.group_of_layer(i) for i in range(5)] == [0, 0, 1, 1, 2]
    cfg = albert_np.AlbertConfig(num_hidden_layers=12, num_hidden_groups=1)
    assert {cfg.group_of_layer(i) for i in range(12)} == {0}


def test_tied_decoder_is_the_embedding_table():
    model, _ = load_case("pretraining_g1_i1")
    p = model.params
    assert p["predictions"]["decoder"]["weight"] is p["albert"]["embeddings"]["word_embeddings"]["weight"]
    assert p["predictions"]["decoder"]["bias"] is p["predictions"]["bias"]


def test_outputs_behave_like_hf_model_output():
    model, ref = load_case("seq_single_label")
    out = model(input_ids=ref["input_ids"], attention_mask=ref["attention_mask"], labels=ref["labels"])
    assert out["logits"] is out.logits
    assert out[0] is out.loss and out[1] is out.logits   # None fields skipped, as HF
    assert list(out.keys()) == ["loss", "logits"]
    loss, logits = model(input_ids=ref["input_ids"], attention_mask=ref["attention_mask"],
                         labels=ref["labels"], return_dict=False)
    assert loss == out.loss


# ------------------------------------------------------------- activations
def test_erf_is_float32_accurate():
    x = np.concatenate([np.linspace(-7, 7, 20001), np.logspace(-9, 0.7, 500),
                        -np.logspace(-9, 0.7, 500), [0.0, 0.4999999, 0.5, 0.5000001]]).astype(np.float32)
    want = np.array([math.erf(float(v)) for v in x])
    got = ops.erf(x)
    assert got.dtype == np.float32
    rel = np.abs(got - want) / np.maximum(np.abs(want), 1e-30)
    assert rel.max() < 5e-7, rel.max()          # a few float32 ulps (eps = 1.19e-7)
    x64 = np.linspace(-5, 5, 101)
    np.testing.assert_allclose(ops.erf(x64), [math.erf(v) for v in x64], rtol=0, atol=1e-15)


@pytest.mark.parametrize("name,ref", [
    ("gelu", lambda v: 0.5 * v * (1 + math.erf(v / math.sqrt(2)))),
    ("gelu_new", lambda v: 0.5 * v * (1 + math.tanh(math.sqrt(2 / math.pi) * (v + 0.044715 * v ** 3)))),
    ("gelu_pytorch_tanh", lambda v: 0.5 * v * (1 + math.tanh(math.sqrt(2 / math.pi) * (v + 0.044715 * v ** 3)))),
    ("gelu_fast", lambda v: 0.5 * v * (1 + math.tanh(v * 0.7978845608 * (1 + 0.044715 * v * v)))),
    ("quick_gelu", lambda v: v / (1 + math.exp(-1.702 * v))),
    ("relu", lambda v: max(v, 0.0)),
])
def test_activations_against_scalar_formulas(name, ref):
    x = np.linspace(-8, 8, 4001).astype(np.float32)
    got = ops.activation(name)(x)
    assert got.dtype == np.float32
    want = np.array([ref(float(v)) for v in x])
    np.testing.assert_allclose(got, want, rtol=0, atol=2e-6)


def test_layer_norm_and_softmax_by_hand():
    x = np.array([[1.0, 2.0, 4.0]], dtype=np.float32)
    y = ops.layer_norm(x, np.array([1, 2, 1], np.float32), np.array([0, 0, 1], np.float32), 1e-12)
    mean, var = 7 / 3, ((1 - 7 / 3) ** 2 + (2 - 7 / 3) ** 2 + (4 - 7 / 3) ** 2) / 3
    want = [(1 - mean) / math.sqrt(var), 2 * (2 - mean) / math.sqrt(var), (4 - mean) / math.sqrt(var) + 1]
    np.testing.assert_allclose(y[0], want, rtol=1e-6)
    s = ops.softmax(np.array([[0.0, math.log(3.0)]], dtype=np.float32))
    np.testing.assert_allclose(s, [[0.25, 0.75]], rtol=1e-6)


def test_layer_norm_and_softmax_out_and_other_axes():
    """out=x overwrites x with the same result; softmax over a non-last axis as well."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 5, 7)).astype(np.float32)
    w, b = rng.standard_normal(7).astype(np.float32), rng.standard_normal(7).astype(np.float32)
    want = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-12) * w + b
    got = ops.layer_norm(x.copy(), w, b, 1e-12)
    y = x.copy()
    same = ops.layer_norm(y, w, b, 1e-12, out=y)
    assert same is y
    np.testing.assert_allclose(got, want, atol=2e-6)
    np.testing.assert_allclose(same, want, atol=2e-6)
    for axis in (0, 1, -1):
        e = np.exp(x - x.max(axis, keepdims=True))
        np.testing.assert_allclose(ops.softmax(x, axis=axis), e / e.sum(axis, keepdims=True), rtol=2e-6)


@pytest.mark.parametrize("kind", ["right", "left", "holes"])
def test_skip_padding_equals_each_sequence_alone(kind):
    """The packed forward (skip_padding) gives every real token the vector it gets when its
    sequence runs alone, unpadded; padding rows are 0; falls back with output_attentions."""
    from albert_np.model import albert_model
    model, _ = load_case("pretraining_g2_i2_gelu")
    c, p = model.config, model.params["albert"]
    rng = np.random.default_rng(1)
    B, T = 6, 13
    ids = rng.integers(5, c.vocab_size, (B, T))
    types = rng.integers(0, 2, (B, T))
    mask = np.zeros((B, T), np.int64)
    for r, n in enumerate([13, 4, 9, 4, 1, 11]):
        if kind == "right":
            mask[r, :n] = 1
        elif kind == "left":
            mask[r, T - n:] = 1
        else:
            mask[r, rng.choice(T, n, replace=False)] = 1
    packed = albert_model(p, c, input_ids=ids, attention_mask=mask, token_type_ids=types, skip_padding=True)
    h = packed["last_hidden_state"]
    for r in range(B):
        keep = mask[r] == 1
        pos = np.flatnonzero(keep)[None]              # the positions the padded batch gives them
        alone = albert_model(p, c, input_ids=ids[r:r + 1, keep], token_type_ids=types[r:r + 1, keep],
                             position_ids=pos)["last_hidden_state"][0]
        np.testing.assert_allclose(h[r, keep], alone, atol=2e-5)
        assert not h[r, ~keep].any()
    padded = albert_model(p, c, input_ids=ids, attention_mask=mask, token_type_ids=types)
    np.testing.assert_allclose(h[mask == 1], padded["last_hidden_state"][mask == 1], atol=2e-5)
    with_probs = albert_model(p, c, input_ids=ids, attention_mask=mask, token_type_ids=types,
                              skip_padding=True, output_attentions=True)
    np.testing.assert_array_equal(with_probs["last_hidden_state"], padded["last_hidden_state"])


def test_no_float64_on_the_hot_path():
    model, ref = load_case("pretraining_g2_i2_gelu")
    out = run(model, ref)
    for h in out.hidden_states + out.attentions + (out.prediction_logits, out.sop_logits):
        assert h.dtype == np.float32


def test_heads_table_and_classes_agree():
    """Each class's `head` row names that class, and model_class maps the head back to it."""
    from albert_np.heads import HEADS, expected_shapes
    from albert_np.modeling import model_class
    assert sorted(HEADS, key=str) == sorted((c.head for c in MODEL_CLASSES.values()), key=str)
    for name, cls in MODEL_CLASSES.items():
        assert HEADS[cls.head].model_class == name and model_class(cls.head) is cls
        cfg = albert_np.AlbertConfig(vocab_size=11, embedding_size=4, hidden_size=6, num_attention_heads=2,
                                     intermediate_size=5, num_hidden_layers=2, num_labels=2)
        assert {k: v.shape for k, v in cls(cfg).state_dict().items()} == expected_shapes(cfg, cls.head)

