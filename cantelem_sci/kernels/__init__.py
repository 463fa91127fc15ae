"""numba kernels on arrays (numpy and numba only): downsampling and windowed statistics.

Every downsampler returns sorted int64 indices into its input, so one selection indexes
every variable of a dataset.
"""

import importlib
from typing import Any

#: public name -> module (imported on first use: ``kernels._alerts`` alone, as the edge
#: logger uses it, needs no numba)
_WHERE = {
    "METHODS": "_gaps", "breaks": "_gaps", "downsample": "_gaps", "step": "_gaps",
    "lttb": "_lttb",
    "lttb_on_subset": "_minmax", "m4": "_minmax", "minmax": "_minmax", "minmax_lttb": "_minmax",
    "FIELDS": "_stats", "STATS": "_stats", "stats_append": "_stats", "stats_combine": "_stats",
    "stats_create": "_stats", "stats_finalize": "_stats", "window_quantiles": "_stats",
    "window_stats": "_stats",
    "MOMENTS": "_moments", "moments_append": "_moments", "moments_combine": "_moments",
    "moments_create": "_moments", "moments_finalize": "_moments", "moments_of": "_moments",
}

__all__ = [
    "FIELDS",
    "METHODS",
    "MOMENTS",
    "STATS",
    "breaks",
    "downsample",
    "lttb",
    "lttb_on_subset",
    "m4",
    "minmax",
    "minmax_lttb",
    "moments_append",
    "moments_combine",
    "moments_create",
    "moments_finalize",
    "moments_of",
    "stats_append",
    "stats_combine",
    "stats_create",
    "stats_finalize",
    "step",
    "window_quantiles",
    "window_stats",
]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
