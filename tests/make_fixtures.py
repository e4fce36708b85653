"""Make the reference fixtures that the model tests compare albert_np against.

Uses transformers (5.23) + torch as the oracle: builds tiny random ALBERTs,
saves each with transformers' own save_pretrained, runs it on fixed inputs and
records inputs and every output in reference.npz:

    tests/fixtures/models/<case>/config.json, model.safetensors (or shards),
                                 reference.npz

Run from the repo root with the `parity` extra installed:
    .venv/bin/python tests/make_fixtures.py
The files are small (tens of KB each) and committed; rerun only when a case
is added. hidden_states are stored in the transformers 4.x convention
(the mapped-in input + one entry per layer application, L + 1): transformers 5
records one entry per inner layer, so with inner_group_num > 1 every
inner_group_num-th entry is kept.
"""
import os
import shutil
import sys

import numpy as np
import torch
import transformers

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "fixtures", "models")

TINY = dict(vocab_size=99, embedding_size=16, hidden_size=32, num_hidden_layers=3,
            num_attention_heads=4, intermediate_size=37, max_position_embeddings=40,
            type_vocab_size=2, hidden_act="gelu_new", initializer_range=0.2)

# name: (class, config overrides, extra)
CASES = {
    "model_g1_i1": ("AlbertModel", {}, {}),
    "pretraining_g1_i1": ("AlbertForPreTraining", {}, {}),
    "pretraining_g2_i2_gelu": ("AlbertForPreTraining",
                               dict(num_hidden_layers=4, num_hidden_groups=2, inner_group_num=2,
                                    hidden_act="gelu"), {}),
    "mlm_g3_l5_relu": ("AlbertForMaskedLM", dict(num_hidden_layers=5, num_hidden_groups=3,
                                                 hidden_act="relu"), {}),
    "mlm_e_eq_h_gelu_fast": ("AlbertForMaskedLM", dict(embedding_size=32, hidden_act="gelu_fast"), {}),
    "mlm_quick_gelu_i2": ("AlbertForMaskedLM", dict(hidden_act="quick_gelu", inner_group_num=2), {}),
    "mlm_pytorch_tanh": ("AlbertForMaskedLM", dict(hidden_act="gelu_pytorch_tanh"), {}),
    "seq_single_label": ("AlbertForSequenceClassification", dict(num_labels=3), {"labels": "int"}),
    "seq_multi_label": ("AlbertForSequenceClassification", dict(num_labels=4), {"labels": "multi"}),
    "seq_regression": ("AlbertForSequenceClassification", dict(num_labels=1), {"labels": "float"}),
    "seq_problem_type_set": ("AlbertForSequenceClassification",
                             dict(num_labels=2, problem_type="multi_label_classification"),
                             {"labels": "multi"}),
    "token_cls": ("AlbertForTokenClassification", dict(num_labels=5, num_hidden_groups=3,
                                                       num_hidden_layers=3), {"labels": "token"}),
    "qa": ("AlbertForQuestionAnswering", dict(num_hidden_groups=2, num_hidden_layers=4,
                                              inner_group_num=2), {"labels": "qa"}),
    "multiple_choice": ("AlbertForMultipleChoice", {}, {"labels": "mc"}),
    "head_mask": ("AlbertForMaskedLM", dict(num_hidden_layers=4, num_hidden_groups=2,
                                            inner_group_num=2), {"head_mask": True}),
    "stored_bf16": ("AlbertForMaskedLM", {}, {"storage": torch.bfloat16}),
    "stored_fp16": ("AlbertForMaskedLM", {}, {"storage": torch.float16}),
    "sharded": ("AlbertForMaskedLM", {}, {"shard": "8KB"}),
}


def make_inputs(rng, B=3, T=9, V=99, mc=False):
    """Fixed ids, a padded batch (row 1 shorter, row 2 shortest) and two segments."""
    ids = rng.integers(5, V, size=(B, T))
    mask = np.ones((B, T), dtype=np.int64)
    mask[1, 6:] = 0
    mask[2, 3:] = 0
    ids[mask == 0] = 0
    types = np.zeros((B, T), dtype=np.int64)
    types[:, 4:] = 1
    types[mask == 0] = 0
    if mc:   # 2 questions x 3 choices: the second question gets its own ids
        ids2 = rng.integers(5, V, size=(B, T))
        ids2[mask == 0] = 0
        return np.stack([ids, ids2]), np.stack([mask, mask]), np.stack([types, types])
    return ids, mask, types


class HeadMaskedAttention:
    """Oracle for head_mask (dropped by transformers 5): wraps eager attention and
    multiplies the probabilities by head_mask[i], i = layer application of the call."""

    def __init__(self, head_mask, inner):
        self.head_mask, self.inner, self.calls = head_mask, inner, 0

    def __call__(self, module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kw):
        w = torch.matmul(query, key.transpose(2, 3)) * scaling
        if attention_mask is not None and attention_mask.dtype == torch.bool:
            w = w.masked_fill(~attention_mask, torch.finfo(w.dtype).min)   # True = attend
        elif attention_mask is not None:
            w = w + attention_mask
        assert attention_mask is not None, "the padded batch needs a mask"
        w = torch.softmax(w, dim=-1)
        i = self.calls // self.inner
        self.calls += 1
        w = w * self.head_mask[i][None, :, None, None]
        out = torch.matmul(w, value).transpose(1, 2).contiguous()
        return out, w


