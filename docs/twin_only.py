"""The docs site's notebook reader: a notebook as saved, without its widget state.

A static page has no kernel, so a board's live widget cannot be rebuilt there; its static
twin (saved beside the widget view) is what the page shows. Given the widget state, myst-nb
would embed it in the page and load @jupyter-widgets/html-manager and require.js from a CDN to
render it: both are left out by dropping the state here (and the widget view by the mime
priorities in conf.py).
"""

from __future__ import annotations

import nbformat

WIDGET_STATE = "widgets"


def read(text: str) -> nbformat.NotebookNode:
    notebook = nbformat.reads(text, as_version=4)
    notebook.metadata.pop(WIDGET_STATE, None)
    return notebook
