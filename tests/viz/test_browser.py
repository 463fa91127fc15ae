"""The Voilà dashboard in a real browser: Playwright driving Debian's Chromium.

One page session walks through what a user does: load, change vehicle and signals, zoom,
export CSV, drive the replay scrubber; screenshots go to ``artifacts/screenshots/``. Bad
input (an empty store) is checked on its own server.
"""

from __future__ import annotations

import re
import time

import numpy as np
import pandas as pd
import pytest

from tests.viz._pages import (SHOTS, VoilaServer, add_signal, drawn_column, drawn_images,
                              image_extent, pane_text, plot_png, png_drawn, settle, wait_text)

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SEEN: dict[str, list] = {"requests": [], "errors": [], "sent": []}


@pytest.fixture(scope="module")
def server(decoded_store):
    s = VoilaServer(decoded_store[0])
    yield s
    s.stop()


@pytest.fixture(scope="module")
def page(browser, server):
    SHOTS.mkdir(parents=True, exist_ok=True)
    ctx = browser.new_context(viewport={"width": 1500, "height": 1100}, accept_downloads=True)
    pg = ctx.new_page()
    # everything the page asks for and every console error, from its first request on
    pg.on("request", lambda r: SEEN["requests"].append(r.url))
    pg.on("console", lambda m: SEEN["errors"].append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: SEEN["errors"].append(str(e)))
    # every message the page sends its kernel (an idle page sends none)
    pg.on("websocket", lambda ws: ws.on("framesent", lambda m: SEEN["sent"].append(m)))
    pg.goto(server.url, timeout=180_000)
    pg.wait_for_selector(".cantelem-hv canvas", timeout=180_000)
    settle(pg)
    yield pg
    ctx.close()


def test_1_loads_with_plots_and_no_traceback(page):
    page.screenshot(path=str(SHOTS / "1-loaded.png"), full_page=True)
    assert page.locator(".cantelem-hv canvas").count() >= 2
    assert "Traceback" not in page.content()
    wait_text(page, "cantelem-status", r"EV0001: 2 signal\(s\)")
    wait_text(page, "cantelem-detail", r"samples shown")


def test_1b_every_asset_comes_from_the_server_and_no_console_error(page):
    """Offline pages: no request leaves 127.0.0.1 (Panel's stylesheets were links to its
    CDN, Font Awesome came from jsdelivr), and nothing fails in the console (Panel's
    JupyterLab extension did, on every page)."""
    from urllib.parse import urlparse

    page.locator(".cantelem-signals").first.wait_for()
    urls = SEEN["requests"]
    assert any("/voila/templates/cantelem/static/fa/css/all.min.css" in u for u in urls)
    away = [u for u in urls if urlparse(u).scheme not in ("blob", "data")
            and urlparse(u).hostname not in ("127.0.0.1", "localhost")]
    assert len(urls) > 20 and away == []
    assert SEEN["errors"] == []
    # the widgets' stylesheets are inline: the CSV button has Panel's dark look (without
    # them it was the browser's white)
    assert page.locator(".cantelem-csv button").first.evaluate(
        "b => getComputedStyle(b).backgroundColor") != "rgb(255, 255, 255)"


def test_2_change_vehicle_changes_the_plot(page, decoded_store):
    """The plots on the page then hold EV0002's samples of their signals in its whole
    recording (as the dashboard loads them), in the same data sources: the plots are kept
    and only their data swapped."""
    import cantelem_sci as ct

    before = plot_png(page)
    sources = {name: drawn_column(page, name) for name in ("VehicleSpeed", "PackCurrent")}
    page.locator(".cantelem-vehicle select").first.select_option("EV0002")
    wait_text(page, "cantelem-status", r"EV0002: 2 signal\(s\)")
    settle(page)
    assert plot_png(page) != before
    fleet = ct.open_fleet(decoded_store[0])
    t0, t1 = (pd.Timestamp(page.locator(f".cantelem-{b} input").first.input_value())
              for b in ("start", "end"))  # EV0002's whole recording, as the page shows it
    cov = fleet.coverage().set_index("vehicle").loc["EV0002"]
    assert abs(t0 - cov["start"]) < pd.Timedelta("1s") and abs(t1 - cov["end"]) < pd.Timedelta("1s")
    for name, old in sources.items():
        want = fleet.load("EV0002", name, t0, t1, max_points=2000, gap="30s")[name].values
        ((sid, got),) = drawn_column(page, name)
        assert sid == old[0][0]
        np.testing.assert_array_equal(got, want)
    page.screenshot(path=str(SHOTS / "2-vehicle-EV0002.png"), full_page=True)


