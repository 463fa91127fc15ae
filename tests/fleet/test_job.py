"""The decode job on a real LocalCluster: correctness, incremental, crash and re-run, changed
DBC, quarantine, and a store in S3 (moto over HTTP)."""

from __future__ import annotations

import hashlib
import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import cantelem_sci as ct
from cantelem_sci.fleet import Store, plan
from cantelem_sci.fleet._catalog import default_catalog

pytestmark = pytest.mark.slow


def _tree_bytes(root: Path) -> dict[str, str]:
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file():
            out[str(p.relative_to(root))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def test_decoded_values_equal_a_direct_decode(decoded_store):
    path, batches, report = decoded_store
    assert len(report.decoded) == 4 and not report.quarantined  # 2 vehicles x 2 days
    assert report.frames == sum(len(b) for b in batches.values())
    fleet = ct.open_fleet(path)
    db = ct.load_dbc(ct.sample_dbc_path())
    for v, b in batches.items():
        want = ct.decode(b, db)  # the decoder itself is checked against cantools
        got = fleet.load(v, ["VehicleSpeed", "SOC", "Cell17_Voltage"]).load()
        for sig, msg in [("VehicleSpeed", "VCU_Vehicle"), ("SOC", "BMS_PackStatus"),
                         ("Cell17_Voltage", "BMS_CellVoltages")]:
            w = want[msg][sig]
            g = got[sig]
            assert np.array_equal(g[g.dims[0]].values, w["time"].values)
            np.testing.assert_array_equal(g.values, w.values)
    # attrs name the DBC and the source segments
    day = next((path / "decoded" / "vehicle=EV0001").glob("date=*/current.json"))
    cur = json.loads(day.read_text())
    assert len(cur["dbc_sha256"]) == 64 and cur["source_segments"]
    import xarray as xr

    segs = []
    for part in cur["parts"]:  # each part names its own segments
        tree = xr.open_datatree(day.parent / f"{part['name']}.zarr", engine="zarr",
                                consolidated=False)
        assert tree.attrs["source_segments"] == part["segments"]
        assert tree.attrs["dbc_sha256"] == cur["dbc_sha256"]
        segs += part["segments"]
    assert sorted(segs) == cur["source_segments"]


def test_second_run_skips_everything(decoded_store, cluster_client):
    path, _, _ = decoded_store
    tasks, skipped = plan(Store(str(path)), default_catalog(str(path)))
    assert tasks == [] and skipped == 4


def test_crash_mid_job_then_rerun_equals_uninterrupted(fresh_raw_store, raw_store, tmp_path,
                                                       cluster_client):
    crashed, _ = fresh_raw_store
    clean = tmp_path / "clean"
    shutil.copytree(raw_store[0], clean)
    ct.decode_fleet(str(clean), client=cluster_client, progress=False)
    # the job in its own process, killed (with its cluster) right after it publishes the first
    # vehicle-day: every part of every day is written, one day's current.json names them
    code = ("import os, signal\n"
            "import cantelem_sci as ct\n"
            "from cantelem_sci.fleet import _job\n"
            "_publish = _job.publish_day\n"
            "def publish_then_die(*a, **k):\n"
            "    _publish(*a, **k)\n"
            "    os.killpg(0, signal.SIGKILL)\n"
            "_job.publish_day = publish_then_die\n"
            "if __name__ == '__main__':\n"
            f"    ct.decode_fleet({str(crashed)!r}, workers=1, progress=False)\n")
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)
    assert p.wait(timeout=300) == -signal.SIGKILL
    done = len(list(crashed.glob("decoded/*/*/current.json")))
    assert done == 1, done
    ct.decode_fleet(str(crashed), client=cluster_client, progress=False)
    assert _tree_bytes(crashed) == _tree_bytes(clean)


