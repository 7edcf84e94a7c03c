"""Configuration objects <-> DL4J's Jackson JSON (and YAML), generically from the field declarations.

Writing: every serialisable field is written under its alias (the Jackson key), keys sorted with the type
property first, nulls written or omitted per class (``write_nulls``), floats in Java spelling.
Reading: the type property (or a pre-1.0.0-beta wrapper name) is resolved through the allow-list registry only;
unknown keys are ignored as DL4J ignores them; classes may repair legacy fields first (``_legacy_fixups``).
Every error names the path inside the document (``confs[0].layer.encoderLayerSizes[1]``).
"""
from __future__ import annotations

import enum
import json
import math
import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from ..config.base import Dl4jConfig, option_meta
from ..exceptions import DL4JInvalidConfigException, InvalidJsonException
from . import jackson
from .registry import lookup_class, lookup_legacy, registered_names

_NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
MAX_DOCUMENT_DEPTH = 64
#: most values (objects, arrays and scalars, counted as the reader will visit them) in one document; bounds the
#: work of YAML alias expansion ("billion laughs") and of absurdly large arrays
MAX_DOCUMENT_NODES = 1_000_000
#: DL4J's integer options are Java ints or longs: larger integers cannot come from (or go back to) DL4J
_JAVA_LONG_MIN, _JAVA_LONG_MAX = -(2**63), 2**63 - 1


# ---------------------------------------------------------------------------------------------------------
# writing
# ---------------------------------------------------------------------------------------------------------
def to_dl4j_data(obj: Any) -> Any:
    """Plain JSON data for ``obj`` in DL4J's layout (dicts ordered as Jackson writes them)."""
    if isinstance(obj, Dl4jConfig):
        return _model_to_data(obj)
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, (list, tuple)):
        return [to_dl4j_data(v) for v in obj]
    if isinstance(obj, dict):
        return {str(k): to_dl4j_data(v) for k, v in obj.items()}
    if isinstance(obj, bool) or obj is None or isinstance(obj, (int, float, str)):
        return obj
    if hasattr(obj, "item"):  # numpy scalar
        return obj.item()
    raise DL4JInvalidConfigException(f"cannot write a {type(obj).__name__} value to DL4J JSON: {obj!r}")


def _model_to_data(obj: Dl4jConfig) -> dict[str, Any]:
    cls = type(obj)
    body: dict[str, Any] = {}
    for name, info in cls.model_fields.items():
        if not option_meta(info).get("serialize", True):
            continue
        value = getattr(obj, name)
        if value is None and not cls.write_nulls:
            continue
        body[info.alias or name] = to_dl4j_data(value)
    obj._to_dl4j_fixups(body)
    ordered: dict[str, Any] = {}
    if cls.polymorphic:
        # Only registered classes are written: an unregistered subclass would otherwise be written under its
        # parent's name (or with no type at all) and silently read back as something else.
        if cls.java_class is None or registered_names().get(cls.java_class) is not cls:
            raise DL4JInvalidConfigException(
                f"cannot write {cls.__module__}.{cls.__qualname__} to DL4J JSON: the class is not registered; "
                "register it with dl4py.serde.registry.register_class(java_name, cls)"
            )
        ordered[cls.type_property] = cls.java_class
    for key in sorted(body):
        ordered[key] = body[key]
    return ordered


def to_json(obj: Any, newline: str = "\n") -> str:
    """DL4J-format JSON text."""
    return jackson.dumps(to_dl4j_data(obj), newline)


def to_yaml(obj: Any) -> str:
    """The same document as YAML (PyYAML extra: ``pip install dl4py[yaml]``)."""
    yaml = _import_yaml()
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml when available: same document, faster
    return yaml.dump(_yaml_safe(to_dl4j_data(obj)), Dumper=dumper, sort_keys=False, default_flow_style=False,
                     allow_unicode=True)


