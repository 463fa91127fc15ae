"""Alert sinks: where an alert goes. One class per protocol behind one registry, like the log
readers; other packages add sinks through the ``cantelem_sci.alert_sinks`` entry point group
(a class taking ``(name, settings)``).

Every sink delivers the same JSON document (:meth:`Transition.payload`, schema
``cantelem.alert`` v1) and raises :class:`AlertDeliveryError` when it could not; the outbox
(:mod:`._outbox`) retries with backoff. Each document carries an idempotency key (vehicle,
rule, start time): receivers drop a repeat, which at-least-once delivery can send after a
crash between sending and recording.

Secrets (``password``, ``secret``) come from the settings or, with ``password_env`` /
``secret_env``, from the environment; they never reach logs or status.
"""

from __future__ import annotations

import abc
import hashlib
import hmac
import json
import os
import time
from typing import Any, Callable

from ..errors import AlertDeliveryError, ConfigError, UnknownNameError

__all__ = ["AlertSink", "EmailSink", "MqttSink", "WebhookSink", "available_sinks", "make_sink",
           "register_sink"]

_SINKS: dict[str, type["AlertSink"]] = {}
_ENTRY_POINTS_LOADED = False


def register_sink(kind: str) -> Callable[[type], type]:
    """Class decorator: make a sink available as ``type: <kind>`` in rule files."""
    def deco(cls: type) -> type:
        _SINKS[kind] = cls
        cls.kind = kind
        return cls
    return deco


def available_sinks() -> list[str]:
    global _ENTRY_POINTS_LOADED
    if not _ENTRY_POINTS_LOADED:
        from importlib.metadata import entry_points

        for ep in entry_points(group="cantelem_sci.alert_sinks"):
            _SINKS.setdefault(ep.name, ep.load())
        _ENTRY_POINTS_LOADED = True
    return sorted(_SINKS)


def make_sink(name: str, settings: dict[str, Any]) -> "AlertSink":
    """The sink ``name`` configured by ``settings`` (its ``type`` picks the class)."""
    kind = str(settings.get("type"))
    if kind not in available_sinks():
        raise UnknownNameError(f"type of alert sink {name!r}", kind, available_sinks())
    return _SINKS[kind](name, settings)


def _secret(settings: dict[str, Any], key: str) -> str | None:
    env = settings.get(f"{key}_env")
    if env:
        return os.environ.get(str(env))
    v = settings.get(key)
    return None if v is None else str(v)


class AlertSink(abc.ABC):
    """Base class: ``send(payload)`` delivers one alert document or raises
    :class:`AlertDeliveryError`; ``describe()`` says where it goes (no secrets)."""

    kind = "base"
    known: tuple[str, ...] = ()

    def __init__(self, name: str, settings: dict[str, Any]) -> None:
        self.name = name
        self.settings = dict(settings)
        allowed = {"type", *self.known}
        for k in settings:
            if k not in allowed:
                raise UnknownNameError(f"setting of {self.kind} sink {name!r}", k, sorted(allowed))

    def describe(self) -> str:
        return self.kind

    @abc.abstractmethod
    def send(self, payload: dict[str, Any]) -> None:
        """Deliver one alert payload, or raise :class:`AlertDeliveryError`."""

    def close(self) -> None:
        """Release connections."""


@register_sink("mqtt")
class MqttSink(AlertSink):
    """Publishes to ``<prefix>/<vehicle>/alerts`` with QoS 1 and waits for the broker's ack.

    Settings: ``url`` (mqtt:// or mqtts://), ``prefix`` (default ``cantelem``), ``username``,
    ``password`` / ``password_env``, ``ca_certs``, ``certfile``, ``keyfile``, ``client_id``,
    ``timeout`` (s, default 5)."""

    known = ("url", "prefix", "username", "password", "password_env", "ca_certs", "certfile",
             "keyfile", "client_id", "timeout")

    def __init__(self, name: str, settings: dict[str, Any]) -> None:
        super().__init__(name, settings)
        from ..io import BrokerSettings

        if not settings.get("url"):
            raise ConfigError(f"mqtt sink {name!r} needs a 'url'")
        self.prefix = str(settings.get("prefix", "cantelem"))
        self.timeout = float(settings.get("timeout", 5.0))
        self.broker = BrokerSettings.from_url(
            str(settings["url"]), username=settings.get("username"),
            password=_secret(settings, "password"), ca_certs=settings.get("ca_certs"),
            certfile=settings.get("certfile"), keyfile=settings.get("keyfile"),
            client_id=str(settings.get("client_id") or f"cantelem-alerts-{os.getpid()}-{name}"))
        self.client: Any = None

    def describe(self) -> str:
        return f"mqtt {self.broker.shown} {self.prefix}/<vehicle>/alerts"

    def send(self, payload: dict[str, Any]) -> None:
        from ..io import connect, live_topic

        if self.client is None:
            self.client = connect(self.broker)
        if not self.client.connected_flag.wait(self.timeout):
            raise AlertDeliveryError(f"mqtt sink {self.name!r}: broker {self.broker.shown} "
                                     "unreachable")
        topic = live_topic(self.prefix, payload["vehicle"], "alerts")
        info = self.client.publish(topic, json.dumps(payload).encode(), qos=1)
        try:
            info.wait_for_publish(self.timeout)
        except (RuntimeError, ValueError) as err:
            raise AlertDeliveryError(f"mqtt sink {self.name!r}: {err}") from err
        if not info.is_published():
            raise AlertDeliveryError(f"mqtt sink {self.name!r}: no acknowledgement from "
                                     f"{self.broker.shown} within {self.timeout:g} s")

    def close(self) -> None:
        if self.client is not None:
            self.client.disconnect()  # first: the network thread sends it and ends
            self.client.loop_stop()
            self.client = None


