"""The live plots' per-tick reduction (M4): exact samples, the extremes of every slice kept."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from cantelem_sci.viz._live_view import m4, m4_buckets

values = st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=60)


@given(values)
def test_m4_keeps_first_last_and_extremes(v):
    v = np.array(v)
    keep = m4(np.arange(len(v)), v)
    assert (np.diff(keep) > 0).all() and len(keep) <= 4
    assert keep[0] == 0 and keep[-1] == len(v) - 1
    assert v[keep].min() == v.min() and v[keep].max() == v.max()


@given(values, st.integers(1, 20))
def test_m4_buckets_keep_the_extremes_of_each_slice(v, width):
    v = np.array(v)
    t = np.arange(len(v)) * 3
    keep = m4_buckets(t, v, width)
    assert (np.diff(keep) > 0).all()
    bucket = (t - t[0]) // width
    for b in np.unique(bucket):
        mine = keep[bucket[keep] == b]
        whole = v[bucket == b]
        assert 1 <= len(mine) <= 4
        assert v[mine].min() == whole.min() and v[mine].max() == whole.max()


class _QuietFeed:
    """A live feed with nothing received yet (what the plots read when they start)."""

    def since(self, vehicle, cursor, signals):
        return 0, {}

    def latest(self, vehicle, signals):
        return {}

    def fleet(self, keys):
        return []


def test_live_plots_and_maps_take_the_look_and_follow_a_switch():
    """The live plots, their map and the fleet map are Bokeh figures of their own: drawn in
    the page's look (they were dark in the light look), and recoloured in place when the
    look changes."""
    from cantelem_sci.viz._live_view import FleetLiveView, LivePlots
    from cantelem_sci.viz._theme import look

    light, dark = look("light"), look("dark")
    lp = LivePlots(_QuietFeed(), "EV0001", ["SOC", "VehicleSpeed"], 60.0, lk=light)
    figs = [*lp.figures, lp.map_figure()]
    fleet = FleetLiveView(_QuietFeed(), lk=light)

    def colours(fig):
        return (fig.background_fill_color, fig.border_fill_color, fig.title.text_color,
                fig.xaxis[0].major_label_text_color, fig.yaxis[0].axis_line_color,
                fig.grid[0].grid_line_color)

    want_light = (light.plot, light.border, light.text, light.label, light.axis, light.grid)
    for fig in [*figs, fleet.map]:
        assert colours(fig) == want_light
    assert fleet.labels.text_color == light.text
    lp.restyle(dark)
    fleet.restyle(dark)
    for fig in [*figs, fleet.map]:
        assert colours(fig) == (dark.plot, dark.border, dark.text, dark.label, dark.axis,
                                dark.grid)
    assert fleet.labels.text_color == dark.text
