"""The ``cantelem`` command line.

``cantelem demo``  simulate a small EV fleet through the edge logger into the embedded store,
                   decode it on a local Dask cluster, evaluate the demo's alert rules (one
                   vehicle's pack overheats), summarise, then keep the fleet driving live
                   (edge loggers publishing and alerting to an embedded MQTT broker) while
                   the dashboard serves.
``cantelem decode [--store URL] [--catalog YAML] [--scheduler ADDR]``  the fleet decode job.
``cantelem decode LOG --dbc FILE``  decode one log file and print its messages.
``cantelem alerts --rules FILE [--store URL] [--catalog YAML]``  the fleet alert job: rules
                   over the decoded store (incremental), events under ``events/``.
``cantelem retention --catalog YAML [--dry-run]``  delete days older than the catalog's
                   retention policy (``--s3-lifecycle FILE``: the same policy for the bucket).
``cantelem dashboard [--store URL] [--port N] [--mqtt URL]``  serve the Voila dashboard.
``cantelem lab``  JupyterLab on the notebooks.
``cantelem uplink receive --udp HOST:PORT --dbc FILE --signals A,B``  radio uplink packets
                   into the store (``uplink/``; ``Fleet.uplink``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from typing import Sequence

from . import _config


def _progress(args: argparse.Namespace) -> bool:
    """Dask's progress bar: on a terminal, unless ``--quiet`` (in a pipe or a CI log, the
    bar's carriage returns would make one line of hundreds of updates)."""
    return not args.quiet and sys.stdout.isatty()


def _demo(args: argparse.Namespace) -> int:
    """Simulate a small EV fleet through the edge logger into the embedded store, decode it
    on a local Dask cluster, summarise; then serve the dashboard (unless ``--no-serve``)."""
    import numpy as np

    import cantelem_sci as ct
    from cantelem_edge import ingest

    from .sim import vehicle_ids

    store = os.path.abspath(_config.get("store", args.store))
    os.makedirs(store, exist_ok=True)
    print(f"cantelem demo: {args.vehicles} vehicles x {args.duration:.0f} s, seed {args.seed}, "
          f"store {store}")
    start = np.datetime64(args.start, "ns") if args.start else None
    t0 = time.perf_counter()
    for i, vid in enumerate(vehicle_ids(args.vehicles)):
        if os.path.isdir(os.path.join(store, "raw", f"vehicle={vid}")):
            print(f"  {vid}: raw segments already in the store (kept)")
            continue
        batch = ct.simulate_vehicle(vid, duration_s=args.duration, seed=args.seed, index=i,
                                    start=None if start is None else start + np.timedelta64(
                                        i * 37, "s"),
                                    faults=[DEMO_FAULT] if i == 0 else ())
        st = ingest(batch, vid, store, segment_seconds=60.0)
        print(f"  {vid}: {st['frames']['durable']:>9,} frames through the edge logger -> "
              f"{st['segments']['written']} segments")
    # a combustion car without a DBC: a tester polls its OBD-II PIDs
    if not os.path.isdir(os.path.join(store, "raw", f"vehicle={DEMO_CAR}")):
        batch = ct.simulate_obd_vehicle(DEMO_CAR, duration_s=args.duration, seed=args.seed,
                                        start=start)
        st = ingest(batch, DEMO_CAR, store, segment_seconds=60.0)
        print(f"  {DEMO_CAR}: {st['frames']['durable']:>9,} OBD-II frames (requests and "
              f"answers) -> {st['segments']['written']} segments")
    print(f"edge logger: {time.perf_counter() - t0:.1f} s")
    rep = ct.decode_fleet(store, workers=args.workers, progress=_progress(args))
    print(f"decode job (LocalCluster, {_config.get('workers', args.workers)} workers): {rep}")
    fleet = ct.open_fleet(store)
    for v in fleet.vehicles:
        spd = fleet.load(v, "VehicleSpeed")["VehicleSpeed"]
        level = "SOC" if "SOC" in fleet.signals(v) else "FuelLevel"
        soc = fleet.load(v, level)[level].values
        trips = fleet.trips(v)
        print(f"  {v}: {len(trips)} trip(s), speed max {float(spd.max()):6.1f} km/h, "
              f"{level} {soc[0]:5.1f}% -> {soc[-1]:5.1f}%")
    rules = _demo_rules(store, None)
    arep = ct.evaluate_fleet(store, rules=rules, workers=args.workers)
    print(f"alert job (rules {rules}): {arep}")
    events = fleet.events()
    for r in events.head(5).itertuples():
        print(f"  {r.vehicle} {r.rule} ({r.severity}) {r.start:%H:%M:%S}, peak {r.peak:.4g}")
    print(f"raw segments:  {os.path.join(store, 'raw')}")
    print(f"decoded:       {os.path.join(store, 'decoded')}  (ct.open_fleet({store!r}))")
    if args.no_serve:
        return 0
    return _serve_live(store, [v for v in fleet.vehicles if v != DEMO_CAR], args)


