"""Calculated signals in fleet queries: each one's operands read from the decoded store (or
computed first, when an operand is itself calculated), evaluated on its time axis, and
returned as a dataset shaped like a decoded message's."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd
import xarray as xr

from ..derived import DerivedSignal, define, evaluate, operands
from ..errors import ExpressionError, UnknownNameError

__all__ = ["definitions", "derived_dataset", "derived_series"]


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


def _available(fleet: Any, vehicle: str, defs: Mapping[str, DerivedSignal], skip: str) -> list:
    return list(fleet.signals(vehicle)) + [n for n, d in defs.items()
                                           if n != skip and d.applies_to(vehicle)]


def derived_series(fleet: Any, vehicle: str, name: str, defs: Mapping[str, DerivedSignal],
                   start: Any, end: Any, _seen: tuple[str, ...] = ()
                   ) -> tuple[np.ndarray, np.ndarray]:
    """``(times ns, values)`` of the calculated signal ``name`` of ``vehicle`` in [start, end]."""
    d = defs[name]
    if not d.applies_to(vehicle):
        raise UnknownNameError(f"calculated signal of vehicle {vehicle} ({name} applies to "
                               f"{', '.join(d.vehicles)})", name,
                               [n for n, x in defs.items() if x.applies_to(vehicle)])
    if name in _seen:
        raise ExpressionError(d.expr.text, f"calculated signals read each other: "
                              f"{' -> '.join(_seen + (name,))}", where=d.where)
    decoded = fleet.signals(vehicle)
    ops = operands(d.expr, _available(fleet, vehicle, defs, name))
    ser = {}
    for o in ops:
        if o in decoded:
            (msg, sig), = fleet._resolve(vehicle, [o])
            t, vals, _, ordered = fleet._message_arrays(vehicle, msg, [sig], start, end)
            v = np.asarray(vals[sig], np.float64)
            if not ordered:
                k = np.argsort(t, kind="stable")
                t, v = t[k], v[k]
            keep = ~np.isnan(v)  # rows of the message without this signal (multiplexed)
            ser[o] = (t[keep], v[keep])
        else:
            ser[o] = derived_series(fleet, vehicle, o, defs, start, end, _seen + (name,))
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
