"""The allow-list that maps DL4J's Java class names (``"@class"``) and legacy wrapper names to dl4py classes.

JSON can only ever name a class registered here: nothing is imported by name from input. A user's own subclass
(a custom activation or reconstruction distribution) is registered with :func:`register_class` and then
round-trips like a built-in class.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..exceptions import DL4JInvalidConfigException, UnknownClassException

if TYPE_CHECKING:
    from ..config.base import Dl4jConfig

_BY_NAME: dict[str, type["Dl4jConfig"]] = {}
_LEGACY: dict[tuple[type, str], type["Dl4jConfig"]] = {}


def register_class(java_name: str, cls: type["Dl4jConfig"], *, legacy_names: tuple[str, ...] = ()) -> type["Dl4jConfig"]:
    """Allow ``cls`` to be read from / written to JSON under ``java_name`` (also sets ``cls.java_class``)."""
    from ..config.base import Dl4jConfig

    if not (isinstance(cls, type) and issubclass(cls, Dl4jConfig)):
        raise DL4JInvalidConfigException(f"register_class: {cls!r} is not a dl4py configuration class (Dl4jConfig)")
    existing = _BY_NAME.get(java_name)
    if existing is not None and existing is not cls:
        raise DL4JInvalidConfigException(
            f"register_class: {java_name!r} is already registered for {existing.__module__}.{existing.__qualname__}"
        )
    _BY_NAME[java_name] = cls
    if cls.__dict__.get("java_class") is None:
        cls.java_class = java_name
    names = legacy_names or cls.__dict__.get("legacy_names", ())
    for legacy in names:
        for base in _json_bases(cls):
            _LEGACY.setdefault((base, legacy), cls)
    return cls


def dl4j_class(java_name: str, *legacy_names: str):
    """Class decorator form of :func:`register_class`."""

    def decorate(cls):
        cls.java_class = java_name
        if legacy_names:
            cls.legacy_names = tuple(legacy_names)
        register_class(java_name, cls, legacy_names=tuple(legacy_names))
        return cls

    return decorate


def _json_bases(cls: type) -> list[type]:
    from ..config.base import Dl4jConfig

    return [b for b in cls.__mro__ if isinstance(b, type) and issubclass(b, Dl4jConfig) and b is not Dl4jConfig]


def lookup_class(java_name: object, expected: type, where: str) -> type["Dl4jConfig"]:
    """The registered class for ``java_name``, which must be a subclass of ``expected``."""
    if not isinstance(java_name, str):
        raise UnknownClassException(f"{where}: class name must be a string, got {java_name!r}")
    cls = _BY_NAME.get(java_name)
    if cls is None:
        raise UnknownClassException(
            f"{where}: unknown class {java_name!r}; dl4py reads only registered DL4J classes "
            f"(register your own with dl4py.serde.registry.register_class)"
            + _removed_hint(java_name)
        )
    if not issubclass(cls, expected):
        raise UnknownClassException(
            f"{where}: class {java_name!r} is a {cls.__name__}, not allowed here (expected a {expected.__name__})"
        )
    return cls


def lookup_legacy(name: str, expected: type) -> type["Dl4jConfig"] | None:
    """The class for a pre-1.0.0-beta wrapper name (``"dense"``, ``"LReLU"``, ``"normal"``) of kind ``expected``."""
    for base in expected.__mro__:
        found = _LEGACY.get((base, name))
        if found is not None and issubclass(found, expected):
            return found
    found = _LEGACY.get((expected, name))
    return found


_REMOVED = {
    "RBM": "the RBM layer was removed from DL4J in 0.9.0; dl4py does not support it (use VariationalAutoencoder or AutoEncoder)",
}


def _removed_hint(name: str) -> str:
    for key, hint in _REMOVED.items():
        if name.endswith("." + key) or name == key or name.lower() == key.lower():
            return "; " + hint
    return ""


def registered_names() -> dict[str, type["Dl4jConfig"]]:
    return dict(_BY_NAME)
