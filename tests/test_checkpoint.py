"""Config files, checkpoint files and the errors a user meets with bad ones."""
import json
import logging
import os
import shutil

import numpy as np
import pytest

import albert_np
from albert_np.formats import checkpoint
from albert_np.config import PRESETS, AlbertConfig

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "models")


def fixture(name):
    return os.path.join(FIXTURES, name)


# ---------------------------------------------------------------- config
def test_config_defaults_are_hf_defaults():
    """Defaults as transformers' AlbertConfig (ALBERT-xxlarge sizes)."""
    c = AlbertConfig()
    assert (c.vocab_size, c.embedding_size, c.hidden_size, c.num_hidden_layers,
            c.num_attention_heads, c.intermediate_size) == (30000, 128, 4096, 12, 64, 16384)
    assert (c.num_hidden_groups, c.inner_group_num, c.hidden_act) == (1, 1, "gelu_new")
    assert (c.hidden_dropout_prob, c.attention_probs_dropout_prob, c.classifier_dropout_prob) == (0, 0, 0.1)
    assert (c.max_position_embeddings, c.type_vocab_size, c.layer_norm_eps) == (512, 2, 1e-12)
    assert (c.pad_token_id, c.bos_token_id, c.eos_token_id, c.tie_word_embeddings) == (0, 2, 3, True)
    assert c.num_labels == 2 and c.id2label == {0: "LABEL_0", 1: "LABEL_1"} and c.problem_type is None


def test_legacy_config_keys_are_tolerated_and_kept(tmp_path):
    """The released albert-base-v1 config.json carries TF-era keys."""
    legacy = {"attention_probs_dropout_prob": 0.1, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
              "embedding_size": 128, "hidden_size": 768, "initializer_range": 0.02,
              "intermediate_size": 3072, "max_position_embeddings": 512, "num_attention_heads": 12,
              "num_hidden_layers": 12, "num_hidden_groups": 1, "net_structure_type": 0,
              "gap_size": 0, "num_memory_blocks": 0, "inner_group_num": 1, "down_scale_factor": 1,
              "type_vocab_size": 2, "vocab_size": 30000, "architectures": ["AlbertForMaskedLM"],
              "transformers_version": "4.0.0", "model_type": "albert"}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(legacy))
    c = AlbertConfig.from_json_file(path)
    assert c.hidden_size == 768 and c.extra["gap_size"] == 0
    c.to_json_file(tmp_path / "again.json")
    again = json.loads((tmp_path / "again.json").read_text())
    for k, v in legacy.items():
        assert again[k] == v, k


def test_presets():
    base2, base1 = AlbertConfig.from_preset("albert/albert-base-v2"), AlbertConfig.from_preset("albert-base-v1")
    assert (base2.hidden_size, base2.num_attention_heads, base2.intermediate_size) == (768, 12, 3072)
    assert base2.hidden_act == "gelu_new" and base2.hidden_dropout_prob == 0
    assert base1.hidden_act == "gelu" and base1.hidden_dropout_prob == 0.1
    xx1 = AlbertConfig.from_preset("albert-xxlarge-v1")
    assert xx1.hidden_dropout_prob == 0 and xx1.hidden_size == 4096 and xx1.num_attention_heads == 64
    assert len(PRESETS) == 8
    # albert-base-v2 has 11,683,584 parameters in the encoder + embeddings (HF model card: 11M)
    model = albert_np.AlbertModel(base2)
    assert model.num_parameters() == 11683584


