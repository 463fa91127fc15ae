"""Lenient DBC loading on top of cantools.

Real DBC files (opendbc and vendor exports) break the letter of the format in a few
recurring ways that cantools rejects. :func:`load_dbc` repairs exactly these, each by a
documented rule that emits a :class:`~cantelem_sci.errors.DbcLeniencyWarning` naming the
file and line (``strict=True`` turns every one of them into a :class:`DbcError`):

``R1 extended-id``
    A message id above 0x7FF written without the extended bit (bit 31) is a 29-bit id:
    bit 31 is added everywhere the id is referenced.
``R2 id-too-wide``
    An id wider than 29 bits (bit 29 or 30 set, bit 31 clear) can never appear on a CAN
    bus; the message is left out (listed in ``Database.skipped``).
``R3 leading-dot``
    A number written ``.25`` or ``-.5`` reads as ``0.25`` / ``-0.5``.
``R4 digit-name``
    A message or signal name that starts with a digit is kept exactly as written (the
    parser sees it under a temporary alias).
``R5 comment-target``
    ``CM_ SG_ <id> "text"`` (no signal name) and ``CM_ <id> "text"`` are message comments.
``R6 orphan-val``
    A ``VAL_`` table for a message or signal that does not exist is left out.
``R7 missing-semicolon``
    A ``VAL_`` statement that ends at the line end without ``;`` is closed there.
``R8 duplicate-id``
    A message id defined twice in one file: the first ``BO_`` block wins with its signals;
    the later ones are left out (an error naming both lines with ``strict=True``).

Files are read as UTF-8 and fall back to cp1252 (the DBC editors' encoding).
"""

from __future__ import annotations

import hashlib
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence, Union

from ..errors import DbcError, DbcLeniencyWarning
from ._dbc_repair import Leniency, Preprocessor

PathLike = Union[str, "os.PathLike[str]"]
ChannelKey = Union[int, str, None]

_LINE_NO = re.compile(r"line (\d+)")


@dataclass
class DbcFile:
    """One loaded DBC file: the cantools database plus where it came from."""

    path: str
    sha256: str
    db: Any  # cantools.database.can.Database
    channel: ChannelKey = None
    leniencies: list[Leniency] = field(default_factory=list)
    skipped: dict[int, str] = field(default_factory=dict)
    #: the line of each message's ``BO_`` statement, by message name
    lines: dict[str, int] = field(default_factory=dict)


class Database:
    """One or more DBC files, optionally bound to channels; what :func:`decode` accepts.

    Example
    -------
    >>> import cantelem_sci as ct
    >>> db = ct.load_dbc(ct.sample_dbc_path())
    >>> "BMS_PackStatus" in db.message_names
    True
    """

    def __init__(self, files: Sequence[DbcFile], *, j1939: bool | str = "auto") -> None:
        self.files = list(files)
        self.j1939 = j1939

    @property
    def messages(self) -> list[Any]:
        """All cantools messages, in file order."""
        return [m for f in self.files for m in f.db.messages]

    @property
    def message_names(self) -> list[str]:
        return [m.name for m in self.messages]

    @property
    def leniencies(self) -> list[Leniency]:
        return [x for f in self.files for x in f.leniencies]

    @property
    def skipped(self) -> dict[int, str]:
        return {k: v for f in self.files for k, v in f.skipped.items()}

    @property
    def sha256(self) -> str:
        """Hash over the files' hashes and channel bindings (identifies a decode)."""
        h = hashlib.sha256()
        for f in self.files:
            h.update(f"{f.channel}:{f.sha256};".encode())
        return h.hexdigest()

    def get_message(self, name_or_id: str | int) -> Any:
        """The cantools message with this name or frame id (first match)."""
        for m in self.messages:
            if m.name == name_or_id or m.frame_id == name_or_id:
                return m
        from ..errors import UnknownNameError

        raise UnknownNameError("message", name_or_id, self.message_names)

    def __repr__(self) -> str:
        parts = ", ".join(
            f"{os.path.basename(f.path)}{'' if f.channel is None else '@' + str(f.channel)}"
            f" ({len(f.db.messages)} messages)" for f in self.files)
        return f"<cantelem Database: {parts}>"


def _read_text(path: str) -> tuple[str, bytes]:
    try:
        raw = Path(path).read_bytes()
    except OSError as err:
        raise DbcError(f"{path}: cannot read DBC file: {err.strerror or err}") from err
    try:
        return raw.decode("utf-8"), raw
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace"), raw



def _load_one(path: str, *, strict: bool, channel: ChannelKey) -> DbcFile:
    import cantools

    text, raw = _read_text(path)
    pre = Preprocessor(path, text, strict)
    fixed = pre.run()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            db = cantools.database.load_string(fixed, "dbc", strict=strict)
    except Exception as err:  # cantools raises several unrelated types
        raise _wrap_cantools_error(path, fixed, err, strict) from err
    for msg in db.messages:
        if msg.name in pre.renamed:
            msg.name = pre.renamed[msg.name]
        for sig in msg.signals:
            if sig.name in pre.renamed:
                sig.name = pre.renamed[sig.name]
    if pre.renamed:
        db.refresh()
    for item in pre.leniencies:
        warnings.warn(str(item), DbcLeniencyWarning, stacklevel=4)
    lines = {m.group(1): text.count("\n", 0, m.start()) + 1
             for m in re.finditer(r"^[ \t]*BO_[ \t]+\d+[ \t]+([A-Za-z0-9_]+)", text, re.M)}
    return DbcFile(path=str(path), sha256=hashlib.sha256(raw).hexdigest(), db=db,
                   channel=channel, leniencies=pre.leniencies, skipped=pre.skipped,
                   lines=lines)


