"""The sample EV DBC and a deterministic fleet simulator."""

from ._encode import encode_signals
from ._faults import FAULT_KINDS, Fault
from ._fleet import sample_dbc_path, simulate_fleet, simulate_vehicle, vehicle_ids

__all__ = ["FAULT_KINDS", "Fault", "encode_signals", "sample_dbc_path", "simulate_fleet", "simulate_vehicle", "vehicle_ids"]
