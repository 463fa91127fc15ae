"""The decode job's direct tree writer against xarray's ``DataTree.to_zarr``: the same files,
every ``zarr.json`` equal as JSON and every chunk equal byte for byte."""

from __future__ import annotations

import gc
import json
import warnings
import weakref
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cantelem_sci as ct
from cantelem_sci.errors import UnknownFramesWarning
from cantelem_sci.fleet import _job, _part_task
from cantelem_sci.fleet._part_task import _encoding
from cantelem_sci.fleet._store import Store
from cantelem_sci.fleet._write import NotDirect, write_tree
from tests.conftest import corpus_path


def _to_zarr(tree, path: Path) -> None:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning)
        tree.to_zarr(path, mode="w", zarr_format=3, consolidated=False,
                     encoding=_encoding(tree))


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _assert_same_files(a: Path, b: Path) -> int:
    fa, fb = _files(a), _files(b)
    assert sorted(fa) == sorted(fb)
    for name, data in fa.items():
        if name.endswith("zarr.json"):
            assert json.loads(data) == json.loads(fb[name]), name
        else:
            assert data == fb[name], name
    return len(fa)


def _job_attrs(tree) -> None:
    """Root attributes as the decode job sets them (lists, strings, numbers)."""
    tree.attrs.update({"vehicle": "EV0042", "date": "2026-01-05", "dbc_sha256": "ab" * 32,
                       "dbc_group": "default", "source_segments": ["raw/a.zarr", "raw/b.zarr"],
                       "quarantined": [], "version": "0123456789abcdef0123",
                       "format": _job.DECODED_FORMAT})


@pytest.fixture(scope="module")
def sample_db():
    return ct.load_dbc(ct.sample_dbc_path())


def test_a_sample_day_is_written_as_to_zarr_writes_it(tmp_path, sample_db):
    tree = ct.decode(ct.simulate_vehicle(duration_s=300, seed=5), sample_db)
    _job_attrs(tree)
    _to_zarr(tree, tmp_path / "xarray.zarr")
    write_tree(tree, tmp_path / "direct.zarr", _encoding(tree))
    n = _assert_same_files(tmp_path / "xarray.zarr", tmp_path / "direct.zarr")
    assert n > 2 * 143  # every array's zarr.json and chunk, and the groups
    back = xr.open_datatree(tmp_path / "direct.zarr", engine="zarr", consolidated=False)
    for name, node in tree.children.items():
        xr.testing.assert_identical(back[name].to_dataset(), node.to_dataset())


@pytest.mark.corpus
def test_a_j1939_capture_with_source_addresses_is_written_as_to_zarr_writes_it(tmp_path):
    capture = "css-j1939-idle"
    raw = ct.read_log(corpus_path("real-capture", capture, "00000001_candump.log.gz"))
    db = ct.load_dbc({"can1": corpus_path("real-capture", capture,
                                          "CSS-Electronics-SAE-J1939-DEMO.dbc")})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnknownFramesWarning)
        tree = ct.decode(raw, db)
    assert any("source_address" in n.dataset.coords for n in tree.children.values())
    _to_zarr(tree, tmp_path / "xarray.zarr")
    write_tree(tree, tmp_path / "direct.zarr", _encoding(tree))
    _assert_same_files(tmp_path / "xarray.zarr", tmp_path / "direct.zarr")


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**16), duration=st.integers(1, 20), keep=st.floats(0.05, 1.0),
       fd=st.booleans(), compact=st.booleans())
def test_random_days_are_written_as_to_zarr_writes_them(tmp_path_factory, sample_db, seed,
                                                        duration, keep, fd, compact):
    """Any subset of a simulated drive, 8- or 64-byte rows, dense or compact: same files."""
    batch = ct.simulate_vehicle(duration_s=duration, seed=seed)
    rng = np.random.default_rng(seed)
    batch = batch.take(rng.random(len(batch)) < keep)
    if fd:
        data = np.zeros((len(batch), 64), np.uint8)
        data[:, :8] = batch.data
        batch = ct.frames(batch.time, batch.arbitration_id, data, dlc=batch.dlc,
                          is_extended=batch.is_extended, channel=batch.channel)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnknownFramesWarning)
        tree = ct.decode(batch, sample_db, multiplexed="compact" if compact else "dense")
    _job_attrs(tree)
    d = tmp_path_factory.mktemp("w")
    _to_zarr(tree, d / "xarray.zarr")
    write_tree(tree, d / "direct.zarr", _encoding(tree))
    _assert_same_files(d / "xarray.zarr", d / "direct.zarr")


