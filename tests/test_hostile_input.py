"""Hostile input: class names that point at arbitrary Python objects, and model zips built to escape or explode.

* JSON/YAML ``@class`` (and the ``type`` property of distributions) naming ``os.system``, ``builtins.eval``,
  ``subprocess.Popen`` or a dl4py class that is not registered for JSON, at every position of DL4J's real
  documents where a type name is read, is refused with UnknownClassException; nothing is imported while parsing
  (``importlib.import_module`` and ``builtins.__import__`` are recorded, ``sys.modules`` must not grow) and the
  named callables are never called. The same for pre-1.0 wrapper names and legacy enum strings.
* Zip entries with absolute paths, drive letters or ``..`` are refused and nothing is written anywhere; a zip
  bomb (a huge declared uncompressed size, or a real 1000:1 deflate bomb) is refused before its entry is
  decompressed; compression methods other than stored/deflated and encrypted entries are refused.
"""
from __future__ import annotations

import builtins
import contextlib
import copy
import importlib
import importlib.util
import io
import json
import os
import struct
import subprocess
import sys
import tracemalloc
import zipfile
from pathlib import Path
from typing import Any, Iterator

import pytest

from dl4py.exceptions import InvalidJsonException, ModelSerializerException, UnknownClassException
from dl4py.nn.conf import MultiLayerConfiguration
from dl4py.nn.multilayer import MultiLayerNetwork
from dl4py.serde.modelzip import read_model_zip

from tests.conftest import fixture_path

pytestmark = pytest.mark.fixtures

HOSTILE_NAMES = [
    "os.system",
    "builtins.eval",
    "subprocess.Popen",
    "posix.system",
    "dl4py.nn.multilayer.MultiLayerNetwork",   # a dl4py class, not registered for JSON
    "dl4py.config.base.Dl4jConfig",            # dl4py's base configuration class, never registered
    "dl4py.nn.conf.layers.DenseLayer",         # registered, but only under its DL4J name
    "DenseLayer",
    "__import__",
    "importlib.import_module",
]
DOCUMENTS = [
    "integration/MLPMnist/config.mlc.json",
    "integration/MLPMoon/config.mlc.json",
    "integration/VAEMnistAnomaly/config.mlc.json",
    "configs/VAEMnistAnomaly_2018_legacy.mlc.json",
    "configs/VAEMnistAnomaly_2020-04-07_lrelu.mlc.json",
]
LEGACY_ZIP = "regression/050/050_ModelSerializer_Regression_MLP_2.zip"
MOON_ZIP = "integration/MLPMoon/Model_RANDOM_INIT_UNTRAINED.zip"


# ------------------------------------------------------------------------------------------------------------
# watching imports and calls while parsing
# ------------------------------------------------------------------------------------------------------------
@contextlib.contextmanager
def no_imports_or_calls() -> Iterator[list[str]]:
    """Record every import (absolute names) made inside the block; make the hostile callables tripwires; check
    that no module was added to sys.modules."""
    calls: list[str] = []
    real_import = builtins.__import__
    real_import_module = importlib.import_module

    def tracking_import(name, globals=None, locals=None, fromlist=(), level=0):
        if level:
            package = (globals or {}).get("__package__") or ""
            calls.append(importlib.util.resolve_name("." * level + name, package))
        else:
            calls.append(name)
        return real_import(name, globals, locals, fromlist, level)

    def tracking_import_module(name, package=None):
        calls.append(f"import_module:{name}")
        return real_import_module(name, package)

    def tripwire(*args, **kwargs):
        raise AssertionError(f"a hostile callable was called with {args!r}")

    saved = {"system": os.system, "popen": subprocess.Popen, "eval": builtins.eval, "exec": builtins.exec}
    before = set(sys.modules)
    builtins.__import__ = tracking_import
    importlib.import_module = tracking_import_module
    os.system = tripwire
    subprocess.Popen = tripwire
    builtins.eval = tripwire
    builtins.exec = tripwire
    try:
        yield calls
    finally:
        builtins.__import__ = real_import
        importlib.import_module = real_import_module
        os.system, subprocess.Popen = saved["system"], saved["popen"]
        builtins.eval, builtins.exec = saved["eval"], saved["exec"]
    assert calls, "the import hook saw no import at all: the check would prove nothing"
    assert set(sys.modules) == before, f"modules imported while parsing: {set(sys.modules) - before}"
    assert not [c for c in calls if c.startswith("import_module:")], calls


