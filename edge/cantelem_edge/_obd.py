"""An active OBD-II source: poll PIDs on a python-can bus and record every frame.

``obd:<interface>:<channel>[:<bitrate>][:pids=0C@5,0D@5,EngineLoad@2][:timeout=0.1][:ext]``

At start the source asks every ECU for its supported PIDs (``0100``, ``0120``, ... as far as
the bitmaps go) and the VIN (``0902``, multi-frame: the source sends the flow control), then
polls each configured PID at its rate with functional requests (``0x7DF``, or
``0x18DB33F1`` with ``ext``). It waits ``timeout`` seconds for the answers (longer while an
ECU says "response pending", NRC 0x78). A PID without an answer, or answered negatively,
backs off: its interval doubles up to 30 s, and returns to the configured rate at the next
answer. A silent vehicle (ignition off) is asked again for its PIDs every back-off period.

Both the requests and everything received go to the logger as raw frames: the decoding
happens later, like every other frame's (``cantelem_sci.decode_obd``).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from cantelem_sci.decoder import OBD_PIDS
from cantelem_sci.errors import CaptureError, ConfigError, UnknownNameError

from ._sources import CanBusSource, Sink, messages_to_batch

log = logging.getLogger("cantelem_edge")

#: the default poll list: PID -> requests per second
DEFAULT_PIDS = {0x0C: 5.0, 0x0D: 5.0, 0x11: 2.0, 0x04: 2.0, 0x05: 0.5, 0x2F: 0.2, 0x42: 0.5}
BACKOFF_MAX_S = 30.0
PENDING_S = 5.0  # ISO 15765-4 P2*: how long "response pending" may extend the wait


def parse_pids(spec: Any, where: str = "obd source") -> dict[int, float]:
    """``"0C@5,0D@5,EngineLoad@2"`` (hex PID or signal name, @ requests per second) or a
    mapping of the same, to {PID: rate}.

    Example
    -------
    >>> parse_pids("0C@5,VehicleSpeed@2")
    {12: 5.0, 13: 2.0}
    """
    if spec is None or spec == "":
        return dict(DEFAULT_PIDS)
    items = spec.items() if isinstance(spec, dict) else (
        tuple(p.split("@", 1)) if "@" in p else (p, 1.0) for p in str(spec).split(",") if p)
    by_name = {f.name: p.pid for p in OBD_PIDS.values() for f in p.fields}
    out: dict[int, float] = {}
    for key, rate in items:
        key = str(key).strip()
        pid = by_name.get(key)
        if pid is None:
            try:
                pid = int(key, 16)
            except ValueError:
                raise UnknownNameError(f"OBD-II PID ({where})", key, sorted(by_name)) from None
        if pid not in OBD_PIDS or pid % 0x20 == 0:
            raise ConfigError(f"{where}: PID {key} is not a service 01 PID this logger knows "
                              f"(known: {', '.join(f'{p:02X}' for p in sorted(OBD_PIDS))})")
        try:
            r = float(rate)
        except (TypeError, ValueError):
            r = -1.0
        if not 0 < r <= 100:
            raise ConfigError(f"{where}: PID {key}: rate {rate!r}: expected requests per "
                              f"second in (0, 100]")
        out[pid] = r
    return out


class ObdSource(CanBusSource):
    """Polls OBD-II PIDs (see the module docstring) and records the bus."""

    def __init__(self, cfg: Any) -> None:
        super().__init__(cfg)
        self.name = f"obd:{cfg.interface}:{cfg.channel}"
        self.pids = parse_pids(cfg.pids, f"source {self.name}")
        self.timeout = float(cfg.timeout)
        if not 0 < self.timeout <= 10:
            raise ConfigError(f"source {self.name}: timeout {cfg.timeout!r}: expected seconds "
                              f"in (0, 10]")
        self.extended = bool(cfg.extended)
        self.functional = 0x18DB33F1 if self.extended else 0x7DF
        self.supported: dict[int, set[int]] = {}  # ECU (response id) -> PIDs
        self.vin: dict[int, str] = {}
        self.interval = dict.fromkeys(self.pids, 0.0)
        self.counts = {"requests": 0, "answers": 0, "timeouts": 0, "negative": 0}
        self._pending: list[Any] = []
        self._sink: Sink | None = None

    def status(self) -> dict[str, Any]:
        return {**self.counts, "ecus": {f"{k:X}": sorted(f"{p:02X}" for p in v)
                                        for k, v in self.supported.items()},
                "backed_off": sorted(f"{p:02X}" for p, i in self.interval.items()
                                     if i > 1.0 / self.pids[p] * 1.01)}

    # ---- bus ---------------------------------------------------------------------------------
    def _is_answer(self, m: Any) -> bool:
        i = m.arbitration_id
        if m.is_extended_id:
            return (i & 0x1FFFFF00) == 0x18DAF100
        return 0x7E8 <= i <= 0x7EF

    def _flow_control_id(self, ecu: int) -> int:
        return (0x18DA00F1 | (ecu & 0xFF) << 8) if self.extended else ecu - 8

    def _send(self, arbitration_id: int, data: bytes) -> None:
        import can

        m = can.Message(arbitration_id=arbitration_id, data=data.ljust(8, b"\0"),
                        is_extended_id=self.extended, timestamp=time.time(),
                        channel=self.label)
        try:
            self.bus.send(m)
        except Exception as err:  # python-can raises CanError subclasses and OSErrors
            raise CaptureError(f"{self.name}: cannot send {arbitration_id:X}: {err}") from err
        self._pending.append(m)

    def _flush(self) -> None:
        if self._pending and self._sink is not None:
            self._sink.put_can(messages_to_batch(self._pending, [self.label]))
            self._pending = []

    def request(self, payload: bytes, expect: int | None = None) -> dict[int, bytes]:
        """Send one functional request; return each ECU's whole answer (service byte first),
        negative ones included: all that come within the timeout, or as soon as ``expect``
        ECUs answered."""
        self._send(self.functional, bytes([len(payload)]) + payload)
        self.counts["requests"] += 1
        end = time.monotonic() + self.timeout
        got: dict[int, bytes] = {}
        partial: dict[int, tuple[int, bytearray]] = {}
        while not self._stop.is_set():
            left = end - time.monotonic()
            if left <= 0:
                break
            m = self.bus.recv(timeout=min(left, 0.05))
            if m is None:
                continue
            m.channel = self.label
            self._pending.append(m)
            if not self._is_answer(m) or not m.data:
                continue
            d, ecu = bytes(m.data), m.arbitration_id
            kind = d[0] >> 4
            if kind == 0:
                body = d[1:1 + (d[0] & 0xF)]
                if len(body) >= 3 and body[0] == 0x7F and body[2] == 0x78:
                    end = max(end, time.monotonic() + PENDING_S)  # response pending
                    continue
                got[ecu] = body
            elif kind == 1:
                size = (d[0] & 0xF) << 8 | d[1]
                partial[ecu] = (size, bytearray(d[2:8]))
                self._send(self._flow_control_id(ecu), bytes([0x30, 0, 0]))
                end = max(end, time.monotonic() + self.timeout)
            elif kind == 2 and ecu in partial:
                size, buf = partial[ecu]
                buf += d[1:8]
                if len(buf) >= size:
                    got[ecu] = bytes(buf[:size])
                    del partial[ecu]
            if expect is not None and not partial and len(got) >= expect:
                break
        self._flush()
        return got

    # ---- polling -----------------------------------------------------------------------------
    def discover(self) -> bool:
        """Ask for supported PIDs and the VIN; True when some ECU answered."""
        base = 0
        while base <= 0xC0 and not self._stop.is_set():
            ans = self.request(bytes([0x01, base]))
            more = False
            for ecu, body in ans.items():
                if len(body) >= 6 and body[0] == 0x41 and body[1] == base:
                    bits = int.from_bytes(body[2:6], "big")
                    sup = self.supported.setdefault(ecu, set())
                    sup.update(base + 1 + b for b in range(32) if bits >> (31 - b) & 1)
                    more = more or bool(bits & 1)
            if not more:
                break
            base += 0x20
        if not self.supported:
            return False
        for ecu, body in self.request(bytes([0x09, 0x02])).items():
            if len(body) >= 4 and body[0] == 0x49:
                self.vin[ecu] = body[3:].replace(b"\0", b"").decode("ascii", "replace")
        if self.supported:
            every = set().union(*self.supported.values())
            skip = sorted(p for p in self.pids if p not in every)
            if skip:
                log.warning("%s: no ECU supports PID(s) %s: not polled", self.name,
                            ", ".join(f"{p:02X}" for p in skip))
            for p in skip:
                self.interval[p] = float("inf")
            log.info("%s: ECUs %s, VIN %s", self.name,
                     ", ".join(f"{e:X}" for e in sorted(self.supported)), self.vin or "-")
        return bool(self.supported)

    def run(self, sink: Sink) -> None:
        self._sink = sink
        try:
            found, next_discovery = False, 0.0
            due = dict.fromkeys(self.pids, time.monotonic())
            while not self._stop.is_set():
                now = time.monotonic()
                if not found:
                    if now >= next_discovery:
                        found = self.discover()
                        if not found:
                            next_discovery = time.monotonic() + BACKOFF_MAX_S
                            log.warning("%s: no ECU answers 0100; asking again in %.0f s",
                                        self.name, BACKOFF_MAX_S)
                    if not found:
                        self._idle(0.2)
                        continue
                pid = min(due, key=lambda p: (due[p], p))
                if self.interval[pid] == float("inf"):
                    due[pid] = float("inf")
                    if all(v == float("inf") for v in due.values()):
                        self._idle(0.5)
                    continue
                if due[pid] > now:
                    self._idle(min(due[pid] - now, 0.05))
                    continue
                ans = self.request(bytes([0x01, pid]), expect=max(1, sum(
                    pid in s for s in self.supported.values())))
                ok = any(b[:2] == bytes([0x41, pid]) for b in ans.values())
                neg = any(b[:1] == b"\x7f" for b in ans.values())
                base = 1.0 / self.pids[pid]
                if ok:
                    self.counts["answers"] += 1
                    self.interval[pid] = base
                else:
                    self.counts["negative" if neg else "timeouts"] += 1
                    self.interval[pid] = min(BACKOFF_MAX_S, max(base, self.interval[pid]) * 2)
                due[pid] = max(due[pid] + self.interval[pid], time.monotonic() - base)
        finally:
            self._flush()
            try:
                self.bus.shutdown()
            except Exception:  # noqa: BLE001 - closing a failed bus must not hide the cause
                pass

    def _idle(self, seconds: float) -> None:
        """Record what the bus carries while no request is due."""
        end = time.monotonic() + seconds
        while not self._stop.is_set() and time.monotonic() < end:
            m = self.bus.recv(timeout=max(0.0, min(0.05, end - time.monotonic())))
            if m is not None:
                m.channel = self.label
                self._pending.append(m)
        self._flush()
