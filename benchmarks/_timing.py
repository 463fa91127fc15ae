"""The benchmarks' timer: the best of a few runs, which is the run least disturbed by the
host (other processes, frequency changes); compare it with the peer timed the same way in
the same run."""

from __future__ import annotations

import time
from typing import Any, Callable

__all__ = ["best"]


def best(fn: Callable[[], Any], repeats: int = 3, warm: bool = True) -> float:
    """Seconds of the fastest of ``repeats`` calls of ``fn``, after one untimed call with
    ``warm`` (JIT compilation, caches).

    Example
    -------
    >>> best(lambda: sum(range(10)), repeats=2) >= 0
    True
    """
    if warm:
        fn()
    out = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out = min(out, time.perf_counter() - t)
    return out
