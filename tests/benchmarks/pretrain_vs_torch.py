"""Pretraining path: albert_np (train.Trainer.train_step) vs PyTorch + transformers, step by step.

    python tests/benchmarks/pretrain_vs_torch.py compare [--optimizer adamw|lamb] [--steps 300]
        [--compare-steps 50] [--batch-size 16] [--seq 128] [--lr 1e-3] [--warmup 30]
        [--dtype float32|float64] [--init random|bundled] [--out /root/runs/torchcheck]
    python tests/benchmarks/pretrain_vs_torch.py lamb       # LAMB step vs an independent float64 formula
    python tests/benchmarks/pretrain_vs_torch.py probes     # data / padding / schedule sanity probes
    python tests/benchmarks/pretrain_vs_torch.py overfit    # a small model on 4 fixed batches, Trainer steps

compare: the first N batches of albert_np's own pretraining stream (bundled
tokenizer albert_np/pretrained/albert-tiny-en, the corpus of ../shared/data/pretrain)
are drawn from the batch source of the run's Trainer (pretraining.StreamBatches,
one next_step(1) a step, as train.py's loop draws them with grad_accum 1) and
dumped to an .npz; the bundled config (classifier dropout set to 0 so that both
sides are deterministic; the other dropouts are 0 already) is initialised by
albert_np (random init, or the bundled weights) and the same weights are loaded
into transformers' AlbertForPreTraining (decoder weight and bias tied, checked).
albert_np runs the real loop step of a Trainer built by pretraining.make_trainer
(train.Trainer.train_step([(inputs, labels)]): step.loss_and_grads "pretraining"
with the gathered MLM form, clip_grad_norm, the optimiser at Trainer.lr_at, then
trainer.step advanced as train() does); torch runs HF's own loss (MLM CE over
the masked positions, labels -100 elsewhere, + SOP CE), clip_grad_norm_,
torch.optim.AdamW with the no-decay group
["LayerNorm", "layer_norm", "bias"] (or a LAMB written in torch from the ALBERT
TF code) and LambdaLR(get_polynomial_decay_schedule_with_warmup, lr_end=0).
Prints per step the two losses and grad norms and their relative differences,
per-parameter gradient differences at step 1, weight differences at a few
steps, the max relative difference over the first --compare-steps steps and the
loss trend every 25 steps.

torch and transformers are imported only here, as the reference. Use one thread:
OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1.
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, ROOT)

from albert_np.training import pretraining as pt  # noqa: E402
from albert_np.config import AlbertConfig  # noqa: E402
from albert_np.step import loss_and_grads  # noqa: E402
from albert_np.modeling import AlbertForPreTraining  # noqa: E402
from albert_np.training.optim import LAMB, no_decay  # noqa: E402

BUNDLED = os.path.join(ROOT, "albert_np", "pretrained", "albert-tiny-en")
NO_DECAY = ("LayerNorm", "layer_norm", "bias")   # google-research/albert exclude_from_weight_decay


def tokenizer():
    from albert_np.tokenization import AlbertTokenizerFast
    return AlbertTokenizerFast.from_pretrained(BUNDLED)


# ----------------------------------------------------------------- batches
def dump_batches(path, n, batch_size, seq, max_predictions, seed, data_dir, block_docs=256, source=None):
    """The first n batches of the pretraining stream, as the loop's batch source makes them.

    source: the Trainer's own (trainer.source, a pretraining.StreamBatches); by default a
    StreamBatches built as pretraining.make_trainer builds it. Drawn one next_step(1) a
    step, as train.py's loop does with grad_accum 1; closed afterwards.
    """
    meta = dict(n=n, batch_size=batch_size, seq=seq, max_predictions=max_predictions, seed=seed,
                block_docs=block_docs)
    if os.path.isfile(path):
        z = np.load(path, allow_pickle=False)
        if json.loads(str(z["meta"])) == meta:
            return load_batches(z, n)
    if source is None:
        sargs = pt.PretrainSettings(batch_size=batch_size, max_seq_length=seq, max_predictions=max_predictions,
                                    seed=seed, block_docs=block_docs, progress=False)
        source = pt.StreamBatches(lambda: pt.corpus_documents(data_dir), tokenizer(), sargs)
    a = source.args
    assert (a.batch_size, a.max_seq_length, a.max_predictions, a.seed, a.block_docs) == \
        (batch_size, seq, max_predictions, seed, block_docs), "the source's settings differ from the dump's"
    arrays = {"meta": np.array(json.dumps(meta))}
    try:
        for b in range(n):
            [(inputs, labels)] = source.next_step(1)
            for k, v in {**inputs, **labels}.items():
                arrays[f"{b}/{k}"] = v
    finally:
        source.close()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    np.savez_compressed(path, **arrays)
    return load_batches(np.load(path), n)


def load_batches(z, n):
    out = []
    for b in range(n):
        inputs = {k: z[f"{b}/{k}"] for k in ("input_ids", "attention_mask", "token_type_ids")}
        labels = {k: z[f"{b}/{k}"] for k in ("mlm_positions", "mlm_ids", "mlm_weights", "sentence_order_label")}
        out.append((inputs, labels))
    return out


def full_labels(inputs, labels):
    """(B, T) MLM labels, -100 except at the gathered positions of weight 1 (HF's form)."""
    B, T = inputs["input_ids"].shape
    y = np.full((B, T), -100, dtype=np.int64)
    rows, cols = np.nonzero(labels["mlm_weights"] > 0)
    y[rows, labels["mlm_positions"][rows, cols]] = labels["mlm_ids"][rows, cols]
    return y


# ------------------------------------------------------------------- torch
def torch_model(np_model, dtype):
    import torch
    import transformers
    cfg = transformers.AlbertConfig(**{k: v for k, v in np_model.config.to_dict().items()
                                       if k not in ("architectures", "id2label", "label2id")})
    cfg._attn_implementation = "eager"
    torch.manual_seed(0)
    tm = transformers.AlbertForPreTraining(cfg)
    tdt = torch.float64 if dtype == np.float64 else torch.float32
    tm = tm.to(tdt)
    sd = {k: torch.from_numpy(np.array(v, dtype=dtype)) for k, v in np_model.state_dict().items()}
    missing, unexpected = tm.load_state_dict(sd, strict=False)
    missing = [k for k in missing if not k.startswith("predictions.decoder.")]
    if missing or unexpected:
        raise SystemExit(f"state dict mismatch: missing {missing}, unexpected {unexpected}")
    # the ties must survive loading: one Parameter object for the embedding and the decoder
    assert tm.predictions.decoder.weight is tm.albert.embeddings.word_embeddings.weight, "decoder weight not tied"
    assert tm.predictions.decoder.bias is tm.predictions.bias, "decoder bias not tied"
    for k, v in tm.state_dict().items():
        ref = np_model.state_dict()[k]
        assert np.array_equal(v.numpy(), np.asarray(ref, dtype=dtype)), k
    tm.train()
    return tm


class TorchLAMB:
    """LAMB as google-research/albert's lamb_optimizer (no bias correction), in torch."""

    def __init__(self, named, lr, wd, betas=(0.9, 0.999), eps=1e-6):
        import torch
        self.named, self.lr, self.wd, self.b, self.eps = named, lr, wd, betas, eps
        self.m = {n: torch.zeros_like(p) for n, p in named}
        self.v = {n: torch.zeros_like(p) for n, p in named}

    def step(self, lr):
        import torch
        b1, b2 = self.b
        with torch.no_grad():
            for n, p in self.named:
                g = p.grad
                self.m[n].mul_(b1).add_(g, alpha=1 - b1)
                self.v[n].mul_(b2).addcmul_(g, g, value=1 - b2)
                u = self.m[n] / (self.v[n].sqrt() + self.eps)
                excl = any(x in n for x in NO_DECAY)
                if not excl:
                    u = u + self.wd * p
                r = 1.0
                if not excl:
                    wn, un = torch.linalg.vector_norm(p), torch.linalg.vector_norm(u)
                    r = float(wn / un) if (wn > 0 and un > 0) else 1.0
                p.sub_(lr * r * u)


def rel(a, b):
    return abs(a - b) / max(abs(b), 1e-30)


def compare(args):
    import torch
    import transformers
    torch.set_num_threads(1)
    dtype = np.float64 if args.dtype == "float64" else np.float32
    os.makedirs(args.out, exist_ok=True)
    t0 = time.process_time()
    cfg = AlbertConfig.from_pretrained(BUNDLED)
    cfg.classifier_dropout_prob = 0.0       # SOP-head dropout off: both sides deterministic
    assert cfg.hidden_dropout_prob == 0.0 and cfg.attention_probs_dropout_prob == 0.0
    if args.init == "bundled":
        if dtype != np.float32:
            raise SystemExit("--init bundled needs --dtype float32")
        np_model = AlbertForPreTraining(cfg, params=AlbertForPreTraining.from_pretrained(BUNDLED).params)
    else:
        np_model = AlbertForPreTraining(cfg, seed=args.seed, dtype=dtype)

    # ---- albert_np side: the Trainer that pretraining.make_trainer builds, its own step
    pargs = pt.PretrainSettings(max_steps=args.schedule_steps or args.steps, batch_size=args.batch_size,
                                learning_rate=args.lr, optimizer=args.optimizer, warmup=args.warmup,
                                weight_decay=args.weight_decay, max_grad_norm=args.max_grad_norm,
                                max_seq_length=args.seq, max_predictions=args.max_predictions,
                                eval_every=10**9, save_every=10**9, seed=args.seed, progress=False)
    trainer = pt.make_trainer(np_model, tokenizer(), lambda: pt.corpus_documents(args.data_dir),
                              os.path.join(args.out, "np_run"), pargs)
    if args.optimizer == "adamw" and args.eps is not None:
        trainer.optimizer.eps = args.eps
    # the batches: the first --steps of the trainer's own source (cached in the .npz)
    batches = dump_batches(os.path.join(args.out, f"batches_{args.batch_size}x{args.seq}_n{args.steps}.npz"),
                           args.steps, args.batch_size, args.seq, args.max_predictions, args.seed, args.data_dir,
                           source=trainer.source)
    print(f"{len(batches)} batches of {args.batch_size} x <= {args.seq} "
          f"({time.process_time() - t0:.1f} s CPU to build/load)")
    tm = torch_model(np_model, dtype)

    # ---- torch side
    named = list(tm.named_parameters())          # tied parameters listed once, as albert_np
    np_names = set(trainer.params)
    t_names = {n for n, _ in named}
    if np_names != t_names:
        raise SystemExit(f"parameter names differ: np-only {np_names - t_names}, torch-only {t_names - np_names}")
    decay = [p for n, p in named if not any(x in n for x in NO_DECAY)]
    nodecay = [p for n, p in named if any(x in n for x in NO_DECAY)]
    groups_np = {n for n in np_names if no_decay(n)}
    groups_t = {n for n, _ in named if any(x in n for x in NO_DECAY)}
    print(f"no-decay groups equal: {groups_np == groups_t} ({len(groups_t)} of {len(named)} tensors)")
    total_steps = pargs.steps
    if args.optimizer == "adamw":
        eps = trainer.optimizer.eps
        opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                                 {"params": nodecay, "weight_decay": 0.0}],
                                lr=args.lr, betas=(0.9, 0.999), eps=eps)
        sched = transformers.get_polynomial_decay_schedule_with_warmup(
            opt, args.warmup, max(total_steps, args.warmup + 1), lr_end=0.0, power=1.0)
        print(f"AdamW betas (0.9, 0.999) eps {eps} wd {args.weight_decay}: albert_np "
              f"{trainer.optimizer.betas} {trainer.optimizer.eps} {trainer.optimizer.weight_decay}")
    else:
        tl = TorchLAMB(named, args.lr, args.weight_decay)
        lam = transformers.get_polynomial_decay_schedule_with_warmup(
            torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=args.lr), args.warmup,
            max(total_steps, args.warmup + 1), lr_end=0.0, power=1.0).lr_lambdas[0]

    def torch_forward_backward(inputs, labels):
        t = {k: torch.from_numpy(v) for k, v in inputs.items()}
        out = tm(**t, labels=torch.from_numpy(full_labels(inputs, labels)),
                 sentence_order_label=torch.from_numpy(labels["sentence_order_label"]))
        out.loss.backward()
        return float(out.loss.detach())

    # ---- step-1 gradients, parameter by parameter (before anything moves)
    inputs, labels = batches[0]
    l_np, _, g_np = loss_and_grads(np_model.params, cfg, "pretraining", inputs, labels,
                                   rng=np.random.default_rng(0), training=True)
    l_t = torch_forward_backward(inputs, labels)
    worst = []
    for n, p in named:
        a, b = g_np[n].astype(np.float64), p.grad.double().numpy()
        worst.append((np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30), n, np.linalg.norm(b)))
    tm.zero_grad(set_to_none=True)
    worst.sort(reverse=True)
    print(f"step-1 loss np {l_np:.8f} torch {l_t:.8f} rel {rel(l_np, l_t):.2e}")
    print("step-1 per-parameter gradient ||g_np - g_t|| / ||g_t|| (worst 8):")
    for r_, n, nb in worst[:8]:
        print(f"  {r_:.2e}  {n}  (||g|| {nb:.3e})")
    worst_real = [w for w in worst if w[2] > 1e-6][0]

    # ---- the loop
    rows = []
    print(f"\n{'step':>4} {'lr':>9} {'loss np':>10} {'loss torch':>10} {'rel':>8} {'gnorm np':>10} "
          f"{'gnorm torch':>11} {'rel':>8} {'rel vs f64':>10}")
    ct_np = ct_t = 0.0
    for i in range(args.steps):
        c0 = time.process_time()
        lr_np = trainer.lr_at(trainer.step)              # as train() logs it: the rate of this update
        loss_np, gn_np, _, predicted = trainer.train_step([batches[i]])
        trainer.step += 1                                # train() advances it after each step
        c1 = time.process_time()
        e = {"lr": lr_np, "loss": loss_np, "grad_norm": gn_np, **trainer.step_metrics(predicted)}
        lr_t = None
        l_t = torch_forward_backward(*batches[i])
        # torch's float32 vector_norm of the 2M-element word-embedding gradient is off by ~1e-4
        # (a reduction error); the float64 norm of the same gradients is the exact reference
        gn64 = math.sqrt(sum(float((p.grad.double() ** 2).sum()) for p in tm.parameters()))
        gn_t = float(torch.nn.utils.clip_grad_norm_(tm.parameters(), args.max_grad_norm))
        if args.optimizer == "adamw":
            lr_t = opt.param_groups[0]["lr"]
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
        else:
            lr_t = args.lr * lam(i)
            tl.step(lr_t)
            tm.zero_grad(set_to_none=True)
        c2 = time.process_time()
        ct_np += c1 - c0
        ct_t += c2 - c1
        row = dict(step=i + 1, lr_np=e["lr"], lr_t=lr_t, loss_np=e["loss"], loss_t=l_t,
                   loss_rel=rel(e["loss"], l_t), gn_np=e["grad_norm"], gn_t=gn_t,
                   gn_rel=rel(e["grad_norm"], gn_t), gn_t64=gn64, gn_rel64=rel(e["grad_norm"], gn64),
                   mlm_acc_np=e["mlm_accuracy"])
        rows.append(row)
        if i < args.compare_steps or (i + 1) % 25 == 0:
            print(f"{i + 1:>4} {e['lr']:9.3e} {e['loss']:10.6f} {l_t:10.6f} {row['loss_rel']:8.1e} "
                  f"{e['grad_norm']:10.5f} {gn_t:11.5f} {row['gn_rel']:8.1e} {row['gn_rel64']:10.1e}"
                  + ("" if abs(e["lr"] - lr_t) <= 1e-12 * max(1, lr_t) else f"  LR DIFFERS {lr_t:.3e}"),
                  flush=True)
        if (i + 1) in (1, 10, args.compare_steps) or (i + 1) % 100 == 0:
            diffs = sorted(((np.linalg.norm(trainer.params[n].astype(np.float64) - p.detach().double().numpy())
                             / max(np.linalg.norm(p.detach().double().numpy()), 1e-30), n) for n, p in named),
                           reverse=True)
            # attention.key.bias has a gradient of exactly 0 (softmax ignores a per-row constant), so both
            # sides walk on rounding noise that Adam/LAMB normalise to full-size steps: shown apart
            kb = [d for d in diffs if d[1].endswith("attention.key.bias")]
            wd = [d for d in diffs if not d[1].endswith("attention.key.bias")][0]
            print(f"     weights after step {i + 1}: worst ||w_np - w_t|| / ||w_t|| {wd[0]:.2e} ({wd[1]}); "
                  f"key.bias (zero-gradient noise) {kb[0][0]:.2e}" if kb else "")
            row["weight_rel"] = wd[0]

    k = min(args.compare_steps, len(rows))
    ml = max(r["loss_rel"] for r in rows[:k])
    mg = max(r["gn_rel"] for r in rows[:k])
    mg64 = max(r["gn_rel64"] for r in rows[:k])
    print(f"\nmax relative difference over steps 1-{k}: loss {ml:.2e}, grad norm {mg:.2e} (torch's own "
          f"float32 norm), {mg64:.2e} (vs the float64 norm of torch's gradients) (target <= 1e-4: "
          f"{'PASS' if max(ml, mg64) <= 1e-4 else 'FAIL'}); step-1 worst per-parameter gradient "
          f"{worst_real[0]:.2e} ({worst_real[1]}; tensors with ||g|| < 1e-6 left out: the key bias, whose "
          f"gradient is 0 in exact arithmetic)")
    print("\nloss trend (mean of the 25 steps ending at the step):")
    print(f"{'step':>5} {'np':>9} {'torch':>9} {'rel':>8}")
    for s in range(25, len(rows) + 1, 25):
        a = np.mean([r["loss_np"] for r in rows[s - 25:s]])
        b = np.mean([r["loss_t"] for r in rows[s - 25:s]])
        print(f"{s:>5} {a:9.4f} {b:9.4f} {rel(a, b):8.1e}")
    print(f"\nCPU: albert_np {ct_np:.0f} s, torch {ct_t:.0f} s, total process {time.process_time() - t0:.0f} s")
    with open(os.path.join(args.out, f"compare_{args.optimizer}_{args.dtype}.json"), "w") as f:
        json.dump({"args": vars(args), "rows": rows}, f)


