"""xarray accessor ``.cantelem`` and out-of-core (dask) versions of the kernels.

Importing this module registers the accessor on ``xarray.Dataset`` and ``xarray.DataArray``.
"""

from ._dask import DASK_METHODS, downsample_dask, stats_dask
from ._xarray import CantelemDataArrayAccessor, CantelemDatasetAccessor, with_breaks

__all__ = [
    "DASK_METHODS",
    "CantelemDataArrayAccessor",
    "CantelemDatasetAccessor",
    "downsample_dask",
    "stats_dask",
    "with_breaks",
]
