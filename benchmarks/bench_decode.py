"""Decode throughput: cantelem_sci (numba, one core) against cantools decode_message.

Same frames in one run; prints frames/s and the ratio, for the dense form (default: every
multiplexed signal a full column, NaN where not selected) and the compact one
(``multiplexed="compact"``: each multiplexer group its own rows). JIT compile is excluded (a
warm-up call) and reported separately.
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
        cdb = cantools.database.load_file(ct.sample_dbc_path())
        k = min(len(b), 200_000)
        payloads = [bytes(r[:d]) for r, d in zip(b.data[:k], b.dlc[:k])]
        ids = b.arbitration_id[:k].tolist()

        def ref():
            dm = cdb.decode_message
            for i, p in zip(ids, payloads):
                dm(i, p, decode_choices=False)

        t_ref = _best(ref, repeat=2) * len(b) / k
        r = {"frames": len(b), "cantools_fps": len(b) / t_ref}
        print(f"[decode] {label}: {len(b):,} frames")
        for mode in ("dense", "compact"):
            t_arr = _best(lambda: decode_arrays(b, db, multiplexed=mode))
            t_tree = _best(lambda: ct.decode(b, db, multiplexed=mode), repeat=3)
            r[mode] = {"arrays_fps": len(b) / t_arr, "tree_fps": len(b) / t_tree,
                       "ratio_arrays": t_ref / t_arr, "ratio_tree": t_ref / t_tree}
            print(f"  {mode:7s} decode_arrays : {len(b) / t_arr / 1e6:7.2f} M frames/s "
                  f"({t_ref / t_arr:.0f}x cantools)")
            print(f"  {mode:7s} decode (tree) : {len(b) / t_tree / 1e6:7.2f} M frames/s "
                  f"({t_ref / t_tree:.0f}x cantools)")
        def read_all():
            tree = ct.decode(b, db)
            for node in tree.children.values():
                for v in node.dataset.data_vars.values():
                    v.values  # the dense form's multiplexed columns are built on first read

        t_all = _best(read_all, repeat=3)
        r["dense"]["tree_read_all_fps"] = len(b) / t_all
        print(f"  dense   decode (tree), every column read: {len(b) / t_all / 1e6:7.2f} M frames/s "
              f"({t_ref / t_all:.0f}x cantools)")
        # back-compatible keys (dense, the default form)
        r.update(ours_arrays_fps=r["dense"]["arrays_fps"], ours_tree_fps=r["dense"]["tree_fps"],
                 ratio_arrays=r["dense"]["ratio_arrays"], ratio_tree=r["dense"]["ratio_tree"])
        results[label] = r
        print(f"  cantools decode_message: {r['cantools_fps'] / 1e6:7.3f} M frames/s")
    print(f"  first-use cost (DBC load + JIT from cache or compile): {jit:.2f} s")
    return results


if __name__ == "__main__":
    main()
