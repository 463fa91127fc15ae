"""The dashboard's two looks, dark (the default: a control room, a vehicle at night) and
light (a printout, a bright office), in one place: the page, the plots and their Bokeh
theme take their colours from here, so a switch redraws everything in the other look."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["THEMES", "Look", "look", "style_figure"]


@dataclass(frozen=True)
class Look:
    """Colours of one theme: ``page`` (background), ``text``, ``title``, the plot area
    (``plot``), around it (``border``), its frame (``outline``), widgets' raised parts
    (``surface``), a plot's grid lines (``grid``), axis lines (``axis``) and tick labels
    (``label``), and the Bokeh theme."""

    name: str
    bokeh: str
    page: str
    text: str
    title: str
    plot: str
    border: str
    outline: str
    surface: str
    grid: str
    axis: str
    label: str

    def page_styles(self) -> dict[str, str]:
        """CSS of the page's column. Panel's widgets take their colours from the
        ``--design-*`` properties before JupyterLab's (Voilà's dark theme): set here, they
        are inherited into every widget's shadow root, so the widgets follow the look."""
        return {"background": self.page, "color": self.text, "padding": "8px",
                "--design-background-color": self.plot,
                "--design-background-text-color": self.text,
                "--design-surface-color": self.surface,
                "--design-surface-text-color": self.text,
                "--text-color": self.text}

    def plot_opts(self) -> dict:
        """HoloViews options of a plot in this look."""
        return {"bgcolor": self.plot,
                "backend_opts": {"plot.border_fill_color": self.border,
                                 "plot.outline_line_color": self.outline}}


THEMES = {
    "dark": Look("dark", "dark_minimal", page="#1e1e1e", text="#dddddd", title="#eeeeee",
                 plot="#262626", border="#1e1e1e", outline="#444444", surface="#2b3035",
                 grid="#3a3a3a", axis="#666666", label="#cccccc"),
    "light": Look("light", "light_minimal", page="#ffffff", text="#222222", title="#111111",
                  plot="#ffffff", border="#ffffff", outline="#bbbbbb", surface="#f3f3f3",
                  grid="#e5e5e5", axis="#999999", label="#444444"),
}


def look(name: str) -> Look:
    """The look called ``name``.

    Example
    -------
    >>> look("light").plot, look("dark").bokeh
    ('#ffffff', 'dark_minimal')
    """
    from ..errors import UnknownNameError

    if name not in THEMES:
        raise UnknownNameError("dashboard theme", name, list(THEMES))
    return THEMES[name]


def style_figure(fig: Any, lk: Look) -> Any:
    """Colour a Bokeh figure drawn without HoloViews (the live plots and maps) in the look
    ``lk``, in place (a figure on a page changes there too), and return it.

    Example
    -------
    >>> from bokeh.plotting import figure
    >>> style_figure(figure(), look("light")).background_fill_color
    '#ffffff'
    """
    fig.background_fill_color = lk.plot
    fig.border_fill_color = lk.border
    fig.outline_line_color = lk.outline
    if fig.title is not None:
        fig.title.text_color = lk.text
    for ax in [*fig.xaxis, *fig.yaxis]:
        ax.major_label_text_color = lk.label
        ax.axis_label_text_color = lk.text
        ax.axis_line_color = ax.major_tick_line_color = ax.minor_tick_line_color = lk.axis
    for grid in fig.grid:
        grid.grid_line_color = lk.grid
    return fig
