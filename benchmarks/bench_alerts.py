"""Alert evaluation: the evaluator's kernels on one core, and the fleet alert job beside the
decode job on the same store and cluster.

Kernel: 3 rules (above with hysteresis, below with ``for``, rate of change) over 100 M
samples of a slow random walk with rare excursions, in memory, one core. The figure is
samples per second of the three rules together (each sample seen by every rule); the peer in
the same run is numpy's ``count_nonzero(v > x)`` (one pass at memory speed). Goal: >= 200 M
samples/s.

Fleet: the demo's defaults (3 vehicles x 1,800 s, the first one overheating), the decode job
then the alert job (the demo's rules) on one LocalCluster of 2 workers, wall time each.

Latency: three edge loggers (processes, the simulator in real time at about 2,000 frames/s)
each overheat once; from the capture time of the frame that fired the alert to its arrival
at an MQTT subscriber (Mosquitto when installed, else amqtt) and at a webhook receiver
(``http.server``), all on this machine. Goal: under 1 s.
"""

from __future__ import annotations

import tempfile
import time

import numpy as np

RULES = {"rules": [
    {"name": "hot", "signal": "x", "above": 60, "clear": 57},
    {"name": "low", "signal": "x", "below": -60, "clear": -57, "for": "1s"},
    {"name": "jump", "signal": "x", "rate_above": 5000, "clear": 100},
]}


def _series(n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    t = np.arange(n, dtype=np.int64) * 1_000_000 + 1_700_000_000 * 10**9  # 1 kHz
    v = np.cumsum(rng.normal(0, 0.05, n)) % 100 - 50  # mostly inside (-60, 60)
    k = rng.integers(0, n - 5000, max(1, n // 2_000_000))
    for i in k:  # rare excursions
        v[i:i + 3000] = 70.0
    return t, v


def kernel(n: int = 100_000_000, repeat: int = 3) -> dict:
    from cantelem_sci.alerts import RuleEvaluator, load_rules

    t, v = _series(n)
    rules = load_rules(RULES).rules
    warm = [RuleEvaluator(r, "B").feed(t[:1000], v[:1000]) for r in rules]  # JIT
    del warm
    best = {"ours": float("inf"), "numpy": float("inf")}
    events = 0
    for _ in range(repeat):
        s = time.perf_counter()
        events = sum(len(RuleEvaluator(r, "B").feed(t, v)) for r in rules)
        best["ours"] = min(best["ours"], time.perf_counter() - s)
        s = time.perf_counter()
        for _r in rules:
            np.count_nonzero(v > 60.0)
        best["numpy"] = min(best["numpy"], time.perf_counter() - s)
    res = {"samples": n, "rules": len(rules), "transitions": events,
           "samples_per_s": n / best["ours"], "numpy_samples_per_s": n / best["numpy"],
           "ratio_vs_numpy": best["numpy"] / best["ours"]}
    print(f"[alerts] 3 rules over {n / 1e6:.0f} M samples, one core: "
          f"{res['samples_per_s'] / 1e6:.0f} M samples/s ({events} transitions); "
          f"numpy count_nonzero(v > x) x3: {res['numpy_samples_per_s'] / 1e6:.0f} M samples/s; "
          f"ours / numpy {res['ratio_vs_numpy']:.2f}")
    return res


def fleet(vehicles: int = 3, duration_s: float = 1800.0) -> dict:
    import cantelem_sci as ct
    from cantelem_sci.cli import _demo_rules

    from ._demo import demo_store

    with demo_store(vehicles, duration_s, fault=True) as (store, client, rep, t_decode):
        rules = _demo_rules(store, None)
        s = time.perf_counter()
        arep = ct.evaluate_fleet(store, rules=rules, client=client)
        t_alerts = time.perf_counter() - s
    res = {"frames": rep.frames, "decode_s": t_decode, "alerts_s": t_alerts,
           "events": arep.events}
    print(f"[alerts] fleet job on the demo store ({rep.frames:,} frames, {vehicles} vehicles): "
          f"decode {t_decode:.1f} s, alerts {t_alerts:.1f} s ({arep.events} event(s)), "
          f"alerts / decode {t_alerts / t_decode:.2f}")
    return res


def latency(vehicles: int = 3) -> dict:
    import http.server
    import json
    import os
    import subprocess
    import sys
    import threading

    from cantelem_sci.io import BrokerSettings, EmbeddedBroker, connect

    got: list[tuple[str, float, dict]] = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - the http.server API
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            got.append(("webhook", time.time(), json.loads(body)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    kind = "mosquitto" if EmbeddedBroker.available("mosquitto") else "amqtt"
    hook = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    with tempfile.TemporaryDirectory() as tmp, EmbeddedBroker(kind) as broker:
        sub = connect(BrokerSettings.from_url(broker.url, client_id="bench-alerts"),
                      subscribe=["cantelem/+/alerts"],
                      on_message=lambda t, p: got.append(("mqtt", time.time(), json.loads(p))))
        sub.connected_flag.wait(10)
        rules = os.path.join(tmp, "rules.yaml")
        with open(rules, "w") as fh:
            fh.write(f"""sinks:
  mqtt: {{type: mqtt, url: "{broker.url}"}}
  hook: {{type: webhook, url: "http://127.0.0.1:{hook.server_address[1]}/a"}}
rules: [{{name: hot, signal: CellTempMax, above: 60, clear: 57}}]
""")
        procs = []
        for i in range(vehicles):
            v = f"EV{i + 1:04d}"
            source = f"sim:{v}:2000fps:fault=overheat@{4 + 2 * i}s+3s"
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "cantelem_edge", "run", "--vehicle", v, "--spool", tmp,
                 "--source", source, "--alert-rules", rules, "--duration",
                 str(12 + 2 * vehicles)], stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL))
        for p in procs:
            p.wait(120)
        sub.disconnect()  # first: the network thread sends it and ends
        sub.loop_stop()
    hook.shutdown()
    lat: dict[str, list[float]] = {"mqtt": [], "webhook": []}
    for sink, at, doc in got:
        if doc["state"] == "fired":
            t = np.datetime64(doc["sample"]["time"][:-1]).astype("datetime64[ns]")
            lat[sink].append(at - t.astype(np.int64) / 1e9)
    res = {k: {"n": len(v), "max_ms": 1e3 * max(v) if v else None,
               "p50_ms": 1e3 * float(np.median(v)) if v else None} for k, v in lat.items()}
    print(f"[alerts] frame -> alert received ({kind}, {vehicles} loggers at 2,000 frames/s): "
          + "; ".join(f"{k} P50 {r['p50_ms']:.0f} ms, max {r['max_ms']:.0f} ms (n={r['n']})"
                      for k, r in res.items() if r["n"]) + " (goal < 1 s)")
    return res


def main() -> dict:
    return {"kernel": kernel(), "fleet": fleet(), "latency": latency()}


if __name__ == "__main__":  # pragma: no cover
    main()
