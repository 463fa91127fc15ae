"""Package-wide rules: import direction, public API, error tree, config, dependency lists."""

from __future__ import annotations

import argparse
import ast
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

import cantelem_sci as ct
from cantelem_sci import errors
from tests.conftest import ROOT

PKG = ROOT / "cantelem_sci"
#: the data path; a stage may import only stages to its left
ORDER = ["errors", "_config", "_version", "frames", "io", "sources", "decoder", "sim", "kernels",
         "derived", "alerts", "accessor", "fleet", "viz", "cli"]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level > 0:
            parts = path.relative_to(PKG).parts
            base = list(parts[:-1])[: len(parts) - node.level]
            mod = (node.module or "").split(".")[0] if node.module else None
            target = base[0] if base else mod
            if target is None and node.names:
                target = node.names[0].name
            out.add(target if base else (mod or target))
        elif (isinstance(node, ast.ImportFrom) and node.module
              and node.module.startswith("cantelem_sci.")):
            out.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("cantelem_sci."):
                    out.add(a.name.split(".")[1])
    return out


def _stage(path: Path) -> str:
    rel = path.relative_to(PKG).parts
    return rel[0] if len(rel) > 1 else rel[0].removesuffix(".py")


def test_imports_point_upstream():
    bad = []
    for path in PKG.rglob("*.py"):
        stage = _stage(path)
        if stage in ("__init__", "__main__"):
            continue  # the facade and the module entry point may import any stage
        assert stage in ORDER, f"{stage} is not placed in ORDER (the data path)"
        for target in _imports(path):
            if target in ORDER and target != stage and ORDER.index(target) > ORDER.index(stage):
                bad.append(f"{path.relative_to(ROOT)} ({stage}) imports {target}")
    assert not bad, "\n".join(bad)


#: what the edge logger may use of the analysis package: the small core and the stages it
#: runs at the edge (the replay readers, the decoder, the simulator, the alert evaluator)
EDGE_ALLOWED = {"errors", "frames", "io", "sources", "decoder", "sim", "alerts"}


