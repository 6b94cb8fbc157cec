"""The extension's options as one traitlets ``Configurable``, built from ``live/options.py``.

``%config LCCallbacksNB.fps = 30`` in a notebook, or ``c.LCCallbacksNB.fps = 30`` in
``ipython_kernel_config.py``. Each trait checks its value with the option list's own check, so
``%config``, a config file, the magics and ``LiveStreamHandler(...)`` accept and refuse the same
values with the same one-line message.

Values survive ``%reload_ext``: every accepted value is written back into the shell's config
(which a reload's new ``LCCallbacksNB`` reads), at once and again at unload, so a value that
``%config`` left there after we refused it never reaches the next load.
"""

from __future__ import annotations

import sys
from copy import deepcopy
from typing import Any

from traitlets import Bool, Float, Int, TraitError, TraitType, Unicode
from traitlets.config import Configurable
from traitlets.config.loader import Config, DeferredConfig, LazyConfigValue

from ..live.options import HANDLER_OPTIONS, OPTIONS, Option, OptionError

SECTION = "LCCallbacksNB"


class _Checked:
    """Mixed into a stock trait type: validate with the option list, parse text with it too."""

    option: Option

    def validate(self, obj: Any, value: Any) -> Any:
        try:
            return self.option.check(value, f"{SECTION}.{self.option.name}")
        except OptionError as exc:
            raise TraitError(str(exc)) from None

    def from_string(self, s: str) -> Any:  # --LCCallbacksNB.fps=30 on the kernel command line
        return self.option.parse(s, f"{SECTION}.{self.option.name}")


# Named like the stock types, so `%config LCCallbacksNB` still reads fps=<Float> and so on.
_TRAIT_TYPES: dict[str, Any] = {
    kind: type(base.__name__, (_Checked, base), {})
    for kind, base in (("choice", Unicode), ("number", Float), ("whole", Int), ("switch", Bool))
}


def _trait(name: str) -> Any:
    option = OPTIONS[name]
    text = option.help[0].upper() + option.help[1:]
    trait: TraitType[Any, Any] = _TRAIT_TYPES[option.kind](
        option.default, help=f"{text}. Accepts {option.accepts}."
    ).tag(config=True)
    trait.option = option  # type: ignore[attr-defined]
    return trait


def _resolve(name: str, value: Any) -> Any:
    """A config entry as the trait would see it (command-line text is parsed first)."""
    if isinstance(value, DeferredConfig):
        value = value.get_value(LCCallbacksNB.class_traits()[name])
    return OPTIONS[name].check(value, f"{SECTION}.{name}")


def drop_refused(config: Config) -> dict[str, str]:
    """Remove the refused ``LCCallbacksNB`` entries of ``config`` in place.

    Returns ``{name: one-line message}`` for each entry removed.
    """
    refused: dict[str, str] = {}
    if not config._has_section(SECTION):
        return refused
    section = config[SECTION]
    for name in list(section.keys()):
        if name not in OPTIONS or isinstance(section[name], LazyConfigValue):
            continue  # traitlets warns about unknown names itself
        try:
            _resolve(name, section[name])
        except OptionError as exc:
            refused[name] = str(exc)
            del section[name]
    return refused


def _show(value: Any) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else repr(value)


class LCCallbacksNB(Configurable):
    """Options of lc_callbacks_nb: live panels for LangChain runs, and the run history."""

    lc_callbacks_nb = True  # marks ours, so unload and reload can find every copy

    # One line per option of live/options.py; the option list holds type, range, default, help.
    mode = _trait("mode")
    fps = _trait("fps")
    max_panels = _trait("max_panels")
    force_stream = _trait("force_stream")
    max_rows = _trait("max_rows")
    history_size = _trait("history_size")
    history_runs_per_cell = _trait("history_runs_per_cell")
    autostart = _trait("autostart")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.observe(self._remember, names=list(OPTIONS))

    def _configs(self) -> list[Config]:
        """Our config and the parent's (the shell's): where a reload reads options from."""
        out: list[Config] = []
        for cfg in (self.config, getattr(self.parent, "config", None)):
            if cfg is not None and all(cfg is not c for c in out):
                out.append(cfg)
        return out

    def _remember(self, change: Any) -> None:
        # %lc_stream on --fps 9 after %config LCCallbacksNB.fps = 7: 9 wins, also after a reload
        for cfg in self._configs():
            cfg[SECTION][change["name"]] = change["new"]

    def remember_all(self) -> None:
        """Write every option's value in force into our config and the parent's (the shell's).

        The extension calls this when it unloads: ``%config`` stores even a value we refused in
        the shell's config (it updates the shell after us, classes go in name order), and the
        next load must meet the values in force, not that one.
        """
        for cfg in self._configs():
            for name in OPTIONS:
                cfg[SECTION][name] = getattr(self, name)

    def update_config(self, config: Config) -> None:
        """``%config`` lands here: apply the accepted entries, refuse the rest, one line each
        on stderr: ``LCCallbacksNB.fps must be ... (got '30'); keeping 20``.

        Printed, not raised: IPython's ``%config`` would log it as ``ERROR:root:...``.
        """
        config = deepcopy(config)
        refused = drop_refused(config)
        super().update_config(config)
        for name, message in refused.items():
            print(f"{message}; keeping {_show(getattr(self, name))}", file=sys.stderr)

    def handler_options(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in HANDLER_OPTIONS}


if set(LCCallbacksNB.class_trait_names(config=True)) != set(OPTIONS):  # pragma: no cover
    raise RuntimeError("LCCallbacksNB's traits and live/options.py's OPTIONS differ")
