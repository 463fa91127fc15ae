"""Alert evaluation: a state machine over (time, value) samples that carries its state from
one batch to the next, so a series evaluated in any split into batches gives exactly the
transitions of the series evaluated whole.

Two kernels, both following create/append/finalize:

* :func:`threshold_append`: a value (or its rate of change) leaves a band. A sample
  *triggers* when ``x < lo or x > hi`` and *clears* when ``clo <= x <= chi`` (values between
  are hysteresis: they change nothing). An event starts at the first sample of a run of
  triggering samples and *fires* once that run has lasted ``for``; it ends at the first
  sample of a run of clearing samples that has lasted ``clear_for``.
* :func:`absent_append`: a signal without a sample for longer than ``absent`` while the
  vehicle is alive (a *clock*: times at which any frame of the vehicle was seen). The event
  starts at ``last sample + absent``, fires at the first clock tick at or after that, and
  ends at the signal's next sample. Silence is measured from the first clock tick, and again
  from a tick that follows a gap in the clock longer than ``absent`` (the vehicle was off):
  a parked car is not a silent ECU.

The state is two small arrays (``int64`` times, ``float64`` values); the rule is one
``float64`` parameter array (:data:`P_FIELDS`). Each call writes its transitions to output
arrays of a fixed capacity and returns how many it wrote and where it stopped (the end, or
earlier when the outputs are full: the caller empties them and calls again from there). NaN values are not samples (a multiplexed signal's
other rows).
"""

from __future__ import annotations

import numpy as np
from ._jit import njit

#: rule parameters (float64 array): trigger band, clear band, durations (ns), rate flag
P_FIELDS = ("lo", "hi", "clo", "chi", "for_ns", "clear_for_ns", "rate", "absent_ns")
P_LO, P_HI, P_CLO, P_CHI, P_FOR, P_CLEAR_FOR, P_RATE, P_ABSENT = range(8)

#: int64 state: phase, run start, clear-run start, peak time, previous sample time, has
#: previous sample, last clock tick, has a clock tick
S_PHASE, S_START, S_CLEAR, S_PEAK_T, S_PREV_T, S_HAS_PREV, S_CLOCK, S_HAS_CLOCK = range(8)
#: float64 state: peak value, peak deviation, previous value
F_PEAK, F_DEV, F_PREV = range(3)

IDLE, PENDING, ACTIVE, CLEARING = 0, 1, 2, 3
#: transition kinds
FIRED, CLEARED = 1, 2

#: int64 output columns: kind, event start, event end (cleared only), decided at, peak time
O_KIND, O_START, O_END, O_AT, O_PEAK_T = range(5)
#: float64 output columns: value at the deciding sample, peak value
O_VALUE, O_PEAK = range(2)


def state_create() -> tuple[np.ndarray, np.ndarray]:
    """A fresh (idle) state: ``(int64[8], float64[3])``."""
    return np.zeros(8, np.int64), np.zeros(3, np.float64)


