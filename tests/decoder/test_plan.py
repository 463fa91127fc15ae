"""The decode's row and column plans (:mod:`cantelem_sci.decoder._plan`) against their numpy
formulation (the one the decoder used before: ``repeat``, ``where`` and ``cumsum``)."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from cantelem_sci.decoder._plan import group_bases, plan_rows


@given(st.data())
def test_plan_rows_equals_numpy(data):
    n_msg = data.draw(st.integers(0, 8))
    sigs = data.draw(st.lists(st.integers(0, 5), min_size=n_msg, max_size=n_msg))
    counts = np.array(data.draw(st.lists(st.integers(0, 1000), min_size=n_msg,
                                         max_size=n_msg)), np.int64)
    msg_sig1 = np.cumsum(np.array(sigs, np.int64)).astype(np.int64)
    msg_sig0 = msg_sig1 - np.array(sigs, np.int64)
    n_sig = int(msg_sig1[-1]) if n_msg else 0
    in_values = np.array(data.draw(st.lists(st.booleans(), min_size=n_sig, max_size=n_sig)),
                         np.bool_)
    muxed = np.array(data.draw(st.lists(st.booleans(), min_size=n_msg, max_size=n_msg)),
                     np.bool_)
    slow = np.array(data.draw(st.lists(st.booleans(), min_size=n_msg, max_size=n_msg)),
                    np.bool_)

    offsets, col_base, n_values, n_muxed, max_slow, out_of_range, first = plan_rows(
        counts, msg_sig0, msg_sig1, in_values, muxed, slow)

    want_offsets = np.zeros(n_msg + 1, np.int64)
    np.cumsum(counts, out=want_offsets[1:])
    sizes = np.where(in_values, np.repeat(counts, msg_sig1 - msg_sig0), 0)
    want_base = np.zeros(n_sig, np.int64)
    np.cumsum(sizes[:-1], out=want_base[1:])
    np.testing.assert_array_equal(offsets, want_offsets)
    np.testing.assert_array_equal(col_base, want_base)
    assert n_values == sizes.sum()
    assert n_muxed == counts[muxed].sum()
    assert max_slow == (counts[slow].max() if slow.any() else 0)
    assert out_of_range.shape == (n_sig,) and not out_of_range.any()
    assert first.shape == (n_msg,) and first.dtype == np.uint8 and not first.any()


@given(st.lists(st.integers(0, 500), max_size=6), st.data())
def test_group_bases_equal_numpy(grp_count, data):
    counts = np.array(grp_count, np.int64)
    n_sig = data.draw(st.integers(0, 12))
    sig_group = np.array(data.draw(st.lists(st.integers(-1, len(grp_count) - 1),
                                            min_size=n_sig, max_size=n_sig)), np.int64)
    gcol_base = np.empty(n_sig, np.int64)
    n = group_bases(counts, sig_group, gcol_base)
    member_rows = (np.where(sig_group >= 0, counts[sig_group], 0) if len(grp_count)
                   else np.zeros(n_sig, np.int64))
    want = np.zeros(n_sig, np.int64)
    np.cumsum(member_rows[:-1], out=want[1:])
    np.testing.assert_array_equal(gcol_base, want)
    assert n == member_rows.sum()
