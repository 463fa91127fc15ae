"""Segments read straight from their files (frames/_direct.py, Store.read_frames/read_times)
against xarray opening them: the same frames, for any segment the edge logger writes; any
other segment goes through xarray."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

import cantelem_sci as ct
from cantelem_sci.io import _segment
from cantelem_sci.errors import FrameFormatError
from cantelem_sci.fleet._store import Store
from cantelem_sci.frames import SCHEMA_NAME, SCHEMA_VERSION, FrameBatch
from cantelem_sci.io import read_segment
from tests.strategies import frame_arrays


def _edge_segment(path: Path, b: FrameBatch, gps=None) -> None:
    attrs = {"schema": SCHEMA_NAME, "schema_version": SCHEMA_VERSION,
             "channel_names": list(b.channel_names), "frame_count": len(b)}
    _segment._write_arrays(path, b, gps, attrs, level=3)


def _via_xarray(path: Path) -> FrameBatch:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Numcodecs codecs are not in the Zarr")
        return FrameBatch.from_dataset(xr.open_zarr(path, consolidated=False, chunks=None))


def _assert_same(a: FrameBatch, b: FrameBatch) -> None:
    for k in ("time", "arbitration_id", "dlc", "is_extended", "is_fd", "is_remote", "is_error",
              "channel", "data"):
        x, y = getattr(a, k), getattr(b, k)
        assert x.dtype == y.dtype and x.shape == y.shape, k
        np.testing.assert_array_equal(x, y, err_msg=k)
    assert list(a.channel_names) == list(b.channel_names)


@settings(max_examples=40, deadline=None)
@given(frame_arrays(max_frames=60), st.integers(1, 16), st.booleans())
def test_edge_segments_read_as_xarray_reads_them(tmp_path_factory, fa, chunk_frames, gps):
    """Any frames, FD or not, one or several chunks (a padded edge chunk), with or without
    the GPS subgroup: the same batch as FrameBatch.from_dataset(xr.open_zarr(...)), and the
    same fixes as the store reads through xarray."""
    b = FrameBatch.from_arrays(**fa)
    m = 1 + chunk_frames % 5
    fixes = ({"time": np.arange(m, dtype=np.int64) * 10**9 + int(b.time[0] if len(b) else 0),
              **{k: np.where(np.arange(m) == i % m, np.nan, np.arange(m) * 0.5 + i)
                 for i, k in enumerate(_segment.GPS_FLOAT)},
              **{k: np.arange(m, dtype=np.int64) + 3 for k in _segment.GPS_INT}}
             if gps else None)
    d = tmp_path_factory.mktemp("seg") / "s.zarr"
    mp = pytest.MonkeyPatch()
    try:
        mp.setattr(_segment, "CHUNK_FRAMES", chunk_frames)
        _edge_segment(d, b, fixes)
    finally:
        mp.undo()
    direct = read_segment(d)
    _assert_same(direct, _via_xarray(d))
    store = Store(str(d.parent), {})
    got, want = store.read_gps(d.name), super(type(store), store).read_gps(d.name)
    if gps:
        assert sorted(got) == sorted(want) == sorted(fixes)
        for k in want:
            assert got[k].dtype == want[k].dtype, k
            np.testing.assert_array_equal(got[k], want[k], err_msg=k)
            np.testing.assert_array_equal(got[k], fixes[k], err_msg=k)
    else:
        assert got is None and want is None
    _assert_same(direct, b if b.data.shape[1] == direct.data.shape[1] else
                 FrameBatch(b.time, *(getattr(b, k) for k in _segment.FIELDS),
                            b.data[:, :direct.data.shape[1]], channel_names=b.channel_names))


def test_a_segment_written_by_xarray_is_read_through_xarray(tmp_path):
    """ct.frames(...).to_zarr encodes time its own way: the direct reader refuses it, naming
    the time encoding, and Store.read_frames / read_times fall back to xarray."""
    b = ct.simulate_vehicle(duration_s=2, seed=3)
    ds = ct.frames(b.time, b.arbitration_id, b.data, dlc=b.dlc, is_extended=b.is_extended,
                   channel=b.channel, channel_names=list(b.channel_names))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning)
        ds.to_zarr(tmp_path / "raw" / "x.zarr", zarr_format=3, consolidated=False)
    with pytest.raises(ValueError, match="time: int64 in .*expected int64 in 'nanoseconds since"):
        read_segment(tmp_path / "raw" / "x.zarr")
    store = Store(str(tmp_path), {})
    _assert_same(store.read_frames("raw/x.zarr"), _via_xarray(tmp_path / "raw" / "x.zarr"))
    np.testing.assert_array_equal(store.read_times("raw/x.zarr"), b.time)


def test_store_reads_edge_segments_directly(tmp_path, monkeypatch):
    """In a local store, read_frames, read_times and read_gps never open an edge segment
    with xarray (nor import zarr-python for it)."""
    b = ct.simulate_vehicle(duration_s=3, seed=4)
    fixes = {"time": b.time[:3].copy(), **{k: np.ones(3) for k in _segment.GPS_FLOAT},
             **{k: np.ones(3, np.int64) for k in _segment.GPS_INT}}
    _edge_segment(tmp_path / "raw" / "s.zarr", b, fixes)
    _edge_segment(tmp_path / "raw" / "nofix.zarr", b)
    store = Store(str(tmp_path), {})
    expected = _via_xarray(tmp_path / "raw" / "s.zarr")

    def refuse(*args, **kwargs):
        raise AssertionError("opened with xarray")

    monkeypatch.setattr(Store, "open_zarr", refuse)
    _assert_same(store.read_frames("raw/s.zarr"), expected)
    np.testing.assert_array_equal(store.read_times("raw/s.zarr"), expected.time)
    np.testing.assert_array_equal(store.read_gps("raw/s.zarr")["time"], fixes["time"])
    assert store.read_gps("raw/nofix.zarr") is None


def test_a_segment_without_a_variable_names_it(tmp_path):
    b = ct.simulate_vehicle(duration_s=1, seed=5)
    _edge_segment(tmp_path / "raw" / "s.zarr", b)
    shutil.rmtree(tmp_path / "raw" / "s.zarr" / "dlc")
    with pytest.raises(FrameFormatError, match=r"s\.zarr: not a raw-frame dataset: "
                                               r"missing \['dlc'\]"):
        Store(str(tmp_path), {}).read_frames("raw/s.zarr")


def test_a_newer_schema_is_refused(tmp_path):
    b = ct.simulate_vehicle(duration_s=1, seed=6)
    attrs = {"schema": SCHEMA_NAME, "schema_version": SCHEMA_VERSION + 1,
             "channel_names": list(b.channel_names)}
    _segment._write_arrays(tmp_path / "s.zarr", b, None, attrs, level=1)
    with pytest.raises(FrameFormatError, match="newer than this package reads"):
        read_segment(tmp_path / "s.zarr")
