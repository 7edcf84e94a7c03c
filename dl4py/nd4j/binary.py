"""ND4J's binary array stream (``Nd4j.write`` / ``Nd4j.read``) and the ``DataSet.save`` file format.

Layout (big-endian, Java ``DataOutputStream``): a shape-information buffer then a data buffer, each written as
``UTF allocationMode, int|long length, UTF dataType, elements``. See the spec in
``shared/spec/nd4j-binary-and-model-zip.md``. Every malformed input raises :class:`ND4JFormatException` naming
what was expected and at which byte offset; no allocation is sized from a declared length before that length
has been checked against the bytes that are actually available.
"""
from __future__ import annotations

import io
import os
from dataclasses import dataclass
from typing import BinaryIO, NoReturn, Union

import numpy as np

from dl4py.exceptions import ND4JFormatException

__all__ = [
    "read_array",
    "write_array",
    "read_array_from_bytes",
    "array_to_bytes",
    "read_dataset",
    "write_dataset",
]

PathOrFile = Union[str, "os.PathLike[str]", BinaryIO]

MAX_RANK = 32
_CHUNK = 1 << 20  # bytes read at a time when the source size is unknown

_INT_LENGTH_MODES = frozenset({"DIRECT", "HEAP", "JAVACPP"})
_LONG_LENGTH_MODES = frozenset({"LONG_SHAPE", "MIXED_DATA_TYPES"})
_CURRENT_MODE = "MIXED_DATA_TYPES"

# ND4J data type name -> (big-endian numpy dtype of the stored elements, bytes per element)
_STORED: dict[str, str] = {
    "FLOAT": ">f4", "DOUBLE": ">f8", "HALF": ">f2", "BFLOAT16": ">u2",
    "INT": ">i4", "LONG": ">i8", "SHORT": ">i2", "BYTE": "i1",
    "UBYTE": "u1", "BOOL": "u1", "UINT16": ">u2", "UINT32": ">u4", "UINT64": ">u8",
}
_UNSUPPORTED = frozenset({"UTF8", "COMPRESSED", "UTF16", "UTF32"})

_UNSIGNED = 8388608
# extras flag word of the MIXED_DATA_TYPES shape buffer (libnd4j ArrayOptions.h)
_DTYPE_FLAGS: dict[str, int] = {
    "BFLOAT16": 2048, "HALF": 4096, "FLOAT": 8192, "DOUBLE": 16384, "BYTE": 32768, "SHORT": 65536,
    "INT": 131072, "LONG": 262144, "BOOL": 524288, "UTF8": 1048576,
    "UBYTE": 32768 | _UNSIGNED, "UINT16": 65536 | _UNSIGNED, "UINT32": 131072 | _UNSIGNED,
    "UINT64": 262144 | _UNSIGNED,
}
_FLAG_TO_DTYPE = {v: k for k, v in _DTYPE_FLAGS.items()}
_WIDTH_MASK = 2048 | 4096 | 8192 | 16384 | 32768 | 65536 | 131072 | 262144 | 524288 | 1048576
_EMPTY_FLAG = 8

# numpy dtype (native) -> ND4J name, for writing
_WRITE_NAMES: dict[np.dtype, str] = {
    np.dtype(np.float32): "FLOAT", np.dtype(np.float64): "DOUBLE", np.dtype(np.float16): "HALF",
    np.dtype(np.int32): "INT", np.dtype(np.int64): "LONG", np.dtype(np.int16): "SHORT",
    np.dtype(np.int8): "BYTE", np.dtype(np.uint8): "UBYTE", np.dtype(np.bool_): "BOOL",
    np.dtype(np.uint16): "UINT16", np.dtype(np.uint32): "UINT32", np.dtype(np.uint64): "UINT64",
}

# DataSet.save flag bits
DS_FEATURES, DS_LABELS, DS_LABELS_SAME, DS_FEATURES_MASK, DS_LABELS_MASK, DS_METADATA = 1, 2, 4, 8, 16, 32


