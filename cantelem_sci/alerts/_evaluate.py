"""The one evaluator: rules over (time, value) arrays, state carried from batch to batch.

The edge logger feeds it each live batch, a notebook the whole of a decoded tree, and the
fleet job one vehicle-day after another; all three run the same kernels
(:mod:`cantelem_sci.kernels._alerts`), so they find the same events.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, Mapping

import numpy as np

from ..errors import UnknownNameError
from ..kernels._alerts import (
    ACTIVE,
    CLEARED,
    CLEARING,
    F_PEAK,
    FIRED,
    O_AT,
    O_END,
    O_KIND,
    O_PEAK,
    O_PEAK_T,
    O_START,
    O_VALUE,
    S_PEAK_T,
    S_PHASE,
    S_START,
    absent_append,
    outputs,
    state_create,
    threshold_append,
)
from ._rules import Rule, RuleSet, load_rules

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["EVENT_COLUMNS", "RuleEvaluator", "Transition", "VehicleEvaluator", "evaluate",
           "events_frame"]

EVENT_COLUMNS = ["vehicle", "rule", "signal", "severity", "start", "end", "duration", "peak",
                 "peak_time", "value", "fired_at", "condition"]
_EMPTY = np.zeros(0, np.int64)
_NAT = np.iinfo(np.int64).min


def _iso(ns: int | None) -> str | None:
    return None if ns is None else str(np.datetime64(int(ns), "ns")) + "Z"


@dataclass(frozen=True)
class Transition:
    """An event firing (``kind="fired"``) or ending (``"cleared"``); times in ns since the
    epoch. ``at_ns`` is the time of the sample (or clock tick) that decided it."""

    vehicle: str
    rule: Rule
    kind: str
    start_ns: int
    end_ns: int | None
    at_ns: int
    value: float
    peak: float
    peak_ns: int

    @property
    def key(self) -> str:
        """The idempotency key of the event: vehicle, rule and start time (hashed)."""
        raw = f"{self.vehicle}|{self.rule.name}|{self.start_ns}"
        return hashlib.sha256(raw.encode()).hexdigest()[:32]

    def fields(self, units: str = "") -> dict[str, Any]:
        return {"vehicle": self.vehicle, "rule": self.rule.name, "signal": self.rule.signal,
                "value": self.value, "peak": self.peak, "severity": self.rule.severity,
                "threshold": self.rule.threshold, "units": units, "state": self.kind,
                "start": _iso(self.start_ns), "end": _iso(self.end_ns),
                "condition": self.rule.describe()}

    def text(self, units: str = "") -> str:
        """The rule's message template, filled in."""
        try:
            return self.rule.message.format(**self.fields(units))
        except (KeyError, IndexError, ValueError):
            return f"{self.vehicle} {self.rule.name}: {self.rule.signal} = {self.value:g}"

    def payload(self, units: str = "") -> dict[str, Any]:
        """The JSON document every sink delivers (schema ``cantelem.alert`` v1)."""
        return {"schema": "cantelem.alert", "version": 1, "id": f"{self.key}-{self.kind}",
                "key": self.key, "state": self.kind, "vehicle": self.vehicle,
                "rule": self.rule.name, "signal": self.rule.signal,
                "severity": self.rule.severity, "condition": self.rule.describe(),
                "message": self.text(units), "units": units,
                "value": _finite(self.value), "peak": _finite(self.peak),
                "peak_time": _iso(self.peak_ns), "start": _iso(self.start_ns),
                "end": _iso(self.end_ns), "sample": {"time": _iso(self.at_ns),
                                                     "value": _finite(self.value)}}


