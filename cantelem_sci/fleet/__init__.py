"""Fleet data lake: store layout, segment index, catalogs, the Dask decode job, queries."""

from ._alerts import AlertsReport, evaluate_fleet
from ._catalog import Catalog, DbcGroup, default_catalog, load_catalog
from ._fleet import Fleet
from ._open import open_fleet
from ._index import refresh_index
from ._job import JobReport, decode_fleet, plan
from ._retention import (RetentionReport, RetentionRule, apply_retention,
                         lifecycle_configuration)
from ._store import Store

__all__ = [
    "AlertsReport",
    "Catalog",
    "DbcGroup",
    "Fleet",
    "JobReport",
    "RetentionReport",
    "RetentionRule",
    "Store",
    "apply_retention",
    "decode_fleet",
    "evaluate_fleet",
    "default_catalog",
    "lifecycle_configuration",
    "load_catalog",
    "open_fleet",
    "plan",
    "refresh_index",
]
