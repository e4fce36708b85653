"""Checkpoints in Hugging Face's format: config.json + model.safetensors (or pytorch_model.bin).

- read: model.safetensors through the `safetensors` library (safe_open, which
  memory-maps the file and checks its header: offsets, sizes, dtypes), with
  float16 / bfloat16 (NumPy has no bfloat16: its raw bits are read here) made
  float32; pytorch_model.bin through torch_bin's restricted unpickler, no torch
  needed; sharded checkpoints of either kind (*.index.json), whose index may
  name only files inside the model's folder. Any fault of a file comes out as
  CheckpointError naming the file;
- keys: HF's state-dict names, as the file has them (fitting them to a model
  class, the tied decoder and the shape checks are modeling.adapt_state_dict's:
  a file format never imports the network);
- write: model.safetensors, loadable by transformers (the model's folder is
  swapped in as a whole by io.staged_folder; see modeling.save_pretrained).
"""
import contextlib
import json
import logging
import os
import struct

import numpy as np
from safetensors import SafetensorError, safe_open    # ~1 ms to import: at the top

from . import torch_bin
from .errors import CheckpointError
from ..hub import check_variant, is_local, resolve_file, variant_filename
from ..io import atomic_write_bytes, read_json
from .torch_bin import bf16_to_float32

logger = logging.getLogger(__name__)

SAFETENSORS_DTYPES = {
    "F64": np.float64, "F32": np.float32, "F16": np.float16, "BF16": np.uint16,   # float64 ok: file dtypes
    "I64": np.int64, "I32": np.int32, "I16": np.int16, "I8": np.int8, "U8": np.uint8,
    "BOOL": np.bool_,
}
BUFFERS = ("albert.embeddings.position_ids", "albert.embeddings.token_type_ids")
WEIGHTS_FILES = ("model.safetensors", "pytorch_model.bin")     # in order of preference, each maybe sharded
# the files a save_pretrained writes its weights to (one file, or shards and their index): an earlier
# save's are not carried over into a new one (io.staged_folder's `replaces`)
_5_DIGITS = "[0-9]" * 5
SAFETENSORS_WEIGHT_FILES = ("model.safetensors", f"model-{_5_DIGITS}-of-{_5_DIGITS}.safetensors",
                            "model.safetensors.index.json")
SIZE_UNITS = {"KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12}     # as transformers / huggingface_hub


# ------------------------------------------------------------- safetensors
def float32_to_bf16(x):
    """float32 -> bfloat16 raw bits (uint16), rounding to nearest even (as torch)."""
    bits = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32)
    rounding = ((bits >> 16) & 1) + np.uint32(0x7FFF)
    out = ((bits + rounding) >> 16).astype(np.uint16)
    nan = np.isnan(x)
    out[nan] = 0x7FC0
    return out


@contextlib.contextmanager
def _safe_open(path):
    """safetensors.safe_open (numpy), its errors (bad header, overlapping or
    out-of-range offsets, truncated data, ...) raised as CheckpointError naming the file."""
    try:
        with safe_open(path, framework="numpy") as f:
            yield f
    except SafetensorError as e:
        raise CheckpointError(f"{path} is truncated or not a safetensors file ({e}). "
                              f"Download or save the checkpoint again.") from e


