"""DBC loading and decoding: raw frames to physical signals; diagnostic protocols (OBD-II,
ISO-TP, J1939 transport and faults), NMEA fixes, and the radio uplink's packet format."""

from __future__ import annotations

import importlib
from typing import Any

from ._dbc import Database, Leniency, load_dbc
from ._gps import GPS_NODE, gps_dataset, merge_fixes
from ._lean import LeanDecoder
from ._messages import MessageInfo, message_infos
from ._obd_pids import INFO_TYPES as OBD_INFO_TYPES
from ._obd_pids import PIDS as OBD_PIDS
from ._obd_pids import decode_value as obd_decode_value
from ._obd_pids import encode_value as obd_encode_value
from ._protocols import PROTOCOLS, check_protocols, decode_vehicle, transport_traffic
from ._uplink import Snapshot, UplinkField, UplinkSchema, peek_header

__all__ = [
    "Database", "GPS_NODE", "LeanDecoder", "Leniency", "MessageInfo", "OBD_INFO_TYPES",
    "OBD_PIDS", "PROTOCOLS", "Snapshot", "UplinkField", "UplinkSchema", "check_protocols",
    "decode", "decode_arrays", "decode_j1939", "decode_obd", "decode_vehicle", "gps_dataset",
    "load_dbc", "merge_fixes", "message_infos", "multiplexed_parts", "obd_decode_value",
    "obd_encode_value", "peek_header", "reassemble_isotp", "release_tree", "signal_layout",
    "transport_traffic", "uncached",
]

#: imported on first use: the kernels need numba, ``decode`` and ``uncached`` xarray, and
#: the edge logger imports this package with neither (it decodes live with ``._lean``)
_WHERE = {"decode_arrays": "._decode", "signal_layout": "._decode", "decode": "._to_xarray",
          "release_tree": "._tree", "uncached": "._lazy", "multiplexed_parts": "._lazy",
          "decode_obd": "._obd", "decode_j1939": "._j1939", "reassemble_isotp": "._isotp"}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        attr = "reassemble" if name == "reassemble_isotp" else name
        value = getattr(importlib.import_module(_WHERE[name], __name__), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
