"""pytorch_model.bin without torch, and without running the pickle's code.

torch.save writes a state dict as a pickle whose tensors point at raw storages
kept beside it. Two layouts exist:

    zip (torch >= 1.6)   <name>/data.pkl   the pickle
                         <name>/data/<key> one raw storage per key (stored, not compressed)
                         <name>/byteorder  "little" or "big"
    legacy               pickle(magic number), pickle(protocol 1001), pickle(sys info),
                         the pickle, pickle([storage keys]), then for each key:
                         int64 element count + the raw bytes

A pickle is a small program: GLOBAL names any importable callable and REDUCE
calls it, which is how a malicious .bin runs os.system. `_StateDictUnpickler`
resolves GLOBAL against a fixed table of the names a state dict needs
(the _rebuild_tensor functions, storage and dtype names, OrderedDict) and maps
each to a harmless stand-in defined here; any other name is refused with an
error naming it. Nothing outside this table is ever imported or called.
Tensors come out as placeholders (`_TensorRef`) that are turned into NumPy
arrays only after the whole pickle has been read and every storage checked:

    array = as_strided(storage[offset:], size, stride).copy()

so tensors that share a storage (views, slices, tied weights) read the same bytes.
float16 and bfloat16 become `dtype` (float32 by default).
"""
import _compat_pickle
import collections
import io
import pickle
import struct
import zipfile

import numpy as np

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C      # torch.serialization.MAGIC_NUMBER
LEGACY_PROTOCOL = 1001                    # torch.serialization.PROTOCOL_VERSION


class UnsafePickleError(pickle.UnpicklingError):
    """The pickle names a global that a state dict does not need: refused, never imported."""


def bf16_to_float32(bits):
    """bfloat16 raw bits (uint16) -> float32: bfloat16 is the top half of a float32."""
    return (bits.astype(np.uint32) << 16).view(np.float32)


# --------------------------------------------------- stand-ins for torch's names
class _Refuse:
    """Base of the stand-ins: BUILD (pickle's __setstate__ step) may not change them."""
    __slots__ = ()

    def __setstate__(self, state):
        raise pickle.UnpicklingError(f"BUILD on a {type(self).__name__} is not part of a state dict")


class _Kind(_Refuse):
    """An element type: a storage class (torch.FloatStorage) or a dtype (torch.float32)."""
    __slots__ = ("name", "np_dtype")

    def __init__(self, name, np_dtype):
        self.name, self.np_dtype = name, np.dtype(np_dtype)   # bfloat16: raw bits, uint16

    def __repr__(self):
        return self.name


class _Storage(_Refuse):
    """One raw storage of the file: its key, element type, element count, and later its bytes."""
    __slots__ = ("key", "kind", "numel", "data")

    def __init__(self, key, kind, numel):
        self.key, self.kind, self.numel, self.data = key, kind, numel, None


class _TensorRef(_Refuse):
    """A tensor as the pickle describes it: a view (offset, size, stride) of a storage."""
    __slots__ = ("storage", "offset", "size", "stride", "kind")

    def __init__(self, storage, offset, size, stride, kind):
        self.storage, self.offset, self.size, self.stride, self.kind = storage, offset, size, stride, kind


_KINDS = {   # storage class / dtype name -> NumPy element type (bfloat16 kept as its uint16 bits)
    "Double": "float64", "Float": "float32", "Half": "float16", "BFloat16": "bfloat16",
    "Long": "int64", "Int": "int32", "Short": "int16", "Char": "int8", "Byte": "uint8", "Bool": "bool",
}
_DTYPES = {"float64": "float64", "double": "float64", "float32": "float32", "float": "float32",
           "float16": "float16", "half": "float16", "bfloat16": "bfloat16", "int64": "int64",
           "long": "int64", "int32": "int32", "int": "int32", "int16": "int16", "short": "int16",
           "int8": "int8", "uint8": "uint8", "bool": "bool", "uint16": "uint16", "uint32": "uint32",
           "uint64": "uint64"}


def _kind(name, dtype):
    return _Kind(name, "uint16" if dtype == "bfloat16" else dtype)


def _is_int_tuple(x):
    return isinstance(x, tuple) and all(type(v) is int for v in x)


def _tensor(storage, offset, size, stride, kind=None):
    if not isinstance(storage, _Storage) or type(offset) is not int or not _is_int_tuple(size) \
            or not _is_int_tuple(stride) or len(size) != len(stride):
        raise pickle.UnpicklingError("a _rebuild_tensor call with arguments that do not describe a tensor")
    return _TensorRef(storage, offset, size, stride, kind or storage.kind)


