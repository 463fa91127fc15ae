"""The direct Zarr v3 segment writer against zarr-python writing the same arrays: the same
files, every ``zarr.json`` equal as JSON and every chunk equal byte for byte."""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cantelem_sci.io import _segment
from cantelem_sci.errors import FrameFormatError
from cantelem_sci.frames._zarr3 import write_array
from cantelem_sci.frames import FrameBatch
from tests.strategies import frame_arrays


def _zarr_python_write(path: Path, batch: FrameBatch, gps, attrs, level: int) -> None:
    """The segment writer of the fourth to sixth sessions, through zarr-python: the
    reference."""
    import zarr
    from zarr.codecs import ZstdCodec

    def codecs():
        return (ZstdCodec(level=level),)

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Numcodecs codecs are not in the Zarr")
        try:
            from zarr.codecs.numcodecs import Delta
        except ImportError:  # pragma: no cover - older zarr
            from numcodecs.zarr3 import Delta
        g = zarr.open_group(zarr.storage.LocalStore(path), mode="w", zarr_format=3,
                            attributes=attrs)
        n = len(batch)
        chunk = max(1, min(n, _segment.CHUNK_FRAMES))
        width = batch.data.shape[1]
        if width == 64 and not batch.is_fd.any() and (batch.dlc <= 8).all():
            width = 8
        t = g.create_array("time", shape=(n,), dtype="int64", chunks=(chunk,),
                           filters=[Delta(dtype="int64")], compressors=codecs(),
                           dimension_names=["frame"], attributes=_segment.TIME_ATTRS,
                           fill_value=0)
        t[...] = batch.time
        for k in _segment.FIELDS:
            v = getattr(batch, k)
            a = g.create_array(k, shape=(n,), dtype=v.dtype, chunks=(chunk,),
                               compressors=codecs(), dimension_names=["frame"],
                               attributes={"coordinates": "time"}, fill_value=0)
            a[...] = v
        d = g.create_array("data", shape=(n, width), dtype="uint8", chunks=(chunk, width),
                           compressors=codecs(), dimension_names=["frame", "byte"],
                           attributes={"coordinates": "time"}, fill_value=0)
        d[...] = batch.data[:, :width]
        if gps is not None and len(gps["time"]):
            gg = g.create_group("gps", attributes={"schema": "cantelem.gps", "schema_version": 1})
            m = len(gps["time"])
            a = gg.create_array("time", shape=(m,), dtype="int64", chunks=(m,),
                                compressors=codecs(), dimension_names=["fix"],
                                attributes=_segment.TIME_ATTRS, fill_value=0)
            a[...] = gps["time"]
            for k in _segment.GPS_FLOAT + _segment.GPS_INT:
                v = np.asarray(gps[k])
                a = gg.create_array(k, shape=(m,), dtype=v.dtype, chunks=(m,),
                                    compressors=codecs(), dimension_names=["fix"],
                                    attributes={"coordinates": "time",
                                                "units": _segment.GPS_UNITS.get(k, "1")},
                                    fill_value=0)
                a[...] = v


def _files(root: Path) -> dict[str, bytes]:
    out = {}
    for dirpath, _, names in os.walk(root):
        for f in names:
            p = Path(dirpath) / f
            out[str(p.relative_to(root))] = p.read_bytes()
    return out


def _assert_same_files(ours: Path, ref: Path) -> None:
    a, b = _files(ours), _files(ref)
    assert sorted(a) == sorted(b)
    for name in a:
        if name.endswith("zarr.json"):
            assert json.loads(a[name]) == json.loads(b[name]), name
        else:
            assert a[name] == b[name], name


@st.composite
def _gps(draw):
    m = draw(st.integers(0, 6))
    f = st.floats(-1e3, 1e3, allow_nan=False)
    out = {"time": np.sort(np.array(draw(st.lists(st.integers(0, 2**62), min_size=m,
                                                     max_size=m)), np.int64))}
    for k in _segment.GPS_FLOAT:
        out[k] = np.array(draw(st.lists(f, min_size=m, max_size=m)), np.float64)
    for k in _segment.GPS_INT:
        out[k] = np.array(draw(st.lists(st.integers(0, 255), min_size=m, max_size=m)), np.uint8)
    return out


