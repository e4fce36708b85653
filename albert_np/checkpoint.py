"""Checkpoints in Hugging Face's format: config.json + model.safetensors.

- read: single or sharded safetensors (model.safetensors.index.json), parsed
  here directly so that float16 and bfloat16 tensors (NumPy has no bfloat16)
  become float32, and a truncated or corrupt file gets a clear error;
- keys: HF's state-dict names; buffers (position_ids) dropped; the tied MLM
  decoder (predictions.decoder.weight/bias) restored from the word embeddings
  and predictions.bias; missing / unexpected keys reported in one message;
  shapes checked against the config;
- write: model.safetensors + config.json, atomically, loadable by transformers.
"""
import json
import logging
import os
import struct

import numpy as np

from .heads import expected_shapes
from .hub import resolve_file
from .io import atomic_write_bytes

logger = logging.getLogger(__name__)

SAFETENSORS_DTYPES = {
    "F64": np.float64, "F32": np.float32, "F16": np.float16, "BF16": np.uint16,   # float64 ok: file dtypes
    "I64": np.int64, "I32": np.int32, "I16": np.int16, "I8": np.int8, "U8": np.uint8,
    "BOOL": np.bool_,
}
BUFFERS = ("albert.embeddings.position_ids", "albert.embeddings.token_type_ids")


class CheckpointError(ValueError):
    """A checkpoint file is unreadable, or does not fit the config."""


# ------------------------------------------------------------- safetensors
def bf16_to_float32(bits):
    """bfloat16 raw bits (uint16) -> float32: bfloat16 is the top half of a float32."""
    return (bits.astype(np.uint32) << 16).view(np.float32)


def float32_to_bf16(x):
    """float32 -> bfloat16 raw bits (uint16), rounding to nearest even (as torch)."""
    bits = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32)
    rounding = ((bits >> 16) & 1) + np.uint32(0x7FFF)
    out = ((bits + rounding) >> 16).astype(np.uint16)
    nan = np.isnan(x)
    out[nan] = 0x7FC0
    return out


def _read_header(f, path, size):
    """(header dict without __metadata__, header length n) of an open .safetensors file.

    Layout: 8 bytes little-endian n, n bytes of JSON {name: {dtype, shape, data_offsets}}, then the data.
    """
    head = f.read(8)
    if len(head) < 8:
        raise CheckpointError(f"{path} is not a safetensors file: only {size} bytes long")
    (n,) = struct.unpack("<Q", head)
    if n > size - 8 or n > 100_000_000:
        raise CheckpointError(f"{path} is truncated or not a safetensors file "
                              f"(header claims {n} bytes, the file has {size})")
    try:
        header = json.loads(f.read(n))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{path}: unreadable safetensors header ({e})") from e
    header.pop("__metadata__", None)
    return header, n


def safetensors_shapes(path):
    """{tensor name: shape tuple} of a .safetensors file, from its header only (no data read)."""
    with open(path, "rb") as f:
        header, _ = _read_header(f, path, os.path.getsize(path))
    return {name: tuple(info["shape"]) for name, info in header.items()}


def read_safetensors(path, dtype=np.float32):
    """Read every tensor of a .safetensors file; floats cast to `dtype`.

    Returns {name: np.ndarray}. Raises CheckpointError for a truncated or
    malformed file, naming the file and what is wrong.
    """
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        header, n = _read_header(f, path, size)
        data = bytearray(size - 8 - n)              # one writable buffer: tensors are views of it
        f.readinto(data)
    out = {}
    for name, info in header.items():
        kind, shape, (start, end) = info["dtype"], info["shape"], info["data_offsets"]
        if kind not in SAFETENSORS_DTYPES:
            raise CheckpointError(f"{path}: tensor {name!r} has dtype {kind}, which albert_np cannot read")
        if end > len(data):
            raise CheckpointError(f"{path} is truncated: tensor {name!r} needs bytes up to {end} "
                                  f"of the data section but only {len(data)} are there. "
                                  f"Download or save the checkpoint again.")
        stored = np.dtype(SAFETENSORS_DTYPES[kind])
        count = int(np.prod(shape, dtype=np.int64))
        if (start + 8 + n) % stored.itemsize:       # unaligned: copy out of the buffer
            raw = np.frombuffer(bytes(data[start:end]), dtype=stored, count=count).reshape(shape)
        else:
            raw = np.frombuffer(data, dtype=stored, count=count, offset=start).reshape(shape)
        if kind == "BF16":
            raw = bf16_to_float32(raw)
        if np.issubdtype(raw.dtype, np.floating) and dtype is not None:
            raw = raw.astype(dtype, copy=False)      # float32 stays a view: no copy
        out[name] = raw
    return out


