"""Original ALBERT TF1 checkpoints (tensor_bundle.py, tf_checkpoint.py) against TensorFlow's own reader.

Fixtures (tests/fixtures/make_tf_fixtures.py, made with TensorFlow 2.21's tf.compat.v1.train.Saver):
tests/fixtures/tf1/<case>/ hold a checkpoint, tf_reader.npz (what tf.train.load_checkpoint returns)
and tf_forward.npz (a TF forward pass written after the original modeling.py). Each case was
made from the HF fixture tests/fixtures/models/<source>, whose reference.npz holds transformers' outputs.
"""
import json
import os
import shutil
import struct
import subprocess
import sys

import numpy as np
import pytest

from albert_np import (AlbertConfig, AlbertForMaskedLM, AlbertForPreTraining, AlbertModel, AlbertTokenizer,
                       AlbertTokenizerFast, AutoModelForPreTraining)
from albert_np.formats.checkpoint import CheckpointError, read_safetensors
from albert_np.formats import tensor_bundle as tb
from albert_np.formats.protobuf_wire import field_bytes, field_varint, varint
from albert_np.formats.tensor_bundle import TABLE_MAGIC, _crc_bytes, crc32c, masked_crc32c, read_bundle
from albert_np.formats import tf_checkpoint
from albert_np.formats.tf_checkpoint import hf_name, is_training_state, read_tf_state_dict
from albert_np.formats.tf_release import find_tf_release

HERE = os.path.dirname(os.path.abspath(__file__))
TF1 = os.path.join(HERE, "fixtures", "tf1")
MODELS = os.path.join(HERE, "fixtures", "models")
SPIECE = os.path.join(HERE, "fixtures", "tokenizer", "spiece.model")
# case: (checkpoint prefix, HF source fixture, class, transformers' reference applies (same activation))
CASES = {
    "release_pretraining": ("model.ckpt-best", "pretraining_g1_i1", AlbertForPreTraining, True),
    "hub_mlm_g3_l5_relu": ("variables/variables", "mlm_g3_l5_relu", AlbertForMaskedLM, True),
    "half_g2_i2": ("model.ckpt-1000", "pretraining_g2_i2_gelu", AlbertForPreTraining, False),
}


def prefix_of(case):
    return os.path.join(TF1, case, CASES[case][0])


def release_copy(tmp_path, case="release_pretraining", vocab=True):
    """A release folder as Google ships it: the fixture checkpoint + 30k-clean.model."""
    folder = tmp_path / case
    shutil.copytree(os.path.join(TF1, case), folder, ignore=shutil.ignore_patterns("*.npz", "*.json"))
    shutil.copy(os.path.join(TF1, case, "albert_config.json"), folder)
    if vocab:
        shutil.copy(SPIECE, folder / "30k-clean.model")
    return folder


# ------------------------------------------------------------------- CRC-32C
def test_crc32c_known_values_and_lanes_agree_with_bytewise():
    assert crc32c(b"123456789") == 0xE3069283                 # the CRC catalogue's check value
    assert crc32c(bytes(32)) == 0x8A9136AA                    # RFC 3720 B.4
    assert crc32c(b"\xff" * 32) == 0x62A8AB43
    assert crc32c(b"") == 0
    data = np.random.default_rng(0).integers(0, 256, 300_001, dtype=np.uint8).tobytes()
    assert crc32c(data) == _crc_bytes(0xFFFFFFFF, data) ^ 0xFFFFFFFF     # lanes + merge == one byte at a time


# ---------------------------------------------------------- the bundle reader
@pytest.mark.parametrize("case", CASES)
def test_every_tensor_equals_tensorflows_reader(case):
    tensors, skipped = read_bundle(prefix_of(case))
    ref = np.load(os.path.join(TF1, case, "tf_reader.npz"))
    with open(os.path.join(TF1, case, "tf_dtypes.json")) as f:
        dtypes = json.load(f)
    assert skipped == [] and sorted(tensors) == sorted(ref.files) == sorted(dtypes)
    for name in ref.files:
        assert tensors[name].shape == ref[name].shape, name
        np.testing.assert_array_equal(tensors[name], ref[name].astype(tensors[name].dtype), err_msg=name)
        expected = {"bfloat16": "float32", "float16": "float32"}.get(dtypes[name], dtypes[name])
        assert tensors[name].dtype == expected, name


