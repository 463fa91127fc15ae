"""The fleet's view of a store (:mod:`cantelem_sci.io`'s :class:`~cantelem_sci.io.Store`)
and the checks of what names it."""

from __future__ import annotations

from typing import Any

from ..errors import ArgumentError
from ..io import SEGMENT_RE, FsspecStore, LocalStore, Store

__all__ = ["FsspecStore", "LocalStore", "Store", "check_vehicles"]


def check_vehicles(vehicles: Any) -> list[str] | None:
    """``vehicles`` (None: every vehicle) as a list of ids safe as one path segment and one
    MQTT topic level, or :class:`~cantelem_sci.errors.ArgumentError` naming the first that
    is not.

    Example
    -------
    >>> check_vehicles(["EV0001"]), check_vehicles(None)
    (['EV0001'], None)
    """
    if vehicles is None:
        return None
    if isinstance(vehicles, str):
        vehicles = [vehicles]
    out = list(vehicles)
    for v in out:
        if not isinstance(v, str) or not SEGMENT_RE.match(v) or ".." in v:
            raise ArgumentError(f"vehicle id {v!r}: expected 1-64 characters of A-Z a-z 0-9 "
                                "_ . - starting with a letter or digit, without '..'")
    return out
