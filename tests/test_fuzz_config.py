"""Fuzzing the DL4J JSON and YAML readers with mutations of DL4J's own documents.

The documents are every configuration DL4J wrote into ../shared/fixtures/dl4j: the integration tests'
``config.mlc.json``, the two older ``configs/*.json`` and the ``configuration.json`` inside every model zip (0.5.0
to 1.0.0-beta6). Mutations: dropped keys, values of the wrong type, out-of-range numbers, unknown or wrong-kind
``@class`` names, legacy wrapper objects, deep nesting, huge arrays, duplicated keys (raw text edits), truncation
and character damage. ``MultiLayerConfiguration.fromJson``/``fromYaml`` must either return a configuration that
round-trips unchanged, or raise one of the two documented exceptions (InvalidJsonException — with its subclass
UnknownClassException — or DL4JInvalidConfigException); any other exception (KeyError, TypeError,
AttributeError, RecursionError, OverflowError, pydantic's ValidationError, ...) fails the test, and so does a
parse that takes more than a few seconds.
"""
from __future__ import annotations

import copy
import json
import re
import time
import zipfile
from collections import Counter
from typing import Any, Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dl4py.exceptions import DL4JInvalidConfigException, InvalidJsonException
from dl4py.nn.conf import MultiLayerConfiguration
from dl4py.serde import json_codec
from dl4py.serde.registry import registered_names

from tests._fuzz import examples, report_fixture
from tests.conftest import fixture_path

pytestmark = pytest.mark.fixtures

CASES: Counter = Counter()
_report = report_fixture("test_fuzz_config", CASES)

DOCUMENT_FILES = [
    "integration/MLPMnist/config.mlc.json",
    "integration/MLPMoon/config.mlc.json",
    "integration/VAEMnistAnomaly/config.mlc.json",
    "configs/VAEMnistAnomaly_2018_legacy.mlc.json",
    "configs/VAEMnistAnomaly_2020-04-07_lrelu.mlc.json",
]
MODEL_ZIPS = [f"regression/{v}/{v}_ModelSerializer_Regression_MLP_{k}.zip" for v in ("050", "060", "071", "080")
              for k in (1, 2)] + [
    "integration/MLPMoon/Model_RANDOM_INIT_UNTRAINED.zip",
    "integration/MLPMnist/Model_RANDOM_INIT_UNTRAINED.zip",
    "integration/VAEMnistAnomaly/Model_RANDOM_INIT_UNTRAINED.zip",
    "regression/100b6/VaeMNISTAnomaly_100b6.bin",  # a model zip despite its name
]
DOCUMENTED = (InvalidJsonException, DL4JInvalidConfigException)
MAX_SECONDS = 60.0  # a hang guard, generous for a loaded 2-core CI machine (not a speed test)


@pytest.fixture(scope="module")
def documents() -> list[tuple[str, str]]:
    """(name, JSON text) of every DL4J-written configuration in the fixtures."""
    docs = [(name, fixture_path(name).read_text(encoding="utf-8")) for name in DOCUMENT_FILES]
    for name in MODEL_ZIPS:
        with zipfile.ZipFile(fixture_path(name)) as zf:
            docs.append((f"{name}!configuration.json", zf.read("configuration.json").decode("utf-8")))
    return docs


@pytest.fixture(scope="module")
def parsed(documents) -> list[tuple[str, Any]]:
    return [(name, json.loads(text)) for name, text in documents]


@pytest.fixture(scope="module")
def yaml_documents(documents) -> list[tuple[str, str]]:
    return [(name, MultiLayerConfiguration.fromJson(text).toYaml()) for name, text in documents]


def outcome(read: Callable[[], MultiLayerConfiguration], kind: str) -> str:
    """Run one read: a configuration that round-trips, or a documented exception. Counts the case."""
    start = time.perf_counter()
    try:
        conf = read()
    except DOCUMENTED as exc:
        assert str(exc), "a documented exception without a message"
        result = "refused"
    else:
        assert isinstance(conf, MultiLayerConfiguration)
        assert MultiLayerConfiguration.fromJson(conf.toJson()) == conf, "loaded but does not round-trip"
        result = "loaded"
    elapsed = time.perf_counter() - start
    assert elapsed < MAX_SECONDS, f"one read took {elapsed:.1f} s"
    CASES[f"{kind}_{result}"] += 1
    return result


