"""``cantelem dashboard`` (Voilà on 127.0.0.1) and ``cantelem lab`` (JupyterLab)."""

from __future__ import annotations

import ipaddress
import os
import subprocess
import sys
from pathlib import Path

from ..errors import ConfigError, UsageError
from ._offline import TEMPLATE

#: the smallest token accepted for a dashboard reachable beyond this machine
MIN_TOKEN_LENGTH = 16


def notebooks_dir() -> Path:
    """The repository's ``notebooks/`` folder (the dashboard and the analyst notebooks)."""
    here = Path(__file__).resolve().parents[2] / "notebooks"
    if not here.is_dir():
        raise UsageError(f"{here}: notebooks folder not found (run from a source checkout)")
    return here


def dashboard_notebook() -> Path:
    return notebooks_dir() / "dashboard.ipynb"


def is_loopback(ip: str) -> bool:
    """Whether ``ip`` (an address or ``localhost``) is reachable from this machine only."""
    if ip == "localhost":
        return True
    try:
        return ipaddress.ip_address(ip).is_loopback
    except ValueError:
        return False


def access(ip: str, token: str | None) -> tuple[dict[str, str], bool]:
    """The environment that sets the server's token, and whether remote Host headers are
    allowed. On loopback the Host header is checked (DNS rebinding) and a token is
    optional; beyond it a token of at least :data:`MIN_TOKEN_LENGTH` characters is required
    (it is what keeps other machines, and rebinding pages, out).

    Example
    -------
    >>> access("127.0.0.1", None)
    ({}, False)
    >>> access("0.0.0.0", None)
    Traceback (most recent call last):
    cantelem_sci.errors.ConfigError: listening on 0.0.0.0 (beyond this machine) needs a token of at least 16 characters: set CANTELEM_DASHBOARD_TOKEN or dashboard_token in the config file
    """
    if token is not None and len(token) < MIN_TOKEN_LENGTH:
        raise ConfigError(f"the dashboard token has {len(token)} characters; expected at least "
                          f"{MIN_TOKEN_LENGTH}")
    if not is_loopback(ip) and not token:
        raise ConfigError(f"listening on {ip} (beyond this machine) needs a token of at least "
                          f"{MIN_TOKEN_LENGTH} characters: set CANTELEM_DASHBOARD_TOKEN or "
                          "dashboard_token in the config file")
    # Jupyter reads JUPYTER_TOKEN from the environment: the token never shows in `ps`
    return ({"JUPYTER_TOKEN": token} if token else {}), not is_loopback(ip)


