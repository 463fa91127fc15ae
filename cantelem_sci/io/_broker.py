"""A local MQTT broker as a child process: the embedded default for machines without one.

``amqtt`` (a pure-Python MQTT 3.1.1 broker, installed with the project) is the default, so
``./run demo`` needs nothing from the system; ``mosquitto`` (Debian's package, what the tests
and the live benchmark use) when asked for and installed. Either listens on 127.0.0.1 only,
on a free port unless one is given. Production setups point ``--mqtt`` / ``[live] url`` at
their own broker instead (Mosquitto, EMQX, HiveMQ, AWS IoT Core).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ..errors import ConfigError

__all__ = ["EmbeddedBroker"]

KINDS = ("amqtt", "mosquitto")

_AMQTT_CONFIG = """\
listeners:
  default:
    type: tcp
    bind: 127.0.0.1:{port}
plugins:
  amqtt.plugins.authentication.AnonymousAuthPlugin:
    allow_anonymous: true
"""

_MOSQUITTO_CONFIG = """\
listener {port} 127.0.0.1
allow_anonymous true
persistence false
log_dest stderr
log_type error
log_type warning
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class EmbeddedBroker:
    """Start, stop and restart a broker on 127.0.0.1.

    Example
    -------
    ::

        with EmbeddedBroker() as broker:      # amqtt on a free port
            print(broker.url)                 # mqtt://127.0.0.1:<port>
    """

    def __init__(self, kind: str = "amqtt", port: int | None = None,
                 mosquitto_options: str = "") -> None:
        if kind not in KINDS:
            raise ConfigError(f"broker kind {kind!r}: expected one of {', '.join(KINDS)}")
        if kind == "mosquitto" and not self.available("mosquitto"):
            raise ConfigError("mosquitto is not installed (Debian: apt-get install mosquitto)")
        self.kind = kind
        # extra lines of the listener's mosquitto.conf (e.g. cafile/certfile/keyfile for TLS)
        self.mosquitto_options = mosquitto_options
        self.port = port or _free_port()
        self.url = f"mqtt://127.0.0.1:{self.port}"
        self._dir = Path(tempfile.mkdtemp(prefix="cantelem-broker-"))
        self.proc: subprocess.Popen | None = None

    @staticmethod
    def available(kind: str) -> bool:
        """Whether ``kind`` can be started on this machine."""
        if kind == "mosquitto":
            return shutil.which("mosquitto") is not None or os.path.exists("/usr/sbin/mosquitto")
        try:
            import amqtt  # noqa: F401
        except ImportError:
            return False
        return True

    def _command(self) -> list[str]:
        if self.kind == "mosquitto":
            conf = self._dir / "mosquitto.conf"
            conf.write_text(_MOSQUITTO_CONFIG.format(port=self.port) + self.mosquitto_options)
            exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
            return [exe, "-c", str(conf)]
        conf = self._dir / "amqtt.yaml"
        conf.write_text(_AMQTT_CONFIG.format(port=self.port))
        return [sys.executable, "-c", "from amqtt.scripts.broker_script import main; main()",
                "-c", str(conf)]

    def start(self, timeout: float = 30.0) -> "EmbeddedBroker":
        """Start the broker and wait until it accepts TCP connections."""
        if self.proc is not None and self.proc.poll() is None:
            return self
        log = open(self._dir / "broker.log", "ab")
        self.proc = subprocess.Popen(self._command(), stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        log.close()
        t_end = time.monotonic() + timeout
        while time.monotonic() < t_end:
            if self.proc.poll() is not None:
                raise ConfigError(f"the {self.kind} broker exited at start: "
                                  f"{(self._dir / 'broker.log').read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise ConfigError(f"the {self.kind} broker did not listen on port {self.port} "
                          f"within {timeout:.0f} s")

    def stop(self) -> None:
        """Stop the broker (the port stays reserved for :meth:`start`)."""
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> "EmbeddedBroker":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()
