"""Multiplexed signals stored compact in decoded parts (their groups' values and rows) and
read back dense, NaN where the multiplexer does not select them: by the local reader, through
xarray, lazily through dask and by the alert job."""

from __future__ import annotations

import json

import dask.array as da
import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import cantelem_sci as ct
from cantelem_sci.decoder._lazy import ExpandedColumn
from cantelem_sci.fleet import _part_task
from cantelem_sci.fleet._alerts import _day_data
from cantelem_sci.fleet._compact import ROWS, dense_dataset, dense_values, expand
from cantelem_sci.fleet._store import Store


def _cell_part(path):
    """The first part of EV0001's first day holding the cell voltages: its folder."""
    day = sorted((path / "decoded" / "vehicle=EV0001").glob("date=*/current.json"))[0]
    cur = json.loads(day.read_text())
    part = next(p for p in cur["parts"] if "BMS_CellVoltages" in p["messages"])
    return day.parent / f"{part['name']}.zarr" / "BMS_CellVoltages", cur


def test_the_job_stores_each_multiplexed_signal_as_its_groups_values(decoded_store):
    group, _ = _cell_part(decoded_store[0])
    meta = json.loads((group / "Cell05_Voltage" / "zarr.json").read_text())
    ds = xr.open_zarr(group.parent, group="BMS_CellVoltages", consolidated=False)
    selects = int((ds["CellGroup"].values == 1).sum())  # cells 5-8: multiplexer value 1
    assert meta["shape"] == [selects] and 0 < selects < ds.sizes["time"] / 20
    assert meta["attributes"][ROWS] == "mux_rows_1"
    rows = ds["mux_rows_1"].values
    assert rows.dtype == np.uint32
    np.testing.assert_array_equal(rows, np.flatnonzero(ds["CellGroup"].values == 1))
    assert "mux_rows_1" not in ds.data_vars  # a coordinate: not a signal


def test_the_job_never_builds_a_dense_column(tmp_path, sample_db, monkeypatch):
    """The 96 cells of a part are written as their groups' values: the dense column (24
    times the data) is not built, and the values read back dense are the decoder's."""
    b = ct.simulate_vehicle(duration_s=20, seed=3)
    want = ct.decode(b, sample_db)["BMS_CellVoltages"]["Cell93_Voltage"].values
    tree = ct.decode(b, sample_db)

    def refuse(self):
        raise AssertionError("a dense column was built")

    monkeypatch.setattr(ExpandedColumn, "dense", refuse)
    _part_task._write_tree(tree, Store(str(tmp_path), {}), "part.zarr")
    monkeypatch.undo()
    ds = xr.open_zarr(tmp_path / "part.zarr", group="BMS_CellVoltages", consolidated=False)
    np.testing.assert_array_equal(dense_values(ds, "Cell93_Voltage"), want)
    assert ROWS not in dense_dataset(ds, ["Cell93_Voltage"])["Cell93_Voltage"].attrs


@pytest.mark.parametrize("local", [True, False], ids=["files", "xarray"])
def test_a_compact_signal_reads_back_dense_as_the_decoder_gives_it(decoded_store, sample_db,
                                                                  local):
    path, batches, _ = decoded_store
    fleet = ct.open_fleet(path)
    fleet.store.local = local  # False: every part through xarray, as from an object store
    want = ct.decode(batches["EV0002"], sample_db)["BMS_CellVoltages"]
    for sig in ("Cell01_Voltage", "Cell96_Voltage"):
        t, v = fleet.series("EV0002", sig)
        np.testing.assert_array_equal(t, want["time"].values.view("int64"))
        np.testing.assert_array_equal(v, want[sig].values)
        assert ROWS not in fleet.signal_info("EV0002", sig)
        small = fleet.load("EV0002", sig, max_points=200)
        assert ROWS not in small[sig].attrs and small[sig].attrs["units"] == "V"


