"""Alert rules: read from YAML (a file of rules, or the ``rules:`` section of a catalog),
checked key by key, each error naming the file, the line and the rule.

A rule file::

    sinks:
      ops:     {type: mqtt, url: "mqtt://127.0.0.1:1883", prefix: cantelem}
      hook:    {type: webhook, url: "http://127.0.0.1:8080/alerts", secret_env: HOOK_SECRET}
    rules:
      - name: pack-overtemp
        signal: CellTempMax
        vehicles: all            # all, a list, or a glob ("EV00*")
        above: 60                # or below, outside: [lo, hi], rate_above, rate_below, absent
        clear: 57                # hysteresis: ends at or below 57
        for: 0s                  # fires once the condition has held this long
        clear_for: 2s            # ends once the clear condition has held this long
        severity: critical
        message: "{vehicle} pack at {value:.1f} °C"
        sinks: [ops, hook]

The full schema is in ``docs/alerts.md``.
"""

from __future__ import annotations

import difflib
import fnmatch
import hashlib
import json
import math
import os
import re
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np

from ..errors import ConfigError, UnknownNameError
from ..kernels._alerts import P_FIELDS

__all__ = ["CONDITIONS", "Rule", "RuleSet", "load_rules", "parse_duration"]

#: the condition keys; a rule has exactly one
CONDITIONS = ("above", "below", "outside", "rate_above", "rate_below", "absent")
RULE_KEYS = ("name", "signal", "vehicles", *CONDITIONS, "clear", "for", "clear_for",
             "severity", "message", "sinks", "description")
SEVERITIES = ("info", "warning", "critical")
_DUR = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*(ms|s|sec|min|m|h)?\s*$")
_UNIT_S = {"ms": 1e-3, "s": 1.0, "sec": 1.0, None: 1.0, "min": 60.0, "m": 60.0, "h": 3600.0}


def parse_duration(value: Any) -> float:
    """Seconds of a duration: a number (seconds) or ``"500ms"``, ``"3s"``, ``"2min"``, ``"1h"``.

    Example
    -------
    >>> parse_duration("1.5s"), parse_duration("2min"), parse_duration(0.25)
    (1.5, 120.0, 0.25)
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
        return float(value)
    m = _DUR.match(str(value)) if isinstance(value, str) else None
    if not m:
        raise ConfigError(f"expected a duration such as 3s, 500ms, 2min (got {value!r})")
    return float(m.group(1)) * _UNIT_S[m.group(2)]


@dataclass(frozen=True)
class Rule:
    """One alert rule (see the module docstring); ``where`` is ``file:line`` of its entry."""

    name: str
    signal: str
    condition: str
    threshold: Any  # a number, or (lo, hi) for outside; seconds for absent
    clear: Any = None
    for_s: float = 0.0
    clear_for_s: float = 0.0
    vehicles: tuple[str, ...] = ("*",)
    severity: str = "warning"
    message: str = "{vehicle} {rule}: {signal} = {value:.6g}"
    sinks: tuple[str, ...] = ()
    description: str = ""
    where: str = ""

    def applies_to(self, vehicle: str) -> bool:
        return any(fnmatch.fnmatchcase(vehicle, p) for p in self.vehicles)

    def params(self) -> np.ndarray:
        """The kernel's parameter array (:data:`cantelem_sci.kernels._alerts.P_FIELDS`)."""
        inf = math.inf
        p = dict.fromkeys(P_FIELDS, 0.0)
        c, th, cl = self.condition, self.threshold, self.clear
        if c in ("above", "rate_above"):
            p.update(lo=-inf, hi=th, clo=-inf, chi=th if cl is None else cl)
        elif c in ("below", "rate_below"):
            p.update(lo=th, hi=inf, clo=th if cl is None else cl, chi=inf)
        elif c == "outside":
            lo, hi = th
            clo, chi = (lo, hi) if cl is None else cl
            p.update(lo=lo, hi=hi, clo=clo, chi=chi)
        else:  # absent: nothing triggers the threshold machine
            p.update(lo=-inf, hi=inf, clo=-inf, chi=inf, absent_ns=round(th * 1e9))
        p["rate"] = 1.0 if c.startswith("rate_") else 0.0
        p["for_ns"] = round(self.for_s * 1e9)
        p["clear_for_ns"] = round(self.clear_for_s * 1e9)
        return np.array([p[k] for k in P_FIELDS], np.float64)

    def describe(self) -> str:
        """The condition in words, e.g. ``CellTempMax > 60 (clears <= 57)``."""
        c, th, cl = self.condition, self.threshold, self.clear
        if c == "absent":
            return f"{self.signal} absent > {th:g} s"
        x = f"d{self.signal}/dt" if c.startswith("rate_") else self.signal
        if c == "outside":
            s = f"{x} outside [{th[0]:g}, {th[1]:g}]"
            return s + (f" (clears within [{cl[0]:g}, {cl[1]:g}])" if cl else "")
        op, cop = (">", "<=") if c.endswith("above") else ("<", ">=")
        return f"{x} {op} {th:g}" + (f" (clears {cop} {cl:g})" if cl is not None else "")


