"""The dashboard's plots against time, in one of three layouts (:data:`LAYOUTS`):
``stacked`` (a plot per signal on linked time axes), ``one axis`` (every signal in one plot
on one y axis: signals of one unit compared directly) and ``axis each`` (one plot, a y axis
per signal: signals of different units over each other, e.g. speed and current).

Other vehicles chosen in "Compare with" are drawn over the same signals on the same time
axis, each with its own line style (:data:`DASHES`), named in the legend; the statistics,
the samples counted and the CSV stay those of the vehicle chosen.

Each signal is a HoloViews DynamicMap on a ``RangeX`` stream, downsampled again with the
project's kernels on every zoom; a red line marks the replay time; alert events of a
signal are shaded spans; cursors A and B (``_cursors.py``) are lines in every plot, placed
by clicks on them. Signals that would draw more points than the dashboard's threshold are
shaded with Datashader instead (``_shaded_view.py``).
"""

from __future__ import annotations

import operator
from functools import reduce
from typing import Any

import numpy as np
import pandas as pd

from ._shaded_view import draw_shaded, should_shade
from ._stats_view import signal_label, update_detail

__all__ = ["DASHES", "LAYOUTS", "curve_fn", "draw_time", "shown_frame"]

#: layout name -> (one plot for every signal, a y axis per signal)
LAYOUTS = {"stacked": (False, False), "one axis": (True, False), "axis each": (True, True)}
#: line styles of compared vehicles, in the order chosen
DASHES = ("dashed", "dotted", "dotdash", "dashdot")


def _fmt(t: Any) -> str:
    return "" if t is None else pd.Timestamp(t).strftime("%Y-%m-%d %H:%M:%S")


def shown_frame(ds: Any, sig: str) -> pd.DataFrame:
    """``sig``'s samples as drawn (``time`` and the signal), its DBC value table, if any,
    in ``attrs["choices"]`` (an enum's steps are named in the PNG export as on the page)."""
    df = pd.DataFrame({"time": ds["time"].values, sig: ds[sig].values})
    df.attrs["choices"] = dict(ds[sig].attrs.get("choices") or {})
    return df


def draw_time(dash: Any, v: str, sigs: list[str], t0: Any, t1: Any) -> None:
    """Draw ``sigs`` of vehicle ``v`` in [t0, t1] in the layout ``dash.w_layout`` names,
    or say on the page why nothing is drawn. When the plots on the page show the same
    signals in the same layout (another vehicle of the same DBC group, another range), only
    their data are swapped."""
    notes = []
    dash.events_view.refresh(v, t0, t1)
    others = [o for o in dash.w_compare.value if o != v]
    # each signal as loaded here, for its DynamicMap's first call over the same range (which
    # loaded it a second time)
    dash.loaded = {}
    for sig in sigs:
        ds = dash.fleet.load(v, sig, t0, t1, max_points=dash.max_points, gap="30s")
        dash.loaded[(v, sig, t0, t1)] = ds
        dash.shown[sig] = shown_frame(ds, sig)
        if ds.sizes.get("time", 0) == 0:
            notes.append(f"{sig}: no data between {_fmt(t0)} and {_fmt(t1)}")
        elif bool(np.isnan(ds[sig].values).all()):
            notes.append(f"{sig}: only NaN (no valid value) between {_fmt(t0)} and {_fmt(t1)}")
    if len(notes) == len(sigs) and all(": no data between" in n for n in notes):
        dash.plots.objects = []  # never empty plots on a made-up axis
        dash.status.object = (f"**No data** of {', '.join(sigs)} for {v} between "
                              f"{_fmt(t0)} and {_fmt(t1)}: choose another range or trip.")
        return
    drawn = {s: int(dash.shown[s][s].notna().sum()) for s in sigs}
    if should_shade(drawn, dash.shade_points):  # too many points for lines: Datashader
        draw_shaded(dash, v, sigs, t0, t1, sum(drawn.values()))
        _finish(dash, v, t0, t1)
        return
    key = _view_key(dash, v, sigs, others)
    views = getattr(dash, "views", None)
    shown = dash.plots.objects
    if (views is not None and views["key"] == key and not others  # (compared curves: fixed)
            and len(shown) == 1 and shown[0] is views["pane"]):
        # the same plots for another vehicle or range: their data swapped, not new plots
        # (re-creating them took the kernel 0.4-1 s and the browser longer)
        for rx in views["ranges"]:
            rx.reset()  # the zoom of the view before is forgotten
        # a new view number: HoloViews memoizes a callback on its streams' values, and the
        # same vehicle over another range has the same values
        views["stream"].event(vehicle=v, view=views["stream"].view + 1)
        dash.replay_stream.event(t=dash.w_player.value)
    else:
        dash.views = _new_views(dash, v, sigs, others, key)
    how = "" if dash.w_layout.value == "stacked" else f" ({dash.w_layout.value})"
    if others:
        how += f" compared with {', '.join(others)}"
    dash.status.object = "  \n".join(notes) if notes else \
        f"{v}: {len(sigs)} signal(s){how}, {_fmt(t0)} to {_fmt(t1)}"
    _finish(dash, v, t0, t1)


