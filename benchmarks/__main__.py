"""Run benchmarks by hand: ``./run bench [decode|decode-ab [REV]|kernels|edge [device]|fleet|dashboard|live|alerts|protocols|derived|import|aggregate]``
(all by default; ``aggregate`` is the third part of ``fleet``)."""

import sys

from . import bench_alerts, bench_derived, bench_import, bench_decode_ab, bench_dashboard, bench_decode, bench_edge, bench_fleet, bench_kernels, bench_live, bench_protocols

which = sys.argv[1:] or ["decode", "kernels", "edge", "fleet", "dashboard", "live", "alerts",
                         "protocols", "derived", "import"]
if "decode" in which:
    bench_decode.main()
if "decode-ab" in which:
    i = which.index("decode-ab")
    bench_decode_ab.main(*which[i + 1:i + 2])
if "kernels" in which:
    bench_kernels.main()
if "edge" in which:
    bench_edge.main()
if "fleet" in which:
    bench_fleet.main()
if "dashboard" in which:
    bench_dashboard.main()
if "live" in which:
    bench_live.main()
if "alerts" in which:
    bench_alerts.main()
if "protocols" in which:
    bench_protocols.main()
if "derived" in which:
    bench_derived.run()
if "aggregate" in which and "fleet" not in which:
    bench_fleet.aggregate_vs_duckdb()
if "import" in which:
    bench_import.main()
