"""Chromium through Playwright for the dashboard's benchmarks and browser tests: one launch
and one page visit (open until the plots are drawn, close as a person closes a tab)."""

from __future__ import annotations

import shutil
import time
from typing import Any

#: Chromium without sandbox, GPU or background requests (no request may leave 127.0.0.1)
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def chromium_path() -> str | None:
    """Debian's Chromium, or None when it is not installed."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def launch_chromium(playwright: Any, exe: str | None = None) -> Any:
    """A Chromium browser of ``playwright`` (``exe``: Debian's by default)."""
    return playwright.chromium.launch(executable_path=exe or chromium_path(), args=ARGS)


def open_page(browser: Any, url: str, width: int = 1500, height: int = 1100) -> tuple[Any, Any]:
    """``(context, page)``: ``url`` in a tab of its own, once its plots are drawn."""
    ctx = browser.new_context(viewport={"width": width, "height": height})
    page = ctx.new_page()
    page.goto(url, timeout=300_000)
    page.wait_for_selector(".cantelem-hv canvas", timeout=300_000)
    return ctx, page


def close_page(ctx: Any, server: Any, kernels: int) -> None:
    """Close the tab as a person does (its beacon ends the kernel), then wait up to 30 s
    until ``server`` runs ``kernels`` kernels again."""
    ctx.pages[0].close(run_before_unload=True)
    t_end = time.monotonic() + 30
    while len(server.kernels()) > kernels and time.monotonic() < t_end:
        time.sleep(0.1)
    ctx.close()


def pane_text(page: Any, cls: str) -> str:
    """Text of the Panel pane of CSS class ``cls`` (rendered inside its shadow root, which
    Playwright pierces)."""
    loc = page.locator(f".{cls} div")
    return loc.first.inner_text() if loc.count() else ""


_COLUMN_JS = """(name) => {
  const out = [];
  for (const doc of window.Bokeh.documents)
    for (const m of doc.all_models) {
      if (m.type !== "ColumnDataSource") continue;
      const d = m.data instanceof Map ? Object.fromEntries(m.data) : m.data;
      if (name in d) out.push({id: m.id, values: Array.from(d[name], v => v === null ? NaN : v)});
    }
  return out;
}"""

_IMAGES_JS = """() => {
  const out = [];
  for (const doc of window.Bokeh.documents)
    for (const m of doc.all_models) {
      if (m.type !== "ColumnDataSource") continue;
      const d = m.data instanceof Map ? Object.fromEntries(m.data) : m.data;
      if (!("image" in d) || !d.image.length) continue;
      const img = d.image[0];
      out.push({shape: Array.from(img.shape), image: Array.from(img), x: [d.x[0]],
                y: [d.y[0]], dw: [d.dw[0]], dh: [d.dh[0]]});
    }
  return out;
}"""


def drawn_column(page: Any, name: str) -> list[tuple[str, Any]]:
    """``(source id, values)`` of every Bokeh data source on ``page`` holding a column
    ``name`` (a signal's samples as the browser draws them; null as NaN)."""
    import numpy as np

    return [(d["id"], np.asarray(d["values"], float)) for d in page.evaluate(_COLUMN_JS, name)]


def drawn_images(page: Any) -> list[dict]:
    """The images (Datashader's shaded plots) the Bokeh documents on ``page`` hold: each
    ``{shape, image (flat), x, y, dw, dh}``."""
    return page.evaluate(_IMAGES_JS)
