"""The dashboard's live half: one vehicle's streaming plots, and the fleet live view.

Both read a :class:`~cantelem_sci.io.LiveFeed` (the MQTT subscriber, which runs in its own
thread) from a periodic callback of the page's document, so every Bokeh model is changed
from the document's own thread. Plots are Bokeh figures whose shared x range follows the
newest sample over the rolling window; pausing stops following and streaming, so the window
stays still for zooming and hovering, and resuming redraws the current window.

One message a tick: each tick sets the data of one small "inbox" source to the new samples
of every signal (at most 4 a signal, :func:`m4`) and the position, as plain lists; a ``CustomJS`` in the page streams them
into the plots' sources there (``ColumnDataSource.stream`` with a rollover). Through Voilà
every model change costs three or more Jupyter comm messages (and two more per binary array),
so a stream per signal and tick queued seconds of messages on this 2-core machine; the
plots' sources are ``syncable=False`` so the page's appends are not echoed to the kernel.

The plots' sources are named ``cantelem-live-<vehicle>/<signal>`` (columns ``t``, capture
time in ms, and ``v``): what the browser tests and ``./run bench live`` read.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
import pandas as pd

from ._theme import Look, look, style_figure

log = logging.getLogger("cantelem_sci.viz")

#: values shown per vehicle in the fleet view (when the vehicle publishes them)
FLEET_KEYS = ("VehicleSpeed", "SOC", "CellTempMax")
PALETTE = ("#4fc3f7", "#ffb74d", "#81c784", "#e57373", "#ba68c8", "#fff176")



def m4(t: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Indices of the first, smallest, largest and last value (M4): what a line drawn over
    one pixel column shows. One tick (50 ms) spans about one pixel of a 60 s window, so each
    tick streams at most 4 points a signal, exact samples, whatever the signal's rate.

    Example
    -------
    >>> m4(np.arange(6), np.array([3.0, 1.0, 5.0, 2.0, 4.0, 0.5])).tolist()
    [0, 2, 5]
    """
    if len(v) <= 4:
        return np.arange(len(v))
    ok = ~np.isnan(v)
    if not ok.all():
        return np.arange(len(v))  # gaps drawn as they are
    return np.unique([0, int(np.argmin(v)), int(np.argmax(v)), len(v) - 1])


