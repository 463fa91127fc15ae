"""The structs the decoder's numba kernels take: named tuples of arrays.

A kernel gets a handful of these instead of dozens of positional arrays (as datashader's
kernels take grouped arrays). numba passes a tuple of arrays as a struct, so a field read
inside a loop costs what reading a plain argument costs, and calling a kernel with a named
tuple costs about a microsecond more than with loose arrays.

The tables describe the database (built once per :class:`._layout.Layout`); the columns
are a decode's inputs and outputs (built per batch by :mod:`._decode`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

# conversion codes (mirroring cantools' conversion classes)
CONV_IDENTITY = 0  # IdentityConversion: value = raw
CONV_LINEAR = 1  # LinearConversion: raw * scale + offset in float64
CONV_INTEGER = 2  # LinearIntegerConversion: raw * scale + offset in (exact) integers

KIND_INT = 0
KIND_F32 = 1
KIND_F64 = 2

NAN = np.nan


class SignalTable(NamedTuple):
    """Per signal (global index, messages' signals consecutive, multiplexers first).

    ``pos``: little-endian start bit, or for big endian the msb in network bit numbering;
    ``length`` (bits), ``be`` (big endian), ``signed``, ``kind`` (``KIND_*``), ``conv``
    (``CONV_*``) with ``scale``/``offset`` (float) and ``scale_i``/``offset_i`` (exact
    integer conversion); ``small``: the integer value always lies in ``[-2**51, 2**51)``;
    ``parent``: the multiplexer selecting it (-1: none), by the values
    ``mux_vals[mux0:mux1]`` of :class:`GroupTable`; ``lo``/``hi``: the DBC range (NaN:
    none)."""

    pos: np.ndarray
    length: np.ndarray
    be: np.ndarray
    signed: np.ndarray
    kind: np.ndarray
    conv: np.ndarray
    scale: np.ndarray
    offset: np.ndarray
    scale_i: np.ndarray
    offset_i: np.ndarray
    small: np.ndarray
    parent: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    mux0: np.ndarray
    mux1: np.ndarray


class MessageTable(NamedTuple):
    """Per message: ``length`` (bytes), its signals ``sig0:sig1``, ``j1939`` (its frames
    carry their sender in the id's low byte) and ``sa``, the low byte of its own id (the
    source address column of a message that is not J1939 is a fill of it)."""

    length: np.ndarray
    sig0: np.ndarray
    sig1: np.ndarray
    j1939: np.ndarray
    sa: np.ndarray


class GroupTable(NamedTuple):
    """Per multiplexer group (signals selected by the same multiplexer values): its
    ``msg``, its multiplexer ``parent``, its selecting values ``ids[ids0:ids1]`` and its
    members ``members[mem0:mem1]``; per signal its group ``sig_group`` (-1: none); per
    multiplexed signal its selecting values ``mux_vals[mux0:mux1]`` (:class:`SignalTable`).
    """

    msg: np.ndarray
    parent: np.ndarray
    ids0: np.ndarray
    ids1: np.ndarray
    ids: np.ndarray
    mem0: np.ndarray
    mem1: np.ndarray
    members: np.ndarray
    sig_group: np.ndarray
    mux_vals: np.ndarray


class SimpleMux(NamedTuple):
    """Messages whose rows go to their groups by a direct table: ``sig[m]``, the one
    top-level integer multiplexer of message ``m`` whose small non-negative values each
    select one group (-1: the message has none), and ``group[dir0[m] + v]``, the group value
    ``v`` selects (-1: none)."""

    sig: np.ndarray
    dir0: np.ndarray
    dir1: np.ndarray
    group: np.ndarray


class MuxLookup(NamedTuple):
    """Every other multiplexer (nested ones, several per message, large values): message
    ``m``'s are ``sig[mux0[m]:mux1[m]]``; multiplexer ``k`` selects by the sorted entries
    ``keys[lk0[k]:lk1[k]]`` (value) and ``group`` (its group), found through ``direct``
    (``direct[dir0[k] + v]``: the first entry of value ``v``; ``dir1[k] < 0``: no direct
    table) or a binary search; its groups are ``groups[g0[k]:g1[k]]``."""

    mux0: np.ndarray
    mux1: np.ndarray
    sig: np.ndarray
    lk0: np.ndarray
    lk1: np.ndarray
    keys: np.ndarray
    group: np.ndarray
    dir0: np.ndarray
    dir1: np.ndarray
    direct: np.ndarray
    g0: np.ndarray
    g1: np.ndarray
    groups: np.ndarray


class Windows(NamedTuple):
    """Per signal, for 64-byte payloads: the window's first byte ``win`` (8 bytes of the
    row that hold the signal), the field's shifts within it ``lsh``/``rsh`` and ``nb``,
    the payload bytes a frame must carry for the signal to be present (255: never)."""

    win: np.ndarray
    lsh: np.ndarray
    rsh: np.ndarray
    nb: np.ndarray


class Frames(NamedTuple):
    """A batch's frames as the kernels read them: ``msg`` (the matched message, -1: none),
    ``payload`` (one uint64 word a frame, or ``(n, 8)`` words for 64-byte payloads),
    ``dlc``, ``time`` (int64 ns), ``channel`` and ``arbitration_id``."""

    msg: np.ndarray
    payload: np.ndarray
    dlc: np.ndarray
    time: np.ndarray
    channel: np.ndarray
    arbitration_id: np.ndarray


class Rows(NamedTuple):
    """Frames in message order: rows of message ``m`` at ``offsets[m]:offsets[m + 1]``,
    with ``payload``, ``dlc``, ``time``, ``channel`` and source address ``sa``; ``first``:
    the channel of each message's first frame."""

    offsets: np.ndarray
    payload: np.ndarray
    dlc: np.ndarray
    time: np.ndarray
    channel: np.ndarray
    sa: np.ndarray
    first: np.ndarray


class Columns(NamedTuple):
    """Decoded values: signal ``s`` of row ``i`` (of its message or group) at
    ``values[base[s] + i]``; ``out_of_range[s]`` counts values outside the DBC range."""

    base: np.ndarray
    values: np.ndarray
    out_of_range: np.ndarray


class GroupRows(NamedTuple):
    """The rows of every multiplexer group: group ``g``'s are ``rows[row_base[g]:row_base[g]
    + count[g]]`` (indices within the message, ascending), gathered with their ``time``,
    ``channel``, ``sa``, ``payload`` and ``dlc`` at the same places."""

    count: np.ndarray
    row_base: np.ndarray
    rows: np.ndarray
    time: np.ndarray
    channel: np.ndarray
    sa: np.ndarray
    payload: np.ndarray
    dlc: np.ndarray


class Wanted(NamedTuple):
    """Which optional columns a kernel writes: ``dlc`` (some frame is shorter than 8
    bytes), ``channel`` (some frame is not on channel 0), ``sa`` (a J1939 message)."""

    dlc: bool
    channel: bool
    sa: bool
