"""A :class:`Database` compiled into the tables of the numba kernels (:mod:`._tables`)."""

from __future__ import annotations

import functools
import weakref
from typing import Any

import numpy as np

from ._bits import small_integer
from ._dbc import Database
from ._messages import MessageInfo, _conversion, _position, message_infos  # noqa: F401
from ._groups import MuxGroups
from ._match import Matcher
from ._nodes import NodePlan, node_plan
from ._tables import (
    KIND_F32,
    KIND_F64,
    KIND_INT,
    MessageTable,
    SignalTable,
    Windows,
)

#: Bytes of a CAN FD payload row.
ROW = 64
#: Windows start at bytes 0..LAST_WINDOW (a window is 8 bytes of a 64-byte row).
LAST_WINDOW = ROW - 8


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
        for info in message_infos(db):
            sigs = info.signals
            local = {s.name: i for i, s in enumerate(sigs)}
            sig0 = info.sig0
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
            self.messages.append(info)
        dt = {"pos": np.int64, "length": np.int64, "be": np.bool_, "signed": np.bool_,
              "kind": np.int8, "conv": np.int8, "scale": np.float64, "offset": np.float64,
              "scale_i": np.int64, "offset_i": np.int64, "parent": np.int64, "mux0": np.int64,
              "mux1": np.int64}
        sig = {k: np.asarray(v, dtype=dt[k]) for k, v in cols.items()}
        self.mux_vals = np.asarray(mux_vals, np.int64)
        lo = np.full(len(cols["pos"]), np.nan)
        hi = np.full(len(cols["pos"]), np.nan)
        for info in self.messages:
            for j, s in enumerate(info.signals):
                if s.minimum is not None and s.maximum is not None and s.minimum < s.maximum:
                    lo[info.sig0 + j], hi[info.sig0 + j] = float(s.minimum), float(s.maximum)
        small = np.array([
            k == KIND_INT and small_integer(int(ln), bool(sg), int(cv), int(si), int(oi))
            for k, ln, sg, cv, si, oi in zip(sig["kind"], sig["length"], sig["signed"],
                                             sig["conv"], sig["scale_i"], sig["offset_i"])],
            np.bool_)
        self.sigs = SignalTable(
            sig["pos"], sig["length"], sig["be"], sig["signed"], sig["kind"], sig["conv"],
            sig["scale"], sig["offset"], sig["scale_i"], sig["offset_i"], small, sig["parent"],
            lo, hi, sig["mux0"], sig["mux1"])
        # the source address column: only a J1939 message's frames carry a sender of their
        # own in the id's low byte (they match by PGN); every frame of another message has
        # that message's id, so its rows are a fill of the id's low byte (``msgs.sa``), and
        # the scatters store the byte only for messages with ``msgs.j1939``
        self.msgs = MessageTable(
            np.asarray([m.message.length for m in self.messages], np.int64),
            np.asarray([m.sig0 for m in self.messages], np.int64),
            np.asarray([m.sig1 for m in self.messages], np.int64),
            np.array([m.j1939 for m in self.messages], np.uint8),
            np.array([int(m.message.frame_id) & 0xFF for m in self.messages], np.uint8))
        self.groups = MuxGroups(self)
        self.any_j1939 = any(m.j1939 for m in self.messages)
        self.groups_j1939 = bool(self.msgs.j1939[self.groups.grp_msg].any())
        # masks for :func:`._plan.plan_rows`: the signals with a column in ``values``
        # (every one; or, in compact form on the column paths, those no multiplexer
        # selects) and the messages with multiplexers (any; not simple)
        self.sig_all = np.ones(self.sigs.pos.shape[0], np.bool_)
        self.sig_unselected = self.sigs.parent < 0
        self.msg_muxed = self.groups.msg_mux1 > self.groups.msg_mux0
        self.msg_slow = self.groups.msg_mux1_slow > self.groups.msg_mux0
        self.matcher = Matcher(self.messages)

    @functools.cached_property
    def windows(self) -> Windows | None:
        """The 8-byte window of every signal in a 64-byte payload row, or None when some
        signal fits none (spans more than 8 bytes): then FD frames take the generic path.
        A window starts at byte ``o`` so that the signal lies inside it; the signal's
        position is taken relative to it in both byte orders, so the classic column kernel
        decodes it unchanged."""
        s = self.sigs
        return windows(s.pos, s.length, s.be, np.repeat(self.msgs.length, s_count(self)))

    @functools.cached_property
    def nodes(self) -> NodePlan:
        """What each node of a decoded tree is made of (:mod:`._nodes`)."""
        return node_plan(self)

    @functools.cached_property
    def per_group(self) -> np.ndarray:
        """Per message: the members of each group of its simple multiplexer when every group
        has as many, -1 when they differ, 0 without one (:func:`._plan.group_bound`)."""
        grp = self.groups
        out = np.zeros(len(self.messages), np.int64)
        for g in range(grp.grp_msg.shape[0]):
            m = int(grp.grp_msg[g])
            if grp.msg_fast[m] < 0:
                continue
            k = int(grp.grp_mem1[g] - grp.grp_mem0[g])
            out[m] = k if out[m] in (0, k) else -1
        return out

    def signal_attrs(self, s: int) -> dict[str, Any]:
        """The attrs of signal ``s`` (global index) in a decoded node: a fresh copy each call
        of attrs computed once per layout."""
        cache = self.__dict__.setdefault("_sig_attrs", {})
        if s not in cache:
            m = int(np.searchsorted(self.msgs.sig1, s, side="right"))
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


def s_count(lay: Layout) -> np.ndarray:
    """The number of signals of each message."""
    return lay.msgs.sig1 - lay.msgs.sig0


def windows(pos: np.ndarray, length: np.ndarray, be: np.ndarray, sig_msg_len: np.ndarray
            ) -> Windows | None:
    """The window of every signal (``sig_msg_len``: the length of the signal's message), or
    None when some signal fits no window.

    Example
    -------
    >>> w = windows(np.array([0, 100, 8]), np.array([16, 20, 64]), np.array([False, True, False]),
    ...             np.array([64, 64, 64]))
    >>> w.win.tolist(), w.nb.tolist()
    ([0, 12, 1], [2, 15, 9])
    """
    n = pos.shape[0]
    win = np.zeros(n, np.int64)
    lsh = np.zeros(n, np.uint64)
    rsh = np.zeros(n, np.uint64)
    nb = np.full(n, 255, np.int64)
    for s in range(n):
        p, ln = int(pos[s]), int(length[s])
        first, last = p >> 3, (p + ln - 1) >> 3
        o = max(0, min(first, LAST_WINDOW))
        if last >= o + 8 or ln < 1 or ln > 64:
            return None
        q = p - 8 * o  # the position within the window
        sh = 64 - q - ln if be[s] else q
        win[s], lsh[s], rsh[s] = o, 64 - sh - ln, 64 - ln
        need = (p + ln + 7) >> 3
        if need <= int(sig_msg_len[s]):
            nb[s] = need
    return Windows(win, lsh, rsh, nb)


_layouts: "weakref.WeakKeyDictionary[Database, Layout]" = weakref.WeakKeyDictionary()


def layout_of(db: Database) -> Layout:
    """The layout of ``db``, built on first use and kept while ``db`` lives."""
    lay = _layouts.get(db)
    if lay is None:
        lay = _layouts[db] = Layout(db)
    return lay
