"""The dashboard's live mode with a broker: switching it on and off, the fast tick that
streams new samples into the plots (every ``live_tick_ms``, 50 ms by default), and the slow
tick (1 s) for statistics, the status line, the vehicle list and the fleet view; and the
tick of live mode without a broker (:func:`store_tick`).

Functions of a :class:`~._dashboard.Dashboard` (kept here so each module holds one concept).
"""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from ._live_view import LivePlots, live_age

log = logging.getLogger("cantelem_sci.viz")

LIVE_DEFAULT_SIGNALS = ("VehicleSpeed", "PackCurrent", "SOC")


def _signals_for(dash: Any, vehicle: str) -> list[str]:
    """The signals to stream: the chosen ones, else defaults the vehicle publishes."""
    live = set(dash.feed.units(vehicle)) | set(dash.feed.window(vehicle))
    chosen = [s for s in dash.w_signals.value if s in live or not live]
    if chosen:
        return chosen
    return [s for s in LIVE_DEFAULT_SIGNALS if s in live] or sorted(live)[:2]


def _sync_vehicle_options(dash: Any) -> None:
    seen = dash.feed.vehicles
    opts = list(dash.vehicles) + [v for v in seen if v not in dash.vehicles]
    if opts != list(dash.w_vehicle.options):
        dash._silent = True
        cur = dash.w_vehicle.value
        dash.w_vehicle.options = opts
        dash.w_vehicle.value = cur if cur in opts else (opts[0] if opts else None)
        dash._silent = False


def start_live(dash: Any) -> None:
    """(Re)build the live plots of the selected vehicle and start streaming."""
    pn = dash.pn
    stop_ticks(dash)
    dash.w_pause.disabled = False
    if not dash.page_is_ready:  # built again, and ticking, once the page is shown
        dash.status.object = "**Live:** connecting ..."
        return
    _sync_vehicle_options(dash)
    v = dash.w_vehicle.value
    if v is None:
        dash.plots.objects = []
        dash.status.object = f"**Live:** no vehicle on the broker yet ({dash.feed.connection})."
        dash._live_fast = pn.state.add_periodic_callback(lambda: _wait_for_vehicle(dash),
                                                         period=500)
        return
    if v not in dash.vehicles:  # only live: its signal list comes from the broker
        names = sorted(set(dash.feed.units(v)) | set(dash.feed.window(v)))
        dash._silent = True
        dash.w_signals.options = names
        dash._silent = False
    sigs = _signals_for(dash, v)
    if list(dash.w_signals.value) != sigs and all(s in dash.w_signals.options for s in sigs):
        dash._silent = True
        dash.w_signals.value = sigs
        dash._silent = False
    dash.detail.object = ""
    lp = LivePlots(dash.feed, v, sigs, dash.live_window_s, dash.feed.units(v),
                   tick_ms=dash.live_tick_ms, lk=dash.look)
    lp.set_paused(bool(dash.w_pause.value))
    dash.live_plots = lp
    from bokeh.layouts import column

    dash.plots.objects = [pn.pane.Bokeh(column(*lp.figures, sizing_mode="stretch_width"),
                                        sizing_mode="stretch_width",
                                        css_classes=["cantelem-live-plots"])]
    dash.map.objects = [pn.pane.Bokeh(lp.map_figure())]
    slow_tick(dash)
    dash._live_fast = pn.state.add_periodic_callback(lambda: fast_tick(dash),
                                                     period=dash.live_tick_ms)
    dash._live_slow = pn.state.add_periodic_callback(lambda: slow_tick(dash), period=1000)


def _wait_for_vehicle(dash: Any) -> None:
    if dash.feed.vehicles:
        start_live(dash)


def stop_ticks(dash: Any) -> None:
    for name in ("_live_fast", "_live_slow"):
        cb = getattr(dash, name, None)
        if cb is not None:
            cb.stop()
            setattr(dash, name, None)


def stop_live(dash: Any) -> None:
    """Back to the stored data (the batch view)."""
    stop_ticks(dash)
    dash.live_plots = None
    dash.w_pause.value = False
    dash.w_pause.disabled = True
    if dash.w_vehicle.value in dash.vehicles:
        dash._on_vehicle(None)
    else:
        dash.plots.objects = []
        dash.status.object = "Live mode off; this vehicle has no decoded data in the store yet."


