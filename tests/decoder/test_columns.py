"""The classic-CAN column kernels against their plain references: the exact int64 -> float64
conversion, the per-frame flags, the two conversions of one integer column, the
simple-multiplexer partition against the general one, and the block-wise group gather
against a plain gather."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import njit

from cantelem_sci.decoder._columns import (
    _column_int,
    _shifts,
    _small_int_to_f64,
    frame_flags,
    gather_groups,
    partition_groups,
    partition_simple,
    small_integer,
)
from cantelem_sci.decoder._kernels import CONV_IDENTITY, CONV_INTEGER, CONV_LINEAR


@njit(cache=True)
def _convert_all(ivs, out):
    for i in range(ivs.shape[0]):
        out[i] = _small_int_to_f64(ivs[i])


@given(st.lists(st.one_of(st.integers(-(2**51), 2**51 - 1),
                          st.sampled_from([0, -1, 1, -(2**51), 2**51 - 1, 2**50, -(2**50) - 1])),
                max_size=50))
def test_small_int_to_f64_is_exact(ivs):
    a = np.array(ivs, np.int64)
    out = np.empty(a.shape[0])
    _convert_all(a, out)
    want = a.astype(np.float64)
    np.testing.assert_array_equal(out.view(np.uint64), want.view(np.uint64))  # no -0.0 either


@settings(max_examples=80)
@given(st.data())
def test_small_integer_column_equals_the_general_one(data):
    """``_column_int`` with ``small=True`` (the vectorisable conversion) and with
    ``small=False`` (numpy's own int -> float), bit for bit, for every signal that
    :func:`small_integer` lets through; and small_integer's bound holds for its extremes."""
    # lengths and integer scales around the bound of 2**51 drawn often
    length = data.draw(st.one_of(st.integers(1, 64), st.integers(48, 56),
                                 st.integers(38, 46)))
    signed = data.draw(st.booleans())
    big_endian = data.draw(st.booleans())
    conv = data.draw(st.sampled_from([CONV_IDENTITY, CONV_LINEAR, CONV_INTEGER]))
    sci = data.draw(st.one_of(st.integers(-1000, 1000), st.sampled_from(
        [1000, -1000, 512, -4096]))) if conv == CONV_INTEGER else 1
    ofi = data.draw(st.integers(-(10**6), 10**6)) if conv == CONV_INTEGER else 0
    if not small_integer(length, signed, conv, sci, ofi):
        top = 1 << (length - 1 if signed else length)
        assert (top * abs(sci) + abs(ofi) >= 2**51) if conv == CONV_INTEGER else top > 2**51
        return
    pos = data.draw(st.integers(0, 64 - length))
    scale = data.draw(st.sampled_from([1.0, 0.1, 0.001, -0.5, 1e-7]))
    offset = data.draw(st.sampled_from([0.0, -40.0, 2.0, 0.25]))
    n = data.draw(st.integers(0, 40))
    rows = np.frombuffer(data.draw(st.binary(min_size=8 * n, max_size=8 * n)), np.uint64).copy()
    # the extremes of every field: all ones, only the top bit, all but the top bit
    extremes = np.array([2**64 - 1, 2**63, 2**63 - 1, 0, 0x5555555555555555], np.uint64)
    rows = np.concatenate([rows, extremes])
    n += extremes.shape[0]
    dlc = np.array(data.draw(st.lists(st.sampled_from([8, 8, 8, 0, 3, 7]), min_size=n,
                                      max_size=n)), np.uint8)
    lsh, rsh = _shifts(pos, length, big_endian)
    nb = min((pos + length + 7) >> 3, 9)
    outs = []
    for small in (True, False):
        out = np.empty(n + 2)
        bad = _column_int(rows, dlc, 0, n, big_endian, lsh, rsh, signed, conv, scale, offset,
                          sci, ofi, nb, -3.0, 7.0, small, out, 1)
        outs.append((out[1:n + 1].view(np.uint64).copy(), bad))
    np.testing.assert_array_equal(outs[0][0], outs[1][0])
    assert outs[0][1] == outs[1][1]


def _one_mux_message_tables(keys_to_group):
    """Tables of one message (index 0) whose multiplexer (signal 0, column 0 of ``values``)
    value ``k`` selects group ``keys_to_group[k]``, as MuxGroups lays them out."""
    n_grp = max(keys_to_group.values(), default=-1) + 1
    top = max(keys_to_group, default=-1) + 1
    fast_grp = np.full(top, -1, np.int64)
    for k, g in keys_to_group.items():
        fast_grp[k] = g
    entries = sorted((k, g) for k, g in keys_to_group.items())
    lk_keys = np.array([k for k, _ in entries], np.int64)
    lk_grp = np.array([g for _, g in entries], np.int64)
    direct = np.full(top, -1, np.int64)
    for e, (k, _) in enumerate(entries):
        if direct[k] < 0:
            direct[k] = e
    return n_grp, fast_grp, lk_keys, lk_grp, direct


@settings(max_examples=80)
@given(st.data())
def test_partition_simple_equals_partition_groups(data):
    """The direct-table partition of a simple multiplexer against the general one (a search
    per row), on the same decoded multiplexer column (NaN, negative, unselected and large
    values included)."""
    keys = data.draw(st.lists(st.integers(0, 40), unique=True, max_size=8))
    groups = data.draw(st.lists(st.integers(0, 3), min_size=len(keys), max_size=len(keys)))
    used_groups = sorted(set(groups))
    keys_to_group = {k: used_groups.index(g) for k, g in zip(keys, groups)}
    n_grp, fast_grp, lk_keys, lk_grp, direct = _one_mux_message_tables(keys_to_group)
    n = data.draw(st.integers(0, 60))
    values = np.array(data.draw(st.lists(st.one_of(
        st.sampled_from(keys or [0]).map(float), st.floats(-5, 60),
        st.just(float("nan"))), min_size=n, max_size=n)), np.float64)
    offsets = np.array([0, n], np.int64)
    col_base = np.zeros(1, np.int64)
    z = np.zeros(1, np.int64)
    count_a, base_a = np.zeros(n_grp, np.int64), np.zeros(n_grp, np.int64)
    rows_a = np.empty(n, np.int64)
    gid = np.empty(n, data.draw(st.sampled_from([np.int16, np.int64])))  # both used
    used_a = partition_simple(values, col_base, offsets, z, z, np.array([fast_grp.shape[0]]),
                              fast_grp, count_a, base_a, rows_a, gid)
    count_b, base_b = np.zeros(n_grp, np.int64), np.zeros(n_grp, np.int64)
    sig = {k: np.zeros(1, t) for k, t in [("pos", np.int64), ("length", np.int64),
                                          ("be", np.bool_), ("signed", np.bool_),
                                          ("kind", np.int8), ("conv", np.int8),
                                          ("scale", np.float64), ("offset", np.float64),
                                          ("scale_i", np.int64), ("offset_i", np.int64)]}
    rows_b, used_b = partition_groups(
        np.zeros(n, np.uint64), np.zeros(n, np.uint8), offsets, np.array([8]), z,
        np.ones(1, np.int64),
        z, z, np.array([lk_keys.shape[0]]), lk_keys, lk_grp, z, np.array([direct.shape[0]]),
        direct, z, np.array([n_grp]), np.arange(n_grp, dtype=np.int64), np.full(1, -1, np.int64),
        sig["pos"], sig["length"], sig["be"], sig["signed"], sig["kind"], sig["conv"],
        sig["scale"], sig["offset"], sig["scale_i"], sig["offset_i"], col_base, values, base_b,
        count_b, 0, np.empty(n, np.int64), np.empty(n, np.int64))
    assert used_a == used_b
    np.testing.assert_array_equal(count_a, count_b)
    np.testing.assert_array_equal(base_a, base_b)
    np.testing.assert_array_equal(rows_a[:used_a], rows_b[:used_b])
    # and the plain rule: group g holds, in order, the rows whose value selects it
    for g in range(n_grp):
        want = [i for i, v in enumerate(values) if v == v and 0 <= int(v) < fast_grp.shape[0]
                and fast_grp[int(v)] == g]
        assert rows_a[base_a[g]:base_a[g] + count_a[g]].tolist() == want


@settings(max_examples=60)
@given(st.data())
def test_gather_groups_block_by_block_equals_a_plain_gather(data):
    """Groups of two messages, rows spread over more than one gather block."""
    from cantelem_sci.decoder import _columns

    counts = [data.draw(st.integers(0, 60)) for _ in range(2)]
    offsets = np.array([0, counts[0], counts[0] + counts[1]], np.int64)
    total = int(offsets[-1])
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    rows = rng.integers(0, 2**63, total, dtype=np.uint64)
    dlc = rng.integers(0, 9, total).astype(np.uint8)
    time = rng.integers(0, 2**62, total)
    chan = rng.integers(0, 4, total).astype(np.uint8)
    sa = rng.integers(0, 256, total).astype(np.uint8)
    grp_msg, sels = [], []
    for m in range(2):
        for _ in range(data.draw(st.integers(0, 3))):
            grp_msg.append(m)
            sels.append(np.flatnonzero(rng.random(counts[m]) < 0.4))
    grp_count = np.array([s.shape[0] for s in sels], np.int64)
    grp_row_base = np.concatenate([[0], np.cumsum(grp_count)[:-1]]).astype(np.int64)
    grp_rows = np.concatenate(sels + [np.zeros(0, np.int64)]).astype(np.int64)
    used = int(grp_count.sum())
    out = [np.empty(used, t) for t in (np.uint64, np.uint8, np.int64, np.uint8, np.uint8)]
    old_block = _columns.GATHER_BLOCK
    try:  # a small block, so that several blocks of every message are exercised
        _columns.GATHER_BLOCK = 7
        gather_groups.py_func(rows, dlc, offsets, np.array(grp_msg, np.int64), grp_row_base,
                              grp_count, grp_rows, time, chan, sa, True, True, True, *out)
    finally:
        _columns.GATHER_BLOCK = old_block
    compiled = [np.empty(used, t) for t in (np.uint64, np.uint8, np.int64, np.uint8, np.uint8)]
    gather_groups(rows, dlc, offsets, np.array(grp_msg, np.int64), grp_row_base, grp_count,
                  grp_rows, time, chan, sa, True, True, True, *compiled)
    for g, m in enumerate(grp_msg):
        at = offsets[m] + sels[g]
        sl = slice(grp_row_base[g], grp_row_base[g] + grp_count[g])
        for got in (out, compiled):
            for col, src in zip(got, (rows, dlc, time, chan, sa)):
                np.testing.assert_array_equal(col[sl], src[at])


@given(st.lists(st.tuples(st.booleans(), st.booleans(), st.integers(0, 64), st.integers(0, 255)),
                max_size=300))
def test_frame_flags_equal_numpy(frames):
    """Usable mask, usable count, 'every dlc at least 8' and 'any channel' against numpy."""
    remote = np.array([f[0] for f in frames], np.bool_)
    error = np.array([f[1] for f in frames], np.bool_)
    dlc = np.array([f[2] for f in frames], np.uint8)
    channel = np.array([f[3] for f in frames], np.uint8)
    usable = np.empty(len(frames), np.bool_)
    n, full, chan = frame_flags(remote.view(np.uint8), error.view(np.uint8), dlc, channel,
                                usable.view(np.uint8))
    want = ~(remote | error)
    assert (usable == want).all() and n == int(want.sum())
    assert full == bool((dlc >= 8).all()) and chan == bool(channel.any())