def test_3_add_a_signal(page, decoded_store):
    add_signal(page, "SOC")
    wait_text(page, "cantelem-status", r"3 signal\(s\)")
    detail = wait_text(page, "cantelem-detail", r"SOC: \d+ of \d+ samples shown")
    import cantelem_sci as ct

    fleet = ct.open_fleet(decoded_store[0])
    n_soc = fleet.load("EV0002", "SOC").sizes["time"]
    # SOC's samples in the view (the whole recording, its ends rounded to the second)
    assert 0.98 * n_soc <= int(re.search(r"SOC: \d+ of (\d+)", detail)[1]) <= n_soc
    settle(page)
    page.screenshot(path=str(SHOTS / "3-three-signals.png"), full_page=True)


def _shown(pg) -> tuple[int, int]:
    m = re.search(r"(\w+): (\d+) of (\d+) samples shown", pane_text(pg, "cantelem-detail"))
    assert m, pane_text(pg, "cantelem-detail")
    return int(m.group(2)), int(m.group(3))


def test_4_zoom_shows_more_detail(page):
    shown0, total0 = _shown(page)
    canvas = page.locator(".cantelem-hv canvas").first
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
    for _ in range(3):
        page.mouse.wheel(0, -300)
        page.wait_for_timeout(100)
    t_end = time.monotonic() + 30
    while time.monotonic() < t_end and _shown(page)[1] >= total0:
        page.wait_for_timeout(200)
    shown1, total1 = _shown(page)
    assert 0 < total1 < total0  # fewer samples in view ...
    assert shown1 / total1 > shown0 / total0  # ... and a larger share of them drawn
    page.screenshot(path=str(SHOTS / "4-zoomed.png"), full_page=True)


def test_5_export_csv_of_the_visible_range(page, decoded_store):
    with page.expect_download(timeout=60_000) as dl:
        page.locator(".cantelem-csv button").first.click()
    path = dl.value.path()
    df = pd.read_csv(path, parse_dates=["time"])
    shown_signals = re.findall(r"(\w+): \d+ of \d+ samples shown", pane_text(page, "cantelem-detail"))
    assert list(df.columns) == ["time", *shown_signals] and len(shown_signals) == 3
    _, in_view = _shown(page)
    # every sample of every shown signal in the visible range, on one time axis
    assert len(df) >= in_view > 0
    assert df["time"].is_monotonic_increasing
    import cantelem_sci as ct

    fleet = ct.open_fleet(decoded_store[0])
    t0, t1 = df["time"].iloc[0], df["time"].iloc[-1]
    spd = fleet.load("EV0002", "VehicleSpeed", t0, t1)
    assert df["VehicleSpeed"].notna().sum() >= spd.sizes["time"] - 1


def test_5b_a_calculated_signal_is_listed_drawn_and_exported(page, decoded_store):
    """PackPower (the default catalog's PackVoltage * PackCurrent / 1000) is picked like a
    decoded signal; its samples in view and the exported values are those of its operands."""
    import cantelem_sci as ct

    add_signal(page, "PackPower")
    wait_text(page, "cantelem-status", r"4 signal\(s\)")
    detail = wait_text(page, "cantelem-detail", r"PackPower: \d+ of \d+ samples shown")
    with page.expect_download(timeout=60_000) as dl:
        page.locator(".cantelem-csv button").first.click()
    df = pd.read_csv(dl.value.path(), parse_dates=["time"])
    fleet = ct.open_fleet(decoded_store[0])
    t0, t1 = df["time"].iloc[0], df["time"].iloc[-1]
    ops = fleet.load("EV0002", ["PackVoltage", "PackCurrent"], t0, t1)
    want = pd.Series(ops["PackVoltage"].values * ops["PackCurrent"].values / 1000,
                     index=pd.DatetimeIndex(ops["time"].values))
    in_view = int(re.search(r"PackPower: \d+ of (\d+)", detail)[1])
    assert abs(in_view - want.size) <= 0.02 * want.size
    got = df.dropna(subset=["PackPower"]).set_index("time")["PackPower"]
    own = got.index.isin(want.index)
    assert own.sum() >= want.size - 1
    np.testing.assert_allclose(got[own].values, want.reindex(got.index[own]).values,
                               rtol=1e-12)
    page.screenshot(path=str(SHOTS / "5b-calculated-signal.png"), full_page=True)


