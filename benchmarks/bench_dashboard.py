"""The dashboard through a real browser (Playwright + Debian's Chromium, Voilà on 127.0.0.1).

* page load -> first plot canvas: cold (a fresh Voilà, its pre-heated kernel still starting)
  and warm (the next page load); targets 10 s and 3 s;
* zoom on a 10 M point signal (115.7 Hz over one day, one vehicle) -> re-rendered plot, from
  the wheel event to the new "samples shown" text; target 500 ms.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from .bench_fleet import vehicle_day_store


def main() -> dict:
    from playwright.sync_api import sync_playwright

    from cantelem_sci.viz import DashboardServer as VoilaServer

    exe = shutil.which("chromium")
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
                b = p.chromium.launch(executable_path=exe, args=[
                    "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
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
                page.screenshot(path=str(Path(__file__).resolve().parents[1] / "docs" /
                                         "dashboard.png"))
                b.close()
        finally:
            server.stop()
    print(f"[dashboard] first plot: cold {res['first_plot_cold_s']:.1f} s, warm "
          f"{res['first_plot_warm_s']:.1f} s; zoom on a 10 M point signal -> re-rendered: "
          f"{res['zoom_ms']:.0f} ms (median of 5)")
    return res


if __name__ == "__main__":
    main()
