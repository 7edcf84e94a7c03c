"""A minibatch of examples (DL4J: ``org.nd4j.linalg.dataset.DataSet``): features, labels and optional masks."""
from __future__ import annotations

import functools
import os
from typing import Any, BinaryIO, Callable, Iterator, Optional, Sequence, TypeVar, Union

import numpy as np

from .._naming import snake_aliases, snake_to_camel
from ..exceptions import DL4JInvalidInputException
from ..nd4j import read_dataset, write_dataset

__all__ = ["DataSet", "SplitTestAndTrain"]

ArrayLike = Any
PathOrFile = Union[str, "os.PathLike[str]", BinaryIO]
_NAMES = ("features", "labels", "featuresMask", "labelsMask")
F = TypeVar("F", bound=Callable[..., Any])


def camel_kwargs(func: F) -> F:
    """Let a constructor taking DL4J's camelCase keywords (``batchSize``) also accept ``batch_size``."""
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        converted: dict[str, Any] = {}
        for key, value in kwargs.items():
            name = snake_to_camel(key) if "_" in key else key
            if name in converted:
                raise TypeError(f"{func.__qualname__}: argument {name!r} given twice")
            converted[name] = value
        return func(*args, **converted)
    return wrapper  # type: ignore[return-value]


def _as_array(value: ArrayLike, name: str) -> Optional[np.ndarray]:
    """None stays None; float arrays keep their dtype; integer/bool data become float32 (ND4J's default)."""
    if value is None:
        return None
    array = np.asarray(value)
    if array.dtype.kind != "f":
        if array.dtype.kind not in "biu":
            raise DL4JInvalidInputException(f"DataSet {name} must be numeric, got dtype {array.dtype}")
        array = array.astype(np.float32)
    return array


def _describe(array: Optional[np.ndarray]) -> str:
    return "None" if array is None else f"{list(array.shape)} {array.dtype}"


@snake_aliases
class DataSet:
    """Features [N, nIn] and labels [N, nOut] (either may be None) with optional masks of N rows."""

    @camel_kwargs
    def __init__(self, features: ArrayLike = None, labels: ArrayLike = None, featuresMask: ArrayLike = None,
                 labelsMask: ArrayLike = None) -> None:
        parts = tuple(_as_array(v, n) for v, n in zip((features, labels, featuresMask, labelsMask), _NAMES))
        _validate(*parts)
        self._features, self._labels, self._features_mask, self._labels_mask = parts

    # -- accessors -------------------------------------------------------------------------------------
    def getFeatures(self) -> Optional[np.ndarray]:
        return self._features

    def getLabels(self) -> Optional[np.ndarray]:
        return self._labels

    def getFeaturesMaskArray(self) -> Optional[np.ndarray]:
        return self._features_mask

    def getLabelsMaskArray(self) -> Optional[np.ndarray]:
        return self._labels_mask

    def setFeatures(self, features: ArrayLike) -> None:
        self._replace(0, features)

    def setLabels(self, labels: ArrayLike) -> None:
        self._replace(1, labels)

    def setFeaturesMaskArray(self, mask: ArrayLike) -> None:
        self._replace(2, mask)

    def setLabelsMaskArray(self, mask: ArrayLike) -> None:
        self._replace(3, mask)

    def _replace(self, index: int, value: ArrayLike) -> None:
        parts = list(self._parts())
        parts[index] = _as_array(value, _NAMES[index])
        _validate(*parts)
        self._features, self._labels, self._features_mask, self._labels_mask = parts

    def _parts(self) -> tuple[Optional[np.ndarray], ...]:
        return self._features, self._labels, self._features_mask, self._labels_mask

    def hasMaskArrays(self) -> bool:
        return self._features_mask is not None or self._labels_mask is not None

    def isEmpty(self) -> bool:
        return self._features is None and self._labels is None

    def numExamples(self) -> int:
        """Rows of the features (of the labels when there are no features); 0 when empty."""
        array = self._features if self._features is not None else self._labels
        return 0 if array is None else int(array.shape[0])

    def numInputs(self) -> int:
        return 0 if self._features is None else int(self._features.shape[1])

    def numOutcomes(self) -> int:
        return 0 if self._labels is None else int(self._labels.shape[1])

    # -- selection and splitting -----------------------------------------------------------------------
    def _take(self, rows: Union[slice, np.ndarray]) -> "DataSet":
        return DataSet(*(None if a is None else a[rows] for a in self._parts()))

    def get(self, i: Union[int, Sequence[int]]) -> "DataSet":
        """Example ``i`` as a one-row DataSet, or the examples at a list of indices."""
        rows = [i] if isinstance(i, (int, np.integer)) else list(i)
        n = self.numExamples()
        bad = [r for r in rows if not -n <= r < n]
        if bad:
            raise IndexError(f"example index {bad[0]} out of range for a DataSet of {n} examples")
        return self._take(np.asarray(rows, dtype=np.intp))

    def copy(self) -> "DataSet":
        return DataSet(*(None if a is None else a.copy() for a in self._parts()))

    def asList(self) -> list["DataSet"]:
        """One single-example DataSet per row."""
        return [self._take(slice(i, i + 1)) for i in range(self.numExamples())]

    def batchBy(self, num: int) -> list["DataSet"]:
        """Consecutive DataSets of ``num`` examples (the last may be smaller)."""
        if num <= 0:
            raise DL4JInvalidInputException(f"batchBy: batch size must be > 0, got {num}")
        return [self._take(slice(i, i + num)) for i in range(0, self.numExamples(), num)]

    def splitTestAndTrain(self, numOrFraction: Union[int, float], seed: Optional[int] = None) -> "SplitTestAndTrain":
        """Train = the first ``n`` examples, test = the rest; ``n`` is given as an int, or as a float fraction in
        (0, 1) giving ``max(1, int(fraction·N))``. With ``seed`` the DataSet is first shuffled in place."""
        total = self.numExamples()
        if isinstance(numOrFraction, (float, np.floating)):
            if not 0.0 < numOrFraction < 1.0:
                raise DL4JInvalidInputException(f"splitTestAndTrain: train fraction must be in (0, 1), got {numOrFraction}")
            n = max(1, int(numOrFraction * total))
        else:
            n = int(numOrFraction)
        if not 0 < n < total:
            raise DL4JInvalidInputException(
                f"splitTestAndTrain: the train size must be in [1, {total - 1}] for {total} examples, got {n}")
        if seed is not None:
            self.shuffle(seed)
        return SplitTestAndTrain(self._take(slice(0, n)), self._take(slice(n, None)))

    def shuffle(self, seed: Optional[int] = None) -> None:
        """Permute the examples in place (features, labels and masks together)."""
        order = np.random.default_rng(seed).permutation(self.numExamples())
        self._features, self._labels, self._features_mask, self._labels_mask = (
            None if a is None else a[order] for a in self._parts())

    @staticmethod
    def merge(datasets: Sequence["DataSet"]) -> "DataSet":
        """Concatenate DataSets along the example axis; a mask missing in some (not all) becomes ones."""
        datasets = list(datasets)
        if not datasets:
            raise DL4JInvalidInputException("DataSet.merge: nothing to merge (empty list)")
        if len(datasets) == 1:
            return datasets[0]
        merged = [_concat([ds._parts()[k] for ds in datasets], [ds.numExamples() for ds in datasets], _NAMES[k],
                          mask=k >= 2) for k in range(4)]
        return DataSet(*merged)

    # -- files -----------------------------------------------------------------------------------------
    def save(self, path: PathOrFile) -> None:
        """Write DL4J's ``DataSet.save`` binary format."""
        write_dataset(path, *self._parts())

    @classmethod
    def load(cls, path: PathOrFile) -> "DataSet":
        """Read a file written by DL4J's (or this class's) ``save``."""
        return cls(*read_dataset(path))

    # -- Python protocol -------------------------------------------------------------------------------
    def __len__(self) -> int:
        return self.numExamples()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DataSet):
            return NotImplemented
        return all((a is None and b is None) or (a is not None and b is not None and np.array_equal(a, b))
                   for a, b in zip(self._parts(), other._parts()))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        text = f"DataSet(features={_describe(self._features)}, labels={_describe(self._labels)}"
        for name, mask in (("featuresMask", self._features_mask), ("labelsMask", self._labels_mask)):
            if mask is not None:
                text += f", {name}={_describe(mask)}"
        return text + ")"


