"""Data for training (DL4J: ``org.nd4j.linalg.dataset`` and ``org.deeplearning4j.datasets``): the
:class:`DataSet` minibatch and the iterators that feed ``MultiLayerNetwork.fit``."""
from __future__ import annotations

from .csv import CSVRecordReaderDataSetIterator
from .dataset import DataSet, SplitTestAndTrain
from .iterator import DataSetIterator, ExistingDataSetIterator, ListDataSetIterator, NumpyDataSetIterator
from .mnist import MnistDataSetIterator

__all__ = [
    "DataSet",
    "SplitTestAndTrain",
    "DataSetIterator",
    "ListDataSetIterator",
    "NumpyDataSetIterator",
    "ExistingDataSetIterator",
    "CSVRecordReaderDataSetIterator",
    "MnistDataSetIterator",
]
