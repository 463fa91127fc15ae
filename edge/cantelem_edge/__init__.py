"""cantelem-edge: the in-vehicle logger (python-can capture to crash-safe Zarr segments,
offline spool, S3 upload). Light: numpy, python-can, zarr, pynmea2, s3fs; no dask, xarray or
plotting.

Example
-------
>>> from cantelem_edge import load_config
>>> load_config(vehicle="EV0042", sources=["sim:fast"]).sources[0].kind
'sim'
"""

from cantelem_sci._version import __version__

from ._config import EdgeConfig, SourceConfig, check_vehicle_id, load_config
from ._journal import read_journal
from ._logger import EdgeLogger
from ._segment import segment_key, write_segment
from ._sources import NmeaParser, messages_to_batch, parse_nmea_lines
from ._status import LatencyHistogram, read_status

__all__ = [
    "EdgeConfig",
    "EdgeLogger",
    "LatencyHistogram",
    "NmeaParser",
    "SourceConfig",
    "__version__",
    "check_vehicle_id",
    "load_config",
    "messages_to_batch",
    "parse_nmea_lines",
    "read_journal",
    "read_status",
    "segment_key",
    "write_segment",
]