# ------------------------------------------------------------------------------------------------------------
# mutations of the parsed document
# ------------------------------------------------------------------------------------------------------------
def _paths(node: Any, path: tuple = ()) -> list[tuple]:
    out = [path] if path else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, path + (i,))
    return out


def _parent(doc: Any, path: tuple) -> Any:
    for step in path[:-1]:
        doc = doc[step]
    return doc


REGISTERED = sorted(registered_names())
HOSTILE_CLASS_NAMES = ["os.system", "builtins.eval", "subprocess.Popen", "dl4py.nn.multilayer.MultiLayerNetwork",
                       "dl4py.config.base.Dl4jConfig", "__builtins__", "", "org.deeplearning4j.nn.conf.layers.RBM"]
OUT_OF_RANGE = [10**400, -(10**400), 2**63, -(2**63) - 1, 2**31, -(2**31) - 1, 10**30, 1e308, -1e308, 5e-324, -0.0,
                0, -1, 1.5, "NaN", "Infinity", "-Infinity", "1e999", "0x10", ""]
SCALARS = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=8)
SPECIAL = st.sampled_from(OUT_OF_RANGE) | st.sampled_from(
    ["XAVIER", "DISTRIBUTION", "RELU", "leakyrelu", "ADAM", "NONE", "ENABLED", "Standard", "FLOAT", "HALF", "INT",
     "dense", "os.system", "org.deeplearning4j.nn.conf.layers.DenseLayer"])
JUNK = st.recursive(
    SCALARS | SPECIAL,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["@class", "type", "nin", "nout", "values", "0", "dense", "normal", "LReLU", "Composite",
                         "activationFn", "layer", "confs", "data", "x"]), inner, max_size=4),
    max_leaves=8,
)


def _nested(depth: int, kind: str) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value] if kind == "list" else {"x": value}
    return value


@st.composite
def replacement(draw) -> Any:
    """A value to put somewhere it does not belong."""
    choice = draw(st.integers(0, 9))
    if choice <= 3:
        return draw(JUNK)
    if choice == 4:
        return draw(SPECIAL)
    if choice == 5:  # an object naming an unknown, hostile or wrong-kind class
        name = draw(st.sampled_from(HOSTILE_CLASS_NAMES) | st.sampled_from(REGISTERED))
        return {draw(st.sampled_from(["@class", "type"])): name, **draw(st.dictionaries(
            st.sampled_from(["nin", "nout", "alpha", "learningRate", "mean", "std"]), SCALARS, max_size=2))}
    if choice == 6:  # a legacy wrapper object
        return {draw(st.sampled_from(["dense", "output", "autoEncoder", "VariationalAutoencoder", "RBM", "normal",
                                      "uniform", "Gaussian", "Bernoulli", "LReLU", "os.system"])): draw(JUNK)}
    if choice == 7:  # deep nesting
        return _nested(draw(st.sampled_from([30, 63, 65, 200])), draw(st.sampled_from(["list", "dict"])))
    if choice == 8:  # a large array
        n = draw(st.sampled_from([1000, 5000, 20000]))
        item = draw(st.sampled_from([1, 0, -1, 2.5, "x", None]))
        return [item] * n
    return draw(st.sampled_from(OUT_OF_RANGE))


