"""Live telemetry end to end in a real browser: two edge loggers on the simulator publish to a
real Mosquitto, the Voilà dashboard subscribes, Chromium (Playwright) shows it. The values
drawn are read from the page's Bokeh data sources and checked against the decoder's values of
the same frames in the segments the loggers wrote; the broker is restarted mid-stream."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import cantelem_sci as ct
from tests.conftest import mosquitto_broker
from tests.viz._pages import SHOTS, VoilaServer, chromium_path, launch_chromium, pane_text

pytestmark = [pytest.mark.browser, pytest.mark.mqtt, pytest.mark.slow]
VEHICLES = ("EV0001", "EV0002")

#: every live data source of the page: {name: {t, v, tag}} (``_live_view.py`` names them)
JS_SOURCES = """() => {
  const out = {};
  for (const d of (window.Bokeh ? Bokeh.documents : [])) {
    for (const m of d._all_models.values()) {
      if (m.name && m.name.startsWith('cantelem-live-') && m.data && m.data.t)
        out[m.name.slice(14)] = {t: Array.from(m.data.t), v: Array.from(m.data.v),
                                 tag: m.data.t.length ? m.data.t[m.data.t.length - 1] : 0};
    }
  }
  return out;
}"""


def _sources(pg) -> dict:
    return pg.evaluate(JS_SOURCES)


def _wait(pg, cond, what: str, timeout: float = 60.0):
    t_end = time.monotonic() + timeout
    last = None
    while time.monotonic() < t_end:
        last = cond()
        if last:
            return last
        pg.wait_for_timeout(250)
    raise AssertionError(f"{what}: not seen within {timeout:.0f} s (last: {last!r})")


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    chromium_path()  # skips before anything starts when there is no Chromium
    broker = mosquitto_broker()  # this module's own: it is restarted
    spool = tmp_path_factory.mktemp("live-spool")
    loggers = [subprocess.Popen(
        [sys.executable, "-m", "cantelem_edge", "run", "--spool", str(spool), "--vehicle", v,
         "--source", f"sim:{v}", "--live-url", broker.url, "--segment-seconds", "20"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for v in VEHICLES]
    server = VoilaServer(spool, mqtt=broker.url)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = launch_chromium(p)
        ctx = b.new_context(viewport={"width": 1500, "height": 1100})
        pg = ctx.new_page()
        pg.goto(server.url, timeout=180_000)
        yield {"page": pg, "broker": broker, "spool": spool, "loggers": loggers}
        ctx.close()
        b.close()
    server.stop()
    for lg in loggers:
        if lg.poll() is None:
            lg.send_signal(signal.SIGTERM)
            lg.wait(30)
    broker.close()


def _points(pg, vehicle: str, sig: str) -> int:
    s = _sources(pg).get(f"{vehicle}/{sig}")
    return len(s["t"]) if s else 0


def test_1_live_values_stream_into_plots_and_stats(live):
    pg = live["page"]
    # the store has no decoded data yet: the page opens in live mode on the first vehicle
    # seen on the broker
    first = _wait(pg, lambda: next((v for v in VEHICLES if _points(pg, v, "VehicleSpeed") > 100),
                                   None), "speed samples", timeout=180)
    live["first"] = first
    tag0 = _sources(pg)[f"{first}/VehicleSpeed"]["tag"]
    _wait(pg, lambda: _sources(pg)[f"{first}/VehicleSpeed"]["tag"] > tag0 + 500,
          "the newest sample moving on")
    src = _sources(pg)
    assert {f"{first}/VehicleSpeed", f"{first}/SOC"} <= set(src)
    soc = np.array(src[f"{first}/SOC"]["v"])
    assert np.all((soc >= 0) & (soc <= 100)) and len(soc) > 100
    stats = _wait(pg, lambda: (t := pane_text(pg, "cantelem-stats")) and "VehicleSpeed" in t and t,
                  "statistics")
    assert "SOC" in stats and "count" in stats
    assert "Live:" in pane_text(pg, "cantelem-status") and f"{first} online" in \
        pane_text(pg, "cantelem-status")
    SHOTS.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(SHOTS / "live_1_plots.png"))


def test_2_fleet_view_lists_both_vehicles_online(live):
    pg = live["page"]
    pg.get_by_role("button", name="Fleet live").click()
    table = _wait(pg, lambda: (t := pane_text(pg, "cantelem-fleet-table")) and all(
        v in t for v in VEHICLES) and t, "both vehicles in the fleet table")
    assert table.count("online") == 2
    pos = pg.evaluate("""() => { for (const d of Bokeh.documents) for (const m of
        d._all_models.values()) if (m.name === 'cantelem-fleet-positions')
        return Array.from(m.data.vehicle); return []; }""")
    assert sorted(pos) == list(VEHICLES)
    pg.screenshot(path=str(SHOTS / "live_2_fleet.png"))


def test_3_a_vehicle_of_the_fleet_view_opens_its_live_plots(live):
    pg = live["page"]
    other = next(v for v in VEHICLES if v != live.get("first"))
    live["other"] = other
    pg.get_by_role("button", name=f"{other}: live plots").click()
    _wait(pg, lambda: _points(pg, other, "VehicleSpeed") > 100, f"{other} speed samples")
    _wait(pg, lambda: f"{other} online" in pane_text(pg, "cantelem-status"), "the status line")


def test_4_streaming_survives_a_broker_restart(live):
    pg, broker = live["page"], live["broker"]
    broker.stop()
    _wait(pg, lambda: "unreachable" in pane_text(pg, "cantelem-status"), "the outage on the page")
    key = f"{live['other']}/VehicleSpeed"
    stalled = _sources(pg)[key]["tag"]
    broker.start()
    _wait(pg, lambda: _sources(pg)[key]["tag"] > stalled + 1000,
          "samples after the restart", timeout=90)
    _wait(pg, lambda: "connected to" in pane_text(pg, "cantelem-status"), "connected again")
    assert "Traceback" not in pg.inner_text("body")


def test_5_values_drawn_equal_the_decoded_segments(live):
    pg = live["page"]
    drawn = _sources(pg)
    for lg in live["loggers"]:
        lg.send_signal(signal.SIGTERM)
        lg.wait(30)
    from cantelem_sci.fleet import open_fleet

    store = open_fleet(str(live["spool"])).store
    db = ct.load_dbc(ct.sample_dbc_path())
    for v in VEHICLES:
        mans = sorted(live["spool"].glob(f"raw/vehicle={v}/date=*/*.zarr.manifest.json"))
        frames = ct.FrameBatch.concat([store.read_frames(json.loads(m.read_text())["key"])
                                       for m in mans])
        tree = ct.decode(frames, db)
        for sig, node in [("VehicleSpeed", "VCU_Vehicle"), ("SOC", "BMS_PackStatus")]:
            s = drawn.get(f"{v}/{sig}")
            if s is None:
                assert v == live["first"]
                continue  # the first vehicle's plots were replaced by the other's
            da = tree[node][sig]
            t_ms = da["time"].values.view("int64") / 1e6
            t, x = np.array(s["t"]), np.array(s["v"])
            idx = np.searchsorted(t_ms, t - 0.0005)
            assert len(t) > 100 and (idx < len(t_ms)).all()
            assert np.abs(t_ms[idx] - t).max() < 0.001  # each point drawn is a frame's time
            np.testing.assert_array_equal(x, da.values[idx])  # and its decoded value


#: {name: background colour} of the page's live figures and maps
JS_BACKGROUNDS = """() => {
  const out = {};
  for (const d of (window.Bokeh ? Bokeh.documents : []))
    for (const m of d._all_models.values())
      if (m.name && (m.name.startsWith('cantelem-live-fig-') || m.name === 'cantelem-live-map'
                     || m.name === 'cantelem-fleet-map'))
        out[m.name] = m.background_fill_color;
  return out;
}"""


def test_6_the_light_look_lights_the_live_plots(live):
    """The live plots and the map are drawn in the look chosen on the page (they stayed dark
    in the light look); back in the dark look they are dark again."""
    from cantelem_sci.viz._theme import look

    pg = live["page"]
    for name in ("light", "dark"):
        pg.get_by_role("button", name=name, exact=True).click()
        want = look(name).plot
        got = _wait(pg, lambda: (b := pg.evaluate(JS_BACKGROUNDS)) and all(
            v == want for v in b.values()) and b, f"the live figures in the {name} look")
        assert "cantelem-live-map" in got and any(k.startswith("cantelem-live-fig-") for k in got)
        if name == "light":
            pg.screenshot(path=str(SHOTS / "live_6_light.png"))
