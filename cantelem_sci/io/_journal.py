"""Write-ahead journal: how frames become durable at least once a second.

A journal is an append-only file of records ``header | payload``; the header holds a magic,
the record kind, the payload length and its CRC-32. Each flush appends the frames received
since the last flush and calls ``fsync``; only then are they counted durable. After a crash
(``kill -9``, power cut) a reader keeps every complete record and stops at the first torn or
corrupt one, so at most the frames of the last flush interval are lost. A journal becomes an
immutable Zarr segment when the segment rotates (or at the next start) and is then deleted.

Record kinds: ``META`` (JSON: vehicle, seq, channel names, logger version), ``CAN`` (a
:class:`~cantelem_sci.frames.FrameBatch` as columns), ``GPS`` (fixes as columns).

Where the journals live: a vehicle's spool state directory (:func:`state_dir`,
``<spool>/.edge/<vehicle>``) holds ``journal-<seq>.ctj`` files (:func:`journal_path`); the
analysis side reads what they have made durable through :func:`durable_frames`.
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import SpoolError
from ..frames import FrameBatch

MAGIC = b"CTJ1"
HEADER = struct.Struct("<4sBxxxII")  # magic, kind, length, crc32
META, CAN, GPS = 0, 1, 2
GPS_FLOAT = ("latitude", "longitude", "altitude", "speed", "course", "hdop")
GPS_INT = ("fix_quality", "satellites")


def _record(kind: int, payload: bytes) -> bytes:
    return HEADER.pack(MAGIC, kind, len(payload), zlib.crc32(payload)) + payload


def encode_can(b: FrameBatch) -> bytes:
    """Payload of a CAN record (columns, little endian)."""
    n, width = len(b), b.data.shape[1]
    flags = (b.is_extended.astype(np.uint8) | (b.is_fd.astype(np.uint8) << 1)
             | (b.is_remote.astype(np.uint8) << 2) | (b.is_error.astype(np.uint8) << 3))
    parts = [struct.pack("<IB", n, width), b.time.astype("<i8").tobytes(),
             b.arbitration_id.astype("<u4").tobytes(), b.dlc.tobytes(), flags.tobytes(),
             b.channel.tobytes(), np.ascontiguousarray(b.data).tobytes()]
    return b"".join(parts)


def decode_can(payload: bytes, names: list[str]) -> FrameBatch:
    n, width = struct.unpack_from("<IB", payload)
    o = 5
    def take(dtype, count):
        nonlocal o
        a = np.frombuffer(payload, dtype=dtype, count=count, offset=o)
        o += a.nbytes
        return a
    t = take("<i8", n).astype(np.int64)
    aid = take("<u4", n).astype(np.uint32)
    dlc = take("u1", n).copy()
    flags = take("u1", n)
    ch = take("u1", n).copy()
    data = take("u1", n * width).reshape(n, width).copy()
    return FrameBatch(t, aid, dlc, (flags & 1) > 0, (flags & 2) > 0, (flags & 4) > 0,
                      (flags & 8) > 0, ch, data, channel_names=list(names))


def encode_gps(g: dict[str, np.ndarray]) -> bytes:
    n = len(g["time"])
    parts = [struct.pack("<I", n), np.asarray(g["time"], "<i8").tobytes()]
    parts += [np.asarray(g[k], "<f8").tobytes() for k in GPS_FLOAT]
    parts += [np.asarray(g[k], "u1").tobytes() for k in GPS_INT]
    return b"".join(parts)


def decode_gps(payload: bytes) -> dict[str, np.ndarray]:
    (n,) = struct.unpack_from("<I", payload)
    o = 4
    out: dict[str, np.ndarray] = {}
    for k, dt in [("time", "<i8"), *[(k, "<f8") for k in GPS_FLOAT], *[(k, "u1") for k in GPS_INT]]:
        a = np.frombuffer(payload, dtype=dt, count=n, offset=o)
        o += a.nbytes
        out[k] = a.copy()
    return out


def fsync_dir(path: Path) -> None:
    """``fsync`` a directory, so that a file created or renamed in it survives a crash."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class JournalWriter:
    """Append-only journal of one segment. :meth:`flush` makes everything appended durable."""

    def __init__(self, path: Path, meta: dict[str, Any]) -> None:
        self.path = Path(path)
        try:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except OSError as err:
            raise SpoolError(f"{self.path}: cannot create the journal: {err.strerror}") from err
        self._good = 0
        self._pending: list[bytes] = []
        self._pending_frames = 0
        self.frames = 0
        self.gps = 0
        self.meta = dict(meta)
        self._pending.append(_record(META, json.dumps(self.meta).encode()))
        try:
            self.flush()
            fsync_dir(self.path.parent)
        except (SpoolError, OSError) as err:  # nothing in it yet: gone again
            self.close()
            self.path.unlink(missing_ok=True)
            if isinstance(err, SpoolError):
                raise
            raise SpoolError(f"{self.path}: cannot create the journal: {err.strerror}") from err

    def set_channels(self, names: list[str]) -> None:
        """Record a grown channel table (indices never change, names only append)."""
        self.meta["channel_names"] = list(names)
        self._pending.append(_record(META, json.dumps(self.meta).encode()))

    def append_can(self, batch: FrameBatch) -> None:
        if len(batch):
            self._pending.append(_record(CAN, encode_can(batch)))
            self._pending_frames += len(batch)

    def append_gps(self, fixes: dict[str, np.ndarray]) -> None:
        if len(fixes["time"]):
            self._pending.append(_record(GPS, encode_gps(fixes)))
            self.gps += len(fixes["time"])

    @property
    def size(self) -> int:
        return self._good

    def flush(self) -> int:
        """Write and fsync what was appended; return the number of frames made durable.

        On failure (disk full, I/O error) the file is cut back to its last durable record,
        the pending records are kept for the next try and :class:`SpoolError` is raised.
        """
        if not self._pending:
            return 0
        blob = b"".join(self._pending)
        try:
            view = memoryview(blob)
            while view:
                k = os.write(self._fd, view)
                view = view[k:]
            os.fsync(self._fd)
        except OSError as err:
            try:
                os.ftruncate(self._fd, self._good)
                os.lseek(self._fd, self._good, os.SEEK_SET)
            except OSError:
                pass
            raise SpoolError(f"{self.path}: cannot write the journal ({err.strerror}); "
                             f"{self._pending_frames} frames kept in memory and retried") from err
        self._good += len(blob)
        self._pending = []
        n, self._pending_frames = self._pending_frames, 0
        self.frames += n
        return n

    def close(self) -> None:
        try:
            os.close(self._fd)
        except OSError:
            pass


