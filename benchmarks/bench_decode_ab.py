"""The decoder against another revision of itself, in one run: ``./run bench decode-ab [REV]``.

A change to the decoder's structure must not cost speed. This benchmark checks out ``REV``
(default ``HEAD``: the last commit, against the working tree) into a temporary directory,
starts one worker process for each side (each imports its own ``cantelem_sci``), gives both
the same frames (the sample vehicle's half hour, written once by this process) and times
them in alternating rounds, each side the best of ``REPEATS`` passes per round. The ratio
printed is the median of the per-round ratios (this side over ``REV``): both sides of a
round run within a second of each other, so a slow spell of the shared machine slows both.
Every worker checks that its values equal the other's (bit for bit, NaN included) before
any timing.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROUNDS = 9
REPEATS = 3
ROOT = Path(__file__).resolve().parents[1]

#: The worker: reads commands on stdin, one per line ("time <mode>" or "digest <mode>"),
#: answers one line each on stdout.
_WORKER = r"""
import hashlib, sys, time
import numpy as np
import numba
numba.set_num_threads(1)
import cantelem_sci as ct
from cantelem_sci.decoder import decode_arrays, release_tree
from cantelem_sci.frames import FrameBatch

z = np.load(sys.argv[1])
batch = FrameBatch(**{k: z[k] for k in z.files if k != "channel_names"},
                   channel_names=tuple(z["channel_names"].tolist()))
db = ct.load_dbc(ct.sample_dbc_path())

def run(mode):
    if mode == "tree":
        release_tree(ct.decode(batch, db, multiplexed="compact"))
    else:
        decode_arrays(batch, db, multiplexed=mode)

def digest(mode):
    h = hashlib.sha256()
    r = decode_arrays(batch, db, multiplexed=mode)
    for k in sorted(r):
        v = r[k]
        if isinstance(v, np.ndarray):
            h.update(k.encode()); h.update(np.ascontiguousarray(v).tobytes())
    return h.hexdigest()

for m in ("dense", "compact", "tree"):
    run(m)
print("ready", flush=True)
for line in sys.stdin:
    cmd, mode = line.split()
    if cmd == "digest":
        print(digest(mode), flush=True)
        continue
    best = float("inf")
    for _ in range(int(sys.argv[2])):
        t = time.perf_counter(); run(mode); best = min(best, time.perf_counter() - t)
    print(best, flush=True)
"""


def _checkout(rev: str, into: str) -> None:
    """``rev``'s tree into ``into`` (``git archive``: no worktree left behind)."""
    data = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "cantelem_sci"],
                          check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", into], input=data, check=True)


def _worker(tree: str, frames: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=tree)
    p = subprocess.Popen([sys.executable, "-c", _WORKER, frames, str(REPEATS)], cwd=tree,
                         env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline().strip()  # type: ignore[union-attr]
    if line != "ready":
        raise RuntimeError(f"the worker of {tree} did not start: {line!r}")
    return p


def _ask(p: subprocess.Popen, line: str) -> str:
    p.stdin.write(line + "\n")  # type: ignore[union-attr]
    p.stdin.flush()  # type: ignore[union-attr]
    return p.stdout.readline().strip()  # type: ignore[union-attr]


def main(rev: str = "HEAD", duration_s: float = 1800.0) -> dict:
    import cantelem_sci as ct

    batch = ct.simulate_vehicle(duration_s=duration_s, seed=0)
    results: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        frames = os.path.join(tmp, "frames.npz")
        np.savez(frames, time=batch.time, arbitration_id=batch.arbitration_id,
                 is_extended=batch.is_extended, is_fd=batch.is_fd, is_remote=batch.is_remote,
                 is_error=batch.is_error, dlc=batch.dlc, data=batch.data,
                 channel=batch.channel, channel_names=np.array(list(batch.channel_names)))
        base = os.path.join(tmp, "base")
        os.mkdir(base)
        _checkout(rev, base)
        sides = {"this": _worker(str(ROOT), frames), rev: _worker(base, frames)}
        try:
            for mode in ("dense", "compact"):
                digests = {k: _ask(p, f"digest {mode}") for k, p in sides.items()}
                if len(set(digests.values())) != 1:
                    raise RuntimeError(f"{mode}: the two revisions decode differently")
            print(f"[decode-ab] {len(batch):,} frames; this tree against {rev}; "
                  f"{ROUNDS} alternating rounds, best of {REPEATS} each; values identical")
            for mode in ("dense", "compact", "tree"):
                ratios, best = [], {k: float("inf") for k in sides}
                for i in range(ROUNDS):
                    order = list(sides) if i % 2 == 0 else list(sides)[::-1]
                    t = {k: float(_ask(sides[k], f"time {mode}")) for k in order}
                    ratios.append(t[rev] / t["this"])
                    best = {k: min(best[k], t[k]) for k in sides}
                med = float(np.median(ratios))
                results[mode] = {"ratio_paired": med, "rounds": ratios,
                                 "this_fps": len(batch) / best["this"],
                                 "base_fps": len(batch) / best[rev]}
                print(f"  {mode:8s}: this {len(batch) / best['this'] / 1e6:6.1f} M frames/s, "
                      f"{rev} {len(batch) / best[rev] / 1e6:6.1f}; speed ratio (paired median) "
                      f"{med:.3f} (rounds {min(ratios):.3f}-{max(ratios):.3f})")
        finally:
            for p in sides.values():
                p.stdin.close()  # type: ignore[union-attr]
                p.wait(timeout=60)
    return results

