"""Edge logger throughput on one core, and peak memory over runs of different lengths.

* simulator: ``cantelem-edge run --source sim:fast`` in a child pinned to one CPU; frames/s
  = frames made durable (fsynced journal) / run time; peak RSS from ``getrusage``;
* python-can virtual bus: a sender thread pushes ``can.Message`` objects on a virtual
  channel, the logger (same process, one CPU) captures them; both share the GIL.
* the same with live publishing on (``--live-url`` to a local broker: Mosquitto when
  installed, else the embedded amqtt): the journal/segment path must keep >= 100,000 frames/s;
  what the live path cannot keep up with is dropped from it and counted (``dropped.live``).
* a Raspberry Pi class device: the logger installed as on a device (its own dependencies
  only, in ``.cache/device-venv``) capturing a bus at 500 frames/s and uploading to S3
  (moto), resident memory sampled every second (target: <= 80 MB); the same with live
  publishing to Mosquitto and an alert rule (numpy decoder, plain-Python alert kernels).
Target: >= 100,000 frames/s sustained, memory bounded whatever the run length.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time


def _pin():
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def sim_run(seconds: float, live_url: str | None = None) -> dict:
    with tempfile.TemporaryDirectory() as spool:
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        t = time.perf_counter()
        live = ["--live-url", live_url] if live_url else []
        out = subprocess.run([sys.executable, "-m", "cantelem_edge", "run", "--spool", spool,
                              "--source", "sim:fast", "--duration", str(seconds), *live],
                             capture_output=True, text=True, check=True, preexec_fn=_pin)
        wall = time.perf_counter() - t
        rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        res = json.loads(out.stdout)
        return {"seconds": seconds, "wall": wall, "durable": res["frames"]["durable"],
                "fps": res["frames"]["durable"] / seconds, "peak_rss_mb": max(rss, before) / 1024,
                "dropped": res["dropped"]}


def virtual_run(seconds: float = 10.0, rate: float = 100_000.0) -> dict:
    """A sender thread paced at ``rate`` frames/s (as a saturated set of buses would be) on a
    python-can virtual bus; the logger captures in the same process (one core, one GIL)."""
    import can

    from cantelem_edge import EdgeLogger, load_config

    _pin()
    with tempfile.TemporaryDirectory() as spool:
        cfg = load_config(environ={}, spool=spool, sources=["can:virtual:bench"])
        lg = EdgeLogger(cfg)
        lg.start()
        stop = threading.Event()
        sent = [0]

        def sender():
            bus = can.Bus(interface="virtual", channel="bench")
            msgs = [can.Message(arbitration_id=0x100 + i % 64, data=bytes([i % 256] * 8),
                                is_extended_id=False) for i in range(1000)]
            t0 = time.perf_counter()
            while not stop.is_set():
                for m in msgs:
                    bus.send(m)
                sent[0] += len(msgs)
                ahead = sent[0] / rate - (time.perf_counter() - t0)
                if ahead > 0:
                    time.sleep(ahead)
            bus.shutdown()

        th = threading.Thread(target=sender, daemon=True)
        th.start()
        lg.run(duration=seconds)
        stop.set()
        th.join()
        lg.stop()
        st = lg.status()
        return {"seconds": seconds, "rate": rate, "sent": sent[0],
                "durable": st["frames"]["durable"],
                "fps": st["frames"]["durable"] / seconds, "dropped": st["dropped"],
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def virtual_drain(n: int = 1_000_000) -> dict:
    """The logger's own capacity on a virtual bus: ``n`` frames are queued on the bus before
    the capture thread starts (no sender competing for the core), then timed until durable."""
    import can

    from cantelem_edge import EdgeLogger, load_config

    _pin()
    with tempfile.TemporaryDirectory() as spool:
        cfg = load_config(environ={}, spool=spool, sources=["can:virtual:drain"],
                          flush_interval=0.2)
        lg = EdgeLogger(cfg)
        lg._prepare_spool()
        src = lg.sources[0]
        src.open()
        bus = can.Bus(interface="virtual", channel="drain")
        msgs = [can.Message(arbitration_id=0x100 + i % 64, data=bytes([i % 256] * 8),
                            is_extended_id=False) for i in range(1024)]
        for k in range(n // 1024):
            for m in msgs:
                bus.send(m)
        total = (n // 1024) * 1024
        lg.sources = []  # start the logger without (re)opening the source ...
        lg.start()
        lg.sources = [src]
        t = time.perf_counter()
        src.start(lg)  # ... and start the capture thread now
        while lg.counters.durable < total and time.perf_counter() - t < 120:
            lg.run(duration=0.05)
        dt = time.perf_counter() - t
        lg.stop()
        bus.shutdown()
        return {"frames": total, "seconds": dt, "fps": total / dt,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: what a device installs (edge/README.md): no numba, no s3fs
DEVICE_DEPS = ["numpy", "python-can", "numcodecs", "pynmea2", "pyserial", "botocore",
               "paho-mqtt", "cantools", "pyyaml"]


def device_python() -> str:
    """The interpreter of a venv holding only the logger's dependencies (made once)."""
    venv = os.path.join(ROOT, ".cache", "device-venv")
    py = os.path.join(venv, "bin", "python")
    if not os.path.exists(py):
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
        subprocess.run([py, "-m", "pip", "install", "-q", *DEVICE_DEPS], check=True)
        subprocess.run([py, "-m", "pip", "install", "-q", "--no-deps", "-e", ROOT], check=True)
    return py


