"""The sample EV DBC and a deterministic fleet simulator."""

from ._fleet import sample_dbc_path, simulate_fleet, simulate_vehicle, vehicle_ids

__all__ = ["sample_dbc_path", "simulate_fleet", "simulate_vehicle", "vehicle_ids"]
