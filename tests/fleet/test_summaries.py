"""Trip summaries stored by the decode job: equal to computing them now, incremental (a new
segment recomputes only the trips it touches), read only while up to date; the hottest
module against the simulator's injected overheat."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

import cantelem_sci as ct
from cantelem_sci.derived import define
from cantelem_sci.fleet._battery import summarize_trip
from cantelem_sci.fleet._summaries import summary_key
from cantelem_sci.sim._faults import HOT_MODULE


def _stored(store, vehicle):
    return pd.read_parquet(io.BytesIO(ct.fleet.Store(str(store)).read_bytes(
        summary_key(vehicle))))


def test_the_decode_job_stores_each_trip_summary_equal_to_computing_it_now(decoded_store):
    path, _, report = decoded_store
    fleet = ct.open_fleet(str(path))
    assert report.summarized == len(fleet.trips())
    for v in fleet.vehicles:
        stored = _stored(path, v).drop(columns="inputs")
        now = pd.DataFrame([summarize_trip(fleet, v, t) for t in
                            fleet.trips(v).to_dict("records")])
        assert len(stored) == len(now) >= 1
        # the fixture's drive crosses midnight: one trip over two decoded days
        assert (now["start"].dt.date != now["end"].dt.date).any()
        pd.testing.assert_frame_equal(stored[now.columns], now, check_dtype=False)
        assert stored["distance_km"].gt(0).all()


def _drive(store, vehicle, start, seconds=240.0, faults=()):
    from cantelem_edge import ingest

    b = ct.simulate_vehicle(vehicle, duration_s=seconds, seed=3, start=start, faults=faults)
    ingest(b, vehicle, str(store), segment_seconds=60.0)


def test_a_new_trip_computes_only_its_own_summary(tmp_path, cluster_client):
    store = tmp_path / "store"
    _drive(store, "EV0001", "2026-05-01T08:00", faults=["overheat@200s+10s"])
    rep = ct.decode_fleet(str(store), client=cluster_client, progress=False)
    assert rep.summarized == 1
    first = _stored(store, "EV0001")
    _drive(store, "EV0001", "2026-05-01T12:00")  # a second trip, hours later
    rep = ct.decode_fleet(str(store), client=cluster_client, progress=False)
    assert len(rep.decoded) == 1 and rep.summarized == 1  # the first trip's row was kept
    both = _stored(store, "EV0001")
    assert len(both) == 2 and both.iloc[0]["inputs"] == first.iloc[0]["inputs"]
    # the overheat was injected into module 3: that module is the first trip's hottest
    assert list(both["hottest_module"]) == [f"Module{HOT_MODULE}Temp", "Module8Temp"]
    assert both.iloc[0]["hottest_module_temp"] == 65.0 > both.iloc[1]["hottest_module_temp"]
    hot = list(both["seconds_above_hot"])  # time the cells spent above 45 °C, per trip
    assert hot[0] > 0 and hot[1] == 0
    assert ct.decode_fleet(str(store), client=cluster_client, progress=False).summarized == 0


def test_stored_rows_are_read_while_up_to_date_and_recomputed_once_stale(tmp_path,
                                                                          cluster_client):
    store = tmp_path / "store"
    _drive(store, "EV0002", "2026-05-02T08:00")
    ct.decode_fleet(str(store), client=cluster_client, progress=False)
    st = ct.fleet.Store(str(store))
    df = _stored(store, "EV0002")
    true_km = df.loc[0, "distance_km"]
    df.loc[0, "distance_km"] = 1234.5  # marked: a read of the stored row returns it
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    st.write_bytes(summary_key("EV0002"), buf.getvalue())
    assert ct.open_fleet(str(store)).trip_summary("EV0002").loc[0, "distance_km"] == 1234.5
    df.loc[0, "inputs"] = "stale"  # no longer matching its inputs: computed again
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    st.write_bytes(summary_key("EV0002"), buf.getvalue())
    assert ct.open_fleet(str(store)).trip_summary("EV0002").loc[0, "distance_km"] == true_km
    # a changed definition of a calculated signal the summary reads changes its inputs
    fleet = ct.open_fleet(str(store))
    spread = fleet.trip_summary("EV0002").loc[0, "max_cell_spread_mv"]
    fleet.derived["CellSpread"] = define("CellSpread", "max(Cell*_Voltage) - min(Cell*_Voltage)")
    assert fleet.trip_summary("EV0002").loc[0, "max_cell_spread_mv"] == pytest.approx(
        spread / 1000)


def test_summaries_off_writes_none(tmp_path, cluster_client):
    store = tmp_path / "store"
    _drive(store, "EV0001", "2026-05-03T08:00", seconds=120.0)
    rep = ct.decode_fleet(str(store), client=cluster_client, progress=False, summaries=False)
    assert rep.summarized == 0 and len(rep.decoded) == 1
    assert not ct.fleet.Store(str(store)).exists(summary_key("EV0001"))
    # the next job with summaries makes the missing table, without decoding again
    rep = ct.decode_fleet(str(store), client=cluster_client, progress=False)
    assert rep.summarized == 1 and not rep.decoded and "1 trip summary updated" in str(rep)


def test_a_vehicle_without_a_pack_gets_distance_and_no_energy(decoded_store):
    fleet = ct.open_fleet(str(decoded_store[0]))
    trip = fleet.trips("EV0001").to_dict("records")[0]

    class NoPack:  # the same fleet seen without the pack's and modules' signals
        def __getattr__(self, name):
            return getattr(fleet, name)

        def signals(self, v):
            return {k: m for k, m in fleet.signals(v).items()
                    if not k.startswith(("Pack", "BMS_PackStatus", "Module", "BMS_Module"))}

    row = summarize_trip(NoPack(), "EV0001", trip)
    assert row["distance_km"] > 0 and np.isnan(row["energy_kwh"]) and np.isnan(row["ah"])
    assert row["hottest_module"] is None and row["charged_kwh"] == 0