def test_labels_in_config():
    c = AlbertConfig(num_labels=3)
    assert c.id2label == {0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"} and c.label2id["LABEL_2"] == 2
    c = AlbertConfig.from_dict({"id2label": {"0": "neg", "1": "pos"}})
    assert c.id2label == {0: "neg", 1: "pos"} and c.label2id == {"neg": 0, "pos": 1}
    with pytest.raises(ValueError, match="num_labels=3 disagrees"):
        AlbertConfig(num_labels=3, id2label={0: "a", 1: "b"})


@pytest.mark.parametrize("kw,msg", [
    (dict(hidden_size=30, num_attention_heads=4), "not a multiple"),
    (dict(hidden_act="swishy"), "not supported"),
    (dict(num_hidden_groups=13), "exceeds"),
    (dict(vocab_size=0), "positive int"),
    (dict(problem_type="ranking"), "problem_type"),
])
def test_bad_config_values(kw, msg):
    with pytest.raises(ValueError, match=msg):
        AlbertConfig(**kw)


def test_non_albert_config(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(ValueError, match="'bert' model"):
        AlbertConfig.from_pretrained(str(tmp_path))


# ----------------------------------------------------------- safetensors
def test_bf16_bits_round_trip():
    x = np.array([1.0, -2.5, 3.14159, 1e-20, 6.5e4, -0.0], dtype=np.float32)
    bits = checkpoint.float32_to_bf16(x)
    back = checkpoint.bf16_to_float32(bits)
    # bfloat16 keeps 8 significant bits: relative error <= 2^-9
    np.testing.assert_allclose(back, x, rtol=2 ** -9)
    assert checkpoint.bf16_to_float32(np.array([0x3F80, 0xC000], np.uint16)).tolist() == [1.0, -2.0]


def test_bf16_and_fp16_checkpoints_load_as_float32():
    for name in ("stored_bf16", "stored_fp16"):
        m = albert_np.AlbertForMaskedLM.from_pretrained(fixture(name))
        assert all(v.dtype == np.float32 for v in m.state_dict().values())


def test_save_and_reload_round_trip(tmp_path):
    m = albert_np.AlbertForPreTraining.from_pretrained(fixture("pretraining_g2_i2_gelu"))
    m.save_pretrained(tmp_path)
    assert sorted(os.listdir(tmp_path)) == ["config.json", "model.safetensors"]
    again = albert_np.AlbertForPreTraining.from_pretrained(tmp_path)
    a, b = m.state_dict(), again.state_dict()
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    # the tied decoder is stored once, as transformers stores it
    with open(tmp_path / "model.safetensors", "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
    assert "predictions.decoder.weight" not in header
    # bf16 storage halves the file and keeps 8 bits of mantissa
    m.save_pretrained(tmp_path / "bf16", storage_dtype="bfloat16")
    small = albert_np.AlbertForPreTraining.from_pretrained(tmp_path / "bf16")
    w = "albert.embeddings.word_embeddings.weight"
    np.testing.assert_allclose(small.state_dict()[w], a[w], rtol=2 ** -8, atol=1e-30)


def test_save_is_atomic_and_keeps_the_old_file(tmp_path, monkeypatch):
    m = albert_np.AlbertForMaskedLM.from_pretrained(fixture("mlm_pytorch_tanh"))
    m.save_pretrained(tmp_path)
    before = (tmp_path / "model.safetensors").read_bytes()

    def boom(*a, **k):
        raise RuntimeError("disk full")
    monkeypatch.setattr(checkpoint, "safetensors_bytes", lambda *a, **k: b"x" * 10)
    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        m.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").read_bytes() == before
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


# ------------------------------------------------------- bad checkpoints
def test_folder_without_config(tmp_path):
    shutil.copy(os.path.join(fixture("model_g1_i1"), "model.safetensors"), tmp_path)
    with pytest.raises(FileNotFoundError, match="'config.json' not found in folder"):
        albert_np.AlbertModel.from_pretrained(str(tmp_path))


def test_folder_without_weights(tmp_path):
    shutil.copy(os.path.join(fixture("model_g1_i1"), "config.json"), tmp_path)
    with pytest.raises(FileNotFoundError, match="no model.safetensors"):
        albert_np.AlbertModel.from_pretrained(str(tmp_path))


def test_truncated_safetensors(tmp_path):
    src = fixture("model_g1_i1")
    shutil.copy(os.path.join(src, "config.json"), tmp_path)
    data = open(os.path.join(src, "model.safetensors"), "rb").read()
    (tmp_path / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(checkpoint.CheckpointError, match="truncated"):
        albert_np.AlbertModel.from_pretrained(str(tmp_path))
    (tmp_path / "model.safetensors").write_bytes(data[:5])
    with pytest.raises(checkpoint.CheckpointError, match="not a safetensors file"):
        albert_np.AlbertModel.from_pretrained(str(tmp_path))


def test_config_that_does_not_match_the_weights(tmp_path):
    src = fixture("model_g1_i1")
    shutil.copy(os.path.join(src, "model.safetensors"), tmp_path)
    c = json.load(open(os.path.join(src, "config.json")))
    c["intermediate_size"] = 64
    (tmp_path / "config.json").write_text(json.dumps(c))
    with pytest.raises(checkpoint.CheckpointError, match=r"ffn.weight: file \(37, 32\) vs config \(64, 32\)"):
        albert_np.AlbertModel.from_pretrained(str(tmp_path))


def test_missing_and_unexpected_keys_are_reported(caplog):
    """The SOP head is absent from MLM checkpoints (as from the released ones)."""
    with caplog.at_level(logging.WARNING, logger="albert_np.modeling"):
        m = albert_np.AlbertForPreTraining.from_pretrained(fixture("mlm_pytorch_tanh"))
    msg = caplog.text
    assert "sop_classifier.classifier.weight" in msg and "albert.pooler.weight" in msg
    assert "newly initialised" in msg
    # An MLM checkpoint loaded as a classifier: the MLM head is unused, the classifier new.
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="albert_np.modeling"):
        albert_np.AlbertForSequenceClassification.from_pretrained(fixture("mlm_pytorch_tanh"), num_labels=3)
    assert "predictions.dense.weight" in caplog.text and "classifier.weight" in caplog.text
    assert m.params["sop_classifier"]["classifier"]["weight"].shape == (2, 32)


def test_bare_model_checkpoint_under_a_head_and_back():
    base = albert_np.AlbertModel.from_pretrained(fixture("model_g1_i1"))
    head = albert_np.AlbertForSequenceClassification.from_pretrained(fixture("model_g1_i1"))
    np.testing.assert_array_equal(head.params["albert"]["pooler"]["weight"], base.params["pooler"]["weight"])
    back = albert_np.AlbertModel.from_pretrained(fixture("seq_single_label"))
    assert "pooler" in back.params


def test_hub_id_offline_gives_a_clear_message(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    with pytest.raises(OSError, match="unreachable.*local folder"):
        albert_np.AlbertForMaskedLM.from_pretrained("albert/albert-base-v2", cache_dir=str(tmp_path))


def test_hub_id_loads_from_the_hf_cache_offline(monkeypatch, tmp_path):
    """A repo in huggingface_hub's cache layout loads by its Hub id with HF_HUB_OFFLINE=1."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "models--someone--tiny-albert"
    snap = repo / "snapshots" / commit
    snap.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    for f in ("config.json", "model.safetensors"):
        shutil.copy(os.path.join(fixture("mlm_pytorch_tanh"), f), snap)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    m = albert_np.AlbertForMaskedLM.from_pretrained("someone/tiny-albert", cache_dir=str(tmp_path))
    ref = albert_np.AlbertForMaskedLM.from_pretrained(fixture("mlm_pytorch_tanh"))
    np.testing.assert_array_equal(m.state_dict()["predictions.bias"], ref.state_dict()["predictions.bias"])
    assert m.loaded_files[0].startswith(str(snap))


def test_saved_files_get_normal_permissions(tmp_path):
    """Temp files are 0600 until renamed; what a user saves must be readable like any file."""
    m = albert_np.AlbertForMaskedLM.from_pretrained(fixture("mlm_pytorch_tanh"))
    m.save_pretrained(tmp_path / "out")
    umask = os.umask(0)
    os.umask(umask)
    for name in ("config.json", "model.safetensors"):
        assert os.stat(tmp_path / "out" / name).st_mode & 0o777 == 0o666 & ~umask