def mutate_data(doc: Any, data) -> Any:
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        paths = _paths(doc)
        if not paths:
            break
        path = data.draw(st.sampled_from(paths), label="path")
        parent = _parent(doc, path)
        op = data.draw(st.sampled_from(["drop", "replace", "replace", "class", "rename", "swap"]), label="op")
        if op == "drop" and isinstance(parent, dict):
            del parent[path[-1]]
        elif op == "drop":  # list element
            del parent[path[-1]]
        elif op == "class":
            target = parent[path[-1]] if isinstance(parent[path[-1]], dict) else parent
            if isinstance(target, dict):
                key = "type" if "type" in target and "@class" not in target else "@class"
                target[key] = data.draw(st.sampled_from(REGISTERED + HOSTILE_CLASS_NAMES), label="class")
        elif op == "rename" and isinstance(parent, dict):
            value = parent.pop(path[-1])
            parent[data.draw(st.sampled_from(["x", "@class", "type", "nIn", str(path[-1]).upper(),
                                              str(path[-1]) + " "]), label="key")] = value
        elif op == "swap":
            other = data.draw(st.sampled_from(paths), label="other")
            other_parent = _parent(doc, other)
            try:
                parent[path[-1]], other_parent[other[-1]] = other_parent[other[-1]], parent[path[-1]]
            except (KeyError, IndexError):  # one path disappeared inside the other
                pass
        else:
            parent[path[-1]] = data.draw(replacement(), label="value")
    return doc


# ------------------------------------------------------------------------------------------------------------
# raw text mutations
# ------------------------------------------------------------------------------------------------------------
KEY_LINE = re.compile(r'^(\s*)"([^"]+)" : (.*?)(,?)\r?$')
NUMBER = re.compile(r"(?<![\w.\"])-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?![\w.\"])")
NUMBER_SPELLINGS = ["1e999", "-1e999", "1E-400", "123456789012345678901234567890", "NaN", "Infinity", "-Infinity",
                    "-0", "0.0", "9223372036854775808", "-9223372036854775809", "1e308", "2147483648", "007", "1.",
                    ".5", "+1", "0x1F", "1_000"]


def duplicate_key(text: str, data) -> str:
    """Insert a copy of one ``"key" : value`` line before itself (a JSON object with a repeated key)."""
    lines = text.split("\n")
    candidates = [i for i, line in enumerate(lines) if KEY_LINE.match(line) and not line.rstrip().endswith(("{", "["))]
    if not candidates:
        return text
    i = data.draw(st.sampled_from(candidates), label="dup line")
    line = lines[i].rstrip("\r")
    copy_line = line if line.endswith(",") else line + ","
    value = data.draw(st.sampled_from(["same", "other"]), label="dup value")
    if value == "other":
        indent, key = KEY_LINE.match(line).group(1, 2)
        copy_line = f'{indent}"{key}" : {json.dumps(data.draw(SCALARS, label="dup scalar"))},'
    lines.insert(i, copy_line)
    return "\n".join(lines)


def mutate_text(text: str, data) -> str:
    for _ in range(data.draw(st.integers(1, 3), label="edits")):
        if not text:
            break
        op = data.draw(st.sampled_from(["truncate", "char", "insert", "delete", "number", "duplicate", "duplicate",
                                        "deep"]), label="text op")
        pos = data.draw(st.integers(0, len(text) - 1), label="pos")
        if op == "truncate":
            text = text[:pos]
        elif op == "char":
            text = text[:pos] + data.draw(st.sampled_from(list('{}[]",:0123456789-+eE.\\ \n\t\x00aZ\u00e9')),
                                          label="char") + text[pos + 1:]
        elif op == "insert":
            text = text[:pos] + data.draw(st.sampled_from(
                ['"', "{", "[", "]", "}", ",", ": null", '"@class" : "os.system", ', "NaN", "\ufeff", "/*x*/"]),
                label="insert") + text[pos:]
        elif op == "delete":
            text = text[:pos] + text[pos + data.draw(st.integers(1, 40), label="len"):]
        elif op == "number":
            matches = list(NUMBER.finditer(text))
            if matches:
                m = data.draw(st.sampled_from(matches), label="number")
                text = text[:m.start()] + data.draw(st.sampled_from(NUMBER_SPELLINGS), label="spelling") + text[m.end():]
        elif op == "duplicate":
            text = duplicate_key(text, data)
        else:  # deep nesting spliced in as a value
            depth = data.draw(st.sampled_from([100, 1000, 100_000]), label="depth")
            text = text[:pos] + "[" * depth + "]" * depth + text[pos:]
    return text


# ------------------------------------------------------------------------------------------------------------
# the tests
# ------------------------------------------------------------------------------------------------------------
def test_every_document_loads_and_round_trips(documents):
    """The unmutated documents are the baseline: all load and round-trip."""
    for name, text in documents:
        assert outcome(lambda: MultiLayerConfiguration.fromJson(text), "original") == "loaded", name


