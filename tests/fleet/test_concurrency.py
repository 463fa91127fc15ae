"""Two jobs on one store, and a damaged store: one decode job at a time (the second refuses
naming the first, or waits), each day published whole, and a damaged day decoded again
instead of trusted as up to date. Every frame is present exactly once and the store opens."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

import cantelem_sci as ct
from cantelem_sci.errors import StoreBusyError
from cantelem_sci.fleet import Store
from cantelem_sci.fleet._lease import JobLease

pytestmark = pytest.mark.slow


def _check_complete(path, batches):
    """Every frame of every vehicle decoded once: each message has as many samples as a
    direct decode of the raw frames gives, in time order."""
    fleet = ct.open_fleet(str(path))
    db = ct.load_dbc(ct.sample_dbc_path())
    for v, b in batches.items():
        tree = ct.decode(b, db)
        for name, node in tree.children.items():
            sig = next(iter(node.dataset.data_vars))
            ds = fleet.load(v, f"{name}.{sig}")
            assert ds.sizes["time"] == node.dataset.sizes["time"], (v, name)
            assert np.all(np.diff(ds["time"].values.astype("int64")) >= 0)


def _decode(path, *extra):
    return subprocess.Popen([sys.executable, "-m", "cantelem_sci", "decode", "--store",
                             str(path), "--workers", "1", "--quiet", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_two_decode_processes_on_one_store(fresh_raw_store):
    path, batches = fresh_raw_store
    a = _decode(path)
    lock = path / ".locks" / "decode.lock"
    t_end = time.monotonic() + 60
    while time.monotonic() < t_end and not (lock.exists() and lock.read_text().strip()):
        time.sleep(0.05)
    b = _decode(path)  # while the first holds the lease
    out_b, err_b = b.communicate(timeout=300)
    out_a, err_a = a.communicate(timeout=300)
    assert a.returncode == 0, err_a
    assert b.returncode == 2 and f"lease is in use by pid {a.pid}" in err_b, err_b
    assert "--wait" in err_b and "decoded 4 vehicle-day(s)" in out_a
    _check_complete(path, batches)
    # with --wait, two at once both succeed: the second finds everything up to date
    shutil.rmtree(path / "decoded")
    a, b = _decode(path, "--wait", "240"), _decode(path, "--wait", "240")
    outs = [p.communicate(timeout=300) for p in (a, b)]
    assert [p.returncode for p in (a, b)] == [0, 0], outs
    text = "".join(o for o, _ in outs)
    assert "decoded 4 vehicle-day(s)" in text and "4 up to date" in text
    _check_complete(path, batches)


def test_a_damaged_day_is_decoded_again(fresh_raw_store, cluster_client):
    path, batches = fresh_raw_store
    ct.decode_fleet(str(path), client=cluster_client, progress=False)
    chunks = sorted(p for p in path.glob("decoded/vehicle=EV0001/date=*/*.zarr/**/c/*")
                    if p.is_file())
    chunks[len(chunks) // 2].unlink()  # a lost file
    other = chunks[0]
    other.write_bytes(other.read_bytes()[:-5])  # and a truncated one
    rep = ct.decode_fleet(str(path), client=cluster_client, progress=False)
    assert {(r["vehicle"], r["problem"].split(" ")[1]) for r in rep.repaired} <= {
        ("EV0001", "file(s)")}
    assert len(rep.repaired) >= 1 and len(rep.decoded) == len(rep.repaired)
    assert "damaged vehicle-day(s) decoded again" in str(rep)
    _check_complete(path, batches)
    assert ct.decode_fleet(str(path), client=cluster_client, progress=False).skipped == 4


def test_a_crashed_jobs_partial_folder_is_never_read_and_is_cleaned(fresh_raw_store,
                                                                    cluster_client):
    path, batches = fresh_raw_store
    ct.decode_fleet(str(path), client=cluster_client, progress=False)
    day = sorted(path.glob("decoded/vehicle=EV0002/date=*"))[0]
    stale = day / "0123abcd.deadbeef0000.partial"
    fresh = day / "0123abcd.cafe00000000.partial"
    for d in (stale, fresh):
        (d / "x").mkdir(parents=True)
        (d / "x" / "junk").write_bytes(b"half a write")
    old = time.time() - 7200
    os.utime(stale, (old, old))
    (day / "current.json").write_text((day / "current.json").read_text().replace(
        '"version": "', '"version": "x'))  # a changed input: this day is decoded again
    ct.decode_fleet(str(path), client=cluster_client, progress=False)
    assert not stale.exists() and fresh.exists()  # a running job's folder is left alone
    _check_complete(path, batches)


def test_lease_on_an_object_store(moto_s3, s3_bucket):
    so = {"client_kwargs": {"endpoint_url": moto_s3.endpoint_url}}
    st = Store(f"s3://{s3_bucket}/fleet", so)
    first = JobLease(st, "decode")
    first.acquire()
    try:
        with pytest.raises(StoreBusyError, match=f"in use by pid {os.getpid()}"):
            JobLease(Store(f"s3://{s3_bucket}/fleet", so), "decode").acquire()
    finally:
        first.release()
    assert not st.exists("locks/decode.json")
    # a lease whose holder died without releasing it expires and is taken over
    st.write_json("locks/decode.json", {"holder": {"pid": 1, "host": "gone"},
                                        "expires": time.time() - 1})
    with JobLease(st, "decode"):
        assert st.read_json("locks/decode.json")["holder"]["pid"] == os.getpid()


def test_the_same_day_written_twice_at_once_is_published_whole(fresh_raw_store):
    """Without the lease (two jobs on an object store can both get it), two writers of one
    vehicle-day leave one complete version."""
    import threading

    from cantelem_sci.fleet import plan
    from cantelem_sci.fleet._catalog import default_catalog
    from cantelem_sci.fleet._job import decode_day

    path, batches = fresh_raw_store
    st = Store(str(path))
    tasks, _ = plan(st, default_catalog(str(path)))
    errors = []

    def run(task):
        try:
            decode_day(st.url, {}, task)
        except Exception as err:  # noqa: BLE001 - collected for the assertion
            errors.append(err)

    threads = [threading.Thread(target=run, args=(t,)) for t in tasks for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert not list(path.glob("decoded/**/*.partial"))
    _check_complete(path, batches)
