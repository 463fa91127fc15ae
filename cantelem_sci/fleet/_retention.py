"""Retention: how many days of raw segments, decoded days and alert events a store keeps,
per vehicle group, and the job that deletes what is older.

Policies live in the catalog, first match wins, days counted back from today (UTC); a day
``D`` is deleted when ``D < today - N days``; ``null`` (or no rule) keeps forever::

    metadata:
      cantelem:
        retention:
          - {name: test-cars, vehicles: ["TEST*"], raw: 7, decoded: 30}
          - {name: fleet, vehicles: ["*"], raw: 30, decoded: 365, events: 365}

Deleting raw days does not lose their decoded days: the segment index keeps a record of
each retired raw day (its segment count, frames and trip sessions) and the decode job leaves
such a day's decoded data as it is, even when the DBC changes. A decoded day deleted by its
policy is not decoded again from raw either (the index records that too). The job holds the
decode and the alert leases, so it never runs beside either job.

:func:`lifecycle_configuration` turns the same policy into an S3 bucket lifecycle
configuration, for buckets that should enforce it themselves (S3 counts days from each
object's creation, not from the date in its key).
"""

from __future__ import annotations

import datetime as dt
import fnmatch
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from ._index import index_key, list_vehicles, refresh_vehicle
from ._lease import JobLease
from ._store import Store

if TYPE_CHECKING:
    from ._catalog import Catalog

__all__ = ["RetentionRule", "RetentionReport", "apply_retention", "lifecycle_configuration",
           "parse_retention"]

KINDS = ("raw", "decoded", "events")
#: S3 accepts at most this many rules in one lifecycle configuration
S3_MAX_RULES = 1000


@dataclass
class RetentionRule:
    """Keep ``raw``/``decoded``/``events`` days (None: forever) of vehicles matching
    ``vehicles`` (fnmatch patterns)."""

    name: str
    vehicles: list[str]
    raw: int | None = None
    decoded: int | None = None
    events: int | None = None

    def matches(self, vehicle: str) -> bool:
        return any(fnmatch.fnmatchcase(vehicle, p) for p in self.vehicles)

    def days(self, kind: str) -> int | None:
        return getattr(self, kind)


def parse_retention(items: Any, path: str | None) -> list[RetentionRule]:
    """The ``retention`` list of a catalog.

    Example
    -------
    >>> parse_retention([{"vehicles": ["EV*"], "raw": 30}], "c.yaml")[0].raw
    30
    >>> parse_retention([{"vehicles": ["EV*"], "raw": -1}], "c.yaml")
    Traceback (most recent call last):
    cantelem_sci.errors.ConfigError: c.yaml: retention[0].raw: expected a whole number of days >= 1 or null, got -1
    """
    if items is None:
        return []
    if not isinstance(items, list):
        raise ConfigError(f"{path}: retention: expected a list of rules, got "
                          f"{type(items).__name__}")
    rules = []
    for i, item in enumerate(items):
        where = f"{path}: retention[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("vehicles"), list):
            raise ConfigError(f"{where}: expected a mapping with 'vehicles' (a list of patterns)"
                              " and days per kind (raw, decoded, events)")
        unknown = sorted(set(item) - {"name", "vehicles", *KINDS})
        if unknown:
            raise ConfigError(f"{where}: unknown key {unknown[0]!r}; expected name, vehicles, "
                              "raw, decoded, events")
        for kind in KINDS:
            v = item.get(kind)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
                raise ConfigError(f"{where}.{kind}: expected a whole number of days >= 1 or "
                                  f"null, got {v!r}")
        rules.append(RetentionRule(str(item.get("name", f"rule{i + 1}")),
                                   [str(p) for p in item["vehicles"]],
                                   *(item.get(k) for k in KINDS)))
    return rules


def rule_for(rules: list[RetentionRule], vehicle: str) -> RetentionRule | None:
    return next((r for r in rules if r.matches(vehicle)), None)


@dataclass
class RetentionReport:
    """What a retention run deleted (or, with ``dry_run``, would delete): per kind, the
    ``(vehicle, date)`` days, and the bytes of the raw segments."""

    today: str
    dry_run: bool
    deleted: dict[str, list[tuple[str, str]]] = field(
        default_factory=lambda: {k: [] for k in KINDS})
    raw_bytes: int = 0

    def __str__(self) -> str:
        verb = "would delete" if self.dry_run else "deleted"
        parts = [f"{len(v)} {k} day(s)" for k, v in self.deleted.items()]
        return f"retention ({self.today}): {verb} " + ", ".join(parts) + \
            f" ({self.raw_bytes / 1e6:.1f} MB of raw segments)"


