"""The decode job per part: a new segment decodes only itself, an hour the vehicle moved on
from becomes one part, segments appended in any order give the store one job over all of
them gives, and a diagnostic message sent across two segments is reassembled."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import cantelem_sci as ct
from cantelem_edge import ingest

pytestmark = pytest.mark.slow

START = "2099-05-04T10:55:00"  # the future: only later segments close an hour


def _segments(root: Path) -> list[Path]:
    """Segment folders of a store, in key order."""
    return sorted(p.parent / p.name[: -len(".manifest.json")]
                  for p in root.glob("raw/vehicle=*/date=*/*.zarr.manifest.json"))


def _add(src: Path, seg: Path, dst: Path) -> None:
    """Copy one segment and its manifest (last, as the uploader does) into ``dst``."""
    rel = seg.relative_to(src)
    shutil.copytree(seg, dst / rel)
    shutil.copy(str(seg) + ".manifest.json", str(dst / rel) + ".manifest.json")


def _decoded_bytes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted((root / "decoded").rglob("*")) if p.is_file()}


def _current(root: Path) -> dict:
    return json.loads(next(root.glob("decoded/vehicle=EV0001/date=*/current.json")).read_text())


@pytest.fixture(scope="module")
def six_segments(tmp_path_factory):
    """Twelve minutes of EV0001 from 10:55 in six segments of two minutes: three start in
    hour 10, three in hour 11."""
    src = tmp_path_factory.mktemp("six")
    b = ct.simulate_vehicle("EV0001", duration_s=720, seed=5, start=START)
    ingest(b, "EV0001", str(src), segment_seconds=120.0)
    segs = _segments(src)
    assert len(segs) == 6
    return src, segs, b


@pytest.fixture(scope="module")
def whole(six_segments, tmp_path_factory, cluster_client):
    """The six segments decoded by one job."""
    src, _, _ = six_segments
    dst = tmp_path_factory.mktemp("whole") / "store"
    shutil.copytree(src, dst)
    ct.decode_fleet(str(dst), client=cluster_client, progress=False, summaries=False)
    return dst


def test_one_job_makes_a_part_per_closed_hour_and_per_new_segment(whole, six_segments):
    _, segs, b = six_segments
    cur = _current(whole)
    parts = cur["parts"]
    # hour 10 is closed (the vehicle has segments in hour 11): one part of its three
    # segments; hour 11 is the newest: one part per segment
    assert [len(p["segments"]) for p in parts] == [3, 1, 1, 1]
    assert sum(p["frames"] for p in parts) == cur["frames"] == len(b)
    assert sorted(p.name for p in whole.glob("decoded/vehicle=EV0001/date=*/*.zarr")) == \
        sorted(f"{p['name']}.zarr" for p in parts)
    fleet = ct.open_fleet(whole)
    want = ct.decode(b, ct.load_dbc(ct.sample_dbc_path()))["VCU_Vehicle"]
    got = fleet.load("EV0001", "VehicleSpeed")
    np.testing.assert_array_equal(got["time"].values, want["time"].values)
    np.testing.assert_array_equal(got["VehicleSpeed"].values, want["VehicleSpeed"].values)


def test_a_new_segment_decodes_only_itself(six_segments, whole, tmp_path, cluster_client):
    src, segs, _ = six_segments
    dst = tmp_path / "store"
    for s in segs[:5]:
        _add(src, s, dst)
    ct.decode_fleet(str(dst), client=cluster_client, progress=False, summaries=False)
    _add(src, segs[5], dst)
    rep = ct.decode_fleet(str(dst), client=cluster_client, progress=False, summaries=False)
    new = json.loads(Path(str(segs[5]) + ".manifest.json").read_text())["frame_count"]
    assert rep.parts == 1 and rep.frames == new
    assert "1 part(s)" in str(rep) and "tasks read" in str(rep)
    # the report names each stage of the job (what each took is for the benchmark)
    assert set(rep.times) == {"plan_s", "read_s", "decode_s", "write_s", "publish_s"}
    assert _decoded_bytes(dst) == _decoded_bytes(whole)


def test_an_hour_left_behind_becomes_one_part(six_segments, tmp_path, cluster_client):
    src, segs, _ = six_segments
    dst = tmp_path / "store"
    for s in segs[:3]:
        _add(src, s, dst)
    ct.decode_fleet(str(dst), client=cluster_client, progress=False, summaries=False)
    assert [len(p["segments"]) for p in _current(dst)["parts"]] == [1, 1, 1]
    _add(src, segs[3], dst)  # the first segment of hour 11: hour 10 is closed
    rep = ct.decode_fleet(str(dst), client=cluster_client, progress=False, summaries=False)
    assert rep.parts == 2  # hour 10 as one part, and the new segment
    assert [len(p["segments"]) for p in _current(dst)["parts"]] == [3, 1]
    assert len(list(dst.glob("decoded/vehicle=EV0001/date=*/*.zarr"))) == 2


@pytest.mark.parametrize("order", [[5, 0, 3, 1, 4, 2], [2, 1, 0, 5, 4, 3]])
def test_appends_in_any_order_equal_one_job(six_segments, whole, tmp_path, cluster_client,
                                            order):
    src, segs, _ = six_segments
    dst = tmp_path / "store"
    for i in order:
        _add(src, segs[i], dst)
        ct.decode_fleet(str(dst), client=cluster_client, progress=False, summaries=False)
    assert _decoded_bytes(dst) == _decoded_bytes(whole)
    assert _current(dst) == _current(whole)


def test_a_message_sent_across_two_segments_is_reassembled(tmp_path, cluster_client):
    b = ct.simulate_obd_vehicle("CAR0001", duration_s=20, start=np.datetime64(START))
    vin = np.flatnonzero((b.arbitration_id == 0x7E8) & (b.data[:, 0] == 0x10))[0]  # 1st frame
    cut = int(b.time[vin]) + 1  # the VIN's first frame in one segment, the rest in the next
    ingest(b.take(np.flatnonzero(b.time < cut)), "CAR0001", str(tmp_path),
           segment_seconds=3600.0)
    ingest(b.take(np.flatnonzero(b.time >= cut)), "CAR0001", str(tmp_path),
           segment_seconds=3600.0)
    assert len(_segments(tmp_path)) == 2
    cat = tmp_path / "fleet.yaml"
    cat.write_text(f"""metadata:
  cantelem:
    store: {tmp_path}
    dbc_groups:
      - {{name: obd, vehicles: ["CAR*"], dbc: [], protocols: [obd2]}}
