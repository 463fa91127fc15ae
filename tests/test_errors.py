"""Every public function refuses bad input with a leaf of the package's error tree (which
also subclasses the builtin that describes it), never with a bare builtin or a foreign
library's error: a table of bad inputs per public function."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import cantelem_sci as ct
import importlib

from cantelem_sci import alerts, decoder, derived, io, kernels, sim, sources
from cantelem_sci.errors import CantelemError

frames = importlib.import_module("cantelem_sci.frames")  # (ct.frames is the function)

BUILTINS = (ValueError, KeyError, OSError, TypeError, RuntimeError)


def _db():
    return ct.load_dbc(ct.sample_dbc_path())


def _batch():
    return ct.simulate_vehicle(duration_s=1, seed=0)


X = np.arange(10.0)
Y = np.arange(10.0)

#: (public function, a call with bad input): every module's public functions
TABLE = [
    # top level and decoder
    ("load_dbc", lambda tmp: ct.load_dbc(tmp / "missing.dbc")),
    ("load_dbc", lambda tmp: ct.load_dbc([])),
    ("load_dbc", lambda tmp: ct.load_dbc(ct.sample_dbc_path(), j1939="maybe")),
    ("load_dbc", lambda tmp: ct.load_dbc(_write(tmp, "bad.dbc", "BO_ x y z\n"))),
    ("decode", lambda tmp: ct.decode(_batch(), "not a database")),
    ("decode", lambda tmp: ct.decode(_batch(), _db(), multiplexed="sparse")),
    ("decode_arrays", lambda tmp: decoder.decode_arrays(_batch(), _db(), multiplexed="x")),
    ("Database.get_message", lambda tmp: _db().get_message("NoSuchMessage")),
    ("message_infos", lambda tmp: decoder.message_infos("ev.dbc")),
    ("decode_obd", lambda tmp: ct.decode_obd("not frames")),
    ("decode_vehicle", lambda tmp: decoder.decode_vehicle(_batch(), "not a database")),
    ("gps_dataset", lambda tmp: decoder.gps_dataset({"latitude": [1.0]})),
    ("merge_fixes", lambda tmp: decoder.merge_fixes([{"latitude": [1.0]}])),
    ("transport_traffic", lambda tmp: decoder.transport_traffic(_batch(), ["odb2"])),
    ("Fleet.gps_track", lambda tmp: ct.open_fleet(str(tmp)).gps_track("EV9")),
    ("reassemble_isotp", lambda tmp: decoder.reassemble_isotp(np.zeros(2), np.zeros((3, 8)),
                                                              np.zeros(3))),
    ("peek_header", lambda tmp: decoder.peek_header(b"\x10" * 20)),
    ("UplinkSchema.from_dbc", lambda tmp: decoder.UplinkSchema.from_dbc(_db(), ["Speed"])),
    ("UplinkSchema.encode", lambda tmp: decoder.UplinkSchema.from_dbc(_db(), ["SOC"]).encode(
        {"SOC": -5.0}, "EV0001", 1, 0)),
    ("Fleet.uplink", lambda tmp: ct.open_fleet(str(tmp)).uplink("../x")),
    ("decode_j1939", lambda tmp: decoder.decode_j1939(b"\x18\xec\xff\x00")),
    ("decode_vehicle", lambda tmp: decoder.decode_vehicle(_batch(), None, ["odb2"])),
    ("check_protocols", lambda tmp: decoder.check_protocols(["j1850"], "catalog")),
    ("obd_decode_value", lambda tmp: decoder.obd_decode_value(
        decoder.OBD_PIDS[0x0C].fields[0], b"\x01")),
    ("obd_encode_value", lambda tmp: decoder.obd_encode_value(
        decoder.OBD_PIDS[0x0C].fields[0], "fast", bytearray(2))),
    ("simulate_obd_vehicle", lambda tmp: ct.simulate_obd_vehicle(duration_s=-1)),
    ("isotp_segment", lambda tmp: sim.isotp_segment(bytes(5000))),
    ("LeanDecoder", lambda tmp: decoder.LeanDecoder(decoder.message_infos(_db()), [(0, 10**6)])),
    ("frames", lambda tmp: ct.frames(np.arange(3), [1, 2], np.zeros((3, 8), np.uint8))),
    ("frames", lambda tmp: ct.frames(np.arange(2), [1, 2], np.zeros((2, 65), np.uint8))),
    ("frames", lambda tmp: ct.frames(np.arange(1), [2**30], np.zeros((1, 8), np.uint8),
                                     is_extended=[True])),
    ("read_log", lambda tmp: ct.read_log(_write(tmp, "x.blf", "garbage"))),
    ("read_log", lambda tmp: ct.read_log(_write(tmp, "x.unknownformat", "1 2 3\n"))),
    ("read_log", lambda tmp: ct.read_log(tmp / "missing.asc")),
    ("sources.get_reader", lambda tmp: sources.get_reader("nope")),
    ("write_log", lambda tmp: sources.write_log(ct.simulate_vehicle(duration_s=0.01),
                                                tmp / "x.mdf")),
    ("simulate_vehicle", lambda tmp: ct.simulate_vehicle(duration_s=-1)),
    ("simulate_fleet", lambda tmp: ct.simulate_fleet(n_vehicles=-2)),
    ("sim.Fault.parse", lambda tmp: sim.Fault.parse("overheat@soon")),
    ("sim.Fault.parse", lambda tmp: sim.Fault.parse("meltdown@3s")),
    ("encode_signals", lambda tmp: sim.encode_signals(_db().get_message("BMS_PackStatus"),
                                                      {"NoSuchSignal": [1.0]})),
    # frames: the segment format
    ("frames.read_array", lambda tmp: frames.read_array(_write(tmp, "a/zarr.json", "{}").parent)),
    ("frames.write_array", lambda tmp: frames.write_array(tmp / "w", np.array(["a"]),
                                                          chunks=(1,), level=1)),
    ("frames.check_schema", lambda tmp: frames.check_schema(ct.frames(
        np.arange(1), [1], np.zeros((1, 8), np.uint8)).drop_vars("dlc"))),
    # kernels
    ("lttb", lambda tmp: kernels.lttb(X, Y[:5], 3)),
    ("lttb", lambda tmp: kernels.lttb(X[::-1], Y, 3)),
    ("lttb", lambda tmp: kernels.lttb(X, Y, "3")),
    ("lttb", lambda tmp: kernels.lttb(X.astype(str), Y, 3)),
    ("minmax_lttb", lambda tmp: kernels.minmax_lttb(X, Y, 3, ratio=0)),
    ("m4", lambda tmp: kernels.m4(X, Y[:3], 4)),
    ("minmax", lambda tmp: kernels.minmax(X, Y[:3], 4)),
    ("downsample", lambda tmp: kernels.downsample(X, Y, 3, method="magic")),
    ("downsample", lambda tmp: kernels.downsample(X, Y, 3, gap=-1.0)),
    ("window_stats", lambda tmp: kernels.window_stats(X, Y, 0.0, 0.0, 3)),
    ("window_stats", lambda tmp: kernels.window_stats(X, Y[:3], 0.0, 1.0, 3)),
    ("window_quantiles", lambda tmp: kernels.window_quantiles(X, Y, 0.0, 2.0, 3, [1.5])),
    ("stats_combine", lambda tmp: kernels.stats_combine(kernels.stats_create(2),
                                                        kernels.stats_create(3))),
    ("moments_combine", lambda tmp: kernels.moments_combine(kernels.moments_create(2),
                                                            kernels.moments_create(3))),
    ("moments_append", lambda tmp: kernels.moments_append(kernels.moments_create(2),
                                                          [0, 1], [1.0])),
    ("moments_of", lambda tmp: kernels.moments_of(np.zeros((2, 2)))),
    # calculated signals
    ("parse", lambda tmp: derived.parse("PackVoltage *")),
    ("define", lambda tmp: derived.define("P", {"exp": "SOC"})),
    ("parse_derived", lambda tmp: derived.parse_derived(["P"], "c.yaml")),
    ("dependency_order", lambda tmp: derived.dependency_order(
        {"A": derived.define("A", "A + 1")})),
    ("operands", lambda tmp: derived.operands(derived.parse("SOCC"), ["SOC"])),
    ("evaluate", lambda tmp: derived.evaluate(derived.parse("1 + 2"), {})),
    ("evaluate", lambda tmp: derived.evaluate(derived.parse('rolling(A, "soon")'),
                                              {"A": (np.arange(3), X[:3])})),
    ("convert_units", lambda tmp: derived.convert_units(X, "km/h", "furlong")),
    ("hold_onto", lambda tmp: derived.hold_onto(np.arange(3), np.arange(2), X[:3], -1)),
    ("default_hold", lambda tmp: derived.default_hold("3s")),
    ("Fleet.load", lambda tmp: ct.open_fleet(str(tmp)).derived_for("EV9", {"P": "SOC +"})),
    # alerts
    ("load_rules", lambda tmp: alerts.load_rules(tmp / "missing.yaml")),
    ("load_rules", lambda tmp: alerts.load_rules(_write(tmp, "r.yaml", "rules: [{name: a}]\n"))),
    ("load_rules", lambda tmp: alerts.load_rules(_write(
        tmp, "r.yaml", "rules: [{name: a, signal: S, above: 1, clear: 5}]\n"))),
    ("parse_duration", lambda tmp: alerts.parse_duration("soon")),
    ("make_sink", lambda tmp: alerts.make_sink("pigeon", {})),
    ("evaluate", lambda tmp: alerts.evaluate({}, "not rules")),
    # io: live payloads and broker settings
    ("io.decode_message", lambda tmp: io.decode_message("cantelem/EV0001/signals", b"{",
                                                        "cantelem")),
    ("io.check_topic_segment", lambda tmp: io.check_topic_segment("a/b", "vehicle")),
    ("io.live_topic", lambda tmp: io.live_topic("cantelem", "EV#1", "signals")),
    # fleet
    ("load_catalog", lambda tmp: ct.load_catalog(tmp / "missing.yaml")),
    ("load_catalog", lambda tmp: ct.load_catalog(_write(tmp, "c.yaml", "- not a mapping\n"))),
    ("open_fleet", lambda tmp: ct.open_fleet(str(tmp), catalog=tmp / "missing.yaml")),
    ("Fleet.trips", lambda tmp: ct.open_fleet(str(tmp)).trips("")),
    ("Fleet.ecus", lambda tmp: ct.open_fleet(str(tmp)).ecus("CAR9")),
    ("Fleet.load", lambda tmp: ct.open_fleet(str(tmp)).load("EV9", ["Speed"])),
    ("evaluate_fleet", lambda tmp: ct.evaluate_fleet(str(tmp), rules={"rules": []},
                                                     vehicles=["a/b"])),
    ("decode_fleet", lambda tmp: ct.decode_fleet(str(tmp / "nowhere"), vehicles=["../x"])),
]


def _write(tmp, name: str, text: str):
    p = tmp / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return p


@pytest.mark.parametrize("name,call", TABLE, ids=[f"{n}-{i}" for i, (n, _) in enumerate(TABLE)])
def test_bad_input_raises_a_leaf_of_the_error_tree(name, call, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(Exception) as info:
            call(tmp_path)
    err = info.value
    assert isinstance(err, CantelemError), f"{name}: {type(err).__module__}.{type(err).__name__}: {err}"
    assert type(err) is not CantelemError and isinstance(err, BUILTINS), type(err)
    assert str(err), f"{name}: an empty message"


def test_every_public_module_is_in_the_table():
    """Each public function module with functions taking input has a row."""
    names = {n.split(".")[-1] for n, _ in TABLE}
    for mod, skip in ((kernels, {"stats_create", "stats_append", "stats_finalize", "breaks",
                                 "lttb_on_subset", "step", "moments_create",
                                 "moments_finalize"}),
                      (alerts, {"events_frame", "available_sinks", "register_sink"}),
                      (decoder, {"release_tree", "signal_layout", "uncached", "multiplexed_parts"}),
                      (derived, set())):
        funcs = {n for n in mod.__all__ if callable(getattr(mod, n)) and n[0].islower()}
        missing = funcs - names - skip
        assert not missing, f"{mod.__name__}: no bad-input row for {sorted(missing)}"
