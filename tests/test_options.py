"""The one option list (lc_callbacks_nb/live/options.py) and everything derived from it.

A value is accepted or refused once, the same way, by LiveStreamHandler(...), the LCCallbacksNB
traits (%config, config files, the kernel command line) and the %lc_stream flags; a refusal is
one line naming the option and the bad value; the last value set survives %reload_ext; unload
leaves nothing of ours behind. The kernel tests run in a real kernel (tests/harness.py).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
from harness import KernelSession
from traitlets import TraitError
from traitlets.config import Config
from traitlets.config.loader import DeferredConfigString

from lc_callbacks_nb import LiveStreamHandler
from lc_callbacks_nb.live.options import HANDLER, HANDLER_OPTIONS, OPTIONS, markdown_table
from lc_callbacks_nb.notebook.config import LCCallbacksNB
from lc_callbacks_nb.views.auto import MODES

ROOT = Path(__file__).resolve().parent.parent

# A spread of values for every option: right and wrong types, edges of each range.
PROBES = [
    True, False, 0, 1, -1, 2, 7, 200, 0.5, 2.0, 2.5, 120, 120.5, 1e-300, 1e300,
    math.nan, math.inf, -math.inf, "30", "7", "True", "auto", "widget", "text", "loud", None,
]  # fmt: skip


# -- the list itself -----------------------------------------------------------------------
def test_the_list_covers_every_option_once():
    assert list(OPTIONS) == [
        "mode",
        "fps",
        "max_panels",
        "force_stream",
        "max_rows",
        "history_size",
        "history_runs_per_cell",
        "autostart",
    ]
    assert set(LCCallbacksNB.class_trait_names(config=True)) == set(OPTIONS)
    assert HANDLER_OPTIONS == ("mode", "fps", "max_panels", "force_stream", "max_rows")
    assert OPTIONS["mode"].choices == MODES
    handler_defaults = {
        name: p.default
        for name, p in __import__("inspect")
        .signature(LiveStreamHandler.__init__)
        .parameters.items()
        if name in HANDLER_OPTIONS
    }
    assert handler_defaults == {n: OPTIONS[n].default for n in HANDLER_OPTIONS}
    cfg = LCCallbacksNB()
    assert {n: getattr(cfg, n) for n in OPTIONS} == {n: o.default for n, o in OPTIONS.items()}


def test_readme_carries_exactly_the_generated_table():
    readme = (ROOT / "README.md").read_text()
    table = markdown_table()
    assert readme.count(table) == 1
    for name in OPTIONS:  # no second, hand-written row for any option
        assert sum(ln.startswith(f"| `{name}` |") for ln in readme.splitlines()) == 1, name
    out = subprocess.run(
        [sys.executable, "-m", "lc_callbacks_nb.live.options"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout
    assert out == table


# -- one rule, everywhere ------------------------------------------------------------------
def _outcome(fn):
    try:
        fn()
    except (ValueError, TraitError) as exc:
        return str(exc)
    return "ok"


@pytest.mark.parametrize("name", list(OPTIONS))
def test_handler_trait_and_list_accept_and_refuse_the_same_values(name):
    option = OPTIONS[name]
    for value in PROBES:
        expected = _outcome(lambda v=value: option.check(v))
        assert "\n" not in expected
        if expected != "ok":
            assert expected == f"{name} must be {option.accepts} (got {value!r})"

        def set_trait(v=value):
            setattr(LCCallbacksNB(), name, v)

        got = _outcome(set_trait)
        assert got == ("ok" if expected == "ok" else f"LCCallbacksNB.{expected}"), value
        if option.scope == HANDLER:
            got = _outcome(lambda v=value: LiveStreamHandler(**{name: v}))
            assert got == expected, value


def test_fps_has_a_sane_range_and_refuses_nan_and_inf():
    # defect 6: %lc_stream on --fps 1e-300 was accepted and killed the shared flush thread
    for fps in (1e-300, 0, 0.49, -1, 120.01, 240, 1e300, math.nan, math.inf, -math.inf):
        with pytest.raises(ValueError) as info:
            LiveStreamHandler(fps=fps)
        assert str(info.value) == f"fps must be a number from 0.5 to 120 (got {fps!r})"
    assert LiveStreamHandler(fps=0.5).fps == 0.5
    assert LiveStreamHandler(fps=120).fps == 120.0
    fps = OPTIONS["fps"]
    for text in ("1e-300", "nan", "inf", "-inf", "1e400", "0", "fast", "", "30fps"):
        with pytest.raises(ValueError) as info:
            fps.parse(text, "--fps")
        assert str(info.value) == f"--fps must be a number from 0.5 to 120 (got {text!r})"
    assert fps.parse("1e1", "--fps") == 10.0


def test_numeric_strings_are_refused_as_values_and_parsed_as_command_line_text():
    # one rule: a Python value must have the option's type; only command-line text is parsed
    message = "fps must be a number from 0.5 to 120 (got '30')"
    assert _outcome(lambda: LiveStreamHandler(fps="30")) == message
    assert _outcome(lambda: LCCallbacksNB(fps="30")) == "LCCallbacksNB." + message
    c = Config()
    c.LCCallbacksNB.fps = DeferredConfigString("30")  # --LCCallbacksNB.fps=30
    c.LCCallbacksNB.force_stream = DeferredConfigString("true")
    cfg = LCCallbacksNB(config=c)
    assert (cfg.fps, cfg.force_stream) == (30.0, True)
    for name, text in (("force_stream", "1"), ("max_rows", "2.5"), ("mode", "loud")):
        with pytest.raises(ValueError, match=rf"^--{name.replace('_', '-')} must be .*\(got "):
            OPTIONS[name].parse(text, OPTIONS[name].flag)


# -- in a real kernel ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def k():
    with KernelSession() as session:
        session.run("import json\n%load_ext lc_callbacks_nb")
        yield session


def status(k: KernelSession) -> str:
    return k.run("%lc_stream status").stdout.splitlines()[0]


def one_line(text: str) -> str:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    assert len(lines) == 1, text
    return lines[0]


def test_magic_refuses_fps_out_of_range_in_one_line(k):
    k.run("%lc_stream on --fps 20")
    before = status(k)
    for text in ("1e-300", "nan", "inf", "500"):
        result = k.run(f"%lc_stream on --fps {text}", allow_error=True)
        assert result.status == "error"
        assert one_line(result.stderr) == (
            f"UsageError: lc_stream: --fps must be a number from 0.5 to 120 (got '{text}')"
        )
        assert status(k) == before
    assert "fps=0.5 " in k.run("%lc_stream on --fps 0.5").stdout
    assert "fps=120 " in k.run("%lc_stream on --fps 120").stdout
    k.run("%lc_stream on --fps 20")


def test_max_rows_is_a_trait_and_a_flag(k):
    out = k.run("%lc_stream on --max-rows 50").stdout
    assert out.startswith("lc_stream: on  mode=") and out.splitlines()[0].endswith(" max_rows=50")
    assert k.eval("__import__('lc_callbacks_nb').notebook.hooks.GLOBAL.get().max_rows") == 50
    assert "Current: 50" in k.run("%config LCCallbacksNB").stdout.split("max_rows")[1]
    out = k.run(
        "%%lc_stream --max-rows 3 --mode text\n"
        "print(__import__('lc_callbacks_nb').notebook.hooks.SCOPED.get().max_rows)"
    ).stdout
    assert out.strip() == "3"
    result = k.run("%lc_stream on --max-rows 0", allow_error=True)
    assert one_line(result.stderr) == (
        "UsageError: lc_stream: --max-rows must be a whole number >= 1 (got '0')"
    )
    result = k.run("%config LCCallbacksNB.max_rows = 0")
    assert one_line(result.stderr) == (
        "LCCallbacksNB.max_rows must be a whole number >= 1 (got 0); keeping 50"
    )
    assert status(k).endswith(" max_rows=50")
    k.run("%lc_stream on --max-rows 200")


def test_bool_given_as_1_is_refused_at_once_and_stays_refused_after_reload(k):
    k.run("%lc_stream on --no-force-stream")
    result = k.run("%config LCCallbacksNB.force_stream = 1")
    assert one_line(result.stderr) == (
        "LCCallbacksNB.force_stream must be True or False (got 1); keeping False"
    )
    assert status(k).endswith("force_stream=False max_rows=200")
    assert "Current: False" in k.run("%config LCCallbacksNB").stdout.split("force_stream")[1]
    result = k.run("%reload_ext lc_callbacks_nb")
    assert result.stderr == ""  # nothing bad was kept to be refused later
    assert "force_stream=False" in status(k)


def test_numeric_string_in_config_gets_our_one_line_message(k):
    k.run("%lc_stream on --fps 20")
    result = k.run("%config LCCallbacksNB.fps = '30'")
    assert one_line(result.stderr) == (
        "LCCallbacksNB.fps must be a number from 0.5 to 120 (got '30'); keeping 20"
    )
    assert " fps=20 " in status(k)
    assert k.run("%reload_ext lc_callbacks_nb").stderr == ""
    assert " fps=20 " in status(k)


def test_last_value_set_wins_and_survives_reload(k):
    k.run("%config LCCallbacksNB.fps = 7")
    k.run("%lc_stream on --fps 9 --max-panels 3")
    k.run("%reload_ext lc_callbacks_nb")
    assert " fps=9 max_panels=3 " in status(k)
    k.run("%config LCCallbacksNB.fps = 11")  # and the other way round
    k.run("%config LCCallbacksNB.mode = 'text'")  # %config of another option keeps fps
    assert "mode=text fps=11 max_panels=3 " in status(k)
    k.run("%reload_ext lc_callbacks_nb")
    assert "mode=text fps=11 max_panels=3 " in status(k)
    k.run("%lc_stream on --mode auto --fps 20 --max-panels 8")


COUNT_OURS = """
sh = get_ipython()
mark = lambda o: getattr(o, 'lc_callbacks_nb', False)
print(json.dumps({
    'configurables': sorted(type(c).__name__ for c in sh.configurables if mark(c)),
    'registry': sorted(k for k, v in sh.magics_manager.registry.items() if mark(v)),
    'line': sorted(n for n, f in sh.magics_manager.magics['line'].items()
                   if mark(getattr(f, '__self__', None))),
    'cell': sorted(n for n, f in sh.magics_manager.magics['cell'].items()
                   if mark(getattr(f, '__self__', None))),
    'events': sum(mark(cb) for cbs in sh.events.callbacks.values() for cb in cbs),
    'transformers': sum(map(mark, sh.input_transformers_cleanup))
                    + sum(map(mark, sh.ast_transformers)),
}))
"""

ONE_OF_EACH = {
    "configurables": ["LCCallbacksNB", "LCMagics"],
    "registry": ["LCMagics"],
    "line": ["lc_handlers", "lc_runs", "lc_stream"],
    "cell": ["lc_stream"],
}


def test_reload_keeps_one_of_each_and_unload_leaves_nothing(k):
    # defect 8: after %load_ext and two %reload_ext, three LCMagics sat in shell.configurables
    # and stayed there after %unload_ext, holding their controllers and old run history
    k.run(
        "import gc, weakref\n"
        "from lc_callbacks_nb.notebook import extension as _ext\n"
        "_refs = [weakref.ref(_ext.current())]"
    )
    for _ in range(2):
        k.run("%reload_ext lc_callbacks_nb\n_refs.append(weakref.ref(_ext.current()))")
    counts = json.loads(k.run(COUNT_OURS).stdout)
    assert {key: counts[key] for key in ONE_OF_EACH} == ONE_OF_EACH
    assert counts["events"] >= 1 and counts["transformers"] == 2
    k.run("%unload_ext lc_callbacks_nb")
    counts = json.loads(k.run(COUNT_OURS).stdout)
    assert counts == {
        "configurables": [],
        "registry": [],
        "line": [],
        "cell": [],
        "events": 0,
        "transformers": 0,
    }
    assert k.eval("gc.collect() and [r() is None for r in _refs]") == [True, True, True]
    k.run("%load_ext lc_callbacks_nb")
    counts = json.loads(k.run(COUNT_OURS).stdout)
    assert {key: counts[key] for key in ONE_OF_EACH} == ONE_OF_EACH


def test_kernel_command_line_options_are_parsed_by_the_same_rule():
    args = ["--LCCallbacksNB.fps=30", "--LCCallbacksNB.force_stream=1"]
    with KernelSession(extra_arguments=args) as k2:
        result = k2.run("%load_ext lc_callbacks_nb\n%lc_stream status")
    assert one_line(result.stderr) == (
        "lc_callbacks_nb: ignoring bad config: "
        "LCCallbacksNB.force_stream must be True or False (got '1'); using False"
    )
    assert result.stdout.splitlines()[0] == (
        "lc_stream: on  mode=auto fps=30 max_panels=8 force_stream=False max_rows=200"
    )
