"""The dashboard's "Export PNG": the view shown, rendered on the server (matplotlib's Agg,
no browser needed) as one PNG file the browser downloads.

The image holds what the page draws: the same samples (downsampled as on the page, extremes
kept), each signal in its colour and named with its unit in a legend, compared vehicles in
their line styles, enum signals as named steps, cursors A and B, the page's look and
layout (``stacked``: a plot per signal; ``one axis``; ``axis each``: a y axis per signal),
against time over exactly the range shown, or against the x axis chosen. The title names
the vehicle and the range.

The file describes itself in PNG text chunks: ``Title``, ``Description`` (vehicle, signals,
range, layout), ``Source`` (the view's link query, to open it again), ``Software`` and
``cantelem:axes`` (JSON: for each plot its signals, y limits, x limits in ms since 1970 and
its box in pixels from the top left) and ``colour:<signal>`` (its line's colour), so a
reader can map pixels back to values. Signals shaded on the page (``_shaded_view.py``) are
shaded in the image too: a plot per unit, a pixel's colour the number of lines through it.
"""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np
import pandas as pd

from ._stats_view import signal_label

__all__ = ["DPI", "png_filename", "view_png"]

#: resolution of the image (a plot of the stacked layout is 2.4 in high)
DPI = 100
_WIDTH_IN = 13.0


def _time_fmt(t: Any) -> str:
    return pd.Timestamp(t).strftime("%Y-%m-%d %H:%M:%S")


def png_filename(vehicle: str | None, t0: Any) -> str:
    """The downloaded file's name: vehicle and start of the range.

    Example
    -------
    >>> png_filename("EV0001", pd.Timestamp("2026-03-01 10:00:05"))
    'cantelem-EV0001-20260301T100005.png'
    """
    when = "" if t0 is None or pd.isna(t0) else "-" + pd.Timestamp(t0).strftime("%Y%m%dT%H%M%S")
    return f"cantelem-{vehicle or 'view'}{when}.png"


def _series(dash: Any, vehicle: str, sig: str, t0: Any, t1: Any) -> pd.DataFrame:
    """``sig`` of ``vehicle`` as drawn: the page's own samples for the vehicle shown, the
    same downsampling for a compared one."""
    shown = dash.shown.get(sig) if vehicle == dash.w_vehicle.value else None
    if shown is not None:
        return shown
    from ._time_view import shown_frame

    return shown_frame(dash.fleet.load(vehicle, sig, t0, t1, max_points=dash.max_points,
                                       gap="30s"), sig)


def _label(dash: Any, vehicle: str, sig: str, with_vehicle: bool) -> str:
    name = signal_label([sig], dash.fleet.signal_info(vehicle, sig).get("units") or "")
    return f"{vehicle} {name}" if with_vehicle else name


def _style_axes(ax: Any, lk: Any) -> None:
    ax.set_facecolor(lk.plot)
    ax.grid(True, color=lk.outline, linewidth=0.5, alpha=0.6)
    for s in ax.spines.values():
        s.set_color(lk.outline)
    ax.tick_params(colors=lk.text, labelsize=8)
    ax.yaxis.label.set_color(lk.text)
    ax.xaxis.label.set_color(lk.text)


def _legend(ax: Any, lines: list, lk: Any) -> None:
    if lines:  # above the plot: it hides no sample
        leg = ax.legend(handles=lines, loc="lower left", bbox_to_anchor=(0.0, 1.0),
                        ncols=min(len(lines), 4), fontsize=8, frameon=False,
                        borderaxespad=0.2)
        for t in leg.get_texts():
            t.set_color(lk.text)


def _draw_signal(dash: Any, ax: Any, sig: str, t0: Any, t1: Any, others: list[str]) -> list:
    """``sig`` of the shown vehicle and of each compared one into ``ax``; the lines."""
    from ._time_view import DASHES

    v = dash.w_vehicle.value
    lines = []
    states: dict[int, str] = {}
    for k, veh in enumerate([v, *others]):
        if veh != v and sig not in dash.fleet.signals(veh) and \
                sig not in dash.fleet.derived_for(veh):
            continue
        df = _series(dash, veh, sig, t0, t1)
        if not len(df):
            continue
        states.update({int(c): str(n) for c, n in df.attrs.get("choices", {}).items()})
        style = "solid" if veh == v else {"dashed": "--", "dotted": ":", "dotdash": "-.",
                                         "dashdot": "-."}[DASHES[(k - 1) % len(DASHES)]]
        (line,) = ax.plot(df["time"].values, df[sig].values, color=dash.color_of(sig),
                          linewidth=1.5, linestyle=style,
                          drawstyle="steps-post" if states else "default",
                          label=_label(dash, veh, sig, bool(others)))
        lines.append(line)
    if states:  # an enum: each level named on the y axis
        ax.set_yticks(sorted(states), [states[k] for k in sorted(states)])
    return lines


