"""The dashboard's shaded plots: when the signals shown would draw more points than the
dashboard's threshold (``shade_points``, 50,000: some 25 signals of 2,000 points), they are
drawn with Datashader instead of as lines: the signals of one unit as one plot (the 96 cell
voltages of a battery as one image), the colour of a pixel the number of lines through it.

Each plot is a HoloViews ``rasterize`` over a DynamicMap on a ``RangeX`` stream: on every
zoom the group's signals are read again over the new range at full resolution (beyond
:data:`PER_SIGNAL` samples a signal, M4's extremes of each bucket) and aggregated on the
server, so the browser receives one image whatever the number of signals or samples. The statistics follow the range in
view, the cursors are drawn and placed as on line plots.
"""

from __future__ import annotations

import operator
from functools import reduce
from typing import Any

import numpy as np
import pandas as pd

from ._stats_view import signal_label

__all__ = ["GAP_NS", "PER_SIGNAL", "SHADE_POINTS", "by_unit", "draw_shaded", "group_curve",
           "shade_colours", "shaded_curve", "should_shade", "signal_points"]

#: points drawn (over every signal shown, after downsampling) above which plots are shaded
SHADE_POINTS = 50_000
#: samples of one signal aggregated as they are; beyond, M4 keeps as many (4 per bucket)
PER_SIGNAL = 8_000
#: a step of time longer than this (ns) is a gap: no line across it
GAP_NS = 30_000_000_000


def should_shade(drawn: dict[str, int], threshold: int) -> bool:
    """Whether ``drawn`` (signal -> points its plot would draw) exceeds ``threshold``.

    Example
    -------
    >>> should_shade({"Cell01": 2000, "Cell02": 2000}, 3000), should_shade({"SOC": 10}, 3000)
    (True, False)
    """
    return threshold > 0 and sum(drawn.values()) > threshold


def by_unit(units: dict[str, str]) -> dict[str, list[str]]:
    """Signals grouped by unit, in the order first shown (a plot per group).

    Example
    -------
    >>> by_unit({"Cell01": "V", "SOC": "%", "Cell02": "V"})
    {'V': ['Cell01', 'Cell02'], '%': ['SOC']}
    """
    out: dict[str, list[str]] = {}
    for sig, unit in units.items():
        out.setdefault(unit, []).append(sig)
    return out


def group_curve(parts: list[tuple[np.ndarray, np.ndarray]], gap_ns: int = GAP_NS
                ) -> tuple[np.ndarray, np.ndarray]:
    """``(time ns, value)`` of every signal's ``(time ns, value)`` one after the other, a NaN
    after each and in every step of time longer than ``gap_ns`` (Datashader draws no line
    across a NaN: each signal stays its own line, a gap stays open).

    Example
    -------
    >>> a = (np.array([0, 1, 100]), np.array([1.0, 2.0, 3.0]))
    >>> b = (np.array([0]), np.array([5.0]))
    >>> group_curve([a, b], gap_ns=10)[1]
    array([ 1.,  2., nan,  3., nan,  5., nan])
    """
    ts, vs = [], []
    for t, x in parts:
        if len(t):
            cut = np.flatnonzero(np.diff(t) > gap_ns) + 1
            ts.append(np.insert(t, cut, t[cut - 1]))
            vs.append(np.insert(x.astype(float), cut, np.nan))
            ts.append(t[-1:])
            vs.append(np.array([np.nan]))
    if not ts:
        return np.array([], dtype=np.int64), np.array([], dtype=float)
    return np.concatenate(ts), np.concatenate(vs)


def signal_points(fleet: Any, vehicle: str, sig: str, start: Any, end: Any,
                  budget: int = PER_SIGNAL) -> tuple[np.ndarray, np.ndarray]:
    """``sig``'s valid samples in [start, end] (ns, value): all of them up to ``budget``,
    beyond it M4's (first, last, minimum and maximum of each of ``budget / 4`` time buckets:
    at most a pixel's error once drawn; gaps kept as breaks)."""
    from ..kernels import downsample

    # a multiplexed signal's NaN in frames of other groups are no breaks: left out
    t, x = fleet.series(vehicle, sig, start, end, valid=True)
    if len(t) > budget:
        idx = downsample(t, x, budget, "m4", gap=GAP_NS)
        t, x = t[idx], x[idx]
    return t, x


