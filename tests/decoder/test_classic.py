"""The classic (8-byte) path against cantools, frame by frame: with the group outputs
sized in advance (every kernel in one call) and without (the partition first)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import cantelem_sci as ct
from cantelem_sci.decoder import _classic, decode_arrays, signal_layout
from cantelem_sci.decoder._plan import group_bound
from cantelem_sci.frames import FrameBatch
from tests.decoder.compact_check import assert_compact_matches_dense
from tests.decoder.reference import assert_tree_equals_cantools

#: Two messages whose multiplexers' groups have two and one members each (bounded in
#: advance), one of them J1939 (source address kept), with values that select no group
EVEN = '''VERSION ""
NS_ :
BS_:
BU_: A
BO_ 2364539904 Pgn: 8 A
 SG_ Page M : 0|8@1+ (1,0) [0|3] "" A
 SG_ P0a m0 : 8|16@1+ (0.5,1) [0|100] "" A
 SG_ P0b m0 : 24|8@1- (1,0) [-5|5] "" A
 SG_ P1a m1 : 8|12@0+ (1,0) [0|10] "" A
 SG_ P1b m1 : 40|16@1+ (0.01,0) [0|1] "" A
 SG_ Plain : 56|8@1+ (1,0) [0|255] "" A
BO_ 300 Std: 8 A
 SG_ Sel M : 0|4@1+ (1,0) [0|15] "" A
 SG_ X m2 : 8|32@1- (1,0) [0|1] "" A
 SG_ Y m5 : 8|32@1+ (1,-7) [0|1] "" A
 SG_ Z : 40|8@1+ (1,0) [0|9] "" A
BO_ 400 Flat: 8 A
 SG_ F : 0|16@1+ (1,0) [0|10] "" A
'''

#: The same, with the first message's groups uneven: not bounded in advance
UNEVEN = EVEN.replace(' SG_ P1b m1 : 40|16@1+ (0.01,0) [0|1] "" A\n', "")


def _load(tmp_path_factory, text: str, name: str):
    p = tmp_path_factory.mktemp("dbc") / name
    p.write_text(text)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ct.load_dbc(p, j1939=True)


@pytest.fixture(scope="module")
def even_db(tmp_path_factory):
    return _load(tmp_path_factory, EVEN, "even.dbc")


@pytest.fixture(scope="module")
def uneven_db(tmp_path_factory):
    return _load(tmp_path_factory, UNEVEN, "uneven.dbc")


def _decode_both_ways(batch: FrameBatch, db) -> None:
    """decode (dense) and decode_arrays (compact) against cantools, with the group sizes
    bounded beforehand where the layout allows it (one kernel call) and with that switched
    off (the partition first, then the group outputs)."""
    lay = signal_layout(db)
    for bounded in (True, False):
        with warnings.catch_warnings(), pytest.MonkeyPatch.context() as mp:
            warnings.simplefilter("ignore")
            if not bounded:
                mp.setattr(_classic, "group_bound", lambda *a: -1)
            assert_tree_equals_cantools(ct.decode(batch, db), batch, lay)
            assert_compact_matches_dense(ct.decode(batch, db),
                                         ct.decode(batch, db, multiplexed="compact"))


@st.composite
def even_frames(draw, max_frames: int = 150):
    """Frames of the EVEN messages (the J1939 one from several source addresses), first
    bytes favouring multiplexer values with and without a group, random DLCs, one channel
    or two."""
    n = draw(st.integers(0, max_frames))
    ids = draw(hnp.arrays(np.uint32, n, elements=st.sampled_from(
        [0x0CF00400, 0x0CF00417, 0x18F004FE, 300, 300, 400, 5])))
    data = draw(hnp.arrays(np.uint8, (n, 8)))
    data[:, 0] = draw(hnp.arrays(np.uint8, n, elements=st.sampled_from(
        [0, 1, 1, 2, 3, 0x52, 0x05, 0xFF])))
    full = draw(st.booleans())
    dlc = (np.full(n, 8, np.uint8) if full else draw(hnp.arrays(
        np.uint8, n, elements=st.sampled_from([8, 8, 0, 1, 2, 4, 6, 7]))))
    two = draw(st.booleans())
    ch = draw(hnp.arrays(np.uint8, n, elements=st.integers(0, 1))) if two else np.zeros(n, np.uint8)
    return FrameBatch.from_dataset(ct.frames(
        np.arange(n, dtype=np.int64) * 1000, ids, data, dlc=dlc, is_extended=ids > 0x7FF,
        channel=ch, channel_names=["a", "b"]))


@settings(max_examples=40, deadline=None)
@given(even_frames())
def test_classic_path_equals_cantools(even_db, uneven_db, batch):
    """Every signal of every frame, bit for bit, with and without group sizes known in
    advance: rows that select no group, short frames, one channel or two, J1939 source
    addresses, groups of equal and of unequal size."""
    _decode_both_ways(batch, even_db)
    _decode_both_ways(batch, uneven_db)


@settings(max_examples=5, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_classic_path_on_the_sample_vehicle(sample_db, seed):
    """The sample DBC's 24 pages of 4 cell voltages, with some pages out of range."""
    rng = np.random.default_rng(seed)
    b = ct.simulate_vehicle("EV0001", duration_s=1.0, seed=int(rng.integers(1000)))
    data = b.data.copy()
    cells = np.flatnonzero(b.arbitration_id == 0x101)
    data[cells[rng.random(cells.shape[0]) < 0.2], 0] = 200  # no group
    batch = FrameBatch.from_dataset(ct.frames(b.time, b.arbitration_id, data, dlc=b.dlc,
                                              is_extended=b.is_extended, channel=b.channel,
                                              channel_names=list(b.channel_names)))
    _decode_both_ways(batch, sample_db)


