"""Twenty visits of the dashboard in Chromium: each closed tab ends its kernel, the server's
memory comes back, and a full server tells the visitor why. In a module of its own (its own
Chromium; the suite starts it first, as its longest module)."""

from __future__ import annotations

import os
import time

import pytest

from benchmarks._browser import close_page, open_page
from tests.viz._pages import SHOTS, VoilaServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _visit(browser, s, start: int, close: bool = True):
    """Open the dashboard in a tab of its own until its plots are drawn; with ``close``,
    close the tab (its beacon ends the kernel) and wait until the server is back to
    ``start`` kernels."""
    ctx, _ = open_page(browser, s.url, 1300, 900)
    if not close:
        return ctx
    close_page(ctx, s, start)
    return None


def _descriptors(pid: int) -> int:
    """Open file descriptors of a process (``/proc``)."""
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_twenty_visits_leave_no_kernel_and_a_full_server_says_so(browser, decoded_store):
    """With the idle culler off, each closed tab ends its kernel at once: after 20 visits
    the server runs the kernels it started with, its memory (Voilà and its kernels) is
    within 10% of what it was after the first visit (it grew 6.5 MB a visit: a closed
    page's sockets and their buffers stayed), and it holds as many file descriptors as then
    (a page closed while its kernel shut down kept four ZMQ sockets, 1.6 a visit). With its limit of 2 pages open, a third
    visitor reads why there is no page for them (HTTP 503); once a tab closes, the next
    visitor gets the dashboard."""
    s = VoilaServer(decoded_store[0], idle=0, max_pages=2)
    try:
        t_end = time.monotonic() + 60
        while time.monotonic() < t_end and not s.kernels():
            time.sleep(0.5)
        start = len(s.kernels())
        assert start == 1  # the pre-heated kernel of the next visitor
        _visit(browser, s, start)  # Voilà's and Chromium's caches filled
        before = s.memory_mb(settle=60)  # the pool's kernel heated again
        fds = _descriptors(s.proc.pid)
        for visit in range(20):
            _visit(browser, s, start)
            assert len(s.kernels()) == start, f"visit {visit}: its kernel is left"
        after = s.memory_mb(settle=60)
        assert after <= 1.10 * before, (before, after)
        assert _descriptors(s.proc.pid) <= fds + 2, (fds, _descriptors(s.proc.pid))
        # the limit: two tabs open, a third visitor is told, a closed tab makes room
        tabs = [_visit(browser, s, start, close=False) for _ in range(2)]
        ctx = browser.new_context()
        pg = ctx.new_page()
        resp = pg.goto(s.url, timeout=180_000)
        assert resp.status == 503
        assert "showing its limit of 2 pages" in pg.inner_text("body")
        assert "Traceback" not in pg.content()
        pg.screenshot(path=str(SHOTS / "limit-of-pages.png"))
        ctx.close()
        tabs[0].pages[0].close(run_before_unload=True)
        t_end = time.monotonic() + 30
        while time.monotonic() < t_end and len(s.kernels()) > start + 1:
            time.sleep(0.25)
        tabs[0].close()
        tabs[1].close()
        _visit(browser, s, start)
    finally:
        s.stop()
