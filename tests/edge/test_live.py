"""Live publishing from the edge logger against a real Mosquitto: the values equal the decoder's
on the same frames, capture and durability are untouched, a broker that is down costs only
counted live drops, and credentials never show."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import numpy as np
import pytest

import cantelem_sci as ct
from cantelem_edge import EdgeLogger, load_config
from cantelem_sci.errors import ConfigError
from cantelem_sci.io import LiveFeed
from tests.conftest import make_certificates
from tests.conftest import wait_for as _wait

pytestmark = pytest.mark.mqtt


def _frames_of(spool, vehicle):
    """Every frame of ``vehicle``'s segments in ``spool``, in time order."""
    from cantelem_sci.fleet import open_fleet

    store = open_fleet(str(spool)).store
    mans = sorted(spool.glob(f"raw/vehicle={vehicle}/date=*/*.zarr.manifest.json"))
    return ct.FrameBatch.concat([store.read_frames(json.loads(m.read_text())["key"])
                                 for m in mans])


def test_published_values_equal_the_decoder_on_the_same_frames(tmp_path, mosquitto):
    feed = LiveFeed(mosquitto.url, window_s=3600).start()
    assert _wait(lambda: feed.connected)
    cfg = load_config(environ={}, vehicle="EV0042", spool=str(tmp_path), sources=["sim"],
                      live_url=mosquitto.url, live_signals=["VehicleSpeed", "SOC", "Cell0*"])
    lg = EdgeLogger(cfg)
    lg.start()
    lg.run(duration=2.5)
    lg.stop()
    assert _wait(lambda: feed.fleet() and feed.fleet()[0]["state"] == "offline")
    st = lg.status()
    assert st["live"]["published_messages"] > 10 and st["dropped"] == {}
    assert st["latency_s"]["publish"]["n"] == st["frames"]["received"]
    got = feed.window("EV0042")
    assert set(got) == {"VehicleSpeed", "SOC"} | {f"Cell0{i}_Voltage" for i in range(1, 10)}
    tree = ct.decode(_frames_of(tmp_path, "EV0042"), ct.load_dbc(ct.sample_dbc_path()))
    for sig, node in [("VehicleSpeed", "VCU_Vehicle"), ("SOC", "BMS_PackStatus"),
                      ("Cell03_Voltage", "BMS_CellVoltages")]:
        da = tree[node][sig]
        ok = ~np.isnan(da.values)
        want_t, want_v = da["time"].values.view("int64")[ok], da.values[ok]
        t, v = got[sig]
        np.testing.assert_array_equal(t, want_t)  # every frame of the run, in order
        np.testing.assert_array_equal(v, want_v)  # bit for bit
    feed.stop()


def _candump(batch, path) -> None:
    """``batch`` as a candump -L log (the replay source's input)."""
    lines = []
    for t, a, n, ext, d in zip(batch.time.tolist(), batch.arbitration_id.tolist(),
                               batch.dlc.tolist(), batch.is_extended.tolist(), batch.data):
        ident = f"{a:08X}" if ext else f"{a:03X}"
        lines.append(f"({t // 10**9}.{t % 10**9 // 1000:06d}) can0 {ident}#"
                     f"{bytes(d[:n]).hex().upper()}")
    path.write_text("\n".join(lines) + "\n")


def _replay(log, spool, **live):
    cfg = load_config(environ={}, vehicle="EV0001", spool=str(spool),
                      sources=[f"replay:{log}:fast"], **live)
    lg = EdgeLogger(cfg)
    lg.start()
    lg.run()
    lg.stop()
    return lg.status()


