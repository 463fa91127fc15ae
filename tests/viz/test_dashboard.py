"""The dashboard object itself (no browser): bad input is reported on the page."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import cantelem_sci as ct
from tests.viz._pages import image_extent, kernels, png_drawn

pytestmark = pytest.mark.slow


def test_empty_store_says_so(tmp_path):
    from cantelem_sci.viz import Dashboard

    d = Dashboard(str(tmp_path))
    assert "No data yet" in d.status.object and str(tmp_path) in d.status.object
    d.panel()  # renders without a vehicle


def test_range_without_data_and_nan_signal_are_reported(decoded_store):
    from cantelem_sci.viz import Dashboard

    d = Dashboard(str(decoded_store[0]))
    assert d.w_vehicle.options == ["EV0001", "EV0002"]
    assert "2 signal(s)" in d.status.object
    # a range inside nothing (before the recording)
    d.w_start.value = np.datetime64("2026-03-01T10:00:00").astype(object)
    d.w_end.value = np.datetime64("2026-03-01T11:00:00").astype(object)
    assert ("No data** of VehicleSpeed, PackCurrent for EV0001 between 2026-03-01 10:00:00 "
            "and 2026-03-01 11:00:00") in d.status.object and d.plots.objects == []
    d.w_vehicle.value = "EV0002"
    assert "EV0002" in d.status.object
    csv = d._csv().getvalue().splitlines()
    assert csv[0].startswith("time,") and len(csv) > 100


def test_a_signal_keeps_its_colour_whatever_else_is_shown(decoded_store):
    from cantelem_sci.viz import Dashboard
    from cantelem_sci.viz._dashboard import PALETTE

    d = Dashboard(str(decoded_store[0]))
    d.w_signals.value = ["VehicleSpeed", "PackCurrent"]
    speed, current = d.color_of("VehicleSpeed"), d.color_of("PackCurrent")
    assert speed != current and {speed, current} <= set(PALETTE)
    d.w_signals.value = ["PackCurrent"]  # first now: it used to take the first colour
    assert d.color_of("PackCurrent") == current
    d.w_signals.value = ["SOC", "PackCurrent", "VehicleSpeed"]
    assert d.color_of("SOC") not in (speed, current)
    assert (d.color_of("PackCurrent"), d.color_of("VehicleSpeed")) == (current, speed)


def test_the_signal_browser_groups_by_ecu_and_message_with_units(decoded_store):
    """Every decoded signal once, under ``ECU · message`` from the DBC's senders, with its
    unit; the search box keeps what matches every word; a pick adds the signal."""
    from cantelem_sci.viz import Dashboard

    d = Dashboard(str(decoded_store[0]))
    fleet = ct.open_fleet(decoded_store[0])
    groups = d.browser.tree.groups
    listed = {v for opts in groups.values() for v in opts.values() if v}
    want = {s for s in fleet.signals("EV0001") if "." not in s} | set(fleet.derived_for("EV0001"))
    assert listed == want
    assert groups["BMS · BMS_PackStatus"]["SOC [%]"] == "SOC"
    assert groups["calculated"]["PackPower [kW]"] == "PackPower"
    d.browser.find.value_input = "bms cell17"
    assert {g: list(o.values()) for g, o in d.browser.tree.groups.items() if g} == {
        "BMS · BMS_CellVoltages": ["Cell17_Voltage"]}
    d.browser.tree.value = "Cell17_Voltage"
    assert d.w_signals.value[-1] == "Cell17_Voltage" and d.browser.tree.value == ""
    assert "Cell17_Voltage: " in d.detail.object
    d.browser.find.value_input = "no such thing"
    assert list(d.browser.tree.groups) == [""]
    assert "no signal matches" in next(iter(d.browser.tree.groups[""]))


def test_light_and_dark_looks_and_their_link(decoded_store):
    from cantelem_sci.viz import Dashboard

    d = Dashboard(str(decoded_store[0]))
    page = d.panel()
    assert page.styles["background"] == "#1e1e1e" and "theme=" not in d.share.object
    d.w_theme.value = "light"
    assert page.styles["background"] == "#ffffff" and d.plots.objects[0].theme == "light_minimal"
    assert "theme=light" in d.share.object
    other = Dashboard(str(decoded_store[0]))
    other.panel()
    assert other.apply_view("vehicle=EV0001&theme=light") == []
    assert other.look.name == "light" and other.page.styles["background"] == "#ffffff"
    assert other.apply_view("theme=pink") == ["theme 'pink' is not dark or light"]
    with pytest.raises(ct.errors.UnknownNameError, match="dashboard theme 'lite'.*light"):
        Dashboard(str(decoded_store[0]), theme="lite")


@pytest.mark.parametrize("layout, plots, axes", [("stacked", 3, 3), ("one axis", 1, 1),
                                                  ("axis each", 1, 3)])
def test_signals_stacked_on_one_axis_or_an_axis_each(decoded_store, layout, plots, axes):
    """Three signals as three plots, or in one plot on one y axis, or one y axis each,
    every signal's samples drawn in its own colour."""
    import holoviews as hv
    from bokeh.models import ColumnDataSource, GlyphRenderer, LinearAxis

    from cantelem_sci.viz import Dashboard

    d = Dashboard(str(decoded_store[0]))
    d.w_signals.value = ["VehicleSpeed", "PackCurrent", "SOC"]
    d.w_layout.value = layout
    fig = hv.render(d.plots.objects[0].object)
    figs = [fig] if hasattr(fig, "renderers") else [f for f, *_ in fig.children]
    assert len(figs) == plots
    assert sum(isinstance(a, LinearAxis) for f in figs for a in f.left + f.right) == axes
    drawn = {}
    for f in figs:
        for r in f.renderers:
            if isinstance(r, GlyphRenderer) and isinstance(r.data_source, ColumnDataSource):
                for sig in ("VehicleSpeed", "PackCurrent", "SOC"):
                    if sig in r.data_source.data:
                        drawn[sig] = (r.glyph.line_color, len(r.data_source.data[sig]))
    assert {s: c for s, (c, _) in drawn.items()} == {s: d.color_of(s) for s in drawn}
    assert set(drawn) == {"VehicleSpeed", "PackCurrent", "SOC"}
    assert all(n == len(d.shown[s]) for s, (_, n) in drawn.items())
    if layout != "stacked":
        assert f"({layout})" in d.status.object


