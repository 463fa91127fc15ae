"""The package's one error tree.

Every error raised on purpose by cantelem_sci derives from :class:`CantelemError`, and every
leaf also derives from the builtin that describes it best, so ``except ValueError`` keeps
working for callers that do not know this package.

Example
-------
>>> from cantelem_sci.errors import CantelemError, DbcError
>>> issubclass(DbcError, (CantelemError, ValueError))
True
"""

from __future__ import annotations

__all__ = [
    "AlertDeliveryError",
    "ArgumentError",
    "CantelemError",
    "CantelemWarning",
    "CaptureError",
    "ConfigError",
    "DbcError",
    "DbcLeniencyWarning",
    "DecodeError",
    "ExpressionError",
    "FrameFormatError",
    "LivePayloadError",
    "LogDamageWarning",
    "ObdError",
    "ProtocolWarning",
    "UplinkError",
    "LogFormatError",
    "NmeaError",
    "SpoolError",
    "StoreBusyError",
    "StoreError",
    "UnknownFramesWarning",
    "UsageError",
    "UnselectedMultiplexerWarning",
    "UnknownNameError",
    "UnsupportedSegmentError",
    "UploadError",
]


class CantelemError(Exception):
    """Root of every error this package raises on purpose."""


class ArgumentError(CantelemError, ValueError):
    """An argument of a public function that cannot be used: its shape, type, range or
    order is not what the function takes (the message says what was expected)."""


class UsageError(CantelemError, RuntimeError):
    """A call out of order (a method before the one that prepares it), or a service the
    package starts that did not start."""


class DbcError(CantelemError, ValueError):
    """A DBC file that cannot be read (the message names the file and the line)."""


class LogFormatError(CantelemError, ValueError):
    """A log file that cannot be read (the message names the file and the line or offset)."""


class ExpressionError(CantelemError, ValueError):
    """A calculated signal's expression that cannot be read or evaluated: the message names
    the expression, where it was defined (catalog file and line) and the column."""

    def __init__(self, expression: object, what: str, *, col: int | None = None,
                 where: str = "") -> None:
        self.expression, self.what, self.col, self.where = expression, what, col, where
        at = f" at column {col}" if col and col > 0 else ""
        origin = f"{where}: " if where else ""
        super().__init__(f"{origin}expression {expression!r}{at}: {what}")


class FrameFormatError(CantelemError, ValueError):
    """Arrays that do not form valid raw frames (wrong shape, dtype or values)."""


class UnsupportedSegmentError(FrameFormatError):
    """A raw segment in a layout the direct reader does not read (written by another
    writer): readers fall back to xarray for it."""


class DecodeError(CantelemError, ValueError):
    """Frames that cannot be decoded with the given database."""


class ConfigError(CantelemError, ValueError):
    """A configuration value that is missing or malformed."""


class LivePayloadError(CantelemError, ValueError):
    """A live telemetry message (MQTT topic or payload) that is not valid (the message names
    the topic and what was expected)."""


class ObdError(CantelemError, RuntimeError):
    """An OBD-II source cannot poll: no answer to any request, or a bad PID list."""


class UplinkError(CantelemError, ValueError):
    """An uplink packet that cannot be made (a value outside its field) or read (damaged,
    another schema, a delta without its base)."""


class NmeaError(CantelemError, ValueError):
    """An NMEA sentence that cannot be parsed (the message names the source and the line)."""


class SpoolError(CantelemError, OSError):
    """The edge logger's spool (local store) cannot be written or read."""


class CaptureError(CantelemError, OSError):
    """A CAN interface or GPS port that cannot be opened or read."""


class UploadError(CantelemError, OSError):
    """An upload to the object store that failed or could not be verified."""


class AlertDeliveryError(CantelemError, OSError):
    """An alert that a sink (MQTT, webhook, email) could not deliver this time; the outbox
    keeps it and tries again."""


class StoreError(CantelemError, OSError):
    """A fleet store that cannot be opened, or a segment in it that cannot be read."""


class StoreBusyError(StoreError, BlockingIOError):
    """A fleet job's lease on a store is held by another job (the message names it)."""


class UnknownNameError(CantelemError, KeyError):
    """A name (format, reader, vehicle, signal, ...) that is not known; lists the valid ones."""

    def __init__(self, kind: str, name: object, valid: "list[str] | tuple[str, ...]") -> None:
        self.kind = kind
        self.name = name
        import difflib

        self.valid = sorted(map(str, valid))
        shown = ", ".join(self.valid[:50]) + (" ..." if len(self.valid) > 50 else "")
        close = difflib.get_close_matches(str(name), self.valid, n=3, cutoff=0.5)
        hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
        super().__init__(f"unknown {kind} {name!r}{hint}; valid: {shown or '(none)'}")

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


class CantelemWarning(UserWarning):
    """Root of the package's warnings."""


class DbcLeniencyWarning(CantelemWarning):
    """A DBC defect that was repaired by a documented leniency rule."""


class LogDamageWarning(CantelemWarning):
    """Damaged frames of a log kept as read because the reader was asked to be lenient
    (``strict=False``)."""


class ProtocolWarning(CantelemWarning):
    """Diagnostic or transport-protocol data (OBD-II, ISO-TP, J1939 TP) that could not be
    decoded whole (lost or out-of-order frames, unknown PIDs): the affected messages are
    dropped and counted, never mended."""


class UnknownFramesWarning(CantelemWarning):
    """Frames whose id no database describes (counted, reported, never dropped silently)."""


class UnselectedMultiplexerWarning(CantelemWarning):
    """Frames whose multiplexer value selects none of its message's multiplexed signals
    (cantools refuses such a frame; here its other signals are kept and the frames
    counted)."""
