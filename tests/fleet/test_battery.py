"""Charge sessions against the simulator's ground truth (its ChargeActive flag, not read by
the detector), energy against a hand integration, and the trip summary's sums."""

from __future__ import annotations

import numpy as np
import pytest

import cantelem_sci as ct
from cantelem_sci.fleet._battery import runs


@pytest.fixture(scope="module")
def fleet(decoded_store):
    return ct.open_fleet(decoded_store[0])


def _truth(fleet, v):
    t, on = fleet.series(v, "ChargeActive")
    ok = ~np.isnan(on)
    t, on = t[ok], on[ok] > 0.5
    return [(t[a], t[b]) for a, b in runs(t, on, 10**9)]


@pytest.mark.parametrize("vehicle", ["EV0001", "EV0002"])
def test_charge_sessions_are_the_simulators(fleet, vehicle):
    truth = [(a, b) for a, b in _truth(fleet, vehicle) if b - a >= 60 * 10**9]
    got = fleet.charge_sessions(vehicle)
    assert len(truth) >= 1 and len(got) == len(truth)
    for (a, b), row in zip(truth, got.to_dict("records")):
        assert abs(row["start"].value - a) <= 10**9 and abs(row["end"].value - b) <= 10**9
        # energy by hand: V * I over the session's current samples, trapezoid, into the pack
        t, i = fleet.series(vehicle, "PackCurrent", row["start"], row["end"])
        tu, u = fleet.series(vehicle, "PackVoltage", row["start"], row["end"])
        np.testing.assert_array_equal(t, tu)  # one message: the same times
        want = -np.trapezoid(u * i / 1000, (t - t[0]) / 3.6e12)  # hours from the start
        assert row["energy_kwh"] == pytest.approx(want, rel=1e-9) and want > 0
        assert row["soc_end"] > row["soc_start"]


def test_trip_summary_adds_up(fleet):
    s = fleet.trip_summary("EV0001")
    trips = fleet.trips("EV0001")
    assert list(s["trip_id"]) == list(trips["trip_id"])
    row = s.iloc[0]
    t, odo = fleet.series("EV0001", "Odometer", row["start"], row["end"])
    assert row["distance_km"] == pytest.approx(odo[-1] - odo[0])
    assert row["charged_kwh"] == pytest.approx(
        fleet.charge_sessions("EV0001", row["start"], row["end"])["energy_kwh"].sum())
    _, soc = fleet.series("EV0001", "SOC", row["start"], row["end"])
    assert row["min_soc"] == np.nanmin(soc)
    assert 50 < row["wh_per_km"] < 400  # an EV's consumption


def test_runs_break_at_gaps_and_state_changes():
    t = np.array([0, 1, 2, 3, 10, 11, 12])
    on = np.array([1, 1, 0, 1, 1, 1, 0], bool)
    assert runs(t, on, 2) == [(0, 1), (3, 3), (4, 5)]
    assert runs(t[:0], on[:0], 2) == []


def test_trip_summary_time_above_and_cell_spread(fleet):
    row = fleet.trip_summary("EV0001", hot_c=-100.0).iloc[0]
    t, temp = fleet.series("EV0001", "CellTempMax", row["start"], row["end"])
    # every step is above -100 degC: the recorded time, less the gaps
    steps = np.diff(t)
    assert row["seconds_above_hot"] == pytest.approx(
        steps[steps <= 3 * np.median(steps)].sum() / 1e9)
    assert fleet.trip_summary("EV0001", hot_c=1000.0).iloc[0]["seconds_above_hot"] == 0
    _, spread = fleet.series("EV0001", "CellSpread", row["start"], row["end"])
    assert row["max_cell_spread_mv"] == np.nanmax(spread) > 0
