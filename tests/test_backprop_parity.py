"""Gradients of loss_and_grads against PyTorch autograd on transformers' ALBERT.

Same weights (HF model built first, its state dict loaded into the albert_np
class), same inputs, float32, dropout off (eval mode). Per parameter tensor,
relative error = max |ours - torch| / max(max |torch|, 1e-30) must be <= 1e-4,
for every head and for configs with num_hidden_groups 1/2, inner_group_num 1/2,
E != H, padding, and the MLM head's tied word-embedding gradient.

Exceptions, by mathematics rather than tolerance: some tensors have an exact
gradient of 0, so that both sides hold only float32 rounding noise there. The
attention key bias (adding q.b_k to every score of a row leaves the softmax
unchanged); the multiple-choice classifier bias (it adds the same constant to
every choice's logit); under the QA head, the QA output bias and the bias of the
last LayerNorm (both add a constant to every start, or end, logit of an example).
A tensor whose torch gradient is below 1e-5 of the model's largest gradient is
treated so: ours must then be below that bound too (counted in the report).

Marker `parity`: needs torch==2.13.0 and transformers==5.23.0 (the `parity` extra).
"""
import numpy as np
import pytest

from albert_np import step
from albert_np.params import zeros_like_params
from albert_np import modeling
from albert_np.config import AlbertConfig

torch = pytest.importorskip("torch", reason="gradient parity needs torch (pip install -e .[parity])")
transformers = pytest.importorskip("transformers",
                                   reason="gradient parity needs transformers (pip install -e .[parity])")

pytestmark = pytest.mark.parity
TOL = 1e-4
WORST = {}
ZERO = 1e-5          # "exactly 0 in theory" below ZERO * the largest gradient of the model
N_ZERO = []

CLASSES = {"sequence": "AlbertForSequenceClassification", "token": "AlbertForTokenClassification",
           "qa": "AlbertForQuestionAnswering", "multiple_choice": "AlbertForMultipleChoice",
           "mlm": "AlbertForMaskedLM", "pretraining": "AlbertForPreTraining", None: "AlbertModel"}

CONFIGS = {
    "G1-inner1-E<H": dict(embedding_size=6, hidden_size=8, num_attention_heads=2, intermediate_size=12,
                          num_hidden_layers=3, num_hidden_groups=1, inner_group_num=1, hidden_act="gelu_new"),
    "G2-inner2-E<H": dict(embedding_size=5, hidden_size=12, num_attention_heads=3, intermediate_size=20,
                          num_hidden_layers=4, num_hidden_groups=2, inner_group_num=2, hidden_act="gelu"),
    "G2-inner1-E>H": dict(embedding_size=16, hidden_size=8, num_attention_heads=2, intermediate_size=10,
                          num_hidden_layers=3, num_hidden_groups=2, inner_group_num=1, hidden_act="relu"),
    "G1-inner2-E=H": dict(embedding_size=8, hidden_size=8, num_attention_heads=4, intermediate_size=16,
                          num_hidden_layers=2, num_hidden_groups=1, inner_group_num=2, hidden_act="gelu_fast"),
}


@pytest.fixture(scope="module", autouse=True)
def report_worst():
    yield
    if WORST:
        name, err = max(WORST.items(), key=lambda kv: kv[1])
        print(f"\n[backprop parity] worst relative error {err:.2e} ({name}); "
              f"{len(WORST)} checks; {len(N_ZERO)} tensors with an exactly-zero gradient: "
              f"{sorted(set('.'.join(n.split()[-1].split('.')[-3:]) for n in N_ZERO))}")


def build(head, cfg_kw, seed, num_labels=3, problem_type=None):
    kw = dict(vocab_size=31, max_position_embeddings=20, type_vocab_size=2, initializer_range=0.1,
              hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, classifier_dropout_prob=0.0,
              num_labels=2 if head in ("qa", "pretraining") else num_labels, problem_type=problem_type,
              **cfg_kw)
    torch.manual_seed(seed)
    hf_cfg = transformers.AlbertConfig(**kw)
    hf_cfg._attn_implementation = "eager"
    hf = getattr(transformers, CLASSES[head])(hf_cfg).eval()
    config = AlbertConfig(**kw)
    ours = getattr(modeling, CLASSES[head])(config)
    missing, unexpected = ours.load_state_dict({k: v.detach().numpy().copy() for k, v in hf.state_dict().items()},
                                               strict=False)
    assert not missing and not unexpected, (missing, unexpected)
    return hf, ours, config


