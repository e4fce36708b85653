"""modeling.py's everyday API: the vocabulary's tables (get_input_embeddings,
resize_token_embeddings), dtype, ignore_mismatched_sizes and sharded saves (max_shard_size).

Each behaviour is checked by hand (values computed here), and, where transformers has the same
API, live against transformers 5 (marker `parity`, skipped without torch + transformers).
"""
import json
import logging
import os

import numpy as np
import pytest

import albert_np
from albert_np import step
from albert_np.formats import checkpoint
from albert_np.formats.checkpoint import CheckpointError
from albert_np.modeling import MODEL_CLASSES, compute_dtype

TINY = dict(vocab_size=30, embedding_size=8, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
            intermediate_size=20, max_position_embeddings=16)


def tiny(cls=albert_np.AlbertForMaskedLM, seed=1, **overrides):
    model = cls(albert_np.AlbertConfig(**{**TINY, **overrides}), seed=seed)
    if "predictions" in model.params:      # a bias that is not all zeros, to see it kept
        model.params["predictions"]["bias"][:] = np.random.default_rng(seed).normal(size=model.config.vocab_size)
    return model


# %% get_input_embeddings / set_input_embeddings --------------------------------------------------

def test_input_embeddings_are_the_models_own_array():
    model = tiny()
    table = model.get_input_embeddings()
    assert table.shape == (30, 8) and table is model.params["albert"]["embeddings"]["word_embeddings"]["weight"]
    assert model.get_output_embeddings() is table                       # tied decoder
    ids = np.array([[2, 7, 3]])
    before = model(input_ids=ids).logits
    table[7] += 1.0                                                     # editing it edits the model
    assert not np.allclose(model(input_ids=ids).logits, before)
    bare = tiny(albert_np.AlbertModel)
    assert bare.get_input_embeddings() is bare.params["embeddings"]["word_embeddings"]["weight"]
    assert bare.get_output_embeddings() is None
    new = np.ones((30, 8), dtype=np.float32)
    model.set_input_embeddings(new)
    assert np.array_equal(model.get_input_embeddings(), new)
    assert model.get_output_embeddings() is model.get_input_embeddings()
    with pytest.raises(ValueError, match=r"resize_token_embeddings\(31\) first"):
        model.set_input_embeddings(np.ones((31, 8)))
    with pytest.raises(ValueError, match=r"shape \(V, embedding_size=8\)"):
        model.set_input_embeddings(np.ones((30, 9)))


# %% resize_token_embeddings ------------------------------------------------------------------------

def test_growing_keeps_the_rows_adds_the_mean_and_zero_bias():
    model = tiny()
    old, bias = model.get_input_embeddings().copy(), model.params["predictions"]["bias"].copy()
    table = model.resize_token_embeddings(33)
    assert table.shape == (33, 8) and model.config.vocab_size == 33
    np.testing.assert_array_equal(table[:30], old)
    mean = old.astype(np.float64).sum(0) / 30                          # the mean row, by hand
    np.testing.assert_allclose(table[30:], np.tile(mean, (3, 1)), rtol=0, atol=1e-7)
    p = model.params["predictions"]
    np.testing.assert_array_equal(p["bias"], np.concatenate([bias, np.zeros(3, np.float32)]))
    assert p["decoder"]["weight"] is table and p["decoder"]["bias"] is p["bias"]     # still tied
    out = model(input_ids=np.array([[2, 31, 32, 3]]), labels=np.array([[-100, 32, 31, -100]]))
    assert out.logits.shape == (1, 4, 33) and np.isfinite(out.loss)
    # the new rows train: their gradient is nonzero
    _, _, grads = step.loss_and_grads(model.params, model.config, "mlm", {"input_ids": np.array([[2, 31, 32, 3]])},
                                      {"labels": np.array([[-100, 32, 31, -100]])})
    g = grads["albert.embeddings.word_embeddings.weight"]
    assert g.shape == (33, 8) and np.abs(g[31:]).sum() > 0


def test_shrinking_padding_and_random_rows():
    model = tiny()
    old, bias = model.get_input_embeddings().copy(), model.params["predictions"]["bias"].copy()
    model.resize_token_embeddings(20)
    np.testing.assert_array_equal(model.get_input_embeddings(), old[:20])
    np.testing.assert_array_equal(model.params["predictions"]["bias"], bias[:20])
    assert model.resize_token_embeddings(21, pad_to_multiple_of=8).shape == (24, 8)
    assert model.resize_token_embeddings(pad_to_multiple_of=5).shape == (25, 8)      # 24 rounded up
    assert model.resize_token_embeddings().shape == (25, 8)                          # nothing to do
    big = tiny(initializer_range=0.5)
    table = big.resize_token_embeddings(30 + 4000, mean_resizing=False)
    assert abs(table[30:].std() - 0.5) < 0.02 and abs(table[30:].mean()) < 0.02     # N(0, initializer_range)
    for bad in (0, -3, 2.5, True, "40"):
        with pytest.raises(ValueError, match="new_num_tokens must be an int >= 1"):
            model.resize_token_embeddings(bad)
    with pytest.raises(ValueError, match="pad_to_multiple_of must be an int >= 1"):
        model.resize_token_embeddings(40, pad_to_multiple_of=0)