def test_group_bound(sample_db, even_db, uneven_db):
    """The group values bounded before the kernels run: members per group of each message
    times its frames; -1 where a message's groups differ in size or a general multiplexer
    occurs."""
    lay = signal_layout(sample_db)
    per = lay.per_group
    names = [m.message.name for m in lay.messages]
    assert per[names.index("BMS_CellVoltages")] == 4
    assert (np.delete(per, names.index("BMS_CellVoltages")) == 0).all()
    counts = np.zeros(len(names), np.int64)
    counts[names.index("BMS_CellVoltages")] = 10
    counts[names.index("MCU_Motor")] = 7
    assert group_bound(counts, lay.msg_slow, per) == 40
    for db, want in ((even_db, [2, 1, 0]), (uneven_db, [-1, 1, 0])):
        assert signal_layout(db).per_group.tolist() == want
    lay = signal_layout(uneven_db)
    assert group_bound(np.array([1, 3, 2]), lay.msg_slow, lay.per_group) == -1
    assert group_bound(np.array([0, 3, 2]), lay.msg_slow, lay.per_group) == 3
    slow = np.array([False, False, True])
    assert group_bound(np.array([0, 3, 2]), slow, lay.per_group) == -1


def test_classic_path_keeps_source_addresses_channels_and_short_frames(even_db):
    """A fixed batch with every case at once: J1939 source addresses, a message on two
    channels, a short frame and a page without a group."""
    ids = np.array([0x0CF00417, 0x0CF004FE, 0x0CF00400, 300, 300, 0x0CF00401, 400],
                   np.uint32)
    data = np.arange(56, dtype=np.uint8).reshape(7, 8)
    data[:, 0] = [0, 1, 3, 2, 5, 1, 0]
    dlc = np.array([8, 8, 8, 8, 8, 3, 8], np.uint8)
    ch = np.array([0, 1, 0, 0, 1, 0, 1], np.uint8)
    batch = FrameBatch.from_dataset(ct.frames(np.arange(7) * 10, ids, data, dlc=dlc,
                                              is_extended=ids > 0x7FF, channel=ch,
                                              channel_names=["a", "b"]))
    _decode_both_ways(batch, even_db)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = decode_arrays(batch, even_db, multiplexed="compact")
    # Pgn rows: pages 0, 1, 3 (none) and 1 (too short for P1b, 16 bits at byte 5)
    assert r["counts"].tolist() == [4, 2, 1]
    assert r["group_count"].tolist() == [1, 2, 1, 1]
    # (the low id byte of every row; the tree keeps it for J1939 messages only)
    assert r["group_source_address"].tolist() == [0x17, 0xFE, 0x01, 300 & 0xFF, 300 & 0xFF]
    assert r["group_channel"].tolist() == [0, 1, 0, 0, 1]
    assert r["group_time"].tolist() == [0, 10, 50, 30, 40]
