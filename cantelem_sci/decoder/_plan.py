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
def frame_flags(is_remote, is_error, dlc, channel, usable):
    """One pass over the per-frame flags (the bool arrays viewed as uint8, so the loop
    vectorises): ``usable`` (neither remote nor error) into ``usable``; returns (usable
    frames, every dlc at least 8, any channel other than 0)."""
    n_usable = 0
    short = np.uint8(0)
    chan = np.uint8(0)
    one = np.uint8(1)
    for f in range(usable.shape[0]):
        u = one ^ ((is_remote[f] | is_error[f]) & one)
        usable[f] = u
        n_usable += u
        short |= np.uint8(dlc[f] < 8)
        chan |= channel[f]
    return n_usable, short == 0, chan != 0


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
def group_bases(count, sig_group, base):
    """Column bases of the group values into ``base``: member ``s`` of group
    ``sig_group[s]`` (-1: not a member) takes that group's ``count`` values. Returns the
    values in all."""
    n = 0
    for s in range(sig_group.shape[0]):
        base[s] = n
        g = sig_group[s]
        if g >= 0:
            n += count[g]
    return n


@njit(cache=True, nogil=True)
def group_bound(counts, msg_slow, per_group):
    """The group values a batch with these message ``counts`` takes at most, known before
    its multiplexer values are decoded: when no frame is of a message with a general
    multiplexer (``msg_slow``) and every group of each simple multiplexer has the same
    number of members (``per_group``, :attr:`._layout.Layout.per_group`), each row that
    selects a group takes that many values. Else -1 (known only after the partition)."""
    bound = 0
    for m in range(counts.shape[0]):
        c = counts[m]
        if c == 0:
            continue
        if msg_slow[m] or per_group[m] < 0:
            return -1
        bound += c * per_group[m]
    return bound
