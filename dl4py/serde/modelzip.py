"""Low-level DL4J model zip I/O (``ModelSerializer.writeModel`` / ``restoreMultiLayerNetwork`` files).

Knows the entry names and the ND4J array format, nothing about networks. Reading never extracts to disk,
refuses unsafe entry names, and bounds every decompression before and while it happens. Writing is atomic.
"""
from __future__ import annotations

import os
import secrets
import zipfile
import zlib
from dataclasses import dataclass, field
from typing import BinaryIO, Callable, Mapping, Optional, Union

import numpy as np

from dl4py.exceptions import DL4JException, DL4JInvalidInputException, ModelSerializerException, ND4JFormatException
from dl4py.nd4j.binary import read_array_from_bytes, write_array

__all__ = [
    "ModelZipContents",
    "read_model_zip",
    "write_model_zip",
    "CONFIGURATION_JSON",
    "COEFFICIENTS_BIN",
    "UPDATER_STATE_BIN",
    "NO_PARAMS_MARKER",
]

CONFIGURATION_JSON = "configuration.json"
COEFFICIENTS_BIN = "coefficients.bin"
UPDATER_STATE_BIN = "updaterState.bin"
NO_PARAMS_MARKER = "noParams.marker"
LEGACY_UPDATER_BIN = "updater.bin"  # Java-serialised updater of very old DL4J versions: listed, not decoded

#: Deflate cannot expand more than about 1032:1, so a larger declared ratio is a lie. (DL4J's all-zero Adam
#: state of the VAE fixture really compresses 1008:1, which is why the ratio is not lower.)
DEFAULT_MAX_RATIO = 1100.0
DEFAULT_SLACK_BYTES = 1 << 20
DEFAULT_MAX_ENTRY_BYTES = 4 << 30
_CHUNK = 1 << 20
_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)

PathLike = Union[str, "os.PathLike[str]"]


@dataclass
class ModelZipContents:
    """The raw parts of a DL4J model zip."""

    configuration_json: str
    coefficients: np.ndarray | None
    updater_state: np.ndarray | None
    other_entries: list[str] = field(default_factory=list)


def _unsafe_name(name: str) -> bool:
    """True for absolute paths, drive letters and any ``..`` component (either slash)."""
    norm = name.replace("\\", "/")
    if norm.startswith("/") or (len(norm) > 1 and norm[1] == ":") or "\x00" in norm:
        return True
    return any(part == ".." for part in norm.split("/"))


def _entry_limit(info: zipfile.ZipInfo, max_ratio: float, max_entry_bytes: int) -> int:
    return int(min(max_entry_bytes, max_ratio * info.compress_size + DEFAULT_SLACK_BYTES))


def _read_entry(zf: zipfile.ZipFile, info: zipfile.ZipInfo, where: str, max_ratio: float,
                max_entry_bytes: int, expected_max: int | None = None) -> bytes:
    """Decompress one entry in chunks after checking its declared size; never exceed the declared size."""
    limit = _entry_limit(info, max_ratio, max_entry_bytes)
    if info.file_size > limit:
        raise ModelSerializerException(
            f"{where}: declared uncompressed size {info.file_size} bytes exceeds the limit of {limit} bytes "
            f"({info.compress_size} compressed bytes; max ratio {max_ratio:g}, cap {max_entry_bytes})")
    if expected_max is not None and info.file_size > expected_max:
        raise ModelSerializerException(
            f"{where}: declared uncompressed size {info.file_size} bytes is more than the configuration can "
            f"need ({expected_max} bytes at most)")
    if info.flag_bits & 0x1:
        raise ModelSerializerException(f"{where}: entry is encrypted")
    if info.compress_type not in _METHODS:
        # DL4J (java.util.zip) writes and reads only these two; others (bzip2, LZMA with its own dictionary size,
        # ...) would run decompressors whose memory use the zip itself chooses
        raise ModelSerializerException(
            f"{where}: compression method {info.compress_type} is not supported (only stored and deflated)")
    out = bytearray()
    with zf.open(info) as stream:
        while True:
            chunk = stream.read(_CHUNK)
            if not chunk:
                break
            out += chunk
            if len(out) > info.file_size:
                raise ModelSerializerException(
                    f"{where}: decompressed data exceeds the declared size of {info.file_size} bytes")
    if len(out) != info.file_size:
        raise ModelSerializerException(
            f"{where}: decompressed {len(out)} bytes but the zip declares {info.file_size}")
    return bytes(out)


