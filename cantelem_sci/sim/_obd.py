"""A combustion car without a DBC: an OBD-II ECU simulator and a simulated polling log.

:class:`CarModel` drives a deterministic cycle (stops, urban and highway stretches) and
gives the values of the PIDs it supports; :class:`ObdEcu` answers OBD-II requests with
them (service 01 with up to six PIDs, 02 freeze frame, 09 VIN, negative responses),
framed as ISO-TP; :class:`EcuSimulator` runs ECUs on a python-can bus (the virtual bus in
the tests, a vcan interface on a bench), honouring flow control for multi-frame answers;
:func:`simulate_obd_vehicle` writes the frames a tester polling the car would record,
without a bus (the demo's fourth vehicle).
"""

from __future__ import annotations

import threading
import time
from typing import Any, Iterable, Sequence

import numpy as np

from ..decoder import OBD_PIDS as PIDS
from ..decoder import obd_encode_value
from ..errors import ArgumentError
from ..frames import FrameBatch

__all__ = ["CarModel", "DEFAULT_POLL", "EcuSimulator", "ObdEcu", "isotp_segment",
           "simulate_obd_vehicle"]

#: PIDs the simulated engine ECU supports
ENGINE_PIDS = (0x01, 0x04, 0x05, 0x0B, 0x0C, 0x0D, 0x0F, 0x10, 0x11, 0x1F, 0x2F, 0x33, 0x42,
               0x46, 0x5C, 0x5E, 0xA6)
#: the PIDs a tester polls by default, and their rates (Hz)
DEFAULT_POLL = {0x0C: 5.0, 0x0D: 5.0, 0x11: 5.0, 0x04: 2.0, 0x10: 2.0, 0x05: 0.5, 0x0F: 0.5,
                0x2F: 0.2, 0x42: 0.5, 0x5C: 0.5, 0x5E: 1.0, 0xA6: 0.1}
PAD = 0xAA


class CarModel:
    """A deterministic drive: speed, engine speed, load, temperatures, fuel as functions
    of time (seconds since the start), vectorised.

    Example
    -------
    >>> m = CarModel(seed=1)
    >>> v = m.values(np.array([0.0, 100.0]))
    >>> bool(v["CoolantTemp"][1] > v["CoolantTemp"][0])
    True
    """

    def __init__(self, seed: int = 0, ambient_c: float = 18.0, odometer_km: float = 52_340.0):
        rng = np.random.default_rng(seed)
        self.phase = rng.uniform(0, 2 * np.pi, 3)
        self.ambient = ambient_c
        self.odometer = odometer_km

    def speed(self, t: np.ndarray) -> np.ndarray:
        cyc = np.mod(t, 240.0)
        go = np.clip((cyc - 20.0) / 8.0, 0, 1) * np.clip((235.0 - cyc) / 8.0, 0, 1)
        base = 55 + 35 * np.sin(2 * np.pi * t / 300 + self.phase[0]) + 12 * np.sin(
            2 * np.pi * t / 41 + self.phase[1])
        return np.clip(base, 0, 130) * go

    def values(self, t: Any) -> dict[str, np.ndarray]:
        t = np.asarray(t, np.float64)
        v = self.speed(t)
        dv = (self.speed(t + 0.5) - self.speed(t - 0.5))  # km/h per s
        gear = np.select([v < 20, v < 40, v < 60, v < 85], [1, 2, 3, 4], 5)
        ratio = np.array([0, 110.0, 62.0, 43.0, 33.0, 27.0])[gear]
        rpm = np.maximum(780.0 + 20 * np.sin(t * 0.7), v * ratio)
        load = np.clip(22 + 9 * dv + 0.25 * v, 12, 98)
        warm = 1 - np.exp(-t / 420.0)
        coolant = self.ambient + (90.0 - self.ambient) * warm
        return {
            "VehicleSpeed": v, "EngineSpeed": rpm, "EngineLoad": load,
            "ThrottlePos": np.clip(14 + 0.8 * load, 0, 100),
            "MAF": rpm * load / 3000.0, "IntakePressure": 30 + 0.7 * load,
            "CoolantTemp": coolant, "IntakeTemp": self.ambient + 12 * warm,
            "OilTemp": self.ambient + (98.0 - self.ambient) * (1 - np.exp(-t / 600.0)),
            "AmbientAirTemp": np.full_like(t, self.ambient),
            "FuelLevel": np.clip(72 - t / 400.0, 0, 100),
            "FuelRate": 0.6 + rpm * load / 45000.0, "RunTime": t,
            "BarometricPressure": np.full_like(t, 101.0),
            "ControlModuleVoltage": 14.1 + 0.05 * np.sin(t / 7),
            "Odometer": self.odometer + self._km(t),
            "MIL": np.zeros_like(t), "DTCCount": np.zeros_like(t),
        }

    def _km(self, t: np.ndarray) -> np.ndarray:
        """Distance (km) by t, integrated on a 1 s grid."""
        grid = np.arange(0, float(np.max(t, initial=0)) + 2.0)
        dist = np.concatenate([[0.0], np.cumsum(self.speed(grid[:-1]) / 3600.0)])
        return np.interp(t, grid, dist)