def test_journal_and_segments_are_the_same_with_live_on_and_off(tmp_path, mosquitto):
    from cantelem_edge._live import MAX_FRAMES_PER_MESSAGE

    log = tmp_path / "trip.log"
    batch = ct.simulate_vehicle("EV0001", duration_s=130, seed=3)
    _candump(batch, log)
    _replay(log, tmp_path / "off")
    feed = LiveFeed(mosquitto.url, window_s=10**6).start()
    assert _wait(lambda: feed.connected)
    st = _replay(log, tmp_path / "on", live_url=mosquitto.url, live_interval=0.5)
    assert st["dropped"] == {}
    # a fast replay's backlog goes out in messages of at most MAX_FRAMES_PER_MESSAGE frames
    assert st["live"]["published_messages"] >= len(batch) / MAX_FRAMES_PER_MESSAGE
    want = ct.decode(batch, ct.load_dbc(ct.sample_dbc_path()))["VCU_Vehicle"]["VehicleSpeed"]
    assert _wait(lambda: len(feed.window("EV0001").get("VehicleSpeed", ((),))[0]) ==
                 want.sizes["time"])
    np.testing.assert_array_equal(feed.window("EV0001")["VehicleSpeed"][1], want.values)
    feed.stop()
    off = sorted((tmp_path / "off").rglob("*.zarr.manifest.json"))
    on = sorted((tmp_path / "on").rglob("*.zarr.manifest.json"))
    assert [p.name for p in off] == [p.name for p in on] and len(on) == 3
    for a, b in zip(off, on):
        ma, mb = json.loads(a.read_text()), json.loads(b.read_text())
        assert ma["frames_sha256"] == mb["frames_sha256"] and ma["frame_count"] == \
            mb["frame_count"]
        for f in ma["files"]:
            assert ma["files"][f]["md5"] == mb["files"][f]["md5"], f


def test_feed_started_while_the_broker_is_down_connects_when_it_comes(tmp_path):
    from cantelem_sci.io import EmbeddedBroker, encode_samples

    broker = EmbeddedBroker("mosquitto") if EmbeddedBroker.available("mosquitto") else None
    if broker is None:
        pytest.skip("Mosquitto is not installed")
    feed = LiveFeed(broker.url).start()  # nothing listens yet
    try:
        assert not _wait(lambda: feed.connected, timeout=1.5)
        assert "unreachable" in feed.connection or "connecting" in feed.connection
        broker.start()
        assert _wait(lambda: feed.connected, timeout=30)
        from cantelem_sci.io import BrokerSettings, connect

        pub = connect(BrokerSettings.from_url(broker.url))
        assert _wait(lambda: pub.connected_flag.is_set())
        pub.publish("cantelem/EV0005/signals", encode_samples(
            "EV0005", 1, 0, {"SOC": (np.array([1]), np.array([50.0]))}))
        assert _wait(lambda: "SOC" in feed.window("EV0005"))
        pub.publish("cantelem/EV0005/signals", b"x" * 10)  # refused, reported, not fatal
        assert _wait(lambda: feed.bad_messages == 1)
        assert "not JSON" in feed.last_error
        pub.disconnect()  # first: the network thread sends it and ends
        pub.loop_stop()
    finally:
        feed.stop()
        broker.close()


def test_broker_down_costs_only_counted_live_drops(tmp_path):
    from tests.conftest import free_port

    cfg = load_config(environ={}, spool=str(tmp_path), sources=["sim:fast"],
                      live_url=f"mqtt://127.0.0.1:{free_port()}", live_queue_max_frames=5000,
                      queue_max_frames=50_000, flush_interval=0.1)
    lg = EdgeLogger(cfg)
    lg.start()
    peak = 0
    t_end = time.monotonic() + 2.0
    while time.monotonic() < t_end:
        lg.run(duration=0.05)
        peak = max(peak, lg.live._queued)
    lg.stop()
    st = lg.status()
    assert st["frames"]["durable"] == st["frames"]["received"] > 100_000  # capture untouched
    assert st["dropped"]["live"] == st["frames"]["received"]  # nothing published, all counted
    assert peak <= 5000 and st["live"]["connected"] is False
    assert set(st["dropped"]) == {"live"}