def read_model_zip(path: PathLike | BinaryIO, *, max_ratio: float = DEFAULT_MAX_RATIO,
                   max_entry_bytes: int = DEFAULT_MAX_ENTRY_BYTES,
                   entry_limits: Optional[Callable[[str], Mapping[str, int]]] = None) -> ModelZipContents:
    """Read configuration.json, coefficients.bin and updaterState.bin of a DL4J model zip (in memory only).

    An entry is refused before decompression when its declared size exceeds
    ``min(max_entry_bytes, max_ratio * compressed_size + 1 MiB)``, or the bound that ``entry_limits`` (called
    with the text of configuration.json, read first) gives for its name. Only stored and deflated entries are
    read. Corruption, unsafe entry names and missing entries raise :class:`ModelSerializerException` naming the
    file and the entry; errors raised by ``entry_limits`` (e.g. InvalidJsonException) propagate unchanged.
    """
    if isinstance(path, (str, os.PathLike)):
        with open(path, "rb") as f:  # a missing file stays FileNotFoundError
            return read_model_zip(f, max_ratio=max_ratio, max_entry_bytes=max_entry_bytes,
                                  entry_limits=entry_limits)
    label = str(getattr(path, "name", "<stream>"))
    entry = "<central directory>"
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            by_name: dict[str, zipfile.ZipInfo] = {}
            for info in infos:
                if _unsafe_name(info.filename):
                    raise ModelSerializerException(f"{label}: unsafe entry name {info.filename!r} refused")
                if info.filename in by_name:
                    raise ModelSerializerException(f"{label}: duplicate entry {info.filename!r}")
                by_name[info.filename] = info

            expected: Mapping[str, int] = {}

            def load(name: str) -> bytes:
                nonlocal entry
                entry = name
                return _read_entry(zf, by_name[name], f"{label}, entry {name}", max_ratio, max_entry_bytes,
                                   expected.get(name))

            if CONFIGURATION_JSON not in by_name:
                raise ModelSerializerException(f"{label}: no {CONFIGURATION_JSON} entry; not a DL4J model zip")
            try:
                config = load(CONFIGURATION_JSON).decode("utf-8")
            except UnicodeDecodeError as e:
                raise ModelSerializerException(f"{label}, entry {CONFIGURATION_JSON}: not UTF-8 ({e})") from None
            if entry_limits is not None:
                expected = entry_limits(config)

            coefficients = None
            if COEFFICIENTS_BIN in by_name:
                raw = load(COEFFICIENTS_BIN)
                if raw or NO_PARAMS_MARKER not in by_name:
                    coefficients = _parse_array(raw, label, COEFFICIENTS_BIN)
            elif NO_PARAMS_MARKER not in by_name:
                raise ModelSerializerException(
                    f"{label}: no {COEFFICIENTS_BIN} entry (and no {NO_PARAMS_MARKER}); model wasn't found")

            updater = None
            if UPDATER_STATE_BIN in by_name:
                updater = _parse_array(load(UPDATER_STATE_BIN), label, UPDATER_STATE_BIN)

            known = {CONFIGURATION_JSON, COEFFICIENTS_BIN, UPDATER_STATE_BIN}
            others = [i.filename for i in infos if i.filename not in known]
            return ModelZipContents(config, coefficients, updater, others)
    except DL4JException:  # ModelSerializerException, or the configuration's own errors from entry_limits
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError, ValueError) as e:
        raise ModelSerializerException(f"{label}, entry {entry}: corrupt or unreadable zip ({e})") from e


def _parse_array(raw: bytes, label: str, name: str) -> np.ndarray:
    try:
        return read_array_from_bytes(raw)
    except ND4JFormatException as e:
        raise ModelSerializerException(f"{label}, entry {name}: {e}") from e


def _row_vector(arr: np.ndarray, what: str) -> np.ndarray:
    a = np.asarray(arr)
    if a.ndim > 2 or (a.ndim == 2 and 1 not in a.shape):
        raise DL4JInvalidInputException(f"{what} must be a vector or a [1, n] row vector, got shape {a.shape}")
    return a.reshape(1, -1)


def write_model_zip(path: PathLike, configuration_json: str, coefficients: np.ndarray | None,
                    updater_state: np.ndarray | None = None,
                    extra_entries: dict[str, bytes] | None = None) -> None:
    """Write a DL4J model zip atomically (temp file in the same directory, fsync, ``os.replace``).

    Entries in DL4J's order: configuration.json, coefficients.bin ([1, n]; an empty entry plus
    noParams.marker when there are no parameters), updaterState.bin ([1, S]) if given and non-empty, then
    ``extra_entries`` (e.g. ``normalizer.bin``). All deflated. On failure the previous file is untouched.
    """
    extra = dict(extra_entries or {})
    reserved = {CONFIGURATION_JSON, COEFFICIENTS_BIN, UPDATER_STATE_BIN, NO_PARAMS_MARKER}
    for name in extra:
        if _unsafe_name(name) or name in reserved or not name:
            raise DL4JInvalidInputException(f"extra zip entry name {name!r} is unsafe or reserved")
    params = None if coefficients is None else _row_vector(coefficients, "coefficients")
    state = None if updater_state is None else _row_vector(updater_state, "updater_state")

    target = os.fspath(path)
    directory, base = os.path.split(os.path.abspath(target))
    tmp = os.path.join(directory, f".{base}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_DEFLATED) as zf:
                zf.writestr(CONFIGURATION_JSON, configuration_json.encode("utf-8"))
                if params is None or params.size == 0:
                    zf.writestr(COEFFICIENTS_BIN, b"")
                    zf.writestr(NO_PARAMS_MARKER, b"")
                else:
                    _write_array_entry(zf, COEFFICIENTS_BIN, params)
                if state is not None and state.size > 0:
                    _write_array_entry(zf, UPDATER_STATE_BIN, state)
                for name, data in extra.items():
                    zf.writestr(name, data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(directory)


def _write_array_entry(zf: zipfile.ZipFile, name: str, arr: np.ndarray) -> None:
    with zf.open(name, "w", force_zip64=arr.nbytes > (1 << 30)) as stream:
        write_array(arr, stream)


def _fsync_dir(directory: str) -> None:
    """Make the rename durable where the platform allows it (best effort)."""
    try:
        dfd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)
