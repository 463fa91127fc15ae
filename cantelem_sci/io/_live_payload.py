"""The live telemetry wire format (schema ``cantelem.live``, version 1), writer and reader.

Topics, under a configurable prefix (default ``cantelem``)::

    <prefix>/<vehicle>/signals   QoS 0: every sample of one publish interval, per signal
    <prefix>/<vehicle>/status    retained: "online" with the logger's facts; last will "offline"

A ``signals`` payload is a JSON object (documented in ``docs/live.md``)::

    {"schema": "cantelem.live", "version": 1, "kind": "signals", "vehicle": "EV0001",
     "seq": 17, "published_ns": 1767225600050000000,
     "signals": {"VehicleSpeed": {"t": [1767225600012000000, ...], "v": [42.5, ...]}}}

``t`` are capture times (ns since the Unix epoch, UTC) and ``v`` physical values (``null``
for NaN). Readers refuse payloads over :data:`MAX_PAYLOAD` bytes, other schemas, newer
versions, a vehicle that is not the topic's, and malformed fields, with a
:class:`~cantelem_sci.errors.LivePayloadError` naming the topic and what was expected.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from ..errors import LivePayloadError

__all__ = [
    "LIVE_SCHEMA",
    "LIVE_VERSION",
    "MAX_PAYLOAD",
    "SEGMENT_RE",
    "LiveSamples",
    "LiveStatus",
    "check_topic_segment",
    "LiveAlert",
    "decode_message",
    "encode_samples",
    "encode_status",
    "live_topic",
]

LIVE_SCHEMA = "cantelem.live"
LIVE_VERSION = 1
#: the largest payload a reader accepts (bytes); a publish interval of a busy bus is ~50 kB
MAX_PAYLOAD = 4 << 20
KINDS = ("signals", "status", "alerts")
ALERT_SCHEMA = "cantelem.alert"
#: one topic level and one path segment: the edge's vehicle ids (``check_vehicle_id``)
SEGMENT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_PREFIX = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$")


def check_topic_segment(value: str, what: str = "vehicle id") -> str:
    """Return ``value`` if it is safe as one MQTT topic level and one path segment (no
    ``/ + # ..``, no wildcards or control characters), else raise
    :class:`~cantelem_sci.errors.LivePayloadError`.

    Example
    -------
    >>> check_topic_segment("EV0001")
    'EV0001'
    """
    if not isinstance(value, str) or not SEGMENT_RE.match(value) or ".." in value:
        raise LivePayloadError(
            f"{what} {value!r} is not a safe topic segment: expected 1-64 characters of "
            "A-Z a-z 0-9 _ . - starting with a letter or digit, without '..'")
    return value


def live_topic(prefix: str, vehicle: str, kind: str) -> str:
    """The topic of ``vehicle``'s ``kind`` (``signals`` or ``status``); ``"+"`` as vehicle
    gives the subscription of every vehicle.

    Example
    -------
    >>> live_topic("cantelem", "EV0001", "signals")
    'cantelem/EV0001/signals'
    """
    if not isinstance(prefix, str) or not _PREFIX.match(prefix):
        raise LivePayloadError(f"topic prefix {prefix!r}: expected levels of A-Z a-z 0-9 _ . - "
                               "separated by '/', without wildcards")
    if kind not in KINDS:
        raise LivePayloadError(f"topic kind {kind!r}: expected one of {', '.join(KINDS)}")
    if vehicle != "+":
        check_topic_segment(vehicle)
    return f"{prefix}/{vehicle}/{kind}"


@dataclass
class LiveSamples:
    """One decoded ``signals`` message: per signal, capture times (int64 ns) and values."""

    vehicle: str
    seq: int
    published_ns: int
    signals: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)


@dataclass
class LiveStatus:
    """One decoded ``status`` message (``state`` is ``online`` or ``offline``)."""

    vehicle: str
    state: str
    time_ns: int | None
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class LiveAlert:
    """One decoded ``alerts`` message: an alert firing (``state`` ``fired``) or ending
    (``cleared``); ``body`` is the whole document (schema in ``docs/alerts.md``)."""

    vehicle: str
    state: str
    key: str
    body: dict[str, Any] = field(default_factory=dict)


def _finite_or_none(values: np.ndarray) -> list[Any]:
    out = values.tolist()
    if np.isnan(values).any():
        out = [None if (isinstance(x, float) and math.isnan(x)) else x for x in out]
    return out


def encode_samples(vehicle: str, seq: int, published_ns: int,
                   signals: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> bytes:
    """A ``signals`` payload: ``signals`` maps a name to (capture times ns, values).

    Example
    -------
    >>> p = encode_samples("EV1", 1, 10, {"SOC": (np.array([5]), np.array([80.5]))})
    >>> decode_message("cantelem/EV1/signals", p, "cantelem").signals["SOC"][1].tolist()
    [80.5]
    """
    body = {"schema": LIVE_SCHEMA, "version": LIVE_VERSION, "kind": "signals",
            "vehicle": vehicle, "seq": int(seq), "published_ns": int(published_ns),
            "signals": {name: {"t": np.asarray(t, np.int64).tolist(),
                               "v": _finite_or_none(np.asarray(v, np.float64))}
                        for name, (t, v) in signals.items()}}
    return json.dumps(body, separators=(",", ":"), allow_nan=False).encode()


def encode_status(vehicle: str, state: str, time_ns: int | None = None,
                  **info: Any) -> bytes:
    """A ``status`` payload (``online``/``offline``, plus facts such as signal units)."""
    body = {"schema": LIVE_SCHEMA, "version": LIVE_VERSION, "kind": "status",
            "vehicle": vehicle, "state": state, "time_ns": time_ns, **info}
    return json.dumps(body, separators=(",", ":"), allow_nan=False, default=str).encode()


def _fail(topic: str, what: str) -> LivePayloadError:
    return LivePayloadError(f"{topic}: {what}")


def decode_message(topic: str, payload: bytes, prefix: str
                   ) -> LiveSamples | LiveStatus | LiveAlert:
    """Read one message received on ``topic``; raise :class:`LivePayloadError` naming the
    topic and what was expected when it is not a valid version-1 message for that topic."""
    if not topic.startswith(prefix + "/"):
        raise _fail(topic, f"not under the prefix {prefix!r}")
    levels = topic[len(prefix) + 1:].split("/")
    if len(levels) != 2 or levels[1] not in KINDS:
        raise _fail(topic, f"expected {prefix}/<vehicle>/signals, .../status or .../alerts")
    vehicle, kind = levels
    try:
        check_topic_segment(vehicle)
    except LivePayloadError as err:
        raise _fail(topic, str(err)) from None
    if len(payload) > MAX_PAYLOAD:
        raise _fail(topic, f"payload of {len(payload)} bytes is over the limit of "
                           f"{MAX_PAYLOAD} bytes")
    try:
        body = json.loads(payload)
    except (UnicodeDecodeError, ValueError) as err:
        raise _fail(topic, f"payload is not JSON ({err})") from err
    if not isinstance(body, dict):
        raise _fail(topic, "payload is not a JSON object")
    if kind == "alerts":
        if body.get("schema") != ALERT_SCHEMA or body.get("version") != 1:
            raise _fail(topic, f"schema {body.get('schema')!r} version {body.get('version')!r}, "
                               f"expected {ALERT_SCHEMA!r} version 1")
        if body.get("vehicle") != vehicle:
            raise _fail(topic, f"vehicle {body.get('vehicle')!r} does not match the topic's "
                               f"{vehicle!r}")
        state, key = body.get("state"), body.get("key")
        if state not in ("fired", "cleared") or not isinstance(key, str):
            raise _fail(topic, f"state {state!r} (expected 'fired' or 'cleared') and a 'key'")
        return LiveAlert(vehicle, state, key, body)
    if body.get("schema") != LIVE_SCHEMA:
        raise _fail(topic, f"schema {body.get('schema')!r}, expected {LIVE_SCHEMA!r}")
    version = body.get("version")
    if not isinstance(version, int) or not 1 <= version <= LIVE_VERSION:
        raise _fail(topic, f"version {version!r}, this reader reads 1..{LIVE_VERSION}")
    if body.get("vehicle") != vehicle:
        raise _fail(topic, f"vehicle {body.get('vehicle')!r} does not match the topic's "
                           f"{vehicle!r}")
    if kind == "status":
        state = body.get("state")
        if state not in ("online", "offline"):
            raise _fail(topic, f"state {state!r}, expected 'online' or 'offline'")
        t = body.get("time_ns")
        info = {k: v for k, v in body.items()
                if k not in ("schema", "version", "kind", "vehicle", "state", "time_ns")}
        return LiveStatus(vehicle, state, t if isinstance(t, int) else None, info)
    return _decode_samples(topic, vehicle, body)


def _decode_samples(topic: str, vehicle: str, body: dict[str, Any]) -> LiveSamples:
    seq, pub, sigs = body.get("seq"), body.get("published_ns"), body.get("signals")
    if not isinstance(seq, int) or not isinstance(pub, int):
        raise _fail(topic, "seq and published_ns must be integers")
    if not isinstance(sigs, dict):
        raise _fail(topic, "signals must be an object of name -> {t: [...], v: [...]}")
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name, s in sigs.items():
        if not isinstance(s, dict) or not isinstance(s.get("t"), list) or \
                not isinstance(s.get("v"), list) or len(s["t"]) != len(s["v"]):
            raise _fail(topic, f"signal {name!r}: expected {{t: [...], v: [...]}} of equal "
                               "lengths")
        try:
            t = np.array(s["t"], np.int64)
            v = np.array([np.nan if x is None else x for x in s["v"]], np.float64)
        except (TypeError, ValueError, OverflowError) as err:
            raise _fail(topic, f"signal {name!r}: t must be integers (ns) and v numbers or "
                               f"null ({err})") from err
        if t.ndim != 1 or v.ndim != 1:
            raise _fail(topic, f"signal {name!r}: t and v must be flat lists")
        out[str(name)] = (t, v)
    return LiveSamples(vehicle, seq, pub, out)
