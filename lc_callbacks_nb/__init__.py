"""LangChain callbacks, first-class in Jupyter: live run panels, safe sync handlers, magics."""

from importlib.metadata import version as _version

from .langchain.events import RunStopped
from .langchain.threadsafe import threadsafe
from .live.handler import LiveStreamHandler

# The one version source is labextension/package.json (read at build time, pyproject.toml).
__version__ = _version(__name__)
__all__ = [
    "LiveStreamHandler",
    "RunStopped",
    "__version__",
    "load_ipython_extension",
    "threadsafe",
    "unload_ipython_extension",
]


def load_ipython_extension(ipython):
    from .notebook.extension import load

    load(ipython)


def unload_ipython_extension(ipython):
    from .notebook.extension import unload

    unload(ipython)