def _dates(store: Store, prefix: str) -> list[str]:
    return sorted(n[len("date="):] for n in store.ls(prefix) if n.startswith("date="))


def _retire_raw(store: Store, vehicle: str, date: str, gap_ns: int, dry_run: bool) -> int:
    """Delete a raw day (each manifest before its segment, so no reader uses a half-deleted
    segment) and record it in the index; returns the bytes of its segments."""
    # a dry run reads the index as it is (it writes nothing); a real run refreshes it first,
    # so segments not indexed yet are recorded too
    idx = store.read_json(index_key(vehicle), default={"segments": []}) if dry_run else \
        refresh_vehicle(store, vehicle, gap_ns)
    day = [s for s in idx["segments"] if s["date"] == date]
    size = sum(int(s.get("bytes", 0)) for s in day)
    if dry_run:
        return size
    retired = idx.setdefault("retired", {})
    rec = retired.setdefault(date, {"segments": 0, "frames": 0, "sessions": []})
    rec["raw"] = True
    rec["segments"] += len(day)
    rec["frames"] += sum(int(s["frames"]) for s in day)
    rec["sessions"] = sorted(rec["sessions"] + [x for s in day for x in s.get("sessions", [])])
    idx["segments"] = [s for s in idx["segments"] if s["date"] != date]
    store.write_json(index_key(vehicle), idx)  # first: the job no longer plans the day
    base = f"raw/vehicle={vehicle}/date={date}"
    names = store.ls(base)
    for name in names:
        if name.endswith(".manifest.json"):
            store.rm(f"{base}/{name}")
    store.rm(base)
    return size


def _retire_decoded(store: Store, vehicle: str, date: str) -> None:
    idx = store.read_json(index_key(vehicle), default=None)
    if idx is not None:
        rec = idx.setdefault("retired", {}).setdefault(
            date, {"segments": 0, "frames": 0, "sessions": []})
        rec["decoded"] = True
        if rec.get("raw"):
            rec["sessions"] = []  # nothing of the day is left: its trips go
        store.write_json(index_key(vehicle), idx)
    base = f"decoded/vehicle={vehicle}/date={date}"
    store.rm(f"{base}/current.json")  # first: readers see no published version
    store.rm(base)


def apply_retention(catalog: Catalog, *, store: Store | None = None, today: str | None = None,
                    dry_run: bool = False, wait: float = 0.0) -> RetentionReport:
    """Delete the days older than each vehicle's policy (see the module docstring).

    Parameters
    ----------
    catalog
        The fleet catalog: its ``retention`` rules, store and ``trip_gap``.
    store
        Default: the catalog's.
    today
        ``YYYY-MM-DD`` (default: today, UTC).
    dry_run
        Report what would be deleted, delete nothing.
    wait
        Seconds to wait for a running decode or alert job (default: refuse at once).

    Example
    -------
    >>> import tempfile
    >>> from cantelem_sci.fleet import default_catalog
    >>> cat = default_catalog(tempfile.mkdtemp())
    >>> cat.retention = parse_retention([{"vehicles": ["*"], "raw": 30}], None)
    >>> print(apply_retention(cat, today="2026-12-03"))
    retention (2026-12-03): deleted 0 raw day(s), 0 decoded day(s), 0 events day(s) (0.0 MB of raw segments)
    """
    today = today or dt.datetime.now(dt.timezone.utc).date().isoformat()
    try:
        now = dt.date.fromisoformat(today)
    except ValueError as err:
        raise ConfigError(f"today={today!r}: expected YYYY-MM-DD") from err
    import pandas as pd

    rules = catalog.retention
    store = store or Store(catalog.store, catalog.storage_options)
    gap_ns = pd.Timedelta(catalog.trip_gap).value
    report = RetentionReport(today, dry_run)
    with JobLease(store, "decode", wait=wait), JobLease(store, "alerts", wait=wait):
        vehicles = sorted(set(list_vehicles(store)) | {
            n[len("vehicle="):] for kind in ("decoded", "events")
            for n in store.ls(kind) if n.startswith("vehicle=")})
        for vehicle in vehicles:
            rule = rule_for(rules, vehicle)
            if rule is None:
                continue
            for kind in KINDS:
                days = rule.days(kind)
                if days is None:
                    continue
                cutoff = (now - dt.timedelta(days=days)).isoformat()
                for date in _dates(store, f"{kind}/vehicle={vehicle}"):
                    if date >= cutoff:
                        continue
                    report.deleted[kind].append((vehicle, date))
                    if kind == "raw":
                        report.raw_bytes += _retire_raw(store, vehicle, date, gap_ns, dry_run)
                    elif not dry_run:
                        if kind == "decoded":
                            _retire_decoded(store, vehicle, date)
                        else:
                            store.rm(f"events/vehicle={vehicle}/date={date}")
    return report