# --------------------------------------------------------------------------------------------- reading


class _Source:
    """Exact-length reads from bytes or a binary stream, tracking the byte offset and (if known) the end."""

    def __init__(self, data: bytes | bytearray | memoryview | None = None, stream: BinaryIO | None = None):
        self._mem = memoryview(data).cast("B") if data is not None else None
        self._stream = stream
        self.pos = 0
        self.end: int | None = None
        if self._mem is not None:
            self.end = len(self._mem)
        elif stream is not None:
            self.pos, self.end = _stream_extent(stream)

    def read(self, n: int, what: str) -> bytes:
        """Read exactly ``n`` bytes or raise ND4JFormatException describing ``what`` was expected."""
        start = self.pos
        if self.end is not None and start + n > self.end:
            self._fail(what, start, self.end)
        if self._mem is not None:
            out = bytes(self._mem[start:start + n])
        else:
            out = self._read_stream(n, what, start)
        self.pos = start + n
        return out

    def _read_stream(self, n: int, what: str, start: int) -> bytes:
        assert self._stream is not None
        parts: list[bytes] = []
        got = 0
        while got < n:
            chunk = self._stream.read(min(n - got, _CHUNK))
            if not chunk:
                self._fail(what, start, start + got)
            parts.append(chunk)
            got += len(chunk)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    @staticmethod
    def _fail(what: str, start: int, end: int) -> NoReturn:
        raise ND4JFormatException(f"expected {what} at byte {start}, stream ends at byte {end}")

    def u8(self, what: str) -> int:
        return self.read(1, what)[0]

    def i32(self, what: str) -> int:
        return int.from_bytes(self.read(4, "4-byte " + what), "big", signed=True)

    def i64(self, what: str) -> int:
        return int.from_bytes(self.read(8, "8-byte " + what), "big", signed=True)

    def utf(self, what: str) -> str:
        at = self.pos
        n = int.from_bytes(self.read(2, f"2-byte length of the {what} string"), "big")
        raw = self.read(n, f"{n}-byte {what} string")
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ND4JFormatException(f"{what} string at byte {at} is not valid text: {raw[:40]!r}") from None


def _stream_extent(stream: BinaryIO) -> tuple[int, int | None]:
    """(current position, end position) of a seekable stream, or (0, None) when it cannot seek."""
    try:
        if not stream.seekable():
            return 0, None
        here = stream.tell()
        end = stream.seek(0, io.SEEK_END)
        stream.seek(here, io.SEEK_SET)
        return here, end
    except (AttributeError, OSError, ValueError):
        return 0, None


def _short(text: str, limit: int = 40) -> str:
    """repr of a possibly huge corrupt string, cut for error messages."""
    return repr(text) if len(text) <= limit else repr(text[:limit]) + f"... ({len(text)} characters)"


@dataclass
class _Header:
    mode: str
    length: int
    dtype: str
    at: int  # offset of the header start


def _read_header(src: _Source, which: str) -> _Header:
    at = src.pos
    mode = src.utf(f"{which} allocation mode")
    if mode in _INT_LENGTH_MODES:
        length = src.i32(f"{which} element count")
    elif mode in _LONG_LENGTH_MODES:
        length = src.i64(f"{which} element count")
    else:
        raise ND4JFormatException(
            f"unknown allocation mode {_short(mode)} of the {which} at byte {at} "
            f"(expected one of {sorted(_INT_LENGTH_MODES | _LONG_LENGTH_MODES)})")
    if length < 0:
        raise ND4JFormatException(f"negative element count {length} in the {which} header at byte {at}")
    dtype_at = src.pos
    dtype = src.utf(f"{which} data type")
    if dtype in _UNSUPPORTED:
        raise ND4JFormatException(f"{which} at byte {at} has data type {dtype}, which dl4py cannot read")
    if dtype not in _STORED:
        raise ND4JFormatException(
            f"unknown data type {_short(dtype)} of the {which} at byte {dtype_at} (expected one of {sorted(_STORED)})")
    return _Header(mode, length, dtype, at)


