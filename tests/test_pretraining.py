"""The pretraining loop: it learns, and a killed run resumes bit-identically."""
import os

import numpy as np
import pytest

import albert_np
from albert_np.training import pretraining as pt
from albert_np.config import AlbertConfig
from albert_np.training.model_card import export_bundled
from albert_np.training.checkpoints import latest_checkpoint

TOKENIZER = os.path.join(os.path.dirname(__file__), "fixtures", "tokenizer", "spiece.model")
TEXT = ["The cat sat on the mat. It was a warm day. The dog slept by the door.",
        "Paris is the capital of France. It lies on the Seine. Many people visit it every year.",
        "Water boils at one hundred degrees. Ice melts at zero degrees. Steam rises from the pot.",
        "The old ship sailed at dawn. Its crew sang loudly. The harbour grew small behind them."]


def documents():
    return iter([pt.pdata.split_sentences(t) for t in TEXT] * 3)


def tokenizer():
    return albert_np.AlbertTokenizerFast(vocab_file=TOKENIZER)


def heldout_batches():
    return pt.fixed_batches(documents, tokenizer(), 8, 4, max_seq_length=32, max_predictions=5, block_docs=4)


def make(tmp_path, steps, dropout=0.1, **kw):
    tok = tokenizer()
    cfg = AlbertConfig(vocab_size=tok.vocab_size, embedding_size=16, hidden_size=32, num_hidden_layers=2,
                       num_attention_heads=2, intermediate_size=48, max_position_embeddings=64,
                       hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout,
                       classifier_dropout_prob=dropout)
    model = albert_np.AlbertForPreTraining(cfg, seed=0)
    args = pt.PretrainSettings(**{**dict(max_steps=steps, batch_size=4, learning_rate=3e-3, warmup=2, max_seq_length=32,
                                     max_predictions=5, eval_every=4, save_every=3, seed=1, block_docs=4,
                                     progress=False), **kw})
    return pt.make_trainer(model, tok, documents, str(tmp_path), args, heldout=heldout_batches())


def test_resume_after_a_kill_is_identical(tmp_path):
    straight = make(tmp_path / "a", 6).train()
    first = make(tmp_path / "b", 3)
    first.train()                                   # "killed" after its step-3 checkpoint
    resumed = make(tmp_path / "b", 6)
    resumed.load_checkpoint(latest_checkpoint(str(tmp_path / "b")))
    assert resumed.step == 3
    log = resumed.train()
    a = [e["loss"] for e in straight if e["type"] == "train"]
    b = [e["loss"] for e in log if e["type"] == "train"]
    assert a == b                                   # bit-identical, dropout included
    # CPU time carries over: the resumed run starts from the checkpoint's total and keeps growing
    cpu = [e["cpu_seconds"] for e in log if e["type"] == "train"]        # steps 1-3 (read back), 4-6
    assert len(cpu) == 6 and cpu[0] > 0 and all(x < y for x, y in zip(cpu, cpu[1:]))
    assert resumed.cpu_seconds == cpu[-1]
    assert os.path.isfile(tmp_path / "b" / "checkpoint-6" / "model.safetensors")


def test_cool_down_from_a_copy_of_a_constant_rate_run(tmp_path):
    """decay_steps: the rate stays at its peak, then a copy of a checkpoint resumed with
    steps = its step + decay_steps decays to 0 from there, while the long run goes on."""
    import shutil
    long = make(tmp_path / "long", 100, decay_steps=2, save_every=3)
    assert [long.lr_at(s) for s in (0, 1, 2, 50, 97, 98, 99)] == [0.0, 1.5e-3, 3e-3, 3e-3, 3e-3, 3e-3, 1.5e-3]
    long.total_steps = 3                            # stop the long run after its step-3 checkpoint
    long.train()
    shutil.copytree(tmp_path / "long" / "checkpoint-3", tmp_path / "cool" / "checkpoint-3")
    cool = make(tmp_path / "cool", 5, decay_steps=2)
    cool.load_checkpoint(latest_checkpoint(str(tmp_path / "cool")))
    log = [e for e in cool.train() if e["type"] == "train"]
    assert [e["lr"] for e in log[3:]] == [3e-3, 1.5e-3]          # steps 4 and 5: 1 -> 1/2 of the peak
    assert cool.lr_at(5) == 0.0
    with pytest.raises(ValueError, match="decay_steps"):
        make(tmp_path / "bad", 4, decay_steps=5)