def batch(rng, cfg, head, B=3, T=7, C=2):
    shape = (B, C, T) if head == "multiple_choice" else (B, T)
    ids = rng.integers(0, cfg.vocab_size, size=shape)
    ids[..., -1] = 0                                   # the padding id: its lookup row gets no gradient
    mask = np.ones(shape, dtype=np.int64)
    lengths = rng.integers(2, T + 1, size=shape[:-1])
    for idx in np.ndindex(*shape[:-1]):
        mask[idx][lengths[idx]:] = 0
    types = rng.integers(0, 2, size=shape)
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}


def labels_for(rng, cfg, head, inputs, problem_type=None):
    shape = inputs["input_ids"].shape
    B, T = shape[0], shape[-1]
    n = cfg.num_labels
    if head == "sequence":
        if problem_type == "regression":
            return {"labels": rng.standard_normal(B).astype(np.float32)}
        if problem_type == "multi_label_classification":
            return {"labels": (rng.random((B, n)) < 0.5).astype(np.float32)}
        return {"labels": rng.integers(0, n, size=B)}
    if head == "token":
        return {"labels": np.where(inputs["attention_mask"] == 1, rng.integers(0, n, size=shape), -100)}
    if head == "qa":
        return {"start_positions": rng.integers(0, T, size=B), "end_positions": np.r_[T + 2, rng.integers(0, T, B - 1)]}
    if head == "multiple_choice":
        return {"labels": rng.integers(0, shape[1], size=B)}
    mlm = np.where(rng.random(shape) < 0.4, rng.integers(0, cfg.vocab_size, size=shape), -100)
    mlm[0, 1] = 5
    if head == "mlm":
        return {"labels": mlm}
    if head == "pretraining":
        return {"labels": mlm, "sentence_order_label": rng.integers(0, 2, size=B)}
    return {"d_last_hidden_state": rng.standard_normal((B, T, cfg.hidden_size)).astype(np.float32),
            "d_pooler_output": rng.standard_normal((B, cfg.hidden_size)).astype(np.float32)}


def torch_loss_and_grads(hf, head, inputs, labels):
    t = {k: torch.tensor(v) for k, v in inputs.items()}
    hf.zero_grad()
    if head is None:
        out = hf(**t)
        loss = ((out.last_hidden_state * torch.tensor(labels["d_last_hidden_state"])).sum()
                + (out.pooler_output * torch.tensor(labels["d_pooler_output"])).sum())
    else:
        out = hf(**t, **{k: torch.tensor(v) for k, v in labels.items()})
        loss = out.loss
    loss.backward()
    grads = {n: (p.grad if p.grad is not None else torch.zeros_like(p)).numpy().copy()
             for n, p in hf.named_parameters()}
    return float(loss.detach()), out, grads


def compare(tag, ours, ref):
    assert set(ours) == set(ref), (sorted(set(ours) ^ set(ref)))
    scale = max(float(np.abs(g).max()) for g in ref.values())
    worst = ("", 0.0)
    for name, r in ref.items():
        g = ours[name]
        assert g.shape == r.shape and g.dtype == np.float32, name
        if np.abs(r).max() <= ZERO * scale:            # exact gradient 0: rounding noise on both sides
            assert np.abs(g).max() <= ZERO * scale, f"{tag} {name}: torch ~0, ours {np.abs(g).max():.2e}"
            N_ZERO.append(f"{tag} {name}")
            continue
        err = float(np.abs(g - r).max() / max(float(np.abs(r).max()), 1e-30))
        assert err <= TOL, f"{tag} {name}: relative error {err:.2e}"
        if err > worst[1]:
            worst = (name, err)
    WORST[f"{tag} {worst[0]}"] = worst[1]
    return worst


