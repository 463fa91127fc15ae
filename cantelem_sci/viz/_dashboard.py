"""The dashboard: a Panel / HoloViews app on a fleet store, shown in JupyterLab or Voilà.

Vehicle, trip and time-range selection; several signals on linked time axes, downsampled
again with the project's kernels on every zoom (HoloViews ``RangeX`` streams); hover values;
statistics of the visible range; an x-axis choice (time, distance driven, or any signal for
XY plots, ``_xy_view.py``); CSV export of the visible range and a PNG of the view rendered
on the server (``_png_export.py``); a dark and a light look (``_theme.py``); a signal browser by ECU and
message with a search box (``_signal_browser.py``); the GPS track without tiles; trip replay with a scrubber and
play/pause (plots and map follow); two cursors with the values at each, their
difference and the statistics between them (``_cursors.py``); alert events as shaded spans
and a list to jump to
(``_events_view.py``). Live mode, with a broker (``mqtt=`` or ``CANTELEM_MQTT``):
the plots, statistics and map stream what the edge loggers publish (``_live_view.py``), with a
pause, and a "Fleet live" tab lists every vehicle on the broker; without a broker it follows
the newest frames the edge logger made durable in a shared local store (re-read every second).

Bad input never shows a traceback: an empty store, a vehicle without a signal, a signal with
only NaN or a range without data are reported on the page.
"""

from __future__ import annotations

import io
import logging
from typing import Any

import pandas as pd

from ._cursors import Cursors
from ._date_box import box_time, date_box
from ._map_view import draw_map
from ._offline import inline_panel_css
from ._signal_browser import SignalBrowser, signal_tree
from ._stats_view import update_stats
from ._theme import look
from ._time_view import LAYOUTS, draw_time
from ._view_state import apply_view, view_csv, view_query
from ._xy_view import axis_options

log = logging.getLogger("cantelem_sci.viz")

DEFAULT_SIGNALS = ("VehicleSpeed", "PackCurrent", "SOC")
QUICK_RANGES = {"last 5 min": "5min", "last 15 min": "15min", "last 1 h": "1h"}
PALETTE = ("#4fc3f7", "#ffb74d", "#81c784", "#e57373", "#ba68c8", "#fff176")


def _config_live_start() -> bool:
    """``CANTELEM_DASHBOARD_LIVE=1`` (or ``dashboard_live`` in the config file): open in live
    mode, as the demo does."""
    from .. import _config

    return bool(int(_config.get("dashboard_live")))


def _fmt(t: Any) -> str:
    return "" if t is None else pd.Timestamp(t).strftime("%Y-%m-%d %H:%M:%S")


