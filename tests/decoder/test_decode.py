"""decode(): the DataTree contract, real captures against cantools' decoded values, J1939,
several DBCs per channel, choices, unknown ids and random frames."""

from __future__ import annotations

import csv
import gzip
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cantelem_sci as ct
from cantelem_sci.errors import DecodeError, FrameFormatError, UnknownFramesWarning
from tests.conftest import corpus_path
from tests.strategies import frame_arrays


def _expected(path):
    opener = gzip.open if str(path).endswith(".gz") else open
    out: dict[tuple[int, str], list[float]] = {}
    with opener(path, "rt") as fh:
        for row in csv.DictReader(fh):
            key = (int(row["can_id_hex"], 16), row["signal"])
            out.setdefault(key, []).append(float(row["value"]))
    return out


def _by_id(tree):
    return {int(node.attrs["frame_id"], 16): node.dataset for node in tree.children.values()}


def _compare(tree, expected, mask=None):
    nodes = _by_id(tree)
    checked = 0
    for (cid, sig), want in expected.items():
        key = cid if mask is None else None
        if key is None:
            cands = [k for k in nodes if (k & mask) == (cid & mask)]
            assert cands, f"no decoded message for id {cid:#x}"
            key = cands[0]
        got = nodes[key][sig].values
        if mask is not None:  # J1939: the node holds every source address of that PGN
            sa = nodes[key]["source_address"].values
            got = got[sa == (cid & 0xFF)]
        assert got.shape[0] == len(want), f"{cid:#x} {sig}: {got.shape[0]} values, want {len(want)}"
        np.testing.assert_array_equal(got, np.array(want), err_msg=f"{cid:#x} {sig}")
        checked += len(want)
    return checked


@pytest.mark.corpus
def test_gnss_capture_matches_cantools_values():
    log = corpus_path("real-capture", "css-canmod-gnss", "00000001-63BEF5CD_candump.log")
    db = ct.load_dbc(corpus_path("real-capture", "css-canmod-gnss", "gnss.dbc"))
    tree = ct.decode(ct.read_log(log), db)
    n = _compare(tree, _expected(corpus_path("real-capture", "css-canmod-gnss",
                                             "00000001-63BEF5CD_expected_cantools.csv")))
    assert n == 17059
    # the DBC repeats its 9 names (ids 1-9 and 17-25); the second set, the one this log
    # carries, is made unique with its id
    assert "gnss_pos_0x13" in tree.children and "gnss_pos" not in tree.children


@pytest.mark.corpus
@pytest.mark.parametrize("capture,log,expected", [
    ("css-j1939-idle", "00000001_candump.log.gz", "00000001_expected_cantools.csv.gz"),
    ("css-j1939-truck", "00000001-60B621D9_candump.log", "00000001-60B621D9_expected_cantools.csv"),
])
def test_j1939_captures_match_by_pgn(capture, log, expected):
    dbc = corpus_path("real-capture", capture, "CSS-Electronics-SAE-J1939-DEMO.dbc")
    raw = ct.read_log(corpus_path("real-capture", capture, log))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnknownFramesWarning)
        tree = ct.decode(raw, ct.load_dbc({"can1": dbc}))
        exact = ct.decode(raw, ct.load_dbc({"can1": dbc}, j1939=False))
    n = _compare(tree, _expected(corpus_path("real-capture", capture, expected)), mask=0x3FFFF00)
    assert n > 700
    assert len(exact.children) == 0  # the DBC's own ids (SA 0xFE) never occur
    assert tree["EEC1"].attrs["j1939"] == 1


@pytest.mark.corpus
def test_two_dbcs_one_per_channel():
    cap = "css-j1939-idle"
    raw = ct.read_log(corpus_path("real-capture", cap, "00000001_candump.log.gz"))
    db = ct.load_dbc({"can1": corpus_path("real-capture", cap,
                                          "CSS-Electronics-SAE-J1939-DEMO.dbc"),
                      "can2": corpus_path("real-capture", cap, "canmod-gps.dbc")})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnknownFramesWarning)
        tree = ct.decode(raw, db)
    _compare(tree, _expected(corpus_path("real-capture", cap,
                                         "00000001_expected_cantools_canmod-gps.csv.gz")))
    assert set(np.unique(tree["gnss_imu"]["channel"].values)) == {1}
    assert set(np.unique(tree["EEC1"]["channel"].values)) == {0}


