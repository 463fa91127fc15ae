"""Log import: each whole-column reader against python-can's reader of the same file, and
MF4 read + decode against asammdf.

* Readers: ``N`` simulated frames (the sample EV, ~0.5 h) written once by python-can's writers
  to candump, ASC, BLF, TRC and MF4 (cached in ``artifacts/bench_import``: python-can's MF4
  writer needs minutes), then read by ``python-can``'s ``LogReader`` (every message in a list,
  once) and by this package's registered reader (best of ``REPEATS``, JIT warmed up).
* MF4 read + decode: ``asammdf`` ``MDF(path).extract_bus_logging`` with the DBC, against
  ``read_mf4`` + :func:`cantelem_sci.decode`, on the real CANedge recordings of the shared
  corpus and on the simulated MF4.

* Raw segment read-back: the edge logger's segments of one simulated vehicle-hour (the
  logger's segment length, ~30 k frames each, and one segment of the whole hour) read by
  :func:`cantelem_sci.io.read_segment`, against pyarrow reading the same frames from Parquet
  (zstd, a file per segment) into numpy columns.

Goals (the throughput issue): every reader >= 10x python-can's; MF4 read + decode >= 2x
asammdf; segment read-back at least as fast as pyarrow.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from ._timing import best

N = 1_500_000
REPEATS = 3
FORMATS = (".log", ".asc", ".blf", ".trc", ".mf4")
ROOT = Path(__file__).resolve().parents[1]


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
        t_ours = best(lambda: ours(p), REPEATS, warm=False)
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
        t_ours = best(ours, REPEATS, warm=False)
        t_ref = best(theirs, 2, warm=False)
        n = len(read_mf4(mf4))
        out[label] = {"frames": n, "ours_s": t_ours, "asammdf_s": t_ref, "ratio": t_ref / t_ours}
        print(f"  {label:34s} {n:>9,} frames: ours {t_ours * 1e3:8.1f} ms, asammdf "
              f"{t_ref * 1e3:8.1f} ms: {t_ref / t_ours:5.1f}x")
    return out


def _read_back(where: Path) -> dict:
    import pyarrow as pa
    import pyarrow.parquet as pq

    import cantelem_sci as ct
    from cantelem_edge import ingest
    from cantelem_sci.io import read_segment
    from cantelem_sci.io._segment import _write_arrays

    raw = ct.simulate_vehicle("EV0001", duration_s=3600, seed=0, start="2026-01-05T07:00:00")
    ingest(raw, "EV0001", str(where / "small"))
    whole = where / "whole" / "seg.zarr"
    _write_arrays(whole, raw, None, {"schema": "cantelem.raw-frames", "schema_version": 1,
                                     "channel_names": raw.channel_names}, 7)
    out = {}
    for label, segs in (("logger's segments", sorted((where / "small").rglob("*.zarr"))),
                        ("one segment of the hour", [whole])):
        for seg in segs:
            b = read_segment(seg)
            pq.write_table(pa.table({
                "time": b.time, "arbitration_id": b.arbitration_id, "dlc": b.dlc,
                "is_extended": b.is_extended, "is_fd": b.is_fd, "is_remote": b.is_remote,
                "is_error": b.is_error, "channel": b.channel,
                "data": pa.FixedSizeListArray.from_arrays(pa.array(b.data.reshape(-1)),
                                                          b.data.shape[1])}),
                str(seg) + ".parquet", compression="zstd")

        def ours():
            for seg in segs:
                read_segment(seg)

        def arrow():
            for seg in segs:
                t = pq.read_table(str(seg) + ".parquet")
                {c: t.column(c).to_numpy() for c in t.column_names if c != "data"}
                t.column("data").combine_chunks().flatten().to_numpy()

        ours(), arrow()
        t_ours, t_arrow = best(ours, 5, warm=False), best(arrow, 5, warm=False)
        n = len(raw)
        out[label] = {"segments": len(segs), "ours_s": t_ours, "pyarrow_s": t_arrow,
                      "ratio": t_arrow / t_ours}
        print(f"  {label:24s} ({len(segs)} x {n // len(segs):,} frames): ours "
              f"{n / t_ours / 1e6:5.1f} M frames/s, pyarrow {n / t_arrow / 1e6:5.1f} M: "
              f"{t_arrow / t_ours:4.2f}x pyarrow's speed")
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
    print("[import] raw segment read-back against pyarrow over Parquet (best of 5)")
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        res["read_back"] = _read_back(Path(tmp))
    return res


if __name__ == "__main__":
    main()
