"""numba kernels on arrays (numpy and numba only): downsampling and windowed statistics.

Every downsampler returns sorted int64 indices into its input, so one selection indexes
every variable of a dataset.
"""

from ._gaps import METHODS, breaks, downsample, step
from ._lttb import lttb
from ._minmax import lttb_on_subset, m4, minmax, minmax_lttb
from ._stats import (
    FIELDS,
    STATS,
    stats_append,
    stats_combine,
    stats_create,
    stats_finalize,
    window_quantiles,
    window_stats,
)

__all__ = [
    "FIELDS",
    "METHODS",
    "STATS",
    "breaks",
    "downsample",
    "lttb",
    "lttb_on_subset",
    "m4",
    "minmax",
    "minmax_lttb",
    "stats_append",
    "stats_combine",
    "stats_create",
    "stats_finalize",
    "step",
    "window_quantiles",
    "window_stats",
]