def test_every_key_dropped_or_nulled(parsed):
    """Exhaustive over the five stand-alone documents (the zips' copies are covered by the random tests): each
    key or list element removed, and each value replaced by null, one at a time."""
    for name, doc in parsed[: len(DOCUMENT_FILES)]:
        for path in _paths(doc):
            for op in ("drop", "null"):
                damaged = copy.deepcopy(doc)
                parent = _parent(damaged, path)
                if op == "drop":
                    del parent[path[-1]]
                else:
                    parent[path[-1]] = None
                text = json.dumps(damaged)
                outcome(lambda: MultiLayerConfiguration.fromJson(text), f"exhaustive_{op}")


FUZZ = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                  HealthCheck.large_base_example])


@settings(max_examples=examples(1500), **FUZZ)
@given(data=st.data())
def test_mutated_documents_load_or_fail_cleanly(parsed, data):
    name, original = parsed[data.draw(st.integers(0, len(parsed) - 1), label="document")]
    doc = mutate_data(copy.deepcopy(original), data)
    text = json.dumps(doc)
    outcome(lambda: MultiLayerConfiguration.fromJson(text), "structural")


@settings(max_examples=examples(1500), **FUZZ)
@given(data=st.data())
def test_damaged_text_loads_or_fails_cleanly(documents, data):
    name, text = documents[data.draw(st.integers(0, len(documents) - 1), label="document")]
    damaged = mutate_text(text, data)
    as_bytes = data.draw(st.booleans(), label="bytes")
    payload: str | bytes = damaged.encode("utf-8", "surrogatepass") if as_bytes else damaged
    outcome(lambda: MultiLayerConfiguration.fromJson(payload), "text")


YAML_INSERTS = [" &a [1, 2]", " *a", " *nowhere", " !!set {a, b}", " 2020-01-01", " 2001-12-14t21:59:43.10-05:00",
                " {1: 2, a: 3}", " ~", ": x", " [[[[1]]]]", " !!binary aGVsbG8=", " !!python/object/apply:os.system [id]",
                " !!python/name:os.system", " <<: {nin: 3}", " .inf", " -.inf", " .nan", " 0x" + "f" * 40, " 1e400",
                " |\n  text", "\t", " {" * 70 + "}" * 70, " [" * 2000 + "]" * 2000, " !!float abc",
                " !!int 99999999999999999999999", " !!bool maybe", ' !!int ""', " !!timestamp maybe",
                " !!timestamp 2020-13-45", " @class", " %TAG ! tag:x,2000:", " ? [1, 2]\n  : 3"]


def mutate_yaml(text: str, data) -> str:
    lines = text.split("\n")
    for _ in range(data.draw(st.integers(1, 3), label="yaml edits")):
        if not lines:
            break
        i = data.draw(st.integers(0, len(lines) - 1), label="line")
        op = data.draw(st.sampled_from(["delete", "duplicate", "cut", "append", "append", "indent"]), label="yaml op")
        if op == "delete":
            del lines[i]
        elif op == "duplicate":
            lines.insert(i, lines[data.draw(st.integers(0, len(lines) - 1), label="copy")])
        elif op == "cut":
            lines[i] = lines[i][: data.draw(st.integers(0, len(lines[i])), label="cut at")]
        elif op == "indent":
            lines[i] = data.draw(st.sampled_from([" ", "  ", "\t", ""]), label="pad") + lines[i].lstrip()
        else:
            line = lines[i]
            if ":" in line:
                line = line[: line.index(":") + 1]
            lines[i] = line + data.draw(st.sampled_from(YAML_INSERTS), label="yaml insert")
    return "\n".join(lines)


@settings(max_examples=examples(200), **FUZZ)
@given(data=st.data())
def test_damaged_yaml_loads_or_fails_cleanly(yaml_documents, data):
    name, text = yaml_documents[data.draw(st.integers(0, len(yaml_documents) - 1), label="document")]
    damaged = mutate_yaml(text, data)
    result = outcome(lambda: MultiLayerConfiguration.fromYaml(damaged), "yaml")
    if result == "loaded":
        conf = MultiLayerConfiguration.fromYaml(damaged)
        assert MultiLayerConfiguration.fromYaml(conf.toYaml()) == conf