def test_sample_tree_contract(sample_db, sample_batch):
    tree = ct.decode(sample_batch.to_dataset(), sample_db)
    assert tree.attrs["frames_total"] == len(sample_batch)
    assert tree.attrs["frames_decoded"] == len(sample_batch)
    assert tree.attrs["frames_unknown"] == 0
    pack = tree["BMS_PackStatus"].dataset
    assert pack["time"].dtype == np.dtype("datetime64[ns]")
    assert np.all(np.diff(pack["time"].values.astype(np.int64)) > 0)
    v = pack["PackVoltage"]
    assert v.dtype == np.float64 and v.attrs["units"] == "V"
    assert v.attrs["minimum"] == 0 and v.attrs["maximum"] == 655.35
    assert pack["BMS_State"].attrs["choices"]["2"] == "Charge"
    cells = tree["BMS_CellVoltages"].dataset
    assert cells["CellGroup"].attrs["multiplexer"] == "multiplexer"
    # each frame carries 4 of 96 cells: the other 92 are NaN
    present = np.isfinite(np.stack([cells[f"Cell{c:02d}_Voltage"].values for c in range(1, 97)]))
    assert (present.sum(axis=0) == 4).all()
    assert tree["BMS_PackStatus"].attrs["dbc_sha256"] == sample_db.files[0].sha256
    assert tree["GPS_Position"]["channel"].attrs["channel_names"][1] == "can1"
    assert float(tree["MCU_Power"]["InverterEfficiency"].min()) > 0.85  # IEEE float32


def test_direct_tree_construction_is_used_and_equals_the_public_one(sample_db, sample_batch,
                                                                    monkeypatch):
    """The nodes are attached directly on this xarray (else decoding is slower, silently),
    and the fallback, xarray's own construction, gives an identical tree."""
    import xarray as xr

    from cantelem_sci.decoder import _tree

    assert _tree._direct_is_identical()
    assert _tree._simple_index_is_identical()  # each node's time index the fast way too
    direct = ct.decode(sample_batch, sample_db, multiplexed="compact")
    monkeypatch.setattr(_tree, "_direct_is_identical", lambda: False)
    public = ct.decode(sample_batch, sample_db, multiplexed="compact")
    xr.testing.assert_identical(direct, public)
    assert list(direct.children) == list(public.children)
    for name, node in direct.children.items():
        assert node.parent is direct and node.name == name and node.path == f"/{name}"


@pytest.mark.parametrize("multiplexed", ["compact", "dense"])
@pytest.mark.parametrize("decode_choices", [False, True])
def test_direct_variables_are_used_and_equal_the_constructors(sample_db, sample_batch,
                                                             monkeypatch, multiplexed,
                                                             decode_choices):
    """Every variable and time index is made by setting its slots on this xarray (else
    decoding is slower, silently), and gives what xarray's constructors give: an identical
    tree, each variable of the same type with the same slots set to equal values (attrs
    and encoding included, the lazily expanded columns of the dense form too)."""
    import xarray as xr
    from xarray.core.indexing import MemoryCachedArray

    from cantelem_sci.decoder import _lazy, _tree

    assert _tree._direct_classes() is not None
    assert _lazy._direct_wrappers_are_identical()  # the dense form's lazy columns
    kw = dict(multiplexed=multiplexed, decode_choices=decode_choices)
    direct = ct.decode(sample_batch, sample_db, **kw)
    monkeypatch.setattr(_tree, "_direct_classes", lambda: None)
    monkeypatch.setattr(_tree, "_direct_is_identical", lambda: False)
    monkeypatch.setattr(_lazy, "_direct_wrappers_are_identical", lambda: False)
    public = ct.decode(sample_batch, sample_db, **kw)
    n_vars = n_lazy = 0
    for name, node in direct.children.items():  # before reading (which caches the columns)
        for k, d in node.dataset.variables.items():
            p = public[name].dataset.variables[k]
            if isinstance(d._data, MemoryCachedArray):
                assert type(d._data.array) is type(p._data.array), (name, k)
                assert _tree._node_state(d._data.array) == _tree._node_state(p._data.array)
                assert d._data.array.key == p._data.array.key, (name, k)
                assert d._data.array.shape == p._data.array.shape, (name, k)
                n_lazy += 1
    xr.testing.assert_identical(direct, public)
    assert list(direct.children) == list(public.children)
    for name, node in direct.children.items():
        d_vars, p_vars = node.dataset.variables, public[name].dataset.variables
        assert list(d_vars) == list(p_vars)
        for k, d in d_vars.items():
            p = p_vars[k]
            assert type(d) is type(p), (name, k)
            assert _tree._node_state(d) == _tree._node_state(p), (name, k)
            # (None and {} are the same to xarray: its properties make {} of None)
            assert d.attrs == p.attrs and d.encoding == p.encoding, (name, k)
            assert type(d._data) is type(p._data), (name, k)
            n_vars += 1
    assert n_vars > 40
    # the dense form's 96 cells are lazy (they have no value table, so not labels either)
    assert n_lazy == (96 if multiplexed == "dense" else 0)