def test_5c_signals_against_distance_and_against_another_signal(page, decoded_store):
    """The x-axis choice: against distance the page draws (and exports) Fleet.align's
    values over the range, as far as the odometer went; against VehicleSpeed every point
    pairs the two signals' values held at the same moment."""
    import cantelem_sci as ct

    fleet = ct.open_fleet(decoded_store[0])
    xaxis = page.locator(".cantelem-xaxis select").first
    xaxis.select_option("distance")
    detail = wait_text(page, "cantelem-detail", r"against distance driven \(km\): .*SOC: \d+")
    wait_text(page, "cantelem-status", r"against distance driven")
    with page.expect_download(timeout=60_000) as dl:
        page.locator(".cantelem-csv button").first.click()
    df = pd.read_csv(dl.value.path())
    sigs = [c for c in df.columns if c != "distance_km"]
    assert df.columns[0] == "distance_km" and {"SOC", "PackPower"} <= set(sigs)
    t0, t1 = fleet.trips("EV0002")["start"].min(), fleet.trips("EV0002")["end"].max()
    want = fleet.align(sigs, by="distance", vehicles=["EV0002"], points=len(df), start=t0,
                       end=t1)
    np.testing.assert_allclose(df["distance_km"], want["distance"].values, atol=1e-9)
    for s in sigs:
        np.testing.assert_allclose(df[s], want[s].sel(vehicle="EV0002").values, atol=1e-9)
        assert f"{s}: {int(df[s].notna().sum())} points drawn" in detail
    _, odo = fleet.series("EV0002", "Odometer", t0, t1)
    assert df["distance_km"].iloc[-1] == pytest.approx(np.nanmax(odo) - odo[0], abs=0.01)
    page.screenshot(path=str(SHOTS / "5c-against-distance.png"), full_page=True)

    xaxis.select_option("VehicleSpeed")
    wait_text(page, "cantelem-detail", r"against VehicleSpeed: PackCurrent: \d+ points drawn")
    status = wait_text(page, "cantelem-status", r"against VehicleSpeed, .* to ")
    end = pd.Timestamp(re.search(r" to (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)", status)[1])
    with page.expect_download(timeout=60_000) as dl:
        page.locator(".cantelem-csv button").first.click()
    xy = pd.read_csv(dl.value.path(), parse_dates=["time"])
    assert xy.columns[0] == "VehicleSpeed" and len(xy) > 100
    for s in ("VehicleSpeed", "PackCurrent"):  # each value the last sample at its point
        t, x = fleet.series("EV0002", s, None, end)  # the page's range
        ok = ~np.isnan(x)
        t, x = t[ok], x[ok]
        at = xy["time"].values.astype("datetime64[ns]").astype("int64")
        i = np.searchsorted(t, at, side="right") - 1
        row = xy[s].notna().values
        np.testing.assert_array_equal(xy[s].values[row], x[i[row]])
    page.screenshot(path=str(SHOTS / "5c-xy.png"), full_page=True)
    xaxis.select_option("time")
    wait_text(page, "cantelem-status", r"EV0002: \d signal\(s\), ")


_AXES_JS = """() => {
  const labels = [], drawn = [];
  for (const doc of window.Bokeh.documents)
    for (const m of doc.all_models) {
      const o = m.major_label_overrides;
      if (o && o.size) labels.push(Object.fromEntries([...o.entries()].map(([k, v]) => [String(k), v])));
      if (m.type === "ColumnDataSource") {
        const d = m.data instanceof Map ? Object.fromEntries(m.data) : m.data;
        if ("BMS_State" in d) drawn.push([Array.from(d["time"]), Array.from(d["BMS_State"])]);
      }
    }
  return [labels, drawn];
}"""


def test_5d_an_enum_signal_is_drawn_as_named_steps(page, decoded_store):
    """BMS_State (the DBC's value table Idle/Drive/Charge/Fault) is drawn as steps with
    each level named on its axis."""
    add_signal(page, "BMS_State")
    wait_text(page, "cantelem-detail", r"BMS_State: \d+ of \d+ samples shown")
    settle(page)
    labels, drawn = page.evaluate(_AXES_JS)
    assert {"0": "Idle", "1": "Drive", "2": "Charge", "3": "Fault"} in labels
    xs, ys = map(np.asarray, drawn[-1])
    # steps: between two samples the line runs flat, then rises or falls at one time
    both = np.isfinite(ys[:-1]) & np.isfinite(ys[1:])  # NaN rows are the gap breaks
    moves = np.flatnonzero(both & (np.diff(ys) != 0))
    assert moves.size >= 1 and (xs[moves] == xs[moves + 1]).all()
    assert set(np.unique(ys[~np.isnan(ys)])) <= {0, 1, 2, 3}
    page.screenshot(path=str(SHOTS / "5d-enum-steps.png"), full_page=True)


