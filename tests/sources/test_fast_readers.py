"""The whole-column readers (MF4, BLF, ASC, TRC) against python-can's readers, frame by frame,
on generated files of every frame kind; the corpus logs are in ``test_read_log.py``."""

from __future__ import annotations

import warnings

import can
import numpy as np
import pytest
from hypothesis import given, settings

import cantelem_sci as ct
from cantelem_sci.errors import LogDamageWarning, LogFormatError
from cantelem_sci.sources._asc import read_asc
from cantelem_sci.sources._mf4 import _merge_order
from cantelem_sci.sources._pycan import read_pycan
from cantelem_sci.sources._trc import read_trc
from tests.sources.test_read_log import _assert_equal_to_pycan
from tests.strategies import asc_text, can_messages, trc_text


def _write(path, msgs):
    with can.Logger(str(path)) as out:
        for m in msgs:
            out.on_message_received(m)


@settings(max_examples=15)
@given(can_messages(max_size=25))
def test_mf4_equals_python_can(tmp_path_factory, msgs):
    pytest.importorskip("asammdf")
    p = tmp_path_factory.mktemp("mf4") / "g.mf4"
    _write(p, msgs)
    _assert_equal_to_pycan(ct.read_log(p), list(can.LogReader(str(p))), "generated mf4")


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