@settings(max_examples=40, deadline=None)
@given(frame_arrays(max_frames=40), st.integers(1, 16), st.booleans(), st.integers(1, 9),
       st.one_of(st.none(), _gps()))
def test_segment_files_equal_zarr_pythons(tmp_path_factory, fa, chunk_frames, zeros, level,
                                          gps):
    """Any frames, FD or not, with chunks small enough for several chunks and a padded
    edge chunk, all-zero columns (chunks of the fill value are not written) and GPS."""
    b = FrameBatch.from_arrays(**fa)
    if zeros and len(b):
        b.arbitration_id[:] = 0
        b.data[: len(b) // 2] = 0
    root = tmp_path_factory.mktemp("seg")
    attrs = {"schema": "cantelem.raw-frames", "frame_count": len(b), "a": [1, "x"]}
    mp = pytest.MonkeyPatch()
    try:
        mp.setattr(_segment, "CHUNK_FRAMES", chunk_frames)
        _segment._write_arrays(root / "ours", b, gps, attrs, level)
        _zarr_python_write(root / "ref", b, gps, attrs, level)
    finally:
        mp.undo()
    _assert_same_files(root / "ours", root / "ref")
    from cantelem_sci.frames._zarr3 import read_array

    np.testing.assert_array_equal(read_array(root / "ours" / "time"), b.time)
    for k in _segment.FIELDS:
        np.testing.assert_array_equal(read_array(root / "ours" / k), getattr(b, k))
    data = read_array(root / "ours" / "data")  # two dimensions
    np.testing.assert_array_equal(data, b.data[:, :data.shape[1]])


@pytest.mark.parametrize("dtype", ["bool", "int8", "uint16", "int32", "uint64", "float32",
                                   "float64"])
def test_every_data_type_reads_back(tmp_path, dtype):
    import zarr

    v = (np.arange(11) % 3).astype(dtype)
    write_array(tmp_path / "a", v, chunks=(4,), level=3, dimension_names=["x"])
    back = zarr.open_array(str(tmp_path / "a"), mode="r")
    assert back.dtype == np.dtype(dtype) and back[:].tolist() == v.tolist()


SPECIAL = [0.0, -0.0, np.nan, -np.nan, 1.5, np.inf, -np.inf, 5e-324]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(SPECIAL), max_size=9), st.integers(1, 4),
       st.sampled_from([0.0, -0.0, np.nan, 1.5]), st.sampled_from(["float64", "float32"]))
def test_float_chunks_left_out_as_zarr_python_leaves_them(tmp_path_factory, vals, chunk, fill,
                                                          dtype):
    """A chunk is left out only when zarr-python leaves it out: for a zero fill bit for bit (a
    -0.0 is data: its sign came back as +0.0 when such a chunk was dropped), otherwise by
    value with NaN equal to NaN. Same files (a NaN or infinite fill written as zarr's JSON
    strings), and the values read back bit for bit as zarr-python reads them."""
    import zarr

    from cantelem_sci.frames._zarr3 import read_array

    v = np.array(vals, dtype)
    root = tmp_path_factory.mktemp("fill")
    write_array(root / "ours", v, chunks=(chunk,), level=1, fill_value=fill)
    from zarr.codecs import ZstdCodec

    ref = zarr.create_array(zarr.storage.LocalStore(root / "ref"), shape=v.shape, dtype=dtype,
                            chunks=(chunk,), compressors=(ZstdCodec(level=1),), fill_value=fill)
    ref[...] = v
    _assert_same_files(root / "ours", root / "ref")
    got = read_array(root / "ours")
    theirs = zarr.open_array(str(root / "ref"), mode="r")[...]
    assert got.tobytes() == theirs.tobytes()  # bit for bit what zarr-python reads
    np.testing.assert_array_equal(got, v)
    num = ~np.isnan(v)  # (a NaN's sign is lost where a NaN fill leaves its chunk out: zarr too)
    np.testing.assert_array_equal(np.signbit(got[num]), np.signbit(v[num]))


