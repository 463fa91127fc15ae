"""Alert rules, the one evaluator (live at the edge, in notebooks, over the fleet) and the
sinks that deliver alerts (MQTT, webhook, email).

Example
-------
>>> from cantelem_sci.alerts import load_rules
>>> rules = load_rules("rules: [{name: hot, signal: CellTempMax, above: 60, clear: 57}]")
>>> [r.name for r in rules]
['hot']
"""

from ._engine import AlertEngine
from ._evaluate import (
    EVENT_COLUMNS,
    RuleEvaluator,
    Transition,
    VehicleEvaluator,
    evaluate,
    events_frame,
)
from ._outbox import Dispatcher, Outbox
from ._rules import CONDITIONS, Rule, RuleSet, load_rules, parse_duration
from ._sinks import (
    AlertSink,
    EmailSink,
    MqttSink,
    WebhookSink,
    available_sinks,
    make_sink,
    register_sink,
)

__all__ = [
    "AlertEngine",
    "AlertSink",
    "CONDITIONS",
    "Dispatcher",
    "EmailSink",
    "MqttSink",
    "Outbox",
    "WebhookSink",
    "available_sinks",
    "make_sink",
    "register_sink",
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
