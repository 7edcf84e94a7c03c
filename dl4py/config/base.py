"""The base of every dl4py configuration class, and the one place where an option is declared.

An option is a pydantic field. Its three spellings come from the field itself:

* the Python keyword / attribute: the field name, snake_case (``n_in``, ``encoder_layer_sizes``);
* the JSON key DL4J's Jackson writes: the field alias (``nin``, ``encoderLayerSizes``, ``activationFn``);
* the builder method(s): camelCase of the field name (``nIn``), plus extra DL4J names given with
  ``option(builder=...)`` (``activation`` for ``activationFn``...). Every builder method also answers to its
  snake_case name. See :mod:`dl4py.config.builder`.

Validation lives in the models (field types, validators, model validators), so a config built by a builder, by
keyword arguments or from JSON is checked by the same code.
"""
from __future__ import annotations

import math
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .._naming import snake_to_camel
from ..exceptions import DL4JInvalidConfigException

_OPTION_KEY = "dl4j"

#: a Java ``long`` (DL4J's seeds): dl4py refuses integers DL4J could not read back
JavaLong = Annotated[int, Field(ge=-(2**63), le=2**63 - 1)]


def option(
    default: Any = ...,
    *,
    json: str | None = None,
    builder: tuple[str, ...] = (),
    default_factory: Any = None,
    serialize: bool = True,
    doc: str | None = None,
) -> Any:
    """Declare a DL4J option: ``json`` is the Jackson key (default camelCase of the field name), ``builder`` extra
    builder-method names (camelCase of the field name is always one), ``serialize=False`` keeps it out of JSON."""
    extra = {_OPTION_KEY: {"builder": tuple(builder), "serialize": serialize}}
    kwargs: dict[str, Any] = {"json_schema_extra": extra, "description": doc}
    if json is not None:
        kwargs["alias"] = json
    if default_factory is not None:
        return Field(default_factory=default_factory, **kwargs)
    return Field(default, **kwargs)


def option_meta(field_info: Any) -> dict[str, Any]:
    extra = field_info.json_schema_extra if isinstance(field_info.json_schema_extra, dict) else {}
    return extra.get(_OPTION_KEY, {"builder": (), "serialize": True})


