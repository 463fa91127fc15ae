"""Live publishing: the configured signals of every frame batch, decoded at the edge and
published to an MQTT broker each ``[live] interval`` (default 50 ms).

Best effort, never at the cost of capture or durability: the logger hands each accepted
batch to :meth:`LivePublisher.offer`, which only appends it to a bounded queue (beyond
``queue_max_frames`` frames, or while the broker is unreachable, frames are counted as
``dropped.live`` in the status file and never wait). Decoding and publishing run in the
publisher's own thread with the numpy decoder :class:`cantelem_sci.decoder.LeanDecoder` (no
numba in the logger: about 70 MB less on a small device), value for value the kernels'
result. The connection reconnects by itself with backoff; the retained
``<prefix>/<vehicle>/status`` says ``online`` at every connection and the broker publishes
the last will ``offline`` when the logger goes away.

With alert rules (an :class:`~cantelem_sci.alerts.AlertEngine`), the same thread also decodes
the rules' signals and evaluates every batch, with or without a broker for live data: an
alert is decided within one interval of its frame reaching the logger.
"""

from __future__ import annotations

import fnmatch
import logging
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any

import numpy as np

from cantelem_sci.errors import ConfigError, UnknownNameError
from cantelem_sci.frames import FrameBatch
from cantelem_sci.io import BrokerSettings, connect, encode_samples, encode_status, live_topic

from ._config import LiveConfig
from ._status import Counters

if TYPE_CHECKING:  # pragma: no cover
    from cantelem_sci.alerts import AlertEngine

log = logging.getLogger("cantelem_edge")

__all__ = ["LivePublisher"]

#: frames decoded into one message at most (about 1 MB of JSON for the sample vehicle; readers
#: refuse payloads over 4 MiB): a backlog, such as a fast replay, goes out as several messages
MAX_FRAMES_PER_MESSAGE = 10_000


def _select(layout: Any, patterns: list[str]) -> list[tuple[int, int, str, bool]]:
    """(message, signal index, published name, multiplexed) of the signals matching
    ``patterns`` (names or globs; empty: all). A name in several messages is published as
    ``Message.Signal``; a pattern that matches nothing raises, naming close names."""
    every = [(m.index, m.sig0 + j, m.node, s.name, s.multiplexer_signal is not None)
             for m in layout.messages for j, s in enumerate(m.signals)]
    counts: dict[str, int] = {}
    for *_, name, _ in every:
        counts[name] = counts.get(name, 0) + 1
    named = [(m, s, name if counts[name] == 1 else f"{node}.{name}", mux)
             for m, s, node, name, mux in every]
    if not patterns:
        return named
    out, seen = [], set()
    for pat in patterns:
        hits = [x for x in named if fnmatch.fnmatchcase(x[2], pat)]
        if not hits:
            raise UnknownNameError("live signal", pat, [x[2] for x in named])
        for x in hits:
            if x[1] not in seen:
                seen.add(x[1])
                out.append(x)
    return out


def _select_exact(layout: Any, names: list[str]) -> list[tuple[int, int, str, bool]]:
    """Like :func:`_select` for alert rules' signals: each ``Signal`` or ``Message.Signal``
    under the name the rule uses (checked against the DBC when the config was loaded)."""
    out = []
    for want in names:
        for m in layout.messages:
            hit = [(j, s) for j, s in enumerate(m.signals)
                   if want in (s.name, f"{m.node}.{s.name}")]
            if hit:
                j, s = hit[0]
                out.append((m.index, m.sig0 + j, want, s.multiplexer_signal is not None))
                break
        else:
            raise ConfigError(f"alert rules: signal {want!r} is not in the live DBC")
    return out