def test_the_alert_job_reads_a_compact_signal_dense(decoded_store, sample_db):
    path, batches, _ = decoded_store
    day = sorted((path / "decoded" / "vehicle=EV0001").glob("date=*/current.json"))[0]
    cur = json.loads(day.read_text())
    date = day.parent.name[len("date="):]
    samples, _ = _day_data(Store(str(path), {}), "EV0001", date, cur["version"], cur,
                           ["Cell40_Voltage"], False)
    t, v = samples["Cell40_Voltage"]
    want = ct.decode(batches["EV0001"], sample_db)["BMS_CellVoltages"]
    keep = want["time"].values.astype("datetime64[D]") == np.datetime64(date)
    np.testing.assert_array_equal(t, want["time"].values[keep].view("int64"))
    np.testing.assert_array_equal(v, want["Cell40_Voltage"].values[keep])


@st.composite
def _groups(draw):
    n = draw(st.integers(0, 60))
    rows = np.flatnonzero(draw(hnp.arrays(bool, n)))
    values = draw(hnp.arrays(np.float64, rows.size, elements=st.floats(allow_nan=True,
                                                                        width=64)))
    return n, rows, values


@settings(max_examples=40, deadline=None)
@given(_groups(), st.booleans())
def test_a_group_expands_to_its_dense_column_in_memory_and_lazily(group, lazy):
    n, rows, values = group
    ref = np.full(n, np.nan)
    for r, x in zip(rows, values):
        ref[r] = x
    np.testing.assert_array_equal(expand(values, rows.astype(np.uint32), n), ref)
    vals = da.from_array(values, chunks=7) if lazy and values.size else values
    ds = xr.Dataset({"Sig": ("mux_0", vals, {ROWS: "mux_rows_0", "units": "V"}),
                     "Plain": ("time", np.arange(n, dtype=float))},
                    coords={"time": np.arange(n), "mux_rows_0": ("mux_0", rows.astype("u4"))})
    out = dense_dataset(ds, ["Sig", "Plain"])
    assert out["Sig"].dims == ("time",) and dict(out["Sig"].attrs) == {"units": "V"}
    np.testing.assert_array_equal(out["Sig"].values, ref)
    np.testing.assert_array_equal(out["Plain"].values, np.arange(n, dtype=float))
    np.testing.assert_array_equal(dense_values(ds, "Sig"), ref)


@pytest.mark.parametrize("local", [True, False], ids=["files", "xarray"])
@settings(max_examples=8, deadline=None)
@given(a=st.floats(0, 1), b=st.floats(0, 1))
def test_valid_samples_read_from_the_group_equal_the_dense_column_cleaned(decoded_store, local,
                                                                          a, b):
    """``series(..., valid=True)`` reads a multiplexed signal from its group's rows alone:
    the samples of the dense column without its NaN, in any range (days and parts
    crossed)."""
    from cantelem_sci.fleet._derived import clean

    fleet = ct.open_fleet(decoded_store[0])
    fleet.store.local = local
    cov = fleet.coverage().set_index("vehicle").loc["EV0001"]
    span = cov["end"] - cov["start"]
    lo, hi = cov["start"] + span * min(a, b), cov["start"] + span * max(a, b)
    for sig in ("Cell01_Voltage", "Cell50_Voltage", "SOC"):
        t, v = fleet.series("EV0001", sig, lo, hi, valid=True)
        t2, v2 = clean(*fleet.series("EV0001", sig, lo, hi))
        np.testing.assert_array_equal(t, t2, err_msg=sig)
        np.testing.assert_array_equal(v, v2, err_msg=sig)
        assert t.flags.writeable and not np.isnan(v).any()


def test_a_downsampled_multiplexed_signal_is_a_line_of_its_own_samples(decoded_store):
    """``load(..., max_points=...)`` of a cell picks among its own samples: the rows of the
    other multiplexer values (NaN for it) are no breaks, which had made its plot a dot
    between two NaN (15x the point budget, half NaN, nothing drawn as a line)."""
    fleet = ct.open_fleet(decoded_store[0])
    t_all, x_all = fleet.series("EV0001", "Cell05_Voltage", valid=True)
    got = fleet.load("EV0001", "Cell05_Voltage", max_points=300)["Cell05_Voltage"]
    t = got["time"].values.view("int64")
    x = got.values
    assert 300 <= x.size <= 320 and np.isnan(x).sum() <= 4  # breaks: gaps over a minute
    own = np.isin(t, t_all)
    assert own[~np.isnan(x)].all()  # every value drawn is one of the signal's samples
    assert t[0] == t_all[0] and t[-1] == t_all[-1]
    # fewer samples than the budget in range: every own sample, no NaN between
    a, b = t_all[100], t_all[160]
    few = fleet.load("EV0001", "Cell05_Voltage", a, b, max_points=300)["Cell05_Voltage"]
    np.testing.assert_array_equal(few.values, x_all[100:161])


