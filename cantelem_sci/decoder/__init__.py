"""DBC loading and decoding: raw frames to physical signals."""

from ._dbc import Database, Leniency, load_dbc
from ._decode import decode_arrays, signal_layout
from ._to_xarray import decode
from ._tree import release_tree

__all__ = ["Database", "Leniency", "decode", "decode_arrays", "load_dbc",
           "release_tree", "signal_layout", "uncached"]


def __getattr__(name: str):
    # imported on first use: it needs xarray, and the edge logger imports this package with
    # xarray blocked
    if name == "uncached":
        from ._lazy import uncached

        return uncached
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
