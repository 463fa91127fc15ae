"""A deterministic EV fleet simulator that produces realistic raw CAN frames.

Each vehicle drives a cycle of urban and highway stretches with stops, brakes
regeneratively, parks (no frames while the logger is off: a real trip gap) and charges.
Battery voltage, current and state of charge follow a simple equivalent-circuit model,
96 cells differ by offset and internal resistance, motor, inverter and coolant
temperatures follow the load with first-order lags, and GPS integrates speed and heading.
Frames are encoded with the sample DBC (``cantelem_sci/data/ev.dbc``) at the cycle times it
declares, with timing jitter. The same seed gives the same frames.
"""

from __future__ import annotations

from importlib import resources
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from ..decoder import load_dbc
from ..errors import ArgumentError
from ..frames import FrameBatch
from ._encode import encode_signals
from ._faults import Fault

if TYPE_CHECKING:  # pragma: no cover
    import xarray as xr

BASE_DT = 0.1  # s, physics step
MASS = 1900.0
CDA = 0.62
CRR = 0.011
WHEEL_R = 0.33
GEAR = 9.0
N_CELLS = 96
CAPACITY_AS = 180.0 * 3600.0
R_PACK = 0.085
DEFAULT_START = np.datetime64("2026-01-05T07:30:00", "ns")
CHANNELS = ["can0", "can1"]  # powertrain, GPS

#: message name -> (cycle s, channel index)
SCHEDULE = {
    "BMS_PackStatus": (0.01, 0),
    "BMS_CellVoltages": (0.01 / 2.4, 0),  # 24 groups at 10 Hz each
    "BMS_Temperatures": (1.0, 0),
    "MCU_Motor": (0.01, 0),
    "MCU_Power": (0.1, 0),
    "VCU_Vehicle": (0.02, 0),
    "GPS_Position": (0.2, 1),
    "GPS_Motion": (0.2, 1),
    "BMS_ModuleTemps": (1.0, 0),
}
N_MODULES = 8
#: each module's offset from the pack's mean cell temperature (°C): the last module, at the
#: coolant outlet, runs warmest and reads what ``CellTempMax`` reads
MODULE_OFFSET_C = np.linspace(-1.5, 1.5, N_MODULES)


def sample_dbc_path() -> str:
    """Path of the sample EV DBC shipped with the package.

    Example
    -------
    >>> sample_dbc_path().endswith("ev.dbc")
    True
    """
    return str(resources.files("cantelem_sci") / "data" / "ev.dbc")


_DB = None


def _db() -> Any:
    global _DB
    if _DB is None:
        _DB = load_dbc(sample_dbc_path(), strict=True)
    return _DB


def _phases(rng: np.random.Generator, duration_s: float) -> list[tuple[str, float]]:
    if duration_s < 300:
        return [("drive", duration_s)]
    out: list[tuple[str, float]] = []
    left = duration_s
    while left > 1:
        d = min(left, (rng.uniform(0.35, 0.6) * duration_s if not out
                       else left * rng.uniform(0.5, 1.0)))
        out.append(("drive", d))
        left -= d
        if left <= 1:
            break
        g = min(left, max(30.0, rng.uniform(0.05, 0.12) * duration_s))
        out.append(("off", g))
        left -= g
        if left <= 1:
            break
        c = min(left, rng.uniform(0.1, 0.25) * duration_s)
        out.append(("charge", c))
        left -= c
    return out


