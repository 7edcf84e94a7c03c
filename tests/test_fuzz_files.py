"""Fuzzing the binary readers with byte-level damage to DL4J's real files.

ND4J arrays (``read_array``/``read_array_from_bytes``), DataSet files (``read_dataset``) and every fixture model zip
(``MultiLayerNetwork.load``) are truncated, bit-flipped, have header fields overwritten with extreme values, bytes
inserted or removed, zip entries renamed, and (with a valid CRC, so the inner parsers see it) their entries'
contents damaged. Each read must either succeed or raise one of dl4py's documented exceptions:
ND4JFormatException (ModelSerializerException for zips), InvalidJsonException or DL4JInvalidConfigException for
a damaged configuration.json. Nothing else may escape, no read may allocate much more than the input could hold
(tracemalloc), and nothing is written next to the file being read.
"""
from __future__ import annotations

import io
import os
import random
import struct
import time
import tracemalloc
import zipfile
from collections import Counter
from typing import Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dl4py.exceptions import (
    DL4JInvalidConfigException,
    InvalidJsonException,
    ModelSerializerException,
    ND4JFormatException,
)
from dl4py.nd4j import array_to_bytes, read_array, read_array_from_bytes, read_dataset
from dl4py.nn.multilayer import MultiLayerNetwork

from tests._fuzz import examples, report_fixture
from tests.conftest import FIXTURES_DIR, fixture_path

pytestmark = pytest.mark.fixtures

CASES: Counter = Counter()
_report = report_fixture("test_fuzz_files", CASES)

FILE_ERRORS = (ND4JFormatException,)
LOAD_ERRORS = (ND4JFormatException, InvalidJsonException, DL4JInvalidConfigException)
MODEL_ZIPS = [f"regression/{v}/{v}_ModelSerializer_Regression_MLP_{k}.zip" for v in ("050", "060", "071", "080")
              for k in (1, 2)] + [
    "integration/MLPMoon/Model_RANDOM_INIT_UNTRAINED.zip",
    "integration/MLPMnist/Model_RANDOM_INIT_UNTRAINED.zip",
    "integration/VAEMnistAnomaly/Model_RANDOM_INIT_UNTRAINED.zip",
    "regression/100b6/VaeMNISTAnomaly_100b6.bin",
]
DATASET_FILE = "mnist/mnist-train-0.bin"
EXTREME_WORDS = [0, 1, 2**31 - 1, 2**31, 2**32 - 1, 2**40, 2**62, 2**63 - 1, 2**63, 2**64 - 1]


class NonSeekable(io.RawIOBase):
    """A pipe-like stream: no seek/tell, short reads."""

    def __init__(self, data: bytes, step: int = 4096):
        self._buf = io.BytesIO(data)
        self._step = step

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readinto(self, b) -> int:  # type: ignore[override]
        chunk = self._buf.read(min(len(b), self._step))
        b[: len(chunk)] = chunk
        return len(chunk)


def _array_files() -> list[str]:
    """Every ND4J array stream in the fixtures under 300 kB (model zips and DataSet files excluded)."""
    if not FIXTURES_DIR.exists():
        return []
    out = []
    for path in sorted(FIXTURES_DIR.rglob("*.bin")):
        rel = path.relative_to(FIXTURES_DIR).as_posix()
        if rel.startswith("mnist/") or rel in MODEL_ZIPS or path.stat().st_size > 300_000:
            continue
        out.append(rel)
    return out


ARRAY_FILES = _array_files()


@pytest.fixture(scope="module")
def arrays() -> list[tuple[str, bytes]]:
    if not ARRAY_FILES:
        fixture_path("legacy/NDArray_javacpp.bin")  # skips, or fails under DL4PY_REQUIRE_FIXTURES=1
    return [(rel, fixture_path(rel).read_bytes()) for rel in ARRAY_FILES]


@pytest.fixture(scope="module")
def zips() -> list[tuple[str, bytes]]:
    return [(rel, fixture_path(rel).read_bytes()) for rel in MODEL_ZIPS]


@pytest.fixture(scope="module")
def dataset_bytes() -> bytes:
    return fixture_path(DATASET_FILE).read_bytes()


