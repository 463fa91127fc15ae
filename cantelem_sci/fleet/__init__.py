"""Fleet data lake: store layout, segment index, catalogs, the Dask decode job, queries."""

from ._catalog import Catalog, DbcGroup, default_catalog, load_catalog
from ._fleet import Fleet, open_fleet
from ._index import refresh_index
from ._job import JobReport, decode_fleet, plan
from ._store import Store

__all__ = [
    "Catalog",
    "DbcGroup",
    "Fleet",
    "JobReport",
    "Store",
    "decode_fleet",
    "default_catalog",
    "load_catalog",
    "open_fleet",
    "plan",
    "refresh_index",
]
