"""The simulator: deterministic, realistic, decodable."""

from __future__ import annotations

import numpy as np

import cantelem_sci as ct
from cantelem_sci.sim import simulate_vehicle


def test_deterministic_for_a_seed():
    a = simulate_vehicle("EV0001", duration_s=5, seed=3)
    b = simulate_vehicle("EV0001", duration_s=5, seed=3)
    c = simulate_vehicle("EV0001", duration_s=5, seed=4)
    assert np.array_equal(a.data, b.data) and np.array_equal(a.time, b.time)
    assert not np.array_equal(a.data, c.data)


def test_physics_is_plausible(sample_db):
    b = simulate_vehicle("EV0002", duration_s=900, seed=1, index=1)
    tree = ct.decode(b, sample_db)
    pack = tree["BMS_PackStatus"].dataset
    speed = tree["VCU_Vehicle"]["VehicleSpeed"].values
    assert 0 <= np.nanmin(speed) and 20 < np.nanmax(speed) < 140
    cur = pack["PackCurrent"].values
    assert cur.min() < -5  # regeneration or charging
    assert cur.max() > 20
    soc = pack["SOC"].values
    assert 0 < soc.min() and soc.max() <= 100
    # no frames while parked: a real gap longer than 30 s for trip detection
    t = pack["time"].values.astype(np.int64)
    assert np.diff(t).max() > 30e9
    cells = tree["BMS_CellVoltages"].dataset
    v = np.stack([cells[f"Cell{c:02d}_Voltage"].values for c in range(1, 97)])
    # cell-to-cell variance: per-cell means differ by a few mV, never by volts
    assert 0.001 < np.nanmean(v, axis=1).std() < 0.05
    temp = tree["MCU_Motor"]["MotorTemp"].values
    assert temp.max() > temp.min()
    lat = tree["GPS_Position"]["Latitude"].values
    assert 48 < lat.min() and lat.max() < 49.5


def test_fleet_ids_and_schema():
    fleet = ct.simulate_fleet(3, duration_s=2, seed=0)
    assert list(fleet) == ["EV0001", "EV0002", "EV0003"]
    ds = fleet["EV0003"]
    assert ds.attrs["channel_names"] == ["can0", "can1"]
    assert np.all(np.diff(ds["time"].values.astype(np.int64)) >= 0)
