"""The raw-frame format: a numpy batch (for the edge) and an xarray Dataset (for analysis).

Schema ``cantelem.raw-frames`` version 1 (documented in ``docs/raw-frames.md``):

=================  ==================  ==========================================
variable           dtype, dims         meaning
=================  ==================  ==========================================
``time``           datetime64[ns]      receive time, UTC (coordinate on ``frame``)
``arbitration_id`` uint32 (frame)      11- or 29-bit identifier
``dlc``            uint8 (frame)       payload length in bytes (0..64)
``is_extended``    bool (frame)        29-bit identifier
``is_fd``          bool (frame)        CAN FD frame
``is_remote``      bool (frame)        remote transmission request
``is_error``       bool (frame)        error frame
``channel``        uint8 (frame)       index into ``attrs["channel_names"]``
``data``           uint8 (frame, byte) payload, zero padded; ``byte`` is 8 or 64 long
=================  ==================  ==========================================

Only this module knows the layout; the edge logger imports :class:`FrameBatch` without xarray.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from ..errors import FrameFormatError

if TYPE_CHECKING:  # pragma: no cover
    import xarray as xr

SCHEMA_NAME = "cantelem.raw-frames"
SCHEMA_VERSION = 1
FIELDS = ("arbitration_id", "dlc", "is_extended", "is_fd", "is_remote", "is_error", "channel")
DTYPES: dict[str, np.dtype[Any]] = {
    "time": np.dtype("int64"),
    "arbitration_id": np.dtype("uint32"),
    "dlc": np.dtype("uint8"),
    "is_extended": np.dtype("bool"),
    "is_fd": np.dtype("bool"),
    "is_remote": np.dtype("bool"),
    "is_error": np.dtype("bool"),
    "channel": np.dtype("uint8"),
    "data": np.dtype("uint8"),
}
FD_LENGTHS = (0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 20, 24, 32, 48, 64)


def _as_ns(time: Any) -> np.ndarray:
    arr = np.asarray(time)
    if arr.dtype.kind == "M":
        return arr.astype("datetime64[ns]").view("int64")
    if arr.dtype.kind in "iu":
        return arr.astype("int64")
    if arr.dtype.kind == "f":
        raise FrameFormatError(
            "time: expected int64 nanoseconds or datetime64[ns], got float; "
            "convert seconds with cantelem_sci.frames.seconds_to_ns()"
        )
    raise FrameFormatError(f"time: expected int64 ns or datetime64[ns], got dtype {arr.dtype}")


def seconds_to_ns(seconds: Any) -> np.ndarray:
    """Float epoch seconds to int64 ns, rounded to the nearest ns of each float's exact value.

    Example
    -------
    >>> int(seconds_to_ns([1.5])[0])
    1500000000
    """
    s = np.asarray(seconds, dtype=np.float64)
    whole = np.floor(s)
    frac = np.round((s - whole) * 1e9)  # s - whole is exact (Sterbenz)
    return whole.astype(np.int64) * 1_000_000_000 + frac.astype(np.int64)


@dataclass(eq=False)
class FrameBatch:
    """Raw CAN frames as plain numpy arrays (structure of arrays, one row per frame).

    Example
    -------
    >>> b = FrameBatch.from_arrays([0, 1], [0x100, 0x101], np.zeros((2, 8), np.uint8))
    >>> len(b), b.data.shape
    (2, (2, 8))
    """

    time: np.ndarray
    arbitration_id: np.ndarray
    dlc: np.ndarray
    is_extended: np.ndarray
    is_fd: np.ndarray
    is_remote: np.ndarray
    is_error: np.ndarray
    channel: np.ndarray
    data: np.ndarray
    channel_names: list[str] = field(default_factory=lambda: ["can0"])

    def __len__(self) -> int:
        return int(self.time.shape[0])

    @classmethod
    def empty(cls, width: int = 8, channel_names: Sequence[str] = ("can0",)) -> "FrameBatch":
        z = {k: np.zeros(0, DTYPES[k]) for k in FIELDS}
        return cls(np.zeros(0, np.int64), data=np.zeros((0, width), np.uint8),
                   channel_names=list(channel_names), **z)

    @classmethod
    def from_arrays(
        cls,
        time: Any,
        arbitration_id: Any,
        data: Any,
        *,
        dlc: Any = None,
        is_extended: Any = None,
        is_fd: Any = None,
        is_remote: Any = None,
        is_error: Any = None,
        channel: Any = None,
        channel_names: Sequence[str] | None = None,
        validate: bool = True,
    ) -> "FrameBatch":
        """Build a batch from array-likes, filling defaults and checking every field."""
        t = _as_ns(time).reshape(-1)
        n = t.shape[0]
        d = np.asarray(data)
        if d.ndim != 2 or d.shape[0] != n:
            raise FrameFormatError(f"data: expected shape ({n}, 8) or ({n}, 64), got {d.shape}")
        if d.dtype != np.uint8:
            if d.dtype.kind not in "iu" or (d.size and (d.min() < 0 or d.max() > 255)):
                raise FrameFormatError(f"data: expected uint8 bytes, got dtype {d.dtype}")
            d = d.astype(np.uint8)
        if d.shape[1] not in (8, 64):
            if d.shape[1] > 64:
                raise FrameFormatError(f"data: at most 64 bytes per frame, got {d.shape[1]}")
            width = 8 if d.shape[1] <= 8 else 64
            d = np.concatenate([d, np.zeros((n, width - d.shape[1]), np.uint8)], axis=1)
        d = np.ascontiguousarray(d)  # rows of bytes, as the decoder reads them (no-op if so)
        aid = np.asarray(arbitration_id)
        if aid.shape != (n,):
            raise FrameFormatError(f"arbitration_id: expected shape ({n},), got {aid.shape}")
        if aid.size and (aid.min() < 0 or aid.max() > 0x1FFFFFFF):
            bad = int(np.flatnonzero((aid < 0) | (aid > 0x1FFFFFFF))[0])
            raise FrameFormatError(
                f"frame {bad}: arbitration_id {int(aid[bad]):#x} is outside 0..0x1FFFFFFF")
        aid = aid.astype(np.uint32)

        def opt(name: str, value: Any, default: Any) -> np.ndarray:
            if value is None:
                return np.full(n, default, DTYPES[name])
            arr = np.asarray(value)
            if arr.ndim == 0:
                arr = np.full(n, arr)
            if arr.shape != (n,):
                raise FrameFormatError(f"{name}: expected shape ({n},), got {arr.shape}")
            return arr.astype(DTYPES[name])

        ext = opt("is_extended", is_extended, False)
        if is_extended is None:
            ext = aid > 0x7FF
        fd = opt("is_fd", is_fd, False)
        if is_fd is None and d.shape[1] == 64:
            fd = np.ones(n, bool) if dlc is None else np.asarray(dlc) > 8
        if dlc is None:
            dl = np.full(n, d.shape[1] if d.shape[1] == 8 else 64, np.uint8)
            dl[~fd] = np.minimum(dl[~fd], 8)
        else:
            dl = np.asarray(dlc)
            if dl.shape != (n,):
                raise FrameFormatError(f"dlc: expected shape ({n},), got {dl.shape}")
            if dl.size and (dl.min() < 0 or dl.max() > d.shape[1]):
                bad = int(np.flatnonzero((dl < 0) | (dl > d.shape[1]))[0])
                raise FrameFormatError(
                    f"frame {bad} (id {int(aid[bad]):#x}): dlc {int(dl[bad])} is outside "
                    f"0..{d.shape[1]} (the payload width)")
            dl = dl.astype(np.uint8)
        ch = opt("channel", channel, 0)
        names = list(channel_names) if channel_names is not None else [
            f"can{i}" for i in range(int(ch.max()) + 1 if n else 1)]
        batch = cls(t, aid, dl, ext, fd, opt("is_remote", is_remote, False),
                    opt("is_error", is_error, False), ch, d, names)
        if validate:
            batch.validate()
        return batch

    def validate(self) -> None:
        """Raise :class:`FrameFormatError` naming the first bad frame, if any."""
        n = len(self)
        for name in ("time",) + FIELDS:
            arr = getattr(self, name)
            if arr.shape != (n,) or arr.dtype != DTYPES[name]:
                raise FrameFormatError(
                    f"{name}: expected {DTYPES[name]} of shape ({n},), got {arr.dtype} {arr.shape}")
        if self.data.shape != (n, self.data.shape[1]) or self.data.shape[1] not in (8, 64):
            raise FrameFormatError(f"data: expected ({n}, 8) or ({n}, 64), got {self.data.shape}")
        std_bad = (~self.is_extended) & (self.arbitration_id > 0x7FF)
        if std_bad.any():
            i = int(np.flatnonzero(std_bad)[0])
            raise FrameFormatError(
                f"frame {i}: standard (11-bit) frame with id "
                f"{int(self.arbitration_id[i]):#x} > 0x7FF; set is_extended for 29-bit ids")
        classic_bad = (~self.is_fd) & (self.dlc > 8)
        if classic_bad.any():
            i = int(np.flatnonzero(classic_bad)[0])
            raise FrameFormatError(
                f"frame {i} (id {int(self.arbitration_id[i]):#x}): classic CAN frame with "
                f"{int(self.dlc[i])} bytes; at most 8 (set is_fd for CAN FD)")
        if n and int(self.channel.max()) >= len(self.channel_names):
            raise FrameFormatError(
                f"channel index {int(self.channel.max())} has no name in channel_names "
                f"{self.channel_names}")

    def take(self, index: Any) -> "FrameBatch":
        """A new batch of the selected rows."""
        return FrameBatch(*(getattr(self, k)[index] for k in ("time",) + FIELDS + ("data",)),
                          channel_names=list(self.channel_names))

    @staticmethod
    def concat(batches: Sequence["FrameBatch"]) -> "FrameBatch":
        """Concatenate batches, merging channel names and widening payloads as needed."""
        batches = [b for b in batches if b is not None]
        if not batches:
            return FrameBatch.empty()
        names: list[str] = []
        for b in batches:
            for nm in b.channel_names:
                if nm not in names:
                    names.append(nm)
        width = max(b.data.shape[1] for b in batches)
        parts: dict[str, list[np.ndarray]] = {k: [] for k in ("time",) + FIELDS + ("data",)}
        for b in batches:
            remap = np.array([names.index(nm) for nm in b.channel_names], np.uint8)
            for k in ("time",) + FIELDS:
                arr = getattr(b, k)
                parts[k].append(remap[arr] if k == "channel" and len(b) else arr)
            d = b.data
            if d.shape[1] < width:
                d = np.concatenate([d, np.zeros((len(b), width - d.shape[1]), np.uint8)], axis=1)
            parts["data"].append(d)
        return FrameBatch(*(np.concatenate(parts[k]) for k in ("time",) + FIELDS + ("data",)),
                          channel_names=names)

    def to_dataset(self) -> "xr.Dataset":
        """The batch as a raw-frame :class:`xarray.Dataset` (schema version 1)."""
        import xarray as xr

        data = self.data
        if data.shape[1] == 64 and not self.is_fd.any() and (self.dlc <= 8).all():
            data = data[:, :8]
        ds = xr.Dataset(
            {k: ("frame", getattr(self, k)) for k in FIELDS} | {"data": (("frame", "byte"), data)},
            coords={"time": ("frame", self.time.view("datetime64[ns]"))},
            attrs={"schema": SCHEMA_NAME, "schema_version": SCHEMA_VERSION,
                   "channel_names": list(self.channel_names)},
        )
        return ds

    @classmethod
    def from_dataset(cls, ds: Any) -> "FrameBatch":
        """Read a raw-frame Dataset (in memory or lazy) back into numpy arrays."""
        check_schema(ds)
        t = np.asarray(ds["time"].values).astype("datetime64[ns]").view("int64")
        arrs = [np.asarray(ds[k].values).astype(DTYPES[k], copy=False) for k in FIELDS]
        data = np.asarray(ds["data"].values).astype(np.uint8, copy=False)
        names = list(ds.attrs.get("channel_names", ["can0"]))
        return cls(t, *arrs, data, channel_names=names)


def check_schema(ds: Any) -> None:
    """Raise :class:`FrameFormatError` when ``ds`` is not a raw-frame Dataset this version reads."""
    missing = [k for k in ("time", "data") + FIELDS if k not in ds.variables]
    if missing:
        raise FrameFormatError(
            f"not a raw-frame dataset: missing {missing}; expected the {SCHEMA_NAME} schema "
            "(see docs/raw-frames.md)")
    version = int(ds.attrs.get("schema_version", SCHEMA_VERSION))
    if version > SCHEMA_VERSION:
        raise FrameFormatError(
            f"raw-frame schema version {version} is newer than this package reads "
            f"({SCHEMA_VERSION}); upgrade cantelem_sci")


def frames(
    time: Any,
    arbitration_id: Any,
    data: Any,
    *,
    dlc: Any = None,
    is_extended: Any = None,
    channel: Any = None,
    is_fd: Any = None,
    is_remote: Any = None,
    is_error: Any = None,
    channel_names: Sequence[str] | None = None,
) -> "xr.Dataset":
    """Build a raw-frame :class:`xarray.Dataset` from arrays.

    Parameters
    ----------
    time
        int64 nanoseconds since the epoch (UTC) or datetime64[ns], shape (n,).
    arbitration_id
        Identifiers, shape (n,).
    data
        uint8 payload of shape (n, 8) or (n, 64) (narrower is zero padded).
    dlc
        Payload length in bytes; default the full width (8 for classic frames).
    is_extended
        29-bit identifiers; default ``arbitration_id > 0x7FF``.
    channel
        Channel index per frame (uint8); names go in ``channel_names``.
    is_fd, is_remote, is_error
        Flags; default False (``is_fd`` defaults to ``dlc > 8`` for 64-byte data).

    Returns
    -------
    xarray.Dataset
        Dims ``frame`` and ``byte``, see :mod:`cantelem_sci.frames`.

    Example
    -------
    >>> import numpy as np, cantelem_sci as ct
    >>> ds = ct.frames(np.arange(3), [0x100] * 3, np.zeros((3, 8), np.uint8))
    >>> ds.sizes["frame"], ds.sizes["byte"]
    (3, 8)
    """
    return FrameBatch.from_arrays(
        time, arbitration_id, data, dlc=dlc, is_extended=is_extended, is_fd=is_fd,
        is_remote=is_remote, is_error=is_error, channel=channel, channel_names=channel_names,
    ).to_dataset()
