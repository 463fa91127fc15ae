"""The fleet alert job on a real LocalCluster: the events equal those of evaluating each
vehicle's data whole (events spanning midnight included), re-runs are incremental, and
``cantelem alerts`` prints and writes the same."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import cantelem_sci as ct
from cantelem_sci.errors import ConfigError

pytestmark = pytest.mark.slow

RULES = {"rules": [
    {"name": "fast", "signal": "VehicleSpeed", "above": 40, "clear": 30, "for": "2s"},
    {"name": "charged", "signal": "SOC", "above": 1},  # goes on across midnight, never ends
    {"name": "brake-rate", "signal": "VCU_Vehicle.BrakePedal", "rate_above": 50,
     "clear": 5, "clear_for": "1s"},
    {"name": "gps-silent", "signal": "Latitude", "absent": "0.3s"},
    {"name": "motor-hot", "signal": "MotorTemp", "outside": [-10, 30], "clear": [-5, 28]},
]}


@pytest.fixture
def store(decoded_store, tmp_path):
    src, batches, _ = decoded_store
    dst = tmp_path / "store"
    shutil.copytree(src, dst)
    return dst, batches


def _whole(batches):
    db = ct.load_dbc(ct.sample_dbc_path())
    return pd.concat([ct.alerts.evaluate(ct.decode(b, db), RULES, vehicle=v)
                      for v, b in batches.items()], ignore_index=True)


def _norm(df):
    return df.sort_values(["vehicle", "rule", "start"]).reset_index(drop=True)


def test_fleet_events_equal_whole_evaluation(store, cluster_client):
    path, batches = store
    rep = ct.evaluate_fleet(str(path), rules=RULES, client=cluster_client)
    assert len(rep.evaluated) == 2 and rep.events > 0
    fleet = ct.open_fleet(str(path))
    got = _norm(fleet.events())
    want = _norm(_whole(batches))
    assert len(want) > 5 and set(want["rule"]) >= {"fast", "charged", "motor-hot"}
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
    # the data spans midnight: an event that starts before it ends after (or goes on)
    midnight = pd.Timestamp("2026-03-02")
    spans = got[(got["start"] < midnight) & (got["end"].isna() | (got["end"] > midnight))]
    assert "charged" in set(spans["rule"])
    assert got[got["rule"] == "charged"]["end"].isna().all()
    # partitions by vehicle and start date, readable with pandas alone
    parts = sorted(p.relative_to(path).as_posix() for p in path.glob("events/**/*.parquet"))
    assert "events/vehicle=EV0001/date=2026-03-01/events.parquet" in parts
    one = fleet.events("EV0001", start="2026-03-02T00:00:00", rule="fast")
    assert set(one["vehicle"]) <= {"EV0001"} and set(one["rule"]) <= {"fast"}


def test_reruns_are_incremental_and_resume_across_days(store, cluster_client):
    path, batches = store
    ct.evaluate_fleet(str(path), rules=RULES, client=cluster_client)
    before = _norm(ct.open_fleet(str(path)).events())
    rep = ct.evaluate_fleet(str(path), rules=RULES, client=cluster_client)
    assert rep.skipped == 2 and not rep.evaluated  # nothing changed
    # EV0001's second day changes (re-decoded): only it is evaluated again, from that day
    state_file = path / "events" / "vehicle=EV0001" / "state.json"
    state = json.loads(state_file.read_text())
    assert [d["date"] for d in state["days"]] == ["2026-03-01", "2026-03-02"]
    state["days"][1]["version"] = "stale"
    state_file.write_text(json.dumps(state))
    rep = ct.evaluate_fleet(str(path), rules=RULES, client=cluster_client)
    assert rep.evaluated == [{"vehicle": "EV0001", "days": 1, "events": rep.events}]
    assert rep.skipped == 1
    pd.testing.assert_frame_equal(_norm(ct.open_fleet(str(path)).events()), before)
    # a changed rule set evaluates everything again
    changed = {"rules": RULES["rules"][:1]}
    rep = ct.evaluate_fleet(str(path), rules=changed, client=cluster_client)
    assert len(rep.evaluated) == 2
    assert set(ct.open_fleet(str(path)).events()["rule"]) == {"fast"}


def test_unknown_signal_is_refused_before_any_work(store, cluster_client):
    from cantelem_sci.fleet import default_catalog

    path, _ = store
    for catalog in (default_catalog(str(path)), None):  # None: the sample DBC, as decoded
        with pytest.raises(ConfigError, match="did you mean 'MotorTemp'"):
            ct.evaluate_fleet(str(path), rules={"rules": [{"name": "x", "signal": "MotorTmp",
                                                           "above": 1}]},
                              catalog=catalog, client=cluster_client)
    assert not (path / "events").exists()


def test_cli_alerts(store, tmp_path):
    path, _ = store
    rules = tmp_path / "rules.yaml"
    import yaml

    rules.write_text(yaml.safe_dump(RULES))
    out = subprocess.run([sys.executable, "-m", "cantelem_sci", "alerts", "--rules", str(rules),
                          "--store", str(path), "--workers", "1"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "evaluated 2 vehicle(s)" in out.stdout and "charged" in out.stdout
    assert np.any([p.name == "events.parquet" for p in path.glob("events/**/*")])


def test_rules_on_calculated_signals_equal_the_evaluator_fed_by_hand(store, cluster_client):
    """A rule on the default catalog's PackPower (PackVoltage * PackCurrent / 1000): the job's
    events equal the evaluator fed that product computed here from the decoded frames."""
    from cantelem_sci.alerts import VehicleEvaluator, events_frame, load_rules

    path, batches = store
    db = ct.load_dbc(ct.sample_dbc_path())
    power = {}
    for v, b in batches.items():
        df = ct.decode(b, db)["BMS_PackStatus"].to_dataset().to_dataframe().sort_index()
        power[v] = (df.index.values.astype("datetime64[ns]").view(np.int64),
                    (df["PackVoltage"] * df["PackCurrent"] / 1000).to_numpy())
    high = float(np.quantile(np.concatenate([p for _, p in power.values()]), 0.9))
    rules = {"rules": [{"name": "high-power", "signal": "PackPower", "above": high,
                        "clear": high * 0.9}]}
    rep = ct.evaluate_fleet(str(path), rules=rules, client=cluster_client)
    assert len(rep.evaluated) == 2
    want = []
    for v, (t, p) in power.items():
        ve = VehicleEvaluator(load_rules(rules), v)
        tr = ve.feed({"PackPower": (t, p)})
        want.append(events_frame(tr, [(v, r, e) for r, e in ve.open_events()]))
    want = _norm(pd.concat(want, ignore_index=True))
    got = _norm(ct.open_fleet(str(path)).events())
    assert len(want) > 2
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