class Dashboard:
    """The dashboard of one fleet store.

    Example
    -------
    In a notebook (or the Voilà page ``cantelem dashboard`` serves)::

        from cantelem_sci.viz import Dashboard
        Dashboard("cantelem-data").panel()
    """

    def __init__(self, store: str | None = None, *, max_points: int = 2000,
                 storage_options: dict | None = None, live_interval_ms: int = 1000,
                 mqtt: str | None = None, live_prefix: str | None = None,
                 live_window_s: float = 60.0, live_tick_ms: int = 50,
                 theme: str = "dark", shade_points: int | None = None) -> None:
        import holoviews as hv
        import holoviews.plotting.bokeh  # noqa: F401  (the bokeh backend, also outside notebooks)
        import panel as pn

        from ..fleet import open_fleet

        if not getattr(hv.extension, "_loaded", False):
            hv.extension("bokeh", logo=False)  # options registry; notebooks call it themselves
        from holoviews.plotting.bokeh.callbacks import RangeXYCallback

        # re-downsample as soon as a zoom arrives: with a debounce (HoloViews: 100 ms) the
        # callback polls every 50 ms until the last event is that old; without one it waits
        # 10 ms, and events arriving meanwhile are still merged into one (the last range)
        RangeXYCallback.debounce = None

        inline_panel_css()  # no stylesheet link to Panel's CDN on the page
        self.hv, self.pn = hv, pn
        self.look = look(theme)
        from .. import _config

        self.max_points = max_points
        # above this many points drawn, Datashader plots (``_shaded_view.py``)
        self.shade_points = int(_config.get("dashboard_shade_points", shade_points))
        self.shaded: dict | None = None
        self.live_interval_ms = live_interval_ms
        self.live_tick_ms = live_tick_ms
        self.live_window_s = live_window_s
        self.fleet = open_fleet(store, storage_options=storage_options)
        self.vehicles = [v for v in self.fleet.vehicles if self.fleet.messages(v)]
        self.feed = None
        url = _config.get("mqtt", mqtt)
        if url:
            from ..io import LiveFeed

            # connected when the page is shown (``_live_stream.page_ready``): a kernel that
            # Voilà pre-heats for the next visitor neither subscribes nor ticks
            self.feed = LiveFeed(url, _config.get("live_prefix", live_prefix),
                                 window_s=live_window_s)
        self.live_plots = None
        self.fleet_view = None
        self.page_is_ready = False
        self._live_fast = None
        self.status = pn.pane.Markdown("", css_classes=["cantelem-status"],
                                       sizing_mode="stretch_width")
        self.shown: dict[str, pd.DataFrame] = {}
        self.colors: dict[str, str] = {}  # a signal keeps its colour while the page lives
        self.range: tuple[Any, Any] = (None, None)
        self._live_cb = None
        self._build()

    # ---- widgets ---------------------------------------------------------------------------------
    def _build(self) -> None:
        pn, hv = self.pn, self.hv
        v0 = self.vehicles[0] if self.vehicles else None
        self.w_vehicle = pn.widgets.Select(label="Vehicle", options=self.vehicles, value=v0,
                                           css_classes=["cantelem-vehicle"], width=160)
        self.w_trip = pn.widgets.Select(label="Trip", options={}, css_classes=["cantelem-trip"],
                                        width=260)
        self.w_start = date_box(pn, self._on_bad_date, label="From",
                                css_classes=["cantelem-start"], width=170)
        self.w_end = date_box(pn, self._on_bad_date, label="To", css_classes=["cantelem-end"],
                              width=170)
        self.detail = pn.pane.Markdown("", css_classes=["cantelem-detail"],
                                       sizing_mode="stretch_width")
        self.share = pn.pane.Markdown("", css_classes=["cantelem-share"])  # the view as a URL
        self.replay_label = pn.pane.Markdown("", css_classes=["cantelem-replay"], width=300)
        self.w_signals = pn.widgets.MultiChoice(label="Signals", options=[], value=[],
                                                css_classes=["cantelem-signals"], width=340)
        self.w_xaxis = pn.widgets.Select(label="X axis", options=["time"], value="time",
                                         css_classes=["cantelem-xaxis"], width=150)
        self.xy: pd.DataFrame | None = None  # the table drawn against another axis than time
        self.w_player = pn.widgets.Player(label="Replay", start=0, end=100, value=0, step=1,
                                          interval=250, loop_policy="once",
                                          css_classes=["cantelem-player"], width=420)
        self.w_live = pn.widgets.Toggle(label="Live", value=False, color="success",
                                        css_classes=["cantelem-live"], width=80)
        self.w_pause = pn.widgets.Toggle(label="Pause", value=False, disabled=True,
                                         css_classes=["cantelem-pause"], width=80)
        self.w_theme = pn.widgets.RadioButtonGroup(options=["dark", "light"],
                                                   value=self.look.name, width=130,
                                                   css_classes=["cantelem-theme"])
        self.w_layout = pn.widgets.RadioButtonGroup(options=list(LAYOUTS), value="stacked",
                                                    css_classes=["cantelem-layout"], width=260)
        self.w_compare = pn.widgets.MultiChoice(label="Compare with", options=[], value=[],
                                                css_classes=["cantelem-compare"], width=220)
        self.browser = SignalBrowser(pn, self._pick_signal, self._pick_signals)
        self.title = pn.pane.Markdown("## cantelem: vehicle telemetry",
                                      styles={"color": self.look.title})
        self.w_csv = pn.widgets.FileDownload(callback=self._csv, filename="cantelem.csv",
                                             label="Export CSV", color="primary",
                                             css_classes=["cantelem-csv"], width=140)
        self.w_png = pn.widgets.FileDownload(callback=self._png, filename="cantelem.png",
                                             label="Export PNG", color="primary",
                                             css_classes=["cantelem-png"], width=140)
        self.stats = pn.pane.DataFrame(pd.DataFrame(), css_classes=["cantelem-stats"],
                                       sizing_mode="stretch_width")
        self.plots = pn.Column(sizing_mode="stretch_width", css_classes=["cantelem-plots"])
        self.map = pn.Column(width=360, css_classes=["cantelem-map"])
        self.replay_stream = hv.streams.Stream.define("Replay", t=0)()
        from ._events_view import EventsView

        self.events_view = EventsView(self.fleet, self._jump_to)
        self.cursors = Cursors(self)
        self._silent = False
        self.w_vehicle.param.watch(self._on_vehicle, "value")
        self.w_trip.param.watch(self._on_trip, "value")
        self.w_start.param.watch(self._on_range, "value")
        self.w_end.param.watch(self._on_range, "value")
        self.w_signals.param.watch(lambda e: None if self._silent else self._on_signals(), "value")
        self.w_xaxis.param.watch(lambda e: None if self._silent else self._redraw(), "value")
        self.w_player.param.watch(self._on_player, "value")
        self.w_live.param.watch(self._on_live, "value")
        self.w_pause.param.watch(self._on_pause, "value")
        self.w_theme.param.watch(lambda e: None if self._silent else self.set_theme(e.new),
                                 "value")
        self.w_layout.param.watch(lambda e: None if self._silent else self._redraw(), "value")
        self.w_compare.param.watch(lambda e: None if self._silent else self._redraw(), "value")
        if self.feed is not None:
            from ._live_view import FleetLiveView

            self.fleet_view = FleetLiveView(self.feed, on_select=self.show_live, lk=self.look)
        if not self.vehicles:
            if self.feed is not None:
                self.status.object = ("No decoded data in the store yet: showing what the "
                                      "vehicles publish live.")
                self.w_live.value = True
                return
            self.status.object = (f"**No data yet.** The store `{self.fleet.store.url}` has no "
                                  "decoded vehicle. Run the edge logger and `cantelem decode`.")
            return
        self._on_vehicle(None)
        if self.feed is not None and _config_live_start():
            self.w_live.value = True

    def panel(self):
        """The dashboard layout (display it in a notebook or Voilà)."""
        pn = self.pn
        pause = [self.w_pause] if self.feed is not None else []  # live streaming only
        # wraps on a narrow window (1024 px, a tablet) instead of pushing buttons off screen
        controls = pn.FlexBox(self.w_vehicle, self.w_trip, self.w_start, self.w_end,
                              self.w_signals, self.w_compare, self.w_xaxis, self.w_live,
                              *pause, self.w_csv, self.w_png,
                              self.w_layout, self.w_theme,
                              flex_wrap="wrap", align_items="flex-end",
                              sizing_mode="stretch_width", css_classes=["cantelem-controls"])
        body = pn.Row(self.plots, pn.Column(self.browser.layout, self.map,
                                            self.events_view.layout, width=380))
        # the statistics under the plots, the page's width (beside the map they were cut
        # off), a direct child of the page's column like the plots (see below)
        items = [controls, pn.Row(self.w_player, self.replay_label), self.status, self.share,
                 self.detail, body, self.cursors.layout, self.stats]
        if self.feed is not None:
            from ._live_stream import page_ready
            from ._live_view import page_ready_component

            # a switch rather than pn.Tabs, the vehicle view's parts staying direct children
            # of the page's column: nested in a Tabs or a Column, the HoloViews plots stopped
            # re-downsampling on zoom (browser test 4)
            fleet = self.fleet_view.layout
            fleet.visible = False
            self.w_view = pn.widgets.RadioButtonGroup(
                options=["Vehicle", "Fleet live"], value="Vehicle", button_type="default",
                css_classes=["cantelem-view"], width=220)
            vehicle_items = list(items)

            def switch(event):
                for it in vehicle_items:
                    it.visible = event.new == "Vehicle"
                fleet.visible = event.new != "Vehicle"

            self.w_view.param.watch(switch, "value")
            items = [self.w_view, *items, fleet, page_ready_component(lambda: page_ready(self))]
        self.page = pn.Column(self.title, *items, styles=self.look.page_styles(),
                              sizing_mode="stretch_width", css_classes=["cantelem-dashboard"])
        return self.page

    def fleet_panel(self):
        """The fleet live view alone (``notebooks/fleet_live.ipynb``): every vehicle on the
        broker; a vehicle's button opens its live plots below."""
        from ._live_stream import fleet_panel

        return fleet_panel(self)

    # ---- events ----------------------------------------------------------------------------------
    def _on_vehicle(self, event) -> None:
        if self._silent and event is not None:
            return
        v = self.w_vehicle.value
        if v not in self.vehicles:  # a vehicle seen only live
            self._live_restart()
            return
        sigs = sorted(s for s in self.fleet.signals(v) if "." not in s)
        sigs += sorted(set(self.fleet.derived_for(v)) - set(sigs))  # calculated signals
        self._silent = True  # one redraw at the end, not one per widget change
        self.w_signals.options = sigs
        self.browser.show(signal_tree(self.fleet, v))
        keep = [s for s in self.w_signals.value if s in sigs]
        self.w_signals.value = keep or [s for s in DEFAULT_SIGNALS if s in sigs][:2] or sigs[:1]
        x = self.w_xaxis.value
        self.w_xaxis.options = axis_options(sigs)
        self.w_compare.options = [o for o in self.vehicles if o != v]
        self.w_compare.value = [o for o in self.w_compare.value if o != v]
        self.w_xaxis.value = x if x in self.w_xaxis.options else "time"
        trips = self.fleet.trips(v)
        opts = {"whole recording": "all"}
        for _, r in trips.iterrows():
            opts[f"{_fmt(r['start'])} ({pd.Timedelta(r['duration']).round('s')})"] = (
                pd.Timestamp(r["start"]), pd.Timestamp(r["end"]))
        t0, t1 = self._full_span()
        if t1 is not None and not pd.isna(t1):  # quick ranges: the newest minutes
            for name, span in QUICK_RANGES.items():
                opts[name] = (max(pd.Timestamp(t1) - pd.Timedelta(span), pd.Timestamp(t0)),
                              pd.Timestamp(t1))
        self.w_trip.options = opts
        self.w_trip.value = "all"
        self._show_range(t0, t1)
        self._silent = False
        if self.live_plots is not None:
            self._live_restart()
            return
        self._redraw()

    def _full_span(self) -> tuple[Any, Any]:
        cov = self.fleet.coverage().set_index("vehicle")
        v = self.w_vehicle.value
        return (cov.loc[v, "start"], cov.loc[v, "end"]) if v in cov.index else (None, None)

    def _on_trip(self, event) -> None:
        if getattr(self, "_silent", False):
            return
        t0, t1 = self._full_span() if event.new == "all" else event.new
        self._silent = True
        self._show_range(t0, t1)
        self._silent = False
        self._redraw()

    def _show_range(self, t0: Any, t1: Any) -> None:
        """Set the From / To boxes to [t0, t1] widened to whole seconds (what they show: the
        page would send back the rounded text as a change of its own, drawing again)."""
        self.w_start.value = box_time(t0)
        self.w_end.value = box_time(t1, up=True)

    def _on_range(self, event) -> None:
        if not getattr(self, "_silent", False):
            self._redraw()

    def _on_bad_date(self, box, text: str) -> None:
        t0, t1 = self.range
        shown = f" The plots still show {t0:%Y-%m-%d %H:%M:%S} to {t1:%Y-%m-%d %H:%M:%S}." \
            if t0 is not None and t1 is not None else ""
        self.status.object = (f"**{box.label.split(' (')[0]}: {text!r} is not a date**; "
                              f"expected e.g. 2026-03-01 23:56:00 or 2026-03-01T23:56.{shown}")

    def _span(self) -> tuple[Any, Any]:
        if self.w_start.value is not None and self.w_end.value is not None:
            return pd.Timestamp(self.w_start.value), pd.Timestamp(self.w_end.value)
        return self._full_span()

    def apply_view(self, query: str | None) -> list[str]:
        """Open the view a URL query names (``vehicle``, ``signals``, ``from``, ``to``,
        ``x``; see :mod:`._view_state`); returns the problems found (also on the page)."""
        return apply_view(self, query)

    def _redraw(self) -> None:
        try:
            self._draw()
            self.share.object = f"[Link to this view](?{view_query(self)})"
        except Exception as err:  # shown on the page, never a traceback
            log.exception("dashboard")
            self.status.object = f"**Cannot draw:** {type(err).__name__}: {err}"

    def _draw(self) -> None:
        v, sigs = self.w_vehicle.value, list(self.w_signals.value)
        if v is None:
            return
        t0, t1 = self._span()
        self.range = (t0, t1)
        self.shaded = None  # until draw_time shades the view again
        self.w_player.end = max(1, int((pd.Timestamp(t1) - pd.Timestamp(t0)).total_seconds())) \
            if t0 is not None and t1 is not None and not pd.isna(t0) else 1
        self.w_player.value = 0
        if not sigs:
            self.plots.objects = []
            self.status.object = "Choose one or more signals."
            return
        self.xy = None
        if t0 is not None and t1 is not None and pd.Timestamp(t0) >= pd.Timestamp(t1):
            self.plots.objects, self.shown = [], {}
            self.status.object = (f"**From** ({_fmt(t0)}) is not before **To** ({_fmt(t1)}): "
                                  "choose a range that starts before it ends.")
            return
        if self.w_xaxis.value != "time":
            from ._xy_view import draw_xy

            draw_xy(self, v, sigs, t0, t1)
            return
        draw_time(self, v, sigs, t0, t1)

    def color_of(self, sig: str) -> str:
        """``sig``'s colour: the first one free in the palette when first drawn, then kept."""
        if sig not in self.colors:
            free = [c for c in PALETTE if c not in self.colors.values()]
            self.colors[sig] = free[0] if free else PALETTE[len(self.colors) % len(PALETTE)]
        return self.colors[sig]

    def _update_stats(self, t0, t1) -> None:
        update_stats(self, t0, t1)

    def _draw_map(self, v: str, t0, t1) -> None:
        draw_map(self, v, t0, t1)

    def _replay_time(self, t: float):
        t0 = self._span()[0]
        base = pd.Timestamp(0) if t0 is None or pd.isna(t0) else pd.Timestamp(t0)
        return base + pd.Timedelta(seconds=float(t))

    def _jump_to(self, t0: pd.Timestamp, t1: pd.Timestamp) -> None:
        """Show [t0, t1] (an event's click)."""
        self._silent = True
        self._show_range(t0, t1)
        self._silent = False
        self._redraw()

    def _on_player(self, event) -> None:
        self.replay_stream.event(t=event.new)
        self.replay_label.object = f"replay: {_fmt(self._replay_time(event.new))}"

    def set_theme(self, name: str, redraw: bool = True) -> None:
        """Show the page in the ``"dark"`` or ``"light"`` look (:mod:`._theme`)."""
        self.look = look(name)
        self._silent, was = True, self._silent  # the button follows without a redraw
        self.w_theme.value = name
        self._silent = was
        self.title.styles = {"color": self.look.title}
        if getattr(self, "page", None) is not None:
            self.page.styles = self.look.page_styles()
        for live in (getattr(self, "live_plots", None), getattr(self, "fleet_view", None)):
            if live is not None:  # Bokeh figures of their own: coloured in place
                live.restyle(self.look)
        if redraw and getattr(self, "live_plots", None) is None:  # live plots stay
            self._redraw()

    def _pick_signal(self, value: str) -> None:
        """A signal picked in the browser: added to the plots."""
        if value not in self.w_signals.value:
            self.w_signals.value = [*self.w_signals.value, value]

    def _pick_signals(self, values: list[str]) -> None:
        """Every signal the browser lists ("Add all"): added to the plots at once."""
        self.w_signals.value = [*self.w_signals.value,
                                *[s for s in values if s not in self.w_signals.value]]

    def _on_signals(self) -> None:
        if self.live_plots is not None:
            self._live_restart()
        else:
            self._redraw()

    # ---- live ------------------------------------------------------------------------------------
    def _on_live(self, event) -> None:
        if self.feed is not None:
            from ._live_stream import start_live, stop_live

            (start_live if event.new else stop_live)(self)
            return
        if event.new:
            self._live_cb = self.pn.state.add_periodic_callback(self._live_tick,
                                                               period=self.live_interval_ms)
            self._live_tick()
        elif self._live_cb is not None:
            self._live_cb.stop()
            self._live_cb = None

    def _live_tick(self) -> None:
        from ._live_stream import store_tick

        store_tick(self)

    def _on_pause(self, event) -> None:
        if self.live_plots is not None:
            self.live_plots.set_paused(bool(event.new))

    def _live_restart(self) -> None:
        if self.feed is not None and self.w_live.value:
            from ._live_stream import start_live

            start_live(self)

    def show_live(self, vehicle: str) -> None:
        """Open ``vehicle``'s live plots (the fleet view's click)."""
        from ._live_stream import show_live

        show_live(self, vehicle)

    # ---- export ----------------------------------------------------------------------------------
    def _csv(self) -> io.StringIO:
        """The shown signals' visible range, full resolution, time-aligned (or as drawn)."""
        return view_csv(self)

    def _png(self) -> io.BytesIO:
        """The view as drawn, rendered on the server (``_png_export.py``)."""
        from ._png_export import view_png

        return view_png(self)
