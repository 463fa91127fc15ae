"""Definitions of calculated signals: name, expression, unit, axis and the vehicles they apply
to; read from a catalog's ``derived:`` section or given as a dict in a notebook."""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from ..errors import ConfigError, ExpressionError
from ._parse import Expression, parse

__all__ = ["DerivedSignal", "define", "dependency_order", "parse_derived"]

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class DerivedSignal:
    """One calculated signal.

    ``axis``: the operand whose times the result takes (default: the first operand), or a
    frequency such as ``"1s"`` for a regular grid. ``max_hold``: the hold limit of every
    operand, e.g. ``"2s"`` (default: 3x each operand's median period).
    """

    name: str
    expr: Expression
    unit: str | None = None
    description: str = ""
    vehicles: tuple[str, ...] = ("*",)
    axis: str | None = None
    max_hold: str | None = None
    where: str = ""
    attrs: dict = field(default_factory=dict, compare=False)

    def applies_to(self, vehicle: str) -> bool:
        return any(fnmatch.fnmatchcase(vehicle, p) for p in self.vehicles)


def define(name: str, expression: str | Mapping[str, Any], where: str = "") -> DerivedSignal:
    """A :class:`DerivedSignal` from an expression, or from a mapping with ``expr`` and
    optionally ``unit``, ``description``, ``vehicles``, ``axis``, ``max_hold``.

    Example
    -------
    >>> d = define("PackPower", {"expr": "PackVoltage * PackCurrent / 1000", "unit": "kW"})
    >>> d.unit, d.expr.names
    ('kW', ('PackVoltage', 'PackCurrent'))
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(f"{where + ': ' if where else ''}calculated signal name {name!r}: "
                          "expected letters, digits and _ (not starting with a digit)")
    spec = {"expr": expression} if isinstance(expression, str) else dict(expression or {})
    known = {"expr", "unit", "description", "vehicles", "axis", "max_hold"}
    extra = sorted(set(spec) - known)
    if extra or "expr" not in spec:
        raise ConfigError(f"{where + ': ' if where else ''}calculated signal {name}: expected "
                          f"the keys {sorted(known)} with 'expr' required; got {sorted(spec)}")
    vehicles = spec.get("vehicles", ["*"])
    vehicles = (vehicles,) if isinstance(vehicles, str) else tuple(vehicles)
    return DerivedSignal(name, parse(spec["expr"], where=where or f"calculated signal {name}"),
                         spec.get("unit"), spec.get("description", ""), vehicles,
                         spec.get("axis"), spec.get("max_hold"), where)


def parse_derived(section: Any, source: str = "", lines: Mapping[str, int] | None = None
                  ) -> dict[str, DerivedSignal]:
    """The ``derived:`` section of a catalog: ``{name: expression or mapping}``. ``lines``
    gives each name's line in ``source`` (the catalog's path) for the error messages."""
    if section is None:
        return {}
    if not isinstance(section, Mapping):
        raise ConfigError(f"{source}: 'derived' is a mapping of name: expression, got "
                          f"{type(section).__name__}")
    out = {}
    for name, spec in section.items():
        line = (lines or {}).get(name)
        where = f"{source} line {line}" if source and line else source
        out[name] = define(name, spec, where)
    dependency_order(out)
    return out


def dependency_order(defs: Mapping[str, DerivedSignal]) -> list[str]:
    """The names of ``defs`` so that each comes after the calculated signals it reads.

    Raises
    ------
    ExpressionError
        A cycle (the message shows it, e.g. ``A -> B -> A``).
    """
    order: list[str] = []
    state: dict[str, int] = {}

    def visit(n: str, path: list[str]) -> None:
        if state.get(n) == 2:
            return
        if state.get(n) == 1:
            cyc = path[path.index(n):] + [n]
            d = defs[n]
            raise ExpressionError(d.expr.text, f"calculated signals read each other: "
                                  f"{' -> '.join(cyc)}", where=d.where or f"calculated signal {n}")
        state[n] = 1
        d = defs[n]
        deps = [x for x in d.expr.names if x in defs]
        deps += [x for g in d.expr.globs for x in defs if fnmatch.fnmatchcase(x, g)]
        for x in deps:
            visit(x, path + [n])
        state[n] = 2
        order.append(n)

    for n in defs:
        visit(n, [])
    return order