@pytest.mark.parametrize("layout", ["stacked", "axis each"])
def test_another_vehicle_is_drawn_over_the_same_signals(decoded_store, layout):
    """EV0001 compared on EV0002's page: each signal's plot also holds EV0001's samples of
    that signal in the range (dashed, named in the legend); the statistics, the samples
    counted and the link stay EV0002's and name the comparison."""
    import holoviews as hv
    from bokeh.models import ColumnDataSource, GlyphRenderer

    from cantelem_sci.viz import Dashboard

    d = Dashboard(str(decoded_store[0]))
    d.w_vehicle.value = "EV0002"
    d.w_signals.value = ["VehicleSpeed", "SOC"]
    d.w_layout.value = layout
    assert d.w_compare.options == ["EV0001"]
    shown = {s: len(df) for s, df in d.shown.items()}
    stats = d.stats.object.copy()
    d.w_compare.value = ["EV0001"]
    assert "compared with EV0001" in d.status.object and "compare=EV0001" in d.share.object
    fig = hv.render(d.plots.objects[0].object)
    figs = [fig] if hasattr(fig, "renderers") else [f for f, *_ in fig.children]
    drawn = {}
    for f in figs:
        for r in f.renderers:
            if isinstance(r, GlyphRenderer) and isinstance(r.data_source, ColumnDataSource):
                for sig in ("VehicleSpeed", "SOC"):
                    if sig in r.data_source.data:
                        drawn.setdefault(sig, []).append(
                            (r.glyph.line_dash, np.asarray(r.data_source.data[sig])))
    t0, t1 = d.range
    for sig in ("VehicleSpeed", "SOC"):
        (own_dash, own), (cmp_dash, cmp) = drawn[sig]
        assert own_dash == [] and cmp_dash == [6]  # solid, and bokeh's "dashed"
        want = d.fleet.load("EV0001", sig, t0, t1, max_points=d.max_points, gap="30s")[sig]
        np.testing.assert_array_equal(cmp, want.values)
        assert len(own) == shown[sig] == len(d.shown[sig])
    assert d.stats.object.equals(stats)
    other = Dashboard(str(decoded_store[0]))
    assert other.apply_view("vehicle=EV0002&compare=EV0001,EV9") == [
        "cannot compare with 'EV9'"]
    assert other.w_compare.value == ["EV0001"]