def test_a_downsampled_cell_keeps_a_value_its_frame_was_too_short_for_as_a_break(
        tmp_path, cluster_client):
    """``load(..., max_points=...)`` of a compact cell draws its own rows only (not the
    other group's), and a frame of its group too short to carry it stays in, as NaN: a
    break in its line, not a sample silently dropped."""
    from cantelem_edge import ingest
    from cantelem_sci.frames import FrameBatch
    from cantelem_sci.sim import encode_signals

    db = ct.load_dbc(ct.sample_dbc_path())
    msg = db.get_message("BMS_CellVoltages")
    n = 400
    group = np.arange(n) % 2  # cells 1-4 on even rows, 5-8 on odd ones
    vals = {"CellGroup": group.astype(float)}
    vals.update({f"Cell{c:02d}_Voltage": np.full(n, 3.5) + np.arange(n) / 1000
                 for c in range(1, 9)})
    data = encode_signals(msg, vals, n, width=8)
    dlc = np.full(n, 8)
    short = np.array([10, 100, 250])  # even rows of group 0: Cell04 (last bytes) absent
    dlc[short] = 3
    t = np.datetime64("2026-05-01T12:00:00", "ns").astype(np.int64) + np.arange(n) * 10**8
    ingest(FrameBatch.from_arrays(t, np.full(n, msg.frame_id), data, dlc=dlc), "SHORT1",
           str(tmp_path))
    ct.decode_fleet(str(tmp_path), client=cluster_client, progress=False)
    fleet = ct.open_fleet(str(tmp_path))
    got = fleet.load("SHORT1", "Cell04_Voltage", max_points=1000)["Cell04_Voltage"]
    np.testing.assert_array_equal(got["time"].values.view("int64"), t[group == 0])
    x = got.values
    assert np.isnan(x).sum() == short.size
    np.testing.assert_array_equal(np.flatnonzero(np.isnan(x)), short // 2)
    want = vals["Cell04_Voltage"][group == 0]
    ok = ~np.isnan(x)
    np.testing.assert_allclose(x[ok], want[ok], atol=1e-3)
    # with a budget below its samples: still only its own rows, the breaks kept
    few = fleet.load("SHORT1", "Cell04_Voltage", max_points=50)["Cell04_Voltage"]
    assert np.isin(few["time"].values.view("int64"), t[group == 0]).all()
    assert np.isnan(few.values).any()


@settings(max_examples=80, deadline=None)
@given(st.integers(0, 60).flatmap(lambda n: st.tuples(
    st.just(n), hnp.arrays(bool, n), hnp.arrays(bool, n),
    st.integers(0, n), st.integers(0, n))))
def test_a_compact_signal_selected_on_message_rows_equals_its_dense_column_selected(case):
    """A range (``[i0, i1)``) or a mask of the message's rows, taken on a compact signal's
    (rows, values), gives what the same selection of its dense column gives."""
    from cantelem_sci.fleet._days import _rows_between, _rows_kept

    n, own, keep, i0, i1 = case
    i0, i1 = min(i0, i1), max(i0, i1)
    rows = np.flatnonzero(own)
    x = rows.astype(float) * 1.5
    dense = np.full(n, np.nan)
    dense[rows] = x

    def spread(size, got):
        out = np.full(size, np.nan)
        out[got[0]] = got[1]
        return out

    np.testing.assert_array_equal(spread(i1 - i0, _rows_between((rows, x), i0, i1)),
                                  dense[i0:i1])
    np.testing.assert_array_equal(spread(int(keep.sum()), _rows_kept((rows, x), keep)),
                                  dense[keep])
