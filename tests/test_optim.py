"""Optimisers, clipping and schedules against torch / transformers and against
plain float64 re-statements of the published formulas."""
import numpy as np
import pytest

from albert_np.training import optim as O

TORCH_REASON = "torch not installed; install the `parity` extra to compare against PyTorch"

# names and shapes shaped like ALBERT's: some decayed, some not (bias / LayerNorm / layer_norm)
SHAPES = {
    "albert.embeddings.word_embeddings.weight": (11, 4),
    "albert.embeddings.LayerNorm.weight": (4,),
    "albert.embeddings.LayerNorm.bias": (4,),
    "albert.encoder.albert_layer_groups.0.albert_layers.0.ffn.weight": (6, 8),
    "albert.encoder.albert_layer_groups.0.albert_layers.0.ffn.bias": (6,),
    "albert.encoder.albert_layer_groups.0.albert_layers.0.full_layer_layer_norm.weight": (8,),
    "classifier.weight": (3, 8),
}


def _torch():
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    torch.set_num_threads(1)
    return torch


def make_params(dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    return {k: rng.standard_normal(s).astype(dtype) for k, s in SHAPES.items()}


def make_grads(steps, dtype=np.float32, seed=1):
    rng = np.random.default_rng(seed)
    return [{k: (rng.standard_normal(s) * 0.1).astype(dtype) for k, s in SHAPES.items()}
            for _ in range(steps)]


def test_no_decay_rule_on_albert_names():
    decayed = [k for k in SHAPES if not O.no_decay(k)]
    assert decayed == ["albert.embeddings.word_embeddings.weight",
                       "albert.encoder.albert_layer_groups.0.albert_layers.0.ffn.weight",
                       "classifier.weight"]
    assert O.no_decay("predictions.bias") and O.no_decay("LayerNorm.weight")


# ----------------------------------------------------------------------------- AdamW

@pytest.mark.parity
@pytest.mark.parametrize("scheduled", [False, True])
def test_adamw_matches_torch_for_20_steps(scheduled):
    torch = _torch()
    from transformers import get_linear_schedule_with_warmup
    lr, wd, steps = 1e-2, 0.05, 20
    params = make_params()
    grads = make_grads(steps)
    t_params = {k: torch.nn.Parameter(torch.tensor(v)) for k, v in params.items()}
    t_opt = torch.optim.AdamW(
        [{"params": [p for k, p in t_params.items() if not O.no_decay(k)], "weight_decay": wd},
         {"params": [p for k, p in t_params.items() if O.no_decay(k)], "weight_decay": 0.0}],
        lr=lr, betas=(0.9, 0.999), eps=1e-8)
    sched = get_linear_schedule_with_warmup(t_opt, 5, steps) if scheduled else None
    opt = O.AdamW(params, lr=lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=wd)
    for s, g in enumerate(grads):
        for k, p in t_params.items():
            p.grad = torch.tensor(g[k])
        t_opt.step()
        if sched is not None:
            sched.step()
        opt.step(g, lr=lr * O.linear_warmup_linear_decay(s, 5, steps) if scheduled else None)
    for k, p in params.items():
        assert p.dtype == np.float32 and opt.m[k].dtype == np.float32 and opt.v[k].dtype == np.float32
        np.testing.assert_allclose(p, t_params[k].detach().numpy(), atol=1e-6, rtol=0, err_msg=k)
        state = t_opt.state[t_params[k]]
        np.testing.assert_allclose(opt.m[k], state["exp_avg"].numpy(), atol=1e-6, rtol=0)
        np.testing.assert_allclose(opt.v[k], state["exp_avg_sq"].numpy(), atol=1e-7, rtol=0)
    assert opt.step_count == steps


def test_adamw_first_step_by_hand():
    # step 1: m_hat = g, v_hat = g^2, so p <- p(1 - lr wd) - lr g / (|g| + eps) ~ p(1 - lr wd) - lr sign(g)
    p = np.array([1.0, -2.0, 3.0])
    g = np.array([0.5, -4.0, 0.0])
    params = {"w": p.copy(), "b.bias": p.copy()}
    O.AdamW(params, lr=0.1, eps=1e-8, weight_decay=0.5).step({"w": g, "b.bias": g})
    expected_core = -0.1 * g / (np.abs(g) + 1e-8)
    np.testing.assert_allclose(params["w"], p * (1 - 0.1 * 0.5) + expected_core, rtol=0, atol=1e-15)
    np.testing.assert_allclose(params["b.bias"], p + expected_core, rtol=0, atol=1e-15)  # no decay
    assert params["w"].dtype == np.float64                    # float64 in, float64 out


# ----------------------------------------------------------------------------- LAMB

def lamb_reference(params, grads_seq, lr, b1, b2, eps, wd, excluded):
    """The ALBERT paper code's LAMB written out plainly, in float64."""
    p = {k: v.astype(np.float64).copy() for k, v in params.items()}
    m = {k: np.zeros_like(v) for k, v in p.items()}
    v = {k: np.zeros_like(x) for k, x in p.items()}
    for grads in grads_seq:
        for k in p:
            g = grads[k].astype(np.float64)
            m[k] = b1 * m[k] + (1 - b1) * g
            v[k] = b2 * v[k] + (1 - b2) * g * g
            u = m[k] / (np.sqrt(v[k]) + eps)
            r = 1.0
            if not excluded(k):
                u = u + wd * p[k]
                w_norm, u_norm = np.sqrt(np.sum(p[k] ** 2)), np.sqrt(np.sum(u ** 2))
                r = w_norm / u_norm if (w_norm > 0 and u_norm > 0) else 1.0
            p[k] = p[k] - lr * r * u
    return p


@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_lamb_matches_plain_reference(dtype, tol):
    params = make_params(dtype)
    params["classifier.weight"][:] = 0                         # ||w|| = 0 -> trust ratio 1
    grads = make_grads(10, dtype)
    ref = lamb_reference(params, grads, lr=0.01, b1=0.9, b2=0.999, eps=1e-6, wd=0.01,
                         excluded=O.no_decay)
    opt = O.LAMB(params, lr=0.01, weight_decay=0.01)
    for g in grads:
        opt.step(g)
    for k in params:
        assert params[k].dtype == dtype
        np.testing.assert_allclose(params[k], ref[k], atol=tol, rtol=0, err_msg=k)


def test_lamb_trust_ratio_by_hand():
    # one step, b1 = b2 = 0: m = g, v = g^2, u = g/(|g|+eps) + wd w.
    # w = (3, 4), g = (1, -1), eps = 0, wd = 0: u = (1, -1), r = 5 / sqrt(2)
    params = {"w": np.array([3.0, 4.0])}
    O.LAMB(params, lr=0.1, betas=(0.0, 0.0), eps=0.0, weight_decay=0.0).step({"w": np.array([1.0, -1.0])})
    r = 5 / np.sqrt(2)
    np.testing.assert_allclose(params["w"], [3 - 0.1 * r, 4 + 0.1 * r], rtol=0, atol=1e-15)


# ----------------------------------------------------------------------------- state_dict

@pytest.mark.parametrize("cls", [O.AdamW, O.LAMB])
def test_state_dict_round_trip_continues_identically(cls):
    grads = make_grads(10)
    a = make_params()
    opt_a = cls(a, lr=1e-2)
    for g in grads[:5]:
        opt_a.step(g)
    state = opt_a.state_dict()
    b = {k: v.copy() for k, v in a.items()}
    for g in grads[5:]:                  # if state held references, these steps would corrupt it
        opt_a.step(g)
    assert state["step"] == 5 and isinstance(state["step"], int)
    opt_b = cls(b, lr=0.5)                                    # hyperparameters come from the state
    opt_b.load_state_dict(state)
    assert opt_b.lr == 1e-2
    for g in grads[5:]:
        opt_b.step(g)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
        np.testing.assert_array_equal(opt_a.m[k], opt_b.m[k])
    assert opt_b.step_count == 10
    with pytest.raises(ValueError, match="missing"):
        opt_b.load_state_dict({**state, "exp_avg": {}})


# ----------------------------------------------------------------------------- input checks

def test_optimizer_input_errors():
    params = make_params()
    good = make_grads(1)[0]
    for bad_lr in (0, -1e-3, float("nan")):
        with pytest.raises(ValueError, match="learning rate must be > 0"):
            O.AdamW(params, lr=bad_lr)
    with pytest.raises(ValueError, match="learning rate must be > 0"):
        O.LAMB(params, lr=0.0)
    for betas in ((1.0, 0.999), (0.9, -0.1)):
        with pytest.raises(ValueError, match="betas"):
            O.AdamW(params, betas=betas)
    opt = O.AdamW(params)
    with pytest.raises(ValueError, match="missing.*classifier.weight"):
        opt.step({k: v for k, v in good.items() if k != "classifier.weight"})
    with pytest.raises(ValueError, match="unexpected.*'extra'"):
        opt.step({**good, "extra": np.zeros(1, np.float32)})
    with pytest.raises(ValueError, match=r"classifier.weight.*\(8, 3\).*\(3, 8\)"):
        opt.step({**good, "classifier.weight": np.zeros((8, 3), np.float32)})
    with pytest.raises(TypeError, match="must be a floating np.ndarray"):
        O.AdamW({"w": [1.0, 2.0]})
    assert opt.step_count == 0                                 # failed steps changed nothing


# ----------------------------------------------------------------------------- clipping

@pytest.mark.parity
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm_matches_torch(max_norm):
    torch = _torch()
    grads = make_grads(1)[0]
    t_params = [torch.nn.Parameter(torch.zeros(g.shape)) for g in grads.values()]
    for p, g in zip(t_params, grads.values()):
        p.grad = torch.tensor(g)
    ref_total = torch.nn.utils.clip_grad_norm_(t_params, max_norm)
    total = O.clip_grad_norm(grads, max_norm)
    assert isinstance(total, float)
    assert abs(total - ref_total.item()) <= 1e-6
    for p, g in zip(t_params, grads.values()):
        assert g.dtype == np.float32
        np.testing.assert_allclose(g, p.grad.numpy(), atol=1e-7, rtol=0)
    new_norm = np.sqrt(sum(np.sum(g.astype(np.float64) ** 2) for g in grads.values()))
    assert new_norm <= max_norm + 1e-4


def test_clip_grad_norm_by_hand():
    grads = {"a": np.array([3.0]), "b": np.array([[4.0]])}      # global norm 5
    assert O.clip_grad_norm(grads, 1.0) == 5.0
    np.testing.assert_allclose(grads["a"], [3.0 / (5.0 + 1e-6)], rtol=1e-15)
    np.testing.assert_allclose(grads["b"], [[4.0 / (5.0 + 1e-6)]], rtol=1e-15)


# ----------------------------------------------------------------------------- schedules

@pytest.mark.parity
def test_schedules_match_transformers():
    torch = _torch()
    import transformers
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=3e-4)
    for warmup, total in [(0, 10), (4, 20), (10, 10)]:
        lin = transformers.get_linear_schedule_with_warmup(opt, warmup, total).lr_lambdas[0]
        const = transformers.get_constant_schedule_with_warmup(opt, warmup).lr_lambdas[0]
        for s in range(total + 4):
            assert O.linear_warmup_linear_decay(s, warmup, total) == lin(s)
            assert O.constant_with_warmup(s, warmup) == const(s)
    for warmup, total, lr_end, power in [(3, 12, 1e-7, 1.0), (0, 9, 1e-5, 2.0), (5, 8, 0.0, 0.5)]:
        poly = transformers.get_polynomial_decay_schedule_with_warmup(
            opt, warmup, total, lr_end=lr_end, power=power).lr_lambdas[0]
        for s in range(total + 4):
            ours = O.polynomial_decay(s, warmup, total, lr_init=3e-4, lr_end=lr_end, power=power)
            assert abs(ours - poly(s)) <= 1e-15, (warmup, total, s)


