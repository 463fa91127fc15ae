"""Durable, at-least-once alert delivery: an outbox folder and one delivery thread per sink.

An alert is written to the outbox (``pending/<seq>-<id>.json``, fsynced, renamed into
place) *before* any sink sees it; a sink's success removes its name from the file; the last
success deletes the file and appends the id to ``delivered.log``. A process killed at any
point restarts with every undelivered alert still pending, and an alert already delivered or
pending is not added again (its id: vehicle, rule, start time and state), so a restarted
logger neither loses nor re-sends an alert. A receiver may still see a repeat when the
process dies between a sink's success and its record: it carries the same
``Idempotency-Key`` / ``key``.

A failing sink is retried with backoff (0.5 s doubling to 30 s) in its own thread, counted
and reported in :meth:`Dispatcher.status`; it never blocks the caller or the other sinks.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

from ..errors import AlertDeliveryError
from ._sinks import AlertSink

__all__ = ["Dispatcher", "Outbox"]

log = logging.getLogger("cantelem_sci.alerts")

#: ids remembered in ``delivered.log`` (older ones are compacted away)
DELIVERED_KEEP = 10_000
BACKOFF_MIN, BACKOFF_MAX = 0.5, 30.0


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomic(path: Path, doc: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(doc, fh, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


class Outbox:
    """The outbox folder (see the module docstring). Thread-safe."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.root = Path(folder)
        self.pending_dir = self.root / "pending"
        self.pending_dir.mkdir(parents=True, exist_ok=True)
        for tmp in self.pending_dir.glob(".*.tmp"):
            tmp.unlink(missing_ok=True)  # a write cut short: its alert was never added
        self._lock = threading.Lock()
        self._log = self.root / "delivered.log"
        self.delivered: dict[str, None] = {}
        if self._log.exists():
            for line in self._log.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    self.delivered[line.strip()] = None
        if len(self.delivered) > DELIVERED_KEEP:
            self._compact()
        self._entries: dict[str, dict[str, Any]] = {}
        names = sorted(self.pending_dir.glob("*.json"))
        for p in names:
            try:
                doc = json.loads(p.read_text(encoding="utf-8"))
                self._entries[doc["payload"]["id"]] = {"path": p, **doc}
            except (OSError, ValueError, KeyError) as err:
                log.error("alerts: outbox entry %s is unreadable and set aside: %s", p, err)
                p.rename(p.with_suffix(".bad"))
        self._seq = 1 + max((int(p.name.split("-", 1)[0]) for p in names
                             if p.name.split("-", 1)[0].isdigit()), default=0)

    def _compact(self) -> None:
        keep = list(self.delivered)[-DELIVERED_KEEP:]
        self.delivered = dict.fromkeys(keep)
        with open(self._log.with_suffix(".new"), "w", encoding="utf-8") as fh:
            fh.write("".join(f"{i}\n" for i in keep))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(self._log.with_suffix(".new"), self._log)

    def add(self, payload: dict[str, Any], sinks: list[str]) -> bool:
        """Record an alert for ``sinks``; False when its id is already pending or delivered."""
        aid = payload["id"]
        with self._lock:
            if aid in self._entries or aid in self.delivered:
                return False
            if not sinks:
                self._mark_delivered(aid)
                return True
            path = self.pending_dir / f"{self._seq:012d}-{aid}.json"
            self._seq += 1
            doc = {"payload": payload, "pending": list(sinks), "created_ns": time.time_ns()}
            _write_atomic(path, doc)
            self._entries[aid] = {"path": path, **doc}
            return True

    def pending(self, sink: str) -> list[dict[str, Any]]:
        """The payloads still to deliver to ``sink``, oldest first."""
        with self._lock:
            return [e["payload"] for e in sorted(self._entries.values(),
                                                 key=lambda e: e["path"].name)
                    if sink in e["pending"]]

    def done(self, aid: str, sink: str) -> None:
        """``sink`` delivered alert ``aid``."""
        with self._lock:
            e = self._entries.get(aid)
            if e is None or sink not in e["pending"]:
                return
            e["pending"] = [s for s in e["pending"] if s != sink]
            if e["pending"]:
                _write_atomic(e["path"], {k: v for k, v in e.items() if k != "path"})
                return
            self._mark_delivered(aid)
            e["path"].unlink(missing_ok=True)
            _fsync_dir(self.pending_dir)
            del self._entries[aid]

    def _mark_delivered(self, aid: str) -> None:
        with open(self._log, "a", encoding="utf-8") as fh:
            fh.write(aid + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        self.delivered[aid] = None
        if len(self.delivered) > 2 * DELIVERED_KEEP:
            self._compact()

    def count(self) -> int:
        with self._lock:
            return len(self._entries)

    # ---- the evaluator's state, saved beside the alerts it produced ------------------------------
    def load_state(self) -> dict[str, Any]:
        p = self.root / "state.json"
        try:
            return json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def save_state(self, state: dict[str, Any]) -> None:
        _write_atomic(self.root / "state.json", state)


class _SinkWorker:
    def __init__(self, outbox: Outbox, sink: AlertSink) -> None:
        self.outbox = outbox
        self.sink = sink
        self.wake = threading.Event()
        self.stop = threading.Event()
        self.delivered = 0
        self.failures = 0
        self.last_error: str | None = None
        self.failing_since: float | None = None
        self.thread = threading.Thread(target=self.run, name=f"alert-sink-{sink.name}",
                                       daemon=True)

    def run(self) -> None:
        backoff = BACKOFF_MIN
        while not self.stop.is_set():
            todo = self.outbox.pending(self.sink.name)
            if not todo:
                self.wake.wait(1.0)
                self.wake.clear()
                continue
            for payload in todo:
                if self.stop.is_set():
                    return
                try:
                    self.sink.send(payload)
                except AlertDeliveryError as err:
                    self._failed(str(err))
                    self.stop.wait(backoff)
                    backoff = min(BACKOFF_MAX, backoff * 2)
                    break
                except Exception as err:  # a sink's own bug must not stop delivery
                    self._failed(f"{type(err).__name__}: {err}")
                    self.stop.wait(backoff)
                    backoff = min(BACKOFF_MAX, backoff * 2)
                    break
                backoff = BACKOFF_MIN
                if self.failing_since is not None:
                    log.info("alerts: sink %s delivers again", self.sink.name)
                self.failing_since = None
                self.delivered += 1
                self.outbox.done(payload["id"], self.sink.name)

    def _failed(self, message: str) -> None:
        self.failures += 1
        self.last_error = message
        if self.failing_since is None:
            self.failing_since = time.time()
            log.warning("alerts: %s; kept in the outbox, retrying with backoff", message)
        elif self.failures % 20 == 0:
            log.warning("alerts: sink %s still failing (%d failures since %s): %s",
                        self.sink.name, self.failures,
                        time.strftime("%H:%M:%S", time.gmtime(self.failing_since)), message)


class Dispatcher:
    """One delivery thread per sink over one :class:`Outbox`.

    Example
    -------
    ::

        d = Dispatcher(Outbox("spool/.edge/EV0001/alerts"), {"hook": WebhookSink(...)})
        d.start(); d.submit(payload, ["hook"]); ...; d.stop()
    """

    def __init__(self, outbox: Outbox, sinks: dict[str, AlertSink]) -> None:
        self.outbox = outbox
        self.sinks = sinks
        self.workers = {name: _SinkWorker(outbox, s) for name, s in sinks.items()}

    def start(self) -> None:
        for w in self.workers.values():
            w.thread.start()

    def submit(self, payload: dict[str, Any], sinks: list[str]) -> bool:
        """Record ``payload`` for ``sinks`` and wake their threads; False for a repeat."""
        added = self.outbox.add(payload, [s for s in sinks if s in self.workers])
        for s in sinks:
            if s in self.workers:
                self.workers[s].wake.set()
        return added

    def stop(self, timeout: float = 5.0) -> None:
        for w in self.workers.values():
            w.stop.set()
            w.wake.set()
        for w in self.workers.values():
            if w.thread.is_alive():
                w.thread.join(timeout)
            w.sink.close()

    def status(self) -> dict[str, Any]:
        """Per sink: where it goes, delivered, failures, pending, last error, failing since."""
        out = {}
        for name, w in self.workers.items():
            out[name] = {"target": w.sink.describe(), "delivered": w.delivered,
                         "failures": w.failures, "pending": len(self.outbox.pending(name)),
                         "last_error": w.last_error, "failing": w.failing_since is not None}
        return out
