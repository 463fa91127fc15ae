"""Evaluation of a parsed expression on arrays: alignment by zero-order hold, then numpy.

Every operand is a series ``(t, v)``: capture times (int64 ns, sorted) and float64 values.
The expression is evaluated on one time axis, by default the first operand's own times:
each other operand takes its last sample at or before each axis point, never older than
its hold limit (3x its median sample period unless a ``max_hold`` is given). Past that the
value is NaN, so no value is carried across a gap in the data. ``integrate`` and
``derivative`` also skip steps of the axis longer than the axis operand's hold limit (a
parked vehicle's hour is not integrated).

NaN propagates through arithmetic and comparisons; ``min``, ``max``, ``mean`` and ``sum``
across signals ignore NaN operands (NaN only where every operand is NaN).
"""

from __future__ import annotations

import fnmatch
from typing import Iterable, Mapping

import numpy as np

from ..errors import ArgumentError, ExpressionError, UnknownNameError
from ._parse import Expression, Node
from ._units import convert_units

__all__ = ["default_hold", "evaluate", "hold_onto", "operands"]

Series = tuple[np.ndarray, np.ndarray]

#: time units of integrate/derivative, in ns
TIME_UNITS = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": 1_000_000_000,
              "min": 60_000_000_000, "h": 3_600_000_000_000}
ROLLING = ("mean", "min", "max", "sum", "std")


def operands(expr: Expression, available: Iterable[str]) -> list[str]:
    """The signal names ``expr`` reads, its globs expanded against ``available``.

    Raises
    ------
    UnknownNameError
        A name that is not available (close names suggested), or a glob that matches none.

    Example
    -------
    >>> from cantelem_sci.derived import parse
    >>> operands(parse("max(Cell*_V) + Pack"), ["Cell1_V", "Cell2_V", "Pack"])
    ['Pack', 'Cell1_V', 'Cell2_V']
    """
    avail = list(dict.fromkeys(available))
    where = f"{expr.where}: " if expr.where else ""
    out = []
    for name in expr.names:
        if name not in avail:
            raise UnknownNameError(f"signal of {where}expression {expr.text!r}:", name, avail)
        out.append(name)
    for g in expr.globs:
        hits = [a for a in avail if fnmatch.fnmatchcase(a, g) and ("." in g or "." not in a)]
        if not hits:
            raise UnknownNameError(f"signal glob (matches none) of {where}expression "
                                   f"{expr.text!r}:", g, avail)
        out.extend(hits)
    return list(dict.fromkeys(out))


def _times(t: object, what: str) -> np.ndarray:
    a = np.asarray(t)
    if a.ndim != 1 or a.dtype.kind not in "iu":
        raise ArgumentError(f"{what}: expected a 1-d array of int64 times (ns), got "
                            f"{type(t).__name__} of dtype {getattr(a, 'dtype', '?')}")
    return a.astype(np.int64, copy=False)


def _series(name: str, s: object) -> Series:
    try:
        t, v = s  # type: ignore[misc]
    except (TypeError, ValueError) as err:
        raise ArgumentError(f"series {name!r}: expected (times, values)") from err
    t = _times(t, f"series {name!r}")
    v = np.asarray(v, np.float64)
    if v.shape != t.shape:
        raise ArgumentError(f"series {name!r}: {t.size} times but values of shape {v.shape}")
    if t.size > 1 and (np.diff(t) < 0).any():
        raise ArgumentError(f"series {name!r}: times are not sorted")
    return t, v


def default_hold(t: np.ndarray) -> int:
    """The hold limit of a series: 3x its median sample period in ns (0 for < 2 samples)."""
    t = _times(t, "default_hold")
    if t.size < 2:
        return 0
    return int(3 * np.median(np.diff(t)))


def hold_onto(axis: np.ndarray, t: np.ndarray, v: np.ndarray, max_hold: int) -> np.ndarray:
    """The value of ``(t, v)`` at each ``axis`` time by zero-order hold: the last sample at or
    before it, NaN where there is none within ``max_hold`` ns.

    Example
    -------
    >>> hold_onto(np.array([0, 5, 30]), np.array([0, 10]), np.array([1.0, 2.0]), 10)
    array([ 1.,  1., nan])
    """
    t, v = _series("hold_onto", (t, v))
    axis = _times(axis, "hold_onto axis")
    if max_hold < 0:
        raise ArgumentError(f"hold_onto: max_hold {max_hold} ns, expected >= 0")
    i = np.searchsorted(t, axis, side="right") - 1
    ok = i >= 0
    ic = np.where(ok, i, 0)
    ok &= (axis - t[ic]) <= max_hold if t.size else False
    out = np.full(axis.shape, np.nan)
    if t.size:
        out[ok] = np.asarray(v, np.float64)[ic[ok]]
    return out


