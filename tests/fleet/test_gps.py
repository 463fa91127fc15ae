"""NMEA GPS fixes as signals: a spool recorded with an NMEA source, through the decode job
into load / export / gps_track; fixes filed by their own time across midnight."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pynmea2
import pytest

import cantelem_sci as ct
from cantelem_edge import EdgeLogger, load_config
from cantelem_sci.errors import UnknownNameError
from cantelem_sci.io import segment_key, write_segment


def nmea_track(t0: str, n: int, lat0: float = 48.1, lon0: float = 11.5) -> tuple[list[str], dict]:
    """RMC + GGA pairs, one a second from ``t0`` (UTC), and the fixes they hold."""
    lines, fixes = [], {"time": [], "latitude": [], "longitude": [], "speed": []}
    for i in range(n):
        t = pd.Timestamp(t0) + pd.Timedelta(seconds=i)
        lat, lon, kn = lat0 + i * 1e-4, lon0 + i * 2e-4, 20.0 + i % 7
        la = f"{int(lat):02d}{(lat % 1) * 60:07.4f}"
        lo = f"{int(lon):03d}{(lon % 1) * 60:07.4f}"
        hms = t.strftime("%H%M%S")
        lines.append(str(pynmea2.RMC("GP", "RMC", (hms, "A", la, "N", lo, "E", f"{kn:.1f}",
                                                   "84.4", t.strftime("%d%m%y"), "", ""))))
        lines.append(str(pynmea2.GGA("GP", "GGA", (hms, la, "N", lo, "E", "1", "09", "0.9",
                                                   "545.4", "M", "46.9", "M", "", ""))))
        fixes["time"].append(t.value)
        fixes["latitude"].append(float(la[:2]) + float(la[2:]) / 60)
        fixes["longitude"].append(float(lo[:3]) + float(lo[3:]) / 60)
        fixes["speed"].append(kn * 1.852)
    return lines, {k: np.array(v) for k, v in fixes.items()}


@pytest.fixture(scope="module")
def nmea_store(tmp_path_factory, cluster_client):
    """EV0001 recorded by the edge logger from the simulator and an NMEA file, decoded."""
    root = tmp_path_factory.mktemp("nmea")
    lines, fixes = nmea_track("2026-01-05T07:30:00", 40)
    (root / "track.nmea").write_text("\n".join(lines) + "\n")
    cfg = load_config(spool=str(root / "store"), flush_interval=0.1, environ={},
                      sources=["sim:EV0001:fast", f"gps:{root / 'track.nmea'}"])
    lg = EdgeLogger(cfg)
    lg.start()
    lg.run(duration=2.0)
    lg.stop()
    ct.decode_fleet(str(root / "store"), client=cluster_client, progress=False)
    return root / "store", fixes


def test_nmea_fixes_load_as_gps_signals(nmea_store):
    store, fixes = nmea_store
    fleet = ct.open_fleet(store)
    assert "GPS" in fleet.messages("EV0001")
    ds = fleet.load("EV0001", ["GPS.Latitude", "GPS.Longitude", "GPS.Speed", "GPS.Satellites"])
    assert ds["time"].values.view("int64").tolist() == fixes["time"].tolist()
    np.testing.assert_allclose(ds["Latitude"].values, fixes["latitude"], atol=1e-7)
    np.testing.assert_allclose(ds["Longitude"].values, fixes["longitude"], atol=1e-7)
    np.testing.assert_allclose(ds["Speed"].values, fixes["speed"], rtol=1e-9)
    assert (ds["Satellites"].values == 9).all()
    assert fleet.signal_info("EV0001", "GPS.Latitude")["units"] == "deg"


def test_gps_track_chooses_nmea_or_dbc(nmea_store):
    store, fixes = nmea_store
    fleet = ct.open_fleet(store)
    nmea = fleet.gps_track("EV0001", max_points=None)  # auto: the receiver's fixes
    np.testing.assert_allclose(nmea["Latitude"].values, fixes["latitude"], atol=1e-7)
    dbc = fleet.gps_track("EV0001", source="dbc", max_points=None)
    assert dbc.attrs["message"] == "GPS_Position" and dbc.sizes["time"] > nmea.sizes["time"]
    with pytest.raises(UnknownNameError, match="nmea"):
        fleet.gps_track("EV0001", source="glonass")


def test_gps_signals_export(nmea_store, tmp_path):
    store, fixes = nmea_store
    fleet = ct.open_fleet(store)
    out = fleet.export(tmp_path / "gps.csv", messages=["GPS"])
    df = pd.read_csv(out)
    assert len(df) == len(fixes["time"])
    np.testing.assert_allclose(df["Latitude"].values, fixes["latitude"], atol=1e-7)


def test_fixes_go_to_the_day_of_their_own_time(tmp_path, cluster_client):
    """A segment filed under 2 March holds fixes from 23:59:50 on 1 March: they decode into
    1 March (a day with no frames of its own), the rest into 2 March."""
    lines, fixes = nmea_track("2026-03-01T23:59:50", 20)
    b = ct.simulate_vehicle("EV0001", duration_s=5, start="2026-03-02T00:00:05")
    gps = dict(fixes)
    gps.update(altitude=np.full(20, 545.4), course=np.full(20, 84.4), hdop=np.full(20, 0.9),
               fix_quality=np.ones(20, np.uint8), satellites=np.full(20, 9, np.uint8))
    key = segment_key("EV0001", int(b.time.min()), 1)
    assert "date=2026-03-02" in key
    write_segment(tmp_path, key, b, gps, {"vehicle": "EV0001", "seq": 1})
    ct.decode_fleet(str(tmp_path), client=cluster_client, progress=False)
    fleet = ct.open_fleet(tmp_path)
    days = {d for d, _ in fleet._days("EV0001")}
    assert days == {"2026-03-01", "2026-03-02"}
    ds = fleet.load("EV0001", "GPS.Latitude")
    assert ds["time"].values.view("int64").tolist() == fixes["time"].tolist()  # all, once
    first = fleet.load("EV0001", "GPS.Latitude", end="2026-03-01T23:59:59.999")
    assert first.sizes["time"] == 10
