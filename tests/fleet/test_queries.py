"""Queries on a decoded store: load, errors, empty ranges, resample, aggregate, export,
trips, catalogs (own loader, intake + intake-xarray), the xarray backend, range flags."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

import cantelem_sci as ct
from cantelem_sci.errors import ConfigError, UnknownNameError
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def fleet(decoded_store):
    return ct.open_fleet(decoded_store[0])


def test_vehicles_coverage_messages(fleet, decoded_store):
    _, batches, _ = decoded_store
    assert fleet.vehicles == ["EV0001", "EV0002"]
    cov = fleet.coverage().set_index("vehicle")
    for v, b in batches.items():
        assert cov.loc[v, "frames"] == len(b)
        assert cov.loc[v, "start"] == pd.Timestamp(int(b.time.min()))
        assert cov.loc[v, "decoded_days"] == 2
    assert "VCU_Vehicle" in fleet.messages("EV0001")
    assert fleet.signals("EV0001")["VehicleSpeed"] == "VCU_Vehicle"


def test_unknown_names_list_the_valid_ones(fleet):
    with pytest.raises(UnknownNameError, match="unknown vehicle 'EV9999'; valid: EV0001, EV0002"):
        fleet.load("EV9999", "VehicleSpeed")
    with pytest.raises(UnknownNameError,
                       match="unknown signal of vehicle EV0001 'Speeed' \\(did you mean "
                             ".*'VehicleSpeed'.*\\?\\); valid: AccelPedal"):
        fleet.load("EV0001", ["Speeed"])
    with pytest.raises(UnknownNameError, match="valid: csv, mf4, parquet"):
        fleet.export("/tmp/x.xlsx", "xlsx")


def test_time_range_without_data_is_empty_not_an_error(fleet):
    ds = fleet.load("EV0001", ["VehicleSpeed", "SOC"], "2030-01-01", "2030-01-02")
    assert all(ds.sizes[d] == 0 for d in ds.dims)
    empty = fleet.load("EV0001", "VehicleSpeed", "2030-01-01", "2030-01-02", max_points=100)
    assert empty.sizes["time"] == 0
    res = fleet.resample("1min", "VehicleSpeed", start="2030-01-01", end="2030-01-01T00:05")
    assert res["VehicleSpeed_gap"].all()


def test_load_slices_time_and_downsamples(fleet, decoded_store):
    full = fleet.load("EV0001", "VehicleSpeed").load()
    t = full.time.values
    part = fleet.load("EV0001", "VehicleSpeed", t[100], t[5000])
    assert part.time.values[0] == t[100] and part.time.values[-1] == t[5000]
    small = fleet.load("EV0001", "VehicleSpeed", max_points=400)
    assert small.sizes["time"] == 400
    assert small["VehicleSpeed"].max() == full["VehicleSpeed"].max()  # extremes survive


def test_gps_track(fleet):
    g = fleet.gps_track("EV0002", max_points=200)
    assert 48 < float(g["Latitude"].mean()) < 49.5 and 8.5 < float(g["Longitude"].mean()) < 10


def test_resample_is_a_zero_order_hold_with_gap_mask(fleet):
    r = fleet.resample("1s", ["VehicleSpeed"], max_hold="1s")
    assert r.sizes["vehicle"] == 2 and r["VehicleSpeed"].dims == ("vehicle", "time")
    raw = fleet.load("EV0001", "VehicleSpeed").load()
    s = pd.Series(raw["VehicleSpeed"].values, index=raw.time.values)
    s = s[~s.index.duplicated(keep="last")]
    grid = pd.DatetimeIndex(r.time.values)
    want = s.reindex(grid, method="ffill", tolerance=pd.Timedelta("1s"))
    got = r["VehicleSpeed"].sel(vehicle="EV0001").values
    np.testing.assert_array_equal(got, want.values)
    assert (r["VehicleSpeed_gap"].sel(vehicle="EV0001").values == np.isnan(want.values)).all()


def test_aggregate_matches_pandas(fleet):
    agg = fleet.aggregate("1h", ["VehicleSpeed", "PackVoltage"]).compute()
    raw = fleet.load("EV0002", "PackVoltage").load()
    s = pd.Series(raw["PackVoltage"].values, index=raw.time.values).resample("1h")
    got = agg["PackVoltage"].sel(vehicle="EV0002").dropna("time", how="all")
    np.testing.assert_allclose(got.sel(stat="mean").values, s.mean().dropna().values)
    np.testing.assert_allclose(got.sel(stat="std").values, s.std(ddof=0).dropna().values)
    np.testing.assert_array_equal(got.sel(stat="count").values, s.count()[s.count() > 0].values)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_export_one_time_aligned_table(fleet, tmp_path, fmt):
    out = fleet.export(tmp_path / f"x.{fmt}", fmt, vehicles=["EV0001"],
                       signals=["VehicleSpeed", "SOC"], start="2026-03-01T23:58",
                       end="2026-03-02T00:01")
    df = pd.read_csv(out, parse_dates=["time"]) if fmt == "csv" else pd.read_parquet(out)
    assert list(df.columns) == ["vehicle", "time", "VehicleSpeed", "SOC"]
    spd = fleet.load("EV0001", "VehicleSpeed", "2026-03-01T23:58", "2026-03-02T00:01")
    soc = fleet.load("EV0001", "SOC", "2026-03-01T23:58", "2026-03-02T00:01")
    # rows: the union of both messages' timestamps (the day boundary splits no row)
    assert len(df) == len(np.union1d(spd.time.values, soc.time.values))
    assert df["time"].is_monotonic_increasing and (df["vehicle"] == "EV0001").all()
    # every value is the last sample of its own signal at that time
    k = len(df) // 2
    t = np.datetime64(df["time"].iloc[k])
    last = spd["VehicleSpeed"].sel(time=slice(None, t)).values[-1]
    assert df["VehicleSpeed"].iloc[k] == pytest.approx(last)


def test_trips_and_user_metadata(fleet):
    trips = fleet.trips("EV0001")
    segs = fleet.coverage().set_index("vehicle").loc["EV0001", "segments"]
    assert len(trips) == 1 and trips["segments"].iloc[0] == segs
    tid = trips["trip_id"].iloc[0]
    fleet.annotate_trip("EV0001", tid, driver="Ada", notes="test drive")
    again = fleet.trips("EV0001")
    assert again["driver"].iloc[0] == "Ada" and again["notes"].iloc[0] == "test drive"
    with pytest.raises(UnknownNameError, match="valid: EV0001-"):
        fleet.annotate_trip("EV0001", "nope", driver="x")


def test_range_flags_never_drop_values(fleet):
    ds = fleet.load("EV0001", ["PackCurrent"], flag_range=True).load()
    info = fleet.signal_info("EV0001", "PackCurrent")
    assert int(ds["PackCurrent_out_of_range"].sum()) == info["out_of_range_count"]
    assert ds["PackCurrent"].notnull().sum() == ds.sizes["time"]


def test_xarray_backend(decoded_store):
    path = decoded_store[0]
    ds = xr.open_dataset(path, engine="cantelem", vehicle="EV0001", signals=["VehicleSpeed"])
    assert ds["VehicleSpeed"].attrs["units"] == "km/h"
    tree = xr.open_datatree(path, engine="cantelem", vehicle="EV0002")
    assert "VCU_Vehicle" in tree.children and tree["VCU_Vehicle"]["VehicleSpeed"].size > 0
    with pytest.raises(ConfigError, match="give vehicle="):
        xr.open_dataset(path, engine="cantelem")


def test_catalog_with_own_loader_and_with_intake(decoded_store, tmp_path):
    import shutil

    path = decoded_store[0]
    shutil.copytree(path, tmp_path / "cantelem-data")
    cat_dir = tmp_path / "catalogs"
    cat_dir.mkdir()
    shutil.copy(ROOT / "catalogs" / "demo.yaml", cat_dir / "demo.yaml")
    fleet = ct.open_fleet(catalog=cat_dir / "demo.yaml")
    assert fleet.vehicles == ["EV0001", "EV0002"]
    assert fleet.catalog.group_for("EV0002").name == "ev"
    import intake

    cat = intake.open_catalog(str(cat_dir / "demo.yaml"))
    ds = cat["ev0001_vehicle"].read()
    assert set(ds.data_vars) >= {"VehicleSpeed", "Odometer"} and ds.sizes["time"] > 0


@pytest.mark.parametrize("text, match", [
    ("metadata: {}\n", "no metadata.cantelem block"),
    ("metadata: {cantelem: {dbc_groups: []}}\n", "store is missing"),
    ("metadata: {cantelem: {store: x, dbc_groups: [{name: a}]}}\n", r"dbc_groups\[0\] needs"),
    ("metadata: [\n", "not valid YAML"),
])
def test_bad_catalogs_name_the_file(tmp_path, text, match):
    f = tmp_path / "c.yaml"
    f.write_text(text)
    with pytest.raises(ConfigError, match=match) as exc:
        ct.load_catalog(f)
    assert str(f) in str(exc.value)


@settings(max_examples=25, deadline=None)
@given(st.text(max_size=40))
def test_any_signal_name_is_found_or_refused_clearly(fleet, name):
    try:
        fleet.load("EV0001", [name], "2030-01-01", "2030-01-02")
    except UnknownNameError as err:
        assert "valid:" in str(err)


def test_recent_shows_the_newest_frame_the_logger_made_durable(tmp_path):
    """Live mode: frames made durable by a running logger are visible at once, undecoded."""

    from cantelem_edge import EdgeLogger, load_config

    lg = EdgeLogger(load_config(environ={}, vehicle="EV0007", spool=str(tmp_path),
                                flush_interval=0.25, segment_seconds=60, sources=["sim:EV0007"]))
    lg.start()
    try:
        lg.run(duration=3.0)  # real time: the frames are stamped with the wall clock
        fleet = ct.open_fleet(tmp_path)
        rec = fleet.recent("EV0007", ["VehicleSpeed", "SOC"], window="10s")
        # the newest frame the logger made durable (run() has returned: nothing is flushed
        # meanwhile), not a wall-clock lag
        from cantelem_sci.io import read_journal

        durable = max(int(read_journal(j).frames.time.max())
                      for j in (tmp_path / ".edge" / "EV0007").glob("journal-*.ctj"))
        assert rec.attrs["newest"] == pd.Timestamp(durable)
        assert rec["VehicleSpeed"].size > 10 and rec["SOC"].size > 10
    finally:
        lg.stop()


def test_export_holds_a_value_only_within_the_hold_limit(fleet, tmp_path):
    """A value is carried to the other message's rows for at most max_hold (default: 3x the
    signal's own period); past it the cell is empty, never a stale value."""
    kw = dict(vehicles=["EV0001"], signals=["VehicleSpeed", "SOC"], start="2026-03-01T23:58",
              end="2026-03-01T23:59")
    full = pd.read_parquet(fleet.export(tmp_path / "a.parquet", "parquet", **kw))
    tight = pd.read_parquet(fleet.export(tmp_path / "b.parquet", "parquet", max_hold="1us",
                                         **kw))
    spd = fleet.load("EV0001", "VehicleSpeed", kw["start"], kw["end"])
    own = np.isin(full["time"].values, spd.time.values)
    assert own.sum() > 10 and (~own).sum() > 10
    assert full["VehicleSpeed"].notna().all()  # continuous data: always within 3 periods
    np.testing.assert_array_equal(tight["VehicleSpeed"].values[own],
                                  full["VehicleSpeed"].values[own])
    assert tight["VehicleSpeed"][~own].isna().all()  # other rows: 1 us is too long ago
    # the same table in memory, its columns in the order asked for
    mem = fleet.table("EV0001", ["SOC", "VehicleSpeed"], kw["start"], kw["end"])
    assert list(mem.columns) == ["vehicle", "time", "SOC", "VehicleSpeed"]
    pd.testing.assert_frame_equal(mem[full.columns], full, check_dtype=False)