def _read_elements(src: _Source, head: _Header, which: str) -> np.ndarray:
    """The buffer's elements as a 1-D array of the stored (big-endian) dtype; length checked before reading."""
    stored = np.dtype(_STORED[head.dtype])
    nbytes = head.length * stored.itemsize
    what = f"{nbytes} bytes of {head.dtype} {which} data ({head.length} elements)"
    if src.end is not None and src.pos + nbytes > src.end:
        raise ND4JFormatException(
            f"expected {what} at byte {src.pos}, stream ends at byte {src.end}")
    return np.frombuffer(src.read(nbytes, what), dtype=stored)


def _to_native(values: np.ndarray, dtype: str) -> np.ndarray:
    """Stored big-endian elements -> a new native C-contiguous array (BOOL as bool, BFLOAT16 as float32)."""
    if dtype == "BOOL":
        return np.not_equal(values, 0, order="C")
    if dtype == "BFLOAT16":
        return (values.astype(np.uint32, order="C") << 16).view(np.float32)
    return values.astype(values.dtype.newbyteorder("="), order="C", copy=True)


def _dense_strides(shape: tuple[int, ...], order: str) -> list[int]:
    """ND4J's ``calcStrides``: dense c/f strides, but [1, 1] for rank-2 arrays with a dimension of size 1."""
    rank = len(shape)
    if rank == 2 and (shape[0] == 1 or shape[1] == 1):
        return [1, 1]
    strides = [1] * rank
    if order == "c":
        for i in range(rank - 2, -1, -1):
            strides[i] = strides[i + 1] * shape[i + 1]
    else:
        for i in range(1, rank):
            strides[i] = strides[i - 1] * shape[i - 1]
    return strides


def _read_array(src: _Source) -> np.ndarray:
    """Read one ``Nd4j.write`` array from ``src``, stopping exactly at its end."""
    shape_head = _read_header(src, "shape buffer")
    if shape_head.dtype not in ("INT", "LONG"):
        raise ND4JFormatException(
            f"shape buffer at byte {shape_head.at} has data type {shape_head.dtype}; expected INT or LONG")
    n_info = shape_head.length
    if n_info < 4 or n_info > 2 * MAX_RANK + 4 or n_info % 2:
        raise ND4JFormatException(
            f"shape buffer at byte {shape_head.at} declares {n_info} values; expected 2*rank+4 with rank "
            f"0..{MAX_RANK}")
    info_at = src.pos
    info = [int(v) for v in _read_elements(src, shape_head, "shape buffer")]
    rank = (n_info - 4) // 2
    if info[0] != rank:
        raise ND4JFormatException(
            f"shape buffer at byte {info_at} gives rank {info[0]} but holds {n_info} values (rank {rank})")
    shape = tuple(info[1:1 + rank])
    strides = info[1 + rank:1 + 2 * rank]
    extras, order_code = info[1 + 2 * rank], info[3 + 2 * rank]
    if any(d < 0 for d in shape):
        raise ND4JFormatException(f"negative dimension in shape {list(shape)} at byte {info_at}")
    if order_code not in (99, 102):
        raise ND4JFormatException(
            f"order code {order_code} in the shape buffer at byte {info_at}; expected 99 ('c') or 102 ('f')")

    data_head = _read_header(src, "data buffer")
    count = 1
    for d in shape:
        count *= d
    if data_head.length != count:
        raise ND4JFormatException(
            f"data buffer at byte {data_head.at} declares {data_head.length} elements but shape "
            f"{list(shape)} needs {count}")
    offset = 0
    if shape_head.mode == _CURRENT_MODE:
        _check_extras(extras, data_head, info_at)
    else:
        offset = extras  # legacy formats keep the (always 0) array offset here
    data = _read_elements(src, data_head, "data buffer")
    return _to_native(_arrange(data, shape, strides, offset, info_at), data_head.dtype)


