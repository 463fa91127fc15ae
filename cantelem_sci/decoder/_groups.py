"""Multiplexer groups: which signals each multiplexer value selects, as flat tables.

A group is keyed by (multiplexer signal, set of selecting values); its rows are the frames
whose multiplexer value is one of them. Groups of nested multiplexers come after the group
holding their multiplexer (kernel order puts parents first).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ._tables import KIND_INT, GroupTable, MuxLookup, SimpleMux

if TYPE_CHECKING:  # pragma: no cover
    from ._layout import Layout


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
    """The multiplexer groups of a layout: ``info`` (one :class:`GroupInfo` each) and the
    kernels' tables ``table`` (:class:`._tables.GroupTable`), ``simple``
    (:class:`._tables.SimpleMux`) and ``lookup`` (:class:`._tables.MuxLookup`)."""

    def __init__(self, lay: "Layout") -> None:
        parent = lay.sigs.parent
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
        self.table = GroupTable(self.grp_msg, self.grp_parent, self.grp_ids0, self.grp_ids1,
                                self.grp_ids, self.grp_mem0, self.grp_mem1, self.grp_members,
                                self.sig_group, lay.mux_vals)
        self.simple = SimpleMux(self.msg_fast, self.fast_dir0, self.fast_dir1, self.fast_grp)
        self.lookup = MuxLookup(self.msg_mux0, self.msg_mux1_slow, self.mux_sig, self.mux_lk0,
                                self.mux_lk1, self.lk_keys, self.lk_grp, self.mux_dir0,
                                self.mux_dir1, self.lk_direct, self.mux_g0, self.mux_g1,
                                self.mux_groups)

    def _fast_tables(self, lay: "Layout", direct: list[int]) -> None:
        """Messages whose rows :func:`._partition.partition_simple` sorts into groups by a
        direct table: one top-level integer multiplexer whose values (small, non-negative)
        each select one group. ``msg_fast[m]`` is that multiplexer (else -1);
        ``fast_grp[fast_dir0[m] + v]`` the group value ``v`` selects (-1: none). The other
        messages' multiplexers keep :func:`._partition.partition_groups`
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
            if (self.sig_group[p] >= 0 or lay.sigs.kind[p] != KIND_INT
                    or self.mux_dir1[k0] < 0 or len(set(keys.tolist())) != keys.shape[0]):
                continue
            self.msg_fast[m] = p
            self.msg_mux1_slow[m] = k0
            self.fast_dir0[m] = len(table)
            table.extend(int(self.lk_grp[e]) if e >= 0 else -1
                         for e in direct[int(self.mux_dir0[k0]):int(self.mux_dir1[k0])])
            self.fast_dir1[m] = len(table)
        self.fast_grp = np.array(table, np.int64)