@dataclass
class JournalContents:
    """What :func:`read_journal` recovered."""

    meta: dict[str, Any]
    frames: FrameBatch
    gps: dict[str, np.ndarray] | None
    records: int = 0
    torn_bytes: int = 0
    problems: list[str] = field(default_factory=list)


def read_journal(path: Path) -> JournalContents:
    """Every complete record of a journal; stops at the first torn or corrupt one.

    Example
    -------
    >>> import tempfile, pathlib
    >>> from cantelem_sci.frames import FrameBatch
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "j.ctj"
    >>> w = JournalWriter(p, {"vehicle": "EV1", "seq": 1, "channel_names": ["can0"]})
    >>> w.append_can(FrameBatch.from_arrays([1, 2], [0x100, 0x101], np.zeros((2, 8), np.uint8)))
    >>> w.flush()
    2
    >>> len(read_journal(p).frames)
    2
    """
    path = Path(path)
    try:
        blob = path.read_bytes()
    except OSError as err:
        raise SpoolError(f"{path}: cannot read the journal: {err.strerror}") from err
    o = 0
    meta: dict[str, Any] = {}
    can_payloads: list[bytes] = []
    gps_parts: list[dict[str, np.ndarray]] = []
    records = 0
    problems: list[str] = []
    while o + HEADER.size <= len(blob):
        magic, kind, length, crc = HEADER.unpack_from(blob, o)
        end = o + HEADER.size + length
        if magic != MAGIC or end > len(blob):
            break
        payload = blob[o + HEADER.size:end]
        if zlib.crc32(payload) != crc:
            problems.append(f"{path}: record at byte {o} fails its CRC; the rest is not used")
            break
        if kind == META:
            meta = json.loads(payload)
        elif kind == CAN:
            can_payloads.append(payload)
        elif kind == GPS:
            gps_parts.append(decode_gps(payload))
        records += 1
        o = end
    torn = len(blob) - o
    names = list(meta.get("channel_names") or ["can0"])
    batches = [decode_can(p, names) for p in can_payloads]
    frames = FrameBatch.concat(batches) if batches else FrameBatch.empty(8, names)
    if batches:
        frames.channel_names = names
    gps = None
    if gps_parts:
        gps = {k: np.concatenate([g[k] for g in gps_parts]) for k in gps_parts[0]}
    return JournalContents(meta, frames, gps, records, torn, problems)


#: The journals of a state directory.
JOURNAL_GLOB = "journal-*.ctj"


def state_dir(spool: str | os.PathLike[str], vehicle: str) -> Path:
    """``<spool>/.edge/<vehicle>``: a vehicle's journals, sequence numbers and status."""
    return Path(spool) / ".edge" / vehicle


def journal_path(state: Path, seq: int) -> Path:
    """The journal of sequence number ``seq`` in a state directory."""
    return state / f"journal-{seq:06d}.ctj"


def durable_frames(spool: str | os.PathLike[str], vehicle: str) -> FrameBatch:
    """The frames the logger of ``vehicle`` has made durable in the journals of ``spool``
    and not yet turned into segments (empty when there are none). A journal that is being
    rotated away while it is read is skipped: its frames are in a segment by then.

    Example
    -------
    >>> import tempfile
    >>> len(durable_frames(tempfile.mkdtemp(), "EV0001"))
    0
    """
    state = state_dir(spool, vehicle)
    batches = []
    for path in sorted(state.glob(JOURNAL_GLOB)) if state.is_dir() else []:
        try:
            batches.append(read_journal(path).frames)
        except (OSError, SpoolError):
            continue
    return FrameBatch.concat(batches) if batches else FrameBatch.empty()