def outputs(capacity: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """Output arrays for up to ``capacity`` transitions per call (a call stops early when
    they are full and says where it stopped; the caller calls again from there)."""
    return np.zeros((capacity, 5), np.int64), np.zeros((capacity, 2), np.float64)


@njit(cache=True, nogil=True)
def _deviation(x, p):
    return max(x - p[P_HI], p[P_LO] - x)


@njit(cache=True, nogil=True)
def _emit(out_i, out_f, k, kind, st, fs, at, value):
    out_i[k, O_KIND] = kind
    out_i[k, O_START] = st[S_START]
    out_i[k, O_END] = st[S_CLEAR] if kind == CLEARED else 0
    out_i[k, O_AT] = at
    out_i[k, O_PEAK_T] = st[S_PEAK_T]
    out_f[k, O_VALUE] = value
    out_f[k, O_PEAK] = fs[F_PEAK]
    return k + 1


@njit(cache=True, nogil=True)
def _step(t, x, p, st, fs, out_i, out_f, k):
    """Advance the threshold machine by one sample ``(t, x)``; returns the new output count."""
    trig = x < p[P_LO] or x > p[P_HI]
    clr = p[P_CLO] <= x <= p[P_CHI]
    phase = st[S_PHASE]
    if phase == IDLE:
        if not trig:
            return k
        st[S_START] = t
        st[S_PEAK_T] = t
        fs[F_PEAK] = x
        fs[F_DEV] = _deviation(x, p)
        phase = PENDING
    elif trig:
        d = _deviation(x, p)
        if d > fs[F_DEV]:
            fs[F_DEV] = d
            fs[F_PEAK] = x
            st[S_PEAK_T] = t
    if phase == PENDING:
        if not trig:
            st[S_PHASE] = IDLE
            return k
        if t - st[S_START] >= p[P_FOR]:
            st[S_PHASE] = ACTIVE
            return _emit(out_i, out_f, k, FIRED, st, fs, t, x)
        st[S_PHASE] = PENDING
        return k
    if phase == ACTIVE:
        if not clr:
            return k
        st[S_CLEAR] = t
        phase = CLEARING
    # CLEARING
    if not clr:
        st[S_PHASE] = ACTIVE
        return k
    if t - st[S_CLEAR] >= p[P_CLEAR_FOR]:
        st[S_PHASE] = IDLE
        return _emit(out_i, out_f, k, CLEARED, st, fs, t, x)
    st[S_PHASE] = CLEARING
    return k


@njit(cache=True, nogil=True)
def threshold_append(t, v, p, st, fs, out_i, out_f, i0):
    """Feed samples ``(t, v)[i0:]`` (int64 ns, float64, time-ordered) to a threshold or rate
    rule; returns ``(transitions written to out_i/out_f, index of the next sample)``: less
    than ``len(t)`` when the outputs filled up."""
    k = 0
    rate = p[P_RATE] != 0.0
    lo = p[P_LO]
    hi = p[P_HI]
    cap = out_i.shape[0]
    n = t.shape[0]
    i = i0
    while i < n:
        if k >= cap:
            return k, i
        if not rate and st[S_PHASE] == IDLE:
            # the common case, a tight scan for the next triggering sample
            while i < n and not (v[i] < lo or v[i] > hi):  # NaN never triggers
                i += 1
            if i == n:
                break
        elif rate and st[S_PHASE] == IDLE and st[S_HAS_PREV] == 1:
            # the same for a rate of change: scan while the rate stays inside the band
            pt = st[S_PREV_T]
            pv = fs[F_PREV]
            while i < n:
                x = v[i]
                ti = t[i]
                if not np.isnan(x) and ti > pt:
                    r = (x - pv) * 1e9 / (ti - pt)
                    if r < lo or r > hi:
                        break
                    pt = ti
                    pv = x
                i += 1
            st[S_PREV_T] = pt
            fs[F_PREV] = pv
            if i == n:
                break
        x = v[i]
        ti = t[i]
        i += 1
        if np.isnan(x):
            continue
        if rate:
            if st[S_HAS_PREV] == 0 or ti <= st[S_PREV_T]:
                if st[S_HAS_PREV] == 0:
                    st[S_HAS_PREV] = 1
                    st[S_PREV_T] = ti
                    fs[F_PREV] = x
                continue
            r = (x - fs[F_PREV]) * 1e9 / (ti - st[S_PREV_T])
            st[S_PREV_T] = ti
            fs[F_PREV] = x
            x = r
        k = _step(ti, x, p, st, fs, out_i, out_f, k)
    return k, n


@njit(cache=True, nogil=True)
def absent_append(t, v, clock, p, st, fs, out_i, out_f, i0, j0):
    """Feed a signal's samples ``(t, v)[i0:]`` and the vehicle's clock ticks ``clock[j0:]``
    (int64 ns, both time-ordered) to an absence rule; returns ``(transitions written, next
    sample index, next tick index)``. A tick at the same time as a sample counts after it
    (the signal was there)."""
    d = np.int64(p[P_ABSENT])
    k = 0
    i = i0
    j = j0
    n = t.shape[0]
    m = clock.shape[0]
    cap = out_i.shape[0]
    while i < n or j < m:
        if k >= cap:
            return k, i, j
        if i < n and np.isnan(v[i]):
            i += 1
            continue
        if i < n and (j >= m or t[i] <= clock[j]):
            ti = t[i]
            if st[S_PHASE] == ACTIVE:
                st[S_CLEAR] = ti
                st[S_PHASE] = IDLE
                k = _emit(out_i, out_f, k, CLEARED, st, fs, ti, v[i])
            st[S_HAS_PREV] = 1
            st[S_PREV_T] = ti
            fs[F_PREV] = v[i]
            i += 1
        else:
            c = clock[j]
            j += 1
            if st[S_PHASE] == IDLE and (st[S_HAS_PREV] == 0 or (
                    st[S_HAS_CLOCK] == 1 and c - st[S_CLOCK] > d)):
                # first sight of the vehicle, or back after being off (no frames for longer
                # than ``absent``): the silence is measured from now
                st[S_HAS_PREV] = 1
                st[S_PREV_T] = c
                fs[F_PREV] = np.nan
            st[S_HAS_CLOCK] = 1
            st[S_CLOCK] = c
            if st[S_PHASE] == IDLE and c >= st[S_PREV_T] + d:
                st[S_PHASE] = ACTIVE
                st[S_START] = st[S_PREV_T] + d
                st[S_PEAK_T] = st[S_PREV_T]
                fs[F_PEAK] = fs[F_PREV]
                k = _emit(out_i, out_f, k, FIRED, st, fs, c, fs[F_PREV])
    return k, i, j