def test_5e_export_png_downloads_the_view_drawn(page, decoded_store):
    """"Export PNG" downloads a PNG file of the view: titled with the vehicle and range the
    page shows, every shown signal named; each line, read back from its pixels, spans the
    store's minimum to maximum over that range (within 3 px)."""
    import json

    import cantelem_sci as ct

    with page.expect_download(timeout=60_000) as dl:
        page.locator(".cantelem-png button").first.click()
    assert dl.value.suggested_filename.startswith("cantelem-EV0002-")
    png = open(dl.value.path(), "rb").read()
    text, drawn = png_drawn(png)
    shown = re.findall(r"(\w+): \d+ of \d+ samples shown", pane_text(page, "cantelem-detail"))
    desc = dict(kv.split("=", 1) for kv in text["Description"].split("; "))
    assert desc["vehicle"] == "EV0002" and desc["signals"].split(",") == shown
    t0, t1 = pd.Timestamp(desc["from"]), pd.Timestamp(desc["to"])
    assert text["Title"] == f"EV0002: {t0:%Y-%m-%d %H:%M:%S} to {t1:%Y-%m-%d %H:%M:%S}"
    assert f"{t0:%Y-%m-%d %H:%M:%S} to {t1:%Y-%m-%d %H:%M:%S}" in pane_text(page, "cantelem-status")
    fleet = ct.open_fleet(decoded_store[0])
    axes = json.loads(text["cantelem:axes"])
    for sig in shown:
        _, x = fleet.series("EV0002", sig, t0, t1)
        a = next(a for a in axes if sig in a["signals"])
        px = (a["ylim"][1] - a["ylim"][0]) / (a["box"][3] - a["box"][1])
        assert drawn[sig][4] > 100, sig
        assert abs(drawn[sig][2] - np.nanmin(x)) <= 3 * px, sig
        assert abs(drawn[sig][3] - np.nanmax(x)) <= 3 * px, sig
    (SHOTS / "5e-export.png").write_bytes(png)


def _slider(pg) -> int:
    """The Player's position in the browser (the kernel's label follows it with a lag)."""
    return int(pg.locator(".cantelem-player input[type=range]").first.input_value())


def test_6_replay_plays_and_pauses(page):
    """Play advances the replay by itself (one second of drive every 250 ms), pause stops it,
    and the replay time shown follows; the Player's buttons are slower, first, previous,
    reverse, pause, play, next, last, faster."""
    buttons = page.locator(".cantelem-player button")
    assert buttons.count() == 9
    buttons.nth(5).click()  # play
    page.wait_for_timeout(1000)
    a = _slider(page)
    page.wait_for_timeout(2000)
    b = _slider(page)
    assert b - a >= 4  # several steps with no click: playing
    buttons.nth(4).click()  # pause
    c = _slider(page)
    page.wait_for_timeout(1500)
    assert _slider(page) == c >= b  # paused: no step since
    start = pd.Timestamp(page.locator(".cantelem-start input").first.input_value())
    want = f"replay: {start + pd.Timedelta(seconds=c):%Y-%m-%d %H:%M:%S}"
    wait_text(page, "cantelem-replay", re.escape(want))  # the kernel caught up
    page.screenshot(path=str(SHOTS / "6-replay.png"), full_page=True)


def _set_date(pg, cls: str, text: str) -> None:
    box = pg.locator(f".{cls} input").first
    box.fill(text)
    box.press("Enter")


def test_7_a_reversed_or_empty_range_is_explained_not_drawn(page):
    """From after To, or a range without data, clears the plots and says why (the page
    used to draw empty plots on a 1970 axis)."""
    _set_date(page, "cantelem-start", "2026-03-02 00:03:00")
    _set_date(page, "cantelem-end", "2026-03-02 00:01:00")
    wait_text(page, "cantelem-status", r"From.*2026-03-02 00:03:00.*is not before.*To")
    assert page.locator(".cantelem-hv canvas").count() == 0
    _set_date(page, "cantelem-start", "2026-03-05 10:00:00")  # days after the recording
    _set_date(page, "cantelem-end", "2026-03-05 11:00:00")
    wait_text(page, "cantelem-status", r"No data.* for EV0002 between 2026-03-05 10:00:00")
    assert page.locator(".cantelem-hv canvas").count() == 0
    _set_date(page, "cantelem-start", "2026-03-01 23:56:00")  # back to data: drawn again
    _set_date(page, "cantelem-end", "2026-03-01 23:58:00")
    wait_text(page, "cantelem-status", r"EV0002: \d signal\(s\), 2026-03-01 23:56:00")
    page.wait_for_selector(".cantelem-hv canvas", timeout=30_000)


