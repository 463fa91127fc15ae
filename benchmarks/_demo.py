"""The demo's fleet as a benchmark fixture: vehicles simulated through the edge logger into
a temporary store, decoded on a LocalCluster of 2 workers (the decode job timed)."""

from __future__ import annotations

import contextlib
import tempfile
import time
from typing import Iterator


@contextlib.contextmanager
def demo_store(vehicles: int = 3, duration_s: float = 1800.0,
               fault: bool = False) -> Iterator[tuple[str, object, object, float]]:
    """``(store, client, decode report, decode seconds)``; the cluster lives as long as the
    block (``fault``: the first vehicle overheats, as in the demo)."""
    from distributed import Client, LocalCluster

    import cantelem_sci as ct
    from cantelem_edge import ingest
    from cantelem_sci.cli import DEMO_FAULT
    from cantelem_sci.sim import vehicle_ids

    with tempfile.TemporaryDirectory() as store:
        for i, vid in enumerate(vehicle_ids(vehicles)):
            b = ct.simulate_vehicle(vid, duration_s=duration_s, index=i,
                                    faults=[DEMO_FAULT] if fault and i == 0 else ())
            ingest(b, vid, store, segment_seconds=60.0)
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                          dashboard_address=None) as cluster, Client(cluster) as client:
            s = time.perf_counter()
            rep = ct.decode_fleet(store, client=client, progress=False)
            yield store, client, rep, time.perf_counter() - s
