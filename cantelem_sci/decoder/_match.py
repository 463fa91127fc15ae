"""Frames to messages: which DBC message each frame is, by id, channel and J1939 PGN.

The tables are built once per database and channel names (:class:`Matcher`); the kernels
match a batch in one pass (standard ids through a direct 2048-entry table, the others by a
binary search of sorted keys).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from numba import njit


from ._messages import EXT_BIT, J1939_MASK, match_keys


@njit(cache=True, nogil=True, inline="always")
def lower_bound(keys, lo, hi, key):
    """The first index in ``lo:hi`` of the ascending ``keys`` whose key is at least ``key``
    (``hi`` when none is; binary search)."""
    while lo < hi:
        mid = (lo + hi) >> 1
        if keys[mid] < key:
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(cache=True, nogil=True, inline="always")
def lookup(keys, lo, hi, key):
    """First index of ``key`` in the sorted ``keys[lo:hi]`` (``hi`` when absent)."""
    i = lower_bound(keys, lo, hi, key)
    return i if i < hi and keys[i] == key else hi


@njit(cache=True, nogil=True, inline="always")
def _find(keys, vals, lo, hi, key):
    """``vals[i]`` where ``keys[i] == key`` in the sorted ``keys[lo:hi]``, else -1."""
    i = lookup(keys, lo, hi, key)
    return vals[i] if i < hi else -1


@njit(cache=True, nogil=True)
def match_frames(arbitration_id, is_extended, channel, usable, slot_of_channel, any_slot,
                 keys, vals, bounds, std, result, counts):
    """Message index of each frame (-1: none). Slot ``t`` owns the sorted keys
    ``keys[bounds[2t]:bounds[2t + 1]]`` (id | extended bit 31) and its J1939 keys (PGN part
    of the id | bit 31) ``keys[bounds[2t + 1]:bounds[2t + 2]]``. A frame tries the slot of its
    channel (exact id, then J1939), then the any-channel slot ``any_slot`` the same way.
    Standard (11-bit) ids are looked up directly in ``std[t, id]`` (the same entries).
    ``counts[m]`` is incremented for every frame matched to message ``m``."""
    ext_bit = np.int64(EXT_BIT)
    for f in range(arbitration_id.shape[0]):
        if not usable[f]:
            continue
        key = np.int64(arbitration_id[f]) | (ext_bit if is_extended[f] else 0)
        c = np.int64(channel[f])
        first = slot_of_channel[c] if 0 <= c < slot_of_channel.shape[0] else -1
        for t in (first, any_slot):
            if t < 0:
                continue
            hi = bounds[2 * t + 1]
            if key < 2048:
                m = std[t, key]
            else:
                m = _find(keys, vals, bounds[2 * t], hi, key)
            if m < 0 and is_extended[f]:
                m = _find(keys, vals, hi, bounds[2 * t + 2], (key & J1939_MASK) | ext_bit)
            if m >= 0:
                result[f] = m
                counts[m] += 1
                break


@njit(cache=True, nogil=True)
def match_frames_any(arbitration_id, is_extended, usable, keys, vals, bounds, std0, result,
                     counts):
    """:func:`match_frames` when every DBC applies to any channel (one slot, ``std0`` its
    direct 11-bit table), writing ``result`` for every frame (no prefill needed).

    Two passes: the first matches standard ids through the direct table and marks the
    others (extended ids, or ids above 0x7FF without the extended flag) -2; the second,
    only when some were marked, searches them in the sorted keys. The first loop is
    short enough for LLVM to keep tight: 1.6 ms against 3.4 for :func:`match_frames` on
    the sample's 758 k frames."""
    n_deferred = 0
    for f in range(arbitration_id.shape[0]):
        key = np.int64(arbitration_id[f])
        if key < 2048 and not is_extended[f]:
            m = std0[key] if usable[f] else -1
            result[f] = m
            if m >= 0:
                counts[m] += 1
        else:
            u = usable[f]
            result[f] = -2 if u else -1
            n_deferred += u
    if n_deferred == 0:
        return
    ext_bit = np.int64(EXT_BIT)
    hi = bounds[1]
    end = bounds[2]
    for f in range(arbitration_id.shape[0]):
        if result[f] != -2:
            continue
        ext = is_extended[f]
        key = np.int64(arbitration_id[f]) | (ext_bit if ext else 0)
        m = _find(keys, vals, 0, hi, key)
        if m < 0 and ext:
            m = _find(keys, vals, hi, end, (key & J1939_MASK) | ext_bit)
        result[f] = m
        if m >= 0:
            counts[m] += 1


