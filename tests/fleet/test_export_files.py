"""Exports for other tools: decoded signals to MF4 re-read by asammdf (values, units, each
message on its own axis), raw frames to MF4 / ASC / BLF / candump re-read by python-can equal
to the store's frames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import cantelem_sci as ct
from cantelem_sci.errors import UnknownNameError


@pytest.fixture(scope="module")
def fleet(decoded_store):
    return ct.open_fleet(decoded_store[0])


def test_mf4_holds_each_message_on_its_own_axis_with_units(fleet, tmp_path):
    from asammdf import MDF

    start, end = "2026-03-01T23:59:00", "2026-03-02T00:01:00"  # across midnight
    p = fleet.export(tmp_path / "ev.mf4", "mf4", vehicles=["EV0001"],
                     signals=["VehicleSpeed", "PackVoltage", "Cell07_Voltage", "PackPower"],
                     start=start, end=end)
    ds = fleet.load("EV0001", ["VehicleSpeed", "PackVoltage", "Cell07_Voltage", "PackPower"],
                    start, end)
    with MDF(p) as mdf:
        t0 = pd.Timestamp(mdf.header.start_time).tz_convert(None).value
        names = {g.channel_group.acq_name: [c.name for c in g.channels]
                 for g in mdf.groups}
        assert {"VCU_Vehicle", "BMS_PackStatus", "BMS_CellVoltages", "PackPower"} <= set(names)
        for sig in ["VehicleSpeed", "PackVoltage", "Cell07_Voltage", "PackPower"]:
            got = mdf.get(sig)
            want = ds[sig]
            want_t = want[want.dims[0]].values.view("int64")
            assert got.samples.size == want.size > 100
            np.testing.assert_array_equal(got.samples, want.values)
            # float seconds from the start: within 1 us of the nanosecond times
            assert np.abs(t0 + got.timestamps * 1e9 - want_t).max() < 1000
            unit = fleet.signal_info("EV0001", sig)["units"]
            assert got.unit == unit and unit
        speed, volt = mdf.get("VehicleSpeed"), mdf.get("PackVoltage")
        assert not np.array_equal(speed.timestamps[:10], volt.timestamps[:10])  # not resampled


def test_mf4_of_unknown_names_is_refused_naming_them(fleet, tmp_path):
    with pytest.raises(UnknownNameError, match="VehicleSpeeed.*VehicleSpeed"):
        fleet.export(tmp_path / "x.mf4", "mf4", vehicles=["EV0001"], signals=["VehicleSpeeed"])
    with pytest.raises(UnknownNameError, match="mf5"):
        fleet.export(tmp_path / "x.mf4", "mf5")


@pytest.mark.parametrize("suffix", [".mf4", ".asc", ".blf", ".log"])
def test_raw_frames_reread_by_python_can_equal_the_store(fleet, decoded_store, tmp_path, suffix):
    import can

    start, end = pd.Timestamp("2026-03-01T23:59:30"), pd.Timestamp("2026-03-02T00:00:10")
    p = fleet.export_frames(tmp_path / f"raw{suffix}", "EV0001", start, end)
    src = decoded_store[1]["EV0001"]
    o = np.argsort(src.time, kind="stable")
    keep = o[(src.time[o] >= start.value) & (src.time[o] <= end.value)]
    msgs = list(can.LogReader(p))
    assert len(msgs) == keep.size > 100
    np.testing.assert_array_equal([m.arbitration_id for m in msgs], src.arbitration_id[keep])
    assert all(bytes(m.data) == bytes(src.data[i, :src.dlc[i]]) for m, i in zip(msgs, keep))
    assert [m.is_extended_id for m in msgs] == src.is_extended[keep].tolist()
    t = np.array([m.timestamp for m in msgs])
    want = src.time[keep] / 1e9
    if suffix == ".asc":  # python-can reads ASC times relative to the first frame
        t, want = t - t[0], want - want[0]
    assert np.abs(t - want).max() < 1e-6