def evaluate(expr: Expression, series: Mapping[str, Series], *, available: Iterable[str] | None
             = None, axis: str | np.ndarray | None = None,
             max_hold: int | Mapping[str, int] | None = None) -> Series:
    """Evaluate ``expr`` over ``series`` ({name: (times ns, values)}).

    Parameters
    ----------
    axis : str or array of int64, optional
        The time axis: an operand's name (default: the first operand) or times (ns).
    max_hold : int or {name: int}, optional
        Hold limits in ns (default: :func:`default_hold` of each operand).
    available : iterable of str, optional
        Names globs expand against (default: the keys of ``series``).

    Returns
    -------
    (times, values) : int64 ns and float64 arrays

    Example
    -------
    >>> from cantelem_sci.derived import parse
    >>> s = {"U": (np.array([0, 10]), np.array([400.0, 390.0])),
    ...      "I": (np.array([0, 10]), np.array([-10.0, 20.0]))}
    >>> evaluate(parse("U * I / 1000"), s)[1]
    array([-4. ,  7.8])
    """
    ops = operands(expr, series if available is None else available)
    missing = [o for o in ops if o not in series]
    if missing:
        raise ArgumentError(f"expression {expr.text!r}: no series given for {missing}")
    if not ops and axis is None:
        raise ExpressionError(expr.text, "reads no signal: it needs a time axis",
                              where=expr.where)
    ser = {o: _series(o, series[o]) for o in ops}
    holds = {o: (max_hold.get(o) if isinstance(max_hold, Mapping) else max_hold) for o in ops}
    holds = {o: int(h) for o, h in holds.items() if h is not None}  # the rest: when needed
    if axis is None or isinstance(axis, str):
        name = ops[0] if axis is None else axis
        if name not in ser:
            raise UnknownNameError(f"axis of expression {expr.text!r}:", name, ops)
        times, own = ser[name][0], name
    else:
        times, own = _times(axis, f"axis of expression {expr.text!r}"), None
    ev = _Eval(expr, times, ser, holds, own)
    return times, np.asarray(ev.run(expr.root), np.float64) * np.ones(times.shape)