def m4_buckets(t: np.ndarray, v: np.ndarray, width_ns: int) -> np.ndarray:
    """:func:`m4` in each ``width_ns`` slice of time (the window drawn at once, as the ticks
    would have streamed it).

    Example
    -------
    >>> t = np.arange(10) * 10
    >>> m4_buckets(t, np.arange(10.0), 50).tolist()
    [0, 4, 5, 9]
    """
    if len(t) <= 4:
        return np.arange(len(t))
    edges = np.flatnonzero(np.diff((t - t[0]) // width_ns)) + 1
    starts = np.concatenate([[0], edges])
    ends = np.concatenate([edges, [len(t)]])
    return np.concatenate([a + m4(t[a:b], v[a:b]) for a, b in zip(starts, ends)])


def _ms(t_ns: np.ndarray) -> np.ndarray:
    return np.asarray(t_ns, np.int64) / 1e6  # Bokeh's datetime axis: ms since the epoch


class LivePlots:
    """Streaming plots, statistics and the map marker of one vehicle."""

    def __init__(self, feed: Any, vehicle: str, signals: list[str], window_s: float,
                 units: dict[str, str] | None = None, tick_ms: int = 50,
                 lk: Look | None = None) -> None:
        from bokeh.models import ColumnDataSource, CustomJS, DataRange1d, HoverTool
        from bokeh.plotting import figure

        self.look = lk or look("dark")
        self.map = None
        self.feed, self.vehicle, self.signals = feed, vehicle, list(signals)
        self.window_ms = window_s * 1000.0
        # points kept per plot: 4 a tick (M4) over the window, twice over
        self.rollover = int(8 * window_s * 1000 / max(tick_ms, 1))
        self.tick_ns = int(max(tick_ms, 1) * 1e6)
        self.paused = False
        self.cursor = 0
        self.x_range = DataRange1d(follow="end", follow_interval=self.window_ms,
                                   range_padding=0, only_visible=True)
        self.sources: dict[str, Any] = {}
        self.figures = []
        units = units or {}
        for i, sig in enumerate(self.signals):
            src = ColumnDataSource({"t": [], "v": []}, name=f"cantelem-live-{vehicle}/{sig}",
                                   syncable=False)
            label = f"{sig} [{units[sig]}]" if units.get(sig) else sig
            fig = figure(height=200, sizing_mode="stretch_width", x_axis_type="datetime",
                         x_range=self.x_range, title=label, tools="xpan,xwheel_zoom,reset",
                         active_scroll="xwheel_zoom", name=f"cantelem-live-fig-{sig}")
            fig.line("t", "v", source=src, color=PALETTE[i % len(PALETTE)], line_width=1.5)
            fig.add_tools(HoverTool(tooltips=[("time", "@t{%F %T.%3N}"), (sig, "@v")],
                                    formatters={"@t": "datetime"}, mode="vline"))
            style_figure(fig, self.look)
            self.sources[sig] = src
            self.figures.append(fig)
        self.marker = ColumnDataSource({"lon": [], "lat": []}, name="cantelem-live-marker",
                                       syncable=False)
        self.inbox = ColumnDataSource({"s": [], "t": [], "v": []},
                                      name=f"cantelem-inbox-{vehicle}")
        self.inbox.js_on_change("data", CustomJS(
            args={"sources": self.sources, "marker": self.marker, "rollover": self.rollover},
            code=_INBOX_JS))
        if self.figures:  # an invisible glyph puts the inbox into the page's document
            self.figures[0].scatter("t", "v", source=self.inbox, visible=False)
        self.reset()

    def reset(self) -> None:
        """Redraw the whole window (at start and on resume)."""
        cursor, data = self.feed.since(self.vehicle, 0, self.signals)
        self.cursor = cursor
        for sig, src in self.sources.items():
            t, v = data.get(sig, (np.empty(0, np.int64), np.empty(0)))
            keep = m4_buckets(t, v, self.tick_ns)
            src.data = {"t": _ms(t[keep]), "v": v[keep]}
        pos = self.feed.latest(self.vehicle, ["Latitude", "Longitude"])
        if len(pos) == 2:
            self.marker.data = {"lon": [pos["Longitude"][1]], "lat": [pos["Latitude"][1]]}

    def set_paused(self, paused: bool) -> None:
        self.paused = paused
        if paused:
            self.x_range.follow = None
            if len(self.figures):
                # freeze the range at what is shown
                self.x_range.start, self.x_range.end = self.x_range.start, self.x_range.end
        else:
            self.x_range.follow = "end"
            self.reset()

    def tick(self) -> int:
        """Stream the samples that arrived since the last tick; returns how many."""
        if self.paused:
            return 0
        cursor, data = self.feed.since(self.vehicle, self.cursor,
                                       [*self.signals, "Latitude", "Longitude"])
        self.cursor = cursor
        names, times, values = [], [], []
        for sig, (t, v) in data.items():
            if sig in self.sources and len(t) > 4:
                keep = m4(t, v)
                t, v = t[keep], v[keep]
            if len(t):
                names += [sig] * len(t)
                times += _ms(t).tolist()
                values += [None if x != x else x for x in v.tolist()]  # NaN: null in JSON
        if names:
            self.inbox.data = {"s": names, "t": times, "v": values}
        return len(names)

    def stats(self) -> pd.DataFrame:
        """count/min/max/mean/std/last of each signal over the window."""
        win = self.feed.window(self.vehicle, self.signals)
        rows = []
        for sig in self.signals:
            v = win.get(sig, (None, np.empty(0)))[1]
            ok = v[~np.isnan(v)]
            rows.append({"signal": sig, "count": int(ok.size),
                         "min": float(ok.min()) if ok.size else np.nan,
                         "max": float(ok.max()) if ok.size else np.nan,
                         "mean": float(ok.mean()) if ok.size else np.nan,
                         "std": float(ok.std()) if ok.size else np.nan,
                         "last": float(ok[-1]) if ok.size else np.nan})
        return pd.DataFrame(rows).round(3).set_index("signal")

    def map_figure(self) -> Any:
        from bokeh.plotting import figure

        fig = figure(width=340, height=300, title=f"{self.vehicle} (live)",
                     tools="pan,wheel_zoom,reset", match_aspect=True,
                     name="cantelem-live-map")
        fig.scatter("lon", "lat", source=self.marker, size=12, color="#ff5252")
        self.map = style_figure(fig, self.look)
        return fig

    def restyle(self, lk: Look) -> None:
        """Show the plots and the map in the look ``lk`` (on the page as they are)."""
        self.look = lk
        for fig in [*self.figures, *([self.map] if self.map is not None else [])]:
            style_figure(fig, lk)


#: the page's side of :meth:`LivePlots.tick`: the inbox's samples streamed into the plots
_INBOX_JS = """
const d = cb_obj.data, parts = {};
for (let i = 0; i < d.s.length; i++) {
  const p = parts[d.s[i]] || (parts[d.s[i]] = {t: [], v: []});
  p.t.push(d.t[i]); p.v.push(d.v[i] === null ? NaN : d.v[i]);
}
for (const [name, p] of Object.entries(parts)) {
  if (name in sources) sources[name].stream(p, rollover);
}
if (parts.Latitude && parts.Longitude)
  marker.data = {lon: [parts.Longitude.v.at(-1)], lat: [parts.Latitude.v.at(-1)]};
"""


class FleetLiveView:
    """Every vehicle seen on the broker: state, last seen, key values, last positions, and a
    button per vehicle that opens its live plots."""

    def __init__(self, feed: Any, on_select=None, lk: Look | None = None) -> None:
        import panel as pn
        from bokeh.models import ColumnDataSource, LabelSet
        from bokeh.plotting import figure

        self.feed = feed
        self.on_select = on_select
        self.pn = pn
        self.table = pn.pane.DataFrame(self._frame(), index=False, sizing_mode="stretch_width",
                                       css_classes=["cantelem-fleet-table"])
        self.buttons = pn.Row(css_classes=["cantelem-fleet-open"])
        self._button_for: tuple = ()
        self.positions = ColumnDataSource({"lon": [], "lat": [], "vehicle": [], "color": []},
                                          name="cantelem-fleet-positions")
        fig = figure(height=320, sizing_mode="stretch_width", title="last positions",
                     tools="pan,wheel_zoom,reset", match_aspect=True,
                     name="cantelem-fleet-map")
        fig.scatter("lon", "lat", source=self.positions, size=11, color="color")
        self.labels = LabelSet(x="lon", y="lat", text="vehicle", source=self.positions,
                               x_offset=6, y_offset=6, text_font_size="11px")
        fig.add_layout(self.labels)
        self.map = fig
        self.restyle(lk or look("dark"))
        self.note = pn.pane.Markdown("", css_classes=["cantelem-fleet-note"])
        self.layout = pn.Column(self.note, self.table, self.buttons, pn.pane.Bokeh(self.map),
                                sizing_mode="stretch_width", css_classes=["cantelem-fleet"])

    def restyle(self, lk: Look) -> None:
        """Show the map of last positions in the look ``lk``."""
        style_figure(self.map, lk)
        self.labels.text_color = lk.text

    def _frame(self) -> pd.DataFrame:
        rows = self.feed.fleet(FLEET_KEYS)
        cols = ["vehicle", "state", "alerts", "last seen (s)", *FLEET_KEYS]
        if not rows:
            return pd.DataFrame(columns=cols)
        for r in rows:
            r["alerts"] = _badge(self.feed.alerts(r["vehicle"]))
        df = pd.DataFrame(rows).rename(columns={"last_seen_s": "last seen (s)"})
        for k in FLEET_KEYS:
            df[k] = df[k].astype(float).round(2)
        return df[cols]

    def tick(self) -> None:
        self.table.object = self._frame()
        seen = tuple(self.feed.vehicles)
        badges = tuple(_badge(self.feed.alerts(v)) for v in seen)
        if (seen, badges) != self._button_for:  # one "open" button per vehicle
            self._button_for = (seen, badges)
            buttons = []
            for v, badge in zip(seen, badges):
                b = self.pn.widgets.Button(name=f"{v}: live plots" + (f" ⚠ {badge}" if badge
                                                                       else ""),
                                           button_type="danger" if badge else "primary",
                                           css_classes=["cantelem-open", f"cantelem-open-{v}"],
                                           width=170)
                b.on_click(lambda event, v=v: self.on_select and self.on_select(v))
                buttons.append(b)
            self.buttons.objects = buttons
        lon, lat, names, colors = [], [], [], []
        states = {r["vehicle"]: r["state"] for r in self.feed.fleet()}
        for v in self.feed.vehicles:
            pos = self.feed.latest(v, ["Latitude", "Longitude"])
            if len(pos) == 2:
                lat.append(pos["Latitude"][1])
                lon.append(pos["Longitude"][1])
                names.append(v)
                colors.append("#e53935" if self.feed.alerts(v) else
                              "#81c784" if states.get(v) == "online" else "#9e9e9e")
        self.positions.data = {"lon": lon, "lat": lat, "vehicle": names, "color": colors}
        n = len(self.feed.vehicles)
        self.note.object = (f"{n} vehicle(s) seen; {self.feed.connection}"
                            + (f"  \n{self.feed.last_error}" if self.feed.last_error and
                               not self.feed.connected else ""))



def _badge(alerts: list[dict[str, Any]]) -> str:
    """``"2 (critical)"``: how many alerts are going on, and the worst severity; ``""``."""
    if not alerts:
        return ""
    order = {"info": 0, "warning": 1, "critical": 2}
    worst = max((a.get("severity", "warning") for a in alerts), key=lambda x: order.get(x, 1))
    return f"{len(alerts)} ({worst})"


def page_ready_component(on_ready) -> Any:
    """A zero-size Panel component whose browser side reports once it is rendered (its
    ``ready`` count goes up from the page), calling ``on_ready()`` in the kernel: the moment
    from which changes made in the kernel reach the page."""
    import panel as pn
    import param

    class PageReady(pn.custom.JSComponent):
        ready = param.Integer(default=0)
        _esm = "export function render({ model }) { model.ready = model.ready + 1; }"

    comp = PageReady(width=0, height=0, margin=0, css_classes=["cantelem-page-ready"])
    comp.param.watch(lambda event: on_ready(), "ready")
    return comp


def live_age(feed: Any, vehicle: str) -> str:
    """``"newest sample 0.1 s ago"`` for the status line."""
    rows = [r for r in feed.fleet() if r["vehicle"] == vehicle]
    if not rows or not rows[0]["newest"]:
        return "no sample yet"
    age = time.time() - rows[0]["newest"] / 1e9
    return f"{rows[0]['state']}, newest sample {age:.1f} s ago"
