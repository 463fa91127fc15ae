"""The uplink codec: exact round trip at DBC resolution (hypothesis), deltas, refusals."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cantelem_sci as ct
from cantelem_sci.decoder import UplinkSchema, peek_header
from cantelem_sci.errors import UnknownNameError, UplinkError

#: the demo's 20 most useful signals
SIGNALS = ["VehicleSpeed", "Odometer", "AccelPedal", "BrakePedal", "SOC", "PackVoltage",
           "PackCurrent", "BMS_State", "CellVoltageMin", "CellVoltageMax", "CellTempMax",
           "CellTempMin", "MotorSpeed", "MotorTorque", "MotorTemp", "InverterTemp",
           "CoolantInletTemp", "DCBusPower", "Latitude", "Longitude"]


@pytest.fixture(scope="module")
def schema():
    return UplinkSchema.from_dbc(ct.load_dbc(ct.sample_dbc_path()), SIGNALS)


def _values(data, schema, present=True):
    out = {}
    for f in schema.fields:
        if present or data.draw(st.booleans()):
            lo, hi = f.raw_range
            v = f.from_raw(data.draw(st.integers(lo, hi)))
            if v == v:  # (a NaN is an absent value: a float signal's NaN bit patterns)
                out[f.name] = v
    return out


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_round_trip_is_exact_at_dbc_resolution(schema, data):
    values = _values(data, schema, present=False)
    seq, t = data.draw(st.integers(0, 0xFFFF)), data.draw(st.integers(0, 2**47)) * 10**6
    snap = schema.decode(schema.encode(values, "EV0001", seq, t))
    assert snap.values == values and (snap.seq, snap.time_ns, snap.vehicle) == (seq, t, "EV0001")


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_delta_round_trip_is_exact(schema, data):
    base = _values(data, schema)
    key = schema.decode(schema.encode(base, "EV0001", 10, 10**18))
    values = {k: v for k, v in _values(data, schema, present=False).items()}
    pkt = schema.encode(values, "EV0001", 11, 10**18 + 10**9, base=base, base_seq=10)
    assert schema.decode(pkt, key).values == values


def test_twenty_signals_fit_64_bytes_and_beat_json(schema):
    import numpy as np

    tree = ct.decode(ct.simulate_vehicle(duration_s=30), ct.load_dbc(ct.sample_dbc_path()))
    values = {}
    for node in tree.children.values():
        for s in SIGNALS:
            if s in node.dataset and s not in values:
                v = node.dataset[s].values
                values[s] = float(v[~np.isnan(v)][-1])
    assert len(values) == 20
    pkt = schema.encode(values, "EV0001", 1, 10**18)
    assert len(pkt) <= 64
    assert len(pkt) * 4 < len(json.dumps({"vehicle": "EV0001", "seq": 1, "t": 10**18,
                                          "values": values}))


def test_a_value_that_does_not_fit_is_refused_naming_the_signal(schema):
    with pytest.raises(UplinkError, match="signal SOC = 250.0 does not fit its field"):
        schema.encode({"SOC": 250.0}, "EV0001", 1, 10**18)
    with pytest.raises(UnknownNameError, match="VehicleSpeed"):
        UplinkSchema.from_dbc(ct.load_dbc(ct.sample_dbc_path()), ["VehicleSped"])


def test_damaged_other_schema_and_missing_base_are_refused(schema):
    pkt = bytearray(schema.encode({"SOC": 50.0}, "EV0001", 1, 10**18))
    pkt[10] ^= 0x40
    with pytest.raises(UplinkError, match="CRC"):
        peek_header(bytes(pkt))
    other = UplinkSchema.from_dbc(ct.load_dbc(ct.sample_dbc_path()), ["SOC"])
    with pytest.raises(UplinkError, match="schema"):
        other.decode(schema.encode({"SOC": 50.0}, "EV0001", 1, 10**18))
    d = schema.encode({"SOC": 51.0}, "EV0001", 2, 10**18, base={"SOC": 50.0}, base_seq=1)
    with pytest.raises(UplinkError, match="needs snapshot 1"):
        schema.decode(d)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=80))
def test_any_bytes_are_refused_cleanly(schema, blob):
    try:
        schema.decode(blob)
    except UplinkError:
        pass
