"""Alert events on the dashboard in Chromium: the spans drawn are the events the fleet job
wrote (read from the page's Bokeh models), and a click on an event shows its range."""

from __future__ import annotations

import re
import shutil

import pandas as pd
import pytest

import cantelem_sci as ct
from tests.viz._pages import SHOTS, VoilaServer, pane_text, settle, wait_text

pytestmark = [pytest.mark.browser, pytest.mark.slow]

RULES = {"rules": [{"name": "fast", "signal": "VehicleSpeed", "above": 40, "clear": 30,
                    "for": "2s", "severity": "critical"}]}

JS_SPANS = """() => {
  const out = [];
  for (const d of (window.Bokeh ? Bokeh.documents : [])) {
    for (const m of d._all_models.values()) {
      if (m.type === "BoxAnnotation" && Number.isFinite(m.left)
          && Number.isFinite(m.right)) {
        out.push([m.left, m.right, m.fill_color]);
      }
    }
  }
  return out;
}"""


@pytest.fixture(scope="module")
def events_store(decoded_store, cluster_client, tmp_path_factory):
    path = tmp_path_factory.mktemp("events") / "store"
    shutil.copytree(decoded_store[0], path)
    ct.evaluate_fleet(str(path), rules=RULES, client=cluster_client)
    return path


@pytest.fixture(scope="module")
def page(browser, events_store):
    s = VoilaServer(events_store)
    ctx = browser.new_context(viewport={"width": 1500, "height": 1100})
    pg = ctx.new_page()
    pg.goto(s.url, timeout=180_000)
    pg.wait_for_selector(".cantelem-hv canvas", timeout=180_000)
    settle(pg)
    yield pg
    ctx.close()
    s.stop()


def _spans(pg):
    return sorted(tuple(x[:2]) for x in pg.evaluate(JS_SPANS))


def test_event_spans_are_drawn_where_the_events_are(page, events_store):
    events = ct.open_fleet(str(events_store)).events("EV0001")
    assert len(events) >= 2
    wait_text(page, "cantelem-events-title", r"Alerts:\*?\*? ?\d+ event")
    got = _spans(page)
    assert len(got) == len(events)  # VehicleSpeed's plot: one span per event
    for (left, right), r in zip(got, events.itertuples()):
        assert left == pd.Timestamp(r.start).value / 1e6  # at its start and end (ms)
        if pd.isna(r.end):  # still going on: to the end of the shown range
            assert right > left
        else:
            assert right == pd.Timestamp(r.end).value / 1e6
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "alerts-spans.png"), full_page=True)


def test_click_on_an_event_shows_its_range(page, events_store):
    events = ct.open_fleet(str(events_store)).events("EV0001")
    first = events.iloc[0]
    before = pane_text(page, "cantelem-status")
    page.locator(".cantelem-event-0 button").first.click()
    for _ in range(100):
        status = pane_text(page, "cantelem-status")
        if status != before and " to " in status:
            break
        page.wait_for_timeout(200)
    m = re.search(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) to (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)",
                  status)
    t0, t1 = pd.Timestamp(m.group(1)), pd.Timestamp(m.group(2))
    assert t0 < first["start"] and first["end"] < t1
    assert t1 - t0 < pd.Timedelta(minutes=5)  # zoomed in on the event
    settle(page)
    assert any(abs(a - pd.Timestamp(first["start"]).value / 1e6) < 1 for a, _ in _spans(page))
    assert "1 event" in pane_text(page, "cantelem-events-title") or "event(s)" in pane_text(
        page, "cantelem-events-title")
