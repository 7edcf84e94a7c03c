"""ND4J binary arrays, DataSet files and DL4J model zips: real DL4J files, round trips, corruption handling."""
from __future__ import annotations

import io
import os
import struct
import time
import tracemalloc
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dl4py.exceptions import ModelSerializerException, ND4JFormatException
from dl4py.nd4j import (
    array_to_bytes,
    read_array,
    read_array_from_bytes,
    read_dataset,
    write_array,
    write_dataset,
)
from dl4py.serde import modelzip
from dl4py.serde.modelzip import ModelZipContents, read_model_zip, write_model_zip

fixtures = pytest.mark.fixtures


class NonSeekable(io.RawIOBase):
    """A stream that cannot seek or tell, and returns at most ``step`` bytes per read."""

    def __init__(self, data: bytes, step: int = 1 << 30):
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

    def tell(self) -> int:
        raise OSError("not seekable")


def _utf(s: str) -> bytes:
    return struct.pack(">H", len(s)) + s.encode()


def forged_header(shape: list[int], length: int, dtype: str = "FLOAT", extras: int = 8192) -> bytes:
    """A MIXED_DATA_TYPES shape buffer + data header with arbitrary declared values (no data)."""
    rank = len(shape)
    info = [rank, *shape, *([1] * rank), extras, 1, 99]
    out = _utf("MIXED_DATA_TYPES") + struct.pack(">q", len(info)) + _utf("LONG")
    out += struct.pack(f">{len(info)}q", *info)
    return out + _utf("MIXED_DATA_TYPES") + struct.pack(">q", length) + _utf(dtype)


def order_char_of(raw: bytes) -> str:
    """Order character of a MIXED_DATA_TYPES / LONG_SHAPE stream (last value of its LONG shape buffer)."""
    mode_len = struct.unpack(">H", raw[:2])[0]
    n = struct.unpack(">q", raw[2 + mode_len: 10 + mode_len])[0]
    start = 10 + mode_len + 2 + 4  # after "LONG"
    return chr(struct.unpack(">q", raw[start + 8 * (n - 1): start + 8 * n])[0])


# ------------------------------------------------------------------------------------------ real DL4J files


@fixtures
def test_legacy_javacpp_double(dl4j):
    a = read_array(dl4j("legacy/NDArray_javacpp.bin"))
    assert a.dtype == np.float64 and a.flags.c_contiguous and a.flags.writeable
    # ND4J's linspace left 1-ulp noise in the file (e.g. 6.000000000000001), so not exactly equal
    np.testing.assert_allclose(a, np.arange(1, 121, dtype=np.float64).reshape(2, 3, 4, 5), rtol=1e-15, atol=0)


@fixtures
@pytest.mark.parametrize("kind,dtype", [("float", np.float32), ("double", np.float64)])
def test_legacy_longshape(dl4j, kind, dtype):
    a = read_array(dl4j(f"legacy/NDArray_longshape_{kind}.bin"))
    assert a.dtype == dtype and a.shape == (1, 5)
    np.testing.assert_array_equal(a, [[1, 2, 3, 4, 5]])


@fixtures
def test_regression_vae_inputs_and_outputs(dl4j):
    inputs, outputs = {}, {}
    for v in ("100a", "100b3", "100b4", "100b6"):
        x = read_array(dl4j(f"regression/{v}/VaeMNISTAnomaly_Input_{v}.bin"))
        y = read_array(dl4j(f"regression/{v}/VaeMNISTAnomaly_Output_{v}.bin"))
        assert x.shape == (3, 784) and x.dtype == np.float32
        assert 0 <= x.min() and x.max() < 1
        assert y.shape == (3, 32) and y.dtype == np.float32 and np.isfinite(y).all()
        inputs[v], outputs[v] = x, y
    np.testing.assert_array_equal(inputs["100a"], inputs["100b3"])
    np.testing.assert_array_equal(inputs["100b4"], inputs["100b6"])
    assert not np.array_equal(inputs["100a"], inputs["100b6"])
    # beta4 and beta6 models differ by <= 1.4e-7 in their parameters, so their outputs nearly agree
    np.testing.assert_allclose(outputs["100b4"], outputs["100b6"], atol=1e-5)


