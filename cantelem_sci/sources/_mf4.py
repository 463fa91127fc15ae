"""ASAM MDF 4 bus logging (CANedge, Vector, IPETRONIK ...) read as whole columns.

Each CAN bus-event channel group (``CAN_DataFrame``, ``CAN_ErrorFrame``,
``CAN_RemoteFrame``) is read as columns: from the file's blocks directly where their layout
is the usual one (:mod:`._mdf_blocks`), else through asammdf, which fetches a group in one
call as a structured array. No Python object per frame. The frames are those python-can's ``MF4Reader`` yields, in its order
(its groups merged by timestamp, ties to the earlier group), with its defaults where a group
lacks a field (extended id, received, no channel).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from numba import njit

from ..errors import LogFormatError
from ..frames import FrameBatch, seconds_to_ns
from ._damage import batch_from_columns, channel_codes
from ._mdf_blocks import Damaged, NotSimple, read_bus_groups

__all__ = ["read_mf4"]

NO_CHANNEL = "unknown"  # name of frames whose group gives no BusChannel
_KINDS = ("CAN_DataFrame", "CAN_ErrorFrame", "CAN_RemoteFrame")


@njit(cache=True, nogil=True)
def _merge_order(times, starts):
    """The order of ``heapq.merge`` over the runs ``times[starts[g]:starts[g + 1]]`` keyed by
    time: at each step the smallest head, ties to the earlier run (runs need not be sorted)."""
    k = starts.shape[0] - 1
    heads = starts[:-1].copy()
    out = np.empty(times.shape[0], np.int64)
    for j in range(times.shape[0]):
        best = -1
        for g in range(k):
            if heads[g] < starts[g + 1] and (best < 0 or times[heads[g]] < times[heads[best]]):
                best = g
        out[j] = heads[best]
        heads[best] += 1
    return out


@njit(cache=True, nogil=True)
def _payload(src, size, out):
    """The first ``size[i]`` bytes of each row of ``src`` (a strided view of the records)
    into ``out``, zero beyond."""
    for i in range(src.shape[0]):
        for j in range(min(size[i], out.shape[1])):
            out[i, j] = src[i, j]
    return out


def _field(s: Any, kind: str, name: str) -> np.ndarray | None:
    key = f"{kind}.{name}"
    names = s if isinstance(s, dict) else (s.dtype.names or ())
    return s[key] if key in names else None


def _group(mdf: Any, index: int, kind: str, start: float) -> dict[str, Any]:
    """One channel group's frames as columns, through asammdf."""
    sig = mdf.get(kind, index, raw=False)
    return _columns(kind, np.asarray(sig.timestamps, np.float64), sig.samples, start)


def _columns(kind: str, times: np.ndarray, s: Any, start: float) -> dict[str, Any]:
    """One channel group's frames as columns (python-can's field rules) from its times (s
    from the start) and fields ``s`` (a structured array or {"<kind>.<field>": values})."""
    n = times.shape[0]
    cols: dict[str, Any] = {"time": times + start}
    ident = _field(s, kind, "ID")
    cols["aid"] = (np.zeros(n, np.int64) if ident is None
                   else ident.astype(np.int64) & 0x1FFFFFFF)
    ide = _field(s, kind, "IDE")
    cols["ext"] = np.ones(n, bool) if ide is None else ide.astype(bool)
    edl = _field(s, kind, "EDL")
    cols["fd"] = np.zeros(n, bool) if edl is None or kind == "CAN_RemoteFrame" else edl.astype(bool)
    direction = _field(s, kind, "Dir")
    if direction is None:
        cols["rx"] = np.ones(n, bool)
    elif direction.dtype.kind == "S":
        cols["rx"] = direction == b"Rx"
    else:
        cols["rx"] = direction.astype(np.int64) == 0
    bus = _field(s, kind, "BusChannel")
    cols["bus"] = None if bus is None else bus.astype(np.int64)
    cols["err"] = np.full(n, kind == "CAN_ErrorFrame")
    cols["rtr"] = np.zeros(n, bool)
    length = _field(s, kind, "DataLength")
    payload = _field(s, kind, "DataBytes")
    if kind == "CAN_RemoteFrame":
        cols["rtr"] = np.ones(n, bool)
        rtr = _field(s, kind, "DLC")
        cols["dlc"] = rtr.astype(np.int64) if rtr is not None else np.zeros(n, np.int64)
        cols["size"] = np.zeros(n, np.int64)
        cols["data"] = np.zeros((n, 8), np.uint8)
    elif length is None or payload is None:  # an error frame without its bytes
        cols["dlc"] = cols["size"] = np.zeros(n, np.int64)
        cols["data"] = np.zeros((n, 8), np.uint8)
        if kind == "CAN_ErrorFrame":
            rtr = _field(s, kind, "RTR")
            cols["rtr"] = np.zeros(n, bool) if rtr is None else rtr.astype(bool)
    else:
        payload = payload.reshape(n, -1)
        size = np.minimum(length.astype(np.int64), payload.shape[1])
        cols["dlc"] = cols["size"] = size  # python-can: data[:DataLength], dlc its length
        wide = n and (cols["fd"].any() or size.max() > 8)
        cols["data"] = _payload(payload, size, np.zeros((n, 64 if wide else 8), np.uint8))
        if kind == "CAN_ErrorFrame":
            rtr = _field(s, kind, "RTR")
            cols["rtr"] = np.zeros(n, bool) if rtr is None else rtr.astype(bool)
    return cols