@settings(max_examples=12, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 2**32 - 1)), min_size=1, max_size=5))
def test_decodes_after_decodes_equal_fresh_decodes(sample_db, sample_batch, steps):
    """The decoder's retained scratch (the dlc column, filled with 8 only where it may not
    hold 8 already) never leaks from one decode into the next: batches of several sizes,
    some with short frames (whose dlc the scatter writes), decoded one after another equal
    the same batches decoded in a fresh thread (fresh scratch)."""
    import dataclasses
    import threading

    from cantelem_sci.decoder import decode_arrays

    def fresh(b):
        out = {}
        t = threading.Thread(target=lambda: out.update(
            decode_arrays(b, sample_db, multiplexed="compact")))
        t.start()
        t.join()
        return out

    for short, seed in steps:
        rng = np.random.default_rng(seed)
        b = sample_batch.take(slice(0, int(rng.integers(1, len(sample_batch) + 1))))
        if short:
            dlc = b.dlc.copy()
            k = rng.integers(0, len(b), size=max(1, len(b) // 50))
            dlc[k] = rng.integers(0, 8, size=k.size)
            b = dataclasses.replace(b, dlc=dlc)
        got = decode_arrays(b, sample_db, multiplexed="compact")
        want = fresh(b)
        for key, w in want.items():
            if isinstance(w, np.ndarray):
                assert np.array_equal(got[key], w, equal_nan=w.dtype.kind == "f"), key


def test_time_variable_takes_attrs_as_xarray_does():
    """Empty attrs become None, as in ``xr.Variable``; data is not copied."""
    import xarray as xr

    from cantelem_sci.decoder._tree import time_variable

    a = np.array([1.0, 2.0])
    for attrs in ({}, None, {"units": "V"}):
        v = time_variable(a, None if attrs is None else dict(attrs))
        p = xr.Variable("time", a, attrs=attrs, fastpath=True)
        assert v._attrs == p._attrs and v.dims == p.dims and v._data is a
        xr.testing.assert_identical(v, p)


def test_direct_release_is_used_and_leaves_what_xarrays_detach_leaves(sample_db, sample_batch,
                                                                      monkeypatch):
    """``release_tree`` detaches the nodes directly on this xarray (xarray's own detaching
    rebuilds the parent's children once per child), and leaves every node as xarray's
    ``children = {}`` does: no parent, no children, its name, data and attributes."""
    import xarray as xr

    from cantelem_sci.decoder import _tree, release_tree

    assert _tree._direct_release_is_identical()
    trees = []
    for direct in (True, False):
        if not direct:
            monkeypatch.setattr(_tree, "_direct_release_is_identical", lambda: False)
        tree = ct.decode(sample_batch, sample_db, multiplexed="compact")
        nodes = dict(tree.children)
        release_tree(tree)
        trees.append((tree, nodes))
    (d_root, d_nodes), (p_root, p_nodes) = trees
    assert not d_root.children and not p_root.children
    assert list(d_nodes) == list(p_nodes) and len(d_nodes) > 5
    for name in d_nodes:
        d, p = d_nodes[name], p_nodes[name]
        assert d.parent is None and p.parent is None and d.name == p.name == name
        assert not d.children and d.path == p.path == "/"
        xr.testing.assert_identical(d, p)


@pytest.mark.parametrize("multiplexed", ["dense", "compact"])
def test_nodes_identical_to_xarrays_own_construction(sample_db, sample_batch, multiplexed):
    """decode builds each node without xarray's merge (node_dataset), its columns with
    ``fastpath`` and attaches the nodes without copying them: the tree must be what the
    public constructors give."""
    import xarray as xr

    tree = ct.decode(sample_batch, sample_db, multiplexed=multiplexed, decode_choices=True)
    assert len(tree.children) > 5
    for name, node in tree.children.items():
        ds = node.to_dataset()
        ref = xr.Dataset({k: ("time", v.values, dict(v.attrs)) for k, v in ds.data_vars.items()},
                         coords={"time": ds["time"].values,
                                 **{k: ds[k].variable for k in ds.coords if k != "time"}},
                         attrs=ds.attrs)
        xr.testing.assert_identical(ds, ref)
        assert list(ds.variables) == list(ref.variables), name
        assert isinstance(ds.indexes["time"], __import__("pandas").DatetimeIndex)
        mine, theirs = ds.xindexes["time"], ref.xindexes["time"]  # (built without the casts)
        assert type(mine) is type(theirs) and mine.equals(theirs)
        assert (mine.dim, mine.coord_dtype, mine.index.name, mine.index.dtype) == (
            theirs.dim, theirs.coord_dtype, theirs.index.name, theirs.index.dtype)
        for k in ds.coords:
            assert type(ds[k].variable) is type(ref[k].variable), (name, k)
    rebuilt = xr.DataTree.from_dict({"/": tree.to_dataset(), **{k: v.to_dataset()
                                                                for k, v in tree.children.items()}})
    xr.testing.assert_identical(tree, rebuilt)
    # the nodes are independent: changing one leaves another decode's untouched
    again = ct.decode(sample_batch, sample_db, multiplexed=multiplexed)
    tree["BMS_PackStatus"].attrs["message"] = "changed"
    assert again["BMS_PackStatus"].attrs["message"] == "BMS_PackStatus"
    tree["BMS_PackStatus"]["BMS_State"].attrs["choices"]["0"] = "changed"  # nested attrs too
    assert again["BMS_PackStatus"]["BMS_State"].attrs["choices"]["0"] != "changed"
    assert ct.decode(sample_batch, sample_db)["BMS_PackStatus"]["BMS_State"].attrs[
        "choices"]["0"] != "changed"


def test_choices_as_labels(sample_db, sample_batch):
    tree = ct.decode(sample_batch, sample_db, decode_choices=True)
    states = set(tree["BMS_PackStatus"]["BMS_State"].values.tolist())
    assert states <= {"Idle", "Drive", "Charge", "Fault"} and states
    assert tree["BMS_PackStatus"]["PackVoltage"].dtype == np.float64


def test_unknown_ids_are_counted_and_reported(sample_db):
    raw = ct.frames(np.arange(5), [0x100, 0x7AB, 0x7AB, 0x1ABCDEF, 0x100],
                    np.zeros((5, 8), np.uint8), is_extended=[0, 0, 0, 1, 0])
    with pytest.warns(UnknownFramesWarning, match=r"3 of 5 frames have 2 ids.*0x7ab \(2\)"):
        tree = ct.decode(raw, sample_db)
    assert tree.attrs["frames_unknown"] == 3
    assert tree.attrs["unknown_ids"] == ["0x7ab", "0x1abcdefx"]
    assert tree.attrs["unknown_id_counts"] == [2, 1]
    assert tree["BMS_PackStatus"].sizes["time"] == 2


def test_short_remote_and_error_frames(sample_db):
    data = np.full((4, 8), 0xFF, np.uint8)
    raw = ct.frames(np.arange(4), [0x100] * 4, data, dlc=[8, 2, 8, 8],
                    is_remote=[0, 0, 1, 0], is_error=[0, 0, 0, 1])
    tree = ct.decode(raw, sample_db)
    ds = tree["BMS_PackStatus"].dataset
    assert ds.sizes["time"] == 2  # remote and error frames are not decoded
    assert tree.attrs["frames_remote"] == 1 and tree.attrs["frames_error"] == 1
    assert np.isfinite(ds["PackVoltage"][1]) and np.isnan(ds["SOC"][1])  # 2 bytes only


def test_decode_rejects_wrong_database(sample_batch):
    with pytest.raises(DecodeError, match="load_dbc"):
        ct.decode(sample_batch, object())
    with pytest.raises(FrameFormatError, match="missing"):
        import xarray as xr

        ct.decode(xr.Dataset({"x": ("frame", [1])}), ct.load_dbc(ct.sample_dbc_path()))


@given(frame_arrays(max_frames=150), st.data())
def test_random_frames_never_crash(sample_db, kw, data):
    """Any frames decode, and the root's counts add up: every frame is decoded, unknown
    (usable, but no DBC message matches its id) or remote / error (some of them flagged)."""
    kw = dict(kw)
    raw = ct.frames(**kw)
    n = raw.sizes["frame"]
    flags = {k: np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)), bool)
             for k in ("is_remote", "is_error")} if data.draw(st.booleans()) else {}
    for k, v in flags.items():
        raw[k] = ("frame", v)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnknownFramesWarning)
        tree = ct.decode(raw, sample_db)
    a = tree.attrs
    unusable = raw["is_remote"].values | raw["is_error"].values
    assert a["frames_remote"] == int(raw["is_remote"].values.sum())
    assert a["frames_error"] == int(raw["is_error"].values.sum())
    assert a["frames_decoded"] + a["frames_unknown"] + int(unusable.sum()) == n
    known = np.isin(raw["arbitration_id"].values,
                    [m.frame_id for m in sample_db.messages])
    assert a["frames_decoded"] <= int((known & ~unusable).sum())
    assert a["frames_unknown"] >= int((~known & ~unusable).sum())
    rows = sum(node.sizes.get("time", 0) for node in tree.children.values())
    assert rows == a["frames_decoded"]


