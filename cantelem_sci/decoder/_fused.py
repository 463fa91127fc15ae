"""The classic-CAN column path in one kernel call, for batches whose group sizes are known
before the kernels run.

:func:`._decode.decode_arrays` runs six large kernels on 8-byte payloads (scatter, columns,
partition, gather, group members, and the channel fill). Between two of them the
interpreter allocates the next outputs, and every Python call there is cold: the kernel
before it has just streamed tens of megabytes through the caches. An allocation of the
decoder's pool (:mod:`._memory`) then takes 100-170 us against 10-20 warm (measured on the
development machine after a 128 MB copy), and the pauses between the kernels added up to
0.6-0.8 ms of a 12-15 ms decode of the sample vehicle's half hour.

The group outputs are the only ones whose sizes are unknown after the frames are matched:
a group's rows are known only once its multiplexer values are decoded. But when no
multiplexer of the batch is of the general kind (:func:`._columns.partition_groups`) and
every simple multiplexer's groups have the same number of members (the common layout:
pages of cell voltages), each group row takes one row of its message and the same number of
values. Then ``rows of the multiplexed messages`` and ``those rows times the members per
group`` bound the group columns, reached when every row selects a group; the caller
allocates them before the kernels (slicing them afterwards in the rare batch with rows that
select none) and :func:`decode_fused8` runs every kernel in one call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from numba import njit

from ..frames import FrameBatch
from ._channel import fill_groups, fill_messages, scatter_channel
from ._columns import decode_columns8, decode_groups8, gather_groups, partition_simple, scatter8
from ._memory import column, empty
from ._plan import group_bases_into
from ._scratch import dlc_buffer, gid_buffer, scratch_buffer, writable

if TYPE_CHECKING:  # pragma: no cover
    from ._layout import Layout


def members_per_group(msg_fast: np.ndarray, grp_msg: np.ndarray, grp_mem0: np.ndarray,
                      grp_mem1: np.ndarray) -> np.ndarray:
    """Per message: the members of each of its groups when they are the same for every group
    of its simple multiplexer (``msg_fast[m] >= 0``), -1 when they differ, 0 without a simple
    multiplexer (computed once per layout).

    Example
    -------
    >>> members_per_group(np.array([-1, 3, 5]), np.array([1, 1, 2, 2]),
    ...                   np.array([0, 4, 8, 10]), np.array([4, 8, 10, 13])).tolist()
    [0, 4, -1]
    """
    out = np.zeros(msg_fast.shape[0], np.int64)
    for g in range(grp_msg.shape[0]):
        m = int(grp_msg[g])
        if msg_fast[m] < 0:
            continue
        k = int(grp_mem1[g] - grp_mem0[g])
        out[m] = k if out[m] in (0, k) else -1
    return out


@njit(cache=True, nogil=True)
def group_bound(counts, msg_slow, per_group):
    """The group values a batch with these message ``counts`` takes at most, when
    :func:`decode_fused8` applies to it (no frame of a message with a general multiplexer,
    ``msg_slow``, and every group of each simple multiplexer the same size,
    :func:`members_per_group`); else -1."""
    bound = 0
    for m in range(counts.shape[0]):
        c = counts[m]
        if c == 0:
            continue
        if msg_slow[m] or per_group[m] < 0:
            return -1
        bound += c * per_group[m]
    return bound


@njit(cache=True, nogil=True)
def decode_fused8(msg_of_frame, offsets, words, dlc, time, channel, arbitration_id, rows,
                  row_dlc, row_time, first, row_channel, row_sa, msg_sa, msg_j1939, with_dlc,
                  with_channel, with_sa, groups_sa, msg_len, msg_sig0, msg_sig1, pos, length,
                  be, signed, kind, conv, scale, offset, scale_i, offset_i, small, parent, lo,
                  hi, col_base, values, out_of_range, msg_fast, fast_dir0, fast_dir1,
                  fast_grp, grp_count, grp_row_base, grp_rows, gid, sig_group, gcol_base,
                  grp_msg, grp_mem0, grp_mem1, grp_members, gwords, gdls, grp_time,
                  grp_channel, grp_sa, gvalues):
    """Every kernel of the 8-byte path, in the order and with the arguments that
    :func:`._decode.decode_arrays` and :func:`._decode._groups8` give them one by one:
    :func:`._columns.scatter8`, the channel and source address columns (:mod:`._channel`),
    :func:`._columns.decode_columns8`, :func:`._columns.partition_simple`, the group column
    bases (:func:`._plan.group_bases_into`), :func:`._columns.gather_groups` and
    :func:`._columns.decode_groups8`. The group outputs are sized by :func:`group_bound`.
    Returns ``(group rows used, group values used)``."""
    if with_sa:  # the rows of messages other than J1939 ones: a fill (see _layout)
        fill_messages(offsets, msg_sa, row_sa)
    mixed = scatter8(msg_of_frame, offsets, words, dlc, time, channel, arbitration_id, rows,
                     row_dlc, row_time, first, row_sa, msg_j1939, with_dlc, with_channel,
                     with_sa)
    if with_channel:
        if mixed:
            scatter_channel(msg_of_frame, offsets, channel, row_channel)
        else:
            fill_messages(offsets, first, row_channel)
    decode_columns8(rows, row_dlc, offsets, msg_len, msg_sig0, msg_sig1, pos, length, be,
                    signed, kind, conv, scale, offset, scale_i, offset_i, small, parent, lo,
                    hi, col_base, values, out_of_range)
    used = partition_simple(values, col_base, offsets, msg_fast, fast_dir0, fast_dir1,
                            fast_grp, grp_count, grp_row_base, grp_rows, gid)
    n_values = group_bases_into(grp_count, sig_group, gcol_base)
    gather_sa = with_sa and groups_sa
    gather_groups(rows, row_dlc, offsets, grp_msg, grp_row_base, grp_count, grp_rows,
                  row_time, row_channel, row_sa, with_dlc, with_channel and mixed, gather_sa,
                  gwords, gdls, grp_time, grp_channel, grp_sa)
    if with_channel and not mixed:
        fill_groups(grp_msg, grp_row_base, grp_count, first, grp_channel)
    if with_sa and not groups_sa:
        fill_groups(grp_msg, grp_row_base, grp_count, msg_sa, grp_sa)
    decode_groups8(gwords, gdls, msg_len, grp_msg, grp_mem0, grp_mem1, grp_members,
                   grp_row_base, grp_count, pos, length, be, signed, kind, conv, scale, offset,
                   scale_i, offset_i, small, lo, hi, gcol_base, gvalues, out_of_range)
    return used, n_values


def per_group(lay: Layout) -> np.ndarray:
    """:func:`members_per_group` of the layout (computed once per layout)."""
    per = getattr(lay, "_cantelem_per_group", None)
    if per is None:
        grp = lay.groups
        per = members_per_group(grp.msg_fast, grp.grp_msg, grp.grp_mem0, grp.grp_mem1)
        lay._cantelem_per_group = per  # type: ignore[attr-defined]
    return per


def fused8(lay: Layout, batch: FrameBatch, msg_of_frame: np.ndarray, words: np.ndarray,
           t64: np.ndarray, offsets: np.ndarray, col_base: np.ndarray, values: np.ndarray,
           out_of_range: np.ndarray, rows: np.ndarray, row_dlc: np.ndarray,
           row_time: np.ndarray, first: np.ndarray, row_channel: np.ndarray,
           row_sa: np.ndarray, with_dlc: bool, with_channel: bool, with_sa: bool,
           n_muxed: int, bound: int, res: dict[str, Any] | None) -> dict[str, Any]:
    """The 8-byte path through :func:`decode_fused8`: the group columns allocated first,
    sized by the ``n_muxed`` rows of the multiplexed messages and the ``bound`` of
    :func:`group_bound`, and sliced afterwards where some rows selected no group.
    Returns the ``group_*`` entries of :func:`decode_arrays`; with ``res``, they are put
    into it before the kernels run, so that nothing but the rare slicing is left for the
    interpreter after them."""
    s = lay.sig
    grp = lay.groups
    n_grp = len(grp.info)
    grp_count = np.zeros(n_grp, np.int64)
    grp_row_base = np.zeros(n_grp, np.int64)
    gcol_base = np.empty(s["pos"].shape[0], np.int64)
    grp_rows = empty(n_muxed, np.int64)  # returned: fresh, not scratch
    grp_time = empty(n_muxed, np.int64)
    gvalues = empty(bound, np.float64)
    # one channel (all 0) or no J1939 message: read-only zeros that cost nothing (_memory)
    grp_channel = column(n_muxed, np.uint8, with_channel)
    grp_sa = column(n_muxed, np.uint8, with_sa)
    groups = dict(group_count=grp_count, group_row_base=grp_row_base, group_rows=grp_rows,
                  group_time=grp_time, group_channel=grp_channel,
                  group_source_address=grp_sa, group_values=gvalues,
                  group_col_base=gcol_base)
    if res is not None:
        res.update(groups)
    used, n_values = decode_fused8(
        msg_of_frame, offsets, words, batch.dlc, t64, batch.channel, batch.arbitration_id,
        rows, row_dlc, row_time, first, writable(row_channel), writable(row_sa), lay.msg_sa,
        lay.msg_j1939, with_dlc, with_channel, with_sa, lay.groups_j1939, lay.msg_len,
        lay.msg_sig0, lay.msg_sig1, s["pos"], s["length"], s["be"], s["signed"], s["kind"],
        s["conv"], s["scale"], s["offset"], s["scale_i"], s["offset_i"], s["small"],
        s["parent"], s["lo"], s["hi"], col_base, values, out_of_range, grp.msg_fast,
        grp.fast_dir0, grp.fast_dir1, grp.fast_grp, grp_count, grp_row_base, grp_rows,
        gid_buffer(rows.shape[0], n_grp), grp.sig_group,
        gcol_base, grp.grp_msg, grp.grp_mem0, grp.grp_mem1, grp.grp_members,
        scratch_buffer("gwords", n_muxed, np.uint64), dlc_buffer("gdlc", n_muxed, with_dlc),
        grp_time, writable(grp_channel), writable(grp_sa), gvalues)
    if used < n_muxed:  # rows that select no group (a multiplexer value without one)
        groups.update(group_rows=grp_rows[:used], group_time=grp_time[:used],
                      group_channel=grp_channel[:used], group_source_address=grp_sa[:used],
                      group_values=gvalues[:n_values])
        if res is not None:
            res.update(groups)
    return groups
