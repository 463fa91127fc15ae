"""The seed scenario end to end: a simulated pack overheats for 3 s; the logger (a real
process) evaluates the rule live and exactly one alert, then one "cleared", reaches a real
MQTT subscriber (Mosquitto), a webhook receiver and an SMTP server (the latency from the
frame is measured by ``./run bench alerts``); kill -9 between the alert and its delivery,
restart: still exactly one of each."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from cantelem_sci.io import BrokerSettings, EmbeddedBroker, connect
from tests.conftest import SmtpReceiver, WebhookReceiver, free_port
from tests.conftest import wait_for as _wait

pytestmark = [pytest.mark.mqtt, pytest.mark.slow, pytest.mark.s3]

RULES = """\
sinks:
  ops:  {{type: mqtt, url: "mqtt://127.0.0.1:{mqtt}", prefix: cantelem}}
  hook: {{type: webhook, url: "http://127.0.0.1:{hook}/alerts", secret_env: HOOK_SECRET}}
  mail: {{type: email, host: 127.0.0.1, port: {smtp}, to: [battery@example.org]}}
rules:
  - name: pack-overtemp
    signal: CellTempMax
    above: 60
    clear: 57
    severity: critical
    message: "{{vehicle}} pack at {{value:.1f}} °C"
    sinks: [ops, hook, mail]
"""


class Subscriber:
    def __init__(self, url: str) -> None:
        self.got: list[tuple[float, dict]] = []
        self.client = connect(BrokerSettings.from_url(url, client_id=f"sub-{os.getpid()}"),
                              subscribe=["cantelem/+/alerts"],
                              on_message=lambda t, p: self.got.append((time.time(),
                                                                      json.loads(p))))

    def close(self) -> None:
        self.client.disconnect()  # first: the network thread sends it and ends
        self.client.loop_stop()


def _start_logger(tmp_path, rules, source, duration, *extra):
    status = tmp_path / "status.json"
    env = dict(os.environ, HOOK_SECRET="s3cret-hook", CANTELEM_EDGE_STATUS_INTERVAL="0.2")
    cmd = [sys.executable, "-m", "cantelem_edge", "run", "--vehicle", "EV0001",
           "--spool", str(tmp_path / "spool"), "--source", source, "--alert-rules", str(rules),
           "--status-path", str(status), "--duration", str(duration), *extra]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True), status


def _status(path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _ports():
    return {"mqtt": free_port(), "hook": free_port(), "smtp": free_port()}


def _receivers(ports):
    if not EmbeddedBroker.available("mosquitto"):
        pytest.skip("Mosquitto is not installed (./run test installs Debian's mosquitto "
                    "with apt-get when it can)")
    broker = EmbeddedBroker("mosquitto", port=ports["mqtt"]).start()
    sub = Subscriber(broker.url)
    assert sub.client.connected_flag.wait(10)
    return broker, sub, WebhookReceiver(ports["hook"]), SmtpReceiver(ports["smtp"])


def _states(broker_sub, hook, smtp):
    return ([m["state"] for _, m in broker_sub.got], [r["json"]["state"] for r in hook.requests],
            [m["json"]["state"] for m in smtp.messages])


CATALOG = """\
metadata:
  version: 1
  cantelem:
    store: "s3://{bucket}/fleet"
    storage_options: {{client_kwargs: {{endpoint_url: "{endpoint}"}}}}
    dbc_groups:
      - {{name: ev, vehicles: ["*"], dbc: {{"*": ["{{{{ PACKAGE_DATA }}}}/ev.dbc"]}}}}
