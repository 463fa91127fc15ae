"""The channel column of the column paths (:mod:`cantelem_sci.decoder._channel`): a fill per
message when each message came on one channel, a scatter when one came on several. Checked
against the channels of each message's frames picked by id with numpy, for 8- and 64-byte
rows, both multiplexed forms, and every way of spreading messages over channels."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cantelem_sci as ct
from cantelem_sci.decoder import _classic, decode_arrays
from cantelem_sci.decoder._channel import (
    fill_groups,
    fill_messages,
    first_channels,
    scatter_channel,
)
from cantelem_sci.decoder._tables import GroupRows
from cantelem_sci.frames import FrameBatch

IDS = [0x100, 0x101, 0x102, 0x200, 0x201, 0x300, 0x7FF]  # 0x7FF: no message


@given(st.lists(st.tuples(st.integers(-1, 4), st.integers(0, 255)), max_size=60))
def test_channel_kernels_against_numpy(frames):
    msg = np.array([f[0] for f in frames], np.int32)
    channel = np.array([f[1] for f in frames], np.uint8)
    counts = np.bincount(msg[msg >= 0], minlength=5).astype(np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    first = np.full(5, 77, np.uint8)
    first_channels(msg, channel, counts, first)
    for m in range(5):
        sel = channel[msg == m]
        assert first[m] == (sel[0] if sel.size else 0)
    out = np.empty(int(offsets[-1]), np.uint8)
    scatter_channel(msg, offsets, channel, out)
    order = np.argsort(msg, kind="stable")[np.sort(msg) >= 0]
    np.testing.assert_array_equal(out, channel[order])
    fill_messages(offsets, first, out)
    np.testing.assert_array_equal(out, np.repeat(first, counts))
    grp_msg = np.array([1, 1, 3], np.int64)
    grp_count = np.array([2, 0, 3], np.int64)
    grp_row_base = np.array([0, 2, 2], np.int64)
    grp = np.empty(5, np.uint8)
    fill_groups(grp_msg, GroupRows(grp_count, grp_row_base, *[np.empty(0, np.int64)] * 6), first,
                grp)
    np.testing.assert_array_equal(grp, [first[1]] * 2 + [first[3]] * 3)


@st.composite
def spread_frames(draw):
    """Frames of the sample messages with channels spread one of three ways: each message
    on one channel of its own (drawn, often not 0), each frame on any channel, or one
    channel per message except for a single frame."""
    n = draw(st.integers(0, 120))
    ids = np.array(draw(st.lists(st.sampled_from(IDS), min_size=n, max_size=n)), np.uint32)
    payload = np.frombuffer(draw(st.binary(min_size=8 * n, max_size=8 * n)),
                            np.uint8).reshape(n, 8).copy()
    payload[:, 0] = np.array(draw(st.lists(st.integers(0, 30), min_size=n, max_size=n)),
                             np.uint8)  # CellGroup values that select groups (and some not)
    how = draw(st.sampled_from(["per message", "per frame", "one odd frame"]))
    per_id = {i: draw(st.integers(0, 3)) for i in IDS}
    ch = np.array([per_id[int(i)] for i in ids], np.uint8)
    if how == "per frame":
        ch = np.array(draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)), np.uint8)
    elif how == "one odd frame" and n:
        k = draw(st.integers(0, n - 1))
        ch[k] = (ch[k] + 1) % 4
    remote = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)), bool) \
        if draw(st.booleans()) else np.zeros(n, bool)
    return ids, payload, ch, remote


def _batch(ids, payload, ch, remote, width):
    n = ids.shape[0]
    data = np.zeros((n, width), np.uint8)
    data[:, :8] = payload
    return FrameBatch.from_arrays(np.arange(n, dtype=np.int64), ids, data,
                                  dlc=np.full(n, 8, np.uint8), is_remote=remote, channel=ch,
                                  channel_names=["a", "b", "c", "d"])


@settings(max_examples=30, deadline=None)
@given(spread_frames(), st.sampled_from(["dense", "compact"]), st.sampled_from([8, 64]))
def test_row_and_group_channels_follow_the_frames(sample_db, frames, mode, width):
    ids, payload, ch, remote = frames
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = decode_arrays(_batch(ids, payload, ch, remote, width), sample_db,
                            multiplexed=mode)
    lay = res["layout"]
    for info in lay.messages:
        m = info.index
        b0, b1 = int(res["offsets"][m]), int(res["offsets"][m + 1])
        want = ch[(ids == info.message.frame_id) & ~remote]
        np.testing.assert_array_equal(res["channel"][b0:b1], want, err_msg=info.node)
    if mode == "compact":
        grp = lay.groups
        for g in range(len(grp.info)):
            r0, c = int(res["group_row_base"][g]), int(res["group_count"][g])
            b0 = int(res["offsets"][grp.grp_msg[g]])
            rows = res["group_rows"][r0:r0 + c]
            np.testing.assert_array_equal(res["group_channel"][r0:r0 + c],
                                          res["channel"][b0 + rows], err_msg=f"group {g}")


#: J1939 messages with and without multiplexer groups beside standard-id ones with and
#: without: the source address is scattered for the J1939 messages' rows and filled for
#: the others' (the tree keeps it for J1939 messages only, decode_arrays for every row)
J1939_MIX = '''VERSION ""
NS_ :
BS_:
BU_: A
BO_ 2364539904 Paged: 8 A
 SG_ Page M : 0|8@1+ (1,0) [0|3] "" A
 SG_ P0 m0 : 8|16@1+ (0.5,1) [0|100] "" A
 SG_ P1 m1 : 24|8@1- (1,0) [-5|5] "" A
BO_ 2566844672 Flat1939: 8 A
 SG_ Speed : 0|16@1+ (0.01,0) [0|300] "" A
BO_ 300 Std: 8 A
 SG_ Sel M : 0|4@1+ (1,0) [0|15] "" A
 SG_ X m2 : 8|32@1- (1,0) [0|1] "" A
 SG_ Y m3 : 8|32@1+ (1,-7) [0|1] "" A
BO_ 400 Flat: 8 A
 SG_ F : 0|16@1+ (1,0) [0|10] "" A
'''


@pytest.fixture(scope="module")
def mix_db(tmp_path_factory):
    p = tmp_path_factory.mktemp("dbc") / "mix.dbc"
    p.write_text(J1939_MIX)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ct.load_dbc(p, j1939=True)


@pytest.fixture(scope="module")
def sample_j1939_db():
    """The sample DBC with its extended-id (GPS) messages matched as J1939: J1939 messages,
    none of them with multiplexer groups (the groups' source addresses are a fill)."""
    return ct.load_dbc(ct.sample_dbc_path(), j1939=True)


@st.composite
def j1939_frames(draw):
    """Frames of J1939_MIX (the J1939 ones from any source address) or of the sample DBC
    (GPS as J1939), first bytes that select a group or none."""
    sample = draw(st.booleans())
    base = ([0x100, 0x101, 0x200, 0x18FF0400, 0x18FF0401, 0x7FF] if sample
            else [0x0CF00400, 0x18FEF100, 300, 400, 5])
    n = draw(st.integers(0, 100))
    ids = np.array(draw(st.lists(st.sampled_from(base), min_size=n, max_size=n)), np.uint32)
    sa = np.array(draw(st.lists(st.integers(0, 255), min_size=n, max_size=n)), np.uint32)
    ids = np.where(ids > 0x7FF, ids | sa, ids).astype(np.uint32)
    payload = np.frombuffer(draw(st.binary(min_size=8 * n, max_size=8 * n)),
                            np.uint8).reshape(n, 8).copy()
    payload[:, 0] = np.array(draw(st.lists(st.integers(0, 30), min_size=n, max_size=n)),
                             np.uint8)
    return sample, ids, payload


@settings(max_examples=60, deadline=None)
@given(j1939_frames(), st.sampled_from(["dense", "compact"]), st.sampled_from([8, 64]),
       st.booleans())
def test_source_addresses_follow_the_frames(sample_j1939_db, mix_db, frames, mode, width,
                                            fused):
    """Every row's and group row's source address is the low id byte of its frame (found
    by its time), whether the message is J1939 (scattered) or not (filled), with the classic
    path's group outputs sized in advance and not and on 64-byte rows."""
    sample, ids, payload = frames
    n = ids.shape[0]
    data = np.zeros((n, width), np.uint8)
    data[:, :8] = payload
    batch = FrameBatch.from_arrays(np.arange(n, dtype=np.int64), ids, data,
                                   is_extended=ids > 0x7FF)
    with warnings.catch_warnings(), pytest.MonkeyPatch.context() as mp:
        warnings.simplefilter("ignore")
        if not fused:
            mp.setattr(_classic, "group_bound", lambda *a: -1)
        res = decode_arrays(batch, sample_j1939_db if sample else mix_db, multiplexed=mode)
    lay = res["layout"]
    assert lay.any_j1939 and lay.groups_j1939 == (not sample)
    total = int(res["offsets"][-1])
    np.testing.assert_array_equal(res["source_address"][:total],
                                  ids[res["time"][:total]] & 0xFF)
    if mode == "compact":
        np.testing.assert_array_equal(res["group_source_address"],
                                      ids[res["group_time"]] & 0xFF)
