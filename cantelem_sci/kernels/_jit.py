"""numba's ``njit`` where numba is installed, else the plain Python function.

The kernels a small device runs at its own pace (the alert state machines: a few hundred
samples a second) work without numba, which costs about 70 MB of resident memory that a
Raspberry Pi class logger does not have (``./run bench edge device``). ``CANTELEM_JIT=0``
turns compilation off where numba is installed (the tests check both ways agree).
"""

from __future__ import annotations

import os
from typing import Any, Callable

__all__ = ["JIT", "njit"]


def _jit_available() -> bool:
    if os.environ.get("CANTELEM_JIT", "1") == "0":
        return False
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


#: Whether kernels decorated with :func:`njit` are compiled.
JIT = _jit_available()


def njit(*args: Any, **kwargs: Any) -> Any:
    """``numba.njit(*args, **kwargs)``, or, without numba, a decorator that returns the
    function unchanged (used as ``@njit`` or ``@njit(cache=True, ...)``)."""
    if JIT:
        import numba

        return numba.njit(*args, **kwargs)
    if len(args) == 1 and callable(args[0]) and not kwargs:
        return args[0]

    def keep(fn: Callable[..., Any]) -> Callable[..., Any]:
        return fn

    return keep
