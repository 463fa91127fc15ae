"""What the browser tests share: Debian's Chromium, the dashboard server, reading a Panel
page (its panes, plots and kernels) and reading back what a PNG export or a shaded plot drew.
The ``browser`` fixture itself is in ``tests/conftest.py``."""

from __future__ import annotations

import re
import time

import numpy as np
import pytest

from benchmarks._browser import chromium_path as _chromium
from benchmarks._browser import drawn_column, drawn_images, pane_text  # noqa: F401  (tests)
from benchmarks._browser import launch_chromium as _launch
from cantelem_sci.viz import DashboardServer
from cantelem_sci.viz._serve import kernel_pids
from tests.conftest import ROOT

#: screenshots of every browser test, for a person to look at
SHOTS = ROOT / "artifacts" / "screenshots"

#: the dashboard in a Voila child process on a free port (the tests' and benchmarks' server)
VoilaServer = DashboardServer


def chromium_path() -> str:
    """Debian's Chromium, or skip the test saying how to get it."""
    exe = _chromium()
    if not exe:
        pytest.skip("Debian's chromium is not installed (./run test installs it with apt-get "
                    "when it can)")
    return exe


def launch_chromium(playwright):
    """Chromium (``benchmarks/_browser.py``), or skip the test without it."""
    return _launch(playwright, chromium_path())


def settle(pg, seconds: float = 1.5) -> None:
    pg.wait_for_timeout(int(seconds * 1000))


def wait_text(pg, cls: str, pattern: str, timeout: float = 60) -> str:
    """The text of pane ``cls`` once it matches ``pattern`` (fails after ``timeout`` s)."""
    t_end = time.monotonic() + timeout
    txt = ""
    while time.monotonic() < t_end:
        txt = pane_text(pg, cls)
        if re.search(pattern, txt):
            return txt
        pg.wait_for_timeout(200)
    raise AssertionError(f"{cls}: {pattern!r} not found in {txt!r}")


def plot_png(pg) -> bytes:
    """The first plot as PNG bytes (taken again while a redraw replaces the element)."""
    from playwright.sync_api import Error

    for _ in range(20):
        try:
            return pg.locator(".cantelem-hv").first.screenshot()
        except Error:  # detached or moving: the plot is being drawn again
            pg.wait_for_timeout(250)
    return pg.locator(".cantelem-hv").first.screenshot()


def add_signal(pg, name: str) -> None:
    """Type ``name`` into the signal box (the list filters to it) and pick it."""
    inp = pg.locator(".cantelem-signals input").first
    inp.click()
    inp.press_sequentially(name, delay=30)
    pg.wait_for_timeout(300)
    pg.keyboard.press("Enter")
    pg.keyboard.press("Escape")


def kernels(pid: int) -> list[int]:
    """The ipykernel processes under server ``pid`` (/proc)."""
    return kernel_pids(pid)


def png_drawn(png: bytes) -> tuple[dict[str, str], dict[str, tuple[float, ...]]]:
    """A PNG export's text chunks, and each signal's extent read back from its pixels (its
    colour inside its plot's box, mapped through the plot's limits the file records):
    ``{signal: (first ms, last ms, min, max, pixels)}``."""
    import io
    import json

    from PIL import Image

    im = Image.open(io.BytesIO(png))
    text = dict(im.text)
    rgb = np.asarray(im.convert("RGB")).astype(int)
    drawn = {}
    for rec in json.loads(text["cantelem:axes"]):
        x0, y0, x1, y1 = rec["box"]
        sub = rgb[y0:y1, x0:x1]
        (ya, yb), (xa, xb) = rec["ylim"], rec["xlim"]
        val = lambda r: yb - (r + 0.5) / (y1 - y0) * (yb - ya)  # noqa: E731
        ms = lambda c: xa + (c + 0.5) / (x1 - x0) * (xb - xa)  # noqa: E731
        if rec.get("shaded"):  # one image for the plot's signals: what is not background
            bg = np.array([int(rec["background"][i:i + 2], 16) for i in (1, 3, 5)])
            inner = np.zeros(sub.shape[:2], dtype=bool)
            inner[2:-2, 2:-2] = True  # not the plot's frame
            rows, cols = np.nonzero(inner & (np.abs(sub - bg).sum(axis=-1) > 0))
            drawn[",".join(rec["signals"])] = (ms(cols.min()), ms(cols.max()),
                                               val(rows.max()), val(rows.min()), rows.size)
            continue
        for sig in rec["signals"]:
            want = np.array([int(text["colour:" + sig][i:i + 2], 16) for i in (1, 3, 5)])
            rows, cols = np.nonzero(np.abs(sub - want).sum(axis=-1) < 40)
            if not rows.size:
                drawn[sig] = (np.nan,) * 4 + (0,)
                continue
            drawn[sig] = (ms(cols.min()), ms(cols.max()), val(rows.max()), val(rows.min()),
                          rows.size)
    return text, drawn


def image_extent(data: dict) -> tuple[float, ...]:
    """(first x, last x, lowest y, highest y, bin width, bin height) of the pixels a shaded
    plot's image fills (Bokeh's image glyph data: ``image``, ``x``, ``y``, ``dw``, ``dh``),
    each at its bin's centre."""
    img = np.nan_to_num(np.asarray(data["image"][0], dtype=float))
    h, w = img.shape
    rows, cols = np.nonzero(img > 0)
    def num(v):  # times in ms since 1970, as the browser gets them
        v = np.asarray(v).ravel()[0]
        if isinstance(v, (np.datetime64, np.timedelta64)):
            return v.astype("datetime64[ns]" if isinstance(v, np.datetime64)
                            else "timedelta64[ns]").astype("int64") / 1e6
        return float(v)

    x, y, dw, dh = (num(data[k]) for k in ("x", "y", "dw", "dh"))
    return (x + (cols.min() + 0.5) * dw / w, x + (cols.max() + 0.5) * dw / w,
            y + (rows.min() + 0.5) * dh / h, y + (rows.max() + 0.5) * dh / h, dw / w, dh / h)