def test_a_link_naming_what_the_store_has_not_is_explained(decoded_store):
    """A shared link with a misspelt signal draws the signals it can and says on the page
    which one it could not, with the close match."""
    from cantelem_sci.viz import Dashboard

    d = Dashboard(str(decoded_store[0]))
    problems = d.apply_view("vehicle=EV0002&signals=SOC,Pack_Power")
    assert len(problems) == 1 and "'Pack_Power'" in problems[0] and "PackPower" in problems[0]
    assert "Link:" in d.status.object and "did you mean PackPower" in d.status.object
    assert d.w_vehicle.value == "EV0002" and list(d.w_signals.value) == ["SOC"]
    assert "SOC" in d.shown


@pytest.mark.parametrize("layout", ["stacked"])
def test_another_vehicle_or_range_swaps_the_data_of_the_plots_on_the_page(decoded_store, layout):
    """Switching vehicle (or range) with the same signals keeps the plots and the map on the
    page and swaps their data (new plots took the kernel 0.4-1 s and the browser more): the
    plots hold exactly what the new vehicle's signals load in its range, and the map its GPS
    track; other signals make new plots. (Browser test 2 reads the data the page holds.)"""
    import holoviews as hv
    from bokeh.models import ColumnDataSource

    from cantelem_sci.viz import Dashboard

    d = Dashboard(str(decoded_store[0]))
    d.w_layout.value = layout
    pane, track = d.plots.objects[0], d.map.objects[0]
    sigs = list(d.w_signals.value)
    # the plots as a page holds them: drawn once, then updated by their streams
    plots = {k: hv.renderer("bokeh").get_plot(p.object) for k, p in (("t", pane), ("m", track))}

    def drawn(which, name):
        return [np.asarray(s.data[name]) for s in plots[which].state.select(
            {"type": ColumnDataSource}) if name in s.data]

    for v, t_end in (("EV0002", None), ("EV0001", None), ("EV0001", "2026-03-02 00:01:00")):
        d.w_vehicle.value = v
        if t_end:
            d.w_end.value = pd.Timestamp(t_end).to_pydatetime()
        assert d.plots.objects[0] is pane and d.map.objects[0] is track
        t0, t1 = d.range
        for sig in sigs:
            want = d.fleet.load(v, sig, t0, t1, max_points=d.max_points, gap="30s")[sig]
            (got,) = drawn("t", sig)
            np.testing.assert_array_equal(got, want.values)
        g = d.fleet.gps_track(v, t0, t1, max_points=3000)
        (lon,) = drawn("m", "xs")
        ok = ~np.isnan(g["Longitude"].values) & ~np.isnan(g["Latitude"].values)
        np.testing.assert_array_equal(np.ravel(lon[0]), g["Longitude"].values[ok])
    d.w_signals.value = [*sigs, "SOC"]
    assert d.plots.objects[0] is not pane


def test_a_switch_draws_once_and_the_pages_echo_of_the_dates_not_again(decoded_store):
    """The page sends back what a From / To box shows as a change of its own: a box set to
    a time it cannot show (below the second) changed again on that echo and drew again (a
    vehicle switch drew three times). A vehicle, trip or event switch now draws once, the
    boxes hold its range widened to whole seconds, and the echo of their text draws
    nothing."""
    from cantelem_sci.viz import Dashboard

    d = Dashboard(str(decoded_store[0]))
    draws = []
    draw = d._draw
    d._draw = lambda: (draws.append(d.range), draw())
    switches = {"vehicle": lambda: setattr(d.w_vehicle, "value", "EV0002"),
                "trip": lambda: setattr(d.w_trip, "value", next(
                    v for v in d.w_trip.options.values() if v != "all")),
                "event": lambda: d._jump_to(pd.Timestamp("2026-03-01 23:58:00.123456"),
                                            pd.Timestamp("2026-03-01 23:59:00.5")),
                "back": lambda: setattr(d.w_vehicle, "value", "EV0001")}
    for name, switch in switches.items():
        draws.clear()
        switch()
        assert len(draws) == 1, name
        for box in (d.w_start, d.w_end):  # the page's echo of the text it shows
            box._process_events({"value": box.value.strftime(box.format)})
        assert len(draws) == 1, name
        t0, t1 = d.range
        assert t0 == t0.floor("s") and t1 == t1.ceil("s"), name
    span = d._full_span()
    assert d.range[0] <= span[0] and d.range[1] >= span[1]  # whole seconds around it