def test_fd_message_64_bytes(tmp_path):
    p = tmp_path / "fd.dbc"
    p.write_text('VERSION ""\nNS_ :\nBS_:\nBU_: A\n'
                 'BO_ 2147484160 FD: 64 A\n'
                 ' SG_ Last : 504|8@1+ (1,0) [0|255] "" A\n'
                 ' SG_ Cross : 60|16@1- (0.5,1) [0|1] "" A\n'
                 ' SG_ BeWide : 135|64@0+ (1,0) [0|1] "" A\n')
    db = ct.load_dbc(p)
    data = np.arange(64, dtype=np.uint8)[None, :].repeat(2, 0)
    raw = ct.frames([0, 1], [0x200, 0x200], data, dlc=[64, 48], is_extended=[1, 1], is_fd=[1, 1])
    import cantools

    ref = cantools.database.load_file(str(p)).get_message_by_name("FD")
    want = ref.decode(bytes(range(64)), decode_choices=False)
    tree = ct.decode(raw, db)
    for s in ("Last", "Cross", "BeWide"):
        assert float(tree["FD"][s][0]) == float(want[s])
    assert np.isnan(tree["FD"]["Last"][1]) and np.isfinite(tree["FD"]["Cross"][1])


@settings(max_examples=150)
@given(st.data())
def test_one_slot_matcher_equals_the_general_one(data):
    """With every DBC for any channel, the two-pass matcher gives the general matcher's
    messages and counts, over a result array that is not prefilled."""
    from cantelem_sci.decoder._match import match_frames, match_frames_any
    from cantelem_sci.decoder._match import pack_match_tables

    ext = 1 << 31
    pgn = st.integers(0, 0x1FFFFFFF).map(lambda i: (i & 0x3FFFF00) | ext)
    ident = st.one_of(st.integers(0, 2047), st.integers(0, 0x1FFFFFFF).map(lambda i: i | ext),
                      st.integers(2048, 0x1FFFFFFF))  # the last: above 0x7FF, not extended
    table = data.draw(st.dictionaries(ident, st.integers(0, 20), min_size=1, max_size=12))
    j1939 = data.draw(st.dictionaries(pgn, st.integers(0, 20), max_size=4))
    known = list(table) + [(p & ~0xFF) | 0x17 for p in j1939]
    n = data.draw(st.integers(0, 80))
    key = np.array(data.draw(st.lists(st.one_of(st.sampled_from(known), ident),
                                      min_size=n, max_size=n)), dtype=np.int64)
    usable = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)), bool)
    arb, is_ext = (key & 0x1FFFFFFF).astype(np.uint32), key >= ext
    keys, vals, bounds, std = pack_match_tables([table], [j1939])
    want = np.full(n, -1, np.int32)
    want_counts = np.zeros(21, np.int64)
    match_frames(arb, is_ext, np.zeros(n, np.uint8), usable, np.full(256, -1, np.int64), 0,
                 keys, vals, bounds, std, want, want_counts)
    got, counts = np.full(n, 77, np.int32), np.zeros(21, np.int64)
    match_frames_any(arb, is_ext, usable, keys, vals, bounds, std[0], got, counts)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(counts, want_counts)


