"""DataSet iterators (DL4J: ``org.nd4j.linalg.dataset.api.iterator.DataSetIterator`` and implementations).

Java-style (``while it.hasNext(): ds = it.next()``) and Python-style (``for ds in it``) use the same cursor:
a ``for`` loop yields the remaining batches, and a second pass needs ``reset()`` first, as in DL4J.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable, Iterator, Optional, Union

import numpy as np

from .._naming import snake_aliases
from ..exceptions import DL4JException, DL4JInvalidInputException
from .dataset import DataSet, camel_kwargs

__all__ = ["DataSetIterator", "ListDataSetIterator", "NumpyDataSetIterator", "ExistingDataSetIterator"]

PreProcessor = Union[Callable[[DataSet], Any], Any]  # a callable, or an object with preProcess(DataSet)


@snake_aliases
class DataSetIterator:
    """Base class: subclasses implement ``hasNext``, ``_next(num)``, ``reset``, ``batch``, ``inputColumns``,
    ``totalOutcomes`` (and ``resetSupported`` when they cannot reset)."""

    _preprocessor: Optional[PreProcessor] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        snake_aliases(cls)  # subclasses (also user-defined ones) get has_next etc. bound to their own methods

    def hasNext(self) -> bool:
        raise NotImplementedError

    def next(self, num: Optional[int] = None) -> DataSet:
        """The next DataSet (of ``num`` examples when given and supported); ``StopIteration`` when exhausted."""
        if num is not None and num <= 0:
            raise DL4JInvalidInputException(f"next(num): num must be > 0, got {num}")
        if not self.hasNext():
            raise StopIteration(f"{type(self).__name__} has no more DataSets; call reset() to start again")
        ds = self._next(num)
        pre = self._preprocessor
        if pre is not None:
            result = pre.preProcess(ds) if hasattr(pre, "preProcess") else pre(ds)
            if isinstance(result, DataSet):
                ds = result
        return ds

    def _next(self, num: Optional[int]) -> DataSet:
        raise NotImplementedError

    def reset(self) -> None:
        raise DL4JException(f"{type(self).__name__} does not support reset()")

    def resetSupported(self) -> bool:
        return True

    def asyncSupported(self) -> bool:
        return True

    def batch(self) -> int:
        raise NotImplementedError

    def inputColumns(self) -> int:
        raise NotImplementedError

    def totalOutcomes(self) -> int:
        raise NotImplementedError

    def getLabels(self) -> Optional[list[str]]:
        """Class names, when known (DL4J returns null for most iterators)."""
        return None

    def setPreProcessor(self, preProcessor: Optional[PreProcessor]) -> None:
        """Applied to every DataSet returned by ``next`` (a callable, or an object with ``preProcess(ds)``)."""
        self._preprocessor = preProcessor

    def getPreProcessor(self) -> Optional[PreProcessor]:
        return self._preprocessor

    def __iter__(self) -> Iterator[DataSet]:
        return self

    def __next__(self) -> DataSet:
        if not self.hasNext():
            raise StopIteration
        return self.next()


class ListDataSetIterator(DataSetIterator):
    """Iterates a list of DataSets; with ``batch`` consecutive DataSets are merged into batches of ``batch``
    DataSets (DL4J: the list usually holds single examples from ``DataSet.asList()``)."""

    def __init__(self, datasets: Iterable[DataSet], batch: Optional[int] = None) -> None:
        if isinstance(datasets, DataSet):
            raise DL4JInvalidInputException(
                "ListDataSetIterator takes a list of DataSets: pass ds.asList() or ds.batchBy(n)")
        self._list = list(datasets)
        bad = [i for i, d in enumerate(self._list) if not isinstance(d, DataSet)]
        if bad:
            raise DL4JInvalidInputException(
                f"ListDataSetIterator: element {bad[0]} is a {type(self._list[bad[0]]).__name__}, not a DataSet")
        if batch is not None and batch <= 0:
            raise DL4JInvalidInputException(f"ListDataSetIterator: batch must be > 0, got {batch}")
        self._batch = batch
        self._cursor = 0

    def hasNext(self) -> bool:
        return self._cursor < len(self._list)

    def _next(self, num: Optional[int]) -> DataSet:
        count = num if num is not None else (self._batch or 1)
        chunk = self._list[self._cursor:self._cursor + count]
        self._cursor += len(chunk)
        return DataSet.merge(chunk)

    def reset(self) -> None:
        self._cursor = 0

    def batch(self) -> int:
        if self._batch is not None:
            return self._batch
        return self._list[0].numExamples() if self._list else 0

    def inputColumns(self) -> int:
        return self._list[0].numInputs() if self._list else 0

    def totalOutcomes(self) -> int:
        return self._list[0].numOutcomes() if self._list else 0


class NumpyDataSetIterator(DataSetIterator):
    """Minibatches of in-memory arrays. ``labels=None`` gives features-only DataSets (unsupervised pretraining).

    With ``shuffle`` the example order is redrawn at construction and on every ``reset()`` from one
    ``np.random.Generator(seed)``, so a seeded iterator gives the same sequence of epochs every time.
    """

    @camel_kwargs
    def __init__(self, features: Any, labels: Any = None, batchSize: Optional[int] = None, shuffle: bool = False,
                 seed: Optional[int] = None, dropLast: bool = False) -> None:
        if batchSize is None or int(batchSize) <= 0:
            raise DL4JInvalidInputException(f"NumpyDataSetIterator: batchSize must be an integer > 0, got {batchSize}")
        self._data = DataSet(features, labels)  # validates shapes
        if self._data.getFeatures() is None:
            raise DL4JInvalidInputException("NumpyDataSetIterator: features must not be None")
        self._batch_size = int(batchSize)
        self._shuffle = bool(shuffle)
        self._rng = np.random.default_rng(seed)
        self._drop_last = bool(dropLast)
        self._order: Optional[np.ndarray] = None
        self.reset()

    def _end(self) -> int:
        n = self._data.numExamples()
        return n - n % self._batch_size if self._drop_last else n

    def hasNext(self) -> bool:
        return self._cursor < self._end()

    def _next(self, num: Optional[int]) -> DataSet:
        stop = min(self._cursor + (num or self._batch_size), self._end())
        rows = np.arange(self._cursor, stop) if self._order is None else self._order[self._cursor:stop]
        self._cursor = stop
        f, l = self._data.getFeatures(), self._data.getLabels()
        return DataSet(f[rows], None if l is None else l[rows])  # fancy indexing: copies, never views

    def reset(self) -> None:
        self._cursor = 0
        if self._shuffle:
            self._order = self._rng.permutation(self._data.numExamples())

    def numExamples(self) -> int:
        return self._data.numExamples()

    def batch(self) -> int:
        return self._batch_size

    def inputColumns(self) -> int:
        return self._data.numInputs()

    def totalOutcomes(self) -> int:
        return self._data.numOutcomes()


class ExistingDataSetIterator(DataSetIterator):
    """Wraps an iterable of DataSets. Resettable when the iterable can be iterated again (e.g. a list); a
    one-shot iterator or generator cannot be reset."""

    def __init__(self, iterable: Iterable[DataSet]) -> None:
        if isinstance(iterable, DataSet):
            raise DL4JInvalidInputException("ExistingDataSetIterator takes an iterable of DataSets, not one DataSet")
        self._source = iterable
        self._one_shot = iter(iterable) is iterable
        self._it = iter(iterable)
        self._peeked: Optional[DataSet] = None
        self._first: Optional[DataSet] = None

    def hasNext(self) -> bool:
        if self._peeked is None:
            try:
                item = next(self._it)
            except StopIteration:
                return False
            if not isinstance(item, DataSet):
                raise DL4JInvalidInputException(
                    f"ExistingDataSetIterator: the iterable produced a {type(item).__name__}, not a DataSet")
            self._peeked = item
            if self._first is None:
                self._first = item
        return True

    def _next(self, num: Optional[int]) -> DataSet:
        if num is not None:
            raise DL4JException("ExistingDataSetIterator does not support next(num)")
        item, self._peeked = self._peeked, None
        return item

    def reset(self) -> None:
        if self._one_shot:
            raise DL4JException("ExistingDataSetIterator over a one-shot iterator/generator cannot be reset")
        self._it = iter(self._source)
        self._peeked = None

    def resetSupported(self) -> bool:
        return not self._one_shot

    def _peek_first(self) -> Optional[DataSet]:
        if self._first is None:
            if self._one_shot:
                self.hasNext()  # peeks without consuming
            else:
                self._first = next(iter(self._source), None)
        return self._first

    def batch(self) -> int:
        first = self._peek_first()
        return first.numExamples() if first is not None else 0

    def inputColumns(self) -> int:
        first = self._peek_first()
        return first.numInputs() if first is not None else 0

    def totalOutcomes(self) -> int:
        first = self._peek_first()
        return first.numOutcomes() if first is not None else 0
