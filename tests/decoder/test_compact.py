"""decode(multiplexed="compact"): multiplexer groups as their own nodes, against the dense
form (same values, only the selected rows), on the fast 8-byte path and the generic path."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import cantelem_sci as ct
from cantelem_sci.decoder import signal_layout
from cantelem_sci.errors import DecodeError, UnselectedMultiplexerWarning
from tests.decoder.compact_check import assert_compact_matches_dense

NESTED = '''VERSION ""
NS_ :
BS_:
BU_: A
BO_ 100 Nested: 8 A
 SG_ Top M : 0|4@1+ (1,0) [0|15] "" A
 SG_ Inner m1M : 4|4@1+ (1,0) [0|15] "" A
 SG_ Leaf1 m2 : 8|12@1- (0.5,-3) [-100|100] "" A
 SG_ Leaf2 m3 : 8|16@0+ (1,0) [0|1000] "" A
 SG_ Other m0 : 16|32@1+ (1,0) [0|1] "" A
 SG_ Plain : 48|8@1+ (1,0) [0|255] "" A
BO_ 200 Simple: 8 A
 SG_ Sel M : 0|8@1+ (1,0) [0|3] "" A
 SG_ A m0 : 8|16@1+ (0.1,0) [0|10] "" A
 SG_ B m1 : 8|16@1- (1,0) [-5|5] "" A
 SG_ C m2 : 62|7@0+ (1,0) [0|1] "" A
 SG_ D m2 : 16|8@1+ (1,0) [0|1] "" A

SG_MUL_VAL_ 100 Inner Top 1-1, 4-5;
SG_MUL_VAL_ 100 Leaf1 Inner 2-2;
SG_MUL_VAL_ 100 Leaf2 Inner 3-3, 7-9;
SG_MUL_VAL_ 100 Other Top 0-0;
VAL_ 100 Leaf2 0 "zero" 1 "one" ;
'''


@pytest.fixture(scope="module")
def nested_db(tmp_path_factory):
    p = tmp_path_factory.mktemp("dbc") / "nested.dbc"
    p.write_text(NESTED)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ct.load_dbc(p)


@st.composite
def targeted_frames(draw, max_frames: int = 120):
    """Frames of the NESTED messages with random payloads whose low bytes favour the
    multiplexer values the DBC selects, random DLCs, and a few unknown ids."""
    n = draw(st.integers(0, max_frames))
    ids = draw(hnp.arrays(np.uint32, n, elements=st.sampled_from([100, 200, 100, 200, 5])))
    data = draw(hnp.arrays(np.uint8, (n, 8)))
    low = draw(hnp.arrays(np.uint8, n, elements=st.sampled_from(
        [0x00, 0x01, 0x21, 0x31, 0x71, 0x94, 0x25, 0x15, 0x02, 0x03, 0xFF])))
    data[:, 0] = low
    dlc = draw(hnp.arrays(np.uint8, n, elements=st.sampled_from([8, 8, 8, 0, 1, 2, 3, 6, 7])))
    time = np.arange(n, dtype=np.int64) * 1000
    ch = draw(hnp.arrays(np.uint8, n, elements=st.integers(0, 1)))
    return dict(time=time, arbitration_id=ids, data=data, dlc=dlc, channel=ch,
                channel_names=["a", "b"])


def _both_widths(kw):
    narrow = ct.frames(**kw)
    wide = dict(kw, data=np.concatenate([kw["data"], np.zeros((len(kw["time"]), 56), np.uint8)], 1))
    return narrow, ct.frames(**wide)


def _decode(raw, db, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ct.decode(raw, db, **kw)


@settings(max_examples=60)
@given(targeted_frames())
def test_compact_equals_dense_nested_multiplexers(nested_db, kw):
    narrow, wide = _both_widths(kw)
    trees = {}
    for label, raw in (("8", narrow), ("64", wide)):
        dense = _decode(raw, nested_db)
        compact = _decode(raw, nested_db, multiplexed="compact")
        assert_compact_matches_dense(dense, compact, label)
        trees[label] = compact
    # the fast 8-byte kernels and the generic path agree node for node
    assert set(trees["8"].children) == set(trees["64"].children)
    for name in trees["8"].children:
        a, b = trees["8"][name].dataset, trees["64"][name].dataset
        for v in a.variables:
            np.testing.assert_array_equal(a[v].values, b[v].values, err_msg=f"{name} {v}")


def test_compact_nodes_and_attrs(nested_db):
    # Top=1, Inner=2 -> Leaf1; Top=1, Inner=3 -> Leaf2; Top=0 -> Other; Sel=2 -> C, D
    data = np.zeros((5, 8), np.uint8)
    data[0, :2] = [0x21, 0x0A]
    data[1, :3] = [0x31, 0x01, 0x02]
    data[2, 2] = 7
    data[3, 0] = 2
    data[4, 0] = 0x91  # Top=1, Inner=9: Leaf2 again
    raw = ct.frames(np.arange(5), [100, 100, 100, 200, 100], data)
    tree = _decode(raw, nested_db, multiplexed="compact")
    names = set(tree.children)
    assert {"Nested", "Nested[Top=0]", "Nested[Top=1,4,5]", "Nested[Top=1,4,5][Inner=2]",
            "Nested[Top=1,4,5][Inner=3,7,8,9]", "Simple", "Simple[Sel=2]"} == names
    leaf2 = tree["Nested[Top=1,4,5][Inner=3,7,8,9]"]
    assert leaf2.attrs["multiplexer_signal"] == "Inner"
    assert leaf2.attrs["multiplexer_ids"] == [3, 7, 8, 9]
    assert leaf2.sizes["time"] == 2
    assert list(tree["Nested[Top=0]"]["Other"].values) == [7.0]
    assert tree["Nested[Top=1,4,5][Inner=2]"]["Leaf1"].attrs["units"] == ""
    assert "Leaf1" not in tree["Nested"].dataset and "Inner" not in tree["Nested"].dataset
    assert tree["Simple[Sel=2]"].sizes["time"] == 1


def test_compact_sample_dbc(sample_db, sample_batch):
    dense = ct.decode(sample_batch, sample_db)
    compact = ct.decode(sample_batch, sample_db, multiplexed="compact")
    assert assert_compact_matches_dense(dense, compact, "sample") > 0
    groups = [n for n in compact.children if n.startswith("BMS_CellVoltages[")]
    assert len(groups) == 24
    cell = compact["BMS_CellVoltages[CellGroup=3]"]
    assert list(cell.dataset.data_vars) == ["Cell13_Voltage", "Cell14_Voltage",
                                            "Cell15_Voltage", "Cell16_Voltage"]
    # out-of-range counts agree between the forms
    for v in cell.dataset.data_vars:
        assert (cell[v].attrs["out_of_range_count"]
                == dense["BMS_CellVoltages"][v].attrs["out_of_range_count"])


def test_multiplexed_must_be_known(sample_db, sample_batch):
    with pytest.raises(DecodeError, match="dense, compact"):
        ct.decode(sample_batch, sample_db, multiplexed="sparse")


def test_dense_multiplexed_columns_are_lazy_and_equal_the_eager_arrays(sample_db, sample_batch,
                                                                      tmp_path):
    import pickle

    import xarray as xr

    from cantelem_sci.decoder import decode_arrays
    from cantelem_sci.decoder._lazy import ExpandedColumn
    from cantelem_sci.frames import FrameBatch

    tree = ct.decode(sample_batch, sample_db)
    node = tree["BMS_CellVoltages"].dataset
    var = node["Cell13_Voltage"].variable
    assert not isinstance(var._data, np.ndarray)  # not built yet
    # the generic kernel (64-byte rows), every column eager: independent of the compact form
    # that both the 8-byte dense arrays and the lazy columns are built from
    wide = FrameBatch.from_dataset(sample_batch.to_dataset())
    wide.data = np.concatenate([wide.data, np.zeros((len(wide), 56), np.uint8)], axis=1)
    eager = decode_arrays(wide, sample_db)
    narrow = decode_arrays(sample_batch, sample_db)
    np.testing.assert_array_equal(narrow["values"], eager["values"])
    np.testing.assert_array_equal(narrow["out_of_range"], eager["out_of_range"])
    lay = eager["layout"]
    info = next(m for m in lay.messages if m.node == "BMS_CellVoltages")
    cnt = int(eager["counts"][info.index])
    for j, sig in enumerate(info.signals):
        s = info.sig0 + j
        want = eager["values"][eager["col_base"][s]:eager["col_base"][s] + cnt]
        np.testing.assert_array_equal(node[sig.name].values, want, err_msg=sig.name)
    # slicing reads the right rows; pickling and writing Zarr work on the lazy columns
    np.testing.assert_array_equal(node["Cell13_Voltage"][5:50:3].values,
                                  node["Cell13_Voltage"].values[5:50:3])
    again = pickle.loads(pickle.dumps(tree))
    np.testing.assert_array_equal(again["BMS_CellVoltages"]["Cell96_Voltage"].values,
                                  node["Cell96_Voltage"].values)
    tree.to_zarr(tmp_path / "t.zarr", mode="w", zarr_format=3, consolidated=False)
    back = xr.open_datatree(tmp_path / "t.zarr", engine="zarr", consolidated=False)
    np.testing.assert_array_equal(back["BMS_CellVoltages"]["Cell50_Voltage"].values,
                                  node["Cell50_Voltage"].values)
    col = ExpandedColumn(np.array([1.0, 2.0]), np.array([3, 1]), 5)
    np.testing.assert_array_equal(col.dense(), [np.nan, 2.0, np.nan, 1.0, np.nan])


def test_dense_labels_for_multiplexed_signals_with_choices(nested_db):
    data = np.zeros((3, 8), np.uint8)
    data[:, 0] = [0x21, 0x02, 0x31]
    raw = ct.frames(np.arange(3), [100, 200, 100], data)
    dense = _decode(raw, nested_db, decode_choices=True)
    first, second = dense["Nested"]["Leaf2"].values.tolist()
    assert first is None or first != first  # absent (xarray may turn None into NaN)
    assert second == "zero"
    compact = _decode(raw, nested_db, decode_choices=True, multiplexed="compact")
    assert compact["Nested[Top=1,4,5][Inner=3,7,8,9]"]["Leaf2"].values.tolist() == ["zero"]


@settings(max_examples=40)
@given(st.data())
def test_column_paths_equal_cantools_and_count_out_of_range(sample_db, data):
    """Random frames of the sample DBC (short ones too, two channels) as classic 8-byte
    frames and in 64-byte rows: every value as cantools gives it, and each signal's
    out-of-range count as numpy counts its values."""
    from tests.decoder.reference import assert_tree_equals_cantools

    n = data.draw(st.integers(0, 150))
    ids = np.array(data.draw(st.lists(st.sampled_from([0x100, 0x101, 0x102, 0x200, 0x201,
                                                       0x300, 0x7FF]), min_size=n, max_size=n)),
                   np.uint32)
    payload = np.frombuffer(data.draw(st.binary(min_size=8 * n, max_size=8 * n)),
                            np.uint8).reshape(n, 8).copy()
    dlc = np.array(data.draw(st.lists(st.integers(0, 8), min_size=n, max_size=n)), np.uint8)
    ch = np.array(data.draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)), np.uint8)
    kw = dict(time=np.arange(n, dtype=np.int64), arbitration_id=ids, data=payload, dlc=dlc,
              channel=ch, channel_names=["a", "b"])
    narrow, wide = _both_widths(kw)
    from cantelem_sci.frames import FrameBatch

    for raw in (narrow, wide):
        batch = FrameBatch.from_dataset(raw)
        tree = ct.decode(batch, sample_db)
        assert_tree_equals_cantools(tree, batch, signal_layout(sample_db))
        for node in tree.children.values():
            for v in node.dataset.data_vars.values():
                if "out_of_range_count" in v.attrs:
                    lo, hi = v.attrs["minimum"], v.attrs["maximum"]
                    with np.errstate(invalid="ignore"):
                        want = np.count_nonzero((v.values < lo) | (v.values > hi))
                    assert v.attrs["out_of_range_count"] == want, v.name


@settings(max_examples=40, deadline=None)
@given(targeted_frames())
def test_frames_whose_multiplexer_selects_nothing_are_counted_and_warned(nested_db, kw):
    """A frame whose top-level multiplexer value selects no signal (or which is too short to
    hold the multiplexer) keeps its other signals; it is counted per message node and in
    the root attrs, against a count from Python-int bit extraction, and warned about."""
    from tests.decoder.reference import reference_value

    lay = signal_layout(nested_db)
    want = {}
    for info in lay.messages:
        msg = info.message
        top = next(s for s in msg.signals if s.is_multiplexer and s.multiplexer_signal is None)
        keys = {i for s in msg.signals if s.multiplexer_signal == top.name
                for i in s.multiplexer_ids or []}
        n = 0
        for f in np.flatnonzero(kw["arbitration_id"] == msg.frame_id):
            payload = bytes(kw["data"][f, :kw["dlc"][f]])
            v = reference_value(top, payload, msg.length)
            n += not (v == v and int(v) in keys)
        if n:
            want[info.node] = n
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tree = ct.decode(ct.frames(**kw), nested_db)
    got = {name: node.attrs["frames_multiplexer_unselected"]
           for name, node in tree.children.items()
           if "frames_multiplexer_unselected" in node.attrs}
    assert got == want
    assert tree.attrs["frames_multiplexer_unselected"] == sum(want.values())
    warned = [w for w in caught if issubclass(w.category, UnselectedMultiplexerWarning)]
    assert len(warned) == (1 if want else 0)
