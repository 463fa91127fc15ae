"""DBC loading and decoding: raw frames to physical signals."""

from __future__ import annotations

import importlib
from typing import Any

from ._dbc import Database, Leniency, load_dbc
from ._lean import LeanDecoder
from ._messages import MessageInfo, message_infos

__all__ = ["Database", "LeanDecoder", "Leniency", "MessageInfo", "decode", "decode_arrays",
           "load_dbc", "message_infos", "release_tree", "signal_layout", "uncached"]

#: imported on first use: the kernels need numba, ``decode`` and ``uncached`` xarray, and
#: the edge logger imports this package with neither (it decodes live with ``._lean``)
_WHERE = {"decode_arrays": "._decode", "signal_layout": "._decode", "decode": "._to_xarray",
          "release_tree": "._tree", "uncached": "._lazy"}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(importlib.import_module(_WHERE[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