# ------------------------------------------------------------------------------------------------------------
# the extremes, deterministically
# ------------------------------------------------------------------------------------------------------------
def test_huge_array_is_refused_quickly(parsed):
    doc = copy.deepcopy(dict(parsed)["integration/VAEMnistAnomaly/config.mlc.json"])
    doc["confs"][0]["layer"]["encoderLayerSizes"] = [1] * (json_codec.MAX_DOCUMENT_NODES + 1)
    text = json.dumps(doc)
    start = time.perf_counter()
    with pytest.raises(InvalidJsonException, match="more than 1000000 values"):
        MultiLayerConfiguration.fromJson(text)
    assert time.perf_counter() - start < MAX_SECONDS
    CASES["extreme_refused"] += 1


def test_large_valid_array_is_linear(parsed):
    """A valid but large configuration (5000 encoder layers) loads in time proportional to its size."""
    doc = copy.deepcopy(dict(parsed)["integration/VAEMnistAnomaly/config.mlc.json"])
    doc["confs"][0]["layer"]["encoderLayerSizes"] = [3] * 5000
    assert outcome(lambda: MultiLayerConfiguration.fromJson(json.dumps(doc)), "extreme") == "loaded"


def test_yaml_alias_bomb_is_refused_quickly():
    levels = ["a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    for prev, name in zip("abcdefgh", "bcdefghi"):
        levels.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 10) + "]")
    text = "\n".join(levels) + "\nconfs: [*i]\n"  # 10^9 leaves once expanded
    start = time.perf_counter()
    with pytest.raises(InvalidJsonException, match="more than"):
        MultiLayerConfiguration.fromYaml(text)
    assert time.perf_counter() - start < MAX_SECONDS
    CASES["extreme_refused"] += 1


@pytest.mark.parametrize("text", [
    "confs: &x [*x]",                          # a self-referencing list
    "confs:\n- layer: {1: 2, a: 3}\n",         # mixed-type keys (sorted() in an error message)
    "confs:\n- layer: {'@class': 2020-01-01}\n",  # a date where a class name belongs
    "confs:\n- seed: 2020-01-01\n  layer: {}\n",
    "confs:\n- layer:\n    '@class': org.deeplearning4j.nn.conf.layers.DenseLayer\n    layerName: 2020-01-01\n",
    "confs: !!set {a, b}\n",
    "confs: !!python/object/apply:os.system ['echo pwned']\n",
    "confs: !!bool maybe\n",                 # PyYAML's constructors raise KeyError, IndexError, ... on these
    'confs: !!int ""\n',
    "confs: !!timestamp maybe\n",
    "confs: !!float abc\n",
    "confs: " + " [" * 2000 + " ]" * 2000,    # PyYAML's scanner is quadratic in flow nesting: stopped at 64
    "confs: " + "{a: " * 100_000 + "1" + "}" * 100_000,
    "confs:\n" + "".join(" " * i + "- \n" for i in range(1, 2000)),
])
def test_yaml_specific_values(text):
    assert outcome(lambda: MultiLayerConfiguration.fromYaml(text), "extreme") == "refused"


@pytest.mark.parametrize("value", [10**400, -(10**400), 2**63, 1e300])
@pytest.mark.parametrize("key", ["nin", "nout", "numSamples", "l2", "learningRate", "dropOut", "biasInit"])
def test_out_of_range_numbers_in_the_legacy_document(parsed, key, value):
    """The pre-1.0.0-beta4 document routes numbers through the legacy mapper too."""
    doc = copy.deepcopy(dict(parsed)["configs/VAEMnistAnomaly_2018_legacy.mlc.json"])
    layer = doc["confs"][0]["layer"]
    if key in ("learningRate", "dropOut"):
        layer.pop("iupdater", None)
        layer["updater"] = "ADAM"
    layer[key] = value
    outcome(lambda: MultiLayerConfiguration.fromJson(json.dumps(doc)), "extreme")
