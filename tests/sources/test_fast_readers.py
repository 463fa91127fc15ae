"""The whole-column readers (MF4, BLF, ASC, TRC) against python-can's readers, frame by frame,
on generated files of every frame kind; the corpus logs are in ``test_read_log.py``."""

from __future__ import annotations

import can
import numpy as np
import pytest
from hypothesis import given, settings

import cantelem_sci as ct
from cantelem_sci.sources._mf4 import _merge_order
from tests.sources.test_read_log import _assert_equal_to_pycan
from tests.strategies import can_messages


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
