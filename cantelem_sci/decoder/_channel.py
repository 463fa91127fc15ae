"""The per-row metadata of decoded rows (time, dlc, channel, source address), without a
per-frame scatter of the channel in the common case.

A message is nearly always received on one bus only. The scatters of the column paths
therefore do not copy each frame's channel into message order; they compare it with the
channel of the first frame of its message (:func:`first_channels`) and report whether any
frame differs. When none does, the channel of every row is a fill per message
(:func:`fill_messages`) and per multiplexer group (:func:`fill_groups`); otherwise (the same
id on several buses, e.g. behind a gateway) the channel is scattered in a pass of its own
(:func:`scatter_channel`). Each column stored costs about a nanosecond a frame in the
scatter: 6-7% of a decode of the sample vehicle, whose GPS messages come on a second bus.

The source address column (J1939) uses the same fills: the rows of a message that is not
J1939 all hold its id's low byte (:class:`._tables.MessageTable` ``sa``), so the scatters
store the byte only for the J1939 messages' frames.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def first_channels(msg_of_frame, channel, counts, first):
    """``first[m]``: the channel of the first frame of message ``m`` (0 where the message
    has no frame). Scans only until every message that occurs has been seen."""
    first[:] = 0
    left = 0
    for m in range(counts.shape[0]):
        left += counts[m] > 0
    seen = np.zeros(counts.shape[0], np.bool_)
    f = 0
    while left > 0 and f < msg_of_frame.shape[0]:
        m = msg_of_frame[f]
        if m >= 0 and not seen[m]:
            seen[m] = True
            first[m] = channel[f]
            left -= 1
        f += 1


@njit(cache=True, nogil=True)
def scatter_channel(msg_of_frame, offsets, channel, out_channel):
    """The channel of every matched frame into message order (the order of the scatters)."""
    fill = offsets[:-1].astype(np.uint64)
    for f in range(msg_of_frame.shape[0]):
        m = msg_of_frame[f]
        if m >= 0:
            j = fill[m]
            fill[m] = j + np.uint64(1)
            out_channel[j] = channel[f]


@njit(cache=True, nogil=True)
def fill_messages(offsets, first, out_channel):
    """Every row of message ``m`` gets ``first[m]`` (its channel, or its source address)."""
    for m in range(first.shape[0]):
        out_channel[offsets[m]:offsets[m + 1]] = first[m]


@njit(cache=True, nogil=True)
def fill_groups(grp_msg, grp, first, out):
    """Every row of group ``g`` (:class:`._tables.GroupRows` ``grp``) gets its message's
    ``first[grp_msg[g]]`` (the channel, or the source address) in ``out``."""
    for g in range(grp_msg.shape[0]):
        r0 = grp.row_base[g]
        out[r0:r0 + grp.count[g]] = first[grp_msg[g]]


@njit(cache=True, nogil=True)
def channel_column(frames, rows, want, mixed):
    """The channel column of message-ordered rows after a scatter: a fill per message, or,
    when some message came on several channels (``mixed``), a scatter of its own."""
    if want.channel:
        if mixed:
            scatter_channel(frames.msg, rows.offsets, frames.channel, rows.channel)
        else:
            fill_messages(rows.offsets, rows.first, rows.channel)


@njit(cache=True, nogil=True)
def group_meta(rows, msgs, grp_msg, grp, want):
    """The channel and source address of group rows that the gather did not copy: fills
    from the message (``want``: ``(channel filled, sa filled)``)."""
    fill_channel, fill_sa = want
    if fill_channel:
        fill_groups(grp_msg, grp, rows.first, grp.channel)
    if fill_sa:
        fill_groups(grp_msg, grp, msgs.sa, grp.sa)
