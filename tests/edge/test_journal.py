"""The write-ahead journal: round trip, torn tails at every offset, corruption."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from cantelem_sci.io import JournalWriter, read_journal
from cantelem_sci.io._journal import HEADER
from cantelem_sci.frames import FrameBatch
from tests.strategies import frame_arrays


def _same(a: FrameBatch, b: FrameBatch) -> bool:
    if len(a) == len(b) == 0:
        return True  # an empty batch has no payload width to compare
    w = min(a.data.shape[1], b.data.shape[1])  # widths differ only by zero padding
    pad_zero = not a.data[:, w:].any() and not b.data[:, w:].any()
    return pad_zero and np.array_equal(a.data[:, :w], b.data[:, :w]) and all(
        np.array_equal(getattr(a, k), getattr(b, k)) for k in (
            "time", "arbitration_id", "dlc", "is_extended", "is_fd", "is_remote", "is_error",
            "channel"))


@settings(max_examples=30, deadline=None)
@given(st.lists(frame_arrays(max_frames=40), min_size=1, max_size=4), st.data())
def test_round_trip_and_every_torn_tail(tmp_path_factory, parts, data):
    path = tmp_path_factory.mktemp("j") / "journal-000001.ctj"
    batches = [FrameBatch.from_arrays(**p) for p in parts]
    w = JournalWriter(path, {"vehicle": "EV1", "seq": 1, "channel_names": ["a", "b", "c", "d"]})
    ends = []
    for b in batches:
        w.append_can(b)
        w.flush()
        ends.append(w.size)
    w.close()
    got = read_journal(path)
    want = FrameBatch.concat(batches)
    assert _same(got.frames, want) and got.torn_bytes == 0
    # a crash can cut the file anywhere: every complete record survives, nothing else
    blob = path.read_bytes()
    cut = data.draw(st.integers(0, len(blob)))
    path.write_bytes(blob[:cut])
    got = read_journal(path)
    complete = sum(1 for e in ends if e <= cut)
    assert len(got.frames) == sum(len(b) for b in batches[:complete])
    assert _same(got.frames, FrameBatch.concat(batches[:complete])) if complete else True


def test_corrupt_record_is_reported_and_the_rest_kept(tmp_path):
    path = tmp_path / "journal-000002.ctj"
    w = JournalWriter(path, {"vehicle": "EV1", "seq": 2, "channel_names": ["can0"]})
    b = FrameBatch.from_arrays(np.arange(5), np.arange(5) + 0x100, np.zeros((5, 8), np.uint8))
    w.append_can(b)
    w.flush()
    first = w.size
    w.append_can(b)
    w.flush()
    w.close()
    blob = bytearray(path.read_bytes())
    blob[first + HEADER.size + 3] ^= 0xFF  # flip a byte inside the second record's payload
    path.write_bytes(bytes(blob))
    got = read_journal(path)
    assert len(got.frames) == 5
    assert got.problems and "fails its CRC" in got.problems[0] and str(path) in got.problems[0]


def test_gps_records_round_trip(tmp_path):
    path = tmp_path / "journal-000003.ctj"
    w = JournalWriter(path, {"vehicle": "EV1", "seq": 3, "channel_names": ["can0"]})
    fixes = {"time": np.array([1, 2]), "latitude": np.array([48.1, 48.2]),
             "longitude": np.array([9.1, 9.2]), "altitude": np.array([300.0, np.nan]),
             "speed": np.array([10.0, 12.0]), "course": np.array([90.0, 91.0]),
             "hdop": np.array([0.9, 1.0]), "fix_quality": np.array([1, 1], np.uint8),
             "satellites": np.array([8, 9], np.uint8)}
    w.append_gps(fixes)
    w.flush()
    got = read_journal(path).gps
    for k, v in fixes.items():
        np.testing.assert_array_equal(got[k], v)
