"""Training data → one shard per worker slot, resident on the Dask workers.

Accepted data (for ``fit``; for pretraining the labels may be absent):

* ``(features, labels)`` of NumPy arrays — split into balanced contiguous row ranges, one per slot, and scattered
  once per call (the data are on the client already; each shard goes to one worker);
* ``(features, labels)`` of dask arrays (or one of each) — rechunked on the cluster into the same balanced row
  ranges; each shard is computed by a worker, never passing through the client;
* features alone (NumPy or dask array), for ``pretrain``;
* a list of DataSets (or a DataSetIterator, drained on the client) — grouped into contiguous, balanced groups;
* a dask bag of DataSets (or of ``(features, labels)`` pairs) — persisted, counted on the workers, its partitions
  grouped into contiguous balanced groups and concatenated on the workers.

Slot ``k`` of ``W`` gets rows ``[b_k, b_{k+1})`` with ``b_k = k·⌊n/W⌋ + min(k, n mod W)`` (NumPy's array_split):
NumPy and dask inputs give identical shards. A shard whose data were lost with a worker is rebuilt from its
source on the next attempt at a round (re-scattered from the client, or recomputed from the dask graph).
"""
from __future__ import annotations

import uuid
from typing import Any, Callable, Optional

import numpy as np

from ..exceptions import DL4JInvalidInputException
from . import _cluster as C
from . import worker as W


def balanced_sizes(n: int, slots: int) -> list[int]:
    """Rows per slot for ``n`` rows over ``slots`` slots (NumPy's array_split: the first n mod W get one more)."""
    base, extra = divmod(int(n), int(slots))
    return [base + (1 if k < extra else 0) for k in range(slots)]