@fixtures
@pytest.mark.parametrize("v", ["100b4", "100b6"])
def test_f_order_output_rewrites_byte_exact(dl4j, v):
    raw = dl4j(f"regression/{v}/VaeMNISTAnomaly_Output_{v}.bin").read_bytes()
    assert order_char_of(raw) == "f"
    a = read_array_from_bytes(raw)
    assert array_to_bytes(a, order="f") == raw
    assert array_to_bytes(a) != raw


INTEGRATION_SHAPES = {
    "MLPMoon/predictions/output_0_0.bin": (1, 2),
    "MLPMoon/predictions/output_1_0.bin": (10, 2),
    "MLPMoon/flattenedGradients.bin": (1, 102),
    "MLPMoon/gradients/0_W.bin": (2, 20),
    "MLPMoon/gradients/0_b.bin": (1, 20),
    "MLPMoon/gradients/1_W.bin": (20, 2),
    "MLPMoon/gradients/1_b.bin": (1, 2),
    "MLPMoon/paramsPostTrain.bin": (1, 102),
    "MLPMnist/predictions/output_0_0.bin": (1, 10),
    "MLPMnist/predictions/output_1_0.bin": (10, 10),
    "MLPMnist/flattenedGradients.bin": (1, 50890),
    "MLPMnist/gradients/0_W.bin": (784, 64),
    "MLPMnist/gradients/0_b.bin": (1, 64),
    "MLPMnist/gradients/1_W.bin": (64, 10),
    "MLPMnist/gradients/1_b.bin": (1, 10),
    "MLPMnist/paramsPostTrain.bin": (1, 50890),
    "VAEMnistAnomaly/predictions/output_0_0.bin": (1, 32),
    "VAEMnistAnomaly/predictions/output_1_0.bin": (10, 32),
    "VAEMnistAnomaly/paramsPostUnsupervised.bin": (1, 558928),
}


@fixtures
@pytest.mark.parametrize("rel,shape", sorted(INTEGRATION_SHAPES.items()))
def test_integration_arrays(dl4j, rel, shape):
    raw = dl4j(f"integration/{rel}").read_bytes()
    a = read_array_from_bytes(raw)
    assert a.shape == shape and a.dtype == np.float32 and np.isfinite(a).all()
    # current ND4J files: our writer reproduces them byte for byte in their stored order
    assert array_to_bytes(a, order=order_char_of(raw)) == raw


@fixtures
@pytest.mark.parametrize("case", ["MLPMoon", "MLPMnist"])
def test_flattened_gradients_match_per_parameter_files(dl4j, case):
    """The f-ordered flat vector = W column-major then b per layer; the per-parameter files are c order."""
    flat = read_array(dl4j(f"integration/{case}/flattenedGradients.bin"))
    parts = [read_array(dl4j(f"integration/{case}/gradients/{k}.bin")) for k in ("0_W", "0_b", "1_W", "1_b")]
    expected = np.concatenate([p.ravel(order="F") for p in parts])
    np.testing.assert_array_equal(flat.ravel(), expected)


@fixtures
@pytest.mark.parametrize("case", ["MLPMoon", "MLPMnist", "VAEMnistAnomaly"])
def test_f_order_predictions_rows(dl4j, case):
    one = read_array(dl4j(f"integration/{case}/predictions/output_0_0.bin"))
    ten = read_array(dl4j(f"integration/{case}/predictions/output_1_0.bin"))
    np.testing.assert_allclose(ten[0], one[0], atol=1e-5)


ZIP_COUNTS = {
    "integration/MLPMoon/Model_RANDOM_INIT_UNTRAINED.zip": (102, 102),
    "integration/MLPMnist/Model_RANDOM_INIT_UNTRAINED.zip": (50890, 101780),
    "integration/VAEMnistAnomaly/Model_RANDOM_INIT_UNTRAINED.zip": (558928, 1117856),
    "regression/100b6/VaeMNISTAnomaly_100b6.bin": (558928, 1117856),
}
REGRESSION_ZIPS = [f"regression/{v}/{v}_ModelSerializer_Regression_MLP_{k}.zip"
                   for v in ("050", "060", "071", "080") for k in (1, 2)]


@fixtures
@pytest.mark.parametrize("rel", sorted(ZIP_COUNTS))
def test_untrained_model_zips(dl4j, rel):
    c = read_model_zip(dl4j(rel))
    n_params, n_state = ZIP_COUNTS[rel]
    assert isinstance(c, ModelZipContents)
    assert c.coefficients.shape == (1, n_params) and c.coefficients.dtype == np.float32
    assert np.isfinite(c.coefficients).all() and np.abs(c.coefficients).max() > 0
    assert c.updater_state.shape == (1, n_state) and not c.updater_state.any()
    assert c.configuration_json.lstrip().startswith("{") and '"variables"' in c.configuration_json
    assert c.other_entries == []


