"""DataSet, iterators and the CSV reader (DL4J's DataSet / RecordReaderDataSetIterator semantics)."""
from __future__ import annotations

import io

import numpy as np
import pytest

from dl4py.datasets import (
    CSVRecordReaderDataSetIterator,
    DataSet,
    DataSetIterator,
    ExistingDataSetIterator,
    ListDataSetIterator,
    NumpyDataSetIterator,
)
from dl4py.exceptions import DL4JException, DL4JInvalidConfigException, DL4JInvalidInputException

fixtures = pytest.mark.fixtures


def make(n=10, n_in=3, n_out=2, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, n_in)).astype(np.float32)
    y = np.eye(n_out, dtype=np.float32)[rng.integers(0, n_out, n)]
    return x, y


def write_csv(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


# ------------------------------------------------------------------------------------------ fixtures


@fixtures
def test_moon_csv_batches_match_loadtxt(dl4j):
    path = dl4j("integration/data/moon_data_train.csv")
    raw = np.loadtxt(path, delimiter=",")
    it = CSVRecordReaderDataSetIterator(path, 32, 0, 2)
    assert (it.batch(), it.inputColumns(), it.totalOutcomes()) == (32, 2, 2)
    batches = list(it)
    assert len(batches) == 63
    assert [len(b) for b in batches] == [32] * 62 + [16]
    features = np.concatenate([b.getFeatures() for b in batches])
    labels = np.concatenate([b.getLabels() for b in batches])
    assert features.dtype == labels.dtype == np.float32
    np.testing.assert_array_equal(features, raw[:, 1:3].astype(np.float32))
    np.testing.assert_array_equal(labels, np.eye(2, dtype=np.float32)[raw[:, 0].astype(int)])
    assert not it.hasNext()
    it.reset()  # re-reads from the start (the eval iterators of MLPMoon rely on it)
    np.testing.assert_array_equal(it.next().getFeatures(), features[:32])


@fixtures
def test_moon_eval_csv(dl4j):
    it = CSVRecordReaderDataSetIterator(dl4j("integration/data/moon_data_eval.csv"), 10, 0, 2)
    first = it.next()
    assert first.getFeatures().shape == (10, 2) and first.getLabels().shape == (10, 2)
    assert sum(len(b) for b in it) == 990


@fixtures
def test_load_mnist_dataset_file(dl4j, tmp_path):
    ds = DataSet.load(dl4j("mnist/mnist-train-0.bin"))
    assert ds.getFeatures().shape == (64, 784) and ds.getLabels().shape == (64, 10)
    assert ds.numExamples() == len(ds) == 64 and ds.numInputs() == 784 and ds.numOutcomes() == 10
    assert ds.getFeatures().min() >= 0 and ds.getFeatures().max() <= 1
    np.testing.assert_array_equal(ds.getLabels().sum(axis=1), np.ones(64))
    out = tmp_path / "copy.bin"
    ds.save(out)
    assert DataSet.load(out) == ds
    assert out.read_bytes()[0] == 3  # flag byte: features + labels
    assert "[64, 784]" in repr(ds) and "[64, 10]" in repr(ds)


# ------------------------------------------------------------------------------------------- DataSet


def test_save_load_round_trip_with_masks(tmp_path):
    x, y = make()
    ds = DataSet(x, y, featuresMask=np.ones((10, 1), np.float32), labelsMask=np.zeros((10, 2), np.float32))
    path = tmp_path / "ds.bin"
    ds.save(path)
    back = DataSet.load(path)
    assert back == ds and back.hasMaskArrays()
    assert back.getFeatures().dtype == np.float32
    buf = io.BytesIO()
    DataSet(x).save(buf)
    buf.seek(0)
    only = DataSet.load(buf)
    assert only.getLabels() is None and np.array_equal(only.getFeatures(), x)


def test_validation_names_both_shapes():
    with pytest.raises(DL4JInvalidInputException, match=r"features shape \[10, 3\], labels shape \[9, 2\]"):
        DataSet(np.zeros((10, 3)), np.zeros((9, 2)))
    with pytest.raises(DL4JInvalidInputException, match="2-D"):
        DataSet(np.zeros(10))
    with pytest.raises(DL4JInvalidInputException, match="labels must be 2-D"):
        DataSet(np.zeros((3, 2)), np.zeros((3, 2, 1)))
    with pytest.raises(DL4JInvalidInputException, match="featuresMask"):
        DataSet(np.zeros((3, 2)), featuresMask=np.ones((4, 1)))
    with pytest.raises(DL4JInvalidInputException, match="numeric"):
        DataSet(np.array([["a"]]))
    ds = DataSet(np.zeros((3, 2)), np.zeros((3, 1)))
    with pytest.raises(DL4JInvalidInputException):
        ds.setLabels(np.zeros((4, 1)))
    assert ds.getLabels().shape == (3, 1)  # unchanged after a rejected setter


def test_accessors_and_snake_aliases():
    x, y = make()
    ds = DataSet(x, y)
    assert ds.get_features() is ds.getFeatures() and ds.num_examples() == 10
    assert ds.getFeaturesMaskArray() is None and ds.get_labels_mask_array() is None
    assert DataSet().numExamples() == 0 and DataSet().isEmpty()
    assert DataSet(labels=y).numExamples() == 10
    assert DataSet(features=x, labels_mask=np.ones((10, 1))).getLabelsMaskArray().shape == (10, 1)
    assert DataSet(np.eye(2, dtype=int)).getFeatures().dtype == np.float32
    assert DataSet(x.astype(np.float64)).getFeatures().dtype == np.float64


def test_as_list_merge_batch_by():
    x, y = make(10)
    ds = DataSet(x, y)
    singles = ds.asList()
    assert len(singles) == 10 and all(len(s) == 1 for s in singles)
    assert DataSet.merge(singles) == ds
    batches = ds.batchBy(4)
    assert [len(b) for b in batches] == [4, 4, 2]
    assert DataSet.merge(batches) == ds
    np.testing.assert_array_equal(ds.get(3).getFeatures(), x[3:4])
    np.testing.assert_array_equal(ds.get([1, 5]).getLabels(), y[[1, 5]])
    with pytest.raises(IndexError):
        ds.get(10)
    with pytest.raises(DL4JInvalidInputException):
        ds.batchBy(0)


def test_merge_masks_and_errors():
    x, y = make(4)
    a = DataSet(x[:2], y[:2], labelsMask=np.zeros((2, 2), np.float32))
    b = DataSet(x[2:], y[2:])
    merged = DataSet.merge([a, b])
    np.testing.assert_array_equal(merged.getLabelsMaskArray(), [[0, 0], [0, 0], [1, 1], [1, 1]])
    assert merged.getFeaturesMaskArray() is None
    with pytest.raises(DL4JInvalidInputException, match="no labels"):
        DataSet.merge([DataSet(x, y), DataSet(x)])
    with pytest.raises(DL4JInvalidInputException, match="column"):
        DataSet.merge([DataSet(x), DataSet(np.zeros((2, 5)))])
    with pytest.raises(DL4JInvalidInputException, match="empty"):
        DataSet.merge([])


def test_split_test_and_train():
    x, y = make(10)
    ds = DataSet(x, y)
    split = ds.splitTestAndTrain(7)
    assert len(split.getTrain()) == 7 and len(split.getTest()) == 3
    np.testing.assert_array_equal(split.getTest().getFeatures(), x[7:])
    train, test = ds.splitTestAndTrain(0.75)
    assert (len(train), len(test)) == (7, 3)  # int(0.75·10)
    assert len(ds.splitTestAndTrain(0.01).getTrain()) == 1
    for bad in (0, 10, 1.0, 0.0):
        with pytest.raises(DL4JInvalidInputException):
            ds.splitTestAndTrain(bad)
    seeded = DataSet(x, y)
    tr, _ = seeded.splitTestAndTrain(5, seed=1)
    assert not np.array_equal(tr.getFeatures(), x[:5])


def test_shuffle_in_place_keeps_rows_together():
    x, y = make(50)
    ds = DataSet(x, y, labelsMask=np.arange(50, dtype=np.float32)[:, None])
    ds.shuffle(seed=3)
    order = ds.getLabelsMaskArray()[:, 0].astype(int)
    assert sorted(order) == list(range(50)) and list(order) != list(range(50))
    np.testing.assert_array_equal(ds.getFeatures(), x[order])
    np.testing.assert_array_equal(ds.getLabels(), y[order])
    again = DataSet(x, y)
    again.shuffle(seed=3)
    np.testing.assert_array_equal(again.getFeatures(), ds.getFeatures())


# ----------------------------------------------------------------------------------------- iterators


def test_numpy_iterator_batches_reset_and_exhaustion():
    x, y = make(10)
    it = NumpyDataSetIterator(x, y, 4)
    assert isinstance(it, DataSetIterator)
    assert (it.batch(), it.inputColumns(), it.totalOutcomes(), it.resetSupported()) == (4, 3, 2, True)
    first = [len(b) for b in it]
    assert first == [4, 4, 2]
    assert list(it) == []  # exhausted: a second pass needs reset(), as in DL4J
    assert not it.hasNext()
    with pytest.raises(StopIteration):
        it.next()
    it.reset()
    batches = list(it)
    np.testing.assert_array_equal(np.concatenate([b.getFeatures() for b in batches]), x)
    np.testing.assert_array_equal(np.concatenate([b.getLabels() for b in batches]), y)


def test_numpy_iterator_partial_iteration_continues():
    x, y = make(10)
    it = NumpyDataSetIterator(x, y, batch_size=3)
    assert len(it.next()) == 3
    assert len(it.next(5)) == 5  # DL4J's next(num)
    assert [len(b) for b in it] == [2]


def test_numpy_iterator_batches_are_copies():
    x, y = make(6)
    it = NumpyDataSetIterator(x, y, 3)
    it.next().getFeatures()[...] = 99
    assert not np.any(x == 99)


def test_numpy_iterator_drop_last():
    x, y = make(10)
    assert [len(b) for b in NumpyDataSetIterator(x, y, 4, dropLast=True)] == [4, 4]
    assert [len(b) for b in NumpyDataSetIterator(x, y, 5, drop_last=True)] == [5, 5]
    assert list(NumpyDataSetIterator(x, y, 11, dropLast=True)) == []


def test_numpy_iterator_shuffle_determinism():
    x, y = make(40)
    x[:, 0] = np.arange(40)

    def epochs(it, n=3):
        out = []
        for _ in range(n):
            out.append(np.concatenate([b.getFeatures()[:, 0] for b in it]).astype(int))
            it.reset()
        return out

    a = epochs(NumpyDataSetIterator(x, y, 8, shuffle=True, seed=42))
    b = epochs(NumpyDataSetIterator(x, y, 8, shuffle=True, seed=42))
    c = epochs(NumpyDataSetIterator(x, y, 8, shuffle=True, seed=43))
    for ea, eb in zip(a, b):
        np.testing.assert_array_equal(ea, eb)
        assert sorted(ea) == list(range(40))
    assert not np.array_equal(a[0], a[1])  # reshuffled on every reset
    assert not np.array_equal(a[0], c[0])
    assert list(a[0]) != list(range(40))
    # labels follow their features
    it = NumpyDataSetIterator(x, y, 8, shuffle=True, seed=1)
    for ds in it:
        np.testing.assert_array_equal(ds.getLabels(), y[ds.getFeatures()[:, 0].astype(int)])
    unshuffled = NumpyDataSetIterator(x, y, 8)
    assert list(np.concatenate([b.getFeatures()[:, 0] for b in unshuffled]).astype(int)) == list(range(40))


def test_numpy_iterator_features_only():
    x, _ = make(7)
    it = NumpyDataSetIterator(x, batchSize=5)
    batches = list(it)
    assert [b.getLabels() for b in batches] == [None, None]
    assert it.totalOutcomes() == 0 and it.inputColumns() == 3


def test_numpy_iterator_errors():
    x, y = make(5)
    with pytest.raises(DL4JInvalidInputException, match="batchSize"):
        NumpyDataSetIterator(x, y)
    with pytest.raises(DL4JInvalidInputException, match="batchSize"):
        NumpyDataSetIterator(x, y, 0)
    with pytest.raises(DL4JInvalidInputException, match=r"\[5, 3\].*\[4, 2\]"):
        NumpyDataSetIterator(x, y[:4], 2)
    with pytest.raises(DL4JInvalidInputException):
        NumpyDataSetIterator(x, y, 2).next(0)


def test_list_iterator():
    x, y = make(10)
    ds = DataSet(x, y)
    it = ListDataSetIterator(ds.asList(), 4)
    assert (it.batch(), it.inputColumns(), it.totalOutcomes()) == (4, 3, 2)
    batches = list(it)
    assert [len(b) for b in batches] == [4, 4, 2]
    assert DataSet.merge(batches) == ds
    it.reset()
    assert it.hasNext() and len(it.next()) == 4
    whole = ListDataSetIterator(ds.batchBy(3))
    assert [len(b) for b in whole] == [3, 3, 3, 1] and whole.batch() == 3
    with pytest.raises(DL4JInvalidInputException, match="asList"):
        ListDataSetIterator(ds)
    with pytest.raises(DL4JInvalidInputException, match="element 1"):
        ListDataSetIterator([ds, x])


def test_existing_iterator_resettable_and_one_shot():
    x, y = make(9)
    parts = DataSet(x, y).batchBy(3)
    it = ExistingDataSetIterator(parts)
    assert it.resetSupported() and it.batch() == 3 and it.inputColumns() == 3 and it.totalOutcomes() == 2
    assert len(list(it)) == 3 and list(it) == []
    it.reset()
    assert len(list(it)) == 3

    gen = ExistingDataSetIterator(p for p in parts)
    assert not gen.resetSupported()
    assert gen.batch() == 3  # peeking does not consume
    assert len(list(gen)) == 3
    with pytest.raises(DL4JException, match="cannot be reset"):
        gen.reset()
    with pytest.raises(DL4JInvalidInputException, match="int"):
        list(ExistingDataSetIterator([1]))


def test_java_style_loop_and_preprocessor():
    x, y = make(6)
    it = NumpyDataSetIterator(x, y, 4)
    it.setPreProcessor(lambda ds: ds.setFeatures(ds.getFeatures() * 0))
    sizes = []
    while it.has_next():
        ds = it.next()
        sizes.append(len(ds))
        assert np.all(ds.getFeatures() == 0)
    assert sizes == [4, 2]

    class Scale:
        def preProcess(self, ds):
            ds.setFeatures(ds.getFeatures() + 1)

    it.reset()
    it.set_pre_processor(Scale())
    assert isinstance(it.getPreProcessor(), Scale)
    np.testing.assert_allclose(it.next().getFeatures(), x[:4] + 1)


def test_user_iterator_subclass_gets_aliases():
    class Two(DataSetIterator):
        def __init__(self):
            self.i = 0

        def hasNext(self):
            return self.i < 2

        def _next(self, num):
            self.i += 1
            return DataSet(np.zeros((1, 1)))

        def reset(self):
            self.i = 0

    it = Two()
    assert it.has_next() and len(list(it)) == 2 and not it.has_next()


# ----------------------------------------------------------------------------------------------- CSV


def test_csv_header_delimiter_regression_and_label_position(tmp_path):
    path = write_csv(tmp_path, "a;b;c\n1.5;2;7\n\n3;4;8\n5;6;9\n")
    it = CSVRecordReaderDataSetIterator(path, 2, 1, skipNumLines=1, delimiter=";", regression=True)
    assert it.totalOutcomes() == 1 and it.inputColumns() == 2
    a, b = list(it)
    np.testing.assert_array_equal(a.getFeatures(), [[1.5, 7], [3, 8]])
    np.testing.assert_array_equal(a.getLabels(), [[2], [4]])
    assert len(b) == 1


def test_csv_label_in_middle_classification(tmp_path):
    path = write_csv(tmp_path, "0.1,2,0.2\n0.3,0,0.4\n")
    ds = CSVRecordReaderDataSetIterator(path, batch_size=10, label_index=1, num_classes=3).next()
    np.testing.assert_array_equal(ds.getFeatures(), np.float32([[0.1, 0.2], [0.3, 0.4]]))
    np.testing.assert_array_equal(ds.getLabels(), [[0, 0, 1], [1, 0, 0]])


def test_csv_features_only(tmp_path):
    ds = CSVRecordReaderDataSetIterator(write_csv(tmp_path, "1,2\n3,4\n"), 5, -1).next()
    assert ds.getLabels() is None and ds.getFeatures().shape == (2, 2)


@pytest.mark.parametrize("text,match", [
    ("0,1,2\n1,2\n", r"data\.csv, line 2: expected 3 columns, found 2"),
    ("0,1,2\n1,abc,2\n", r"data\.csv, line 2, column 1: value 'abc' is not a number"),
    ("0,1,2\n1,2,nan\n", r"line 2, column 2: non-finite"),
    ("0,1,inf\n", r"line 1, column 2: non-finite"),
    ("0,1,2\n2,1,2\n", r"line 2, column 0: label '2' is not an integer class index in \[0, 2\)"),
    ("0.5,1,2\n", r"line 1, column 0: label '0.5' is not an integer"),
    ("-1,1,2\n", r"line 1, column 0: label '-1'"),
])
def test_csv_malformed_rows(tmp_path, text, match):
    it = CSVRecordReaderDataSetIterator(write_csv(tmp_path, text), 10, 0, 2)
    with pytest.raises(DL4JInvalidInputException, match=match):
        it.next()


def test_csv_error_only_when_the_bad_row_is_reached(tmp_path):
    it = CSVRecordReaderDataSetIterator(write_csv(tmp_path, "0,1\n1,2\n1,x\n"), 2, 0, 2)
    assert len(it.next()) == 2
    with pytest.raises(DL4JInvalidInputException, match="line 3, column 1"):
        it.next()


def test_csv_configuration_errors(tmp_path):
    path = write_csv(tmp_path, "0,1\n")
    with pytest.raises(DL4JInvalidConfigException, match="numClasses"):
        CSVRecordReaderDataSetIterator(path, 2, 0)
    with pytest.raises(DL4JInvalidConfigException, match="batchSize"):
        CSVRecordReaderDataSetIterator(path, 0, 0, 2)
    with pytest.raises(DL4JInvalidInputException, match="labelIndex 5"):
        CSVRecordReaderDataSetIterator(path, 2, 5, 2).next()
    with pytest.raises(FileNotFoundError):
        CSVRecordReaderDataSetIterator(tmp_path / "missing.csv", 2, 0, 2)


def test_csv_empty_file(tmp_path):
    it = CSVRecordReaderDataSetIterator(write_csv(tmp_path, ""), 2, 0, 2)
    assert not it.hasNext() and list(it) == [] and it.inputColumns() == 0