@dataclass
class RuleSet:
    """The rules and sink settings of one file."""

    rules: list[Rule] = field(default_factory=list)
    sinks: dict[str, dict[str, Any]] = field(default_factory=dict)
    path: str | None = None

    def __iter__(self):
        return iter(self.rules)

    def __len__(self) -> int:
        return len(self.rules)

    def for_vehicle(self, vehicle: str) -> list[Rule]:
        return [r for r in self.rules if r.applies_to(vehicle)]

    def signals(self) -> list[str]:
        return sorted({r.signal for r in self.rules})

    def digest(self) -> str:
        """A hash of the rules (not the sinks): a changed rule re-evaluates the fleet."""
        doc = [{k: v for k, v in r.__dict__.items() if k not in ("where", "sinks", "message")}
               for r in self.rules]
        return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()

    def check_signals(self, known: Iterable[str], where: str = "") -> None:
        """Refuse a rule whose signal is not in ``known`` (naming close names)."""
        known = sorted(set(known))
        for r in self.rules:
            if r.signal not in known:
                close = difflib.get_close_matches(r.signal, known, n=3, cutoff=0.5)
                hint = f" (did you mean {', '.join(map(repr, close))}?)" if close else ""
                raise ConfigError(f"{r.where}: rule {r.name!r}: unknown signal {r.signal!r}"
                                  f"{hint}{' in ' + where if where else ''}")


