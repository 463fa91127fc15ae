"""``decode(raw, db)``: raw frames to one xarray node per DBC message."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

import numpy as np

from ..errors import DecodeError, UnknownFramesWarning
from ..frames import FrameBatch
from ._channel import fill_groups, fill_messages, first_channels, scatter_channel
from ._columns import (
    compact_from_dense,
    count_out_of_range,
    decode_columns8,
    decode_groups8,
    expand_groups,
    frame_flags,
    gather_groups,
    partition_groups,
    partition_simple,
    scatter8,
)
from ._dbc import Database
from ._fused import fused8, group_bound, per_group
from ._kernels import decode_grouped, group_by_message
from ._layout import Layout
from ._memory import column
from ._memory import empty as _empty
from ._memory import zeros as _zeros
from ._plan import plan_groups, plan_rows
from ._scratch import dlc_buffer, gid_buffer, scratch_buffer, writable
from ._tree import attach_children, node_dataset, time_variable
from ._wide import BLOCK, ROW, Windows, decode_columns64, decode_groups64, gather_rows
from ._wide import scatter64, windows

if TYPE_CHECKING:  # pragma: no cover
    import xarray as xr


def signal_layout(db: Database) -> Layout:
    """The decoder's table of ``db``'s messages and signals (built once per database):
    ``layout.messages[i]`` has ``index``, ``node`` (its tree node name), ``sig0`` (its first
    signal's global index), ``signals`` (cantools signals) and ``message``; ``decode_arrays``
    results are indexed the same way.

    Example
    -------
    >>> from cantelem_sci.decoder import load_dbc
    >>> from cantelem_sci.sim import sample_dbc_path
    >>> signal_layout(load_dbc(sample_dbc_path())).messages[0].node
    'BMS_PackStatus'
    """
    return _layout(db)


def _layout(db: Database) -> Layout:
    lay = getattr(db, "_cantelem_layout", None)
    if lay is None:
        lay = Layout(db)
        db._cantelem_layout = lay  # type: ignore[attr-defined]
    return lay


MULTIPLEXED = ("dense", "compact")


def decode_arrays(batch: FrameBatch, db: Database, *,
                  multiplexed: Literal["dense", "compact"] = "dense") -> dict[str, Any]:
    """Decode a :class:`FrameBatch` into plain arrays (no xarray); used by :func:`decode`.

    Returns a dict: ``layout``; ``offsets`` (rows of message ``m`` are
    ``offsets[m]:offsets[m + 1]``) and ``counts``; per row ``time`` (int64 ns), ``channel``
    and ``source_address``; ``values`` (flat float64, signal ``s`` of row ``i`` of its
    message at ``col_base[s] + i``); ``out_of_range`` per signal; the ``unknown`` and
    ``usable`` frame masks and ``n_usable``, the usable frames. With
    ``multiplexed="compact"`` multiplexed signals are not in ``values`` but in groups
    (:class:`~._layout.MuxGroups`): ``group_count``, per group row ``group_rows`` (the row
    within the message), ``group_time``, ``group_channel``, ``group_source_address`` (row
    ``q`` of group ``g`` at ``group_row_base[g] + q``) and ``group_values`` (member ``s``
    at ``group_col_base[s] + q``). Columns that are zero throughout (``channel`` when
    every frame came on channel 0, ``source_address`` without J1939 messages, ``unknown``
    without unknown frames, and their group forms) are read-only views of one shared zero
    mapping (:func:`._memory.zeros`).
    """
    if not isinstance(db, Database):
        raise DecodeError("expected a Database from cantelem_sci.load_dbc, "
                          f"got {type(db).__name__}")
    if multiplexed not in MULTIPLEXED:
        raise DecodeError(f"multiplexed={multiplexed!r}: expected one of {', '.join(MULTIPLEXED)}")
    compact = multiplexed == "compact"
    lay = _layout(db)
    n = len(batch)
    n_msg = len(lay.messages)
    usable = np.empty(n, np.bool_)  # returned
    n_usable, all_full, with_channel = frame_flags(
        batch.is_remote.view(np.uint8), batch.is_error.view(np.uint8), batch.dlc, batch.channel,
        usable.view(np.uint8))
    msg_of_frame = scratch_buffer("msg", n, np.int32)
    counts = lay.match_into(batch.arbitration_id, batch.is_extended, batch.channel, usable,
                            batch.channel_names, msg_of_frame)
    s = lay.sig
    grp = lay.groups
    fast = batch.data.shape[1] == 8
    # CAN FD payloads: the column path through byte windows, unless a signal fits none or a
    # message that occurs has a multiplexer that is not simple (then the generic path)
    wide = (not fast and batch.data.shape[1] == ROW and _windows(lay).ok
            and not counts[lay.msg_slow].any())
    columnar = fast or wide
    # column bases in ``values``: every signal, except multiplexed ones on the compact column
    # paths
    offsets, col_base, n_values, n_muxed, max_slow, out_of_range, first = plan_rows(
        counts, lay.msg_sig0, lay.msg_sig1,
        lay.sig_unselected if compact and columnar else lay.sig_all, lay.msg_muxed,
        lay.msg_slow)
    total = int(offsets[-1])
    values = _empty(n_values, np.float64)
    row_time = _empty(total, np.int64)
    # one channel (all 0) or no J1939 message: read-only zeros that cost nothing (_memory)
    with_sa = lay.any_j1939
    row_channel = column(total, np.uint8, with_channel or not columnar)
    row_sa = column(total, np.uint8, with_sa or not columnar)
    t64 = batch.time.view(np.int64)
    # payload rows as 64-bit words: a batch made field by field may hold a strided or
    # Fortran-ordered data array (copied then; a no-op for the usual C-ordered one)
    data = np.ascontiguousarray(batch.data)
    # the channel of each message's first frame (``first``): the scatters check every frame
    # against it and the channel column is a fill unless some message comes on several
    # channels
    if with_channel and columnar and total:
        first_channels(msg_of_frame, batch.channel, counts, first)
    res: dict[str, Any] = {
        "layout": lay, "multiplexed": multiplexed, "offsets": offsets, "counts": counts,
        "time": row_time, "channel": row_channel, "source_address": row_sa, "values": values,
        "col_base": col_base, "out_of_range": out_of_range,
        "unknown": _unknown(usable, msg_of_frame, n_usable, total), "usable": usable,
        "n_usable": n_usable}
    if fast:
        rows = scratch_buffer("rows", total, np.uint64)
        # every frame full (8 bytes): the dlc column is all 8, not a scatter
        with_dlc = not all_full
        row_dlc = dlc_buffer("dlc", total, with_dlc)
        words = data.view(np.uint64).reshape(-1)
        bound = group_bound(counts, lay.msg_slow, per_group(lay))
        if bound >= 0:  # every kernel in one call (:mod:`._fused`)
            groups = fused8(lay, batch, msg_of_frame, words, t64, offsets, col_base, values,
                             out_of_range, rows, row_dlc, row_time, first, row_channel, row_sa,
                             with_dlc, with_channel, with_sa, n_muxed, bound,
                             res if compact else None)
        else:
            if with_sa:  # the rows of messages other than J1939 ones: a fill (_layout)
                fill_messages(offsets, lay.msg_sa, row_sa)
            mixed = scatter8(msg_of_frame, offsets, words, batch.dlc, t64, batch.channel,
                             batch.arbitration_id, rows, row_dlc, row_time, first,
                             writable(row_sa), lay.msg_j1939, with_dlc, with_channel, with_sa)
            _channel_column(with_channel, mixed, msg_of_frame, offsets, batch.channel, first,
                            row_channel)
            decode_columns8(rows, row_dlc, offsets, lay.msg_len, lay.msg_sig0, lay.msg_sig1,
                            s["pos"], s["length"], s["be"], s["signed"], s["kind"], s["conv"],
                            s["scale"], s["offset"], s["scale_i"], s["offset_i"], s["small"],
                            s["parent"], s["lo"], s["hi"], col_base, values, out_of_range)
            groups = _groups8(lay, offsets, col_base, values, out_of_range, rows, row_dlc,
                              row_time, row_channel, row_sa, with_dlc, with_channel, with_sa,
                              first if with_channel and not mixed else None, n_muxed,
                              max_slow)
        if compact:
            if bound < 0:  # (:func:`._fused.fused8` has put them in)
                res.update(groups)
        else:  # each multiplexed column: NaN, and its group's values at the group's rows
            expand_groups(values, col_base, offsets, grp.grp_msg, grp.grp_mem0, grp.grp_mem1,
                          grp.grp_members, groups["group_row_base"], groups["group_count"],
                          groups["group_rows"], groups["group_values"],
                          groups["group_col_base"])
        return res
    if wide:
        win = _windows(lay)
        rows64 = scratch_buffer("rows64", total * 8, np.uint64).reshape(total, 8)
        row_dlc = dlc_buffer("dlc", total, True)  # (scatter64 writes it)
        if with_sa:
            fill_messages(offsets, lay.msg_sa, row_sa)
        mixed = scatter64(msg_of_frame, offsets, lay.msg_len, data.view(np.uint64), batch.dlc,
                          t64, batch.channel, batch.arbitration_id, rows64, row_dlc, row_time,
                          first, writable(row_sa), lay.msg_j1939, True, with_channel, with_sa)
        _channel_column(with_channel, mixed, msg_of_frame, offsets, batch.channel, first,
                        row_channel)
        cols = scratch_buffer("wcols", 8 * BLOCK, np.uint64).reshape(8, BLOCK)
        decode_columns64(rows64, row_dlc, offsets, lay.msg_len, lay.msg_sig0, lay.msg_sig1,
                         win.win, win.lsh, win.rsh, win.nb, s["length"], s["be"], s["signed"],
                         s["kind"], s["conv"], s["scale"], s["offset"], s["scale_i"],
                         s["offset_i"], s["small"], s["parent"], s["lo"], s["hi"], col_base,
                         values, out_of_range, cols, scratch_buffer("wwords", BLOCK, np.uint64))
        groups = _groups64(lay, win, offsets, col_base, values, out_of_range, rows64,
                           row_dlc, row_time, row_channel, row_sa, with_channel, with_sa,
                           first if with_channel and not mixed else None, n_muxed)
        if compact:
            res.update(groups)
        else:
            expand_groups(values, col_base, offsets, grp.grp_msg, grp.grp_mem0, grp.grp_mem1,
                          grp.grp_members, groups["group_row_base"], groups["group_count"],
                          groups["group_rows"], groups["group_values"],
                          groups["group_col_base"])
        return res
    if n_msg and total:
        _, _, order = group_by_message(msg_of_frame, n_msg)
        np.take(t64, order, out=row_time)
        np.take(batch.channel, order, out=row_channel)
        np.bitwise_and(batch.arbitration_id[order], 0xFF, out=row_sa, casting="unsafe")
        decode_grouped(batch.data, batch.dlc, order, offsets, counts, lay.msg_len,
                       lay.msg_sig0, lay.msg_sig1, s["pos"], s["length"], s["be"], s["signed"],
                       s["kind"], s["conv"], s["scale"], s["offset"], s["scale_i"],
                       s["offset_i"], s["parent"], s["mux0"], s["mux1"], lay.mux_vals,
                       col_base, values)
        count_out_of_range(values, col_base, np.repeat(counts, lay.msg_sig1 - lay.msg_sig0),
                           s["lo"], s["hi"], out_of_range)
    if compact:
        (grp_row_base, grp_count, grp_rows, gcol_base, gvalues, grp_time, grp_channel,
         grp_sa) = compact_from_dense(
            values, col_base, offsets, grp.grp_msg, grp.grp_parent, grp.grp_ids0,
            grp.grp_ids1, grp.grp_ids, grp.grp_mem0, grp.grp_mem1, grp.grp_members,
            s["pos"].shape[0], row_time, row_channel, row_sa)
        res.update(group_count=grp_count, group_row_base=grp_row_base, group_rows=grp_rows,
                   group_time=grp_time, group_channel=grp_channel,
                   group_source_address=grp_sa, group_values=gvalues,
                   group_col_base=gcol_base)
    return res


def _unknown(usable: np.ndarray, msg_of_frame: np.ndarray, n_usable: int,
             matched: int) -> np.ndarray:
    """Usable frames that no message matched (read-only zeros, :func:`._memory.zeros`, when
    there are none)."""
    if n_usable == matched:
        return _zeros(usable.shape[0], np.bool_)
    return usable & (msg_of_frame < 0)


def _channel_column(with_channel: bool, mixed: bool, msg_of_frame: np.ndarray,
                    offsets: np.ndarray, channel: np.ndarray, first: np.ndarray,
                    row_channel: np.ndarray) -> None:
    """The channel of every row after a column-path scatter (:mod:`._channel`): a fill per
    message, or, when some message came on several channels, a scatter of its own."""
    if not with_channel:
        return
    if mixed:
        scatter_channel(msg_of_frame, offsets, channel, row_channel)
    else:
        fill_messages(offsets, first, row_channel)


def _simple_partition(lay: Layout, offsets: np.ndarray, col_base: np.ndarray,
                      values: np.ndarray, n_rows: int, n_muxed: int
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """The rows of the simple multiplexers' groups (:func:`partition_simple`; ``n_muxed``:
    the rows of the messages with multiplexers): returns
    ``(grp_count, grp_row_base, grp_rows, used)``."""
    grp = lay.groups
    n_grp = len(grp.info)
    grp_count = np.zeros(n_grp, np.int64)
    grp_row_base = np.zeros(n_grp, np.int64)
    grp_rows = _empty(n_muxed, np.int64)  # returned: fresh, not scratch
    used = partition_simple(values, col_base, offsets, grp.msg_fast, grp.fast_dir0,
                            grp.fast_dir1, grp.fast_grp, grp_count, grp_row_base, grp_rows,
                            gid_buffer(n_rows, n_grp))
    return grp_count, grp_row_base, grp_rows, used


def _group_outputs(lay: Layout, grp_count: np.ndarray, used: int, with_channel: bool,
                   with_sa: bool) -> tuple[np.ndarray, ...]:
    """The group columns to fill: ``(gcol_base, gvalues, grp_time, grp_channel, grp_sa)``
    (member ``s`` of group row ``q`` at ``gvalues[gcol_base[s] + q]``)."""
    gcol_base, n_values = plan_groups(grp_count, lay.groups.sig_group)
    gvalues = _empty(n_values, np.float64)
    grp_time = _empty(used, np.int64)
    # one channel (all 0) or no J1939 message: read-only zeros that cost nothing (_memory)
    grp_channel = column(used, np.uint8, with_channel)
    grp_sa = column(used, np.uint8, with_sa)
    return gcol_base, gvalues, grp_time, grp_channel, grp_sa


def _group_result(grp_count: np.ndarray, grp_row_base: np.ndarray, grp_rows: np.ndarray,
                  used: int, outputs: tuple[np.ndarray, ...]) -> dict[str, Any]:
    """The ``group_*`` entries of :func:`decode_arrays`."""
    gcol_base, gvalues, grp_time, grp_channel, grp_sa = outputs
    return dict(group_count=grp_count, group_row_base=grp_row_base,
                group_rows=grp_rows[:used], group_time=grp_time,
                group_channel=grp_channel, group_source_address=grp_sa,
                group_values=gvalues, group_col_base=gcol_base)


def _groups8(lay: Layout, offsets: np.ndarray, col_base: np.ndarray, values: np.ndarray,
             out_of_range: np.ndarray, rows: np.ndarray, row_dlc: np.ndarray,
             row_time: np.ndarray, row_channel: np.ndarray, row_sa: np.ndarray,
             with_dlc: bool, with_channel: bool, with_sa: bool, first: np.ndarray | None,
             n_muxed: int, max_slow: int) -> dict[str, Any]:
    """The multiplexer groups of 8-byte frames in message order (compact form): the rows of
    each group (simple multiplexers by a direct table, the others by
    :func:`partition_groups`), then each group gathered and decoded. Returns the
    ``group_*`` entries of :func:`decode_arrays`. ``first``: the channel of each message
    when every frame of a message came on one channel (then filled, not gathered).
    ``n_muxed``, ``max_slow``: from :func:`._plan.plan_rows`."""
    s = lay.sig
    grp = lay.groups
    grp_count, grp_row_base, grp_rows, used = _simple_partition(lay, offsets, col_base, values,
                                                                rows.shape[0], n_muxed)
    if max_slow:
        grp_rows, used = partition_groups(
            rows, row_dlc, offsets, lay.msg_len, grp.msg_mux0, grp.msg_mux1_slow, grp.mux_sig,
            grp.mux_lk0, grp.mux_lk1, grp.lk_keys, grp.lk_grp, grp.mux_dir0, grp.mux_dir1,
            grp.lk_direct, grp.mux_g0, grp.mux_g1, grp.mux_groups, grp.sig_group, s["pos"],
            s["length"], s["be"], s["signed"], s["kind"], s["conv"], s["scale"], s["offset"],
            s["scale_i"], s["offset_i"], col_base, values, grp_row_base, grp_count, used,
            scratch_buffer("first", max_slow, np.int64), grp_rows)
    outputs = _group_outputs(lay, grp_count, used, with_channel, with_sa)
    gcol_base, gvalues, grp_time, grp_channel, grp_sa = outputs
    words = scratch_buffer("gwords", used, np.uint64)
    dls = dlc_buffer("gdlc", used, with_dlc)
    gather_groups(rows, row_dlc, offsets, grp.grp_msg, grp_row_base, grp_count, grp_rows,
                  row_time, writable(row_channel), writable(row_sa), with_dlc,
                  with_channel and first is None, with_sa and lay.groups_j1939, words, dls,
                  grp_time, writable(grp_channel), writable(grp_sa))
    if with_channel and first is not None:
        fill_groups(grp.grp_msg, grp_row_base, grp_count, first, grp_channel)
    if with_sa and not lay.groups_j1939:  # no J1939 message with groups: a fill
        fill_groups(grp.grp_msg, grp_row_base, grp_count, lay.msg_sa, grp_sa)
    decode_groups8(words, dls, lay.msg_len, grp.grp_msg, grp.grp_mem0, grp.grp_mem1,
                   grp.grp_members, grp_row_base, grp_count, s["pos"], s["length"], s["be"],
                   s["signed"], s["kind"], s["conv"], s["scale"], s["offset"], s["scale_i"],
                   s["offset_i"], s["small"], s["lo"], s["hi"], gcol_base, gvalues,
                   out_of_range)
    return _group_result(grp_count, grp_row_base, grp_rows, used, outputs)


def _windows(lay: Layout) -> Windows:
    """The FD byte windows of the layout's signals (computed once per layout)."""
    w = getattr(lay, "_cantelem_windows", None)
    if w is None:
        s = lay.sig
        w = windows(s["pos"], s["length"], s["be"],
                    np.repeat(lay.msg_len, lay.msg_sig1 - lay.msg_sig0))
        lay._cantelem_windows = w  # type: ignore[attr-defined]
    return w


