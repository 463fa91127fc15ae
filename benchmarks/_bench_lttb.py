"""LTTB and MinMax-LTTB against tsdownsample, same data in one run (n_out = 2000).

Data: random walk + sine + noise on int64 ns timestamps. JIT compile is measured
separately (first call) and excluded from the timings (best of several runs).
"""

from __future__ import annotations

import time

import numpy as np


from .bench_decode import _best


def main(sizes=(1_000_000, 10_000_000, 50_000_000), n_out=2000) -> None:
    from cantelem_sci.kernels import lttb, minmax_lttb

    t = time.perf_counter()
    lttb(np.arange(10), np.arange(10.0), 4)
    minmax_lttb(np.arange(100), np.arange(100.0), 4)
    print(f"[kernels] first call (JIT load or compile): {time.perf_counter() - t:.2f} s")
    try:
        from tsdownsample import LTTBDownsampler, MinMaxLTTBDownsampler
    except ImportError:
        print("[kernels] tsdownsample not installed; pip install tsdownsample")
        return
    rng = np.random.default_rng(0)
    for n in sizes:
        x = (np.arange(n, dtype=np.int64) * 10_000_000) + 1_700_000_000_000_000_000
        y = np.cumsum(rng.normal(size=n)) + 10 * np.sin(np.arange(n) / 5000) + rng.normal(size=n)
        ours_l = _best(lambda: lttb(x, y, n_out))
        ts_l = _best(lambda: LTTBDownsampler().downsample(x, y, n_out=n_out))
        ours_m = _best(lambda: minmax_lttb(x, y, n_out))
        ts_m = _best(lambda: MinMaxLTTBDownsampler().downsample(x, y, n_out=n_out, parallel=True))
        same = np.array_equal(lttb(x, y, n_out), LTTBDownsampler().downsample(x, y, n_out=n_out))
        print(f"[kernels] n={n:>11,}: lttb {ours_l * 1e3:7.1f} ms vs tsdownsample {ts_l * 1e3:7.1f} ms "
              f"(ratio {ours_l / ts_l:.2f}, same indices: {same}); minmax_lttb {ours_m * 1e3:7.1f} ms "
              f"vs tsdownsample parallel {ts_m * 1e3:7.1f} ms (ratio {ours_m / ts_m:.2f})")