def _draw_cursors(dash: Any, ax: Any) -> None:
    from ._cursors import COLORS

    cur = getattr(dash, "cursors", None)
    for key in ("a", "b"):
        t = getattr(cur, key, None) if cur is not None else None
        if t is not None:
            ax.axvline(np.datetime64(t), color=COLORS[key], linewidth=1.2)


def _axes_record(fig: Any, ax: Any, sigs: list[str], time_axis: bool) -> dict[str, Any]:
    """One plot's place in the image (drawn already): signals, limits and pixel box (from
    the top left)."""
    x0, y0, x1, y1 = ax.get_window_extent().extents
    h = fig.bbox.height
    xlim = [float(x) for x in ax.get_xlim()]
    if time_axis:  # matplotlib's dates are days since 1970: as Bokeh's, ms
        xlim = [x * 86_400_000.0 for x in xlim]
    return {"signals": sigs, "ylim": [float(y) for y in ax.get_ylim()], "xlim": xlim,
            "box": [round(x0), round(h - y1), round(x1), round(h - y0)]}


def _time_figure(dash: Any, sigs: list[str], t0: Any, t1: Any):
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.figure import Figure

    from ._time_view import LAYOUTS

    lk = dash.look
    together, axis_each = LAYOUTS[dash.w_layout.value]
    others = [o for o in dash.w_compare.value if o != dash.w_vehicle.value]
    n = 1 if together else len(sigs)
    fig = Figure(figsize=(_WIDTH_IN, 1.2 + (4.2 if together else 2.4 * n)), dpi=DPI,
                 facecolor=lk.page, layout="constrained")
    axes = list(np.atleast_1d(fig.subplots(n, 1, sharex=True, squeeze=False)[:, 0]))
    for ax in axes:
        _style_axes(ax, lk)
    groups: list[tuple[Any, list[str]]] = []
    if together:
        ax0, lines = axes[0], []
        for i, sig in enumerate(sigs):
            ax = ax0
            if axis_each and i:  # a y axis per signal, outward on the right
                ax = ax0.twinx()
                ax.spines["right"].set_position(("outward", 55 * (i - 1)))
                _style_axes(ax, lk)
                ax.grid(False)
            lines += _draw_signal(dash, ax, sig, t0, t1, others)
            if axis_each:
                ax.set_ylabel(_label(dash, dash.w_vehicle.value, sig, False),
                              color=dash.color_of(sig), fontsize=8)
            groups.append((ax, [sig]))
        if not axis_each:
            ax0.set_ylabel(", ".join(sigs), fontsize=8)
            groups = [(ax0, sigs)]
        _legend(ax0, lines, lk)
        _draw_cursors(dash, ax0)
    else:
        for ax, sig in zip(axes, sigs):
            _legend(ax, _draw_signal(dash, ax, sig, t0, t1, others), lk)
            _draw_cursors(dash, ax)
            groups.append((ax, [sig]))
    for ax in axes:
        ax.set_xlim(np.datetime64(pd.Timestamp(t0)), np.datetime64(pd.Timestamp(t1)))
    loc = AutoDateLocator()
    axes[-1].xaxis.set_major_locator(loc)
    axes[-1].xaxis.set_major_formatter(ConciseDateFormatter(loc))
    return fig, groups, True


