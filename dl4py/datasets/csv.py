"""CSV minibatches (DL4J: ``RecordReaderDataSetIterator`` over a ``CSVRecordReader``).

The file is streamed: each ``next()`` reads the following ``batchSize`` records, and ``reset()`` re-reads the
file from its start. Every bad value raises :class:`DL4JInvalidInputException` naming file, line and column
(lines count from 1 as in an editor, columns from 0 as ``labelIndex`` does).
"""
from __future__ import annotations

import csv
import os
from typing import Iterator, Optional, Union

import numpy as np

from ..exceptions import DL4JInvalidConfigException, DL4JInvalidInputException
from .dataset import DataSet, camel_kwargs
from .iterator import DataSetIterator

__all__ = ["CSVRecordReaderDataSetIterator"]

Record = tuple[int, list[str]]  # (line number, fields)


class CSVRecordReaderDataSetIterator(DataSetIterator):
    """Column ``labelIndex`` is the label (one-hot over ``numClasses``, or the raw value with ``regression``;
    ``labelIndex=-1`` gives features-only DataSets), the other columns in order are the features (float32)."""

    @camel_kwargs
    def __init__(self, path: Union[str, "os.PathLike[str]"], batchSize: int, labelIndex: int, numClasses: int = -1,
                 skipNumLines: int = 0, delimiter: str = ",", regression: bool = False) -> None:
        if int(batchSize) <= 0:
            raise DL4JInvalidConfigException(f"CSVRecordReaderDataSetIterator: batchSize must be > 0, got {batchSize}")
        if int(labelIndex) < -1:
            raise DL4JInvalidConfigException(f"CSVRecordReaderDataSetIterator: labelIndex must be >= -1, got {labelIndex}")
        if labelIndex >= 0 and not regression and int(numClasses) < 1:
            raise DL4JInvalidConfigException(
                f"CSVRecordReaderDataSetIterator: classification needs numClasses >= 1, got {numClasses} "
                f"(use regression=True for a real-valued label)")
        if int(skipNumLines) < 0:
            raise DL4JInvalidConfigException(f"CSVRecordReaderDataSetIterator: skipNumLines must be >= 0, got {skipNumLines}")
        if len(delimiter) != 1:
            raise DL4JInvalidConfigException(f"CSVRecordReaderDataSetIterator: delimiter must be one character, got {delimiter!r}")
        self._path = os.fspath(path)
        if not os.path.isfile(self._path):
            raise FileNotFoundError(f"CSV file not found: {self._path}")
        self._batch_size, self._label_index = int(batchSize), int(labelIndex)
        self._num_classes, self._skip = int(numClasses), int(skipNumLines)
        self._delimiter, self._regression = delimiter, bool(regression)
        self._columns: Optional[int] = None  # fixed by the file's first record
        self._records: Optional[Iterator[Record]] = None
        self._peeked: Optional[Record] = None
        self.reset()

    # -- reading ---------------------------------------------------------------------------------------
    def _read(self) -> Iterator[Record]:
        with open(self._path, newline="", encoding="utf-8") as f:
            reader = csv.reader(f, delimiter=self._delimiter)
            for i, fields in enumerate(reader):
                if i < self._skip or not any(field.strip() for field in fields):
                    continue  # header lines and blank lines
                yield reader.line_num, fields

    def reset(self) -> None:
        if self._records is not None:
            self._records.close()  # closes the file
        self._records, self._peeked = self._read(), None

    def close(self) -> None:
        """Close the underlying file (reset() reopens it)."""
        if self._records is not None:
            self._records.close()

    def hasNext(self) -> bool:
        if self._peeked is None:
            self._peeked = next(self._records, None)
        return self._peeked is not None

    def _next(self, num: Optional[int]) -> DataSet:
        records: list[Record] = []
        while len(records) < (num or self._batch_size) and self.hasNext():
            records.append(self._peeked)
            self._peeked = None
        return self._to_dataset(records)

    # -- conversion ------------------------------------------------------------------------------------
    def _fail(self, line: int, column: Optional[int], problem: str) -> DL4JInvalidInputException:
        where = f"{self._path}, line {line}" + ("" if column is None else f", column {column}")
        return DL4JInvalidInputException(f"{where}: {problem}")

    def _to_dataset(self, records: list[Record]) -> DataSet:
        if self._columns is None:
            self._columns = len(records[0][1])
            if self._label_index >= self._columns:
                raise self._fail(records[0][0], None, f"labelIndex {self._label_index} is beyond the "
                                 f"{self._columns} columns of the file")
        values = np.empty((len(records), self._columns), dtype=np.float64)
        for r, (line, fields) in enumerate(records):
            if len(fields) != self._columns:
                raise self._fail(line, None, f"expected {self._columns} columns, found {len(fields)}")
            for c, text in enumerate(fields):
                try:
                    values[r, c] = float(text)
                except ValueError:
                    raise self._fail(line, c, f"value {text.strip()!r} is not a number") from None
        bad = np.argwhere(~np.isfinite(values))
        if bad.size:
            r, c = bad[0]
            raise self._fail(records[r][0], int(c), f"non-finite value {_field(records, r, c)!r}")
        if self._label_index < 0:
            return DataSet(values.astype(np.float32))
        features = np.delete(values, self._label_index, axis=1).astype(np.float32)
        label = values[:, self._label_index]
        if self._regression:
            return DataSet(features, label[:, None].astype(np.float32))
        classes = label.astype(np.int64)
        wrong = np.flatnonzero((classes != label) | (classes < 0) | (classes >= self._num_classes))
        if wrong.size:
            r = wrong[0]
            raise self._fail(records[r][0], self._label_index, f"label {_field(records, r, self._label_index)!r} "
                             f"is not an integer class index in [0, {self._num_classes})")
        labels = np.zeros((len(records), self._num_classes), dtype=np.float32)
        labels[np.arange(len(records)), classes] = 1.0
        return DataSet(features, labels)

    def _first_columns(self) -> int:
        if self._columns is None:
            first = next(self._read(), None)
            return 0 if first is None else len(first[1])
        return self._columns

    # -- DataSetIterator -------------------------------------------------------------------------------
    def batch(self) -> int:
        return self._batch_size

    def inputColumns(self) -> int:
        columns = self._first_columns()
        return columns if self._label_index < 0 else max(columns - 1, 0)

    def totalOutcomes(self) -> int:
        if self._label_index < 0:
            return 0
        return 1 if self._regression else self._num_classes

    def __repr__(self) -> str:
        return (f"CSVRecordReaderDataSetIterator({self._path!r}, batchSize={self._batch_size}, "
                f"labelIndex={self._label_index}, numClasses={self._num_classes})")


def _field(records: list[Record], row: int, column: int) -> str:
    return records[row][1][column].strip()