def shade_colours(colour: str, background: str) -> list[str]:
    """The colour map of a shaded plot: from ``colour`` half faded into ``background`` (one
    line through a pixel) to ``colour`` (the most).

    Example
    -------
    >>> shade_colours("#ff0000", "#000000")
    ['#800000', '#ff0000']
    """
    c = [int(colour[i:i + 2], 16) for i in (1, 3, 5)]
    b = [int(background[i:i + 2], 16) for i in (1, 3, 5)]
    return ["#" + "".join(f"{round((x + y) / 2):02x}" for x, y in zip(c, b)), colour]


def shaded_curve(dash: Any, v: str, k: int, a: Any, b: Any) -> tuple[np.ndarray, np.ndarray]:
    """The curve of group ``k`` of the shaded view (:func:`group_curve` of its signals of
    vehicle ``v`` in [a, b]); the last one of each group is kept on ``dash.shaded``, so
    that the PNG export of the view on the page reads nothing again."""
    key = (v, pd.Timestamp(a).value, pd.Timestamp(b).value)
    kept = dash.shaded["curves"].get(k)
    if kept is not None and kept[0] == key:
        return kept[1]
    group = list(dash.shaded["groups"].values())[k]
    t, x = group_curve([signal_points(dash.fleet, v, s, a, b) for s in group])
    dash.shaded["curves"][k] = (key, (t, x))
    dash.shaded["points"][k] = int(np.isfinite(x).sum())
    return t, x


def draw_shaded(dash: Any, v: str, sigs: list[str], t0: Any, t1: Any, points: int) -> None:
    """``sigs`` of vehicle ``v`` in [t0, t1] as shaded plots, one per unit, on linked time
    axes; the status line says why they are shaded (``points`` would be drawn as lines)."""
    import datashader as ds
    from holoviews.operation.datashader import rasterize

    hv, lk = dash.hv, dash.look
    units = {s: dash.fleet.signal_info(v, s).get("units") or "" for s in sigs}
    groups = by_unit(units)
    dash.shaded = {"groups": groups, "points": {}, "curves": {}}
    items = []
    for k, (unit, group) in enumerate(groups.items()):
        label = signal_label(group, unit)

        def fn(x_range=None, group=group, label=label, k=k):
            a, b = dash.range
            if x_range is not None and x_range[0] is not None:
                a, b = pd.Timestamp(x_range[0]), pd.Timestamp(x_range[1])
            t, x = shaded_curve(dash, v, k, a, b)
            if k == 0 and x_range is not None and x_range[0] is not None:
                dash._update_stats(a, b)  # the statistics of the range in view
            return hv.Curve((t.astype("datetime64[ns]"), x), "time", ("value", label))

        dmap = hv.DynamicMap(fn, streams=[hv.streams.RangeX()])
        shaded = rasterize(dmap, aggregator=ds.count()).opts(
            cmap=shade_colours(dash.color_of(group[0]), lk.plot),
            cnorm="eq_hist", clipping_colors={"min": "#00000000", "NaN": "#00000000"},
            responsive=True, height=360 if len(groups) == 1 else 240, title=label,
            tools=["hover", "xwheel_zoom"], active_tools=["xwheel_zoom"],
            default_tools=["pan", "box_zoom", "reset"], bgcolor=lk.plot, xlabel="",
            ylabel=unit or "value", colorbar=False,
            backend_opts={**lk.plot_opts()["backend_opts"], "plot.title.text_color": lk.text})
        dash.cursors.tap_on(shaded)
        items.append(reduce(operator.mul, [shaded] + dash.cursors.lines()))
    layout = hv.Layout(items).cols(1).opts(shared_axes=True)
    dash.plots.objects = [dash.pn.pane.HoloViews(layout, backend="bokeh", theme=lk.bokeh,
                                                 sizing_mode="stretch_width",
                                                 css_classes=["cantelem-hv", "cantelem-shaded"])]
    dash.status.object = (
        f"{v}: {len(sigs)} signal(s) shaded ({len(groups)} plot(s), one per unit: {points:,} "
        f"points, above {dash.shade_points:,}), {pd.Timestamp(t0):%Y-%m-%d %H:%M:%S} to "
        f"{pd.Timestamp(t1):%Y-%m-%d %H:%M:%S}")