def test_what_it_does_not_handle_is_refused_before_any_file(tmp_path, sample_db):
    """Labels instead of numbers (decode_choices=True) are strings: NotDirect names the node
    and variable, and nothing is written; the job then writes with to_zarr."""
    tree = ct.decode(ct.simulate_vehicle(duration_s=3, seed=1), sample_db, decode_choices=True)
    with pytest.raises(NotDirect, match="BMS_PackStatus 'BMS_State'"):
        write_tree(tree, tmp_path / "direct.zarr", _encoding(tree))
    assert not (tmp_path / "direct.zarr").exists()
    _part_task._write_tree(tree, Store(str(tmp_path), {}), "day.zarr")
    back = xr.open_datatree(tmp_path / "day.zarr", engine="zarr", consolidated=False)
    labels = [str(v) for v in back["BMS_PackStatus"]["BMS_State"].values]
    assert labels == [str(v) for v in tree["BMS_PackStatus"]["BMS_State"].values]
    assert set(labels) <= {"Idle", "Drive", "Charge", "Fault"}


def test_a_compressor_it_does_not_write_is_refused_before_any_file(tmp_path, sample_db):
    """The time arrays' Blosc LZ4 is written directly; any other ``compressors`` encoding
    is refused, naming the variable and the codec, before a file is written."""
    tree = ct.decode(ct.simulate_vehicle(duration_s=3, seed=1), sample_db)
    enc = _encoding(tree)
    node = next(k for k, v in enc.items() if "time" in v)
    enc[node]["time"]["compressors"] = [{"name": "zstd", "configuration": {"level": 9}}]
    with pytest.raises(NotDirect, match="'time': compressors .*zstd"):
        write_tree(tree, tmp_path / "direct.zarr", enc)
    assert not (tmp_path / "direct.zarr").exists()


def test_the_job_writes_with_the_direct_writer(tmp_path, sample_db, monkeypatch):
    """The decode job's trees never go through to_zarr (which would take 5x as long)."""
    tree = ct.decode(ct.simulate_vehicle(duration_s=3, seed=1), sample_db)

    def refuse(*args, **kwargs):
        raise AssertionError("to_zarr was called")

    monkeypatch.setattr(xr.DataTree, "to_zarr", refuse)
    (tmp_path / "day.zarr").mkdir()
    (tmp_path / "day.zarr" / "stale.txt").write_text("from an earlier run")
    _part_task._write_tree(tree, Store(str(tmp_path), {}), "day.zarr")
    assert not (tmp_path / "day.zarr" / "stale.txt").exists()  # mode "w", as to_zarr's
    back = xr.open_datatree(tmp_path / "day.zarr", engine="zarr", consolidated=False)
    np.testing.assert_array_equal(back["MCU_Motor"]["MotorSpeed"].values,
                                  tree["MCU_Motor"]["MotorSpeed"].values)


def test_one_dense_column_is_in_memory_at_a_time(tmp_path, sample_db, monkeypatch):
    """The 96 dense cell columns of a day (24 times the data they hold) are built one by one
    for the write and dropped after it, neither cached in the tree nor kept until the end, so
    each reuses the last one's pooled memory while it is still in the cache."""
    from cantelem_sci.decoder._lazy import ExpandedColumn, _direct_wrappers_are_identical

    _direct_wrappers_are_identical()  # its one-time self-check builds columns of its own
    built: list[weakref.ref] = []
    most_alive = 0
    dense = ExpandedColumn.dense

    def counting(self):
        nonlocal most_alive
        alive = sum(r() is not None for r in built)
        if alive > 1:  # garbage in a cycle is not kept: collect (slow on a big heap) and see
            gc.collect()
            alive = sum(r() is not None for r in built)
        most_alive = max(most_alive, alive)
        out = dense(self)
        built.append(weakref.ref(out.base if out.base is not None else out))
        return out

    monkeypatch.setattr(ExpandedColumn, "dense", counting)
    tree = ct.decode(ct.simulate_vehicle(duration_s=60, seed=7), sample_db)
    write_tree(tree, tmp_path / "day.zarr", _encoding(tree))
    assert len(built) == 96 and most_alive <= 1
    cell = tree["BMS_CellVoltages"].dataset["Cell01_Voltage"]
    assert len(built) == 96  # not read from the tree by the write: reading it builds it now
    cell.values
    assert len(built) == 97
