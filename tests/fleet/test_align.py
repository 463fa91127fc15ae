"""Signals on a distance (or any monotonic signal's) axis, against a hand-computed case."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import cantelem_sci as ct
from cantelem_sci.errors import ArgumentError, UnknownNameError
from cantelem_sci.fleet._align import distance

START, END = "2026-03-01T23:58:00", "2026-03-02T00:01:00"


@pytest.fixture(scope="module")
def fleet(decoded_store):
    return ct.open_fleet(decoded_store[0])


def _pd(fleet, v, sig, start=START, end=END):
    da = fleet.load(v, sig, start, end)[sig]
    return pd.Series(da.values, index=pd.DatetimeIndex(da[da.dims[0]].values)).dropna()


def test_by_distance_is_speed_where_the_odometer_first_reaches_each_km(fleet):
    ds = fleet.align(["VehicleSpeed"], by="distance", vehicles=["EV0001", "EV0002"],
                     points=40, start=START, end=END)
    assert ds["VehicleSpeed"].dims == ("vehicle", "distance") and ds.distance.attrs["units"] == "km"
    totals = []
    for v in ["EV0001", "EV0002"]:
        odo, spd = _pd(fleet, v, "Odometer"), _pd(fleet, v, "VehicleSpeed")
        d = odo - odo.iloc[0]
        totals.append(d.max())
        want = []
        for g in ds.distance.values:  # by hand: the first time the odometer is g km on
            when = d.index[np.argmax(d.values >= g)]
            want.append(spd.asof(when))
        np.testing.assert_array_equal(ds["VehicleSpeed"].sel(vehicle=v).values, want)
    # the grid spans what both vehicles drove
    assert ds.distance.values[0] == 0 and ds.distance.values[-1] == pytest.approx(min(totals))


def test_distance_from_speed_agrees_with_the_odometer(fleet):
    rng = ("2026-03-01T23:55:00", "2026-03-01T23:59:00")  # no gap in the recording
    odo, spd = _pd(fleet, "EV0001", "Odometer", *rng), _pd(fleet, "EV0001", "VehicleSpeed", *rng)
    assert np.diff(spd.index.values).max() < np.timedelta64(1, "s")
    km = distance(spd.index.values.view("int64"), spd.values)
    assert km[-1] == pytest.approx(odo.iloc[-1] - odo.iloc[0], rel=0.02, abs=0.01)
    # a gap adds nothing
    t = np.array([0, 1, 2, 3, 100]) * 60_000_000_000
    assert distance(t, np.full(5, 60.0)).tolist() == [0.0, 1.0, 2.0, 3.0, 3.0]


def test_by_a_falling_signal_and_bad_requests(fleet):
    ds = fleet.align(["PackVoltage"], by="SOC", vehicles=["EV0001"], points=5,
                     start=START, end=END)
    soc = _pd(fleet, "EV0001", "SOC")
    if soc.iloc[-1] < soc.iloc[0]:  # discharging: the grid runs down from the first SOC
        assert ds.SOC.values[0] == soc.iloc[0] and np.all(np.diff(ds.SOC.values) < 0)
    with pytest.raises(UnknownNameError, match="SOCC.*SOC"):
        fleet.align(["PackVoltage"], by="SOCC", vehicles=["EV0001"])
    with pytest.raises(ArgumentError, match="points 1"):
        fleet.align(["PackVoltage"], points=1)
