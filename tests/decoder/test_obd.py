"""OBD-II decoding against python-OBD (the reference): the PID table on random bytes, and
the passive decode of the simulator's traffic response by response."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cantelem_sci as ct
from cantelem_sci.decoder import OBD_PIDS, decode_vehicle, obd_decode_value, obd_encode_value
from cantelem_sci.errors import ProtocolWarning, UnknownNameError
from cantelem_sci.frames import FrameBatch
from cantelem_sci.sim import CarModel, ObdEcu, isotp_segment

obd = pytest.importorskip("obd")
from obd.protocols import ISO_15765_4_11bit_500k  # noqa: E402

#: PIDs where python-OBD reads differently from SAE J1979 (checked on the inputs where
#: both agree): 0x1E reads the PTO bit as the most significant bit (J1979: bit A0); 0x32
#: reads A and B each as signed bytes (J1979: AB as one two's complement word)
DEVIATIONS = {0x1E: "bit order", 0x32: "byte-wise sign"}
#: which of our fields python-OBD's one value is, for PIDs with several
FIELD_OF = {**{p: 0 for p in range(0x14, 0x1C)}, **{p: 1 for p in range(0x24, 0x2C)},
            **{p: 1 for p in range(0x34, 0x3C)}, **{p: 0 for p in range(0x55, 0x59)}}
NOT_NUMERIC = {0x01, 0x03, 0x12, 0x13, 0x1C, 0x1D, 0x41, 0x51, 0x5F}  # status objects/strings


def _python_obd(lines: list[str], mode: int, pid: int):
    msgs = ISO_15765_4_11bit_500k([])(lines)
    for m in msgs:  # python-OBD keeps answers of the engine ECU only; the ECU is ours to say
        m.ecu = obd.protocols.ECU.ALL
    return obd.commands[mode][pid](msgs).value


def _line(ecu: int, frame: bytes) -> str:
    return f"{ecu:03X}" + frame.hex().upper()


SHARED = [p for p in sorted(OBD_PIDS) if p < len(obd.commands[1]) and obd.commands[1][p]
          and p not in NOT_NUMERIC]


def test_the_table_covers_the_40_most_used_pids_and_more():
    assert len([p for p in OBD_PIDS.values() if p.pid % 0x20]) >= 80
    assert len(SHARED) >= 60


@pytest.mark.parametrize("pid", SHARED, ids=lambda p: f"{p:02X}")
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_each_pid_decodes_as_python_obd(pid, data):
    p = OBD_PIDS[pid]
    raw = data.draw(st.binary(min_size=p.length, max_size=p.length))
    if pid == 0x32:
        raw = raw[:1] + bytes([raw[1] & 0x7F])  # python-OBD agrees only where B < 0x80
    payload = bytes([0x41, pid]) + raw
    ref = _python_obd([_line(0x7E8, f) for f in isotp_segment(payload)], 1, pid)
    if pid % 0x20 == 0:  # supported-PID bitmaps: a BitArray
        assert int(str(ref), 2) == obd_decode_value(p.fields[0], raw)
        return
    if pid == 0x1E:
        assert bool(ref) == bool(raw[0] & 0x80)  # python-OBD's bit; ours is A0 (J1979)
        return
    ours = obd_decode_value(p.fields[FIELD_OF.get(pid, 0)], raw)
    mag = getattr(ref, "magnitude", ref)
    # python-OBD divides by 65535 where J1979 says 65536 (wide-range O2): 1.5e-5 apart;
    # for 0x44 it rounds the scale 2/65536 to 0.0000305: 5.8e-4 apart
    assert mag == pytest.approx(ours, rel=6e-4 if pid == 0x44 else 2e-5, abs=1e-9)


def test_monitor_status_matches_python_obd():
    for a in (0x00, 0x83, 0x7F, 0xFF):
        payload = bytes([0x41, 0x01, a, 0x07, 0xE5, 0x00])
        ref = _python_obd([_line(0x7E8, isotp_segment(payload)[0])], 1, 0x01)
        p = OBD_PIDS[0x01]
        assert ref.MIL == bool(obd_decode_value(p.fields[0], payload[2:]))
        assert ref.DTC_count == obd_decode_value(p.fields[1], payload[2:])


@settings(max_examples=50, deadline=None)
@given(st.sampled_from(sorted(OBD_PIDS)), st.data())
def test_encode_then_decode_round_trips_at_resolution(pid, data):
    for f in OBD_PIDS[pid].fields:
        v = data.draw(st.floats(f.minimum, f.maximum))
        buf = bytearray(OBD_PIDS[pid].length)
        obd_encode_value(f, v, buf)
        assert obd_decode_value(f, bytes(buf)) == pytest.approx(v, abs=abs(f.scale) / 2 + 1e-9)


def _requests_and_answers(b: FrameBatch):
    """(request payload, {ecu: [frames of its answer]}) per request of a polling log."""
    out = []
    for i in range(len(b)):
        aid, d = int(b.arbitration_id[i]), bytes(b.data[i, :b.dlc[i]])
        if aid == 0x7DF:
            out.append((d[1:1 + d[0]], {}))
        elif 0x7E8 <= aid <= 0x7EF and out:
            out[-1][1].setdefault(aid, []).append(d)
    return out


def test_simulator_traffic_decodes_as_python_obd_response_by_response():
    b = ct.simulate_obd_vehicle("CAR0001", duration_s=40, seed=3)
    tree = ct.decode_obd(b)
    pos: dict[str, int] = {}
    checked = 0
    for req, answers in _requests_and_answers(b):
        for ecu, frames in answers.items():
            mode, pid = req[0], req[1]
            if mode != 1 or pid % 0x20 == 0 or pid not in SHARED:
                continue
            node = f"OBD2_{ecu:03X}_01{pid:02X}"
            k = pos.get(node, 0)
            pos[node] = k + 1
            ref = _python_obd([_line(ecu, f) for f in frames], 1, pid)
            f = OBD_PIDS[pid].fields[FIELD_OF.get(pid, 0)]
            got = float(tree[node][f.name].values[k])
            assert getattr(ref, "magnitude", ref) == pytest.approx(got, rel=2e-5), node
            checked += 1
    assert checked > 500
    assert all(tree[n].dataset.sizes["time"] == k for n, k in pos.items())


def test_decoded_values_follow_the_car_model_within_resolution():
    b = ct.simulate_obd_vehicle("CAR0001", duration_s=30, seed=0)
    tree = ct.decode_obd(b)
    rpm = tree["OBD2_7E8_010C"].dataset
    t0 = np.datetime64("2026-01-05T07:45:00", "ns")
    # the ECU encodes the value at the request time; the answer comes 5-25 ms later
    req = (rpm["time"].values - t0) / np.timedelta64(1, "s")
    model = CarModel(0).values(req)["EngineSpeed"]
    assert np.abs(rpm["EngineSpeed"].values - model).max() < 25  # 25 ms of a changing rpm
    assert rpm["EngineSpeed"].attrs["units"] == "rpm"
    assert tree["OBD2_7E9_010D"].dataset.sizes["time"] > 0  # the transmission answers too


def test_vin_ecu_name_and_supported_pids_per_ecu():
    tree = ct.decode_obd(ct.simulate_obd_vehicle(duration_s=1))
    info = tree.attrs["obd2"]
    assert info["7E8"]["VIN"] == "WCTOBD2SIMCAR0457"
    assert info["7E8"]["ECUName"] == "ECM-EngineControl"
    assert {0x0C, 0x0D, 0x05}.issubset(info["7E8"]["supported_pids"])
    assert info["7E9"]["supported_pids"] == [0x0D]
    ref = _python_obd([_line(0x7E8, f) for f in isotp_segment(
        ObdEcu(CarModel()).respond(bytes([9, 2]), 0.0))], 9, 2)
    assert ref.decode() == info["7E8"]["VIN"]


def _batch(rows: list[tuple[float, int, bytes]], ext: bool = False) -> FrameBatch:
    data = np.zeros((len(rows), 8), np.uint8)
    for i, (_, _, f) in enumerate(rows):
        data[i, :len(f)] = np.frombuffer(f, np.uint8)
    t = np.array([r[0] * 1e9 for r in rows], np.int64)
    return FrameBatch.from_arrays(t, np.array([r[1] for r in rows]), data,
                                  is_extended=np.full(len(rows), ext))


def test_multi_pid_answers_freeze_frames_and_29_bit_ids():
    ecu = ObdEcu(CarModel(), address=0x18DAF110)
    multi = ecu.respond(bytes([0x01, 0x0C, 0x0D, 0x05]), 60.0)
    freeze = ecu.respond(bytes([0x02, 0x05, 0x00]), 60.0)
    rows = [(1.0 + i * 0.001, 0x18DAF110, f) for i, f in enumerate(isotp_segment(multi))]
    rows += [(2.0, 0x18DAF110, isotp_segment(freeze)[0])]
    tree = ct.decode_obd(_batch(rows, ext=True))
    vals = CarModel().values(np.array([60.0]))
    assert tree["OBD2_18DAF110_010C"]["EngineSpeed"].values[0] == pytest.approx(
        vals["EngineSpeed"][0], abs=0.125)
    assert tree["OBD2_18DAF110_010D"]["VehicleSpeed"].values[0] == round(vals["VehicleSpeed"][0])
    assert tree["OBD2_18DAF110_0205"]["FF_CoolantTemp"].values[0] == pytest.approx(
        vals["CoolantTemp"][0], abs=0.5)
    assert tree["OBD2_18DAF110_0205"]["FreezeFrame"].values[0] == 0
    assert tree["OBD2_18DAF110_010C"].attrs["is_extended"] == 1


def test_negative_answers_and_lost_frames_are_counted_not_invented():
    vin = isotp_segment(bytes([0x49, 0x02, 0x01]) + b"WCTOBD2SIMCAR0457")
    rows = [(1.0, 0x7E8, bytes([0x03, 0x7F, 0x01, 0x31])),  # request out of range
            (2.0, 0x7E8, vin[0]), (2.01, 0x7E8, vin[2]),  # the 2nd frame is lost
            (3.0, 0x7E8, isotp_segment(bytes([0x41, 0x0D, 0x32]))[0])]
    with pytest.warns(ProtocolWarning, match="lost_or_out_of_order"):
        tree = ct.decode_obd(_batch(rows))
    info = tree.attrs["obd2"]["7E8"]
    assert info["negative"] == {"01:31": 1}
    assert "VIN" not in info
    assert info["problems"] == {"lost_or_out_of_order": 1}
    assert tree["OBD2_7E8_010D"]["VehicleSpeed"].values.tolist() == [50.0]


def test_unknown_pid_in_an_answer_is_warned_and_the_rest_kept():
    rows = [(1.0, 0x7E8, bytes([0x05, 0x41, 0x0D, 0x32, 0xE7, 0x01]))]
    with pytest.warns(ProtocolWarning, match="unknown PID"):
        tree = ct.decode_obd(_batch(rows))
    assert tree["OBD2_7E8_010D"]["VehicleSpeed"].values.tolist() == [50.0]


def test_vehicle_with_dbc_and_obd_keeps_dbc_ids_for_the_dbc():
    ev = ct.simulate_vehicle("EV0001", duration_s=3)
    car = ct.simulate_obd_vehicle(duration_s=3, start=np.datetime64(int(ev.time[0]), "ns"))
    both = FrameBatch.concat([ev, car])
    both = both.take(np.argsort(both.time, kind="stable"))
    db = ct.load_dbc(ct.sample_dbc_path())
    with warnings.catch_warnings():
        warnings.simplefilter("error", ct.errors.UnknownFramesWarning)
        tree = decode_vehicle(both, db, ["obd2"])  # OBD-II frames are not "unknown"
    assert "VCU_Vehicle" in tree.children and "OBD2_7E8_010D" in tree.children
    assert tree.attrs["frames_obd2"] == len(car)
    assert tree.attrs["frames_total"] == len(both)
    with pytest.raises(UnknownNameError, match="obd2"):
        decode_vehicle(both, db, ["obd"])


def _accord(batch):
    from .obd_reference import reference

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tree = ct.decode_obd(batch)
        nodes, info = reference(batch)
    assert tree.attrs["obd2"] == info
    assert sorted(tree.children) == sorted(nodes)
    for name, (t, ch, data) in nodes.items():
        ds = tree[name].dataset
        assert ds["time"].values.view("int64").tolist() == t.tolist(), name
        assert ds["channel"].values.tolist() == ch.tolist(), name
        pid = int(name[-2:], 16)
        p = OBD_PIDS[pid]
        prefix = "FF_" if name[-4:-2] == "02" else ""
        for f in p.fields:
            np.testing.assert_array_equal(ds[prefix + f.name].values,
                                          obd_decode_value(f, data), err_msg=name)


def test_fused_scan_agrees_with_the_step_by_step_decode_on_simulator_traffic():
    _accord(ct.simulate_obd_vehicle("CAR0001", duration_s=60, seed=5))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([0x7E8, 0x7E9, 0x18DAF110, 0x7DF, 0x100]),
                          st.sampled_from([0, 1]),
                          st.one_of(st.binary(min_size=1, max_size=8),
                                    st.builds(lambda pid, a: bytes([3, 0x41, pid, a]),
                                              st.sampled_from([0x0C, 0x0D, 0x05, 0x00, 0x99]),
                                              st.integers(0, 255)),
                                    st.builds(lambda k: bytes([0x10, 20, 0x49, 2, 1]) + b"ABC"
                                              if k == 0 else bytes([0x20 + k]) + b"DEFGHIJ",
                                              st.integers(0, 3)))),
                max_size=60))
def test_fused_scan_agrees_on_any_frames(rows):
    data = np.zeros((len(rows), 8), np.uint8)
    for i, (_, _, d) in enumerate(rows):
        data[i, :len(d)] = np.frombuffer(d, np.uint8)
    b = FrameBatch.from_arrays(np.arange(len(rows)) * 1000, [r[0] for r in rows], data,
                               dlc=np.array([len(r[2]) for r in rows], np.uint8),
                               is_extended=np.array([r[0] > 0x7FF for r in rows]),
                               channel=np.array([r[1] for r in rows], np.uint8),
                               channel_names=["can0", "can1"])
    _accord(b)