def test_a_plot_reporting_the_range_it_was_given_loads_nothing_again(decoded_store):
    """Once shown, a plot reports the range of the samples it was given (HoloViews' first
    range event as a page opens): the same samples, not loaded nor counted again (that took
    the kernel 150-230 ms on a 10 M-sample signal); a zoom loads its range."""
    import holoviews as hv

    from cantelem_sci.viz import Dashboard

    d = Dashboard(str(decoded_store[0]))
    hv.renderer("bokeh").get_plot(d.plots.objects[0].object)
    v, sig = d.w_vehicle.value, d.w_signals.value[0]
    df = d.shown[sig]
    loads, stats = [], []
    load, update = d.fleet.load, d._update_stats
    d.fleet.load = lambda *a, **k: (loads.append(a[:2]), load(*a, **k))[1]
    d._update_stats = lambda *a: (stats.append(a), update(*a))
    rx = d.views["ranges"][0]
    first, last = df["time"].iloc[0], df["time"].iloc[-1]
    rx.event(x_range=(first.to_datetime64(), last.to_datetime64()))
    assert loads == [] and stats == []
    assert d.shown[sig] is df
    mid = df["time"].iloc[len(df) // 2]
    rx.event(x_range=(first.to_datetime64(), mid.to_datetime64()))
    assert loads == [(v, sig)] and len(stats) == 1
    assert d.shown[sig]["time"].iloc[-1] <= mid


@pytest.mark.parametrize("layout", ["stacked", "axis each"])
def test_two_cursors_read_values_deltas_and_statistics_between(decoded_store, layout):
    """Cursors A and B placed by two clicks (Bokeh's ms positions): the table's values at A
    and B are each signal's last sample at or before them, B - A their difference, and
    count/min/max/mean those of every sample between, as pandas computes them from the
    store's full-resolution data; each plot draws both lines; the link reopens them; a
    third click moves A; "Clear cursors" removes both."""
    import holoviews as hv
    from bokeh.models import ColumnDataSource, GlyphRenderer

    from cantelem_sci.viz import Dashboard
    from cantelem_sci.viz._cursors import COLORS

    d = Dashboard(str(decoded_store[0]))
    d.w_vehicle.value = "EV0002"
    d.w_signals.value = ["VehicleSpeed", "SOC"]
    d.w_layout.value = layout
    t0, t1 = d.range
    a = t0 + (t1 - t0) * 0.3
    b = t0 + (t1 - t0) * 0.6
    ms = lambda t: (t - pd.Timestamp(0)) / pd.Timedelta("1ms")  # noqa: E731
    d.cursors.place(ms(b))  # A may lie after B: the statistics take the span between
    d.cursors.place(ms(a))
    tab = d.cursors.frame
    for sig in ("VehicleSpeed", "SOC"):
        full = d.fleet.load("EV0002", sig).to_dataframe()[sig].dropna()
        at = lambda t: full[full.index <= t].iloc[-1]  # noqa: E731
        between = full[(full.index >= a) & (full.index <= b)]
        assert tab.loc[sig, "A"] == at(b) and tab.loc[sig, "B"] == at(a)
        assert tab.loc[sig, "B - A"] == at(a) - at(b)
        assert tab.loc[sig, "count"] == len(between) > 0
        assert tab.loc[sig, "min"] == between.min() and tab.loc[sig, "max"] == between.max()
        assert np.isclose(tab.loc[sig, "mean"], between.mean())
    assert f"{(a - b).total_seconds():.3f} s" in d.cursors.label.object
    fig = hv.render(d.plots.objects[0].object)
    figs = [fig] if hasattr(fig, "renderers") else [f for f, *_ in fig.children]
    for f in figs:
        lines = {r.glyph.line_color: list(r.data_source.data.get("x0", []))
                 for r in f.renderers if isinstance(r, GlyphRenderer)
                 and isinstance(r.data_source, ColumnDataSource)
                 and r.glyph.line_color in COLORS.values()}
        assert set(lines) == set(COLORS.values())
        assert len(lines[COLORS["a"]]) == len(lines[COLORS["b"]]) == 1
    link = d.share.object.split("(?")[1].rstrip(")")
    again = Dashboard(str(decoded_store[0]))
    assert again.apply_view(link) == []
    assert (again.cursors.a, again.cursors.b) == (d.cursors.a, d.cursors.b)
    pd.testing.assert_frame_equal(again.cursors.frame, tab)
    d.cursors.place(ms(t0))
    assert d.cursors.a == t0 and d.cursors.b == a
    d.cursors.w_clear.clicks += 1
    assert d.cursors.a is None and d.cursors.b is None and d.cursors.frame.empty
    assert "cursors=" not in d.share.object


def test_a_signal_without_a_value_is_explained(tmp_path, cluster_client):
    """A one-vehicle store whose cell groups never reach Cell05 (no sample of it: no data)
    and whose pack frames are too short to carry SOC (every value NaN): the page says so
    for each, and draws no empty plot."""
    from cantelem_edge import ingest
    from cantelem_sci.sim import encode_signals
    from cantelem_sci.frames import FrameBatch
    from cantelem_sci.viz import Dashboard

    db = ct.load_dbc(ct.sample_dbc_path())
    msg = db.get_message("BMS_CellVoltages")
    n = 500
    vals = {"CellGroup": np.zeros(n)}
    vals.update({f"Cell{c:02d}_Voltage": np.full(n, 3.7) for c in range(1, 5)})
    data = encode_signals(msg, vals, n, width=8)
    t = np.datetime64("2026-05-01T12:00:00", "ns").astype(np.int64) + np.arange(n) * 10**8
    pack = db.get_message("BMS_PackStatus")
    b = FrameBatch.concat([
        FrameBatch.from_arrays(t, np.full(n, msg.frame_id), data, dlc=np.full(n, 8)),
        FrameBatch.from_arrays(t + 1, np.full(n, pack.frame_id), np.zeros((n, 8), np.uint8),
                               dlc=np.full(n, 1))])  # one byte: SOC (bits 32-) absent
    ingest(b, "SOLO1", str(tmp_path))
    ct.decode_fleet(str(tmp_path), client=cluster_client, progress=False)
    d = Dashboard(str(tmp_path))
    assert d.w_vehicle.options == ["SOLO1"]
    d.w_signals.value = ["Cell05_Voltage"]
    assert "**No data** of Cell05_Voltage for SOLO1" in d.status.object
    assert d.plots.objects == []
    d.w_signals.value = ["SOC"]
    assert "SOC: only NaN" in d.status.object


def test_served_dashboard_refuses_a_foreign_host_header_and_logs_why(tmp_path):
    """DNS rebinding: a page elsewhere that resolves its name to 127.0.0.1 must not get the
    dashboard (Voila alone answers any Host header). The refusal reaches
    :meth:`DashboardServer.log` at once: the server's log is read as it is written (a pipe
    nobody read would stop the server once 64 kB were logged)."""
    import http.client
    import time

    from cantelem_sci.viz import DashboardServer

    s = DashboardServer(tmp_path)
    try:
        got = {}
        for host in ("rebind.example", f"127.0.0.1:{s.port}", f"localhost:{s.port}"):
            c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=120)
            c.request("GET", "/", headers={"Host": host})
            r = c.getresponse()
            # the notebook's own text, not the template's name in asset links
            got[host.split(":")[0]] = (r.status, b"Published with Voil" in r.read())
        assert got == {"rebind.example": (403, False), "127.0.0.1": (200, True),
                       "localhost": (200, True)}
        why = "Blocking request with non-local 'Host' rebind.example"
        t_end = time.monotonic() + 10
        while time.monotonic() < t_end and why not in s.log():
            time.sleep(0.1)
        assert why in s.log(), s.log()[-2000:]
    finally:
        s.stop()


