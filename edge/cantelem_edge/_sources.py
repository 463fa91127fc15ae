"""Frame and GPS sources of the edge logger; each runs in its own thread and feeds a sink.

* :class:`CanBusSource`: any python-can interface and channel;
* :class:`ReplaySource`: a log file (every ``read_log`` format), in real time or as fast as
  the logger takes it;
* :class:`SimSource`: the built-in EV simulator (a pool of simulated frames, looped);
* :class:`GpsSource`: NMEA 0183 from a serial port or a file, parsed with pynmea2;
* ``ObdSource`` (``_obd.py``): polls OBD-II PIDs on a python-can bus and records it.
"""

from __future__ import annotations

import abc
import logging
import os
import threading
import time
from typing import Any, Protocol

import numpy as np

from cantelem_sci.errors import CaptureError, NmeaError, UnknownNameError
from cantelem_sci.frames import FrameBatch, from_messages

from ._config import SourceConfig

log = logging.getLogger("cantelem_edge")
BATCH_MAX = 4096
BATCH_SECONDS = 0.02


class Sink(Protocol):
    def put_can(self, batch: FrameBatch, *, block: bool = False,
                wall_clock: bool = True) -> None: ...
    def put_gps(self, fixes: dict[str, np.ndarray]) -> None: ...
    def count_drop(self, cause: str, n: int) -> None: ...


class Source(abc.ABC):
    """Base: a thread that runs :meth:`run` until :meth:`stop`."""

    name = "source"

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None
        self.finished = threading.Event()

    def open(self) -> None:
        """Open devices/files; raise a clear error here rather than in the thread."""

    def start(self, sink: Sink) -> None:
        """Start the thread (after :meth:`open`)."""
        self._thread = threading.Thread(target=self._main, args=(sink,), name=self.name,
                                        daemon=True)
        self._thread.start()

    def _main(self, sink: Sink) -> None:
        try:
            self.run(sink)
        except BaseException as err:  # reported by the logger's status, never silent
            self.error = err
            log.error("%s stopped: %s", self.name, err)
        finally:
            self.finished.set()

    @abc.abstractmethod
    def run(self, sink: Sink) -> None:
        """Capture or play frames into ``sink`` until stopped or done."""

    def stop(self) -> None:
        self._stop.set()

    def status(self) -> dict[str, Any]:
        """What the status file shows of this source beyond running/error."""
        return {}

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)


def messages_to_batch(msgs: list[Any], channel_names: list[str]) -> FrameBatch:
    """python-can messages from the bus to a :class:`FrameBatch`: the analysis side's
    converter (:func:`cantelem_sci.frames.from_messages`, timestamps to the ns), a message
    without a channel on the first of ``channel_names``.

    Example
    -------
    >>> import can
    >>> m = can.Message(timestamp=1.5, arbitration_id=0x123, data=[1, 2], is_extended_id=False)
    >>> messages_to_batch([m], ["can0"]).dlc.tolist()
    [2]
    """
    return from_messages(msgs, channel_names)