def test_7c_a_typed_date_is_read_or_explained(page):
    """Text that is no date is named in the status line with what is expected, the plots kept
    (Panel alone keeps the old value and says nothing); ISO 8601 text is taken."""
    _set_date(page, "cantelem-start", "2026-03-01 23:56:00")
    _set_date(page, "cantelem-end", "2026-03-01 23:58:00")
    wait_text(page, "cantelem-status", r"EV0002: \d signal\(s\), 2026-03-01 23:56:00")
    _set_date(page, "cantelem-start", "yesterday noon")
    wait_text(page, "cantelem-status", r"From: 'yesterday noon' is not a date.*expected e\.g\. "
               r"2026-03-01 23:56:00.*still show 2026-03-01 23:56:00 to 2026-03-01 23:58:00")
    assert page.locator(".cantelem-hv canvas").count() > 0  # the plots stay
    _set_date(page, "cantelem-start", "2026-03-01T23:57")
    wait_text(page, "cantelem-status", r"EV0002: \d signal\(s\), 2026-03-01 23:57:00")


def test_7a_quick_range_shows_the_newest_minutes(page, decoded_store):
    """"last 5 min" in the range menu shows the vehicle's newest five minutes (in the whole
    seconds around them that the From / To boxes show: the newest sample included)."""
    import cantelem_sci as ct

    end = ct.open_fleet(decoded_store[0]).coverage().set_index("vehicle").loc["EV0002", "end"]
    page.locator(".cantelem-trip select").first.select_option(label="last 5 min")
    t0, t1 = (end - pd.Timedelta("5min")).floor("s"), end.ceil("s")
    want = f"{t0:%Y-%m-%d %H:%M:%S} to {t1:%Y-%m-%d %H:%M:%S}"
    wait_text(page, "cantelem-status", re.escape(want))


def test_7b_a_link_opens_the_same_view(page, browser, server):
    """The page's "Link to this view" names vehicle, signals, range and x axis; opened in
    another page it shows that view (a link naming what the store has not:
    ``test_dashboard.py``)."""
    _set_date(page, "cantelem-start", "2026-03-01 23:57:00")
    _set_date(page, "cantelem-end", "2026-03-01 23:59:30")
    status = wait_text(page, "cantelem-status",
                        r"EV0002: \d signal\(s\), 2026-03-01 23:57:00 to 2026-03-01 23:59:30")
    settle(page)
    detail = wait_text(page, "cantelem-detail", r"samples shown")
    href = page.locator(".cantelem-share a").first.get_attribute("href")
    assert "vehicle=EV0002" in href and "from=2026-03-01T23%3A57%3A00" in href
    ctx = browser.new_context(viewport={"width": 1500, "height": 1100})
    other = ctx.new_page()
    try:
        other.goto(server.url + href, timeout=180_000)
        other.wait_for_selector(".cantelem-hv canvas", timeout=180_000)
        assert wait_text(other, "cantelem-status", re.escape(status)) == status
        # the same signals, and the same samples in view
        assert wait_text(other, "cantelem-detail", re.escape(detail)) == detail
    finally:
        ctx.close()


_GROUPS_JS = """sel => {
  return Array.from(sel.querySelectorAll('optgroup')).map(
    g => [g.label, Array.from(g.querySelectorAll('option')).map(o => o.textContent)]);
}"""