@given(st.data())
def test_match_kernel_follows_the_channel_then_any_channel_rule(data):
    """The numba matcher against the rule written plainly: a frame tries its channel's table
    (exact id, then the J1939 PGN for extended ids), then the any-channel table."""
    from cantelem_sci.decoder._match import match_frames
    from cantelem_sci.decoder._match import pack_match_tables

    ext = 1 << 31
    pgn = st.integers(0, 0x1FFFFFFF).map(lambda i: (i & 0x3FFFF00) | ext)
    ident = st.one_of(st.integers(0, 2047), st.integers(0, 0x1FFFFFFF).map(lambda i: i | ext))
    n_slots = data.draw(st.integers(1, 4))
    tables = [data.draw(st.dictionaries(ident, st.integers(0, 50), max_size=12))
              for _ in range(n_slots)]
    j1939 = [data.draw(st.dictionaries(pgn, st.integers(0, 50), max_size=4))
             for _ in range(n_slots)]
    chans = data.draw(st.lists(st.integers(0, 5), min_size=n_slots - 1, max_size=n_slots - 1,
                               unique=True))
    slot_of_channel = np.full(256, -1, np.int64)
    for t, c in enumerate(chans):
        slot_of_channel[c] = t
    known = [k for t in tables for k in t] + [0x18FEF100]
    n = data.draw(st.integers(0, 60))
    wide_std = st.integers(2048, 0x1FFFFFFF)  # an id above 0x7FF without the extended flag
    key = np.array(data.draw(st.lists(st.one_of(st.sampled_from(known), ident, wide_std),
                                      min_size=n, max_size=n)), dtype=np.int64)
    channel = np.array(data.draw(st.lists(st.integers(0, 6), min_size=n, max_size=n)), np.uint8)
    usable = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)), bool)
    result = np.full(n, -1, np.int64)
    n_msg = max([m for t in tables for m in t.values()] + [m for t in j1939 for m in t.values()]
                + [0]) + 1
    counts = np.zeros(n_msg, np.int64)
    match_frames((key & 0x1FFFFFFF).astype(np.uint32), key >= ext, channel, usable,
                 slot_of_channel, n_slots - 1, *pack_match_tables(tables, j1939), result,
                 counts)
    for f in range(n):
        want = -1
        if usable[f]:
            order = [chans.index(channel[f])] if channel[f] in chans else []
            for t in order + [n_slots - 1]:
                m = tables[t].get(int(key[f]), -1)
                if m < 0 and key[f] >= ext:
                    m = j1939[t].get((int(key[f]) & 0x3FFFF00) | ext, -1)
                if m >= 0:
                    break
            want = m
        assert result[f] == want, f
    np.testing.assert_array_equal(counts, np.bincount(result[result >= 0], minlength=n_msg))


