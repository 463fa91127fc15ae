"""Raw frames to the log formats of other tools, through python-can's writers.

For tools that decode themselves (CANalyzer, SavvyCAN, asammdf's bus-logging view, candump's
``canplayer``): a :class:`~cantelem_sci.frames.FrameBatch` is written frame by frame as
python-can messages by the writer its file name selects. The readers of this package read
every written format back (python-can's own readers do too).
"""

from __future__ import annotations

import os
import numpy as np

from ..errors import UnknownNameError
from ..frames import FrameBatch

__all__ = ["LOG_FORMATS", "write_log"]

#: file suffix -> what it is (python-can chooses the writer by the suffix)
LOG_FORMATS = {".asc": "Vector ASC", ".blf": "Vector BLF", ".log": "candump -L (can-utils)",
               ".mf4": "ASAM MDF 4 bus logging", ".trc": "PEAK TRC", ".csv": "python-can CSV"}


def _suffix(path: str) -> str:
    p = path.lower()
    return os.path.splitext(p[:-3] if p.endswith(".gz") else p)[1]


def write_log(frames: FrameBatch, path: str | os.PathLike[str]) -> str:
    """Write ``frames`` to ``path`` in the log format its suffix names (:data:`LOG_FORMATS`).

    Frames are written in time order with their channel names, flags and payload bytes
    (``dlc`` of them); times are seconds since the epoch.

    Raises
    ------
    UnknownNameError
        A suffix that is not one of :data:`LOG_FORMATS` (with the close ones).

    Example
    -------
    >>> import tempfile, os, cantelem_sci as ct
    >>> from cantelem_sci.sources import write_log
    >>> raw = ct.simulate_vehicle(duration_s=0.05)
    >>> p = write_log(raw, os.path.join(tempfile.mkdtemp(), "trip.asc"))
    >>> ct.read_log(p).sizes["frame"] == len(raw)
    True
    """
    import can

    path = os.fspath(path)
    suffix = _suffix(path)
    if suffix not in LOG_FORMATS:
        raise UnknownNameError(f"log format of {path} (by its suffix)", suffix, list(LOG_FORMATS))
    order = np.argsort(frames.time, kind="stable")
    names = list(frames.channel_names) or ["can0"]
    width = frames.data.shape[1] if frames.data.ndim == 2 else 8
    with can.Logger(path) as out:
        for i in order:
            length = min(int(frames.dlc[i]), width)  # payload bytes (the schema's dlc)
            msg = can.Message(
                timestamp=int(frames.time[i]) / 1e9,
                arbitration_id=int(frames.arbitration_id[i]),
                is_extended_id=bool(frames.is_extended[i]),
                is_remote_frame=bool(frames.is_remote[i]),
                is_error_frame=bool(frames.is_error[i]),
                is_fd=bool(frames.is_fd[i]),
                channel=names[int(frames.channel[i])] if int(frames.channel[i]) < len(names)
                else int(frames.channel[i]),
                dlc=length,
                data=None if frames.is_remote[i] else bytes(frames.data[i, :length]),
                check=False,
            )
            out.on_message_received(msg)
    return path