def isotp_segment(payload: bytes, pad: int = PAD) -> list[bytes]:
    """ISO-TP frames (8 bytes, padded) of one message: a single frame, or a first frame
    and consecutive frames.

    Example
    -------
    >>> [f.hex() for f in isotp_segment(bytes([0x41, 0x0D, 0x32]))]
    ['03410d32aaaaaaaa']
    """
    if len(payload) <= 7:
        return [bytes([len(payload)]) + payload + bytes([pad]) * (7 - len(payload))]
    if len(payload) > 4095:
        raise ArgumentError(f"ISO-TP payload of {len(payload)} bytes: at most 4095 here")
    out = [bytes([0x10 | len(payload) >> 8, len(payload) & 0xFF]) + payload[:6]]
    rest, sn = payload[6:], 1
    while rest:
        chunk, rest = rest[:7], rest[7:]
        out.append(bytes([0x20 | sn]) + chunk + bytes([pad]) * (7 - len(chunk)))
        sn = (sn + 1) & 0xF
    return out


class ObdEcu:
    """One ECU's answers: ``respond(request, t)`` gives the response payload (or None).

    Parameters
    ----------
    address
        Response identifier (``0x7E8`` engine, ``0x7E9`` transmission; 29-bit
        ``0x18DAF110``...); it answers functional requests and physical ones to
        ``address - 8`` (or ``0x18DA<ecu>F1``).
    pids
        Supported service 01 PIDs (the supported-PID bitmaps follow from them).
    negative
        ``{pid: code}``: answer these with a negative response (e.g. 0x31 request out of
        range) instead of data.
    """

    def __init__(self, model: CarModel, address: int = 0x7E8, pids: Iterable[int] = ENGINE_PIDS,
                 vin: str = "WCTOBD2SIMCAR0457", negative: dict[int, int] | None = None,
                 name: str = "ECM-EngineControl"):
        self.model = model
        self.address = address
        self.extended = address > 0x7FF
        self.pids = sorted(set(pids))
        self.vin = vin
        self.name = name
        self.negative = dict(negative or {})

    @property
    def request_id(self) -> int:
        """The physical request identifier of this ECU."""
        if self.extended:
            return 0x18DA00F1 | (self.address & 0xFF) << 8
        return self.address - 8

    def supported_bitmap(self, base: int) -> int:
        bits = 0
        for p in self.pids:
            if base < p <= base + 0x20:
                bits |= 1 << (32 - (p - base))
        if any(p > base + 0x20 for p in self.pids):
            bits |= 1  # the next bitmap exists
        return bits

    def _data(self, pid: int, t: float, vals: dict[str, float] | None) -> bytes | None:
        if pid % 0x20 == 0 and pid <= 0xC0:
            return self.supported_bitmap(pid).to_bytes(4, "big") if (
                pid == 0 or any(p > pid for p in self.pids)) else None
        if pid not in self.pids or pid not in PIDS:
            return None
        if vals is None:
            vals = {k: float(v[0]) for k, v in self.model.values(np.array([t])).items()}
        p = PIDS[pid]
        data = bytearray(p.length)
        for f in p.fields:
            obd_encode_value(f, vals.get(f.name, 0.0), data)
        return bytes(data)

    def respond(self, request: bytes, t: float,
                values: dict[str, float] | None = None) -> bytes | None:
        """Response payload to a request payload (service byte first), None: no answer;
        ``values``: the model's values at ``t`` when the caller has them already."""
        if not request:
            return None
        svc = request[0]
        if svc in (0x01, 0x02) and len(request) >= 2:
            if request[1] in self.negative:
                return bytes([0x7F, svc, self.negative[request[1]]])
            out = bytearray([0x40 + svc])
            pids = request[1:7] if svc == 0x01 else request[1:2]
            for pid in pids:
                d = self._data(pid, t, values)
                if d is not None:
                    out += bytes([pid]) + (bytes([0]) if svc == 0x02 else b"") + d
            return bytes(out) if len(out) > 1 else None
        if svc == 0x09 and len(request) >= 2:
            if request[1] == 0x02:
                return bytes([0x49, 0x02, 0x01]) + self.vin.encode("ascii")[:17]
            if request[1] == 0x0A:
                return bytes([0x49, 0x0A, 0x01]) + self.name.encode("ascii")[:20].ljust(20, b"\0")
            if request[1] == 0x00:
                return bytes([0x49, 0x00, 0x50, 0x40, 0x00, 0x00])  # 02, 04, 0A
            return bytes([0x7F, 0x09, 0x12])
        return bytes([0x7F, svc, 0x11])  # service not supported