# ------------------------------------------------------------------ LAMB check
def lamb_reference(params, grads_seq, lrs, wd, b1=0.9, b2=0.999, eps=1e-6, exclude=NO_DECAY):
    """Float64 LAMB as google-research/albert lamb_optimizer.LAMBOptimizer._apply_dense (no bias
    correction; update = m / (sqrt(v) + eps) + wd * w; ratio ||w|| / ||update||, 1 where a norm is 0;
    names containing LayerNorm / layer_norm / bias excluded from decay and adaptation)."""
    w = {k: np.array(v, dtype=np.float64) for k, v in params.items()}
    m = {k: np.zeros_like(v) for k, v in w.items()}
    v_ = {k: np.zeros_like(v) for k, v in w.items()}
    for grads, lr in zip(grads_seq, lrs):
        for k in w:
            g = np.asarray(grads[k], dtype=np.float64)
            m[k] = b1 * m[k] + (1 - b1) * g
            v_[k] = b2 * v_[k] + (1 - b2) * g * g
            upd = m[k] / (np.sqrt(v_[k]) + eps)
            skip = any(x in k for x in exclude)
            if not skip:
                upd = upd + wd * w[k]
            ratio = 1.0
            if not skip:
                wn, un = math.sqrt(float((w[k] ** 2).sum())), math.sqrt(float((upd ** 2).sum()))
                ratio = wn / un if wn > 0 and un > 0 else 1.0
            w[k] = w[k] - lr * ratio * upd
    return w