class Dl4jConfig(BaseModel):
    """Base of all configuration classes (layers, activations, losses, updaters, schedules, ...).

    Class attributes describe the JSON form: ``java_class`` is DL4J's fully qualified class name (the ``@class``
    value), ``type_property`` the Jackson type key (``"@class"``; ``"type"`` for weight-init distributions),
    ``write_nulls`` whether null-valued fields are written, ``legacy_names`` the pre-1.0.0-beta wrapper names.
    """

    model_config = ConfigDict(
        populate_by_name=True,
        validate_assignment=True,
        extra="forbid",
        alias_generator=snake_to_camel,
        protected_namespaces=(),
    )

    java_class: ClassVar[str | None] = None
    type_property: ClassVar[str] = "@class"
    write_nulls: ClassVar[bool] = True
    legacy_names: ClassVar[tuple[str, ...]] = ()
    #: False for plain containers (no type property in JSON, e.g. NeuralNetConfiguration)
    polymorphic: ClassVar[bool] = True

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        from .builder import attach_builder

        attach_builder(cls)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if args:
            kwargs = self._positional_to_keywords(args, kwargs)
        try:
            super().__init__(**kwargs)
        except ValidationError as exc:
            raise config_error_from_validation(exc, type(self)) from None

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in type(self).model_fields:
            super().__setattr__(name, value)
            return
        previous = self.__dict__.get(name)
        try:
            super().__setattr__(name, value)
        except ValidationError as exc:
            # pydantic stores the value before running model-level validators: put the old one back, so a
            # rejected assignment leaves the object as it was.
            self.__dict__[name] = previous
            raise config_error_from_validation(exc, type(self)) from None

    @classmethod
    def _positional_to_keywords(cls, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        """Map DL4J-style constructor arguments (``ActivationLReLU(0.2)``) onto fields: in the order
        ``_positional_names`` gives (declaration order unless a class mirrors a different Java constructor)."""
        names = cls._positional_names(args)
        if len(args) > len(names):
            raise DL4JInvalidConfigException(
                f"{cls.__name__}: takes at most {len(names)} positional argument(s) ({', '.join(names)}), got {len(args)}"
            )
        merged = dict(zip(names, args))
        for key, value in kwargs.items():
            if key in merged:
                raise DL4JInvalidConfigException(f"{cls.__name__}: option {key!r} given twice")
            merged[key] = value
        return merged

    @classmethod
    def _positional_names(cls, args: tuple[Any, ...]) -> list[str]:
        """Field names that positional constructor arguments fill (override to mirror a Java constructor)."""
        return [n for n, f in cls.model_fields.items() if option_meta(f).get("serialize", True)]

    # -- JSON hooks (see dl4py.serde.json_codec) ------------------------------------------------------------
    def _to_dl4j_fixups(self, body: dict[str, Any]) -> None:
        """Adjust the JSON body before it is written (default: nothing)."""

    @classmethod
    def _legacy_fixups(cls, body: dict[str, Any], path: str) -> dict[str, Any]:
        """Map fields of older DL4J formats onto the current ones before parsing (default: nothing)."""
        return body

    # -- DL4J-style conveniences -------------------------------------------------------------------------
    def clone(self) -> "Dl4jConfig":
        """A deep copy (DL4J's ``clone()``)."""
        return self.model_copy(deep=True)

    def __eq__(self, other: object) -> bool:
        # NaN-aware equality: DL4J configs hold NaN as a meaningful "unset" value (e.g. learningRate with a schedule).
        if type(self) is not type(other):
            return False
        return all(_values_equal(getattr(self, n), getattr(other, n)) for n in type(self).model_fields)

    __hash__ = None  # type: ignore[assignment]

    def toJson(self) -> str:
        """DL4J's Jackson JSON for this object (pretty printed, keys sorted)."""
        from ..serde.json_codec import to_json

        return to_json(self)

    def toYaml(self) -> str:
        """The same document as YAML (needs the optional PyYAML extra)."""
        from ..serde.json_codec import to_yaml

        return to_yaml(self)

    to_json = toJson
    to_yaml = toYaml


def _values_equal(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_values_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_values_equal(a[k], b[k]) for k in a)
    return a == b


def dl4j_name(cls: type[BaseModel], field_name: str) -> str:
    """The name a DL4J user knows an option by: its main builder method, camelCase of the field name (``nIn``,
    ``weightInit``, ``nOut``), never an extra alias such as ``dist`` or ``units``."""
    if field_name not in cls.model_fields:
        return field_name
    return snake_to_camel(field_name)


def describe_location(cls: type[BaseModel], loc: tuple[Any, ...]) -> str:
    """Turn a pydantic error location into DL4J option names: ``('confs', 0, 'layer', 'nin')`` ->
    ``confs[0].layer.nIn``."""
    parts: list[str] = []
    current: Any = cls
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
            continue
        name = str(item)
        field_name = None
        if isinstance(current, type) and issubclass(current, BaseModel):
            for fname, finfo in current.model_fields.items():
                if name in (fname, finfo.alias):
                    field_name = fname
                    break
        if field_name is not None:
            shown = dl4j_name(current, field_name)
            annotation = current.model_fields[field_name].annotation
            current = _model_in(annotation)
        else:
            shown = name
            current = None
        parts.append(("." if parts else "") + shown)
    return "".join(parts)


def _model_in(annotation: Any) -> type[BaseModel] | None:
    from typing import get_args

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def config_error_from_validation(exc: ValidationError, cls: type[BaseModel], context: str = "") -> DL4JInvalidConfigException:
    """One readable DL4JInvalidConfigException from a pydantic ValidationError, with DL4J option names."""
    lines = []
    for err in exc.errors():
        where = describe_location(cls, tuple(err.get("loc", ())))
        msg = err.get("msg", "invalid value").removeprefix("Value error, ")
        value = err.get("input")
        shown_value = "" if isinstance(value, (dict, BaseModel)) or "got " in msg else f" (got {value!r})"
        lines.append(f"{where}: {msg}{shown_value}" if where else f"{msg}{shown_value}")
    head = context or cls.__name__
    return DL4JInvalidConfigException(f"{head}: " + "; ".join(lines))
