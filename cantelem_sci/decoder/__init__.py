"""DBC loading and decoding: raw frames to physical signals."""

from ._dbc import Database, Leniency, load_dbc
from ._decode import decode, decode_arrays
from ._tree import release_tree
from ._encode import encode_signals
from ._lazy import uncached

__all__ = ["Database", "Leniency", "decode", "decode_arrays", "encode_signals", "load_dbc",
           "release_tree", "uncached"]
