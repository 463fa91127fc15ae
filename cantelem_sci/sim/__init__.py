"""The sample EV DBC and a deterministic fleet simulator."""

from ._encode import encode_signals
from ._faults import FAULT_KINDS, Fault
from ._obd import CarModel, EcuSimulator, ObdEcu, isotp_segment, simulate_obd_vehicle
from ._fleet import sample_dbc_path, simulate_fleet, simulate_vehicle, vehicle_ids

__all__ = ["CarModel", "EcuSimulator", "FAULT_KINDS", "Fault", "ObdEcu", "encode_signals",
           "isotp_segment", "sample_dbc_path", "simulate_fleet", "simulate_obd_vehicle",
           "simulate_vehicle", "vehicle_ids"]
