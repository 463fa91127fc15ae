"""Fleet catalogs: YAML naming the store of a fleet and the DBC set of each vehicle group.

The files in ``catalogs/`` are Intake catalogs (version 1 YAML: ``metadata`` and ``sources``,
readable with ``intake.open_catalog`` and intake-xarray); this module reads the
``metadata.cantelem`` block itself, so intake is optional::

    metadata:
      version: 1
      cantelem:
        store: "{{ CATALOG_DIR }}/../cantelem-data"     # or s3://bucket/prefix
        storage_options: {}
        trip_gap: 5min
        dbc_groups:                                    # first match wins
          - name: ev
            vehicles: ["EV*"]                          # fnmatch patterns
            dbc:                                       # per channel; "*" = every channel
              "*": ["{{ PACKAGE_DATA }}/ev.dbc"]
          - name: cars
            vehicles: ["CAR*"]
            protocols: [obd2]                          # OBD-II PIDs, no DBC needed

Templates: ``{{ CATALOG_DIR }}`` (the catalog's folder), ``{{ PACKAGE_DATA }}`` (the
package's data folder, e.g. the sample ``ev.dbc``), ``{{ env(NAME) }}``.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from ..decoder import PROTOCOLS, check_protocols
from ..errors import ConfigError, UnknownNameError


@dataclass
class DbcGroup:
    """Vehicles matching ``vehicles`` decode with ``dbc`` ({channel or "*": [paths]}, may be
    empty) and the diagnostic ``protocols`` (``"obd2"``)."""

    name: str
    vehicles: list[str]
    dbc: dict[str, list[str]]
    protocols: list[str] = field(default_factory=list)

    def matches(self, vehicle: str) -> bool:
        return any(fnmatch.fnmatchcase(vehicle, p) for p in self.vehicles)

    def spec(self) -> Any:
        """The argument for :func:`cantelem_sci.load_dbc`."""
        if set(self.dbc) == {"*"}:
            return list(self.dbc["*"])
        return {k: list(v) for k, v in self.dbc.items()}


@dataclass
class Catalog:
    """A fleet catalog (see the module docstring)."""

    store: str
    storage_options: dict[str, Any] = field(default_factory=dict)
    groups: list[DbcGroup] = field(default_factory=list)
    trip_gap: str = "5min"
    path: str | None = None
    #: retention rules (:mod:`._retention`), first match wins; empty: keep everything
    retention: list[Any] = field(default_factory=list)
    #: calculated signals ({name: :class:`cantelem_sci.derived.DerivedSignal`})
    derived: dict[str, Any] = field(default_factory=dict)

    def group_for(self, vehicle: str) -> DbcGroup:
        for g in self.groups:
            if g.matches(vehicle):
                return g
        raise UnknownNameError(f"DBC group for vehicle {vehicle!r} (catalog {self.path})",
                               vehicle, [f"{g.name}: {', '.join(g.vehicles)}" for g in self.groups])

    def database(self, vehicle: str):
        """The loaded (cached) DBC database of ``vehicle``'s group (None: no DBC)."""
        return load_group_dbc(self.group_for(vehicle))

    def signal_names(self, vehicle: str) -> set[str]:
        """Every signal ``vehicle`` can have (``Signal`` and ``Message.Signal``): its DBC's
        and its protocols'."""
        from ..decoder import OBD_PIDS

        group = self.group_for(vehicle)
        known: set[str] = set()
        db = load_group_dbc(group)
        for m in db.messages if db is not None else ():
            for s in m.signals:
                known.update((s.name, f"{m.name}.{s.name}"))
        if "obd2" in group.protocols:
            for p in OBD_PIDS.values():
                known.update(f.name for f in p.fields)
        return known


def _package_data() -> str:
    return str(resources.files("cantelem_sci") / "data")


_TPL = re.compile(r"\{\{\s*(CATALOG_DIR|PACKAGE_DATA|env\(([A-Za-z_][A-Za-z0-9_]*)\))\s*\}\}")


def _expand(value: Any, catalog_dir: str) -> Any:
    if isinstance(value, str):
        def sub(m: re.Match) -> str:
            if m.group(1) == "CATALOG_DIR":
                return catalog_dir
            if m.group(1) == "PACKAGE_DATA":
                return _package_data()
            return os.environ.get(m.group(2), "")
        return _TPL.sub(sub, value)
    if isinstance(value, list):
        return [_expand(v, catalog_dir) for v in value]
    if isinstance(value, dict):
        return {k: _expand(v, catalog_dir) for k, v in value.items()}
    return value


#: the calculated signals of the embedded default (the sample EV DBC's pack and cells)
DEFAULT_DERIVED = {
    "PackPower": {"expr": "PackVoltage * PackCurrent / 1000", "unit": "kW",
                  "description": "pack power (positive: discharge)"},
    "PackEnergy": {"expr": 'integrate(PackPower, "h")', "unit": "kWh",
                   "description": "energy out of the pack since the start of the range"},
    "CellSpread": {"expr": "(max(Cell*_Voltage) - min(Cell*_Voltage)) * 1000", "unit": "mV",
                   "description": "highest minus lowest cell voltage"},
}