def _physics(rng: np.random.Generator, duration_s: float) -> dict[str, np.ndarray]:
    n = max(int(round(duration_s / BASE_DT)), 2)
    t = np.arange(n) * BASE_DT
    mode = np.zeros(n, np.int8)  # 0 off (no frames), 1 drive, 2 charge
    pos = 0
    for kind, d in _phases(rng, duration_s):
        k = int(round(d / BASE_DT))
        mode[pos:pos + k] = {"off": 0, "drive": 1, "charge": 2}[kind]
        pos += k
    if pos < n:
        mode[pos:] = mode[pos - 1] if pos else 1
    # target speed: stretches of urban (30-55 km/h) and highway (90-130 km/h) with stops
    target = np.zeros(n)
    i = 0
    while i < n:
        k = int(rng.uniform(150, 900))
        stop = rng.random() < 0.3
        hw = rng.random() < 0.3
        target[i:i + k] = 0.0 if stop else (rng.uniform(90, 130) if hw else rng.uniform(30, 55))
        i += k
    target[mode != 1] = 0.0
    v = np.zeros(n)  # m/s
    for j in range(1, n):
        want = target[j] / 3.6 + rng.normal(0, 0.05)
        a = np.clip((want - v[j - 1]) / 3.0, -3.2, 2.4)
        v[j] = max(0.0, v[j - 1] + a * BASE_DT)
    a = np.gradient(v, BASE_DT)
    p_wheel = MASS * a * v + 0.5 * 1.2 * CDA * v**3 + CRR * MASS * 9.81 * v
    p_motor = np.where(p_wheel > 0, p_wheel / 0.92, np.maximum(p_wheel * 0.85, -60e3))
    p_batt = np.where(mode == 1, p_motor + 600.0, 0.0)
    soc = np.empty(n)
    soc0 = rng.uniform(0.45, 0.9)
    current = np.zeros(n)
    voltage = np.zeros(n)
    s = soc0
    for j in range(n):
        voc = N_CELLS * (3.35 + 0.8 * s)
        if mode[j] == 2:
            i_b = -min(150.0, 40.0 + 300.0 * (1.0 - s))  # charging, tapering
        else:
            i_b = p_batt[j] / voc
        current[j] = i_b
        voltage[j] = voc - i_b * R_PACK
        s = float(np.clip(s - i_b * BASE_DT / CAPACITY_AS, 0.02, 1.0))
        soc[j] = s
    heat = np.abs(current) * 0.05 + np.abs(p_motor) / 4000.0

    def lag(x: np.ndarray, tau: float, x0: float) -> np.ndarray:
        y = np.empty_like(x)
        acc = x0
        k = BASE_DT / tau
        for j in range(x.shape[0]):
            acc += (x[j] - acc) * k
            y[j] = acc
        return y

    ambient = rng.uniform(5, 25)
    motor_t = lag(ambient + 4.0 * heat, 120.0, ambient + 5)
    inv_t = lag(ambient + 2.5 * heat, 60.0, ambient + 3)
    cell_t = lag(ambient + 1.2 * heat, 400.0, ambient + 2)
    cool_in = lag(ambient + 0.8 * heat, 200.0, ambient + 1)
    cool_out = cool_in + 0.3 * heat
    rpm = v / WHEEL_R * GEAR * 60 / (2 * np.pi)
    torque = np.where(rpm > 1, p_motor / np.maximum(rpm * 2 * np.pi / 60, 1e-3), 0.0)
    torque = np.clip(torque, -480, 480)
    heading = np.cumsum(rng.normal(0, 0.6, n) * (v > 1)) + rng.uniform(0, 360)
    lat0, lon0 = 48.78 + rng.uniform(-0.05, 0.05), 9.18 + rng.uniform(-0.05, 0.05)
    dn = v * BASE_DT * np.cos(np.radians(heading))
    de = v * BASE_DT * np.sin(np.radians(heading))
    lat = lat0 + np.cumsum(dn) / 111_320.0
    lon = lon0 + np.cumsum(de) / (111_320.0 * np.cos(np.radians(lat0)))
    odo = rng.uniform(1000, 60000) + np.cumsum(v * BASE_DT) / 1000.0
    accel = np.clip(np.where(a > 0, a * 30 + 8, 0) * (mode == 1), 0, 100)
    brake = np.clip(np.where(a < -0.3, -a * 25, 0), 0, 100)
    return dict(t=t, mode=mode, v=v * 3.6, current=current, voltage=voltage, soc=soc * 100,
                motor_t=motor_t, inv_t=inv_t, cell_t=cell_t, cool_in=cool_in, cool_out=cool_out,
                rpm=rpm, torque=torque, p_batt=p_batt, heading=np.mod(heading, 360), lat=lat,
                lon=lon, odo=odo, accel=accel, brake=brake,
                alt=320 + np.cumsum(rng.normal(0, 0.02, n)))


