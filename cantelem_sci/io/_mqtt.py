"""MQTT connections for the live path (paho-mqtt): one way to name a broker and its
credentials, shared by the edge publisher and the dashboard's subscriber.

A broker is a URL: ``mqtt://host:1883`` (plain TCP) or ``mqtts://host:8883`` (TLS), with
optional ``user:password@``. TLS and X.509 client certificates (the setup of AWS IoT Core
and Mosquitto's ``require_certificate``) come from :class:`BrokerSettings` fields. Every
string shown to a person goes through :func:`redact_url`: passwords never reach logs, status
files or pages.

Connections are asynchronous and reconnect by themselves with backoff (paho's
``reconnect_delay_set``): a broker that is down at start or goes away mid-stream is a state,
never an exception in the caller.
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import unquote, urlsplit

from ..errors import ConfigError

__all__ = ["BrokerSettings", "connect", "redact_url"]

SCHEMES = {"mqtt": (1883, False), "tcp": (1883, False), "mqtts": (8883, True),
           "ssl": (8883, True)}


def redact_url(url: str | None) -> str | None:
    """``url`` with any password replaced by ``***``.

    Example
    -------
    >>> redact_url("mqtts://car:s3cret@iot.example:8883")
    'mqtts://car:***@iot.example:8883'
    """
    if not url or "@" not in url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return "***"
    if parts.password is None and parts.username is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    cred = f"{user}:***" if parts.password is not None else "***"
    return f"{parts.scheme}://{cred}@{host}{port}{parts.path}"


@dataclass
class BrokerSettings:
    """Where and how to connect. Explicit fields win over credentials in the URL.

    Example
    -------
    >>> s = BrokerSettings.from_url("mqtt://u:p@127.0.0.1:1884")
    >>> (s.host, s.port, s.tls, s.credentials()[0]), "p" in repr(s)
    (('127.0.0.1', 1884, False, 'u'), False)
    """

    url: str
    username: str | None = None
    password: str | None = dataclasses.field(default=None, repr=False)
    ca_certs: str | None = None
    certfile: str | None = None
    keyfile: str | None = None
    client_id: str = ""
    keepalive: int = 30

    @classmethod
    def from_url(cls, url: str, **fields: Any) -> "BrokerSettings":
        s = cls(url, **{k: v for k, v in fields.items() if v is not None})
        s.check()
        return s

    def __repr__(self) -> str:
        return f"BrokerSettings(url={redact_url(self.url)!r}, username={self.username!r})"

    def _parts(self):
        try:
            parts = urlsplit(self.url)
            parts.port  # noqa: B018 - raises on a malformed port
        except ValueError as err:
            raise ConfigError(f"broker URL {redact_url(self.url)!r}: {err}") from None
        return parts

    def check(self) -> None:
        """Raise :class:`ConfigError` (URL masked) for an unusable URL or TLS setup."""
        parts = self._parts()
        if parts.scheme not in SCHEMES or not parts.hostname:
            raise ConfigError(f"broker URL {redact_url(self.url)!r}: expected "
                              "mqtt://host[:port] or mqtts://host[:port]")
        if (self.certfile is None) != (self.keyfile is None):
            raise ConfigError("a client certificate needs both certfile and keyfile")

    @property
    def host(self) -> str:
        return self._parts().hostname or ""

    @property
    def port(self) -> int:
        parts = self._parts()
        return parts.port or SCHEMES[parts.scheme][0]

    @property
    def tls(self) -> bool:
        return SCHEMES[self._parts().scheme][1] or bool(self.ca_certs or self.certfile)

    def credentials(self) -> tuple[str | None, str | None]:
        parts = self._parts()
        user = self.username or (unquote(parts.username) if parts.username else None)
        pw = self.password or (unquote(parts.password) if parts.password else None)
        return user, pw

    @property
    def shown(self) -> str:
        """The URL as it may be shown (password masked)."""
        return redact_url(self.url) or ""


def connect(settings: BrokerSettings, *, on_message: Callable[[str, bytes], None] | None = None,
            subscribe: list[str] | tuple[str, ...] = (),
            will: tuple[str, bytes] | None = None,
            on_state: Callable[[bool, str], None] | None = None, start: bool = True) -> Any:
    """A started paho client: connects in the background, reconnects with backoff (0.5 s
    doubling to 10 s) and re-subscribes to ``subscribe`` at every connection.
    ``on_message(topic, payload)`` runs in paho's thread; ``on_state(connected, reason)``
    on every (dis)connection. ``will`` is a retained last will (topic, payload). Stop it with
    ``client.disconnect(); client.loop_stop()``. With ``start=False`` the caller starts the
    network thread (``client.loop_start()``) once it has stored the client: the first
    ``on_state`` can otherwise run before ``connect`` has returned."""
    import paho.mqtt.client as mqtt

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=settings.client_id,
                         protocol=mqtt.MQTTv311)
    user, pw = settings.credentials()
    if user is not None:
        client.username_pw_set(user, pw)
    if settings.tls:
        client.tls_set(ca_certs=settings.ca_certs, certfile=settings.certfile,
                       keyfile=settings.keyfile)
    if will is not None:
        client.will_set(will[0], will[1], qos=1, retain=True)
    client.reconnect_delay_set(min_delay=1, max_delay=10)
    client.connected_flag = threading.Event()

    def _on_connect(c, userdata, flags, reason_code, properties=None):
        if getattr(reason_code, "is_failure", False):
            client.connected_flag.clear()
            if on_state:
                on_state(False, str(reason_code))
            return
        for topic in subscribe:
            c.subscribe(topic, qos=0)
        client.connected_flag.set()
        if on_state:
            on_state(True, "connected")

    def _on_disconnect(c, userdata, flags, reason_code, properties=None):
        client.connected_flag.clear()
        if on_state:
            on_state(False, str(reason_code))

    client.on_connect = _on_connect
    client.on_disconnect = _on_disconnect
    if on_message is not None:
        client.on_message = lambda c, u, msg: on_message(msg.topic, msg.payload)
    client.connect_async(settings.host, settings.port, keepalive=settings.keepalive)
    if start:
        client.loop_start()
    return client
