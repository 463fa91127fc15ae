"""Where a decode's rows and columns go: offsets and column bases, in one kernel call each.

These are small computations, but a decode runs them between kernels that have just
streamed tens of megabytes through the caches, and there every numpy call of the
interpreter pays for cache misses: about 30 us each on the development machine, against
2-3 us warm. Done as a dozen numpy calls, the decode's time outside its kernels was
1.2-1.9 ms of the sample vehicle's 30 minutes (12-13 ms in all); with these it is
0.84-0.94 ms.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def plan_rows(counts, msg_sig0, msg_sig1, in_values, msg_muxed, msg_slow):
    """The message-ordered rows and the columns of ``values`` for the frame ``counts`` of
    each message.

    Returns ``(offsets, col_base, n_values, n_muxed, max_slow)``: rows of message ``m`` at
    ``offsets[m]:offsets[m + 1]``; signal ``s`` (of message ``m``, signals
    ``msg_sig0[m]:msg_sig1[m]`` in message order) at ``col_base[s]``, taking
    ``counts[m]`` values when ``in_values[s]``, none otherwise; ``n_values`` in all; the
    rows of the messages with ``msg_muxed`` and the largest count of those with
    ``msg_slow``. Also zeroed: ``out_of_range`` (per signal) and ``first`` (per message),
    returned after them."""
    n_msg = counts.shape[0]
    n_sig = in_values.shape[0]
    offsets = np.zeros(n_msg + 1, np.int64)
    col_base = np.zeros(n_sig, np.int64)
    n_values = 0
    n_muxed = 0
    max_slow = 0
    for m in range(n_msg):
        c = counts[m]
        offsets[m + 1] = offsets[m] + c
        for s in range(msg_sig0[m], msg_sig1[m]):
            col_base[s] = n_values
            if in_values[s]:
                n_values += c
        if msg_muxed[m]:
            n_muxed += c
        if msg_slow[m] and c > max_slow:
            max_slow = c
    return (offsets, col_base, n_values, n_muxed, max_slow, np.zeros(n_sig, np.int64),
            np.zeros(n_msg, np.uint8))


@njit(cache=True, nogil=True)
def plan_groups(grp_count, sig_group):
    """Column bases of the group values: member ``s`` of group ``sig_group[s]`` (-1: not a
    member) takes that group's ``grp_count`` values. Returns ``(gcol_base, n_values)``."""
    gcol_base = np.zeros(sig_group.shape[0], np.int64)
    return gcol_base, group_bases_into(grp_count, sig_group, gcol_base)


@njit(cache=True, nogil=True)
def group_bases_into(grp_count, sig_group, gcol_base):
    """:func:`plan_groups` into the given ``gcol_base``; returns ``n_values``."""
    n = 0
    for s in range(sig_group.shape[0]):
        gcol_base[s] = n
        g = sig_group[s]
        if g >= 0:
            n += grp_count[g]
    return n
