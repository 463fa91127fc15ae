"""The dashboard's From / To boxes: Panel's ``DatetimeInput`` that also takes ISO 8601 text
(``2026-03-01T23:56``, a date alone) and says what is wrong with text that is no date.

Panel keeps the previous value of a box whose text it cannot parse and only adds
``(invalid)`` to the label; the plots then stay as they were with no word of why. Here the
typed text goes to ``on_invalid(box, text)`` (the dashboard explains it in its status line),
and text pandas reads as a time is accepted in any of its usual spellings.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable

import pandas as pd

__all__ = ["box_time", "date_box", "parse_typed"]

_CLASS: Any = None


def parse_typed(text: str, fmt: str = "%Y-%m-%d %H:%M:%S") -> datetime | None:
    """The time ``text`` names (``fmt``, else any spelling pandas reads; a zone is converted
    to UTC), or None.

    Example
    -------
    >>> parse_typed("2026-03-01T23:56"), parse_typed("soon")
    (datetime.datetime(2026, 3, 1, 23, 56), None)
    """
    text = text.strip()
    try:
        return datetime.strptime(text, fmt)
    except ValueError:
        pass
    if not text or not any(c.isdigit() for c in text):
        return None
    try:
        t = pd.Timestamp(text)
    except (ValueError, TypeError, OverflowError):
        return None
    if t is pd.NaT:
        return None
    if t.tzinfo is not None:
        t = t.tz_convert("UTC").tz_localize(None)
    return t.to_pydatetime()


def box_time(t: Any, up: bool = False) -> datetime | None:
    """``t`` to the whole second the boxes show (down, or ``up`` for the end of a range), or
    None for no time. A box set to a time it cannot show sends back what it shows, a second
    change and a second draw: a vehicle switch drew three times.

    Example
    -------
    >>> box_time(pd.Timestamp("2026-03-01 23:56:00.25")), box_time("2026-03-01 23:56:00.25", up=True)
    (datetime.datetime(2026, 3, 1, 23, 56), datetime.datetime(2026, 3, 1, 23, 56, 1))
    """
    if t is None or pd.isna(t):
        return None
    t = pd.Timestamp(t)
    return (t.ceil("s") if up else t.floor("s")).to_pydatetime()


def date_box(pn: Any, on_invalid: Callable[[Any, str], None], **params: Any) -> Any:
    """A ``DatetimeInput`` (``params``) that accepts ISO 8601 and reports text that is no
    date to ``on_invalid(box, text)``."""
    global _CLASS
    if _CLASS is None:
        class DateBox(pn.widgets.DatetimeInput):
            def _process_property_change(self, props: dict[str, Any]) -> dict[str, Any]:
                if isinstance(props.get("value"), str):
                    when = parse_typed(props["value"], self.format)
                    if when is None:
                        callback = getattr(self, "_on_invalid", None)
                        if callback is not None:
                            callback(self, props["value"].strip())
                    else:  # in Panel's own format, which it parses
                        props = dict(props, value=when.strftime(self.format))
                return super()._process_property_change(props)

        _CLASS = DateBox
    box = _CLASS(**params)
    box._on_invalid = on_invalid
    return box