@settings(max_examples=30, deadline=None)
@given(frame_arrays(max_frames=60), st.sampled_from(["fortran", "strided", "direct"]))
def test_payload_memory_layout_does_not_matter(sample_db, fa, layout):
    """Payloads in a Fortran-ordered or strided array (a slice of a wider one), given to
    ``from_arrays`` or straight to the FrameBatch fields, decode as the C-ordered ones do
    (numpy refused to view them as 64-bit words: an unexplained ValueError)."""
    from dataclasses import replace

    from cantelem_sci.decoder import decode_arrays
    from cantelem_sci.frames import FrameBatch

    ref = FrameBatch.from_arrays(**fa)
    if layout == "fortran":
        b = FrameBatch.from_arrays(**{**fa, "data": np.asfortranarray(fa["data"])})
    else:
        wide = np.zeros((len(ref), 2 * ref.data.shape[1]), np.uint8)
        wide[:, ::2] = ref.data
        b = (FrameBatch.from_arrays(**{**fa, "data": wide[:, ::2]}) if layout == "strided"
             else replace(ref, data=wide[:, ::2]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnknownFramesWarning)
        want, got = (decode_arrays(x, sample_db, multiplexed="compact") for x in (ref, b))
    for k in ("values", "time", "counts", "group_values", "group_rows", "out_of_range"):
        np.testing.assert_array_equal(got[k], want[k], err_msg=k)


def test_a_node_name_with_a_slash_is_a_clear_error():
    import xarray as xr

    from cantelem_sci.decoder._tree import attach_children

    with pytest.raises(DecodeError, match="node name 'A/B': a '/' would split it"):
        attach_children(xr.DataTree(), {"A": xr.Dataset(), "A/B": xr.Dataset()})
