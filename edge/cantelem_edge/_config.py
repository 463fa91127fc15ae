"""The edge logger's configuration: explicit flag > environment (``CANTELEM_EDGE_*``) > file.

The file is TOML (see ``edge/cantelem-edge.example.toml``). Every top-level scalar key can be
set from the environment as ``CANTELEM_EDGE_<KEY>`` (upper case), e.g.
``CANTELEM_EDGE_S3_URL``. Sources come from the file's ``[[source]]`` tables or from
``--source`` flags (which then replace the file's sources):

* ``can:<interface>:<channel>[:<bitrate>]`` any python-can interface (socketcan, pcan,
  kvaser, virtual, slcan, ...); ``canfd:`` for CAN FD;
* ``replay:<path>[:realtime|fast]`` a log file in any ``read_log`` format;
* ``sim[:<vehicle>][:realtime|fast][:<speed>x][:<rate>fps][:fault=<spec>,...]`` the
  built-in EV simulator (``20x``: real time running 20 times faster; ``2000fps``: about
  2,000 frames a second in real time, the simulated drive compressed in time;
  ``fault=overheat@20s+3s``: an injected fault, seconds after the start, see
  ``cantelem_sci.sim.Fault``);
* ``obd:<interface>:<channel>[:<bitrate>][:pids=0C@5,VehicleSpeed@2][:timeout=0.1][:ext]``
  polls OBD-II PIDs (hex or signal name @ requests per second) and records the bus
  (``cantelem_edge/_obd.py``);
* ``gps:<serial port or NMEA file>[:<baudrate>]`` NMEA 0183 via pynmea2.

Credentials for S3 come from the standard AWS chain (environment, web identity, ``~/.aws``,
instance role) unless ``s3_key``/``s3_secret`` are set, or from the AWS profile
``s3_profile`` (where a ``credential_process``, SSO or ``web_identity_token_file`` gives
short-lived credentials, renewed as they expire); they never appear in logs or in the status
file. Each vehicle's credentials should allow writing under its own prefix only
(``edge/README.md``, "Credentials").

Alerts: ``alert_rules`` names a rule file (rules and their sinks, ``docs/alerts.md``); the
logger evaluates them on the live decode and delivers through an outbox in
``<spool>/.edge/<vehicle>/alerts``, whether or not live publishing is on.

Live publishing is the ``[live]`` table (:class:`LiveConfig`, off unless ``url`` is set);
each of its keys can be set as ``CANTELEM_EDGE_LIVE_<KEY>`` or with the ``live_<key>``
arguments of :func:`load_config`. Its password (in the table or inside the URL) is masked
wherever the settings are shown.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from cantelem_sci.errors import ConfigError
from cantelem_sci.io import SEGMENT_RE, state_dir

#: A vehicle id: letters, digits, ``_ . -``, 1-64 characters, starting with a letter or digit
#: (and no ``..``): safe as a path segment and as an MQTT topic level (``cantelem_sci.io``).
VEHICLE_RE = SEGMENT_RE
SOURCE_KINDS = ("can", "canfd", "obd", "replay", "sim", "gps")
QUOTA_POLICIES = ("stop", "delete-oldest")


def check_vehicle_id(vid: str, where: str = "vehicle") -> str:
    """Return ``vid`` if it is a valid vehicle id, else raise :class:`ConfigError`.

    Example
    -------
    >>> check_vehicle_id("EV0001")
    'EV0001'
    """
    from cantelem_sci.errors import LivePayloadError
    from cantelem_sci.io import check_topic_segment

    try:
        return check_topic_segment(vid)
    except LivePayloadError:
        raise ConfigError(
            f"{where}: invalid vehicle id {vid!r}; expected 1-64 characters of A-Z a-z 0-9 _ . - "
            "starting with a letter or digit, without '..'") from None


class _SpecError(Exception):
    """What is wrong with one part of a --source spec (re-raised as ConfigError)."""


@dataclass
class SourceConfig:
    """One frame or GPS source."""

    kind: str
    interface: str | None = None
    channel: str | None = None
    bitrate: int | None = None
    path: str | None = None
    realtime: bool = True
    vehicle: str | None = None
    name: str | None = None
    baudrate: int = 9600
    seed: int = 0
    speed: float = 1.0
    rate: float | None = None  # sim: frames per second (time compressed); None: as simulated
    faults: list[str] = field(default_factory=list)  # sim: injected faults, "overheat@20s+3s"
    pids: Any = None  # obd: "0C@5,0D@5" or {"0C": 5}; None: the default list
    timeout: float = 0.1  # obd: seconds to wait for answers
    extended: bool = False  # obd: 29-bit identifiers (0x18DB33F1)

    @classmethod
    def parse(cls, spec: str) -> "SourceConfig":
        """Parse a ``--source`` spec (see the module docstring).

        Example
        -------
        >>> SourceConfig.parse("can:virtual:bus0").interface
        'virtual'
        """
        parts = spec.split(":")
        kind = parts[0]
        if kind not in SOURCE_KINDS:
            raise ConfigError(f"--source {spec!r}: unknown kind {kind!r}; valid: "
                              f"{', '.join(SOURCE_KINDS)}")
        rest = parts[1:]
        try:
            if kind in ("can", "canfd"):
                if len(rest) < 2:
                    raise _SpecError("expected can:<interface>:<channel>[:<bitrate>]")
                return cls(kind, interface=rest[0], channel=rest[1],
                           bitrate=int(rest[2]) if len(rest) > 2 else None)
            if kind == "obd":
                if len(rest) < 2:
                    raise _SpecError("expected obd:<interface>:<channel>[:<bitrate>]"
                                     "[:pids=0C@5,...][:timeout=<s>][:ext]")
                kw: dict[str, Any] = {}
                for r in rest[2:]:
                    if r.startswith("pids="):
                        kw["pids"] = r[5:]
                    elif r.startswith("timeout="):
                        kw["timeout"] = float(r[8:])
                    elif r == "ext":
                        kw["extended"] = True
                    else:
                        kw["bitrate"] = int(r)
                return cls(kind, interface=rest[0], channel=rest[1], **kw)
            if kind == "replay":
                if not rest:
                    raise _SpecError("expected replay:<path>[:realtime|fast]")
                mode = rest[1] if len(rest) > 1 else "realtime"
                if mode not in ("realtime", "fast"):
                    raise _SpecError(f"mode must be realtime or fast, got {mode!r}")
                return cls(kind, path=rest[0], realtime=mode == "realtime")
            if kind == "sim":
                mode = "realtime"
                vehicle = None
                speed = 1.0
                rate = None
                faults: list[str] = []
                for r in rest:
                    if r in ("realtime", "fast"):
                        mode = r
                    elif re.fullmatch(r"\d+(\.\d+)?x", r):
                        speed = float(r[:-1])
                    elif re.fullmatch(r"\d+(\.\d+)?fps", r):
                        rate = float(r[:-3])
                    elif r.startswith("fault="):
                        from cantelem_sci.sim import Fault

                        for f in filter(None, r[6:].split(",")):
                            Fault.parse(f)  # refuses a malformed spec now, naming it
                            faults.append(f)
                    else:
                        vehicle = r
                return cls(kind, vehicle=vehicle, realtime=mode == "realtime", speed=speed,
                           rate=rate, faults=faults)
            if not rest:
                raise _SpecError("expected gps:<port or file>[:<baudrate>]")
            return cls(kind, path=rest[0], baudrate=int(rest[1]) if len(rest) > 1 else 9600)
        except (_SpecError, ValueError) as err:  # (ValueError: int() of a bitrate)
            raise ConfigError(f"--source {spec!r}: {err}") from err


@dataclass
class LiveConfig:
    """Live publishing of decoded signals to an MQTT broker (best effort, never at the cost
    of capture or durability); see ``docs/live.md`` for the topics and payloads."""

    url: str | None = None  # mqtt://host[:port] or mqtts://host[:port]; None: off
    prefix: str = "cantelem"
    interval: float = 0.05  # seconds between publishes
    signals: list[str] = field(default_factory=list)  # names or globs; empty: every signal
    dbc: list[str] = field(default_factory=list)  # empty: the sample EV DBC
    queue_max_frames: int = 200_000  # frames waiting to be decoded; beyond: dropped.live
    username: str | None = None
    password: str | None = None
    ca_certs: str | None = None
    certfile: str | None = None
    keyfile: str | None = None
    client_id: str | None = None  # default: cantelem-edge-<vehicle>

    @property
    def enabled(self) -> bool:
        return bool(self.url)


_LIVE_FIELDS = {f.name: f for f in dataclasses.fields(LiveConfig)}


@dataclass
class EdgeConfig:
    """Settings of one logger (one vehicle). See the module docstring for precedence."""

    vehicle: str = "EV0001"
    spool: str = "cantelem-data"
    segment_seconds: float = 60.0
    segment_max_frames: int = 1_000_000
    flush_interval: float = 1.0
    status_interval: float = 1.0
    latency_window: float = 60.0  # seconds of the rolling latency percentiles
    status_path: str | None = None
    queue_max_frames: int = 1_000_000
    compression_level: int = 7
    s3_url: str | None = None
    s3_endpoint_url: str | None = None
    s3_key: str | None = None
    s3_secret: str | None = None
    s3_profile: str | None = None  # an AWS profile (credential_process, SSO, web identity)
    upload_retry_base: float = 1.0
    upload_retry_max: float = 60.0
    upload_timeout: float = 10.0
    quota_bytes: int | None = None
    quota_policy: str = "stop"
    spool_max_age_days: float | None = None  # local segments of older days are deleted
    alert_rules: str | None = None  # a rule file (rules and sinks, docs/alerts.md); None: off
    uplink: str | None = None  # radio uplink transport (udp:, serial:, mqtt://; _uplink.py)
    uplink_signals: str = ""  # comma-separated signals of the uplink snapshots
    uplink_interval: float = 1.0  # seconds between uplink packets
    uplink_keyframe_every: int = 10  # a full snapshot every N packets, deltas between
    sources: list[SourceConfig] = field(default_factory=list)
    live: LiveConfig = field(default_factory=LiveConfig)

    @property
    def state_dir(self) -> Path:
        """``<spool>/.edge/<vehicle>``: journals, sequence numbers, status."""
        return state_dir(self.spool, self.vehicle)

    @property
    def status_file(self) -> Path:
        return Path(self.status_path) if self.status_path else self.state_dir / "status.json"

    def redacted(self) -> dict[str, Any]:
        """The settings as a dict with credentials masked (for logs and status)."""
        from cantelem_sci.io import redact_url

        d = dataclasses.asdict(self)
        for k in ("s3_key", "s3_secret"):
            if d.get(k):
                d[k] = "***"
        d["s3_endpoint_url"] = redact_url(d["s3_endpoint_url"])
        d["live"]["url"] = redact_url(d["live"]["url"])
        d["uplink"] = redact_url(d["uplink"]) if "://" in (d["uplink"] or "") else d["uplink"]
        if d["live"]["password"]:
            d["live"]["password"] = "***"
        return d

    def secrets(self) -> list[str]:
        """Every credential string of the settings (the log filter masks them)."""
        from urllib.parse import urlsplit

        out = [self.s3_key, self.s3_secret, self.live.password, *self._sink_secrets()]
        for url in (self.s3_endpoint_url, self.live.url):
            try:
                out.append(urlsplit(url).password if url else None)
            except ValueError:
                pass
        return [s for s in out if s]


    def _sink_secrets(self) -> list[str]:
        if not self.alert_rules:
            return []
        from cantelem_sci.alerts import load_rules

        out = []
        for cfg in load_rules(self.alert_rules).sinks.values():
            for k in ("password", "secret"):
                v = cfg.get(k) or (os.environ.get(str(cfg[f"{k}_env"]))
                                   if cfg.get(f"{k}_env") else None)
                if v:
                    out.append(str(v))
            if cfg.get("url"):
                from urllib.parse import urlsplit

                try:
                    out.append(urlsplit(str(cfg["url"])).password or "")
                except ValueError:
                    pass
        return [x for x in out if x]


_SCALARS = {f.name: f for f in dataclasses.fields(EdgeConfig)
            if f.name not in ("sources", "live")}


def _coerce(name: str, value: Any, where: str, fields: dict[str, Any] | None = None) -> Any:
    f = (fields or _SCALARS)[name]
    typ = str(f.type)
    try:
        if value is None:
            return None
        if typ.startswith("list"):
            if isinstance(value, str):  # environment: comma separated
                return [v.strip() for v in value.split(",") if v.strip()]
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise _SpecError(value)
            return list(value)
        if typ.startswith("int"):
            return int(value)
        if typ.startswith("float"):
            return float(value)
        return str(value)
    except (_SpecError, TypeError, ValueError) as err:  # (int() and float() raise these)
        shown = "***" if name == "password" else repr(value)
        raise ConfigError(f"{where}: {name} = {shown}: expected {typ.split(' ')[0]}") from err


def load_config(path: str | os.PathLike[str] | None = None, *,
                environ: Mapping[str, str] | None = None, **explicit: Any) -> EdgeConfig:
    """Build the configuration: ``explicit`` (flags) > ``CANTELEM_EDGE_*`` > TOML file.

    Raises
    ------
    ConfigError
        Naming the file (and key) or the variable, and what was expected.

    Example
    -------
    >>> load_config(environ={"CANTELEM_EDGE_VEHICLE": "TRUCK-7"}).vehicle
    'TRUCK-7'
    """
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    live: dict[str, Any] = {}
    sources: list[SourceConfig] = []
    if path is not None:
        p = Path(path)
        try:
            raw = tomllib.loads(p.read_text())
        except OSError as err:
            raise ConfigError(f"{p}: cannot read the config file: {err.strerror}") from err
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(f"{p}: not valid TOML: {err}") from err
        for k, v in raw.items():
            if k == "source":
                if not isinstance(v, list):
                    raise ConfigError(f"{p}: [[source]] must be an array of tables")
                for i, s in enumerate(v):
                    sources.append(_source_from_table(s, f"{p}: source #{i + 1}"))
            elif k == "live":
                live.update(_live_from_table(v, f"{p}: [live]"))
            elif k in _SCALARS:
                values[k] = _coerce(k, v, str(p))
            else:
                raise ConfigError(f"{p}: unknown key {k!r}; valid: "
                                  f"{', '.join(sorted([*_SCALARS, 'source', 'live']))}")
    for k in _SCALARS:
        env = f"CANTELEM_EDGE_{k.upper()}"
        if env in environ:
            values[k] = _coerce(k, environ[env], f"environment {env}")
    for k in _LIVE_FIELDS:
        env = f"CANTELEM_EDGE_LIVE_{k.upper()}"
        if env in environ:
            live[k] = _coerce(k, environ[env], f"environment {env}", _LIVE_FIELDS)
    for k, v in explicit.items():
        if k.startswith("live_") and k[5:] in _LIVE_FIELDS:
            if v is not None:
                live[k[5:]] = _coerce(k[5:], v, f"argument {k}", _LIVE_FIELDS)
            continue
        if k == "sources":
            if v:
                sources = [s if isinstance(s, SourceConfig) else SourceConfig.parse(s) for s in v]
            continue
        if k not in _SCALARS:
            raise ConfigError(f"unknown setting {k!r}; valid: {', '.join(sorted(_SCALARS))}")
        if v is not None:
            values[k] = _coerce(k, v, f"argument {k}")
    cfg = EdgeConfig(**values, sources=sources, live=LiveConfig(**live))
    validate(cfg)
    return cfg


def _source_from_table(t: Any, where: str) -> SourceConfig:
    if not isinstance(t, dict) or "kind" not in t:
        raise ConfigError(f"{where}: a source needs kind = one of {', '.join(SOURCE_KINDS)}")
    if t["kind"] not in SOURCE_KINDS:
        raise ConfigError(f"{where}: unknown kind {t['kind']!r}; valid: {', '.join(SOURCE_KINDS)}")
    names = {f.name for f in dataclasses.fields(SourceConfig)}
    bad = sorted(set(t) - names)
    if bad:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(bad)}; valid: "
                          f"{', '.join(sorted(names))}")
    return SourceConfig(**t)


def _live_from_table(t: Any, where: str) -> dict[str, Any]:
    if not isinstance(t, dict):
        raise ConfigError(f"{where} must be a table")
    bad = sorted(set(t) - set(_LIVE_FIELDS))
    if bad:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(bad)}; valid: "
                          f"{', '.join(sorted(_LIVE_FIELDS))}")
    return {k: _coerce(k, v, where, _LIVE_FIELDS) for k, v in t.items()}


def _validate_live(live: LiveConfig) -> None:
    from cantelem_sci.errors import LivePayloadError
    from cantelem_sci.io import BrokerSettings, live_topic

    if not live.enabled:
        return
    BrokerSettings.from_url(live.url, certfile=live.certfile, keyfile=live.keyfile)
    try:
        live_topic(live.prefix, "+", "signals")
    except LivePayloadError as err:
        raise ConfigError(f"[live] prefix: {err}") from None
    if not 0.005 <= live.interval <= 10:
        raise ConfigError(f"[live] interval must be 0.005..10 s, got {live.interval}")
    if live.queue_max_frames < 1:
        raise ConfigError(f"[live] queue_max_frames must be at least 1, got "
                          f"{live.queue_max_frames}")


def validate(cfg: EdgeConfig) -> None:
    """Check ranges and names; raise :class:`ConfigError` naming the setting."""
    check_vehicle_id(cfg.vehicle)
    for name in ("segment_seconds", "flush_interval", "status_interval", "latency_window",
                 "upload_retry_base", "upload_retry_max", "upload_timeout"):
        if not getattr(cfg, name) > 0:
            raise ConfigError(f"{name} must be positive, got {getattr(cfg, name)}")
    if cfg.flush_interval > 1.0:
        raise ConfigError(f"flush_interval must be at most 1 s (durability promise), "
                          f"got {cfg.flush_interval}")
    for name in ("segment_max_frames", "queue_max_frames"):
        if getattr(cfg, name) < 1:
            raise ConfigError(f"{name} must be at least 1, got {getattr(cfg, name)}")
    if not 1 <= cfg.compression_level <= 22:
        raise ConfigError(f"compression_level must be 1..22 (zstd), got {cfg.compression_level}")
    if cfg.spool_max_age_days is not None and not cfg.spool_max_age_days > 0:
        raise ConfigError(f"spool_max_age_days must be positive (or unset), got "
                          f"{cfg.spool_max_age_days}")
    if cfg.quota_policy not in QUOTA_POLICIES:
        raise ConfigError(f"quota_policy: unknown {cfg.quota_policy!r}; valid: "
                          f"{', '.join(QUOTA_POLICIES)}")
    if cfg.s3_url is not None and not cfg.s3_url.startswith("s3://"):
        raise ConfigError(f"s3_url must start with s3://, got {cfg.s3_url!r}")
    for s in cfg.sources:
        if s.vehicle is not None:
            check_vehicle_id(s.vehicle, "sim source vehicle")
    _validate_live(cfg.live)
    if cfg.alert_rules:
        from cantelem_sci.alerts import load_rules, make_sink
        from cantelem_sci.errors import UnknownNameError

        try:
            rules = load_rules(cfg.alert_rules)
            for name, settings in rules.sinks.items():
                make_sink(name, settings)  # checks the settings; connects nothing
        except UnknownNameError as err:  # an unknown key, severity, sink or sink setting
            raise ConfigError(f"alert_rules {cfg.alert_rules}: {err}") from err
        rules.check_signals(_dbc_signals(cfg.live.dbc), where="the DBC ([live] dbc)")


def _dbc_signals(dbc: list[str]) -> list[str]:
    """Every signal name of the live DBC (``Signal`` and ``Message.Signal``)."""
    from importlib import resources

    from cantelem_sci.decoder import load_dbc

    db = load_dbc(dbc or str(resources.files("cantelem_sci") / "data" / "ev.dbc"))
    out = []
    for m in db.messages:
        for sig in m.signals:
            out += [sig.name, f"{m.name}.{sig.name}"]
    return out
