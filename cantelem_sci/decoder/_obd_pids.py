"""The OBD-II parameter table (SAE J1979 service 01/02 PIDs, service 09 information types).

A PID's data bytes (A, B, C, D, ... after the service and PID bytes) hold one or more
fields. Each field is a big-endian unsigned integer over whole bytes, optionally narrowed to
a bit range (``bit``/``bits``, counted from the least significant bit of those bytes) and
read as two's complement (``signed``); its physical value is ``raw * scale + offset``, the
formulas of SAE J1979 / ISO 15031-5. Every numeric PID of service 01 is linear in that
sense, which is why a table (like a DBC's signals) describes them all and the same table
both decodes (``decoder/_obd.py``) and encodes (the ECU simulator in ``sim/_obd.py``).

Names are those a user looks for (``EngineSpeed``, ``VehicleSpeed``, ``CoolantTemp``);
where the EV DBC has the same quantity the name is the same, so a dashboard or an alert rule
written for one works for the other.

Example
-------
>>> PIDS[0x0C].fields[0].name, PIDS[0x0C].fields[0].scale, PIDS[0x0C].length
('EngineSpeed', 0.25, 2)
>>> round(decode_value(PIDS[0x0D].fields[0], bytes([0x32])), 1)
50.0
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..errors import ArgumentError

__all__ = ["Field", "Pid", "PIDS", "INFO_TYPES", "SERVICE_CURRENT", "SERVICE_FREEZE",
           "SERVICE_INFO", "NEGATIVE", "decode_value", "encode_value", "pid_lengths"]

SERVICE_CURRENT = 0x01  #: current powertrain data
SERVICE_FREEZE = 0x02  #: freeze frame data (one extra byte: the frame number)
SERVICE_INFO = 0x09  #: vehicle information (VIN, calibration ids, ECU name)
NEGATIVE = 0x7F  #: negative response service id


@dataclass(frozen=True)
class Field:
    """One value of a PID: bytes ``[byte, byte + nbytes)`` of its data, big-endian."""

    name: str
    unit: str
    byte: int = 0
    nbytes: int = 1
    scale: float = 1.0
    offset: float = 0.0
    signed: bool = False
    bit: int = 0
    bits: int | None = None  # None: all bits of the bytes
    comment: str = ""

    @property
    def width(self) -> int:
        return self.bits if self.bits is not None else 8 * self.nbytes

    @property
    def minimum(self) -> float:
        lo = -(1 << (self.width - 1)) if self.signed else 0
        return min(lo * self.scale + self.offset, self.maximum_raw * self.scale + self.offset)

    @property
    def maximum_raw(self) -> int:
        return (1 << (self.width - 1)) - 1 if self.signed else (1 << self.width) - 1

    @property
    def maximum(self) -> float:
        lo = -(1 << (self.width - 1)) if self.signed else 0
        return max(lo * self.scale + self.offset, self.maximum_raw * self.scale + self.offset)


@dataclass(frozen=True)
class Pid:
    """A service 01/02 parameter: its number, data length in bytes, title and fields."""

    pid: int
    length: int
    title: str
    fields: tuple[Field, ...]


def _one(pid: int, title: str, name: str, unit: str, nbytes: int = 1, scale: float = 1.0,
         offset: float = 0.0, signed: bool = False, length: int | None = None) -> Pid:
    return Pid(pid, length or nbytes, title, (Field(name, unit, 0, nbytes, scale, offset,
                                                    signed, comment=title),))


_PCT = 100.0 / 255.0
_TRIM = 100.0 / 128.0
_LAMBDA = 2.0 / 65536.0


def _table() -> dict[int, Pid]:
    t: list[Pid] = []
    for base in (0x00, 0x20, 0x40, 0x60, 0x80, 0xA0, 0xC0):
        t.append(_one(base, f"PIDs supported [{base + 1:02X}-{base + 0x20:02X}]",
                      f"PIDsSupported_{base + 1:02X}_{base + 0x20:02X}", "", 4))
    t.append(Pid(0x01, 4, "Monitor status since DTCs cleared", (
        Field("MIL", "", 0, 1, bit=7, bits=1, comment="malfunction indicator lamp on"),
        Field("DTCCount", "", 0, 1, bit=0, bits=7, comment="confirmed emission DTCs"))))
    t.append(Pid(0x03, 2, "Fuel system status", (
        Field("FuelSystem1Status", "", 0, 1, comment="fuel system 1 status (bit coded)"),
        Field("FuelSystem2Status", "", 1, 1, comment="fuel system 2 status (bit coded)"))))
    t += [_one(0x04, "Calculated engine load", "EngineLoad", "%", scale=_PCT),
          _one(0x05, "Engine coolant temperature", "CoolantTemp", "degC", offset=-40),
          _one(0x06, "Short term fuel trim, bank 1", "ShortFuelTrim1", "%", scale=_TRIM,
               offset=-100),
          _one(0x07, "Long term fuel trim, bank 1", "LongFuelTrim1", "%", scale=_TRIM,
               offset=-100),
          _one(0x08, "Short term fuel trim, bank 2", "ShortFuelTrim2", "%", scale=_TRIM,
               offset=-100),
          _one(0x09, "Long term fuel trim, bank 2", "LongFuelTrim2", "%", scale=_TRIM,
               offset=-100),
          _one(0x0A, "Fuel pressure (gauge)", "FuelPressure", "kPa", scale=3),
          _one(0x0B, "Intake manifold absolute pressure", "IntakePressure", "kPa"),
          _one(0x0C, "Engine speed", "EngineSpeed", "rpm", 2, 0.25),
          _one(0x0D, "Vehicle speed", "VehicleSpeed", "km/h"),
          _one(0x0E, "Timing advance", "TimingAdvance", "deg", scale=0.5, offset=-64),
          _one(0x0F, "Intake air temperature", "IntakeTemp", "degC", offset=-40),
          _one(0x10, "Mass air flow rate", "MAF", "g/s", 2, 0.01),
          _one(0x11, "Throttle position", "ThrottlePos", "%", scale=_PCT),
          _one(0x12, "Commanded secondary air status", "SecondaryAirStatus", ""),
          _one(0x13, "Oxygen sensors present (2 banks)", "O2SensorsPresent", ""),
          ]
    for i, pid in enumerate(range(0x14, 0x1C)):
        b, s = i // 4 + 1, i % 4 + 1
        t.append(Pid(pid, 2, f"Oxygen sensor bank {b} sensor {s}", (
            Field(f"O2_B{b}S{s}_Voltage", "V", 0, 1, 0.005, comment="sensor voltage"),
            Field(f"O2_B{b}S{s}_FuelTrim", "%", 1, 1, _TRIM, -100,
                  comment="short term fuel trim"))))
    t += [_one(0x1C, "OBD standard the vehicle conforms to", "OBDStandard", ""),
          _one(0x1D, "Oxygen sensors present (4 banks)", "O2SensorsPresent4", ""),
          Pid(0x1E, 1, "Auxiliary input status", (
              Field("PTOActive", "", 0, 1, bit=0, bits=1, comment="power take off active"),)),
          _one(0x1F, "Run time since engine start", "RunTime", "s", 2),
          _one(0x21, "Distance traveled with MIL on", "DistanceWithMIL", "km", 2),
          _one(0x22, "Fuel rail pressure (relative to manifold vacuum)",
               "FuelRailPressureVac", "kPa", 2, 0.079),
          _one(0x23, "Fuel rail gauge pressure (diesel, gasoline direct injection)",
               "FuelRailPressureDirect", "kPa", 2, 10),
          ]
    for i, pid in enumerate(range(0x24, 0x2C)):
        t.append(Pid(pid, 4, f"Oxygen sensor {i + 1} (wide range): ratio and voltage", (
            Field(f"O2_S{i + 1}_Lambda", "ratio", 0, 2, _LAMBDA, comment="equivalence ratio"),
            Field(f"O2_S{i + 1}_WRVoltage", "V", 2, 2, 8.0 / 65536.0, comment="voltage"))))
    t += [_one(0x2C, "Commanded EGR", "CommandedEGR", "%", scale=_PCT),
          _one(0x2D, "EGR error", "EGRError", "%", scale=_TRIM, offset=-100),
          _one(0x2E, "Commanded evaporative purge", "EvapPurge", "%", scale=_PCT),
          _one(0x2F, "Fuel tank level input", "FuelLevel", "%", scale=_PCT),
          _one(0x30, "Warm-ups since codes cleared", "WarmupsSinceDTCClear", "count"),
          _one(0x31, "Distance traveled since codes cleared", "DistanceSinceDTCClear", "km", 2),
          _one(0x32, "Evap. system vapor pressure", "EvapVaporPressure", "Pa", 2, 0.25,
               signed=True),
          _one(0x33, "Absolute barometric pressure", "BarometricPressure", "kPa"),
          ]
    for i, pid in enumerate(range(0x34, 0x3C)):
        t.append(Pid(pid, 4, f"Oxygen sensor {i + 1} (wide range): ratio and current", (
            Field(f"O2_S{i + 1}_Lambda", "ratio", 0, 2, _LAMBDA, comment="equivalence ratio"),
            Field(f"O2_S{i + 1}_Current", "mA", 2, 2, 1.0 / 256.0, -128.0,
                  comment="current"))))
    for pid, (b, s) in zip(range(0x3C, 0x40), [(1, 1), (2, 1), (1, 2), (2, 2)]):
        t.append(_one(pid, f"Catalyst temperature bank {b} sensor {s}",
                      f"CatalystTempB{b}S{s}", "degC", 2, 0.1, -40))
    t += [Pid(0x41, 4, "Monitor status this drive cycle", (
              Field("MonitorStatusDriveCycle", "", 0, 4, comment="bit coded"),)),
          _one(0x42, "Control module voltage", "ControlModuleVoltage", "V", 2, 0.001),
          _one(0x43, "Absolute load value", "AbsoluteLoad", "%", 2, _PCT),
          _one(0x44, "Commanded air-fuel equivalence ratio", "CommandedEquivRatio", "ratio",
               2, _LAMBDA),
          _one(0x45, "Relative throttle position", "RelativeThrottlePos", "%", scale=_PCT),
          _one(0x46, "Ambient air temperature", "AmbientAirTemp", "degC", offset=-40),
          _one(0x47, "Absolute throttle position B", "ThrottlePosB", "%", scale=_PCT),
          _one(0x48, "Absolute throttle position C", "ThrottlePosC", "%", scale=_PCT),
          _one(0x49, "Accelerator pedal position D", "AcceleratorPosD", "%", scale=_PCT),
          _one(0x4A, "Accelerator pedal position E", "AcceleratorPosE", "%", scale=_PCT),
          _one(0x4B, "Accelerator pedal position F", "AcceleratorPosF", "%", scale=_PCT),
          _one(0x4C, "Commanded throttle actuator", "ThrottleActuator", "%", scale=_PCT),
          _one(0x4D, "Time run with MIL on", "RunTimeWithMIL", "min", 2),
          _one(0x4E, "Time since trouble codes cleared", "TimeSinceDTCCleared", "min", 2),
          _one(0x51, "Fuel type", "FuelType", ""),
          _one(0x52, "Ethanol fuel percentage", "EthanolPercent", "%", scale=_PCT),
          _one(0x53, "Absolute evap system vapor pressure", "EvapVaporPressureAbs", "kPa", 2,
               0.005),
          _one(0x54, "Evap system vapor pressure", "EvapVaporPressureAlt", "Pa", 2,
               offset=-32767),
          ]
    for pid, (kind, b) in zip(range(0x55, 0x59), [("Short", 1), ("Long", 1), ("Short", 2),
                                                   ("Long", 2)]):
        t.append(Pid(pid, 2, f"{kind} term secondary oxygen sensor trim, banks {b} and {b + 2}",
                     (Field(f"{kind}O2TrimB{b}", "%", 0, 1, _TRIM, -100),
                      Field(f"{kind}O2TrimB{b + 2}", "%", 1, 1, _TRIM, -100))))
    t += [_one(0x59, "Fuel rail absolute pressure", "FuelRailPressureAbs", "kPa", 2, 10),
          _one(0x5A, "Relative accelerator pedal position", "RelativeAccelPos", "%",
               scale=_PCT),
          _one(0x5B, "Hybrid battery pack remaining life", "HybridBatteryRemaining", "%",
               scale=_PCT),
          _one(0x5C, "Engine oil temperature", "OilTemp", "degC", offset=-40),
          _one(0x5D, "Fuel injection timing", "FuelInjectionTiming", "deg", 2, 1 / 128, -210),
          _one(0x5E, "Engine fuel rate", "FuelRate", "L/h", 2, 0.05),
          _one(0x5F, "Emission requirements", "EmissionRequirements", ""),
          _one(0x61, "Driver's demand engine percent torque", "DemandTorque", "%",
               offset=-125),
          _one(0x62, "Actual engine percent torque", "ActualTorque", "%", offset=-125),
          _one(0x63, "Engine reference torque", "ReferenceTorque", "Nm", 2),
          _one(0xA6, "Odometer", "Odometer", "km", 4, 0.1),
          ]
    return {p.pid: p for p in t}


#: service 01/02 PID -> :class:`Pid`
PIDS: dict[int, Pid] = _table()

#: service 09 information type -> (name, number of data items of a string, item bytes)
INFO_TYPES: dict[int, tuple[str, int]] = {
    0x02: ("VIN", 17),
    0x04: ("CalibrationID", 16),
    0x0A: ("ECUName", 20),
}


def pid_lengths() -> np.ndarray:
    """Data length in bytes of each service 01 PID (0: unknown), for the split kernel."""
    out = np.zeros(256, np.int64)
    for p in PIDS.values():
        out[p.pid] = p.length
    return out


def _raw(f: Field, data: np.ndarray) -> np.ndarray:
    """Raw integers of field ``f`` from rows of data bytes ``data`` (k, >= byte + nbytes)."""
    v = np.zeros(data.shape[0], np.int64)
    for i in range(f.nbytes):
        v = (v << 8) | data[:, f.byte + i].astype(np.int64)
    w = f.width
    if f.bits is not None:
        v = (v >> f.bit) & ((1 << w) - 1)
    if f.signed:
        v = np.where(v >= (1 << (w - 1)), v - (1 << w), v)
    return v


def decode_value(f: Field, data: Sequence[int] | np.ndarray) -> float | np.ndarray:
    """Physical value(s) of ``f``: one value from a PID's data bytes, or one per row of a
    2-D uint8 array."""
    try:
        a = (np.frombuffer(bytes(data), np.uint8) if isinstance(data, (bytes, bytearray))
             else np.asarray(data, np.uint8))
    except (TypeError, ValueError, OverflowError) as err:
        raise ArgumentError(f"OBD-II {f.name}: expected data bytes, got {data!r:.60}") from err
    one = a.ndim == 1
    if a.ndim not in (1, 2) or a.shape[-1] < f.byte + f.nbytes:
        raise ArgumentError(f"OBD-II {f.name}: needs {f.byte + f.nbytes} data bytes, got "
                            f"shape {a.shape}")
    v = _raw(f, a.reshape(1, -1) if one else a) * f.scale + f.offset
    return float(v[0]) if one else v


def encode_value(f: Field, value: float, data: bytearray) -> None:
    """Write physical ``value`` of ``f`` into ``data`` (a PID's data bytes), rounded to the
    field's resolution and clipped to its range."""
    try:
        raw = int(round((float(value) - f.offset) / f.scale))
    except (TypeError, ValueError, OverflowError) as err:
        raise ArgumentError(f"OBD-II {f.name}: expected a finite number, got {value!r:.60}"
                            ) from err
    if len(data) < f.byte + f.nbytes:
        raise ArgumentError(f"OBD-II {f.name}: needs {f.byte + f.nbytes} data bytes, got "
                            f"{len(data)}")
    lo = -(1 << (f.width - 1)) if f.signed else 0
    raw = max(lo, min(f.maximum_raw, raw)) & ((1 << f.width) - 1)
    word = int.from_bytes(bytes(data[f.byte:f.byte + f.nbytes]), "big")
    if f.bits is not None:
        mask = ((1 << f.width) - 1) << f.bit
        word = (word & ~mask) | (raw << f.bit)
    else:
        word = raw
    data[f.byte:f.byte + f.nbytes] = word.to_bytes(f.nbytes, "big")