def simulate_obd_vehicle(vehicle: str = "CAR0001", *, duration_s: float = 60.0, seed: int = 0,
                         start: np.datetime64 | None = None,
                         poll: dict[int, float] | None = None) -> FrameBatch:
    """The frames a tester records while polling the simulated car (engine ECU ``0x7E8``,
    transmission ``0x7E9`` answering speed): ``0100`` and ``0902`` (VIN, multi-frame, with
    the tester's flow control) at the start, then each PID of ``poll`` at its rate, answers
    5-25 ms after each request.

    Example
    -------
    >>> b = simulate_obd_vehicle(duration_s=2)
    >>> hex(int(b.arbitration_id[0]))
    '0x7df'
    """
    if not duration_s >= 0:
        raise ArgumentError(f"simulate_obd_vehicle({vehicle!r}): duration_s must be >= 0, got "
                            f"{duration_s}")
    rng = np.random.default_rng(seed)
    model = CarModel(seed)
    ecus = [ObdEcu(model), ObdEcu(model, 0x7E9, (0x0D,), vin="", name="TCM-Transmission")]
    poll = dict(DEFAULT_POLL if poll is None else poll)
    t0 = np.datetime64("2026-01-05T07:45:00", "ns") if start is None else np.datetime64(start,
                                                                                          "ns")
    rows: list[tuple[float, int, bytes]] = []

    def ask(t: float, req: bytes, values: dict[str, float] | None = None) -> None:
        rows.append((t, 0x7DF, isotp_segment(req, 0)[0]))
        for k, ecu in enumerate(ecus):
            p = ecu.respond(req, t, values)
            if p is None or (req[0] == 0x09 and not ecu.vin):
                continue
            ta = t + 0.005 + 0.004 * k + rng.uniform(0, 0.015)
            frames = isotp_segment(p)
            rows.append((ta, ecu.address, frames[0]))
            if len(frames) > 1:  # the tester's flow control, then the rest at STmin 0
                rows.append((ta + 0.001, ecu.request_id, bytes([0x30, 0, 0]) + bytes(5)))
                for j, f in enumerate(frames[1:]):
                    rows.append((ta + 0.002 + 0.0005 * j, ecu.address, f))

    ask(0.0, bytes([0x01, 0x00]))
    ask(0.05, bytes([0x09, 0x02]))
    ask(0.1, bytes([0x09, 0x0A]))
    for k, pid in enumerate((0x20, 0x40, 0x60, 0x80, 0xA0)):
        ask(0.15 + 0.005 * k, bytes([0x01, pid]))
    base = 0.2
    if duration_s > base:
        # one request every 25 ms, PIDs interleaved by their rates
        slots = np.arange(base, duration_s, 0.025)
        due = {pid: 0.0 for pid in poll}
        plan: list[tuple[float, int]] = []
        for t in slots.tolist():
            pid = min(due, key=lambda p: (due[p], p))
            if due[pid] > t:
                continue
            plan.append((t, pid))
            due[pid] = max(due[pid], t) + 1.0 / poll[pid]
        at = np.array([t for t, _ in plan])
        vals = {k: v.tolist() for k, v in model.values(at).items()}  # one vectorised pass
        names = list(vals)
        for i, (t, pid) in enumerate(plan):
            ask(t, bytes([0x01, pid]), {k: vals[k][i] for k in names})
    rows.sort(key=lambda r: r[0])
    n = len(rows)
    data = np.zeros((n, 8), np.uint8)
    for i, (_, _, f) in enumerate(rows):
        data[i, :len(f)] = np.frombuffer(f, np.uint8)
    times = t0 + (np.array([r[0] for r in rows]) * 1e9).astype("timedelta64[ns]")
    return FrameBatch.from_arrays(times, np.array([r[1] for r in rows], np.uint32), data,
                                  dlc=np.full(n, 8, np.uint8), channel=np.zeros(n, np.uint8),
                                  channel_names=["can0"])