def test_changed_dbc_redecodes_only_what_it_affects(fresh_raw_store, tmp_path, cluster_client):
    path, batches = fresh_raw_store
    dbc_a = tmp_path / "a.dbc"
    dbc_b = tmp_path / "b.dbc"
    shutil.copy(ct.sample_dbc_path(), dbc_a)
    shutil.copy(ct.sample_dbc_path(), dbc_b)
    cat = tmp_path / "fleet.yaml"
    cat.write_text(f"""metadata:
  cantelem:
    store: {path}
    dbc_groups:
      - {{name: one, vehicles: [EV0001], dbc: [{dbc_a}]}}
      - {{name: two, vehicles: ["EV*"], dbc: [{dbc_b}]}}
sources: {{}}
""")
    first = ct.decode_fleet(catalog=str(cat), client=cluster_client, progress=False)
    assert len(first.decoded) == 4
    text = dbc_a.read_text()
    assert " SG_ VehicleSpeed : 0|16@1+ (0.01,0)" in text
    dbc_a.write_text(text.replace(" SG_ VehicleSpeed : 0|16@1+ (0.01,0)",
                                  " SG_ VehicleSpeed : 0|16@1+ (0.02,0)"))
    again = ct.decode_fleet(catalog=str(cat), client=cluster_client, progress=False)
    assert sorted((d["vehicle"], d["date"]) for d in again.decoded) == [
        ("EV0001", "2026-03-01"), ("EV0001", "2026-03-02")]
    assert again.skipped == 2
    fleet = ct.open_fleet(catalog=str(cat))
    direct = ct.decode(batches["EV0001"], ct.load_dbc(str(dbc_b)))["VCU_Vehicle"]["VehicleSpeed"]
    np.testing.assert_allclose(fleet.load("EV0001", "VehicleSpeed")["VehicleSpeed"].values,
                               direct.values * 2)


def test_missing_and_corrupt_segments_are_quarantined(fresh_raw_store, cluster_client):
    path, batches = fresh_raw_store
    mans = sorted(path.glob("raw/vehicle=EV0002/date=*/*.manifest.json"))
    missing = json.loads(mans[1].read_text())
    corrupt = json.loads(mans[3].read_text())
    shutil.rmtree(path / missing["key"])
    chunk = path / corrupt["key"] / "data" / "c" / "0" / "0"
    chunk.write_bytes(b"\x00garbage" * 10)
    rep = ct.decode_fleet(str(path), client=cluster_client, progress=False)
    bad = {q["key"] for q in rep.quarantined}
    assert bad == {missing["key"], corrupt["key"]}
    q = json.loads((path / "quarantine" / "vehicle=EV0002.json").read_text())
    assert {s["key"] for s in q["segments"]} == bad
    lost = missing["frame_count"] + corrupt["frame_count"]
    assert rep.frames == sum(len(b) for b in batches.values()) - lost
    fleet = ct.open_fleet(path)
    assert fleet.load("EV0002", "VehicleSpeed").sizes["time"] > 0


@pytest.mark.s3
def test_decode_a_store_in_s3(raw_store, moto_s3, s3_bucket, cluster_client):
    """One vehicle's raw segments in S3 (every object a request to moto over HTTP: one
    vehicle keeps the test short) are decoded in place and read back."""
    src, batches = raw_store
    fs = moto_s3.fs()
    fs.put(str(src) + "/raw/vehicle=EV0002", f"{s3_bucket}/fleet/raw/vehicle=EV0002",
           recursive=True)
    so = {"key": "testing", "secret": "testing",
          "client_kwargs": {"endpoint_url": moto_s3.endpoint_url}}
    url = f"s3://{s3_bucket}/fleet"
    rep = ct.decode_fleet(url, storage_options=so, client=cluster_client, progress=False)
    assert len(rep.decoded) >= 1 and rep.frames == len(batches["EV0002"])
    fleet = ct.open_fleet(url, storage_options=so)
    assert fleet.vehicles == ["EV0002"]
    small = fleet.load("EV0002", "VehicleSpeed", max_points=300)
    assert small.sizes["time"] == 300
    # a multiplexed signal, stored as its group's values, read back dense through xarray
    _, cell = fleet.series("EV0002", "Cell17_Voltage")
    want = ct.decode(batches["EV0002"], ct.load_dbc(ct.sample_dbc_path()))
    np.testing.assert_array_equal(cell, want["BMS_CellVoltages"]["Cell17_Voltage"].values)
    assert fs.exists(f"{s3_bucket}/fleet/index/vehicle=EV0002.json")