def test_7d_the_signal_browser_finds_a_cell_and_draws_it(page, decoded_store):
    """Typing in the browser's search box keeps the signals of that ECU, message or name;
    picking one draws it, with every sample of the range counted; the list is back at its
    prompt and the page idle."""
    import cantelem_sci as ct

    find = page.locator(".cantelem-find input").first
    find.click()
    find.press_sequentially("bms cell17", delay=30)
    want = [["BMS · BMS_CellVoltages", ["Cell17_Voltage [V]"]]]
    t_end = time.monotonic() + 30
    while time.monotonic() < t_end:  # (the list follows the keys typed)
        groups = [g for g in page.locator(".cantelem-browser select").first.evaluate(
            _GROUPS_JS) if g[0]]
        if groups == want:
            break
        page.wait_for_timeout(200)
    assert groups == want
    n = len(re.findall(r"\w+: \d+ of", pane_text(page, "cantelem-detail")))
    page.locator(".cantelem-browser select").first.select_option(label="Cell17_Voltage [V]")
    detail = wait_text(page, "cantelem-detail", r"Cell17_Voltage: \d+ of \d+ samples shown")
    assert len(re.findall(r"\w+: \d+ of", detail)) == n + 1
    status = pane_text(page, "cantelem-status")
    t0, t1 = re.search(r"(\d{4}-\S+ \S+) to (\d{4}-\S+ \S+)", status).groups()
    fleet = ct.open_fleet(decoded_store[0])
    _, x = fleet.series("EV0002", "Cell17_Voltage", t0, t1)
    assert int(re.search(r"Cell17_Voltage: \d+ of (\d+)", detail)[1]) == \
        int(np.isfinite(x).sum())
    page.screenshot(path=str(SHOTS / "7d-signal-browser.png"), full_page=True)
    # the list is back at its prompt, and stays there: the page is idle (the reset and the
    # browser's echo of the pick alternated 40 times a second, for ever)
    tree = page.locator(".cantelem-browser select").first
    for _ in range(50):
        if tree.evaluate("s => s.options[s.selectedIndex].text") == "add a signal ...":
            break
        page.wait_for_timeout(200)
    assert tree.evaluate("s => s.options[s.selectedIndex].text") == "add a signal ..."
    settle(page)
    n = len(SEEN["sent"])
    settle(page, 3)
    assert len(SEEN["sent"]) - n <= 2, SEEN["sent"][n:][:3]
    find.fill("")
    find.press("Enter")


def _plot_image(pg):
    """The first plot as a PIL image."""
    import io as _io

    from PIL import Image

    return Image.open(_io.BytesIO(plot_png(pg))).convert("RGB")


def _look(pg, plot: tuple[int, int, int], page_rgb: str) -> None:
    """Wait until the page's background is ``page_rgb`` and the drawn plots' most common
    pixel colour (their background) is ``plot``."""
    t_end = time.monotonic() + 30
    while time.monotonic() < t_end:
        rgb = pg.locator(".cantelem-dashboard").first.evaluate(
            "p => getComputedStyle(p).backgroundColor")
        shot = _plot_image(pg)
        common = max(shot.getcolors(1 << 20))[1]
        if rgb == page_rgb and common == plot:
            return
        pg.wait_for_timeout(250)
    raise AssertionError((rgb, common, page_rgb, plot))


def test_7e_light_and_dark_looks(page):
    """The look switch redraws the page, every plot (map included) and the widgets (the
    search box and the signal list stayed dark) in the light colours, names the look in
    the link, and switches back."""

    def widgets():
        return [page.locator(f"{cls} {tag}").first.evaluate(
            "e => [getComputedStyle(e).backgroundColor, getComputedStyle(e).color]")
            for cls, tag in ((".cantelem-find", "input"), (".cantelem-browser", "select"))]

    _look(page, (38, 38, 38), "rgb(30, 30, 30)")
    assert widgets() == [["rgb(38, 38, 38)", "rgb(221, 221, 221)"]] * 2
    page.locator(".cantelem-theme button", has_text="light").first.click()
    _look(page, (255, 255, 255), "rgb(255, 255, 255)")
    assert widgets() == [["rgb(255, 255, 255)", "rgb(34, 34, 34)"]] * 2
    page.wait_for_selector(".cantelem-hv canvas", timeout=30_000)
    assert "theme=light" in page.locator(".cantelem-share a").first.get_attribute("href")
    settle(page)
    page.screenshot(path=str(SHOTS / "7e-light.png"), full_page=True)
    page.locator(".cantelem-theme button", has_text="dark").first.click()
    _look(page, (38, 38, 38), "rgb(30, 30, 30)")


def test_7f_every_signal_in_one_plot_with_an_axis_each(page):
    """"axis each" draws every shown signal in one plot (each in its colour, with its own
    y axis); "stacked" draws them one under the other again."""
    from cantelem_sci.viz._dashboard import PALETTE

    n = len(re.findall(r"\w+: \d+ of", pane_text(page, "cantelem-detail")))
    stacked = page.locator(".cantelem-hv canvas").count()
    page.locator(".cantelem-layout button", has_text="axis each").first.click()
    wait_text(page, "cantelem-status", rf"EV0002: {n} signal\(s\) \(axis each\)")
    settle(page)
    one = page.locator(".cantelem-hv canvas").count()
    assert 0 < one < stacked
    shot = _plot_image(page)
    colours = {"#%02x%02x%02x" % c for _, c in shot.getcolors(1 << 20)}
    assert len(set(PALETTE[:n]) & colours) == min(n, len(PALETTE))  # every line, one plot
    page.screenshot(path=str(SHOTS / "7f-axis-each.png"), full_page=True)
    page.locator(".cantelem-layout button", has_text="stacked").first.click()
    wait_text(page, "cantelem-status", rf"EV0002: {n} signal\(s\), ")
    page.wait_for_timeout(1000)
    assert page.locator(".cantelem-hv canvas").count() == stacked


