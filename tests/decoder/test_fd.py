"""CAN FD payloads on the column path (byte windows, :mod:`cantelem_sci.decoder._fd`):
the windows against Python-int bit extraction, and whole decodes against cantools."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cantelem_sci as ct
from cantelem_sci.decoder import _decode, decode_arrays, signal_layout
from tests.decoder.reference import extract_reference
from cantelem_sci.decoder._fd import BLOCK
from cantelem_sci.decoder._layout import windows
from tests.decoder.reference import assert_tree_equals_cantools
from cantelem_sci.frames import FrameBatch
from tests.conftest import corpus_path
from tests.decoder.compact_check import assert_compact_matches_dense


@st.composite
def _fields(draw):
    """A field of a 64-byte payload: position (little-endian start bit, or the msb in
    network numbering for big endian), length, byte order."""
    be = draw(st.booleans())
    ln = draw(st.integers(1, 64))
    pos = draw(st.integers(0, 512 - ln))
    return pos, ln, be


@settings(max_examples=300)
@given(_fields(), st.binary(min_size=64, max_size=64))
def test_a_window_holds_the_field(field, payload):
    """The window's word, shifted as the column kernel shifts it, is the field; a field that
    fits no window (more than 8 bytes spanned) is reported."""
    pos, ln, be = field
    w = windows(np.array([pos]), np.array([ln]), np.array([be]), np.array([64]))
    first, last = pos >> 3, (pos + ln - 1) >> 3
    assert (w is not None) == (last - first < 8)
    if w is None:
        return
    o = int(w.win[0])
    assert o <= first and last < o + 8 and o <= 56
    word = int.from_bytes(payload[o:o + 8], "little")
    if be:
        word = int.from_bytes(word.to_bytes(8, "little"), "big")
    got = ((word << int(w.lsh[0])) & (2**64 - 1)) >> int(w.rsh[0])
    assert got == extract_reference(payload, pos, ln, be)
    assert int(w.nb[0]) == (pos + ln + 7) // 8


def _widened(b: FrameBatch) -> FrameBatch:
    data = np.zeros((len(b), 64), np.uint8)
    data[:, :8] = b.data
    return FrameBatch(b.time, b.arbitration_id, b.dlc, b.is_extended, b.is_fd, b.is_remote,
                      b.is_error, b.channel, data, channel_names=b.channel_names)


def _members(res, lay):
    """Each multiplexed signal's compact values, by signal (the layout of the flat array
    differs between paths)."""
    out = {}
    for s, g in enumerate(lay.groups.sig_group):
        if g >= 0:
            c, b0 = res["group_count"][g], res["group_col_base"][s]
            out[s] = res["group_values"][b0:b0 + c]
    return out


@pytest.mark.parametrize("multiplexed", ["compact", "dense"])
def test_sample_in_64_byte_rows_equals_the_8_byte_path(sample_db, sample_batch, multiplexed):
    """The sample vehicle (a simple multiplexer with 24 groups, J1939 GPS, two channels) in
    64-byte rows: every output equal to the classic path's. The batch spans several blocks."""
    big = FrameBatch.concat([sample_batch] * 3)
    assert len(big) > 2 * BLOCK
    a = decode_arrays(big, sample_db, multiplexed=multiplexed)
    b = decode_arrays(_widened(big), sample_db, multiplexed=multiplexed)
    for k in ("offsets", "time", "channel", "source_address", "values", "col_base",
              "out_of_range", "unknown", "usable"):
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    if multiplexed == "compact":
        for k in ("group_count", "group_row_base", "group_rows", "group_time",
                  "group_channel", "group_values", "group_col_base"):
            np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def _random_frames(db, n, seed, short):
    lay = signal_layout(db)
    msgs = [m.message for m in lay.messages]
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(msgs), n)
    dlc = np.array([msgs[i].length for i in pick], np.uint8)
    if short:  # some frames shorter than their message
        cut = rng.random(n) < 0.3
        dlc[cut] = rng.integers(0, 64, cut.sum()) % np.maximum(dlc[cut], 1)
    return FrameBatch.from_arrays(
        np.arange(n, dtype=np.int64) * 1000, np.array([msgs[i].frame_id for i in pick],
                                                      np.uint32),
        rng.integers(0, 256, (n, 64), dtype=np.uint8), dlc=dlc,
        is_extended=np.array([msgs[i].is_extended_frame for i in pick]),
        is_fd=np.array([msgs[i].length > 8 for i in pick]), channel=rng.integers(0, 2, n))


def test_sample_in_64_byte_rows_equals_cantools(sample_db, sample_batch):
    """The FD path on the sample vehicle's frames in 64-byte rows, frame by frame."""
    small = _widened(sample_batch.take(np.arange(min(len(sample_batch), 400))))
    lay = signal_layout(sample_db)
    assert _decode._path(lay, 64, np.zeros(len(lay.messages), np.int64)).__name__.endswith("_fd")
    assert_tree_equals_cantools(ct.decode(small, sample_db), small, lay)


@pytest.mark.corpus
@pytest.mark.parametrize("name", ["hyundai_canfd_generated.dbc", "vw_meb_generated.dbc"])
@settings(max_examples=4, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), short=st.booleans())
def test_fd_dbc_column_path_equals_cantools(name, seed, short):
    """Real CAN FD DBCs (hundreds of signals, big and little endian, up to 64-byte
    messages, simple multiplexers), random payloads, short frames: every value as cantools
    gives it, and the compact form the same values as the dense one."""
    path = corpus_path("opendbc", name)  # skips, with the reason, when absent
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        db = ct.load_dbc(path)
        frames = _random_frames(db, 300, seed, short)
        lay = signal_layout(db)
        assert lay.windows is not None  # the column path serves this DBC
        dense = ct.decode(frames, db)
        assert_tree_equals_cantools(dense, frames, lay)
        assert_compact_matches_dense(dense, ct.decode(frames, db, multiplexed="compact"))
