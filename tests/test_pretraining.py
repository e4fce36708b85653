"""The pretraining loop: it learns, and a killed run resumes bit-identically."""
import os

import numpy as np
import pytest

import albert_np
from albert_np import pretraining as pt
from albert_np.config import AlbertConfig

TOKENIZER = os.path.join(os.path.dirname(__file__), "fixtures", "tokenizer", "spiece.model")
TEXT = ["The cat sat on the mat. It was a warm day. The dog slept by the door.",
        "Paris is the capital of France. It lies on the Seine. Many people visit it every year.",
        "Water boils at one hundred degrees. Ice melts at zero degrees. Steam rises from the pot.",
        "The old ship sailed at dawn. Its crew sang loudly. The harbour grew small behind them."]


def documents():
    return iter([pt.pdata.split_sentences(t) for t in TEXT] * 3)


def make(tmp_path, steps, **kw):
    tok = albert_np.AlbertTokenizerFast(vocab_file=TOKENIZER)
    cfg = AlbertConfig(vocab_size=tok.vocab_size, embedding_size=16, hidden_size=32, num_hidden_layers=2,
                       num_attention_heads=2, intermediate_size=48, max_position_embeddings=64,
                       hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1)
    model = albert_np.AlbertForPreTraining(cfg, seed=0)
    args = pt.PretrainArgs(steps=steps, batch_size=4, lr=3e-3, warmup_steps=2, max_seq_length=32,
                           max_predictions=5, eval_every=4, save_every=3, seed=1, block_docs=4,
                           progress=False, **kw)
    heldout = pt.fixed_batches(documents, tok, 8, 4, max_seq_length=32, max_predictions=5, block_docs=4)
    return pt.Pretrainer(model, tok, documents, str(tmp_path), args, heldout=heldout)


def test_resume_after_a_kill_is_identical(tmp_path):
    straight = make(tmp_path / "a", 6).train()
    first = make(tmp_path / "b", 3)
    first.train()                                   # "killed" after its step-3 checkpoint
    resumed = make(tmp_path / "b", 6)
    resumed.load_checkpoint(pt.latest_pretraining_checkpoint(str(tmp_path / "b")))
    assert resumed.step == 3
    log = resumed.train()
    a = [e["loss"] for e in straight if e["type"] == "train"]
    b = [e["loss"] for e in log if e["type"] == "train"]
    assert a == b                                   # bit-identical, dropout included
    # CPU time carries over: the resumed run starts from the checkpoint's total and keeps growing
    cpu = [e["cpu_seconds"] for e in log if e["type"] == "train"]        # steps 1-3 (read back), 4-6
    assert len(cpu) == 6 and cpu[0] > 0 and all(x < y for x, y in zip(cpu, cpu[1:]))
    assert resumed.cpu_seconds == cpu[-1]
    assert os.path.isfile(tmp_path / "b" / "checkpoint-6" / "model" / "model.safetensors")


def test_it_learns_the_toy_corpus(tmp_path):
    trainer = make(tmp_path, 40, optimizer="adamw")
    before = pt.evaluate_pretraining(trainer.model, trainer.heldout)
    trainer.args.lr = 1e-2
    log = trainer.train()
    after = pt.evaluate_pretraining(trainer.model, trainer.heldout)
    assert after["mlm_loss"] < before["mlm_loss"] - 1.0, (before, after)
    assert [e for e in log if e["type"] == "eval"], "held-out evaluation was logged"


def test_collate_pads_predictions():
    ex = [{"input_ids": np.array([2, 7, 3, 8, 3]), "token_type_ids": np.array([0, 0, 0, 1, 1]),
           "positions": np.array([1]), "labels": np.array([9]), "sentence_order_label": 1},
          {"input_ids": np.array([2, 7, 3]), "token_type_ids": np.array([0, 0, 1]),
           "positions": np.array([1, 2]), "labels": np.array([5, 6]), "sentence_order_label": 0}]
    inputs, labels = pt.collate(ex, pad_id=0, max_predictions=3)
    assert inputs["input_ids"].tolist() == [[2, 7, 3, 8, 3], [2, 7, 3, 0, 0]]
    assert inputs["attention_mask"].tolist() == [[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]]
    assert labels["mlm_positions"].tolist() == [[1, 0, 0], [1, 2, 0]]
    assert labels["mlm_weights"].tolist() == [[1, 0, 0], [1, 1, 0]]
    assert labels["sentence_order_label"].tolist() == [1, 0]


def test_bad_arguments():
    with pytest.raises(ValueError, match="learning rate must be > 0"):
        pt.PretrainArgs(lr=0).validate()
    with pytest.raises(ValueError, match="'lamb' or 'adamw'"):
        pt.PretrainArgs(optimizer="sgd").validate()


def test_export_ships_fp16_weights_tokenizer_and_a_model_card(tmp_path):
    trainer = make(tmp_path / "run", 3)
    trainer.train()
    data = tmp_path / "data" / "wikitext-103"
    data.mkdir(parents=True)
    (data / "wiki.test.raw").write_text(" = Cats = \n" + "\n".join(TEXT) + "\n = Dogs = \n" + "\n".join(TEXT[::-1]),
                                        encoding="utf-8")
    out = tmp_path / "albert-tiny-test"
    results = pt.export_bundled(pt.latest_pretraining_checkpoint(str(tmp_path / "run")), str(out),
                                tokenizer=trainer.tokenizer, data_dir=str(tmp_path / "data"), examples=16)
    assert {"config.json", "model.safetensors", "spiece.model", "tokenizer_config.json",
            "README.md"} <= set(os.listdir(out))
    from albert_np.checkpoint import read_safetensors
    import json
    import struct
    with open(out / "model.safetensors", "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
    assert {v["dtype"] for k, v in header.items() if k != "__metadata__"} == {"F16"}
    card = (out / "README.md").read_text()
    assert "| steps | 3 of a planned 3 |" in card and f"{results['mlm_accuracy']:.3f}" in card
    assert "CPU-hours for steps 1-3 |" in card
    # it runs as the MLM model the task functions load
    mlm = albert_np.AlbertForMaskedLM.from_pretrained(out)
    ref = read_safetensors(str(tmp_path / "run" / "checkpoint-3" / "model" / "model.safetensors"))
    w = "albert.embeddings.word_embeddings.weight"
    np.testing.assert_allclose(mlm.state_dict()[w], ref[w], rtol=1e-3, atol=1e-4)   # float16 storage
    preds = albert_np.fill_mask("the cat sat on the [MASK].", model=str(out), top_k=3)
    assert len(preds) == 3 and preds[0]["score"] >= preds[1]["score"]
