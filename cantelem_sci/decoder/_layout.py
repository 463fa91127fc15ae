"""Compile a :class:`Database` into flat arrays for the numba kernels, and match frames."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from ..errors import DbcLeniencyWarning
from ._columns import small_integer
from ._dbc import Database, DbcFile
from ._kernels import (
    CONV_IDENTITY,
    CONV_INTEGER,
    CONV_LINEAR,
    KIND_F32,
    KIND_F64,
    EXT_BIT,
    J1939_MASK,
    KIND_INT,
    match_frames,
    match_frames_any,
)



@dataclass
class MessageInfo:
    index: int
    node: str  # unique node name
    message: Any  # cantools Message
    file: DbcFile
    j1939: bool
    signals: list[Any]  # cantools signals in kernel order (multiplexers first)
    sig0: int
    sig1: int


def _conversion(sig: Any) -> tuple[int, float, float, int, int]:
    conv = sig.conversion
    inner = getattr(conv, "_conversion", conv)
    name = type(inner).__name__
    scale, offset = inner.scale, inner.offset
    if name == "IdentityConversion":
        return CONV_IDENTITY, 1.0, 0.0, 1, 0
    if name == "LinearIntegerConversion":
        s_i, o_i = int(scale), int(offset)
        # exact in int64 unless the product can overflow: then float64 (documented limit)
        if sig.length + abs(s_i).bit_length() + 1 < 63 and abs(o_i) < 2**61:
            return CONV_INTEGER, float(scale), float(offset), s_i, o_i
        return CONV_LINEAR, float(scale), float(offset), 1, 0
    return CONV_LINEAR, float(scale), float(offset), 1, 0


def _position(sig: Any) -> int:
    if sig.byte_order == "little_endian":
        return int(sig.start)
    return 8 * (sig.start // 8) + (7 - sig.start % 8)


def _ordered_signals(msg: Any) -> list[Any]:
    sigs = list(msg.signals)
    names = {s.name for s in sigs}
    done: set[str] = set()
    out: list[Any] = []
    pending = sigs
    while pending:
        rest = []
        for s in pending:
            parent = s.multiplexer_signal
            if parent is None or parent in done or parent not in names:
                out.append(s)
                done.add(s.name)
            else:
                rest.append(s)
        if len(rest) == len(pending):  # a multiplexer cycle: keep them, unselected
            out.extend(rest)
            break
        pending = rest
    return out


#: Multiplexers whose selecting values are all below this use a direct lookup table.
DIRECT_KEYS = 4096


@dataclass
class GroupInfo:
    """Multiplexed signals selected by the same multiplexer values (compact form)."""

    index: int
    message: int
    parent: int  # global index of the multiplexer signal
    ids: tuple[int, ...]
    members: list[int]  # global signal indices, kernel order


class MuxGroups:
    """Flat tables of the multiplexer groups of a layout, for :mod:`._columns`.

    A group is keyed by (multiplexer signal, set of selecting values); its rows are the
    frames whose multiplexer value is one of them. Groups of nested multiplexers come after
    the group holding their multiplexer (kernel order puts parents first)."""

    def __init__(self, lay: "Layout") -> None:
        parent = lay.sig["parent"]
        n_sig = parent.shape[0]
        self.info: list[GroupInfo] = []
        self.sig_group = np.full(n_sig, -1, np.int64)
        self.is_mux = np.zeros(n_sig, np.bool_)
        mux_sig: list[int] = []
        msg_mux0, msg_mux1, lk0, lk1, g0, g1, mgroups = [], [], [], [], [], [], []
        dir0: list[int] = []
        dir1: list[int] = []
        direct: list[int] = []
        keys: list[int] = []
        grps: list[int] = []
        for info in lay.messages:
            by_key: dict[tuple[int, tuple[int, ...]], GroupInfo] = {}
            for j, s in enumerate(info.signals):
                gi = info.sig0 + j
                par = int(parent[gi])
                if par < 0:
                    continue
                ids = tuple(sorted({int(v) for v in (s.multiplexer_ids or [])}))
                g = by_key.get((par, ids))
                if g is None:
                    g = by_key[(par, ids)] = GroupInfo(len(self.info), info.index, par, ids, [])
                    self.info.append(g)
                g.members.append(gi)
                self.sig_group[gi] = g.index
                self.is_mux[par] = True
            msg_mux0.append(len(mux_sig))
            for p in sorted({g.parent for g in by_key.values()}):
                mux_sig.append(p)
                g0.append(len(mgroups))
                mgroups.extend(g.index for g in by_key.values() if g.parent == p)
                g1.append(len(mgroups))
                lk0.append(len(keys))
                entries = sorted((v, g.index) for g in by_key.values() if g.parent == p
                                 for v in g.ids)
                keys.extend(v for v, _ in entries)
                grps.extend(g for _, g in entries)
                lk1.append(len(keys))
                # direct table key -> first entry for small keys (binary search otherwise)
                dir0.append(len(direct))
                top = max((v for v, _ in entries), default=-1)
                if 0 <= min((v for v, _ in entries), default=0) and top < DIRECT_KEYS:
                    tab = [-1] * (top + 1)
                    for e in range(lk0[-1], lk1[-1]):
                        if tab[keys[e]] < 0:
                            tab[keys[e]] = e
                    direct.extend(tab)
                    dir1.append(len(direct))
                else:
                    dir1.append(-1)
            msg_mux1.append(len(mux_sig))
        i64 = np.int64
        self.msg_mux0, self.msg_mux1 = np.array(msg_mux0, i64), np.array(msg_mux1, i64)
        self.mux_sig, self.mux_lk0, self.mux_lk1 = (np.array(mux_sig, i64), np.array(lk0, i64),
                                                    np.array(lk1, i64))
        self.lk_keys, self.lk_grp = np.array(keys, i64), np.array(grps, i64)
        self.mux_g0, self.mux_g1 = np.array(g0, i64), np.array(g1, i64)
        self.mux_dir0, self.mux_dir1 = np.array(dir0, i64), np.array(dir1, i64)
        self.lk_direct = np.array(direct, i64)
        self.mux_groups = np.array(mgroups, i64)
        self.grp_msg = np.array([g.message for g in self.info], i64)
        self.grp_parent = np.array([g.parent for g in self.info], i64)
        self.grp_ids = np.array([v for g in self.info for v in g.ids], i64)
        self.grp_ids1 = np.cumsum([len(g.ids) for g in self.info], dtype=i64)
        self.grp_ids0 = self.grp_ids1 - np.array([len(g.ids) for g in self.info], i64)
        self.grp_members = np.array([s for g in self.info for s in g.members], i64)
        self.grp_mem1 = np.cumsum([len(g.members) for g in self.info], dtype=i64)
        self.grp_mem0 = self.grp_mem1 - np.array([len(g.members) for g in self.info], i64)
        self._fast_tables(lay, direct)

    def _fast_tables(self, lay: "Layout", direct: list[int]) -> None:
        """Messages whose rows :func:`._columns.partition_simple` sorts into groups by a
        direct table: one top-level integer multiplexer whose values (small, non-negative)
        each select one group. ``msg_fast[m]`` is that multiplexer (else -1);
        ``fast_grp[fast_dir0[m] + v]`` the group value ``v`` selects (-1: none). The other
        messages' multiplexers keep :func:`._columns.partition_groups`
        (``msg_mux1_slow``)."""
        n_msg = len(lay.messages)
        self.msg_fast = np.full(n_msg, -1, np.int64)
        self.fast_dir0 = np.zeros(n_msg, np.int64)
        self.fast_dir1 = np.zeros(n_msg, np.int64)
        self.msg_mux1_slow = self.msg_mux1.copy()
        table: list[int] = []
        for m in range(n_msg):
            k0, k1 = int(self.msg_mux0[m]), int(self.msg_mux1[m])
            if k1 - k0 != 1:
                continue
            p, l0, l1 = int(self.mux_sig[k0]), int(self.mux_lk0[k0]), int(self.mux_lk1[k0])
            keys = self.lk_keys[l0:l1]
            if (self.sig_group[p] >= 0 or lay.sig["kind"][p] != KIND_INT
                    or self.mux_dir1[k0] < 0 or len(set(keys.tolist())) != keys.shape[0]):
                continue
            self.msg_fast[m] = p
            self.msg_mux1_slow[m] = k0
            self.fast_dir0[m] = len(table)
            table.extend(int(self.lk_grp[e]) if e >= 0 else -1
                         for e in direct[int(self.mux_dir0[k0]):int(self.mux_dir1[k0])])
            self.fast_dir1[m] = len(table)
        self.fast_grp = np.array(table, np.int64)


def _signal_attrs(sig: Any) -> dict[str, Any]:
    attrs: dict[str, Any] = {"units": sig.unit or ""}
    if sig.minimum is not None:
        attrs["minimum"] = float(sig.minimum)
    if sig.maximum is not None:
        attrs["maximum"] = float(sig.maximum)
    if sig.choices:
        attrs["choices"] = {str(int(k)): str(v) for k, v in sig.choices.items()}
    if sig.is_multiplexer:
        attrs["multiplexer"] = "multiplexer"
    if sig.multiplexer_signal is not None:
        attrs["multiplexer"] = ("multiplexer+multiplexed" if "multiplexer" in attrs
                                else "multiplexed")
        attrs["multiplexer_signal"] = sig.multiplexer_signal
        attrs["multiplexer_ids"] = [int(v) for v in sig.multiplexer_ids or []]
    comment = sig.comment
    if comment:
        attrs["comment"] = str(comment)
    attrs["scale"] = float(sig.scale)
    attrs["offset"] = float(sig.offset)
    attrs["length_bits"] = int(sig.length)
    attrs["byte_order"] = sig.byte_order
    attrs["is_signed"] = bool(sig.is_signed)
    attrs["is_float"] = bool(sig.is_float)
    return attrs


class Layout:
    """Flat arrays describing every message and signal of a database."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.messages: list[MessageInfo] = []
        cols: dict[str, list[Any]] = {k: [] for k in (
            "pos", "length", "be", "signed", "kind", "conv", "scale", "offset", "scale_i",
            "offset_i", "parent", "mux0", "mux1")}
        mux_vals: list[int] = []
        seen_names: dict[str, int] = {}
        for f in db.files:
            auto_j1939 = db.j1939 == "auto"
            for msg in f.db.messages:
                if msg.is_container:
                    continue
                j1939 = bool(msg.is_extended_frame) and (
                    db.j1939 is True or (auto_j1939 and (msg.protocol == "j1939")))
                name = msg.name
                if name in seen_names:
                    name = f"{msg.name}_{msg.frame_id:#x}"
                    k = 2
                    while name in seen_names:
                        name = f"{msg.name}_{msg.frame_id:#x}_{k}"
                        k += 1
                seen_names[name] = 1
                sigs = _ordered_signals(msg)
                local = {s.name: i for i, s in enumerate(sigs)}
                sig0 = len(cols["pos"])
                for s in sigs:
                    conv, sc, of, sci, ofi = _conversion(s)
                    cols["pos"].append(_position(s))
                    cols["length"].append(int(s.length))
                    cols["be"].append(s.byte_order == "big_endian")
                    cols["signed"].append(bool(s.is_signed))
                    kind = KIND_INT
                    if s.is_float:
                        kind = KIND_F32 if s.length == 32 else KIND_F64
                    cols["kind"].append(kind)
                    cols["conv"].append(conv)
                    cols["scale"].append(sc)
                    cols["offset"].append(of)
                    cols["scale_i"].append(sci)
                    cols["offset_i"].append(ofi)
                    parent = s.multiplexer_signal
                    if parent is not None and parent in local:
                        cols["parent"].append(sig0 + local[parent])
                        cols["mux0"].append(len(mux_vals))
                        mux_vals.extend(int(v) for v in (s.multiplexer_ids or []))
                        cols["mux1"].append(len(mux_vals))
                    else:
                        cols["parent"].append(-1)
                        cols["mux0"].append(0)
                        cols["mux1"].append(0)
                self.messages.append(MessageInfo(len(self.messages), name, msg, f, j1939, sigs,
                                                 sig0, len(cols["pos"])))
        dt = {"pos": np.int64, "length": np.int64, "be": np.bool_, "signed": np.bool_,
              "kind": np.int8, "conv": np.int8, "scale": np.float64, "offset": np.float64,
              "scale_i": np.int64, "offset_i": np.int64, "parent": np.int64, "mux0": np.int64,
              "mux1": np.int64}
        self.sig = {k: np.asarray(v, dtype=dt[k]) for k, v in cols.items()}
        self.mux_vals = np.asarray(mux_vals, np.int64)
        self.msg_len = np.asarray([m.message.length for m in self.messages], np.int64)
        self.msg_sig0 = np.asarray([m.sig0 for m in self.messages], np.int64)
        self.msg_sig1 = np.asarray([m.sig1 for m in self.messages], np.int64)
        lo = np.full(len(cols["pos"]), np.nan)
        hi = np.full(len(cols["pos"]), np.nan)
        for info in self.messages:
            for j, s in enumerate(info.signals):
                if s.minimum is not None and s.maximum is not None and s.minimum < s.maximum:
                    lo[info.sig0 + j], hi[info.sig0 + j] = float(s.minimum), float(s.maximum)
        self.sig["lo"], self.sig["hi"] = lo, hi
        self.sig["small"] = np.array([
            k == KIND_INT and small_integer(int(ln), bool(sg), int(cv), int(si), int(oi))
            for k, ln, sg, cv, si, oi in zip(self.sig["kind"], self.sig["length"],
                                             self.sig["signed"], self.sig["conv"],
                                             self.sig["scale_i"], self.sig["offset_i"])],
            np.bool_)
        self.groups = MuxGroups(self)
        self.any_j1939 = any(m.j1939 for m in self.messages)
        # the source address column: only a J1939 message's frames carry a sender of their
        # own in the id's low byte (they match by PGN); every frame of another message has
        # that message's id, so its rows are a fill of the id's low byte (``msg_sa``), and
        # the scatters store the byte only for messages with ``msg_j1939`` (1.08-1.10x on
        # the sample vehicle with its GPS messages loaded as J1939; as shipped, the sample
        # has no J1939 message and so no source address column at all)
        self.msg_j1939 = np.array([m.j1939 for m in self.messages], np.uint8)
        self.msg_sa = np.array([int(m.message.frame_id) & 0xFF for m in self.messages],
                               np.uint8)
        self.groups_j1939 = bool(self.msg_j1939[self.groups.grp_msg].any())
        # masks for :func:`._plan.plan_rows`: the signals with a column in ``values``
        # (every one; or, in compact form on the column paths, those no multiplexer
        # selects) and the messages with multiplexers (any; not simple)
        self.sig_all = np.ones(self.sig["pos"].shape[0], np.bool_)
        self.sig_unselected = self.sig["parent"] < 0
        self.msg_muxed = self.groups.msg_mux1 > self.groups.msg_mux0
        self.msg_slow = self.groups.msg_mux1_slow > self.groups.msg_mux0

    def signal_attrs(self, s: int) -> dict[str, Any]:
        """The attrs of signal ``s`` (global index) in a decoded node: a fresh copy each call
        of attrs computed once per layout."""
        cache = self.__dict__.setdefault("_sig_attrs", {})
        if s not in cache:
            m = int(np.searchsorted(self.msg_sig1, s, side="right"))
            info = self.messages[m]
            attrs = _signal_attrs(info.signals[s - info.sig0])
            cache[s] = attrs, tuple(k for k, v in attrs.items() if isinstance(v, (dict, list)))
        attrs, nested = cache[s]
        out = attrs.copy()
        for k in nested:  # (choices, multiplexer ids)
            out[k] = out[k].copy()
        return out

    def message_attrs(self, m: int) -> dict[str, Any]:
        """The attrs of message ``m``'s node (a fresh copy each call)."""
        info = self.messages[m]
        msg = info.message
        return {
            "message": msg.name,
            "frame_id": f"{msg.frame_id:#x}",
            "is_extended": int(bool(msg.is_extended_frame)),
            "is_fd": int(bool(msg.is_fd)),
            "length": int(msg.length),
            "j1939": int(info.j1939),
            "senders": list(msg.senders or []),
            "comment": str(msg.comment or ""),
            "dbc_file": info.file.path.rsplit("/", 1)[-1],
            "dbc_sha256": info.file.sha256,
        }

    def match_into(self, arbitration_id: np.ndarray, is_extended: np.ndarray,
                   channel: np.ndarray, usable: np.ndarray, channel_names: Sequence[str],
                   result: np.ndarray) -> np.ndarray:
        """Message index of each frame into ``result`` (-1: no message); returns the frame
        count of each message."""
        dup, slot_of_channel, any_slot, packed = self._match_tables(tuple(channel_names))
        if dup:
            warnings.warn(f"{len(dup)} messages share an id with an earlier one and are never "
                          f"matched: {', '.join(dup[:10])}", DbcLeniencyWarning, stacklevel=4)
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
        cache = self.__dict__.setdefault("_match_cache", {})
        if channel_names in cache:
            return cache[channel_names]
        tables: dict[Any, dict[int, int]] = {}
        j1939: dict[Any, dict[int, int]] = {}
        dup: list[str] = []
        for info in self.messages:
            ch = info.file.channel
            if isinstance(ch, str):
                if ch not in channel_names:
                    continue
                ch = channel_names.index(ch)
            k = int(info.message.frame_id) | (EXT_BIT if info.message.is_extended_frame else 0)
            tab = tables.setdefault(ch, {})
            if k in tab:
                dup.append(f"{info.node} ({k & 0x1FFFFFFF:#x})")
                continue
            tab[k] = info.index
            if info.j1939:
                j1939.setdefault(ch, {}).setdefault((k & J1939_MASK) | EXT_BIT, info.index)
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

