"""CAN FD payloads on the column path (byte windows, :mod:`cantelem_sci.decoder._wide`):
the windows against Python-int bit extraction, and whole decodes against the 8-byte column
path and against the generic path, which stays for layouts the windows cannot serve."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cantelem_sci as ct
from cantelem_sci.decoder import _decode, decode_arrays
from cantelem_sci.decoder._kernels import extract_reference
from cantelem_sci.decoder._wide import BLOCK, Windows, windows
from cantelem_sci.frames import FrameBatch
from tests.conftest import corpus_path


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
    assert w.ok == (last - first < 8)
    if not w.ok:
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


def _no_windows(monkeypatch):
    real = _decode._windows

    def none(lay):
        w = real(lay)
        return Windows(w.win, w.lsh, w.rsh, w.nb, False)

    monkeypatch.setattr(_decode, "_windows", none)


def _random_frames(db, n, seed, short):
    lay = _decode._layout(db)
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


@pytest.mark.corpus
@pytest.mark.parametrize("name", ["hyundai_canfd_generated.dbc", "vw_meb_generated.dbc"])
@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), short=st.booleans())
def test_fd_dbc_column_path_equals_the_generic_path(name, seed, short):
    """Real CAN FD DBCs (hundreds of signals, big and little endian, up to 64-byte
    messages, simple multiplexers), random payloads, short frames: the window path and the
    generic path give the same values, out-of-range counts and groups."""
    path = corpus_path("opendbc", name)  # skips, with the reason, when absent
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        db = ct.load_dbc(path)
    frames = _random_frames(db, 3000, seed, short)
    lay = _decode._layout(db)
    assert _decode._windows(lay).ok  # the column path serves this DBC
    ours = {m: decode_arrays(frames, db, multiplexed=m) for m in ("dense", "compact")}
    mp = pytest.MonkeyPatch()
    try:
        _no_windows(mp)
        generic = {m: decode_arrays(frames, db, multiplexed=m) for m in ("dense", "compact")}
    finally:
        mp.undo()
    for k in ("values", "out_of_range", "time", "channel", "counts"):
        np.testing.assert_array_equal(ours["dense"][k], generic["dense"][k], err_msg=k)
    a, b = ours["compact"], generic["compact"]
    for k in ("group_count", "group_rows", "group_time", "out_of_range"):
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    ma, mb = _members(a, lay), _members(b, lay)
    assert ma.keys() == mb.keys()
    for s in ma:
        np.testing.assert_array_equal(ma[s], mb[s], err_msg=str(s))