def lamb_check(args):
    rng = np.random.default_rng(0)
    shapes = {"albert.embeddings.word_embeddings.weight": (50, 8), "albert.embeddings.LayerNorm.weight": (8,),
              "albert.embeddings.LayerNorm.bias": (8,), "albert.encoder.x.full_layer_layer_norm.weight": (8,),
              "albert.encoder.x.ffn.weight": (16, 8), "albert.encoder.x.ffn.bias": (16,),
              "predictions.bias": (50,), "zero.weight": (4, 4)}
    params = {k: rng.normal(0, 0.02, s) for k, s in shapes.items()}
    params["albert.embeddings.LayerNorm.weight"] += 1
    params["zero.weight"][:] = 0                       # ||w|| = 0 -> ratio 1
    grads = []
    for t in range(20):
        g = {k: rng.normal(0, 1e-2, s) * (1 + t) for k, s in shapes.items()}
        g["albert.encoder.x.ffn.bias"][:] = 0 if t == 0 else g["albert.encoder.x.ffn.bias"]
        grads.append(g)
    lrs = [2e-3 * (t + 1) / 20 for t in range(20)]
    for dtype in (np.float64, np.float32):
        for n in (1, 5, 20):
            ps = {k: np.array(v, dtype=dtype) for k, v in params.items()}
            opt = LAMB(ps, lr=2e-3, weight_decay=0.01)
            for g, lr in zip(grads[:n], lrs[:n]):
                opt.step({k: np.array(v, dtype=dtype) for k, v in g.items()}, lr=lr)
            start = {k: np.array(v, dtype=dtype) for k, v in params.items()}     # the same start values
            ref = lamb_reference(start, [{k: np.array(v, dtype=dtype) for k, v in g.items()} for g in grads[:n]],
                                 lrs[:n], 0.01)
            worst = max((np.abs(ps[k] - ref[k]).max() / max(np.abs(ref[k] - start[k]).max(), 1e-30), k)
                        for k in ps)
            print(f"LAMB {np.dtype(dtype).name} after {n:>2} step(s): worst |w_np - w_ref| / |delta w_ref| "
                  f"{worst[0]:.2e} ({worst[1]})")
    # conventions vs the paper's Algorithm 2 (bias-corrected m, v)
    t = np.arange(1, 2001)
    k = (1 - 0.9 ** t) / np.sqrt(1 - 0.999 ** t)
    print("no bias correction (TF code): m/sqrt(v) = c_t * m_hat/sqrt(v_hat) with c_t = (1-b1^t)/sqrt(1-b2^t): "
          + ", ".join(f"t={s}: {k[s - 1]:.2f}" for s in (1, 10, 50, 100, 500, 1000, 2000)))
    print("  -> only the excluded tensors (LayerNorm, biases: ratio 1) feel c_t; the trust ratio cancels it "
          "elsewhere (up to the eps and wd terms)")


