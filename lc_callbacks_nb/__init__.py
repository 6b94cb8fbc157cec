"""LangChain callbacks, first-class in Jupyter: live run panels, safe sync handlers, magics."""

from .langchain.events import RunStopped
from .langchain.threadsafe import threadsafe
from .live.handler import LiveStreamHandler

__version__ = "0.1.0"
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
