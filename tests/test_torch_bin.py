"""pytorch_model.bin without torch (torch_bin.py, checkpoint.read_torch_bin), and damaged or
malicious checkpoint files of every kind.

The fixtures (tests/fixtures/bin) were written by torch with tests/fixtures/make_bin_fixtures.py;
the live tests (marked parity) write fresh files with torch and skip without it.
"""
import collections
import io
import json
import os
import pickle
import re
import struct
import subprocess
import zipfile

import numpy as np
import pytest

import albert_np
from albert_np.formats import checkpoint, torch_bin
from albert_np.formats.checkpoint import CheckpointError

HERE = os.path.dirname(__file__)
BIN = os.path.join(HERE, "fixtures", "bin")
MODELS = os.path.join(HERE, "fixtures", "models")


# ------------------------------------------------------------------ torch's files
@pytest.mark.parametrize("name", ["tensors_zip.bin", "tensors_legacy.bin"])
def test_every_tensor_equals_torchs(name):
    """Both layouts; fp16, bf16, int64, bool, uint16; views sharing a storage, offsets, strides."""
    ref = np.load(os.path.join(BIN, "tensors.npz"))
    got = checkpoint.read_torch_bin(os.path.join(BIN, name), dtype=None)
    expected = [k for k in ref.files if not (k == "u16" and "legacy" in name)]
    assert list(got) == expected
    for k in got:
        assert got[k].dtype == ref[k].dtype and got[k].shape == ref[k].shape, k
        np.testing.assert_array_equal(got[k], ref[k], err_msg=k)
        assert got[k].flags.writeable and got[k].flags.c_contiguous
    got["f32"][0, 0] = 123.0                     # views were copied: no aliasing left behind
    assert got["f32_transposed"][0, 0] != 123.0


def test_default_dtype_makes_floats_float32():
    got = checkpoint.read_torch_bin(os.path.join(BIN, "tensors_zip.bin"))
    ref = np.load(os.path.join(BIN, "tensors.npz"))
    for k in ("f64", "f16", "bf16", "bf16_view"):
        assert got[k].dtype == np.float32
        np.testing.assert_array_equal(got[k], ref[k].astype(np.float32))
    assert got["i64"].dtype == np.int64 and got["boolean"].dtype == np.bool_


@pytest.mark.parametrize("folder", ["mlm_bin", "mlm_sharded"])
def test_model_from_pytorch_model_bin(folder):
    path = os.path.join(BIN, folder)
    ref = np.load(os.path.join(path, "reference.npz"))
    model = albert_np.AlbertForMaskedLM.from_pretrained(path)
    out = model(input_ids=ref["input_ids"], attention_mask=ref["attention_mask"]).logits
    np.testing.assert_allclose(out, ref["logits"], atol=1e-5, rtol=0)
    assert all(p.endswith(".bin") for p in model.loaded_files)
    assert len(model.loaded_files) == (3 if folder == "mlm_sharded" else 1)


@pytest.mark.parity
def test_live_torch_save_both_layouts(tmp_path):
    torch = pytest.importorskip("torch", reason="live .bin parity needs torch (the `parity` extra)")
    g = torch.Generator().manual_seed(1)
    big = torch.randn(6, 10, generator=g)
    state = collections.OrderedDict(
        a=big, b=big[1:5:2, 3:9:3], c=big.t()[2:], d=torch.randn(9, generator=g).half()[1::4],
        e=torch.randn(4, 5, generator=g).bfloat16().t(), f=torch.randint(-9, 9, (3, 3), generator=g),
        g=torch.randn(2, 3, 4, generator=g).permute(2, 0, 1), h=torch.randn(3, generator=g).double())
    for kw in ({}, {"_use_new_zipfile_serialization": False}):
        path = tmp_path / f"s{len(kw)}.bin"
        torch.save(state, path, **kw)
        got = checkpoint.read_torch_bin(str(path), dtype=None)
        for k, t in state.items():
            want = (t.float() if t.dtype == torch.bfloat16 else t).numpy()
            assert got[k].dtype == want.dtype
            np.testing.assert_array_equal(got[k], want, err_msg=k)