def test_aggregate_counts_zero_in_windows_without_samples(fleet):
    # 10 ms windows over a 40 Hz signal: most windows hold no sample
    agg = fleet.aggregate("10ms", ["VehicleSpeed"], start="2026-03-01T23:59:00",
                          end="2026-03-01T23:59:02")
    count = agg["VehicleSpeed"].sel(stat="count")
    assert not count.isnull().any() and (count == 0).sum() > 50 and (count > 0).sum() > 50
    mean = agg["VehicleSpeed"].sel(stat="mean")
    assert ((count == 0) == mean.isnull()).all()


@pytest.mark.parametrize("freq", ["1h", "7min", "250ms"])
def test_aggregate_kernel_equals_xarray_resample(fleet, freq):
    """The moments kernel over the decoded days gives xarray's resample numbers, windows
    (pandas' start_day origin, also for a window that does not divide a day) and labels;
    multiplexed cells (read from their groups' rows) as their dense columns."""
    from cantelem_sci.fleet._aggregate import _calendar

    kw = dict(signals=["VehicleSpeed", "PackVoltage", "SOC", "Cell07_Voltage",
                       "Cell90_Voltage"], start="2026-03-01T23:40",
              end="2026-03-02T00:20")
    got = fleet.aggregate(freq, **kw)
    want = _calendar(fleet, freq, kw["signals"], None, kw["start"], kw["end"], None).compute()
    assert list(got.vehicle.values) == list(want.vehicle.values)
    np.testing.assert_array_equal(got.time.values, want.time.values)
    for name in kw["signals"]:
        np.testing.assert_allclose(got[name].transpose(*want[name].dims).values,
                                   want[name].values, rtol=1e-9, atol=1e-9, equal_nan=True,
                                   err_msg=name)


