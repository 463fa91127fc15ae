"""The uplink's receiving end: loss, duplication and reordering on the way; the stream in the
store; the edge logger sending over UDP to `cantelem uplink receive`'s loop."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import cantelem_sci as ct
from cantelem_sci.decoder import UplinkSchema
from cantelem_sci.fleet._uplink import UplinkReceiver, read_uplink, serve_udp
from cantelem_sci.io import Store

from ..conftest import free_port, wait_for

SIGNALS = ["VehicleSpeed", "SOC", "PackVoltage", "PackCurrent", "MotorTemp"]


def _schema():
    return UplinkSchema.from_dbc(ct.load_dbc(ct.sample_dbc_path()), SIGNALS)


def _sent(schema, n=200, keyframe_every=10, seed=0):
    """(packets, snapshots) as the edge sends them: deltas against the last keyframe."""
    rng = np.random.default_rng(seed)
    raw = {f.name: (f.raw_range[0] + f.raw_range[1]) // 2 for f in schema.fields}
    packets, snaps, base = [], [], None
    for seq in range(n):
        for f in schema.fields:  # a random walk of raw values, small steps mostly
            lo, hi = f.raw_range
            raw[f.name] = int(np.clip(raw[f.name] + rng.integers(-40, 41), lo, hi))
        values = {f.name: f.from_raw(raw[f.name]) for f in schema.fields}
        t = 10**18 + seq * 10**9
        if seq % keyframe_every == 0:
            packets.append(schema.encode(values, "EV0001", seq, t))
            base = (seq, values)
        else:
            packets.append(schema.encode(values, "EV0001", seq, t, base=base[1],
                                         base_seq=base[0]))
        snaps.append((seq, t, values))
    return packets, snaps


def test_loss_duplication_and_reordering(tmp_path):
    schema = _schema()
    packets, snaps = _sent(schema)
    rng = np.random.default_rng(1)
    lost = set(rng.choice(len(packets), 20, replace=False).tolist())
    wire = []
    for i, p in enumerate(packets):
        if i in lost:
            continue
        wire.append(p)
        if rng.random() < 0.1:
            wire.append(p)  # duplicated on the way
    for k in range(0, len(wire) - 6, 6):  # reordered within windows of 6
        wire[k:k + 6] = [wire[k + j] for j in rng.permutation(6)]
    rx = UplinkReceiver(schema)
    got = {}
    for p in wire:
        for s in rx.feed(p):
            assert s.seq not in got  # each snapshot once
            got[s.seq] = s
    keyframes_lost = {i for i in lost if i % 10 == 0}
    expect = {seq for seq, _, _ in snaps if seq not in lost and seq - seq % 10 not in
              keyframes_lost}
    assert set(got) == expect  # nothing invented, nothing decodable missed
    for seq, t, values in snaps:
        if seq in got:
            assert got[seq].values == values and got[seq].time_ns == t  # exact
    stranded = len([s for s, _, _ in snaps if s not in lost and s not in expect])
    assert rx.counts["waiting"] == stranded and rx.counts["duplicates"] >= 1
    store = Store(str(tmp_path))
    assert rx.flush(store) == len(expect)
    for p in wire:  # everything again: duplicates only
        rx.feed(p)
    assert rx.flush(store) == 0
    df = read_uplink(store, "EV0001")
    assert df["seq"].tolist() == sorted(expect) and df["time"].is_monotonic_increasing
    assert ct.open_fleet(tmp_path).uplink("EV0001").equals(df)


def test_edge_logger_sends_and_the_receiver_stores(tmp_path):
    from cantelem_edge import EdgeLogger, load_config

    port = free_port()
    store = Store(str(tmp_path / "store"))
    rx = UplinkReceiver(_schema())
    stop = threading.Event()
    th = threading.Thread(target=serve_udp, args=(rx, "127.0.0.1", port, store, stop, 0.5),
                          daemon=True)
    th.start()
    cfg = load_config(spool=str(tmp_path / "spool"), flush_interval=0.1, environ={},
                      sources=["sim:EV0001:realtime"], uplink=f"udp:127.0.0.1:{port}",
                      uplink_signals=",".join(SIGNALS), uplink_interval=0.2,
                      uplink_keyframe_every=3)
    lg = EdgeLogger(cfg)
    lg.start()
    lg.run(duration=3.0)
    lg.stop()
    st = lg.status()["uplink"]
    assert st["packets"] >= 5 and st["errors"] == 0 and st["bytes"] / st["packets"] <= 40
    assert wait_for(lambda: rx.counts["decoded"] >= st["packets"], 10)
    stop.set()
    th.join(5)
    df = read_uplink(store, "EV0001")
    assert len(df) == st["packets"]
    # each snapshot holds the signals' last values at its time, as the DBC decode gives them
    import xarray as xr
    from cantelem_sci.frames import FrameBatch

    segs = sorted((tmp_path / "spool").glob("raw/vehicle=EV0001/date=*/*.zarr"))
    raw = FrameBatch.from_dataset(xr.concat([xr.open_zarr(s, consolidated=False) for s in segs],
                                            "frame").sortby("time"))
    tree = ct.decode(raw, ct.load_dbc(ct.sample_dbc_path()))
    for sig in SIGNALS:
        node = next(n.dataset for n in tree.children.values() if sig in n.dataset)
        t = node["time"].values.view("int64")
        for _, row in df.iterrows():  # (the packet's time has ms resolution)
            i0 = max(0, np.searchsorted(t, row["time"].value - 10**6, side="right") - 1)
            i1 = np.searchsorted(t, row["time"].value + 10**6, side="right")
            assert row[sig] in node[sig].values[i0:i1].tolist(), (sig, row["seq"])


@pytest.mark.mqtt
def test_uplink_over_mqtt_for_testing(mosquitto):
    """The MQTT transport (for testing without a radio): packets on cantelem/<v>/uplink."""
    from cantelem_edge._uplink import UplinkSender
    from cantelem_sci.io import BrokerSettings, connect

    rx = UplinkReceiver(_schema())
    sub = connect(BrokerSettings.from_url(mosquitto.url, client_id="uplink-test"),
                  on_message=lambda topic, payload: rx.feed(payload),
                  subscribe=["cantelem/+/uplink"])
    tx = UplinkSender(mosquitto.url, SIGNALS, "EV0001", ct.load_dbc(ct.sample_dbc_path()),
                      keyframe_every=2)
    try:
        assert wait_for(lambda: sub.connected_flag.is_set()
                        and tx.transport.client.connected_flag.is_set(), 20)
        time_ns = 10**18
        for k in range(5):
            tx.feed({"SOC": (np.array([time_ns + k * 10**9]), np.array([50.0 + k]))})
            tx.send_now()
        assert wait_for(lambda: rx.counts["decoded"] == 5, 10)
        df = rx.frame(rx._new)
        assert df["SOC"].tolist() == [50.0, 51.0, 52.0, 53.0, 54.0]
    finally:
        tx.transport.close()
        sub.disconnect()  # first: the network thread sends it and ends
        sub.loop_stop()


def test_cantelem_uplink_receive_command(tmp_path):
    """The command listens on UDP, stores what arrives, and flushes on SIGTERM."""
    import os
    import signal
    import socket
    import subprocess
    import sys

    port = free_port()
    cmd = [sys.executable, "-m", "cantelem_sci", "uplink", "receive", "--udp",
           f"127.0.0.1:{port}", "--dbc", ct.sample_dbc_path(), "--signals", ",".join(SIGNALS),
           "--store", str(tmp_path), "--flush", "60"]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=dict(os.environ))
    try:
        assert "listening on udp" in p.stdout.readline()
        packets, snaps = _sent(_schema(), n=12, keyframe_every=4)
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for pkt in packets[::-1]:  # all of them, backwards
            sock.sendto(pkt, ("127.0.0.1", port))
        sock.close()
        import time

        time.sleep(1.0)
    finally:
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=30)
    assert p.returncode == 0, err
    df = read_uplink(Store(str(tmp_path)), "EV0001")
    assert df["seq"].tolist() == list(range(12))  # deltas waited for their keyframes
    assert df["SOC"].tolist() == [v["SOC"] for _, _, v in snaps]


def test_uplink_over_a_serial_port():
    """The serial transport (a radio module's UART) on a pseudo-terminal pair: each packet
    behind its 2-byte length, decoded on the other end."""
    import os
    import tty

    from cantelem_edge._uplink import UplinkSender

    master, slave = os.openpty()
    tty.setraw(slave)
    try:
        tx = UplinkSender(f"serial:{os.ttyname(slave)}:115200", SIGNALS, "EV0001",
                          ct.load_dbc(ct.sample_dbc_path()), keyframe_every=2)
        for k in range(3):
            tx.feed({"PackVoltage": (np.array([10**18 + k * 10**9]), np.array([400.0 + k]))})
            tx.send_now()
        tx.transport.close()
        stream = b""
        while len(stream) < tx.counts["bytes"] + 2 * tx.counts["packets"]:
            stream += os.read(master, 4096)
    finally:
        os.close(master)
        os.close(slave)
    rx = UplinkReceiver(_schema())
    while stream:
        n = int.from_bytes(stream[:2], "big")
        rx.feed(stream[2:2 + n])
        stream = stream[2 + n:]
    assert rx.frame(rx._new)["PackVoltage"].tolist() == [400.0, 401.0, 402.0]
