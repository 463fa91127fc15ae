"""Edge sources: python-can messages, virtual buses, NMEA, bad interfaces and sentences."""

from __future__ import annotations

import time
from fractions import Fraction

import can
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cantelem_edge import EdgeLogger, load_config, messages_to_batch, parse_nmea_lines
from cantelem_edge._sources import CanBusSource
from cantelem_sci.errors import CaptureError, NmeaError, UnknownNameError

messages = st.builds(
    lambda ts, ext, aid, data, fd, rtr, ch: can.Message(
        timestamp=ts, arbitration_id=aid & (0x1FFFFFFF if ext else 0x7FF), is_extended_id=ext,
        data=None if rtr else data[: (64 if fd else 8)], is_fd=fd and not rtr,
        is_remote_frame=rtr, dlc=0 if rtr else None, channel=ch),
    st.floats(1e9, 2e9), st.booleans(), st.integers(0, 0x1FFFFFFF), st.binary(max_size=64),
    st.booleans(), st.booleans(), st.sampled_from(["can0", "can1", None]))


@given(st.lists(messages, min_size=1, max_size=30))
def test_messages_to_batch_keeps_every_field(msgs):
    """The live capture's converter is the log readers' (frames.from_messages)."""
    b = messages_to_batch(msgs, ["can0"])
    assert len(b) == len(msgs)
    for i, m in enumerate(msgs):
        assert b.time[i] == round(Fraction(m.timestamp) * 10**9)  # exact to the ns
        assert b.arbitration_id[i] == m.arbitration_id
        assert bool(b.is_extended[i]) == m.is_extended_id
        assert bool(b.is_remote[i]) == m.is_remote_frame
        assert bool(b.is_fd[i]) == m.is_fd
        n = len(m.data)
        assert bytes(b.data[i, :n]) == bytes(m.data) and not b.data[i, n:].any()
        assert b.channel_names[b.channel[i]] == (m.channel or "can0")


def test_two_virtual_buses_captured_at_once(tmp_path):
    cfg = load_config(spool=str(tmp_path), flush_interval=0.1, environ={},
                      sources=["can:virtual:edge-test-a", "can:virtual:edge-test-b"])
    lg = EdgeLogger(cfg)
    lg.start()
    tx = [can.Bus(interface="virtual", channel=c) for c in ("edge-test-a", "edge-test-b")]
    n = 500
    for i in range(n):
        tx[0].send(can.Message(arbitration_id=0x100, data=i.to_bytes(2, "little"),
                               is_extended_id=False))
        tx[1].send(can.Message(arbitration_id=0x18FF0400, data=[i % 256] * 8))
    time.sleep(0.5)
    lg.run(duration=0.3)
    lg.stop()
    for b in tx:
        b.shutdown()
    st = lg.status()
    assert st["frames"]["durable"] == st["frames"]["in_segments"] == 2 * n
    import xarray as xr

    segs = sorted(tmp_path.glob("raw/vehicle=EV0001/date=*/*.zarr"))
    ds = xr.concat([xr.open_zarr(s, consolidated=False) for s in segs], "frame")
    names = ds.attrs["channel_names"]
    ch = np.array(names)[ds["channel"].values]
    a = ds["arbitration_id"].values
    assert (a[ch == "edge-test-a"] == 0x100).all() and (ch == "edge-test-a").sum() == n
    got = sorted(int.from_bytes(bytes(r[:2]), "little")
                 for r in ds["data"].values[ch == "edge-test-a"])
    assert got == list(range(n))


def test_unknown_interface_lists_the_valid_ones():
    src = CanBusSource(load_config(sources=["can:warpdrive:0"], environ={}).sources[0])
    with pytest.raises(UnknownNameError,
                       match="unknown CAN interface 'warpdrive'; valid: .*socketcan.*virtual"):
        src.open()


def test_interface_that_cannot_open_is_named():
    src = CanBusSource(load_config(sources=["can:socketcan:nosuchcan9"], environ={}).sources[0])
    with pytest.raises(CaptureError, match="'socketcan' channel 'nosuchcan9'"):
        src.open()


NMEA = [
    "$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A",
    "$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47",
]


def test_nmea_fix_with_date_speed_and_course():
    fx = parse_nmea_lines(NMEA, "gps.nmea")
    assert np.datetime64(int(fx["time"][0]), "ns") == np.datetime64("1994-03-23T12:35:19")
    assert fx["latitude"][0] == pytest.approx(48.1173)
    assert fx["longitude"][0] == pytest.approx(11.5166667)
    assert fx["speed"][0] == pytest.approx(22.4 * 1.852) and fx["course"][0] == pytest.approx(84.4)


def test_malformed_nmea_names_source_and_line():
    bad = [NMEA[0], "$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*00", NMEA[1]]
    with pytest.raises(NmeaError, match=r"gps\.nmea:2: malformed NMEA"):
        parse_nmea_lines(bad, "gps.nmea")
    seen = []
    fx = parse_nmea_lines(bad, "gps.nmea", on_error=seen.append)
    assert len(fx["time"]) == 1 and len(seen) == 1


@given(st.lists(st.text(max_size=90), max_size=8))
def test_nmea_never_crashes(lines):
    seen = []
    fx = parse_nmea_lines(lines, "fuzz", on_error=seen.append)
    assert len(fx["time"]) == len(fx["latitude"])
    assert all(isinstance(e, NmeaError) and str(e).startswith("fuzz:") for e in seen)


def test_gps_file_recorded_beside_frames(tmp_path):
    nmea = tmp_path / "track.nmea"
    nmea.write_text("\n".join(NMEA + ["garbage line", NMEA[1]]) + "\n")
    cfg = load_config(spool=str(tmp_path / "s"), flush_interval=0.1, environ={},
                      sources=["sim:20x", f"gps:{nmea}"])
    lg = EdgeLogger(cfg)
    lg.start()
    lg.run(duration=1.0)
    lg.stop()
    st = lg.status()
    assert st["gps_fixes"] == 2 and st["dropped"]["gps_malformed"] == 1
    import xarray as xr

    segs = sorted((tmp_path / "s").glob("raw/vehicle=EV0001/date=*/*.zarr"))
    fixes = sum(xr.open_zarr(s, group="gps", consolidated=False).sizes["fix"]
                for s in segs if (s / "gps").exists())
    assert fixes == 2
