"""The raw-frame schema: construction, validation, round trips through Zarr."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from hypothesis import given

import cantelem_sci as ct
from cantelem_sci.errors import FrameFormatError
from cantelem_sci.frames import FrameBatch, seconds_to_ns
from tests.strategies import frame_arrays


def test_schema_fields_and_dtypes():
    ds = ct.frames(np.arange(3), [1, 2, 0x1FFFFFFF], np.zeros((3, 8), np.uint8))
    assert dict(ds.sizes) == {"frame": 3, "byte": 8}
    assert ds["time"].dtype == np.dtype("datetime64[ns]")
    for name, dt in [("arbitration_id", "uint32"), ("dlc", "uint8"), ("channel", "uint8"),
                     ("is_extended", "bool"), ("is_fd", "bool"), ("is_remote", "bool"),
                     ("is_error", "bool"), ("data", "uint8")]:
        assert ds[name].dtype == np.dtype(dt), name
    assert ds["is_extended"].values.tolist() == [False, False, True]
    assert ds.attrs["schema"] == "cantelem.raw-frames" and ds.attrs["schema_version"] == 1


@given(frame_arrays())
def test_zarr_roundtrip_with_plain_xarray(tmp_path_factory, kw):
    ds = ct.frames(**kw)
    p = tmp_path_factory.mktemp("z") / "f.zarr"
    ds.to_zarr(p, zarr_format=3, consolidated=False)
    back = xr.open_zarr(p, consolidated=False).load()
    xr.testing.assert_identical(ds, back)
    b = FrameBatch.from_dataset(back)
    assert np.array_equal(b.data[:, :ds.sizes["byte"]], ds["data"].values)


@pytest.mark.parametrize("kw,msg", [
    (dict(time=[0], arbitration_id=[0x800], data=np.zeros((1, 8), np.uint8), is_extended=[False]),
     r"frame 0: standard .* 0x800"),
    (dict(time=[0], arbitration_id=[0x20000000], data=np.zeros((1, 8), np.uint8)),
     r"frame 0: arbitration_id 0x20000000"),
    (dict(time=[0], arbitration_id=[1], data=np.zeros((1, 8), np.uint8), dlc=[9]),
     r"dlc 9 is outside 0..8"),
    (dict(time=[0.5], arbitration_id=[1], data=np.zeros((1, 8), np.uint8)), "float"),
    (dict(time=[0, 1], arbitration_id=[1], data=np.zeros((2, 8), np.uint8)), "arbitration_id"),
    (dict(time=[0], arbitration_id=[1], data=np.zeros((1, 65), np.uint8)), "at most 64"),
    (dict(time=[0], arbitration_id=[1], data=np.full((1, 8), 300)), "uint8"),
    (dict(time=[0], arbitration_id=[1], data=np.zeros((1, 64), np.uint8), dlc=[12], is_fd=[False]),
     "classic CAN frame with 12 bytes"),
])
def test_bad_frames_are_named(kw, msg):
    with pytest.raises(FrameFormatError, match=msg):
        ct.frames(**kw)


def test_narrow_payload_is_padded_and_fd_widened():
    ds = ct.frames([0], [1], np.ones((1, 3), np.uint8), dlc=[3])
    assert ds.sizes["byte"] == 8 and ds["data"].values[0].tolist() == [1, 1, 1, 0, 0, 0, 0, 0]
    fd = ct.frames([0, 1], [1, 2], np.ones((2, 20), np.uint8), dlc=[20, 8])
    assert fd.sizes["byte"] == 64 and fd["is_fd"].values.tolist() == [True, False]


def test_concat_merges_channel_names():
    a = FrameBatch.from_arrays([0], [1], np.zeros((1, 8), np.uint8), channel=[0],
                               channel_names=["x"])
    b = FrameBatch.from_arrays([1], [2], np.zeros((1, 64), np.uint8), channel=[0],
                               channel_names=["y"], is_fd=[True], dlc=[64])
    c = FrameBatch.concat([a, b])
    assert c.channel_names == ["x", "y"] and c.channel.tolist() == [0, 1]
    assert c.data.shape == (2, 64)


def test_seconds_to_ns_is_nearest():
    from decimal import Decimal

    x = 1673458929.10395
    exact = Decimal(x) * 10**9  # the float's exact value, in ns
    assert seconds_to_ns([x]).tolist() == [int(exact.to_integral_value())]
    assert seconds_to_ns([0.000000001, 2.5]).tolist() == [1, 2500000000]
