"""Live telemetry end to end: a frame's capture at the edge to its value drawn in Chromium.

Three edge loggers (processes) run the simulator at about 2,000 frames/s each in real time
and publish to a broker (Debian's Mosquitto when installed, else the embedded amqtt); the
Voilà dashboard subscribes and streams the first vehicle's three default signals; Chromium
(Playwright) shows it. Everything runs on this machine.

How latency is measured, per sample drawn:

* capture: the frame's timestamp (the simulator stamps each frame with the wall-clock time
  it is due and hands it over within its 20 ms batch);
* drawn: in the page, each live data source's ``streaming`` signal (BokehJS appending the
  new points) schedules a ``requestAnimationFrame``; its time is when the new points are
  painted. Page and edge share this machine's clock;
* capture -> publish and publish -> drawn: the benchmark also subscribes to the broker and
  records each sample's ``published_ns`` (the edge's publish time), matched to the page's
  samples by (signal, capture time).

Prints P50/P95/P99 of each part. Goal: P95 < 200 ms and P99 < 400 ms end to end.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

from ._browser import launch_chromium

VEHICLES = ("EV0001", "EV0002", "EV0003")
RATE = 2000  # frames/s per vehicle

#: installs the page-side recorder: [capture ms, painted ms] of every point streamed
JS_HOOK = """() => {
  window.__lat = window.__lat || [];
  window.__hooked = window.__hooked || new Set();
  let n = 0;
  for (const d of (window.Bokeh ? Bokeh.documents : [])) {
    for (const m of d._all_models.values()) {
      if (!(m.name && m.name.startsWith('cantelem-live-') && m.data && m.data.t)) continue;
      n += 1;
      if (window.__hooked.has(m.id)) continue;
      window.__hooked.add(m.id);
      m.__seen = m.data.t.length;
      const name = m.name.slice(14);
      m.streaming.connect(() => {
        const t = m.data.t, k0 = Math.min(m.__seen, t.length);
        const fresh = Array.from(t.slice(k0));
        m.__seen = t.length;
        requestAnimationFrame(() => {
          const now = performance.timeOrigin + performance.now();
          for (const x of fresh) window.__lat.push([name, x, now]);
        });
      });
    }
  }
  return n;
}"""


def _pct(x) -> str:
    x = np.asarray(x, float)
    if not x.size:
        return "no samples"
    p = np.percentile(x, [50, 95, 99])
    return f"P50 {p[0]:.0f} ms, P95 {p[1]:.0f} ms, P99 {p[2]:.0f} ms"


class _Recorder:
    """Subscribes to the broker and keeps the payloads; :meth:`published` reads them after
    the run (decoding them during it would take CPU from what is measured)."""

    def __init__(self, url: str) -> None:
        from cantelem_sci.io import BrokerSettings, connect

        self.raw: list[tuple[str, bytes]] = []
        self.lock = threading.Lock()

        def on_message(topic, payload):
            with self.lock:
                self.raw.append((topic, payload))

        self.client = connect(BrokerSettings.from_url(url), on_message=on_message,
                              subscribe=["cantelem/+/signals"])

    def close(self) -> None:
        self.client.disconnect()  # first: the network thread sends it and ends
        self.client.loop_stop()

    def published(self) -> dict[tuple[str, float], int]:
        """(vehicle/signal, capture ms) -> the edge's publish time (ns)."""
        from cantelem_sci.io import LiveSamples, decode_message

        pub = {}
        for topic, payload in self.raw:
            msg = decode_message(topic, payload, "cantelem")
            if isinstance(msg, LiveSamples):
                for sig, (t, _) in msg.signals.items():
                    key = f"{msg.vehicle}/{sig}"
                    for x in (t / 1e6).tolist():
                        pub[(key, x)] = msg.published_ns
        return pub


def main(seconds: float | None = None) -> dict:
    from playwright.sync_api import sync_playwright

    from cantelem_sci.io import EmbeddedBroker
    from cantelem_sci.viz import DashboardServer as VoilaServer

    seconds = float(seconds or os.environ.get("CANTELEM_BENCH_LIVE_S", 60))
    exe = shutil.which("chromium")
    if not exe:
        print("[live] chromium not installed (apt-get install chromium)")
        return {}
    kind = "mosquitto" if EmbeddedBroker.available("mosquitto") else "amqtt"
    res: dict = {"broker": kind}
    with tempfile.TemporaryDirectory() as tmp, EmbeddedBroker(kind) as broker:
        loggers = [subprocess.Popen(
            [sys.executable, "-m", "cantelem_edge", "run", "--spool", tmp, "--vehicle", v,
             "--source", f"sim:{v}:{RATE}fps", "--live-url", broker.url,
             "--status-path", os.path.join(tmp, f"{v}.status.json")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for v in VEHICLES]
        rec = _Recorder(broker.url)
        server = VoilaServer(tmp, mqtt=broker.url)
        try:
            with sync_playwright() as p:
                b = launch_chromium(p, exe)
                page = b.new_page(viewport={"width": 1500, "height": 1100})
                page.goto(server.url, timeout=300_000)
                t_end = time.monotonic() + 180
                while page.evaluate(JS_HOOK) < 3 and time.monotonic() < t_end:
                    page.wait_for_timeout(200)
                page.wait_for_timeout(5000)  # past the first windows and the JIT
                page.evaluate("() => { window.__lat = []; }")
                t0 = time.monotonic()
                while time.monotonic() - t0 < seconds:
                    page.evaluate(JS_HOOK)  # plots rebuilt (a vehicle switch) get hooked too
                    page.wait_for_timeout(1000)
                lat = page.evaluate("() => window.__lat")

                b.close()
        finally:
            server.stop()
            for lg in loggers:
                lg.send_signal(signal.SIGTERM)
            for lg in loggers:
                lg.wait(60)
            rec.close()
    total, to_pub, to_page = [], [], []
    published = rec.published()
    for name, t_ms, drawn_ms in lat:
        total.append(drawn_ms - t_ms)
        pub = published.get((name, t_ms))
        if pub is not None:
            to_pub.append(pub / 1e6 - t_ms)
            to_page.append(drawn_ms - pub / 1e6)
    res.update(samples=len(total), end_to_end_ms=np.percentile(total, [50, 95, 99]).tolist()
               if total else None)
    print(f"[live] {len(VEHICLES)} vehicles x {RATE} frames/s, {seconds:.0f} s, broker {kind}, "
          f"{len(total):,} samples drawn")
    print(f"[live] capture -> drawn in Chromium: {_pct(total)} (goal: P95 < 200, P99 < 400)")
    print(f"[live]   capture -> published at the edge: {_pct(to_pub)}")
    print(f"[live]   published -> drawn (broker, dashboard kernel, page): {_pct(to_page)}")
    if lat:  # where the tail comes from: P95 of each 10 s of the run
        drawn = np.array([x[2] for x in lat])
        tot = np.array(total)
        k = ((drawn - drawn.min()) // 10_000).astype(int)
        print("[live]   P95 per 10 s: " + ", ".join(
            f"{np.percentile(tot[k == i], 95):.0f}" for i in range(k.max() + 1) if (k == i).any())
            + " ms")
    return res


if __name__ == "__main__":
    main()
