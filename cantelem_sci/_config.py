"""Configuration in one place.

Precedence, highest first:

1. an explicit argument to a function (``get("store", "s3://b/x")``);
2. the environment: ``CANTELEM_<KEY>`` (upper case), e.g. ``CANTELEM_STORE``;
3. a TOML file: ``$CANTELEM_CONFIG`` if set, else ``./cantelem.toml``, else
   ``~/.config/cantelem/config.toml`` (a ``[cantelem]`` table or top-level keys);
4. the built-in defaults below.

Example
-------
>>> from cantelem_sci._config import get
>>> get("store", "/tmp/x")
'/tmp/x'
"""

from __future__ import annotations

import os
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any

from .errors import ConfigError, UnknownNameError

DEFAULTS: dict[str, Any] = {
    "store": "cantelem-data",  # the embedded default: a local directory
    "corpus": "../shared/corpus",
    "workers": 2,
    "scheduler": None,  # None: start a LocalCluster
    # idle decoder output memory kept for reuse, bytes (cantelem_sci.decoder._memory)
    "decode_pool_bytes": 256 << 20,
    # the dashboard's live mode: an MQTT broker URL (mqtt://host:port), None: file-based live
    "mqtt": None,
    "live_prefix": "cantelem",
    # 1: the dashboard opens in live mode (when a broker is configured)
    "dashboard_live": 0,
    # the address `cantelem dashboard`/`lab` listen on; any other than loopback needs a token
    "dashboard_ip": "127.0.0.1",
    # seconds a closed dashboard page's kernel is kept (Jupyter's culler; 0: never freed)
    "dashboard_kernel_idle": 60,
    # pages the dashboard shows at once (a kernel each, ~500 MB); the next visitor is told
    # to come back (0: no limit)
    "dashboard_max_pages": 8,
    # kernels the dashboard runs the notebook in ahead of visitors (~500 MB each): a visitor
    # takes one and sees plots in 2-3 s instead of 7-9 s (0: none)
    "dashboard_preheated": 1,
    # the token visitors give (?token=...) when the dashboard listens beyond loopback; from
    # the environment or the file, never a command line (it would show in `ps`)
    "dashboard_token": None,
    # points the dashboard's plots would draw (all signals shown) above which they are
    # shaded with Datashader, one plot per unit (0: never)
    "dashboard_shade_points": 50_000,
}


@lru_cache(maxsize=8)
def _read_file(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML: {err}") from err
    return dict(data.get("cantelem", data))


def _file_values() -> dict[str, Any]:
    explicit = os.environ.get("CANTELEM_CONFIG")
    candidates = [explicit] if explicit else [
        "cantelem.toml",
        str(Path.home() / ".config" / "cantelem" / "config.toml"),
    ]
    for cand in candidates:
        if cand and os.path.isfile(cand):
            return _read_file(os.path.abspath(cand))
    if explicit:
        raise ConfigError(f"CANTELEM_CONFIG={explicit!r}: no such file")
    return {}


def get(key: str, explicit: Any = None) -> Any:
    """Return the configuration value of ``key`` following the documented precedence."""
    if key not in DEFAULTS:
        raise UnknownNameError("configuration key", key, list(DEFAULTS))
    if explicit is not None:
        return explicit
    env = os.environ.get(f"CANTELEM_{key.upper()}")
    if env is not None:
        default = DEFAULTS[key]
        if isinstance(default, int) and not isinstance(default, bool):
            try:
                return int(env)
            except ValueError as err:
                raise ConfigError(f"CANTELEM_{key.upper()}={env!r}: expected an integer") from err
        return env
    return _file_values().get(key, DEFAULTS[key])