class EcuSimulator:
    """ECUs answering OBD-II requests on a python-can bus, in a thread.

    ``silent=True`` receives and never answers (an ECU that is off). Multi-frame answers
    wait for the tester's flow control (block size and STmin honoured) and are abandoned
    after 1 s without it (ISO 15765-2 N_Bs).

    Example
    -------
    >>> import can
    >>> bus = can.Bus(interface="virtual", channel="doc-ecu")
    >>> with EcuSimulator(can.Bus(interface="virtual", channel="doc-ecu")) as sim:
    ...     bus.send(can.Message(arbitration_id=0x7DF, data=[2, 1, 0x0D, 0, 0, 0, 0, 0],
    ...                          is_extended_id=False))
    ...     hex(bus.recv(2).arbitration_id)
    '0x7e8'
    >>> bus.shutdown()
    """

    def __init__(self, bus: Any, ecus: Sequence[ObdEcu] | None = None, *, silent: bool = False,
                 seed: int = 0):
        self.bus = bus
        self.ecus = list(ecus) if ecus is not None else [ObdEcu(CarModel(seed))]
        self.silent = silent
        self.t0 = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="obd-ecu-sim", daemon=True)
        self.requests = 0

    def __enter__(self) -> "EcuSimulator":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.bus.shutdown()

    def _send(self, ecu: ObdEcu, frame: bytes) -> None:
        import can

        self.bus.send(can.Message(arbitration_id=ecu.address, data=frame,
                                  is_extended_id=ecu.extended))

    def _run(self) -> None:
        while not self._stop.is_set():
            msg = self.bus.recv(0.05)
            if msg is None or self.silent or not msg.data:
                continue
            for ecu in self.ecus:
                functional = msg.arbitration_id in (0x7DF, 0x18DB33F1)
                if not functional and msg.arbitration_id != ecu.request_id:
                    continue
                if msg.data[0] >> 4 != 0:
                    continue  # a flow control outside a transfer
                self.requests += 1
                req = bytes(msg.data[1:1 + (msg.data[0] & 0xF)])
                p = ecu.respond(req, time.monotonic() - self.t0)
                if p is None:
                    continue
                frames = isotp_segment(p)
                self._send(ecu, frames[0])
                if len(frames) > 1:
                    self._rest(ecu, frames[1:])

    def _rest(self, ecu: ObdEcu, frames: list[bytes]) -> None:
        while frames:
            fc = self._flow_control(ecu)
            if fc is None:
                return  # N_Bs timeout: abandoned
            bs, st = fc
            for _ in range(bs or len(frames)):
                if not frames:
                    break
                self._send(ecu, frames.pop(0))
                time.sleep(st / 1000.0 if st <= 0x7F else 0.0001)

    def _flow_control(self, ecu: ObdEcu) -> tuple[int, int] | None:
        end = time.monotonic() + 1.0
        while time.monotonic() < end and not self._stop.is_set():
            msg = self.bus.recv(0.05)
            if msg is not None and msg.arbitration_id == ecu.request_id and msg.data and \
                    msg.data[0] >> 4 == 3:
                return int(msg.data[1]), int(msg.data[2])
        return None
