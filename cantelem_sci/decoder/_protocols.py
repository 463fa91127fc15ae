"""One vehicle's frames through its DBC and its diagnostic protocols into one tree.

A catalog group names a DBC set, protocols, or both (``protocols: [obd2, j1939]``). The
frames of OBD-II traffic (requests ``0x7DF``/``0x7E0``-``0x7E7``, ``0x18DB33F1``/
``0x18DAxxF1``, and responses) whose identifier the DBC does not define go to
:func:`decode_obd`; J1939 transport frames (TP.CM, TP.DT) and DM1/DM2 to
:func:`decode_j1939`, which decodes multi-packet PGNs the DBC defines through it; the rest
to :func:`decode`. The trees are merged: node names cannot collide (``OBD2_<ecu>_<service>
<pid>``, ``J1939_DM1``...).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from ..errors import ArgumentError, UnknownNameError
from ..frames import FrameBatch
from ._dbc import Database

if TYPE_CHECKING:  # pragma: no cover
    import xarray as xr

__all__ = ["PROTOCOLS", "as_batch", "check_protocols", "decode_vehicle", "obd_traffic",
           "transport_traffic"]

#: protocol name -> version of its decoded form (a catalog group's hash includes it)
PROTOCOLS = {"obd2": 1, "j1939": 1}


def as_batch(raw: Any, where: str) -> FrameBatch:
    """A FrameBatch of ``raw`` (a batch or a raw-frame Dataset), or a clear refusal."""
    if isinstance(raw, FrameBatch):
        return raw
    if not hasattr(raw, "data_vars"):
        raise ArgumentError(f"{where}: expected raw frames (a FrameBatch or a raw-frame "
                            f"Dataset), got {type(raw).__name__}")
    return FrameBatch.from_dataset(raw)


def check_protocols(names: Sequence[str], where: str) -> list[str]:
    """The protocol names, checked against :data:`PROTOCOLS`."""
    out = []
    for n in names:
        if n not in PROTOCOLS:
            raise UnknownNameError(f"protocol ({where})", str(n), sorted(PROTOCOLS))
        out.append(str(n))
    return out


def obd_traffic(arbitration_id: np.ndarray, is_extended: np.ndarray) -> np.ndarray:
    """Frames on an OBD-II request or response identifier (ISO 15765-4).

    Example
    -------
    >>> obd_traffic(np.array([0x7DF, 0x7E8, 0x100]), np.zeros(3, bool))
    array([ True,  True, False])
    """
    i = np.asarray(arbitration_id, np.uint32)
    e = np.asarray(is_extended, bool)
    ext = ((i & 0x1FFF0000) == 0x18DA0000) | (i == 0x18DB33F1)
    std = (i == 0x7DF) | ((i >= 0x7E0) & (i <= 0x7EF))
    return np.where(e, ext, std)


def _empty_tree(batch: FrameBatch) -> "xr.DataTree":
    import xarray as xr

    return xr.DataTree(dataset=xr.Dataset(attrs={
        "frames_total": len(batch), "frames_decoded": 0, "frames_unknown": len(batch),
        "frames_multiplexer_unselected": 0, "frames_remote": 0, "frames_error": 0,
        "dbc_sha256": "", "dbc_files": [], "channel_names": list(batch.channel_names)}))


def transport_traffic(batch: Any, protocols: Sequence[str]) -> np.ndarray:
    """Which frames of ``batch`` the ``protocols`` may reassemble into multi-frame messages
    (OBD-II's ISO-TP traffic, J1939's TP.CM and TP.DT): what a decoder must see of the
    frames before a cut to finish a message sent across it.

    Example
    -------
    >>> import cantelem_sci as ct
    >>> b = ct.simulate_obd_vehicle(duration_s=1)
    >>> bool(transport_traffic(b, ["obd2"]).all()), bool(transport_traffic(b, []).any())
    (True, False)
    """
    batch = as_batch(batch, "transport_traffic")
    protocols = check_protocols(protocols, "transport_traffic")
    mask = np.zeros(len(batch), bool)
    if "obd2" in protocols:
        mask |= obd_traffic(batch.arbitration_id, batch.is_extended)
    if "j1939" in protocols:
        pf = (batch.arbitration_id.astype(np.int64) >> 16) & 0xFF
        mask |= batch.is_extended & ((pf == 0xEC) | (pf == 0xEB))
    return mask


def decode_vehicle(raw: Any, db: Database | None, protocols: Sequence[str] = ()) -> "xr.DataTree":
    """Decode frames with a DBC database (or none) and diagnostic ``protocols``.

    Returns the tree of :func:`decode` with the protocols' nodes beside the DBC messages;
    root attrs count ``frames_obd2`` and hold ``obd2`` (per ECU: VIN, supported PIDs,
    negative responses, ISO-TP problems).

    Example
    -------
    >>> import cantelem_sci as ct
    >>> tree = decode_vehicle(ct.simulate_obd_vehicle(duration_s=3), None, ["obd2"])
    >>> "OBD2_7E8_010C" in tree.children
    True
    """
    from ._obd import decode_obd
    from ._to_xarray import decode

    batch = as_batch(raw, "decode_vehicle")
    if db is not None and not isinstance(db, Database):
        raise ArgumentError(f"decode_vehicle: db must be a Database (load_dbc) or None, got "
                            f"{type(db).__name__}")
    protocols = check_protocols(protocols, "decode_vehicle")
    obd = np.zeros(len(batch), bool)
    if "obd2" in protocols and len(batch):
        obd = obd_traffic(batch.arbitration_id, batch.is_extended)
        if db is not None and obd.any():
            known = np.array([m.frame_id | (int(bool(m.is_extended_frame)) << 31)
                              for m in db.messages], np.int64)
            key = batch.arbitration_id.astype(np.int64) | (
                batch.is_extended.astype(np.int64) << 31)
            obd &= ~np.isin(key, known)
    n_obd = int(np.count_nonzero(obd))
    tp = np.zeros(len(batch), bool)
    if "j1939" in protocols and len(batch):
        pf = (batch.arbitration_id.astype(np.int64) >> 16) & 0xFF
        tp = batch.is_extended & ((pf == 0xEC) | (pf == 0xEB))
    aside = obd | tp
    rest = batch.take(np.flatnonzero(~aside)) if aside.any() else batch
    tree = decode(rest, db) if db is not None else _empty_tree(rest)
    if "j1939" in protocols:
        from ._j1939 import decode_j1939

        sub = decode_j1939(batch, db)
        for name, node in sub.children.items():
            if name not in tree.children:
                tree[name] = node.copy()
        tree.attrs["frames_total"] = len(batch)
        tree.attrs["frames_j1939_tp"] = int(np.count_nonzero(tp))
        tree.attrs["j1939"] = sub.attrs["j1939"]
        tree.attrs["j1939_tp"] = sub.attrs.get("j1939_tp", {})
    if "obd2" in protocols:
        sub = decode_obd(batch.take(np.flatnonzero(obd))) if n_obd else None
        for name, node in (sub.children.items() if sub is not None else ()):
            tree[name] = node.copy()  # a few small nodes: the DBC's stay as they are
        tree.attrs["frames_total"] = len(batch)
        tree.attrs["frames_obd2"] = n_obd
        tree.attrs["obd2"] = sub.attrs["obd2"] if sub is not None else {}
    return tree
