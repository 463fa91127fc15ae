"""LTTB and MinMax-LTTB against tsdownsample, same data in one run (n_out = 2000).

Data: random walk + sine + noise on int64 ns timestamps (10 ms apart). Each size times
ours and theirs interleaved (best of ``repeat``), so machine noise hits both alike; the
figure is the ratio ours / theirs. JIT compile is measured in fresh processes: the first
one compiles (after the cache is cleared), the second must load numba's cache.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np

_FIRST_CALL = (
    "import time, numpy as np; t = time.perf_counter();"
    "from cantelem_sci.kernels import lttb, minmax_lttb;"
    "x = np.arange(400_000); y = np.sin(x / 1e3);"
    "lttb(x, y, 100); minmax_lttb(x, y, 100); lttb(x[:1000], y[:1000], 10, parallel=False);"
    "print(time.perf_counter() - t)"
)


def _first_call_seconds() -> tuple[float, float]:
    import cantelem_sci.kernels as k

    cache = Path(k.__file__).parent / "__pycache__"
    for f in cache.glob("*.nb[ic]"):
        f.unlink()
    runs = [float(subprocess.run([sys.executable, "-c", _FIRST_CALL], capture_output=True,
                                 text=True, check=True).stdout) for _ in range(2)]
    return runs[0], runs[1]


def _interleaved(fns: dict, repeat: int) -> dict:
    best = {k: float("inf") for k in fns}
    for _ in range(repeat):
        for k, fn in fns.items():
            t = time.perf_counter()
            fn()
            best[k] = min(best[k], time.perf_counter() - t)
    return best


def main(sizes=(1_000_000, 10_000_000, 50_000_000), n_out: int = 2000) -> dict:
    from cantelem_sci.kernels import lttb, minmax_lttb

    cold, warm = _first_call_seconds()
    print(f"[kernels] first call in a fresh process: {cold:.2f} s compiling, "
          f"{warm:.2f} s with numba's cache")
    try:
        from tsdownsample import LTTBDownsampler, MinMaxLTTBDownsampler
    except ImportError:
        print("[kernels] tsdownsample not installed; pip install tsdownsample")
        return {}
    rng = np.random.default_rng(0)
    results = {"jit_cold_s": cold, "jit_warm_s": warm}
    for n in sizes:
        x = np.arange(n, dtype=np.int64) * 10_000_000 + 1_700_000_000_000_000_000
        y = np.cumsum(rng.normal(size=n)) + 10 * np.sin(np.arange(n) / 5000) + rng.normal(size=n)
        fns = {
            "lttb": lambda: lttb(x, y, n_out),
            "ts_lttb": lambda: LTTBDownsampler().downsample(x, y, n_out=n_out),
            "mm": lambda: minmax_lttb(x, y, n_out),
            "ts_mm": lambda: MinMaxLTTBDownsampler().downsample(x, y, n_out=n_out, parallel=True),
            # like for like: tsdownsample trusts x; ours checks it unless told it is sorted
            "mm_sorted": lambda: minmax_lttb(x, y, n_out, assume_sorted=True),
        }
        b = _interleaved(fns, repeat=15 if n <= 10_000_000 else 7)
        same_l = np.array_equal(lttb(x, y, n_out), LTTBDownsampler().downsample(x, y, n_out=n_out))
        rl, rm = b["lttb"] / b["ts_lttb"], b["mm"] / b["ts_mm"]
        rs = b["mm_sorted"] / b["ts_mm"]
        results[n] = {"lttb_ratio": rl, "minmax_lttb_ratio": rm,
                      "minmax_lttb_assume_sorted_ratio": rs, **b}
        print(f"[kernels] n={n:>11,}: lttb {b['lttb'] * 1e3:7.1f} ms vs tsdownsample "
              f"{b['ts_lttb'] * 1e3:7.1f} ms (ratio {rl:.2f}, same indices: {same_l}); "
              f"minmax_lttb {b['mm'] * 1e3:7.1f} ms vs tsdownsample parallel "
              f"{b['ts_mm'] * 1e3:7.1f} ms (ratio {rm:.2f}; with assume_sorted=True "
              f"{b['mm_sorted'] * 1e3:.1f} ms, ratio {rs:.2f})")
        x = y = fns = None  # free this size's arrays before the next
    return results


if __name__ == "__main__":
    main()