def assert_not_imported(calls: list[str], name: str) -> None:
    parts = name.split(".")
    prefixes = {".".join(parts[:i]) for i in range(1, len(parts) + 1)}
    if parts[0] == "dl4py":
        prefixes -= {"dl4py", "dl4py.nn", "dl4py.nn.conf", "dl4py.config", "dl4py.nn.conf.layers"}
    hit = prefixes & set(calls)
    assert not hit, f"imported {hit} while parsing a document naming {name!r}"
    assert not {"os", "subprocess", "builtins", "posix", "importlib"} & set(calls)


@pytest.fixture(scope="module", autouse=True)
def warm_up():
    """Parse and load once so every lazily imported dl4py module is already in sys.modules."""
    for name in DOCUMENTS:
        MultiLayerConfiguration.fromJson(fixture_path(name).read_text())
        MultiLayerConfiguration.fromYaml(MultiLayerConfiguration.fromJson(fixture_path(name).read_text()).toYaml())
    MultiLayerNetwork.load(fixture_path(LEGACY_ZIP))
    MultiLayerNetwork.load(fixture_path(MOON_ZIP))


def type_positions(node: Any, path: tuple = ()) -> list[tuple]:
    """Paths of every type property (``@class``, or ``type`` inside a distribution) in a document."""
    out = []
    if isinstance(node, dict):
        for key in ("@class", "type"):
            if isinstance(node.get(key), str):
                out.append(path + (key,))
        for k, v in node.items():
            out += type_positions(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += type_positions(v, path + (i,))
    return out


def _set(doc: Any, path: tuple, value: Any) -> None:
    for step in path[:-1]:
        doc = doc[step]
    doc[path[-1]] = value


def _cases() -> list[tuple[str, tuple]]:
    from tests.conftest import FIXTURES_DIR

    out = []
    for name in DOCUMENTS:
        p = FIXTURES_DIR / name
        if p.exists():
            out += [(name, path) for path in type_positions(json.loads(p.read_text()))]
    return out or [(DOCUMENTS[0], ("confs", 0, "layer", "@class"))]


@pytest.mark.parametrize("document,path", _cases(), ids=lambda v: ".".join(map(str, v)) if isinstance(v, tuple) else v)
def test_hostile_class_names_at_every_type_position(document, path):
    original = json.loads(fixture_path(document).read_text())
    for hostile in HOSTILE_NAMES:
        doc = copy.deepcopy(original)
        _set(doc, path, hostile)
        text = json.dumps(doc)
        with no_imports_or_calls() as calls:
            with pytest.raises(UnknownClassException) as info:
                MultiLayerConfiguration.fromJson(text)
        assert repr(hostile) in str(info.value)
        assert_not_imported(calls, hostile)


@pytest.mark.parametrize("hostile", HOSTILE_NAMES)
def test_hostile_class_names_in_yaml(hostile):
    conf = MultiLayerConfiguration.fromJson(fixture_path(DOCUMENTS[2]).read_text())
    text = conf.toYaml().replace("org.deeplearning4j.nn.conf.layers.variational.VariationalAutoencoder", hostile, 1)
    assert hostile in text
    with no_imports_or_calls() as calls:
        with pytest.raises(UnknownClassException, match=repr(hostile).replace(".", r"\.")):
            MultiLayerConfiguration.fromYaml(text)
    assert_not_imported(calls, hostile)


@pytest.mark.parametrize("text", [
    "confs: !!python/object/apply:os.system ['echo pwned']\n",
    "confs: !!python/object/new:subprocess.Popen [['echo', 'pwned']]\n",
    "confs: !!python/name:builtins.eval\n",
    "confs: !!python/module:os\n",
    "confs:\n- layer: !!python/object:dl4py.nn.multilayer.MultiLayerNetwork {}\n",
])
def test_python_yaml_tags_are_refused(text):
    with no_imports_or_calls() as calls:
        with pytest.raises(InvalidJsonException, match="malformed YAML"):
            MultiLayerConfiguration.fromYaml(text)
    assert not {"os", "subprocess", "builtins"} & set(calls)


def _legacy_document() -> dict:
    with zipfile.ZipFile(fixture_path(LEGACY_ZIP)) as zf:
        return json.loads(zf.read("configuration.json"))


LEGACY_EDITS = {
    "layer wrapper": lambda d, h: d["confs"][0].__setitem__("layer", {h: d["confs"][0]["layer"]["dense"]}),
    "distribution wrapper": lambda d, h: d["confs"][0]["layer"]["dense"].__setitem__("dist", {h: {"mean": 0.0}}),
    "activation string": lambda d, h: d["confs"][0]["layer"]["dense"].__setitem__("activationFunction", h),
    "activation wrapper": lambda d, h: d["confs"][0]["layer"]["dense"].__setitem__("activationFn", {h: {}}),
    "updater enum": lambda d, h: d["confs"][0]["layer"]["dense"].__setitem__("updater", h),
    "weight init enum": lambda d, h: d["confs"][0]["layer"]["dense"].__setitem__("weightInit", h),
    "loss wrapper": lambda d, h: d["confs"][1]["layer"]["output"].__setitem__("lossFn", {h: {}}),
}


@pytest.mark.parametrize("edit", sorted(LEGACY_EDITS))
@pytest.mark.parametrize("hostile", HOSTILE_NAMES + ["__class__", "__CLASS__", "_member_map_", "mro", "RBM"])
def test_unregistered_legacy_names_are_refused(edit, hostile):
    doc = _legacy_document()
    LEGACY_EDITS[edit](doc, hostile)
    text = json.dumps(doc)
    with no_imports_or_calls() as calls:
        with pytest.raises(InvalidJsonException):
            MultiLayerConfiguration.fromJson(text)
    assert_not_imported(calls, hostile)


def test_hostile_class_inside_a_model_zip(tmp_path):
    with zipfile.ZipFile(fixture_path(MOON_ZIP)) as zf:
        entries = {i.filename: zf.read(i) for i in zf.infolist()}
    doc = json.loads(entries["configuration.json"])
    doc["confs"][0]["layer"]["activationFn"]["@class"] = "os.system"
    entries["configuration.json"] = json.dumps(doc).encode()
    path = tmp_path / "m.zip"
    _write_zip(path, entries)
    with no_imports_or_calls() as calls:
        with pytest.raises(UnknownClassException, match="os.system"):
            MultiLayerNetwork.load(path)
    assert_not_imported(calls, "os.system")


# ------------------------------------------------------------------------------------------------------------
# zips: unsafe entry names
# ------------------------------------------------------------------------------------------------------------
def _write_zip(path: Path, entries: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> None:
    with zipfile.ZipFile(path, "w", method) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)


def _moon_entries() -> dict[str, bytes]:
    with zipfile.ZipFile(fixture_path(MOON_ZIP)) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist()}


