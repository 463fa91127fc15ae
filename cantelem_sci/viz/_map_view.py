"""The dashboard's GPS track: the path of the range without map tiles (nothing to fetch
from a tile server) and the replay position as a marker that follows the scrubber."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["draw_map"]


def draw_map(dash: Any, v: str, t0: Any, t1: Any) -> None:
    """Draw ``v``'s track in [t0, t1] into ``dash.map`` (a :class:`Dashboard`)."""
    hv = dash.hv
    try:
        g = dash.fleet.gps_track(v, t0, t1, max_points=3000)
    except Exception:  # no GPS message for this vehicle
        dash.map.objects = [dash.pn.pane.Markdown("No GPS track for this vehicle.")]
        return
    lat, lon = g["Latitude"].values, g["Longitude"].values
    ok = ~(np.isnan(lat) | np.isnan(lon))
    if not ok.any():
        dash.map.objects = [dash.pn.pane.Markdown("No GPS fix in this range.")]
        return
    track = pd.DataFrame({"lon": lon[ok], "lat": lat[ok], "time": g["time"].values[ok]})

    def marker(t: float = 0):
        when = np.datetime64(dash._replay_time(t))
        i = min(int(np.searchsorted(track["time"].values, when)), len(track) - 1)
        return hv.Points([(track["lon"].iloc[i], track["lat"].iloc[i])]).opts(color="#ff5252",
                                                                              size=10)

    path = hv.Path([track[["lon", "lat"]].values]).opts(color="#4fc3f7", line_width=2)
    plot = (path * hv.DynamicMap(marker, streams=[dash.replay_stream])).opts(
        width=340, height=300, xlabel="longitude", ylabel="latitude", data_aspect=1,
        tools=["hover"], **dash.look.plot_opts())
    dash.map.objects = [dash.pn.pane.HoloViews(plot, backend="bokeh", theme=dash.look.bokeh)]
