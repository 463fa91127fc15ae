"""Faults the simulator can inject, so demos and tests have real alerts to find.

A fault is ``<kind>@<start>[+<duration>]`` (times in seconds from the start of the drive,
``s``/``ms``/``min`` suffixes allowed), e.g. ``overheat@20s+3s``:

* ``overheat``: cell module 3 heats up; its ``Module3Temp``, and ``CellTempMax`` with it,
  climbs to 58 °C over the 30 s before ``start``, is above 60 °C (65 °C) for ``duration``,
  then reads normal again.
* ``cell_sag``: cell 17's voltage (and ``CellVoltageMin``) sags by 0.35 V for ``duration``.
* ``silent``: the motor controller (``MCU_Motor``, ``MCU_Power``) sends nothing for
  ``duration``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError, UnknownNameError

__all__ = ["FAULT_KINDS", "Fault"]

FAULT_KINDS = ("overheat", "cell_sag", "silent")
OVERHEAT_C = 65.0
RAMP_TO_C = 58.0
RAMP_S = 30.0
SAG_V = 0.35
SAG_CELL = 17
HOT_MODULE = 3
_SPEC = re.compile(r"^([a-z_]+)@([0-9.]+(?:ms|s|min)?)(?:\+([0-9.]+(?:ms|s|min)?))?$")
_UNIT = {"ms": 1e-3, "s": 1.0, "min": 60.0, "": 1.0}


def _seconds(text: str) -> float:
    m = re.fullmatch(r"([0-9.]+)(ms|s|min)?", text)
    if not m:
        raise ConfigError(f"fault time {text!r}: expected a number with ms, s or min")
    return float(m.group(1)) * _UNIT[m.group(2) or ""]


@dataclass(frozen=True)
class Fault:
    """One injected fault (see the module docstring).

    Example
    -------
    >>> Fault.parse("overheat@20s+3s")
    Fault(kind='overheat', start_s=20.0, duration_s=3.0)
    """

    kind: str
    start_s: float
    duration_s: float = 5.0

    @classmethod
    def parse(cls, spec: "str | Fault") -> "Fault":
        if isinstance(spec, Fault):
            return spec
        m = _SPEC.match(str(spec).strip())
        if not m:
            raise ConfigError(f"fault {spec!r}: expected <kind>@<start>[+<duration>], e.g. "
                              "overheat@20s+3s")
        if m.group(1) not in FAULT_KINDS:
            raise UnknownNameError("fault kind", m.group(1), FAULT_KINDS)
        try:
            return cls(m.group(1), _seconds(m.group(2)),
                       _seconds(m.group(3)) if m.group(3) else 5.0)
        except ConfigError as err:
            raise ConfigError(f"fault {spec!r}: {err}") from err

    def scaled(self, k: float) -> "Fault":
        return Fault(self.kind, self.start_s * k, self.duration_s * k)

    def window(self, tt: np.ndarray) -> np.ndarray:
        return (tt >= self.start_s) & (tt < self.start_s + self.duration_s)

    def apply(self, name: str, tt: np.ndarray, vals: dict[str, np.ndarray]) -> np.ndarray:
        """Change ``vals`` of message ``name`` at times ``tt`` (s) in place; returns the mask
        of frames to keep."""
        keep = np.ones(tt.shape[0], bool)
        m = self.window(tt)
        if self.kind == "overheat" and name in ("BMS_Temperatures", "BMS_ModuleTemps"):
            key = "CellTempMax" if name == "BMS_Temperatures" else f"Module{HOT_MODULE}Temp"
            hi = np.array(vals[key], np.float64)
            ramp = (tt >= self.start_s - RAMP_S) & (tt < self.start_s)
            frac = (tt[ramp] - (self.start_s - RAMP_S)) / RAMP_S
            hi[ramp] = np.maximum(hi[ramp], hi[ramp] + (RAMP_TO_C - hi[ramp]) * frac)
            hi[m] = OVERHEAT_C
            vals[key] = hi
        elif self.kind == "cell_sag" and name == "BMS_CellVoltages":
            key = f"Cell{SAG_CELL:02d}_Voltage"
            vals[key] = np.where(m, vals[key] - SAG_V, vals[key])
        elif self.kind == "cell_sag" and name == "BMS_Temperatures":
            vals["CellVoltageMin"] = np.where(m, vals["CellVoltageMin"] - SAG_V,
                                              vals["CellVoltageMin"])
        elif self.kind == "silent" and name in ("MCU_Motor", "MCU_Power"):
            keep = ~m
        return keep