def _absolute_imports(path: Path) -> list[str]:
    """Every module named by an absolute import in ``path`` (functions included)."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.append(node.module)
        elif isinstance(node, ast.Import):
            out += [a.name for a in node.names]
    return out


def test_the_edge_uses_only_the_public_api_of_the_small_core():
    bad = []
    for path in (ROOT / "edge" / "cantelem_edge").rglob("*.py"):
        for mod in _absolute_imports(path):
            parts = mod.split(".")
            if parts[0] != "cantelem_sci":
                continue
            if len(parts) > 1 and parts[1] not in EDGE_ALLOWED:
                bad.append(f"{path.name}: {mod} (stage {parts[1]} is not for the edge)")
            elif any(p.startswith("_") for p in parts[1:]):
                bad.append(f"{path.name}: {mod} (a private module)")
    assert not bad, "\n".join(bad)


#: private modules one stage may import of another: the alert evaluator and its kernels
#: share the layout of the kernels' state (one concept, split over two stages)
PRIVATE_ALLOWED = {("alerts", "kernels._alerts")}


def test_stages_use_each_others_public_api():
    """A stage imports another stage's package, not its private modules (relative imports
    ``from ..stage._module``), but for :data:`PRIVATE_ALLOWED`."""
    bad = []
    for path in PKG.rglob("*.py"):
        rel = path.relative_to(PKG).parts
        if len(rel) < 2:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 2 and node.module:
                parts = node.module.split(".")
                if len(parts) > 1 and parts[1].startswith("_") and \
                        (rel[0], node.module) not in PRIVATE_ALLOWED:
                    bad.append(f"{'/'.join(rel)}: from ..{node.module}")
    assert not bad, "\n".join(bad)


def test_benchmarks_do_not_import_the_tests():
    bad = [f"{p.name}: {m}" for p in (ROOT / "benchmarks").rglob("*.py")
           for m in _absolute_imports(p) if m.split(".")[0] == "tests"]
    assert not bad, "\n".join(bad)


def test_kernels_import_numpy_and_numba_only():
    # numpy, numba and a few standard-library modules; nothing else of the stack
    allowed = {"numpy", "numba", "__future__", "math", "typing", "collections", "dataclasses",
               "threading", "importlib", "os"}
    for path in (PKG / "kernels").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            for n in names:
                assert n.split(".")[0] in allowed, f"{path.name} imports {n}"


def test_frames_stage_stays_light():
    code = ("import sys, cantelem_sci.frames; "
            "heavy = [m for m in ('xarray', 'dask', 'numba', 'cantools', 'holoviews') "
            "if m in sys.modules]; "
            "print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_public_api():
    for name in ct.__all__:
        assert getattr(ct, name) is not None, name
    assert callable(ct.decode) and callable(ct.frames) and callable(ct.load_dbc)
    assert (PKG / "py.typed").exists()
    with pytest.raises(AttributeError):
        ct.nope  # noqa: B018


def test_error_tree():
    leaves = [getattr(errors, n) for n in errors.__all__
              if n.endswith("Error") and n != "CantelemError"]
    for cls in leaves:
        assert issubclass(cls, errors.CantelemError)
        assert any(issubclass(cls, b) for b in (ValueError, KeyError, OSError, TypeError,
                                                RuntimeError)), cls
    e = errors.UnknownNameError("signal", "x", ["b", "a"])
    assert str(e) == "unknown signal 'x'; valid: a, b"


def test_config_precedence(tmp_path, monkeypatch):
    from cantelem_sci import _config

    f = tmp_path / "c.toml"
    f.write_text('[cantelem]\nstore = "from-file"\nworkers = 3\n')
    monkeypatch.setenv("CANTELEM_CONFIG", str(f))
    _config._read_file.cache_clear()
    assert _config.get("store") == "from-file" and _config.get("workers") == 3
    monkeypatch.setenv("CANTELEM_STORE", "from-env")
    assert _config.get("store") == "from-env"
    assert _config.get("store", "explicit") == "explicit"
    monkeypatch.setenv("CANTELEM_WORKERS", "x")
    with pytest.raises(errors.ConfigError, match="CANTELEM_WORKERS"):
        _config.get("workers")
    with pytest.raises(errors.UnknownNameError, match="valid: corpus"):
        _config.get("nope")


def _pyproject_deps() -> set[str]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    deps = set(data["project"]["dependencies"])
    for name, extra in data["project"]["optional-dependencies"].items():
        if name in ("test", "all"):
            continue
        deps |= set(extra)
    return deps


@pytest.mark.parametrize("path", ["environment.yml", "binder/environment.yml"])
def test_environment_files_agree_with_pyproject(path):
    env = yaml.safe_load((ROOT / path).read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    listed = {p for p in pip if not p.startswith("-e")}
    assert listed == _pyproject_deps()


def test_readme_quick_start_matches_ci():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "./run test" in ci and "./run test" in readme and "./run demo" in readme


def test_cli_demo_runs(tmp_path):
    env = dict(os.environ, CANTELEM_STORE=str(tmp_path / "store"))
    cmd = [sys.executable, "-m", "cantelem_sci", "demo", "--vehicles", "2", "--duration", "90",
           "--no-serve", "--quiet"]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "EV0002" in out.stdout and "decoded 3 vehicle-day(s)" in out.stdout
    # the job's own LocalCluster: its start and stop are part of the wall time, and said
    m = re.search(r"frames in ([\d.]+) s, ([\d.]+) M frames/s; ([\d.]+) s of it starting and "
                  r"stopping the cluster;", out.stdout)
    assert m, out.stdout
    total, cluster = float(m[1]), float(m[3])
    assert 0 < cluster <= total  # the cluster's part is within the job's wall time
    fleet = ct.open_fleet(tmp_path / "store")
    assert fleet.vehicles == ["CAR0001", "EV0001", "EV0002"]
    assert fleet.load("EV0001", "PackVoltage").sizes["time"] > 0
    # the fourth vehicle has no DBC: its OBD-II PIDs are signals like any other
    car = fleet.signals("CAR0001")
    assert {"EngineSpeed", "VehicleSpeed", "CoolantTemp", "FuelLevel"}.issubset(car)
    assert car["EngineSpeed"] == "OBD2_7E8_010C"
    assert fleet.load("CAR0001", "EngineSpeed").sizes["time"] > 100
    assert "CAR0001" in out.stdout and "FuelLevel" in out.stdout
    ecus = fleet.ecus("CAR0001").set_index("ecu")
    assert ecus.loc["7E8", "VIN"] == "WCTOBD2SIMCAR0457"
    assert 0x0C in ecus.loc["7E8", "supported_pids"] and list(ecus.index) == ["7E8", "7E9"]
    # a mixed fleet: SOC is asked of the vehicles that have it
    assert list(fleet.resample("1min", ["SOC"]).vehicle.values) == ["EV0001", "EV0002"]
    # run again: nothing ingested twice, nothing decoded twice
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert "already in the store" in out.stdout
    assert "decoded 0 vehicle-day(s), 3 up to date" in out.stdout


def _descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (from /proc)."""
    parent = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                stat = open(f"/proc/{d}/stat").read()
                parent[int(d)] = int(stat.rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                pass
    out, todo = set(), [pid]
    while todo:
        p = todo.pop()
        kids = [c for c, pp in parent.items() if pp == p]
        out.update(kids)
        todo += kids
    return out


@pytest.mark.slow
def test_cli_demo_goes_live_and_sigterm_leaves_no_child(tmp_path):
    """After the batch part, the demo keeps its vehicles driving through edge loggers that
    publish to the embedded broker while the dashboard serves; SIGTERM ends every child."""
    import signal
    import time
    import urllib.request

    from cantelem_sci.io import LiveFeed
    from tests.conftest import free_port

    port = free_port()
    env = dict(os.environ, CANTELEM_STORE=str(tmp_path / "store"))
    env.pop("CANTELEM_MQTT", None)
    p = subprocess.Popen([sys.executable, "-m", "cantelem_sci", "demo", "--vehicles", "2",
                          "--duration", "30", "--quiet", "--port", str(port)],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    feed = None
    try:
        url = None
        for line in p.stdout:
            m = re.search(r"publish to (mqtt://127\.0\.0\.1:\d+) \(embedded amqtt", line)
            if m:
                url = m[1]
                break
        assert url, "the demo did not start its live part"
        feed = LiveFeed(url).start()
        t_end = time.monotonic() + 120
        while time.monotonic() < t_end:
            rows = feed.fleet(["VehicleSpeed"])
            if len(rows) == 2 and all(r["state"] == "online" and r["newest"] for r in rows):
                break
            time.sleep(0.2)
        assert [r["vehicle"] for r in feed.fleet()] == ["EV0001", "EV0002"]
        while time.monotonic() < t_end:  # the dashboard answers
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/cantelem-probe", timeout=5)
            except urllib.error.HTTPError:
                break
            except OSError:
                time.sleep(0.3)
        children = _descendants(p.pid)
        assert len(children) >= 4  # 2 loggers, the broker, Voila (and its kernels)
    finally:
        if feed is not None:
            feed.stop()
        p.send_signal(signal.SIGTERM)
        p.wait(60)
    time.sleep(1)
    alive = [c for c in children if os.path.exists(f"/proc/{c}") and
             "zombie" not in open(f"/proc/{c}/status").read().lower()]
    assert not alive, alive


def test_cli_progress_bar_only_on_a_terminal(monkeypatch):
    from cantelem_sci import cli

    for tty, quiet, want in ((True, False, True), (True, True, False), (False, False, False)):
        monkeypatch.setattr(sys.stdout, "isatty", lambda tty=tty: tty)
        assert cli._progress(argparse.Namespace(quiet=quiet)) is want


def test_cli_decode_reports_bad_input(tmp_path):
    log = tmp_path / "x.log"
    log.write_text("(1.0) can0 100#0102030405060708\n(2.0) can0 7FF#00\n")
    out = subprocess.run([sys.executable, "-m", "cantelem_sci", "decode", str(log), "--dbc",
                          ct.sample_dbc_path()], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and "1 unknown" in out.stdout and "0x7ff" in out.stderr
    bad = tmp_path / "bad.dbc"
    bad.write_text("BO_ x\n")
    out = subprocess.run([sys.executable, "-m", "cantelem_sci", "decode", str(log), "--dbc",
                          str(bad)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 2 and "bad.dbc:1" in out.stderr