class Matcher:
    """The match tables of a layout's ``messages`` (:class:`._layout.MessageInfo`), per
    tuple of channel names."""

    def __init__(self, messages: Sequence[Any]) -> None:
        self.messages = messages
        self._cache: dict[tuple[str, ...], tuple[Any, ...]] = {}

    def match_into(self, arbitration_id: np.ndarray, is_extended: np.ndarray,
                   channel: np.ndarray, usable: np.ndarray, channel_names: Sequence[str],
                   result: np.ndarray) -> np.ndarray:
        """Message index of each frame into ``result`` (-1: no message); returns the frame
        count of each message."""
        # (a message sharing an earlier one's id is never matched: load_dbc warns of it)
        _, slot_of_channel, any_slot, packed = self._match_tables(tuple(channel_names))
        counts = np.zeros(max(len(self.messages), 1), np.int64)
        if any_slot == 0:  # every DBC for any channel: one slot
            keys, vals, bounds, std = packed
            match_frames_any(arbitration_id, is_extended, usable, keys, vals, bounds, std[0],
                             result, counts)
        else:
            result.fill(-1)  # (the general matcher is fastest writing matched frames only)
            match_frames(arbitration_id, is_extended, channel, usable, slot_of_channel,
                         any_slot, *packed, result, counts)
        return counts[:len(self.messages)]

    def _match_tables(self, channel_names: tuple[str, ...]) -> tuple[Any, ...]:
        """The matcher's tables for these channel names (built once per names, then cached):
        one slot per channel a DBC is bound to, then the any-channel slot."""
        cache = self._cache
        if channel_names in cache:
            return cache[channel_names]
        tables: dict[Any, dict[int, int]] = {}
        j1939: dict[Any, dict[int, int]] = {}
        dup: list[str] = []
        for info in self.messages:
            keys = match_keys(info, channel_names)
            if keys is None:
                continue
            ch, k, pgn = keys
            tab = tables.setdefault(ch, {})
            if k in tab:
                dup.append(f"{info.node} ({k & 0x1FFFFFFF:#x})")
                continue
            tab[k] = info.index
            if pgn is not None:
                j1939.setdefault(ch, {}).setdefault(pgn, info.index)
        slots = sorted(c for c in tables if c is not None) + [None]
        slot_of_channel = np.full(256, -1, np.int64)
        for t, ch in enumerate(slots[:-1]):
            if 0 <= ch < 256:
                slot_of_channel[ch] = t
        packed = pack_match_tables([tables.get(c, {}) for c in slots],
                                   [j1939.get(c, {}) for c in slots])
        cache[channel_names] = (dup, slot_of_channel, len(slots) - 1, packed)
        return cache[channel_names]



def pack_match_tables(tables: Sequence[dict[int, int]], j1939: Sequence[dict[int, int]]
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Flat inputs of :func:`match_frames` for slots ``t`` with ``{key: message}`` tables
    (key: id | bit 31 when extended) and J1939 tables (key: PGN part of the id | bit 31):
    ``keys, vals, bounds, std`` (sorted keys per slot and table, and a direct 11-bit table).
    """
    bounds = np.zeros(2 * len(tables) + 1, np.int64)
    std = np.full((len(tables), 2048), -1, np.int64)
    keys: list[int] = []
    vals: list[int] = []
    for t, pair in enumerate(zip(tables, j1939)):
        for k, tab in enumerate(pair):
            for key in sorted(tab):
                keys.append(key)
                vals.append(tab[key])
            bounds[2 * t + k + 1] = len(keys)
        for key, m in tables[t].items():
            if key < 2048:
                std[t, key] = m
    return np.array(keys, np.int64), np.array(vals, np.int64), bounds, std