def _check_extras(extras: int, data_head: _Header, info_at: int) -> None:
    width = extras & _WIDTH_MASK
    if not width:
        return
    flagged = _FLAG_TO_DTYPE.get(width | (extras & _UNSIGNED))
    if flagged != data_head.dtype:
        raise ND4JFormatException(
            f"extras flag word {extras} in the shape buffer at byte {info_at} names data type "
            f"{flagged or 'an invalid combination'} but the data buffer at byte {data_head.at} holds "
            f"{data_head.dtype}")


def _arrange(flat: np.ndarray, shape: tuple[int, ...], strides: list[int], offset: int, at: int) -> np.ndarray:
    """Read-only view with element [i, j, ...] = flat[offset + sum(index * stride)], bounds checked."""
    if flat.size == 0:
        return flat.reshape(shape)
    eff = [s if d > 1 else 0 for d, s in zip(shape, strides)]
    lo = offset + sum(min(0, s * (d - 1)) for d, s in zip(shape, eff))
    hi = offset + sum(max(0, s * (d - 1)) for d, s in zip(shape, eff))
    if lo < 0 or hi >= flat.size:
        raise ND4JFormatException(
            f"strides {strides} (offset {offset}) in the shape buffer at byte {at} address elements outside "
            f"the {flat.size}-element data buffer for shape {list(shape)}")
    item = flat.itemsize
    return np.lib.stride_tricks.as_strided(
        flat[offset:], shape=shape, strides=[s * item for s in eff], writeable=False)


def read_array(path_or_file: PathOrFile) -> np.ndarray:
    """Read one ND4J array (``Nd4j.read``) from a path or a binary stream; nothing past its end is consumed."""
    if isinstance(path_or_file, (str, os.PathLike)):
        with open(path_or_file, "rb") as f:
            return _read_array(_Source(stream=f))
    return _read_array(_Source(stream=path_or_file))


def read_array_from_bytes(data: bytes | bytearray | memoryview, *, allow_trailing: bool = False) -> np.ndarray:
    """Read one ND4J array from bytes; bytes left after the array are an error unless ``allow_trailing``."""
    src = _Source(data=data)
    arr = _read_array(src)
    if not allow_trailing and src.pos != src.end:
        raise ND4JFormatException(f"array ends at byte {src.pos} but {src.end - src.pos} more bytes follow")
    return arr


# --------------------------------------------------------------------------------------------- writing


def _utf(s: str) -> bytes:
    raw = s.encode("ascii")
    return len(raw).to_bytes(2, "big") + raw


def _buffer_header(length: int, dtype: str) -> bytes:
    return _utf(_CURRENT_MODE) + length.to_bytes(8, "big", signed=True) + _utf(dtype)


def _encode(array: np.ndarray, order: str = "c") -> tuple[bytes, np.ndarray, str]:
    """(shape buffer + data header bytes, big-endian flat data, dtype name) as current ND4J writes them."""
    if order not in ("c", "f"):
        raise ValueError(f"order must be 'c' or 'f', not {order!r}")
    arr = np.asarray(array)
    name = _WRITE_NAMES.get(arr.dtype.newbyteorder("="))
    if name is None:
        raise ND4JFormatException(
            f"cannot write dtype {arr.dtype} as an ND4J array (supported: "
            f"{', '.join(str(d) for d in _WRITE_NAMES)})")
    if arr.ndim > MAX_RANK:
        raise ND4JFormatException(f"rank {arr.ndim} exceeds ND4J's maximum rank {MAX_RANK}")
    shape = tuple(int(d) for d in arr.shape)
    extras = _DTYPE_FLAGS[name] | (_EMPTY_FLAG if arr.size == 0 else 0)
    info = [arr.ndim, *shape, *_dense_strides(shape, order), extras, 1, ord(order)]
    head = _buffer_header(len(info), "LONG") + np.asarray(info, dtype=">i8").tobytes()
    head += _buffer_header(arr.size, name)
    stored = np.dtype(_STORED[name])
    flat = arr.ravel(order="F" if order == "f" else "C").astype(stored, copy=False)
    return head, flat, name