def default_catalog(store: str, storage_options: dict | None = None) -> Catalog:
    """Every vehicle decoded with the sample EV DBC on every channel, and its OBD-II traffic,
    with the calculated signals of :data:`DEFAULT_DERIVED` (the embedded default)."""
    from ..derived import parse_derived

    return Catalog(store=store, storage_options=dict(storage_options or {}),
                   groups=[DbcGroup("default", ["*"],
                                    {"*": [str(Path(_package_data()) / "ev.dbc")]},
                                    ["obd2"])],
                   derived=parse_derived(DEFAULT_DERIVED, "default catalog"))


def load_catalog(path: str | os.PathLike[str]) -> Catalog:
    """Read a catalog YAML file.

    Raises
    ------
    ConfigError
        Naming the file and what is wrong.

    Example
    -------
    >>> from pathlib import Path
    >>> import cantelem_sci
    >>> root = Path(cantelem_sci.__file__).parents[1]
    >>> cat = load_catalog(root / "catalogs" / "demo.yaml")
    >>> cat.group_for("EV0001").name
    'ev'
    """
    import yaml

    path = os.path.abspath(os.fspath(path))
    try:
        with open(path) as fh:
            text = fh.read()
        doc = yaml.safe_load(text)
    except OSError as err:
        raise ConfigError(f"{path}: cannot read the catalog: {err.strerror}") from err
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from err
    if not isinstance(doc, (dict, type(None))) or not isinstance(
            (doc or {}).get("metadata") or {}, dict):
        raise ConfigError(f"{path}: expected a mapping with metadata.cantelem (store and "
                          f"dbc_groups), got {type(doc).__name__}")
    meta = ((doc or {}).get("metadata") or {}).get("cantelem")
    if not isinstance(meta, dict):
        raise ConfigError(f"{path}: no metadata.cantelem block (store and dbc_groups)")
    meta = _expand(meta, os.path.dirname(path))
    if "store" not in meta:
        raise ConfigError(f"{path}: metadata.cantelem.store is missing")
    groups = []
    for i, g in enumerate(meta.get("dbc_groups") or []):
        try:
            protocols = check_protocols(list(g.get("protocols") or []),
                                        f"{path}: dbc_groups[{i}]")
            dbc = g["dbc"] if "dbc" in g or not protocols else {}
            if isinstance(dbc, (str, list)):
                dbc = {"*": dbc} if dbc else {}
            groups.append(DbcGroup(str(g.get("name", f"group{i + 1}")), list(g["vehicles"]),
                                   {str(k): [v] if isinstance(v, str) else list(v)
                                    for k, v in (dbc or {}).items()}, protocols))
        except (KeyError, TypeError) as err:
            raise ConfigError(f"{path}: dbc_groups[{i}] needs 'vehicles' (patterns) and 'dbc' "
                              f"(paths, or channel -> paths) or 'protocols': {err}") from err
    if not groups:
        raise ConfigError(f"{path}: metadata.cantelem.dbc_groups is empty")
    from ..derived import parse_derived
    from ._retention import parse_retention

    return Catalog(store=str(meta["store"]),
                   storage_options=dict(meta.get("storage_options") or {}),
                   groups=groups, trip_gap=str(meta.get("trip_gap", "5min")), path=path,
                   retention=parse_retention(meta.get("retention"), path),
                   derived=parse_derived(meta.get("derived"), path, _derived_lines(text)))


def _derived_lines(text: str) -> dict[str, int]:
    """The line (1-based) of each name of ``metadata.cantelem.derived`` in a catalog."""
    import yaml

    node = yaml.compose(text)
    for key in ("metadata", "cantelem", "derived"):
        if not isinstance(node, yaml.MappingNode):
            return {}
        node = next((v for k, v in node.value if getattr(k, "value", None) == key), None)
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {k.value: k.start_mark.line + 1 for k, _ in node.value}


@lru_cache(maxsize=32)
def _load(spec_key: str, spec: Any):
    from ..decoder import load_dbc

    return load_dbc(spec)


def load_group_dbc(group: DbcGroup, sha: str | None = None):
    """The group's database, cached by the SHA-256 of the DBC contents (so an edited file is
    read again, in every process)."""
    if not group.dbc:
        return None
    spec = group.spec()
    key = sha or group_sha(group)
    if isinstance(spec, dict):
        return _load(key, _Frozen(spec))
    return _load(key, tuple(spec))


class _Frozen(dict):
    """A hashable dict for the DBC cache."""

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(repr(sorted(self.items())))


def group_sha(group: DbcGroup) -> str:
    """SHA-256 of the group's DBC contents and protocols (a changed file, or a protocol
    added or decoded differently, changes it)."""
    h = hashlib.sha256()
    for p in group.protocols:
        h.update(f"protocol:{p}:{PROTOCOLS[p]}".encode())
    for ch in sorted(group.dbc):
        h.update(ch.encode())
        for p in group.dbc[ch]:
            try:
                h.update(Path(p).read_bytes())
            except OSError as err:
                raise ConfigError(f"DBC {p} of group {group.name!r}: {err.strerror}") from err
    return h.hexdigest()