def test_accumulation_computes_the_step_of_the_whole_batch(tmp_path):
    """2 batches of 2 accumulated = 1 batch of 4: the MLM term is a mean over the step's masked
    tokens (not a mean of the two batches' means), the SOP term over its rows."""
    whole = make(tmp_path / "w", 4, dropout=0.0)
    accum = make(tmp_path / "a", 4, dropout=0.0, batch_size=2, grad_accum=2)
    a = [e for e in whole.train() if e["type"] == "train"]
    b = [e for e in accum.train() if e["type"] == "train"]
    # the same examples; a half keeps its own padded length, so float32 rounding differs
    np.testing.assert_allclose([e["loss"] for e in a], [e["loss"] for e in b], rtol=2e-6)
    np.testing.assert_allclose([e["grad_norm"] for e in a], [e["grad_norm"] for e in b], rtol=1e-5)
    assert [e["mlm_accuracy"] for e in a] == [e["mlm_accuracy"] for e in b]
    for name, w in whole.params.items():
        np.testing.assert_allclose(accum.params[name], w, rtol=1e-4, atol=1e-6, err_msg=name)
    assert accum.source.state() == whole.source.state()


def test_the_weights_make_shard_losses_add_up_to_the_batch_loss(tmp_path):
    from albert_np.step import loss_and_grads, loss_items
    trainer = make(tmp_path, 1, dropout=0.0)
    inputs, labels = heldout_batches()[0]
    labels = dict(labels, mlm_weights=labels["mlm_weights"].copy())
    labels["mlm_weights"][0, 1:] = 0                 # shards with different numbers of masked tokens
    p, c = trainer.model.params, trainer.model.config
    full_loss, _, full = loss_and_grads(p, c, "pretraining", inputs, labels)
    items = loss_items("pretraining", labels)
    assert items == {"prediction_logits": int(labels["mlm_weights"].sum()), "sop_logits": 4}
    loss, grads = 0.0, {k: 0 for k in full}
    for rows in (slice(0, 1), slice(1, 4)):
        i, lab = {k: v[rows] for k, v in inputs.items()}, {k: v[rows] for k, v in labels.items()}
        mine = loss_items("pretraining", lab)
        l, _, g = loss_and_grads(p, c, "pretraining", i, lab, weights={k: mine[k] / items[k] for k in mine})
        loss += l
        grads = {k: grads[k] + g[k] for k in g}
    assert loss == pytest.approx(full_loss, rel=1e-6)
    for name, g in full.items():
        np.testing.assert_allclose(grads[name], g, rtol=1e-4, atol=1e-7, err_msg=name)


def test_replaced_accuracy_leaves_out_the_kept_tokens(tmp_path):
    trainer = make(tmp_path, 1, dropout=0.0)
    inputs, labels = heldout_batches()[0]
    rows = np.arange(len(inputs["input_ids"]))[:, None]
    pos, w = labels["mlm_positions"], labels["mlm_weights"] > 0

    def shown(fill):                       # the batch with every prediction's input set to `fill`
        ids = inputs["input_ids"].copy()
        ids[rows, pos] = np.where(w, fill, ids[rows, pos])
        return dict(inputs, input_ids=ids)
    kept = shown(labels["mlm_ids"])
    masked = shown(trainer.tokenizer.mask_token_id)
    r = pt.evaluate_pretraining(trainer.model, [(kept, labels)])
    assert r["replaced_tokens"] == 0 and r["masked_tokens"] == int(w.sum())
    r = pt.evaluate_pretraining(trainer.model, [(masked, labels)])
    assert r["replaced_tokens"] == r["masked_tokens"] == int(w.sum())
    assert r["replaced_accuracy"] == r["mlm_accuracy"]
    # half the rows kept, half masked: the replaced figure is the masked half's accuracy
    half = len(rows) // 2
    mixed = {k: np.concatenate([kept[k][:half], masked[k][half:]]) for k in inputs}
    r = pt.evaluate_pretraining(trainer.model, [(mixed, labels)])
    tail = pt.evaluate_pretraining(trainer.model, [({k: v[half:] for k, v in masked.items()},
                                                    {k: v[half:] for k, v in labels.items()})])
    assert r["replaced_tokens"] == tail["masked_tokens"] == int(w[half:].sum())
    assert r["replaced_accuracy"] == tail["mlm_accuracy"]


