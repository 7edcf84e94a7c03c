"""DL4J's fluent builders, generated from the configuration fields.

Every :class:`~dl4py.config.base.Dl4jConfig` subclass gets a ``Builder`` whose setters are derived from its
fields (one mechanism, no hand-written setter per option). A class that needs a setter with DL4J-specific
behaviour (overloads, conversions, the ``l1``/``l2`` list semantics) writes a nested ``class Builder:`` with just
those methods; it is merged in front of the parent class's builder, mirroring DL4J's builder inheritance.
"""
from __future__ import annotations

import typing
from typing import Any

from .._naming import camel_to_snake, snake_aliases, snake_to_camel
from ..exceptions import DL4JInvalidConfigException
from .base import Dl4jConfig, option_meta


class ConfigBuilder:
    """Base of every generated builder. Holds the options set so far; ``build()`` validates through the model."""

    _target: type[Dl4jConfig] = Dl4jConfig

    def __init__(self, *args: Any) -> None:
        self._values: dict[str, Any] = {}
        if args:
            self._init_args(*args)

    def _init_args(self, *args: Any) -> None:
        raise DL4JInvalidConfigException(
            f"{self._target.__name__}.Builder() takes no arguments, got {len(args)}"
        )

    # -- generated setters ---------------------------------------------------------------------------------
    @classmethod
    def _setter_table(cls) -> dict[str, str]:
        table = cls.__dict__.get("_setters_cache")
        if table is None:
            table = {}
            for fname, finfo in cls._target.model_fields.items():
                names = [snake_to_camel(fname), fname, *option_meta(finfo).get("builder", ())]
                for n in list(names):
                    names.append(camel_to_snake(n))
                for n in names:
                    table.setdefault(n, fname)
            cls._setters_cache = table  # type: ignore[attr-defined]
        return table

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        field = type(self)._setter_table().get(name)
        if field is None:
            raise AttributeError(f"{type(self).__qualname__} has no option {name!r}")

        def setter(*args: Any) -> "ConfigBuilder":
            return self._set(field, *args)

        setter.__name__ = name
        return setter

    def _set(self, field: str, *args: Any) -> "ConfigBuilder":
        annotation = self._target.model_fields[field].annotation
        if not args and not _is_list_annotation(annotation):
            raise DL4JInvalidConfigException(f"{self._target.__name__}.Builder.{snake_to_camel(field)}() needs a value")
        if _is_list_annotation(annotation):
            value: Any = list(args[0]) if len(args) == 1 and isinstance(args[0], (list, tuple)) else list(args)
        elif len(args) == 1:
            value = args[0]
        else:
            raise DL4JInvalidConfigException(
                f"{self._target.__name__}.Builder.{snake_to_camel(field)}() takes one value, got {len(args)}"
            )
        self._values[field] = value
        return self

    def build(self) -> Any:
        """Create the validated configuration object."""
        return self._target(**self._values)

    def __repr__(self) -> str:
        return f"{type(self).__qualname__}({self._values!r})"


def _is_list_annotation(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin in (list, tuple):
        return True
    if origin is typing.Annotated:
        return _is_list_annotation(typing.get_args(annotation)[0])
    if origin is typing.Union or str(origin) == "types.UnionType":
        return any(_is_list_annotation(a) for a in typing.get_args(annotation) if a is not type(None))
    return False


def attach_builder(cls: type[Dl4jConfig]) -> None:
    """Give ``cls`` its ``Builder``: its own ``class Builder`` body (if any) in front of the parent's builder."""
    parent_builder = ConfigBuilder
    for base in cls.__mro__[1:]:
        candidate = base.__dict__.get("Builder")
        if isinstance(candidate, type) and issubclass(candidate, ConfigBuilder):
            parent_builder = candidate
            break
    body = cls.__dict__.get("Builder")
    bases: tuple[type, ...]
    if isinstance(body, type) and not issubclass(body, ConfigBuilder):
        snake_aliases(body)
        bases = (body, parent_builder)
    else:
        bases = (parent_builder,)
    builder = type("Builder", bases, {"_target": cls, "__qualname__": f"{cls.__name__}.Builder", "__module__": cls.__module__})
    cls.Builder = builder  # type: ignore[attr-defined]
