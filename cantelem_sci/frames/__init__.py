"""Raw CAN frames: the numpy :class:`FrameBatch` and the xarray raw-frame Dataset.

This stage imports numpy only (xarray lazily), so the edge logger can use it; it also holds
the small Zarr v3 writer and reader of raw segments (``write_group``, ``write_array``,
``read_array``, ``blosc_lz4``: the subset the segments and decoded parts use, without
zarr-python).
"""

from ._messages import from_messages
from ._order import CLOCK_STEP_NS, clock_steps, order_frames
from ._schema import (
    DTYPES,
    FD_LENGTHS,
    FIELDS,
    SCHEMA_NAME,
    SCHEMA_VERSION,
    FrameBatch,
    check_schema,
    frames,
    seconds_to_ns,
)
from ._zarr3 import blosc_lz4, read_array, write_array, write_group

__all__ = [
    "CLOCK_STEP_NS",
    "DTYPES",
    "FD_LENGTHS",
    "FIELDS",
    "SCHEMA_NAME",
    "SCHEMA_VERSION",
    "FrameBatch",
    "blosc_lz4",
    "check_schema",
    "clock_steps",
    "frames",
    "from_messages",
    "order_frames",
    "read_array",
    "seconds_to_ns",
    "write_array",
    "write_group",
]
