"""The whole-column readers (MF4, BLF, ASC, TRC) against python-can's readers, frame by frame,
on generated files of every frame kind; the corpus logs are in ``test_read_log.py``."""

from __future__ import annotations

import warnings

import can
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cantelem_sci as ct
from cantelem_sci.errors import LogDamageWarning, LogFormatError
from cantelem_sci.sources._asc import read_asc
from cantelem_sci.sources import _mf4
from cantelem_sci.sources._mdf_blocks import NotSimple, read_bus_groups
from cantelem_sci.sources._mf4 import _merge_order
from cantelem_sci.sources._pycan import read_pycan
from cantelem_sci.sources._trc import read_trc
from tests.conftest import corpus_files
from tests.sources.test_read_log import _assert_equal_to_pycan
from tests.strategies import asc_text, can_messages, trc_text


def _write(path, msgs):
    with can.Logger(str(path)) as out:
        for m in msgs:
            out.on_message_received(m)


@settings(max_examples=15)
@given(can_messages(max_size=25))
def test_mf4_equals_python_can(tmp_path_factory, msgs):
    """Generated files (every frame kind), read from their blocks (no asammdf), equal
    python-can's frames."""
    pytest.importorskip("asammdf")
    p = tmp_path_factory.mktemp("mf4") / "g.mf4"
    _write(p, msgs)
    read_bus_groups(str(p))  # the block reader reads it: no fall-back to asammdf
    _assert_equal_to_pycan(ct.read_log(p), list(can.LogReader(str(p))), "generated mf4")


def _via_asammdf(path, monkeypatch):
    with monkeypatch.context() as m:
        def refuse(_):
            raise NotSimple("asammdf asked for")

        m.setattr(_mf4, "read_bus_groups", refuse)
        return ct.read_log(path)


@pytest.mark.corpus
@pytest.mark.parametrize("path", corpus_files("real-capture", "*/*.MF4"),
                         ids=lambda p: p.parent.name)
