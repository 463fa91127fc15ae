"""``decode(raw, db)``: raw frames to an xarray tree, one node per DBC message."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ..errors import DecodeError, UnknownFramesWarning, UnselectedMultiplexerWarning
from ..frames import FrameBatch
from ._dbc import Database
from ._decode import MULTIPLEXED, decode_arrays
from ._layout import Layout
from ._nodes import Sig
from ._tree import attach_children, node_dataset, time_variable

if TYPE_CHECKING:  # pragma: no cover
    import xarray as xr


def _unselected(res: dict[str, Any], lay: Layout) -> dict[int, int]:
    """Per message with multiplexers: the frames whose top-level multiplexer value is none
    of its groups' values, or absent (only messages with such frames). A simple multiplexer puts each
    row in at most one group, so these are its rows less its groups' rows; a general one is
    checked value by value."""
    grp = lay.groups
    counts = res["counts"]
    if not grp.info or not counts[lay.msg_muxed].any():
        return {}
    in_groups = np.bincount(grp.grp_msg, weights=res["group_count"],
                            minlength=counts.shape[0])
    out: dict[int, int] = {}
    for m in np.flatnonzero(lay.msg_muxed & (counts > 0)).tolist():
        cnt = int(counts[m])
        if grp.msg_fast[m] >= 0:
            n = cnt - int(in_groups[m])
        else:  # every top-level multiplexer must select something for the row to count
            n = 0
            for k in range(int(grp.msg_mux0[m]), int(grp.msg_mux1[m])):
                p = int(grp.mux_sig[k])
                if grp.sig_group[p] >= 0:
                    continue
                col = res["values"][res["col_base"][p]:res["col_base"][p] + cnt]
                keys = grp.lk_keys[grp.mux_lk0[k]:grp.mux_lk1[k]]
                ok = np.isin(np.where(col == col, col, -1.5), keys.astype(np.float64))
                n = max(n, cnt - int(np.count_nonzero(ok)))
        if n:
            out[m] = n
    return out


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

    plan = lay.nodes
    oor_of = oor.tolist()
    base_of = res["col_base"].tolist()
    gbase_of = res["group_col_base"].tolist()

    def variables(sigs: tuple[Sig, ...], cols: np.ndarray, base: list[int],
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
                                      res["group_rows"][r0:r0 + gc], cnt, g)
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
    unselected = _unselected(res, lay)
    for m, n_unsel in unselected.items():
        node = plan.messages[m][1]
        if node in children:
            children[node].attrs["frames_multiplexer_unselected"] = n_unsel
    if unselected:
        names = ", ".join(f"{plan.messages[m][1]} ({k})" for m, k in unselected.items())
        warnings.warn(f"{sum(unselected.values())} frames have a multiplexer that selects no "
                      f"signal (a value without signals, or a frame too short to hold it): "
                      f"{names} (their other signals are decoded; see the node attrs "
                      "'frames_multiplexer_unselected')",
                      UnselectedMultiplexerWarning, stacklevel=2)
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
        "frames_multiplexer_unselected": sum(unselected.values()),
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
