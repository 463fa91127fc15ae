"""The live wire format: exact round trip, and every malformed message refused with the topic
and what was expected (hypothesis for the reader's input path)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cantelem_sci.errors import CantelemError, ConfigError, LivePayloadError
from cantelem_sci.io import (
    MAX_PAYLOAD,
    BrokerSettings,
    LiveFeed,
    LiveSamples,
    LiveStatus,
    decode_message,
    encode_samples,
    encode_status,
    live_topic,
    redact_url,
)

T = "cantelem/EV0001/signals"
names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1,
                max_size=20)
series = st.integers(0, 40).flatmap(lambda n: st.tuples(
    st.lists(st.integers(0, 2**62), min_size=n, max_size=n),
    st.lists(st.floats(allow_infinity=False), min_size=n, max_size=n)))


@given(st.dictionaries(names, series, max_size=5), st.integers(0, 2**40))
def test_samples_round_trip_exactly(signals, seq):
    arrays = {k: (np.array(t, np.int64), np.array(v, np.float64)) for k, (t, v) in signals.items()}
    msg = decode_message(T, encode_samples("EV0001", seq, 123, arrays), "cantelem")
    assert isinstance(msg, LiveSamples) and msg.seq == seq and msg.published_ns == 123
    assert set(msg.signals) == set(arrays)
    for k, (t, v) in arrays.items():
        np.testing.assert_array_equal(msg.signals[k][0], t)
        np.testing.assert_array_equal(msg.signals[k][1], v)  # NaN <-> null, equal positions


def test_status_round_trip():
    msg = decode_message("cantelem/EV0001/status",
                         encode_status("EV0001", "online", 5, units={"SOC": "%"}), "cantelem")
    assert isinstance(msg, LiveStatus)
    assert (msg.state, msg.time_ns, msg.info["units"]) == ("online", 5, {"SOC": "%"})


def _body(**over):
    b = {"schema": "cantelem.live", "version": 1, "kind": "signals", "vehicle": "EV0001",
         "seq": 1, "published_ns": 1, "signals": {"SOC": {"t": [1], "v": [2.0]}}}
    b.update(over)
    return json.dumps(b).encode()


@pytest.mark.parametrize("topic, payload, match", [
    ("other/EV0001/signals", _body(), "not under the prefix 'cantelem'"),
    ("cantelem/EV0001/signals/x", _body(), "expected cantelem/<vehicle>/signals"),
    ("cantelem/../signals", _body(), "not a safe topic segment"),
    ("cantelem/EV#1/signals", _body(), "not a safe topic segment"),
    (T, b"\xff\xfe", "not JSON"),
    (T, b"[1, 2]", "not a JSON object"),
    (T, b"x" * (MAX_PAYLOAD + 1), "over the limit"),
    (T, _body(schema="other"), "schema 'other'"),
    (T, _body(version=2), "version 2, this reader reads 1..1"),
    (T, _body(vehicle="EV0002"), "does not match the topic's 'EV0001'"),
    (T, _body(seq="1"), "seq and published_ns must be integers"),
    (T, _body(signals=[1]), "signals must be an object"),
    (T, _body(signals={"SOC": {"t": [1, 2], "v": [1.0]}}), "signal 'SOC': expected"),
    (T, _body(signals={"SOC": {"t": ["a"], "v": [1.0]}}), "t must be integers"),
    (T, _body(signals={"SOC": {"t": [1], "v": ["x"]}}), "v numbers or null"),
    (T, _body(signals={"SOC": {"t": [[1]], "v": [[1.0]]}}), "flat lists"),
    ("cantelem/EV0001/status", _body(kind="status", state="maybe"), "state 'maybe'"),
])
def test_malformed_messages_are_refused_naming_the_topic(topic, payload, match):
    with pytest.raises(LivePayloadError, match=match) as err:
        decode_message(topic, payload, "cantelem")
    assert str(err.value).startswith(topic)


@given(st.text(max_size=30), st.binary(max_size=300))
def test_any_input_is_read_or_refused_cleanly(topic, payload):
    try:
        decode_message(topic, payload, "cantelem")
    except LivePayloadError:
        pass


@given(st.text(max_size=80))
def test_topics_never_take_unsafe_vehicle_ids(vehicle):
    """Every id is one safe topic level, or refused; ``"+"`` alone is the documented
    subscription of every vehicle."""
    if vehicle == "+":
        assert live_topic("cantelem", vehicle, "signals") == "cantelem/+/signals"
        return
    try:
        topic = live_topic("cantelem", vehicle, "signals")
    except LivePayloadError:
        return
    assert topic.count("/") == 2 and not set("#+\0") & set(vehicle) and ".." not in vehicle


def test_credentials_are_masked():
    assert redact_url("mqtt://u:secret@h:1") == "mqtt://u:***@h:1"
    assert redact_url("mqtt://h:1") == "mqtt://h:1"
    s = BrokerSettings.from_url("mqtts://u:secret@h", password="other")
    assert "secret" not in repr(s) and "other" not in repr(s) and "secret" not in s.shown
    assert (s.port, s.tls, s.credentials()) == (8883, True, ("u", "other"))
    with pytest.raises(ConfigError, match="expected mqtt://host") as err:
        BrokerSettings.from_url("http://u:secret@h")
    assert "secret" not in str(err.value)
    with pytest.raises(ConfigError, match="needs both certfile and keyfile"):
        BrokerSettings.from_url("mqtts://h", certfile="c.pem")


def test_feed_keeps_a_window_and_reports_bad_messages():
    feed = LiveFeed("mqtt://127.0.0.1:1", window_s=1.0, vehicles=["EV0001"])  # not started
    for k in range(30):
        t = np.array([k * 100_000_000], np.int64)
        feed.handle(T, encode_samples("EV0001", k, 0, {"SOC": (t, np.array([float(k)]))}))
    t, v = feed.window("EV0001")["SOC"]
    assert v.tolist() == [float(k) for k in range(19, 30)]  # the last second only
    cursor, new = feed.since("EV0001", 0)
    feed.handle(T, encode_samples("EV0001", 31, 0, {"SOC": (np.array([3 * 10**9]),
                                                            np.array([7.0]))}))
    assert feed.since("EV0001", cursor)[1]["SOC"][1].tolist() == [7.0]
    feed.handle("cantelem/EV0009/signals", encode_samples("EV0009", 1, 0, {}))
    assert feed.bad_messages == 1 and "unknown vehicle 'EV0009'" in feed.last_error
    feed.handle(T, b"{")
    assert feed.bad_messages == 2 and "not JSON" in feed.last_error
    assert [r["vehicle"] for r in feed.fleet()] == ["EV0001"]
    assert issubclass(LivePayloadError, (CantelemError, ValueError))


def _alert(state="fired", **over):
    body = {"schema": "cantelem.alert", "version": 1, "vehicle": "EV0001", "state": state,
            "key": "k1", "rule": "hot", "severity": "critical", "value": 65.0}
    body.update(over)
    return json.dumps(body).encode()


def test_feed_follows_alerts_and_the_fleet_view_shows_a_badge():
    from cantelem_sci.io import LiveFeed
    from cantelem_sci.viz._live_view import _badge

    feed = LiveFeed("mqtt://127.0.0.1:1")  # never started: messages are handed in
    feed.handle("cantelem/EV0001/alerts", _alert())
    feed.handle("cantelem/EV0001/alerts", _alert(key="k2", severity="warning"))
    feed.handle("cantelem/EV0002/alerts", _alert(vehicle="EV0002"))
    assert [r["alerts"] for r in feed.fleet()] == [2, 1]
    assert _badge(feed.alerts("EV0001")) == "2 (critical)"
    feed.handle("cantelem/EV0001/alerts", _alert("cleared"))
    feed.handle("cantelem/EV0001/alerts", _alert("cleared", key="k2"))
    assert feed.alerts("EV0001") == [] and _badge([]) == ""
    # a malformed alert is counted, never kept
    feed.handle("cantelem/EV0001/alerts", _alert(state="maybe"))
    feed.handle("cantelem/EV0001/alerts", _alert(vehicle="EV0009"))
    assert feed.bad_messages == 2 and feed.alerts("EV0001") == []


@given(st.dictionaries(st.sampled_from(["schema", "version", "vehicle", "state", "key", "x"]),
                       st.one_of(st.none(), st.integers(), st.text(max_size=8),
                                 st.sampled_from(["cantelem.alert", "fired", "EV0001"]))))
def test_any_alert_payload_is_read_or_refused_cleanly(body):
    from cantelem_sci.io import LiveAlert

    try:
        msg = decode_message("cantelem/EV0001/alerts", json.dumps(body).encode(), "cantelem")
    except LivePayloadError:
        return
    assert isinstance(msg, LiveAlert) and msg.state in ("fired", "cleared")
