"""TensorFlow checkpoints (the TensorBundle format of tf.train.Saver V2) read without TensorFlow.

A checkpoint `prefix` is one index file and N data shards:

    prefix.index                  an SSTable (LevelDB's table format): sorted key -> value
                                  "" -> BundleHeaderProto (num_shards, endianness, version)
                                  tensor name -> BundleEntryProto (dtype, shape, shard_id,
                                                                   offset, size, crc32c)
    prefix.data-0000i-of-0000N    the tensors' raw bytes, each at (offset, size) of shard i

SSTable layout (all integers little-endian; varints are protobuf's base-128):
    data blocks ... | metaindex block | index block | footer (48 bytes)
    footer  = metaindex handle, index handle (each: varint offset, varint size),
              zero padding to 40 bytes, magic 0xdb4775248b80fb57 (fixed64)
    block   = entries | restart offsets (uint32 each) | number of restarts (uint32)
              followed by a 5-byte trailer: compression type (0: none), masked crc32c
    entry   = shared key length, unshared key length, value length (varints),
              the unshared key bytes, the value bytes (a key repeats `shared` bytes of the previous)
The index block maps each data block's last key to that block's handle.

Every block and every tensor carries a masked CRC-32C, checked here; a damaged or
truncated file raises checkpoint.CheckpointError naming the file.
"""
import logging
import os
import struct

import numpy as np

from .errors import CheckpointError
from .protobuf_wire import read_fields, read_varint
from .torch_bin import bf16_to_float32

logger = logging.getLogger(__name__)

TABLE_MAGIC = 0xDB4775248B80FB57
FOOTER_SIZE = 48
BLOCK_TRAILER_SIZE = 5

# tensorflow/core/framework/types.proto DataType values -> little-endian NumPy dtypes
DTYPES = {1: "f4", 2: "f8", 3: "i4", 9: "i8", 19: "f2", 14: "u2"}     # 14: bfloat16, as raw bits
DTYPE_NAMES = {1: "float32", 2: "float64", 3: "int32", 4: "uint8", 5: "int16", 6: "int8", 7: "string",
               9: "int64", 10: "bool", 14: "bfloat16", 19: "float16"}


# --------------------------------------------------------------------- CRC-32C
CRC32C_POLY = 0x82F63B78            # Castagnoli polynomial, bit-reversed


def _crc_table():
    t = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        t = np.where(t & 1, (t >> 1) ^ np.uint32(CRC32C_POLY), t >> 1).astype(np.uint32)
    return t


CRC_TABLE = _crc_table()
_CRC_LIST = CRC_TABLE.tolist()


def _crc_bytes(reg, data):
    """Feed bytes one at a time into the CRC register (pure Python: for short inputs)."""
    table = _CRC_LIST
    for b in data:
        reg = table[(reg ^ b) & 0xFF] ^ (reg >> 8)
    return reg


def _gf2_apply(cols, v):
    """The 32x32 GF(2) matrix with columns `cols` (uint32[32]) times each uint32 of v."""
    out = np.zeros_like(v)
    for j in range(32):
        out ^= cols[j] * ((v >> np.uint32(j)) & np.uint32(1))
    return out


def _zeros_operator(n):
    """Columns of the matrix that feeds n zero bytes into a (raw) CRC register."""
    one = np.array([_crc_bytes(1 << j, b"\0") for j in range(32)], dtype=np.uint32)   # one zero byte
    result = np.array([1 << j for j in range(32)], dtype=np.uint32)                   # identity
    while n:                                              # square and multiply
        if n & 1:
            result = _gf2_apply(one, result)
        one = _gf2_apply(one, one)
        n >>= 1
    return result


