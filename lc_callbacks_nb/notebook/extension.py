"""Load and unload the IPython extension; the logic behind the magics.

``load(shell)`` adds, and ``unload(shell)`` removes, exactly these: the ``LCCallbacksNB``
configurable and the ``LCMagics`` instance (both in ``shell.configurables``), the magics, a
``pre_run_cell`` callback (a new cell starts outside any ``%%lc_stream`` scope), the cell hooks
of ``cells.py``, the ``%%lc_stream``
text and AST transforms, and the target of the configure-hook slot: the global
``LiveStreamHandler`` while ``%lc_stream on``, else the run recorder. Every panel handler the
extension makes feeds the recorder itself, so a run gets one handler of ours, not two. The slot
stays registered with LangChain (it has no unregister) and returns ``None``.
Every hook we add carries the attribute ``lc_callbacks_nb = True``, and ``load`` first sweeps
away any marked leftovers, so ``%reload_ext`` always ends with one copy of each.
"""

from __future__ import annotations

from typing import Any

from IPython.core.error import UsageError

from ..live.options import HANDLER_OPTIONS, OPTIONS, OptionError, format_options
from . import cell_transform, hooks
from .cell_transform import ScopeWrapper, rewrite_lines
from .config import LCCallbacksNB, drop_refused
from .history import RunRecorder

_controllers: dict[int, Controller] = {}  # id(shell) -> the loaded controller


def current(shell: Any = None) -> Controller:
    """The controller of ``shell`` (default: the running one); UsageError if not loaded."""
    if shell is None:
        from IPython import get_ipython

        shell = get_ipython()
    ctl = _controllers.get(id(shell))
    if ctl is None:
        raise UsageError("lc_callbacks_nb is not loaded: run %load_ext lc_callbacks_nb")
    return ctl


def load(shell: Any) -> None:
    if id(shell) in _controllers:
        unload(shell)
    _sweep(shell)
    ctl = Controller(shell)
    _controllers[id(shell)] = ctl
    ctl.install()


def unload(shell: Any) -> None:
    ctl = _controllers.pop(id(shell), None)
    if ctl is not None:
        ctl.uninstall()
    _sweep(shell)
    from . import cells

    cells.uninstall()  # a LiveStreamHandler used afterwards installs it again
    from ..langchain import closed_streams

    closed_streams.uninstall()  # likewise
    if not _controllers:
        hooks.set_global(None)
        hooks.set_recorder(None)
        hooks.SCOPED.enabled = False
        hooks.SCOPED.close_all()


def _marked(obj: Any) -> bool:
    return bool(getattr(obj, "lc_callbacks_nb", False))


def _sweep(shell: Any) -> None:
    """Remove hooks of ours that a lost controller (module reimported by hand) left behind."""
    shell.input_transformers_cleanup[:] = [
        t for t in shell.input_transformers_cleanup if not _marked(t)
    ]
    shell.ast_transformers[:] = [t for t in shell.ast_transformers if not _marked(t)]
    for event, callbacks in shell.events.callbacks.items():
        for cb in list(callbacks):
            if _marked(cb):
                shell.events.unregister(event, cb)
    # Our LCCallbacksNB and LCMagics (IPython's Magics.__init__ appends itself here).
    shell.configurables[:] = [c for c in shell.configurables if not _marked(c)]
    mm = shell.magics_manager
    for kind in ("line", "cell"):
        for name, fn in list(mm.magics[kind].items()):
            if _marked(getattr(fn, "__self__", None)):
                del mm.magics[kind][name]
    for key, inst in list(mm.registry.items()):
        if _marked(inst):
            del mm.registry[key]


def _make_config(shell: Any) -> LCCallbacksNB:
    """The configurable, from shell config (config files, the kernel command line, earlier
    %config and %lc_stream on); a refused value there is dropped with a one-line warning, so
    its option keeps its default."""
    import sys

    for name, message in drop_refused(shell.config).items():
        default = OPTIONS[name].default
        print(
            f"lc_callbacks_nb: ignoring bad config: {message}; using {default!r}",
            file=sys.stderr,
        )
    return LCCallbacksNB(parent=shell)