#: the demo's injected faults: the first vehicle's pack overheats (batch and live)
DEMO_FAULT = "overheat@300s+8s"
#: the demo's fourth vehicle: OBD-II only (``cantelem_sci.sim.simulate_obd_vehicle``)
DEMO_CAR = "CAR0001"
LIVE_FAULT = "overheat@40s+5s"
DEMO_RULES = """\
# the demo's alert rules (docs/alerts.md); written by ``cantelem demo``
{sinks}rules:
  - name: pack-overtemp
    vehicles: "EV*"
    signal: CellTempMax
    above: 60
    clear: 57
    clear_for: 2s
    severity: critical
    message: "{{vehicle}} pack at {{value:.1f}} °C"
  - name: cell-undervoltage
    vehicles: "EV*"
    signal: CellVoltageMin
    below: 3.0
    clear: 3.1
    for: 1s
    severity: warning
  - name: motor-controller-silent
    vehicles: "EV*"
    signal: MotorSpeed
    absent: 2s
    severity: warning
"""


def _demo_rules(store: str, mqtt: str | None) -> str:
    """Write the demo's rule file into the store folder (alerts go to ``mqtt`` when given)."""
    sinks = (f'sinks:\n  live: {{type: mqtt, url: "{mqtt}", prefix: cantelem}}\n'
             if mqtt else "")
    path = os.path.join(store, "demo-alerts.yaml" if mqtt is None else "demo-alerts-live.yaml")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(DEMO_RULES.format(sinks=sinks))
    return path


def _serve_live(store: str, vehicles: list[str], args: argparse.Namespace) -> int:
    """The demo's live part: the simulated vehicles keep driving in real time through edge
    loggers (child processes) that publish to a broker (``--mqtt``, else the embedded amqtt
    broker) while the dashboard serves, opened in live mode."""
    import subprocess

    from .io import EmbeddedBroker
    from .viz import serve_dashboard

    broker = None
    url = _config.get("mqtt", args.mqtt)
    if not url:
        broker = EmbeddedBroker("amqtt").start()
        url = broker.url
    print(f"live: {len(vehicles)} simulated vehicles publish to {url} (embedded amqtt broker)"
          if broker else f"live: {len(vehicles)} simulated vehicles publish to {url}")
    rules = _demo_rules(store, url)
    print(f"alerts: {vehicles[0]} overheats ({LIVE_FAULT}); rules {rules}, alerts on "
          f"{url} cantelem/<vehicle>/alerts")
    loggers = [subprocess.Popen(
        [sys.executable, "-m", "cantelem_edge", "run", "--spool", store, "--vehicle", v,
         "--source", f"sim:{v}" + (f":fault={LIVE_FAULT}" if i == 0 else ""),
         "--live-url", url, "--alert-rules", rules], stdout=subprocess.DEVNULL)
        for i, v in enumerate(vehicles)]
    os.environ["CANTELEM_DASHBOARD_LIVE"] = "1"
    try:
        return serve_dashboard(store, port=args.port, mqtt=url)
    finally:
        for p in loggers:
            p.terminate()
        for p in loggers:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
        if broker is not None:
            broker.close()


