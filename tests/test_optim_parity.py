"""Same training as PyTorch: 20 AdamW steps of sequence classification.

albert_np (loss_and_grads + optim.AdamW) and transformers' AlbertForSequenceClassification
(+ torch.optim.AdamW) start from the same weights and see the same batches, with
dropout off; weight decay 0.01 except on biases and LayerNorm parameters (HF's
examples' no_decay groups), lr 1e-3. The two loss curves must agree within 1e-4
at every step, and the final weights closely.

Marker `parity`: needs torch==2.13.0 and transformers==5.23.0 (the `parity` extra).
"""
import numpy as np
import pytest

from albert_np.step import loss_and_grads
from albert_np.params import named_parameters
from albert_np import modeling
from albert_np.config import AlbertConfig
from albert_np.training.optim import AdamW, no_decay

torch = pytest.importorskip("torch", reason="training parity needs torch (pip install -e .[parity])")
transformers = pytest.importorskip("transformers",
                                   reason="training parity needs transformers (pip install -e .[parity])")

pytestmark = pytest.mark.parity
STEPS, LR, WD = 20, 1e-3, 0.01


@pytest.mark.parametrize("groups, inner", [(1, 1), (2, 2)])
def test_twenty_adamw_steps_match_torch(groups, inner):
    kw = dict(vocab_size=60, embedding_size=16, hidden_size=32, num_attention_heads=4, intermediate_size=48,
              num_hidden_layers=4, num_hidden_groups=groups, inner_group_num=inner, max_position_embeddings=24,
              hidden_act="gelu_new", num_labels=3, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
              classifier_dropout_prob=0.0, initializer_range=0.05)
    torch.manual_seed(0)
    hf_cfg = transformers.AlbertConfig(**kw)
    hf_cfg._attn_implementation = "eager"
    hf = transformers.AlbertForSequenceClassification(hf_cfg).train()   # dropout p = 0 everywhere
    config = AlbertConfig(**kw)
    model = modeling.AlbertForSequenceClassification(config)
    model.load_state_dict({k: v.detach().numpy().copy() for k, v in hf.state_dict().items()})

    params = named_parameters(model.params)
    opt = AdamW(params, lr=LR, weight_decay=WD, exclude=no_decay)
    named = dict(hf.named_parameters())
    assert set(named) == set(params)
    torch_opt = torch.optim.AdamW(
        [{"params": [p for n, p in named.items() if not no_decay(n)], "weight_decay": WD},
         {"params": [p for n, p in named.items() if no_decay(n)], "weight_decay": 0.0}], lr=LR)

    rng = np.random.default_rng(0)
    B, T = 4, 12
    batches = []
    for _ in range(4):                                  # cycled: the loss must go down
        ids = rng.integers(1, kw["vocab_size"], size=(B, T))
        mask = np.ones((B, T), dtype=np.int64)
        mask[1, 8:] = mask[3, 5:] = 0
        ids[mask == 0] = 0
        types = (np.arange(T) >= 6).astype(np.int64)[None].repeat(B, 0)
        batches.append(({"input_ids": ids, "attention_mask": mask, "token_type_ids": types},
                        {"labels": rng.integers(0, 3, size=B)}))

    ours_curve, torch_curve = [], []
    for step in range(STEPS):
        inputs, labels = batches[step % len(batches)]
        loss, _, grads = loss_and_grads(model.params, config, "sequence", inputs, labels,
                                           rng=np.random.default_rng(step), training=True)
        opt.step(grads)
        ours_curve.append(loss)

        torch_opt.zero_grad()
        out = hf(**{k: torch.tensor(v) for k, v in inputs.items()}, labels=torch.tensor(labels["labels"]))
        out.loss.backward()
        torch_opt.step()
        torch_curve.append(float(out.loss.detach()))

    diffs = np.abs(np.array(ours_curve) - np.array(torch_curve))
    print(f"\n[training parity G={groups} inner={inner}] losses {ours_curve[0]:.5f} -> {ours_curve[-1]:.5f}; "
          f"max |ours - torch| per step {diffs.max():.2e}")
    assert ours_curve[-1] < ours_curve[0] - 0.1        # it learns
    assert diffs.max() <= 1e-4, list(zip(ours_curve, torch_curve))
    # Final weights. Not the attention key bias: its exact gradient is 0 (the softmax
    # ignores q.b_k, constant along a row), so each side feeds Adam float32 rounding
    # noise, which Adam scales up to steps of ~lr in random directions. Its value never
    # changes the loss, which the curves above confirm.
    errs = {n: float(np.abs(params[n] - p.detach().numpy()).max() / np.abs(p.detach().numpy()).max())
            for n, p in named.items() if not n.endswith("attention.key.bias")}
    name, worst = max(errs.items(), key=lambda kv: kv[1])
    print(f"[training parity] worst final-weight relative difference {worst:.2e} ({name})")
    assert worst <= 1e-4, (name, worst)
