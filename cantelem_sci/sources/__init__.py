"""Frame sources: log readers (a registry with entry points)."""

from ._registry import (
    available_readers,
    get_reader,
    read_frames,
    read_log,
    reader_for,
    register_reader,
)

__all__ = ["available_readers", "get_reader", "read_frames", "read_log", "reader_for",
           "register_reader"]
