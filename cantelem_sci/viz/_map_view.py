"""The dashboard's GPS track: the path of the range without map tiles (nothing to fetch
from a tile server) and the replay position as a marker that follows the scrubber."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["draw_map"]


def draw_map(dash: Any, v: str, t0: Any, t1: Any) -> None:
    """Draw ``v``'s track in [t0, t1] into ``dash.map`` (a :class:`Dashboard`); when the map
    on the page is one this function drew in the same look, only its data are swapped."""
    track = _track(dash, v, t0, t1)
    if isinstance(track, str):
        dash.map.objects = [dash.pn.pane.Markdown(track)]
        return
    m = getattr(dash, "map_view", None)
    shown = dash.map.objects
    if m is not None and m["look"] == dash.look.name and len(shown) == 1 and shown[0] is m["pane"]:
        m["track"] = track
        m["pipe"].send(track[["lon", "lat"]].values)
        return
    dash.map_view = _new_map(dash, track)


def _track(dash: Any, v: str, t0: Any, t1: Any) -> pd.DataFrame | str:
    """``v``'s fixes in [t0, t1] (lon, lat, time), or why there are none."""
    try:
        g = dash.fleet.gps_track(v, t0, t1, max_points=3000)
    except Exception:  # no GPS message for this vehicle
        return "No GPS track for this vehicle."
    lat, lon = g["Latitude"].values, g["Longitude"].values
    ok = ~(np.isnan(lat) | np.isnan(lon))
    if not ok.any():
        return "No GPS fix in this range."
    return pd.DataFrame({"lon": lon[ok], "lat": lat[ok], "time": g["time"].values[ok]})


def _new_map(dash: Any, track: pd.DataFrame) -> dict:
    """A new map of ``track`` into ``dash.map``; returns what swapping its data needs."""
    hv = dash.hv
    state = {"track": track, "look": dash.look.name}
    pipe = hv.streams.Pipe(data=track[["lon", "lat"]].values)

    def marker(t: float = 0, data: Any = None):
        tr = state["track"]
        when = np.datetime64(dash._replay_time(t))
        i = min(int(np.searchsorted(tr["time"].values, when)), len(tr) - 1)
        return hv.Points([(tr["lon"].iloc[i], tr["lat"].iloc[i])]).opts(color="#ff5252", size=10)

    path = hv.DynamicMap(lambda data: hv.Path([data]).opts(color="#4fc3f7", line_width=2),
                         streams=[pipe])
    plot = (path * hv.DynamicMap(marker, streams=[dash.replay_stream, pipe])).opts(
        hv.opts.Path(framewise=True), hv.opts.Points(framewise=True)).opts(
        width=340, height=300, xlabel="longitude", ylabel="latitude", data_aspect=1,
        tools=["hover"], **dash.look.plot_opts())
    state["pipe"] = pipe
    state["pane"] = dash.pn.pane.HoloViews(plot, backend="bokeh", theme=dash.look.bokeh)
    dash.map.objects = [state["pane"]]
    return state
