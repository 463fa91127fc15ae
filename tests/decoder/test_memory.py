"""The decoder's pooled huge-page output memory: aligned, never handed out twice while in
use, recycled once dead, bounded; and its shared read-only zero columns."""

from __future__ import annotations

import gc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cantelem_sci.decoder import _memory
from cantelem_sci.decoder._memory import HUGE_PAGE, MIN_BYTES, empty, pool_stats


def _span(a: np.ndarray) -> tuple[int, int]:
    return a.ctypes.data, a.ctypes.data + a.nbytes


def test_large_arrays_are_huge_page_aligned_and_small_ones_plain():
    a = empty(MIN_BYTES // 8, np.float64)
    assert a.shape == (MIN_BYTES // 8,) and a.dtype == np.float64 and a.flags.writeable
    assert a.ctypes.data % HUGE_PAGE == 0
    b = empty(100, np.int64)
    assert b.base is None  # plain numpy.empty


def test_a_dead_array_is_reused_and_a_live_one_never():
    a = empty(300_000, np.int64)
    a[:] = 7
    span_a = _span(a)
    b = empty(300_000, np.int64)  # a is alive: b must be elsewhere
    assert _span(b)[0] >= span_a[1] or _span(b)[1] <= span_a[0]
    before = pool_stats()["reused"]
    del b
    gc.collect()
    c = empty(300_000, np.int64)
    assert pool_stats()["reused"] == before + 1
    assert (a == 7).all()
    del c


def test_idle_memory_is_bounded(monkeypatch):
    monkeypatch.setattr(_memory, "_limit", 3 * HUGE_PAGE * 2)
    arrays = [empty(MIN_BYTES, np.uint8) for _ in range(10)]
    del arrays
    gc.collect()
    assert pool_stats()["idle_bytes"] <= 3 * HUGE_PAGE * 2


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(MIN_BYTES // 8, 3 * MIN_BYTES // 8)),
                min_size=1, max_size=25))
def test_live_arrays_never_overlap_and_keep_their_contents(ops):
    """Random allocations and frees: live arrays are disjoint and keep what was written."""
    live: list[tuple[np.ndarray, int]] = []
    for k, (free, n) in enumerate(ops):
        if free and live:
            live.pop(k % len(live))  # freed at once (reference counting): back to the pool
        a = empty(n, np.int64)
        a[:] = k
        live.append((a, k))
        spans = sorted(_span(x) for x, _ in live)
        assert all(s1[1] <= s2[0] for s1, s2 in zip(spans, spans[1:]))
        assert all((x == v).all() for x, v in live)


def test_a_released_tree_returns_its_memory_without_a_garbage_collection():
    """A DataTree is a reference cycle: dropped, it waits for the cyclic collector. After
    ``release_tree`` its columns go back to the pool as soon as it is dropped, and a node the
    caller kept still holds its data."""
    import cantelem_sci as ct
    from cantelem_sci.decoder import release_tree

    db = ct.load_dbc(ct.sample_dbc_path())
    batch = ct.simulate_vehicle(duration_s=240, seed=3)
    gc.collect()
    gc.disable()
    try:
        kept = ct.decode(batch, db)  # dropped without release: its memory stays taken
        del kept
        mapped = pool_stats()["mapped"] + pool_stats()["reused"]
        tree = ct.decode(batch, db)
        taken = pool_stats()["mapped"] + pool_stats()["reused"] - mapped
        assert taken > 0  # four minutes of the sample vehicle: pooled arrays
        pack = tree["BMS_PackStatus"].dataset
        voltage = pack["PackVoltage"].values.copy()
        idle = pool_stats()["idle_bytes"]
        release_tree(tree)
        del tree
        assert pool_stats()["idle_bytes"] > idle  # returned at once, no collection ran
        np.testing.assert_array_equal(pack["PackVoltage"].values, voltage)
        assert len(ct.decode(batch, db).children) > 0
    finally:
        gc.enable()
        gc.collect()


def test_a_lazy_dense_column_is_built_in_pooled_memory(monkeypatch):
    """Reading a multiplexed column of the dense tree builds it in the pool (fresh 4 KiB pages
    made reading the 96 cells of half an hour 2.5x slower), NaN where its group is not
    selected, and the memory comes back when the tree is released."""
    import cantelem_sci as ct
    from cantelem_sci.decoder import release_tree

    monkeypatch.setattr(_memory, "_limit", 1 << 40)  # what is given back stays idle
    db = ct.load_dbc(ct.sample_dbc_path())
    batch = ct.simulate_vehicle(duration_s=700, seed=4)  # > 1 MiB per dense cell column
    tree = ct.decode(batch, db)
    node = tree["BMS_CellVoltages"].dataset
    assert node.sizes["time"] * 8 >= MIN_BYTES
    before = pool_stats()
    cell = node["Cell01_Voltage"].values
    after = pool_stats()
    assert after["mapped"] + after["reused"] == before["mapped"] + before["reused"] + 1
    assert cell.ctypes.data % HUGE_PAGE == 0
    selected = node["CellGroup"].values == 0
    assert np.isnan(cell[~selected]).all() and not np.isnan(cell[selected]).any()
    del cell
    idle = pool_stats()["idle_bytes"]
    release_tree(tree)
    del tree, node
    gc.collect()
    assert pool_stats()["idle_bytes"] > idle


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([0, 1, 100, 300_000, 3_000_000]),
                          st.sampled_from(["u1", "b1", "i8", "f8"])), max_size=8))
def test_zero_columns_are_zero_read_only_and_stay_valid(asked):
    """``zeros``: n zeros of the dtype, read-only (a write raises, nothing can change the
    shared mapping), and arrays handed out before the mapping grew keep their zeros."""
    kept = []
    for n, dt in asked:
        z = _memory.zeros(n, dt)
        assert z.shape == (n,) and z.dtype == np.dtype(dt) and not z.flags.writeable
        assert not z.any()
        if n:
            with pytest.raises(ValueError, match="read-only"):
                z[n - 1] = 1
        with pytest.raises(ValueError):  # nor can it be made writeable again
            z.flags.writeable = True
        kept.append(z)
    for z in kept:
        assert not z.any()