def group_by_counts(counts: list[int], slots: int) -> list[list[int]]:
    """Contiguous groups of piece indices, balanced by example count: piece i goes to the slot that holds the
    first of its examples when the examples are dealt out evenly (empty groups are dropped)."""
    total = sum(counts)
    groups: list[list[int]] = [[] for _ in range(slots)]
    start = 0
    for i, c in enumerate(counts):
        if c > 0:
            k = min(slots - 1, (start * slots) // max(total, 1))
            groups[k].append(i)
        start += c
    return [g for g in groups if g]


def _is_dask_collection(obj: Any) -> bool:
    return hasattr(obj, "__dask_graph__") and callable(getattr(obj, "__dask_graph__"))


def _is_dask_array(obj: Any) -> bool:
    return _is_dask_collection(obj) and hasattr(obj, "chunks") and hasattr(obj, "rechunk")


def _is_dask_bag(obj: Any) -> bool:
    return _is_dask_collection(obj) and type(obj).__module__.startswith("dask.bag")


def _is_dataset(obj: Any) -> bool:
    return hasattr(obj, "getFeatures") and hasattr(obj, "getLabels")


def _is_array(obj: Any) -> bool:
    return isinstance(obj, np.ndarray) or _is_dask_array(obj)


class ShardSet:
    """The data of one ``fit``/``pretrain``/score call: one future per non-empty slot, plus how to rebuild it.

    ``timeout``: seconds any one transfer or query (scattering a shard) may take, ``compute_timeout``: seconds
    a computation on the cluster (counting a bag's examples) may take, before
    :class:`~dl4py.parallel._cluster.ClusterTimeout` is raised."""

    def __init__(self, client: Any, data: Any, slots: int, dtype: np.dtype, need_labels: bool, what: str,
                 timeout: float = 60.0, compute_timeout: Optional[float] = None) -> None:
        self.client = client
        self.timeout = float(timeout)
        self.compute_timeout = float(timeout if compute_timeout is None else compute_timeout)
        self.dtype = np.dtype(dtype).name
        self.need_labels = need_labels
        self.what = what
        self._builders: list[Callable[[], Any]] = []
        self.sizes: list[int] = []
        self.futures: list[Any] = []
        self.n_features: Optional[int] = None
        self.n_labels: Optional[int] = None
        self._prepare(data, slots)
        if not self._builders:
            raise DL4JInvalidInputException(f"{what}: the training data hold no examples")
        self.futures = [None] * len(self._builders)

    # -- public -------------------------------------------------------------------------------------------------
    @property
    def num_slots(self) -> int:
        return len(self._builders)

    @property
    def num_examples(self) -> int:
        return int(sum(self.sizes))

    def future(self, k: int) -> Any:
        if self.futures[k] is None:
            self.futures[k] = self._builders[k]()
        return self.futures[k]

    def refresh(self) -> int:
        """Rebuild every shard whose future was lost, cancelled or erred; returns how many were rebuilt."""
        rebuilt = 0
        for k, f in enumerate(self.futures):
            if f is None:
                continue
            if getattr(f, "status", "finished") not in ("finished", "pending"):
                self.futures[k] = None
                rebuilt += 1
        return rebuilt

    def release(self) -> None:
        futures, self.futures = self.futures, [None] * len(self._builders)
        for f in futures:
            if f is not None:
                try:
                    f.release()
                except Exception:  # pragma: no cover - the client may be closing
                    pass

    # -- construction -------------------------------------------------------------------------------------------
    def _workers(self) -> list[str]:
        return C.running_workers(self.client, self.timeout)

    def _scatter(self, shard: Any, k: int) -> Any:
        """Scatter slot k's shard to worker k mod W (bounded; no replication)."""
        workers = self._workers()
        if not workers:
            raise C.ClusterTimeout(f"{self.what}: no running worker to hold the data of slot {k}")
        key = f"dl4py-shard-{uuid.uuid4().hex[:12]}-{k}"
        target = workers[k % len(workers)]
        out = C.bounded(self.client, lambda: C.scatter_to(self.client, {key: shard}, target), self.timeout,
                        f"{self.what}: scattering the data of slot {k} to {target}")
        return out[key]

    def _compute_on(self, delayed_shard: Any, k: int) -> Any:
        """Compute a shard on the cluster, preferably on worker k mod W (one shard per worker, so the rounds'
        tasks, which run where their shard is, spread over the workers)."""
        workers = self._workers()
        if not workers:
            return self.client.compute(delayed_shard)
        return self.client.compute(delayed_shard, workers=[workers[k % len(workers)]], allow_other_workers=True)

    def _prepare(self, data: Any, slots: int) -> None:
        if _is_dask_bag(data):
            self._from_bag(data, slots)
            return
        if _is_dataset(data):
            data = [data]
        if hasattr(data, "hasNext") and hasattr(data, "next"):
            if hasattr(data, "reset") and not data.hasNext():
                data.reset()
            items = []
            while data.hasNext():
                items.append(data.next())
            data = items
        if _is_array(data):
            self._from_arrays(data, None, slots)
            return
        if isinstance(data, (tuple, list)) and len(data) == 2 and _is_array(data[0]) and (
            data[1] is None or _is_array(data[1])
        ):
            self._from_arrays(data[0], data[1], slots)
            return
        if isinstance(data, (list, tuple)) and data and all(
            _is_dataset(d) or (isinstance(d, tuple) and len(d) == 2) for d in data
        ):
            self._from_pieces(list(data), slots)
            return
        if isinstance(data, (list, tuple)) and not data:
            raise DL4JInvalidInputException(f"{self.what}: the training data hold no examples")
        raise DL4JInvalidInputException(
            f"{self.what}: unsupported training data {type(data).__name__}; expected (features, labels) NumPy or "
            "dask arrays, features alone (pretraining), a list of DataSets, a DataSetIterator or a dask bag of "
            "DataSets"
        )

    def _check_rows(self, features: Any, labels: Any) -> None:
        if len(features.shape) < 2:
            raise DL4JInvalidInputException(
                f"{self.what}: features must be 2-D [examples, features], got shape {tuple(features.shape)}"
            )
        self.n_features = int(np.prod(features.shape[1:]))
        if labels is None:
            if self.need_labels:
                raise DL4JInvalidInputException(f"{self.what}: needs labels — pass (features, labels)")
            return
        if labels.shape[0] != features.shape[0]:
            raise DL4JInvalidInputException(
                f"{self.what}: features have {features.shape[0]} rows but labels have {labels.shape[0]}"
            )
        self.n_labels = int(labels.shape[1]) if len(labels.shape) > 1 else 1

    def _from_arrays(self, features: Any, labels: Any, slots: int) -> None:
        labels_used = labels if self.need_labels else None
        if _is_dask_array(features) or _is_dask_array(labels_used):
            self._from_dask_arrays(features, labels_used, slots)
            return
        x = np.asarray(features)
        y = None if labels_used is None else np.asarray(labels_used)
        self._check_rows(x, y)
        sizes = [s for s in balanced_sizes(x.shape[0], slots) if s > 0]
        start = 0
        for k, size in enumerate(sizes):
            a, b = start, start + size
            start = b

            def build(a: int = a, b: int = b, k: int = k) -> Any:
                return self._scatter(W.make_shard(x[a:b], None if y is None else y[a:b], self.dtype), k)

            self._builders.append(build)
            self.sizes.append(size)

    def _from_dask_arrays(self, features: Any, labels: Any, slots: int) -> None:
        import dask
        import dask.array as da

        x = features if _is_dask_array(features) else da.from_array(np.asarray(features))
        y = None
        if labels is not None:
            y = labels if _is_dask_array(labels) else da.from_array(np.asarray(labels))
        if any(np.isnan(c) for c in x.chunks[0]):
            x = x.compute_chunk_sizes()
        if y is not None and any(np.isnan(c) for c in y.chunks[0]):
            y = y.compute_chunk_sizes()
        self._check_rows(x, y)
        if x.ndim > 2:
            x = x.reshape(x.shape[0], -1)
        if y is not None and y.ndim == 1:
            y = y.reshape(-1, 1)
        sizes = tuple(s for s in balanced_sizes(x.shape[0], slots) if s > 0)
        x = x.rechunk((sizes, x.shape[1]))
        xb = x.to_delayed().ravel()
        yb = None
        if y is not None:
            y = y.rechunk((sizes, y.shape[1]))
            yb = y.to_delayed().ravel()
        make = dask.delayed(W.make_shard, pure=True)
        for k, size in enumerate(sizes):
            shard = make(xb[k], None if yb is None else yb[k], self.dtype)

            def build(shard: Any = shard, k: int = k) -> Any:
                return self._compute_on(shard, k)

            self._builders.append(build)
            self.sizes.append(int(size))

    def _from_pieces(self, items: list[Any], slots: int) -> None:
        xs, ys = [], []
        for i, d in enumerate(items):
            f, l = (d.getFeatures(), d.getLabels()) if _is_dataset(d) else d
            if f is None:
                raise DL4JInvalidInputException(f"{self.what}: DataSet {i} has no features")
            f = np.asarray(f)
            xs.append(f.reshape(f.shape[0], -1))
            if self.need_labels:
                if l is None:
                    raise DL4JInvalidInputException(f"{self.what}: DataSet {i} has no labels")
                l = np.asarray(l)
                ys.append(l.reshape(l.shape[0], -1))
        widths = {a.shape[1] for a in xs}
        if len(widths) > 1:
            raise DL4JInvalidInputException(f"{self.what}: DataSets have different feature counts {sorted(widths)}")
        self.n_features = widths.pop()
        if ys:
            self.n_labels = ys[0].shape[1]
        groups = group_by_counts([a.shape[0] for a in xs], slots)
        for k, group in enumerate(groups):

            def build(group: list[int] = group, k: int = k) -> Any:
                gx = np.concatenate([xs[i] for i in group], axis=0)
                gy = np.concatenate([ys[i] for i in group], axis=0) if ys else None
                return self._scatter(W.make_shard(gx, gy, self.dtype), k)

            self._builders.append(build)
            self.sizes.append(int(sum(xs[i].shape[0] for i in group)))

    def _from_bag(self, bag: Any, slots: int) -> None:
        import dask

        bag = self.client.persist(bag)
        parts = bag.to_delayed()
        count = dask.delayed(_count_rows, pure=True)
        counting = self.client.compute([count(p) for p in parts])
        try:
            counts = C.gather(self.client, counting, self.compute_timeout, f"{self.what}: counting the bag's examples")
        finally:
            for f in counting:
                f.release()
        concat = dask.delayed(W.concat_pieces, pure=True)
        for k, group in enumerate(group_by_counts([int(c) for c in counts], slots)):
            shard = concat(self.dtype, self.need_labels, *[parts[i] for i in group])

            def build(shard: Any = shard, k: int = k) -> Any:
                return self._compute_on(shard, k)

            self._builders.append(build)
            self.sizes.append(int(sum(counts[i] for i in group)))
        self._bag = bag  # keeps the persisted partitions alive for the call


def _count_rows(part: Any) -> int:
    total = 0
    for item in part:
        if _is_dataset(item):
            f = item.getFeatures()
        elif isinstance(item, tuple) and len(item) == 2:
            f = item[0]
        else:
            f = item
        f = np.asarray(f)
        total += 1 if f.ndim == 1 else int(f.shape[0])
    return total