def _decode_fleet(args: argparse.Namespace) -> int:
    import cantelem_sci as ct

    rep = ct.decode_fleet(args.store, catalog=args.catalog, scheduler=args.scheduler,
                          workers=args.workers, vehicles=args.vehicle or None,
                          progress=_progress(args), wait=args.wait)
    print(rep)
    for q in rep.quarantined:
        print(f"quarantined: {q['key']}: {q['error']}", file=sys.stderr)
    return 0


def _retention(args: argparse.Namespace) -> int:
    import json

    from .errors import ConfigError
    from .fleet import (Store, apply_retention, lifecycle_configuration, load_catalog)
    from .fleet._index import list_vehicles
    from .fleet._retention import put_lifecycle

    catalog = load_catalog(args.catalog)
    if not catalog.retention:
        raise ConfigError(f"{catalog.path}: no retention rules (metadata.cantelem.retention)")
    store = Store(args.store or catalog.store, catalog.storage_options)
    if args.s3_lifecycle or args.apply_lifecycle:
        url = str(store.url)
        # the key prefix inside the bucket (none for a local store synced to a bucket root)
        prefix = url.split("://", 1)[1].partition("/")[2] if "://" in url else ""
        vehicles = sorted(set(list_vehicles(store)) | {
            n[len("vehicle="):] for n in store.ls("decoded") if n.startswith("vehicle=")})
        config = lifecycle_configuration(catalog.retention, vehicles, prefix)
        text = json.dumps(config, indent=1)
        if args.s3_lifecycle == "-":
            print(text)
        elif args.s3_lifecycle:
            with open(args.s3_lifecycle, "w") as fh:
                fh.write(text + "\n")
            print(f"{len(config['Rules'])} lifecycle rule(s) written to {args.s3_lifecycle}")
        if args.apply_lifecycle:
            got = put_lifecycle(store, config)
            print(f"{store.url}: the bucket holds {len(got['Rules'])} lifecycle rule(s)")
        return 0
    print(apply_retention(catalog, store=store, today=args.today, dry_run=args.dry_run,
                          wait=args.wait))
    return 0


def _alerts(args: argparse.Namespace) -> int:
    import cantelem_sci as ct

    rep = ct.evaluate_fleet(args.store, rules=args.rules, catalog=args.catalog,
                            scheduler=args.scheduler, workers=args.workers,
                            vehicles=args.vehicle or None, wait=args.wait)
    print(rep)
    if rep.evaluated:
        fleet = ct.open_fleet(args.store, catalog=args.catalog)
        df = fleet.events([r["vehicle"] for r in rep.evaluated])
        if len(df):
            cols = ["vehicle", "rule", "severity", "start", "end", "peak"]
            print(df[cols].to_string(index=False, max_rows=args.show))
    return 0


def _decode(args: argparse.Namespace) -> int:
    import cantelem_sci as ct

    if args.log is None:
        return _decode_fleet(args)
    if not args.dbc:
        print("cantelem: error: decoding a log file needs --dbc FILE [FILE ...]", file=sys.stderr)
        return 2
    db = ct.load_dbc(args.dbc)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        tree = ct.decode(ct.read_log(args.log, strict=not args.lenient), db)
    for w in rec:
        print(f"warning: {w.message}", file=sys.stderr)
    print(f"{tree.attrs['frames_total']} frames, {tree.attrs['frames_decoded']} decoded, "
          f"{tree.attrs['frames_unknown']} unknown")
    for name, node in tree.children.items():
        print(f"  {name}: {node.sizes.get('time', 0)} frames, {len(node.data_vars)} signals")
    if args.out:
        tree.to_zarr(args.out, mode="w", zarr_format=3, consolidated=False)
        print(f"written to {args.out}")
    return 0


