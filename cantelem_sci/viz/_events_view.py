"""Alert events on the dashboard: shaded spans on the plots of the signals they concern, and
a list of the vehicle's events in the shown range (a click shows that event).

The events are those the fleet alert job wrote (``cantelem alerts``, ``Fleet.events``)."""

from __future__ import annotations

import logging
from typing import Any, Callable

import pandas as pd

log = logging.getLogger("cantelem_sci.viz")

SEVERITY_COLORS = {"info": "#64b5f6", "warning": "#ffb74d", "critical": "#ef5350"}
MAX_LISTED = 50


class EventsView:
    """The events of one vehicle and time range (see the module docstring)."""

    def __init__(self, fleet: Any, on_jump: Callable[[pd.Timestamp, pd.Timestamp], None]) -> None:
        import panel as pn

        self.pn = pn
        self.fleet = fleet
        self.on_jump = on_jump
        self.events = pd.DataFrame()
        self.t1: Any = None
        self.title = pn.pane.Markdown("", css_classes=["cantelem-events-title"])
        self.list = pn.Column(css_classes=["cantelem-events"], width=360)
        self.layout = pn.Column(self.title, self.list, width=370)

    def refresh(self, vehicle: str, t0: Any, t1: Any) -> None:
        try:
            df = self.fleet.events(vehicle, t0, t1)
        except Exception as err:  # no events yet, or a store without events/
            log.info("events of %s: %s", vehicle, err)
            df = pd.DataFrame()
        self.events, self.t1 = df, t1
        if not len(df):
            self.title.object = "**Alerts:** none in this range" if self._has_any(vehicle) \
                else "**Alerts:** none (run `cantelem alerts` to evaluate the rules)"
            self.list.objects = []
            return
        self.title.object = f"**Alerts:** {len(df)} event(s) in this range"
        rows = []
        for i, r in df.head(MAX_LISTED).iterrows():
            end = "going on" if pd.isna(r["end"]) else \
                f"{pd.Timedelta(r['duration']).total_seconds():.1f} s"
            b = self.pn.widgets.Button(
                name=f"{pd.Timestamp(r['start']):%H:%M:%S} {r['rule']} ({r['severity']}), "
                     f"peak {r['peak']:.4g}, {end}",
                button_type="danger" if r["severity"] == "critical" else "warning",
                css_classes=["cantelem-event", f"cantelem-event-{i}"], width=350)
            b.on_click(lambda event, r=r: self._jump(r))
            rows.append(b)
        self.list.objects = rows

    def _has_any(self, vehicle: str) -> bool:
        try:
            return bool(len(self.fleet.events(vehicle)))
        except Exception:
            return False

    def _jump(self, row: pd.Series) -> None:
        start = pd.Timestamp(row["start"])
        end = pd.Timestamp(row["end"]) if not pd.isna(row["end"]) else start + pd.Timedelta(
            seconds=60)
        pad = max(pd.Timedelta(seconds=10), (end - start) / 2)
        self.on_jump(start - pad, end + pad)

    def _of(self, signal: str) -> pd.DataFrame:
        df = self.events
        if not len(df):
            return df
        return df[(df["signal"] == signal) | df["signal"].str.endswith("." + signal)]

    def spans_key(self, signal: str) -> tuple:
        """The events on ``signal`` as drawn (start, end, severity): plots with other spans
        are new plots."""
        mine = self._of(signal)
        ends = [self.t1 if pd.isna(e) else e for e in mine["end"]]  # open: to the range's end
        return tuple(zip(mine["start"], ends, mine["severity"])) if len(mine) else ()

    def spans(self, signal: str, t1: Any):
        """Shaded spans of the events on ``signal`` (open events reach ``t1``), or None."""
        import holoviews as hv

        mine = self._of(signal)
        if not len(mine):
            return None
        spans = []
        for _, r in mine.iterrows():
            end = r["end"] if not pd.isna(r["end"]) else pd.Timestamp(t1)
            spans.append(hv.VSpan(pd.Timestamp(r["start"]), pd.Timestamp(end)).opts(
                color=SEVERITY_COLORS.get(r["severity"], "#ffb74d"), alpha=0.25,
                line_alpha=0))
        return hv.Overlay(spans)
