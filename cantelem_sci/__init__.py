"""cantelem_sci: Jupyter-first analytics for vehicle CAN-bus telemetry.

The data path, one subpackage per stage (imports point upstream only)::

    frames -> io -> sources -> decoder -> sim -> kernels -> derived -> alerts -> accessor -> fleet -> viz

Example
-------
>>> import cantelem_sci as ct
>>> db = ct.load_dbc(ct.sample_dbc_path())
>>> raw = ct.simulate_fleet(1, duration_s=1.0)["EV0001"]
>>> sorted(ct.decode(raw, db).children)[:2]
['BMS_CellVoltages', 'BMS_ModuleTemps']
"""

from __future__ import annotations

import importlib
from typing import Any

from ._version import __version__
from .errors import (
    CantelemError,
    DbcError,
    DecodeError,
    FrameFormatError,
    LogFormatError,
    UnknownNameError,
)
from .frames import FrameBatch, frames

__all__ = [
    "CantelemError",
    "DbcError",
    "DecodeError",
    "FrameBatch",
    "FrameFormatError",
    "LogFormatError",
    "UnknownNameError",
    "__version__",
    "decode",
    "decode_fleet",
    "decode_obd",
    "evaluate_fleet",
    "frames",
    "load_catalog",
    "load_dbc",
    "open_fleet",
    "read_log",
    "sample_dbc_path",
    "simulate_fleet",
    "simulate_obd_vehicle",
    "simulate_vehicle",
]

_LAZY = {
    "decode": "cantelem_sci.decoder",
    "load_dbc": "cantelem_sci.decoder",
    "read_log": "cantelem_sci.sources",
    "open_fleet": "cantelem_sci.fleet",
    "decode_fleet": "cantelem_sci.fleet",
    "decode_obd": "cantelem_sci.decoder",
    "simulate_obd_vehicle": "cantelem_sci.sim",
    "evaluate_fleet": "cantelem_sci.fleet",
    "load_catalog": "cantelem_sci.fleet",
    "sample_dbc_path": "cantelem_sci.sim",
    "simulate_fleet": "cantelem_sci.sim",
    "simulate_vehicle": "cantelem_sci.sim",
}


# names whose results are xarray objects: loading them registers the ``.cantelem`` accessor
_XARRAY_NAMES = {"decode", "decode_obd", "read_log", "simulate_fleet", "open_fleet", "decode_fleet"}


#: subpackages reachable as attributes without an import of their own (``ct.alerts.evaluate``,
#: ``ct.decoder.decode_j1939``)
_SUBPACKAGES = ("alerts", "decoder")


def __getattr__(name: str) -> Any:
    if name in _SUBPACKAGES:
        module = importlib.import_module(f"cantelem_sci.{name}")
        globals()[name] = module
        return module
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module 'cantelem_sci' has no attribute {name!r}")
    value = getattr(importlib.import_module(mod), name)
    if name in _XARRAY_NAMES:
        importlib.import_module("cantelem_sci.accessor")  # registers ``.cantelem``
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