def _shaded_figure(dash: Any, t0: Any, t1: Any):
    """The shaded view (``_shaded_view.py``): a plot per unit, each pixel coloured by the
    number of the group's lines through it (Datashader, as the page)."""
    import datashader as dsh
    from matplotlib.colors import LinearSegmentedColormap, LogNorm
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter, date2num
    from matplotlib.figure import Figure

    from ._shaded_view import shade_colours, shaded_curve

    lk, v = dash.look, dash.w_vehicle.value
    groups = dash.shaded["groups"]
    n = len(groups)
    fig = Figure(figsize=(_WIDTH_IN, 1.2 + (4.2 if n == 1 else 2.6 * n)), dpi=DPI,
                 facecolor=lk.page, layout="constrained")
    axes = list(fig.subplots(n, 1, sharex=True, squeeze=False)[:, 0])
    a_ns, b_ns = (pd.Timestamp(t).value for t in (t0, t1))
    out = []
    for k, (ax, (unit, group)) in enumerate(zip(axes, groups.items())):
        _style_axes(ax, lk)
        ax.grid(False)  # no line over the image
        t, x = shaded_curve(dash, v, k, t0, t1)
        ok = np.isfinite(x)
        lo, hi = (float(x[ok].min()), float(x[ok].max())) if ok.any() else (0.0, 1.0)
        pad = (hi - lo) * 0.05 or 0.5
        lo, hi = lo - pad, hi + pad
        bbox = ax.get_window_extent()  # pixels the image fills, one bin each
        w, h = max(int(bbox.width), 50), max(int(bbox.height), 50)
        cvs = dsh.Canvas(plot_width=w, plot_height=h, x_range=(a_ns, b_ns), y_range=(lo, hi))
        agg = cvs.line(pd.DataFrame({"t": t.astype(float), "x": x}), "t", "x",
                       agg=dsh.count()).values.astype(float)
        agg[agg == 0] = np.nan  # no line: the plot's background
        cmap = LinearSegmentedColormap.from_list(
            "shade", shade_colours(dash.color_of(group[0]), lk.plot))
        ax.imshow(agg, origin="lower", aspect="auto", interpolation="nearest", cmap=cmap,
                  norm=LogNorm(vmin=1, vmax=max(float(np.nanmax(agg, initial=2.0)), 2.0)),
                  extent=[date2num(np.datetime64(a_ns, "ns")), date2num(np.datetime64(b_ns, "ns")),
                          lo, hi])
        ax.set_title(signal_label(group, unit), loc="left", fontsize=8, color=lk.text)
        ax.set_ylim(lo, hi)
        ax.set_xlim(np.datetime64(a_ns, "ns"), np.datetime64(b_ns, "ns"))
        _draw_cursors(dash, ax)
        out.append((ax, group))
    loc = AutoDateLocator()
    axes[-1].xaxis.set_major_locator(loc)
    axes[-1].xaxis.set_major_formatter(ConciseDateFormatter(loc))
    return fig, out, True


def _xy_figure(dash: Any, sigs: list[str]):
    from matplotlib.figure import Figure

    lk = dash.look
    df = dash.xy
    x = df.columns[0]
    fig = Figure(figsize=(_WIDTH_IN, 5.4), dpi=DPI, facecolor=lk.page, layout="constrained")
    ax = fig.subplots()
    _style_axes(ax, lk)
    ys = [s for s in sigs if s in df.columns and s != x]
    lines = [ax.scatter(df[x].values, df[s].values, s=4, color=dash.color_of(s),
                        label=_label(dash, dash.w_vehicle.value, s, False)) for s in ys]
    ax.set_xlabel(x)
    _legend(ax, lines, lk)
    return fig, [(ax, ys)], False


def view_png(dash: Any) -> io.BytesIO:
    """``dash``'s view as PNG bytes (see the module docstring); sets the download's name.

    Example
    -------
    In the page, the "Export PNG" button's callback::

        pn.widgets.FileDownload(callback=lambda: view_png(dash), filename="cantelem.png")
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from .. import __version__
    from ._view_state import view_query

    v = dash.w_vehicle.value
    sigs = list(dash.w_signals.value)
    t0, t1 = dash.range
    if not sigs or v is None:  # nothing drawn: the image says so, as the page does
        from matplotlib.figure import Figure

        fig, groups, time_axis = Figure(figsize=(_WIDTH_IN, 2.0), dpi=DPI,
                                        facecolor=dash.look.page), [], True
        fig.text(0.5, 0.45, "No signal chosen", ha="center", color=dash.look.text)
    elif dash.xy is not None:
        fig, groups, time_axis = _xy_figure(dash, sigs)
    elif getattr(dash, "shaded", None):
        fig, groups, time_axis = _shaded_figure(dash, t0, t1)
    else:
        fig, groups, time_axis = _time_figure(dash, sigs, t0, t1)
    FigureCanvasAgg(fig)
    span = f"{_time_fmt(t0)} to {_time_fmt(t1)}" if t0 is not None and t1 is not None else ""
    title = f"{v}: {span}" if span else str(v)
    fig.suptitle(title, color=dash.look.title, fontsize=11)
    fig.canvas.draw()
    axes = [_axes_record(fig, ax, s, time_axis) for ax, s in groups]
    if getattr(dash, "shaded", None) and dash.xy is None:
        for rec in axes:  # any other colour than the background is a line's
            rec["shaded"], rec["background"] = True, dash.look.plot
    compare = [o for o in dash.w_compare.value if o != v]
    desc = (f"vehicle={v}; signals={','.join(sigs)}; from={t0}; to={t1}; "
            f"layout={dash.w_layout.value}; x={dash.w_xaxis.value}"
            + (f"; compare={','.join(compare)}" if compare else ""))
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=DPI, facecolor=dash.look.page, metadata={
        "Title": title, "Description": desc, "Source": view_query(dash),
        "Software": f"cantelem_sci {__version__}", "cantelem:axes": json.dumps(axes),
        **{f"colour:{s}": dash.color_of(s) for s in sigs}})
    out.seek(0)
    if hasattr(dash, "w_png"):
        dash.w_png.filename = png_filename(v, t0)
    return out
