"""Sphinx configuration of the docs site: the README and the guide notebooks, as they are.

    make docs      # -> docs/_build/html/index.html (which forwards to README.html)

The source folder is the repository itself (``sphinx-build -c docs . docs/_build/html``), so the
pages are README.md and notebooks/*.ipynb, the very files GitHub shows and nbval reruns: nothing
is copied. myst-nb renders the notebooks from their saved outputs (never executed here). A
board's saved output holds a widget view and its static twin (text/plain + script-free
text/html); a static site has no kernel to rebuild the widget, so the twin is what it shows:
the widget view is dropped from the mime priorities, and the saved widget state and the widget
renderer myst-nb would load from a CDN for it are left out (see ``twin_only.read``).
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # twin_only, the notebook reader named below

project = "lc_callbacks_nb"
author = "The lc_callbacks_nb authors"
copyright = "2026, The lc_callbacks_nb authors"

extensions = ["myst_nb"]

# The pages: the README (home), the guide notebooks, the changelog and every note in docs/ (the
# README links to them; listing the folder means a new note cannot be left out of the site).
# Everything else in the repository (tests, package, .venv) is not a page.
root_doc = "README"
GUIDE = sorted(p.stem for p in (HERE.parent / "notebooks").glob("*.ipynb"))
NOTES = sorted(f"docs/{p.stem}" for p in HERE.glob("*.md"))
EXTRA_PAGES = ["CHANGELOG", *NOTES]
include_patterns = ["README.md", "notebooks/*.ipynb", *(f"{p}.md" for p in EXTRA_PAGES)]
exclude_patterns = ["docs/_build", "**/.ipynb_checkpoints"]
templates_path = ["_templates"]
html_additional_pages = {"index": "redirect.html"}  # the site's front door -> README.html

# Saved outputs, never re-executed: the build needs no kernel, no model and no network.
nb_execution_mode = "off"
nb_custom_formats = {".ipynb": "twin_only.read"}
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
nb_mime_priority_overrides = [("html", WIDGET_VIEW, None)]
nb_ipywidgets_js: dict[str, dict[str, str]] = {}  # no require.js, no html-manager from a CDN
nb_merge_streams = True

myst_heading_anchors = 3  # the README's "#section" links

html_theme = "sphinx_book_theme"
html_title = "lc_callbacks_nb"
html_theme_options = {"show_toc_level": 2}
html_show_sourcelink = False
html_copy_source = False
html_last_updated_fmt = None


def _guide_toctree(app, docname: str, source: list[str]) -> None:
    """Give the README (the home page) a hidden table of contents of the guide.

    Sphinx builds its navigation from toctrees; the README stays plain Markdown for GitHub and
    PyPI, so the toctree is added to what Sphinx reads, not to the file."""
    if docname != root_doc:
        return
    guide = [f"notebooks/{p}" for p in GUIDE]
    for caption, entries in (("The guide", guide), ("More", EXTRA_PAGES)):
        lines = "\n".join(entries)
        source[0] += f"\n\n```{{toctree}}\n:hidden:\n:caption: {caption}\n\n{lines}\n```\n"


def setup(app):
    app.connect("source-read", _guide_toctree)
