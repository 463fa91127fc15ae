"""The dashboard through a real browser (Playwright + Debian's Chromium, Voilà on 127.0.0.1).

* page load -> first plot canvas: cold (a fresh Voilà, its pre-heated kernel still starting)
  and warm (the next page load); targets 10 s and 3 s;
* zoom on a 10 M point signal (115.7 Hz over one day, one vehicle) -> re-rendered plot, from
  the wheel event to the new "samples shown" text; target 300 ms;
* on the demo fleet (2 simulated vehicles, 30 min each): vehicle switch (target 1 s), the 96
  cell voltages added at once -> their shaded image in the browser; memory of the server and
  its kernels with no page, per open page, and after 20 open/close cycles (goal: within 10%
  of the server after its first visit).
"""

from __future__ import annotations

import re
import tempfile
import time
from pathlib import Path

import numpy as np

from ._browser import (chromium_path, close_page, drawn_column, drawn_images, launch_chromium,
                       open_page, pane_text)
from .bench_fleet import vehicle_day_store


def main() -> dict:
    from playwright.sync_api import sync_playwright

    from cantelem_sci.viz import DashboardServer as VoilaServer

    exe = chromium_path()
    if not exe:
        print("[dashboard] chromium not installed (apt-get install chromium)")
        return {}
    res = {}
    import os

    with tempfile.TemporaryDirectory() as tmp:
        # CANTELEM_BENCH_STORE: reuse a store built by an earlier run (kept there)
        keep = os.environ.get("CANTELEM_BENCH_STORE")
        store = Path(keep) if keep else Path(tmp) / "store"
        if not (store / "decoded").exists():
            vehicle_day_store(store, n=10_000_000, segment_max_frames=500_000)
        server = VoilaServer(store)
        try:
            with sync_playwright() as p:
                b = launch_chromium(p, exe)
                for label in ("cold", "warm"):
                    page = b.new_page(viewport={"width": 1500, "height": 1100})
                    t = time.perf_counter()
                    page.goto(server.url, timeout=300_000)
                    page.wait_for_selector(".cantelem-hv canvas", timeout=300_000)
                    res[f"first_plot_{label}_s"] = time.perf_counter() - t
                    if label == "warm":
                        break
                    page.close()
                    time.sleep(5)  # the pool pre-heats the next kernel
                detail = page.locator(".cantelem-detail div")
                t_end = time.monotonic() + 60
                while not re.search(r"of (\d+) samples", detail.first.inner_text()) and \
                        time.monotonic() < t_end:
                    page.wait_for_timeout(100)
                canvas = page.locator(".cantelem-hv canvas").first
                box = canvas.bounding_box()
                page.mouse.move(box["x"] + box["width"] * 0.4, box["y"] + box["height"] * 0.5)
                times = []
                for _ in range(5):
                    before = detail.first.inner_text()
                    t = time.perf_counter()
                    page.mouse.wheel(0, -200)
                    while detail.first.inner_text() == before and time.perf_counter() - t < 10:
                        page.wait_for_timeout(5)
                    times.append(time.perf_counter() - t)
                    page.wait_for_timeout(300)
                res["zoom_ms"] = float(np.median(times) * 1e3)
                m = re.search(r"of (\d+) samples", detail.first.inner_text())
                res["in_view_after_zoom"] = int(m.group(1)) if m else None
                b.close()
        finally:
            server.stop()
    print(f"[dashboard] first plot: cold {res['first_plot_cold_s']:.1f} s, warm "
          f"{res['first_plot_warm_s']:.1f} s; zoom on a 10 M point signal -> re-rendered: "
          f"{res['zoom_ms']:.0f} ms (median of 5)")
    res.update(fleet_page(exe))
    return res


#: how many Image glyphs the page's Bokeh documents hold with data (shaded plots drawn)
def _status(page) -> str:
    return pane_text(page, "cantelem-status")


def _drawn(page) -> list:
    """The vehicle speed the page's plot holds (its first and last values, its length)."""
    return [(len(v), v[:1].tolist(), v[-1:].tolist()) for _, v in drawn_column(page, "VehicleSpeed")]


def _until(page, cond, timeout: float = 60.0) -> float:
    """Seconds until ``cond()`` holds (polled every 10 ms), or ``timeout``."""
    t = time.perf_counter()
    while not cond() and time.perf_counter() - t < timeout:
        page.wait_for_timeout(10)
    return time.perf_counter() - t


def fleet_page(exe: str) -> dict:
    """Vehicle switch, the 96-cell shaded draw and the server's memory on the demo fleet."""
    from playwright.sync_api import sync_playwright

    from cantelem_sci.viz import DashboardServer

    from ._demo import demo_store

    res: dict = {}
    with demo_store(vehicles=2, duration_s=1800.0) as (store, *_):
        server = DashboardServer(store, idle=0)
        try:
            with sync_playwright() as p:
                b = launch_chromium(p, exe)
                t_end = time.monotonic() + 120
                while not server.kernels() and time.monotonic() < t_end:
                    time.sleep(0.2)
                pool = len(server.kernels())
                ctx, page = open_page(b, server.url)  # caches of Voilà and Chromium filled
                close_page(ctx, server, pool)
                res["server_mb"] = server.memory_mb(settle=60)
                ctx, page = open_page(b, server.url)
                page.wait_for_timeout(2000)
                switch = []
                for vid in ("EV0002", "EV0001", "EV0002", "EV0001", "EV0002"):
                    before = _drawn(page)
                    page.locator(".cantelem-vehicle select").first.select_option(vid)
                    # until the page names the vehicle and its plot holds the vehicle's data
                    switch.append(_until(page, lambda: _status(page).startswith(f"{vid}: ")
                                         and _drawn(page) != before))
                    page.wait_for_timeout(500)
                res["vehicle_switch_ms"] = float(np.median(switch) * 1e3)
                page.wait_for_timeout(2000)  # the README's picture: the demo as it opens
                page.screenshot(path=str(Path(__file__).resolve().parents[1] / "docs" /
                                         "dashboard.png"))
                find = page.locator(".cantelem-find input").first
                find.fill("_voltage")
                find.press("Enter")
                page.wait_for_timeout(1000)
                t = time.perf_counter()
                page.locator(".cantelem-add-all button", has_text="Add all 96").first.click()
                _until(page, lambda: "shaded" in _status(page) and drawn_images(page))
                res["shaded_96_s"] = time.perf_counter() - t
                res["per_page_mb"] = server.memory_mb(settle=30) - res["server_mb"]
                close_page(ctx, server, pool)
                first = server.memory_mb(settle=60)
                for _ in range(20):
                    ctx, _page = open_page(b, server.url)
                    close_page(ctx, server, pool)
                res["after_20_cycles_ratio"] = server.memory_mb(settle=60) / first
                b.close()
        finally:
            server.stop()
    print(f"[dashboard] demo fleet: vehicle switch {res['vehicle_switch_ms']:.0f} ms (median "
          f"of 5), 96 cell voltages -> shaded image {res['shaded_96_s']:.2f} s; server "
          f"{res['server_mb']:.0f} MB, +{res['per_page_mb']:.0f} MB per open page, after 20 "
          f"open/close cycles x{res['after_20_cycles_ratio']:.3f} of after the first visit")
    return res


if __name__ == "__main__":
    main()
