"""``decode(raw, db)``: raw frames to one xarray node per DBC message."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import DecodeError, UnknownFramesWarning
from ..frames import FrameBatch
from ._dbc import Database
from ._kernels import decode_grouped, decode_grouped_u64, gather_rows, group_by_message
from ._layout import Layout

if TYPE_CHECKING:  # pragma: no cover
    import xarray as xr


def _layout(db: Database) -> Layout:
    lay = getattr(db, "_cantelem_layout", None)
    if lay is None:
        lay = Layout(db)
        db._cantelem_layout = lay  # type: ignore[attr-defined]
    return lay


def decode_arrays(batch: FrameBatch, db: Database) -> dict[str, Any]:
    """Decode a :class:`FrameBatch` into plain arrays (no xarray); used by :func:`decode`.

    Returns a dict with ``layout``, ``order``, ``offsets``, ``counts``, ``values`` (flat
    float64), ``col_base`` and the match statistics.
    """
    if not isinstance(db, Database):
        raise DecodeError(f"expected a Database from cantelem_sci.load_dbc, got {type(db).__name__}")
    lay = _layout(db)
    usable = ~(batch.is_remote | batch.is_error)
    msg_of_frame, _ = lay.match(batch.arbitration_id, batch.is_extended, batch.channel, usable,
                                batch.channel_names)
    n_msg = len(lay.messages)
    counts, offsets, order = group_by_message(msg_of_frame, max(n_msg, 1))
    counts = counts[:n_msg]
    nsig = lay.msg_sig1 - lay.msg_sig0
    block = nsig * counts
    starts = np.concatenate([[0], np.cumsum(block)])[:-1] if n_msg else np.zeros(0, np.int64)
    col_base = np.zeros(lay.sig["pos"].shape[0], np.int64)
    for m in range(n_msg):
        s0, s1 = lay.msg_sig0[m], lay.msg_sig1[m]
        col_base[s0:s1] = starts[m] + np.arange(s1 - s0) * counts[m]
    values = np.empty(int(block.sum()) if n_msg else 0, np.float64)
    if n_msg and batch.data.shape[1] == 8 and len(order):
        s = lay.sig
        total = order.shape[0]
        rows_le = np.empty(total, np.uint64)
        rows_be = np.empty(total, np.uint64)
        avail = np.empty(total, np.int64)
        gather_rows(batch.data, batch.dlc, order, offsets, lay.msg_len, rows_le, rows_be, avail)
        decode_grouped_u64(rows_le, rows_be, avail, offsets, counts, lay.msg_sig0, lay.msg_sig1,
                           s["pos"], s["length"], s["be"], s["signed"], s["kind"], s["conv"],
                           s["scale"], s["offset"], s["scale_i"], s["offset_i"], s["parent"],
                           s["mux0"], s["mux1"], lay.mux_vals, col_base, values)
    elif n_msg:
        s = lay.sig
        decode_grouped(batch.data, batch.dlc, order, offsets, counts, lay.msg_len, lay.msg_sig0,
                       lay.msg_sig1, s["pos"], s["length"], s["be"], s["signed"], s["kind"],
                       s["conv"], s["scale"], s["offset"], s["scale_i"], s["offset_i"],
                       s["parent"], s["mux0"], s["mux1"], lay.mux_vals, col_base, values)
    unknown = usable & (msg_of_frame < 0)
    return {"layout": lay, "order": order, "offsets": offsets, "counts": counts,
            "values": values, "col_base": col_base, "msg_of_frame": msg_of_frame,
            "unknown": unknown, "usable": usable}


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
        attrs["multiplexer"] = attrs.get("multiplexer", "") + ("+" if "multiplexer" in attrs else "") + "multiplexed"
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


def decode(raw: Any, db: Database, *, decode_choices: bool = False) -> "xr.DataTree":
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

    batch = raw if isinstance(raw, FrameBatch) else FrameBatch.from_dataset(raw)
    res = decode_arrays(batch, db)
    lay: Layout = res["layout"]
    counts, offsets, order, values = res["counts"], res["offsets"], res["order"], res["values"]
    times = batch.time.view("datetime64[ns]")
    children: dict[str, xr.Dataset] = {}
    for info in lay.messages:
        cnt = int(counts[info.index])
        if cnt == 0:
            continue
        idx = order[offsets[info.index]:offsets[info.index] + cnt]
        coords: dict[str, Any] = {"time": ("time", times[idx]),
                                  "channel": ("time", batch.channel[idx])}
        if info.j1939:
            coords["source_address"] = ("time", (batch.arbitration_id[idx] & 0xFF).astype(np.uint8))
        data_vars: dict[str, Any] = {}
        for j, sig in enumerate(info.signals):
            start = res["col_base"][info.sig0 + j]
            col = values[start:start + cnt]
            attrs = _signal_attrs(sig)
            lo, hi = attrs.get("minimum"), attrs.get("maximum")
            if lo is not None and hi is not None and lo < hi:
                with np.errstate(invalid="ignore"):
                    attrs["out_of_range_count"] = int(np.count_nonzero((col < lo) | (col > hi)))
            if decode_choices and sig.choices:
                col = _labels(col, sig.choices)
            name = sig.name if sig.name not in coords else f"{sig.name}_signal"
            data_vars[name] = xr.Variable("time", col, attrs=attrs)
        msg = info.message
        ds = xr.Dataset(data_vars, coords=coords, attrs={
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
        })
        ds["channel"].attrs["channel_names"] = list(batch.channel_names)
        children[info.node] = ds
    unknown = res["unknown"]
    n_unknown = int(unknown.sum())
    root_attrs: dict[str, Any] = {
        "frames_total": len(batch),
        "frames_decoded": int(counts.sum()),
        "frames_unknown": n_unknown,
        "frames_remote": int(batch.is_remote.sum()),
        "frames_error": int(batch.is_error.sum()),
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
    return xr.DataTree.from_dict({"/": xr.Dataset(attrs=root_attrs), **children})