def _rebuild_tensor(storage, offset, size, stride, *_ignored):
    """torch._utils._rebuild_tensor / _v2: (storage, offset, size, stride, requires_grad, hooks, ...)."""
    return _tensor(storage, offset, size, stride)


def _rebuild_tensor_v3(storage, offset, size, stride, requires_grad, hooks, dtype, *_ignored):
    """torch._utils._rebuild_tensor_v3: as _v2, with the dtype given (storage untyped bytes)."""
    if not isinstance(dtype, _Kind):
        raise pickle.UnpicklingError("_rebuild_tensor_v3 without a dtype")
    return _tensor(storage, offset, size, stride, dtype)


def _rebuild_parameter(data, *_ignored):
    """torch._utils._rebuild_parameter(data, requires_grad, hooks[, state]): the tensor itself."""
    if not isinstance(data, _TensorRef):
        raise pickle.UnpicklingError("_rebuild_parameter of something that is not a tensor")
    return data


ALLOWED_GLOBALS = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v3"): _rebuild_tensor_v3,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("torch", "UntypedStorage"): _Kind("torch.UntypedStorage", "uint8"),
    ("torch.storage", "UntypedStorage"): _Kind("torch.storage.UntypedStorage", "uint8"),
    **{("torch", k + "Storage"): _kind(f"torch.{k}Storage", v) for k, v in _KINDS.items()},
    **{("torch", k): _kind(f"torch.{k}", v) for k, v in _DTYPES.items()},
}


class _StateDictUnpickler(pickle.Unpickler):
    """Unpickler whose GLOBAL/STACK_GLOBAL can name only ALLOWED_GLOBALS; storages by key.

    `storages` collects the persistent ids (key -> _Storage); their bytes are filled in later.
    """

    def __init__(self, file, storages=None):
        super().__init__(file)
        self.storages = storages

    def find_class(self, module, name):
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except (KeyError, TypeError):
            named = f"{module}.{name}"
            py3 = ".".join(_compat_pickle.NAME_MAPPING.get(
                (module, name), (_compat_pickle.IMPORT_MAPPING.get(module, module), name)))
            if py3 != named:                      # protocol 2 spells builtins __builtin__, ...
                named += f" (= {py3})"
            raise UnsafePickleError(f"refused to load the global {named}: a state dict of "
                                    f"tensors never needs it (the file may be malicious)") from None

    def persistent_load(self, pid):
        # zip: ('storage', kind, key, location, numel); legacy adds view_metadata (None)
        if self.storages is None or not isinstance(pid, tuple) or len(pid) not in (5, 6):
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r:.80}")
        typename, kind, key, _location, numel = pid[:5]
        if isinstance(typename, bytes):
            typename = typename.decode("ascii", "replace")
        if typename != "storage" or not isinstance(kind, _Kind) or not isinstance(key, str) \
                or type(numel) is not int or numel < 0 or (len(pid) == 6 and pid[5] is not None):
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r:.80}")
        old = self.storages.get(key)
        if old is None:
            old = self.storages[key] = _Storage(key, kind, numel)
        elif old.kind.np_dtype != kind.np_dtype or old.numel != numel:
            raise pickle.UnpicklingError(f"storage {key!r} is described twice, differently")
        return old