def _groups64(lay: Layout, win: Windows, offsets: np.ndarray, col_base: np.ndarray,
              values: np.ndarray, out_of_range: np.ndarray, rows64: np.ndarray,
              row_dlc: np.ndarray, row_time: np.ndarray, row_channel: np.ndarray,
              row_sa: np.ndarray, with_channel: bool, with_sa: bool,
              first: np.ndarray | None, n_muxed: int) -> dict[str, Any]:
    """:func:`_groups8` for 64-byte rows (simple multiplexers only): the same partition, then
    each member read through its window from the group's rows. ``first``: as for
    :func:`_groups8`."""
    s = lay.sig
    grp = lay.groups
    grp_count, grp_row_base, grp_rows, used = _simple_partition(lay, offsets, col_base, values,
                                                                row_dlc.shape[0], n_muxed)
    outputs = _group_outputs(lay, grp_count, used, with_channel, with_sa)
    gcol_base, gvalues, grp_time, grp_channel, grp_sa = outputs
    gather_rows(offsets, grp.grp_msg, grp_row_base, grp_count, grp_rows, row_time,
                writable(row_channel), writable(row_sa), with_channel and first is None,
                with_sa and lay.groups_j1939, grp_time, writable(grp_channel),
                writable(grp_sa))
    if with_channel and first is not None:
        fill_groups(grp.grp_msg, grp_row_base, grp_count, first, grp_channel)
    if with_sa and not lay.groups_j1939:
        fill_groups(grp.grp_msg, grp_row_base, grp_count, lay.msg_sa, grp_sa)
    decode_groups64(rows64, row_dlc, offsets, lay.msg_len, grp.grp_msg, grp.grp_mem0,
                    grp.grp_mem1, grp.grp_members, grp_row_base, grp_count, grp_rows, win.win,
                    win.lsh, win.rsh, win.nb, s["length"], s["be"], s["signed"], s["kind"],
                    s["conv"], s["scale"], s["offset"], s["scale_i"], s["offset_i"], s["small"],
                    s["lo"], s["hi"], gcol_base, gvalues, out_of_range,
                    scratch_buffer("wcols", 8 * BLOCK, np.uint64).reshape(8, BLOCK),
                    scratch_buffer("wdlc", BLOCK, np.uint8),
                    scratch_buffer("wwords", BLOCK, np.uint64))
    return _group_result(grp_count, grp_row_base, grp_rows, used, outputs)