def lifecycle_configuration(rules: list[RetentionRule], vehicles: list[str],
                            prefix: str = "") -> dict[str, Any]:
    """The S3 lifecycle configuration (``PutBucketLifecycleConfiguration`` body) of the
    policy for ``vehicles``: one rule per vehicle and kind, so that the catalog's first-match
    order holds exactly; regenerate it when vehicles are added.

    Example
    -------
    >>> rules = parse_retention([{"name": "ev", "vehicles": ["EV*"], "raw": 30}], None)
    >>> lifecycle_configuration(rules, ["EV0001", "TRUCK1"], "fleet")["Rules"][0]
    {'ID': 'cantelem-ev-raw-EV0001', 'Filter': {'Prefix': 'fleet/raw/vehicle=EV0001/'}, 'Status': 'Enabled', 'Expiration': {'Days': 30}}
    """
    base = prefix.strip("/") + "/" if prefix.strip("/") else ""
    out = []
    for vehicle in sorted(vehicles):
        rule = rule_for(rules, vehicle)
        if rule is None:
            continue
        for kind in KINDS:
            days = rule.days(kind)
            if days is not None:
                out.append({"ID": f"cantelem-{rule.name}-{kind}-{vehicle}"[:255],
                            "Filter": {"Prefix": f"{base}{kind}/vehicle={vehicle}/"},
                            "Status": "Enabled", "Expiration": {"Days": int(days)}})
    if len(out) > S3_MAX_RULES:
        raise ConfigError(f"the retention policy needs {len(out)} S3 lifecycle rules for "
                          f"{len(vehicles)} vehicles; S3 accepts at most {S3_MAX_RULES}: run "
                          "`cantelem retention` on a schedule instead")
    return {"Rules": out}


def put_lifecycle(store: Store, config: dict[str, Any]) -> dict[str, Any]:
    """Put ``config`` (:func:`lifecycle_configuration`) on the bucket of an S3 store, keeping
    the bucket's own rules (those whose ID does not start with ``cantelem-``); returns what
    the bucket holds afterwards.

    Raises
    ------
    ConfigError
        When the store is not on S3, or the bucket refuses (the error names the bucket).
    """
    if store.local or not str(store.url).startswith(("s3://", "s3a://")):
        raise ConfigError(f"{store.url}: a lifecycle configuration needs an S3 store")
    bucket = str(store.url).split("://", 1)[1].split("/", 1)[0]
    fs = store.fs
    try:
        try:
            have = fs.call_s3("get_bucket_lifecycle_configuration", Bucket=bucket)["Rules"]
        except Exception as err:  # no configuration yet is an error in S3's API
            if "NoSuchLifecycleConfiguration" not in f"{type(err).__name__} {err}":
                raise
            have = []
        keep = [r for r in have if not str(r.get("ID", "")).startswith("cantelem-")]
        rules = keep + config["Rules"]
        if len(rules) > S3_MAX_RULES:
            raise ConfigError(f"s3://{bucket}: {len(rules)} lifecycle rules with the bucket's "
                              f"own; S3 accepts at most {S3_MAX_RULES}")
        fs.call_s3("put_bucket_lifecycle_configuration", Bucket=bucket,
                   LifecycleConfiguration={"Rules": rules})
        return fs.call_s3("get_bucket_lifecycle_configuration", Bucket=bucket)
    except ConfigError:
        raise
    except Exception as err:
        raise ConfigError(f"s3://{bucket}: cannot set the lifecycle configuration: "
                          f"{type(err).__name__}: {err}") from err
