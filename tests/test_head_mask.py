"""head_mask against transformers 4.57, the last transformers that applies it (5.x ignores it).

The fixtures (tests/fixtures/head_mask_tf4/*) were recorded by
tests/fixtures/make_head_mask_fixture.py under transformers 4.57.6 + torch 2.13.0.

albert_np's rule: row i of an (L, A) head_mask applies to every attention of layer
application i (L = num_hidden_layers, the count of hidden_states after the first),
which is what transformers documents for the shape (num_layers, num_heads).
transformers 4.57 slices head_mask per layer *group* instead: inner layer j of the
group g = int(i / (L / G)) gets row g * int(L / G) + j. With one group (every
released ALBERT) that is row j, so a one-layer group uses row 0 in all L
applications. The two rules agree for a (A,) mask, for equal rows, and for
G = L with inner_group_num = 1; these tests compare the outputs there, and show
elsewhere that the difference is exactly that indexing.
"""
import os

import numpy as np
import pytest

from albert_np import AlbertModel

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "head_mask_tf4")
CASES = sorted(os.listdir(FIXTURES))
TOL = 1e-5                       # absolute, float32 (see assert_equal_to_transformers)
FIELDS = ("last_hidden_state", "pooler_output", "hidden_states", "attentions")


def load(name):
    folder = os.path.join(FIXTURES, name)
    return AlbertModel.from_pretrained(folder), dict(np.load(os.path.join(folder, "reference.npz")))


def rows_of_runs(config, rule):
    """The head_mask row each layer run (application i, inner layer j) uses, in run order."""
    L, G, inner = config.num_hidden_layers, config.num_hidden_groups, config.inner_group_num
    if rule == "transformers 4.57":
        return [config.group_of_layer(i) * int(L / G) + j for i in range(L) for j in range(inner)]
    return [i for i in range(L) for _ in range(inner)]                       # albert_np


def masks_of_runs(config, head_mask, rule):                                  # -> (runs, A)
    if head_mask.ndim == 1:
        return np.broadcast_to(head_mask, (config.num_hidden_layers * config.inner_group_num, head_mask.size))
    return head_mask[rows_of_runs(config, rule)]


def applied_masks(attentions, attention_mask):                               # (runs, B, A, T, T) -> (runs, A)
    """The head mask each run applied, read back from its attention probabilities: softmax rows sum
    to 1, so a row of masked probabilities sums to that head's mask value (real query tokens only)."""
    sums = np.asarray(attentions).sum(-1)                                    # (runs, B, A, T)
    real = attention_mask.astype(bool)                                       # (B, T)
    per_head = sums.transpose(0, 2, 1, 3)[:, :, real]                        # (runs, A, real tokens)
    assert np.ptp(per_head, axis=-1).max() < 1e-5                            # one value per run and head
    return per_head.mean(-1)


def run(model, ref, head_mask):
    return model(input_ids=ref["input_ids"], attention_mask=ref["attention_mask"],
                 token_type_ids=ref["token_type_ids"], head_mask=head_mask,
                 output_hidden_states=True, output_attentions=True)


def diffs(out, ref):
    """Per output: |albert_np - transformers| and transformers' own float32 error (vs its float64 run)."""
    result = {}
    for f in FIELDS:
        got = getattr(out, f)
        got = np.stack(got) if f in ("hidden_states", "attentions") else got
        result[f] = (float(np.abs(got - ref["out_" + f]).max()),
                     float(np.abs(ref["out_" + f] - ref["out64_" + f]).max()))
    return result


def max_diff(out, ref):
    return max(err for err, _ in diffs(out, ref).values())


def assert_equal_to_transformers(out, ref, name):
    """Within 1e-5 absolute, or twice transformers' own float32 error where that is larger
    (the bound of tests/test_parity_live.py): never further from 4.57 than 4.57 is from exact."""
    for field, (err, own) in diffs(out, ref).items():
        assert err <= max(TOL, 2 * own), f"{name} {field}: |diff| {err:.3g} (transformers' own error {own:.3g})"


def rules_agree(config, head_mask):
    return np.array_equal(masks_of_runs(config, head_mask, "transformers 4.57"),
                          masks_of_runs(config, head_mask, "albert_np"))


def test_the_fixtures_cover_agreement_and_both_kinds_of_difference():
    seen = set()
    for name in CASES:
        model, ref = load(name)
        assert str(ref["versions"][0]).startswith("4.57."), ref["versions"]
        c = model.config
        seen.add(("agree" if rules_agree(c, ref["head_mask"]) else "differ", c.num_hidden_groups,
                  c.inner_group_num, ref["head_mask"].ndim))
    assert {("agree", 3, 1, 2), ("agree", 1, 1, 1), ("agree", 1, 2, 2), ("differ", 1, 1, 2),
            ("differ", 2, 1, 2), ("differ", 1, 2, 2), ("differ", 2, 2, 2)} <= seen, seen


@pytest.mark.parametrize("name", CASES)
def test_transformers_457_uses_the_row_of_its_group_slice(name):
    """What the recorded attentions say 4.57 applied, run by run: row g * int(L / G) + j."""
    model, ref = load(name)
    got = applied_masks(ref["out_attentions"], ref["attention_mask"])
    np.testing.assert_allclose(got, masks_of_runs(model.config, ref["head_mask"], "transformers 4.57"), atol=1e-6)


@pytest.mark.parametrize("name", CASES)
def test_albert_np_uses_row_i_in_application_i(name):
    model, ref = load(name)
    out = run(model, ref, ref["head_mask"])
    got = applied_masks(out.attentions, ref["attention_mask"])
    np.testing.assert_allclose(got, masks_of_runs(model.config, ref["head_mask"], "albert_np"), atol=1e-6)


@pytest.mark.parametrize("name", [n for n in CASES if rules_agree(load(n)[0].config, load(n)[1]["head_mask"])])
def test_equal_to_transformers_457_where_the_rules_agree(name):
    model, ref = load(name)
    assert_equal_to_transformers(run(model, ref, ref["head_mask"]), ref, name)


@pytest.mark.parametrize("name", [n for n in CASES if not rules_agree(load(n)[0].config, load(n)[1]["head_mask"])])
def test_where_they_differ_it_is_the_row_indexing(name):
    """Same head_mask: the outputs differ. With inner_group_num = 1, albert_np given the rows
    4.57 used (row g * int(L / G) for application i) reproduces 4.57's outputs; with more inner
    layers 4.57 masks each inner layer with its own row, which an (L, A) mask of albert_np's
    rule cannot express (the test above reads those rows back from 4.57's attentions)."""
    model, ref = load(name)
    assert max_diff(run(model, ref, ref["head_mask"]), ref) > 1e-3
    if model.config.inner_group_num == 1:
        as_457 = masks_of_runs(model.config, ref["head_mask"], "transformers 4.57")   # (L, A)
        assert_equal_to_transformers(run(model, ref, as_457), ref, name + " with 4.57's rows")
