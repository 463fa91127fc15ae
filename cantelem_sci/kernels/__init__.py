"""numba kernels on arrays (numpy and numba only): downsampling."""

from ._lttb import lttb, m4, minmax, minmax_lttb

__all__ = ["lttb", "m4", "minmax", "minmax_lttb"]
