"""The dashboard (Panel, HoloViews, Datashader; published with Voilà) and its server."""

from ._dashboard import Dashboard
from ._serve import DashboardServer, dashboard_notebook, notebooks_dir, serve_dashboard, serve_lab

__all__ = ["Dashboard", "DashboardServer", "dashboard_notebook", "notebooks_dir", "serve_dashboard", "serve_lab"]
