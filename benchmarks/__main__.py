"""Run benchmarks by hand: ``./run bench [decode|kernels]`` (all by default)."""

import sys

from . import bench_decode, bench_kernels

which = sys.argv[1:] or ["decode", "kernels"]
if "decode" in which:
    bench_decode.main()
if "kernels" in which:
    bench_kernels.main()