def _number(v: Any, what: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise ConfigError(f"{what} must be a finite number (got {v!r})")
    return float(v)


def _pair(v: Any, what: str) -> tuple[float, float]:
    if not isinstance(v, (list, tuple)) or len(v) != 2:
        raise ConfigError(f"{what} must be [low, high] (got {v!r})")
    lo, hi = _number(v[0], what), _number(v[1], what)
    if lo > hi:
        raise ConfigError(f"{what} must be [low, high] with low <= high (got {v!r})")
    return lo, hi


def _rule(doc: Any, where: str, sinks: dict[str, Any]) -> Rule:
    if not isinstance(doc, dict):
        raise ConfigError(f"{where}: a rule must be a mapping (got {type(doc).__name__})")
    name = doc.get("name")
    label = f"rule {name!r}" if name else "rule"
    for k in doc:
        if k not in RULE_KEYS:
            raise UnknownNameError(f"key of {label} at {where}", k, RULE_KEYS)
    if not name or not isinstance(name, str):
        raise ConfigError(f"{where}: every rule needs a 'name' (text)")
    if not doc.get("signal") or not isinstance(doc["signal"], str):
        raise ConfigError(f"{where}: {label} needs a 'signal' (a signal name)")
    conds = [c for c in CONDITIONS if c in doc]
    if len(conds) != 1:
        raise ConfigError(f"{where}: {label} needs exactly one condition of "
                          f"{', '.join(CONDITIONS)} (got {', '.join(conds) or 'none'})")
    cond = conds[0]
    try:
        clear = doc.get("clear")
        if cond == "outside":
            th: Any = _pair(doc[cond], "outside")
            if clear is not None:
                clear = _pair(clear, "clear")
                if clear[0] < th[0] or clear[1] > th[1]:
                    raise ConfigError(f"clear {list(clear)} must lie within outside {list(th)} "
                                     "(the band in which the alert ends)")
        elif cond == "absent":
            th = parse_duration(doc[cond])
            if th <= 0:
                raise ConfigError("absent must be a duration > 0")
            for k in ("clear", "for", "clear_for"):
                if k in doc:
                    raise ConfigError(f"'{k}' does not apply to absent (it ends at the next "
                                     "sample)")
        else:
            th = _number(doc[cond], cond)
            if clear is not None:
                clear = _number(clear, "clear")
                if cond.endswith("above") and clear > th:
                    raise ConfigError(f"clear {clear:g} must be <= the threshold {th:g} for "
                                     f"{cond} (the alert ends at or below it)")
                if cond.endswith("below") and clear < th:
                    raise ConfigError(f"clear {clear:g} must be >= the threshold {th:g} for "
                                     f"{cond} (the alert ends at or above it)")
        for_s = parse_duration(doc.get("for", 0))
        clear_for_s = parse_duration(doc.get("clear_for", 0))
    except ConfigError as err:
        raise ConfigError(f"{where}: {label}: {err}") from None
    vehicles = doc.get("vehicles", "all")
    if vehicles in ("all", "*", None):
        vehicles = ["*"]
    elif isinstance(vehicles, str):
        vehicles = [vehicles]
    if not isinstance(vehicles, list) or not all(isinstance(v, str) for v in vehicles):
        raise ConfigError(f"{where}: {label}: vehicles must be all, a list or a glob")
    severity = str(doc.get("severity", "warning"))
    if severity not in SEVERITIES:
        raise UnknownNameError(f"severity of {label} at {where}", severity, SEVERITIES)
    rule_sinks = doc.get("sinks", list(sinks))
    if isinstance(rule_sinks, str):
        rule_sinks = [rule_sinks]
    for s in rule_sinks:
        if s not in sinks:
            raise UnknownNameError(f"sink of {label} at {where}", s, list(sinks))
    message = doc.get("message", Rule.message)
    try:
        message.format(vehicle="EV", rule=name, signal="s", value=1.0, peak=1.0, severity="x",
                       threshold=th, units="", state="fired", start="", end="", condition="")
    except (KeyError, IndexError, ValueError, AttributeError) as err:
        raise ConfigError(f"{where}: {label}: message template {message!r} cannot be "
                          f"formatted ({type(err).__name__}: {err}); fields: vehicle, rule, "
                          "signal, value, peak, severity, threshold, units, state, start, end, "
                          "condition") from None
    return Rule(name=name, signal=doc["signal"], condition=cond, threshold=th, clear=clear,
                for_s=for_s, clear_for_s=clear_for_s, vehicles=tuple(vehicles),
                severity=severity, message=message, sinks=tuple(rule_sinks),
                description=str(doc.get("description", "")), where=where)


def _lines(text: str, path: str) -> tuple[Any, dict[int, int]]:
    """The YAML document, and the line of each rule (by position in its list)."""
    import yaml

    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        doc = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from err
    lines: dict[int, int] = {}

    def find(n: Any) -> None:
        if isinstance(n, yaml.MappingNode):
            for k, v in n.value:
                if k.value == "rules" and isinstance(v, yaml.SequenceNode):
                    for i, item in enumerate(v.value):
                        lines[i] = item.start_mark.line + 1
                else:
                    find(v)

    if node is not None:
        find(node)
    return doc, lines


def load_rules(source: Any, *, signals: Iterable[str] | None = None) -> RuleSet:
    """Read alert rules: a path to a rule file or a catalog, YAML text, a dict, or a
    :class:`RuleSet` (returned as is).

    ``signals`` (known signal names, e.g. a DBC's) refuses rules on other signals.

    Raises
    ------
    ConfigError
        Naming the file, the line and the rule: an unknown key, signal, sink or severity (with
        close names), a missing or doubled condition, a clear threshold on the wrong side.

    Example
    -------
    >>> rs = load_rules("rules: [{name: hot, signal: CellTempMax, above: 60, clear: 55}]")
    >>> rs.rules[0].describe()
    'CellTempMax > 60 (clears <= 55)'
    """
    if isinstance(source, RuleSet):
        rs = source
    else:
        path = "<rules>"
        lines: dict[int, int] = {}
        if isinstance(source, dict):
            doc = source
        else:
            text = str(source)
            if isinstance(source, os.PathLike) or ("\n" not in text and ":" not in text.split(
                    "/")[0] and (text.endswith((".yaml", ".yml")) or os.path.exists(text))):
                path = os.path.abspath(os.fspath(source))
                try:
                    with open(path, encoding="utf-8") as fh:
                        text = fh.read()
                except OSError as err:
                    raise ConfigError(f"{path}: cannot read the rules: {err.strerror}") from err
            doc, lines = _lines(text, path)
        doc = doc or {}
        if not isinstance(doc, dict):
            raise ConfigError(f"{path}: expected a mapping with 'rules' (and 'sinks')")
        if "metadata" in doc:  # a catalog: metadata.cantelem.{rules,sinks}
            doc = (doc.get("metadata") or {}).get("cantelem") or {}
        else:
            for k in doc:
                if k not in ("rules", "sinks"):
                    raise UnknownNameError(f"top-level key of {path}", k, ["rules", "sinks"])
        sinks = doc.get("sinks") or {}
        if not isinstance(sinks, dict):
            raise ConfigError(f"{path}: 'sinks' must map names to settings")
        for name, cfg in sinks.items():
            if not isinstance(cfg, dict) or "type" not in cfg:
                raise ConfigError(f"{path}: sink {name!r} needs a 'type' (mqtt, webhook, email)")
        raw = doc.get("rules") or []
        if not isinstance(raw, list):
            raise ConfigError(f"{path}: 'rules' must be a list")
        rules, names = [], set()
        for i, r in enumerate(raw):
            where = f"{path}:{lines[i]}" if i in lines else f"{path}: rules[{i}]"
            rule = _rule(r, where, sinks)
            if rule.name in names:
                raise ConfigError(f"{where}: rule name {rule.name!r} is used twice")
            names.add(rule.name)
            rules.append(rule)
        rs = RuleSet(rules, {k: dict(v) for k, v in sinks.items()},
                     None if path == "<rules>" else path)
    if signals is not None:
        rs.check_signals(signals)
    return rs
