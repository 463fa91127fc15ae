"""The 8-byte column path in one kernel call (:mod:`cantelem_sci.decoder._fused`) against
the same kernels called one by one (the path taken when the group sizes are not known
before the kernels run)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import cantelem_sci as ct
from cantelem_sci.decoder import _decode, _fused, decode_arrays
from cantelem_sci.frames import FrameBatch

#: Two messages whose multiplexers' groups have two and one members each (the fused
#: path), one of them J1939 (source address kept), with values that select no group
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

#: The same, with the first message's groups uneven: the kernel-by-kernel path
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


def _both_paths(batch: FrameBatch, db, mode: str) -> tuple[dict, dict, int]:
    """decode_arrays through the fused kernel where it applies, and with it switched off;
    with the number of fused calls made."""
    calls = []
    real = _decode.fused8

    def spy(*a, **k):
        calls.append(1)
        return real(*a, **k)

    with warnings.catch_warnings(), pytest.MonkeyPatch.context() as mp:
        warnings.simplefilter("ignore")
        mp.setattr(_decode, "fused8", spy)
        fused = decode_arrays(batch, db, multiplexed=mode)
        mp.setattr(_decode, "group_bound", lambda *a: -1)
        plain = decode_arrays(batch, db, multiplexed=mode)
    return fused, plain, len(calls)


def _assert_same(a: dict, b: dict, label: str) -> None:
    assert a.keys() == b.keys(), label
    for key, va in a.items():
        if isinstance(va, np.ndarray):
            vb = b[key]
            assert va.dtype == vb.dtype, (label, key)
            np.testing.assert_array_equal(va, vb, err_msg=f"{label} {key}")


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


@settings(max_examples=80, deadline=None)
@given(even_frames(), st.sampled_from(["compact", "dense"]))
def test_fused_path_equals_the_kernel_by_kernel_path(even_db, batch, mode):
    """Every array of decode_arrays, bit for bit: rows that select no group (the group
    columns sliced), short frames, one channel or two, J1939 source addresses."""
    fused, plain, calls = _both_paths(batch, even_db, mode)
    assert calls == 1  # the fused path was taken (no general multiplexer, even groups)
    _assert_same(fused, plain, mode)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from(["compact", "dense"]))
def test_fused_path_on_the_sample_vehicle(sample_db, seed, mode):
    """The sample DBC's 24 pages of 4 cell voltages, with some pages out of range."""
    rng = np.random.default_rng(seed)
    b = ct.simulate_vehicle("EV0001", duration_s=3.0, seed=int(rng.integers(1000)))
    data = b.data.copy()
    cells = np.flatnonzero(b.arbitration_id == 0x101)
    data[cells[rng.random(cells.shape[0]) < 0.2], 0] = 200  # no group
    batch = FrameBatch.from_dataset(ct.frames(b.time, b.arbitration_id, data, dlc=b.dlc,
                                              is_extended=b.is_extended, channel=b.channel,
                                              channel_names=list(b.channel_names)))
    fused, plain, calls = _both_paths(batch, sample_db, mode)
    assert calls == 1
    _assert_same(fused, plain, mode)
    if mode == "compact" and cells.shape[0]:
        assert fused["group_rows"].shape[0] < cells.shape[0] or not (data[cells, 0] == 200).any()


def test_uneven_groups_take_the_kernel_by_kernel_path(uneven_db):
    """A message whose groups differ in size is not bounded in advance: no fused call,
    and where it does not occur, the fused path is taken again."""
    ids = np.array([0x0CF00400, 300, 400], np.uint32)
    data = np.zeros((3, 8), np.uint8)
    data[:, 0] = [1, 2, 0]
    batch = FrameBatch.from_dataset(ct.frames(np.arange(3), ids, data,
                                              is_extended=ids > 0x7FF))
    _, _, calls = _both_paths(batch, uneven_db, "compact")
    assert calls == 0
    _, _, calls = _both_paths(batch.take(ids != 0x0CF00400), uneven_db, "compact")
    assert calls == 1


def test_members_per_group_and_group_bound(sample_db, even_db, uneven_db):
    lay = _decode._layout(sample_db)
    per = _fused.per_group(lay)
    names = [m.message.name for m in lay.messages]
    assert per[names.index("BMS_CellVoltages")] == 4
    assert (np.delete(per, names.index("BMS_CellVoltages")) == 0).all()
    counts = np.zeros(len(names), np.int64)
    counts[names.index("BMS_CellVoltages")] = 10
    counts[names.index("MCU_Motor")] = 7
    assert _fused.group_bound(counts, lay.msg_slow, per) == 40
    for db, want in ((even_db, [2, 1, 0]), (uneven_db, [-1, 1, 0])):
        lay = _decode._layout(db)
        assert _fused.per_group(lay).tolist() == want
    lay = _decode._layout(uneven_db)
    assert _fused.group_bound(np.array([1, 3, 2]), lay.msg_slow, _fused.per_group(lay)) == -1
    assert _fused.group_bound(np.array([0, 3, 2]), lay.msg_slow, _fused.per_group(lay)) == 3
    slow = np.array([False, False, True])
    assert _fused.group_bound(np.array([0, 3, 2]), slow, _fused.per_group(lay)) == -1


def test_fused_path_keeps_source_addresses_channels_and_short_frames(even_db):
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
    fused, plain, calls = _both_paths(batch, even_db, "compact")
    assert calls == 1
    _assert_same(fused, plain, "compact")
    # Pgn rows: pages 0, 1, 3 (none) and 1 (too short for P1b, 16 bits at byte 5)
    assert fused["counts"].tolist() == [4, 2, 1]
    assert fused["group_count"].tolist() == [1, 2, 1, 1]
    # (the low id byte of every row; the tree keeps it for J1939 messages only)
    assert fused["group_source_address"].tolist() == [0x17, 0xFE, 0x01, 300 & 0xFF, 300 & 0xFF]
    assert fused["group_channel"].tolist() == [0, 1, 0, 0, 1]
    assert fused["group_time"].tolist() == [0, 10, 50, 30, 40]