def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def _unsafe_names(tmp_path: Path) -> list[str]:
    outside = tmp_path.parent / f"dl4py-escape-{os.getpid()}.txt"
    return ["../escape.txt", "../../escape.txt", "a/../../escape.txt", "./../escape.txt", str(outside),
            "/tmp/dl4py-absolute-escape.txt", "..\\escape.txt", "a\\..\\..\\escape.txt", "C:/escape.txt",
            "C:\\escape.txt", "c:escape.txt", "configuration.json/../../escape.txt", "//server/share/escape.txt"]


@pytest.mark.parametrize("position", ["extra entry", "replaces coefficients.bin", "first entry"])
def test_unsafe_entry_names_are_never_extracted(tmp_path, monkeypatch, position):
    workdir = tmp_path / "work"
    workdir.mkdir()
    monkeypatch.chdir(workdir)  # a reader that extracted relative paths would write under here
    parent_before = sorted(os.listdir(tmp_path.parent))
    for bad in _unsafe_names(tmp_path):
        entries = _moon_entries()
        if position == "extra entry":
            entries[bad] = b"pwned"
        elif position == "replaces coefficients.bin":
            entries[bad] = entries.pop("coefficients.bin")
        else:
            entries = {bad: b"pwned", **entries}
        path = workdir / "model.zip"
        _write_zip(path, entries)
        for load in (lambda: MultiLayerNetwork.load(path), lambda: read_model_zip(path),
                     lambda: MultiLayerNetwork.load(io.BytesIO(path.read_bytes()))):
            with pytest.raises(ModelSerializerException, match="unsafe entry name"):
                load()
        assert _tree(tmp_path) == ["work", "work/model.zip"], bad
        assert not Path("/tmp/dl4py-absolute-escape.txt").exists()
        assert not Path("C:/escape.txt").exists() and not Path("c:escape.txt").exists()
    assert sorted(os.listdir(tmp_path.parent)) == parent_before


