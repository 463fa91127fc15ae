"""Decode throughput: cantelem_sci (numba, one core) against cantools decode_message.

Same frames in one run; prints frames/s and the ratio. JIT compile is excluded (a warm-up
call) and reported separately.
"""

from __future__ import annotations

import time

import numpy as np


def _best(fn, repeat: int = 5) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main(duration_s: float = 1800.0) -> dict:
    """One core for the decoder, only while this benchmark runs (an environment variable set
    at import would make every other benchmark of the same process single-threaded)."""
    import numba

    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        return _main(duration_s)
    finally:
        numba.set_num_threads(before)


def _main(duration_s: float) -> dict:
    import cantools

    import cantelem_sci as ct
    from cantelem_sci.decoder import decode_arrays

    t0 = time.perf_counter()
    db = ct.load_dbc(ct.sample_dbc_path())
    small = ct.simulate_vehicle(duration_s=1, seed=0)
    decode_arrays(small, db)
    jit = time.perf_counter() - t0
    batch = ct.simulate_vehicle(duration_s=duration_s, seed=0)
    n = len(batch)
    results = {}
    for label, sel in [("sample EV DBC, all messages", np.ones(n, bool)),
                       ("without the 96-cell multiplexed message",
                        batch.arbitration_id != 0x101)]:
        b = batch.take(sel)
        t_arr = _best(lambda: decode_arrays(b, db))
        t_tree = _best(lambda: ct.decode(b, db), repeat=3)
        cdb = cantools.database.load_file(ct.sample_dbc_path())
        k = min(len(b), 200_000)
        payloads = [bytes(r[:d]) for r, d in zip(b.data[:k], b.dlc[:k])]
        ids = b.arbitration_id[:k].tolist()

        def ref():
            dm = cdb.decode_message
            for i, p in zip(ids, payloads):
                dm(i, p, decode_choices=False)

        t_ref = _best(ref, repeat=2) * len(b) / k
        r = {"frames": len(b), "ours_arrays_fps": len(b) / t_arr, "ours_tree_fps": len(b) / t_tree,
             "cantools_fps": len(b) / t_ref, "ratio_arrays": t_ref / t_arr, "ratio_tree": t_ref / t_tree}
        results[label] = r
        print(f"[decode] {label}: {len(b):,} frames")
        print(f"  cantelem decode_arrays : {r['ours_arrays_fps'] / 1e6:7.2f} M frames/s "
              f"({r['ratio_arrays']:.0f}x cantools)")
        print(f"  cantelem decode (tree) : {r['ours_tree_fps'] / 1e6:7.2f} M frames/s "
              f"({r['ratio_tree']:.0f}x cantools)")
        print(f"  cantools decode_message: {r['cantools_fps'] / 1e6:7.3f} M frames/s")
    print(f"  first-use cost (DBC load + JIT from cache or compile): {jit:.2f} s")
    return results


if __name__ == "__main__":
    main()
