"""Retention: days older than each vehicle group's policy go (raw, decoded, events); the
decoded days of deleted raw days stay, are never decoded again, and every store still opens;
the same policy as an S3 lifecycle configuration on a (moto) bucket."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cantelem_sci as ct
from cantelem_edge import ingest
from cantelem_sci.errors import CantelemError, ConfigError, StoreBusyError
from cantelem_sci.fleet import (Store, apply_retention, lifecycle_configuration, load_catalog)
from cantelem_sci.fleet._lease import JobLease
from cantelem_sci.fleet._retention import parse_retention, put_lifecycle

pytestmark = pytest.mark.slow

DAYS = ("2026-11-01", "2026-11-20", "2026-12-02")
TODAY = "2026-12-03"
CATALOG = """\
metadata:
  version: 1
  cantelem:
    store: "{{ CATALOG_DIR }}/store"
    dbc_groups:
      - {name: all, vehicles: ["*"], dbc: "DBC"}
    retention:
      - {name: ev, vehicles: ["EV*"], raw: 10, decoded: 25}
      - {name: rest, vehicles: ["*"], raw: 20}
"""


def _catalog(root: Path, dbc: str) -> str:
    p = root / "catalog.yaml"
    p.write_text(CATALOG.replace("DBC", dbc))
    return str(p)


def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")
                  if p.is_file() and ".locks" not in p.parts)


@pytest.fixture
def fleet(tmp_path, cluster_client):
    store = tmp_path / "store"
    for i, v in enumerate(("EV0001", "TRUCK01")):
        for day in DAYS:
            b = ct.simulate_vehicle(v, duration_s=30, seed=i, index=i, start=f"{day}T08:00:00")
            ingest(b, v, str(store))
    path = _catalog(tmp_path, ct.sample_dbc_path())
    rep = ct.decode_fleet(str(store), catalog=path, client=cluster_client, progress=False)
    assert len(rep.decoded) == 6
    return store, path


def _dates(store: Path, kind: str, vehicle: str) -> list[str]:
    return sorted(p.name[5:] for p in (store / kind / f"vehicle={vehicle}").glob("date=*"))


def test_a_dry_run_says_what_would_go_and_deletes_nothing(fleet):
    store, path = fleet
    before = _tree(store)
    rep = apply_retention(load_catalog(path), today=TODAY, dry_run=True)
    assert rep.deleted["raw"] == [("EV0001", "2026-11-01"), ("EV0001", "2026-11-20"),
                                  ("TRUCK01", "2026-11-01")]
    assert rep.deleted["decoded"] == [("EV0001", "2026-11-01")]
    assert rep.raw_bytes > 0 and str(rep).startswith(f"retention ({TODAY}): would delete 3 raw")
    assert _tree(store) == before


def test_old_days_go_and_decoded_days_of_deleted_raw_stay(fleet, cluster_client, tmp_path):
    store, path = fleet
    fl = ct.open_fleet(str(store), catalog=path)
    kept = fl.load("TRUCK01", "VehicleSpeed", "2026-11-01", "2026-11-02")
    trips_before = fl.trips("EV0001")
    rep = apply_retention(load_catalog(path), today=TODAY)
    assert len(rep.deleted["raw"]) == 3 and len(rep.deleted["decoded"]) == 1
    assert _dates(store, "raw", "EV0001") == ["2026-12-02"]
    assert _dates(store, "raw", "TRUCK01") == ["2026-11-20", "2026-12-02"]
    assert _dates(store, "decoded", "EV0001") == ["2026-11-20", "2026-12-02"]
    assert _dates(store, "decoded", "TRUCK01") == list(DAYS)
    # the store still opens, the decoded data of deleted raw days read the same, trips too
    fl = ct.open_fleet(str(store), catalog=path)
    again = fl.load("TRUCK01", "VehicleSpeed", "2026-11-01", "2026-11-02")
    assert again.equals(kept) and again.sizes["time"] > 0
    trips = fl.trips("EV0001")
    assert list(trips["trip_id"]) == [t for t in trips_before["trip_id"]
                                      if not t.startswith("EV0001-20261101")]
    # a changed DBC decodes the days that have raw data again, and leaves the others
    versions = {d: json.loads((store / f"decoded/vehicle=TRUCK01/date={d}/current.json")
                              .read_text())["version"] for d in DAYS}
    dbc = tmp_path / "changed.dbc"
    dbc.write_text(Path(ct.sample_dbc_path()).read_text() + '\nCM_ "a new comment";\n')
    rep = ct.decode_fleet(str(store), catalog=_catalog(tmp_path, str(dbc)),
                          client=cluster_client, progress=False)
    assert sorted((d["vehicle"], d["date"]) for d in rep.decoded) == [
        ("EV0001", "2026-12-02"), ("TRUCK01", "2026-11-20"), ("TRUCK01", "2026-12-02")]
    assert not rep.quarantined
    after = {d: json.loads((store / f"decoded/vehicle=TRUCK01/date={d}/current.json")
                           .read_text())["version"] for d in DAYS}
    assert after["2026-11-01"] == versions["2026-11-01"]
    assert after["2026-11-20"] != versions["2026-11-20"]
    assert _dates(store, "decoded", "EV0001") == ["2026-11-20", "2026-12-02"]  # not re-made
    # a second run has nothing left to do
    rep = apply_retention(load_catalog(path), today=TODAY)
    assert not any(rep.deleted.values())


def test_retention_waits_for_no_running_job(fleet):
    store, path = fleet
    with JobLease(Store(str(store)), "decode"):
        with pytest.raises(StoreBusyError, match="decode"):
            apply_retention(load_catalog(path), today=TODAY)
    assert _dates(store, "raw", "EV0001") == list(DAYS)


def test_the_command_line(fleet):
    store, path = fleet
    run = [sys.executable, "-m", "cantelem_sci", "retention", "--catalog", path,
           "--today", TODAY]
    out = subprocess.run(run + ["--dry-run"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "would delete 3 raw day(s), 1 decoded day(s), 0 events day(s)" in out.stdout
    out = subprocess.run(run + ["--s3-lifecycle", "-"], capture_output=True, text=True)
    rules = json.loads(out.stdout)["Rules"]
    assert {r["ID"]: r["Expiration"]["Days"] for r in rules} == {
        "cantelem-ev-raw-EV0001": 10, "cantelem-ev-decoded-EV0001": 25,
        "cantelem-rest-raw-TRUCK01": 20}
    out = subprocess.run(run, capture_output=True, text=True)
    assert out.returncode == 0 and "deleted 3 raw day(s)" in out.stdout
    assert _dates(store, "raw", "EV0001") == ["2026-12-02"]


@pytest.mark.s3
def test_the_policy_as_a_bucket_lifecycle_keeps_the_buckets_own_rules(moto_s3, s3_bucket):
    fs = moto_s3.fs()
    own = {"ID": "logs-expire", "Filter": {"Prefix": "logs/"}, "Status": "Enabled",
           "Expiration": {"Days": 7}}
    fs.call_s3("put_bucket_lifecycle_configuration", Bucket=s3_bucket,
               LifecycleConfiguration={"Rules": [own]})
    store = Store(f"s3://{s3_bucket}/fleet",
                  {"client_kwargs": {"endpoint_url": moto_s3.endpoint_url}})
    rules = parse_retention([{"name": "ev", "vehicles": ["EV*"], "raw": 30, "decoded": 365}],
                            "c.yaml")
    config = lifecycle_configuration(rules, ["EV0001", "EV0002", "BUS9"], "fleet")
    got = put_lifecycle(store, config)
    by_id = {r["ID"]: r for r in got["Rules"]}
    assert set(by_id) == {"logs-expire", "cantelem-ev-raw-EV0001", "cantelem-ev-decoded-EV0001",
                          "cantelem-ev-raw-EV0002", "cantelem-ev-decoded-EV0002"}
    assert by_id["cantelem-ev-raw-EV0002"]["Filter"]["Prefix"] == "fleet/raw/vehicle=EV0002/"
    assert by_id["cantelem-ev-decoded-EV0001"]["Expiration"]["Days"] == 365
    # applied again with a changed policy: replaced, not added
    rules[0].raw = 14
    got = put_lifecycle(store, lifecycle_configuration(rules, ["EV0001"], "fleet"))
    assert sorted((r["ID"], r["Expiration"]["Days"]) for r in got["Rules"]) == [
        ("cantelem-ev-decoded-EV0001", 365), ("cantelem-ev-raw-EV0001", 14),
        ("logs-expire", 7)]


def test_a_local_store_has_no_bucket_lifecycle(tmp_path):
    with pytest.raises(ConfigError, match="needs an S3 store"):
        put_lifecycle(Store(str(tmp_path)), {"Rules": []})


@settings(max_examples=80, deadline=None)
@given(st.lists(st.dictionaries(
    st.sampled_from(["name", "vehicles", "raw", "decoded", "events", "keep"]),
    st.one_of(st.none(), st.integers(-5, 400), st.booleans(), st.text(max_size=5),
              st.lists(st.text(max_size=4), max_size=3))), max_size=3))
def test_any_retention_block_is_read_or_refused_naming_the_rule(items):
    try:
        rules = parse_retention(items, "cat.yaml")
    except ConfigError as err:
        assert str(err).startswith("cat.yaml: retention[")
        assert isinstance(err, CantelemError)
    else:
        for rule in rules:
            for kind in ("raw", "decoded", "events"):
                days = rule.days(kind)
                assert days is None or (isinstance(days, int) and days >= 1)