def test_days_read_from_files_equal_what_xarray_reads(decoded_store):
    """A local store's days read straight from their files (times decoded from their CF
    units, float signals, attributes) are what xarray's open_zarr gives."""
    path = decoded_store[0]
    direct, viax = ct.open_fleet(path), ct.open_fleet(path)
    viax.store.local = False  # this instance only: every day through xarray
    assert direct.store.local
    for v in direct.vehicles:
        by_msg = {}
        for s, m in direct.signals(v).items():
            if "." not in s:
                by_msg.setdefault(m, []).append(s)
        for m, sigs in by_msg.items():
            got = list(direct._message_parts(v, m, sigs, None, None))
            want = list(viax._message_parts(v, m, sigs, None, None))
            assert len(got) == len(want) > 0
            for (t, vals, attrs, mono), (t2, vals2, attrs2, mono2) in zip(got, want):
                np.testing.assert_array_equal(t, t2)
                assert mono == mono2 and attrs == attrs2, m
                for s in sigs:
                    np.testing.assert_array_equal(vals[s], vals2[s], err_msg=f"{m}.{s}")


def test_senders_come_from_the_store_not_the_dbc(fleet, monkeypatch):
    """The decode job records each message's sending ECUs, so the signal browser groups by
    ECU without reading the DBC (or importing cantools): the same senders as the DBC's."""
    from cantelem_sci.fleet import _catalog

    v = fleet.vehicles[0]
    db = _catalog.load_group_dbc(fleet.catalog.group_for(v))
    want = {m.name: ", ".join(m.senders) for m in db.messages
            if m.senders and m.name in fleet.messages(v)}
    assert want  # the test DBC names senders

    def no_dbc(*a, **k):
        raise AssertionError("the DBC was read")

    monkeypatch.setattr(_catalog, "load_group_dbc", no_dbc)
    assert fleet.senders(v) == want