def measured(read: Callable[[], object], errors: tuple[type, ...], kind: str, budget: int | None) -> object:
    """Run ``read``: a result or a documented error. With a ``budget``, under tracemalloc (only around the read
    itself, not hypothesis's own work): the traced peak must stay within ``budget`` bytes. (The exhaustive loops
    run untraced — tracing costs 6x — and check the size of what was read instead.)"""
    if budget is not None:
        tracemalloc.start()
    try:
        result = read()
        CASES[f"{kind}_ok"] += 1
    except errors as exc:
        assert str(exc)
        result = None
        CASES[f"{kind}_refused"] += 1
    finally:
        if budget is not None:
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
    if budget is not None:
        assert peak <= budget, f"{kind}: a read of damaged input allocated {peak} bytes"
    return result


def _budget(data: bytes) -> int:
    """What a read of ``data`` may allocate: its elements decoded (BFLOAT16 doubles in size) plus slack."""
    return 4 * len(data) + (1 << 20)


# ------------------------------------------------------------------------------------------------------------
# byte-level damage
# ------------------------------------------------------------------------------------------------------------
def damage(raw: bytes, rng: random.Random, header: int = 160) -> bytes:
    """1-4 random edits; most of them near the start, where the headers are."""
    data = bytearray(raw)
    for _ in range(rng.randint(1, 4)):
        if not data:
            break
        near = min(len(data), header)
        pos = rng.randrange(near) if rng.random() < 0.7 else rng.randrange(len(data))
        op = rng.random()
        if op < 0.2:
            del data[pos:]
        elif op < 0.5:
            data[pos] ^= rng.randrange(1, 256)
        elif op < 0.7:
            width = rng.choice([2, 4, 8])
            value = rng.choice(EXTREME_WORDS + [rng.getrandbits(64)]) % (1 << (8 * width))
            data[pos:pos + width] = value.to_bytes(width, "big")
        elif op < 0.85:
            data[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 9)))
        else:
            del data[pos:pos + rng.randint(1, 9)]
    return bytes(data)


