"""The radio uplink: a compact snapshot of a few signals about once a second, for a link that
carries ~200 bytes a packet (LoRa, a Meshtastic node's serial port, UDP; MQTT for testing).

Settings (top-level keys, ``CANTELEM_EDGE_UPLINK*`` in the environment): ``uplink`` the
transport (``udp:<host>:<port>``, ``serial:<port>[:<baud>]``, ``mqtt://<host>:<port>``),
``uplink_signals`` (comma-separated names), ``uplink_interval`` (seconds, 1),
``uplink_keyframe_every`` (a full snapshot every N packets, the others delta-encoded; 1: no
deltas). The live thread decodes the signals (as it does for alert rules) and feeds the
latest value of each; the sender's thread packs them with
:class:`cantelem_sci.decoder.UplinkSchema` and sends. A value that does not fit its field
is left out of the packet and logged naming the signal. Serial frames are the packet behind
a 2-byte big-endian length.
"""

from __future__ import annotations

import logging
import socket
import threading
from typing import Any

import numpy as np

from cantelem_sci.decoder import UplinkSchema
from cantelem_sci.errors import ConfigError, UplinkError

log = logging.getLogger("cantelem_edge")

__all__ = ["UplinkSender", "make_transport"]


class _Udp:
    def __init__(self, host: str, port: int) -> None:
        self.addr = (host, port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

    def send(self, packet: bytes) -> None:
        self.sock.sendto(packet, self.addr)

    def close(self) -> None:
        self.sock.close()


class _Serial:
    def __init__(self, port: str, baud: int) -> None:
        try:
            import serial
        except ImportError as err:
            raise ConfigError("uplink serial: pyserial is not installed: pip install "
                              "'cantelem_sci[edge]'") from err
        try:
            self.fh = serial.Serial(port, baud, timeout=1)
        except (serial.SerialException, OSError) as err:
            raise ConfigError(f"uplink serial {port}: cannot open: {err}") from err

    def send(self, packet: bytes) -> None:
        self.fh.write(len(packet).to_bytes(2, "big") + packet)

    def close(self) -> None:
        self.fh.close()


class _Mqtt:
    def __init__(self, url: str, vehicle: str) -> None:
        from cantelem_sci.io import BrokerSettings, check_topic_segment, connect

        self.settings = BrokerSettings.from_url(url, client_id=f"cantelem-uplink-{vehicle}")
        self.topic = f"cantelem/{check_topic_segment(vehicle)}/uplink"  # binary, not live JSON
        self.client = connect(self.settings)

    def send(self, packet: bytes) -> None:
        self.client.publish(self.topic, packet, qos=0)

    def close(self) -> None:
        self.client.disconnect()  # first: the network thread sends it and ends
        self.client.loop_stop()


def make_transport(spec: str, vehicle: str) -> Any:
    """The transport of an ``uplink`` setting (see the module docstring)."""
    try:
        if spec.startswith("udp:"):
            host, port = spec[4:].rsplit(":", 1)
            return _Udp(host, int(port))
        if spec.startswith("serial:"):
            parts = spec[7:].split(":")
            return _Serial(parts[0], int(parts[1]) if len(parts) > 1 else 115200)
        if spec.startswith(("mqtt://", "mqtts://")):
            return _Mqtt(spec, vehicle)
    except ValueError as err:
        raise ConfigError(f"uplink {spec!r}: {err}") from err
    raise ConfigError(f"uplink {spec!r}: expected udp:<host>:<port>, serial:<port>[:<baud>] "
                      "or mqtt://<host>:<port>")


class UplinkSender:
    """Packs the latest values of ``signals`` each ``interval`` and sends them."""

    def __init__(self, spec: str, signals: list[str], vehicle: str, db: Any,
                 interval: float = 1.0, keyframe_every: int = 10) -> None:
        if not signals:
            raise ConfigError("uplink: uplink_signals is empty; name the signals to send")
        if not 0.05 <= interval <= 3600 or keyframe_every < 1:
            raise ConfigError(f"uplink: interval {interval} s (0.05-3600) and keyframe_every "
                              f"{keyframe_every} (>= 1)")
        self.schema = UplinkSchema.from_dbc(db, signals)
        self.signals = list(signals)
        self.vehicle = vehicle
        self.interval = interval
        self.keyframe_every = keyframe_every
        self.transport = make_transport(spec, vehicle)
        from cantelem_sci.io import redact_url

        self.spec = redact_url(spec) if "://" in spec else spec  # (no credentials shown)
        self._latest: dict[str, float] = {}
        self._newest_ns = 0
        self._sent_ns = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.seq = 0
        self._base: tuple[int, dict[str, float]] | None = None
        self.counts = {"packets": 0, "bytes": 0, "refused_values": 0, "errors": 0}
        self.last_error: str | None = None

    def feed(self, sig: dict[str, tuple[np.ndarray, np.ndarray]], times: Any = None) -> None:
        """The live thread's decoded samples: keep each signal's latest value."""
        with self._lock:
            for name in self.signals:
                tv = sig.get(name)
                if tv is not None and len(tv[0]):
                    self._latest[name] = float(tv[1][-1])
                    self._newest_ns = max(self._newest_ns, int(tv[0][-1]))

    def status(self) -> dict[str, Any]:
        return {"transport": self.spec, "seq": self.seq, **self.counts,
                "last_error": self.last_error}

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="uplink", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        self.send_now()
        self.transport.close()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.send_now()

    def packet(self) -> bytes | None:
        """The next packet (None: nothing new since the last one)."""
        with self._lock:
            if self._newest_ns <= self._sent_ns:
                return None
            values, t = dict(self._latest), self._newest_ns
        for _ in range(len(values) + 1):
            try:
                self.schema.raw(values)
                break
            except UplinkError as err:  # leave that value out, say which
                bad = next(f.name for f in self.schema.fields if f.name in values
                           and _refuses(f, values[f.name]))
                values.pop(bad)
                self.counts["refused_values"] += 1
                self.last_error = str(err)
                log.warning("%s (left out of the packet)", err)
        # deltas refer to the last keyframe: a lost delta packet costs only itself
        key = self.seq % self.keyframe_every == 0 or self._base is None
        base = None if key else self._base
        pkt = self.schema.encode(values, self.vehicle, self.seq & 0xFFFF, t,
                                 base=None if base is None else base[1],
                                 base_seq=None if base is None else base[0] & 0xFFFF)
        if key:
            self._base = (self.seq, values)
        self.seq += 1
        self._sent_ns = t
        return pkt

    def send_now(self) -> None:
        try:
            pkt = self.packet()
            if pkt is None:
                return
            self.transport.send(pkt)
            self.counts["packets"] += 1
            self.counts["bytes"] += len(pkt)
        except Exception as err:  # a radio problem never stops the logger: count, say
            self.counts["errors"] += 1
            self.last_error = f"{type(err).__name__}: {err}"
            log.warning("uplink: cannot send: %s", err)


def _refuses(field: Any, value: float) -> bool:
    try:
        field.to_raw(value)
        return False
    except UplinkError:
        return True