def test_unsupported_input_is_named(tmp_path):
    with pytest.raises(FrameFormatError, match="dtype <U1 is not supported"):
        write_array(tmp_path / "s", np.array(["a"]), chunks=(1,), level=1)
    with pytest.raises(ValueError, match="do not match the 2 dimensions"):
        write_array(tmp_path / "t", np.zeros((2, 2)), chunks=(1,), level=1)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 30), st.integers(1, 12), st.booleans(),
       st.sampled_from(["int64", "uint32", "uint8", "bool", "float64"]), st.integers(0, 2**32))
def test_read_array_equals_zarr_pythons_read(tmp_path_factory, n, chunk, delta, dtype, seed):
    """The uploader's reader against zarr-python on what the writer wrote: several chunks, a
    padded edge chunk, chunks of the fill value left out, delta or not."""
    import zarr

    from cantelem_sci.frames._zarr3 import read_array

    rng = np.random.default_rng(seed)
    v = (rng.integers(-5, 5, n) * (rng.random(n) < 0.5)).astype(dtype)
    if dtype in ("uint32", "uint8", "bool"):
        v = np.abs(v).astype(dtype)
    d = tmp_path_factory.mktemp("arr") / "a"
    write_array(d, v, chunks=(chunk,), level=1, delta=delta and dtype == "int64")
    got = read_array(d)
    assert got.dtype == v.dtype
    np.testing.assert_array_equal(got, v)
    np.testing.assert_array_equal(got, zarr.open_array(str(d), mode="r")[...])


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 40), st.integers(1, 16),
       st.sampled_from(["int64", "int32", "uint8", "float64"]), st.integers(0, 2**32))
def test_blosc_lz4_arrays_equal_zarr_pythons_and_read_back(tmp_path_factory, n, chunk,
                                                           dtype, seed):
    """``compressor="blosc-lz4"`` (the decoded parts' time arrays) writes the files
    zarr-python writes with ``BloscCodec(cname="lz4", clevel=5, shuffle="shuffle")``, byte
    for byte, and read_array reads them as zarr-python does."""
    import zarr
    from zarr.codecs import BloscCodec

    from cantelem_sci.frames._zarr3 import read_array

    rng = np.random.default_rng(seed)
    v = np.cumsum(rng.integers(0, 1000, n)).astype(dtype) * (rng.random(n) < 0.8)
    root = tmp_path_factory.mktemp("blosc")
    write_array(root / "ours", v, chunks=(chunk,), level=0, compressor="blosc-lz4")
    ref = zarr.create_array(zarr.storage.LocalStore(root / "ref"), shape=v.shape,
                            dtype=v.dtype, chunks=(chunk,), fill_value=0, zarr_format=3,
                            compressors=BloscCodec(cname="lz4", clevel=5, shuffle="shuffle"))
    ref[...] = v
    _assert_same_files(root / "ours", root / "ref")
    got = read_array(root / "ours")
    assert got.dtype == v.dtype
    np.testing.assert_array_equal(got, v)
    np.testing.assert_array_equal(got, zarr.open_array(str(root / "ours"), mode="r")[...])


def test_an_unknown_compressor_is_named(tmp_path):
    with pytest.raises(ValueError, match="compressor 'lzma'; expected one of zstd, blosc-lz4"):
        write_array(tmp_path / "t", np.zeros(2), chunks=(2,), level=1, compressor="lzma")


def test_read_array_refuses_other_arrays(tmp_path):
    import zarr

    from cantelem_sci.frames._zarr3 import read_array

    a = zarr.create_array(str(tmp_path / "g"), shape=(4,), dtype="int32", chunks=(2,),
                          compressors=None)
    a[...] = 1
    with pytest.raises(ValueError, match="not an array as the segment writer writes them"):
        read_array(tmp_path / "g")
