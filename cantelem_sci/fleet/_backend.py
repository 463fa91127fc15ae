"""xarray backend: ``xr.open_dataset(store, engine="cantelem", vehicle=..., signals=...)`` and
``xr.open_datatree(store, engine="cantelem", vehicle=...)``."""

from __future__ import annotations

from typing import Any

from xarray.backends import BackendEntrypoint


class CantelemBackendEntrypoint(BackendEntrypoint):
    """Open decoded fleet data through xarray.

    Example
    -------
    With a decoded store (``cantelem demo``)::

        import xarray as xr
        xr.open_dataset("cantelem-data", engine="cantelem", vehicle="EV0001",
                        signals=["VehicleSpeed"])
    """

    description = "Decoded CAN telemetry of a cantelem_sci fleet store (local or s3://)"
    url = "https://github.com/cantelem/cantelem_sci"
    open_dataset_parameters = ("filename_or_obj", "drop_variables", "vehicle", "signals", "start",
                               "end", "max_points", "catalog", "storage_options")

    def open_dataset(self, filename_or_obj: Any, *, drop_variables: Any = None,
                     vehicle: str | None = None, signals: Any = None, start: Any = None,
                     end: Any = None, max_points: int | None = None, catalog: Any = None,
                     storage_options: dict | None = None, **kwargs: Any):
        from ..errors import ConfigError
        from ._open import open_fleet

        fleet = open_fleet(str(filename_or_obj), storage_options=storage_options, catalog=catalog,
                           refresh=False)
        if vehicle is None:
            raise ConfigError(f"{filename_or_obj}: give vehicle= (one of {fleet.vehicles})")
        if signals is None:
            signals = [s for s in fleet.signals(vehicle) if "." not in s]
        ds = fleet.load(vehicle, list(signals) if not isinstance(signals, str) else [signals],
                        start, end, max_points)
        if drop_variables:
            ds = ds.drop_vars([v for v in drop_variables if v in ds])
        return ds

    def open_datatree(self, filename_or_obj: Any, *, vehicle: str | None = None, start: Any = None,
                      end: Any = None, catalog: Any = None, storage_options: dict | None = None,
                      **kwargs: Any):
        import xarray as xr

        from ..errors import ConfigError
        from ._open import open_fleet

        fleet = open_fleet(str(filename_or_obj), storage_options=storage_options, catalog=catalog,
                           refresh=False)
        if vehicle is None:
            raise ConfigError(f"{filename_or_obj}: give vehicle= (one of {fleet.vehicles})")
        nodes = {f"/{m}": fleet.load(vehicle, [f"{m}.{s}" for s in sigs], start, end)
                 for m, sigs in fleet.messages(vehicle).items()}
        tree = xr.DataTree.from_dict(nodes)
        tree.attrs["vehicle"] = vehicle
        return tree

    def guess_can_open(self, filename_or_obj: Any) -> bool:
        return False  # only with engine="cantelem"
