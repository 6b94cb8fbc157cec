"""LangChain callbacks, first-class in Jupyter: live run panels, safe sync handlers, magics."""

from .handler import LiveStreamHandler

__version__ = "0.1.0"
__all__ = [
    "LiveStreamHandler",
    "__version__",
    "load_ipython_extension",
    "threadsafe",
    "unload_ipython_extension",
]


def __getattr__(name: str):
    # threadsafe lives in its own module; imported on first use.
    if name == "threadsafe":
        from .threadsafe import threadsafe

        return threadsafe
    raise AttributeError(name)


def load_ipython_extension(ipython):
    from .extension import load

    load(ipython)


def unload_ipython_extension(ipython):
    from .extension import unload

    unload(ipython)
