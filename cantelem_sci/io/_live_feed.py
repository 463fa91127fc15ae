"""The subscriber's side of the live path: what a dashboard knows about every vehicle.

:class:`LiveFeed` subscribes to ``<prefix>/+/signals``, ``/status`` and ``/alerts``, keeps the
last ``window_s`` seconds of samples per vehicle and signal, the newest value of each signal,
and each vehicle's online/offline state and last-seen time. Consumers (a dashboard's
periodic callback, a notebook) read it without touching MQTT: :meth:`LiveFeed.since` gives
the samples that arrived after a cursor, :meth:`LiveFeed.window` the whole window,
:meth:`LiveFeed.fleet` one row per vehicle. Invalid messages are counted, logged (at most
one line a second) and kept as the last error; they never stop the feed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np

from ..errors import LivePayloadError
from ._live_payload import LiveAlert, LiveSamples, decode_message, live_topic
from ._mqtt import BrokerSettings, connect

__all__ = ["LiveFeed"]

log = logging.getLogger("cantelem_sci.live")


@dataclass
class _Vehicle:
    state: str = "online"  # from the retained status; "online" when only samples were seen
    status_info: dict[str, Any] = field(default_factory=dict)
    last_seen: float = 0.0  # wall clock (s) of the last message
    newest_ns: int = 0  # newest capture time seen
    chunks: deque = field(default_factory=deque)  # (cursor, newest ns, {sig: (t, v)})
    latest: dict[str, tuple[int, float]] = field(default_factory=dict)
    cursor: int = 0
    alerts: dict[str, dict[str, Any]] = field(default_factory=dict)  # key -> fired, uncleared


class LiveFeed:
    """Live samples of every vehicle on a broker.

    Parameters
    ----------
    broker : str or BrokerSettings
        ``mqtt://host:port`` (credentials and TLS: :class:`BrokerSettings`).
    prefix : str
        Topic prefix (the edge's ``[live] prefix``).
    window_s : float
        Seconds of samples kept per vehicle (the plots' rolling window).
    vehicles : iterable of str, optional
        Accept only these vehicles; messages of others are reported as unknown.

    Example
    -------
    ::

        feed = LiveFeed("mqtt://127.0.0.1:1883").start()
        feed.fleet()                               # one row per vehicle seen
        cursor, new = feed.since("EV0001", 0)      # {signal: (times ns, values)}
    """

    def __init__(self, broker: str | BrokerSettings, prefix: str = "cantelem",
                 window_s: float = 60.0, vehicles: Iterable[str] | None = None,
                 max_vehicles: int = 10_000) -> None:
        self.settings = broker if isinstance(broker, BrokerSettings) else \
            BrokerSettings.from_url(broker)
        self.prefix = prefix
        live_topic(prefix, "+", "signals")  # checks the prefix
        self.window_ns = int(window_s * 1e9)
        self.allowed = None if vehicles is None else set(vehicles)
        self.max_vehicles = max_vehicles
        self._lock = threading.Lock()
        self._vehicles: dict[str, _Vehicle] = {}
        self.connected = False
        self.connection = f"connecting to {self.settings.shown}"
        self.bad_messages = 0
        self.last_error: str | None = None
        self._last_log = 0.0
        self._client: Any = None

    # ---- life cycle -------------------------------------------------------------------------
    def start(self) -> "LiveFeed":
        """Connect in the background (a broker that is down is retried, never raised)."""
        if self._client is None:
            self._client = connect(
                self.settings, on_message=self.handle, on_state=self._on_state,
                subscribe=[live_topic(self.prefix, "+", "signals"),
                           live_topic(self.prefix, "+", "status"),
                           live_topic(self.prefix, "+", "alerts")], start=False)
            self._client.loop_start()
        return self

    def stop(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            client.disconnect()  # first: the network thread sends it and ends
            client.loop_stop()

    def _on_state(self, connected: bool, reason: str) -> None:
        if self._client is None:  # stopping
            return
        self.connected = connected
        if connected:
            self.connection = f"connected to {self.settings.shown}"
            log.info("live: %s", self.connection)
        else:
            self.connection = (f"broker {self.settings.shown} unreachable ({reason}); "
                               "retrying")
            self._report(f"live: {self.connection}")

    def _report(self, msg: str) -> None:
        self.last_error = msg
        now = time.monotonic()
        if now - self._last_log >= 1.0:  # at most one line a second
            self._last_log = now
            log.warning("%s", msg)

    # ---- input ------------------------------------------------------------------------------
    def handle(self, topic: str, payload: bytes) -> None:
        """Take one MQTT message (called by the client's thread; public for replay/tests)."""
        try:
            msg = decode_message(topic, payload, self.prefix)
        except LivePayloadError as err:
            self.bad_messages += 1
            self._report(f"live: message refused: {err}")
            return
        with self._lock:
            v = self._vehicles.get(msg.vehicle)
            if v is None:
                if self.allowed is not None and msg.vehicle not in self.allowed:
                    self.bad_messages += 1
                    self._report(f"live: {topic}: unknown vehicle {msg.vehicle!r} (not in "
                                 "this dashboard's list); ignored")
                    return
                if len(self._vehicles) >= self.max_vehicles:
                    self.bad_messages += 1
                    self._report(f"live: {topic}: more than {self.max_vehicles} vehicles; "
                                 "ignored")
                    return
                v = self._vehicles[msg.vehicle] = _Vehicle()
            v.last_seen = time.time()
            if isinstance(msg, LiveSamples):
                self._add_samples(v, msg)
            elif isinstance(msg, LiveAlert):
                if msg.state == "fired":
                    v.alerts[msg.key] = msg.body
                else:
                    v.alerts.pop(msg.key, None)
            else:
                v.state = msg.state
                v.status_info = msg.info

    def _add_samples(self, v: _Vehicle, msg: LiveSamples) -> None:
        newest = v.newest_ns
        for name, (t, x) in msg.signals.items():
            if len(t):
                newest = max(newest, int(t.max()))
                v.latest[name] = (int(t[-1]), float(x[-1]))
        v.newest_ns = newest
        v.state = "online"
        v.cursor += 1
        v.chunks.append((v.cursor, newest, msg.signals))
        while v.chunks and v.chunks[0][1] < newest - self.window_ns:
            v.chunks.popleft()

    # ---- reading ----------------------------------------------------------------------------
    @property
    def vehicles(self) -> list[str]:
        with self._lock:
            return sorted(self._vehicles)

    def since(self, vehicle: str, cursor: int,
              signals: Iterable[str] | None = None) -> tuple[int, dict[str, tuple[np.ndarray,
                                                                                np.ndarray]]]:
        """Samples of ``vehicle`` that arrived after ``cursor`` (0: everything in the window);
        returns the new cursor and ``{signal: (times ns, values)}`` (time order)."""
        with self._lock:
            v = self._vehicles.get(vehicle)
            if v is None:
                return cursor, {}
            chunks = []
            for c in reversed(v.chunks):  # the newest first: a tick reads a few chunks
                if c[0] <= cursor:
                    break
                chunks.append(c)
            chunks.reverse()
            new_cursor = v.cursor
        return new_cursor, _concat(chunks, signals)

    def latest(self, vehicle: str, signals: Iterable[str]) -> dict[str, tuple[int, float]]:
        """The newest (capture time ns, value) of each of ``signals`` that ``vehicle`` sent."""
        with self._lock:
            v = self._vehicles.get(vehicle)
            return {} if v is None else {s: v.latest[s] for s in signals if s in v.latest}

    def window(self, vehicle: str, signals: Iterable[str] | None = None
               ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Every kept sample of ``vehicle`` (the last ``window_s`` seconds)."""
        return self.since(vehicle, 0, signals)[1]

    def units(self, vehicle: str) -> dict[str, str]:
        """Signal units announced in the vehicle's status message."""
        with self._lock:
            v = self._vehicles.get(vehicle)
            return dict(v.status_info.get("units", {})) if v else {}

    def alerts(self, vehicle: str) -> list[dict[str, Any]]:
        """The alerts of ``vehicle`` that fired and have not cleared (alert documents, as the
        edge's MQTT sink publishes them, oldest first)."""
        with self._lock:
            v = self._vehicles.get(vehicle)
            return [] if v is None else list(v.alerts.values())

    def fleet(self, keys: Iterable[str] = ()) -> list[dict[str, Any]]:
        """One row per vehicle: ``vehicle``, ``state``, ``last_seen_s`` (seconds ago),
        ``newest`` (capture time ns), ``alerts`` (how many are going on) and the newest value
        of each of ``keys``."""
        now = time.time()
        rows = []
        with self._lock:
            for name in sorted(self._vehicles):
                v = self._vehicles[name]
                row = {"vehicle": name, "state": v.state,
                       "last_seen_s": round(now - v.last_seen, 1), "newest": v.newest_ns,
                       "alerts": len(v.alerts)}
                for k in keys:
                    row[k] = v.latest.get(k, (0, np.nan))[1]
                rows.append(row)
        return rows


def _concat(chunks: list, signals: Iterable[str] | None) -> dict[str, tuple[np.ndarray,
                                                                           np.ndarray]]:
    want = None if signals is None else set(signals)
    parts: dict[str, list] = {}
    for _, _, sigs in chunks:
        for name, tv in sigs.items():
            if want is None or name in want:
                parts.setdefault(name, []).append(tv)
    out = {}
    for name, tvs in parts.items():
        t = np.concatenate([p[0] for p in tvs])
        x = np.concatenate([p[1] for p in tvs])
        if len(t) > 1 and (np.diff(t) < 0).any():
            order = np.argsort(t, kind="stable")
            t, x = t[order], x[order]
        out[name] = (t, x)
    return out
