"""Log import: each whole-column reader against python-can's reader of the same file, and
MF4 read + decode against asammdf.

* Readers: ``N`` simulated frames (the sample EV, ~0.5 h) written once by python-can's writers
  to candump, ASC, BLF, TRC and MF4 (cached in ``artifacts/bench_import``: python-can's MF4
  writer needs minutes), then read by ``python-can``'s ``LogReader`` (every message in a list,
  once) and by this package's registered reader (best of ``REPEATS``, JIT warmed up).
* MF4 read + decode: ``asammdf`` ``MDF(path).extract_bus_logging`` with the DBC, against
  ``read_mf4`` + :func:`cantelem_sci.decode`, on the real CANedge recordings of the shared
  corpus and on the simulated MF4.

Goals (the throughput issue): every reader >= 10x python-can's; MF4 read + decode >= 2x
asammdf.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

N = 1_500_000
REPEATS = 3
FORMATS = (".log", ".asc", ".blf", ".trc", ".mf4")
ROOT = Path(__file__).resolve().parents[1]


def _best(fn, repeats: int = REPEATS) -> float:
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return min(out)


def _files(n: int) -> dict[str, Path]:
    import cantelem_sci as ct
    from cantelem_sci.sources import write_log

    where = ROOT / "artifacts" / "bench_import" / str(n)
    where.mkdir(parents=True, exist_ok=True)
    paths = {s: where / f"sim{s}" for s in FORMATS}
    if all(p.exists() for p in paths.values()):
        return paths
    raw = ct.simulate_vehicle(duration_s=n / 400 + 60, seed=0)  # ~430 frames/s
    raw = raw.take(raw.time.argsort(kind="stable")[:n])
    assert len(raw) == n, len(raw)
    for suffix, p in paths.items():
        if not p.exists():
            t = time.perf_counter()
            tmp = p.with_name(f"tmp{suffix}")
            write_log(raw, tmp)
            os.replace(tmp, p)
            print(f"  wrote {p.name} with python-can ({time.perf_counter() - t:.1f} s)")
    return paths


def _readers(paths: dict[str, Path]) -> dict:
    import can

    from cantelem_sci.sources import get_reader

    out = {}
    for suffix, p in paths.items():
        name = {".log": "candump"}.get(suffix, suffix[1:])
        ours = get_reader(name)
        n = len(ours(p))  # JIT and the file in the page cache
        t_ours = _best(lambda: ours(p))
        t = time.perf_counter()
        ref = list(can.LogReader(str(p)))
        t_ref = time.perf_counter() - t
        assert len(ref) == n, (suffix, len(ref), n)
        out[suffix] = {"frames": n, "ours_s": t_ours, "python_can_s": t_ref,
                       "ratio": t_ref / t_ours}
        print(f"  {suffix:5s} {n:,} frames, {p.stat().st_size / 1e6:6.1f} MB: ours "
              f"{t_ours * 1e3:8.1f} ms ({n / t_ours / 1e6:6.2f} M frames/s), python-can "
              f"{t_ref:6.2f} s: {t_ref / t_ours:5.1f}x")
    return out


def _mf4_decode(cases: list[tuple[str, Path, Path]]) -> dict:
    from asammdf import MDF

    import cantelem_sci as ct
    from cantelem_sci.decoder import release_tree
    from cantelem_sci.sources._mf4 import read_mf4

    out = {}
    for label, mf4, dbc in cases:
        db = ct.load_dbc(str(dbc))

        def ours():
            release_tree(ct.decode(read_mf4(mf4), db))

        def theirs():
            with MDF(str(mf4)) as mdf:
                mdf.extract_bus_logging({"CAN": [(str(dbc), 0)]}).close()

        ours()
        t_ours = _best(ours)
        t_ref = _best(theirs, 2)
        n = len(read_mf4(mf4))
        out[label] = {"frames": n, "ours_s": t_ours, "asammdf_s": t_ref, "ratio": t_ref / t_ours}
        print(f"  {label:34s} {n:>9,} frames: ours {t_ours * 1e3:8.1f} ms, asammdf "
              f"{t_ref * 1e3:8.1f} ms: {t_ref / t_ours:5.1f}x")
    return out


def main(n: int = N) -> dict:
    import cantelem_sci as ct

    print(f"[import] readers against python-can's, {n:,} simulated frames "
          f"(best of {REPEATS} for ours, one python-can run)")
    paths = _files(n)
    res = {"readers": _readers(paths)}
    corpus = Path(os.environ.get("CANTELEM_CORPUS", ROOT.parent / "shared" / "corpus"))
    cases = []
    for sub in ("css-j1939-idle", "css-j1939-truck", "css-canmod-gnss"):
        d = corpus / "real-capture" / sub
        mf4s = sorted(d.glob("*.MF4"))
        dbcs = sorted(d.glob("*.dbc"))
        if mf4s and dbcs:
            dbc = next((x for x in dbcs if "J1939" in x.name), dbcs[0])
            cases.append((f"real: {sub}", mf4s[0], dbc))
    cases.append((f"simulated, {n:,} frames", paths[".mf4"], Path(ct.sample_dbc_path())))
    print("[import] MF4 read + decode against asammdf's extract_bus_logging (best of 3 / 2)")
    res["mf4_decode"] = _mf4_decode(cases)
    return res


if __name__ == "__main__":
    main()
