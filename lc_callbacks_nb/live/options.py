"""Every option of lc_callbacks_nb, declared once: name, type, range, default, help.

Everything else is derived from :data:`OPTIONS`: ``LiveStreamHandler``'s argument checks, the
``LCCallbacksNB`` traits (``%config``, ``ipython_kernel_config.py``), the ``%lc_stream`` /
``%%lc_stream`` flags, the status line, and the options table in README.md
(``python -m lc_callbacks_nb.live.options`` prints it).

One rule decides what is valid, wherever a value comes from:

* A Python value must have the option's type: ``True``/``False`` for a switch (not ``1``), an
  ``int`` for a whole number (not ``2.0``), an ``int`` or ``float`` for a number, a ``str`` for
  a choice. A numeric string such as ``'30'`` is refused like any other wrong type.
* Command-line text (``%lc_stream on --fps 30``, ``--LCCallbacksNB.fps=30`` on the kernel's
  command line) is parsed first (:meth:`Option.parse`), then checked by the same rule.
* A refusal is an :class:`OptionError` (a ``ValueError``) whose message is one line naming the
  option, what it accepts and the bad value: ``fps must be a number from 0.5 to 120 (got 0)``.

No IPython import here: the handler uses this module outside a kernel too.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from typing import Any

MODES = ("auto", "widget", "text")

HANDLER = "handler"  # a LiveStreamHandler argument; also a trait and a %lc_stream flag
EXTENSION = "extension"  # the extension's own; a trait only (%config, kernel config)


class OptionError(ValueError):
    """A bad option value; ``str()`` is one line naming the option and the bad value."""


@dataclass(frozen=True)
class Option:
    name: str
    kind: str  # "choice" | "number" | "whole" | "switch"
    default: Any
    help: str
    scope: str = HANDLER
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()

    @property
    def flag(self) -> str:
        """The magic's flag: ``--max-panels``."""
        return "--" + self.name.replace("_", "-")

    @property
    def accepts(self) -> str:
        """What the option accepts, as the end of a sentence: ``a whole number >= 0``."""
        if self.kind == "choice":
            return "one of " + ", ".join(self.choices)
        if self.kind == "switch":
            return "True or False"
        what = "a number" if self.kind == "number" else "a whole number"
        if self.low is not None and self.high is not None:
            return f"{what} from {_num(self.low)} to {_num(self.high)}"
        if self.low is not None:
            return f"{what} >= {_num(self.low)}"
        return what

    def error(self, value: Any, label: str | None = None) -> OptionError:
        return OptionError(f"{label or self.name} must be {self.accepts} (got {value!r})")

    def check(self, value: Any, label: str | None = None) -> Any:
        """Validate a Python value; return it normalised (a number becomes a ``float``).

        ``label`` names the option in the message (default: its name).
        """
        if self.kind == "choice":
            if not isinstance(value, str) or value not in self.choices:
                raise self.error(value, label)
            return value
        if self.kind == "switch":
            if not isinstance(value, bool):
                raise self.error(value, label)
            return value
        if isinstance(value, bool):
            raise self.error(value, label)
        ok = isinstance(value, int) or (
            self.kind == "number" and isinstance(value, float) and math.isfinite(value)
        )
        if not ok:
            raise self.error(value, label)
        if (self.low is not None and value < self.low) or (
            self.high is not None and value > self.high
        ):
            raise self.error(value, label)
        return float(value) if self.kind == "number" else value

    def parse(self, text: str, label: str | None = None) -> Any:
        """Read command-line text, then :meth:`check` it; a refusal quotes the text as given."""
        value: Any = text
        try:
            if self.kind == "number":
                value = float(text)
            elif self.kind == "whole":
                value = int(text)
            elif self.kind == "switch":
                value = {"true": True, "false": False}[text.strip().lower()]
        except (TypeError, ValueError, KeyError, AttributeError):
            raise self.error(text, label) from None
        try:
            return self.check(value, label)
        except OptionError:
            raise self.error(text, label) from None


