"""``cantelem dashboard`` (Voilà on 127.0.0.1) and ``cantelem lab`` (JupyterLab)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ..errors import UsageError


def notebooks_dir() -> Path:
    """The repository's ``notebooks/`` folder (the dashboard and the analyst notebooks)."""
    here = Path(__file__).resolve().parents[2] / "notebooks"
    if not here.is_dir():
        raise UsageError(f"{here}: notebooks folder not found (run from a source checkout)")
    return here


def dashboard_notebook() -> Path:
    return notebooks_dir() / "dashboard.ipynb"


def voila_command(store: str, port: int = 8866, preheat: bool = True) -> list[str]:
    """The Voilà command serving the dashboard (kernels pre-heated)."""
    cmd = [sys.executable, "-m", "voila", str(dashboard_notebook()), "--no-browser",
           f"--port={port}", "--Voila.ip=127.0.0.1", "--theme=dark",
           "--VoilaConfiguration.show_tracebacks=False",
           # Voila allows any Host header; Jupyter's check (loopback addresses and
           # "localhost" only) turns DNS rebinding away
           "--Voila.tornado_settings={'allow_remote_access': False}"]
    if preheat:
        cmd += ["--preheat_kernel=True", "--pool_size=1"]
    return cmd


class DashboardServer:
    """The dashboard served by Voilà in a child process on a free port of 127.0.0.1, ready
    when constructed (for tests, benchmarks and embedding); :meth:`stop` ends it.

    Example
    -------
    ::

        srv = DashboardServer("cantelem-data")
        print(srv.url); ...; srv.stop()
    """

    def __init__(self, store: str | os.PathLike[str], mqtt: str | None = None,
                 port: int | None = None, timeout: float = 120.0) -> None:
        import socket
        import subprocess
        import time
        import urllib.error
        import urllib.request

        if port is None:
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", 0))
                port = sock.getsockname()[1]
        self.port = port
        env = dict(os.environ, CANTELEM_STORE=str(store))
        if mqtt:
            env["CANTELEM_MQTT"] = mqtt
        self.proc = subprocess.Popen(voila_command(str(store), port), env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True)
        self.url = f"http://127.0.0.1:{port}/"
        t_end = time.monotonic() + timeout
        while time.monotonic() < t_end:
            try:  # any answer (404) says the server is up; a GET of the page itself would
                # take the pre-heated kernel from the first visitor
                urllib.request.urlopen(self.url + "cantelem-probe", timeout=5)
                return
            except urllib.error.HTTPError:
                return
            except OSError:
                if self.proc.poll() is not None:
                    raise UsageError(f"voila exited: {self.proc.stderr.read()}") from None
                time.sleep(0.3)
        self.stop()
        raise TimeoutError(f"voila did not answer on {self.url} within {timeout:.0f} s")

    def stop(self) -> None:
        import subprocess

        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def serve_dashboard(store: str | None = None, port: int = 8866, preheat: bool = True,
                    mqtt: str | None = None) -> int:
    """Serve the dashboard on http://127.0.0.1:<port>/ until interrupted; ``mqtt`` (or
    ``CANTELEM_MQTT``) is the broker of its live mode."""
    from .. import _config

    store = os.path.abspath(_config.get("store", store)) if "://" not in str(store or "") else store
    env = dict(os.environ, CANTELEM_STORE=str(store))
    mqtt = _config.get("mqtt", mqtt)
    if mqtt:
        env["CANTELEM_MQTT"] = str(mqtt)
    print(f"dashboard: http://127.0.0.1:{port}/  (store {store}; Ctrl-C to stop)", flush=True)
    return _run_child(voila_command(str(store), port, preheat), env)


def _run_child(cmd: list[str], env: dict[str, str]) -> int:
    """Run ``cmd`` until it exits or this process is interrupted (Ctrl-C, or SIGTERM turned
    into KeyboardInterrupt by the CLI); then stop it with SIGTERM, so Voilà and Jupyter shut
    their kernels down, and SIGKILL only if it is still there 20 s later."""
    proc = subprocess.Popen(cmd, env=env)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def serve_lab(store: str | None = None, port: int = 8888) -> int:
    """JupyterLab on the notebooks folder."""
    from .. import _config

    env = dict(os.environ, CANTELEM_STORE=os.path.abspath(_config.get("store", store)))
    cmd = [sys.executable, "-m", "jupyter", "lab", f"--notebook-dir={notebooks_dir()}",
           f"--port={port}", "--ServerApp.ip=127.0.0.1", "--no-browser"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    return _run_child(cmd, env)
