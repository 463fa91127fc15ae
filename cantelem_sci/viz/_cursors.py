"""The dashboard's two cursors: a click on a plot places cursor A, the next one B, the next
A again; a table reads each shown signal's value at A and at B (the sample in effect there:
the last one at or before the cursor, as a logger's value holds until the next), their
difference, and the count, minimum, maximum and mean of every sample between them (full
resolution, not the drawn points). "Clear cursors" removes both. The view's link names
them (``&cursors=<A>,<B>``).

The lines are drawn in every plot (zero-width spans, which take no y axis of their own in
the one-plot layouts), in colours no signal takes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


__all__ = ["COLORS", "HOLD", "Cursors", "to_time"]

#: line colour of cursor A and of cursor B (outside the signal palette)
COLORS = {"a": "#ff4081", "b": "#00e676"}
#: how far back a cursor looks for the sample in effect
HOLD = pd.Timedelta("10min")


def to_time(x: Any) -> pd.Timestamp | None:
    """A clicked x position as a time to the microsecond: Bokeh gives a datetime axis'
    position in ms since 1970 (HoloViews sometimes a datetime already).

    Example
    -------
    >>> to_time(1_772_409_600_000.0)
    Timestamp('2026-03-02 00:00:00')
    >>> to_time(None) is None
    True
    """
    if x is None:
        return None
    if isinstance(x, (int, float, np.integer, np.floating)):
        if not np.isfinite(x):
            return None
        return pd.Timestamp(int(round(float(x) * 1e3)), unit="us")
    t = pd.Timestamp(x)
    if pd.isna(t):
        return None
    return (t.tz_convert(None) if t.tzinfo else t).round("us")  # as the link writes it


def _fmt(t: pd.Timestamp | None) -> str:
    return "" if t is None else t.strftime("%Y-%m-%d %H:%M:%S.%f")  # exactly as held


class Cursors:
    """Cursors A and B of a dashboard ``dash`` (its fleet, vehicle and shown signals).

    Example
    -------
    ::

        dash.cursors.set("2026-03-01 23:57:00", "2026-03-01 23:57:30")
        dash.cursors.frame  # value at A and B, delta, statistics between them
    """

    def __init__(self, dash: Any) -> None:
        pn, hv = dash.pn, dash.hv
        self.dash = dash
        self.a: pd.Timestamp | None = None
        self.b: pd.Timestamp | None = None
        self._next = "a"
        self.stream = hv.streams.Stream.define("Cursors", n=0)()  # n counts moves
        self.frame = pd.DataFrame()
        self.label = pn.pane.Markdown("Click a plot to place cursor A, then B.",
                                      css_classes=["cantelem-cursor-text"],
                                      sizing_mode="stretch_width")
        self.w_clear = pn.widgets.Button(label="Clear cursors", color="default",
                                         css_classes=["cantelem-cursor-clear"], width=130)
        self.w_clear.on_click(lambda e: self.clear())
        self.table = pn.pane.DataFrame(pd.DataFrame(), css_classes=["cantelem-cursors"],
                                       sizing_mode="stretch_width")
        self.layout = pn.Column(pn.Row(self.label, self.w_clear), self.table,
                                sizing_mode="stretch_width")

    # ---- placing -------------------------------------------------------------------------
    def place(self, x: Any) -> None:
        """A click at ``x``: cursor A, then B, then A again."""
        t = to_time(x)
        if t is None:
            return
        setattr(self, self._next, t)
        self._next = "b" if self._next == "a" else "a"
        self.changed()

    def set(self, a: Any = None, b: Any = None) -> None:
        """Place A and B (``None`` removes one); the next click moves A."""
        self.a = None if a is None else to_time(pd.Timestamp(a))
        self.b = None if b is None else to_time(pd.Timestamp(b))
        self._next = "a"
        self.changed()

    def clear(self) -> None:
        self.set(None, None)

    def changed(self) -> None:
        """Lines and table follow the cursors."""
        from ._view_state import view_query

        self.stream.event(n=self.stream.n + 1)
        self.update()
        self.dash.share.object = f"[Link to this view](?{view_query(self.dash)})"

    def tap_on(self, source: Any) -> None:
        """Place cursors with clicks on the plot of ``source`` (a DynamicMap)."""
        tap = self.dash.hv.streams.Tap(source=source)
        tap.add_subscriber(lambda x=None, y=None: self.place(x))

    # ---- drawing -------------------------------------------------------------------------
    def lines(self) -> list[Any]:
        """Cursor A's and B's lines, each a DynamicMap following the cursors."""
        hv = self.dash.hv

        def line(which: str):
            def fn(n=0):
                t = getattr(self, which)
                xs = [] if t is None else [t]
                return hv.VSpans((xs, xs)).opts(color=COLORS[which], alpha=1.0,
                                                line_color=COLORS[which], line_width=2)
            return hv.DynamicMap(fn, streams=[self.stream])
        return [line("a"), line("b")]

    # ---- reading -------------------------------------------------------------------------
    def _at(self, vehicle: str, sig: str, t: pd.Timestamp | None) -> float:
        if t is None:
            return np.nan
        _, x = self.dash.fleet.series(vehicle, sig, t - HOLD, t, valid=True)
        return float(x[-1]) if x.size else np.nan

    def update(self) -> None:
        """Recompute the table for the vehicle and signals shown."""
        dash = self.dash
        v = dash.w_vehicle.value
        a, b = self.a, self.b
        if a is None and b is None:
            self.label.object = "Click a plot to place cursor A, then B."
            self.frame = pd.DataFrame()
            self.table.object = self.frame
            return
        rows = []
        lo, hi = (a, b) if a is None or b is None or a <= b else (b, a)
        for sig in dash.w_signals.value:
            va, vb = self._at(v, sig, a), self._at(v, sig, b)
            row = {"signal": sig, "A": va, "B": vb, "B - A": vb - va}
            if a is not None and b is not None:
                stats = dash.fleet.stats(v, [sig], lo, hi).loc[sig]  # the range table's
                row.update({k: stats[k] for k in ("count", "min", "max", "mean")})
                row["count"] = int(row["count"])
            rows.append(row)
        self.frame = pd.DataFrame(rows).set_index("signal") if rows else pd.DataFrame()
        self.table.object = self.frame.round(6)
        text = f"**A** {_fmt(a) or '(click a plot)'}, **B** {_fmt(b) or '(click a plot)'}"
        if a is not None and b is not None:
            text += f", **B - A** {(b - a).total_seconds():.3f} s"
        self.label.object = text