@fixtures
@pytest.mark.parametrize("rel", REGRESSION_ZIPS)
def test_regression_mlp_zips(dl4j, rel):
    c = read_model_zip(dl4j(rel))
    expected = np.arange(1, 42, dtype=np.float32).reshape(1, 41)
    np.testing.assert_array_equal(c.coefficients, expected)
    np.testing.assert_array_equal(c.updater_state, expected)
    assert "\r\n" in c.configuration_json  # written on Windows; kept as is


@fixtures
def test_vae_zip_crlf_config_kept(dl4j):
    c = read_model_zip(dl4j("integration/VAEMnistAnomaly/Model_RANDOM_INIT_UNTRAINED.zip"))
    with zipfile.ZipFile(dl4j("integration/VAEMnistAnomaly/Model_RANDOM_INIT_UNTRAINED.zip")) as zf:
        assert c.configuration_json == zf.read("configuration.json").decode("utf-8")
    assert "\r\n" in c.configuration_json


@fixtures
def test_rewritten_coefficients_byte_exact(dl4j):
    with zipfile.ZipFile(dl4j("regression/100b6/VaeMNISTAnomaly_100b6.bin")) as zf:
        raw = zf.read("coefficients.bin")
        raw_state = zf.read("updaterState.bin")
    assert len(raw) == 2_235_841
    assert array_to_bytes(read_array_from_bytes(raw)) == raw
    buf = io.BytesIO()
    write_array(read_array_from_bytes(raw_state), buf)
    assert buf.getvalue() == raw_state


@fixtures
@pytest.mark.parametrize("k", range(8))
def test_mnist_datasets(dl4j, k):
    features, labels, fmask, lmask = read_dataset(dl4j(f"mnist/mnist-train-{k}.bin"))
    assert features.shape == (64, 784) and features.dtype == np.float32
    assert features.min() >= 0 and features.max() <= 1
    np.testing.assert_array_equal(features * 255, np.round(features * 255))  # pixel / 255
    assert labels.shape == (64, 10)
    np.testing.assert_array_equal(labels.sum(axis=1), np.ones(64))
    assert set(np.unique(labels)) <= {0.0, 1.0}
    assert fmask is None and lmask is None


@fixtures
def test_mnist_dataset_from_nonseekable_stream(dl4j):
    raw = dl4j("mnist/mnist-train-0.bin").read_bytes()
    a = read_dataset(dl4j("mnist/mnist-train-0.bin"))
    b = read_dataset(io.BufferedReader(NonSeekable(raw, step=1000)))
    for x, y in zip(a[:2], b[:2]):
        np.testing.assert_array_equal(x, y)


# ------------------------------------------------------------------------------------------ round trips

DTYPES = [np.float32, np.float64, np.float16, np.int32, np.int64, np.int16, np.int8, np.uint8, np.bool_,
          np.uint16, np.uint32, np.uint64]
SHAPES = [(), (5,), (1, 5), (5, 1), (3, 4), (2, 3, 4), (2, 1, 3, 2), (0,), (0, 3), (3, 0), (2, 0, 4)]