def test_stats_of_a_range_equal_numpy_over_its_samples(fleet):
    """``Fleet.stats``: count, min, max, mean and population std of each signal's valid
    samples in range, as numpy gives them from the series: a stored signal (several days'
    arrays combined), a multiplexed cell (its own samples), a calculated signal; a range
    without samples counts 0 with NaN statistics; an unknown name is refused by name."""
    names = ["SOC", "Cell05_Voltage", "PackPower"]
    t, _ = fleet.series("EV0001", "SOC")
    for a, b in ((None, None), (pd.Timestamp(t[t.size // 3]), pd.Timestamp(t[t.size // 2]))):
        got = fleet.stats("EV0001", names, a, b)
        assert list(got.index) == names
        for name in names:
            _, x = fleet.series("EV0001", name, a, b)
            ok = x[~np.isnan(x)]
            assert ok.size > 10 and got.loc[name, "count"] == ok.size
            want = [ok.min(), ok.max(), ok.mean(), ok.std()]
            np.testing.assert_allclose(got.loc[name, ["min", "max", "mean", "std"]].to_numpy(
                float), want, rtol=1e-9, err_msg=name)
    none = fleet.stats("EV0001", ["SOC"], "2000-01-01", "2000-01-02")
    assert none.loc["SOC", "count"] == 0 and none.loc["SOC"].drop("count").isna().all()
    with pytest.raises(UnknownNameError, match="SOCC.*SOC"):
        fleet.stats("EV0001", ["SOCC"])
