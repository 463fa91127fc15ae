"""Fault tests in subprocesses: kill -9 at random moments, a full disk, a read-only spool,
bad configs; and the logger running with dask, xarray and the plotting stack blocked."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

pytestmark = pytest.mark.slow


def _env(**extra):
    env = dict(os.environ)
    env.update({k: str(v) for k, v in extra.items()})
    return env


def _edge(*args, **kw):
    return [sys.executable, "-m", "cantelem_edge", *args]


def _python(code: str) -> subprocess.CompletedProcess:
    """``code`` run by a fresh interpreter (imports start from nothing); it must succeed."""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out


def _status(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _run(spool: Path, status: Path, source: str, segment_seconds: float, env: dict,
         stdout=subprocess.PIPE, **kw) -> subprocess.Popen:
    """``cantelem-edge run`` in a process of its own, flushing every 0.1 s."""
    return subprocess.Popen(_edge("run", "--spool", str(spool), "--source", source,
                                  "--flush-interval", "0.1",
                                  "--segment-seconds", str(segment_seconds),
                                  "--status-path", str(status)),
                            env=env, stdout=stdout, stderr=subprocess.PIPE, text=True, **kw)


def _await_status(p: subprocess.Popen, status: Path, cond, timeout: float = 60.0):
    """The first status of process ``p`` for which ``cond(status)`` holds (None when
    ``timeout`` passes first); fails at once, with its stderr, if ``p`` ends meanwhile."""
    t_end = time.monotonic() + timeout
    while time.monotonic() < t_end:
        st = _status(status)
        if st and st["pid"] == p.pid and cond(st):
            return st
        assert p.poll() is None, p.stderr.read()
        time.sleep(0.05)
    return None


def _segments(spool: Path):
    """Every segment with a manifest: (seq, frames as a structured array). All must open."""
    out = []
    for man in sorted(spool.glob("raw/vehicle=EV0001/date=*/*.zarr.manifest.json")):
        m = json.loads(man.read_text())
        ds = xr.open_zarr(spool / m["key"], consolidated=False)
        assert ds.sizes["frame"] == m["frame_count"]
        out.append((m["seq"], ds["time"].values.view("int64"), ds["arbitration_id"].values,
                    ds["channel"].values, ds["data"].values))
    return out


def test_kill_9_at_random_moments_loses_nothing_durable(tmp_path):
    spool = tmp_path / "spool"
    status = tmp_path / "status.json"
    env = _env(CANTELEM_EDGE_QUEUE_MAX_FRAMES=20000, CANTELEM_EDGE_STATUS_INTERVAL=0.05)
    rng = random.Random(4)
    runs = []  # (first seq of the run, frames durable in the last status before the kill)
    recovered_at_start = []  # segments each start made from the journal of the kill before
    for i in range(8):
        status.unlink(missing_ok=True)
        p = _run(spool, status, "sim:fast", 4.0, env, stdout=subprocess.DEVNULL)
        assert _await_status(p, status, lambda st: st["frames"]["durable"] > 0)
        time.sleep(rng.uniform(0.0, 1.2))
        st = _status(status)
        p.send_signal(signal.SIGKILL)
        p.wait()
        p.stderr.close()
        runs.append((st["seq"]["first"], st["frames"]["durable"]))
        recovered_at_start.append(st["segments"]["recovered_at_start"])
    # the next start (here: recover) turns every journal into a segment. A kill that lands
    # just after a segment was written leaves an empty journal, nothing to recover: fine
    # (now and then), but recovery must have been exercised
    out = subprocess.run(_edge("recover", "--spool", str(spool)), env=env, capture_output=True,
                         text=True, check=True)
    recovered = recovered_at_start[1:] + [len(json.loads(out.stdout)["recovered"])]
    assert recovered_at_start[0] == 0
    assert sum(r > 0 for r in recovered) >= 3, recovered
    assert not list((spool / ".edge" / "EV0001").glob("journal-*.ctj"))
    assert not list(spool.rglob(".tmp-*"))
    segs = _segments(spool)
    firsts = [r[0] for r in runs] + [10**9]
    for k, (first, durable) in enumerate(runs):
        in_store = sum(len(t) for seq, t, *_ in segs if first <= seq < firsts[k + 1])
        assert in_store >= durable, (k, in_store, durable)
    # no frame twice
    t = np.concatenate([s[1] for s in segs])
    a = np.concatenate([s[2] for s in segs])
    c = np.concatenate([s[3] for s in segs])
    key = np.rec.fromarrays([t, a, c])
    assert np.unique(key).shape[0] == key.shape[0]


def test_second_process_on_a_running_spool_is_refused_and_nothing_is_lost(tmp_path):
    """A ``recover`` or a second ``run`` on the spool of a running logger would finalize or
    delete the journal it writes: both are refused naming the holder's pid."""
    spool = tmp_path / "spool"
    status = tmp_path / "status.json"
    env = _env(CANTELEM_EDGE_QUEUE_MAX_FRAMES=20000)
    p = _run(spool, status, "sim:fast", 5.0, env)
    try:
        assert _await_status(p, status, lambda st: st["segments"]["written"] > 0)
        for cmd in (["recover"], ["run", "--source", "sim:fast", "--duration", "1"]):
            out = subprocess.run(_edge(*cmd, "--spool", str(spool)), env=env,
                                 capture_output=True, text=True)
            assert out.returncode == 3, out.stderr
            assert f"the spool is in use by pid {p.pid}" in out.stderr
            assert "Traceback" not in out.stderr
        assert p.poll() is None
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(30)
    final = json.loads(p.stdout.read())
    segs = _segments(spool)
    t = np.concatenate([s[1] for s in segs])
    assert len(t) == final["frames"]["durable"] == final["frames"]["in_segments"] > 0
    a = np.concatenate([s[2] for s in segs])
    assert np.unique(np.rec.fromarrays([t, a])).shape[0] == len(t)  # each frame once
    # the lock went with the process: the spool is usable again
    subprocess.run(_edge("recover", "--spool", str(spool)), env=env, check=True,
                   capture_output=True)