sources: {{}}
""")
    ct.decode_fleet(catalog=str(cat), client=cluster_client, progress=False, summaries=False)
    cur = json.loads(next(tmp_path.glob("decoded/vehicle=CAR0001/date=*/current.json"))
                     .read_text())
    assert len(cur["parts"]) == 2 and cur["parts"][1]["lead"] == cur["parts"][0]["segments"][0]
    from cantelem_sci.decoder import decode_vehicle

    want = decode_vehicle(b, None, ["obd2"])
    assert cur["obd2"]["7E8"]["VIN"] == want.attrs["obd2"]["7E8"]["VIN"]
    assert cur["obd2"] == want.attrs["obd2"]  # no problem counted at the cut
    fleet = ct.open_fleet(catalog=str(cat))
    for name, node in want.children.items():
        sig = next(iter(node.dataset.data_vars))
        got = fleet.load("CAR0001", f"{name}.{sig}")
        np.testing.assert_array_equal(got["time"].values, node.dataset["time"].values)
        np.testing.assert_array_equal(got[sig].values, node.dataset[sig].values)



def test_a_part_of_a_local_store_is_decoded_without_zarr_python(tmp_path):
    """A fresh worker decodes a part of a local store (a segment with GPS fixes) without
    importing zarr-python (0.15 s of its first part): segments and fixes are read, and the
    part written, by the project's own Zarr v3 code."""
    import subprocess
    import sys

    from cantelem_sci.io import segment_key, write_segment
    from cantelem_sci.io._journal import GPS_FLOAT, GPS_INT

    b = ct.simulate_vehicle("EV0001", duration_s=20, seed=5, start=START)
    t = b.time[::4000][:5].copy()
    gps = {"time": t, **{k: np.linspace(1, 2, len(t)) for k in GPS_FLOAT},
           **{k: np.full(len(t), 9, np.uint8) for k in GPS_INT}}
    write_segment(tmp_path, segment_key("EV0001", int(b.time.min()), 1), b, gps,
                  {"vehicle": "EV0001", "seq": 1})
    code = f"""
import sys
from cantelem_sci.fleet._catalog import default_catalog
from cantelem_sci.fleet._job import plan
from cantelem_sci.fleet._part_task import decode_part
from cantelem_sci.fleet._store import Store
st = Store({str(tmp_path)!r}, {{}})
tasks, _ = plan(st, default_catalog(st.url, {{}}), None)
recs = [decode_part(st.url, {{}}, p) for t in tasks for p in t.parts]
print(sum(r["frames"] for r in recs), "zarr" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split() == [str(len(b)), "False"]
    (lat,) = tmp_path.glob("decoded/vehicle=EV0001/date=*/*.zarr/GPS/Latitude")
    assert (lat / "zarr.json").exists()  # the fixes are in the part
