"""Runs in the device-like environment of ``bench_edge.device``: the logger as the
``cantelem-edge`` command runs it, capturing a python-can virtual bus that a thread of the
same process feeds at a paced rate (a socketcan bus on a Raspberry Pi in this test's
stand-in); prints the resident memory sampled once a second, as JSON, then the logger's
status. Usage: ``python _device_run.py RATE SECONDS -- <cantelem-edge run arguments>``."""

import json
import sys
import threading
import time


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        return int(next(x for x in fh if x.startswith("VmRSS")).split()[1]) / 1024


def main() -> int:
    rate, seconds = float(sys.argv[1]), float(sys.argv[2])
    args = sys.argv[sys.argv.index("--") + 1:]
    samples: list[float] = []

    def feed() -> None:
        import can

        time.sleep(1.0)  # the logger opens the bus first
        bus = can.Bus(interface="virtual", channel="device")
        t0, i = time.perf_counter(), 0
        # the sample EV's ids, so the live path and the alert rule have signals to decode
        from cantelem_sci.decoder import load_dbc
        from cantelem_sci.sim import sample_dbc_path

        ids = [m.frame_id for f in load_dbc(sample_dbc_path()).files for m in f.db.messages]
        while True:
            bus.send(can.Message(arbitration_id=ids[i % len(ids)], data=bytes([i % 256] * 8),
                                 is_extended_id=False))
            i += 1
            ahead = i / rate - (time.perf_counter() - t0)
            if ahead > 0:
                time.sleep(ahead)

    def sample() -> None:
        while True:
            time.sleep(1.0)
            samples.append(_rss_mb())

    threading.Thread(target=feed, daemon=True).start()
    threading.Thread(target=sample, daemon=True).start()
    from cantelem_edge.cli import main as edge

    code = edge(["run", "--source", "can:virtual:device", "--duration", str(seconds), *args])
    print(json.dumps({"rss_mb": samples}))
    return code


if __name__ == "__main__":
    sys.exit(main())