def test_7g_another_vehicle_drawn_over_the_same_signals(page):
    """Comparing with EV0001 draws its curves into EV0002's plots (the plot changes, the
    link names the comparison) while the samples counted stay EV0002's."""
    before = _plot_image(page)
    detail = pane_text(page, "cantelem-detail")
    inp = page.locator(".cantelem-compare input").first
    inp.click()
    inp.press_sequentially("EV0001", delay=30)
    page.wait_for_timeout(300)
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    wait_text(page, "cantelem-status", r"EV0002: \d signal\(s\) compared with EV0001, ")
    settle(page)
    assert "compare=EV0001" in page.locator(".cantelem-share a").first.get_attribute("href")
    assert _plot_image(page).tobytes() != before.tobytes()
    assert pane_text(page, "cantelem-detail") == detail
    page.screenshot(path=str(SHOTS / "7g-compare.png"), full_page=True)


def _table(pg, cls: str) -> pd.DataFrame:
    """A Panel DataFrame pane's table as the page shows it (first column the index)."""
    rows = [[c.strip() for c in r.split("\t")]
            for r in pg.locator(f".{cls} table tr").all_inner_texts()]
    # pandas writes the index's name ("signal") as a second header row of empty cells
    head, body = rows[0], [r for r in rows[1:] if r and r[0] and any(r[1:])]
    return pd.DataFrame([r[1:] for r in body], index=[r[0] for r in body],
                        columns=head[-len(body[0]) + 1:]).apply(pd.to_numeric)


def test_7h_two_cursors_read_values_and_statistics_between(page, decoded_store):
    """Two clicks on the first plot place cursors A (left) and B (right): both lines are
    drawn in their colours, and the table's values at A and B, their difference and the
    statistics between them equal what pandas computes from the store at the times the
    page names."""
    from cantelem_sci.fleet import open_fleet
    from cantelem_sci.viz._cursors import COLORS

    page.locator(".cantelem-compare .choices__button").first.click()  # one vehicle again
    wait_text(page, "cantelem-status", r"EV0002: \d signal\(s\), ")
    settle(page)
    canvas = page.locator(".cantelem-hv canvas").first
    box = canvas.bounding_box()
    y = box["y"] + box["height"] * 0.5
    page.mouse.click(box["x"] + box["width"] * 0.4, y)
    wait_text(page, "cantelem-cursor-text", r"A\s+\d{4}-")
    page.mouse.click(box["x"] + box["width"] * 0.75, y)
    text = wait_text(page, "cantelem-cursor-text", r"B - A\s+[\d.]+ s")
    a, b = (pd.Timestamp(t) for t in re.findall(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6})",
                                                text))
    assert a < b
    page.wait_for_selector(".cantelem-cursors table", timeout=30_000)
    tab = _table(page, "cantelem-cursors")
    fleet = open_fleet(str(decoded_store[0]))
    assert sorted(tab.index) == sorted(re.findall(r"(\w+): \d+ of \d+ samples shown",
                                                  pane_text(page, "cantelem-detail")))
    for sig in tab.index:
        full = fleet.load("EV0002", sig).to_dataframe()[sig].dropna()
        at = lambda t: full[full.index <= t].iloc[-1]  # noqa: E731
        between = full[(full.index >= a) & (full.index <= b)]
        assert np.isclose(tab.loc[sig, "A"], at(a), atol=1e-6)
        assert np.isclose(tab.loc[sig, "B"], at(b), atol=1e-6)
        assert np.isclose(tab.loc[sig, "B - A"], at(b) - at(a), atol=1e-6)
        assert tab.loc[sig, "count"] == len(between) > 0
        assert np.isclose(tab.loc[sig, "min"], between.min(), atol=1e-6)
        assert np.isclose(tab.loc[sig, "max"], between.max(), atol=1e-6)
        assert np.isclose(tab.loc[sig, "mean"], between.mean(), atol=1e-6)
    shot = _plot_image(page)
    colours = {"#%02x%02x%02x" % c for _, c in shot.getcolors(1 << 20)}
    assert set(COLORS.values()) <= colours
    assert "cursors=" in page.locator(".cantelem-share a").first.get_attribute("href")
    page.screenshot(path=str(SHOTS / "7h-cursors.png"), full_page=True)
    page.locator(".cantelem-cursor-clear button").first.click()
    wait_text(page, "cantelem-cursor-text", r"Click a plot")