def test_credentials_are_masked_in_check_config_logs_and_status(tmp_path, mosquitto):
    secret = "pa55-w0rd-xyz"
    url = mosquitto.url.replace("mqtt://", f"mqtt://car:{secret}@")
    env = {"CANTELEM_EDGE_LIVE_PASSWORD": "other-" + secret, "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-m", "cantelem_edge", "check-config", "--live-url",
                          url, "--s3-endpoint-url", f"http://AKIAEXAMPLE:{secret}@127.0.0.1:9"],
                         capture_output=True, text=True, env=env)
    assert out.returncode == 0 and secret not in out.stdout, out.stderr
    shown = json.loads(out.stdout)
    assert shown["live"]["url"].startswith("mqtt://car:***@")
    assert shown["live"]["password"] == "***"
    assert shown["s3_endpoint_url"] == "http://AKIAEXAMPLE:***@127.0.0.1:9"
    status = tmp_path / "status.json"
    out = subprocess.run([sys.executable, "-m", "cantelem_edge", "run", "-v", "--spool",
                          str(tmp_path), "--source", "sim:fast", "--duration", "1.5",
                          "--live-url", url, "--status-path", str(status)],
                         capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert "live: connected to mqtt://car:***@" in out.stderr  # the log names the broker
    assert secret not in out.stderr + out.stdout + status.read_text()


@pytest.mark.parametrize("vehicle", ["EV/+/#", "../x", "EV 1", "a" * 65])
def test_unsafe_vehicle_ids_are_refused_by_the_config(vehicle):
    with pytest.raises(ConfigError, match="invalid vehicle id"):
        load_config(environ={}, vehicle=vehicle, live_url="mqtt://127.0.0.1:1883")


@pytest.mark.parametrize("settings, match", [
    ({"live_url": "http://h"}, "expected mqtt://host"),
    ({"live_url": "mqtt://h", "live_prefix": "a/+"}, r"\[live\] prefix"),
    ({"live_url": "mqtt://h", "live_interval": 0}, r"\[live\] interval"),
    ({"live_url": "mqtt://h", "live_signals": ["VehicleSped"]},
     "unknown live signal 'VehicleSped' \\(did you mean 'VehicleSpeed'"),
])
def test_bad_live_settings_are_refused(tmp_path, settings, match):
    with pytest.raises(ConfigError, match=match):
        EdgeLogger(load_config(environ={}, spool=str(tmp_path), **settings))


def test_tls_with_client_certificates(tmp_path):
    """A Mosquitto listener that requires X.509 client certificates (as AWS IoT Core does):
    the logger with its certificate publishes; without one it is refused and counts drops."""
    from cantelem_sci.io import BrokerSettings, EmbeddedBroker

    if not EmbeddedBroker.available("mosquitto"):
        pytest.skip("Mosquitto is not installed")
    certs = make_certificates(tmp_path)
    # user root: mosquitto started as root would drop to its own user, which cannot read
    # pytest's private temporary directory (ignored when not root)
    tls = (f"user root\ncafile {tmp_path / 'ca.crt'}\ncertfile {tmp_path / 'server.crt'}\n"
           f"keyfile {tmp_path / 'server.key'}\nrequire_certificate true\n")
    with EmbeddedBroker("mosquitto", mosquitto_options=tls) as broker:
        url = f"mqtts://127.0.0.1:{broker.port}"
        feed = LiveFeed(BrokerSettings.from_url(url, **certs)).start()
        assert _wait(lambda: feed.connected)
        live = {f"live_{k}": v for k, v in certs.items()}
        lg = EdgeLogger(load_config(environ={}, spool=str(tmp_path / "a"), sources=["sim"],
                                    live_url=url, **live))
        lg.start()
        lg.run(duration=2.0)
        lg.stop()
        assert lg.status()["live"]["published_messages"] > 5
        assert _wait(lambda: len(feed.window("EV0001").get("SOC", ((),))[0]) > 10)
        feed.stop()
        # the CA alone (no client certificate): the broker refuses the connection
        lg = EdgeLogger(load_config(environ={}, spool=str(tmp_path / "b"),
                                    sources=["sim:fast"], live_url=url,
                                    live_ca_certs=certs["ca_certs"]))
        lg.start()
        lg.run(duration=1.5)
        lg.stop()
        st = lg.status()
        assert st["live"]["published_messages"] == 0 and st["dropped"]["live"] > 0
        assert st["frames"]["durable"] == st["frames"]["received"]
