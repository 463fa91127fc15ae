"""cantelem-edge: the in-vehicle logger (python-can capture to crash-safe Zarr segments,
offline spool, S3 upload). Light: numpy, python-can, numcodecs, pynmea2, s3fs; no zarr-python, dask,
xarray or plotting.

Example
-------
>>> from cantelem_edge import load_config
>>> load_config(vehicle="EV0042", sources=["sim:fast"]).sources[0].kind
'sim'
"""

from cantelem_sci import __version__
from cantelem_sci.io import read_journal, segment_key, write_segment

from ._config import EdgeConfig, SourceConfig, check_vehicle_id, load_config
from ._logger import EdgeLogger
from ._sources import BatchSource, NmeaParser, messages_to_batch, parse_nmea_lines
from ._status import LatencyHistogram, read_status


def ingest(batch, vehicle: str, spool: str, **settings):
    """Write frames already in memory through the logger (journal, segments of
    ``segment_seconds`` of frame time, manifests) into ``spool``; return the final status.

    Example
    -------
    >>> import tempfile, cantelem_sci as ct
    >>> st = ingest(ct.simulate_vehicle(duration_s=130), "EV0001", tempfile.mkdtemp())
    >>> st["segments"]["written"], st["frames"]["durable"] == st["frames"]["in_segments"]
    (3, True)
    """
    cfg = load_config(environ={}, vehicle=vehicle, spool=spool, **settings)
    lg = EdgeLogger(cfg, sources=[BatchSource(batch)])
    lg.start()
    lg.run()
    lg.stop()
    return lg.status()

__all__ = [
    "BatchSource",
    "EdgeConfig",
    "EdgeLogger",
    "LatencyHistogram",
    "NmeaParser",
    "SourceConfig",
    "__version__",
    "check_vehicle_id",
    "ingest",
    "load_config",
    "messages_to_batch",
    "parse_nmea_lines",
    "read_journal",
    "read_status",
    "segment_key",
    "write_segment",
]
