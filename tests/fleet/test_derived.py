"""Calculated signals in fleet queries: values against their operands computed by hand or with
pandas, the default catalog's pack signals, ad hoc definitions, aggregate / resample / export,
downsampling and clear errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import cantelem_sci as ct
from cantelem_sci.errors import ExpressionError, UnknownNameError


@pytest.fixture(scope="module")
def fleet(decoded_store):
    return ct.open_fleet(decoded_store[0])


def _series(da) -> pd.Series:
    s = pd.Series(da.values, index=pd.DatetimeIndex(da[da.dims[0]].values))
    return s.dropna()


def test_pack_power_is_voltage_times_current_on_their_own_axis(fleet):
    assert {"PackPower", "PackEnergy", "CellSpread"} <= set(fleet.derived_for("EV0001"))
    ds = fleet.load("EV0001", ["PackVoltage", "PackCurrent", "PackPower"])
    u, i, p = (_series(ds[n]) for n in ("PackVoltage", "PackCurrent", "PackPower"))
    assert len(p) == len(u) > 1000
    np.testing.assert_array_equal(p.index, u.index)
    np.testing.assert_array_equal(p.values, u.values * i.values / 1000)
    assert ds["PackPower"].attrs["units"] == "kW"
    assert fleet.signal_info("EV0001", "PackPower")["units"] == "kW"


def test_cell_spread_holds_every_cell_within_three_periods_like_pandas(fleet):
    cells = [s for s in fleet.signals("EV0001") if s.startswith("Cell") and
             s.endswith("_Voltage")]
    ds = fleet.load("EV0001", cells + ["CellSpread"])
    axis = _series(ds["Cell01_Voltage"]).index
    held = []
    for c in sorted(cells):
        s = _series(ds[c])
        s = s[~s.index.duplicated(keep="last")]
        tol = pd.Timedelta(int(3 * np.median(np.diff(s.index.asi8))), "ns")
        held.append(s.reindex(axis, method="ffill", tolerance=tol).to_numpy())
    held = np.vstack(held)
    want = (np.nanmax(held, axis=0) - np.nanmin(held, axis=0)) * 1000
    got = _series(ds["CellSpread"])
    np.testing.assert_array_equal(got.index, axis)
    np.testing.assert_allclose(got.values, want, rtol=1e-12)
    assert got.max() > 0


def test_energy_integrates_power_and_skips_the_gaps(fleet):
    ds = fleet.load("EV0001", ["PackPower", "PackEnergy"])
    p, e = _series(ds["PackPower"]), _series(ds["PackEnergy"])
    t = p.index.asi8
    gap = 3 * np.median(np.diff(t))
    inc = (p.values[1:] + p.values[:-1]) / 2 * np.diff(t) / 3.6e12
    want = np.concatenate([[0.0], np.cumsum(np.where(np.diff(t) <= gap, inc, 0.0))])
    np.testing.assert_allclose(e.values, want, rtol=1e-9, atol=1e-12)


def test_ad_hoc_signals_in_aggregate_resample_and_export(fleet, tmp_path):
    derived = {"Regen": "where(PackCurrent < 0, -PackPower, 0)",
               "SpeedMph": {"expr": 'convert(VehicleSpeed, "km/h", "mph")', "unit": "mph"}}
    agg = fleet.aggregate("1min", ["Regen", "SOC"], derived=derived)
    assert list(agg.vehicle.values) == ["EV0001", "EV0002"]
    regen = _series(fleet.load("EV0002", "Regen", derived=derived)["Regen"])
    want = regen.resample("1min").agg(["count", "max", "mean"])
    got = agg["Regen"].sel(vehicle="EV0002").to_pandas().loc[want.index]
    np.testing.assert_allclose(got[["count", "max", "mean"]].to_numpy(float), want.to_numpy(),
                               rtol=1e-12)
    assert (regen >= 0).all() and regen.max() > 0
    res = fleet.resample("10s", ["SpeedMph"], vehicles=["EV0001"], derived=derived)
    speed = _series(fleet.load("EV0001", "VehicleSpeed")["VehicleSpeed"])
    grid = res.time.to_index()
    ok = ~res["SpeedMph_gap"].sel(vehicle="EV0001").values
    want = speed[~speed.index.duplicated(keep="last")].reindex(grid, method="ffill") / 1.609344
    np.testing.assert_allclose(res["SpeedMph"].sel(vehicle="EV0001").values[ok],
                               want.to_numpy()[ok], rtol=1e-9)
    out = fleet.export(tmp_path / "x.csv", vehicles=["EV0001"], signals=["SOC", "SpeedMph"],
                       derived=derived)
    df = pd.read_csv(out)
    assert {"SOC", "SpeedMph"} <= set(df.columns) and df["SpeedMph"].notna().sum() > 100


def test_downsampled_calculated_signal_keeps_values_of_the_full_series(fleet):
    full = _series(fleet.load("EV0001", "PackPower")["PackPower"])
    few = fleet.load("EV0001", "PackPower", max_points=400)["PackPower"]
    assert 0 < few.sizes["time"] <= 800 < len(full)
    assert np.isin(few.values[~np.isnan(few.values)], full.values).all()
    from cantelem_sci.kernels import downsample

    idx = downsample(full.index.asi8, full.to_numpy(), 400, "minmax_lttb")
    np.testing.assert_array_equal(few.values, full.to_numpy()[idx])  # as a decoded signal


def test_errors_name_the_expression_and_suggest_signals(fleet):
    with pytest.raises(UnknownNameError, match=r"'PackVoltge'.*did you mean 'PackVoltage'") as e:
        fleet.load("EV0001", "P", derived={"P": "PackVoltge * 2"})
    assert "PackVoltge * 2" in str(e.value)
    with pytest.raises(ExpressionError, match="calculated signal P: .* column 7: syntax error: .*never closed"):
        fleet.load("EV0001", "P", derived={"P": "SOC * (2"})
    with pytest.raises(UnknownNameError, match="applies to CAR"):
        fleet.load("EV0001", "P", derived={"P": {"expr": "SOC", "vehicles": ["CAR*"]}})
    with pytest.raises(UnknownNameError, match="did you mean 'PackPower'"):
        fleet.load("EV0001", "PackPowr")