def fast_tick(dash: Any) -> None:
    lp = dash.live_plots
    if lp is None:
        return
    try:
        lp.tick()
    except Exception as err:  # shown on the page, never a traceback
        log.exception("live tick")
        dash.status.object = f"**Live:** {type(err).__name__}: {err}"


def slow_tick(dash: Any) -> None:
    lp = dash.live_plots
    if lp is None:
        return
    try:
        dash.stats.object = lp.stats()
        state = live_age(dash.feed, lp.vehicle)
        paused = " (paused)" if lp.paused else ""
        msg = f"**Live{paused}:** {lp.vehicle} {state}; {dash.feed.connection}"
        if dash.feed.last_error and not dash.feed.connected:
            msg += f"  \n{dash.feed.last_error}"
        dash.status.object = msg
        _sync_vehicle_options(dash)
    except Exception as err:
        log.exception("live status")
        dash.status.object = f"**Live:** {type(err).__name__}: {err}"


def page_ready(dash: Any) -> None:
    """The page is shown and connected to the kernel: start the ticks. Changes made between
    the notebook's execution and the browser's connection never reach the page (Voilà), so
    the live plots are built again now and the fleet view starts ticking only now. The
    broker subscription starts here too, so a pre-heated kernel costs nothing."""
    dash.page_is_ready = True
    dash.feed.start()
    if dash.fleet_view is not None and getattr(dash, "_fleet_cb", None) is None:
        fleet_tick(dash)
        dash._fleet_cb = dash.pn.state.add_periodic_callback(lambda: fleet_tick(dash),
                                                            period=1000)
    if dash.w_live.value:
        start_live(dash)


def fleet_tick(dash: Any) -> None:
    if dash.fleet_view is None:
        return
    try:
        dash.fleet_view.tick()
    except Exception as err:
        log.exception("fleet view")
        dash.fleet_view.note.object = f"**Fleet live:** {type(err).__name__}: {err}"


def show_live(dash: Any, vehicle: str) -> None:
    """Open ``vehicle``'s live plots from the fleet view."""
    _sync_vehicle_options(dash)
    if hasattr(dash, "w_view"):
        dash.w_view.value = "Vehicle"
    dash._silent = True
    dash.w_vehicle.value = vehicle
    dash._silent = False
    if dash.w_live.value:
        start_live(dash)
    else:
        dash.w_live.value = True


def fleet_panel(dash: Any):
    """The fleet live view of ``dash`` (a :class:`Dashboard`) alone: every vehicle on the
    broker, and the live plots of the one picked."""
    from ._live_view import page_ready_component

    pn = dash.pn
    if dash.feed is None:
        return pn.pane.Markdown("**Fleet live:** no broker configured: give the dashboard "
                                "`mqtt=` or set `CANTELEM_MQTT` (see docs/live.md).",
                                css_classes=["cantelem-fleet-note"])
    return pn.Column(pn.pane.Markdown("## cantelem: fleet live", styles={"color": "#eee"}),
                     dash.fleet_view.layout, dash.status, dash.plots,
                     page_ready_component(lambda: page_ready(dash)),
                     styles={"background": "#1e1e1e", "color": "#ddd", "padding": "8px"},
                     sizing_mode="stretch_width", css_classes=["cantelem-dashboard"])


def store_tick(dash: Any) -> None:
    """Live without a broker: the newest frames a local edge logger made durable."""
    v = dash.w_vehicle.value
    try:
        recent = dash.fleet.recent(v, list(dash.w_signals.value), window="60s")
    except Exception as err:
        dash.status.object = f"**Live:** {type(err).__name__}: {err}"
        return
    newest = recent.attrs.get("newest")
    if newest is None:
        dash.status.object = "**Live:** no frame from the edge logger yet."
        return
    dash.live_data = recent
    lag = (pd.Timestamp.utcnow().tz_convert(None) - pd.Timestamp(newest)).total_seconds()
    when = pd.Timestamp(newest).strftime("%Y-%m-%d %H:%M:%S")
    dash.status.object = f"**Live:** newest frame {when} (lag {lag:.1f} s)"
