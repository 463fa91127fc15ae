"""``cantelem-edge``: run the logger, recover a spool, print status or the effective config."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from typing import Any

from cantelem_sci.errors import CantelemError, ConfigError

from ._config import load_config


class _Redact(logging.Filter):
    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        for s in self.secrets:
            msg = msg.replace(s, "***")
        record.msg, record.args = msg, ()
        return True


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cantelem-edge", description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)
    for name, help_ in [("run", "capture until stopped (SIGTERM/SIGINT) or --duration"),
                        ("recover", "turn journals left by a crash into segments, then exit"),
                        ("status", "print the last status file"),
                        ("check-config", "print the effective configuration (credentials masked)")]:
        s = sub.add_parser(name, help=help_)
        s.add_argument("--config", help="TOML file (see edge/cantelem-edge.example.toml)")
        s.add_argument("--vehicle")
        s.add_argument("--spool", help="local store / spool directory")
        s.add_argument("--source", action="append", dest="sources", default=[],
                       help="can:<interface>:<channel>[:<bitrate>] | canfd:... | "
                            "replay:<path>[:realtime|fast] | sim[:<vehicle>][:realtime|fast] | "
                            "gps:<port or file>[:<baudrate>] (repeatable)")
        s.add_argument("--s3-url")
        s.add_argument("--s3-endpoint-url")
        s.add_argument("--s3-profile", help="AWS profile of the upload credentials "
                                            "(credential_process, SSO, web identity)")
        s.add_argument("--segment-seconds", type=float)
        s.add_argument("--segment-max-frames", type=int)
        s.add_argument("--flush-interval", type=float)
        s.add_argument("--status-path")
        s.add_argument("--quota-bytes", type=int)
        s.add_argument("--spool-max-age-days", type=float,
                       help="delete local segments of days older than this")
        s.add_argument("--quota-policy")
        s.add_argument("--live-url", help="publish live signals to this MQTT broker "
                                          "(mqtt://host:port or mqtts://...; [live] url)")
        s.add_argument("--alert-rules", help="evaluate these alert rules live and deliver "
                                             "the alerts (a YAML file; docs/alerts.md)")
        s.add_argument("--uplink", help="radio uplink transport: udp:host:port, "
                                        "serial:/dev/ttyUSB0[:baud] or mqtt://host:port")
        s.add_argument("--uplink-signals", help="signals of the uplink snapshots, a,b,c")
        s.add_argument("--uplink-interval", type=float, help="seconds between uplink packets")
        s.add_argument("-v", "--verbose", action="store_true")
        if name == "run":
            s.add_argument("--duration", type=float, help="stop after this many seconds")
    return p


#: Modules the logger keeps out of its process unless it replays a log file: python-can
#: imports its MF4 support, asammdf, at ``import can``, and asammdf imports pandas and sympy.
#: That took 2.1 of the 2.4 s of ``import can`` here, at every start of the logger: bus
#: traffic nobody captures after a restart.
WITHOUT_REPLAY = ("asammdf",)


def skip_unused_imports(sources: list[Any]) -> list[str]:
    """Keep :data:`WITHOUT_REPLAY` out of this process when no source replays a log file
    (capture, simulation and GPS never read MF4): ``sys.modules[name] = None`` makes their
    import fail, and python-can then leaves its MF4 support out. Returns the names blocked.
    Modules already imported are left alone.

    Example
    -------
    >>> from cantelem_edge._config import SourceConfig
    >>> skip_unused_imports([SourceConfig.parse("replay:trip.mf4")])
    []
    """
    if any(s.kind == "replay" for s in sources):
        return []
    blocked = [m for m in WITHOUT_REPLAY if m not in sys.modules]
    for m in blocked:
        sys.modules[m] = None  # type: ignore[assignment]
    return blocked


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s cantelem-edge %(levelname)s %(message)s")
    explicit = {k: getattr(args, k) for k in (
        "vehicle", "spool", "s3_url", "s3_endpoint_url", "s3_profile", "segment_seconds",
        "segment_max_frames", "flush_interval", "status_path", "quota_bytes", "quota_policy",
        "spool_max_age_days", "live_url", "alert_rules", "uplink", "uplink_signals",
        "uplink_interval")}
    try:
        cfg = load_config(args.config, sources=args.sources, **explicit)
    except ConfigError as err:
        print(f"cantelem-edge: error: {err}", file=sys.stderr)
        return 2
    for h in logging.getLogger().handlers:
        h.addFilter(_Redact(cfg.secrets()))
    if args.cmd == "check-config":
        print(json.dumps(cfg.redacted(), indent=1, default=str))
        return 0
    if args.cmd == "status":
        try:
            print(cfg.status_file.read_text())
        except OSError as err:
            print(f"cantelem-edge: error: {cfg.status_file}: {err.strerror}", file=sys.stderr)
            return 3
        return 0
    skip_unused_imports(cfg.sources)
    from ._logger import EdgeLogger

    try:
        lg = EdgeLogger(cfg)
        if args.cmd == "recover":
            lg._prepare_spool()
            keys = lg.recover()
            lg.lock.release()
            print(json.dumps({"recovered": keys}))
            return 0
        if not cfg.sources:
            raise ConfigError("no source configured: give --source or [[source]] in the config")
        lg.start()
    except ConfigError as err:
        print(f"cantelem-edge: error: {err}", file=sys.stderr)
        return 2
    except (CantelemError, KeyError) as err:
        print(f"cantelem-edge: error: {err}", file=sys.stderr)
        return 3
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: lg.request_stop())
    lg.run(duration=args.duration)
    lg.stop()
    st = lg.status()
    summary = {"frames": st["frames"], "dropped": st["dropped"], "segments": st["segments"],
               "spool": str(cfg.spool)}
    if st.get("alerts"):
        summary["alerts"] = {k: st["alerts"][k] for k in ("fired", "cleared", "pending")}
    print(json.dumps(summary))
    return 0