@pytest.mark.parity
def test_live_transformers_model_saved_as_bin(tmp_path):
    torch = pytest.importorskip("torch", reason="live .bin parity needs torch (the `parity` extra)")
    transformers = pytest.importorskip("transformers", reason="needs transformers (the `parity` extra)")
    torch.manual_seed(3)
    config = transformers.AlbertConfig(vocab_size=50, embedding_size=8, hidden_size=16, num_hidden_layers=2,
                                       num_attention_heads=2, intermediate_size=20, max_position_embeddings=16)
    model = transformers.AlbertForMaskedLM(config).eval()
    model.config.save_pretrained(tmp_path)
    torch.save(model.half().state_dict(), tmp_path / "pytorch_model.bin")     # fp16 storage, as often shipped
    model = model.float()
    ids = np.array([[2, 5, 9, 11, 3]])
    with torch.no_grad():
        want = model(input_ids=torch.tensor(ids)).logits.numpy()
    got = albert_np.AlbertForMaskedLM.from_pretrained(tmp_path)(input_ids=ids).logits
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)


# ------------------------------------------------------------------ files written by hand
def _pickle_state(tensors, storage_kind="FloatStorage"):
    """Protocol-2 pickle bytes of {name: (key, numel, offset, size, stride)}, as torch writes them."""
    def u(s):
        b = s.encode()
        return b"X" + struct.pack("<I", len(b)) + b

    def ints(xs):
        return b"(" + b"".join(b"J" + struct.pack("<i", x) for x in xs) + b"t"
    out = [b"\x80\x02}("]
    for name, (key, numel, offset, size, stride) in tensors.items():
        out += [u(name), b"ctorch._utils\n_rebuild_tensor_v2\n(",
                b"(" + u("storage") + f"ctorch\n{storage_kind}\n".encode() + u(key) + u("cpu")
                + b"J" + struct.pack("<i", numel) + b"tQ",
                b"J" + struct.pack("<i", offset), ints(size), ints(stride),
                b"\x89ccollections\nOrderedDict\n)RtR"]
    return b"".join(out) + b"u."


def _zip_file(pkl, storages, byteorder=b"little", compress=zipfile.ZIP_STORED):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compress) as z:
        z.writestr("archive/data.pkl", pkl)
        z.writestr("archive/byteorder", byteorder)
        for key, data in storages.items():
            z.writestr(f"archive/data/{key}", data)
    return buf.getvalue()