@register_sink("webhook")
class WebhookSink(AlertSink):
    """HTTP POST of the alert document as JSON. Headers: ``Idempotency-Key`` (the event's key
    and state), and with a ``secret`` (or ``secret_env``) ``X-Cantelem-Signature:
    sha256=<HMAC-SHA256 of the body, hex>``. Any 2xx status is delivered.

    Settings: ``url``, ``secret`` / ``secret_env``, ``headers`` (a mapping), ``timeout`` (s,
    default 5)."""

    known = ("url", "secret", "secret_env", "headers", "timeout")

    def __init__(self, name: str, settings: dict[str, Any]) -> None:
        super().__init__(name, settings)
        url = str(settings.get("url") or "")
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"webhook sink {name!r} needs an http:// or https:// 'url'")
        self.url = url
        self.secret = _secret(settings, "secret")
        self.headers = {str(k): str(v) for k, v in (settings.get("headers") or {}).items()}
        self.timeout = float(settings.get("timeout", 5.0))

    def describe(self) -> str:
        from ..io import redact_url

        return f"webhook {redact_url(self.url)}"

    def send(self, payload: dict[str, Any]) -> None:
        import urllib.error
        import urllib.request

        body = json.dumps(payload, sort_keys=True).encode()
        headers = {"Content-Type": "application/json", "Idempotency-Key": payload["id"],
                   "User-Agent": "cantelem-alerts/1", **self.headers}
        if self.secret:
            sig = hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
            headers["X-Cantelem-Signature"] = f"sha256={sig}"
        req = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                if not 200 <= resp.status < 300:
                    raise AlertDeliveryError(f"webhook sink {self.name!r}: HTTP {resp.status}")
        except urllib.error.HTTPError as err:
            raise AlertDeliveryError(f"webhook sink {self.name!r}: HTTP {err.code}") from err
        except (urllib.error.URLError, OSError) as err:
            reason = getattr(err, "reason", err)
            raise AlertDeliveryError(f"webhook sink {self.name!r}: {self.describe()}: "
                                     f"{reason}") from err


@register_sink("email")
class EmailSink(AlertSink):
    """An email per alert over SMTP. Settings: ``host``, ``port`` (default 25, 465 with
    ``ssl``), ``from``, ``to`` (an address or a list), ``starttls`` (bool), ``ssl`` (bool),
    ``ca_certs`` (a CA bundle to verify the server with; default: the system's), ``username``,
    ``password`` / ``password_env``, ``timeout`` (s, default 10). The
    ``Message-ID`` derives from the idempotency key, so a repeat is recognisable."""

    known = ("host", "port", "from", "to", "starttls", "ssl", "username", "password",
             "password_env", "ca_certs", "timeout")

    def __init__(self, name: str, settings: dict[str, Any]) -> None:
        super().__init__(name, settings)
        if not settings.get("host") or not settings.get("to"):
            raise ConfigError(f"email sink {name!r} needs 'host' and 'to'")
        self.host = str(settings["host"])
        self.ssl = bool(settings.get("ssl", False))
        self.port = int(settings.get("port", 465 if self.ssl else 25))
        to = settings["to"]
        self.to = [to] if isinstance(to, str) else [str(x) for x in to]
        self.sender = str(settings.get("from", "cantelem-alerts@localhost"))
        self.starttls = bool(settings.get("starttls", False))
        self.username = settings.get("username")
        self.password = _secret(settings, "password")
        self.timeout = float(settings.get("timeout", 10.0))
        self.ca_certs = settings.get("ca_certs")

    def describe(self) -> str:
        return f"email smtp://{self.host}:{self.port} to {', '.join(self.to)}"

    def send(self, payload: dict[str, Any]) -> None:
        import smtplib
        import ssl
        from email.message import EmailMessage
        from email.utils import formatdate

        msg = EmailMessage()
        state = "" if payload["state"] == "fired" else " (cleared)"
        msg["Subject"] = f"[{payload['severity']}] {payload['message']}{state}"
        msg["From"] = self.sender
        msg["To"] = ", ".join(self.to)
        msg["Date"] = formatdate(time.time(), localtime=False)
        msg["Message-ID"] = f"<{payload['id']}@cantelem>"
        msg["X-Cantelem-Alert-Key"] = payload["key"]
        msg.set_content(json.dumps(payload, indent=2, sort_keys=True))
        try:
            ctx = ssl.create_default_context(cafile=self.ca_certs)
            cls = smtplib.SMTP_SSL if self.ssl else smtplib.SMTP
            kw = {"context": ctx} if self.ssl else {}
            with cls(self.host, self.port, timeout=self.timeout, **kw) as smtp:
                if self.starttls:
                    smtp.starttls(context=ctx)
                if self.username:
                    smtp.login(str(self.username), self.password or "")
                smtp.send_message(msg)
        except (smtplib.SMTPException, OSError) as err:
            raise AlertDeliveryError(f"email sink {self.name!r}: {self.describe()}: "
                                     f"{err}") from err