def test_full_disk_is_a_clear_error_and_loses_nothing(tmp_path):
    import resource

    spool = tmp_path / "spool"
    status = tmp_path / "status.json"
    limit = 3 * 2**20

    def small_disk():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes fail with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    env = _env(CANTELEM_EDGE_QUEUE_MAX_FRAMES=20000, CANTELEM_EDGE_SEGMENT_MAX_FRAMES=10**9)
    p = _run(spool, status, "sim:fast", 600, env, stdout=subprocess.DEVNULL,
             preexec_fn=small_disk)
    assert _await_status(p, status, lambda st: any("File too large" in e for e in st["errors"]))
    time.sleep(0.5)
    st = _status(status)
    assert p.poll() is None  # still running, not crashed
    assert any("cannot write the journal (File too large)" in e for e in st["errors"])
    durable = st["frames"]["durable"]
    assert durable > 0
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert "cannot write the journal" in p.stderr.read()
    subprocess.run(_edge("recover", "--spool", str(spool)), env=env, check=True,
                   capture_output=True)
    assert sum(len(s[1]) for s in _segments(spool)) >= durable


def test_read_only_spool_is_refused_clearly(tmp_path):
    out = subprocess.run(_edge("run", "--spool", "/proc/cantelem-spool", "--source", "sim",
                               "--duration", "1"), capture_output=True, text=True)
    assert out.returncode == 3
    assert "/proc/cantelem-spool: the spool is not writable" in out.stderr


@pytest.mark.parametrize("args, code, match", [
    (["--source", "can:warpdrive:0"], 3, "unknown CAN interface 'warpdrive'; valid:"),
    (["--source", "bogus:1"], 2, "unknown kind 'bogus'"),
    (["--vehicle", "../../etc"], 2, "invalid vehicle id"),
    ([], 2, "no source configured"),
])
def test_bad_command_lines_exit_with_clear_errors(tmp_path, args, code, match):
    out = subprocess.run(_edge("run", "--spool", str(tmp_path), *args, "--duration", "1"),
                         capture_output=True, text=True)
    assert out.returncode == code and match in out.stderr, out.stderr
    assert "Traceback" not in out.stderr


def test_bad_config_file_exits_2_naming_the_file(tmp_path):
    f = tmp_path / "edge.toml"
    f.write_text("vehicle = [\n")
    out = subprocess.run(_edge("check-config", "--config", str(f)), capture_output=True, text=True)
    assert out.returncode == 2 and f"{f}: not valid TOML" in out.stderr


def test_runs_with_dask_xarray_and_plotting_blocked(tmp_path):
    """... and zarr-python and numba: the logger writes (and reads back) its segments
    itself, and decodes (numpy) and evaluates (plain Python) alert rules without numba, as
    a small device installs it."""
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules: [{name: hot, signal: CellTempMax, above: 60, clear: 57}]\n")
    code = (
        "import sys\n"
        "for m in ('xarray', 'dask', 'distributed', 'holoviews', 'hvplot', 'panel', 'bokeh',"
        " 'datashader', 'pandas', 'matplotlib', 'zarr', 'numba', 'llvmlite', 's3fs',"
        " 'aiohttp'):\n"
        "    sys.modules[m] = None  # any import of them fails\n"
        "from cantelem_edge.cli import main\n"
        f"raise SystemExit(main(['run', '--spool', {str(tmp_path / 'spool')!r}, '--source',"
        " 'sim:fault=overheat@2s+3s', '--duration', '8', '--alert-rules',"
        f" {str(rules)!r}]))\n")
    out = _python(code)
    st = json.loads(out.stdout)
    assert st["frames"]["durable"] > 0
    assert st["alerts"]["fired"] == 1 and st["alerts"]["cleared"] == 1