OPTIONS: dict[str, Option] = {
    o.name: o
    for o in (
        Option(
            "mode",
            "choice",
            "auto",
            "panel kind: widget (live panels), text (tokens to stdout, runs labelled when they "
            "interleave), auto (widget in a Jupyter kernel, text elsewhere)",
            choices=MODES,
        ),
        # fps: 120 is more than a screen shows (more only adds messages); 0.5, one refresh every
        # 2 s, is as slow as a live panel can go and still look live. Outside that, the flush
        # interval (1/fps) is absurd: 1e-300 made it 1e300 s and broke the flush thread.
        Option(
            "fps",
            "number",
            20.0,
            "most updates per second per cell; tokens in between are coalesced into one "
            "message, never dropped",
            low=0.5,
            high=120,
        ),
        Option(
            "max_panels",
            "whole",
            8,
            "above this many LLM runs in a cell, one compact table (status, tokens, tok/s, first "
            "words; click a row for its text)",
            low=0,
        ),
        Option(
            "force_stream",
            "switch",
            False,
            "make invoke/ainvoke callers (agents, chains) stream into the panel",
        ),
        Option(
            "max_rows",
            "whole",
            200,
            "finished runs a cell's view keeps; older ones are dropped and counted, so long "
            "loops stay bounded",
            low=1,
        ),
        Option(
            "history_size",
            "whole",
            20,
            "how many cells' runs %lc_runs keeps",
            scope=EXTENSION,
            low=1,
        ),
        Option(
            "history_runs_per_cell",
            "whole",
            200,
            "most runs kept per cell for %lc_runs",
            scope=EXTENSION,
            low=1,
        ),
        Option(
            "autostart",
            "switch",
            True,
            "turn %lc_stream on when the extension loads (else start with it off)",
            scope=EXTENSION,
        ),
    )
}

#: the LiveStreamHandler options, in the order the status line prints them
HANDLER_OPTIONS = tuple(name for name, o in OPTIONS.items() if o.scope == HANDLER)


def check(name: str, value: Any, label: str | None = None) -> Any:
    """Validate one option's Python value (see :meth:`Option.check`)."""
    try:
        option = OPTIONS[name]
    except KeyError:
        raise OptionError(f"unknown option {name!r}") from None
    return option.check(value, label)


def check_handler_args(**values: Any) -> dict[str, Any]:
    """LiveStreamHandler's argument check: every value, in list order; the first bad one raises."""
    return {name: check(name, values[name]) for name in HANDLER_OPTIONS if name in values}


def format_options(values: dict[str, Any]) -> str:
    """``mode=widget fps=20 max_panels=8 force_stream=False max_rows=200``"""
    return " ".join(f"{k}={_num(values[k])}" for k in HANDLER_OPTIONS if k in values)


def _num(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def markdown_table() -> str:
    """The options table of README.md (a test checks README carries exactly this)."""
    rows = [
        "| option (`%config LCCallbacksNB.<option>`) | values | default "
        "| `%lc_stream on`, `%%lc_stream` flag | meaning |",
        "|---|---|---|---|---|",
    ]
    for o in OPTIONS.values():
        if o.kind == "choice":
            values = ", ".join(f"`{c}`" for c in o.choices)
        elif o.kind == "switch":
            values = "`True`, `False`"
        else:
            values = o.accepts
        default = f'`"{o.default}"`' if isinstance(o.default, str) else f"`{_num(o.default)}`"
        if o.scope == HANDLER:
            flag = f"`--[no-]{o.flag[2:]}`" if o.kind == "switch" else f"`{o.flag}`"
        else:
            flag = "none: an option of the extension"
        meaning = o.help.replace("%lc_runs", "`%lc_runs`").replace("%lc_stream", "`%lc_stream`")
        meaning = meaning.replace("invoke/ainvoke", "`invoke`/`ainvoke`")
        rows.append(f"| `{o.name}` | {values} | {default} | {flag} | {meaning} |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    sys.stdout.write(markdown_table())
