"""The dashboard's x-axis choice: signals against time (the default), against distance
driven, or against any other signal (XY plots).

* ``"distance"``: :meth:`Fleet.align` by distance over the chosen range (km from its start;
  the odometer's travel, else integrated speed), each signal's value where the vehicle
  first reached each grid distance;
* a signal name: an XY scatter, every signal and the x signal held onto one regular grid
  of the range (:meth:`Fleet.resample`, zero-order hold within one grid step), points where
  either is missing left out.

Both return one table, the same one the page draws and its CSV button exports.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

__all__ = ["DISTANCE", "TIME", "axis_options", "draw_xy", "xy_counts", "xy_plots", "xy_table"]

TIME = "time"
DISTANCE = "distance"


def axis_options(signals: Sequence[str]) -> list[str]:
    """The x-axis menu: time, distance, then every signal (for XY plots).

    Example
    -------
    >>> axis_options(["SOC", "VehicleSpeed"])
    ['time', 'distance', 'SOC', 'VehicleSpeed']
    """
    return [TIME, DISTANCE, *[s for s in signals if s not in (TIME, DISTANCE)]]


def xy_table(fleet: Any, vehicle: str, signals: Sequence[str], x: str, start: Any, end: Any,
             points: int = 2000) -> pd.DataFrame:
    """``signals`` of ``vehicle`` in [start, end] against ``x`` (``"distance"`` or a signal):
    a DataFrame whose first column is the x axis (``distance_km`` or the signal's name),
    then the signals (and, against a signal, the grid ``time`` of each point)."""
    sigs = [s for s in signals if s != x]
    if x == DISTANCE:
        ds = fleet.align(sigs, by=DISTANCE, vehicles=[vehicle], points=points, start=start,
                         end=end)
        cols = {"distance_km": ds[DISTANCE].values}
        cols.update({s: ds[s].sel(vehicle=vehicle).values for s in sigs})
        return pd.DataFrame(cols)
    span = pd.Timestamp(end) - pd.Timestamp(start)
    step = f"{max(int(np.ceil(span / pd.Timedelta('1ms') / points)), 1)}ms"
    ds = fleet.resample(step, [x, *sigs], vehicles=[vehicle], start=start, end=end,
                        max_hold=step)
    df = pd.DataFrame({n: ds[n].sel(vehicle=vehicle).values for n in [x, *sigs]})
    df["time"] = ds["time"].values  # the grid time each point was held at
    return df[df[x].notna() & df[sigs].notna().any(axis=1)].reset_index(drop=True)


def xy_plots(hv: Any, fleet: Any, vehicle: str, signals: Sequence[str], x: str, start: Any,
             end: Any, points: int, color: Callable[[str], str], style: dict[str, Any]
             ) -> tuple[list[Any], pd.DataFrame]:
    """One plot per signal against ``x`` (curves against distance, scatters against a
    signal) and the table they draw."""
    df = xy_table(fleet, vehicle, signals, x, start, end, points)
    xcol = df.columns[0]
    xinfo = {} if x == DISTANCE else fleet.signal_info(vehicle, x)
    xlabel = "distance [km]" if x == DISTANCE else (
        f"{x} [{xinfo['units']}]" if xinfo.get("units") else x)
    items = []
    for sig in (s for s in signals if s != x):
        units = fleet.signal_info(vehicle, sig).get("units") or ""
        label = f"{sig} [{units}]" if units else sig
        part = df[[xcol, sig]].dropna()
        if x == DISTANCE:
            el = hv.Curve(part, (xcol, xlabel), (sig, label)).opts(line_width=1.5)
        else:
            el = hv.Scatter(part, (xcol, xlabel), (sig, label)).opts(size=3, alpha=0.6)
        items.append(el.opts(color=color(sig), xlabel=xlabel, **style))
    return items, df


def xy_counts(df: pd.DataFrame) -> dict[str, int]:
    """Points drawn per signal (non-missing values of each column but the axis and time)."""
    return {c: int(np.isfinite(df[c].to_numpy(np.float64)).sum()) for c in df.columns[1:]
            if c != "time"}


def draw_xy(dash: Any, v: str, sigs: list[str], t0: Any, t1: Any) -> None:
    """Draw ``dash``'s (a :class:`Dashboard`) signals against its x-axis choice; the table
    drawn becomes ``dash.xy`` (what its CSV button exports)."""
    from ._dashboard import _fmt

    hv, x = dash.hv, dash.w_xaxis.value
    style = {"height": 260, "responsive": True, **dash.look.plot_opts(), "show_grid": True,
             "tools": ["hover", "save"], "default_tools": ["pan", "box_zoom", "wheel_zoom",
                                                         "reset"]}
    items, dash.xy = xy_plots(hv, dash.fleet, v, sigs, x, t0, t1, dash.max_points,
                              dash.color_of, style)
    what = "distance driven (km)" if x == DISTANCE else x
    if not items:
        dash.plots.objects = []
        dash.status.object = f"Choose a signal other than {x} to draw against it."
        return
    dash.plots.objects = [dash.pn.pane.HoloViews(
        hv.Layout(items).cols(1).opts(shared_axes=True), backend="bokeh", theme=dash.look.bokeh,
        sizing_mode="stretch_width", css_classes=["cantelem-hv"])]
    dash._update_stats(t0, t1)  # statistics of the range (it rewrites the detail line)
    dash._draw_map(v, t0, t1)
    counts = xy_counts(dash.xy)
    dash.detail.object = f"against {what}: " + "; ".join(
        f"{s}: {n} points drawn" for s, n in counts.items())
    empty = [s for s, n in counts.items() if n == 0]
    dash.status.object = (f"{', '.join(empty)}: no value against {what} between {_fmt(t0)} "
                          f"and {_fmt(t1)}" if empty else
                          f"{v}: {len(items)} signal(s) against {what}, {_fmt(t0)} to "
                          f"{_fmt(t1)}")
