"""The Dask worker plugin that limits each worker process to one compute thread. Imported only when Dask is
installed (the class derives from Dask's WorkerPlugin)."""
from __future__ import annotations

from distributed.diagnostics.plugin import WorkerPlugin


class SingleThreadPlugin(WorkerPlugin):
    """On every worker (present and future, restarted ones included): one BLAS thread (threadpoolctl when
    installed, else the OMP/OPENBLAS/MKL env vars the nanny sets before the process starts) and one numba thread."""

    name = "dl4py-single-thread"
    idempotent = True

    def setup(self, worker) -> None:  # noqa: D401 - Dask's hook
        from .worker import configure_threads

        configure_threads(1)