class LivePublisher:
    """Decode and publish one vehicle's live signals (see the module docstring).

    Example
    -------
    ::

        pub = LivePublisher(cfg.live, "EV0001", counters)
        pub.start(); pub.offer(batch); ...; pub.stop()
    """

    def __init__(self, cfg: LiveConfig, vehicle: str, counters: Counters,
                 alerts: "AlertEngine | None" = None, uplink: Any = None) -> None:
        from cantelem_sci.decoder import load_dbc

        self.cfg = cfg
        self.vehicle = vehicle
        self.counters = counters
        self.alerts = alerts
        self.settings = BrokerSettings.from_url(
            cfg.url, username=cfg.username, password=cfg.password, ca_certs=cfg.ca_certs,
            certfile=cfg.certfile, keyfile=cfg.keyfile,
            client_id=cfg.client_id or f"cantelem-edge-{vehicle}") if cfg.url else None
        if cfg.dbc:
            self.db = load_dbc(cfg.dbc)
        else:
            from importlib import resources

            self.db = load_dbc(str(resources.files("cantelem_sci") / "data" / "ev.dbc"))
        from types import SimpleNamespace

        from cantelem_sci.decoder import message_infos

        self.layout = SimpleNamespace(messages=message_infos(self.db))
        try:
            self.selected = _select(self.layout, list(cfg.signals)) if cfg.url else []
        except UnknownNameError as err:
            raise ConfigError(f"[live] signals: {err}") from None
        self.published = {name for _, _, name, _ in self.selected}
        self.uplink = None
        if uplink is not None:  # an EdgeConfig with an uplink: its sender, on the same DBC
            from ._uplink import UplinkSender

            self.uplink = UplinkSender(
                uplink.uplink, [s.strip() for s in uplink.uplink_signals.split(",") if s.strip()],
                vehicle, self.db, uplink.uplink_interval, uplink.uplink_keyframe_every)
        self.decoded = self.selected
        for consumer in (alerts, self.uplink):
            if consumer is not None:
                extra = _select_exact(self.layout, consumer.signals)
                have = {(x[1], x[2]) for x in self.decoded}
                self.decoded = self.decoded + [x for x in extra if (x[1], x[2]) not in have]
        self.units = {name: self.layout.messages[m].signals[s - self.layout.messages[m].sig0]
                      .unit or "" for m, s, name, _ in self.decoded}
        from cantelem_sci.decoder import LeanDecoder

        # numpy only: no numba (about 70 MB) in the logger for a few signals per batch
        self.decoder = LeanDecoder(self.layout.messages, [(m, s) for m, s, _, _ in self.decoded])
        if alerts is not None:
            alerts.units.update(self.units)
        self.topic = live_topic(cfg.prefix, vehicle, "signals")
        self.status_topic = live_topic(cfg.prefix, vehicle, "status")
        self._lock = threading.Lock()
        self._queue: deque[FrameBatch] = deque()
        self._queued = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.client: Any = None
        self.seq = 0
        self.published_messages = 0
        self.published_samples = 0

    # ---- the logger's side (never blocks) ------------------------------------------------------
    def offer(self, batch: FrameBatch) -> None:
        n = len(batch)
        with self._lock:
            if self._queued + n > self.cfg.queue_max_frames:
                self.counters.drop("live", n)
                return
            self._queue.append(batch)
            self._queued += n

    @property
    def connected(self) -> bool:
        return self.client is not None and self.client.connected_flag.is_set()

    def status(self) -> dict[str, Any] | None:
        if self.settings is None:
            return None
        return {"url": self.settings.shown, "prefix": self.cfg.prefix,
                "connected": self.connected, "queued_frames": self._queued,
                "published_messages": self.published_messages,
                "published_samples": self.published_samples}

    # ---- life cycle ---------------------------------------------------------------------------
    def start(self) -> None:
        if self.alerts is not None:
            self.alerts.start()
        if self.uplink is not None:
            self.uplink.start()
        if self.settings is not None:
            will = (self.status_topic, encode_status(self.vehicle, "offline"))
            self.client = connect(self.settings, will=will, on_state=self._on_state,
                                  start=False)
            self.client.loop_start()
        self._thread = threading.Thread(target=self._run, name="live-publisher", daemon=True)
        self._thread.start()

    def _on_state(self, connected: bool, reason: str) -> None:
        if connected:
            log.info("live: connected to %s", self.settings.shown)
            self.client.publish(self.status_topic, encode_status(
                self.vehicle, "online", time.time_ns(), units=self.units,
                interval=self.cfg.interval), qos=1, retain=True)
        elif not self._stop.is_set():
            log.warning("live: broker %s unreachable (%s); live frames are dropped and "
                        "counted until it returns", self.settings.shown, reason)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)
        if self.client is not None:
            if self.connected:
                info = self.client.publish(self.status_topic, encode_status(
                    self.vehicle, "offline", time.time_ns()), qos=1, retain=True)
                try:
                    info.wait_for_publish(2.0)
                except (RuntimeError, ValueError):
                    pass
            self.client.disconnect()  # first: the network thread sends it and ends
            self.client.loop_stop()
        if self.uplink is not None:
            self.uplink.stop()  # (the last values go out first)
        if self.alerts is not None:
            self.alerts.stop()

    # ---- the publisher's thread ---------------------------------------------------------------
    def _run(self) -> None:
        self._warm_up()
        interval = self.cfg.interval
        next_t = time.monotonic() + interval
        while not self._stop.is_set():
            self._stop.wait(max(0.0, next_t - time.monotonic()))
            next_t = max(next_t + interval, time.monotonic())
            with self._lock:
                items, self._queue = list(self._queue), deque()
                n, self._queued = self._queued, 0
            if not n:
                continue
            publish = self.settings is not None and self.connected
            if self.settings is not None and not publish:
                self.counters.drop("live", n)
                if self.alerts is None and self.uplink is None:
                    continue
            try:
                batch = FrameBatch.concat(items)
                for k in range(0, n, MAX_FRAMES_PER_MESSAGE):
                    part = batch.take(slice(k, k + MAX_FRAMES_PER_MESSAGE))
                    sig = self.samples(part)
                    if self.alerts is not None:
                        self._alert(sig, part)
                    if self.uplink is not None:
                        self.uplink.feed(sig)
                    if publish:
                        self.publish(part, sig)
                if publish:
                    self.counters.latency.published(items, time.time_ns())
            except Exception as err:  # never let the live path stop: count and report
                self.counters.drop("live", n)
                self.counters.error(f"live: cannot decode or publish: {err}")
                log.error("live: cannot decode or publish: %s", err)

    def _alert(self, sig: dict[str, tuple[np.ndarray, np.ndarray]], batch: FrameBatch) -> None:
        try:
            self.alerts.feed(sig, np.sort(batch.time))
        except Exception as err:  # an alert problem never stops live or capture
            self.counters.error(f"alerts: {err}")
            log.error("alerts: cannot evaluate: %s", err)

    def _warm_up(self) -> None:
        """One decode of a frame before the first interval (numpy's first calls)."""
        m = self.layout.messages[0].message if self.layout.messages else None
        if m is None:
            return
        b = FrameBatch(np.zeros(1, np.int64), np.array([m.frame_id], np.uint32),
                       np.array([8], np.uint8), np.array([m.is_extended_frame]),
                       np.zeros(1, bool), np.zeros(1, bool), np.zeros(1, bool),
                       np.zeros(1, np.uint8), np.zeros((1, 8), np.uint8), channel_names=["x"])
        self.decoder.decode(b)

    def samples(self, batch: FrameBatch) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """The selected signals of ``batch``: ``{name: (capture times ns, values)}``; rows
        where a multiplexer does not select a signal are left out."""
        got = self.decoder.decode(batch)
        out = {}
        for m, s, name, mux in self.decoded:
            tt, vv = got[(m, s)]
            if not len(tt):
                continue
            if mux:
                keep = ~np.isnan(vv)
                tt, vv = tt[keep], vv[keep]
                if not len(tt):
                    continue
            out[name] = (tt, vv)
        return out

    def publish(self, batch: FrameBatch, sig: dict[str, tuple[np.ndarray, np.ndarray]] | None
                = None) -> None:
        sig = self.samples(batch) if sig is None else sig
        if len(sig) > len(self.published):
            sig = {k: v for k, v in sig.items() if k in self.published}
        self.seq += 1
        now = time.time_ns()
        payload = encode_samples(self.vehicle, self.seq, now, sig)
        self.client.publish(self.topic, payload, qos=0)
        self.published_messages += 1
        self.published_samples += sum(len(tv[0]) for tv in sig.values())