def test_it_learns_the_toy_corpus(tmp_path):
    trainer = make(tmp_path, 40, optimizer="adamw", learning_rate=1e-2)
    heldout = heldout_batches()
    before = pt.evaluate_pretraining(trainer.model, heldout)
    log = trainer.train()
    after = pt.evaluate_pretraining(trainer.model, heldout)
    assert after["mlm_loss"] < before["mlm_loss"] - 1.0, (before, after)
    assert [e for e in log if e["type"] == "eval"], "held-out evaluation was logged"


def test_collate_pads_predictions():
    ex = [{"input_ids": np.array([2, 7, 3, 8, 3]), "token_type_ids": np.array([0, 0, 0, 1, 1]),
           "positions": np.array([1]), "labels": np.array([9]), "sentence_order_label": 1},
          {"input_ids": np.array([2, 7, 3]), "token_type_ids": np.array([0, 0, 1]),
           "positions": np.array([1, 2]), "labels": np.array([5, 6]), "sentence_order_label": 0}]
    inputs, labels = pt.collate_pretraining(ex, pad_id=0, max_predictions=3)
    assert inputs["input_ids"].tolist() == [[2, 7, 3, 8, 3], [2, 7, 3, 0, 0]]
    assert inputs["attention_mask"].tolist() == [[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]]
    assert labels["mlm_positions"].tolist() == [[1, 0, 0], [1, 2, 0]]
    assert labels["mlm_weights"].tolist() == [[1, 0, 0], [1, 1, 0]]
    assert labels["sentence_order_label"].tolist() == [1, 0]


def test_bad_arguments():
    with pytest.raises(ValueError, match="learning_rate must be a number > 0, got 0"):
        pt.PretrainSettings(learning_rate=0).validate()
    with pytest.raises(ValueError, match="optimizer must be 'adamw' or 'lamb', got 'sgd'"):
        pt.PretrainSettings(optimizer="sgd").validate()


