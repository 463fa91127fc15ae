"""A small generated fleet store (2 vehicles x 10 min across midnight, written through the
edge logger) and a real LocalCluster, shared by the fleet tests."""

from __future__ import annotations

import shutil
import warnings

import pytest

START = "2026-03-01T23:55:00"
VEHICLES = ("EV0001", "EV0002")


def make_raw_store(path, duration_s: float = 600.0) -> dict:
    """Simulated frames of VEHICLES ingested through the edge logger; returns the batches."""
    import cantelem_sci as ct
    from cantelem_edge import ingest

    batches = {}
    for i, v in enumerate(VEHICLES):
        b = ct.simulate_vehicle(v, duration_s=duration_s, seed=1, index=i, start=START)
        ingest(b, v, str(path))
        batches[v] = b
    return batches


@pytest.fixture(scope="session")
def cluster_client():
    """A real dask.distributed LocalCluster (2 worker processes)."""
    from distributed import Client, LocalCluster

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
    yield client
    client.close()
    cluster.close()


@pytest.fixture(scope="session")
def raw_store(tmp_path_factory):
    path = tmp_path_factory.mktemp("raw-store")
    batches = make_raw_store(path)
    return path, batches


@pytest.fixture(scope="session")
def decoded_store(raw_store, cluster_client, tmp_path_factory):
    """The raw store decoded once with the session cluster (tests must not modify it)."""
    import cantelem_sci as ct

    src, batches = raw_store
    path = tmp_path_factory.mktemp("decoded") / "store"
    shutil.copytree(src, path)
    report = ct.decode_fleet(str(path), client=cluster_client, progress=False)
    return path, batches, report


@pytest.fixture
def fresh_raw_store(raw_store, tmp_path):
    """A private copy of the raw store (for tests that change it)."""
    src, batches = raw_store
    dst = tmp_path / "store"
    shutil.copytree(src, dst)
    return dst, batches