def _warn_shared_ids(files: Sequence[DbcFile]) -> None:
    """A message whose id (on the same channels) an earlier message has is never matched:
    one warning per such message, naming both files and lines."""
    seen: dict[tuple[ChannelKey, int], str] = {}
    for f in files:
        for msg in f.db.messages:
            if msg.is_container:
                continue
            key = (f.channel, int(msg.frame_id) | (1 << 31 if msg.is_extended_frame else 0))
            where = f"{f.path}:{f.lines.get(msg.name, '?')}"
            if key in seen:
                warnings.warn(f"{where}: message {msg.name} has the id {msg.frame_id:#x} of "
                              f"{seen[key]} and is never matched", DbcLeniencyWarning,
                              stacklevel=3)
            else:
                seen[key] = f"{msg.name} ({where})"


def _first_failing_statement(text: str, strict: bool) -> int | None:
    """The line of the top-level statement whose inclusion first makes cantools refuse
    ``text`` (a binary search over prefixes that end between statements), for errors that
    name no line; None when every prefix loads."""
    import cantools

    lines = text.split("\n")
    starts = [i for i, ln in enumerate(lines) if ln[:1].strip() and ln[:1] != "}"]

    def fails(k: int) -> bool:  # the first k statements
        end = starts[k] if k < len(starts) else len(lines)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                cantools.database.load_string("\n".join(lines[:end]), "dbc", strict=strict)
        except Exception:  # cantools raises several unrelated types
            return True
        return False

    if not starts:
        return None
    if fails(1):  # (no statement at all does not load either)
        return starts[0] + 1
    lo, hi = 1, len(starts)  # fails(hi) holds: the whole text failed
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if fails(mid):
            hi = mid
        else:
            lo = mid
    return starts[hi - 1] + 1


def _wrap_cantools_error(path: str, text: str, err: Exception, strict: bool = False
                         ) -> DbcError:
    inner = getattr(err, "e_dbc", None) or err
    line = getattr(inner, "line", None) or getattr(inner, "_line", None)
    msg = str(err)
    if line is None:
        m = _LINE_NO.search(msg)
        line = int(m.group(1)) if m else None
    if line is None:
        # semantic errors name a message: point at its BO_ line
        m = re.search(r"message '?([A-Za-z0-9_]+)'?", msg)
        if m:
            bo = re.search(rf"^BO_[ \t]+\d+[ \t]+{re.escape(m.group(1))}\b", text, re.M)
            if bo:
                line = text.count("\n", 0, bo.start()) + 1
    if line is None:  # the statement that makes it fail
        line = _first_failing_statement(text, strict)
    where = f"{path}:{line}" if line else str(path)
    src = ""
    if line:
        lines = text.splitlines()
        if 0 < line <= len(lines):
            src = f"\n    {lines[line - 1].strip()[:200]}"
    detail = msg.replace('DBC: "', "").rstrip('"') if msg else type(err).__name__
    return DbcError(f"{where}: not a valid DBC file: {detail}{src}")


def load_dbc(
    path_or_paths: (PathLike | Sequence[PathLike]
                    | Mapping[ChannelKey, PathLike | Sequence[PathLike]]),
    *,
    strict: bool = False,
    j1939: bool | str = "auto",
) -> Database:
    """Load one or several DBC files into a :class:`Database`.

    Parameters
    ----------
    path_or_paths
        A path, a list of paths (all channels), or a mapping ``{channel: path or paths}``
        where ``channel`` is a channel index (int) or name (e.g. ``"can1"``); ``None`` as
        a key means every channel.
    strict
        Refuse every defect instead of repairing it (see the module's rules R1-R7) and use
        cantools' strict checks (overlapping signals, signals outside their message).
    j1939
        ``"auto"`` (default): messages of a DBC whose ``ProtocolType`` is J1939 match
        frames by PGN (id & 0x3FFFF00) and keep the source address; ``True``: every
        extended message matches by PGN; ``False``: exact ids only.

    Returns
    -------
    Database

    Raises
    ------
    DbcError
        A file that cannot be read; the message names the file and the line.

    Example
    -------
    >>> import cantelem_sci as ct
    >>> db = ct.load_dbc(ct.sample_dbc_path())
    >>> len(db.messages) > 3
    True
    """
    if j1939 not in (True, False, "auto"):
        raise DbcError(f"j1939: expected True, False or 'auto', got {j1939!r}")
    items: list[tuple[ChannelKey, PathLike]] = []
    if isinstance(path_or_paths, Mapping):
        for ch, paths in path_or_paths.items():
            for p in _as_list(paths):
                items.append((ch, p))
    else:
        items = [(None, p) for p in _as_list(path_or_paths)]
    if not items:
        raise DbcError("load_dbc: no DBC file given")
    files = [_load_one(os.fspath(p), strict=strict, channel=ch) for ch, p in items]
    _warn_shared_ids(files)
    return Database(files, j1939=j1939)


def _as_list(paths: Any) -> list[PathLike]:
    if isinstance(paths, (str, os.PathLike)):
        return [paths]
    if isinstance(paths, Iterable):
        return list(paths)
    raise DbcError(f"expected a path or a list of paths, got {type(paths).__name__}")
