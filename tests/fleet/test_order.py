"""Duplicates, overlaps and clock steps: a segment ingested twice, overlapping segments and a
logger clock that stepped back decode to monotonic series with every frame once, and
downsampled queries work on them."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cantelem_sci as ct
from cantelem_edge import ingest
from cantelem_sci.frames import FrameBatch, order_frames
from tests.strategies import frame_arrays

pytestmark = pytest.mark.slow

START = "2026-06-01T10:00:00"


def _rows(b: FrameBatch) -> list[tuple]:
    return sorted(zip(b.time.tolist(), b.arbitration_id.tolist(), b.dlc.tolist(),
                      b.is_extended.tolist(), b.is_fd.tolist(), b.channel.tolist(),
                      map(bytes, b.data)))


@settings(max_examples=60, deadline=None)
@given(frame_arrays(max_frames=60), st.lists(st.integers(0, 2), min_size=1, max_size=4))
def test_order_frames_sorts_and_keeps_each_frame_once(arrays, picks):
    b = FrameBatch.from_arrays(**arrays)
    parts = [b.take(np.arange(len(b))[k::3]) for k in picks] + [b]
    out, info = order_frames(parts)
    assert np.all(np.diff(out.time) >= 0)
    assert _rows(out) == sorted(set(_rows(b)))  # every distinct frame, once
    assert info["duplicates"] == sum(len(p) for p in parts) - len(out)


@settings(max_examples=60, deadline=None)
@given(frame_arrays(max_frames=60), st.lists(st.integers(0, 2), min_size=1, max_size=4),
       st.lists(st.booleans(), min_size=5, max_size=5))
def test_parts_of_a_day_hold_each_frame_once(arrays, picks, mine):
    """Batches split between two owners (as a day's segments between its parts): each
    frame is in exactly one owner's frames, and every dropped copy is counted once."""
    b = FrameBatch.from_arrays(**arrays)
    parts = [b.take(np.arange(len(b))[k::3]) for k in picks] + [b]
    own = mine[:len(parts)]
    whole, _ = order_frames(parts)
    a, ia = order_frames(parts, own=own)
    c, ic = order_frames(parts, own=[not o for o in own])
    assert np.all(np.diff(a.time) >= 0) and np.all(np.diff(c.time) >= 0)
    assert sorted(_rows(a) + _rows(c)) == _rows(whole)
    assert ia["duplicates"] + ic["duplicates"] == sum(len(p) for p in parts) - len(whole)
    with pytest.raises(ct.errors.ArgumentError, match="ownership flag"):
        order_frames(parts, own=own + [True])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(0, 20), max_size=8), min_size=1, max_size=4),
       st.lists(st.booleans(), min_size=4, max_size=4))
def test_parts_of_a_day_hold_each_fix_once(times, mine):
    from cantelem_sci.decoder import merge_fixes

    parts = [{"time": np.array(t, np.int64), "latitude": np.array(t, float) + i / 10}
             for i, t in enumerate(times)]
    own = mine[:len(parts)]
    whole = merge_fixes(parts, 2, 18)
    got = [merge_fixes(parts, 2, 18, own=own),
           merge_fixes(parts, 2, 18, own=[not o for o in own])]
    fixes = sorted((int(t), float(v)) for g in got if g is not None
                   for t, v in zip(g["time"], g["latitude"]))
    want = [] if whole is None else sorted(zip(whole["time"].tolist(),
                                               whole["latitude"].tolist()))
    assert fixes == want  # the same fixes, each from the part holding its first copy


def _decode(path, client):
    rep = ct.decode_fleet(str(path), client=client, progress=False)
    return rep, ct.open_fleet(str(path))


def _expected(batch):
    return ct.decode(order_frames([batch])[0], ct.load_dbc(ct.sample_dbc_path()))


def _same_as(fleet, tree, vehicle="EV0001"):
    for name, node in tree.children.items():
        for sig in list(node.dataset.data_vars)[:2]:
            ds = fleet.load(vehicle, f"{name}.{sig}")
            np.testing.assert_array_equal(ds["time"].values, node.dataset["time"].values)
            np.testing.assert_array_equal(ds[sig].values, node.dataset[sig].values)


def test_a_segment_ingested_twice_and_overlapping_segments(tmp_path, cluster_client):
    b = ct.simulate_vehicle("EV0001", duration_s=60, start=START)
    t0 = int(b.time[0])
    ingest(b, "EV0001", str(tmp_path))
    ingest(b, "EV0001", str(tmp_path))  # the same minute again
    late = b.take(np.flatnonzero(b.time >= t0 + 20 * 10**9))
    ingest(late, "EV0001", str(tmp_path))  # and an overlapping stretch
    rep, fleet = _decode(tmp_path, cluster_client)
    assert rep.duplicates == len(b) + len(late) and rep.frames == len(b)
    assert "duplicate frame(s) dropped" in str(rep)
    _same_as(fleet, _expected(b))
    small = fleet.load("EV0001", "VehicleSpeed", max_points=500)  # raised before
    assert 0 < small.sizes["time"] <= 500


def test_a_clock_step_back_is_sorted_and_reported(tmp_path, cluster_client):
    b = ct.simulate_vehicle("EV0001", duration_s=60, start=START)
    k = len(b) // 2
    t = b.time.copy()
    t[k:] -= 5 * 10**9 + 1  # the clock stepped back 5 s (+1 ns: no frame lands on another)
    stepped = FrameBatch(t, b.arbitration_id, b.dlc, b.is_extended, b.is_fd, b.is_remote,
                         b.is_error, b.channel, b.data, channel_names=b.channel_names)
    ingest(stepped, "EV0001", str(tmp_path), segment_seconds=3600.0)
    rep, fleet = _decode(tmp_path, cluster_client)
    assert rep.clock_steps >= 1 and rep.duplicates == 0 and rep.frames == len(b)
    cur = json.loads(next(tmp_path.glob("decoded/vehicle=EV0001/date=*/current.json"))
                     .read_text())
    assert cur["clock_steps"] >= 1 and cur["clock_step_max_ns"] >= 4 * 10**9
    _same_as(fleet, _expected(stepped))
    assert fleet.load("EV0001", "VehicleSpeed", max_points=500).sizes["time"] <= 500
