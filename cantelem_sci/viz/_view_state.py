"""The dashboard's view to share: as a CSV of what it shows (:func:`view_csv`) and as a URL
query: ``?vehicle=EV0002&signals=SOC,PackPower
&from=2026-03-01T23:56:00&to=2026-03-01T23:58:00&x=time`` (and ``&compare=EV0001`` with
vehicles compared, ``&cursors=<A>,<B>`` with cursors placed, ``&layout=one axis`` or
``axis each`` when the signals share one plot, ``&theme=light`` in the light look).

:func:`view_query` writes the view shown (the page's "Link to this view" is that query,
relative to the page); :func:`apply_view` opens a view from one (the dashboard notebook
reads the page's query string with Voilà's ``get_query_string``). A vehicle or signal the
store does not have is reported on the page with the close names, never a traceback; the
rest of the view still applies.
"""

from __future__ import annotations

import difflib
import io
from typing import Any
from urllib.parse import parse_qs, urlencode

import pandas as pd

from ._date_box import box_time

__all__ = ["apply_view", "view_csv", "view_query"]

_FMT = "%Y-%m-%dT%H:%M:%S"


def view_query(dash: Any) -> str:
    """The query naming ``dash``'s view (vehicle, signals, range, x axis).

    Example
    -------
    >>> class D: pass
    >>> d = D(); d.w_vehicle = D(); d.w_signals = D(); d.w_xaxis = D()
    >>> d.w_vehicle.value, d.w_signals.value, d.w_xaxis.value = "EV1", ["SOC", "A"], "time"
    >>> d.range = (pd.Timestamp("2026-01-01 10:00"), pd.Timestamp("2026-01-01 11:00"))
    >>> view_query(d)
    'vehicle=EV1&signals=SOC%2CA&from=2026-01-01T10%3A00%3A00&to=2026-01-01T11%3A00%3A00&x=time'
    """
    q = {"vehicle": dash.w_vehicle.value or "", "signals": ",".join(dash.w_signals.value)}
    t0, t1 = dash.range
    if t0 is not None and t1 is not None and not (pd.isna(t0) or pd.isna(t1)):
        q.update({"from": pd.Timestamp(t0).strftime(_FMT), "to": pd.Timestamp(t1).strftime(_FMT)})
    q["x"] = dash.w_xaxis.value
    compare = getattr(getattr(dash, "w_compare", None), "value", None)
    if compare:
        q["compare"] = ",".join(compare)
    cur = getattr(dash, "cursors", None)
    if cur is not None and (cur.a is not None or cur.b is not None):
        q["cursors"] = ",".join("" if t is None else t.strftime(_FMT + ".%f")
                                for t in (cur.a, cur.b))
    layout = getattr(getattr(dash, "w_layout", None), "value", "stacked")
    if layout != "stacked":  # the default layout is left out of the link
        q["layout"] = layout
    name = getattr(getattr(dash, "look", None), "name", "dark")
    if name != "dark":  # the default look is left out of the link
        q["theme"] = name
    return urlencode(q)


def _close(name: str, known: list[str]) -> str:
    near = difflib.get_close_matches(name, known, n=3)
    return f" (did you mean {', '.join(near)}?)" if near else ""


def apply_view(dash: Any, query: str | None) -> list[str]:
    """Show the view ``query`` names (see the module docstring); returns the problems found,
    which the page also shows."""
    q = {k: v[-1] for k, v in parse_qs((query or "").lstrip("?")).items()}
    problems: list[str] = []
    if not q:
        return problems
    v = q.get("vehicle")
    if v and v not in dash.vehicles:
        problems.append(f"vehicle {v!r} is not in this store{_close(v, dash.vehicles)}")
    elif v and v != dash.w_vehicle.value:
        dash.w_vehicle.value = v  # redraws with its own defaults first
    dash._silent = True
    try:
        if "signals" in q:
            want = [s for s in q["signals"].split(",") if s]
            known = list(dash.w_signals.options)
            for s in want:
                if s not in known:
                    problems.append(f"{dash.w_vehicle.value} has no signal {s!r}"
                                    f"{_close(s, known)}")
            keep = [s for s in want if s in known]
            if keep:
                dash.w_signals.value = keep
        try:
            t0 = pd.Timestamp(q["from"]) if "from" in q else None
            t1 = pd.Timestamp(q["to"]) if "to" in q else None
        except ValueError:
            problems.append(f"from/to: expected times like 2026-03-01T23:56:00, got "
                            f"{q.get('from')!r} and {q.get('to')!r}")
            t0 = t1 = None
        if t0 is not None:
            dash.w_start.value = box_time(t0)
        if t1 is not None:
            dash.w_end.value = box_time(t1, up=True)
        if q.get("x") in dash.w_xaxis.options:
            dash.w_xaxis.value = q["x"]
        elif q.get("x"):
            problems.append(f"x axis {q['x']!r} is not one of time, distance or a signal")
        if "compare" in q:
            want = [c for c in q["compare"].split(",") if c]
            for c in want:
                if c not in dash.w_compare.options:
                    problems.append(f"cannot compare with {c!r}{_close(c, dash.vehicles)}")
            dash.w_compare.value = [c for c in want if c in dash.w_compare.options]
        if "cursors" in q:
            try:
                a, _, b = q["cursors"].partition(",")
                dash.cursors.set(pd.Timestamp(a) if a else None, pd.Timestamp(b) if b else None)
            except ValueError:
                problems.append(f"cursors: expected two times like 2026-03-01T23:56:00.250,"
                                f"2026-03-01T23:57:00, got {q['cursors']!r}")
        if q.get("layout") in dash.w_layout.options:
            dash.w_layout.value = q["layout"]
        elif q.get("layout"):
            problems.append(f"layout {q['layout']!r} is not one of "
                            f"{', '.join(dash.w_layout.options)}")
        if q.get("theme") in ("dark", "light"):
            dash.set_theme(q["theme"], redraw=False)
        elif q.get("theme"):
            problems.append(f"theme {q['theme']!r} is not dark or light")
    finally:
        dash._silent = False
    dash._redraw()
    if problems:
        dash.status.object = "**Link:** " + "; ".join(problems) + "  \n" + dash.status.object
    return problems


def view_csv(dash: Any) -> io.StringIO:
    """The shown signals' visible range at full resolution, one time-aligned table (each
    value held at most 3x its signal's period, so a gap stays empty, as ``export`` does);
    against another axis than time, the table drawn."""
    v = dash.w_vehicle.value
    if dash.xy is not None:
        dash.w_csv.filename = f"cantelem-{v}-{dash.w_xaxis.value}.csv"
        return io.StringIO(dash.xy.to_csv(index=False))
    t0, t1 = dash.range
    sigs = list(dash.w_signals.value)
    df = (dash.fleet.table(v, sigs, t0, t1).drop(columns="vehicle") if sigs
          else pd.DataFrame())
    dash.w_csv.filename = f"cantelem-{v}.csv"
    return io.StringIO(df.to_csv(index=False, date_format="%Y-%m-%dT%H:%M:%S.%f"))