@settings(max_examples=examples(1500), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(which=st.integers(0, 10**6), seed=st.integers(0, 2**32 - 1))
def test_damaged_arrays_read_or_raise(arrays, which, seed):
    name, raw = arrays[which % len(arrays)]
    data = damage(raw, random.Random(seed))
    step = 1 + seed % 13 if len(data) < 4096 else 4096 + seed % 4096  # short reads, without 10^5 calls
    for source, read in (("bytes", lambda: read_array_from_bytes(data)),
                         ("stream", lambda: read_array(io.BufferedReader(NonSeekable(data, step))))):
        arr = measured(read, FILE_ERRORS, f"array_{source}", _budget(data))
        if arr is not None:
            assert isinstance(arr, np.ndarray) and arr.flags.c_contiguous
            assert arr.nbytes <= 2 * len(data)


@settings(max_examples=examples(300), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(seed=st.integers(0, 2**32 - 1))
def test_damaged_dataset_files_read_or_raise(dataset_bytes, seed):
    rng = random.Random(seed)
    data = damage(dataset_bytes, rng, header=200)
    if rng.random() < 0.3:  # damage the labels array's header, after the features
        split = dataset_bytes.find(b"MIXED_DATA_TYPES", 200)
        data = data[:split] + damage(data[split:], rng)
    result = measured(lambda: read_dataset(io.BytesIO(data)), FILE_ERRORS, "dataset", _budget(data))
    if result is not None:
        assert len(result) == 4


@pytest.mark.parametrize("rel", [r for r in ARRAY_FILES if os.path.getsize(FIXTURES_DIR / r) <= 2000])
def test_every_truncation_and_byte_of_small_arrays(rel):
    """Exhaustive for the small arrays: every truncation, and every byte XOR 0xFF, through both readers."""
    raw = fixture_path(rel).read_bytes()
    variants = [raw[:n] for n in range(len(raw))]
    variants += [raw[:i] + bytes([raw[i] ^ 0xFF]) + raw[i + 1:] for i in range(len(raw))]
    for data in variants:
        for kind, read in (("exhaustive_bytes", lambda: read_array_from_bytes(data)),
                           ("exhaustive_stream", lambda: read_array(io.BufferedReader(NonSeekable(data, 7))))):
            arr = measured(read, FILE_ERRORS, kind, None)
            assert arr is None or arr.nbytes <= 2 * len(data)


# ------------------------------------------------------------------------------------------------------------
# zips
# ------------------------------------------------------------------------------------------------------------
SIGNATURES = {b"PK\x03\x04": "local", b"PK\x01\x02": "central", b"PK\x05\x06": "end", b"PK\x07\x08": "descriptor"}
# (offset, width) of the interesting little-endian fields of each record
FIELDS = {
    "local": [(4, 2), (6, 2), (8, 2), (14, 4), (18, 4), (22, 4), (26, 2), (28, 2)],
    "central": [(6, 2), (8, 2), (10, 2), (16, 4), (20, 4), (24, 4), (28, 2), (30, 2), (32, 2), (38, 4), (42, 4)],
    "end": [(4, 2), (6, 2), (8, 2), (10, 2), (12, 4), (16, 4), (20, 2)],
    "descriptor": [(4, 4), (8, 4), (12, 4)],
}
ZIP_VALUES = [0, 1, 8, 12, 14, 99, 0x0001, 0x0008, 0x0800, 0xFFFF, 0xFFFFFFFF, 0x7FFFFFFF, 2**31, 1 << 20]
ENTRY_NAMES = ["../configuration.json", "/etc/passwd", "C:/x", "a/../../x", "configuration.json", "coefficients.bin",
               "updaterState.bin", "noParams.marker", "coefficients.bim", "x\\..\\y", "dir/"]


def _records(raw: bytes) -> list[tuple[str, int]]:
    out = []
    for sig, kind in SIGNATURES.items():
        i = raw.find(sig)
        while i >= 0:
            out.append((kind, i))
            i = raw.find(sig, i + 1)
    return out


def _rebuilt(raw: bytes, rng: random.Random) -> bytes:
    """The same zip rebuilt with one entry's *uncompressed* content damaged (valid CRCs), renamed or dropped."""
    with zipfile.ZipFile(io.BytesIO(raw)) as zf:
        entries = [(info.filename, zf.read(info)) for info in zf.infolist()]
    i = rng.randrange(len(entries))
    name, content = entries[i]
    op = rng.random()
    if op < 0.6:
        entries[i] = (name, damage(content, rng, header=400 if name.endswith(".json") else 160))
    elif op < 0.8:
        entries[i] = (rng.choice(ENTRY_NAMES), content)
    elif op < 0.9:
        del entries[i]
    else:
        entries.append((rng.choice(ENTRY_NAMES), content))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for entry_name, data in entries:
            zf.writestr(entry_name, data)
    return out.getvalue()


def damage_zip(raw: bytes, rng: random.Random) -> bytes:
    op = rng.random()
    if op < 0.35:
        return _rebuilt(raw, rng)
    data = bytearray(raw)
    if op < 0.45:
        # cut: mostly in the central directory at the end
        cut = len(data) - rng.randrange(min(len(data), 300)) if rng.random() < 0.7 else rng.randrange(len(data))
        return bytes(data[:cut])
    if op < 0.8:
        records = _records(raw)
        for _ in range(rng.randint(1, 3)):
            kind, at = rng.choice(records)
            off, width = rng.choice(FIELDS[kind])
            value = rng.choice(ZIP_VALUES) if rng.random() < 0.7 else rng.getrandbits(8 * width)
            data[at + off:at + off + width] = (value % (1 << (8 * width))).to_bytes(width, "little")
        return bytes(data)
    for _ in range(rng.randint(1, 6)):
        data[rng.randrange(len(data))] ^= rng.randrange(1, 256)
    return bytes(data)


def _load_and_check(data: bytes, folder, kind: str) -> None:
    """Load from a file in ``folder`` under tracemalloc (``folder`` None: from memory, untraced)."""
    if folder is None:
        net = measured(lambda: MultiLayerNetwork.load(io.BytesIO(data)), LOAD_ERRORS, kind, None)
    else:
        path = folder / "model.zip"
        path.write_bytes(data)
        net = measured(lambda: MultiLayerNetwork.load(path), LOAD_ERRORS, kind, 12 * len(data) + (8 << 20))
        assert sorted(os.listdir(folder)) == ["model.zip"], "a read wrote something next to the zip"
    if net is not None:
        params = net.params()
        assert params.shape == (net.numParams(),) and np.all(np.isfinite(params))
        assert net.getLayerWiseConfigurations().numParams() == net.numParams()


@settings(max_examples=examples(500), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
@given(which=st.integers(0, 10**6), seed=st.integers(0, 2**32 - 1))
def test_damaged_model_zips_load_or_raise(zips, tmp_path, which, seed):
    # the small MLP zips are chosen 4 times as often as the 2 MB VAE ones
    weights = [1 if len(raw) > 100_000 else 4 for _, raw in zips]
    pick = which % sum(weights)
    for index, w in enumerate(weights):
        if pick < w:
            break
        pick -= w
    name, raw = zips[index]
    _load_and_check(damage_zip(raw, random.Random(seed)), tmp_path, "zip")


def test_every_truncation_and_byte_of_a_small_zip(tmp_path, monkeypatch):
    """Exhaustive for DL4J's 1.5 kB MLPMoon model zip: every truncation and every byte XOR 0xFF."""
    raw = fixture_path("integration/MLPMoon/Model_RANDOM_INIT_UNTRAINED.zip").read_bytes()
    monkeypatch.chdir(tmp_path)  # a reader that extracted relative paths would leave them here
    for n in range(len(raw)):
        _load_and_check(raw[:n], None, "zip_exhaustive_cut")
    for i in range(len(raw)):
        _load_and_check(raw[:i] + bytes([raw[i] ^ 0xFF]) + raw[i + 1:], None, "zip_exhaustive_flip")
    assert os.listdir(tmp_path) == []


# ------------------------------------------------------------------------------------------------------------
# declared lengths far beyond the data
# ------------------------------------------------------------------------------------------------------------
def _utf(s: str) -> bytes:
    return struct.pack(">H", len(s)) + s.encode()


def forged(shape: list[int], length: int, dtype: str = "FLOAT") -> bytes:
    """A current-format header declaring ``length`` elements of ``shape``, followed by 64 bytes of data."""
    info = [len(shape), *shape, *([1] * len(shape)), 8192, 1, 99]
    head = _utf("MIXED_DATA_TYPES") + struct.pack(">q", len(info)) + _utf("LONG") + struct.pack(f">{len(info)}q", *info)
    return head + _utf("MIXED_DATA_TYPES") + struct.pack(">q", length) + _utf(dtype) + b"\x00" * 64


HUGE = 2**40


@pytest.mark.parametrize("how", ["bytes", "file", "seekable stream", "pipe", "dataset", "legacy int header"])
def test_declared_2_pow_40_elements_does_not_allocate(how, tmp_path):
    raw = forged([1, HUGE], HUGE)
    if how == "legacy int header":  # JAVACPP header: 4-byte count, INT shape; 2^31-1 elements declared
        n = 2**31 - 1
        info = [2, 1, n, n, 1, 0, 1, 99]
        raw = (_utf("JAVACPP") + struct.pack(">i", 8) + _utf("INT") + struct.pack(">8i", *info)
               + _utf("JAVACPP") + struct.pack(">i", n) + _utf("DOUBLE") + b"\x00" * 64)
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(ND4JFormatException, match="stream ends at byte"):
            if how in ("bytes", "legacy int header"):
                read_array_from_bytes(raw)
            elif how == "file":
                (tmp_path / "big.bin").write_bytes(raw)
                read_array(tmp_path / "big.bin")
            elif how == "seekable stream":
                read_array(io.BytesIO(raw))
            elif how == "pipe":
                read_array(io.BufferedReader(NonSeekable(raw, 5)))
            else:
                read_dataset(io.BytesIO(b"\x03" + raw))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20, f"peak {peak} bytes"
    assert time.perf_counter() - start < 2
    CASES["declared_huge_refused"] += 1


@pytest.mark.parametrize("entry", ["coefficients.bin", "updaterState.bin"])
def test_declared_2_pow_40_elements_in_a_model_zip(entry, tmp_path):
    raw = fixture_path("integration/MLPMoon/Model_RANDOM_INIT_UNTRAINED.zip").read_bytes()
    with zipfile.ZipFile(io.BytesIO(raw)) as zf:
        entries = {i.filename: zf.read(i) for i in zf.infolist()}
    entries[entry] = forged([1, HUGE], HUGE)
    path = tmp_path / "m.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    tracemalloc.start()
    try:
        with pytest.raises(ModelSerializerException, match=f"{entry}: expected .* stream ends at byte"):
            MultiLayerNetwork.load(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20, f"peak {peak} bytes"
    CASES["declared_huge_refused"] += 1


def test_real_values_survive_the_round_trip(arrays):
    """Sanity for the fuzz baseline: every undamaged array reads, and rewrites to bytes that read the same."""
    for name, raw in arrays:
        arr = read_array_from_bytes(raw)
        np.testing.assert_array_equal(read_array_from_bytes(array_to_bytes(arr)), arr)
        CASES["original_ok"] += 1