def _sample(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    if np.dtype(dtype) == np.bool_:
        return rng.random(shape) > 0.5
    if np.issubdtype(dtype, np.floating):
        return (rng.standard_normal(shape) * 100).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(max(info.min, -1000), min(info.max, 1000), size=shape).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("order", ["c", "f"])
def test_round_trip_all(dtype, order, tmp_path):
    for shape in SHAPES:
        a = _sample(shape, dtype)
        raw = array_to_bytes(a, order=order)
        b = read_array_from_bytes(raw)
        assert b.shape == a.shape and b.dtype == a.dtype and b.flags.c_contiguous
        np.testing.assert_array_equal(a, b)
        path = tmp_path / "a.bin"
        write_array(a, path, order=order)
        assert path.read_bytes() == raw
        np.testing.assert_array_equal(read_array(path), a)
        np.testing.assert_array_equal(read_array(io.BufferedReader(NonSeekable(raw, step=3))), a)


def test_strides_written_like_nd4j():
    def info(a, order):
        raw = array_to_bytes(a, order=order)
        n = struct.unpack(">q", raw[18:26])[0]
        return list(struct.unpack(f">{n}q", raw[32:32 + 8 * n]))

    assert info(np.zeros((3, 32), np.float32), "f") == [2, 3, 32, 1, 3, 8192, 1, 102]
    assert info(np.zeros((3, 32), np.float32), "c") == [2, 3, 32, 32, 1, 8192, 1, 99]
    assert info(np.zeros((1, 7), np.float64), "f") == [2, 1, 7, 1, 1, 16384, 1, 102]
    assert info(np.zeros((7, 1), np.int64), "c") == [2, 7, 1, 1, 1, 262144, 1, 99]
    assert info(np.zeros((2, 3, 4), np.int32), "c") == [3, 2, 3, 4, 12, 4, 1, 131072, 1, 99]
    assert info(np.zeros((2, 3, 4), np.float16), "f") == [3, 2, 3, 4, 1, 2, 6, 4096, 1, 102]


def test_non_contiguous_and_byteswapped_input():
    a = np.arange(24, dtype=np.float64).reshape(4, 6)[::2, 1::2]
    np.testing.assert_array_equal(read_array_from_bytes(array_to_bytes(a)), a)
    be = np.arange(6, dtype=">i4").reshape(2, 3)
    b = read_array_from_bytes(array_to_bytes(be))
    assert b.dtype == np.dtype(np.int32) and b.dtype.isnative
    np.testing.assert_array_equal(b, be)


def test_back_to_back_arrays_in_one_stream():
    a, b = np.arange(6, dtype=np.float32).reshape(2, 3), np.arange(4, dtype=np.int64)
    raw = array_to_bytes(a, order="f") + array_to_bytes(b) + b"TAIL"
    for stream in (io.BytesIO(raw), io.BufferedReader(NonSeekable(raw, step=5))):
        np.testing.assert_array_equal(read_array(stream), a)
        np.testing.assert_array_equal(read_array(stream), b)
        assert stream.read() == b"TAIL"
    with pytest.raises(ND4JFormatException, match="more bytes follow"):
        read_array_from_bytes(array_to_bytes(b) + b"x")
    np.testing.assert_array_equal(read_array_from_bytes(array_to_bytes(b) + b"x", allow_trailing=True), b)


def test_legacy_int_shape_and_strides_honoured():
    """A hand-built JAVACPP/INT stream with non-dense (transposed) strides is read by the strides."""
    data = np.arange(6, dtype=">f8")
    info = [2, 2, 3, 1, 2, 0, -1, 102]  # [2,3] f-order
    raw = _utf("JAVACPP") + struct.pack(">i", 8) + _utf("INT") + struct.pack(">8i", *info)
    raw += _utf("HEAP") + struct.pack(">i", 6) + _utf("DOUBLE") + data.tobytes()
    np.testing.assert_array_equal(read_array_from_bytes(raw), np.arange(6.0).reshape(3, 2).T)


def test_dataset_round_trip(tmp_path):
    f = np.random.default_rng(1).random((4, 3)).astype(np.float32)
    lab = np.eye(4, dtype=np.float32)[:, :2]
    fm, lm = np.ones((4, 3), np.float32), np.zeros((4, 2), np.float32)
    p = tmp_path / "ds.bin"
    write_dataset(p, f, lab, fm, lm)
    assert p.read_bytes()[0] == 1 | 2 | 8 | 16
    out = read_dataset(p)
    for x, y in zip(out, (f, lab, fm, lm)):
        np.testing.assert_array_equal(x, y)
    write_dataset(p, f, f)  # labels are the features: flag 4, stored once
    assert p.read_bytes()[0] == 1 | 4
    feats, labels, fmask, lmask = read_dataset(p)
    assert labels is feats and fmask is None and lmask is None
    np.testing.assert_array_equal(feats, f)
    write_dataset(p, None, lab)
    out = read_dataset(p)
    assert out[0] is None and out[1].shape == (4, 2)


def test_model_zip_round_trip(tmp_path):
    p = tmp_path / "model.zip"
    cfg = '{\r\n  "confs" : [ ]\r\n}'
    params = np.arange(10, dtype=np.float32)
    state = np.zeros(20, dtype=np.float32)
    write_model_zip(p, cfg, params, state, {"normalizer.bin": b"NORM"})
    with zipfile.ZipFile(p) as zf:
        assert zf.namelist() == ["configuration.json", "coefficients.bin", "updaterState.bin", "normalizer.bin"]
        assert all(i.compress_type == zipfile.ZIP_DEFLATED for i in zf.infolist())
        assert zf.read("coefficients.bin") == array_to_bytes(params.reshape(1, -1))
    c = read_model_zip(p)
    assert c.configuration_json == cfg
    np.testing.assert_array_equal(c.coefficients, params.reshape(1, -1))
    np.testing.assert_array_equal(c.updater_state, state.reshape(1, -1))
    assert c.other_entries == ["normalizer.bin"]
    write_model_zip(p, cfg, np.ones((1, 3), np.float64), None)  # overwrite, no updater
    c = read_model_zip(p)
    assert c.coefficients.dtype == np.float64 and c.updater_state is None
    assert [n for n in os.listdir(tmp_path)] == ["model.zip"]


def test_model_zip_no_params_and_legacy_updater(tmp_path):
    p = tmp_path / "m.zip"
    write_model_zip(p, "{}", np.zeros((1, 0), np.float32), None)
    c = read_model_zip(p)
    assert c.coefficients is None and c.other_entries == ["noParams.marker"]
    with zipfile.ZipFile(p, "w") as zf:
        zf.writestr("configuration.json", "{}")
        zf.writestr("coefficients.bin", array_to_bytes(np.ones((1, 2), np.float32)))
        zf.writestr("updater.bin", b"\xac\xed\x00\x05")
        zf.writestr("preprocessor.bin", b"\xac\xed\x00\x05")
    c = read_model_zip(p)
    assert c.updater_state is None and c.other_entries == ["updater.bin", "preprocessor.bin"]


# ------------------------------------------------------------------------------------------ corruption


@fixtures
@pytest.mark.parametrize("rel", ["legacy/NDArray_longshape_float.bin", "legacy/NDArray_javacpp.bin",
                                 "regression/100b6/VaeMNISTAnomaly_Output_100b6.bin"])
def test_every_truncation_raises(dl4j, rel):
    raw = dl4j(rel).read_bytes()
    for n in range(len(raw)):
        with pytest.raises(ND4JFormatException, match=r"expected .* at byte \d+, stream ends at byte"):
            read_array_from_bytes(raw[:n])
        with pytest.raises(ND4JFormatException):
            read_array(io.BufferedReader(NonSeekable(raw[:n], step=7)))
    read_array_from_bytes(raw)


def test_truncation_message_names_offset():
    raw = forged_header([1, 3], 3)  # no data at all
    with pytest.raises(ND4JFormatException) as e:
        read_array_from_bytes(raw[:21])
    assert str(e.value) == "expected 8-byte shape buffer element count at byte 18, stream ends at byte 21"
    with pytest.raises(ND4JFormatException, match=f"expected 12 bytes of FLOAT data buffer data .* at byte "
                                                  f"{len(raw)}, stream ends at byte {len(raw) + 5}"):
        read_array_from_bytes(raw + b"12345")


@pytest.mark.parametrize("source", ["bytes", "file", "stream"])
def test_huge_declared_length_raises_without_allocating(source, tmp_path):
    n = 2 ** 40
    raw = forged_header([1, n], n) + b"\x00" * 64
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        with pytest.raises(ND4JFormatException, match="stream ends at byte"):
            if source == "bytes":
                read_array_from_bytes(raw)
            elif source == "file":
                (tmp_path / "big.bin").write_bytes(raw)
                read_array(tmp_path / "big.bin")
            else:
                read_array(io.BufferedReader(NonSeekable(raw)))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 10 * 2 ** 20
    assert time.perf_counter() - t0 < 2


def test_nonseekable_lie_detected_in_bounded_memory():
    n = 2 ** 30  # claims 4 GiB of floats; the stream holds 3 MB
    raw = forged_header([n], n) + b"\x00" * (3 << 20)
    tracemalloc.start()
    try:
        with pytest.raises(ND4JFormatException, match="stream ends at byte"):
            read_array(io.BufferedReader(NonSeekable(raw)))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20 * 2 ** 20


@pytest.mark.parametrize("raw,match", [
    (_utf("WEIRD") + b"\x00" * 40, "unknown allocation mode 'WEIRD'"),
    (_utf("MIXED_DATA_TYPES") + struct.pack(">q", 8) + _utf("QUAD"), "unknown data type 'QUAD'"),
    (_utf("MIXED_DATA_TYPES") + struct.pack(">q", 8) + _utf("FLOAT"), "expected INT or LONG"),
    (_utf("MIXED_DATA_TYPES") + struct.pack(">q", 2 ** 40) + _utf("LONG"), "expected 2\\*rank\\+4"),
    (_utf("MIXED_DATA_TYPES") + struct.pack(">q", -4) + _utf("LONG"), "negative element count"),
    (forged_header([1] * 33, 1), "rank 0..32"),
    (forged_header([2, -3], 6), "negative dimension"),
    (forged_header([2, 3], 5), "declares 5 elements but shape \\[2, 3\\] needs 6"),
    (forged_header([1, 2], 2, "DOUBLE") + b"\x00" * 16, "names data type FLOAT but the data buffer"),
    (forged_header([1, 2], 2, "UTF8"), "cannot read"),
    (forged_header([1, 2], 2, "COMPRESSED"), "cannot read"),
    (b"\x00\x02\xff\xfe", "not valid text"),
])
def test_clear_errors(raw, match):
    with pytest.raises(ND4JFormatException, match=match):
        read_array_from_bytes(raw)


def test_extras_unknown_bits_ignored_and_legacy_zero():
    ok = forged_header([1, 2], 2, extras=8192 | 8 | (1 << 40)) + np.array([1, 2], ">f4").tobytes()
    np.testing.assert_array_equal(read_array_from_bytes(ok), [[1, 2]])
    zero = forged_header([1, 2], 2, "INT", extras=0) + np.array([1, 2], ">i4").tobytes()
    assert read_array_from_bytes(zero).dtype == np.int32


def test_bad_strides_rejected():
    raw = forged_header([2, 3], 6) + b"\x00" * 24  # forged strides [1, 1] on a [2, 3] array are in bounds
    assert read_array_from_bytes(raw).shape == (2, 3)
    info = [2, 2, 3, 100, 1, 8192, 1, 99]
    bad = _utf("MIXED_DATA_TYPES") + struct.pack(">q", 8) + _utf("LONG") + struct.pack(">8q", *info)
    bad += _utf("MIXED_DATA_TYPES") + struct.pack(">q", 6) + _utf("FLOAT") + b"\x00" * 24
    with pytest.raises(ND4JFormatException, match="outside"):
        read_array_from_bytes(bad)


def test_write_rejects_unsupported():
    with pytest.raises(ND4JFormatException):
        array_to_bytes(np.zeros(3, np.complex64))
    with pytest.raises(ND4JFormatException):
        array_to_bytes(np.zeros([1] * 33, np.float32))
    with pytest.raises(ValueError):
        array_to_bytes(np.zeros(3, np.float32), order="k")


@fixtures
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(flips=st.lists(st.tuples(st.integers(0, 10 ** 6), st.integers(1, 255)), min_size=1, max_size=6))
def test_random_byte_flips_read_or_raise_format_error(dl4j, flips):
    raw = bytearray(dl4j("integration/MLPMoon/predictions/output_1_0.bin").read_bytes())
    for pos, x in flips:
        raw[pos % len(raw)] ^= x
    try:
        a = read_array_from_bytes(bytes(raw))
    except ND4JFormatException:
        return
    assert isinstance(a, np.ndarray) and a.flags.c_contiguous


# ------------------------------------------------------------------------------------------ zip safety


def _zip_bytes(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _valid_entries() -> dict[str, bytes]:
    return {"configuration.json": b"{}", "coefficients.bin": array_to_bytes(np.ones((1, 3), np.float32))}


@pytest.mark.parametrize("bad", ["../evil", "a/../../evil", "/abs/evil", "C:/evil", "..\\evil"])
def test_unsafe_entry_names_refused(tmp_path, bad):
    p = tmp_path / "m.zip"
    p.write_bytes(_zip_bytes({**_valid_entries(), bad: b"x"}))
    with pytest.raises(ModelSerializerException, match="unsafe entry name"):
        read_model_zip(p)
    assert os.listdir(tmp_path) == ["m.zip"]


def test_missing_entries(tmp_path):
    p = tmp_path / "m.zip"
    p.write_bytes(_zip_bytes({"coefficients.bin": _valid_entries()["coefficients.bin"]}))
    with pytest.raises(ModelSerializerException, match="no configuration.json"):
        read_model_zip(p)
    p.write_bytes(_zip_bytes({"configuration.json": b"{}"}))
    with pytest.raises(ModelSerializerException, match="no coefficients.bin"):
        read_model_zip(p)
    p.write_bytes(_zip_bytes({"configuration.json": b"\xff{}", "coefficients.bin": b""}))
    with pytest.raises(ModelSerializerException, match="not UTF-8"):
        read_model_zip(p)
    p.write_bytes(_zip_bytes({"configuration.json": b"{}", "coefficients.bin": b"\x00\x07JAVA"}))
    with pytest.raises(ModelSerializerException, match="entry coefficients.bin: expected"):
        read_model_zip(p)


def test_zip_bomb_refused_before_decompression(tmp_path):
    p = tmp_path / "bomb.zip"
    entries = _valid_entries()
    entries["coefficients.bin"] = b"\x00" * (50 << 20)
    p.write_bytes(_zip_bytes(entries))
    del entries
    assert p.stat().st_size < 200_000
    tracemalloc.start()
    try:
        with pytest.raises(ModelSerializerException, match="coefficients.bin: declared uncompressed size"):
            read_model_zip(p, max_ratio=64)
        with pytest.raises(ModelSerializerException, match="exceeds the limit"):
            read_model_zip(p, max_entry_bytes=10 << 20)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 10 * 2 ** 20


def test_default_limit_values(monkeypatch, tmp_path):
    p = tmp_path / "m.zip"
    p.write_bytes(_zip_bytes(_valid_entries()))
    monkeypatch.setattr(modelzip, "DEFAULT_SLACK_BYTES", 0)
    with pytest.raises(ModelSerializerException, match="exceeds the limit"):
        read_model_zip(p, max_ratio=1.0)


def test_declared_size_smaller_than_real_output_stops(tmp_path):
    data = _zip_bytes({"configuration.json": b"{}", "coefficients.bin": b"\x00" * 500_000})
    raw = bytearray(data)
    # patch the uncompressed size of coefficients.bin in its local header and in the central directory
    for sig, size_off, len_off, name_off in ((b"PK\x03\x04", 22, 26, 30), (b"PK\x01\x02", 24, 28, 46)):
        i = raw.find(sig)
        while i >= 0:
            name_len = struct.unpack("<H", raw[i + len_off:i + len_off + 2])[0]
            if raw[i + name_off:i + name_off + name_len] == b"coefficients.bin":
                raw[i + size_off:i + size_off + 4] = struct.pack("<I", 1000)
            i = raw.find(sig, i + 4)
    p = tmp_path / "lie.zip"
    p.write_bytes(bytes(raw))
    with pytest.raises(ModelSerializerException, match="coefficients.bin"):
        read_model_zip(p)


@fixtures
def test_truncated_and_corrupt_zip(dl4j, tmp_path):
    raw = dl4j("regression/050/050_ModelSerializer_Regression_MLP_1.zip").read_bytes()
    p = tmp_path / "t.zip"
    for n in range(0, len(raw), 7):
        p.write_bytes(raw[:n])
        with pytest.raises(ModelSerializerException, match="t.zip"):
            read_model_zip(p)
    with zipfile.ZipFile(io.BytesIO(raw)) as zf:
        info = zf.getinfo("coefficients.bin")
    data_start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    bad = bytearray(raw)
    bad[data_start + 40] ^= 0xFF
    p.write_bytes(bytes(bad))
    with pytest.raises(ModelSerializerException, match="t.zip, entry coefficients.bin"):
        read_model_zip(p)


def test_interrupted_write_keeps_previous_file(tmp_path, monkeypatch):
    p = tmp_path / "model.zip"
    write_model_zip(p, "{}", np.arange(5, dtype=np.float32), np.zeros(5, np.float32))
    before = p.read_bytes()

    def failing_write_array(array, stream, **kwargs):
        stream.write(b"\x00\x10MIXED_DATA")
        raise RuntimeError("disk full (simulated)")

    monkeypatch.setattr(modelzip, "write_array", failing_write_array)
    with pytest.raises(RuntimeError, match="simulated"):
        write_model_zip(p, '{"new": 1}', np.arange(7, dtype=np.float32), None)
    assert p.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.zip"]
    q = tmp_path / "fresh.zip"
    with pytest.raises(RuntimeError):
        write_model_zip(q, "{}", np.arange(7, dtype=np.float32), None)
    assert os.listdir(tmp_path) == ["model.zip"]