def _read_tensors(path, kinds, dtype):
    """{name: array} read straight from the file into NumPy arrays, one tensor at a time.

    Called after safe_open has validated the header (offsets in range, no
    overlaps, the data not truncated). safe_open's get_tensor maps the file and
    copies out of the map, so loading held every weight twice (89 MiB resident
    for the 45 MiB of albert-base, measured); reading into the array itself
    holds each weight once, plus one tensor in conversion. BF16 (which
    safetensors' NumPy side does not know) arrives as raw bits and becomes
    float32; other floats are cast to `dtype` (None keeps the file's).
    """
    out = {}
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        for name, kind in kinds.items():
            (start, end), shape = header[name]["data_offsets"], header[name]["shape"]
            arr = np.empty(shape, dtype=np.dtype(SAFETENSORS_DTYPES[kind]).newbyteorder("<"))
            f.seek(8 + n + start)
            if arr.nbytes and f.readinto(memoryview(arr.reshape(-1)).cast("B")) != end - start:
                raise CheckpointError(f"{path}: tensor {name!r} is cut short. Download or save it again.")
            if kind == "BF16":
                arr = bf16_to_float32(arr)
            if dtype is not None and np.issubdtype(arr.dtype, np.floating):
                arr = arr.astype(dtype, copy=False)
            out[name] = arr.astype(arr.dtype.newbyteorder("="), copy=False)
    return out


def safetensors_shapes(path):
    """{tensor name: shape tuple} of a .safetensors file, from its header only (no data read)."""
    with _safe_open(path) as f:
        return {name: tuple(f.get_slice(name).get_shape()) for name in f.keys()}


def read_safetensors(path, dtype=np.float32):
    """Read every tensor of a .safetensors file; floats cast to `dtype`.

    Returns {name: np.ndarray}. Raises CheckpointError for a truncated or
    malformed file, naming the file and what is wrong.
    """
    with _safe_open(path) as f:                     # validates the header and the sizes
        kinds = {name: f.get_slice(name).get_dtype() for name in f.keys()}
    for name, kind in kinds.items():
        if kind not in SAFETENSORS_DTYPES:
            raise CheckpointError(f"{path}: tensor {name!r} has dtype {kind}, which albert_np cannot read")
    return _read_tensors(path, kinds, dtype)        # the file's order


# ------------------------------------------------------------- pytorch_model.bin
def read_torch_bin(path, dtype=np.float32):
    """Read a torch.save'd state dict (zip or legacy layout) without torch; floats cast to `dtype`.

    Only the globals a state dict needs are resolved (torch_bin.ALLOWED_GLOBALS);
    anything else, and any damage, raises CheckpointError naming the file.
    """
    with open(path, "rb") as f:
        data = f.read()
    try:
        return torch_bin.read_torch_bin(data, dtype)
    except torch_bin.UnsafePickleError as e:
        raise CheckpointError(f"{path}: {e}") from None
    except Exception as e:        # a damaged pickle can raise nearly anything: say which file
        raise CheckpointError(f"{path} is not a readable pytorch_model.bin "
                              f"({type(e).__name__}: {e}). Download or save it again.") from e


READERS = {"model.safetensors": read_safetensors, "pytorch_model.bin": read_torch_bin}


# ------------------------------------------------------------- shard indexes
def _inside(folder, path):
    """True when `path` (symlinks resolved) lies in `folder`; in a Hugging Face cache
    snapshot, the repo's blobs/ folder (where the snapshot's symlinks point) counts too."""
    real, root = os.path.realpath(path), os.path.realpath(folder)
    roots = [root]
    if os.path.basename(os.path.dirname(root)) == "snapshots":
        roots.append(os.path.join(os.path.dirname(os.path.dirname(root)), "blobs"))
    return any(real.startswith(r + os.sep) for r in roots)


def read_index(index_path, local=True):
    """(weight_map, shard file names) of a *.index.json; the names checked to stay in its folder."""
    try:
        index = read_json(index_path)
    except ValueError as e:                 # not UTF-8, not JSON, nested too deeply: named by read_json
        raise CheckpointError(str(e)) from e
    weight_map = index.get("weight_map") if isinstance(index, dict) else None
    if not isinstance(weight_map, dict) or not weight_map or \
            not all(isinstance(k, str) and isinstance(v, str) for k, v in weight_map.items()):
        raise CheckpointError(f"{index_path} should hold {{\"weight_map\": {{tensor name: shard file}}}}")
    shards = sorted(set(weight_map.values()))
    folder = os.path.dirname(index_path)
    for shard in shards:
        parts = shard.replace("\\", "/").split("/")
        if os.path.isabs(shard) or "" in parts or ".." in parts or "." in parts \
                or (local and not _inside(folder, os.path.join(folder, shard))):
            raise CheckpointError(f"{index_path} names the shard {shard!r}, which is not a file inside "
                                  f"the model's folder; refusing to read it")
    return weight_map, shards