def voila_command(store: str, port: int = 8866, preheat: bool = True, ip: str = "127.0.0.1",
                  token: bool = False, idle: int | None = None,
                  max_pages: int | None = None, preheated: int | None = None) -> list[str]:
    """The Voilà command serving the dashboard (kernels pre-heated). With ``token`` the
    server asks for the token in ``JUPYTER_TOKEN`` and allows remote Host headers;
    without, it checks the Host header (loopback addresses and "localhost" only).

    A closed page's kernel is shut down by the page's own beacon at once; where the beacon
    never arrives (a crashed browser, a lost network), by Jupyter's culler after ``idle``
    seconds (``dashboard_kernel_idle``, 60) without a connection. Without both, every visit
    used to leave a kernel of about 500 MB behind.

    At most ``max_pages`` pages are open at once (``dashboard_max_pages``; 0: no limit):
    the next visitor reads why (``_kernel_manager.py``). With ``preheat``, ``preheated``
    kernels (``dashboard_preheated``, 1) have run the notebook before a visitor comes."""
    from .. import _config

    idle = int(_config.get("dashboard_kernel_idle", idle))
    max_pages = int(_config.get("dashboard_max_pages", max_pages))
    preheated = int(_config.get("dashboard_preheated", preheated))
    cmd = [sys.executable, "-m", "voila", str(dashboard_notebook()), "--no-browser",
           f"--port={port}", f"--Voila.ip={ip}", "--theme=dark", f"--template={TEMPLATE}",
           "--VoilaConfiguration.show_tracebacks=False",
           # Panel's JupyterLab extension needs JupyterLab's document manager, which a Voila
           # page has not: it failed on every page (the page renders through jupyter_bokeh)
           "--VoilaConfiguration.extension_denylist=['@pyviz/jupyterlab_pyviz']",
           # Voila allows any Host header; Jupyter's check turns DNS rebinding away. The
           # page's shutdown beacon on close carries the _xsrf cookie, which Voila never
           # sets: the check refused every beacon (403) and each visit left its kernel.
           # The beacon names an unguessable kernel id; a visitor beyond loopback is
           # authenticated by the token.
           f"--Voila.tornado_settings={{'allow_remote_access': {bool(token)}, "
           "'disable_check_xsrf': True}"]
    if token:
        cmd.append("--Voila.auto_token=True")
    if idle > 0:
        cmd += [f"--MappingKernelManager.cull_idle_timeout={idle}",
                f"--MappingKernelManager.cull_interval={max(1, idle // 4)}",
                "--MappingKernelManager.cull_connected=False"]
    if preheat and preheated > 0:
        cmd += ["--preheat_kernel=True", f"--pool_size={preheated}"]
    # the page limit; a closed page's sockets closed with its kernel
    cmd += ["--VoilaConfiguration.multi_kernel_manager_class="
            "cantelem_sci.viz._kernel_manager.DashboardKernelManager",
            f"--DashboardKernelManager.pages={max(max_pages, 0)}"]
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
                 port: int | None = None, timeout: float = 120.0, ip: str = "127.0.0.1",
                 token: str | None = None, idle: int | None = None,
                 max_pages: int | None = None, preheated: int | None = None) -> None:
        import collections
        import socket
        import subprocess
        import threading
        import time
        import urllib.error
        import urllib.request

        token_env, remote = access(ip, token)
        if port is None:
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", 0))
                port = sock.getsockname()[1]
        self.port = port
        env = {k: v for k, v in os.environ.items() if k != "JUPYTER_TOKEN"}
        env.update(token_env, CANTELEM_STORE=str(store))
        if mqtt:
            env["CANTELEM_MQTT"] = mqtt
        self.proc = subprocess.Popen(voila_command(str(store), port, ip=ip, token=remote,
                                                   idle=idle, max_pages=max_pages,
                                                   preheated=preheated),
                                     env=voila_env(env),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True)
        # Voilà logs every kernel's start and end: unread, a full pipe (64 kB, some hundred
        # visits) would stop the server at its next line. Its last lines are kept.
        self._log: collections.deque[str] = collections.deque(maxlen=200)
        self._drain = threading.Thread(target=self._log.extend, args=(self.proc.stderr,),
                                       daemon=True)
        self._drain.start()
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
                    self._drain.join(5)
                    raise UsageError(f"voila exited: {self.log()}") from None
                time.sleep(0.3)
        self.stop()
        raise TimeoutError(f"voila did not answer on {self.url} within {timeout:.0f} s")

    def log(self) -> str:
        """The server's last 200 lines of log (Voilà's stderr, read as it is written)."""
        return "".join(list(self._log))

    def stop(self) -> None:
        import subprocess

        left = descendants(self.proc.pid)
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        _end([p for p in left if _alive(p)])

    def kernels(self) -> list[int]:
        """Process ids of the server's kernels (the pre-heated one included)."""
        return kernel_pids(self.proc.pid)

    def memory_mb(self, settle: float = 0.0) -> float:
        """Resident memory of the server and its kernels, MB (``/proc``; 0 without it); with
        ``settle`` seconds, once it changes by less than 2 MB over 2 s (a kernel starting or
        ending) or ``settle`` has passed."""
        import time

        def now() -> float:
            return resident_mb([self.proc.pid, *descendants(self.proc.pid)])

        last, t_end = now(), time.monotonic() + settle
        while time.monotonic() < t_end:
            time.sleep(2)
            mb = now()
            if abs(mb - last) < 2:
                return mb
            last = mb
        return last


def voila_env(env: dict[str, str]) -> dict[str, str]:
    """``env`` with the dashboard's Voilà template (:mod:`._offline`) on ``JUPYTER_PATH``:
    the command of :func:`voila_command` needs it."""
    from ._offline import template_root

    paths = [template_root(), *filter(None, env.get("JUPYTER_PATH", "").split(os.pathsep))]
    return {**env, "JUPYTER_PATH": os.pathsep.join(paths)}


def _serving_env(ip: str | None, token: str | None) -> tuple[str, dict[str, str], bool]:
    from .. import _config

    ip = str(_config.get("dashboard_ip", ip))
    token_env, remote = access(ip, _config.get("dashboard_token", token))
    env = {k: v for k, v in os.environ.items() if k != "JUPYTER_TOKEN"}
    env.update(token_env)
    return ip, env, remote