class _Eval:
    def __init__(self, expr, times, ser, holds, own):
        self.expr, self.t, self.ser, self.holds, self.own = expr, times, ser, holds, own
        self._step_ok: np.ndarray | None = None

    def hold(self, name: str) -> int:
        """An operand's hold limit: given, or 3x its median period (computed once, if used)."""
        if name not in self.holds:
            self.holds[name] = default_hold(self.ser[name][0])
        return self.holds[name]

    @property
    def step_ok(self) -> np.ndarray:
        """Steps of the axis no longer than its gap limit (integrate and derivative skip the
        others): the axis operand's hold limit, or 3x a grid's median step."""
        if self._step_ok is None:
            t = self.t
            if self.own is not None:
                gap = self.hold(self.own)
            else:
                gap = int(np.median(np.diff(t)) * 3) if t.size > 1 else 0
            self._step_ok = np.diff(t) <= gap if t.size > 1 else np.zeros(0, bool)
        return self._step_ok

    def fail(self, what: str) -> ExpressionError:
        return ExpressionError(self.expr.text, what, where=self.expr.where)

    def sig(self, name: str) -> np.ndarray:
        t, v = self.ser[name]
        if name == self.own:
            return v
        if t.size == self.t.size and np.array_equal(t, self.t):  # the same message's times
            return np.array(v, np.float64)
        return hold_onto(self.t, t, v, self.hold(name))

    def run(self, n: Node):
        with np.errstate(all="ignore"):
            return self._run(n)

    def _run(self, n: Node):
        op, a = n.op, n.args
        if op == "num":
            return n.value
        if op == "sig":
            return self.sig(n.value)
        if op in _ARITH:
            return _ARITH[op](self._run(a[0]), self._run(a[1]))
        if op in _CMP:
            x, y = self._run(a[0]), self._run(a[1])
            return _nan_of(np.asarray(_CMP[op](x, y), np.float64), x, y)
        if op in ("and", "or"):
            vals = [self._run(x) for x in a]
            out = np.asarray(vals[0]) != 0
            for v in vals[1:]:
                out = (out & (np.asarray(v) != 0)) if op == "and" else (out | (np.asarray(v) != 0))
            return _nan_of(out.astype(np.float64), *vals)
        if op == "not":
            x = self._run(a[0])
            return _nan_of((np.asarray(x) == 0).astype(np.float64), x)
        if op == "neg":
            return -self._run(a[0])
        if op == "pos":
            return self._run(a[0])
        return getattr(self, f"f_{op}")(a)

    def _full(self, x) -> np.ndarray:
        return np.broadcast_to(np.asarray(x, np.float64), self.t.shape)

    # ---- functions ----------------------------------------------------------------------------
    def f_abs(self, a):
        return np.abs(self._run(a[0]))

    def f_where(self, a):
        c = self._full(self._run(a[0]))
        out = np.where(c != 0, self._full(self._run(a[1])), self._full(self._run(a[2])))
        return _nan_of(out, c)

    def _across(self, a) -> np.ndarray:
        cols = []
        for x in a:
            if x.op == "glob":
                cols.extend(self.sig(nm) for nm in fnmatch.filter(self.ser, x.value))
            else:
                cols.append(self._full(self._run(x)))
        return np.vstack(cols) if cols else np.full((1,) + self.t.shape, np.nan)

    def f_min(self, a):
        return np.fmin.reduce(self._across(a), axis=0)

    def f_max(self, a):
        return np.fmax.reduce(self._across(a), axis=0)

    def f_mean(self, a):
        m = self._across(a)
        n = (~np.isnan(m)).sum(axis=0)
        return np.where(n > 0, np.nansum(m, axis=0) / np.maximum(n, 1), np.nan)

    def f_sum(self, a):
        m = self._across(a)
        return np.where(np.isnan(m).all(axis=0), np.nan, np.nansum(m, axis=0))

    def _time_unit(self, a, i: int, fn: str) -> int:
        unit = a[i].value if len(a) > i else "s"
        if unit not in TIME_UNITS:
            raise self.fail(f"{fn}(): time unit {unit!r}, expected one of "
                            f"{', '.join(TIME_UNITS)}")
        return TIME_UNITS[unit]

    def f_integrate(self, a):
        per = self._time_unit(a, 1, "integrate")
        x = self._full(self._run(a[0]))
        if x.size < 2:
            return np.zeros(x.shape)
        inc = (x[1:] + x[:-1]) / 2 * (np.diff(self.t) / per)
        inc[~np.isfinite(inc) | ~self.step_ok] = 0.0
        return np.concatenate([[0.0], np.cumsum(inc)])

    def f_derivative(self, a):
        per = self._time_unit(a, 1, "derivative")
        x = self._full(self._run(a[0]))
        if x.size < 2:
            return np.full(x.shape, np.nan)
        dt = np.diff(self.t) / per
        d = np.diff(x) / np.where(dt > 0, dt, np.nan)
        d[~self.step_ok] = np.nan
        return np.concatenate([[np.nan], d])

    def f_rolling(self, a):
        import pandas as pd

        try:
            w = pd.Timedelta(a[1].value)
        except ValueError as err:
            raise self.fail(f"rolling(): window {a[1].value!r} is not a duration such as "
                            "'30s' or '5min'") from err
        how = a[2].value if len(a) > 2 else "mean"
        if how not in ROLLING:
            raise self.fail(f"rolling(): statistic {how!r}, expected one of {', '.join(ROLLING)}")
        x = self._full(self._run(a[0]))
        s = pd.Series(x, index=pd.DatetimeIndex(self.t.view("datetime64[ns]")))
        return getattr(s.rolling(w, min_periods=1), how)().to_numpy(np.float64)

    def f_convert(self, a):
        try:
            return convert_units(self._run(a[0]), a[1].value, a[2].value)
        except UnknownNameError as err:
            raise self.fail(str(err)) from err


def _nan_of(out: np.ndarray, *operands) -> np.ndarray:
    """``out`` with NaN wherever an operand is NaN."""
    bad = np.zeros(np.shape(out), bool)
    for x in operands:
        bad = bad | np.isnan(np.asarray(x, np.float64))
    out = np.array(out, np.float64)
    if out.ndim == 0:
        return np.float64(np.nan) if bad.any() else out
    out[np.broadcast_to(bad, out.shape)] = np.nan
    return out


_ARITH = {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.true_divide,
          "**": np.power, "%": np.mod}
_CMP = {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal,
        "==": np.equal, "!=": np.not_equal}
