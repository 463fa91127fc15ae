"""Alert kernels: accordance with a plain-Python reference, and split invariance (any split
into batches gives exactly the transitions of the whole series)."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from cantelem_sci.kernels._alerts import (
    P_FIELDS,
    absent_append,
    outputs,
    state_create,
    threshold_append,
)
from tests.strategies import alert_series

INF = math.inf


def params(**kw) -> np.ndarray:
    p = dict.fromkeys(P_FIELDS, 0.0)
    p.update(kw)
    return np.array([p[k] for k in P_FIELDS], np.float64)


def run(t, v, p, clock=None, cuts=(), capacity=3):
    """Transitions of the kernels, fed in batches split at ``cuts`` (times)."""
    st_i, st_f = state_create()
    out = []
    edges = [-(2**62), *cuts, 2**62]
    for a, b in zip(edges, edges[1:]):
        m = (t >= a) & (t < b)
        tt, vv = np.ascontiguousarray(t[m]), np.ascontiguousarray(v[m])
        oi, of = outputs(capacity)  # a small capacity: the kernels stop and resume
        i = j = 0
        while True:
            if clock is None:
                k, i = threshold_append(tt, vv, p, st_i, st_f, oi, of, i)
            else:
                c = np.ascontiguousarray(clock[(clock >= a) & (clock < b)])
                k, i, j = absent_append(tt, vv, c, p, st_i, st_f, oi, of, i, j)
            # NaN (no value) as None: NaN != NaN would make equal runs compare unequal
            out += [tuple(oi[q]) + tuple(None if np.isnan(x) else x for x in np.round(of[q], 9))
                    for q in range(k)]
            if i >= tt.size and (clock is None or j >= c.size):
                break
    return out


def reference_threshold(t, v, lo, hi, clo, chi, for_ns, clear_for_ns, rate=False):
    """The rule in plain Python: (kind, start, end, decided at)."""
    xs = []
    prev = None
    for ti, vi in zip(t.tolist(), v.tolist()):
        if vi != vi:
            continue
        if rate:
            if prev is None:
                prev = (ti, vi)
                continue
            if ti <= prev[0]:
                continue
            xs.append((ti, (vi - prev[1]) * 1e9 / (ti - prev[0])))
            prev = (ti, vi)
        else:
            xs.append((ti, vi))
    events = []
    firing = False
    run_start = None  # start of the current run of triggering samples (not yet firing)
    clear_start = None
    for ti, x in xs:
        trig = x < lo or x > hi
        clr = clo <= x <= chi
        if not firing:
            if not trig:
                run_start = None
                continue
            if run_start is None:
                run_start = ti
            if ti - run_start >= for_ns:
                firing = True
                events.append(("fired", run_start, 0, ti))
            continue
        if not clr:
            clear_start = None
            continue
        if clear_start is None:
            clear_start = ti
        if ti - clear_start >= clear_for_ns:
            events.append(("cleared", run_start, clear_start, ti))
            firing, run_start, clear_start = False, None, None
    return events


def reference_absent(t, v, clock, d):
    """Absence in plain Python over the merged, time-ordered samples and clock ticks (a
    sample first on equal times): (kind, start, end, decided at)."""
    merged = sorted([(x, 0) for x, y in zip(t.tolist(), v.tolist()) if y == y]
                    + [(x, 1) for x in clock.tolist()])
    events = []
    since = None  # the time the silence is measured from
    last_tick = None
    open_start = None
    for x, is_tick in merged:
        if not is_tick:
            if open_start is not None:
                events.append(("cleared", open_start, x, x))
                open_start = None
            since = x
            continue
        if open_start is None and (since is None or (last_tick is not None
                                                     and x - last_tick > d)):
            since = x
        last_tick = x
        if open_start is None and x >= since + d:
            open_start = since + d
            events.append(("fired", open_start, 0, x))
    return events


def kinds(out):
    return [("fired" if o[0] == 1 else "cleared", o[1], o[2], o[3]) for o in out]


RULES = [
    dict(lo=-INF, hi=60, clo=-INF, chi=55),  # above 60, clears at or below 55
    dict(lo=40, hi=INF, clo=45, chi=INF),  # below 40, clears at or above 45
    dict(lo=40, hi=60, clo=45, chi=55),  # outside [40, 60]
    dict(lo=-INF, hi=60, clo=-INF, chi=60, for_ns=2e9, clear_for_ns=1e9),
    dict(lo=-INF, hi=5, clo=-INF, chi=1, rate=1.0),  # rate of change above 5/s
]


@settings(max_examples=150, deadline=None)
@given(alert_series(), st.sampled_from(range(len(RULES))))
def test_threshold_kernel_matches_reference(series, which):
    t, v, _, _ = series
    r = RULES[which]
    p = params(**r)
    got = kinds(run(t, v, p))
    want = reference_threshold(t, v, r["lo"], r["hi"], r["clo"], r["chi"], r.get("for_ns", 0),
                               r.get("clear_for_ns", 0), bool(r.get("rate")))
    assert got == want


@settings(max_examples=150, deadline=None)
@given(alert_series(), st.sampled_from(range(len(RULES))))
def test_threshold_split_invariance(series, which):
    t, v, _, cuts = series
    p = params(**RULES[which])
    assert run(t, v, p, cuts=cuts) == run(t, v, p)


@settings(max_examples=150, deadline=None)
@given(alert_series(), st.sampled_from([1e9, 2.5e9]))
def test_absent_kernel_matches_reference_and_splits(series, d):
    t, v, clock, cuts = series
    p = params(absent_ns=d)
    whole = run(t, v, p, clock=clock)
    assert kinds(whole) == reference_absent(t, v, clock, int(d))
    assert run(t, v, p, clock=clock, cuts=cuts) == whole


def test_hysteresis_fires_once_while_hovering():
    t = np.arange(12, dtype=np.int64) * 10**9
    v = np.array([50, 61, 59.9, 60.5, 59, 61, 58, 56, 54, 61, 50, 50.0])
    out = kinds(run(t, v, params(**RULES[0])))
    assert [o[0] for o in out] == ["fired", "cleared", "fired", "cleared"]
    assert out[0][1] == 1 * 10**9 and out[1][2] == 8 * 10**9  # ends at the first value <= 55


def test_the_kernels_agree_without_numba_too():
    """A device without numba runs the same kernels as plain Python (``kernels._jit``): this
    file's accordance and split tests, run again with compilation off."""
    import os
    import subprocess
    import sys

    env = dict(os.environ, CANTELEM_JIT="0")
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "-p", "no:logging", __file__, "-k", "not without_numba", "-x"],
                         capture_output=True, text=True, env=env, cwd=os.path.dirname(
                             os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    assert out.returncode == 0 and "4 passed" in out.stdout, out.stdout[-2000:]
    check = subprocess.run([sys.executable, "-c", "import cantelem_sci.kernels._alerts as a; "
                            "print(type(a.threshold_append).__name__)"],
                           capture_output=True, text=True, env=env)
    assert check.stdout.strip() == "function"  # really not compiled
