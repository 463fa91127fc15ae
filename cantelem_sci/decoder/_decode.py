"""``decode_arrays(batch, db)``: raw frames to plain arrays, through one of three paths.

A batch is prepared the same way for every path: frames are flagged usable and matched to
messages (:mod:`._match`), the rows and columns are planned (:mod:`._plan`) and their
outputs allocated (:mod:`._memory`). Then one path by payload width decodes it:

- :mod:`._classic`: 8-byte payloads, column by column, multiplexers by group;
- :mod:`._fd`: 64-byte payloads when every signal fits an 8-byte window and the messages
  that occur have only simple multiplexers;
- :mod:`._generic`: anything else, frame by frame (also the others' reference).

All three give the compact form of multiplexed signals; the dense one is expanded from it
(:mod:`._dense`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ..errors import DecodeError
from ..frames import FrameBatch
from . import _classic, _fd, _generic
from ._channel import first_channels
from ._dbc import Database
from ._dense import expand_groups
from ._layout import ROW, Layout, layout_of
from ._memory import column
from ._memory import empty as _empty
from ._memory import zeros as _zeros
from ._plan import frame_flags, plan_rows
from ._scratch import NOWHERE, dlc_buffer, scratch_buffer, writable
from ._tables import Columns, Frames, GroupRows, Rows, Wanted

MULTIPLEXED = ("dense", "compact")

_NO_I64 = np.empty(0, np.int64)
_NO_U64 = np.empty(0, np.uint64)


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
    return layout_of(db)


@dataclass
class Prepared:
    """A batch ready for a path: the kernels' inputs (``frames``), the message-ordered rows
    and decoded columns to fill (``rows``, ``cols``), the optional columns to write
    (``want``), the rows of multiplexed messages (``n_muxed``) and the largest count of a
    message with a general multiplexer (``max_slow``). ``public_rows``: the channel and
    source address columns as returned (read-only zeros where they are all zero)."""

    layout: Layout
    batch: FrameBatch
    frames: Frames
    rows: Rows
    cols: Columns
    counts: np.ndarray
    want: Wanted
    n_muxed: int
    max_slow: int
    public_rows: dict[str, np.ndarray]
    path: Any = None
    groups: tuple[GroupRows, Columns] | None = None

    def group_rows(self, n: int) -> GroupRows:
        """Empty group rows for a partition of up to ``n`` rows (the rest placeholders)."""
        n_grp = len(self.layout.groups.info)
        return GroupRows(np.zeros(n_grp, np.int64), np.zeros(n_grp, np.int64),
                         _empty(n, np.int64), _NO_I64, NOWHERE, NOWHERE, _NO_U64, NOWHERE)

    def group_outputs(self, n_rows: int, n_values: int, words: np.ndarray | None,
                      grp: GroupRows | None = None, base: np.ndarray | None = None
                      ) -> tuple[GroupRows, Columns]:
        """The group outputs for ``n_rows`` group rows and ``n_values`` values, with
        ``words`` for their payload (None: not gathered); ``grp``: a partition already
        done, ``base``: the group column bases already computed."""
        want = self.want
        grp = grp or self.group_rows(n_rows)
        channel = column(n_rows, np.uint8, want.channel)
        sa = column(n_rows, np.uint8, want.sa)
        self.public_rows.update(group_channel=channel, group_sa=sa)
        grp = grp._replace(time=_empty(n_rows, np.int64), channel=writable(channel),
                           sa=writable(sa), payload=_NO_U64 if words is None else words,
                           dlc=dlc_buffer("gdlc", n_rows, want.dlc) if words is not None
                           else NOWHERE)
        if base is None:
            base = np.empty(self.layout.sigs.pos.shape[0], np.int64)
        gcols = Columns(base, _empty(n_values, np.float64), self.cols.out_of_range)
        self.groups = grp, gcols
        return grp, gcols

    def group_result(self, grp: GroupRows, gcols: Columns, used: int,
                     n_values: int) -> dict[str, Any]:
        """The ``group_*`` entries of :func:`decode_arrays` (sliced to the ``used`` rows and
        ``n_values`` values where the outputs were sized by a bound)."""
        pub = self.public_rows
        self.groups = grp._replace(rows=grp.rows[:used]), gcols
        return dict(group_count=grp.count, group_row_base=grp.row_base,
                    group_rows=grp.rows[:used], group_time=grp.time[:used],
                    group_channel=pub["group_channel"][:used],
                    group_source_address=pub["group_sa"][:used],
                    group_values=gcols.values[:n_values], group_col_base=gcols.base)


def _path(lay: Layout, width: int, counts: np.ndarray) -> Any:
    """The path for payloads of ``width`` bytes: classic, FD (every signal in a window, no
    general multiplexer among the messages that occur) or generic."""
    if width == 8:
        return _classic
    if width == ROW and lay.windows is not None and not counts[lay.msg_slow].any():
        return _fd
    return _generic


def decode_arrays(batch: FrameBatch, db: Database, *,
                  multiplexed: Literal["dense", "compact"] = "dense") -> dict[str, Any]:
    """Decode a :class:`FrameBatch` into plain arrays (no xarray); used by :func:`decode`.

    Returns a dict: ``layout``; ``offsets`` (rows of message ``m`` are
    ``offsets[m]:offsets[m + 1]``) and ``counts``; per row ``time`` (int64 ns), ``channel``
    and ``source_address``; ``values`` (flat float64, signal ``s`` of row ``i`` of its
    message at ``col_base[s] + i``); ``out_of_range`` per signal; the ``unknown`` and
    ``usable`` frame masks and ``n_usable``, the usable frames. With
    ``multiplexed="compact"`` multiplexed signals are not in ``values`` but in groups
    (:class:`~._groups.MuxGroups`): ``group_count``, per group row ``group_rows`` (the row
    within the message), ``group_time``, ``group_channel``, ``group_source_address`` (row
    ``q`` of group ``g`` at ``group_row_base[g] + q``) and ``group_values`` (member ``s``
    at ``group_col_base[s] + q``). Columns that are zero throughout (``channel`` when
    every frame came on channel 0, ``source_address`` without J1939 messages, ``unknown``
    without unknown frames, and their group forms) are read-only views of one shared zero
    mapping (:func:`._memory.zeros`).

    Example
    -------
    >>> import cantelem_sci as ct
    >>> db = ct.load_dbc(ct.sample_dbc_path())
    >>> r = decode_arrays(ct.simulate_vehicle(duration_s=1, seed=0), db)
    >>> int(r["counts"].sum()) == r["n_usable"]
    True
    """
    if not isinstance(db, Database):
        raise DecodeError("expected a Database from cantelem_sci.load_dbc, "
                          f"got {type(db).__name__}")
    if multiplexed not in MULTIPLEXED:
        raise DecodeError(f"multiplexed={multiplexed!r}: expected one of {', '.join(MULTIPLEXED)}")
    p, res = _prepare(batch, layout_of(db), multiplexed == "compact")
    path = p.path
    groups = path.decode(p)
    res["channel"] = p.public_rows["channel"]
    res["source_address"] = p.public_rows["source_address"]
    if multiplexed == "compact":
        res.update(groups)
    elif path is not _generic:  # (the generic path decodes every column dense)
        grp, gcols = p.groups  # type: ignore[misc]
        expand_groups(p.cols, p.rows.offsets, p.layout.groups.table, grp, gcols)
    return res


def _prepare(batch: FrameBatch, lay: Layout, compact: bool) -> tuple[Prepared, dict[str, Any]]:
    """Flags, match, plan and outputs of a batch (:class:`Prepared`), and the result dict
    of :func:`decode_arrays` with what they give."""
    n = len(batch)
    usable = np.empty(n, np.bool_)  # returned
    n_usable, all_full, with_channel = frame_flags(
        batch.is_remote.view(np.uint8), batch.is_error.view(np.uint8), batch.dlc, batch.channel,
        usable.view(np.uint8))
    msg_of_frame = scratch_buffer("msg", n, np.int32)
    counts = lay.matcher.match_into(batch.arbitration_id, batch.is_extended, batch.channel,
                                    usable, batch.channel_names, msg_of_frame)
    width = batch.data.shape[1]
    path = _path(lay, width, counts)
    columnar = path is not _generic
    # column bases in ``values``: every signal, except multiplexed ones on the compact column
    # paths
    offsets, col_base, n_values, n_muxed, max_slow, out_of_range, first = plan_rows(
        counts, lay.msgs.sig0, lay.msgs.sig1,
        lay.sig_unselected if compact and columnar else lay.sig_all, lay.msg_muxed,
        lay.msg_slow)
    total = int(offsets[-1])
    # one channel (all 0) or no J1939 message: read-only zeros that cost nothing (_memory)
    row_channel = column(total, np.uint8, with_channel or not columnar)
    row_sa = column(total, np.uint8, lay.any_j1939 or not columnar)
    # the channel of each message's first frame (``first``): the scatters check every frame
    # against it, and the channel column is a fill unless some message comes on several
    if with_channel and columnar and total:
        first_channels(msg_of_frame, batch.channel, counts, first)
    # payload rows as 64-bit words: a batch made field by field may hold a strided or
    # Fortran-ordered data array (copied then; a no-op for the usual C-ordered one)
    data = np.ascontiguousarray(batch.data)
    if path is _classic:
        # every frame full (8 bytes): the dlc column is all 8, not a scatter
        want = Wanted(not all_full, with_channel, lay.any_j1939)
        payload, row_payload = (data.view(np.uint64).reshape(-1),
                                scratch_buffer("rows", total, np.uint64))
    elif path is _fd:
        want = Wanted(True, with_channel, lay.any_j1939)
        payload = data.view(np.uint64)
        row_payload = scratch_buffer("rows64", total * 8, np.uint64).reshape(total, 8)
    else:
        want = Wanted(True, with_channel, lay.any_j1939)
        payload, row_payload = data, _NO_U64
    row_dlc = dlc_buffer("dlc", total, want.dlc) if columnar else NOWHERE
    values = _empty(n_values, np.float64)
    row_time = _empty(total, np.int64)
    frames = Frames(msg_of_frame, payload, batch.dlc, batch.time.view(np.int64), batch.channel,
                    batch.arbitration_id)
    rows = Rows(offsets, row_payload, row_dlc, row_time, writable(row_channel),
                writable(row_sa), first)
    cols = Columns(col_base, values, out_of_range)
    p = Prepared(lay, batch, frames, rows, cols, counts, want, n_muxed, max_slow,
                 {"channel": row_channel, "source_address": row_sa}, path)
    res: dict[str, Any] = {
        "layout": lay, "multiplexed": "compact" if compact else "dense", "offsets": offsets,
        "counts": counts, "time": row_time, "values": values, "col_base": col_base,
        "out_of_range": out_of_range, "unknown": _unknown(usable, msg_of_frame, n_usable, total),
        "usable": usable, "n_usable": n_usable}
    return p, res


def _unknown(usable: np.ndarray, msg_of_frame: np.ndarray, n_usable: int,
             matched: int) -> np.ndarray:
    """Usable frames that no message matched (read-only zeros, :func:`._memory.zeros`, when
    there are none)."""
    if n_usable == matched:
        return _zeros(usable.shape[0], np.bool_)
    return usable & (msg_of_frame < 0)
