"""Frame sources: log readers (a registry with entry points)."""

from ._registry import (
    available_readers,
    get_reader,
    read_frames,
    read_log,
    reader_for,
    register_reader,
)
from ._write import LOG_FORMATS, write_log

__all__ = ["LOG_FORMATS", "available_readers", "get_reader", "read_frames", "read_log", "reader_for",
           "register_reader", "write_log"]
