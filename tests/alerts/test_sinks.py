"""Alert sinks against real receivers (Mosquitto, an HTTP server, aiosmtpd) and the outbox:
at-least-once delivery with idempotency keys, retries with backoff, failures reported."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import numpy as np
import pytest

from cantelem_sci.alerts import (
    AlertEngine,
    Dispatcher,
    Outbox,
    load_rules,
    make_sink,
)
from cantelem_sci.errors import AlertDeliveryError, UnknownNameError
from tests.conftest import free_port
from tests.conftest import wait_for as _wait

RULE = "rules: [{name: hot, signal: T, above: 60, clear: 55, message: '{vehicle} at {value:.1f}'}]"


def _payloads(kinds=("fired", "cleared")):
    rule = load_rules(RULE).rules[0]
    from cantelem_sci.alerts import RuleEvaluator

    ev = RuleEvaluator(rule, "EV0001")
    t = np.arange(5, dtype=np.int64) * 10**9 + 1_700_000_000 * 10**9
    return [x.payload("degC") for x in ev.feed(t, np.array([50, 62, 63, 50, 50.]))
            if x.kind in kinds]


def test_webhook_posts_signed_json(webhook_receiver, monkeypatch):
    monkeypatch.setenv("HOOK_SECRET", "s3cret")
    sink = make_sink("hook", {"type": "webhook", "url": webhook_receiver.url,
                              "secret_env": "HOOK_SECRET"})
    fired = _payloads()[0]
    sink.send(fired)
    (req,) = webhook_receiver.requests
    assert req["json"] == fired and req["json"]["message"] == "EV0001 at 62.0"
    want = hmac.new(b"s3cret", req["body"], hashlib.sha256).hexdigest()
    assert req["headers"]["X-Cantelem-Signature"] == f"sha256={want}"
    assert req["headers"]["Idempotency-Key"] == fired["id"]
    assert "s3cret" not in sink.describe()


def test_email_over_smtp(smtp_receiver):
    sink = make_sink("mail", {"type": "email", "host": "127.0.0.1",
                              "port": smtp_receiver.port, "to": ["ops@example.org"]})
    fired, cleared = _payloads()
    sink.send(fired)
    sink.send(cleared)
    a, b = smtp_receiver.messages
    assert a["to"] == ["ops@example.org"] and a["json"] == fired
    assert a["msg"]["Subject"] == "[warning] EV0001 at 62.0"
    assert b["msg"]["Subject"].endswith("(cleared)")
    assert a["msg"]["Message-ID"] == f"<{fired['id']}@cantelem>"


def test_email_with_starttls_and_login(tmp_path, monkeypatch):
    from tests.conftest import SmtpReceiver, make_certificates

    certs = make_certificates(tmp_path)
    smtp = SmtpReceiver(certs=certs, login=("alerts", "smtp-pw-7"))
    try:
        monkeypatch.setenv("SMTP_PW", "smtp-pw-7")
        fired = _payloads()[0]
        plain = make_sink("mail", {"type": "email", "host": "127.0.0.1", "port": smtp.port,
                                   "to": "ops@example.org", "timeout": 5})
        with pytest.raises(AlertDeliveryError):  # the server requires STARTTLS
            plain.send(fired)
        sink = make_sink("mail", {"type": "email", "host": "127.0.0.1", "port": smtp.port,
                                  "to": "ops@example.org", "starttls": True,
                                  "ca_certs": certs["ca_certs"], "username": "alerts",
                                  "password_env": "SMTP_PW"})
        sink.send(fired)
        assert smtp.logins == ["alerts"] and smtp.messages[0]["json"] == fired
        monkeypatch.setenv("SMTP_PW", "wrong")
        bad = make_sink("mail", {"type": "email", "host": "127.0.0.1", "port": smtp.port,
                                 "to": "ops@example.org", "starttls": True, "timeout": 1,
                                 "ca_certs": certs["ca_certs"], "username": "alerts",
                                 "password_env": "SMTP_PW"})
        with pytest.raises(AlertDeliveryError) as err:
            bad.send(fired)
        assert "wrong" not in str(err.value) and "smtp-pw-7" not in str(err.value)
    finally:
        smtp.close()


@pytest.mark.mqtt
def test_mqtt_sink_publishes_to_the_alerts_topic(mosquitto):
    from cantelem_sci.io import BrokerSettings, connect

    got = []
    sub = connect(BrokerSettings.from_url(mosquitto.url, client_id="t-sub"),
                  subscribe=["cantelem/+/alerts"],
                  on_message=lambda topic, p: got.append((topic, json.loads(p))))
    assert sub.connected_flag.wait(10)
    time.sleep(0.2)
    sink = make_sink("ops", {"type": "mqtt", "url": mosquitto.url})
    fired = _payloads()[0]
    sink.send(fired)
    assert _wait(lambda: got)
    assert got[0] == ("cantelem/EV0001/alerts", fired)
    sink.close()
    sub.disconnect()  # first: the network thread sends it and ends
    sub.loop_stop()


def test_unreachable_receivers_raise_delivery_errors():
    fired = _payloads()[0]
    port = free_port()
    with pytest.raises(AlertDeliveryError, match="hook"):
        make_sink("hook", {"type": "webhook", "url": f"http://127.0.0.1:{port}/x",
                           "timeout": 1}).send(fired)
    with pytest.raises(AlertDeliveryError, match="mail"):
        make_sink("mail", {"type": "email", "host": "127.0.0.1", "port": port,
                           "to": "a@b", "timeout": 1}).send(fired)
    with pytest.raises(AlertDeliveryError, match="unreachable"):
        make_sink("ops", {"type": "mqtt", "url": f"mqtt://127.0.0.1:{port}",
                          "timeout": 0.5}).send(fired)


def test_sink_settings_are_checked():
    with pytest.raises(UnknownNameError, match="did you mean 'secret'"):
        make_sink("hook", {"type": "webhook", "url": "http://x", "secrt": "a"})
    with pytest.raises(UnknownNameError, match="webhook"):
        make_sink("x", {"type": "webhok"})


def test_outbox_survives_a_restart_and_ignores_repeats(tmp_path):
    fired, cleared = _payloads()
    box = Outbox(tmp_path)
    assert box.add(fired, ["a", "b"]) and box.add(cleared, ["a"])
    assert not box.add(fired, ["a", "b"])  # the same alert again: not added
    box.done(fired["id"], "a")
    box2 = Outbox(tmp_path)  # a restarted process
    assert [p["id"] for p in box2.pending("a")] == [cleared["id"]]
    assert [p["id"] for p in box2.pending("b")] == [fired["id"]]
    box2.done(fired["id"], "b")
    box3 = Outbox(tmp_path)
    assert box3.pending("b") == [] and not box3.add(fired, ["a", "b"])


def test_failing_webhook_is_retried_reported_and_delivered_once(tmp_path, webhook_receiver):
    webhook_receiver.fail = True
    sink = make_sink("hook", {"type": "webhook", "url": webhook_receiver.url})
    d = Dispatcher(Outbox(tmp_path), {"hook": sink})
    d.start()
    fired = _payloads()[0]
    d.submit(fired, ["hook"])
    assert _wait(lambda: d.status()["hook"]["failures"] >= 2)
    st = d.status()["hook"]
    assert st["failing"] and "HTTP 503" in st["last_error"] and st["pending"] == 1
    webhook_receiver.fail = False
    assert _wait(lambda: d.status()["hook"]["delivered"] == 1, timeout=10)
    time.sleep(0.3)
    d.stop()
    assert [r["json"]["id"] for r in webhook_receiver.requests] == [fired["id"]]


def test_engine_keeps_an_ongoing_event_across_a_restart(tmp_path, webhook_receiver):
    rules = load_rules({"sinks": {"hook": {"type": "webhook", "url": webhook_receiver.url}},
                        "rules": [{"name": "hot", "signal": "T", "above": 60, "clear": 55}]})
    t0 = 1_700_000_000 * 10**9
    eng = AlertEngine(rules, "EV0001", tmp_path)
    eng.start()
    eng.feed({"T": (np.array([t0, t0 + 10**9]), np.array([50.0, 65.0]))})
    eng.stop()
    eng = AlertEngine(rules, "EV0001", tmp_path)  # restarted while still hot
    eng.start()
    eng.feed({"T": (np.array([t0 + 5 * 10**9]), np.array([66.0]))})
    eng.feed({"T": (np.array([t0 + 6 * 10**9]), np.array([50.0]))})
    assert _wait(lambda: len(webhook_receiver.requests) == 2)
    eng.stop()
    states = [r["json"]["state"] for r in webhook_receiver.requests]
    assert states == ["fired", "cleared"]
    assert webhook_receiver.requests[1]["json"]["peak"] == 66.0
