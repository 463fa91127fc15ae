"""Offline pages: every asset a dashboard page loads comes from its own server.

Two things asked the internet although the notebook asks for inline resources:

* Voilà's ``lab`` template links Font Awesome from jsdelivr. The dashboard runs a template
  of its own, ``cantelem`` (:func:`template_root`), which extends ``lab`` and rewrites
  those two links to a copy of the Font Awesome that Panel ships, served by Voilà as the
  template's static files (a copy: Tornado serves no symlink leading out of its root).
* Panel gives each widget its stylesheets as links to its CDN (``cdn.holoviz.org``); in a
  Voilà page rendered through ipywidgets nothing inlines them. :func:`inline_panel_css`
  adds a Panel preprocessing hook that swaps every such link for the same file's text,
  read from Panel's own ``dist`` folder, on every model Panel renders, and does the same to
  the properties Panel sends when it updates a model: a Markdown pane's new text, a
  DataFrame's new rows, a new widget in a layout (without that, every vehicle switch asked
  the CDN for ~20 stylesheets). Each file's text is one stylesheet model per document.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import weakref
from pathlib import Path
from typing import Any

__all__ = ["TEMPLATE", "inline_panel_css", "template_root"]

TEMPLATE = "cantelem"
_FA_CDN = "https://cdn.jsdelivr.net/npm/@fortawesome/fontawesome-free@^5/css/"
_INDEX = """{%- extends 'voila/templates/lab/index.html.j2' -%}
{#- the lab page, with Font Awesome from this server instead of jsdelivr -#}
{%- block notebook_css -%}
{{ super() | replace('""" + _FA_CDN + """',
                     resources.base_url ~ 'voila/templates/""" + TEMPLATE + """/static/fa/css/') }}
{%- endblock notebook_css -%}
"""


def _write(path: Path, text: str) -> None:
    if path.exists() and path.read_text() == text:
        return
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)  # several servers may start at once


def template_root() -> str:
    """A Jupyter data folder holding the Voilà template ``cantelem`` (add it to
    ``JUPYTER_PATH`` and pass ``--template=cantelem``); made once per user and version."""
    import panel

    from .._version import __version__

    fa = Path(panel.__file__).parent / "dist" / "bundled" / "font-awesome"
    root = Path(tempfile.gettempdir()) / f"cantelem-voila-{os.getuid()}-{__version__}"
    tdir = root / "voila" / "templates" / TEMPLATE
    (tdir / "static").mkdir(parents=True, exist_ok=True)
    _write(tdir / "conf.json", json.dumps({"base_template": "lab"}))
    _write(tdir / "index.html.j2", _INDEX)
    dst = tdir / "static" / "fa"
    if not (dst / "css" / "all.min.css").exists():  # a copy: Tornado serves no symlink out
        tmp = tdir / "static" / f".fa.{os.getpid()}"
        shutil.copytree(fa, tmp, dirs_exist_ok=True)
        try:
            os.rename(tmp, dst)
        except OSError:  # another server copied it first
            shutil.rmtree(tmp, ignore_errors=True)
    return str(root)


def _inline(viewable, root, changed=None, old_models=None) -> None:
    from bokeh.models import UIElement
    from panel.io.notebook import patch_inline_stylesheets

    for model in root.select({"type": UIElement}):
        patch_inline_stylesheets(model)


#: per document: a CDN stylesheet's URL -> the inline stylesheet of the same text
_SHEETS: "weakref.WeakKeyDictionary[Any, dict[str, Any]]" = weakref.WeakKeyDictionary()


def _inlined(sheets: list, doc: Any) -> list:
    """``sheets`` with every stylesheet linked from Panel's CDN replaced by its text."""
    from bokeh.models import ImportedStyleSheet
    from panel.io.notebook import replace_inline_css
    from panel.io.resources import CDN_DIST

    cache = _SHEETS.setdefault(doc, {}) if doc is not None else {}
    out = []
    for sheet in sheets:
        if isinstance(sheet, ImportedStyleSheet) and str(sheet.url).startswith(CDN_DIST):
            url = str(sheet.url)
            if url not in cache:
                cache[url] = replace_inline_css(sheet)
            sheet = cache[url]
        out.append(sheet)
    return out


def _patch_updates() -> None:
    """Inline the stylesheets of the properties Panel computes or sends on an update."""
    from panel.reactive import Reactive

    if getattr(Reactive, "_cantelem_inline", False):
        return
    get_properties, update_model = Reactive._get_properties, Reactive._update_model

    def _get_properties(self, doc):
        props = get_properties(self, doc)
        if "stylesheets" in props:
            props["stylesheets"] = _inlined(props["stylesheets"], doc)
        return props

    def _update_model(self, events, msg, root, model, doc, comm):
        if "stylesheets" in msg:
            msg["stylesheets"] = _inlined(msg["stylesheets"], doc)
        update_model(self, events, msg, root, model, doc, comm)

    Reactive._get_properties, Reactive._update_model = _get_properties, _update_model
    Reactive._cantelem_inline = True


def inline_panel_css() -> None:
    """Make every Panel model carry its stylesheets inline, when rendered and when updated
    (idempotent)."""
    from panel.viewable import Viewable

    if _inline not in Viewable._preprocessing_hooks:
        Viewable._preprocessing_hooks.append(_inline)
    _patch_updates()