def test_real_captures_read_from_their_blocks_equal_asammdf(path, tmp_path, monkeypatch):
    """The CANedge recordings (unfinalized files: no cycle counts, the last data block's
    length unwritten; fixed and variable-length payloads) are read from their blocks, frame
    for frame as through asammdf, whole and cut off mid-file (a logger losing power)."""
    pytest.importorskip("asammdf")
    raw = path.read_bytes()
    read_bus_groups(str(path))  # no fall-back
    data = raw.rfind(b"##DT")  # the records: cut within them
    cuts = [("whole", raw), ("cut", raw[:len(raw) - 1000]),
            ("half", raw[:data + (len(raw) - data) // 2])]
    whole = None
    for label, data in cuts:
        p = tmp_path / f"{label}.mf4"
        p.write_bytes(data)
        got = ct.read_log(p)
        assert len(got) > 0, label
        whole = got if whole is None else whole
        try:
            want = _via_asammdf(p, monkeypatch)
        except LogFormatError:  # asammdf cannot finish this file: ours reads what is there
            def frames(b):
                return {(t, a, d.tobytes()) for t, a, d in zip(b.time, b.arbitration_id,
                                                               b.data)}
            assert frames(got) <= frames(whole) and len(got) < len(whole), label
            continue
        _same_batches(got, want, f"{path.parent.name} {label}")
        np.testing.assert_array_equal(got.time, want.time)  # the same float operations


def test_mf4_groups_merge_as_python_can_merges_them():
    """heapq.merge order: the smallest head first, ties to the earlier group, unsorted runs
    taken as they come."""
    import heapq

    rng = np.random.default_rng(3)
    runs = [np.round(rng.random(n) * 5) for n in (7, 0, 5, 9)]
    runs[0].sort()
    times = np.concatenate(runs)
    starts = np.cumsum([0] + [r.shape[0] for r in runs]).astype(np.int64)
    tagged = [[(t, g, i) for i, t in enumerate(r)] for g, r in enumerate(runs)]
    want = [starts[g] + i for _, g, i in heapq.merge(*tagged, key=lambda x: x[0])]
    assert _merge_order(times, starts).tolist() == want


@given(can_messages(max_size=40))
def test_blf_equals_python_can(tmp_path_factory, msgs):
    p = tmp_path_factory.mktemp("blf") / "g.blf"
    _write(p, msgs)
    _assert_equal_to_pycan(ct.read_log(p), list(can.LogReader(str(p))), "generated blf")


def _same_batches(got, want, label):
    """Two readers' batches are the same frames (times within python-can's float error)."""
    assert len(got) == len(want), f"{label}: {len(got)} frames, expected {len(want)}"
    assert got.channel_names == want.channel_names, label
    assert np.all(np.abs(got.time - want.time) <= 1000), label
    for name in ("arbitration_id", "dlc", "is_extended", "is_fd", "is_remote", "is_error",
                 "channel", "is_rx"):
        g, w = getattr(got, name, None), getattr(want, name, None)
        if not len(got):
            break
        bad = np.flatnonzero(g != w)
        assert not bad.size, f"{label} frame {bad[0]}: {name} {g[bad[0]]}, expected {w[bad[0]]}"
    assert got.data.shape == want.data.shape and (got.data == want.data).all(), label


def _outcome(read, path, strict):
    try:
        return read(path, strict=strict)
    except LogFormatError as err:
        assert str(path) in str(err)
        return "refused"


def _reads_as_python_can(read, p, text):
    """``read`` and python-can's reader give the same frames of ``text``, strict and lenient,
    or both refuse it."""
    p.write_bytes(text.encode("utf-8"))
    for strict in (True, False):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", LogDamageWarning)
            got, want = _outcome(read, p, strict), _outcome(read_pycan, p, strict)
        if isinstance(want, str) or isinstance(got, str):
            assert got == want, f"fast: {got!r}, python-can: {want!r}\n{text}"
        else:
            _same_batches(got, want, text)


@given(asc_text())
def test_asc_reads_every_text_as_python_can_does(tmp_path_factory, text):
    """Any ASC text, odd lines included: the compiled parser's frames are python-can's, or
    both refuse the file."""
    _reads_as_python_can(read_asc, tmp_path_factory.mktemp("asc") / "g.asc", text)


@given(trc_text())
def test_trc_reads_every_text_as_python_can_does(tmp_path_factory, text):
    """Any TRC text (versions 1.0 to 2.1), odd lines included: the compiled parser's frames
    are python-can's, or both refuse the file."""
    _reads_as_python_can(read_trc, tmp_path_factory.mktemp("trc") / "g.trc", text)


_CAPTURES = corpus_files("real-capture", "*/*.MF4")


# asammdf's MDF4.__del__ fails on a file it could not open (its own noise, not ours)
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.corpus
@pytest.mark.skipif(not _CAPTURES, reason="the shared corpus's real captures are absent")
@settings(max_examples=60, deadline=None)
@given(st.sampled_from(range(max(len(_CAPTURES), 1))),
       st.lists(st.tuples(st.booleans(), st.integers(0, 2**21), st.integers(0, 255)),
                min_size=1, max_size=8))
def test_a_damaged_real_capture_gives_frames_or_a_clear_error(tmp_path_factory, which,
                                                              flips):
    """Bytes of a real capture changed anywhere (headers, blocks, records): the reader
    returns frames or refuses with a LogFormatError naming the file, never anything else,
    and never crashes (asammdf's compiled code did on a payload offset past its data: a
    damaged file no longer reaches it)."""
    raw = bytearray(_CAPTURES[which].read_bytes())
    for head, at, value in flips:  # half of them in the first 20 kB: the blocks
        raw[at % (min(len(raw), 20_000) if head else len(raw))] = value
    p = tmp_path_factory.mktemp("flip") / "x.mf4"
    p.write_bytes(bytes(raw))
    try:
        ct.read_log(p, strict=False)
    except LogFormatError as err:
        assert str(p) in str(err)


@pytest.mark.corpus
@pytest.mark.skipif(not any(p.parent.name == "css-j1939-idle" for p in _CAPTURES),
                    reason="the shared corpus's css-j1939-idle capture is absent")
def test_a_channel_reaching_past_its_record_is_refused_before_asammdf(tmp_path):
    """Five bytes of the J1939 idle capture changed (one found by the test above): our block
    reader leaves the file to asammdf, whose data bytes channel now starts at byte 166 of a
    22-byte record; asammdf's compiled code copied it out of every record and crashed the
    process. It is refused naming the channel group, the channel and the bytes."""
    src = next(p for p in _CAPTURES if p.parent.name == "css-j1939-idle")
    raw = bytearray(src.read_bytes())
    for at, value in ((1196606 % len(raw), 33), (987340 % 20_000, 166),
                      (813751 % 20_000, 208), (2064209 % 20_000, 150),
                      (1499667 % 20_000, 168)):
        raw[at] = value
    p = tmp_path / "past-the-record.mf4"
    p.write_bytes(bytes(raw))
    with pytest.raises(LogFormatError, match=r"channel group 0, channel "
                       r"'CAN_DataFrame.DataBytes': bytes 166..174 of a 22-byte record"):
        ct.read_log(p, strict=False)