def run_case(name, cls_name, overrides, extra, seed):
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    cfg = transformers.AlbertConfig(**{**TINY, **overrides})
    cfg._attn_implementation = "eager"
    model = getattr(transformers, cls_name)(cfg).eval()
    folder = os.path.join(OUT, name)
    shutil.rmtree(folder, ignore_errors=True)
    if "storage" in extra:
        # Store low precision; the reference runs the same rounded weights in float32.
        model = model.to(extra["storage"])
        model.save_pretrained(folder)
        model = model.to(torch.float32)
    elif "shard" in extra:
        model.save_pretrained(folder, max_shard_size=extra["shard"])
    else:
        model.save_pretrained(folder)
    mc = cls_name == "AlbertForMultipleChoice"
    ids, mask, types = make_inputs(rng, V=cfg.vocab_size, mc=mc)
    feed = dict(input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask),
                token_type_ids=torch.tensor(types))
    rec = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
    kind = extra.get("labels")
    if cls_name in ("AlbertForMaskedLM", "AlbertForPreTraining"):
        labels = np.where(rng.random(ids.shape) < 0.4, ids, -100)
        labels[0, 1] = 7
        feed["labels"] = torch.tensor(labels)
        rec["labels"] = labels
        if cls_name == "AlbertForPreTraining":
            sol = np.array([0, 1, 1])
            feed["sentence_order_label"] = torch.tensor(sol)
            rec["sentence_order_label"] = sol
    if kind == "int":
        rec["labels"] = np.array([0, 2, 1])
    elif kind == "multi":
        rec["labels"] = (rng.random((ids.shape[0], cfg.num_labels)) < 0.5).astype(np.float32)
    elif kind == "float":
        rec["labels"] = rng.normal(size=ids.shape[0]).astype(np.float32)
    elif kind == "token":
        lab = rng.integers(0, cfg.num_labels, size=ids.shape)
        lab[mask == 0] = -100
        lab[:, 0] = -100
        rec["labels"] = lab
    elif kind == "mc":
        rec["labels"] = np.array([2, 0])
    elif kind == "qa":
        # the last pair is beyond T = 9: clamped to T and ignored, as HF does
        rec["start_positions"] = np.array([1, 4, 30])
        rec["end_positions"] = np.array([3, 12, 2])
        feed["start_positions"] = torch.tensor(rec["start_positions"])
        feed["end_positions"] = torch.tensor(rec["end_positions"])
    if kind in ("int", "multi", "float", "token", "mc"):
        feed["labels"] = torch.tensor(rec["labels"])
    if extra.get("head_mask"):
        hm = (rng.random((cfg.num_hidden_layers, cfg.num_attention_heads)) < 0.6).astype(np.float32)
        hm[:, 0] = 1.0
        hm[1, 2] = 0.5
        rec["head_mask"] = hm
        oracle = HeadMaskedAttention(torch.tensor(hm), cfg.inner_group_num)
        transformers.AttentionInterface.register("head_masked", oracle)
        from transformers.masking_utils import eager_mask
        transformers.AttentionMaskInterface.register("head_masked", eager_mask)   # additive mask
        model.config._attn_implementation = "head_masked"
        for m in model.modules():
            if hasattr(m, "config"):
                m.config._attn_implementation = "head_masked"
    with torch.no_grad():
        out = model(**feed, output_hidden_states=True, output_attentions=True)
    inner = cfg.inner_group_num
    for key in ("last_hidden_state", "pooler_output", "logits", "prediction_logits", "sop_logits",
                "start_logits", "end_logits", "loss"):
        value = getattr(out, key, None)
        if value is not None:
            rec["out_" + key] = value.numpy()
    hs = list(out.hidden_states)
    rec["out_hidden_states"] = np.stack([hs[0]] + hs[inner::inner]).astype(np.float32)
    rec["out_attentions"] = np.stack(list(out.attentions))
    if extra.get("head_mask"):
        assert oracle.calls == cfg.num_hidden_layers * inner, oracle.calls
    np.savez_compressed(os.path.join(folder, "reference.npz"), **rec)
    print(f"{name:26s} {cls_name:34s} {sorted(k for k in rec if k.startswith('out_'))}")


def main():
    torch.set_num_threads(1)
    os.makedirs(OUT, exist_ok=True)
    print("transformers", transformers.__version__, "torch", torch.__version__)
    for seed, (name, (cls_name, overrides, extra)) in enumerate(CASES.items()):
        run_case(name, cls_name, overrides, extra, seed)


if __name__ == "__main__":
    sys.exit(main())
