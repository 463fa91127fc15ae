"""The dask.distributed cluster a job runs on: a given client, a scheduler's address, or a
LocalCluster made for the job (one thread per worker process) and closed after it."""

from __future__ import annotations

import contextlib
import time
from typing import Any

__all__ = ["get_client", "map_on_cluster", "using_cluster"]


def get_client(scheduler: str | None = None, workers: int | None = None):
    """A dask.distributed client: ``scheduler`` (an address, or a ``Client``) or a new
    LocalCluster of ``workers`` processes with one thread each. Returns (client, owned):
    owned ``"cluster"`` for a LocalCluster made here, ``"client"`` for a client of an
    address (not made the default client, so the caller's stays), else False."""
    from distributed import Client, LocalCluster

    from .. import _config

    scheduler = _config.get("scheduler", scheduler)
    if scheduler is not None and not isinstance(scheduler, str):
        return scheduler, False
    if scheduler:
        return Client(scheduler, set_as_default=False), "client"
    n = int(_config.get("workers", workers))
    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                           dashboard_address=None)
    return Client(cluster), "cluster"


@contextlib.contextmanager
def using_cluster(client: Any, scheduler: str | None, workers: int | None):
    """``(client, spent)`` for the block: ``client``, else one of :func:`get_client` (closed
    after the block, with the LocalCluster made here); ``spent[0]``: the seconds spent
    starting and stopping a cluster made here."""
    owned, spent = False, [0.0]
    if client is None:
        t = time.perf_counter()
        client, owned = get_client(scheduler, workers)
        spent[0] = time.perf_counter() - t if owned == "cluster" else 0.0
    try:
        yield client, spent
    finally:
        if owned == "client":
            client.close()  # a scheduler's address: its connections, not its cluster
        elif owned:
            t = time.perf_counter()
            cluster = client.cluster
            client.close()
            cluster.close()
            spent[0] += time.perf_counter() - t


def map_on_cluster(fn, args: list[list], client: Any, scheduler: str | None,
                   workers: int | None, progress: bool = False) -> tuple[list, float]:
    """``fn`` over the argument lists on ``client`` (else a scheduler, else a LocalCluster
    made for this call and closed after it); returns the results and the seconds spent
    starting and stopping a cluster made here."""
    with using_cluster(client, scheduler, workers) as (client, spent):
        futures = client.map(fn, *args, pure=False)
        if progress:
            from distributed import progress as _progress

            _progress(futures)
        results = client.gather(futures)
    return results, spent[0]