def simulate_vehicle(vehicle: str = "EV0001", *, duration_s: float = 60.0, seed: int = 0,
                     index: int = 0, start: Any = None,
                     faults: "Sequence[str | Fault]" = ()) -> FrameBatch:
    """Frames of one simulated vehicle as a :class:`FrameBatch` (no xarray needed).

    ``faults`` injects faults (:class:`~cantelem_sci.sim.Fault` or specs such as
    ``"overheat@20s+3s"``; see :mod:`cantelem_sci.sim._faults`).

    Example
    -------
    >>> b = simulate_vehicle(duration_s=1.0, seed=3)
    >>> 400 < len(b) < 700
    True
    """
    if isinstance(duration_s, bool) or not isinstance(duration_s, (int, float)) or not (
            0 < duration_s < 1e9):
        raise ArgumentError(f"duration_s: expected a number of seconds > 0, got {duration_s!r}")
    rng = np.random.default_rng(np.random.SeedSequence([seed, index]))
    ph = _physics(rng, duration_s)
    db = _db()
    t0 = np.datetime64(start, "ns") if start is not None else DEFAULT_START + np.timedelta64(
        index * 37, "s")
    t0_ns = int(t0.astype("datetime64[ns]").astype(np.int64))
    cell_off = rng.normal(0, 0.004, N_CELLS)
    cell_r = rng.normal(1.0, 0.08, N_CELLS) * R_PACK / N_CELLS
    counter = 0
    batches = []
    injected = [Fault.parse(f) for f in faults]
    for name, (cycle, ch) in SCHEDULE.items():
        msg = db.get_message(name)
        phase = rng.uniform(0, cycle)
        tt = np.arange(phase, duration_s, cycle)
        tt = tt + rng.normal(0, 5e-5, tt.shape[0])
        tt = np.clip(tt, 0, duration_s - 1e-6)
        j = np.clip((tt / BASE_DT).astype(np.int64), 0, ph["t"].shape[0] - 1)
        on = ph["mode"][j] != 0
        tt, j = tt[on], j[on]
        if tt.size == 0:
            continue

        def at(key: str) -> np.ndarray:
            return np.interp(tt, ph["t"], ph[key])

        if name == "BMS_PackStatus":
            mode = ph["mode"][j]
            vals = {"PackVoltage": at("voltage"), "PackCurrent": at("current"), "SOC": at("soc"),
                    "BMS_State": np.where(mode == 2, 2, np.where(ph["v"][j] > 0.5, 1, 0)),
                    "ChargeActive": (mode == 2).astype(float),
                    "PackCounter": (np.arange(tt.size) + counter) % 256}
        elif name == "BMS_CellVoltages":
            group = (np.arange(tt.size) % 24)
            base = at("voltage") / N_CELLS
            cur = at("current")
            vals = {"CellGroup": group}
            for c in range(N_CELLS):
                v = base + cell_off[c] - cur * (cell_r[c] - R_PACK / N_CELLS)
                vals[f"Cell{c + 1:02d}_Voltage"] = np.where(group == c // 4, v, np.nan)
        elif name == "BMS_Temperatures":
            base = at("voltage") / N_CELLS
            vals = {"CellTempMin": at("cell_t") - 1.5, "CellTempMax": at("cell_t") + 1.5,
                    "CoolantInletTemp": at("cool_in"), "CoolantOutletTemp": at("cool_out"),
                    "CellVoltageMin": base + cell_off.min(),
                    "CellVoltageMax": base + cell_off.max()}
        elif name == "BMS_ModuleTemps":
            vals = {f"Module{k + 1}Temp": at("cell_t") + off
                    for k, off in enumerate(MODULE_OFFSET_C)}
        elif name == "MCU_Motor":
            vals = {"MotorSpeed": at("rpm"), "MotorTorque": at("torque"),
                    "MotorTemp": at("motor_t"), "InverterTemp": at("inv_t"),
                    "DriveMode": np.where(ph["mode"][j] == 1, 1, 0)}
        elif name == "MCU_Power":
            vals = {"DCBusPower": at("p_batt"),
                    "InverterEfficiency": 0.9 + 0.05 * np.tanh(np.abs(at("p_batt")) / 2e4)}
        elif name == "VCU_Vehicle":
            vals = {"VehicleSpeed": at("v"), "Odometer": at("odo"), "BrakePedal": at("brake"),
                    "AccelPedal": at("accel")}
        elif name == "GPS_Position":
            vals = {"Latitude": at("lat"), "Longitude": at("lon")}
        else:
            vals = {"Heading": at("heading"), "GPSSpeed": at("v"), "Altitude": at("alt"),
                    "Satellites": np.full(tt.size, 11.0), "FixType": np.full(tt.size, 2.0)}
        if injected:
            keep = np.ones(tt.size, bool)
            for f in injected:
                keep &= f.apply(name, tt, vals)
            if not keep.all():
                tt = tt[keep]
                vals = {k: np.asarray(v)[keep] for k, v in vals.items()}
                if tt.size == 0:
                    continue
        data = encode_signals(msg, vals, tt.size, width=8)
        # receive times to the microsecond, as SocketCAN and CAN interfaces stamp them
        ns = t0_ns + np.round(tt * 1e6).astype(np.int64) * 1000
        batches.append(FrameBatch.from_arrays(
            ns, np.full(tt.size, msg.frame_id), data, dlc=np.full(tt.size, msg.length),
            is_extended=np.full(tt.size, msg.is_extended_frame), channel=np.full(tt.size, ch),
            channel_names=CHANNELS, validate=False))
    batch = FrameBatch.concat(batches)
    return batch.take(np.argsort(batch.time, kind="stable"))


def vehicle_ids(n_vehicles: int) -> list[str]:
    """The ids the simulator gives: ``EV0001``, ``EV0002``, ..."""
    return [f"EV{i + 1:04d}" for i in range(n_vehicles)]


def simulate_fleet(n_vehicles: int = 3, *, duration_s: float = 600.0, seed: int = 0,
                   start: Any = None, faults: "dict[str, Sequence[str | Fault]] | None" = None
                   ) -> "dict[str, xr.Dataset]":
    """Raw-frame Datasets of a simulated fleet, keyed by vehicle id.

    Parameters
    ----------
    n_vehicles
        How many vehicles (``EV0001`` ...).
    duration_s
        Seconds simulated per vehicle (parked stretches produce no frames).
    seed
        The same seed gives the same frames.
    faults
        ``{vehicle: [fault specs]}`` injected into those vehicles (see :class:`Fault`).

    Example
    -------
    >>> fleet = simulate_fleet(2, duration_s=1.0, seed=1)
    >>> sorted(fleet)
    ['EV0001', 'EV0002']
    """
    if isinstance(n_vehicles, bool) or not isinstance(n_vehicles, int) or n_vehicles < 0:
        raise ArgumentError(f"n_vehicles: expected a whole number >= 0, got {n_vehicles!r}")
    faults = faults or {}
    return {vid: simulate_vehicle(vid, duration_s=duration_s, seed=seed, index=i,
                                  start=start, faults=faults.get(vid, ())).to_dataset()
            for i, vid in enumerate(vehicle_ids(n_vehicles))}