@pytest.mark.parity
@pytest.mark.parametrize("case", CASES)
def test_every_tensor_equals_live_tensorflow(case):
    """The same check against TensorFlow itself (the parity extra), not only its recorded output."""
    tf = pytest.importorskip("tensorflow", reason="tensorflow-cpu (the parity extra) is not installed")
    reader = tf.train.load_checkpoint(prefix_of(case))
    tensors, _ = read_bundle(prefix_of(case))
    names = sorted(reader.get_variable_to_shape_map())
    assert sorted(tensors) == names
    for name in names:
        ref = reader.get_tensor(name)
        np.testing.assert_array_equal(tensors[name], np.asarray(ref, dtype=np.float64).astype(tensors[name].dtype)
                                      if ref.dtype.kind == "V" or str(ref.dtype) == "bfloat16" else ref,
                                      err_msg=name)


def test_names_map_to_hf_and_training_state_is_skipped():
    layer = "bert/encoder/transformer/group_1/inner_group_0/"
    assert hf_name(layer + "attention_1/self/query/kernel") == (
        "albert.encoder.albert_layer_groups.1.albert_layers.0.attention.query.weight", True)
    assert hf_name("module/" + layer + "LayerNorm_1/gamma") == (
        "albert.encoder.albert_layer_groups.1.albert_layers.0.full_layer_layer_norm.weight", False)
    assert hf_name(layer + "LayerNorm/beta")[0].endswith("0.attention.LayerNorm.bias")
    assert hf_name(layer + "ffn_1/intermediate/output/dense/bias")[0].endswith("0.ffn_output.bias")
    assert hf_name("cls/seq_relationship/output_weights") == ("sop_classifier.classifier.weight", False)
    assert hf_name("cls/predictions/output_bias") == ("predictions.bias", False)
    assert hf_name("bert/pooler/dense/kernel") == ("albert.pooler.weight", True)
    assert hf_name("cls/squad/output_weights") is None
    for name in ("global_step", "bert/pooler/dense/kernel/adam_m", "module/bert/embeddings/word_embeddings/lamb_v"):
        assert is_training_state(name)
    assert not is_training_state("bert/embeddings/word_embeddings")


@pytest.mark.parametrize("case", ["release_pretraining", "hub_mlm_g3_l5_relu"])
def test_state_dict_equals_the_hf_fixture_exactly(case):
    state, files = read_tf_state_dict(prefix_of(case))
    hf = read_safetensors(os.path.join(MODELS, CASES[case][1], "model.safetensors"))
    assert sorted(state) == sorted(hf)
    for k in hf:
        np.testing.assert_array_equal(state[k], hf[k], err_msg=k)
    assert files[0].endswith(".index") and all(os.path.isfile(f) for f in files)


def test_unknown_names_are_reported(caplog, monkeypatch):
    real = tf_checkpoint.read_bundle

    def with_extra(prefix, keep=None):
        tensors, skipped = real(prefix, keep)
        tensors["cls/squad/output_weights"] = np.zeros((2, 32), np.float32)
        return tensors, skipped
    monkeypatch.setattr(tf_checkpoint, "read_bundle", with_extra)
    state, _ = read_tf_state_dict(prefix_of("release_pretraining"))
    assert "cls/squad/output_weights" in caplog.text and "classifier.weight" not in state


# ------------------------------------------------------------ the model
@pytest.mark.parametrize("case", CASES)
def test_outputs_equal_tf_forward_and_transformers(case):
    _, source, cls, same_activation = CASES[case]
    model = cls.from_pretrained(os.path.join(TF1, case))
    fwd = np.load(os.path.join(TF1, case, "tf_forward.npz"))
    inputs = {k: fwd[k] for k in ("input_ids", "token_type_ids", "attention_mask")}
    out = model(**inputs)
    logits = out.prediction_logits if cls is AlbertForPreTraining else out.logits
    np.testing.assert_allclose(logits, fwd["out_prediction_logits"], atol=1e-5, rtol=0)
    if cls is AlbertForPreTraining:
        np.testing.assert_allclose(out.sop_logits, fwd["out_sop_logits"], atol=1e-5, rtol=0)
    if same_activation:                        # transformers' outputs on the same weights (HF layout)
        ref = np.load(os.path.join(MODELS, source, "reference.npz"))
        key = "out_prediction_logits" if cls is AlbertForPreTraining else "out_logits"
        np.testing.assert_allclose(logits, ref[key], atol=1e-5, rtol=0)
        hf_layout = cls.from_pretrained(os.path.join(MODELS, source))     # albert_np's safetensors path
        np.testing.assert_array_equal(logits, getattr(hf_layout(**inputs), key[4:]))


