"""Unit conversions of calculated signals: a small table of affine conversions.

Vehicle telemetry needs a handful of conversions (speed, distance, temperature, power,
energy, pressure, charge), each ``value * scale + offset`` to a base unit of its
dimension. A table keeps them exact, fast on arrays and free of a dependency; pint would
bring a unit registry, parsing of arbitrary unit strings and a second of import time for
these few lines (see ``docs/decisions/calculated-signals.md``).
"""

from __future__ import annotations

import numpy as np

from ..errors import UnknownNameError

__all__ = ["UNITS", "convert_units"]

#: unit -> (dimension, scale, offset): base = value * scale + offset
UNITS: dict[str, tuple[str, float, float]] = {
    # speed, base m/s
    "m/s": ("speed", 1.0, 0.0), "km/h": ("speed", 1 / 3.6, 0.0),
    "mph": ("speed", 0.44704, 0.0), "kn": ("speed", 1852 / 3600, 0.0),
    # distance, base m
    "m": ("distance", 1.0, 0.0), "km": ("distance", 1000.0, 0.0),
    "mi": ("distance", 1609.344, 0.0), "ft": ("distance", 0.3048, 0.0),
    # temperature, base K
    "K": ("temperature", 1.0, 0.0), "degC": ("temperature", 1.0, 273.15),
    "°C": ("temperature", 1.0, 273.15), "C": ("temperature", 1.0, 273.15),
    "degF": ("temperature", 5 / 9, 273.15 - 32 * 5 / 9),
    "°F": ("temperature", 5 / 9, 273.15 - 32 * 5 / 9),
    "F": ("temperature", 5 / 9, 273.15 - 32 * 5 / 9),
    # power, base W
    "W": ("power", 1.0, 0.0), "kW": ("power", 1e3, 0.0), "hp": ("power", 745.69987158227, 0.0),
    # energy, base J
    "J": ("energy", 1.0, 0.0), "Wh": ("energy", 3600.0, 0.0), "kWh": ("energy", 3.6e6, 0.0),
    # charge, base C (coulomb)
    "As": ("charge", 1.0, 0.0), "Ah": ("charge", 3600.0, 0.0),
    # pressure, base Pa
    "Pa": ("pressure", 1.0, 0.0), "kPa": ("pressure", 1e3, 0.0), "bar": ("pressure", 1e5, 0.0),
    "psi": ("pressure", 6894.757293168361, 0.0),
    # voltage, current
    "V": ("voltage", 1.0, 0.0), "mV": ("voltage", 1e-3, 0.0),
    "A": ("current", 1.0, 0.0), "mA": ("current", 1e-3, 0.0),
}


def convert_units(values: np.ndarray, src: str, dst: str) -> np.ndarray:
    """``values`` in ``src`` expressed in ``dst`` (float64).

    Raises
    ------
    UnknownNameError
        A unit not in :data:`UNITS`, or two units of different dimensions.

    Example
    -------
    >>> convert_units(np.array([100.0]), "km/h", "mph").round(3)
    array([62.137])
    """
    for u in (src, dst):
        if u not in UNITS:
            raise UnknownNameError("unit", u, list(UNITS))
    (d0, k0, o0), (d1, k1, o1) = UNITS[src], UNITS[dst]
    if d0 != d1:
        same = [u for u, (d, _, _) in UNITS.items() if d == d0]
        raise UnknownNameError(f"unit to convert {src} ({d0}) to", dst, same)
    base = np.asarray(values, np.float64) * k0 + o0
    return (base - o1) / k1
