"""J1939 beyond single frames: transport-protocol messages, DM1/DM2 fault codes and the VIN.

Multi-packet messages (:mod:`._j1939tp`) whose PGN the vehicle's DBC defines decode through
the DBC like any frame (as one CAN FD frame of the message's length, up to 64 bytes), with
the sender's source address kept. Diagnostic messages DM1 (active faults, PGN 0xFECA) and
DM2 (previously active, 0xFECB), single-frame or multi-packet, become two nodes each:

* ``J1939_DM1``: one row per message: lamp states ``MIL``, ``RSL`` (red stop), ``AWL``
  (amber warning), ``PL`` (protect), 0 off / 1 on / 2-3 reserved or not available, and
  ``DTCCount``;
* ``J1939_DM1_DTC``: one row per active fault: ``SPN``, ``FMI``, ``OC`` (occurrence count),
  ``CM`` (conversion method);

each with ``time``, ``channel`` and ``source_address`` coordinates, so a fault table per
vehicle and time is part of the decoded store. The VIN (PGN 0xFEEC), component and software
identification (0xFEEB, 0xFEDA) go to the tree's ``attrs["j1939"]`` per source address.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ProtocolWarning
from ..frames import FrameBatch
from ._j1939tp import PROBLEMS, reassemble_tp, tp_rows

if TYPE_CHECKING:  # pragma: no cover
    import xarray as xr

__all__ = ["DM_PGNS", "decode_j1939", "dm_table", "TEXT_PGNS"]

DM_PGNS = {0xFECA: "DM1", 0xFECB: "DM2"}
TEXT_PGNS = {0xFEEC: "VIN", 0xFEEB: "ComponentID", 0xFEDA: "SoftwareID"}
_FD = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 20, 24, 32, 48, 64])


def pgn_of(arbitration_id: np.ndarray) -> np.ndarray:
    """PGNs of 29-bit identifiers (PDU1: the destination byte is not part of it)."""
    aid = np.asarray(arbitration_id, np.int64)
    pgn = (aid >> 8) & 0x3FFFF
    return np.where(((pgn >> 8) & 0xFF) < 0xF0, pgn & 0x3FF00, pgn)


def dm_table(payloads: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """Lamps per message (n, 5: MIL, RSL, AWL, PL, DTCCount) and faults (k, 5: message
    index, SPN, FMI, OC, CM) of DM1/DM2 payloads (SAE J1939-73, conversion method 4).

    Example
    -------
    >>> lamps, dtc = dm_table([bytes.fromhex("43FFD403097E900C1402")])
    >>> lamps.tolist(), dtc.tolist()
    ([[1, 0, 0, 3, 2]], [[0, 980, 9, 126, 0], [0, 3216, 20, 2, 0]])
    """
    lamps = np.zeros((len(payloads), 5), np.int64)
    rows = []
    for m, p in enumerate(payloads):
        b0 = p[0] if p else 0xFF
        lamps[m, :4] = [(b0 >> 6) & 3, (b0 >> 4) & 3, (b0 >> 2) & 3, b0 & 3]
        n = 0
        for k in range(2, len(p) - 3, 4):
            spn = p[k] | p[k + 1] << 8 | (p[k + 2] >> 5) << 16
            if spn in (0, 0x7FFFF):  # "no fault" / not available (padding)
                continue
            rows.append((m, spn, p[k + 2] & 0x1F, p[k + 3] & 0x7F, p[k + 3] >> 7))
            n += 1
        lamps[m, 4] = n
    return lamps, np.array(rows, np.int64).reshape(-1, 5)


def _dm_nodes(name: str, t: np.ndarray, ch: np.ndarray, sa: np.ndarray,
              payloads: list[bytes]) -> dict[str, "xr.Dataset"]:
    import xarray as xr

    lamps, dtc = dm_table(payloads)
    order = np.argsort(t, kind="stable")
    lamp_attrs = {"units": "", "minimum": 0, "maximum": 3, "out_of_range_count": 0}
    ds = xr.Dataset(
        {k: ("time", lamps[order, j].astype(np.float64),
             {**lamp_attrs, "comment": c} if k != "DTCCount" else
             {"units": "", "comment": c, "out_of_range_count": 0})
         for j, (k, c) in enumerate([("MIL", "malfunction indicator lamp"),
                                     ("RSL", "red stop lamp"), ("AWL", "amber warning lamp"),
                                     ("PL", "protect lamp"), ("DTCCount", "faults listed")])},
        coords={"time": t[order].view("datetime64[ns]"), "channel": ("time", ch[order]),
                "source_address": ("time", sa[order].astype(np.uint8))},
        attrs={"message": f"J1939_{name}", "protocol": "j1939", "j1939": 1, "is_extended": 1,
               "comment": f"{name} lamp status per message (SAE J1939-73)"})
    m = dtc[:, 0]
    o2 = np.argsort(t[m], kind="stable")
    m = m[o2]
    dd = xr.Dataset(
        {k: ("time", dtc[o2, j + 1].astype(np.float64), {"units": "", "comment": c,
                                                        "out_of_range_count": 0})
         for j, (k, c) in enumerate([("SPN", "suspect parameter number"),
                                     ("FMI", "failure mode identifier"),
                                     ("OC", "occurrence count"), ("CM", "conversion method")])},
        coords={"time": t[m].view("datetime64[ns]"), "channel": ("time", ch[m]),
                "source_address": ("time", sa[m].astype(np.uint8))},
        attrs={"message": f"J1939_{name}_DTC", "protocol": "j1939", "j1939": 1,
               "is_extended": 1, "comment": f"{name} faults, one row each (SAE J1939-73)"})
    return {f"J1939_{name}": ds, f"J1939_{name}_DTC": dd}


def decode_j1939(raw: Any, db: Any = None) -> "xr.DataTree":
    """Decode J1939 transport-protocol messages, DM1/DM2 and identification PGNs.

    Parameters
    ----------
    raw
        Raw frames (a FrameBatch or raw-frame Dataset) in time order.
    db
        The vehicle's :class:`Database`, or None: multi-packet PGNs it defines decode
        through it.

    Returns
    -------
    xarray.DataTree
        ``J1939_DM1``/``J1939_DM1_DTC`` (and DM2) nodes, the DBC's nodes of multi-packet
        PGNs, and ``attrs["j1939"]``: per source address ``VIN``, ``ComponentID``,
        ``SoftwareID``; ``attrs["j1939_tp"]``: messages reassembled and problems by cause
        (lost or out-of-order packets drop their message; nothing is mended).

    Example
    -------
    >>> from cantelem_sci.frames import FrameBatch
    >>> d = np.array([[0x20, 18, 0, 3, 0xFF, 0xCA, 0xFE, 0x00],
    ...               [1, 0x43, 0xFF, 0xD4, 3, 9, 0x7E, 0x90],
    ...               [2, 0x0C, 0x14, 2, 0x61, 2, 9, 1],
    ...               [3, 0x61, 2, 0x0C, 3, 0xFF, 0xFF, 0xFF]], np.uint8)
    >>> b = FrameBatch.from_arrays(np.arange(4) * 10**8, [0x1CECFF00] + [0x1CEBFF00] * 3, d,
    ...                            is_extended=np.ones(4, bool))
    >>> decode_j1939(b)["J1939_DM1_DTC"]["SPN"].values.tolist()
    [980.0, 3216.0, 609.0, 609.0]
    """
    import xarray as xr

    from ._protocols import as_batch

    batch = as_batch(raw, "decode_j1939")
    tree = xr.DataTree()
    info: dict[str, dict[str, Any]] = {}
    tree.attrs["j1939"] = info
    usable = batch.is_extended & ~batch.is_remote & ~batch.is_error
    if not usable.any():
        return tree
    idx, key, kind = tp_rows(batch.arbitration_id, batch.channel, batch.data, usable)
    ukeys, stream = np.unique(key, return_inverse=True)
    r = reassemble_tp(stream, kind, batch.data[idx][:, :8], len(ukeys))
    probs: dict[str, int] = {}
    for c in r.problem_code.tolist():
        probs[PROBLEMS[c]] = probs.get(PROBLEMS[c], 0) + 1
    tree.attrs["j1939_tp"] = {"messages": int(r.size.size), "problems": probs}
    if probs:
        said = ", ".join(f"{v} {k}" for k, v in probs.items())
        warnings.warn(ProtocolWarning(f"J1939 TP: {said} (those messages are dropped, not "
                                      "mended)"), stacklevel=2)
    # messages: reassembled ones (time of the last packet) and single-frame DMs
    fidx = idx[r.last]  # frame of each message's last packet
    sa = (ukeys[r.stream] >> 8) & 0xFF
    pays = [bytes(r.buf[o:o + n]) for o, n in zip(r.offset.tolist(), r.size.tolist())]
    pgns = r.pgn.tolist()
    pg = (batch.arbitration_id >> 8) & 0x3FFFF  # DM1/DM2 are PDU2: the PGN is the id's
    single = np.flatnonzero(usable & ((pg == 0xFECA) | (pg == 0xFECB)))
    for name_pgn, name in DM_PGNS.items():
        sel = [k for k, p in enumerate(pgns) if p == name_pgn]
        one = single[pgn_of(batch.arbitration_id[single]) == name_pgn]
        if not sel and not one.size:
            continue
        frames = np.concatenate([fidx[sel], one]).astype(np.int64)
        srcs = np.concatenate([sa[sel], batch.arbitration_id[one].astype(np.int64) & 0xFF])
        payloads = [pays[k] for k in sel] + [bytes(batch.data[i, :batch.dlc[i]]) for i in one]
        for k, ds in _dm_nodes(name, batch.time[frames], batch.channel[frames], srcs,
                               payloads).items():
            tree[k] = xr.DataTree(ds)
    for k, p in enumerate(pgns):
        if p in TEXT_PGNS:
            info.setdefault(f"{int(sa[k]):02X}", {})[TEXT_PGNS[p]] = _text(pays[k],
                                                                             TEXT_PGNS[p])
    if db is not None:
        _through_dbc(tree, batch, db, r, fidx, sa, pays)
    return tree


def _text(p: bytes, kind: str) -> str:
    """A '*'-delimited text field; a VIN ends at the first character a VIN cannot hold."""
    out = []
    for ch in p.split(b"*")[0].decode("latin-1"):
        ok = ch.isalnum() and ch.isascii() if kind == "VIN" else ch.isprintable()
        if not ok:
            break
        out.append(ch)
    return "".join(out).strip()


def _through_dbc(tree: Any, batch: FrameBatch, db: Any, r: Any, fidx: np.ndarray,
                 sa: np.ndarray, pays: list[bytes]) -> None:
    """Multi-packet PGNs the DBC defines (up to 64 bytes) decoded as CAN FD frames."""
    import xarray as xr

    from ._to_xarray import decode

    known = {int(m.frame_id) >> 8 & 0x3FFFF for m in db.messages if m.is_extended_frame}
    take = [k for k, p in enumerate(r.pgn.tolist()) if p in known and r.size[k] <= 64]
    if not take:
        return
    n = len(take)
    data = np.zeros((n, 64), np.uint8)
    dlc = np.zeros(n, np.uint8)
    for j, k in enumerate(take):
        data[j, :len(pays[k])] = np.frombuffer(pays[k], np.uint8)
        dlc[j] = _FD[np.searchsorted(_FD, len(pays[k]))]
    ids = (6 << 26) | (r.pgn[take] << 8) | sa[take]
    fb = FrameBatch.from_arrays(batch.time[fidx[take]], ids, data, dlc=dlc,
                                is_extended=np.ones(n, bool), is_fd=np.ones(n, bool),
                                channel=batch.channel[fidx[take]],
                                channel_names=batch.channel_names)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sub = decode(fb, db)
    for name, node in sub.children.items():
        if name not in tree.children:
            tree[name] = xr.DataTree(node.to_dataset())