def test_untied_decoder_grows_its_own_mean_and_every_class_resizes(tmp_path):
    model = tiny(tie_word_embeddings=False)
    model.params["predictions"]["decoder"]["weight"] = model.get_input_embeddings() * 2 + 1   # its own rows
    decoder, bias = model.get_output_embeddings().copy(), model.params["predictions"]["bias"].copy()
    model.resize_token_embeddings(32)
    assert model.get_output_embeddings() is not model.get_input_embeddings()
    np.testing.assert_allclose(model.get_output_embeddings()[30:], np.tile(decoder.mean(0), (2, 1)), atol=1e-6)
    np.testing.assert_allclose(model.params["predictions"]["bias"][30:], [bias.mean()] * 2, atol=1e-6)
    model.save_pretrained(tmp_path / "untied")                        # the untied decoder is saved too
    again = albert_np.AlbertForMaskedLM.from_pretrained(tmp_path / "untied")
    np.testing.assert_array_equal(again.get_output_embeddings(), model.get_output_embeddings())
    for name, cls in MODEL_CLASSES.items():
        m = tiny(cls, num_labels=2)
        m.resize_token_embeddings(35)
        m.save_pretrained(tmp_path / name)
        again = cls.from_pretrained(tmp_path / name)
        assert again.config.vocab_size == 35
        assert json.loads((tmp_path / name / "config.json").read_text())["vocab_size"] == 35
        for k, v in m.state_dict().items():
            np.testing.assert_array_equal(again.state_dict()[k], v)


@pytest.mark.parity
@pytest.mark.parametrize("name, tied, size", [("AlbertForMaskedLM", True, 34), ("AlbertForMaskedLM", False, 33),
                                               ("AlbertForPreTraining", True, 37), ("AlbertModel", True, 31),
                                               ("AlbertForMaskedLM", True, 21)])
def test_resize_matches_transformers(name, tied, size, tmp_path):
    torch = pytest.importorskip("torch", reason="live parity needs torch")
    transformers = pytest.importorskip("transformers", reason="live parity needs transformers")
    cfg = dict(TINY, tie_word_embeddings=tied)
    torch.manual_seed(0)
    hf = getattr(transformers, name)(transformers.AlbertConfig(**cfg)).eval()
    if hasattr(hf, "predictions"):
        with torch.no_grad():
            hf.predictions.bias.normal_()
            hf.predictions.decoder.bias.copy_(hf.predictions.bias)     # one bias, as albert_np reads it
    hf.save_pretrained(tmp_path)
    ours = MODEL_CLASSES[name].from_pretrained(tmp_path)
    hf.resize_token_embeddings(size)
    ours.resize_token_embeddings(size)
    assert ours.config.vocab_size == hf.config.vocab_size == size
    theirs = {k: v.detach().numpy() for k, v in hf.state_dict().items()}
    for k, v in ours.state_dict().items():
        # transformers draws the new rows from N(mean, 1e-9 cov): the mean, to ~1e-5 of a row's spread
        np.testing.assert_allclose(v, theirs[k], rtol=0, atol=1e-5, err_msg=k)
    ids = np.array([[2, size - 1, 5, size - 2, 3]])
    with torch.no_grad():
        ref = hf(input_ids=torch.tensor(ids))
    got = ours(input_ids=ids)
    field = "last_hidden_state" if name == "AlbertModel" else "logits" if name == "AlbertForMaskedLM" \
        else "prediction_logits"
    np.testing.assert_allclose(getattr(got, field), getattr(ref, field).numpy(), rtol=0, atol=1e-4)
    # our resized save loads in transformers with the same outputs
    ours.save_pretrained(tmp_path / "ours")
    back = getattr(transformers, name).from_pretrained(tmp_path / "ours").eval()
    with torch.no_grad():
        np.testing.assert_allclose(getattr(back(input_ids=torch.tensor(ids)), field).numpy(),
                                   getattr(got, field), rtol=0, atol=1e-5)


# %% dtype ----------------------------------------------------------------------------------------------

class _TorchLikeDtype:
    """Stands for torch.bfloat16 (read by its name; albert_np never imports torch)."""
    __module__ = "torch"

    def __init__(self, name):
        self.name = name

    def __str__(self):
        return f"torch.{self.name}"