def test_original_config_and_prefix_path(tmp_path):
    config = AlbertConfig.from_pretrained(os.path.join(TF1, "half_g2_i2"))
    assert config.hidden_act == "gelu_new"           # the original "gelu" is the tanh approximation
    assert (config.num_hidden_groups, config.inner_group_num, config.num_hidden_layers) == (2, 2, 4)
    assert AlbertConfig.from_pretrained(prefix_of("half_g2_i2")) == config
    model = AlbertModel.from_pretrained(prefix_of("release_pretraining"))           # a prefix, not a folder
    assert model.config.vocab_size == 99 and model.loaded_files[0].endswith("model.ckpt-best.index")
    assert AutoModelForPreTraining.from_pretrained(os.path.join(TF1, "release_pretraining")).config.hidden_size == 32
    assert find_tf_release(os.path.join(MODELS, "pretraining_g1_i1")) is None      # an HF folder


def test_tokenizers_read_the_release_vocab(tmp_path):
    folder = release_copy(tmp_path)
    ref = AlbertTokenizer(vocab_file=SPIECE)
    for cls in (AlbertTokenizer, AlbertTokenizerFast):
        for where in (folder, folder / "model.ckpt-best"):
            tok = cls.from_pretrained(str(where))
            assert tok("Hello world!")["input_ids"] == ref("Hello world!")["input_ids"]


def test_several_checkpoints_need_a_prefix(tmp_path):
    folder = release_copy(tmp_path)
    for f in os.listdir(folder):
        if f.startswith("model.ckpt-best"):
            shutil.copy(folder / f, folder / f.replace("best", "500"))
    assert find_tf_release(str(folder)).prefix.endswith("model.ckpt-best")        # best wins
    for f in os.listdir(folder):
        if f.startswith("model.ckpt-best"):
            os.rename(folder / f, folder / f.replace("best", "900"))
    with pytest.raises(CheckpointError, match="several checkpoints"):
        AlbertForPreTraining.from_pretrained(str(folder))
    assert AlbertForPreTraining.from_pretrained(str(folder / "model.ckpt-500")).config.vocab_size == 99


# -------------------------------------------------------- corrupt inputs
def _corrupt(tmp_path, edit):
    folder = release_copy(tmp_path, vocab=False)
    edit(folder)
    return str(folder)


INDEX, DATA = "model.ckpt-best.index", "model.ckpt-best.data-00000-of-00001"


def _write(folder, name, data):
    (folder / name).write_bytes(data)


def _flip(folder, name, at):
    data = bytearray((folder / name).read_bytes())
    data[at] ^= 0x01
    _write(folder, name, bytes(data))


CORRUPTIONS = {
    "empty index": (lambda d: _write(d, INDEX, b""), INDEX, "truncated"),
    "truncated index": (lambda d: _write(d, INDEX, (d / INDEX).read_bytes()[:-9]), INDEX, "magic"),
    "index cut at the front": (lambda d: _write(d, INDEX, (d / INDEX).read_bytes()[500:]), INDEX, ""),
    "random index": (lambda d: _write(d, INDEX, np.random.default_rng(1).bytes(3000)), INDEX, "magic"),
    "flipped index byte": (lambda d: _flip(d, INDEX, 100), INDEX, "CRC-32C"),
    "missing index": (lambda d: os.remove(d / INDEX), INDEX, "not found"),
    "empty data": (lambda d: _write(d, DATA, b""), DATA, "truncated"),
    "truncated data": (lambda d: _write(d, DATA, (d / DATA).read_bytes()[:-100]), DATA, "truncated"),
    "random data": (lambda d: _write(d, DATA, np.random.default_rng(2).bytes((d / DATA).stat().st_size)),
                    DATA, "CRC-32C"),
    "flipped data byte": (lambda d: _flip(d, DATA, 5000), DATA, "CRC-32C"),
    "missing shard": (lambda d: os.remove(d / DATA), DATA, "not found"),
}


@pytest.mark.parametrize("name", CORRUPTIONS)
def test_corrupt_files_raise_checkpoint_error_naming_the_file(tmp_path, name):
    edit, culprit, words = CORRUPTIONS[name]
    folder = _corrupt(tmp_path, edit)
    with pytest.raises(CheckpointError) as e:
        AlbertForPreTraining.from_pretrained(folder)
    assert culprit in str(e.value) and words in str(e.value)


def _rewrite_entry(prefix, name, **changes):
    """Re-encode one BundleEntryProto with changed fields (a valid index describing a wrong checkpoint)."""
    entries = tb.read_table(prefix + ".index")
    out = []
    for key, value in entries:
        if key == name.encode():
            e = dict(tb.parse_entry(value, prefix), **changes)
            shape = b"".join(field_bytes(2, field_varint(1, d)) for d in e["shape"])
            value = (field_varint(1, e["dtype"]) + field_bytes(2, shape) + field_varint(3, e["shard"])
                     + field_varint(4, e["offset"]) + field_varint(5, e["size"]))
        out.append((key, value))
    return out


