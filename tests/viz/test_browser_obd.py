"""The dashboard on a car without a DBC: its OBD-II PIDs are offered and drawn like DBC
signals (Chromium through Playwright)."""

from __future__ import annotations

import re

import pytest

import cantelem_sci as ct
from cantelem_edge import ingest

from tests.viz._pages import SHOTS, VoilaServer, add_signal, settle, wait_text

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def car_store(tmp_path_factory, cluster_client):
    path = tmp_path_factory.mktemp("obd") / "store"
    b = ct.simulate_obd_vehicle("CAR0001", duration_s=240, seed=4)
    ingest(b, "CAR0001", str(path), segment_seconds=60.0)
    ct.decode_fleet(str(path), client=cluster_client, progress=False)
    return path


def test_obd_pids_are_listed_and_drawn(browser, car_store):  # noqa: F811
    fleet = ct.open_fleet(car_store)
    n_speed = fleet.load("CAR0001", "VehicleSpeed").sizes["time"]
    n_rpm = fleet.load("CAR0001", "EngineSpeed").sizes["time"]
    s = VoilaServer(car_store)
    try:
        pg = browser.new_page(viewport={"width": 1500, "height": 1100})
        pg.goto(s.url, timeout=180_000)
        pg.wait_for_selector(".cantelem-hv canvas", timeout=180_000)
        wait_text(pg, "cantelem-status", r"CAR0001: 1 signal\(s\)")
        # the default signal of the EV fleet exists here too, from PID 0D
        detail = wait_text(pg, "cantelem-detail", r"VehicleSpeed: \d+ of \d+ samples shown")
        assert int(re.search(r"VehicleSpeed: \d+ of (\d+)", detail)[1]) == n_speed
        add_signal(pg, "EngineSpeed")
        detail = wait_text(pg, "cantelem-detail", r"EngineSpeed: \d+ of \d+ samples shown")
        assert int(re.search(r"EngineSpeed: \d+ of (\d+)", detail)[1]) == n_rpm
        settle(pg)
        assert pg.locator(".cantelem-hv canvas").count() >= 2
        assert "Traceback" not in pg.content()
        pg.screenshot(path=str(SHOTS / "obd-car.png"), full_page=True)
    finally:
        s.stop()