def test_dtype_float32_float64_and_half_with_a_warning(tmp_path, caplog):
    tiny().save_pretrained(tmp_path)
    assert compute_dtype(None) == compute_dtype("auto") == compute_dtype(np.float32) == np.float32
    assert compute_dtype("float64") == np.float64
    for half in ("bfloat16", "float16", np.float16, _TorchLikeDtype("bfloat16"), _TorchLikeDtype("float16")):
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="albert_np.modeling"):
            model = albert_np.AlbertForMaskedLM.from_pretrained(tmp_path, dtype=half)
        assert model.dtype == np.float32
        assert all(v.dtype == np.float32 for v in model.state_dict().values())
        assert "albert_np computes in float32" in caplog.text and "storage_dtype=" in caplog.text
    for bad in ("int8", "float8", np.int32, _TorchLikeDtype("int8"), "f16x"):
        with pytest.raises(ValueError, match=r"not supported: albert_np computes in float32 \('auto', the default\)"):
            albert_np.AlbertForMaskedLM.from_pretrained(tmp_path, dtype=bad)
    # a bfloat16 checkpoint loaded with dtype="bfloat16" holds exactly its bf16 values
    tiny().save_pretrained(tmp_path / "bf16", storage_dtype="bfloat16")
    a = albert_np.AlbertForMaskedLM.from_pretrained(tmp_path / "bf16", dtype="bfloat16").get_input_embeddings()
    bits = a.view(np.uint32)
    assert np.all(bits & 0xFFFF == 0)


# %% ignore_mismatched_sizes --------------------------------------------------------------------------

def test_ignore_mismatched_sizes_reinitialises_only_those(tmp_path, caplog):
    two = tiny(albert_np.AlbertForSequenceClassification, num_labels=2)
    two.save_pretrained(tmp_path)
    with pytest.raises(CheckpointError, match=r"classifier.weight: file \(2, 16\) vs config \(5, 16\)") as e:
        albert_np.AlbertForSequenceClassification.from_pretrained(tmp_path, num_labels=5)
    assert "ignore_mismatched_sizes=True" in str(e.value)
    with caplog.at_level(logging.WARNING, logger="albert_np.modeling"):
        five = albert_np.AlbertForSequenceClassification.from_pretrained(tmp_path, num_labels=5,
                                                                         ignore_mismatched_sizes=True)
    assert "2 weights of another shape in the checkpoint, newly initialised" in caplog.text
    assert "classifier.weight: file (2, 16) vs config (5, 16)" in caplog.text
    assert five.params["classifier"]["weight"].shape == (5, 16)
    assert np.all(five.params["classifier"]["bias"] == 0)
    for k, v in two.state_dict().items():                               # everything else as saved
        if not k.startswith("classifier."):
            np.testing.assert_array_equal(five.state_dict()[k], v)
    ids = np.array([[2, 7, 9, 3]])
    assert five(input_ids=ids).logits.shape == (1, 5)


@pytest.mark.parity
def test_ignore_mismatched_sizes_matches_transformers(tmp_path):
    torch = pytest.importorskip("torch", reason="live parity needs torch")
    transformers = pytest.importorskip("transformers", reason="live parity needs transformers")
    torch.manual_seed(0)
    hf_config = transformers.AlbertConfig(**TINY, num_labels=2)
    transformers.AlbertForSequenceClassification(hf_config).save_pretrained(tmp_path)
    with pytest.raises(RuntimeError):
        transformers.AlbertForSequenceClassification.from_pretrained(tmp_path, num_labels=5)
    with pytest.raises(CheckpointError):
        albert_np.AlbertForSequenceClassification.from_pretrained(tmp_path, num_labels=5)
    hf, info = transformers.AlbertForSequenceClassification.from_pretrained(
        tmp_path, num_labels=5, ignore_mismatched_sizes=True, output_loading_info=True)
    ours = albert_np.AlbertForSequenceClassification.from_pretrained(tmp_path, num_labels=5,
                                                                     ignore_mismatched_sizes=True)
    theirs = {k: v.detach().numpy() for k, v in hf.state_dict().items()}
    reinitialised = {m[0] if isinstance(m, tuple) else m for m in info["mismatched_keys"]}
    assert reinitialised == {"classifier.weight", "classifier.bias"}
    for k, v in ours.state_dict().items():
        assert v.shape == theirs[k].shape, k
        if k not in reinitialised:
            np.testing.assert_array_equal(v, theirs[k], err_msg=k)
    # both re-draw the classifier from N(0, initializer_range) with a zero bias
    assert np.all(theirs["classifier.bias"] == 0) and np.all(ours.params["classifier"]["bias"] == 0)


# %% sharded saves ----------------------------------------------------------------------------------------