def check_storable(name, arr, storage_dtype):
    """ValueError naming a tensor that would be written as nan or inf.

    A nan / inf weight is refused whatever the storage; a finite one beyond the storage type's
    range (float16: 65504; bfloat16: about 3.39e38) would become inf, and the reloaded model
    answer nan: refused too, naming the tensor and its largest magnitude.
    """
    finite = np.isfinite(arr)
    if not finite.all():
        raise ValueError(f"weight {name!r} holds {int(arr.size - finite.sum())} nan/inf values: refusing to "
                         f"save a model that answers nan (was the training run diverging?)")
    if storage_dtype is None or arr.size == 0:
        return
    largest = np.max(np.abs(arr)).astype(np.float32)
    with np.errstate(over="ignore"):
        stored = np.float16(largest) if storage_dtype == "float16" else bf16_to_float32(float32_to_bf16(largest))
    if not np.isfinite(stored):
        limit = np.finfo(np.float16).max if storage_dtype == "float16" else 3.3895313892515355e38
        raise ValueError(f"weight {name!r} has a value of magnitude {float(largest):.6g}, beyond {storage_dtype}'s "
                         f"largest {float(limit):.6g}: stored as {storage_dtype} it would become inf (and the model "
                         f"answer nan). Save with storage_dtype=None (float32) or 'bfloat16' (float32's range)")


def safetensors_bytes(tensors, metadata=None, storage_dtype=None):
    """Serialise {name: array} to safetensors bytes (storage_dtype: None, 'float16', 'bfloat16')."""
    if storage_dtype not in (None, "float16", "bfloat16"):
        raise ValueError(f"storage_dtype must be None (float32), 'float16' or 'bfloat16', got {storage_dtype!r}")
    items = []
    for name in sorted(tensors):
        arr = np.asarray(tensors[name])
        if np.issubdtype(arr.dtype, np.floating):
            check_storable(name, arr, storage_dtype)
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


def load_state_dict(name_or_path, dtype=np.float32, variant=None, **hub_options):
    """Read the weights of a folder or Hub repo: model.safetensors, else pytorch_model.bin, each
    single or sharded (<file>.index.json).

    variant: read model.<variant>.safetensors (pytorch_model.<variant>.bin,
    model.safetensors.index.<variant>.json) instead, as transformers names them; when the
    folder has none, FileNotFoundError says which names were looked for.
    hub_options: the loading options of hub.resolve_file (revision, cache_dir, token, subfolder, ...).
    Returns ({name: array}, [paths read]).
    """
    variant = check_variant(variant)
    tried = []
    for filename in WEIGHTS_FILES:
        name = variant_filename(filename, variant)
        single = resolve_file(name_or_path, name, required=False, **hub_options)
        if single is not None:
            return READERS[filename](single, dtype), [single]
        index_name = variant_filename(filename + ".index.json", variant)
        index = resolve_file(name_or_path, index_name, required=False, **hub_options)
        if index is not None:
            _, shards = read_index(index, local=is_local(name_or_path))
            state, paths = {}, []
            for shard in shards:
                p = resolve_file(name_or_path, shard, **hub_options)
                state.update(READERS[filename](p, dtype))
                paths.append(p)
            return state, paths
        tried += [name, index_name]
    where = repr(os.fspath(name_or_path)) + (f" (subfolder {hub_options['subfolder']!r})"
                                             if hub_options.get("subfolder") else "")
    if variant is not None:
        raise FileNotFoundError(f"variant={variant!r}: {where} has none of {', '.join(tried)}. Leave variant "
                            f"unset to load model.safetensors, or give a variant the folder holds")
    raise FileNotFoundError(f"no model.safetensors or pytorch_model.bin (or a sharded index of "
                            f"either) found in {where}")


