"""The ``cantelem`` command line.

``cantelem demo``  simulate a small EV fleet, decode it and print a summary.
``cantelem decode LOG --dbc FILE``  decode one log file and print its messages.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from typing import Sequence

from . import _config


def _demo(args: argparse.Namespace) -> int:
    import numpy as np

    import cantelem_sci as ct

    store = os.path.abspath(_config.get("store", args.store))
    os.makedirs(store, exist_ok=True)
    db = ct.load_dbc(ct.sample_dbc_path())
    print(f"cantelem demo: {args.vehicles} vehicles x {args.duration:.0f} s, seed {args.seed}")
    total_frames = 0
    t_dec = 0.0
    from .sim import vehicle_ids

    for i, vid in enumerate(vehicle_ids(args.vehicles)):
        batch = ct.simulate_vehicle(vid, duration_s=args.duration, seed=args.seed, index=i)
        raw = batch.to_dataset()
        raw_path = os.path.join(store, "raw", f"vehicle={vid}", "frames.zarr")
        raw.to_zarr(raw_path, mode="w", zarr_format=3, consolidated=False)
        t0 = time.perf_counter()
        tree = ct.decode(raw, db)
        t_dec += time.perf_counter() - t0
        out = os.path.join(store, "decoded", f"vehicle={vid}.zarr")
        tree.to_zarr(out, mode="w", zarr_format=3, consolidated=False)
        total_frames += len(batch)
        pack = tree["BMS_PackStatus"].dataset
        spd = tree["VCU_Vehicle"]["VehicleSpeed"].values
        soc = pack["SOC"].values
        print(f"  {vid}: {len(batch):>9,} frames, {len(tree.children)} messages, "
              f"speed max {np.nanmax(spd):6.1f} km/h, SOC {soc[0]:5.1f}% -> {soc[-1]:5.1f}%, "
              f"pack {np.nanmin(pack['PackVoltage']):.0f}-{np.nanmax(pack['PackVoltage']):.0f} V")
    rate = total_frames / t_dec if t_dec else float("nan")
    print(f"decoded {total_frames:,} frames in {t_dec:.2f} s ({rate / 1e6:.1f} M frames/s, "
          "first call includes JIT load)")
    print(f"raw frames:     {os.path.join(store, 'raw')}")
    print(f"decoded stores: {os.path.join(store, 'decoded')}  (xarray.open_datatree(path, engine='zarr'))")
    return 0


def _decode(args: argparse.Namespace) -> int:
    import cantelem_sci as ct

    db = ct.load_dbc(args.dbc)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        tree = ct.decode(ct.read_log(args.log), db)
    for w in rec:
        print(f"warning: {w.message}", file=sys.stderr)
    print(f"{tree.attrs['frames_total']} frames, {tree.attrs['frames_decoded']} decoded, "
          f"{tree.attrs['frames_unknown']} unknown")
    for name, node in tree.children.items():
        print(f"  {name}: {node.sizes.get('time', 0)} frames, {len(node.data_vars)} signals")
    if args.out:
        tree.to_zarr(args.out, mode="w", zarr_format=3, consolidated=False)
        print(f"written to {args.out}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``cantelem`` command."""
    p = argparse.ArgumentParser(prog="cantelem", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("demo", help="simulate, decode and summarise a small EV fleet")
    d.add_argument("--vehicles", type=int, default=3)
    d.add_argument("--duration", type=float, default=600.0, help="seconds per vehicle")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--store", default=None, help="output directory (CANTELEM_STORE)")
    d.set_defaults(func=_demo)
    e = sub.add_parser("decode", help="decode one log file with a DBC")
    e.add_argument("log")
    e.add_argument("--dbc", required=True, nargs="+")
    e.add_argument("--out", default=None, help="write the decoded tree to this Zarr path")
    e.set_defaults(func=_decode)
    args = p.parse_args(argv)
    from .errors import CantelemError

    try:
        return int(args.func(args))
    except CantelemError as err:
        print(f"cantelem: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