def test_export_ships_fp16_weights_tokenizer_and_a_model_card(tmp_path):
    trainer = make(tmp_path / "run", 3)
    trainer.train()
    data = tmp_path / "data" / "wikitext-103"
    data.mkdir(parents=True)
    (data / "wiki.test.raw").write_text(" = Cats = \n" + "\n".join(TEXT) + "\n = Dogs = \n" + "\n".join(TEXT[::-1]),
                                        encoding="utf-8")
    out = tmp_path / "albert-tiny-test"
    results = export_bundled(latest_checkpoint(str(tmp_path / "run")), str(out), version="2.0.0",
                                tokenizer=trainer.tokenizer, data_dir=str(tmp_path / "data"), examples=16)
    assert {"config.json", "model.safetensors", "spiece.model", "tokenizer_config.json",
            "README.md"} <= set(os.listdir(out))
    from albert_np.formats.checkpoint import read_safetensors
    import json
    import struct
    with open(out / "model.safetensors", "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
    assert {v["dtype"] for k, v in header.items() if k != "__metadata__"} == {"F16"}
    card = (out / "README.md").read_text()
    assert "| steps | 3 of a planned 3 |" in card and f"{results['mlm_accuracy']:.3f}" in card
    assert "CPU-hours for steps 1-3 |" in card
    assert f"random; {results['replaced_tokens']:,} tokens) | {results['replaced_accuracy']:.3f} |" in card
    assert "one process with BLAS threads" in card
    # it runs as the MLM model the task functions load
    mlm = albert_np.AlbertForMaskedLM.from_pretrained(out)
    ref = read_safetensors(str(tmp_path / "run" / "checkpoint-3" / "model.safetensors"))
    w = "albert.embeddings.word_embeddings.weight"
    np.testing.assert_allclose(mlm.state_dict()[w], ref[w], rtol=1e-3, atol=1e-4)   # float16 storage
    preds = albert_np.fill_mask("the cat sat on the [MASK].", model=str(out), top_k=3)
    assert len(preds) == 3 and preds[0]["score"] >= preds[1]["score"]
    assert "warm-up 2 steps, linear decay, weight decay" in card
    # the version and the weights' sha256 (hashlib on the shipped file) are in config.json and the card
    import hashlib
    digest = hashlib.sha256((out / "model.safetensors").read_bytes()).hexdigest()
    config = json.loads((out / "config.json").read_text())
    assert config["albert_np_model_version"] == "2.0.0" and config["weights_sha256"] == digest
    assert f"| version | 2.0.0 |" in card and f"| sha256 of model.safetensors | `{digest}` |" in card
    assert mlm.config.to_dict()["weights_sha256"] == digest          # kept through a load


def test_the_card_lists_each_mixture_file_with_its_licence_from_sources_md(tmp_path):
    from albert_np.training.model_card import licence_section, sources_tables
    (tmp_path / "everyday").mkdir()
    (tmp_path / "SOURCES.md").write_text(
        "# x\n\n| path | what | licence as commonly stated |\n|---|---|---|\n"
        "| pretrain/a_part1.txt.xz, pretrain/a_part2.txt.xz | wiki | CC BY-SA 3.0 |\n\nprose | not a table\n")
    (tmp_path / "everyday" / "SOURCES.md").write_text(
        "| File | What | Licence as stated | Words |\n|---|---|---|---:|\n| stories.txt | tales | CDLA-Sharing-1.0 | 5 |\n")
    stated = sources_tables(str(tmp_path))
    assert stated["a_part1.txt.xz"] == stated["a_part2.txt"] == "CC BY-SA 3.0"
    assert stated["stories.txt"] == stated["stories.txt.xz"] == "CDLA-Sharing-1.0"
    state = {"mixture": [{"name": "wiki", "paths": ["/d/pretrain/a_part1.txt.xz"]},
                         {"name": "tales", "paths": ["/d/everyday/stories.txt.xz", "/d/everyday/other.txt.xz"]}]}
    section = licence_section(state, str(tmp_path), "cc-by-sa-4.0")
    assert "| wiki | `a_part1.txt.xz` | CC BY-SA 3.0 |" in section
    assert "| tales | `stories.txt.xz` | CDLA-Sharing-1.0 |" in section
    assert "| tales | `other.txt.xz` | not found in SOURCES.md |" in section
    assert "released under `cc-by-sa-4.0`" in section


def test_export_note_file_and_the_cool_down_schedule_in_the_card(tmp_path):
    import argparse
    from albert_np.training.model_card import add_export_arguments, export_main
    trainer = make(tmp_path / "run", 3, decay_steps=1)
    trainer.train()
    data = tmp_path / "data" / "wikitext-103"
    data.mkdir(parents=True)
    (data / "wiki.test.raw").write_text(" = Cats = \n" + "\n".join(TEXT), encoding="utf-8")
    (tmp_path / "note.md").write_text("**A note from a file.**\n", encoding="utf-8")
    p = argparse.ArgumentParser()
    add_export_arguments(p)
    common = ["--checkpoint", latest_checkpoint(str(tmp_path / "run")), "--tokenizer", TOKENIZER,
              "--data-dir", str(tmp_path / "data"), "--examples", "8"]
    export_main(p.parse_args(common + ["--out", str(tmp_path / "out"), "--note-file", str(tmp_path / "note.md")]))
    card = (tmp_path / "out" / "README.md").read_text()
    assert "**A note from a file.**" in card
    assert "warm-up 2 steps, constant, then linear decay to 0 over the last 1 steps" in card
    with pytest.raises(ValueError, match="--note or --note-file"):
        export_main(p.parse_args(common + ["--out", str(tmp_path / "o2"), "--note", "x",
                                           "--note-file", str(tmp_path / "note.md")]))
