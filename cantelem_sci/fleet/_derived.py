"""Calculated signals in fleet queries: each one's operands read from the decoded store (or
computed first, when an operand is itself calculated), evaluated on its time axis, and
returned as a dataset shaped like a decoded message's."""

from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping

import numpy as np
import pandas as pd
import xarray as xr

from ..derived import DerivedSignal, define, evaluate, operands
from ..errors import ExpressionError, UnknownNameError

__all__ = ["clean", "definitions", "derived_dataset", "derived_series", "series_of",
           "signal_series"]


def definitions(catalog_defs: Mapping[str, DerivedSignal],
                extra: Mapping[str, Any] | None) -> dict[str, DerivedSignal]:
    """The catalog's calculated signals, with ``extra`` ({name: expression or mapping, or a
    :class:`DerivedSignal`}) added or replacing them."""
    from ..derived import dependency_order

    defs = dict(catalog_defs)
    for name, spec in (extra or {}).items():
        defs[name] = spec if isinstance(spec, DerivedSignal) else define(name, spec)
    if extra:
        dependency_order(defs)
    return defs


def series_of(name: str, defs: Mapping[str, DerivedSignal], vehicle: str,
              decoded: Callable[[str], tuple[np.ndarray, np.ndarray] | None],
              available: Iterable[str], _seen: tuple[str, ...] = ()
              ) -> tuple[np.ndarray, np.ndarray]:
    """``(times ns, values)`` of the calculated signal ``name``: operands come from
    ``decoded(name)`` (sorted series, NaN rows dropped; None: not a decoded signal) or are
    calculated first. ``available``: the decoded names globs expand against."""
    d = defs[name]
    if not d.applies_to(vehicle):
        raise UnknownNameError(f"calculated signal of vehicle {vehicle} ({name} applies to "
                               f"{', '.join(d.vehicles)})", name,
                               [n for n, x in defs.items() if x.applies_to(vehicle)])
    if name in _seen:
        raise ExpressionError(d.expr.text, f"calculated signals read each other: "
                              f"{' -> '.join(_seen + (name,))}", where=d.where)
    avail = list(available)
    ops = operands(d.expr, avail + [n for n, x in defs.items()
                                    if n != name and n not in avail and x.applies_to(vehicle)])
    ser = {}
    for o in ops:
        got = decoded(o) if o in avail else None
        ser[o] = got if got is not None else series_of(o, defs, vehicle, decoded, avail,
                                                       _seen + (name,))
    hold = pd.Timedelta(d.max_hold).value if d.max_hold else None
    axis: Any = d.axis
    if axis is not None and axis not in ser:  # a frequency: a regular grid over the operands
        try:
            step = pd.Timedelta(axis).value
        except ValueError as err:
            raise ExpressionError(d.expr.text, f"axis {axis!r} is neither an operand "
                                  f"({', '.join(ops)}) nor a frequency such as '1s'",
                                  where=d.where) from err
        ts = [s[0] for s in ser.values() if s[0].size]
        if not ts:
            axis = np.zeros(0, np.int64)
        else:
            t0 = min(int(t[0]) for t in ts) // step * step
            axis = np.arange(t0, max(int(t[-1]) for t in ts) + 1, step, dtype=np.int64)
    return evaluate(d.expr, ser, available=ops, axis=axis, max_hold=hold)


def clean(t: np.ndarray, v: np.ndarray, ordered: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """A decoded signal as an operand: sorted by time, rows without it (NaN: another
    multiplexer value, or a message without the signal) dropped."""
    v = np.asarray(v, np.float64)
    if not ordered and t.size > 1 and (np.diff(t) < 0).any():
        k = np.argsort(t, kind="stable")
        t, v = t[k], v[k]
    keep = ~np.isnan(v)
    return (t, v) if keep.all() else (t[keep], v[keep])


def derived_series(fleet: Any, vehicle: str, name: str, defs: Mapping[str, DerivedSignal],
                   start: Any, end: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(times ns, values)`` of the calculated signal ``name`` of ``vehicle`` in [start, end]."""
    decoded = fleet.signals(vehicle)

    def get(o: str):
        (msg, sig), = fleet._resolve(vehicle, [o])
        return fleet._samples(vehicle, msg, sig, start, end)

    return series_of(name, defs, vehicle, get, decoded)


def derived_dataset(fleet: Any, vehicle: str, name: str, defs: Mapping[str, DerivedSignal],
                    start: Any, end: Any, max_points: int | None = None,
                    method: str = "minmax_lttb", gap: Any = None) -> xr.Dataset:
    """One calculated signal as a dataset on its own ``time`` axis (attrs: ``units``,
    ``expression``; ``attrs["message"]`` is its name), downsampled like a decoded signal
    when ``max_points`` is given."""
    d = defs[name]
    t, v = derived_series(fleet, vehicle, name, defs, start, end)
    if max_points is not None and t.size > max_points:
        from ..kernels import downsample

        g = pd.Timedelta(gap).to_timedelta64() if isinstance(gap, str) else gap
        idx = downsample(t, v, max_points, method, gap=g, assume_sorted=True)
        t, v = t[idx], v[idx]
    attrs = {"units": d.unit or "", "expression": d.expr.text, "calculated": 1}
    if d.description:
        attrs["description"] = d.description
    ds = xr.Dataset({name: ("time", v, attrs)}, coords={"time": t.view("datetime64[ns]")})
    if max_points is not None and gap is not None:
        from ..accessor import with_breaks

        ds = with_breaks(ds, "time", pd.Timedelta(gap).to_timedelta64()
                         if isinstance(gap, str) else gap)
    ds.attrs.update({"vehicle": vehicle, "message": name})
    return ds


def signal_series(fleet: Any, vehicle: str, signal: str, start: Any, end: Any,
                  valid: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """``(times ns, values)`` in [start, end] at full resolution of a decoded signal (as
    stored: NaN rows of a multiplexed one kept) or a calculated one (the catalog's).
    ``valid``: only the samples with a value, sorted by time (what :func:`clean` gives),
    a multiplexed signal read without its message's other rows."""
    if signal not in fleet.signals(vehicle):
        defs = fleet.derived_for(vehicle)
        if signal in defs:
            t, v = derived_series(fleet, vehicle, signal, defs, start, end)
            return clean(t, v) if valid else (t, v)
    (msg, sig), = fleet._resolve(vehicle, [signal])
    if valid:
        return fleet._samples(vehicle, msg, sig, start, end)
    t, vals, _, _ = fleet._message_arrays(vehicle, msg, [sig], start, end)
    return np.array(t), np.array(vals[sig])  # the caller's own (the cache's are read-only)