def test_7i_ninety_six_cell_voltages_shaded_as_one_plot(page, decoded_store):
    """Searching "_voltage" and "Add all 96" draws the 96 cell voltages as one Datashader
    image (no line per cell): the image the browser holds spans the store's lowest to
    highest cell voltage over the range the page shows (within a pixel and a half)."""

    find = page.locator(".cantelem-find input").first
    find.fill("_voltage")
    find.press("Enter")
    page.locator(".cantelem-add-all button", has_text="Add all 96").first.click()
    status = wait_text(page, "cantelem-status", r"signal\(s\) shaded \(\d plot\(s\), one per unit")
    settle(page, 3)
    t0, t1 = re.search(r"(\d{4}-\S+ \S+) to (\d{4}-\S+ \S+)", status).groups()
    import cantelem_sci as ct

    fleet = ct.open_fleet(decoded_store[0])
    cells = [fleet.series("EV0002", f"Cell{i:02d}_Voltage", t0, t1)[1] for i in range(1, 97)]
    lo, hi = min(np.nanmin(x) for x in cells), max(np.nanmax(x) for x in cells)
    images = drawn_images(page)
    assert len(images) == int(re.search(r"shaded \((\d+) plot", status)[1])  # one per unit
    volts = []  # the cells' plot: the one image in the range of a cell's voltage
    for im in images:
        im["image"] = [np.reshape(np.asarray(im["image"], dtype=float), im["shape"])]
        y0, y1 = im["y"][0], im["y"][0] + im["dh"][0]
        if y0 <= lo and hi <= y1 and y1 - y0 < 5:
            volts.append(im)
    assert len(volts) == 1
    _, _, y0, y1, _, bin_y = image_extent(volts[0])
    assert abs(y0 - lo) <= 1.5 * bin_y and abs(y1 - hi) <= 1.5 * bin_y, (y0, y1, lo, hi)
    page.screenshot(path=str(SHOTS / "7i-shaded.png"), full_page=True)


def test_7z_no_request_left_the_machine_in_the_whole_session(page):
    """After every step above (vehicles switched, signals added, zoom, exports, replay,
    looks, cursors, shading), the page still asked nothing of another host: Panel's
    updates of a model carried links to its CDN (about 20 stylesheets a vehicle switch)."""
    from urllib.parse import urlparse

    away = sorted({u for u in SEEN["requests"] if urlparse(u).scheme not in ("blob", "data")
                   and urlparse(u).hostname not in ("127.0.0.1", "localhost")})
    assert away == []


def test_8_every_control_is_on_screen_at_1024_px(browser, server):
    """At 1024 px the controls wrap (a row of them pushed Live and Export CSV off
    screen), and the statistics table is whole (beside the map it was cut off)."""
    ctx = browser.new_context(viewport={"width": 1024, "height": 900})
    pg = ctx.new_page()
    try:
        pg.goto(server.url, timeout=180_000)
        pg.wait_for_selector(".cantelem-hv canvas", timeout=180_000)
        for cls in ("vehicle", "trip", "start", "end", "signals", "xaxis", "live", "csv", "png"):
            box = pg.locator(f".cantelem-{cls}").first.bounding_box()
            assert box is not None and box["width"] > 0, cls
            assert 0 <= box["x"] and box["x"] + box["width"] <= 1024, (cls, box)
        # the statistics table: whole within the page, nothing cut off by its column
        pg.wait_for_selector(".cantelem-stats table", timeout=60_000)
        table = pg.locator(".cantelem-stats table").first.bounding_box()
        pane = pg.locator(".cantelem-stats").first.bounding_box()
        assert table["x"] + table["width"] <= 1024, table
        assert table["x"] + table["width"] <= pane["x"] + pane["width"] + 1, (table, pane)
        pg.screenshot(path=str(SHOTS / "8-1024px.png"), full_page=True)
    finally:
        ctx.close()


def test_empty_store_is_reported_on_the_page(browser, tmp_path):
    s = VoilaServer(tmp_path)
    try:
        pg = browser.new_page()
        pg.goto(s.url, timeout=180_000)
        pg.wait_for_selector(".cantelem-status", timeout=180_000)
        wait_text(pg, "cantelem-status", "No data yet")
        assert "Traceback" not in pg.content()
        pg.screenshot(path=str(SHOTS / "empty-store.png"), full_page=True)
    finally:
        s.stop()
