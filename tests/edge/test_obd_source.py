"""The active OBD-II source against the ECU simulator on python-can's virtual bus: through
the real edge logger, with a silent ECU, and with negative responses."""

from __future__ import annotations

import uuid

import can
import pytest
import xarray as xr

import cantelem_sci as ct
from cantelem_edge import EdgeLogger, load_config
from cantelem_edge._obd import ObdSource, parse_pids
from cantelem_sci.errors import ConfigError, UnknownNameError
from cantelem_sci.frames import FrameBatch
from cantelem_sci.sim import CarModel, EcuSimulator, ObdEcu

from ..conftest import wait_for


def _channel() -> str:
    return f"obd-{uuid.uuid4().hex[:8]}"


def _segments(spool) -> FrameBatch:
    segs = sorted(spool.glob("raw/vehicle=*/date=*/*.zarr"))
    ds = xr.concat([xr.open_zarr(s, consolidated=False) for s in segs], "frame")
    return FrameBatch.from_dataset(ds.sortby("time"))


def _run(tmp_path, spec: str, sim: EcuSimulator, seconds: float) -> tuple[EdgeLogger, dict]:
    cfg = load_config(spool=str(tmp_path), flush_interval=0.1, environ={}, sources=[spec],
                      vehicle="CAR0001")
    lg = EdgeLogger(cfg)
    with sim:
        lg.start()
        lg.run(duration=seconds)
        running = lg.status()["sources"][0]["running"]
        lg.stop()
    st = lg.status()
    st["sources"][0]["running_before_stop"] = running
    return lg, st


def test_polls_the_ecu_simulator_through_the_logger_and_decodes(tmp_path):
    ch = _channel()
    model = CarModel(seed=2)
    sim = EcuSimulator(can.Bus(interface="virtual", channel=ch),
                       [ObdEcu(model), ObdEcu(model, 0x7E9, (0x0D,), vin="", name="TCM")])
    lg, st = _run(tmp_path, f"obd:virtual:{ch}:pids=0C@10,VehicleSpeed@10,05@2", sim, 3.0)
    src = st["sources"][0]
    assert src["error"] is None
    bitmaps = [0x20, 0x40, 0x60, 0x80, 0xA0]  # "the next bitmap exists" bits
    assert src["ecus"] == {"7E8": sorted(f"{p:02X}" for p in ObdEcu(model).pids + bitmaps),
                           "7E9": ["0D"]}
    assert {"0C", "0D", "05"}.issubset(src["ecus"]["7E8"])
    assert src["answers"] > 20 and src["timeouts"] == 0
    frames = _segments(tmp_path)
    assert st["frames"]["durable"] == len(frames)
    ids = set(frames.arbitration_id.tolist())
    assert {0x7DF, 0x7E8, 0x7E9, 0x7E0}.issubset(ids)  # requests, answers, flow control
    tree = ct.decode_obd(frames)
    assert tree.attrs["obd2"]["7E8"]["VIN"] == "WCTOBD2SIMCAR0457"
    assert tree["OBD2_7E8_010C"].dataset.sizes["time"] > 10
    assert tree["OBD2_7E9_010D"].dataset.sizes["time"] > 10
    # the values are the car model's at the time asked (the simulator's clock started with it)
    rpm = tree["OBD2_7E8_010C"]["EngineSpeed"].values
    assert ((rpm >= 700) & (rpm <= 8000)).all()
    req = frames.arbitration_id == 0x7DF
    asked = {int(d[2]) for d in frames.data[req] if d[1] == 0x01}
    assert {0x0C, 0x0D, 0x05}.issubset(asked) and 0x11 not in asked  # only the list given


def test_a_silent_ecu_backs_off_and_nothing_crashes(tmp_path):
    ch = _channel()
    sim = EcuSimulator(can.Bus(interface="virtual", channel=ch), silent=True)
    lg, st = _run(tmp_path, f"obd:virtual:{ch}:pids=0C@20:timeout=0.05", sim, 1.5)
    src = st["sources"][0]
    assert src["error"] is None and src["running_before_stop"]
    assert src["ecus"] == {} and src["answers"] == 0
    frames = _segments(tmp_path)
    # discovery asked 0100 once; no polling of a vehicle that never answered
    data = frames.data[frames.arbitration_id == 0x7DF]
    assert [bytes(d[:3]) for d in data] == [bytes([2, 1, 0])]


def test_negative_responses_back_off_that_pid_and_are_recorded(tmp_path):
    ch = _channel()
    ecu = ObdEcu(CarModel(), negative={0x0D: 0x31})
    sim = EcuSimulator(can.Bus(interface="virtual", channel=ch), [ecu])
    lg, st = _run(tmp_path, f"obd:virtual:{ch}:pids=0C@10,0D@10", sim, 2.5)
    src = st["sources"][0]
    assert src["negative"] >= 2 and "0D" in src["backed_off"] and "0C" not in src["backed_off"]
    frames = _segments(tmp_path)
    asked = [int(d[2]) for d in frames.data[frames.arbitration_id == 0x7DF] if d[1] == 1]
    assert asked.count(0x0C) > 2 * asked.count(0x0D)  # 0D was backed off
    tree = ct.decode_obd(frames)
    assert tree.attrs["obd2"]["7E8"]["negative"]["01:31"] == asked.count(0x0D)


def test_ecu_simulator_abandons_a_transfer_without_flow_control():
    ch = _channel()
    with EcuSimulator(can.Bus(interface="virtual", channel=ch)):
        bus = can.Bus(interface="virtual", channel=ch)
        bus.send(can.Message(arbitration_id=0x7DF, data=[2, 9, 2, 0, 0, 0, 0, 0],
                             is_extended_id=False))
        first = bus.recv(1.0)
        assert first.data[0] >> 4 == 1  # a first frame, then nothing without flow control
        assert bus.recv(0.3) is None
        bus.send(can.Message(arbitration_id=0x7E0, data=[0x30, 0, 0, 0, 0, 0, 0, 0],
                             is_extended_id=False))
        assert wait_for(lambda: bus.recv(0.2) is not None, 3)
        bus.shutdown()


def test_pid_lists_are_checked_with_clear_errors():
    assert parse_pids("0C@5,EngineLoad@2") == {0x0C: 5.0, 0x04: 2.0}
    with pytest.raises(UnknownNameError, match="EngineSpeed"):
        parse_pids("EngineSped@5")
    with pytest.raises(ConfigError, match="PID 00"):
        parse_pids("00@1")
    with pytest.raises(ConfigError, match="rate"):
        parse_pids("0C@0")
    cfg = load_config(sources=["obd:virtual:x:pids=0C@500"], environ={})
    with pytest.raises(ConfigError, match="0C"):
        ObdSource(cfg.sources[0])
    cfg = load_config(sources=["obd:virtual:x:timeout=60"], environ={})
    with pytest.raises(ConfigError, match="timeout"):
        ObdSource(cfg.sources[0])


def test_obd_source_from_a_toml_table(tmp_path):
    f = tmp_path / "edge.toml"
    f.write_text('[[source]]\nkind = "obd"\ninterface = "virtual"\nchannel = "x"\n'
                 'pids = {"0C" = 5, "CoolantTemp" = 0.5}\ntimeout = 0.2\nextended = true\n')
    src = ObdSource(load_config(f, environ={}).sources[0])
    assert src.pids == {0x0C: 5.0, 0x05: 0.5} and src.timeout == 0.2
    assert src.functional == 0x18DB33F1