def _yaml_safe(data: Any) -> Any:
    # YAML has .nan/.inf, but DL4J's YAML mapper writes them as the strings Jackson uses; keep one convention.
    if isinstance(data, float) and not math.isfinite(data):
        return "NaN" if math.isnan(data) else ("Infinity" if data > 0 else "-Infinity")
    if isinstance(data, dict):
        return {k: _yaml_safe(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_yaml_safe(v) for v in data]
    return data


def _import_yaml():
    try:
        import yaml
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("YAML support needs PyYAML: pip install 'dl4py[yaml]'") from exc
    return yaml


# ---------------------------------------------------------------------------------------------------------
# reading
# ---------------------------------------------------------------------------------------------------------
def parse_json_text(text: str | bytes, what: str = "document") -> Any:
    """``json.loads`` with DL4J's conventions and dl4py's errors: duplicate keys and excessive nesting refused."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidJsonException(f"{what}: not UTF-8 text ({exc})") from None
    if not isinstance(text, str):
        raise InvalidJsonException(f"{what}: expected JSON text, got {type(text).__name__}")

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in pairs:
            if key in out:
                raise InvalidJsonException(f"{what}: duplicated key {key!r} in one object")
            out[key] = value
        return out

    try:
        data = json.loads(text, object_pairs_hook=no_duplicates)
    except InvalidJsonException:
        raise
    except RecursionError:
        raise InvalidJsonException(f"{what}: nested too deeply") from None
    except (ValueError, TypeError) as exc:
        raise InvalidJsonException(f"{what}: malformed JSON: {exc}") from None
    _check_depth(data, what)
    return data


def parse_yaml_text(text: str, what: str = "document") -> Any:
    yaml = _import_yaml()
    try:
        # the pure-Python safe loader on purpose: libyaml's CSafeLoader crashes the interpreter on deeply nested
        # input; the depth limit stops it early, as PyYAML's scanner is quadratic in the nesting of [ and {
        data = yaml.load(text, Loader=_depth_limited_loader(yaml))
    except InvalidJsonException as exc:
        raise InvalidJsonException(f"{what}: {exc}") from None
    except yaml.YAMLError as exc:
        raise InvalidJsonException(f"{what}: malformed YAML: {exc}") from None
    except (ValueError, TypeError, OverflowError, KeyError, IndexError, AttributeError) as exc:
        # PyYAML's constructors fail this way on tagged scalars they cannot build (!!float abc, !!bool maybe,
        # !!int "", !!timestamp maybe)
        raise InvalidJsonException(f"{what}: malformed YAML: {type(exc).__name__}: {exc}") from None
    except RecursionError:
        raise InvalidJsonException(f"{what}: nested too deeply") from None
    _check_depth(data, what)
    return data


_YAML_LOADER: Any = None


def _depth_limited_loader(yaml: Any) -> Any:
    """PyYAML's SafeLoader, refusing nodes nested deeper than MAX_DOCUMENT_DEPTH while it composes them (before
    the rest of the text is scanned)."""
    global _YAML_LOADER
    if _YAML_LOADER is None:

        class DepthLimitedSafeLoader(yaml.SafeLoader):
            def compose_node(self, parent: Any, index: Any) -> Any:
                depth = getattr(self, "_dl4py_depth", 0) + 1
                if depth > MAX_DOCUMENT_DEPTH:
                    raise InvalidJsonException(f"nested deeper than {MAX_DOCUMENT_DEPTH} levels")
                self._dl4py_depth = depth
                try:
                    return super().compose_node(parent, index)
                finally:
                    self._dl4py_depth = depth - 1

        _YAML_LOADER = DepthLimitedSafeLoader
    return _YAML_LOADER


def _check_depth(data: Any, what: str) -> None:
    """Refuse documents nested too deeply or with too many values. YAML aliases are counted each time they are
    referenced (the reader expands them), so an alias bomb is refused after a bounded walk."""
    stack: list[tuple[Any, int]] = [(data, 0)]
    visited = 0
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DOCUMENT_DEPTH:
            raise InvalidJsonException(f"{what}: nested deeper than {MAX_DOCUMENT_DEPTH} levels")
        visited += 1
        if visited > MAX_DOCUMENT_NODES:
            raise InvalidJsonException(
                f"{what}: more than {MAX_DOCUMENT_NODES} values (YAML aliases count each time they are used)")
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)


def from_dl4j_data(data: Any, expected: type[Dl4jConfig], path: str) -> Dl4jConfig:
    """Build a configuration object of (a subclass of) ``expected`` from DL4J JSON data at ``path``."""
    hook = getattr(expected, "_from_non_object", None)
    if not isinstance(data, dict):
        if hook is not None:
            try:
                converted = hook(data, path)
            except DL4JInvalidConfigException as exc:
                raise InvalidJsonException(f"{path}: {exc}") from None
            if converted is not None:
                return converted
        raise InvalidJsonException(f"{path}: expected an object for {expected.__name__}, got {_short(data)}")
    if not expected.polymorphic:
        return build_from_body(expected, data, path)
    cls, body = _resolve_type(data, expected, path)
    return build_from_body(cls, body, path)


def _resolve_type(data: dict[str, Any], expected: type[Dl4jConfig], path: str) -> tuple[type[Dl4jConfig], dict[str, Any]]:
    type_key = expected.type_property
    for key in (type_key, "@class", "type"):
        if key in data and isinstance(data.get(key), str) and (key == type_key or key == "@class"):
            cls = lookup_class(data[key], expected, f"{path}.{key}" if path else key)
            body = {k: v for k, v in data.items() if k != key}
            return cls, body
    if len(data) == 1:
        (name, inner), = data.items()
        legacy = lookup_legacy(name, expected)
        if legacy is not None:
            if inner is None:
                inner = {}
            if not isinstance(inner, dict):
                raise InvalidJsonException(f"{path}.{name}: expected an object, got {_short(inner)}")
            return legacy, inner
        if name in ("RBM", "rbm"):
            raise InvalidJsonException(
                f"{path}: the RBM layer was removed from DL4J in 0.9.0 and is not supported by dl4py "
                "(use VariationalAutoencoder or AutoEncoder)"
            )
    default = getattr(expected, "_default_json_class", None)
    if default is not None:
        return default(), data
    raise InvalidJsonException(
        f"{path}: missing the type property {type_key!r} (or a legacy wrapper name) for {expected.__name__}; "
        f"keys present: {sorted(map(str, data))[:8]}"
    )


def build_from_body(cls: type[Dl4jConfig], body: dict[str, Any], path: str) -> Dl4jConfig:
    """Construct ``cls`` from its JSON body (type property removed)."""
    body = cls._legacy_fixups(dict(body), path)
    kwargs: dict[str, Any] = {}
    for name, info in cls.model_fields.items():
        if not option_meta(info).get("serialize", True):
            continue
        key = info.alias or name
        where = f"{path}.{key}" if path else key
        if key not in body:
            if info.is_required():
                raise InvalidJsonException(f"{where}: missing required key {key!r} ({cls.__name__})")
            continue
        kwargs[name] = convert_value(body[key], info.annotation, where)
    try:
        return cls(**kwargs)
    except DL4JInvalidConfigException as exc:
        where = f"{path} ({cls.__name__})" if path else cls.__name__
        raise InvalidJsonException(f"{where}: {_strip_head(str(exc), cls)}") from None


def _strip_head(message: str, cls: type) -> str:
    prefix = f"{cls.__name__}: "
    return message[len(prefix):] if message.startswith(prefix) else message


def convert_value(value: Any, annotation: Any, path: str) -> Any:
    """Convert JSON data to what a field of type ``annotation`` takes (nested configs, NaN strings)."""
    if value is None or isinstance(value, Dl4jConfig):
        return value  # legacy fix-ups may have built the object already
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return convert_value(value, args[0], path)
    if origin is typing.Union or str(origin) == "types.UnionType":
        non_none = [a for a in args if a is not type(None)]
        model_args = [a for a in non_none if _config_class(a) is not None or typing.get_origin(a) in (list, dict)]
        target = model_args[0] if model_args else (non_none[0] if len(non_none) == 1 else None)
        if target is None:
            return _plain(value)
        return convert_value(value, target, path)
    if origin in (list, tuple):
        if not isinstance(value, list):
            raise InvalidJsonException(f"{path}: expected an array, got {_short(value)}")
        item_type = args[0] if args else Any
        return [convert_value(v, item_type, f"{path}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise InvalidJsonException(f"{path}: expected an object, got {_short(value)}")
        value_type = args[1] if len(args) == 2 else Any
        return {k: convert_value(v, value_type, f"{path}.{k}") for k, v in value.items()}
    cfg = _config_class(annotation)
    if cfg is not None:
        return from_dl4j_data(value, cfg, path)
    if annotation is float:
        if isinstance(value, str):
            if value in _NON_FINITE:
                return _NON_FINITE[value]
            raise InvalidJsonException(f"{path}: expected a number, got {_short(value)}")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidJsonException(f"{path}: expected a number, got {_short(value)}")
        try:
            return float(value)
        except OverflowError:
            raise InvalidJsonException(f"{path}: number out of the range of a double, got {_short(value)}") from None
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer() and _JAVA_LONG_MIN <= value <= _JAVA_LONG_MAX:
                return int(value)
            raise InvalidJsonException(f"{path}: expected an integer, got {_short(value)}")
        if not _JAVA_LONG_MIN <= value <= _JAVA_LONG_MAX:
            raise InvalidJsonException(
                f"{path}: integer out of the range of a Java long [{_JAVA_LONG_MIN}, {_JAVA_LONG_MAX}], got {_short(value)}")
        return value
    if annotation is bool and not isinstance(value, bool):
        raise InvalidJsonException(f"{path}: expected true or false, got {_short(value)}")
    if annotation is str:
        if not isinstance(value, str):
            raise InvalidJsonException(f"{path}: expected a string, got {_short(value)}")
        return value  # "NaN" is a NaN only where a number is expected (a layer may be named "NaN")
    return _plain(value)


def _plain(value: Any) -> Any:
    if isinstance(value, str) and value in _NON_FINITE:
        return _NON_FINITE[value]
    return value


def _config_class(annotation: Any) -> type[Dl4jConfig] | None:
    if isinstance(annotation, type) and issubclass(annotation, Dl4jConfig):
        return annotation
    return None


def _short(value: Any) -> str:
    """A short rendering of any parsed value for error messages (YAML can hold dates, sets, bytes...)."""
    try:
        text = json.dumps(value) if not isinstance(value, (set, bytes)) else repr(value)
    except (TypeError, ValueError, RecursionError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def validation_to_json_error(exc: ValidationError, path: str, cls: type[BaseModel]) -> InvalidJsonException:
    parts = []
    for err in exc.errors():
        loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err.get("loc", ()))
        parts.append(f"{path}{loc}: {err.get('msg', 'invalid')}")
    return InvalidJsonException("; ".join(parts))