"""


def test_overheat_reaches_every_sink_exactly_once(tmp_path, moto_s3, s3_bucket, cluster_client):
    ports = _ports()
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES.format(**ports))
    broker, sub, hook, smtp = _receivers(ports)
    try:
        p, status = _start_logger(tmp_path, rules, "sim:EV0001:fault=overheat@3s+3s", 11,
                                  "--s3-url", f"s3://{s3_bucket}/fleet",
                                  "--s3-endpoint-url", moto_s3.endpoint_url)
        _, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        assert _wait(lambda: len(sub.got) == 2 and len(hook.requests) == 2
                     and len(smtp.messages) == 2, timeout=10), _states(sub, hook, smtp)
        time.sleep(0.5)  # nothing else arrives
        assert _states(sub, hook, smtp) == (["fired", "cleared"],) * 3
        fired = sub.got[0][1]
        assert fired["rule"] == "pack-overtemp" and fired["value"] == 65.0
        assert fired["message"] == "EV0001 pack at 65.0 °C" and fired["severity"] == "critical"
        assert hook.requests[0]["json"] == fired and smtp.messages[0]["json"] == fired
        assert hook.requests[0]["headers"]["X-Cantelem-Signature"].startswith("sha256=")
        cleared = sub.got[1][1]
        assert cleared["key"] == fired["key"] and cleared["peak"] == 65.0
        # the overheat lasted 3 s (three 1 Hz BMS_Temperatures frames at 65 °C)
        dur = (np.datetime64(cleared["end"][:-1]) - np.datetime64(cleared["start"][:-1]))
        assert np.timedelta64(2, "s") < dur <= np.timedelta64(4, "s")
        # the alert names the frame that fired it: the first 65 °C sample, at the event's
        # start (the latency from that frame to each sink: ./run bench alerts)
        assert fired["sample"]["time"] == fired["start"] and fired["sample"]["value"] == 65.0
        st = _status(status)["alerts"]
        assert st["fired"] == 1 and st["cleared"] == 1 and st["pending"] == 0
        assert all(s["delivered"] == 2 and s["failures"] == 0 for s in st["sinks"].values())
        assert "s3cret-hook" not in status.read_text() and "s3cret-hook" not in err
        assert _status(status)["segments"]["uploaded"] >= 1
        # the same rule over the uploaded, decoded data: the same event
        catalog = tmp_path / "catalog.yaml"
        catalog.write_text(CATALOG.format(bucket=s3_bucket, endpoint=moto_s3.endpoint_url)
                           + "    " + RULES.format(**ports).replace("\n", "\n    ").rstrip()
                           + "\n")
        import cantelem_sci as ct

        # on the tests' cluster (the commands themselves: tests/fleet/test_cli_cluster.py)
        ct.decode_fleet(catalog=str(catalog), client=cluster_client, progress=False)
        rep = ct.evaluate_fleet(catalog=str(catalog), client=cluster_client)
        assert [r["vehicle"] for r in rep.evaluated] == ["EV0001"]
        events = ct.open_fleet(catalog=str(catalog)).events()
        assert list(events["rule"]) == ["pack-overtemp"]
        ev = events.iloc[0]
        period = np.timedelta64(1, "s")  # BMS_Temperatures is sent at 1 Hz
        assert abs(ev["start"].to_datetime64() - np.datetime64(fired["start"][:-1])) < period
        assert abs(ev["end"].to_datetime64() - np.datetime64(cleared["end"][:-1])) < period
        assert ev["peak"] == 65.0
    finally:
        sub.close()
        broker.close()
        hook.close()
        smtp.close()


def test_kill_9_before_delivery_then_restart_delivers_exactly_once(tmp_path):
    ports = _ports()
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES.format(**ports))
    # every receiver is down: the alert is decided and kept in the outbox
    p, status = _start_logger(tmp_path, rules, "sim:EV0001:fault=overheat@2s+3s", 60)
    try:
        assert _wait(lambda: ((_status(status) or {}).get("alerts") or {}).get("fired") == 1,
                     timeout=30), p.stderr.read() if p.poll() is not None else "no alert"
        st = _status(status)["alerts"]
        assert st["pending"] >= 1 and all(s["delivered"] == 0 for s in st["sinks"].values())
        p.send_signal(signal.SIGKILL)
        p.wait(10)
    finally:
        if p.poll() is None:
            p.kill()
    outbox = tmp_path / "spool" / ".edge" / "EV0001" / "alerts" / "pending"
    assert list(outbox.glob("*.json"))  # the alert survived the kill
    broker, sub, hook, smtp = _receivers(ports)
    try:
        # restarted without the fault: the pack reads normal, so the event clears
        p, status = _start_logger(tmp_path, rules, "sim:EV0001", 8)
        _, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        assert _wait(lambda: len(sub.got) >= 2 and len(hook.requests) >= 2
                     and len(smtp.messages) >= 2, timeout=10), _states(sub, hook, smtp)
        time.sleep(0.5)
        assert _states(sub, hook, smtp) == (["fired", "cleared"],) * 3
        keys = {m["key"] for _, m in sub.got}
        assert len(keys) == 1  # one event
        assert not list(outbox.glob("*.json"))
    finally:
        sub.close()
        broker.close()
        hook.close()
        smtp.close()
