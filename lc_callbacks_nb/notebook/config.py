"""The extension's options: one traitlets ``Configurable``.

``%config LCCallbacksNB.fps = 30`` in a notebook, or ``c.LCCallbacksNB.fps = 30`` in
``ipython_kernel_config.py``. The same checks serve the traits and the magics' arguments, so a
bad value gets the same one-line message from either path.
"""

from __future__ import annotations

from typing import Any

from traitlets import Bool, Float, Int, TraitError, Unicode, validate
from traitlets.config import Configurable

MODES = ("auto", "widget", "text")

#: options of a LiveStreamHandler, in the order status lines print them
HANDLER_OPTIONS = ("mode", "fps", "max_panels", "force_stream")


class OptionError(ValueError):
    """A bad option value; ``str()`` is one line naming the value and what is accepted."""


def _number(value: Any, name: str, kind: type, what: str) -> Any:
    if isinstance(value, bool):
        raise OptionError(f"{name} must be {what} (got {value!r})")
    try:
        out = kind(value)
    except (TypeError, ValueError):
        raise OptionError(f"{name} must be {what} (got {value!r})") from None
    if kind is int and isinstance(value, float) and value != out:
        raise OptionError(f"{name} must be {what} (got {value!r})")
    return out


def check_option(name: str, value: Any, label: str | None = None) -> Any:
    """Validate and normalise one option; raise :class:`OptionError` naming the bad value.

    ``label`` names the option in the message (default: its magic flag, ``--max-panels``).
    """
    flag = label or "--" + name.replace("_", "-")
    if name == "mode":
        if value not in MODES:
            raise OptionError(f"{flag} must be one of {', '.join(MODES)} (got {value!r})")
        return value
    if name == "fps":
        what = "a number > 0 and <= 240"
        fps = _number(value, flag, float, what)
        if not 0 < fps <= 240:  # LiveStreamHandler's range
            raise OptionError(f"{flag} must be {what} (got {value!r})")
        return fps
    if name in ("max_panels", "history_size", "history_runs_per_cell"):
        low = 0 if name == "max_panels" else 1  # max_panels=0: always the compact table
        what = f"a whole number >= {low}"
        n = _number(value, flag, int, what)
        if n < low:
            raise OptionError(f"{flag} must be {what} (got {value!r})")
        return n
    if name in ("force_stream", "autostart"):
        if not isinstance(value, bool):
            raise OptionError(f"{flag} must be True or False (got {value!r})")
        return value
    raise OptionError(f"unknown option {name!r}")


class LCCallbacksNB(Configurable):
    """Options of lc_callbacks_nb: live panels for LangChain runs, and the run history."""

    autostart = Bool(
        True, help="Turn %lc_stream on when the extension loads (else start with it off)."
    ).tag(config=True)
    # Unicode, not Enum: the validator below gives the same message as `%lc_stream --mode`.
    mode = Unicode("auto", help="Panel kind: auto (widget if possible), widget, text.").tag(
        config=True
    )
    fps = Float(20.0, help="Most panel refreshes per second, per panel.").tag(config=True)
    max_panels = Int(8, help="Most live panels per cell; further runs are summarised.").tag(
        config=True
    )
    force_stream = Bool(
        False, help="Ask models to stream even when they were built with streaming=False."
    ).tag(config=True)
    history_size = Int(20, help="How many cells' runs %lc_runs keeps.").tag(config=True)
    history_runs_per_cell = Int(200, help="Most runs kept per cell for %lc_runs.").tag(config=True)

    @validate(
        "mode",
        "fps",
        "max_panels",
        "force_stream",
        "history_size",
        "history_runs_per_cell",
        "autostart",
    )
    def _check(self, proposal: dict[str, Any]) -> Any:
        name = proposal["trait"].name
        try:
            return check_option(name, proposal["value"], f"{type(self).__name__}.{name}")
        except OptionError as exc:
            raise TraitError(str(exc)) from None

    def handler_options(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in HANDLER_OPTIONS}


def format_options(options: dict[str, Any]) -> str:
    return " ".join(f"{k}={_fmt(options[k])}" for k in HANDLER_OPTIONS if k in options)


def _fmt(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
