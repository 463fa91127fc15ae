"""Beyond one machine: a scheduler and two workers started with dask's command line (as on a
cluster's nodes), a store in S3 (moto over HTTP), the decode job and queries through them."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import cantelem_sci as ct
from tests.conftest import free_port

pytestmark = [pytest.mark.s3, pytest.mark.slow]


def _dask(*args: str, log: Path) -> subprocess.Popen:
    exe = Path(sys.executable).with_name("dask")
    return subprocess.Popen([str(exe), *args], stdout=open(log, "wb"), stderr=subprocess.STDOUT,
                            env={**os.environ, "DASK_DISTRIBUTED__WORKER__DAEMON": "False"})


@pytest.fixture
def cli_cluster(tmp_path):
    """``dask scheduler`` and two ``dask worker`` processes on 127.0.0.1; the address."""
    from distributed import Client

    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs = [_dask("scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard",
                   log=tmp_path / "scheduler.log")]
    try:
        for i in range(2):
            procs.append(_dask("worker", address, "--host", "127.0.0.1", "--nthreads", "1",
                               "--nworkers", "1", "--no-dashboard", "--name", f"node{i}",
                               log=tmp_path / f"worker{i}.log"))
        deadline = time.monotonic() + 60
        while True:
            try:
                with Client(address, timeout="5s") as c:
                    c.wait_for_workers(2, timeout=60)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        yield address
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()


def test_decode_job_and_queries_on_a_command_line_cluster(raw_store, moto_s3, s3_bucket,
                                                          cli_cluster):
    from distributed import Client, get_task_stream

    from cantelem_sci.io import read_segment

    src, _ = raw_store
    fs = moto_s3.fs()
    # the first segment of each of one vehicle's two days (two tasks for two workers); moto
    # serves every request from this process, so a small store keeps the test short
    keys = []
    for day in sorted((src / "raw" / "vehicle=EV0002").iterdir()):
        seg = sorted(day.glob("*.zarr"))[0]
        key = f"fleet/raw/vehicle=EV0002/{day.name}/{seg.name}"
        fs.put(str(seg), f"{s3_bucket}/{key}", recursive=True)
        fs.put(str(seg) + ".manifest.json", f"{s3_bucket}/{key}.manifest.json")
        keys.append(seg)
    frames = [read_segment(str(k)) for k in keys]
    so = {"key": "testing", "secret": "testing",
          "client_kwargs": {"endpoint_url": moto_s3.endpoint_url}}
    url = f"s3://{s3_bucket}/fleet"
    with Client(cli_cluster) as client, get_task_stream(client) as stream:
        rep = ct.decode_fleet(url, storage_options=so, scheduler=cli_cluster, progress=False,
                              summaries=False)
        assert rep.frames == sum(len(f) for f in frames)
        assert [d["vehicle"] for d in rep.decoded] == ["EV0002", "EV0002"]
        # a query through the same workers: the lazy store read there, reduced there
        fleet = ct.open_fleet(url, storage_options=so)
        lazy = fleet.load("EV0002", "VehicleSpeed")["VehicleSpeed"]
        mean = float(lazy.mean().compute())
    ran_on = {t["worker"] for t in stream.data}
    assert len(ran_on) == 2, f"tasks ran on {ran_on}; expected both command-line workers"
    from cantelem_sci.frames import FrameBatch

    local = ct.decode(FrameBatch.concat(frames), ct.load_dbc(ct.sample_dbc_path()))
    want = local[fleet.signals("EV0002")["VehicleSpeed"]].dataset["VehicleSpeed"].values
    assert np.isclose(mean, np.nanmean(want))
