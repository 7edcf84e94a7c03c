"""dl4py's exception family. Every error dl4py raises on bad input is one of these (or a subclass)."""
from __future__ import annotations


class DL4JException(Exception):
    """Base of every dl4py error (DL4J: ``org.deeplearning4j.exception.DL4JException``)."""


class DL4JInvalidConfigException(DL4JException, ValueError):
    """A configuration is invalid: names the layer, the option (DL4J name), the bad value and what is allowed."""


class DL4JInvalidInputException(DL4JException, ValueError):
    """Input data do not fit the network (wrong size, dtype, non-finite values...)."""


class InvalidJsonException(DL4JException, ValueError):
    """A DL4J JSON/YAML document cannot be read; the message names the path inside the document."""


class UnknownClassException(InvalidJsonException):
    """A ``@class`` (or legacy type name) that is not in dl4py's allow-list registry."""


class ND4JFormatException(DL4JException, ValueError):
    """An ND4J binary array, DataSet file or model zip is truncated or corrupt; says what was expected where."""


class ModelSerializerException(ND4JFormatException):
    """A model zip is missing entries, has unsafe entries, or does not match its configuration."""


class NonFiniteException(DL4JException, FloatingPointError):
    """A score, gradient or input became NaN or infinite; names where (epoch, iteration, layer, row, column).

    The training step that raised it is also described by the attributes ``epoch``, ``iteration`` and ``layer``
    (the layer index; None where it does not apply)."""

    def __init__(self, message: str = "", *, epoch: int | None = None, iteration: int | None = None,
                 layer: int | None = None) -> None:
        super().__init__(message)
        self.epoch = epoch
        self.iteration = iteration
        self.layer = layer


class MissingDependencyException(DL4JException, ImportError):
    """An optional dependency (matplotlib for ``dl4py.plot``, scikit-learn, PyYAML) is not installed; the message
    names the pip extra that provides it."""