def test_capture_leaves_python_cans_mf4_support_out(tmp_path):
    """A logger that replays nothing does not import asammdf (python-can's MF4 support, which
    imports pandas and sympy: about 2 s at every start, bus traffic nobody captures)."""
    code = (
        "import json, sys\n"
        "from cantelem_edge.cli import main\n"
        f"rc = main(['run', '--spool', {str(tmp_path)!r}, '--source', 'can:virtual:edge_mf4',"
        " '--source', 'sim:fast', '--duration', '1'])\n"
        "print(json.dumps({m: sys.modules.get(m) is not None"
        " for m in ('can', 'asammdf', 'pandas', 'sympy')}))\n"
        "raise SystemExit(rc)\n")
    out = _python(code)
    first, last = out.stdout.strip().splitlines()[0], out.stdout.strip().splitlines()[-1]
    assert json.loads(first)["frames"]["durable"] > 0
    assert json.loads(last) == {"can": True, "asammdf": False, "pandas": False, "sympy": False}


def test_skip_unused_imports_only_without_replay():
    """In fresh interpreters (asammdf not imported yet): with a replay source nothing is
    blocked and asammdf still imports; without one it is blocked and python-can imports
    without it or pandas."""
    head = ("import sys\n"
            "from cantelem_edge._config import SourceConfig\n"
            "from cantelem_edge.cli import skip_unused_imports\n")
    out = _python(head + "print(skip_unused_imports([SourceConfig.parse('sim'),"
                   " SourceConfig.parse('replay:/x/trip.mf4:fast')]))\n"
                   "import can, asammdf\n"
                   "print(sys.modules['asammdf'] is not None)\n")
    assert out.stdout.split() == ["[]", "True"]
    out = _python(head + "print(skip_unused_imports([SourceConfig.parse('can:virtual:x')]))\n"
                   "import can\n"
                   "print('pandas' in sys.modules, sys.modules['asammdf'])\n")
    assert out.stdout.split() == ["['asammdf']", "False", "None"]


@pytest.mark.corpus
def test_replay_of_an_mf4_capture_stores_every_frame(tmp_path):
    """A replayed MF4 log (python-can's MF4 support kept for it) is stored frame for frame."""
    import cantelem_sci as ct

    from ..conftest import corpus_path

    path = corpus_path("real-capture", "css-j1939-idle", "00000001.MF4")
    n = len(ct.read_log(path).time)
    out = subprocess.run(_edge("run", "--spool", str(tmp_path), "--source",
                               f"replay:{path}:fast", "--duration", "6"),
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["frames"]["durable"] == n


@pytest.fixture
def small_filesystem(tmp_path):
    """A 6 MiB tmpfs of its own (a disk that really fills: ENOSPC); skips where this machine
    does not let the tests mount one."""
    mnt = tmp_path / "small-disk"
    mnt.mkdir()
    out = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(mnt)],
                         capture_output=True, text=True)
    if out.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {out.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_a_disk_that_fills_then_frees_loses_nothing_durable_and_stops_on_sigterm(
        tmp_path, small_filesystem):
    """The spool on a disk that fills up (ENOSPC): the logger backs off instead of spinning
    (a handful of log lines, not thousands), holds at most its queue in memory (the rest
    counted as dropped), writes the segments that failed once space returns, without a
    restart, and ends on SIGTERM; every frame it declared durable is in a segment."""
    spool = small_filesystem / "spool"
    status = tmp_path / "status.json"  # (outside the full disk, as a systemd unit would put it)
    filler = small_filesystem / "filler"
    filler.write_bytes(b"\0" * (5 * 2**20))  # about 1 MiB left for the spool
    env = _env(CANTELEM_EDGE_QUEUE_MAX_FRAMES=20000)
    p = _run(spool, status, "sim:4x", 1, env, stdout=subprocess.DEVNULL)
    try:  # until the disk is full
        st = _await_status(p, status, lambda st: st["state"] == "disk-error", timeout=90)
        assert st, _status(status)
        errors_before = len(st["errors"])
        time.sleep(4.0)  # full for a while: backing off, not spinning
        st = _status(status)
        assert st["state"] == "disk-error" and st["disk"]["failed_writes"] >= 2
        assert len(st["errors"]) - errors_before <= 2  # reported once, then every 10 s
        assert st["queue_depth"] <= 20000
        filler.unlink()  # space returns
        st = _await_status(p, status, lambda st: st["state"] == "running" and
                           st["disk"]["segments_waiting"] == 0 and st["frames"]["in_segments"])
        assert st, _status(status)
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=30) == 0  # (systemd's default stop timeout is 90 s, often 30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    log = p.stderr.read()
    assert "No space left on device" in log and "spool writable again after" in log
    assert log.count("No space left on device") <= 6, log[-3000:]
    final = _status(status)
    segs = _segments(spool)
    frames = sum(len(s[1]) for s in segs)
    assert frames >= final["frames"]["durable"] > 0
    times = np.concatenate([s[1] for s in segs])
    ids = np.concatenate([s[2] for s in segs])
    assert np.unique(np.rec.fromarrays([times, ids])).shape[0] == frames  # each frame once
