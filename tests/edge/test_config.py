"""Edge configuration: precedence, validation, source specs; every input path fuzzed."""

from __future__ import annotations

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cantelem_edge import SourceConfig, check_vehicle_id, load_config
from cantelem_edge._config import VEHICLE_RE
from cantelem_sci.errors import ConfigError


def test_precedence_flag_over_env_over_file(tmp_path):
    f = tmp_path / "edge.toml"
    f.write_text('vehicle = "FILE1"\nspool = "/from/file"\nsegment_seconds = 30\n'
                 '[[source]]\nkind = "sim"\nrealtime = false\n')
    env = {"CANTELEM_EDGE_VEHICLE": "ENV1", "CANTELEM_EDGE_SEGMENT_SECONDS": "20"}
    cfg = load_config(f, environ=env, vehicle="FLAG1")
    assert cfg.vehicle == "FLAG1"  # flag wins
    assert cfg.segment_seconds == 20.0  # environment beats the file
    assert cfg.spool == "/from/file"  # the file beats the default
    assert cfg.sources[0].kind == "sim" and cfg.sources[0].realtime is False
    cfg = load_config(f, environ=env, sources=["can:virtual:bus1"])
    assert [s.kind for s in cfg.sources] == ["can"]  # --source replaces the file's


def test_example_config_in_the_repository_loads():
    from tests.conftest import ROOT

    cfg = load_config(ROOT / "edge" / "cantelem-edge.example.toml", environ={})
    assert cfg.sources and cfg.s3_url.startswith("s3://")


@pytest.mark.parametrize("text, match", [
    ("vehicle = \n", "not valid TOML"),
    ("nope = 1\n", "unknown key 'nope'; valid: .*compression_level"),
    ("segment_seconds = 'abc'\n", "segment_seconds = 'abc': expected float"),
    ("flush_interval = 5\n", "flush_interval must be at most 1 s"),
    ("quota_policy = 'yolo'\n", "valid: stop, delete-oldest"),
    ("[[source]]\nkind = 'carrier-pigeon'\n", "unknown kind 'carrier-pigeon'; valid: can, canfd"),
    ("[[source]]\nkind = 'can'\nwheels = 4\n", "unknown key.*wheels"),
    ("vehicle = '../etc'\n", "invalid vehicle id '../etc'"),
    ("s3_url = 'http://x'\n", "s3_url must start with s3://"),
])
def test_bad_config_file_names_file_and_problem(tmp_path, text, match):
    f = tmp_path / "bad.toml"
    f.write_text(text)
    with pytest.raises(ConfigError, match=match) as exc:
        load_config(f, environ={})
    if "TOML" in match or "unknown key 'nope'" in match:
        assert str(f) in str(exc.value)


def test_bad_environment_names_the_variable():
    with pytest.raises(ConfigError, match="environment CANTELEM_EDGE_QUOTA_BYTES"):
        load_config(environ={"CANTELEM_EDGE_QUOTA_BYTES": "lots"})


def test_missing_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="nothere.toml: cannot read"):
        load_config(tmp_path / "nothere.toml", environ={})


@given(st.text(max_size=80))
def test_vehicle_ids_are_safe_or_refused(vid):
    try:
        out = check_vehicle_id(vid)
    except ConfigError as err:
        assert "invalid vehicle id" in str(err)
        return
    assert out == vid and VEHICLE_RE.match(vid)
    assert "/" not in vid and "\\" not in vid and ".." not in vid and not vid.startswith(".")


@given(st.text(max_size=60))
def test_source_specs_parse_or_fail_clearly(spec):
    try:
        s = SourceConfig.parse(spec)
    except ConfigError as err:
        assert spec[:10] in str(err) or "unknown kind" in str(err)
        return
    assert s.kind in ("can", "canfd", "replay", "sim", "gps")


def test_source_specs():
    assert SourceConfig.parse("can:socketcan:can0:500000").bitrate == 500000
    s = SourceConfig.parse("sim:EV0009:20x")
    assert (s.vehicle, s.realtime, s.speed) == ("EV0009", True, 20.0)
    assert SourceConfig.parse("replay:/x/y.asc:fast").realtime is False
    assert SourceConfig.parse("gps:/dev/ttyUSB0:4800").baudrate == 4800


def test_credentials_are_masked():
    cfg = load_config(environ={"CANTELEM_EDGE_S3_KEY": "AKIAEXAMPLE",
                               "CANTELEM_EDGE_S3_SECRET": "s3cr3t"})
    red = cfg.redacted()
    assert red["s3_key"] == "***" and red["s3_secret"] == "***"
    assert "s3cr3t" not in repr(red)


def test_alert_rules_are_checked_at_start_and_their_secrets_masked(tmp_path, monkeypatch):
    import subprocess
    import sys

    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - {name: hot, signal: CellTempMax, above: 60, clear: 70}\n")
    out = subprocess.run([sys.executable, "-m", "cantelem_edge", "check-config",
                          "--alert-rules", str(bad)], capture_output=True, text=True)
    assert out.returncode == 2
    assert f"{bad}:2" in out.stderr and "'hot'" in out.stderr and "must be <=" in out.stderr
    bad.write_text("rules:\n  - {name: hot, signal: CellTempMaks, above: 60}\n")
    with pytest.raises(ConfigError, match=f"{bad}:2: rule 'hot': unknown signal 'CellTempMaks' "
                                          r"\(did you mean 'CellTempMax'"):
        load_config(alert_rules=str(bad))
    good = tmp_path / "good.yaml"
    good.write_text("sinks:\n  hook: {type: webhook, url: 'http://127.0.0.1:9/x', "
                    "secret: hush-hush}\n  ops: {type: mqtt, url: 'mqtt://u:pw-42@h:1883'}\n"
                    "rules: [{name: hot, signal: CellTempMax, above: 60}]\n")
    monkeypatch.setenv("CANTELEM_EDGE_ALERT_RULES", str(good))
    cfg = load_config(environ=dict(os.environ))
    assert cfg.alert_rules == str(good)
    assert {"hush-hush", "pw-42"} <= set(cfg.secrets())
    with pytest.raises(ConfigError, match="unknown setting of webhook sink 'hook' 'secrt'"):
        good.write_text("sinks:\n  hook: {type: webhook, url: 'http://x', secrt: a}\n"
                        "rules: [{name: hot, signal: CellTempMax, above: 60}]\n")
        load_config(alert_rules=str(good))
