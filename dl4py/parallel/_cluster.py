"""Bounded requests to a Dask cluster: every wait of ``dl4py.parallel`` on the cluster goes through here, so
none can block forever.

Dask's own ``timeout`` arguments do not bound everything: ``Client.scatter(..., broadcast=True, timeout=t)`` only
bounds the wait for workers to exist, and the scheduler's replication behind it loops for ever when a target
worker dies while the copy runs (distributed 2026.8: ``Scheduler.replicate`` keeps the dead worker in its target
set and retries it every connect time-out); ``Client.gather`` has no time-out at all. The helpers below run the
client's coroutines on its event loop under ``callback_timeout`` instead. Nothing here imports Dask at module
level.
"""
from __future__ import annotations

import asyncio
import threading
import time
from typing import Any, Awaitable, Callable, Iterable, TypeVar

T = TypeVar("T")


class ClusterTimeout(ConnectionError):
    """A request to the cluster (a transfer, a query) got no answer in time. Treated like a lost worker: the
    round is run again from the same inputs."""


def bounded(client: Any, make: Callable[[], Awaitable[T]], timeout: float, what: str) -> T:
    """Await ``make()`` on ``client``'s event loop; :class:`ClusterTimeout` when it has not finished after
    ``timeout`` seconds (the awaitable is cancelled). ``make`` is called on the loop's thread."""
    t0 = time.monotonic()
    try:
        return client.sync(make, callback_timeout=timeout)
    except (TimeoutError, asyncio.TimeoutError) as e:
        waited = time.monotonic() - t0
        if waited < timeout:  # raised by the request itself (e.g. the scheduler found no valid worker)
            raise ClusterTimeout(f"{what}: {e or type(e).__name__}") from e
        raise ClusterTimeout(f"{what}: no answer from the Dask cluster after {waited:.1f} s") from None


def bounded_blocking(fn: Callable[[], T], timeout: float, what: str) -> T:
    """Run a blocking client call that offers no coroutine (e.g. ``register_plugin``) on a helper thread and
    wait at most ``timeout`` seconds for it. On time-out the helper thread is left to finish on its own."""
    out: dict[str, Any] = {}

    def run() -> None:
        try:
            out["value"] = fn()
        except BaseException as e:  # noqa: BLE001 - handed to the caller
            out["error"] = e

    t = threading.Thread(target=run, name="dl4py-cluster-call", daemon=True)
    t.start()
    t.join(timeout)
    if t.is_alive():
        raise ClusterTimeout(f"{what}: no answer from the Dask cluster after {timeout:.1f} s")
    if "error" in out:
        raise out["error"]
    return out["value"]


def running_workers(client: Any, timeout: float) -> list[str]:
    """Addresses of the workers the scheduler considers running (sorted)."""
    what = "listing the Dask workers"
    try:
        return sorted(bounded(client, client.scheduler.ncores_running, timeout, what))
    except ClusterTimeout:
        raise
    except Exception:  # noqa: BLE001 - a scheduler without that handler: its identity lists the workers too
        info = bounded(client, client.scheduler.identity, timeout, what)
        return sorted(a for a, w in info.get("workers", {}).items() if w.get("status", "running") == "running")


def who_has(client: Any, futures: Iterable[Any], timeout: float) -> dict[Any, list[str]]:
    """``{key: [worker addresses holding it]}`` for ``futures``."""
    keys = [f.key for f in futures]
    return dict(bounded(client, lambda: client.scheduler.who_has(keys=keys), timeout, "asking where data live"))


def processing(client: Any, timeout: float) -> dict[str, list[Any]]:
    """``{worker: [keys of the tasks it is running or has queued]}``."""
    return dict(bounded(client, client.scheduler.processing, timeout, "asking which worker runs what"))


def scatter_to(client: Any, data: dict, worker: str) -> Awaitable[dict]:
    """A coroutine that scatters ``data`` (``{key: value}``) to ``worker`` only, through the scheduler (which
    knows whether the worker is alive), without replication. For :func:`bounded`."""
    return client.scatter(data, workers=[worker], hash=False, direct=False, asynchronous=True)


def gather(client: Any, futures: list, timeout: float, what: str) -> list:
    """The results of ``futures`` (directly from the workers), bounded."""
    return bounded(client, lambda: client.gather(futures, direct=True, asynchronous=True), timeout, what)


__all__ = ["ClusterTimeout", "bounded", "bounded_blocking", "gather", "processing", "running_workers",
           "scatter_to", "who_has"]
