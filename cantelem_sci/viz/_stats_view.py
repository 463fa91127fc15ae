"""The dashboard's numbers under its plots: statistics of the visible range per signal
(count, min, max, mean, std, from every sample, not the drawn ones) and the line saying how
many samples of the range each plot draws (zooming in draws a larger share)."""

from __future__ import annotations

from typing import Any

import pandas as pd

__all__ = ["signal_label", "update_detail", "update_stats"]


def signal_label(signals: list[str], unit: str) -> str:
    """How a plot, axis or legend names ``signals`` of one ``unit``: the name (the first and
    last of several, with their count) and the unit in brackets.

    Example
    -------
    >>> signal_label(["SOC"], "%")
    'SOC [%]'
    >>> signal_label(["Cell01", "Cell02", "Cell03"], "V")
    'Cell01 ... Cell03 (3 signals) [V]'
    """
    name = (signals[0] if len(signals) == 1
            else f"{signals[0]} ... {signals[-1]} ({len(signals)} signals)")
    return f"{name} [{unit}]" if unit else name


def update_stats(dash: Any, t0: Any, t1: Any) -> None:
    """Statistics of ``dash``'s shown signals in [t0, t1] into its table."""
    sigs = list(dash.w_signals.value)
    # from the fleet's cached arrays as they are: at a day in view (8 M samples) this took
    # 96 ms through a copy of the range and numpy's statistics, on every zoom
    table = dash.fleet.stats(dash.w_vehicle.value, sigs, t0, t1) if sigs else pd.DataFrame()
    dash.range = (t0, t1)
    dash.counts = {s: int(table.loc[s, "count"]) for s in sigs}
    dash.stats.object = table.round(3)
    update_detail(dash)


def update_detail(dash: Any) -> None:
    """``<signal>: <shown> of <in view> samples shown`` for each signal drawn (shaded plots:
    the totals)."""
    parts = []
    counts = getattr(dash, "counts", {})
    shaded = getattr(dash, "shaded", None)
    if shaded:
        n = sum(counts.get(s, 0) for s in dash.w_signals.value)
        dash.detail.object = (f"{len(dash.w_signals.value)} signals shaded: "
                              f"{sum(shaded['points'].values())} points aggregated of {n} "
                              "samples in view")
        return
    for sig in dash.w_signals.value:
        shown = dash.shown.get(sig)
        n = counts.get(sig)
        if shown is not None and n is not None:
            parts.append(f"{sig}: {int(shown[sig].notna().sum())} of {n} samples shown")
    dash.detail.object = "; ".join(parts)
