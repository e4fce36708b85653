"""Losses: forward values and gradients against PyTorch / HF (float32), and
central finite differences (float64)."""
import numpy as np
import pytest

from albert_np import losses as L

TORCH_REASON = "torch not installed; install the `parity` extra to compare against PyTorch"


def _torch():
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    torch.set_num_threads(1)
    return torch


def rel_error(a, b):
    """max |a - b| / max(1e-8, |a| + |b|), elementwise (cs231n)."""
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


def numerical_grad(f, x, h=1e-5):
    """Central differences of scalar f at x (float64), one element at a time."""
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + h
        plus = float(f(x))
        x[i] = old - h
        minus = float(f(x))
        x[i] = old
        grad[i] = (plus - minus) / (2 * h)
    return grad


RNG = np.random.default_rng(0)


# ----------------------------------------------------------------------------- log_softmax

@pytest.mark.parity
def test_log_softmax_matches_torch():
    torch = _torch()
    x = (RNG.standard_normal((4, 7)) * 5).astype(np.float32)
    ref = torch.log_softmax(torch.from_numpy(x), dim=-1).numpy()
    np.testing.assert_allclose(L.log_softmax(x), ref, atol=1e-6, rtol=0)
    assert L.log_softmax(x).dtype == np.float32


# ----------------------------------------------------------------------------- cross entropy

@pytest.mark.parity
@pytest.mark.parametrize("shape", [(6, 5), (2, 3, 11)])
def test_cross_entropy_matches_torch(shape):
    torch = _torch()
    K = shape[-1]
    logits = (RNG.standard_normal(shape) * 3).astype(np.float32)
    labels = RNG.integers(0, K, size=shape[:-1])
    labels.reshape(-1)[[1, 3]] = -100                         # two ignored rows
    loss, cache = L.cross_entropy(logits, labels)
    dloss = np.float32(0.7)
    d = L.cross_entropy_backward(dloss, cache)

    t = torch.tensor(logits, requires_grad=True)
    ref = torch.nn.functional.cross_entropy(t.reshape(-1, K), torch.from_numpy(labels).reshape(-1),
                                            ignore_index=-100)
    ref.backward(torch.tensor(0.7))
    assert loss.dtype == np.float32 and d.dtype == np.float32 and d.shape == logits.shape
    assert abs(float(loss) - ref.item()) <= 1e-6
    np.testing.assert_allclose(d, t.grad.numpy(), atol=1e-6, rtol=0)


@pytest.mark.parity
def test_cross_entropy_custom_ignore_index_matches_torch():
    torch = _torch()
    logits = RNG.standard_normal((5, 4)).astype(np.float32)
    labels = np.array([0, 4, 3, 4, 1])                        # 4 == K is ignored
    loss, cache = L.cross_entropy(logits, labels, ignore_index=4)
    t = torch.tensor(logits, requires_grad=True)
    ref = torch.nn.functional.cross_entropy(t, torch.from_numpy(labels), ignore_index=4)
    ref.backward()
    assert abs(float(loss) - ref.item()) <= 1e-6
    np.testing.assert_allclose(L.cross_entropy_backward(1.0, cache), t.grad.numpy(), atol=1e-6, rtol=0)


@pytest.mark.parity
def test_cross_entropy_all_ignored_is_nan_with_zero_grad_like_torch():
    torch = _torch()
    logits = RNG.standard_normal((3, 4)).astype(np.float32)
    labels = np.full(3, -100)
    with np.errstate(all="raise"):                            # no stray warnings leak out
        loss, cache = L.cross_entropy(logits, labels)
    t = torch.tensor(logits, requires_grad=True)
    ref = torch.nn.functional.cross_entropy(t, torch.from_numpy(labels))
    ref.backward()
    assert np.isnan(loss) and np.isnan(ref.item())
    d = L.cross_entropy_backward(1.0, cache)
    np.testing.assert_array_equal(d, t.grad.numpy())
    np.testing.assert_array_equal(d, np.zeros_like(logits))


def test_cross_entropy_gradcheck_float64():
    logits = RNG.standard_normal((4, 6, 5))
    labels = RNG.integers(0, 5, size=(4, 6))
    labels[0, 2] = labels[3, 5] = -100
    dloss = 1.3
    loss, cache = L.cross_entropy(logits, labels)
    assert loss.dtype == np.float64
    d = L.cross_entropy_backward(dloss, cache)
    num = numerical_grad(lambda x: dloss * L.cross_entropy(x, labels)[0], logits.copy())
    assert rel_error(d, num) <= 1e-6
    assert np.all(d[0, 2] == 0) and np.all(d[3, 5] == 0)


def test_cross_entropy_by_hand_and_stable_for_huge_logits():
    # logits (0, 0) -> log 2 ;  logits (1000, 0), label 1 -> 1000 + log(1 + e^-1000) = 1000
    loss, _ = L.cross_entropy(np.zeros((1, 2), np.float32), np.array([1]))
    assert abs(float(loss) - np.log(2)) < 1e-7
    loss, cache = L.cross_entropy(np.array([[1000.0, 0.0]], np.float32), np.array([1]))
    assert float(loss) == 1000.0
    np.testing.assert_allclose(L.cross_entropy_backward(1.0, cache), [[1.0, -1.0]], atol=0)