def _finite(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


class RuleEvaluator:
    """One rule on one vehicle's signal, its state carried between :meth:`feed` calls.

    Example
    -------
    >>> import numpy as np
    >>> from cantelem_sci.alerts import load_rules
    >>> rule = load_rules("rules: [{name: hot, signal: T, above: 60, clear: 55}]").rules[0]
    >>> ev = RuleEvaluator(rule, "EV0001")
    >>> t = np.arange(6, dtype=np.int64) * 10**9
    >>> [x.kind for x in ev.feed(t, np.array([50, 61, 62, 58, 54, 50.]))]
    ['fired', 'cleared']
    """

    def __init__(self, rule: Rule, vehicle: str) -> None:
        self.rule = rule
        self.vehicle = vehicle
        self.params = rule.params()
        self.st, self.fs = state_create()

    def feed(self, t: np.ndarray, v: np.ndarray, clock: np.ndarray | None = None
             ) -> list[Transition]:
        t = np.ascontiguousarray(t, np.int64)
        v = np.ascontiguousarray(v, np.float64)
        oi, of = outputs()
        out: list[Transition] = []
        if self.rule.condition == "absent":
            c = _EMPTY if clock is None else np.ascontiguousarray(clock, np.int64)
            i = j = 0
            while True:
                k, i, j = absent_append(t, v, c, self.params, self.st, self.fs, oi, of, i, j)
                out += self._transitions(oi, of, k)
                if i >= t.size and j >= c.size:
                    return out
        i = 0
        while True:
            k, i = threshold_append(t, v, self.params, self.st, self.fs, oi, of, i)
            out += self._transitions(oi, of, k)
            if i >= t.size:
                return out

    def _transitions(self, oi: np.ndarray, of: np.ndarray, k: int) -> list[Transition]:
        return [Transition(self.vehicle, self.rule,
                           "fired" if oi[j, O_KIND] == FIRED else "cleared",
                           int(oi[j, O_START]),
                           int(oi[j, O_END]) if oi[j, O_KIND] == CLEARED else None,
                           int(oi[j, O_AT]), float(of[j, O_VALUE]), float(of[j, O_PEAK]),
                           int(oi[j, O_PEAK_T])) for j in range(k)]

    @property
    def active(self) -> bool:
        return int(self.st[S_PHASE]) in (ACTIVE, CLEARING)

    def open_event(self) -> dict[str, Any] | None:
        """The event still going on (fired, not cleared), or None."""
        if not self.active:
            return None
        return {"start_ns": int(self.st[S_START]), "peak": float(self.fs[F_PEAK]),
                "peak_ns": int(self.st[S_PEAK_T])}

    def get_state(self) -> dict[str, Any]:
        return {"i": [int(x) for x in self.st], "f": [float(x) for x in self.fs]}

    def set_state(self, state: Mapping[str, Any]) -> None:
        self.st[:] = np.array(state["i"], np.int64)
        self.fs[:] = np.array(state["f"], np.float64)


class VehicleEvaluator:
    """Every rule of a :class:`RuleSet` that applies to one vehicle.

    :meth:`feed` takes ``{signal: (times ns, values)}`` and the vehicle's clock (times at
    which any frame was seen; used by ``absent`` rules)."""

    def __init__(self, rules: RuleSet | Iterable[Rule], vehicle: str) -> None:
        self.vehicle = vehicle
        self.rules = [r for r in rules if r.applies_to(vehicle)]
        self.evaluators = {r.name: RuleEvaluator(r, vehicle) for r in self.rules}

    def feed(self, samples: Mapping[str, tuple[np.ndarray, np.ndarray]],
             clock: np.ndarray | None = None) -> list[Transition]:
        out: list[Transition] = []
        for r in self.rules:
            tv = samples.get(r.signal)
            if tv is None:
                if r.condition != "absent" or clock is None:
                    continue
                tv = (_EMPTY, np.zeros(0))
            out += self.evaluators[r.name].feed(tv[0], tv[1], clock)
        out.sort(key=lambda x: (x.at_ns, x.kind != "cleared"))
        return out

    def get_state(self) -> dict[str, Any]:
        return {name: ev.get_state() for name, ev in self.evaluators.items()}

    def set_state(self, state: Mapping[str, Any]) -> None:
        for name, s in state.items():
            if name in self.evaluators:
                self.evaluators[name].set_state(s)

    def open_events(self) -> list[tuple[Rule, dict[str, Any]]]:
        return [(ev.rule, e) for ev in self.evaluators.values()
                if (e := ev.open_event()) is not None]


def events_frame(transitions: Iterable[Transition],
                 open_events: Iterable[tuple[str, Rule, dict[str, Any]]] = ()
                 ) -> "pd.DataFrame":
    """Events (one row each) from transitions: a fired/cleared pair is one event; a fired
    without its cleared, or an entry of ``open_events`` (vehicle, rule, open event), has
    ``end`` NaT (still going on)."""
    import pandas as pd

    rows: dict[tuple[str, str, int], dict[str, Any]] = {}
    for x in transitions:
        k = (x.vehicle, x.rule.name, x.start_ns)
        row = rows.setdefault(k, {"vehicle": x.vehicle, "rule": x.rule.name,
                                  "signal": x.rule.signal, "severity": x.rule.severity,
                                  "start": x.start_ns, "end": None, "peak": x.peak,
                                  "peak_time": x.peak_ns, "value": x.value,
                                  "fired_at": x.at_ns, "condition": x.rule.describe()})
        if x.kind == "cleared":
            row.update(end=x.end_ns, peak=x.peak, peak_time=x.peak_ns)
    for vehicle, rule, e in open_events:
        k = (vehicle, rule.name, e["start_ns"])
        if k in rows:
            rows[k].update(peak=e["peak"], peak_time=e["peak_ns"])
    df = pd.DataFrame(list(rows.values()), columns=[c for c in EVENT_COLUMNS
                                                    if c != "duration"])
    for c in ("start", "end", "peak_time", "fired_at"):
        ns = [_NAT if x is None or x != x else int(x) for x in df[c].tolist()]
        df[c] = np.array(ns, np.int64).view("datetime64[ns]")
    df["duration"] = df["end"] - df["start"]
    df[["peak", "value"]] = df[["peak", "value"]].astype(np.float64)
    df = df[EVENT_COLUMNS].sort_values(["start", "vehicle", "rule"], kind="stable")
    return df.reset_index(drop=True)


# ---- batch evaluation of decoded data -------------------------------------------------------
def _datasets(data: Any) -> list[Any]:
    """The datasets of a DataTree (every node) or a Dataset."""
    if hasattr(data, "subtree"):
        return [n.dataset for n in data.subtree if n.dataset.data_vars]
    return [data]


def _series(data: Any, signal: str) -> tuple[np.ndarray, np.ndarray] | None:
    msg, _, name = signal.rpartition(".")
    for node in ([data[msg]] if msg and hasattr(data, "subtree") and msg in data.children
                 else None) or _datasets(data):
        ds = node.dataset if hasattr(node, "dataset") else node
        if name in ds.data_vars and ds[name].ndim == 1:
            da = ds[name]
            t = np.asarray(da[da.dims[0]].values).astype("datetime64[ns]").view(np.int64)
            v = np.asarray(da.values, np.float64)
            if t.size > 1 and np.any(np.diff(t) < 0):
                o = np.argsort(t, kind="stable")
                t, v = t[o], v[o]
            return t, v
    return None


def _known(data: Any) -> list[str]:
    out: set[str] = set()
    for ds in _datasets(data):
        out.update(str(k) for k, v in ds.data_vars.items() if v.ndim == 1)
    return sorted(out)


def _clock(data: Any) -> np.ndarray:
    times = []
    for ds in _datasets(data):
        for name, c in ds.coords.items():
            if c.ndim == 1 and np.issubdtype(c.dtype, np.datetime64):
                times.append(np.asarray(c.values).astype("datetime64[ns]").view(np.int64))
    return np.unique(np.concatenate(times)) if times else _EMPTY


def evaluate(data: Any, rules: Any, *, vehicle: str | None = None) -> "pd.DataFrame":
    """Evaluate alert rules over decoded data and return the events.

    Parameters
    ----------
    data
        A decoded tree (:func:`cantelem_sci.decode`), a Dataset (``Fleet.load``), or a dict
        ``{vehicle: tree or Dataset}``.
    rules
        A :class:`RuleSet`, a rule file path, YAML text or a dict (:func:`load_rules`).
    vehicle
        The vehicle id when ``data`` does not carry one in its attrs.

    Returns
    -------
    pandas.DataFrame
        One row per event: vehicle, rule, signal, severity, start, end (NaT: still going on
        at the end of the data), duration, peak, peak_time, value (at firing), fired_at,
        condition.

    Raises
    ------
    UnknownNameError
        A rule's signal that is in none of the data (naming close names).

    Example
    -------
    >>> import cantelem_sci as ct
    >>> from cantelem_sci.alerts import evaluate
    >>> tree = ct.decode(ct.simulate_vehicle(duration_s=5.0), ct.load_dbc(ct.sample_dbc_path()))
    >>> evaluate(tree, "rules: [{name: slow, signal: VehicleSpeed, below: 500}]",
    ...          vehicle="EV0001")[["vehicle", "rule"]].values.tolist()
    [['EV0001', 'slow']]
    """
    rs = load_rules(rules)
    items = data.items() if isinstance(data, dict) else [
        (vehicle or (getattr(data, "attrs", {}) or {}).get("vehicle") or "", data)]
    transitions: list[Transition] = []
    still: list[tuple[str, Rule, dict[str, Any]]] = []
    for vid, d in items:
        ve = VehicleEvaluator(rs, str(vid))
        known = _known(d)
        samples = {}
        for r in ve.rules:
            s = _series(d, r.signal)
            if s is None:
                raise UnknownNameError(f"signal of rule {r.name!r} ({r.where or 'rules'}) in "
                                       f"the data of {vid or 'the vehicle'}", r.signal, known)
            samples[r.signal] = s
        clock = _clock(d) if any(r.condition == "absent" for r in ve.rules) else None
        transitions += ve.feed(samples, clock)
        still += [(str(vid), r, e) for r, e in ve.open_events()]
    return events_frame(transitions, still)