def test_schedules_by_hand_and_errors():
    assert [O.linear_warmup_linear_decay(s, 2, 6) for s in range(8)] == \
        [0.0, 0.5, 1.0, 0.75, 0.5, 0.25, 0.0, 0.0]
    assert [O.constant_with_warmup(s, 4) for s in (0, 2, 4, 9)] == [0.0, 0.5, 1.0, 1.0]
    # warm-up 2, constant to step 6, then 1 -> 0 over the last 4 of 10 steps
    assert [O.warmup_stable_decay(s, 2, 10, 4) for s in range(12)] == \
        [0.0, 0.5, 1.0, 1.0, 1.0, 1.0, 1.0, 0.75, 0.5, 0.25, 0.0, 0.0]
    # decay over every step after warm-up is the linear schedule
    assert [O.warmup_stable_decay(s, 2, 6, 4) for s in range(8)] == \
        [O.linear_warmup_linear_decay(s, 2, 6) for s in range(8)]
    with pytest.raises(ValueError, match="decay_steps"):
        O.warmup_stable_decay(1, 0, 4, 5)
    # power 2, no warmup, 4 steps, lr_end 0: (1 - s/4)^2
    assert [O.polynomial_decay(s, 0, 4, lr_init=1.0, lr_end=0.0, power=2.0) for s in range(5)] == \
        [1.0, 0.5625, 0.25, 0.0625, 0.0]
    with pytest.raises(ValueError, match="lr_end"):
        O.polynomial_decay(1, 0, 4, lr_init=1e-7, lr_end=1e-7)
    with pytest.raises(ValueError, match="step must be a non-negative int"):
        O.linear_warmup_linear_decay(-1, 0, 4)
