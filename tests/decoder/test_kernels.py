"""The column kernels against their plain references: the exact int64 -> float64
conversion, the per-frame flags, the two conversions of one integer column, both
multiplexer partitions against the plain rule, and the block-wise group gather against a
plain gather."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import njit

from cantelem_sci.decoder import _classic
from cantelem_sci.decoder._bits import _int_column, _small_int_to_f64, fit8, small_integer
from cantelem_sci.decoder._classic import gather_groups
from cantelem_sci.decoder._partition import partition_groups, partition_simple
from cantelem_sci.decoder._plan import frame_flags
from cantelem_sci.decoder._tables import (
    CONV_IDENTITY,
    CONV_INTEGER,
    CONV_LINEAR,
    KIND_INT,
    Columns,
    GroupRows,
    MessageTable,
    MuxLookup,
    Rows,
    SignalTable,
    SimpleMux,
    Wanted,
)


def _signals(n=1, **fields):
    """A signal table of ``n`` signals: zeros, but for ``fields``."""
    dt = dict(pos=np.int64, length=np.int64, be=np.bool_, signed=np.bool_, kind=np.int8,
              conv=np.int8, scale=np.float64, offset=np.float64, scale_i=np.int64,
              offset_i=np.int64, small=np.bool_, parent=np.int64, lo=np.float64,
              hi=np.float64, mux0=np.int64, mux1=np.int64)
    return SignalTable(**{k: np.array(fields[k], t).reshape(n) if k in fields
                          else np.zeros(n, t) for k, t in dt.items()})


def _group_rows(n_grp, n):
    e8, e64 = np.empty(0, np.uint8), np.empty(0, np.uint64)
    return GroupRows(np.zeros(n_grp, np.int64), np.zeros(n_grp, np.int64),
                     np.empty(n, np.int64), np.empty(0, np.int64), e8, e8, e64, e8)


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
    outs = []
    for small in (True, False):
        sigs = _signals(pos=pos, length=length, be=big_endian, signed=signed, kind=KIND_INT,
                        conv=conv, scale=scale, offset=offset, scale_i=sci, offset_i=ofi,
                        small=small, lo=-3.0, hi=7.0)
        out = np.empty(n)
        bad = _int_column(rows, dlc, fit8(sigs, 0, 8), sigs, 0, out)
        outs.append((out.view(np.uint64).copy(), bad))
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
def test_both_partitions_put_each_row_in_the_group_its_value_selects(data):
    """The direct-table partition of a simple multiplexer and the general one (a search
    per row) against the plain rule, on a decoded multiplexer column with NaN, negative,
    unselected and large values."""
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
    cols = Columns(np.zeros(1, np.int64), values, np.zeros(1, np.int64))
    z = np.zeros(1, np.int64)
    grp_a = _group_rows(n_grp, n)
    gid = np.empty(n, data.draw(st.sampled_from([np.int16, np.int64])))  # both used
    used_a = partition_simple(cols, offsets, SimpleMux(z, z, np.array([fast_grp.shape[0]]),
                                                        fast_grp), grp_a, gid)
    grp_b = _group_rows(n_grp, n)
    lookup = MuxLookup(z, np.ones(1, np.int64), z, z, np.array([lk_keys.shape[0]]), lk_keys,
                       lk_grp, z, np.array([direct.shape[0]]), direct, z, np.array([n_grp]),
                       np.arange(n_grp, dtype=np.int64))
    e8 = np.empty(0, np.uint8)
    rows = Rows(offsets, np.zeros(n, np.uint64), np.zeros(n, np.uint8), np.empty(0, np.int64),
                e8, e8, e8)
    msgs = MessageTable(np.array([8]), z, np.ones(1, np.int64), e8[:1], e8[:1])
    rows_b, used_b = partition_groups(rows, (msgs, _signals(), lookup, np.full(1, -1, np.int64)),
                                      cols, grp_b, 0, np.empty(n, np.int64))
    for grp, rows_, used in ((grp_a, grp_a.rows, used_a), (grp_b, rows_b, used_b)):
        assert used == int(grp.count.sum())
        for g in range(n_grp):
            want = [i for i, v in enumerate(values) if v == v and 0 <= int(v) < fast_grp.shape[0]
                    and fast_grp[int(v)] == g]
            assert rows_[grp.row_base[g]:grp.row_base[g] + grp.count[g]].tolist() == want


@settings(max_examples=60)
@given(st.data())
def test_gather_groups_block_by_block_equals_a_plain_gather(data):
    """Groups of two messages, rows spread over more than one gather block."""
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

    def gather(fn):
        out = GroupRows(grp_count, grp_row_base, grp_rows, np.empty(used, np.int64),
                        np.empty(used, np.uint8), np.empty(used, np.uint8),
                        np.empty(used, np.uint64), np.empty(used, np.uint8))
        fn(Rows(offsets, rows, dlc, time, chan, sa, np.empty(0, np.uint8)),
           np.array(grp_msg, np.int64), out, Wanted(True, True, True))
        return out

    old_block = _classic.GATHER_BLOCK
    try:  # a small block, so that several blocks of every message are exercised
        _classic.GATHER_BLOCK = 7
        small = gather(gather_groups.py_func)
    finally:
        _classic.GATHER_BLOCK = old_block
    compiled = gather(gather_groups)
    for g, m in enumerate(grp_msg):
        at = offsets[m] + sels[g]
        sl = slice(grp_row_base[g], grp_row_base[g] + grp_count[g])
        for got in (small, compiled):
            for col, src in ((got.payload, rows), (got.dlc, dlc), (got.time, time),
                             (got.channel, chan), (got.sa, sa)):
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