# ------------------------------------------------------------------ probes
def probes(args):
    tok = tokenizer()
    path = os.path.join(args.out, f"batches_{args.batch_size}x{args.seq}_n{args.steps}.npz")
    batches = dump_batches(path, args.steps, args.batch_size, args.seq, args.max_predictions, args.seed,
                           args.data_dir)
    mask_id, pad = tok.mask_token_id, tok.pad_token_id
    # 1. decode the first batch's first examples: masked input vs labels
    inputs, labels = batches[0]
    for i in range(2):
        ids = inputs["input_ids"][i][inputs["attention_mask"][i] > 0]
        w = labels["mlm_weights"][i] > 0
        pos, lab = labels["mlm_positions"][i][w], labels["mlm_ids"][i][w]
        orig = ids.copy()
        orig[pos] = lab
        print(f"--- example {i}: SOP label {labels['sentence_order_label'][i]}, {len(ids)} tokens, "
              f"{len(pos)} predictions, types {inputs['token_type_ids'][i][:len(ids)].tolist()[:3]}..")
        print("INPUT :", tok.decode(ids.tolist()))
        print("ORIG  :", tok.decode(orig.tolist()))
        print("TARGET:", [(int(p), tok.convert_ids_to_tokens(int(t)), tok.convert_ids_to_tokens(int(ids[p])))
                          for p, t in zip(pos, lab)])
    # 2. ratios over all batches
    n_mask = n_rand = n_keep = n_pred = n_tok = n_pad_pred = n_special_pred = 0
    sop = []
    lengths = []
    for inputs, labels in batches:
        B = inputs["input_ids"].shape[0]
        w = labels["mlm_weights"] > 0
        shown = inputs["input_ids"][np.arange(B)[:, None], labels["mlm_positions"]]
        am = inputs["attention_mask"][np.arange(B)[:, None], labels["mlm_positions"]]
        n_pad_pred += int((w & (am == 0)).sum())
        special = [tok.cls_token_id, tok.sep_token_id, pad, mask_id]
        n_special_pred += int((w & np.isin(labels["mlm_ids"], special)).sum())
        n_pred += int(w.sum())
        n_mask += int((w & (shown == mask_id)).sum())
        n_keep += int((w & (shown == labels["mlm_ids"])).sum())
        n_rand += int((w & (shown != mask_id) & (shown != labels["mlm_ids"])).sum())
        n_tok += int(inputs["attention_mask"].sum())
        sop.extend(labels["sentence_order_label"].tolist())
        lengths.extend(inputs["attention_mask"].sum(1).tolist())
        # masks only where predicted
        others = inputs["input_ids"].copy()
        others[np.arange(B)[:, None], labels["mlm_positions"]] = -1
        assert not (others == mask_id).any(), "[MASK] outside the predicted positions"
    print(f"\npredictions {n_pred} = {n_pred / n_tok:.3f} of {n_tok} real tokens; [MASK] {n_mask / n_pred:.3f}, "
          f"random {n_rand / n_pred:.3f}, kept {n_keep / n_pred:.3f}; predictions on padding {n_pad_pred}, "
          f"on special tokens {n_special_pred}; SOP label mean {np.mean(sop):.3f}; mean length "
          f"{np.mean(lengths):.1f}")
    # 3. SOP: in-order pairs (label 0) vs swapped (label 1): the sentence order of a few examples
    inputs, labels = batches[0]
    for i in range(4):
        ids = inputs["input_ids"][i][inputs["attention_mask"][i] > 0]
        ty = inputs["token_type_ids"][i][inputs["attention_mask"][i] > 0]
        a, b = ids[(ty == 0)][1:-1], ids[ty == 1][:-1]
        print(f"SOP {labels['sentence_order_label'][i]}: A=...{tok.decode(a[-12:].tolist())!r} | "
              f"B={tok.decode(b[:12].tolist())!r}...")
    # 4. padding masked in attention: a padded row's outputs do not depend on what the padding holds
    from albert_np.model import albert_model
    cfg = AlbertConfig.from_pretrained(BUNDLED)
    model = AlbertForPreTraining.from_pretrained(BUNDLED)
    inputs, labels = batches[0]
    lens = inputs["attention_mask"].sum(1)
    i = int(np.argmin(lens))
    one = {k: v[i:i + 1] for k, v in inputs.items()}
    h1 = albert_model(model.params["albert"], cfg, **one)["last_hidden_state"][0, :lens[i]]
    alt = {k: v.copy() for k, v in one.items()}
    alt["input_ids"][0, lens[i]:] = 100
    h2 = albert_model(model.params["albert"], cfg, **alt)["last_hidden_state"][0, :lens[i]]
    short = {k: v[:, :lens[i]] for k, v in one.items()}
    h3 = albert_model(model.params["albert"], cfg, **short)["last_hidden_state"][0]
    print(f"\npadding probe (row of {lens[i]} of {one['input_ids'].shape[1]} tokens): max |h(pad=0) - "
          f"h(pad=100)| {np.abs(h1 - h2).max():.2e}, max |h(padded) - h(unpadded)| {np.abs(h1 - h3).max():.2e}")
    # 5. LR schedule of the pretraining Trainer (make_trainer; bundled run: lr 2e-3, warm-up 800, 6300 steps)
    pa = pt.PretrainSettings(max_steps=6300, learning_rate=2e-3, warmup=800, progress=False)
    tr = pt.make_trainer(model, tok, lambda: pt.corpus_documents(args.data_dir),
                         os.path.join(args.out, "probes_run"), pa)
    print("LR schedule (lr 2e-3, warm-up 800, 6300 steps): "
          + ", ".join(f"step {s + 1}: {tr.lr_at(s):.2e}" for s in (0, 1, 399, 799, 800, 3000, 6299)))