def test_symlink_entries_are_not_followed(tmp_path, monkeypatch):
    """A zip entry marked as a symlink is just bytes to dl4py: nothing is created on disk."""
    monkeypatch.chdir(tmp_path)
    entries = _moon_entries()
    path = tmp_path / "model.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
        link = zipfile.ZipInfo("link")
        link.external_attr = (0o120777 << 16)  # S_IFLNK
        zf.writestr(link, "/etc/passwd")
    net = MultiLayerNetwork.load(path)
    assert net.other_zip_entries == ["link"]
    assert os.listdir(tmp_path) == ["model.zip"]


# ------------------------------------------------------------------------------------------------------------
# zips: bombs and unusual entries
# ------------------------------------------------------------------------------------------------------------
@contextlib.contextmanager
def opened_entries() -> Iterator[list[str]]:
    """Names of the zip entries actually opened for decompression inside the block."""
    names: list[str] = []
    real_open = zipfile.ZipFile.open

    def spy(self, name, *args, **kwargs):
        names.append(name.filename if isinstance(name, zipfile.ZipInfo) else name)
        return real_open(self, name, *args, **kwargs)

    zipfile.ZipFile.open = spy
    try:
        yield names
    finally:
        zipfile.ZipFile.open = real_open


def _patch_declared_size(raw: bytes, entry: str, size: int) -> bytes:
    """Set the uncompressed size of ``entry`` in its local header and its central-directory record."""
    data = bytearray(raw)
    for sig, size_off, len_off, name_off in ((b"PK\x03\x04", 22, 26, 30), (b"PK\x01\x02", 24, 28, 46)):
        i = data.find(sig)
        while i >= 0:
            n = struct.unpack("<H", data[i + len_off:i + len_off + 2])[0]
            if data[i + name_off:i + name_off + n] == entry.encode():
                data[i + size_off:i + size_off + 4] = struct.pack("<I", size)
            i = data.find(sig, i + 4)
    return bytes(data)