def test_listening_beyond_loopback_needs_a_token():
    from cantelem_sci.errors import ConfigError
    from cantelem_sci.viz import DashboardServer

    with pytest.raises(ConfigError, match="listening on 0.0.0.0 .* needs a token"):
        DashboardServer("unused", ip="0.0.0.0")
    with pytest.raises(ConfigError, match="token has 6 characters; expected at least 16"):
        DashboardServer("unused", ip="0.0.0.0", token="secret")


def test_served_beyond_loopback_the_page_needs_the_token(tmp_path):
    """On 0.0.0.0 any Host header is allowed (remote users name the server), so the token
    is what keeps others out; it is passed in the environment, never on a command line."""
    import http.client

    from cantelem_sci.viz import DashboardServer

    token = "t0k3n-" + "x" * 20
    s = DashboardServer(tmp_path, ip="0.0.0.0", token=token)
    try:
        with open(f"/proc/{s.proc.pid}/cmdline", "rb") as fh:
            assert token.encode() not in fh.read()
        got = {}
        for name, path in (("no token", "/"), ("wrong token", "/?token=" + "y" * 26),
                           ("token", f"/?token={token}")):
            c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=120)
            c.request("GET", path, headers={"Host": "dash.example:8866"})
            r = c.getresponse()
            got[name] = (r.status, b"cantelem" in r.read())
        assert got["no token"][1] is False and got["no token"][0] in (302, 403)
        assert got["wrong token"][1] is False and got["wrong token"][0] in (302, 403)
        assert got["token"] == (200, True)
    finally:
        s.stop()