#: A signal of a node: global index, variable name, whether it has a range (then its
#: out-of-range count goes into its attrs), its group (-1: none) and its value table
_Sig = tuple[int, str, bool, int, Any]


class _NodePlan(NamedTuple):
    """What :func:`decode` makes each node of, computed once per layout.

    ``messages``: per message ``(index, node name, J1939, every signal, the signals no
    multiplexer selects)``; ``groups``: per multiplexer group ``(index, node path, message
    index, member signals, multiplexer name, multiplexer ids, message name)``."""

    messages: list[tuple[int, str, bool, tuple[_Sig, ...], tuple[_Sig, ...]]]
    groups: list[tuple[int, str, int, tuple[_Sig, ...], str, tuple[int, ...], str]]


def _node_plan(lay: Layout) -> _NodePlan:
    plan = getattr(lay, "_cantelem_nodes", None)
    if plan is not None:
        return plan
    grp = lay.groups
    sig_group = grp.sig_group.tolist()

    def sig(s: int, info: Any, taken: set[str]) -> _Sig:
        sg = info.signals[s - info.sig0]
        attrs = lay.signal_attrs(s)
        ranged = ("minimum" in attrs and "maximum" in attrs
                  and attrs["minimum"] < attrs["maximum"])
        name = sg.name if sg.name not in taken else f"{sg.name}_signal"
        return (s, name, ranged, sig_group[s], sg.choices)

    def taken(info: Any) -> set[str]:
        return {"time", "channel", "source_address"} if info.j1939 else {"time", "channel"}

    messages = []
    for info in lay.messages:
        every = tuple(sig(info.sig0 + j, info, taken(info)) for j in range(len(info.signals)))
        unmuxed = tuple(x for x in every if lay.sig["parent"][x[0]] < 0)
        messages.append((info.index, info.node, bool(info.j1939), every, unmuxed))
    groups = []
    path: dict[int, str] = {}
    for g in grp.info:
        info = lay.messages[g.message]
        parent_sig = info.signals[g.parent - info.sig0]
        label = f"[{parent_sig.name}={','.join(str(v) for v in g.ids) or 'none'}]"
        pg = int(grp.sig_group[g.parent])
        path[g.index] = f"{path[pg] if pg >= 0 else info.node}{label}"
        groups.append((g.index, path[g.index], g.message,
                       tuple(sig(s, info, taken(info)) for s in g.members), parent_sig.name,
                       tuple(g.ids), info.message.name))
    plan = _NodePlan(messages, groups)
    lay._cantelem_nodes = plan  # type: ignore[attr-defined]
    return plan


