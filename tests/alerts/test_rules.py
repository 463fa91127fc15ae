"""Rule files: what is accepted, and each refusal naming file, line and rule."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cantelem_sci.alerts import load_rules, parse_duration
from cantelem_sci.errors import ConfigError, UnknownNameError

GOOD = """\
sinks:
  ops: {type: mqtt, url: "mqtt://127.0.0.1:1883"}
rules:
  - name: pack-overtemp
    signal: CellTempMax
    above: 60
    clear: 57
    for: 0s
    clear_for: 2s
    severity: critical
    message: "{vehicle} pack at {value:.1f} °C"
    sinks: [ops]
  - name: ecu-silent
    signal: MotorSpeed
    vehicles: "EV00*"
    absent: 2s
"""

SIGNALS = ["CellTempMax", "CellTempMin", "MotorSpeed", "PackVoltage"]


def write(tmp_path, text):
    p = tmp_path / "rules.yaml"
    p.write_text(text)
    return p


def test_good_file_reads(tmp_path):
    rs = load_rules(write(tmp_path, GOOD), signals=SIGNALS)
    hot, silent = rs.rules
    assert hot.threshold == 60 and hot.clear == 57 and hot.clear_for_s == 2.0
    assert hot.sinks == ("ops",) and hot.severity == "critical"
    assert silent.condition == "absent" and silent.threshold == 2.0
    assert silent.applies_to("EV0001") and not silent.applies_to("TRUCK1")
    assert hot.where.endswith("rules.yaml:4") and silent.where.endswith("rules.yaml:13")


def test_catalog_rules_section(tmp_path):
    p = tmp_path / "cat.yaml"
    p.write_text("metadata:\n  cantelem:\n    store: x\n    dbc_groups: []\n"
                 "    rules:\n      - {name: hot, signal: CellTempMax, above: 60}\n")
    assert [r.name for r in load_rules(p)] == ["hot"]


REFUSALS = [
    # (rule text, what the message must say)
    ("{name: hot, signal: CellTempMaks, above: 60}", "did you mean 'CellTempMax'"),
    ("{name: hot, signal: CellTempMax, above: 60, thresold: 3}", "unknown key of rule 'hot'"),
    ("{name: hot, signal: CellTempMax, above: 60, clear: 65}", "must be <= the threshold"),
    ("{name: cold, signal: CellTempMin, below: 0, clear: -5}", "must be >= the threshold"),
    ("{name: band, signal: PackVoltage, outside: [300, 400], clear: [290, 390]}",
     "must lie within"),
    ("{name: hot, signal: CellTempMax}", "exactly one condition"),
    ("{name: hot, signal: CellTempMax, above: 60, below: 10}", "exactly one condition"),
    ("{name: hot, signal: CellTempMax, above: 60, for: soon}", "expected a duration"),
    ("{name: hot, signal: CellTempMax, above: 60, severity: dire}", "unknown severity"),
    ("{name: hot, signal: CellTempMax, above: 60, sinks: [pager]}", "unknown sink"),
    ("{name: hot, signal: CellTempMax, above: 60, message: '{vehicel}'}", "message template"),
    ("{name: s, signal: MotorSpeed, absent: 2s, clear: 1}", "does not apply to absent"),
    ("{signal: MotorSpeed, above: 1}", "needs a 'name'"),
]


@pytest.mark.parametrize("rule,expected", REFUSALS)
def test_refusals_name_file_line_and_rule(tmp_path, rule, expected):
    p = write(tmp_path, f"rules:\n  - {{name: ok, signal: PackVoltage, above: 1}}\n  - {rule}\n")
    with pytest.raises((ConfigError, UnknownNameError)) as info:
        load_rules(p, signals=SIGNALS)
    msg = str(info.value)
    assert expected in msg
    assert f"{p}:3" in msg  # the file and the line of the offending rule
    if "name:" in rule and "name: s," not in rule:
        assert "'hot'" in msg or "'cold'" in msg or "'band'" in msg


def test_duplicate_name_and_unknown_top_level_key(tmp_path):
    with pytest.raises(ConfigError, match="used twice"):
        load_rules(write(tmp_path, "rules:\n  - {name: a, signal: X, above: 1}\n"
                                   "  - {name: a, signal: X, above: 2}\n"))
    with pytest.raises(UnknownNameError, match="did you mean 'rules'"):
        load_rules(write(tmp_path, "rule:\n  - {name: a, signal: X, above: 1}\n"))


def test_unreadable_and_invalid_yaml(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_rules(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_rules(write(tmp_path, "rules: [\n"))


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=200))
def test_any_text_is_read_or_refused_cleanly(text):
    try:
        load_rules(text if "\n" in text or ":" in text else "rules: " + text)
    except (ConfigError, UnknownNameError):
        pass


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.sampled_from(["name", "signal", "above", "below", "clear", "for",
                                        "absent", "outside", "vehicles", "severity", "x"]),
                       st.one_of(st.none(), st.integers(-5, 5), st.text(max_size=5),
                                 st.lists(st.integers(-5, 5), max_size=3))))
def test_any_rule_mapping_is_read_or_refused_cleanly(rule):
    try:
        load_rules({"rules": [rule]})
    except (ConfigError, UnknownNameError):
        pass


def test_parse_duration():
    assert parse_duration("500ms") == 0.5 and parse_duration("1h") == 3600.0
    with pytest.raises(ValueError):
        parse_duration(-1)