def test_cross_entropy_does_not_modify_inputs():
    logits = RNG.standard_normal((3, 4)).astype(np.float32)
    labels = np.array([1, -100, 2])
    lc, lb = logits.copy(), labels.copy()
    dloss = np.float32(2.0)
    _, cache = L.cross_entropy(logits, labels)
    L.cross_entropy_backward(dloss, cache)
    np.testing.assert_array_equal(logits, lc)
    np.testing.assert_array_equal(labels, lb)
    assert dloss == 2.0


def test_cross_entropy_errors_name_the_problem():
    logits = np.zeros((3, 4), np.float32)
    with pytest.raises(TypeError, match="integer"):
        L.cross_entropy(logits, np.array([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match=r"\(3, 4\).*\(2,\)"):
        L.cross_entropy(logits, np.array([0, 1]))
    with pytest.raises(ValueError, match="label value 7"):
        L.cross_entropy(logits, np.array([0, 7, 1]))
    with pytest.raises(ValueError, match="label value -1"):
        L.cross_entropy(logits, np.array([0, -1, 1]))
    with pytest.raises(TypeError, match="floating"):
        L.cross_entropy(np.zeros((3, 4), np.int64), np.array([0, 1, 2]))
    _, cache = L.cross_entropy(logits, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="scalar"):
        L.cross_entropy_backward(np.ones(3), cache)


# ----------------------------------------------------------------------------- mse, bce

@pytest.mark.parity
def test_mse_matches_torch():
    torch = _torch()
    p = RNG.standard_normal((5, 3)).astype(np.float32)
    y = RNG.standard_normal((5, 3)).astype(np.float32)
    loss, cache = L.mse(p, y)
    d = L.mse_backward(np.float32(0.5), cache)
    t = torch.tensor(p, requires_grad=True)
    ref = torch.nn.functional.mse_loss(t, torch.from_numpy(y))
    ref.backward(torch.tensor(0.5))
    assert loss.dtype == np.float32 and d.dtype == np.float32
    assert abs(float(loss) - ref.item()) <= 1e-6
    np.testing.assert_allclose(d, t.grad.numpy(), atol=1e-6, rtol=0)


def test_mse_gradcheck_float64_and_shape_error():
    p, y = RNG.standard_normal(7), RNG.standard_normal(7)
    _, cache = L.mse(p, y)
    num = numerical_grad(lambda x: L.mse(x, y)[0], p.copy())
    assert rel_error(L.mse_backward(1.0, cache), num) <= 1e-6
    assert float(L.mse(np.array([1.0, 3.0]), np.array([0.0, 0.0]))[0]) == 5.0   # (1 + 9) / 2
    with pytest.raises(ValueError, match="squeeze"):
        L.mse(np.zeros((4, 1), np.float32), np.zeros(4, np.float32))


@pytest.mark.parity
def test_bce_with_logits_matches_torch_including_large_logits():
    torch = _torch()
    x = (RNG.standard_normal((4, 6)) * 4).astype(np.float32)
    x[0, :3] = [60.0, -60.0, 0.0]                             # exp(60) would overflow float32 sums
    y = RNG.integers(0, 2, size=(4, 6)).astype(np.float32)
    y[1, 0] = 0.3                                             # soft target
    loss, cache = L.bce_with_logits(x, y)
    d = L.bce_with_logits_backward(np.float32(1.5), cache)
    t = torch.tensor(x, requires_grad=True)
    ref = torch.nn.functional.binary_cross_entropy_with_logits(t, torch.from_numpy(y))
    ref.backward(torch.tensor(1.5))
    assert np.isfinite(loss) and loss.dtype == np.float32
    assert abs(float(loss) - ref.item()) <= 1e-6
    np.testing.assert_allclose(d, t.grad.numpy(), atol=1e-6, rtol=0)


def test_bce_with_logits_gradcheck_float64():
    x = RNG.standard_normal((3, 4)) * 3
    y = RNG.random((3, 4))
    _, cache = L.bce_with_logits(x, y)
    num = numerical_grad(lambda z: L.bce_with_logits(z, y)[0], x.copy())
    assert rel_error(L.bce_with_logits_backward(1.0, cache), num) <= 1e-6
    # by hand: logit 0 -> log 2 whatever the target
    assert abs(float(L.bce_with_logits(np.zeros(2), np.array([0.0, 1.0]))[0]) - np.log(2)) < 1e-15


# ----------------------------------------------------------------------------- HF task losses

def _tiny_albert_config(**kw):
    transformers = pytest.importorskip("transformers", reason=TORCH_REASON)
    return transformers.AlbertConfig(
        vocab_size=32, embedding_size=4, hidden_size=8, num_hidden_layers=1,
        num_attention_heads=2, intermediate_size=8, max_position_embeddings=16, **kw)


@pytest.mark.parity
@pytest.mark.parametrize("case", ["regression", "single_label_classification",
                                  "multi_label_classification"])
def test_sequence_classification_loss_matches_hf(case):
    torch = _torch()
    import transformers
    B = 3
    num_labels = 1 if case == "regression" else 4
    if case == "regression":
        labels = RNG.standard_normal(B).astype(np.float32)
    elif case == "single_label_classification":
        labels = RNG.integers(0, num_labels, size=B)
    else:
        labels = RNG.integers(0, 2, size=(B, num_labels)).astype(np.float32)
    torch.manual_seed(0)
    model = transformers.AlbertForSequenceClassification(_tiny_albert_config(num_labels=num_labels)).eval()
    ids = torch.from_numpy(RNG.integers(0, 32, size=(B, 5)))
    out = model(input_ids=ids, labels=torch.from_numpy(labels))
    assert model.config.problem_type == case                 # HF inferred it
    logits_t = out.logits
    logits_t.retain_grad()
    out.loss.backward()

    logits = logits_t.detach().numpy()
    loss, cache, problem_type = L.sequence_classification_loss(logits, labels, num_labels)
    assert problem_type == case
    assert abs(float(loss) - out.loss.item()) <= 1e-6
    d = L.sequence_classification_loss_backward(np.float32(1.0), cache)
    assert d.shape == logits.shape and d.dtype == np.float32
    np.testing.assert_allclose(d, logits_t.grad.numpy(), atol=1e-6, rtol=0)


def test_sequence_classification_loss_gradcheck_float64_and_errors():
    cases = [(1, RNG.standard_normal((3, 1)), RNG.standard_normal((3, 1)), "regression"),
             (4, RNG.standard_normal((3, 4)), RNG.integers(0, 4, size=3), "single_label_classification"),
             (4, RNG.standard_normal((3, 4)), RNG.random((3, 4)), "multi_label_classification")]
    for num_labels, logits, labels, expected in cases:
        loss, cache, pt = L.sequence_classification_loss(logits, labels, num_labels)
        assert pt == expected
        num = numerical_grad(lambda x: L.sequence_classification_loss(x, labels, num_labels)[0],
                             logits.copy())
        assert rel_error(L.sequence_classification_loss_backward(1.0, cache), num) <= 1e-6
    with pytest.raises(ValueError, match="problem_type"):
        L.sequence_classification_loss(np.zeros((2, 3)), np.array([0, 1]), 3, "ranking")
    with pytest.raises(ValueError, match="num_labels"):
        L.sequence_classification_loss(np.zeros((2, 3)), np.array([0, 1]), 0)


@pytest.mark.parity
def test_question_answering_loss_matches_hf_with_clamped_positions():
    torch = _torch()
    import transformers
    B, T = 4, 6
    torch.manual_seed(0)
    model = transformers.AlbertForQuestionAnswering(_tiny_albert_config(num_labels=2)).eval()
    ids = torch.from_numpy(RNG.integers(0, 32, size=(B, T)))
    start = np.array([2, 9, -3, 6])          # 9 and 6 -> T (ignored); -3 -> 0
    end = np.array([[3], [9], [1], [5]])     # (B, 1): HF squeezes
    out = model(input_ids=ids, start_positions=torch.from_numpy(start),
                end_positions=torch.from_numpy(end))
    out.start_logits.retain_grad()
    out.end_logits.retain_grad()
    out.loss.backward()

    sl, el = out.start_logits.detach().numpy(), out.end_logits.detach().numpy()
    loss, cache = L.question_answering_loss(sl, el, start, end)
    ds, de = L.question_answering_loss_backward(np.float32(1.0), cache)
    assert abs(float(loss) - out.loss.item()) <= 1e-6
    np.testing.assert_allclose(ds, out.start_logits.grad.numpy(), atol=1e-6, rtol=0)
    np.testing.assert_allclose(de, out.end_logits.grad.numpy(), atol=1e-6, rtol=0)
    assert np.all(ds[[1, 3]] == 0)                            # ignored rows get no gradient


def test_question_answering_loss_gradcheck_float64_and_by_hand():
    B, T = 3, 5
    sl, el = RNG.standard_normal((B, T)), RNG.standard_normal((B, T))
    start, end = np.array([0, 4, 7]), np.array([1, 4, 2])
    _, cache = L.question_answering_loss(sl, el, start, end)
    ds, de = L.question_answering_loss_backward(0.9, cache)
    f_s = lambda x: 0.9 * L.question_answering_loss(x, el, start, end)[0]  # noqa: E731
    f_e = lambda x: 0.9 * L.question_answering_loss(sl, x, start, end)[0]  # noqa: E731
    assert rel_error(ds, numerical_grad(f_s, sl.copy())) <= 1e-6
    assert rel_error(de, numerical_grad(f_e, el.copy())) <= 1e-6
    # by hand: uniform logits -> each CE is log T, so the mean of the two is log T
    loss, _ = L.question_answering_loss(np.zeros((1, T)), np.zeros((1, T)), [1], [2])
    assert abs(float(loss) - np.log(T)) < 1e-15
    with pytest.raises(TypeError, match="start_positions"):
        L.question_answering_loss(sl, el, np.array([0.0, 1.0, 2.0]), end)