def _legacy_file(pkl, storages, counts=None):
    head = b"".join(pickle.dumps(x, protocol=2) for x in (
        torch_bin.LEGACY_MAGIC, torch_bin.LEGACY_PROTOCOL,
        {"protocol_version": 1001, "little_endian": True, "type_sizes": {"short": 2, "int": 4, "long": 4}}))
    tail = pickle.dumps(sorted(storages), protocol=2)
    for key in sorted(storages):
        count = (counts or {}).get(key, len(storages[key]) // 4)
        tail += struct.pack("<q", count) + storages[key]
    return head + pkl + tail


DATA = {"0": np.arange(12, dtype=np.float32).tobytes()}
GOOD = {"w": ("0", 12, 2, (2, 3), (1, 2))}          # offset 2, strided: [[2, 4, 6], [3, 5, 7]]


@pytest.mark.parametrize("layout", ["zip", "legacy"])
def test_hand_written_files_read(tmp_path, layout):
    make = _zip_file if layout == "zip" else _legacy_file
    path = tmp_path / "pytorch_model.bin"
    path.write_bytes(make(_pickle_state(GOOD), DATA))
    np.testing.assert_array_equal(checkpoint.read_torch_bin(str(path))["w"], [[2, 4, 6], [3, 5, 7]])


class _Payload:
    """Pickles as `func(*args)`: what a malicious .bin runs when torch.load(weights_only=False) reads it."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def _payloads(marker):
    """{pattern of the refused global: payload}."""
    touch = f"open({str(marker)!r}, 'w').close()"
    return {
        r"posix\.system": _Payload(os.system, f"touch {marker}"),
        r"builtins\.eval": _Payload(eval, touch),
        r"builtins\.exec": _Payload(exec, touch),
        r"subprocess\.Popen": _Payload(subprocess.Popen, ["touch", str(marker)]),
        # getattr on an allowed global: the first step of a chain to OrderedDict's module globals
        r"builtins\.getattr": _Payload(getattr, collections.OrderedDict, "fromkeys"),
    }


def _stack_global(module, name, then=b")R"):
    """Protocol 4: STACK_GLOBAL (module and name from the stack), called with no arguments."""
    def s(x):
        return b"\x8c" + bytes([len(x)]) + x.encode()
    return b"\x80\x04" + s(module) + s(name) + b"\x93" + then + b"."


@pytest.mark.parametrize("layout", ["zip", "legacy", "legacy-header"])
@pytest.mark.parametrize("protocol", [2, 4])                 # 2: GLOBAL; 4: STACK_GLOBAL
def test_malicious_pickles_are_refused_and_never_run(tmp_path, layout, protocol):
    for glob, payload in _payloads(tmp_path / "control").items():       # the payloads do work ...
        if "getattr" not in glob:
            result = pickle.loads(pickle.dumps(payload, protocol=protocol))
            if isinstance(result, subprocess.Popen):
                result.wait()
            assert (tmp_path / "control").exists(), glob
            os.remove(tmp_path / "control")
    marker = tmp_path / "marker"
    for glob, payload in _payloads(marker).items():                      # ... but not in albert_np
        inner = pickle.dumps({"w": payload}, protocol=protocol)
        nested = pickle.dumps(collections.OrderedDict(w=_Payload(collections.OrderedDict, [("x", payload)])),
                              protocol=protocol)                        # REDUCE inside an allowed REDUCE
        for pkl in (inner, nested):
            if layout == "zip":
                data = _zip_file(pkl, {})
            elif layout == "legacy":
                data = _legacy_file(pkl, {})
            else:                                                       # in place of the magic number
                data = pkl + _legacy_file(b"", {})
            path = tmp_path / "pytorch_model.bin"
            path.write_bytes(data)
            with pytest.raises(CheckpointError, match=rf"{re.escape(str(path))}: refused to load the global .*{glob}"):
                checkpoint.read_torch_bin(str(path))
            assert not marker.exists(), f"{glob} ran"


@pytest.mark.parametrize("module, name", [
    ("collections", "OrderedDict.fromkeys"),            # a dotted name under an allowed one
    ("torch", "load"), ("torch._utils", "_rebuild_device_tensor_from_numpy"),
    ("numpy.core.multiarray", "_reconstruct"), ("builtins", "__import__"), ("os", "system")])
def test_stack_global_names_outside_the_table_are_refused(tmp_path, module, name):
    path = tmp_path / "pytorch_model.bin"
    path.write_bytes(_zip_file(_stack_global(module, name), {}))
    with pytest.raises(CheckpointError, match=rf"refused to load the global {module}\.{name}"):
        checkpoint.read_torch_bin(str(path))


def test_build_cannot_alter_the_stand_ins(tmp_path):
    """BUILD (setstate) on an allowed global must not rewrite it."""
    pkl = b"\x80\x02ctorch\nFloatStorage\n}X\x04\x00\x00\x00nameX\x01\x00\x00\x00xsb."
    path = tmp_path / "pytorch_model.bin"
    path.write_bytes(_zip_file(pkl, {}))
    with pytest.raises(CheckpointError, match="BUILD"):
        checkpoint.read_torch_bin(str(path))
    assert repr(torch_bin.ALLOWED_GLOBALS[("torch", "FloatStorage")]) == "torch.FloatStorage"


def _corrupt_bins():
    zipped = _zip_file(_pickle_state(GOOD), DATA)
    rnd = np.random.default_rng(0).bytes(4000)
    return {
        "empty": (b"", "not a readable pytorch_model.bin"),
        "random": (rnd, "not a readable pytorch_model.bin"),
        "random zip magic": (b"PK\x03\x04" + rnd, "not a readable pytorch_model.bin"),
        "truncated zip": (zipped[: len(zipped) // 2], "not a readable"),
        "truncated legacy": (_legacy_file(_pickle_state(GOOD), DATA)[:-20], "elements recorded"),
        "zip without data.pkl": (_zip_file(b"", {})[:0] + _zip_no_pickle(), "no <name>/data.pkl"),
        "storage missing": (_zip_file(_pickle_state(GOOD), {}), "KeyError"),
        "storage shorter than said": (_zip_file(_pickle_state({"w": ("0", 99, 0, (9,), (1,))}), DATA),
                                      "holds 48 bytes"),
        "offset out of range": (_zip_file(_pickle_state({"w": ("0", 12, 11, (2,), (1,))}), DATA),
                                "reads element 12"),
        "stride out of range": (_zip_file(_pickle_state({"w": ("0", 12, 0, (3, 4), (4, 2))}), DATA),
                                "reads element 14"),
        "huge broadcast": (_zip_file(_pickle_state({"w": ("0", 12, 0, (2 ** 30, 2 ** 30), (0, 0))}), DATA),
                           "elements over storage"),
        "negative stride": (_zip_file(_pickle_state({"w": ("0", 12, 5, (2,), (-1,))}), DATA), "negative"),
        "size/stride mismatch": (_zip_file(_pickle_state({"w": ("0", 12, 0, (2, 2), (1,))}), DATA),
                                 "do not describe a tensor"),
        "compressed storage": (_zip_file(_pickle_state(GOOD), DATA, compress=zipfile.ZIP_DEFLATED), "compressed"),
        "bad byteorder": (_zip_file(_pickle_state(GOOD), DATA, byteorder=b"middle"), "byteorder"),
        "legacy count lies": (_legacy_file(_pickle_state(GOOD), DATA, counts={"0": 10 ** 15}),
                              "elements recorded"),
        "not a dict": (_zip_file(pickle.dumps([1, 2], protocol=2), {}), "not a state dict"),
        "not tensors": (_zip_file(pickle.dumps({"w": 3}, protocol=2), {}), "not named tensors"),
        "huge BINBYTES8": (_zip_file(b"\x80\x04\x8e" + struct.pack("<Q", 2 ** 62) + b"x.", {}), "not a readable"),
        "deep nesting": (_zip_file(b"\x80\x02" + b"(" * 100000 + b"l" * 100000 + b".", {}), "not a readable"),
    }


def _zip_no_pickle():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("something/else.txt", b"hi")
    return buf.getvalue()


@pytest.mark.parametrize("case", list(_corrupt_bins()))
def test_damaged_bin_files_name_the_file(tmp_path, case):
    data, message = _corrupt_bins()[case]
    path = tmp_path / "pytorch_model.bin"
    path.write_bytes(data)
    with pytest.raises(CheckpointError, match=re.escape(str(path))) as e:
        checkpoint.read_torch_bin(str(path))
    assert message in str(e.value)


# ------------------------------------------------------------------ safetensors damage
def _safetensors_parts():
    with open(os.path.join(MODELS, "model_g1_i1", "model.safetensors"), "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    return json.loads(data[8:8 + n]), data[8 + n:]


def _safetensors(header, body):
    h = json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + body


def _edit(fn):
    header, body = _safetensors_parts()
    names = sorted((k for k in header if k != "__metadata__"), key=lambda k: header[k]["data_offsets"][0])
    fn(header, names)
    return _safetensors(header, body)


def _corrupt_safetensors():
    header, body = _safetensors_parts()
    good = _safetensors(header, body)
    return {
        "empty": b"",
        "random": np.random.default_rng(1).bytes(500),
        "truncated": good[:-7],
        "trailing bytes": good + b"junk",
        "header longer than file": struct.pack("<Q", 10 ** 12) + good[8:],
        "header not JSON": struct.pack("<Q", 4) + b"{{{{" + body,
        "header a list": struct.pack("<Q", 2) + b"[]",
        "overlapping offsets": _edit(lambda h, n: h[n[1]].update(data_offsets=[h[n[0]]["data_offsets"][0] + 4,
                                                                               h[n[1]]["data_offsets"][1]])),
        "out-of-range offsets": _edit(lambda h, n: h[n[-1]].update(
            data_offsets=[h[n[-1]]["data_offsets"][0], h[n[-1]]["data_offsets"][1] + 64])),
        "relabelled dtype": _edit(lambda h, n: h[n[0]].update(dtype="F16")),
        "shape lies": _edit(lambda h, n: h[n[0]].update(shape=[3, 3, 3, 3, 3])),
        "huge shape": _edit(lambda h, n: h[n[0]].update(shape=[2 ** 62, 2 ** 62])),
        "unknown dtype": _edit(lambda h, n: h[n[0]].update(dtype="Q7")),
        "float8": _edit(lambda h, n: h[n[0]].update(dtype="F8_E4M3", shape=h[n[0]]["shape"] + [4])),
    }


@pytest.mark.parametrize("case", list(_corrupt_safetensors()))
def test_damaged_safetensors_name_the_file(tmp_path, case):
    path = tmp_path / "model.safetensors"
    path.write_bytes(_corrupt_safetensors()[case])
    for read in (checkpoint.read_safetensors, checkpoint.safetensors_shapes):
        if read is checkpoint.safetensors_shapes and case == "float8":
            continue                                  # a valid header: shapes are readable
        with pytest.raises(CheckpointError, match=re.escape(str(path))):
            read(str(path))


def test_bf16_safetensors_read_from_raw_bits(tmp_path):
    """safetensors' numpy framework has no bfloat16: albert_np reads those tensors' bytes itself."""
    x = np.array([[1.0, -2.5, 3.140625], [0.0, 1e-3, -7.0]], np.float32)
    path = tmp_path / "m.safetensors"
    path.write_bytes(checkpoint.safetensors_bytes({"a": x, "b": np.arange(3, dtype=np.int64)},
                                                  storage_dtype="bfloat16"))
    got = checkpoint.read_safetensors(str(path))
    np.testing.assert_array_equal(got["a"], checkpoint.bf16_to_float32(checkpoint.float32_to_bf16(x)))
    assert got["b"].dtype == np.int64 and checkpoint.safetensors_shapes(str(path)) == {"a": (2, 3), "b": (3,)}


# ------------------------------------------------------------------ shard indexes
def _sharded_copy(tmp_path, kind):
    """A copy of a sharded fixture: (folder, index file name, a shard file name)."""
    import shutil
    src = os.path.join(BIN, "mlm_sharded") if kind == "bin" else os.path.join(MODELS, "sharded")
    dst = tmp_path / "model"
    shutil.copytree(src, dst)
    index = "pytorch_model.bin.index.json" if kind == "bin" else "model.safetensors.index.json"
    with open(dst / index) as f:
        shard = sorted(set(json.load(f)["weight_map"].values()))[0]
    return dst, index, shard


def _rename_shard(folder, index, old, new):
    with open(folder / index) as f:
        data = json.load(f)
    data["weight_map"] = {k: (new if v == old else v) for k, v in data["weight_map"].items()}
    (folder / index).write_text(json.dumps(data))


@pytest.mark.parametrize("kind", ["bin", "safetensors"])
def test_shard_index_may_only_name_files_in_the_folder(tmp_path, kind):
    folder, index, shard = _sharded_copy(tmp_path, kind)
    cls = albert_np.AlbertForMaskedLM if kind == "bin" else albert_np.AlbertModel
    cls.from_pretrained(folder)                                   # loads as it is
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    os.replace(folder / shard, outside / shard)
    os.symlink(outside / shard, folder / "link")
    name = shard
    for bad in (f"../elsewhere/{shard}", str(outside / shard), f"sub/../../elsewhere/{shard}", "link",
                f"./{shard}", "..\\elsewhere\\x", ""):
        _rename_shard(folder, index, name, bad)
        with pytest.raises(CheckpointError, match=rf"{index}.*not a file inside the model's folder"):
            cls.from_pretrained(folder)
        name = bad
    (folder / "sub").mkdir()                                      # a subfolder, a symlink within: fine
    os.replace(outside / shard, folder / "sub" / shard)
    os.symlink(os.path.join("sub", shard), folder / "alias")
    for good in (f"sub/{shard}", "alias"):
        _rename_shard(folder, index, name, good)
        cls.from_pretrained(folder)
        name = good


@pytest.mark.parametrize("content, message", [
    ("{not json", "is not valid JSON"), ("[1, 2]", "weight_map"), ('{"weight_map": []}', "weight_map"),
    ('{"weight_map": {"a": 3}}', "weight_map"), ('{"weight_map": {}}', "weight_map"), ("\xff\xfe", "is not UTF-8 text")])
@pytest.mark.parametrize("kind", ["bin", "safetensors"])
def test_bad_index_json_names_the_file(tmp_path, kind, content, message):
    folder, index, _ = _sharded_copy(tmp_path, kind)
    (folder / index).write_bytes(content.encode("latin-1"))
    with pytest.raises(CheckpointError, match=rf"{index}.*{message}"):
        albert_np.AlbertModel.from_pretrained(folder)