def overfit(args):
    """A small config on 4 fixed batches: the loss must go to ~0 (the optimiser + backprop can learn)."""
    path = os.path.join(args.out, f"batches_{args.batch_size}x{args.seq}_n{args.steps}.npz")
    batches = dump_batches(path, args.steps, args.batch_size, args.seq, args.max_predictions, args.seed,
                           args.data_dir)[:4]
    base = AlbertConfig.from_pretrained(BUNDLED)
    cfg = AlbertConfig(vocab_size=base.vocab_size, embedding_size=64, hidden_size=128, num_hidden_layers=2,
                       num_attention_heads=2, intermediate_size=256, hidden_act="gelu_new",
                       classifier_dropout_prob=0.0, pad_token_id=base.pad_token_id)
    model = AlbertForPreTraining(cfg, seed=0)
    pa = pt.PretrainSettings(max_steps=args.schedule_steps or args.overfit_steps, batch_size=args.batch_size,
                             learning_rate=args.lr, optimizer=args.optimizer, warmup=args.warmup,
                             max_seq_length=args.seq, eval_every=10**9, save_every=10**9, progress=False)
    tr = pt.make_trainer(model, tokenizer(), lambda: pt.corpus_documents(args.data_dir),
                         os.path.join(args.out, "overfit_run"), pa)
    t0 = time.process_time()
    for s in range(args.overfit_steps):
        lr = tr.lr_at(tr.step)
        loss, norm, _, predicted = tr.train_step([batches[s % 4]])
        tr.step += 1                                     # as train() does after each step
        e = {"loss": loss, "lr": lr, "grad_norm": norm, **tr.step_metrics(predicted)}
        if (s + 1) % 25 == 0 or s == 0:
            print(f"overfit {args.optimizer} step {s + 1}: loss {e['loss']:.4f} mlm acc {e['mlm_accuracy']:.3f} "
                  f"sop acc {e['sop_accuracy']:.2f} lr {e['lr']:.2e} gnorm {e['grad_norm']:.3f}", flush=True)
    print(f"CPU {time.process_time() - t0:.0f} s")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", choices=("compare", "lamb", "probes", "overfit"))
    p.add_argument("--optimizer", default="adamw", choices=("adamw", "lamb"))
    p.add_argument("--steps", type=int, default=300, help="steps run (and batches dumped)")
    p.add_argument("--schedule-steps", type=int, default=None,
                   help="total steps of the LR decay (default --steps)")
    p.add_argument("--compare-steps", type=int, default=50)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--seq", type=int, default=128)
    p.add_argument("--max-predictions", type=int, default=20)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--warmup", type=int, default=30)
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--max-grad-norm", type=float, default=1.0)
    p.add_argument("--eps", type=float, default=None, help="AdamW eps (default: albert_np's, 1e-8)")
    p.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    p.add_argument("--init", default="random", choices=("random", "bundled"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--overfit-steps", type=int, default=300)
    p.add_argument("--data-dir", default=pt.SHARED_DATA)
    p.add_argument("--out", default="/root/runs/torchcheck")
    args = p.parse_args(argv)
    {"compare": compare, "lamb": lamb_check, "probes": probes, "overfit": overfit}[args.mode](args)


if __name__ == "__main__":
    main()