def _validate(features, labels, features_mask, labels_mask) -> None:
    for name, array in (("features", features), ("labels", labels)):
        if array is not None and array.ndim != 2:
            raise DL4JInvalidInputException(
                f"DataSet {name} must be 2-D [examples, columns], got shape {list(array.shape)}")
    if features is not None and labels is not None and features.shape[0] != labels.shape[0]:
        raise DL4JInvalidInputException(
            f"DataSet features and labels must have the same number of rows: features shape {list(features.shape)}, "
            f"labels shape {list(labels.shape)}")
    data = features if features is not None else labels
    for name, mask in (("featuresMask", features_mask), ("labelsMask", labels_mask)):
        if mask is None:
            continue
        if data is None:
            raise DL4JInvalidInputException(f"DataSet {name} given without features or labels")
        if mask.ndim not in (1, 2) or mask.shape[0] != data.shape[0]:
            raise DL4JInvalidInputException(
                f"DataSet {name} must be 1-D or 2-D with one row per example ({data.shape[0]}), got shape "
                f"{list(mask.shape)}")


def _concat(arrays: list[Optional[np.ndarray]], rows: list[int], name: str, mask: bool) -> Optional[np.ndarray]:
    present = [a for a in arrays if a is not None]
    if not present:
        return None
    if len(present) != len(arrays):
        if not mask:
            missing = next(i for i, a in enumerate(arrays) if a is None)
            raise DL4JInvalidInputException(f"DataSet.merge: DataSet {missing} has no {name} but others do")
        template = present[0]
        arrays = [np.ones((n,) + template.shape[1:], template.dtype) if a is None else a for a, n in zip(arrays, rows)]
    shapes = {a.shape[1:] for a in arrays}
    if len(shapes) > 1:
        raise DL4JInvalidInputException(
            f"DataSet.merge: {name} have different column shapes {sorted(list(s) for s in shapes)}")
    return np.concatenate(arrays, axis=0)


@snake_aliases
class SplitTestAndTrain:
    """The result of :meth:`DataSet.splitTestAndTrain`; unpacks as ``train, test``."""

    def __init__(self, train: DataSet, test: DataSet) -> None:
        self._train, self._test = train, test

    def getTrain(self) -> DataSet:
        return self._train

    def getTest(self) -> DataSet:
        return self._test

    def __iter__(self) -> Iterator[DataSet]:
        return iter((self._train, self._test))

    def __repr__(self) -> str:
        return f"SplitTestAndTrain(train={self._train!r}, test={self._test!r})"
