"""``open_fleet``: a store and its catalog, opened for queries."""

from __future__ import annotations

import os
import warnings

from .. import _config
from ._catalog import Catalog, default_catalog, load_catalog
from ._fleet import Fleet
from ._store import Store


def open_fleet(url: str | os.PathLike[str] | None = None, *, storage_options: dict | None = None,
               catalog: str | os.PathLike[str] | Catalog | None = None,
               refresh: bool = True) -> Fleet:
    """Open a fleet store: a local directory (default: the ``store`` setting) or ``s3://``.

    Example
    -------
    >>> import tempfile, cantelem_sci as ct
    >>> ct.open_fleet(tempfile.mkdtemp()).vehicles
    []
    """
    if catalog is not None and not isinstance(catalog, Catalog):
        catalog = load_catalog(catalog)
    if url is None:
        url = catalog.store if catalog is not None else _config.get("store")
    so = storage_options if storage_options is not None else (
        catalog.storage_options if catalog is not None else {})
    store = Store(url, so)
    if catalog is None:
        catalog = default_catalog(store.url, so)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return Fleet(store, catalog, refresh=refresh)