def device(rate: float = 500.0, seconds: float = 40.0, live: bool = False) -> dict:
    """Resident memory of the logger as a device runs it (see the module docstring): the
    median of the samples after the first 10 s, and the largest."""
    import statistics

    from benchmarks._moto import MotoS3
    from cantelem_sci.io import EmbeddedBroker

    server = MotoS3()
    bucket = server.new_bucket()
    broker = EmbeddedBroker("mosquitto").__enter__() if live else None
    try:
        with tempfile.TemporaryDirectory() as spool:
            status_path = os.path.join(spool, "status.json")
            args = ["--spool", spool, "--s3-url", f"s3://{bucket}/fleet", "--s3-endpoint-url",
                    server.endpoint_url, "--segment-seconds", "10", "--status-path",
                    status_path]
            if live:
                rules = os.path.join(spool, "rules.yaml")
                with open(rules, "w") as fh:
                    fh.write("rules: [{name: hot, signal: CellTempMax, above: 60}]\n")
                args += ["--live-url", broker.url, "--alert-rules", rules]
            env = dict(os.environ, MALLOC_ARENA_MAX="1")  # as the systemd unit runs it
            out = subprocess.run([device_python(), os.path.join(ROOT, "benchmarks",
                                                                     "_device_run.py"),
                                  str(rate), str(seconds), "--", *args],
                                 capture_output=True, text=True, env=env, check=True)
            rss = json.loads(out.stdout.strip().splitlines()[-1])["rss_mb"]
            with open(status_path) as fh:
                st = json.load(fh)
    finally:
        if broker is not None:
            broker.__exit__(None, None, None)
        server.stop()
    live_st = st.get("live") or {}
    return {"rate": rate, "seconds": seconds, "live": live,
            "rss_mb": statistics.median(rss[10:]), "peak_mb": max(rss),
            "durable": st["frames"]["durable"], "uploaded": st["frames"]["uploaded"],
            "published": live_st.get("published_samples", 0), "dropped": st["dropped"]}


def devices() -> list[dict]:
    runs = [device(), device(live=True)]
    for r in runs:
        what = "capture, upload, live and alerts" if r["live"] else "capture and upload"
        print(f"[edge] device install, {r['rate']:.0f} frames/s, {what}: resident "
              f"{r['rss_mb']:.0f} MB (peak {r['peak_mb']:.0f} MB; target <= 80 MB); "
              f"{r['durable']:,} frames durable, {r['uploaded']:,} uploaded, "
              f"{r['published']:,} live samples published, dropped {r['dropped']}")
    return runs


def main() -> dict:
    from cantelem_sci.io import EmbeddedBroker

    if "device" in sys.argv:  # ./run bench edge device: only the device runs
        return {"device": devices()}

    res = {"sim": [sim_run(s) for s in (10.0, 30.0)]}
    for r in res["sim"]:
        print(f"[edge] simulator, one core, {r['seconds']:.0f} s: {r['fps']:,.0f} frames/s durable "
              f"({r['durable']:,} frames), peak RSS {r['peak_rss_mb']:.0f} MB")
    kind = "mosquitto" if EmbeddedBroker.available("mosquitto") else "amqtt"
    with EmbeddedBroker(kind) as broker:
        r = res["sim_live"] = sim_run(10.0, broker.url)
    live_drop = r["dropped"].get("live", 0)
    print(f"[edge] simulator with live publishing ({kind}), one core, 10 s: {r['fps']:,.0f} "
          f"frames/s durable ({r['durable']:,} frames); live path: "
          f"{r['durable'] - live_drop:,} frames published, {live_drop:,} dropped from it "
          f"(dropped.live); peak RSS {r['peak_rss_mb']:.0f} MB")
    if "--virtual-child" not in sys.argv:
        # each in its own process: peak RSS of one is not the other's
        # as the systemd unit runs it: one malloc arena (see edge/cantelem-edge.service)
        env = dict(os.environ, MALLOC_ARENA_MAX="1")
        runs = [subprocess.run([sys.executable, "-m", "benchmarks.bench_edge",
                                "--virtual-child", k],
                               capture_output=True, text=True, check=True, env=env)
                for k in ("run10", "run30", "run90", "drain")]
        v10, v30, v90, d = (json.loads(r.stdout.strip().splitlines()[-1]) for r in runs)
        res["virtual"], res["virtual_drain"] = [v10, v30, v90], d
        for v in (v10, v30, v90):
            print(f"[edge] python-can virtual bus, one core, sender paced at {v['rate']:,.0f}/s in "
                  f"the same process, {v['seconds']:.0f} s: {v['fps']:,.0f} frames/s durable "
                  f"({v['durable']:,} of {v['sent']:,} sent, dropped {v['dropped']}), peak RSS "
                  f"{v['peak_rss_mb']:.0f} MB")
        print(f"[edge] python-can virtual bus drained by the logger alone, one core: "
              f"{d['fps']:,.0f} frames/s ({d['frames']:,} frames in {d['seconds']:.1f} s; peak RSS "
              f"{d['peak_rss_mb']:.0f} MB, mostly the 1 M python-can messages queued on the bus)")
    res["device"] = devices()
    return res


if __name__ == "__main__":
    if "--virtual-child" in sys.argv:
        kind = sys.argv[-1]
        print(json.dumps(virtual_drain() if kind == "drain" else virtual_run(float(kind[3:]))))
    else:
        main()