@pytest.mark.parametrize("cfg_name", list(CONFIGS))
@pytest.mark.parametrize("head", list(CLASSES))
def test_gradients_match_torch(head, cfg_name):
    seed = list(CONFIGS).index(cfg_name) * 10 + list(CLASSES).index(head)
    hf, ours, cfg = build(head, CONFIGS[cfg_name], seed)
    rng = np.random.default_rng(seed)
    inputs = batch(rng, cfg, head)
    labels = labels_for(rng, cfg, head, inputs)
    ref_loss, ref_out, ref_grads = torch_loss_and_grads(hf, head, inputs, labels)
    loss, outputs, grads = step.loss_and_grads(ours.params, cfg, head, inputs, labels)
    assert abs(loss - ref_loss) <= 1e-5 * max(1.0, abs(ref_loss))
    for key, value in outputs.items():
        np.testing.assert_allclose(value, getattr(ref_out, key).detach().numpy(), rtol=0, atol=1e-5)
    compare(f"{cfg_name} {head}", grads, ref_grads)
    if head in ("mlm", "pretraining"):                 # the tied table got both paths
        assert "predictions.decoder.weight" not in grads
        assert np.abs(grads["albert.embeddings.word_embeddings.weight"][0]).max() > 0   # decoder row of pad id


@pytest.mark.parametrize("problem_type, n", [("regression", 1), ("multi_label_classification", 3),
                                             ("single_label_classification", 4)])
def test_sequence_problem_types_match_torch(problem_type, n):
    hf, ours, cfg = build("sequence", CONFIGS["G2-inner2-E<H"], 7, num_labels=n, problem_type=problem_type)
    rng = np.random.default_rng(7)
    inputs = batch(rng, cfg, "sequence")
    labels = labels_for(rng, cfg, "sequence", inputs, problem_type)
    ref_loss, _, ref_grads = torch_loss_and_grads(hf, "sequence", inputs, labels)
    loss, _, grads = step.loss_and_grads(ours.params, cfg, "sequence", inputs, labels)
    assert abs(loss - ref_loss) <= 1e-5 * max(1.0, abs(ref_loss))
    compare(f"sequence {problem_type}", grads, ref_grads)


def test_gathered_mlm_matches_torch_full_labels():
    """The gathered MLM loss (positions + ids) equals HF's full-sequence loss with -100 elsewhere."""
    hf, ours, cfg = build("pretraining", CONFIGS["G2-inner2-E<H"], 3)
    rng = np.random.default_rng(3)
    inputs = batch(rng, cfg, "pretraining", B=2)
    positions = np.array([[1, 4, 0], [2, 3, 6]])
    ids = rng.integers(1, cfg.vocab_size, size=(2, 3))
    weights = np.array([[1, 1, 0], [1, 1, 1]], dtype=np.float32)
    full = np.full((2, 7), -100)
    for b, p in zip(*np.nonzero(weights)):
        full[b, positions[b, p]] = ids[b, p]
    sol = np.array([1, 0])
    ref_loss, _, ref_grads = torch_loss_and_grads(hf, "pretraining", inputs,
                                                  {"labels": full, "sentence_order_label": sol})
    loss, out, grads = step.loss_and_grads(ours.params, cfg, "pretraining", inputs,
                                         {"mlm_positions": positions, "mlm_ids": ids, "mlm_weights": weights,
                                          "sentence_order_label": sol})
    assert out["prediction_logits"].shape == (2, 3, cfg.vocab_size)
    assert abs(loss - ref_loss) <= 1e-5 * max(1.0, abs(ref_loss))
    compare("gathered mlm", grads, ref_grads)


def test_inputs_embeds_gradient_matches_torch():
    hf, ours, cfg = build("sequence", CONFIGS["G1-inner1-E<H"], 5)
    rng = np.random.default_rng(5)
    emb = rng.standard_normal((2, 6, cfg.embedding_size)).astype(np.float32)
    mask = np.array([[1, 1, 1, 1, 0, 0], [1] * 6])
    labels = np.array([2, 0])
    te = torch.tensor(emb, requires_grad=True)
    hf.zero_grad()
    hf(inputs_embeds=te, attention_mask=torch.tensor(mask), labels=torch.tensor(labels)).loss.backward()
    cache = {}
    out = step.model_forward(ours.params, cfg, "sequence", {"inputs_embeds": emb, "attention_mask": mask},
                              cache=cache)
    from albert_np import losses
    _, lc, _ = losses.sequence_classification_loss(out["logits"], labels, cfg.num_labels)
    dlogits = losses.sequence_classification_loss_backward(np.float32(1), lc)
    d_emb = step.model_backward({"logits": dlogits}, cache, zeros_like_params(ours.params))
    ref = te.grad.numpy()
    err = float(np.abs(d_emb - ref).max() / np.abs(ref).max())
    WORST["inputs_embeds"] = err
    assert err <= TOL
