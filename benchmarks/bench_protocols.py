"""Diagnostic protocols' decode throughput beside the DBC decode of the same number of frames.

* OBD-II: the simulator's polling log (requests, single-frame answers, multi-frame VINs)
  tiled to ``N`` frames, through :func:`cantelem_sci.decode_obd` (ISO-TP reassembly, PID
  split, fields);
* J1939 TP: the real idle-truck recording of the shared corpus (DM1 broadcasts with four
  faults, BAMs), tiled to ``N`` frames, through :func:`cantelem_sci.decoder.decode_j1939`;
* the reference: the simulated EV log, ``N`` frames, through :func:`cantelem_sci.decode`.

Goal (the protocols issue): each within 3x of the DBC decode's frames/s. python-OBD, the
reference for the values, is timed on 20 k frames for scale. Best of ``REPEATS``; JIT
compilation excluded by a warm-up call.
"""

from __future__ import annotations

import os
import time
import warnings
from pathlib import Path

import numpy as np

from ._timing import best

N = 10_000_000
REPEATS = 3


def _tile(batch, n: int):
    """``batch`` repeated in time (each copy after the last) until ``n`` frames."""
    from cantelem_sci.frames import FrameBatch

    if not isinstance(batch, FrameBatch):
        batch = FrameBatch.from_dataset(batch)
    reps = -(-n // len(batch))
    span = int(batch.time.max() - batch.time.min()) + 1_000_000_000
    parts = []
    for k in range(reps):
        b = batch.take(np.arange(len(batch)))
        b.time = b.time + k * span
        parts.append(b)
    return FrameBatch.concat(parts).take(np.arange(n))


def _python_obd_rate(batch) -> float:
    try:
        import obd
        from obd.protocols import ISO_15765_4_11bit_500k
    except ImportError:
        return float("nan")
    proto = ISO_15765_4_11bit_500k([])
    n = min(len(batch), 20_000)
    lines = [f"{int(a):03X}" + bytes(d).hex().upper()
             for a, d in zip(batch.arbitration_id[:n], batch.data[:n])]
    t = time.perf_counter()
    for i, line in enumerate(lines):
        if line.startswith("7E8") and line[5:7] == "41":
            pid = int(line[7:9], 16)
            cmd = obd.commands[1][pid] if pid < len(obd.commands[1]) else None
            if cmd is not None:
                msgs = proto([line])
                for m in msgs:
                    m.ecu = obd.protocols.ECU.ALL
                cmd(msgs)
    return n / (time.perf_counter() - t)


def main() -> None:
    import cantelem_sci as ct
    from cantelem_sci.decoder import decode_j1939

    warnings.simplefilter("ignore")
    n = int(os.environ.get("CANTELEM_BENCH_FRAMES", N))
    print(f"== protocols: {n:,} frames each, best of {REPEATS}")
    obd_log = _tile(ct.simulate_obd_vehicle("CAR0001", duration_s=1800, seed=0), n)
    corpus = Path(os.environ.get("CANTELEM_CORPUS", Path(__file__).parents[2] / "shared/corpus"))
    idle = corpus / "real-capture/css-j1939-idle/00000001_candump.log.gz"
    j1939 = _tile(ct.read_log(idle), n) if idle.exists() else None
    ev = _tile(ct.simulate_vehicle("EV0001", duration_s=120, seed=0), n)
    db = ct.load_dbc(ct.sample_dbc_path())
    from cantelem_sci.decoder import release_tree

    t_dbc = best(lambda: release_tree(ct.decode(ev, db)))
    t_obd = best(lambda: ct.decode_obd(obd_log))
    rows = [("DBC decode (EV, reference)", t_dbc), ("OBD-II (ISO-TP, PIDs)", t_obd)]
    if j1939 is not None:
        rows.append(("J1939 TP + DM1 (real idle truck, tiled)", best(lambda: decode_j1939(j1939))))
    for name, t in rows:
        print(f"  {name:42s} {n / t / 1e6:7.1f} M frames/s   {t / t_dbc:5.2f}x the DBC "
              f"decode's time")
    print(f"  python-OBD, one answer at a time (20 k frames): "
          f"{_python_obd_rate(obd_log) / 1e3:7.1f} k frames/s")
    uplink_sizes()


#: the demo's 20 most useful signals, for the uplink's size
UPLINK_SIGNALS = ["VehicleSpeed", "Odometer", "AccelPedal", "BrakePedal", "SOC", "PackVoltage",
                  "PackCurrent", "BMS_State", "CellVoltageMin", "CellVoltageMax", "CellTempMax",
                  "CellTempMin", "MotorSpeed", "MotorTorque", "MotorTemp", "InverterTemp",
                  "CoolantInletTemp", "DCBusPower", "Latitude", "Longitude"]


def uplink_sizes() -> None:
    """Bytes per snapshot of the 20 signals, once a second over a simulated drive: the
    uplink's keyframes and deltas (a keyframe every 10 packets), compact JSON of the same
    values, and the raw frames that carry them (id 4 + dlc 1 + data 8 + time 8 bytes each)."""
    import json

    import cantelem_sci as ct
    from cantelem_sci.decoder import UplinkSchema

    db = ct.load_dbc(ct.sample_dbc_path())
    schema = UplinkSchema.from_dbc(db, UPLINK_SIGNALS)
    raw = ct.simulate_vehicle("EV0001", duration_s=120, seed=0)
    tree = ct.decode(raw, db)
    cols = {}
    for node in tree.children.values():
        for sname in UPLINK_SIGNALS:
            if sname in node.dataset and sname not in cols:
                cols[sname] = (node.dataset["time"].values.view("int64"),
                               node.dataset[sname].values, node.attrs.get("frame_id"))
    t0 = int(raw.time.min())
    key, delta, js = [], [], []
    base = None
    for k, t in enumerate(range(t0 + 10**9, int(raw.time.max()), 10**9)):
        vals = {}
        for sname, (tt, vv, _) in cols.items():
            i = np.searchsorted(tt, t, side="right") - 1
            while i >= 0 and vv[i] != vv[i]:
                i -= 1
            if i >= 0:
                vals[sname] = float(vv[i])
        if k % 10 == 0:
            key.append(len(schema.encode(vals, "EV0001", k, t)))
            base = (k, vals)
        else:
            delta.append(len(schema.encode(vals, "EV0001", k, t, base=base[1],
                                           base_seq=base[0])))
        js.append(len(json.dumps({"v": "EV0001", "seq": k, "t": t, **vals},
                                 separators=(",", ":"))))
    frames = len({fid for _, _, fid in cols.values()}) * (4 + 1 + 8 + 8)
    print(f"== uplink, {len(UPLINK_SIGNALS)} signals a snapshot (goal <= 64 bytes)")
    print(f"  keyframe {np.mean(key):5.1f} B, delta {np.mean(delta):5.1f} B; compact JSON "
          f"{np.mean(js):5.1f} B ({np.mean(js) / np.mean(key):4.1f}x a keyframe); the raw "
          f"frames holding them {frames} B ({frames / np.mean(key):4.1f}x)")


if __name__ == "__main__":
    main()
