"""Calculated signals: a 3-operand expression over one vehicle-day beside the plain load of
its operands, in the same run.

Store: one vehicle-day of VCU_Vehicle at 10 M frames (about 116 Hz) written through the edge
logger and decoded (``bench_fleet.vehicle_day_store``). Peer: ``fleet.load`` of the three
operands (VehicleSpeed, Odometer, BrakePedal) at full resolution, their values in memory. Ours: ``fleet.load`` of
``VehicleSpeed * BrakePedal / 100 + Odometer`` defined ad hoc, which reads the same
operands, aligns them by zero-order hold and evaluates. Also the same with ``max_points=2000``
(what a plot asks for). Goal: <= 1.5x the peer's time. Best of 5, warm.

Trip summary: the demo's defaults (3 vehicles x 1,800 s) through the edge logger, the decode
job on a LocalCluster of 2 workers, then ``trip_summary`` of every vehicle in this process
(cold: the first read of each decoded day included); wall time of each.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from ._timing import best

N = 10_000_000
OPS = ["VehicleSpeed", "Odometer", "BrakePedal"]
EXPR = {"X": "VehicleSpeed * BrakePedal / 100 + Odometer"}


def main(n: int = N) -> dict:
    import cantelem_sci as ct

    from .bench_fleet import vehicle_day_store

    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "day"
        vehicle_day_store(store, n=n)
        fleet = ct.open_fleet(store)
        got = fleet.load("EV0100", ["X"], derived=EXPR)
        assert got["X"].size == n
        peer = best(lambda: [v.values for v in fleet.load("EV0100", OPS).data_vars.values()], 5)
        ours = best(lambda: fleet.load("EV0100", ["X"], derived=EXPR), 5)
        peer_p = best(lambda: fleet.load("EV0100", OPS, max_points=2000), 5)
        ours_p = best(lambda: fleet.load("EV0100", ["X"], derived=EXPR, max_points=2000), 5)
    res = {"samples": n, "operands": len(OPS), "load_s": peer, "derived_s": ours,
           "ratio": ours / peer, "load_2000_s": peer_p, "derived_2000_s": ours_p,
           "ratio_2000": ours_p / peer_p}
    print(f"[derived] {n / 1e6:.0f} M samples x {len(OPS)} operands: load {peer:.2f} s, "
          f"calculated {ours:.2f} s ({res['ratio']:.2f}x, goal <= 1.5x); to 2,000 points: "
          f"{peer_p:.2f} s vs {ours_p:.2f} s ({res['ratio_2000']:.2f}x)")
    return res


def trips(vehicles: int = 3, duration_s: float = 1800.0) -> dict:
    """The decode job's trip-summary step beside the job itself, and a stored read."""
    import cantelem_sci as ct

    from ._demo import demo_store

    with demo_store(vehicles, duration_s) as (store, _client, rep, t_decode):
        s = time.perf_counter()
        fleet = ct.open_fleet(store)
        rows = sum(len(fleet.trip_summary(v)) for v in fleet.vehicles)
        t_read = time.perf_counter() - s
    t_step = rep.summary_seconds
    print(f"[derived] trip summaries of the demo store ({rep.frames:,} frames, {vehicles} "
          f"vehicles, {rows} trips): the decode job's summary step {t_step:.2f} s of its "
          f"{t_decode:.1f} s ({t_step / t_decode:.2f}x); read back stored {t_read:.3f} s")
    return {"frames": rep.frames, "decode_s": t_decode, "summary_step_s": t_step,
            "read_s": t_read, "trips": rows}


def run() -> dict:
    return {"calculated": main(), "trips": trips()}


if __name__ == "__main__":
    run()