def array_to_bytes(array: np.ndarray, *, order: str = "c") -> bytes:
    """The exact bytes ``Nd4j.write`` produces for ``array`` (MIXED_DATA_TYPES, LONG shape buffer)."""
    head, flat, _ = _encode(array, order)
    return head + flat.tobytes()


def _write_to(stream: BinaryIO, array: np.ndarray, order: str) -> None:
    head, flat, _ = _encode(array, order)
    stream.write(head)
    step = max(1, _CHUNK // max(flat.itemsize, 1))
    for i in range(0, flat.size, step):
        stream.write(flat[i:i + step].tobytes())


def write_array(array: np.ndarray, path_or_file: PathOrFile, *, order: str = "c") -> None:
    """Write ``array`` as current ND4J does (``Nd4j.write``) to a path or a binary stream, in ``order`` c or f."""
    if isinstance(path_or_file, (str, os.PathLike)):
        with open(path_or_file, "wb") as f:
            _write_to(f, array, order)
    else:
        _write_to(path_or_file, array, order)


# --------------------------------------------------------------------------------------------- DataSet


DataSetArrays = tuple["np.ndarray | None", "np.ndarray | None", "np.ndarray | None", "np.ndarray | None"]


def _read_dataset(src: _Source) -> DataSetArrays:
    flags = src.u8("1-byte DataSet flag byte")
    if flags & ~0x3F:
        raise ND4JFormatException(f"DataSet flag byte {flags:#04x} at byte {src.pos - 1} has unknown bits set")
    features = _read_array(src) if flags & DS_FEATURES else None
    if flags & DS_LABELS:
        labels = _read_array(src)
    elif flags & DS_LABELS_SAME:
        labels = features
    else:
        labels = None
    features_mask = _read_array(src) if flags & DS_FEATURES_MASK else None
    labels_mask = _read_array(src) if flags & DS_LABELS_MASK else None
    # flag 32: Java-serialised example metadata follows; it is not portable and is left unread.
    return features, labels, features_mask, labels_mask


def read_dataset(path_or_file: PathOrFile) -> DataSetArrays:
    """Read a ``DataSet.save`` file: (features, labels, features_mask, labels_mask), absent parts as None.

    With flag 4 (labels identical to features) the same array object is returned twice.
    """
    if isinstance(path_or_file, (str, os.PathLike)):
        with open(path_or_file, "rb") as f:
            return _read_dataset(_Source(stream=f))
    return _read_dataset(_Source(stream=path_or_file))


def write_dataset(path_or_file: PathOrFile, features: np.ndarray | None, labels: np.ndarray | None = None,
                  features_mask: np.ndarray | None = None, labels_mask: np.ndarray | None = None) -> None:
    """Inverse of :func:`read_dataset` (``DataSet.save`` without metadata); ``labels is features`` gives flag 4."""
    flags = 0
    if features is not None:
        flags |= DS_FEATURES
    if labels is not None:
        flags |= DS_LABELS_SAME if labels is features else DS_LABELS
    if features_mask is not None:
        flags |= DS_FEATURES_MASK
    if labels_mask is not None:
        flags |= DS_LABELS_MASK

    def emit(stream: BinaryIO) -> None:
        stream.write(bytes([flags]))
        for part, bit in ((features, DS_FEATURES), (labels, DS_LABELS), (features_mask, DS_FEATURES_MASK),
                          (labels_mask, DS_LABELS_MASK)):
            if flags & bit and part is not None:
                _write_to(stream, part, "c")

    if isinstance(path_or_file, (str, os.PathLike)):
        with open(path_or_file, "wb") as f:
            emit(f)
    else:
        emit(path_or_file)
