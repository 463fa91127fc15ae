"""Gap- and NaN-aware downsampling and the step mode, against plain-Python references."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cantelem_sci.kernels import METHODS, breaks, downsample, lttb, step
from cantelem_sci.kernels._gaps import _segments
from cantelem_sci.kernels._reference import segments_reference, step_changes_reference
from tests.strategies import gappy_series

gaps = st.sampled_from([None, 10, 100])


@given(gappy_series(), gaps)
def test_segments_accord(xy, gap):
    x, y = xy
    starts, stops, nans = _segments(x, y, 0.0 if gap is None else float(gap), gap is not None)
    runs, nan_runs = segments_reference(x, y, gap)
    assert list(zip(starts.tolist(), stops.tolist())) == runs
    assert nans.tolist() == nan_runs


@given(gappy_series(), gaps, st.integers(0, 120), st.sampled_from(METHODS))
def test_breaks_survive_every_method(xy, gap, n_out, method):
    x, y = xy
    idx = downsample(x, y, n_out, method, gap=gap)
    assert idx.dtype == np.int64 and np.all(np.diff(idx) > 0)
    keep = set(idx.tolist())
    runs, nan_runs = segments_reference(x, y, gap)
    for s, e in runs:  # both sides of every break
        assert s in keep and e - 1 in keep
    for i in nan_runs:  # a NaN marker per NaN run
        assert i in keep
    if method == "step":
        return
    # within budget unless the breaks themselves need more
    if 3 <= n_out < len(x):
        # the ends and markers are kept even past the budget; within it, nothing more
        must = len(nan_runs) + sum(min(e - s, 2) for s, e in runs)
        assert len(idx) <= max(n_out, must)


@given(gappy_series(), st.integers(3, 200))
def test_without_breaks_it_is_the_plain_method(xy, n_out):
    x, y = xy
    y = np.nan_to_num(y)
    assert downsample(x, y, n_out, "lttb").tolist() == lttb(x, y, n_out).tolist()


@given(gappy_series(), st.integers(0, 400))
def test_step_keeps_every_change_within_budget(xy, n_out):
    x, y = xy
    idx = step(x, y, n_out)
    changes = step_changes_reference(y)
    if n_out < 3 or len(changes) <= n_out:
        assert idx.tolist() == changes
    else:
        assert set(idx.tolist()) <= set(changes) and len(idx) <= n_out
        assert {0, len(y) - 1} <= set(idx.tolist())


def test_step_redraws_an_enum_exactly():
    y = np.repeat([0.0, 3, 1, 3, 2], [1000, 10, 5000, 1, 300])
    x = np.arange(y.size) * 10
    idx = step(x, y, 50)
    redraw = y[idx][np.searchsorted(idx, np.arange(y.size), side="right") - 1]
    assert np.array_equal(redraw, y)


def test_breaks_positions_and_bad_method():
    x = np.array([0, 1, 2, 10, 11], dtype="datetime64[s]")
    assert breaks(x, np.arange(5), np.timedelta64(5, "s")).tolist() == [2]
    with pytest.raises(ValueError, match="valid: lttb, minmax_lttb, m4, minmax, step"):
        downsample(np.arange(5), np.zeros(5), 3, "nope")
    with pytest.raises(ValueError, match="gap must be positive"):
        downsample(np.arange(5), np.zeros(5), 3, gap=0)


@given(gappy_series(), gaps, st.integers(3, 120))
def test_assume_sorted_changes_nothing_on_sorted_x(xy, gap, n_out):
    """Trusting a sorted x (what the accessor and Fleet.load do when the time index says it
    is monotonic) selects exactly what checking it selects."""
    x, y = xy
    want = downsample(x, y, n_out, "minmax_lttb", gap=gap)
    got = downsample(x, y, n_out, "minmax_lttb", gap=gap, assume_sorted=True)
    np.testing.assert_array_equal(got, want)