def _crc_raw(reg, buf):
    """CRC register after feeding uint8 array `buf`, many lanes at once.

    The buffer is cut into K = 2^k equal lanes, all advanced one byte per NumPy step;
    the lanes' registers are then merged pairwise: a CRC register is linear in its
    input, so crc(A + B) = Z^len(B) crc(A) xor crc_0(B), Z^n feeding n zero bytes.
    """
    if len(buf) < 4096:
        return _crc_bytes(reg, buf.tobytes())
    lanes = 1 << min(16, (len(buf) // 256).bit_length() - 1)
    n = len(buf) // lanes
    cols = np.ascontiguousarray(buf[:lanes * n].reshape(lanes, n).T)   # (n, lanes): row j = byte j of each lane
    regs = np.zeros(lanes, dtype=np.uint32)
    regs[0] = reg
    for row in cols:
        regs = CRC_TABLE[(regs ^ row) & 0xFF] ^ (regs >> np.uint32(8))
    shift = _zeros_operator(n)
    while len(regs) > 1:                                  # merge neighbours: lane length doubles
        regs = _gf2_apply(shift, regs[0::2]) ^ regs[1::2]
        shift = _gf2_apply(shift, shift)
    return _crc_raw(int(regs[0]), buf[lanes * n:])


def crc32c(data):
    """CRC-32C (Castagnoli) of bytes: crc32c(b"123456789") == 0xE3069283."""
    buf = np.frombuffer(data, dtype=np.uint8)
    return _crc_raw(0xFFFFFFFF, buf) ^ 0xFFFFFFFF


def masked_crc32c(data):
    """LevelDB / TensorFlow's stored form: rotate right 15 bits, add 0xa282ead8 (mod 2^32)."""
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


# ------------------------------------------------------------------- SSTable
def _handle(buf, pos):
    """A BlockHandle (offset, size) as two varints; returns (offset, size, next pos)."""
    offset, pos = read_varint(buf, pos)
    size, pos = read_varint(buf, pos)
    return offset, size, pos


def _block(data, offset, size, path):
    """The contents of the block at (offset, size), its trailer's checksum verified."""
    end = offset + size + BLOCK_TRAILER_SIZE
    if end > len(data) - FOOTER_SIZE:
        raise CheckpointError(f"{path} is truncated or corrupt: a block at bytes {offset}..{end} "
                              f"lies beyond the data ({len(data)} bytes)")
    contents = data[offset:offset + size]
    kind = data[offset + size]
    (stored,) = struct.unpack_from("<I", data, offset + size + 1)
    if masked_crc32c(contents + bytes([kind])) != stored:
        raise CheckpointError(f"{path} is corrupt: block at byte {offset} fails its CRC-32C check")
    if kind != 0:
        raise CheckpointError(f"{path}: block at byte {offset} is compressed (type {kind}); "
                              f"TensorFlow checkpoints are written uncompressed, albert_np reads only those")
    return contents


def _block_entries(block, path):
    """Yield (key, value) of one block, undoing the keys' prefix compression."""
    if len(block) < 4:
        raise CheckpointError(f"{path} is corrupt: a block of {len(block)} bytes has no restart count")
    (restarts,) = struct.unpack_from("<I", block, len(block) - 4)
    limit = len(block) - 4 - 4 * restarts
    if limit < 0:
        raise CheckpointError(f"{path} is corrupt: a block claims {restarts} restart points")
    pos, key = 0, b""
    while pos < limit:
        shared, pos = read_varint(block, pos)
        unshared, pos = read_varint(block, pos)
        length, pos = read_varint(block, pos)
        if shared > len(key) or pos + unshared + length > limit:
            raise CheckpointError(f"{path} is corrupt: a key/value entry overruns its block")
        key = key[:shared] + block[pos:pos + unshared]
        pos += unshared
        yield key, block[pos:pos + length]
        pos += length


def read_table(path):
    """Every (key, value) of an SSTable file, in key order."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < FOOTER_SIZE:
        raise CheckpointError(f"{path} is truncated: {len(data)} bytes, shorter than an SSTable footer "
                              f"({FOOTER_SIZE}). Download or copy the checkpoint again.")
    (magic,) = struct.unpack_from("<Q", data, len(data) - 8)
    if magic != TABLE_MAGIC:
        raise CheckpointError(f"{path} is not a TensorFlow checkpoint index (bad magic number "
                              f"{magic:#018x}); it may be truncated or another kind of file")
    try:
        footer = data[-FOOTER_SIZE:]
        _, _, pos = _handle(footer, 0)                    # the metaindex (filters): unused
        index_offset, index_size, _ = _handle(footer, pos)
        entries = []
        for _, handle in _block_entries(_block(data, index_offset, index_size, path), path):
            offset, size, _ = _handle(handle, 0)
            entries.extend(_block_entries(_block(data, offset, size, path), path))
    except IndexError:                                    # a varint ran off the end of its buffer
        raise CheckpointError(f"{path} is corrupt: a length or offset runs past the end of its block") from None
    return entries


# ------------------------------------------------------------- the protos
def _message(buf, path):
    """{field number: [values]} of a protobuf message (varints as int, the rest as bytes)."""
    out = {}
    try:
        for number, value in read_fields(buf):
            out.setdefault(number, []).append(value)
    except (IndexError, ValueError) as e:
        raise CheckpointError(f"{path} is corrupt: an unreadable BundleEntryProto ({e or 'truncated'})") from None
    return out


def _int64(value):
    return value - (1 << 64) if value >= 1 << 63 else value


def parse_entry(value, path):
    """BundleEntryProto -> dict(dtype, shape, shard, offset, size, crc, sliced)."""
    m = _message(value, path)
    first = lambda n, default=0: m.get(n, [default])[-1]                # noqa: E731  (last value wins)
    shape_msg = _message(first(2, b""), path)
    shape = tuple(_int64(_message(dim, path).get(1, [0])[-1]) for dim in shape_msg.get(2, []))
    crc = first(6, b"\0\0\0\0")
    return dict(dtype=first(1), shape=shape, shard=first(3), offset=_int64(first(4)), size=first(5),
                crc=struct.unpack("<I", crc)[0] if len(crc) == 4 else None, sliced=7 in m)


def read_index(prefix):
    """(header dict, {tensor name: entry dict}) of a checkpoint prefix's .index file."""
    path = prefix + ".index"
    if not os.path.isfile(path):
        raise CheckpointError(f"{path} not found: a TensorFlow checkpoint needs its .index file "
                              f"beside the .data-0000i-of-0000N shards")
    header, entries = None, {}
    for key, value in read_table(path):
        if key == b"":
            h = _message(value, path)
            header = dict(num_shards=h.get(1, [0])[-1], big_endian=h.get(2, [0])[-1] == 1)
        else:
            entries[key.decode("utf-8", "replace")] = parse_entry(value, path)
    if header is None:
        raise CheckpointError(f"{path} has no bundle header: not a TensorFlow V2 checkpoint index")
    return header, entries


def shard_path(prefix, i, num_shards):
    return f"{prefix}.data-{i:05d}-of-{num_shards:05d}"


def read_bundle(prefix, keep=None):
    """Read the tensors of a TensorFlow checkpoint: ({name: np.ndarray}, [skipped names]).

    keep: a function name -> bool choosing which tensors to read (default all).
    Floats come back as float32 (float16, bfloat16) or float64, integers as stored.
    Strings, other dtypes and partitioned variables are skipped, with a log line.
    """
    header, entries = read_index(prefix)
    n = header["num_shards"]
    order = ">" if header["big_endian"] else "<"
    tensors, skipped, files = {}, [], {}
    try:
        for name, e in entries.items():
            if keep is not None and not keep(name):
                continue
            if e["dtype"] not in DTYPES or e["sliced"]:
                why = "a partitioned variable" if e["sliced"] else f"dtype {DTYPE_NAMES.get(e['dtype'], e['dtype'])}"
                logger.info("%s: skipping %s (%s, which albert_np does not read)", prefix, name, why)
                skipped.append(name)
                continue
            if not 0 <= e["shard"] < n:
                raise CheckpointError(f"{prefix}.index is corrupt: tensor {name!r} is in shard {e['shard']}, "
                                      f"but the checkpoint has {n} shard(s)")
            dtype = np.dtype(order + DTYPES[e["dtype"]])
            count = int(np.prod(e["shape"], dtype=np.int64))
            if any(d < 0 for d in e["shape"]) or count * dtype.itemsize != e["size"] or e["offset"] < 0:
                raise CheckpointError(f"{prefix}.index is corrupt: tensor {name!r} has shape {e['shape']} "
                                      f"but {e['size']} bytes at offset {e['offset']}")
            path = shard_path(prefix, e["shard"], n)
            if path not in files:
                if not os.path.isfile(path):
                    raise CheckpointError(f"{path} not found: the checkpoint {prefix} has {n} data shard(s), "
                                          f"and tensor {name!r} is in this one")
                files[path] = open(path, "rb")
            f = files[path]
            f.seek(e["offset"])
            raw = bytearray(e["size"])                  # writable: the arrays are views of it
            if f.readinto(raw) != e["size"]:
                raise CheckpointError(f"{path} is truncated: tensor {name!r} needs bytes {e['offset']}.."
                                      f"{e['offset'] + e['size']}, the file has {os.path.getsize(path)}")
            if e["crc"] is not None and masked_crc32c(raw) != e["crc"]:
                raise CheckpointError(f"{path} is corrupt: tensor {name!r} fails its CRC-32C check "
                                      f"(bytes {e['offset']}..{e['offset'] + e['size']})")
            arr = np.frombuffer(raw, dtype=dtype).reshape(e["shape"])
            if e["dtype"] == 14:
                arr = bf16_to_float32(arr.astype("<u2"))
            elif e["dtype"] == 19:
                arr = arr.astype(np.float32)
            tensors[name] = arr.astype(arr.dtype.newbyteorder("="), copy=False)
    finally:
        for f in files.values():
            f.close()
    return tensors, skipped