def _get(url: str) -> int:
    import urllib.request

    with urllib.request.urlopen(url, timeout=180) as r:
        r.read()
        return r.status


def test_a_closed_pages_kernel_is_freed(tmp_path):
    """A visit executes the dashboard in a kernel of its own; once the page is gone (here:
    never connected, as after a closed tab) Jupyter's culler shuts that kernel down after
    ``idle`` seconds, whatever Voilà did with the page's own shutdown request."""
    import time

    from cantelem_sci.viz import DashboardServer

    s = DashboardServer(tmp_path, idle=3)
    try:
        t_end = time.monotonic() + 60
        while time.monotonic() < t_end and not kernels(s.proc.pid):
            time.sleep(0.5)  # the pre-heated kernel
        before = set(kernels(s.proc.pid))
        assert _get(s.url) == 200
        after = set(kernels(s.proc.pid))
        assert len(after) > len(before), "the visit started no kernel"
        t_end = time.monotonic() + 90
        while time.monotonic() < t_end and len(kernels(s.proc.pid)) > len(before):
            time.sleep(1)
        now = set(kernels(s.proc.pid))
        assert len(now) == len(before) and now < after, (before, after, now)  # one freed
        assert _get(s.url) == 200  # and the dashboard still serves the next visitor
    finally:
        s.stop()


def test_sigterm_to_cantelem_dashboard_ends_every_child(tmp_path):
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time

    from cantelem_sci.viz._serve import _alive, descendants

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "cantelem_sci", "dashboard", "--store",
                             str(tmp_path), "--port", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=dict(os.environ))
    try:
        t_end = time.monotonic() + 120
        while time.monotonic() < t_end:
            try:
                _get(f"http://127.0.0.1:{port}/")
                break
            except OSError:
                time.sleep(0.5)
        kids = descendants(proc.pid)
        assert kernels(proc.pid), "no kernel started"
        proc.send_signal(signal.SIGTERM)
        proc.wait(90)
        t_end = time.monotonic() + 10
        while time.monotonic() < t_end and any(_alive(p) for p in kids):
            time.sleep(0.2)
        assert not [p for p in kids if _alive(p)]
    finally:
        if proc.poll() is None:
            proc.kill()


@given(st.text(max_size=40))
def test_typed_dates_never_raise(text):
    from cantelem_sci.viz._date_box import parse_typed

    got = parse_typed(text)
    assert got is None or isinstance(got, datetime)


@given(st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1)))
def test_typed_dates_read_back_in_panel_and_iso_spellings(when):
    from cantelem_sci.viz._date_box import parse_typed

    when = when.replace(microsecond=0)
    assert parse_typed(when.strftime("%Y-%m-%d %H:%M:%S")) == when
    assert parse_typed(when.isoformat()) == when
    assert parse_typed(when.isoformat() + "+02:00") == when - timedelta(hours=2)