@pytest.mark.parametrize("entry", ["configuration.json", "coefficients.bin", "updaterState.bin"])
def test_declared_huge_size_refused_before_decompression(tmp_path, entry):
    path = tmp_path / "m.zip"
    _write_zip(path, _moon_entries())
    path.write_bytes(_patch_declared_size(path.read_bytes(), entry, 0xFFFFFFF0))  # "4 GiB"
    tracemalloc.start()
    try:
        with opened_entries() as opened:
            with pytest.raises(ModelSerializerException, match=f"{entry}: declared uncompressed size"):
                MultiLayerNetwork.load(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert entry not in opened
    assert peak < 8 << 20


def test_zip64_declared_2_pow_40_refused_before_decompression(tmp_path):
    """An entry declaring 1 TiB uncompressed through a zip64 extra field in its central-directory record."""
    path = tmp_path / "m.zip"
    _write_zip(path, _moon_entries())
    raw = bytearray(path.read_bytes())
    i = raw.find(b"PK\x01\x02")
    while raw[i + 46:i + 46 + struct.unpack("<H", raw[i + 28:i + 30])[0]] != b"coefficients.bin":
        i = raw.find(b"PK\x01\x02", i + 4)
    n, m = struct.unpack("<HH", raw[i + 28:i + 32])
    raw[i + 24:i + 28] = struct.pack("<I", 0xFFFFFFFF)      # uncompressed size: see the zip64 field
    raw[i + 30:i + 32] = struct.pack("<H", m + 12)
    raw[i + 46 + n:i + 46 + n] = struct.pack("<HHQ", 0x0001, 8, 2**40)
    end = raw.find(b"PK\x05\x06")
    size = struct.unpack("<I", raw[end + 12:end + 16])[0]
    raw[end + 12:end + 16] = struct.pack("<I", size + 12)  # the central directory grew by 12 bytes
    path.write_bytes(bytes(raw))
    with zipfile.ZipFile(path) as zf:
        assert zf.getinfo("coefficients.bin").file_size == 2**40
    tracemalloc.start()
    try:
        with opened_entries() as opened:
            with pytest.raises(ModelSerializerException,
                               match="coefficients.bin: declared uncompressed size 1099511627776"):
                MultiLayerNetwork.load(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "coefficients.bin" not in opened
    assert peak < 8 << 20


def test_real_deflate_bomb_refused_before_decompression(tmp_path):
    """64 MiB of zeros deflate to 64 kB (1000:1, within what deflate can do): the network's configuration needs
    102 parameters, so the entry is refused from its declared size without being decompressed."""
    entries = _moon_entries()
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("configuration.json", entries["configuration.json"])
        zf.writestr("coefficients.bin", b"\x00" * (64 << 20))
    assert path.stat().st_size < 200_000
    tracemalloc.start()
    try:
        with opened_entries() as opened:
            with pytest.raises(ModelSerializerException, match="more than the configuration can need"):
                MultiLayerNetwork.load(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert opened == ["configuration.json"]
    assert peak < 8 << 20


def test_bomb_disguised_as_an_unused_entry_is_never_decompressed(tmp_path):
    entries = _moon_entries()
    path = tmp_path / "m.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
        zf.writestr("normalizer.bin", b"\x00" * (32 << 20))
    with opened_entries() as opened:
        net = MultiLayerNetwork.load(path)
    assert "normalizer.bin" not in opened and net.other_zip_entries == ["normalizer.bin"]


@pytest.mark.parametrize("method", [zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])
def test_other_compression_methods_refused(tmp_path, method):
    path = tmp_path / "m.zip"
    _write_zip(path, _moon_entries(), method)
    with opened_entries() as opened:
        with pytest.raises(ModelSerializerException, match=f"compression method {method} is not supported"):
            MultiLayerNetwork.load(path)
    assert opened == []


def test_lzma_method_flag_on_deflated_data_refused(tmp_path):
    """The method field flipped to 14 (LZMA) on deflate data used to escape as lzma.LZMAError."""
    path = tmp_path / "m.zip"
    _write_zip(path, _moon_entries())
    raw = bytearray(path.read_bytes())
    for sig, off in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):
        i = raw.find(sig)
        while i >= 0:
            raw[i + off:i + off + 2] = struct.pack("<H", 14)
            i = raw.find(sig, i + 4)
    path.write_bytes(bytes(raw))
    with pytest.raises(ModelSerializerException, match="compression method 14"):
        MultiLayerNetwork.load(path)


def test_encrypted_entries_refused(tmp_path):
    path = tmp_path / "m.zip"
    _write_zip(path, _moon_entries())
    raw = bytearray(path.read_bytes())
    for sig, off in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        i = raw.find(sig)
        while i >= 0:
            raw[i + off] |= 0x01
            i = raw.find(sig, i + 4)
    path.write_bytes(bytes(raw))
    with pytest.raises(ModelSerializerException, match="encrypted"):
        MultiLayerNetwork.load(path)


def test_decompression_stops_at_the_declared_size(tmp_path):
    """An entry whose data inflates to more than its (small) declared size is stopped, not read to the end."""
    entries = _moon_entries()
    entries["coefficients.bin"] = entries["coefficients.bin"] + b"\x00" * 100_000
    path = tmp_path / "m.zip"
    _write_zip(path, entries)
    path.write_bytes(_patch_declared_size(path.read_bytes(), "coefficients.bin", 600))
    with pytest.raises(ModelSerializerException, match="coefficients.bin"):
        MultiLayerNetwork.load(path)