class CanBusSource(Source):
    """Frames from a python-can bus (``interface``, ``channel``); several may run at once."""

    def __init__(self, cfg: SourceConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.name = f"can:{cfg.interface}:{cfg.channel}"
        self.label = cfg.name or str(cfg.channel)
        self.bus: Any = None

    def open(self) -> None:
        import can

        valid = sorted(can.interfaces.VALID_INTERFACES)
        if self.cfg.interface not in valid:
            raise UnknownNameError("CAN interface", self.cfg.interface, valid)
        kw: dict[str, Any] = {}
        if self.cfg.bitrate:
            kw["bitrate"] = self.cfg.bitrate
        if self.cfg.kind == "canfd":
            kw["fd"] = True
        try:
            self.bus = can.Bus(interface=self.cfg.interface, channel=self.cfg.channel, **kw)
        except Exception as err:  # python-can raises many types; all mean "cannot open"
            raise CaptureError(f"cannot open CAN interface {self.cfg.interface!r} channel "
                               f"{self.cfg.channel!r}: {err}") from err

    def run(self, sink: Sink) -> None:
        bus = self.bus
        msgs: list[Any] = []
        names = [self.label]
        last = time.monotonic()
        try:
            while not self._stop.is_set():
                m = bus.recv(timeout=BATCH_SECONDS)
                if m is not None:
                    m.channel = self.label
                    msgs.append(m)
                now = time.monotonic()
                if msgs and (len(msgs) >= BATCH_MAX or now - last >= BATCH_SECONDS):
                    sink.put_can(messages_to_batch(msgs, names))
                    msgs = []
                    last = now
            if msgs:
                sink.put_can(messages_to_batch(msgs, names))
        finally:
            bus.shutdown()


def _now_ns() -> int:
    return time.time_ns()


class _BatchPlayer(Source):
    """Plays a FrameBatch: in real time (paced by its timestamps) or as fast as taken."""

    def __init__(self, realtime: bool, loop: bool, speed: float = 1.0) -> None:
        super().__init__()
        self.realtime = realtime
        self.loop = loop
        self.speed = speed

    @abc.abstractmethod
    def frames(self) -> FrameBatch:
        """The frames to play."""

    def run(self, sink: Sink) -> None:
        b = self.frames()
        if len(b) == 0:
            return
        span = int(b.time[-1] - b.time[0]) + 1_000_000
        shift = (_now_ns() - int(b.time[0])) if self.realtime or self.loop else 0
        t0_wall = time.monotonic()
        t0 = int(b.time[0]) + shift
        k = 0
        while not self._stop.is_set():
            times = b.time + shift + k * span
            i = 0
            n = len(b)
            while i < n and not self._stop.is_set():
                if self.realtime:
                    due = t0 + int((time.monotonic() - t0_wall) * 1e9 * self.speed)
                    j = int(np.searchsorted(times, due, side="right"))
                    if j <= i:
                        time.sleep(BATCH_SECONDS)
                        continue
                    j = min(j, i + 50_000)
                else:
                    j = min(n, i + 20_000)
                part = b.take(slice(i, j))
                part.time = times[i:j].copy()
                # paced frames carry the clock's time; fast ones the log's
                sink.put_can(part, block=not self.realtime, wall_clock=self.realtime)
                i = j
            k += 1
            if not self.loop:
                break


class BatchSource(_BatchPlayer):
    """Frames already in memory (a :class:`FrameBatch`), played once with their own times
    (``realtime=False``) or re-stamped and paced (``realtime=True``); for ingest and tests."""

    def __init__(self, batch: FrameBatch, realtime: bool = False, name: str = "batch") -> None:
        super().__init__(realtime, loop=False)
        self._frames = batch
        self.name = name

    def frames(self) -> FrameBatch:
        return self._frames


class ReplaySource(_BatchPlayer):
    """A log file replayed; real time re-stamps frames to now, fast keeps their times."""

    def __init__(self, cfg: SourceConfig) -> None:
        super().__init__(cfg.realtime, loop=False, speed=cfg.speed)
        self.path = cfg.path
        self.name = f"replay:{cfg.path}"

    def open(self) -> None:
        from cantelem_sci.sources import read_frames

        self._frames = read_frames(self.path)  # raises LogFormatError naming file and line

    def frames(self) -> FrameBatch:
        return self._frames


class SimSource(_BatchPlayer):
    """The built-in EV simulator: ``pool_s`` seconds simulated once, then looped (times keep
    growing), from now on. Each vehicle id drives its own route (the simulator's ``index``
    comes from the id). With ``rate`` (frames/s) the simulated drive is compressed in time
    to reach that rate. Faults (``cfg.faults``) are placed in seconds from the start and
    repeat with the loop."""

    def __init__(self, cfg: SourceConfig, vehicle: str, pool_s: float = 600.0) -> None:
        super().__init__(cfg.realtime, loop=True, speed=cfg.speed)
        self.vehicle = cfg.vehicle or vehicle
        self.seed = cfg.seed
        self.pool_s = pool_s
        self.rate = cfg.rate
        self.faults = list(cfg.faults)
        self.name = f"sim:{self.vehicle}"

    def open(self) -> None:
        import zlib

        from cantelem_sci.sim import simulate_vehicle

        from cantelem_sci.sim import Fault

        now = _now_ns()
        index = zlib.crc32(self.vehicle.encode()) % 1000
        faults = [Fault.parse(f) for f in self.faults]
        b = simulate_vehicle(self.vehicle, duration_s=self.pool_s, seed=self.seed,
                             index=index, start=np.datetime64(now, "ns"), faults=faults)
        if self.rate:
            k = max(1.0, self.rate / (len(b) / self.pool_s))
            b = simulate_vehicle(self.vehicle, duration_s=self.pool_s * k, seed=self.seed,
                                 index=index, start=np.datetime64(now, "ns"),
                                 faults=[f.scaled(k) for f in faults])
            b.time = now + ((b.time - now) / k).astype(np.int64)
        self._frames = b

    def frames(self) -> FrameBatch:
        return self._frames


class NmeaParser:
    """Stateful NMEA 0183 parser: GGA gives the position, the latest RMC speed, course and
    date. A malformed line raises :class:`NmeaError` naming the source and the line number,
    or goes to ``on_error`` and is skipped."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.speed = np.nan
        self.course = np.nan
        self.date: Any = None

    def feed(self, lines, first_line: int = 1, on_error=None) -> dict[str, np.ndarray]:
        import datetime as _dt

        import pynmea2

        rows: list[tuple] = []
        for lineno, line in enumerate(lines, first_line):
            line = line.strip()
            if not line:
                continue
            try:
                msg = pynmea2.parse(line, check=True)
                kind = type(msg).__name__
                if kind == "RMC":
                    self.speed = (float(msg.spd_over_grnd) * 1.852
                                  if msg.spd_over_grnd not in (None, "") else np.nan)
                    self.course = (float(msg.true_course) if msg.true_course not in (None, "")
                                   else np.nan)
                    self.date = msg.datestamp or self.date
                elif kind == "GGA":
                    if msg.latitude is None or msg.gps_qual in (None, "", 0, "0"):
                        continue
                    t = _now_ns()
                    if self.date is not None and msg.timestamp is not None:
                        dt = _dt.datetime.combine(self.date, msg.timestamp.replace(tzinfo=None))
                        t = int(np.datetime64(dt, "ns").astype(np.int64))

                    def num(v):
                        return float(v) if v not in (None, "") else np.nan

                    rows.append((t, float(msg.latitude), float(msg.longitude), num(msg.altitude),
                                 self.speed, self.course, num(msg.horizontal_dil),
                                 int(msg.gps_qual or 0), int(msg.num_sats or 0)))
            except (pynmea2.ParseError, pynmea2.ChecksumError, pynmea2.SentenceTypeError,
                    ValueError, TypeError, AttributeError) as err:
                e = NmeaError(f"{self.source}:{lineno}: malformed NMEA sentence "
                              f"{line[:60]!r}: {err}")
                if on_error is None:
                    raise e from err
                on_error(e)
        cols = list(zip(*rows)) if rows else [[]] * 9
        return {"time": np.array(cols[0], np.int64), "latitude": np.array(cols[1], np.float64),
                "longitude": np.array(cols[2], np.float64),
                "altitude": np.array(cols[3], np.float64), "speed": np.array(cols[4], np.float64),
                "course": np.array(cols[5], np.float64), "hdop": np.array(cols[6], np.float64),
                "fix_quality": np.array(cols[7], np.uint8),
                "satellites": np.array(cols[8], np.uint8)}


def parse_nmea_lines(lines, source: str, on_error=None) -> dict[str, np.ndarray]:
    """Fixes from NMEA 0183 lines (see :class:`NmeaParser`).

    Example
    -------
    >>> gga = "$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47"
    >>> fx = parse_nmea_lines([gga], "x")
    >>> round(float(fx["latitude"][0]), 4), int(fx["satellites"][0])
    (48.1173, 8)
    """
    return NmeaParser(source).feed(lines, 1, on_error)


class GpsSource(Source):
    """NMEA from a serial port (pyserial) or a file; malformed lines are counted and logged
    with their line number (``dropped.gps_malformed`` in the status)."""

    def __init__(self, cfg: SourceConfig) -> None:
        super().__init__()
        self.path = cfg.path
        self.baudrate = cfg.baudrate
        self.name = f"gps:{cfg.path}"
        self._fh: Any = None
        self._is_file = False
        self._parser = NmeaParser(str(cfg.path))

    def open(self) -> None:
        if self.path and os.path.isfile(self.path):
            self._is_file = True
            try:
                self._fh = open(self.path, "r", errors="replace")
            except OSError as err:
                raise CaptureError(
                    f"{self.path}: cannot open the NMEA file: {err.strerror}") from err
            return
        try:
            import serial
        except ImportError as err:
            raise CaptureError(f"{self.path}: not a file, and pyserial (for serial ports) is not "
                               "installed: pip install 'cantelem_sci[edge]'") from err
        try:
            self._fh = serial.Serial(self.path, self.baudrate, timeout=0.2)
        except (serial.SerialException, OSError) as err:
            raise CaptureError(f"{self.path}: cannot open the GPS serial port: {err}") from err

    def run(self, sink: Sink) -> None:
        lineno = 0

        def on_error(e: NmeaError) -> None:
            log.warning("%s", e)
            sink.count_drop("gps_malformed", 1)

        buf: list[str] = []
        try:
            while not self._stop.is_set():
                raw = self._fh.readline()
                if not raw:
                    if self._is_file:
                        break
                    continue
                line = raw.decode("ascii", "replace") if isinstance(raw, bytes) else raw
                lineno += 1
                buf.append(line)
                if len(buf) >= 10 or self._is_file is False:
                    self._emit(sink, buf, lineno - len(buf), on_error)
                    buf = []
            if buf:
                self._emit(sink, buf, lineno - len(buf), on_error)
        finally:
            self._fh.close()

    def _emit(self, sink: Sink, lines: list[str], first: int, on_error) -> None:
        fixes = self._parser.feed(lines, first + 1, on_error)
        if len(fixes["time"]):
            sink.put_gps(fixes)


def make_source(cfg: SourceConfig, vehicle: str) -> Source:
    """The source object for a :class:`SourceConfig`."""
    if cfg.kind in ("can", "canfd"):
        return CanBusSource(cfg)
    if cfg.kind == "replay":
        return ReplaySource(cfg)
    if cfg.kind == "sim":
        return SimSource(cfg, vehicle)
    if cfg.kind == "obd":
        from ._obd import ObdSource

        return ObdSource(cfg)
    return GpsSource(cfg)