def safetensors_bytes(tensors, metadata=None, storage_dtype=None):
    """Serialise {name: array} to safetensors bytes (storage_dtype: None, 'float16', 'bfloat16')."""
    items = []
    for name in sorted(tensors):
        arr = np.asarray(tensors[name])
        if np.issubdtype(arr.dtype, np.floating) and storage_dtype == "bfloat16":
            arr, kind = float32_to_bf16(arr), "BF16"
        else:
            if np.issubdtype(arr.dtype, np.floating) and storage_dtype == "float16":
                arr = arr.astype(np.float16)
            kind = {v: k for k, v in SAFETENSORS_DTYPES.items() if k != "BF16"}[arr.dtype.type]
        items.append((name, kind, np.ascontiguousarray(arr)))
    header, offset = {}, 0
    for name, kind, arr in items:
        header[name] = {"dtype": kind, "shape": list(arr.shape), "data_offsets": [offset, offset + arr.nbytes]}
        offset += arr.nbytes
    header["__metadata__"] = dict(metadata or {"format": "pt"})
    hbytes = json.dumps(header, separators=(",", ":")).encode()
    hbytes += b" " * (-len(hbytes) % 8)
    return b"".join([struct.pack("<Q", len(hbytes)), hbytes] + [a.tobytes() for _, _, a in items])


# ----------------------------------------------------------- expected keys
def adapt_state_dict(state, config, head):
    """Fit a loaded state dict to a model class: prefixes, buffers, tied weights.

    Returns (state, missing, unexpected): `missing` are expected keys absent from
    the file (left for the caller to initialise), `unexpected` keys the model
    does not use. Raises CheckpointError when a tensor's shape disagrees with the config.
    """
    state = {k: v for k, v in state.items() if k not in BUFFERS and not k.endswith(".position_ids")}
    expected = expected_shapes(config, head)
    has_prefix = any(k.startswith("albert.") for k in state)
    if head is not None and not has_prefix:         # a bare AlbertModel checkpoint under a head
        state = {(k if k.split(".")[0] in _HEAD_ROOTS else "albert." + k): v for k, v in state.items()}
    elif head is None and has_prefix:               # a head checkpoint loaded as AlbertModel
        state = {k[len("albert."):]: v for k, v in state.items() if k.startswith("albert.")}
    if head in ("pretraining", "mlm"):
        word = state.get("albert.embeddings.word_embeddings.weight")
        if config.tie_word_embeddings and word is not None:
            state["predictions.decoder.weight"] = word          # tied: the same array
        if "predictions.bias" in state:
            state["predictions.decoder.bias"] = state["predictions.bias"]
        elif "predictions.decoder.bias" in state:
            state["predictions.bias"] = state["predictions.decoder.bias"]
    bad = [f"{k}: file {tuple(v.shape)} vs config {expected[k]}"
           for k, v in state.items() if k in expected and tuple(v.shape) != expected[k]]
    if bad:
        raise CheckpointError("the weights do not match the config (is config.json from the same "
                              "model?):\n  " + "\n  ".join(bad[:10])
                              + (f"\n  ... and {len(bad) - 10} more" if len(bad) > 10 else ""))
    missing = sorted(k for k in expected if k not in state)
    unexpected = sorted(k for k in state if k not in expected)
    return {k: v for k, v in state.items() if k in expected}, missing, unexpected


_HEAD_ROOTS = ("predictions", "sop_classifier", "classifier", "qa_outputs")


def load_state_dict(name_or_path, revision=None, cache_dir=None, local_files_only=False,
                    dtype=np.float32):
    """Read the weights of a folder or Hub repo: model.safetensors, or its shards.

    Returns ({name: array}, [paths read]).
    """
    kw = dict(revision=revision, cache_dir=cache_dir, local_files_only=local_files_only)
    single = resolve_file(name_or_path, "model.safetensors", required=False, **kw)
    if single is not None:
        return read_safetensors(single, dtype), [single]
    index = resolve_file(name_or_path, "model.safetensors.index.json", required=False, **kw)
    if index is not None:
        with open(index, encoding="utf-8") as f:
            weight_map = json.load(f)["weight_map"]
        state, paths = {}, []
        for shard in sorted(set(weight_map.values())):
            p = resolve_file(name_or_path, shard, **kw)
            state.update(read_safetensors(p, dtype))
            paths.append(p)
        return state, paths
    if resolve_file(name_or_path, "pytorch_model.bin", required=False, **kw) is not None:
        raise CheckpointError(
            f"{name_or_path} has only pytorch_model.bin (a pickle, readable only with torch). "
            f"Convert it once where torch is installed: "
            f"transformers.AutoModel.from_pretrained(path).save_pretrained(path) writes model.safetensors.")
    raise FileNotFoundError(f"no model.safetensors (or sharded index) found in {name_or_path!r}")


def save_state_dict(state, folder, storage_dtype=None):
    """Write model.safetensors atomically (tied decoder weight stored once, as HF)."""
    state = {k: v for k, v in state.items() if k != "predictions.decoder.weight" or
             "albert.embeddings.word_embeddings.weight" not in state}
    if "predictions.bias" in state:
        state.pop("predictions.decoder.bias", None)
    data = safetensors_bytes(state, storage_dtype=storage_dtype)
    atomic_write_bytes(os.path.join(folder, "model.safetensors"), data)