def _uplink(args: argparse.Namespace) -> int:
    import threading

    import cantelem_sci as ct

    from .decoder import UplinkSchema
    from .fleet._uplink import UplinkReceiver, serve_udp
    from .io import Store

    schema = UplinkSchema.from_dbc(ct.load_dbc(args.dbc), [s.strip() for s in
                                                            args.signals.split(",") if s.strip()])
    store = Store(_config.get("store", args.store))
    host, port = args.udp.rsplit(":", 1)
    rx = UplinkReceiver(schema)
    print(f"cantelem uplink: schema {schema.digest:08x}, {len(schema.fields)} signals, "
          f"listening on udp {host}:{port}, writing to {store.uri('uplink')}", flush=True)
    stop = threading.Event()
    try:
        serve_udp(rx, host, int(port), store, stop, args.flush)
    except KeyboardInterrupt:
        stop.set()
    print(f"cantelem uplink: {rx.counts}")
    return 0


def _dashboard(args: argparse.Namespace) -> int:
    from .viz import serve_dashboard

    return serve_dashboard(args.store, port=args.port, preheat=not args.no_preheat,
                           mqtt=args.mqtt, ip=args.ip)


def _lab(args: argparse.Namespace) -> int:
    from .viz import serve_lab

    return serve_lab(args.store, port=args.port, ip=args.ip)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``cantelem`` command."""
    p = argparse.ArgumentParser(prog="cantelem", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("demo", help="simulate a fleet through the edge logger, decode it on "
                                    "Dask, serve the dashboard")
    d.add_argument("--vehicles", type=int, default=3)
    d.add_argument("--duration", type=float, default=1800.0, help="seconds per vehicle")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--start", default=None, help="first frame time (default: the simulator's)")
    d.add_argument("--store", default=None, help="store directory (CANTELEM_STORE)")
    d.add_argument("--workers", type=int, default=None,
                   help="LocalCluster workers (CANTELEM_WORKERS)")
    d.add_argument("--port", type=int, default=8866)
    d.add_argument("--no-serve", action="store_true", help="stop after decoding")
    d.add_argument("--mqtt", default=None, help="broker for the live part (CANTELEM_MQTT); "
                                                "default: an embedded amqtt broker")
    d.add_argument("--quiet", action="store_true", help="no progress bar (none off a terminal)")
    d.set_defaults(func=_demo)
    e = sub.add_parser("decode", help="decode a fleet store on Dask (incremental), or one log "
                                      "file with --dbc")
    e.add_argument("log", nargs="?", default=None, help="a log file (else: the fleet store)")
    e.add_argument("--dbc", nargs="+", default=None)
    e.add_argument("--lenient", action="store_true",
                   help="keep a log's damaged frames (zero-padded) with a warning instead of "
                        "refusing the file")
    e.add_argument("--out", default=None, help="write the decoded tree to this Zarr path")
    e.add_argument("--store", default=None, help="fleet store URL (CANTELEM_STORE)")
    e.add_argument("--catalog", default=None, help="fleet catalog YAML (DBC groups)")
    e.add_argument("--scheduler", default=None, help="dask scheduler address (CANTELEM_SCHEDULER)")
    e.add_argument("--workers", type=int, default=None,
                   help="LocalCluster workers (CANTELEM_WORKERS)")
    e.add_argument("--vehicle", action="append", default=[], help="only these vehicles")
    e.add_argument("--wait", type=float, default=0.0,
                   help="seconds to wait for another decode job on the store (default: refuse)")
    e.add_argument("--quiet", action="store_true", help="no progress bar (none off a terminal)")
    e.set_defaults(func=_decode)
    a = sub.add_parser("alerts", help="evaluate alert rules over the decoded fleet store on "
                                      "Dask (incremental); events go under events/")
    a.add_argument("--rules", default=None, help="rule file (default: the catalog's rules:)")
    a.add_argument("--store", default=None, help="fleet store URL (CANTELEM_STORE)")
    a.add_argument("--catalog", default=None, help="fleet catalog YAML")
    a.add_argument("--scheduler", default=None, help="dask scheduler address (CANTELEM_SCHEDULER)")
    a.add_argument("--workers", type=int, default=None,
                   help="LocalCluster workers (CANTELEM_WORKERS)")
    a.add_argument("--vehicle", action="append", default=[], help="only these vehicles")
    a.add_argument("--show", type=int, default=20, help="events to print at most")
    a.add_argument("--wait", type=float, default=0.0,
                   help="seconds to wait for another alert job on the store (default: refuse)")
    a.set_defaults(func=_alerts)
    r = sub.add_parser("retention", help="delete the days older than the catalog's retention "
                                         "policy (raw, decoded, events per vehicle group)")
    r.add_argument("--catalog", required=True, help="fleet catalog YAML with retention rules")
    r.add_argument("--store", default=None, help="store URL (default: the catalog's)")
    r.add_argument("--dry-run", action="store_true", help="say what would go; delete nothing")
    r.add_argument("--today", default=None, help="YYYY-MM-DD (default: today, UTC)")
    r.add_argument("--wait", type=float, default=0.0,
                   help="seconds to wait for a running decode or alert job")
    r.add_argument("--s3-lifecycle", default=None, metavar="FILE",
                   help="write the policy as an S3 lifecycle configuration ('-': stdout) "
                        "instead of deleting")
    r.add_argument("--apply-lifecycle", action="store_true",
                   help="put that configuration on the store's bucket (its own rules kept)")
    r.set_defaults(func=_retention)
    g = sub.add_parser("dashboard", help="serve the Voila dashboard on 127.0.0.1")
    g.add_argument("--store", default=None, help="store URL (CANTELEM_STORE)")
    g.add_argument("--port", type=int, default=8866)
    g.add_argument("--no-preheat", action="store_true", help="do not pre-heat a kernel")
    g.add_argument("--mqtt", default=None, help="MQTT broker of the live mode, "
                                                "mqtt://host:port (CANTELEM_MQTT)")
    ip_help = ("address to listen on (CANTELEM_DASHBOARD_IP; default 127.0.0.1); any other "
               "than loopback needs CANTELEM_DASHBOARD_TOKEN")
    g.add_argument("--ip", default=None, help=ip_help)
    g.set_defaults(func=_dashboard)
    lab = sub.add_parser("lab", help="JupyterLab on the notebooks")
    lab.add_argument("--store", default=None)
    lab.add_argument("--port", type=int, default=8888)
    lab.add_argument("--ip", default=None, help=ip_help)
    lab.set_defaults(func=_lab)
    u = sub.add_parser("uplink", help="receive radio uplink packets into the store")
    u.add_argument("action", choices=["receive"])
    u.add_argument("--udp", required=True, help="HOST:PORT to listen on (127.0.0.1:7700)")
    u.add_argument("--dbc", required=True, nargs="+", help="the DBC(s) of the vehicles")
    u.add_argument("--signals", required=True, help="comma-separated, as the edge's "
                                                    "uplink_signals")
    u.add_argument("--store", default=None, help="store URL (CANTELEM_STORE)")
    u.add_argument("--flush", type=float, default=5.0, help="seconds between writes")
    u.set_defaults(func=_uplink)
    args = p.parse_args(argv)
    from .errors import CantelemError

    if args.cmd in ("demo", "dashboard", "lab", "uplink"):
        import signal

        def _interrupt(signum, frame):  # SIGTERM: stop children as Ctrl-C does
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, _interrupt)
    try:
        return int(args.func(args))
    except CantelemError as err:
        print(f"cantelem: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
