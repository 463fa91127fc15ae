"""Live alerting for one vehicle: the evaluator, its saved state and the delivery of what it
finds. The edge logger feeds it every live batch; so can any other live consumer."""

from __future__ import annotations

import logging
import os
import time
from typing import Any, Mapping

import numpy as np

from ..errors import UsageError
from ._evaluate import Transition, VehicleEvaluator
from ._outbox import Dispatcher, Outbox
from ._rules import RuleSet, load_rules
from ._sinks import AlertSink, make_sink

__all__ = ["AlertEngine"]

log = logging.getLogger("cantelem_sci.alerts")


class AlertEngine:
    """Evaluate ``rules`` on one vehicle's live samples and deliver the transitions.

    The evaluator's state is saved in ``folder`` with every transition and at :meth:`stop`,
    so an event that is going on when the process restarts is not reported again; absence
    rules measure silence afresh after a restart (the process saw nothing while it was down).

    Example
    -------
    ::

        eng = AlertEngine("rules.yaml", "EV0001", "spool/.edge/EV0001/alerts")
        eng.start()
        eng.feed({"CellTempMax": (times_ns, values)}, clock=batch.time)
        eng.stop()
    """

    def __init__(self, rules: Any, vehicle: str, folder: str | os.PathLike[str], *,
                 units: Mapping[str, str] | None = None,
                 sinks: Mapping[str, AlertSink] | None = None) -> None:
        self.rules: RuleSet = load_rules(rules)
        self.vehicle = vehicle
        self.units = dict(units or {})
        self.folder = folder
        self.evaluator = VehicleEvaluator(self.rules, vehicle)
        used = sorted({s for r in self.evaluator.rules for s in r.sinks})
        if sinks is None:
            sinks = {name: make_sink(name, self.rules.sinks[name]) for name in used}
        self.sinks = dict(sinks)
        self.outbox: Outbox | None = None
        self.dispatcher: Dispatcher | None = None
        self.fired = 0
        self.cleared = 0
        self.last: dict[str, Any] | None = None

    @property
    def signals(self) -> list[str]:
        return sorted({r.signal for r in self.evaluator.rules})

    def start(self) -> None:
        """Open the outbox (undelivered alerts are sent again), restore the evaluator's state
        and start delivering. Call it once the folder is the caller's own (the logger holds
        the spool lock)."""
        self.outbox = Outbox(self.folder)
        saved = self.outbox.load_state()
        if saved.get("rules") == self.rules.digest() and saved.get("vehicle") == self.vehicle:
            self.evaluator.set_state(saved.get("evaluators", {}))
            for ev in self.evaluator.evaluators.values():
                if ev.rule.condition == "absent" and not ev.active:
                    ev.st[:] = 0  # silence is measured from the first tick after the restart
        self.dispatcher = Dispatcher(self.outbox, self.sinks)
        self.dispatcher.start()

    def stop(self) -> None:
        if self.dispatcher is None:
            return
        self._save()
        self.dispatcher.stop()

    def _save(self) -> None:
        assert self.outbox is not None
        self.outbox.save_state({"vehicle": self.vehicle, "rules": self.rules.digest(),
                                "evaluators": self.evaluator.get_state(),
                                "saved_ns": time.time_ns()})

    def feed(self, samples: Mapping[str, tuple[np.ndarray, np.ndarray]],
             clock: np.ndarray | None = None) -> list[Transition]:
        """Evaluate one batch; record and dispatch its transitions (never blocks on a sink)."""
        if self.dispatcher is None:
            raise UsageError("AlertEngine.feed before start()")
        out = self.evaluator.feed(samples, clock)
        if not out:
            return out
        for x in out:
            payload = x.payload(self.units.get(x.rule.signal, ""))
            if self.dispatcher.submit(payload, list(x.rule.sinks)):
                if x.kind == "fired":
                    log.warning("alert: %s", payload["message"])
                else:
                    log.info("alert cleared: %s", payload["message"])
            if x.kind == "fired":
                self.fired += 1
            else:
                self.cleared += 1
            self.last = {"rule": x.rule.name, "state": x.kind, "at_ns": x.at_ns}
        self._save()
        return out

    def status(self) -> dict[str, Any]:
        """For the status file: rules, counts, events going on, pending alerts, sinks."""
        return {"rules": len(self.evaluator.rules), "fired": self.fired,
                "cleared": self.cleared, "active": [r.name for r, _ in
                                                    self.evaluator.open_events()],
                "pending": 0 if self.outbox is None else self.outbox.count(),
                "last": self.last,
                "sinks": {} if self.dispatcher is None else self.dispatcher.status()}