def _view_key(dash: Any, v: str, sigs: list[str], others: list[str]) -> tuple:
    """What the plots' structure depends on: a view of the same key differs only in the
    data drawn. Vehicles of one DBC group share axis labels and value tables; the legend
    names the vehicle only when others are compared (and the compared vehicles' curves do
    not follow the view stream: a view with others always makes new plots)."""
    try:
        group = dash.fleet.catalog.group_for(v).name
    except Exception:  # noqa: BLE001 - a vehicle of no group: never shares its plots
        group = v
    return (dash.w_layout.value, tuple(sigs), tuple(others), v if others else None, group,
            dash.look.name, tuple(dash.events_view.spans_key(s) for s in sigs))


def _new_views(dash: Any, v: str, sigs: list[str], others: list[str], key: tuple) -> dict:
    """New plots of ``sigs`` into ``dash.plots``; returns what a later view of the same key
    needs to swap their data (the vehicle stream, the zoom streams, the pane)."""
    hv = dash.hv
    together, axis_each = LAYOUTS[dash.w_layout.value]
    legend = together or bool(others)
    stream = hv.streams.Stream.define("View", vehicle=v, view=0)()
    ranges, curves, extras = [], [], []
    vline = hv.DynamicMap(lambda t: hv.VLine(dash._replay_time(t)).opts(
        color="#ff5252", line_width=1), streams=[dash.replay_stream])
    for sig in sigs:
        height = 420 if together else 220
        ranges.append(hv.streams.RangeX())
        curve = hv.DynamicMap(curve_fn(dash, v, sig, dash.color_of(sig), height, legend,
                                       vehicle_label=bool(others)),
                              streams=[ranges[-1], stream])
        for k, other in enumerate(others):
            if sig in dash.fleet.signals(other) or sig in dash.fleet.derived_for(other):
                ranges.append(hv.streams.RangeX())
                curve = curve * hv.DynamicMap(
                    curve_fn(dash, other, sig, dash.color_of(sig), height, True,
                             vehicle_label=True, line_dash=DASHES[k % len(DASHES)],
                             main=False), streams=[ranges[-1]])
        curves.append(curve)
        extras.append(dash.events_view.spans(sig, dash.range[1]))
    if together:
        # the replay marker as a span of no width: a VLine would take a y axis of its own
        marker = hv.DynamicMap(lambda t: hv.VSpans(([dash._replay_time(t)],
                                                    [dash._replay_time(t)])).opts(
            color="#ff5252", line_color="#ff5252", line_width=1), streams=[dash.replay_stream])
        plot = reduce(operator.mul, curves + [e for e in extras if e is not None] + [marker]
                      + dash.cursors.lines())
        dash.cursors.tap_on(curves[0])
        opts = {"multi_y": True} if axis_each else {"ylabel": ", ".join(sigs)}
        layout = plot.opts(hv.opts.Curve(framewise=True), hv.opts.Overlay(
            legend_position="top_left", **opts))
    else:
        items = []
        for c, e in zip(curves, extras):
            dash.cursors.tap_on(c)
            items.append(reduce(operator.mul, [c] + ([] if e is None else [e]) + [vline]
                                + dash.cursors.lines()).opts(hv.opts.Curve(framewise=True)))
        layout = hv.Layout(items).cols(1).opts(shared_axes=True)
    pane = dash.pn.pane.HoloViews(layout, backend="bokeh", theme=dash.look.bokeh,
                                  sizing_mode="stretch_width", css_classes=["cantelem-hv"])
    dash.plots.objects = [pane]
    return {"key": key, "stream": stream, "ranges": ranges, "pane": pane}