def test_shards_follow_the_size_rule_and_load_back(tmp_path):
    model = tiny(albert_np.AlbertForPreTraining)
    (tmp_path / "README.md").write_text("mine")
    model.save_pretrained(tmp_path)                                    # one file first
    model.save_pretrained(tmp_path, max_shard_size="2KB")
    names = sorted(os.listdir(tmp_path))
    index = json.loads((tmp_path / "model.safetensors.index.json").read_text())
    shards = sorted(set(index["weight_map"].values()))
    assert "model.safetensors" not in names and "README.md" in names   # the old weights go, other files stay
    assert shards == [f"model-{i:05d}-of-{len(shards):05d}.safetensors" for i in range(1, len(shards) + 1)]
    stored = {k: v for k, v in model.state_dict().items() if not k.startswith("predictions.decoder.")}
    assert set(index["weight_map"]) == set(stored)
    assert index["metadata"]["total_size"] == sum(v.nbytes for v in stored.values())
    # the rule, by hand: names in sorted order, a new file when the next tensor passes 2000 bytes
    expected, current, size = [], [], 0
    for k in sorted(stored):
        n = stored[k].nbytes
        if n > 2000:
            expected.append([k])
            continue
        if current and size + n > 2000:
            expected.append(current)
            current, size = [], 0
        current.append(k)
        size += n
    expected.append(current)
    in_files = [sorted(k for k, f in index["weight_map"].items() if f == s) for s in shards]
    assert in_files == [sorted(e) for e in expected]
    again = albert_np.AlbertForPreTraining.from_pretrained(tmp_path)
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(again.state_dict()[k], v)
    model.save_pretrained(tmp_path)                                    # and back to one file
    assert sorted(os.listdir(tmp_path)) == ["README.md", "config.json", "model.safetensors"]


def test_shard_sizes_as_huggingface_hub_splits_them(tmp_path):
    from huggingface_hub.serialization import split_state_dict_into_shards_factory
    stored = {k: v for k, v in tiny().state_dict().items() if not k.startswith("predictions.decoder.")}
    split = split_state_dict_into_shards_factory(dict(sorted(stored.items())), get_storage_size=lambda a: a.nbytes,
                                                 filename_pattern="model{suffix}.safetensors", max_shard_size=1500)
    ours = checkpoint.shards_of({k: v.nbytes for k, v in sorted(stored.items())}, 1500)
    assert [sorted(names) for names in split.filename_to_tensors.values()] == [sorted(s) for s in ours]
    assert checkpoint.shard_size_bytes("5GB") == 5 * 10**9 and checkpoint.shard_size_bytes(" 1.5 mb") == 1_500_000
    assert checkpoint.shard_size_bytes(1234) == 1234
    for bad in ("5GiB", "lots", 0, -1, "0KB", True, 1.5):
        with pytest.raises(ValueError, match="max_shard_size must be"):
            tiny().save_pretrained(tmp_path / "x", max_shard_size=bad)
    tiny().save_pretrained(tmp_path / "y", max_shard_size="1GB")      # fits in one: one file, no index
    assert sorted(os.listdir(tmp_path / "y")) == ["config.json", "model.safetensors"]
    tiny().save_pretrained(tmp_path / "z", max_shard_size="1KB", storage_dtype="bfloat16")   # bf16: 2 bytes a weight
    index = json.loads((tmp_path / "z" / "model.safetensors.index.json").read_text())
    assert index["metadata"]["total_size"] == sum(v.size * 2 for v in stored.values())


@pytest.mark.parity
def test_transformers_loads_our_shards_and_we_load_theirs(tmp_path):
    torch = pytest.importorskip("torch", reason="live parity needs torch")
    transformers = pytest.importorskip("transformers", reason="live parity needs transformers")
    ours = tiny(albert_np.AlbertForPreTraining)
    ours.save_pretrained(tmp_path / "ours", max_shard_size="3KB")
    hf = transformers.AlbertForPreTraining.from_pretrained(tmp_path / "ours").eval()
    theirs = {k: v.detach().numpy() for k, v in hf.state_dict().items()}
    for k, v in ours.state_dict().items():
        np.testing.assert_array_equal(theirs[k], v, err_msg=k)
    hf.save_pretrained(tmp_path / "theirs", max_shard_size="3KB")
    assert os.path.isfile(tmp_path / "theirs" / "model.safetensors.index.json")
    back = albert_np.AlbertForPreTraining.from_pretrained(tmp_path / "theirs")
    ids = np.array([[2, 7, 11, 3]])
    with torch.no_grad():
        ref = hf(input_ids=torch.tensor(ids)).prediction_logits.numpy()
    np.testing.assert_allclose(back(input_ids=ids).prediction_logits, ref, rtol=0, atol=1e-5)