def _labels(values: np.ndarray, choices: dict[Any, Any]) -> np.ndarray:
    table = {int(k): str(v) for k, v in choices.items()}
    out = np.empty(values.shape[0], object)
    for i, v in enumerate(values):
        if v != v:
            out[i] = None
        else:
            iv = int(v)
            out[i] = table.get(iv, v) if iv == v else v
    return out


def decode(raw: Any, db: Database, *, decode_choices: bool = False,
           multiplexed: Literal["dense", "compact"] = "dense") -> "xr.DataTree":
    """Decode raw frames into physical signals, one DataTree child per DBC message.

    Parameters
    ----------
    raw
        A raw-frame Dataset (:func:`cantelem_sci.frames`, :func:`cantelem_sci.read_log`)
        or a :class:`~cantelem_sci.frames.FrameBatch`.
    db
        A :class:`Database` from :func:`cantelem_sci.load_dbc`.
    decode_choices
        Return signals that have a value table as labels (object arrays) instead of
        numbers; values without a label stay numbers.
    multiplexed
        ``"dense"`` (default): multiplexed signals are variables of their message's node,
        NaN in frames whose multiplexer does not select them (built from the compact form
        when a column is first read, then cached). ``"compact"``: they are
        grouped by the multiplexer values that select them, each group a node beside its
        message's (``"BMS_CellVoltages[CellGroup=3]"``; a nested multiplexer's groups add
        their own brackets) with its own ``time`` axis holding only the frames that select
        it. Same values, without
        the NaN rows: a 96-cell battery message multiplexed 24 ways is 24x smaller and
        decodes several times faster.

    Returns
    -------
    xarray.DataTree
        One child per message that occurs in ``raw``, named by the message (made unique
        with its id when a name repeats). Each child has a ``time`` coordinate, a
        ``channel`` coordinate (and ``source_address`` for J1939 messages) and one float64
        variable per signal: the value cantools gives with ``scaling=True,
        decode_choices=False``, NaN where the signal is absent from the frame. Root attrs
        count the frames: total, decoded, unknown (by id), remote and error frames.

    Example
    -------
    >>> import cantelem_sci as ct
    >>> db = ct.load_dbc(ct.sample_dbc_path())
    >>> raw = ct.simulate_fleet(n_vehicles=1, duration_s=2, seed=1)["EV0001"]
    >>> tree = ct.decode(raw, db)
    >>> float(tree["BMS_PackStatus"]["PackVoltage"].mean()) > 300
    True
    """
    import xarray as xr

    from ._lazy import ExpandedColumn, lazy_variable

    batch = raw if isinstance(raw, FrameBatch) else FrameBatch.from_dataset(raw)
    if multiplexed not in MULTIPLEXED:
        raise DecodeError(f"multiplexed={multiplexed!r}: expected one of {', '.join(MULTIPLEXED)}")
    # both forms decode the compact way; the dense one expands multiplexed columns lazily
    res = decode_arrays(batch, db, multiplexed="compact")
    lay: Layout = res["layout"]
    offsets, counts, values = res["offsets"], res["counts"], res["values"]
    times = res["time"].view("datetime64[ns]")
    oor = res["out_of_range"]
    channel_names = list(batch.channel_names)
    compact = multiplexed == "compact"

    plan = _node_plan(lay)
    oor_of = oor.tolist()
    base_of = res["col_base"].tolist()
    gbase_of = res["group_col_base"].tolist()

    def variables(sigs: tuple[_Sig, ...], cols: np.ndarray, base: list[int],
                  cnt: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for s, name, ranged, g, choices in sigs:
            attrs = lay.signal_attrs(s)
            if ranged:
                attrs["out_of_range_count"] = oor_of[s]
            if cols is values and g >= 0:  # dense form of a multiplexed signal
                r0, gc = res["group_row_base"][g], int(res["group_count"][g])
                gb = gbase_of[s]
                lazy = ExpandedColumn(res["group_values"][gb:gb + gc],
                                      res["group_rows"][r0:r0 + gc], cnt)
                if not (decode_choices and choices):
                    out[name] = lazy_variable(lazy, attrs)
                    continue
                col = lazy.dense()
            else:
                col = cols[base[s]:base[s] + cnt]
            if decode_choices and choices:
                out[name] = xr.Variable("time", _labels(col, choices), attrs=attrs)
            else:  # float64 arrays: xarray's conversions of the data are no-ops here
                out[name] = time_variable(col, attrs)
        return out

    def coords(t: np.ndarray, ch: np.ndarray, sa: np.ndarray, j1939: bool) -> dict[str, Any]:
        c: dict[str, Any] = {"time": t, "channel": time_variable(ch, {
            "channel_names": list(channel_names)})}
        if j1939:
            c["source_address"] = time_variable(sa, None)
        return c

    offsets_of = offsets.tolist()
    counts_of = counts.tolist()
    children: dict[str, xr.Dataset] = {}
    for m, node, j1939, every, unmuxed in plan.messages:
        cnt = counts_of[m]
        if cnt == 0:
            continue
        r0, r1 = offsets_of[m], offsets_of[m + 1]
        c = coords(times[r0:r1], res["channel"][r0:r1], res["source_address"][r0:r1], j1939)
        children[node] = node_dataset(variables(unmuxed if compact else every, values, base_of,
                                                cnt), c, lay.message_attrs(m))
    if compact:
        grp_count = res["group_count"].tolist()
        grp_row_base = res["group_row_base"].tolist()
        for g, path, m, sigs, mux_name, ids, message in plan.groups:
            cnt = grp_count[g]
            if cnt == 0 or counts_of[m] == 0:
                continue
            r0 = grp_row_base[g]
            c = coords(res["group_time"][r0:r0 + cnt].view("datetime64[ns]"),
                       res["group_channel"][r0:r0 + cnt],
                       res["group_source_address"][r0:r0 + cnt], lay.messages[m].j1939)
            children[path] = node_dataset(
                variables(sigs, res["group_values"], gbase_of, cnt), c,
                {"multiplexer_signal": mux_name, "multiplexer_ids": list(ids),
                 "message": message})
    unknown = res["unknown"]
    # every usable frame not decoded is unknown; remote and error frames are the others
    # (counted only when there are any: each pass over the frames costs here)
    n_decoded = sum(counts_of)
    n_unknown = res["n_usable"] - n_decoded
    every_usable = res["n_usable"] == len(batch)
    root_attrs: dict[str, Any] = {
        "frames_total": len(batch),
        "frames_decoded": n_decoded,
        "frames_unknown": n_unknown,
        "frames_remote": 0 if every_usable else int(np.count_nonzero(batch.is_remote)),
        "frames_error": 0 if every_usable else int(np.count_nonzero(batch.is_error)),
        "dbc_sha256": db.sha256,
        "dbc_files": [f.path.rsplit("/", 1)[-1] for f in db.files],
        "channel_names": list(batch.channel_names),
    }
    if n_unknown:
        ids = batch.arbitration_id[unknown].astype(np.int64) | (
            batch.is_extended[unknown].astype(np.int64) << 31)
        uniq, cnt = np.unique(ids, return_counts=True)
        top = np.argsort(-cnt, kind="stable")
        shown = [f"{int(uniq[i]) & 0x1FFFFFFF:#x}{'x' if uniq[i] >> 31 else ''}" for i in top]
        root_attrs["unknown_ids"] = shown
        root_attrs["unknown_id_counts"] = [int(cnt[i]) for i in top]
        summary = ", ".join(f"{s} ({int(cnt[i])})" for s, i in zip(shown[:8], top[:8]))
        warnings.warn(f"{n_unknown} of {len(batch)} frames have {len(uniq)} ids that no DBC "
                      f"describes: {summary}{' ...' if len(uniq) > 8 else ''} "
                      "(see tree.attrs['unknown_ids'])", UnknownFramesWarning, stacklevel=2)
    tree = xr.DataTree(dataset=xr.Dataset(attrs=root_attrs))
    # the nodes as they are: DataTree(children=...) and DataTree.from_dict copy every node
    # first, and attaching checks each against the (empty) root
    attach_children(tree, children)
    return tree
