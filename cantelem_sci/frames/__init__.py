"""Raw CAN frames: the numpy :class:`FrameBatch` and the xarray raw-frame Dataset.

This stage imports numpy only (xarray lazily), so the edge logger can use it.
"""

from ._order import CLOCK_STEP_NS, clock_steps, order_frames
from ._schema import (
    FD_LENGTHS,
    SCHEMA_NAME,
    SCHEMA_VERSION,
    FrameBatch,
    check_schema,
    frames,
    seconds_to_ns,
)

__all__ = [
    "CLOCK_STEP_NS",
    "FD_LENGTHS",
    "SCHEMA_NAME",
    "SCHEMA_VERSION",
    "FrameBatch",
    "check_schema",
    "clock_steps",
    "frames",
    "order_frames",
    "seconds_to_ns",
]
