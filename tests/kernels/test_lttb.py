"""Downsampling kernels: the original LTTB tables, numpy references, properties."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from cantelem_sci.kernels import lttb, m4, minmax, minmax_lttb
from cantelem_sci.kernels._minmax import _minmax_kernel
from cantelem_sci.kernels._reference import lttb_reference, minmax_buckets_reference
from tests.conftest import corpus_path


def _read(path):
    with open(path) as fh:
        rows = list(csv.DictReader(fh))
    return rows


@pytest.mark.corpus
@pytest.mark.parametrize("series", [0, 1, 2])
@pytest.mark.parametrize("threshold", [3, 10, 100, 500, 1000])
def test_flot_tables_exactly(series, threshold):
    data = _read(corpus_path("lttb", f"flot_demo{series}.csv"))
    x = np.array([float(r["x"]) for r in data])
    y = np.array([float(r["y"]) for r in data])
    table = corpus_path("lttb", f"flot_demo{series}_lttb_{threshold}.csv")
    want = [int(r["index"]) for r in _read(table)]
    got = lttb(x, y, threshold)
    assert got.tolist() == want
    # integer and datetime x give the same selection
    assert lttb(x.astype(np.int64), y, threshold).tolist() == want
    assert lttb(x.astype(np.int64).astype("datetime64[ns]"), y, threshold).tolist() == want


series = st.integers(0, 400).flatmap(lambda n: st.tuples(
    hnp.arrays(np.int64, n, elements=st.integers(0, 10**6)).map(np.sort),
    hnp.arrays(np.float64, n, elements=st.floats(-1e6, 1e6)),
))


@given(series, st.integers(0, 500), st.sampled_from([0, 1_700_000_000 * 10**9]),
       st.booleans())
def test_lttb_accords_with_reference(xy, n_out, offset, parallel):
    x, y = xy
    x = x + offset  # epoch-ns timestamps take the exact integer mean
    got = lttb(x, y, n_out, parallel=parallel)
    assert got.tolist() == lttb_reference(x, y, n_out).tolist()
    assert lttb(x.astype(np.float64), y, n_out).tolist() == lttb_reference(
        x.astype(np.float64), y, n_out).tolist()


@given(series, st.integers(3, 100))
def test_parallel_and_serial_agree(xy, n_out):
    x, y = xy
    for fn in (lttb, minmax, minmax_lttb):
        assert fn(x, y, n_out, parallel=True).tolist() == fn(x, y, n_out, parallel=False).tolist()


rough = st.integers(3, 600).flatmap(lambda n: st.tuples(
    # few distinct values (ties), repeated x, NaN and infinities: the block bound's edge cases
    hnp.arrays(np.int64, n, elements=st.integers(0, 50)).map(np.sort),
    hnp.arrays(np.float64, n, elements=st.one_of(
        st.integers(-3, 3).map(float), st.floats(-1e300, 1e300),
        st.sampled_from([np.nan, np.inf, -np.inf, 0.0, -0.0, 5e-324])),
    ),
))


@given(rough, st.integers(3, 60), st.integers(1, 9), st.booleans())
def test_block_pruned_lttb_accords_with_reference(xy, n_out, block, as_float):
    """The parallel kernel skips blocks by a bound; with tiny blocks every skip is tested."""
    from cantelem_sci.kernels._lttb import _lttb_kernel

    x, y = xy
    if as_float:
        x = x.astype(np.float64) * 0.1
    if n_out >= len(x):
        return
    got = _lttb_kernel(x, y, n_out, parallel=True, block=block)
    assert got.tolist() == lttb_reference(x, y, n_out).tolist()


def test_block_pruned_lttb_on_a_long_random_walk():
    from cantelem_sci.kernels._lttb import _lttb_kernel

    rng = np.random.default_rng(7)
    n = 300_000
    x = np.arange(n, dtype=np.int64) * 10_000_000 + 1_700_000_000 * 10**9
    y = np.cumsum(rng.normal(size=n)) + 5 * np.sin(np.arange(n) / 3000) + rng.normal(size=n)
    y[rng.integers(0, n, 300)] = np.nan
    for n_out in (3, 100, 2000):
        want = _lttb_kernel(x, y, n_out, parallel=False)
        for block in (1, 7, 64, 4096):
            assert _lttb_kernel(x, y, n_out, parallel=True, block=block).tolist() == want.tolist()
    assert want.tolist() == lttb_reference(x, y, 2000).tolist()


@given(rough, st.integers(1, 60), st.integers(1, 9), st.booleans())
def test_minmax_blocks_accord_with_reference(xy, n_bins, block, parallel):
    """Vectorised blocks of order keys, then the first index: ties, signed zeros, NaN, inf."""
    _, y = xy
    got = _minmax_kernel(y, 1, len(y) - 1, n_bins, parallel, block=block)
    assert got.tolist() == minmax_buckets_reference(y, 1, len(y) - 1, n_bins).tolist()


@given(rough, st.integers(4, 200))
def test_m4_accords_with_reference(xy, n_out):
    from cantelem_sci.kernels._reference import m4_reference

    x, y = xy
    want = np.arange(len(y)) if n_out >= len(y) else m4_reference(y, n_out // 4)
    assert m4(x, y, n_out).tolist() == want.tolist()


@given(rough, st.integers(3, 6) | st.integers(3, 700),
       st.sampled_from([lttb, minmax, m4, minmax_lttb]))
def test_every_method_keeps_within_its_budget(xy, n_out, fn):
    x, y = xy
    idx = fn(x, y, n_out)
    assert len(idx) == len(x) if n_out >= len(x) else len(idx) <= n_out
    assert np.all(np.diff(idx) > 0)


@given(series, st.integers(1, 60))
def test_minmax_buckets_accord(xy, n_bins):
    _, y = xy
    if len(y) < 2:
        return
    got = _minmax_kernel(y, 1, len(y) - 1, n_bins)
    assert got.tolist() == minmax_buckets_reference(y, 1, len(y) - 1, n_bins).tolist()


@given(series, st.integers(0, 300), st.sampled_from([lttb, minmax, m4, minmax_lttb]))
def test_indices_are_sorted_unique_and_keep_ends(xy, n_out, fn):
    x, y = xy
    idx = fn(x, y, n_out)
    assert idx.dtype == np.int64
    assert np.all(np.diff(idx) > 0)
    if len(x):
        assert idx[0] == 0 and idx[-1] == len(x) - 1
    if n_out >= len(x) or n_out < 3:
        assert idx.tolist() == list(range(len(x)))
    elif fn is lttb or fn is minmax_lttb:
        assert len(idx) == n_out


def test_minmax_keeps_extremes():
    rng = np.random.default_rng(0)
    y = rng.normal(size=100_000)
    y[54321] = 50
    y[12345] = -50
    for fn in (minmax, m4, minmax_lttb):
        idx = fn(np.arange(y.size), y, 200)
        assert 54321 in idx and 12345 in idx


def test_bad_input_is_named():
    with pytest.raises(ValueError, match=r"non-decreasing; x\[2\] < x\[1\]"):
        lttb(np.array([0, 2, 1, 3]), np.zeros(4), 3)
    with pytest.raises(ValueError, match="equal length"):
        lttb(np.arange(3), np.zeros(4), 3)
    with pytest.raises(ValueError, match="ratio"):
        minmax_lttb(np.arange(100), np.zeros(100), 10, ratio=0)


@given(st.integers(4, 3000), st.data(), st.booleans())
def test_a_decrease_anywhere_is_named_by_every_downsampler(n, data, parallel):
    """The check is fused into the kernels' passes: each step of x, first and last included."""
    j = data.draw(st.integers(1, n - 1))
    n_out = data.draw(st.integers(3, n - 1))
    x = np.arange(n, dtype=np.int64) * 10
    x[j] = x[j - 1] - 1
    first = int(np.flatnonzero(np.diff(x) < 0)[0])
    y = np.sin(np.arange(n) / 7.0)
    for fn in (lttb, minmax, minmax_lttb):
        with pytest.raises(ValueError, match=rf"x\[{first + 1}\] < x\[{first}\]"):
            fn(x, y, n_out, parallel=parallel)
    with pytest.raises(ValueError, match=rf"x\[{first + 1}\] < x\[{first}\]"):
        m4(x, y, max(n_out, 4))


@given(series, st.integers(3, 100), st.booleans())
def test_minmax_lttb_assume_sorted_reads_only_y(xy, n_out, parallel):
    x, y = xy
    want = minmax_lttb(x, y, n_out, parallel=parallel)
    assert minmax_lttb(x, y, n_out, parallel=parallel, assume_sorted=True).tolist() == \
        want.tolist()


def test_second_process_loads_the_jit_cache():
    import subprocess
    import sys

    code = ("import numpy as np; from cantelem_sci.kernels import lttb, minmax_lttb;"
            "from cantelem_sci.kernels._lttb import _lttb_select, _bucket_scan as _bucket_means;"
            "x = np.arange(300_000); y = np.sin(x / 1e3);"
            "lttb(x, y, 100, parallel=True); lttb(x, y, 100, parallel=False);"
            "print(sum(_lttb_select.stats.cache_hits.values()),"
            " sum(_bucket_means.stats.cache_hits.values()),"
            " sum(_lttb_select.stats.cache_misses.values()))")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)  # fills the cache
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    hits_select, hits_means, misses = map(int, out.stdout.split())
    assert hits_select >= 1 and hits_means >= 1 and misses == 0
