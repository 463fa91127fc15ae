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
