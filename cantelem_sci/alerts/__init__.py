"""Alert rules, the one evaluator (live at the edge, in notebooks, over the fleet) and the
sinks that deliver alerts (MQTT, webhook, email).

Example
-------
>>> from cantelem_sci.alerts import load_rules
>>> rules = load_rules("rules: [{name: hot, signal: CellTempMax, above: 60, clear: 57}]")
>>> [r.name for r in rules]
['hot']
"""

from ._evaluate import (
    EVENT_COLUMNS,
    RuleEvaluator,
    Transition,
    VehicleEvaluator,
    evaluate,
    events_frame,
)
from ._rules import CONDITIONS, Rule, RuleSet, load_rules, parse_duration

__all__ = [
    "CONDITIONS",
    "EVENT_COLUMNS",
    "Rule",
    "RuleEvaluator",
    "RuleSet",
    "Transition",
    "VehicleEvaluator",
    "evaluate",
    "events_frame",
    "load_rules",
    "parse_duration",
]