@pytest.mark.parametrize("layout", ["stacked", "one axis", "axis each"])
def test_png_export_draws_the_view_with_title_legend_and_range(decoded_store, layout):
    """"Export PNG" renders the view on the server: each signal's line, read back from its
    colour's pixels, spans the first to the last sample of the range and the store's
    minimum to maximum there (within 3 px); the title names the vehicle and range, the text
    chunks the signals and a link that reopens the same view."""
    from cantelem_sci.viz import Dashboard

    d = Dashboard(str(decoded_store[0]))
    d.w_vehicle.value = "EV0002"
    d.w_signals.value = ["VehicleSpeed", "PackCurrent"]
    d.w_layout.value = layout
    text, drawn = png_drawn(d._png().getvalue())
    t0, t1 = d.range
    assert d.w_png.filename == f"cantelem-EV0002-{t0:%Y%m%dT%H%M%S}.png"
    assert text["Title"] == f"EV0002: {t0:%Y-%m-%d %H:%M:%S} to {t1:%Y-%m-%d %H:%M:%S}"
    assert f"signals=VehicleSpeed,PackCurrent; from={t0}; to={t1}; layout={layout}" \
        in text["Description"]
    again = Dashboard(str(decoded_store[0]))
    assert again.apply_view(text["Source"]) == []
    assert again.w_layout.value == layout
    assert again.range == (t0.floor("s"), t1.floor("s"))  # the link's times are in seconds
    import json

    axes = json.loads(text["cantelem:axes"])
    ms = lambda t: (t - pd.Timestamp(0)) / pd.Timedelta("1ms")  # noqa: E731
    assert all(np.allclose(a["xlim"], [ms(t0), ms(t1)]) for a in axes)
    for sig in ("VehicleSpeed", "PackCurrent"):
        assert drawn[sig][4] > 200, sig  # a line, not a legend swatch
        if layout == "axis each":
            continue  # lines over each other: an extreme may lie under the other line
        full = d.fleet.load("EV0002", sig).to_dataframe()[sig].dropna()
        full = full[(full.index >= t0) & (full.index <= t1)]
        a = next(a for a in axes if sig in a["signals"])
        px_y = (a["ylim"][1] - a["ylim"][0]) / (a["box"][3] - a["box"][1])
        px_x = (a["xlim"][1] - a["xlim"][0]) / (a["box"][2] - a["box"][0])
        first, last, lo, hi, _ = drawn[sig]
        assert abs(lo - full.min()) <= 3 * px_y and abs(hi - full.max()) <= 3 * px_y, sig
        assert abs(first - ms(full.index[0])) <= 3 * px_x, sig
        assert abs(last - ms(full.index[-1])) <= 3 * px_x, sig


def test_png_export_against_another_axis_and_without_signals(decoded_store):
    """Against VehicleSpeed the PNG draws the page's XY table (its points read back within
    the table's extremes); with no signal chosen it says so instead of failing."""
    from cantelem_sci.viz import Dashboard

    d = Dashboard(str(decoded_store[0]))
    d.w_signals.value = ["PackCurrent"]
    d.w_xaxis.value = "VehicleSpeed"
    text, drawn = png_drawn(d._png().getvalue())
    assert "x=VehicleSpeed" in text["Description"]
    first, last, lo, hi, n = drawn["PackCurrent"]
    xy = d.xy.dropna(subset=["PackCurrent"])
    assert n > 100
    assert xy["PackCurrent"].min() - 5 <= lo <= hi <= xy["PackCurrent"].max() + 5
    d.w_signals.value = []
    from PIL import Image

    im = Image.open(d._png())
    assert im.text["Description"].startswith("vehicle=EV0001; signals=; ")



