"""The uplink's receiving end: packets from the radio back into a low-rate stream in the store.

:class:`UplinkReceiver` takes packets in any order, any number of times, with gaps: a
packet seen before is counted as a duplicate, a delta packet whose keyframe has not come yet
waits for it (reordering), and one whose keyframe never comes is counted (never guessed).
``flush`` writes what is new as Parquet under ``uplink/vehicle=<id>/date=<day>/``;
:func:`read_uplink` (``Fleet.uplink``) reads a vehicle's stream back, each snapshot once, in
time order. ``cantelem uplink receive`` runs a receiver on UDP or MQTT.
"""

from __future__ import annotations

import io
import socket
import threading
import uuid
from collections import OrderedDict
from typing import Any

import numpy as np
import pandas as pd

from ..decoder import Snapshot, UplinkSchema, peek_header
from ..errors import UplinkError
from ._store import Store

__all__ = ["UplinkReceiver", "read_uplink", "serve_udp"]

KEEP = 512  # keyframes kept per vehicle as delta bases
WAIT = 512  # delta packets waiting for their keyframe, per vehicle


class UplinkReceiver:
    """Decodes packets of one schema (see the module docstring).

    Example
    -------
    >>> import cantelem_sci as ct
    >>> s = UplinkSchema.from_dbc(ct.load_dbc(ct.sample_dbc_path()), ["SOC"])
    >>> rx = UplinkReceiver(s)
    >>> p = s.encode({"SOC": 50.0}, "EV0001", 1, 10**18)
    >>> [x.values for x in rx.feed(p) + rx.feed(p)], rx.counts["duplicates"]
    ([{'SOC': 50.0}], 1)
    """

    def __init__(self, schema: UplinkSchema) -> None:
        self.schema = schema
        self._seen: set[tuple[str, int, int]] = set()
        self._keys: dict[str, OrderedDict[int, Snapshot]] = {}
        self._waiting: dict[str, list[tuple[int, bytes]]] = {}
        self._new: list[Snapshot] = []
        self._lock = threading.Lock()
        self.counts = {"packets": 0, "decoded": 0, "duplicates": 0, "damaged": 0,
                       "other_schema": 0, "waiting": 0, "missing_keyframe": 0}

    def feed(self, packet: bytes) -> list[Snapshot]:
        """Decode one packet; return the snapshots it completes (it, and deltas that were
        waiting for it)."""
        with self._lock:
            self.counts["packets"] += 1
            try:
                head = peek_header(packet)
            except UplinkError:
                self.counts["damaged"] += 1
                return []
            if head["schema"] != self.schema.digest:
                self.counts["other_schema"] += 1
                return []
            key = (head["vehicle"], head["seq"], head["time_ns"])
            if key in self._seen:
                self.counts["duplicates"] += 1
                return []
            return self._decode(head, packet)

    def _decode(self, head: dict, packet: bytes) -> list[Snapshot]:
        v = head["vehicle"]
        keys = self._keys.setdefault(v, OrderedDict())
        if head["delta"] and head["base_seq"] not in keys:
            wait = self._waiting.setdefault(v, [])
            if (head["base_seq"], packet) in wait:
                self.counts["duplicates"] += 1
                return []
            wait.append((head["base_seq"], packet))
            self.counts["waiting"] += 1
            if len(wait) > WAIT:  # its keyframe will not come now
                wait.pop(0)
                self.counts["waiting"] -= 1
                self.counts["missing_keyframe"] += 1
            return []
        try:
            snap = self.schema.decode(packet, keys.get(head.get("base_seq", -1)))
        except UplinkError:
            self.counts["damaged"] += 1
            return []
        self._seen.add((v, head["seq"], head["time_ns"]))
        self._new.append(snap)
        self.counts["decoded"] += 1
        out = [snap]
        if not snap.delta:
            keys[snap.seq] = snap
            while len(keys) > KEEP:
                keys.popitem(last=False)
            ready = [p for b, p in self._waiting.get(v, []) if b == snap.seq]
            self._waiting[v] = [(b, p) for b, p in self._waiting.get(v, []) if b != snap.seq]
            for p in ready:
                self.counts["waiting"] -= 1
                h = peek_header(p)
                if (v, h["seq"], h["time_ns"]) not in self._seen:
                    out += self._decode(h, p)
        return out

    def frame(self, snapshots: list[Snapshot]) -> pd.DataFrame:
        rows = [{"vehicle": s.vehicle, "time": pd.Timestamp(s.time_ns, unit="ns"),
                 "seq": s.seq, **{f.name: s.values.get(f.name, np.nan)
                                  for f in self.schema.fields}} for s in snapshots]
        return pd.DataFrame(rows, columns=["vehicle", "time", "seq",
                                           *[f.name for f in self.schema.fields]])

    def flush(self, store: Store) -> int:
        """Write the snapshots decoded since the last flush; return how many."""
        with self._lock:
            new, self._new = self._new, []
        if not new:
            return 0
        df = self.frame(new)
        for (vehicle, day), part in df.groupby([df["vehicle"], df["time"].dt.strftime("%Y-%m-%d")]):
            buf = io.BytesIO()
            part.drop(columns="vehicle").to_parquet(buf, index=False)
            store.write_bytes(f"uplink/vehicle={vehicle}/date={day}/"
                              f"{uuid.uuid4().hex}.parquet", buf.getvalue())
        return len(new)


def read_uplink(store: Store, vehicle: str, start: Any = None, end: Any = None) -> pd.DataFrame:
    """A vehicle's uplink snapshots, each once, in time order (``time``, ``seq``, signals)."""
    parts = []
    for d in sorted(store.ls(f"uplink/vehicle={vehicle}")):
        for f in sorted(store.ls(f"uplink/vehicle={vehicle}/{d}")):
            if f.endswith(".parquet"):
                parts.append(pd.read_parquet(io.BytesIO(
                    store.read_bytes(f"uplink/vehicle={vehicle}/{d}/{f}"))))
    if not parts:
        return pd.DataFrame(columns=["time", "seq"])
    df = pd.concat(parts, ignore_index=True).drop_duplicates(["time", "seq"])
    df = df.sort_values("time", kind="stable").reset_index(drop=True)
    if start is not None:
        df = df[df["time"] >= pd.Timestamp(start)]
    if end is not None:
        df = df[df["time"] <= pd.Timestamp(end)]
    return df.reset_index(drop=True)


def serve_udp(receiver: UplinkReceiver, host: str, port: int, store: Store,
              stop: threading.Event, flush_s: float = 5.0) -> None:
    """Receive packets on UDP until ``stop``, flushing to ``store`` every ``flush_s``."""
    import time

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((host, port))
    sock.settimeout(0.2)
    last = time.monotonic()
    try:
        while not stop.is_set():
            try:
                receiver.feed(sock.recv(4096))
            except socket.timeout:
                pass
            if time.monotonic() - last >= flush_s:
                receiver.flush(store)
                last = time.monotonic()
    finally:
        sock.close()
        receiver.flush(store)
