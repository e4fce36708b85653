"""Same pretraining as PyTorch: 12 steps of the training loop (MLM + SOP, AdamW, clipping, schedule).

albert_np's pretraining Trainer, built by pretraining.make_trainer and stepped as
train.Trainer.train() steps it (train_step([(inputs, labels)]): step.loss_and_grads
"pretraining" with the gathered MLM form, clip_grad_norm, optim.AdamW; lr_at's
warm-up + linear decay to 0; trainer.step advanced after each) and transformers'
AlbertForPreTraining (its own loss: MLM CE with labels -100 off the masked
positions + SOP CE; clip_grad_norm_; torch.optim.AdamW with the no-decay group;
LambdaLR of get_polynomial_decay_schedule_with_warmup) start from the same
weights, in float64, and see the same padded batches (synthetic ones, collated by
collate_pretraining, with padded rows and empty prediction slots; the trainer's
stream source is not drawn from). Loss, pre-clip grad norm, learning rate and
weights must agree to ~1e-10 at every step (float64: any difference in the maths
shows; tests/benchmarks/pretrain_vs_torch.py does the same at full size in float32
on the real stream).

Marker `parity`: needs torch==2.13.0 and transformers==5.23.0 (the `parity` extra).
"""
import os

import numpy as np
import pytest

from albert_np.training import pretraining as pt
from albert_np.config import AlbertConfig
from albert_np.modeling import AlbertForPreTraining
from albert_np.training.optim import no_decay
from albert_np.tokenization import AlbertTokenizerFast

torch = pytest.importorskip("torch", reason="pretraining parity needs torch (pip install -e .[parity])")
transformers = pytest.importorskip("transformers",
                                   reason="pretraining parity needs transformers (pip install -e .[parity])")

pytestmark = pytest.mark.parity
TOKENIZER = os.path.join(os.path.dirname(__file__), "fixtures", "tokenizer", "spiece.model")
STEPS, WARMUP, LR, WD, CLIP = 12, 3, 1e-3, 0.01, 0.5


def _batches(vocab, n, B=4, T=20, P=5, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        examples = []
        for _ in range(B):
            L = int(rng.integers(8, T + 1))                       # padded rows too
            ids = rng.integers(5, vocab, size=L)
            ids[0], ids[L // 2], ids[-1] = 2, 3, 3
            types = np.zeros(L, dtype=np.int64)
            types[L // 2 + 1:] = 1
            k = int(rng.integers(1, P + 1))                       # some empty prediction slots
            pos = np.sort(rng.choice(np.arange(1, L // 2), size=min(k, L // 2 - 1), replace=False))
            labels = ids[pos].copy()
            ids[pos] = 4                                          # [MASK]
            examples.append({"input_ids": ids, "token_type_ids": types, "positions": pos, "labels": labels,
                             "sentence_order_label": int(rng.integers(0, 2))})
        out.append(pt.collate_pretraining(examples, 0, P))
    return out


def test_pretraining_trainer_steps_match_torch(tmp_path):
    kw = dict(vocab_size=50, embedding_size=8, hidden_size=16, num_attention_heads=2, intermediate_size=24,
              num_hidden_layers=2, max_position_embeddings=32, hidden_act="gelu_new", hidden_dropout_prob=0.0,
              attention_probs_dropout_prob=0.0, classifier_dropout_prob=0.0, pad_token_id=0)
    model = AlbertForPreTraining(AlbertConfig(**kw), seed=0, dtype=np.float64)
    hf_cfg = transformers.AlbertConfig(**kw)
    hf_cfg._attn_implementation = "eager"
    hf = transformers.AlbertForPreTraining(hf_cfg).double().train()
    hf.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in model.state_dict().items()}, strict=False)
    assert hf.predictions.decoder.weight is hf.albert.embeddings.word_embeddings.weight
    assert hf.predictions.decoder.bias is hf.predictions.bias
    for k, v in hf.state_dict().items():
        assert np.array_equal(v.numpy(), model.state_dict()[k]), k

    args = pt.PretrainSettings(max_steps=STEPS, batch_size=4, learning_rate=LR, optimizer="adamw", warmup=WARMUP,
                               weight_decay=WD, max_grad_norm=CLIP, eval_every=10**6, save_every=10**6,
                               progress=False)
    # the tokenizer and documents only feed the trainer's stream source, which this test does not use
    trainer = pt.make_trainer(model, AlbertTokenizerFast(vocab_file=TOKENIZER), lambda: iter(()),
                              str(tmp_path), args)
    assert trainer.head == "pretraining" and trainer.args.schedule == "polynomial" and trainer.args.lr_end == 0
    named = dict(hf.named_parameters())
    assert set(named) == set(trainer.params)
    opt = torch.optim.AdamW([{"params": [p for n, p in named.items() if not no_decay(n)], "weight_decay": WD},
                             {"params": [p for n, p in named.items() if no_decay(n)], "weight_decay": 0.0}],
                            lr=LR)
    sched = transformers.get_polynomial_decay_schedule_with_warmup(opt, WARMUP, STEPS, lr_end=0.0, power=1.0)

    for i, (inputs, labels) in enumerate(_batches(kw["vocab_size"], STEPS)):
        lr_t = opt.param_groups[0]["lr"]
        lr_np = trainer.lr_at(trainer.step)               # the rate of this update, as train() logs it
        loss_np, norm_np, n, _ = trainer.train_step([(inputs, labels)])
        trainer.step += 1                                 # train() advances it after each step
        assert n == len(inputs["input_ids"])
        B, T = inputs["input_ids"].shape
        full = np.full((B, T), -100)
        r, c = np.nonzero(labels["mlm_weights"] > 0)
        full[r, labels["mlm_positions"][r, c]] = labels["mlm_ids"][r, c]
        out = hf(**{k: torch.from_numpy(v) for k, v in inputs.items()}, labels=torch.from_numpy(full),
                 sentence_order_label=torch.from_numpy(labels["sentence_order_label"]))
        out.loss.backward()
        norm = float(torch.nn.utils.clip_grad_norm_(hf.parameters(), CLIP))
        opt.step()
        sched.step()
        opt.zero_grad()
        assert lr_np == pytest.approx(lr_t, rel=1e-12, abs=1e-15), i
        assert loss_np == pytest.approx(float(out.loss.detach()), rel=1e-10), i
        assert norm_np == pytest.approx(norm, rel=1e-10), i
    assert trainer.step == STEPS
    for n, p in named.items():
        if n.endswith("attention.key.bias"):     # its gradient is 0 in exact arithmetic: rounding noise
            continue
        np.testing.assert_allclose(trainer.params[n], p.detach().numpy(), rtol=1e-8, atol=1e-11, err_msg=n)