def test_many_signals_are_shaded_one_plot_per_unit(decoded_store):
    """"Add all" of the 96 cell voltages takes the view over the threshold: each unit is one
    Datashader image (no line of a cell is sent), and the cells' image spans the store's
    lowest to highest cell voltage of the range and its first to last sample (within a
    pixel and a half); two signals stay lines; a threshold of 0 never shades."""
    import json

    import holoviews as hv
    from bokeh.models import GlyphRenderer, Image, Line

    from cantelem_sci.viz import Dashboard

    d = Dashboard(str(decoded_store[0]))
    d.w_vehicle.value = "EV0002"
    assert "shaded" not in d.status.object and d.shaded is None
    d.browser.find.value_input = "_voltage"
    cells = [f"Cell{i:02d}_Voltage" for i in range(1, 97)]
    assert sorted(d.browser.listed) == cells and d.browser.w_all.name == "Add all 96"
    d.browser.w_all.clicks += 1
    shown = list(d.w_signals.value)
    assert shown[-96:] == cells and len(shown) == 98
    assert "98 signal(s) shaded (3 plot(s), one per unit" in d.status.object
    assert list(d.shaded["groups"]) == ["km/h", "A", "V"]
    fig = hv.render(d.plots.objects[0].object)
    figs = [f for f, *_ in fig.children]
    images = [[r.data_source.data for r in f.renderers if isinstance(r, GlyphRenderer)
               and isinstance(r.glyph, Image)] for f in figs]
    assert [len(i) for i in images] == [1, 1, 1]
    assert not any(isinstance(r.glyph, Line) for f in figs for r in f.renderers
                   if isinstance(r, GlyphRenderer))
    t0, t1 = d.range
    full = [d.fleet.series("EV0002", c, t0, t1) for c in cells]
    lo = min(np.nanmin(x) for _, x in full)
    hi = max(np.nanmax(x) for _, x in full)
    first = min(t[~np.isnan(x)][0] for t, x in full) / 1e6  # ms, as Bokeh's axis
    last = max(t[~np.isnan(x)][-1] for t, x in full) / 1e6
    data = images[2][0]
    x0, x1, y0, y1, bin_x, bin_y = image_extent(data)
    assert abs(y0 - lo) <= 1.5 * bin_y and abs(y1 - hi) <= 1.5 * bin_y, (y0, y1, lo, hi)
    assert abs(x0 - first) <= 1.5 * bin_x and abs(x1 - last) <= 1.5 * bin_x
    assert "98 signals shaded:" in d.detail.object
    text, drawn = png_drawn(d._png().getvalue())  # the PNG shades them too
    x0, x1, y0, y1, n = drawn[",".join(cells)]
    axes = json.loads(text["cantelem:axes"])
    assert [a["signals"] for a in axes] == [["VehicleSpeed"], ["PackCurrent"], cells]
    px_y = (axes[2]["ylim"][1] - axes[2]["ylim"][0]) / (axes[2]["box"][3] - axes[2]["box"][1])
    px_x = (axes[2]["xlim"][1] - axes[2]["xlim"][0]) / (axes[2]["box"][2] - axes[2]["box"][0])
    assert abs(y0 - lo) <= 2 * px_y and abs(y1 - hi) <= 2 * px_y, (y0, y1, lo, hi)
    # the first and last samples lie on the frame's left and right edges (2 px left out)
    assert abs(x0 - first) <= 3 * px_x and abs(x1 - last) <= 3 * px_x
    d.w_signals.value = ["VehicleSpeed", "SOC"]
    assert d.shaded is None and "shaded" not in d.status.object
    never = Dashboard(str(decoded_store[0]), shade_points=0)
    never.w_signals.value = cells
    assert never.shaded is None and "96 signal(s), " in never.status.object


def test_preheated_kernels_follow_argument_environment_and_default(monkeypatch):
    """``dashboard_preheated`` kernels run the notebook ahead of visitors (Voilà's pool);
    0 turns pre-heating off; the page limit and the sockets' kernel manager stay."""
    from cantelem_sci.viz._serve import voila_command

    def pool(cmd):
        return [a for a in cmd if a.startswith(("--pool_size", "--preheat_kernel"))]

    monkeypatch.delenv("CANTELEM_DASHBOARD_PREHEATED", raising=False)
    assert pool(voila_command("s")) == ["--preheat_kernel=True", "--pool_size=1"]
    monkeypatch.setenv("CANTELEM_DASHBOARD_PREHEATED", "3")
    assert pool(voila_command("s")) == ["--preheat_kernel=True", "--pool_size=3"]
    assert pool(voila_command("s", preheated=2)) == ["--preheat_kernel=True", "--pool_size=2"]
    cmd = voila_command("s", preheated=0)
    assert pool(cmd) == []
    assert any("DashboardKernelManager.pages=" in a for a in cmd)