# ------------------------------------------------------------------ the two layouts
def _read_zip(data):
    """(object, storages, byteorder) of a zip-format torch.save file."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        names = z.namelist()
        pkl = [n for n in names if n.endswith("/data.pkl") and n.count("/") == 1]
        if len(pkl) != 1:
            raise pickle.UnpicklingError("a zip file, but not one written by torch.save (no <name>/data.pkl)")
        prefix = pkl[0][: -len("data.pkl")]
        byteorder = "little"
        if prefix + "byteorder" in names:
            byteorder = z.read(prefix + "byteorder").decode("ascii", "replace").strip()
            if byteorder not in ("little", "big"):
                raise pickle.UnpicklingError(f"unknown byteorder {byteorder!r}")
        storages = {}
        obj = _StateDictUnpickler(io.BytesIO(z.read(pkl[0])), storages).load()
        for key, storage in storages.items():
            info = z.getinfo(prefix + "data/" + key)      # KeyError: a storage the zip lacks
            if info.compress_type != zipfile.ZIP_STORED:  # torch never compresses; a bomb might
                raise pickle.UnpicklingError(f"storage {key!r} is compressed, which torch.save never does")
            storage.data = z.read(info)
    return obj, storages, byteorder


def _read_legacy(data):
    """(object, storages, byteorder) of a file written with _use_new_zipfile_serialization=False."""
    f = io.BytesIO(data)
    header = [_StateDictUnpickler(f).load() for _ in range(3)]      # magic, protocol, sys info
    if header[0] != LEGACY_MAGIC:
        raise pickle.UnpicklingError("not a torch.save file (no magic number)")
    if header[1] != LEGACY_PROTOCOL:
        raise pickle.UnpicklingError(f"unsupported torch.save protocol {header[1]!r}")
    info = header[2] if isinstance(header[2], dict) else {}
    byteorder = "little" if info.get("little_endian", True) else "big"
    storages = {}
    obj = _StateDictUnpickler(f, storages).load()
    keys = _StateDictUnpickler(f).load()
    if not isinstance(keys, list) or set(keys) != set(storages):
        raise pickle.UnpicklingError("the list of storage keys does not match the pickle's storages")
    for key in keys:
        storage = storages[key]
        head = f.read(8)
        if len(head) < 8:
            raise pickle.UnpicklingError(f"truncated before storage {key!r}")
        (count,) = struct.unpack("<q" if byteorder == "little" else ">q", head)
        nbytes = count * storage.kind.np_dtype.itemsize
        if count != storage.numel or nbytes > len(data) - f.tell():
            raise pickle.UnpicklingError(f"storage {key!r}: {count} elements recorded, {storage.numel} "
                                         f"expected, {len(data) - f.tell()} bytes left in the file")
        storage.data = f.read(nbytes)
    return obj, storages, byteorder


# ------------------------------------------------------------------ arrays
def _to_array(ref, byteorder, dtype):
    """The NumPy array of a _TensorRef: a checked strided view of its storage, copied."""
    storage, kind = ref.storage, ref.kind
    item = kind.np_dtype.newbyteorder("<" if byteorder == "little" else ">")
    need = storage.numel * storage.kind.np_dtype.itemsize
    if len(storage.data) < need:
        raise pickle.UnpicklingError(f"storage {storage.key!r} holds {len(storage.data)} bytes, "
                                     f"its description needs {need}")
    flat = np.frombuffer(storage.data, dtype=item, count=need // item.itemsize)
    if ref.offset < 0 or any(s < 0 for s in ref.size) or any(s < 0 for s in ref.stride):
        raise pickle.UnpicklingError(f"a tensor of storage {storage.key!r} has a negative offset, size or stride")
    last = ref.offset + sum((n - 1) * s for n, s in zip(ref.size, ref.stride))
    if 0 not in ref.size and last >= len(flat):
        raise pickle.UnpicklingError(f"a tensor reads element {last} of storage {storage.key!r}, "
                                     f"which has {len(flat)}")
    count = int(np.prod(ref.size, dtype=object))
    if count > 1024 * max(len(flat), 1):           # a broadcast (stride 0) this wide is no weight
        raise pickle.UnpicklingError(f"a tensor of {count} elements over storage {storage.key!r} "
                                     f"of {len(flat)}")
    if count == 0:
        arr = np.zeros(ref.size, item)
    else:
        view = np.lib.stride_tricks.as_strided(flat[ref.offset:], ref.size,
                                               [s * item.itemsize for s in ref.stride], writeable=False)
        arr = np.array(view, dtype=item.newbyteorder("="), order="C")   # the copy; native byte order
    if kind.name.startswith("torch.BFloat16") or kind.name == "torch.bfloat16":
        arr = bf16_to_float32(arr)
    if dtype is not None and np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(dtype, copy=False)
    return arr


def read_torch_bin(data, dtype=np.float32):
    """{name: np.ndarray} of a torch.save'd state dict, given the file's bytes.

    Raises pickle.UnpicklingError (UnsafePickleError for a refused global) and the
    errors of a damaged file; albert_np.formats.checkpoint turns them into CheckpointError.
    """
    obj, storages, byteorder = (_read_zip if data[:4] == b"PK\x03\x04" else _read_legacy)(data)
    if not isinstance(obj, dict):
        raise pickle.UnpicklingError(f"the pickle holds a {type(obj).__name__}, not a state dict")
    bad = [k for k, v in obj.items() if not isinstance(k, str) or not isinstance(v, _TensorRef)]
    if bad:
        raise pickle.UnpicklingError(f"entries that are not named tensors: {bad[:5]!r:.200}")
    return {name: _to_array(ref, byteorder, dtype) for name, ref in obj.items()}
