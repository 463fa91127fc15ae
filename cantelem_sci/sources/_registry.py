"""The log-reader registry (python-can style): built-ins by name, imported lazily, plus
plugins from the ``cantelem_sci.log_readers`` entry-point group.

A reader is a callable ``reader(path, **kwargs) -> FrameBatch``. A plugin registers it in
its ``pyproject.toml``::

    [project.entry-points."cantelem_sci.log_readers"]
    myformat = "mypkg.reader:read_myformat"   # files ending in .myformat

or at run time with :func:`register_reader`.
"""

from __future__ import annotations

import importlib
import os
from importlib.metadata import entry_points
from typing import Any, Callable

from ..errors import LogFormatError, UnknownNameError
from ..frames import FrameBatch

Reader = Callable[..., FrameBatch]

#: name -> (import target, suffixes)
_BUILTIN: dict[str, tuple[str, tuple[str, ...]]] = {
    "candump": ("cantelem_sci.sources._candump:read_candump", (".log",)),
    "asc": ("cantelem_sci.sources._asc:read_asc", (".asc",)),
    "blf": ("cantelem_sci.sources._blf:read_blf", (".blf",)),
    "trc": ("cantelem_sci.sources._trc:read_trc", (".trc",)),
    "mf4": ("cantelem_sci.sources._mf4:read_mf4", (".mf4",)),
    "csv": ("cantelem_sci.sources._pycan:read_pycan", (".csv",)),
    "pycan": ("cantelem_sci.sources._pycan:read_pycan", ()),
}
_REGISTERED: dict[str, tuple[Reader | str, tuple[str, ...]]] = {}
_LOADED_EPS = False


def register_reader(name: str, reader: Reader | str, suffixes: tuple[str, ...] = ()) -> None:
    """Register a log reader under ``name`` for files ending in ``suffixes``.

    Example
    -------
    >>> register_reader("mylog", "cantelem_sci.sources._candump:read_candump", (".mylog",))
    >>> "mylog" in available_readers()
    True
    """
    _REGISTERED[name] = (reader, tuple(s.lower() for s in suffixes) or (f".{name}",))


def _load_entry_points() -> None:
    global _LOADED_EPS
    if _LOADED_EPS:
        return
    _LOADED_EPS = True
    for ep in entry_points(group="cantelem_sci.log_readers"):
        if ep.name not in _REGISTERED and ep.name not in _BUILTIN:
            _REGISTERED[ep.name] = (ep.value, (f".{ep.name}",))


def _table() -> dict[str, tuple[Reader | str, tuple[str, ...]]]:
    _load_entry_points()
    return {**_BUILTIN, **_REGISTERED}


def available_readers() -> list[str]:
    """Names of every registered reader."""
    return sorted(_table())


def get_reader(name: str) -> Reader:
    """The reader registered under ``name`` (imported on first use)."""
    table = _table()
    if name not in table:
        raise UnknownNameError("log format", name, list(table))
    target, _ = table[name]
    if callable(target):
        return target
    mod, _, attr = target.partition(":")
    try:
        return getattr(importlib.import_module(mod), attr)
    except (ImportError, AttributeError) as err:
        raise LogFormatError(f"log reader {name!r} ({target}) cannot be imported: {err}") from err


def reader_for(path: str) -> str:
    """The reader name for a file, from its suffix (``.gz`` looks at the one before)."""
    low = os.fspath(path).lower()
    if low.endswith(".gz"):
        low = low[:-3]
    for name, (_, suffixes) in _table().items():
        if any(low.endswith(s) for s in suffixes):
            return name
    suffixes = sorted({s for _, sx in _table().values() for s in sx})
    raise UnknownNameError(f"log file suffix for {path}", os.path.splitext(low)[1] or low,
                           suffixes)


def read_frames(path: str | os.PathLike[str], *, format: str | None = None,
                **kwargs: Any) -> FrameBatch:
    """Read a CAN log into a :class:`~cantelem_sci.frames.FrameBatch` (numpy only, no
    xarray: what the edge logger's replay uses). Same formats and errors as :func:`read_log`.

    Example
    -------
    >>> import cantelem_sci.sources as src, tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "x.log")
    >>> _ = open(p, "w").write("(1.000000) can0 123#DEADBEEF\\n")
    >>> src.read_frames(p).dlc.tolist()
    [4]
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise LogFormatError(f"{path}: no such file")
    name = format or reader_for(path)
    return get_reader(name)(path, **kwargs)


def read_log(path: str | os.PathLike[str], *, format: str | None = None, **kwargs: Any) -> Any:
    """Read a CAN log into a raw-frame :class:`xarray.Dataset`.

    Parameters
    ----------
    path
        A candump ``-L`` log (``.log``), Vector ASC/BLF, PEAK TRC, MF4 or python-can CSV,
        optionally gzip-compressed (``.gz``).
    format
        A reader name (:func:`available_readers`); default from the suffix.

    Raises
    ------
    LogFormatError
        Naming the file and the line (text) or the frame reached (binary).

    Example
    -------
    >>> import cantelem_sci as ct, tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "x.log")
    >>> _ = open(p, "w").write("(1.000000) can0 123#DEADBEEF\\n")
    >>> int(ct.read_log(p)["dlc"][0])
    4
    """
    batch = read_frames(path, format=format, **kwargs)
    ds = batch.to_dataset()
    rx = getattr(batch, "is_rx", None)
    if rx is not None:
        ds["is_rx"] = ("frame", rx)
    ds.attrs["source"] = os.path.basename(path)
    return ds