def shard_size_bytes(max_shard_size):
    """Bytes from max_shard_size: an int, or a str such as "5GB", "500MB", "10KB" (powers of 1000)."""
    if isinstance(max_shard_size, (int, np.integer)) and not isinstance(max_shard_size, bool):
        size = int(max_shard_size)
    elif isinstance(max_shard_size, str) and max_shard_size.strip()[-2:].upper() in SIZE_UNITS:
        text = max_shard_size.strip()
        try:
            size = int(float(text[:-2]) * SIZE_UNITS[text[-2:].upper()])
        except ValueError:
            size = 0
    else:
        size = 0
    if size < 1:
        raise ValueError(f"max_shard_size must be a number of bytes >= 1 or a size such as '5GB', '500MB' or "
                         f"'100KB' (units {', '.join(SIZE_UNITS)}), got {max_shard_size!r}")
    return size


def shards_of(sizes, max_bytes):
    """[[name, ...] per shard] from {name: bytes}: names in order, a new shard whenever the next
    tensor would take the current one past max_bytes; a tensor larger than max_bytes alone.

    Matches: huggingface_hub split_state_dict_into_shards_factory (transformers' save_pretrained).
    """
    shards, current, size = [], [], 0
    for name, nbytes in sizes.items():
        if nbytes > max_bytes:
            shards.append([name])
            continue
        if current and size + nbytes > max_bytes:
            shards.append(current)
            current, size = [], 0
        current.append(name)
        size += nbytes
    if current:
        shards.append(current)
    return shards


def save_state_dict(state, folder, storage_dtype=None, max_shard_size=None):
    """Write model.safetensors atomically (a tied decoder's weight and bias stored once, as HF).

    max_shard_size (bytes, or "5GB"): split into model-0000k-of-0000N.safetensors files and
    model.safetensors.index.json ({"metadata": {"total_size"}, "weight_map"}) when the weights,
    as stored, pass it. Returns the names of the files written.
    """
    word, decoder = state.get("albert.embeddings.word_embeddings.weight"), state.get("predictions.decoder.weight")
    if word is not None and decoder is not None and (decoder is word or np.array_equal(decoder, word)):
        state = {k: v for k, v in state.items() if k != "predictions.decoder.weight"}
        if "predictions.bias" in state:
            state.pop("predictions.decoder.bias", None)
    # an untied decoder (tie_word_embeddings=False) keeps its weight and bias, as transformers saves it
    if max_shard_size is None:
        atomic_write_bytes(os.path.join(folder, "model.safetensors"),
                           safetensors_bytes(state, storage_dtype=storage_dtype))
        return ["model.safetensors"]
    limit = shard_size_bytes(max_shard_size)
    half = storage_dtype in ("float16", "bfloat16")         # 2 bytes a float as stored
    sizes = {k: v.size * 2 if half and np.issubdtype(v.dtype, np.floating) else v.nbytes
             for k, v in sorted(state.items())}              # (the order safetensors_bytes writes)
    shards = shards_of(sizes, limit)
    if len(shards) == 1:
        return save_state_dict(state, folder, storage_dtype)
    names = [f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors" for i in range(len(shards))]
    for name, keys in zip(names, shards):
        atomic_write_bytes(os.path.join(folder, name),
                           safetensors_bytes({k: state[k] for k in keys}, storage_dtype=storage_dtype))
    index = {"metadata": {"total_size": sum(sizes.values())},
             "weight_map": {k: name for name, keys in zip(names, shards) for k in keys}}
    atomic_write_bytes(os.path.join(folder, "model.safetensors.index.json"),
                       (json.dumps(index, indent=2, sort_keys=True) + "\n").encode("utf-8"))
    return names + ["model.safetensors.index.json"]