def make_handler(options: dict[str, Any]) -> Any:
    from ..live.handler import LiveStreamHandler

    try:
        return LiveStreamHandler(**options)
    except ValueError as exc:  # belt and braces: our checks should have caught it
        raise UsageError(f"lc_stream: {exc}") from None


class Controller:
    """The extension's state in one shell; the magics call these methods."""

    def __init__(self, shell: Any) -> None:
        self.shell = shell
        self.config = _make_config(shell)
        self.recorder = RunRecorder(
            max_cells=self.config.history_size,
            max_runs_per_cell=self.config.history_runs_per_cell,
        )
        self.handler: Any = None  # the global LiveStreamHandler while %lc_stream is on
        self.magics: Any = None
        self.text_transform: Any = None
        self.ast_transform: Any = None

        def pre_run_cell(info: Any) -> None:
            hooks.SCOPED.mark_cell()  # a new cell starts outside any %%lc_stream scope

        pre_run_cell.lc_callbacks_nb = True  # type: ignore[attr-defined]
        self._pre_run_cell = pre_run_cell

    # -- install / uninstall ------------------------------------------------------------
    def install(self) -> None:
        from .magics import LCMagics

        shell = self.shell
        shell.configurables.append(self.config)
        self.config.observe(self._options_changed, names=list(HANDLER_OPTIONS))
        self.config.observe(self._history_changed, names=["history_size", "history_runs_per_cell"])
        self.magics = LCMagics(shell, self)
        shell.register_magics(self.magics)
        shell.events.register("pre_run_cell", self._pre_run_cell)
        self.text_transform = rewrite_lines
        shell.input_transformers_cleanup.append(rewrite_lines)
        self.ast_transform = ScopeWrapper()
        shell.ast_transformers.append(self.ast_transform)
        cell_transform.set_scope_opener(self.magics.open_scope)
        hooks.set_recorder(self.recorder)
        hooks.set_global(self.recorder)  # records every run; %lc_stream on replaces it
        hooks.SCOPED.enabled = True
        from . import cells

        cells.install(shell)  # which cell a run belongs to, and when cells end
        if self.config.autostart:
            self.stream_on({})

    def uninstall(self) -> None:
        shell = self.shell
        self.stream_off()
        hooks.set_global(None)
        hooks.set_recorder(None)
        self.config.remember_all()  # the values in force are what a reload starts from
        self.config.unobserve(self._options_changed, names=list(HANDLER_OPTIONS))
        self.config.unobserve(
            self._history_changed, names=["history_size", "history_runs_per_cell"]
        )
        if self.ast_transform in shell.ast_transformers:
            shell.ast_transformers.remove(self.ast_transform)
        if self.text_transform in shell.input_transformers_cleanup:
            shell.input_transformers_cleanup.remove(self.text_transform)
        cell_transform.set_scope_opener(None)
        if self._pre_run_cell in shell.events.callbacks.get("pre_run_cell", []):
            shell.events.unregister("pre_run_cell", self._pre_run_cell)
        shell.configurables[:] = [
            c for c in shell.configurables if c is not self.config and c is not self.magics
        ]
        # Magics: IPython has no unregister; _sweep removes the marked entries.

    # -- %lc_stream ----------------------------------------------------------------------
    def check(self, options: dict[str, Any], magic: str = "lc_stream") -> dict[str, Any]:
        """Validate every option first, so a bad one changes nothing. Text (a magic's
        argument) is parsed, other values checked, by the option list's one rule."""
        out = {}
        try:
            for k, v in options.items():
                if v is None:
                    continue
                option = OPTIONS[k]
                out[k] = (
                    option.parse(v, option.flag)
                    if isinstance(v, str)
                    else option.check(v, option.flag)
                )
        except OptionError as exc:
            raise UsageError(f"{magic}: {exc}") from None
        return out

    def stream_on(self, options: dict[str, Any]) -> None:
        options = self.check(options)
        merged = {**self.config.handler_options(), **options}
        if self.handler is None or merged != self._handler_options(self.handler):
            # before touching the config: a failure changes nothing
            self.handler = self.make_handler(merged)
            hooks.set_global(self.handler)
        for k, v in options.items():  # kept, also across %reload_ext (the config's observer)
            setattr(self.config, k, v)

    def stream_off(self) -> None:
        self.handler = None
        hooks.set_global(self.recorder)  # panels off, %lc_runs still records

    def make_handler(self, options: dict[str, Any]) -> Any:
        """A panel handler that also feeds this extension's recorder."""
        handler = make_handler(options)
        handler.recorder = self.recorder
        return handler

    def _options_changed(self, change: Any) -> None:
        # %config LCCallbacksNB.fps = 30 while on: later runs get a handler with the new options.
        if self.handler is not None:
            merged = self.config.handler_options()
            if merged != self._handler_options(self.handler):
                self.handler = self.make_handler(merged)
                hooks.set_global(self.handler)

    def _history_changed(self, change: Any) -> None:
        self.recorder.resize(self.config.history_size, self.config.history_runs_per_cell)

    @staticmethod
    def _handler_options(handler: Any) -> dict[str, Any]:
        return {k: getattr(handler, k, None) for k in HANDLER_OPTIONS}

    def status(self) -> str:
        if self.handler is not None:
            line = f"lc_stream: on  {format_options(self._handler_options(self.handler))}"
        else:
            line = f"lc_stream: off  (next on: {format_options(self.config.handler_options())})"
        history = (
            f"lc_runs: recording, last {self.config.history_size} cells, "
            f"up to {self.config.history_runs_per_cell} runs each"
        )
        return line + "\n" + history

    # -- %%lc_stream ---------------------------------------------------------------------
    def open_scope(self, options: dict[str, Any]) -> hooks.CellScope:
        options = self.check(options)
        return hooks.CellScope(self.make_handler({**self.config.handler_options(), **options}))

    # -- %lc_runs ------------------------------------------------------------------------
    def runs(self, cell: int | None) -> Any:
        return self.recorder.view(cell)

    # -- %lc_handlers --------------------------------------------------------------------
    def handlers_report(self) -> str:
        lines = [
            "Handlers the configure hook adds to a LangChain run started here "
            "(one handler; the panel handler also records for %lc_runs):"
        ]
        chosen = hooks.configured_handler()
        scoped = hooks.SCOPED.get()
        rows = [
            ("recorder", self.recorder, "%lc_runs history"),
            ("scoped", scoped, "%%lc_stream, this cell only"),
            ("global", self.handler, "%lc_stream on, every run in this kernel"),
        ]
        for kind, handler, why in rows:
            if handler is None:
                state = {"scoped": "none (no %%lc_stream in this cell)", "global": "off"}.get(
                    kind, "off"
                )
                lines.append(f"  {kind:<8} {state}")
                continue
            note = why
            if kind == "global" and scoped is not None:
                note += "; yields to the scoped handler here"
            if kind == "recorder" and chosen is not handler:
                note += "; fed by the panel handler, not a handler of its own"
            lines.append(f"  {kind:<8} {handler!r}  [{note}]")
            if kind != "recorder" or chosen is handler:
                lines.append(f"  {'':<8}   runs: {_placement(handler)}")
        lines.append(
            "Handlers passed as callbacks=... (on a model or in a call's config) are per model "
            "or per call: not visible here; LangChain calls them before these."
        )
        return "\n".join(lines)


def _placement(handler: Any) -> str:
    describe_placement: Any
    try:
        from ..langchain.placement import describe_placement
    except ImportError:
        describe_placement = None
    if describe_placement is not None:
        try:
            return (
                f"async run: {describe_placement(handler)}; "
                f"sync run: {describe_placement(handler, sync_run=True)}"
            )
        except Exception:  # fall back to our own description
            pass
    import inspect

    if getattr(handler, "run_inline", False):
        return "inline, on the thread that fires the event (the kernel loop in async runs)"
    if inspect.iscoroutinefunction(getattr(handler, "on_llm_new_token", None)):
        return "awaited on the run's event loop (sync runs: a worker thread with its own loop)"
    return "the loop's default executor in async runs; the calling thread in sync runs"