def serve_dashboard(store: str | None = None, port: int = 8866, preheat: bool = True,
                    mqtt: str | None = None, ip: str | None = None,
                    token: str | None = None) -> int:
    """Serve the dashboard on http://<ip>:<port>/ until interrupted.

    ``ip`` (``dashboard_ip``, default 127.0.0.1): an address beyond loopback needs ``token``
    (``CANTELEM_DASHBOARD_TOKEN``), which visitors give once as ``?token=...``. ``mqtt`` (or
    ``CANTELEM_MQTT``) is the broker of the live mode.
    """
    from .. import _config

    store = os.path.abspath(_config.get("store", store)) if "://" not in str(store or "") else store
    ip, env, remote = _serving_env(ip, token)
    env["CANTELEM_STORE"] = str(store)
    mqtt = _config.get("mqtt", mqtt)
    if mqtt:
        env["CANTELEM_MQTT"] = str(mqtt)
    how = "token required: ?token=..." if remote else "this machine only"
    print(f"dashboard: http://{ip}:{port}/  ({how}; store {store}; Ctrl-C to stop)", flush=True)
    return _run_child(voila_command(str(store), port, preheat, ip=ip, token=remote),
                      voila_env(env))


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children, their children, ...), from ``/proc``; empty
    where there is no ``/proc``."""
    parent_of: dict[int, int] = {}
    try:
        names = os.listdir("/proc")
    except OSError:
        return []
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as fh:
                stat = fh.read()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses
        parent_of[int(name)] = int(stat.rsplit(")", 1)[1].split()[1])
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        kids = [c for c, pp in parent_of.items() if pp == p]
        out += kids
        todo += kids
    return out


def kernel_pids(pid: int) -> list[int]:
    """The ipykernel processes below ``pid`` (``/proc``)."""
    out = []
    for p in descendants(pid):
        try:
            with open(f"/proc/{p}/cmdline", "rb") as fh:
                if b"ipykernel" in fh.read():
                    out.append(p)
        except OSError:
            pass
    return out


def resident_mb(pids: list[int]) -> float:
    """Resident memory (``VmRSS``) of ``pids`` together, MB; a gone process counts 0."""
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/status") as fh:
                total += next(int(x.split()[1]) for x in fh if x.startswith("VmRSS"))
        except (OSError, StopIteration):
            pass
    return total / 1024


def _end(pids: list[int], grace: float = 5.0) -> None:
    """SIGTERM ``pids``, then SIGKILL those still there after ``grace`` seconds."""
    import signal
    import time

    for sig in (signal.SIGTERM, signal.SIGKILL):
        alive = []
        for p in pids:
            try:
                os.kill(p, sig)
                alive.append(p)
            except OSError:
                pass
        if not alive or sig == signal.SIGKILL:
            return
        t_end = time.monotonic() + grace
        while time.monotonic() < t_end and any(_alive(p) for p in alive):
            time.sleep(0.1)
        pids = [p for p in alive if _alive(p)]


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _run_child(cmd: list[str], env: dict[str, str]) -> int:
    """Run ``cmd`` until it exits or this process is interrupted (Ctrl-C, or SIGTERM turned
    into KeyboardInterrupt by the CLI); then stop it with SIGTERM, so Voilà and Jupyter shut
    their kernels down, SIGKILL it if it is still there 20 s later, and end any process it
    left behind (kernels run in sessions of their own, so a signal to the group misses
    them)."""
    proc = subprocess.Popen(cmd, env=env)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        left = descendants(proc.pid)
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        _end([p for p in left if _alive(p)])


def serve_lab(store: str | None = None, port: int = 8888, ip: str | None = None,
               token: str | None = None) -> int:
    """JupyterLab on the notebooks folder (same ``ip``/``token`` rule as the dashboard; on
    loopback without a token JupyterLab makes up its own and prints it)."""
    from .. import _config

    ip, env, _ = _serving_env(ip, token)
    env["CANTELEM_STORE"] = os.path.abspath(_config.get("store", store))
    cmd = [sys.executable, "-m", "jupyter", "lab", f"--notebook-dir={notebooks_dir()}",
           f"--port={port}", f"--ServerApp.ip={ip}", "--no-browser"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    return _run_child(cmd, env)