def _finish(dash: Any, v: str, t0: Any, t1: Any) -> None:
    """Statistics, cursor table and map of a view just drawn."""
    dash._update_stats(t0, t1)
    dash.cursors.update()
    dash._draw_map(v, t0, t1)


def curve_fn(dash: Any, vehicle: str, sig: str, color: str, height: int = 220,
             legend: bool = False, vehicle_label: bool = False, line_dash: str = "solid",
             main: bool = True):
    """The function a signal's DynamicMap calls on every zoom: the signal downsampled to
    the range in view, as a Curve in ``dash``'s look (an enum as named steps), named in the
    legend with ``legend`` (with the vehicle's id with ``vehicle_label``). A compared
    vehicle's curve (``main`` false) leaves the page's samples and statistics alone."""
    hv = dash.hv
    info = dash.fleet.signal_info(vehicle, sig)
    label = signal_label([sig], info.get("units") or "")
    lk = dash.look
    drawn: dict = {}  # the Curve last returned, and (vehicle, view, first, last sample)

    def fn(x_range=None, vehicle=vehicle, view=0):
        t0, t1 = dash.range
        if x_range is not None and x_range[0] is not None:
            t0, t1 = pd.Timestamp(x_range[0]), pd.Timestamp(x_range[1])
            if drawn.get("at") == (vehicle, view, t0, t1):
                # the plot, once shown, reports the range of the samples it was given: the
                # same samples (loading them again, and their statistics, took 150-230 ms
                # of the kernel as a page opened)
                return drawn["curve"]
        ds = getattr(dash, "loaded", {}).pop((vehicle, sig, t0, t1), None)
        if ds is None:
            ds = dash.fleet.load(vehicle, sig, t0, t1, max_points=dash.max_points, gap="30s")
        df = shown_frame(ds, sig)
        if main:
            dash.shown[sig] = df
            if x_range is not None and x_range[0] is not None:
                dash._update_stats(t0, t1)
            update_detail(dash)
        # an enum (DBC value table, e.g. BMS_State): steps, each level named
        states = {int(k): str(n) for k, n in (ds[sig].attrs.get("choices") or {}).items()}
        enum = {"interpolation": "steps-post", "yticks": sorted(states.items())} \
            if states else {}
        name = f"{vehicle} {label}" if vehicle_label else label
        drawn["at"] = (vehicle, view, df["time"].iloc[0], df["time"].iloc[-1]) \
            if len(df) else None
        drawn["curve"] = hv.Curve(df, "time", (sig, label), label=name if legend else "").opts(
            **enum, color=color, line_width=1.5, line_dash=line_dash,
            tools=["hover", "xwheel_zoom", "save"],
            active_tools=["xwheel_zoom"], height=height, responsive=True,
            bgcolor=lk.plot, show_grid=True, xlabel="",
            default_tools=["pan", "box_zoom", "reset"],
            backend_opts={**lk.plot_opts()["backend_opts"],
                          # BokehJS reports a wheel zoom lod_timeout after the last
                          # wheel event (default 500 ms; at 60 ms a zoom re-drew in
                          # 325-418 ms, at 15 ms with no debounce in 268-329 ms)
                          "plot.lod_timeout": 15, "plot.lod_interval": 15})
        return drawn["curve"]
    return fn