def _write_table(path, entries):
    """An SSTable of one data block, one index block, no restarts shared (a minimal valid writer)."""
    def block(items):
        body = b"".join(varint(0) + varint(len(k)) + varint(len(v)) + k + v for k, v in items)
        return body + struct.pack("<II", 0, 1)

    def framed(contents):
        return contents + b"\0" + struct.pack("<I", masked_crc32c(contents + b"\0"))
    data = block(entries)
    meta = block([])
    index = block([(entries[-1][0], varint(0) + varint(len(data)))])
    out = framed(data) + framed(meta) + framed(index)
    meta_at, index_at = len(framed(data)), len(framed(data)) + len(framed(meta))
    footer = varint(meta_at) + varint(len(meta)) + varint(index_at) + varint(len(index))
    path.write_bytes(out + footer + bytes(40 - len(footer)) + struct.pack("<Q", TABLE_MAGIC))


@pytest.mark.parametrize("change, words", [(dict(shard=3), "shard 3"), (dict(offset=10**9), "truncated"),
                                            (dict(size=12), "bytes at offset")])
def test_bad_entries_raise_checkpoint_error(tmp_path, change, words):
    folder = release_copy(tmp_path, vocab=False)
    prefix = str(folder / "model.ckpt-best")
    _write_table(folder / INDEX, _rewrite_entry(prefix, "bert/pooler/dense/bias", **change))
    with pytest.raises(CheckpointError, match=words):
        read_bundle(prefix)


def test_rewritten_index_still_reads(tmp_path):              # the test writer itself is sound
    folder = release_copy(tmp_path, vocab=False)
    prefix = str(folder / "model.ckpt-best")
    _write_table(folder / INDEX, _rewrite_entry(prefix, "nothing"))
    assert len(read_bundle(prefix)[0]) == 49


# ------------------------------------------------------------ convert
def _convert(tmp_path):
    src, dst = release_copy(tmp_path), tmp_path / "hf"
    proc = subprocess.run([sys.executable, "-m", "albert_np", "convert", str(src), str(dst)],
                          capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
    assert proc.returncode == 0, proc.stderr
    return dst


def test_convert_writes_an_hf_folder(tmp_path):
    dst = _convert(tmp_path)
    assert {"config.json", "model.safetensors", "spiece.model", "tokenizer.json"} <= set(os.listdir(dst))
    fwd = np.load(os.path.join(TF1, "release_pretraining", "tf_forward.npz"))
    out = AlbertForPreTraining.from_pretrained(str(dst))(input_ids=fwd["input_ids"],
                                                         token_type_ids=fwd["token_type_ids"],
                                                         attention_mask=fwd["attention_mask"])
    np.testing.assert_allclose(out.sop_logits, fwd["out_sop_logits"], atol=1e-5, rtol=0)
    assert AlbertTokenizerFast.from_pretrained(str(dst))("Hi")["input_ids"][0] == 2


@pytest.mark.parity
@pytest.mark.parametrize("case", CASES)
def test_convert_round_trip_into_transformers(tmp_path, case):
    pytest.importorskip("torch", reason="the parity oracle needs torch (the `parity` extra)")
    transformers = pytest.importorskip("transformers", reason="the parity oracle needs transformers")
    import torch
    src, dst = release_copy(tmp_path, case), tmp_path / "hf"
    proc = subprocess.run([sys.executable, "-m", "albert_np", "convert", str(src), str(dst)],
                          capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
    assert proc.returncode == 0, proc.stderr
    fwd = np.load(os.path.join(TF1, case, "tf_forward.npz"))
    inputs = {k: torch.from_numpy(fwd[k].astype(np.int64)) for k in ("input_ids", "token_type_ids", "attention_mask")}
    model = transformers.AlbertForPreTraining.from_pretrained(str(dst)).eval()
    with torch.no_grad():
        out = model(**inputs)
    np.testing.assert_allclose(out.prediction_logits.numpy(), fwd["out_prediction_logits"], atol=1e-5, rtol=0)
    if "out_sop_logits" in fwd:
        np.testing.assert_allclose(out.sop_logits.numpy(), fwd["out_sop_logits"], atol=1e-5, rtol=0)
    ours = AlbertForPreTraining.from_pretrained(str(src))(**{k: v.numpy() for k, v in inputs.items()})
    np.testing.assert_allclose(ours.prediction_logits, out.prediction_logits.numpy(), atol=1e-5, rtol=0)
