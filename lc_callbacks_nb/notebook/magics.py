"""The magics: parse arguments with ``magic_arguments`` (so ``%magic?`` documents itself), then
call the controller in ``extension.py``. Nothing else lives here."""

from __future__ import annotations

import argparse
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from ..live.options import HANDLER_OPTIONS, OPTIONS, Option

ACTIONS = ("on", "off", "status")


def _parse(magic: str, func: Any, line: str) -> argparse.Namespace:
    try:
        return parse_argstring(func, line)
    except UsageError as exc:  # argparse's message, one line; name the magic
        msg = str(exc).strip().splitlines()[-1] if str(exc).strip() else "bad arguments"
        raise UsageError(f"{magic}: {msg}") from None


def _options(args: argparse.Namespace) -> dict[str, Any]:
    return {name: getattr(args, name) for name in HANDLER_OPTIONS}


def _flag_help(option: Option) -> str:
    default = option.default
    if isinstance(default, float) and default.is_integer():
        default = int(default)
    if option.kind == "switch":
        return f"{option.help} (default: {'on' if default else 'off'})"
    if option.kind == "choice":  # the metavar lists the choices
        return f"{option.help} (default {default})"
    return f"{option.help} ({option.accepts}; default {default})"


def _handler_options(func: Any) -> Any:
    """The LiveStreamHandler options (live/options.py) as flags of %lc_stream and %%lc_stream.

    Values stay text here; the controller parses and checks them with the option list.
    """
    for name in reversed(HANDLER_OPTIONS):
        option = OPTIONS[name]
        if option.kind == "switch":
            deco = argument(
                option.flag,
                action=argparse.BooleanOptionalAction,
                default=None,
                dest=name,
                help=_flag_help(option),
            )
        else:
            deco = argument(
                option.flag,
                metavar="|".join(option.choices) if option.kind == "choice" else "N",
                default=None,
                dest=name,
                help=_flag_help(option),
            )
        func = deco(func)
    return func


@magics_class
class LCMagics(Magics):
    lc_callbacks_nb = True  # marks our instance, so a reload can find leftovers

    shell: Any  # always set: the extension registers us on a running shell

    def __init__(self, shell: Any, controller: Any) -> None:
        super().__init__(shell)
        self.controller = controller

    @magic_arguments()
    @argument(
        "action",
        nargs="?",
        default="status",
        metavar="on|off|status",
        help="turn live panels on or off for every LangChain run here, or show the state",
    )
    @_handler_options
    @line_magic
    def lc_stream(self, line: str) -> None:
        """Live panels for every LangChain run in this kernel (through LangChain's configure hook).

        Options given with ``on`` are kept (``%config LCCallbacksNB`` shows them). A run whose
        handlers already include a LiveStreamHandler (passed with ``callbacks=``) still gets one
        panel. Use ``%%lc_stream`` for one cell only.
        """
        args = _parse("lc_stream", self.lc_stream, line)
        if args.action not in ACTIONS:
            raise UsageError(
                f"lc_stream: action must be one of {', '.join(ACTIONS)} (got {args.action!r})"
            )
        options = _options(args)
        given = [k for k, v in options.items() if v is not None]
        if given and args.action != "on":
            flags = ", ".join(OPTIONS[k].flag for k in given)
            raise UsageError(f"lc_stream: options go with 'on' (got {flags} with {args.action!r})")
        if args.action == "on":
            self.controller.stream_on(options)
        elif args.action == "off":
            self.controller.stream_off()
        print(self.controller.status())

    @magic_arguments(name="%lc_stream")  # usage line reads %%lc_stream
    @_handler_options
    @cell_magic("lc_stream")  # type: ignore[arg-type]  # IPython's decorator typing
    def lc_stream_cell(self, line: str, cell: str) -> None:
        """Live panels for the LangChain runs this cell starts, and no others.

        The body may use top-level ``await``; its last expression is shown as usual. Options
        override the ``%lc_stream`` / ``%config LCCallbacksNB`` ones for this cell only. The
        previous state comes back when the cell ends, also on an error or an interrupt.
        """
        # Normally never called: the extension rewrites %%lc_stream cells before they run
        # (see cell_transform.py). This path serves direct run_cell_magic("lc_stream", ...).
        scope = self.open_scope(line)
        if self.shell.should_run_async(cell):
            raise UsageError(
                "lc_stream: top-level await needs %%lc_stream as the cell's first line"
            )
        with scope:
            self.shell.run_cell(cell, store_history=False)

    def open_scope(self, line: str) -> Any:
        args = _parse("lc_stream", self.lc_stream_cell, line)
        return self.controller.open_scope(_options(args))

    @magic_arguments()
    @argument(
        "cell",
        nargs="?",
        default=None,
        metavar="N",
        help="execution count of the cell (default: the last cell that started runs)",
    )
    @argument("--json", action="store_true", help="return plain data: a list of dicts")
    @line_magic
    def lc_runs(self, line: str) -> Any:
        """The LangChain runs a cell started, as a tree: name, kind, status, duration, tokens."""
        args = _parse("lc_runs", self.lc_runs, line)
        cell = None
        if args.cell is not None:
            try:
                cell = int(args.cell)
            except ValueError:
                raise UsageError(
                    f"lc_runs: N must be a cell's execution count, e.g. 3 (got {args.cell!r})"
                ) from None
        view = self.controller.runs(cell)
        return view.data() if args.json else view

    @magic_arguments()
    @line_magic
    def lc_handlers(self, line: str) -> None:
        """The handlers a LangChain run started now would get from this extension, and where
        their callbacks run (loop, executor, worker thread)."""
        _parse("lc_handlers", self.lc_handlers, line)
        print(self.controller.handlers_report())