def _check_record_layout(mdf: Any, index: int) -> None:
    """Refuse a channel group whose channels reach past its record: asammdf's compiled code
    copies such a channel's bytes out of every record without a check, past its buffer (a
    damaged file crashed the process)."""
    cg = mdf.groups[index].channel_group
    for ch in mdf.groups[index].channels:
        if ch.bit_count and ch.byte_offset + (ch.bit_offset + ch.bit_count + 7) // 8 > \
                cg.samples_byte_nr:
            raise LogFormatError(
                f"channel group {index}, channel {ch.name!r}: bytes {ch.byte_offset}.."
                f"{ch.byte_offset + (ch.bit_offset + ch.bit_count + 7) // 8} of a "
                f"{cg.samples_byte_nr}-byte record")


def _groups(mdf: Any) -> list[tuple[int, str]]:
    """(index, kind) of every group python-can reads: CAN bus events with frames."""
    from asammdf.blocks.source_utils import Source
    from asammdf.blocks.v4_constants import FLAG_CG_BUS_EVENT

    found = []
    for index, group in enumerate(mdf.groups):
        cg = group.channel_group
        src = cg.acq_source
        if (not cg.flags & FLAG_CG_BUS_EVENT or cg.cycles_nr == 0 or src is None
                or not src.source_type & Source.SOURCE_BUS or src.bus_type != Source.BUS_TYPE_CAN):
            continue
        names = {c.name for c in group.channels}
        kind = next((k for k in _KINDS if k in names), None)
        if kind is not None:
            found.append((index, kind))
    return found


def _concat(parts: list[dict[str, Any]]) -> dict[str, Any]:
    if len(parts) == 1:
        out = dict(parts[0])
        out["bus"] = out["bus"] if out["bus"] is not None else np.full(out["time"].shape[0], -1)
        return out
    width = max(p["data"].shape[1] for p in parts)
    out: dict[str, Any] = {}
    for key in ("time", "aid", "ext", "fd", "rx", "err", "rtr", "dlc", "size"):
        out[key] = np.concatenate([p[key] for p in parts])
    out["data"] = np.concatenate([np.pad(p["data"], ((0, 0), (0, width - p["data"].shape[1])))
                                  for p in parts])
    buses = [p["bus"] if p["bus"] is not None else np.full(p["time"].shape[0], -1)
             for p in parts]
    out["bus"] = np.concatenate(buses)
    starts = np.cumsum([0] + [p["time"].shape[0] for p in parts])
    if len(parts) > 1:
        order = _merge_order(out["time"], starts.astype(np.int64))
        out = {k: v[order] for k, v in out.items()}
    return out


def read_mf4(path: str | os.PathLike[str], *, strict: bool = True, **_: Any) -> FrameBatch:
    """Read the CAN frames of an MDF 4 bus-logging file into a :class:`FrameBatch`.

    Parameters
    ----------
    path
        An ``.mf4`` file (e.g. from a CANedge logger).
    strict
        Refuse damaged frames (default) naming the frame; ``False`` keeps them and warns once.

    Raises
    ------
    LogFormatError
        A file asammdf cannot open or read (its message names the byte offset), or a damaged
        frame, naming the file and the frame number.

    Example
    -------
    >>> import os, tempfile, cantelem_sci as ct
    >>> from cantelem_sci.sources import write_log
    >>> p = write_log(ct.simulate_vehicle(duration_s=0.05), os.path.join(tempfile.mkdtemp(),
    ...                                                                   "x.mf4"))
    >>> read_mf4(p).channel_names  # MDF numbers its bus channels
    ['0']
    """
    path = os.fspath(path)
    try:  # the blocks read directly (:mod:`._mdf_blocks`); asammdf for any other layout
        start, groups = read_bus_groups(path)
        parts = [_columns(kind, times, fields, start) for kind, times, fields in groups]
    except Damaged as err:
        raise LogFormatError(f"{path}: corrupt or truncated MDF data: {err}") from err
    except (NotSimple, OSError):
        parts = _read_with_asammdf(path)
    if not parts:
        return FrameBatch.empty()
    f = _concat(parts)
    f["time"] = seconds_to_ns(f["time"])
    f["chan"], names = channel_codes(f["bus"], lambda v: NO_CHANNEL if v < 0 else str(v))
    return batch_from_columns(path, f, names, strict=strict)


def _read_with_asammdf(path: str) -> list[dict[str, Any]]:
    try:
        from asammdf import MDF

        mdf = MDF(path, process_bus_logging=False)  # no per-id index: whole columns here
    except Exception as err:  # asammdf raises many types on damaged files
        raise LogFormatError(
            f"{path}: cannot open as a CAN log: {type(err).__name__}: {err}") from err
    try:
        start = mdf.header.start_time.timestamp()
        groups = _groups(mdf)
        for index, _ in groups:
            _check_record_layout(mdf, index)
        parts = [_group(mdf, index, kind, start) for index, kind in groups]
    except LogFormatError as err:
        raise LogFormatError(f"{path}: corrupt MDF data: {err}") from err
    except Exception as err:
        raise LogFormatError(f"{path}: corrupt or truncated MDF data: {type(err).__name__}: "
                             f"{err}") from err
    finally:
        mdf.close()
    return parts
