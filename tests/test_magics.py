"""%lc_stream, %%lc_stream, %lc_runs, %lc_handlers and the extension's load/unload, in a real
kernel, with runs streaming from the embedded server over real HTTP.

"A panel appeared" is read from the IOPub widget traffic (tests/board_replay.py rebuilds what
the front-end would draw) or, in text mode, from the cell's stdout.
"""

from __future__ import annotations

import ast
import json
import re
import time

import pytest
from board_replay import replay
from harness import KernelSession

from lc_callbacks_nb.notebook.cell_transform import NAME, ScopeWrapper, rewrite_lines

AFTER_SETUP = ["%load_ext lc_callbacks_nb"]  # conftest's kernel

SETUP = """
import asyncio, json, threading
from langchain_openai import ChatOpenAI
from langchain_core.prompts import ChatPromptTemplate
from lc_callbacks_nb.notebook import hooks
m = ChatOpenAI(base_url={base_url!r}, api_key="sk-test", model="gpt-4o-mini",
               streaming=True, max_retries=0)
def probe():
    return [kind for kind, _ in hooks.active_handlers()]
"""


@pytest.fixture(autouse=True)
def _reset(request):
    """Every test starts with the extension loaded, panels on in widget mode, defaults."""
    if "k" not in request.fixturenames:
        yield
        return
    k = request.getfixturevalue("k")
    k.run(
        "%load_ext lc_callbacks_nb\n"
        "%config LCCallbacksNB.history_size = 20\n"
        "%lc_stream on --mode widget --fps 20 --max-panels 8 --no-force-stream"
    )
    yield


def cell(k: KernelSession, code: str, allow_error: bool = False):
    start = len(k.iopub)
    result = k.run(code, allow_error=allow_error)
    time.sleep(0.05)  # comm traffic of the flush thread that trails the reply
    return result, replay(k.iopub[start:])


def llm_runs(boards) -> list:
    return [r for b in boards for r in b.ordered()]


def runs_json(k: KernelSession, args: str) -> list:
    return k.eval(f"get_ipython().run_line_magic('lc_runs', {args!r})")


def usage_error(result) -> str:
    assert result.status == "error", result.stdout
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, result.stderr  # one line, no traceback
    assert "Traceback" not in result.stderr
    return lines[0]


# -- the rewrite, without a kernel ----------------------------------------------------------
def test_rewrite_keeps_body_lines_and_wraps_in_try_finally():
    src = '%%lc_stream --fps 5\nx = """\n  %keep\n"""\nawait f(x)\nx\n'
    lines = rewrite_lines(src.splitlines(keepends=True))
    assert lines[1:] == src.splitlines(keepends=True)[1:]  # body untouched, same line numbers
    assert lines[0].startswith(f"{NAME} = ") and "'--fps 5'" in lines[0]
    tree = ast.parse("".join(lines).replace("await ", ""))
    tree = ScopeWrapper().visit(tree)
    _opener, try_, finish = tree.body
    assert isinstance(try_, ast.Try) and try_.finalbody
    assert ast.unparse(finish) == f"{NAME}.finish()"
    assert ast.unparse(try_.body[-1]) == f"{NAME}.value = x"
    assert rewrite_lines(["%%lc_streamer\n", "x\n"]) == ["%%lc_streamer\n", "x\n"]
    assert rewrite_lines(["%%lc_stream?\n"]) == ["%%lc_stream?\n"]


def test_wrapper_leaves_other_cells_alone():
    tree = ast.parse("a = 1\na\n")
    assert ast.dump(ScopeWrapper().visit(tree)) == ast.dump(ast.parse("a = 1\na\n"))


# -- %lc_stream -----------------------------------------------------------------------------
def test_status_on_off(k):
    out = k.run("%lc_stream status").stdout
    assert (
        out.splitlines()[0]
        == "lc_stream: on  mode=widget fps=20 max_panels=8 force_stream=False max_rows=200"
    )
    assert out.splitlines()[1].startswith("lc_runs: recording, last 20 cells")
    assert k.run("%lc_stream off").stdout.startswith("lc_stream: off  (next on: mode=widget")
    assert k.eval("probe()") == ["recorder"]
    _, boards = cell(k, "m.invoke('no panel when off')")
    assert boards == []
    out = k.run("%lc_stream on --mode text --fps 7.5 --max-panels 2 --force-stream").stdout
    assert out.startswith("lc_stream: on  mode=text fps=7.5 max_panels=2 force_stream=True")
    assert k.eval("[get_ipython().config_value] if False else 0") == 0
    cfg = k.run("%config LCCallbacksNB").stdout
    assert "fps" in cfg and "7.5" in cfg


def test_bare_magic_is_status(k):
    assert k.run("%lc_stream").stdout.startswith("lc_stream: on  mode=widget")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            "%lc_stream on --mode sideways",
            "UsageError: lc_stream: --mode must be one of auto, widget, text (got 'sideways')",
        ),
        (
            "%lc_stream on --fps 0",
            "UsageError: lc_stream: --fps must be a number from 0.5 to 120 (got '0')",
        ),
        (
            "%lc_stream on --fps fast",
            "UsageError: lc_stream: --fps must be a number from 0.5 to 120 (got 'fast')",
        ),
        (
            "%lc_stream on --max-panels -1",
            "UsageError: lc_stream: --max-panels must be a whole number >= 0 (got '-1')",
        ),
        (
            "%lc_stream on --max-panels 2.5",
            "UsageError: lc_stream: --max-panels must be a whole number >= 0 (got '2.5')",
        ),
        (
            "%lc_stream sideways",
            "UsageError: lc_stream: action must be one of on, off, status (got 'sideways')",
        ),
        (
            "%lc_stream off --fps 3",
            "UsageError: lc_stream: options go with 'on' (got --fps with 'off')",
        ),
        (
            "%lc_stream on --colour red",
            "UsageError: lc_stream: unrecognized arguments: --colour red",
        ),
        (
            "%lc_runs last",
            "UsageError: lc_runs: N must be a cell's execution count, e.g. 3 (got 'last')",
        ),
        (
            "%%lc_stream --mode loud\nm.invoke('x')",
            "UsageError: lc_stream: --mode must be one of auto, widget, text (got 'loud')",
        ),
    ],
)
def test_bad_argument_is_one_line_and_changes_nothing(k, line, message):
    before = k.run("%lc_stream status").stdout
    result, boards = cell(k, line, allow_error=True)
    assert usage_error(result) == message
    assert boards == []  # the %%lc_stream body never ran
    assert k.run("%lc_stream status").stdout == before


def test_global_panel_in_sync_async_and_thread_cells(k):
    _, boards = cell(k, "m.invoke('sync cell run')")
    assert [r.text["text"] for r in llm_runs(boards)] == ["sync cell run"]
    _, boards = cell(k, "await m.ainvoke('async cell run')")
    assert [r.text["text"] for r in llm_runs(boards)] == ["async cell run"]
    _, boards = cell(
        k,
        "t = threading.Thread(target=m.invoke, args=('thread run',)); t.start(); t.join()",
    )
    assert [r.text["text"] for r in llm_runs(boards)] == ["thread run"]
    # the hook answers the same in a bare thread, an asyncio task, a copied context
    assert k.eval(
        "[(lambda out: (threading.Thread(target=lambda: out.append(probe())).start(), "
        "time.sleep(0.2), out[0])[2])([]) if (time := __import__('time')) else 0]"
    ) == [["recorder", "global"]]
    assert k.eval("await asyncio.create_task(asyncio.to_thread(probe))") == ["recorder", "global"]


def test_set_in_one_cell_is_seen_by_the_next_sync_and_async(k):
    k.run("%lc_stream off")
    k.run("await asyncio.sleep(0)\nget_ipython().run_line_magic('lc_stream', 'on')")  # async cell
    assert k.eval("probe()") == ["recorder", "global"]  # next (sync) cell sees it
    k.run("%lc_stream off")  # sync cell
    assert k.eval("await asyncio.sleep(0) or probe()") == ["recorder"]


OURS = """
from langchain_core.callbacks import CallbackManager, AsyncCallbackManager
def ours():
    return [type(h).__name__ for mgr in (CallbackManager, AsyncCallbackManager)
            for h in mgr.configure().handlers if type(h).__module__.startswith('lc_callbacks_nb')]
"""


def test_one_handler_of_ours_per_run_feeds_panel_and_lc_runs(k):
    """Regression (#16): the extension added two handlers to every run (the %lc_runs recorder
    and the panel's), so LangChain dispatched every event twice and read every start twice."""
    k.run(OURS)
    assert k.eval("ours()") == ["LiveStreamHandler"] * 2  # sync and async managers: one each
    result, boards = cell(k, "r = await m.ainvoke('one handler feeds both')")
    n = result.reply["content"]["execution_count"]
    (run,) = llm_runs(boards)
    (recorded,) = runs_json(k, f"{n} --json")
    assert run.text["text"] == "one handler feeds both" == recorded["preview"]
    assert recorded["streamed_tokens"] == run["tokens"] > 0  # both saw every token, once
    out = k.run("%%lc_stream --mode text\nprint(ours())").stdout
    assert out.strip() == "['LiveStreamHandler', 'LiveStreamHandler']"
    k.run("%lc_stream off")
    assert k.eval("ours()") == ["RunRecorder"] * 2
    r2 = k.run("m.invoke('recorded with panels off');")
    (off,) = runs_json(k, f"{r2.reply['content']['execution_count']} --json")
    assert off["preview"] == "recorded with panels off"


def test_explicit_handler_plus_global_gives_one_panel(k):
    k.run("from lc_callbacks_nb import LiveStreamHandler\nmine = LiveStreamHandler(mode='widget')")
    _, boards = cell(k, "await m.ainvoke('explicit and global', config={'callbacks': [mine]})")
    assert len(boards) == 1 and len(llm_runs(boards)) == 1


def test_config_magic_changes_the_global_handler(k):
    k.run("%config LCCallbacksNB.fps = 30")
    assert "fps=30" in k.run("%lc_stream status").stdout
    assert k.eval("hooks.GLOBAL.get().fps") == 30.0
    result = k.run("%config LCCallbacksNB.mode = 'loud'", allow_error=True)
    # IPython's %config logs a bad value (status stays ok); the message is still ours
    assert "LCCallbacksNB.mode must be one of auto, widget, text (got 'loud')" in result.stderr
    assert "mode=widget" in k.run("%lc_stream status").stdout
    k.run("%config LCCallbacksNB.mode = 'widget'")  # %config kept 'loud' in shell.config


def test_kernel_config_file_sets_options(tmp_path):
    profile = tmp_path / "profile_default"
    profile.mkdir()
    (profile / "ipython_kernel_config.py").write_text(
        "c.LCCallbacksNB.fps = 7\nc.LCCallbacksNB.autostart = False\n"
    )
    with KernelSession(env={"IPYTHONDIR": str(tmp_path)}) as k2:
        out = k2.run("%load_ext lc_callbacks_nb\n%lc_stream status").stdout
    assert (
        out.splitlines()[0]
        == "lc_stream: off  (next on: mode=auto fps=7 max_panels=8 force_stream=False max_rows=200)"
    )


# -- %%lc_stream ----------------------------------------------------------------------------
def test_cell_scope_only_this_cell_with_await_and_value(k):
    k.run("%lc_stream off")
    result, boards = cell(
        k,
        "%%lc_stream --mode text\n"
        "print(probe())\n"
        "r = await m.ainvoke('scoped async run')\n"
        "r.content.upper()",
    )
    assert "['recorder', 'scoped']" in result.stdout
    assert "scoped async run" in result.stdout.split("['recorder', 'scoped']", 1)[1]  # text panel
    assert result.result_text() == "'SCOPED ASYNC RUN'"
    assert boards == []  # text mode: no widget
    result, boards = cell(k, "print(probe()); r = m.invoke('next cell')")
    assert result.stdout.strip() == "['recorder']" and boards == []
    assert k.eval(f"{NAME!r} in globals()") is False


def test_cell_scope_semicolon_and_sync_body(k):
    k.run("%lc_stream off")
    result, boards = cell(k, "%%lc_stream\nm.invoke('quiet please').content;")
    assert result.result_text() is None
    assert [r.text["text"] for r in llm_runs(boards)] == ["quiet please"]


def test_cell_scope_wins_over_global_one_panel(k):
    result, boards = cell(k, "%%lc_stream --mode text\nprint(probe())\nm.invoke('both on');")
    assert "['recorder', 'scoped']" in result.stdout  # global yields to the cell's handler
    assert boards == [] and "both on" in result.stdout
    assert k.eval("probe()") == ["recorder", "global"]


def test_cell_scope_restored_after_error_with_user_traceback(k):
    k.run("%lc_stream off")
    result, _ = cell(k, "%%lc_stream\nx = 1\nraise ValueError('boom in body')\n", allow_error=True)
    assert result.error["ename"] == "ValueError"
    tb = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(result.error["traceback"]))
    assert "----> 3 raise ValueError('boom in body')" in tb  # the user's line, its line number
    assert k.eval("probe()") == ["recorder"]
    assert k.eval("len(hooks.SCOPED._open)") == 0


# An async cell: ipykernel 7.4 turns SIGINT into a cancel only when its loop next wakes up (a
# bare `await asyncio.sleep(30)` is cancelled after the 30 s), so the body wakes it often.
@pytest.mark.parametrize(
    "body", ["for _ in range(300): await asyncio.sleep(0.1)", "__import__('time').sleep(30)"]
)
def test_interrupt_inside_cell_scope_restores_state(k, body):
    k.run("%lc_stream off")
    msg_id = k.submit(f"%%lc_stream\nprint('started', flush=True)\n{body}\n")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not any(
        m["msg_type"] == "stream" and "started" in m["content"]["text"]
        for m in list(k.iopub)
        if m.get("parent_header", {}).get("msg_id") == msg_id
    ):
        time.sleep(0.05)
    time.sleep(0.2)
    k.interrupt()
    result = k.wait(msg_id, timeout=15)
    assert result.status == "error"
    assert result.error["ename"] in ("KeyboardInterrupt", "CancelledError")
    assert k.eval("probe()") == ["recorder"]
    assert k.eval("len(hooks.SCOPED._open)") == 0
    _, boards = cell(k, "m.invoke('after interrupt')")
    assert boards == []


def test_task_started_in_scoped_cell_keeps_its_panel_next_cell_does_not(k):
    k.run("%lc_stream off")
    k.run(
        "%%lc_stream --mode widget\n"
        "gate = asyncio.Event()\n"
        "async def later():\n"
        "    await gate.wait()\n"
        "    return await m.ainvoke('from a task of the scoped cell')\n"
        "task = asyncio.create_task(later())"
    )
    _, boards = cell(k, "gate.set(); await task; m.invoke('next cell own run');")
    assert [r.text["text"] for r in llm_runs(boards)] == ["from a task of the scoped cell"]


# -- %lc_runs -------------------------------------------------------------------------------
def test_lc_runs_tree_html_escaped_and_json(k):
    evil = "<img src=x onerror=alert(1)>"
    r1 = k.run(
        "chain = ChatPromptTemplate.from_messages([('human', '{q}')]) | m\n"
        f"await chain.ainvoke({{'q': {evil!r}}})"
    )
    n = r1.reply["content"]["execution_count"]
    k.run("x = 1")  # a cell without runs: %lc_runs still shows the last cell that had some
    res = k.run("%lc_runs")
    plain = res.result_text()
    assert plain.splitlines()[0] == f"cell [{n}]: 3 runs"
    assert "RunnableSequence  chain · done · " in plain
    assert "ChatPromptTemplate  chain · done" in plain
    assert "ChatOpenAI  llm · done" in plain and "tokens streamed" in plain
    html = res.of_type("execute_result")[0]["content"]["data"]["text/html"]
    assert evil not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    data = runs_json(k, f"{n} --json")
    assert [(d["depth"], d["kind"], d["status"], d["cell"]) for d in data] == [
        (0, "chain", "done", n),
        (1, "chain", "done", n),
        (1, "llm", "done", n),
    ]
    assert data[2]["preview"] == evil and data[2]["duration_s"] >= 0
    assert (
        k.run("%lc_runs 99999")
        .result_text()
        .startswith("lc_runs: no runs recorded for cell [99999]")
    )


def test_lc_runs_errors_and_background_task_attribution(k, server):
    r1 = k.run(
        "async def slow():\n"
        "    await asyncio.sleep(0.5)\n"
        "    return await m.ainvoke('started by an earlier cell')\n"
        "bg = asyncio.create_task(slow())"
    )
    n1 = r1.reply["content"]["execution_count"]
    r2 = k.run(
        "bad = ChatOpenAI(base_url='http://127.0.0.1:9/v1', api_key='x', max_retries=0,\n"
        "                 timeout=2)\n"
        "try:\n    bad.invoke('fails')\nexcept Exception as e:\n    pass\nawait bg;"
    )
    n2 = r2.reply["content"]["execution_count"]
    runs = runs_json(k, f"{n2} --json")
    assert [d["status"] for d in runs] == ["error"] and "ConnectionError" in runs[0]["error"]
    first = runs_json(k, f"{n1} --json")
    assert [d["preview"] for d in first] == ["started by an earlier cell"]


def test_cells_without_history_are_still_told_apart(k):
    # nbval runs cells with store_history=False: one execution count for all of them
    for text in ("first unstored", "second unstored"):
        k.wait(k.kc.execute(f"m.invoke({text!r});", store_history=False))
    assert [d["preview"] for d in runs_json(k, "--json")] == ["second unstored"]


def test_history_is_bounded(k):
    k.run("%config LCCallbacksNB.history_size = 2")
    counts = [k.run(f"m.invoke('h{i}');").reply["content"]["execution_count"] for i in range(3)]
    assert k.run(f"%lc_runs {counts[0]}").result_text().startswith("lc_runs: no runs recorded")
    assert "1 run" in k.run(f"%lc_runs {counts[2]}").result_text()


# -- %lc_handlers ---------------------------------------------------------------------------
def test_lc_handlers(k):
    out = k.run("%lc_handlers").stdout
    assert (
        "recorder RunRecorder(" in out and "global   LiveStreamHandler(fps=20, mode='widget'" in out
    )
    assert "scoped   none" in out and "callbacks=..." in out and "runs:" in out
    out = k.run("%%lc_stream --mode text\n%lc_handlers").stdout
    assert "scoped   LiveStreamHandler(fps=20, mode='text'" in out
    assert "yields to the scoped handler here" in out
    k.run("%lc_stream off")
    assert "global   off" in k.run("%lc_handlers").stdout


# -- load / reload / unload -----------------------------------------------------------------
COUNT_HOOKS = """
sh = get_ipython()
mark = lambda o: getattr(o, 'lc_callbacks_nb', False)
print(json.dumps([
    sum(map(mark, sh.input_transformers_cleanup)),
    sum(map(mark, sh.ast_transformers)),
    sum(map(mark, sh.events.callbacks['pre_run_cell'])),
    sum(type(c).__name__ == 'LCCallbacksNB' for c in sh.configurables),
    sorted(n for n in sh.magics_manager.magics['line'] if n.startswith('lc_')),
    sorted(n for n in sh.magics_manager.magics['cell'] if n.startswith('lc_')),
    sum(getattr(v, 'name', '').startswith('lc_callbacks_nb.') for v, *_ in
        __import__('langchain_core.tracers.context', fromlist=['x'])._configure_hooks
        # force_stream's slot: registered once per process, by the first force_stream handler
        if getattr(v, 'name', '') != 'lc_callbacks_nb.force_stream'),
    sum(getattr(v, 'name', '') == 'lc_callbacks_nb.force_stream' for v, *_ in
        __import__('langchain_core.tracers.context', fromlist=['x'])._configure_hooks) <= 1,
]))
"""


def test_reload_twice_keeps_one_copy_of_everything(k):
    k.run("%reload_ext lc_callbacks_nb")
    k.run("%reload_ext lc_callbacks_nb")
    counts = json.loads(k.run(COUNT_HOOKS).stdout)
    # pre_run_cell: the extension's scope reset and cells.py's cell numbering, one of each
    assert counts == [1, 1, 2, 1, ["lc_handlers", "lc_runs", "lc_stream"], ["lc_stream"], 1, True]
    _, boards = cell(k, "await m.ainvoke('one panel after reloads')")
    assert len(boards) == 1 and len(llm_runs(boards)) == 1
    result, _ = cell(k, "%%lc_stream --mode text\nm.invoke('scoped after reload');")
    assert result.stdout.count("scoped after reload") == 1


def test_unload_removes_everything(k):
    k.run("%unload_ext lc_callbacks_nb")
    counts = json.loads(k.run(COUNT_HOOKS).stdout)
    assert counts == [0, 0, 0, 0, [], [], 1, True]  # LangChain keeps our (now empty) slot
    assert k.eval("probe()") == []
    _, boards = cell(k, "await m.ainvoke('after unload'); m.invoke('sync after unload');")
    assert boards == []
    result = k.run("%lc_stream on", allow_error=True)
    assert result.status == "error" and "lc_stream" in result.stderr + json.dumps(result.error)
    k.run("%load_ext lc_callbacks_nb")
    _, boards = cell(k, "m.invoke('loaded again');")
    assert len(llm_runs(boards)) == 1


# -- the LangChain contract the slots rely on (no kernel) -----------------------------------
def test_langchain_configure_hook_reads_our_slots_in_any_thread_and_task():
    import asyncio
    import threading

    from langchain_core.callbacks import BaseCallbackHandler, CallbackManager

    from lc_callbacks_nb.notebook import hooks

    class Probe(BaseCallbackHandler):
        pass

    probe, scoped = Probe(), Probe()

    def handlers() -> list:
        return CallbackManager.configure().handlers

    old = hooks.GLOBAL.target
    hooks.set_global(probe)
    try:
        seen: list = []
        t = threading.Thread(target=lambda: seen.append(handlers()))
        t.start()
        t.join()
        assert probe in seen[0]

        async def in_task():
            return await asyncio.create_task(asyncio.to_thread(handlers))

        assert probe in asyncio.run(in_task())
        hooks.SCOPED.enabled = True
        with hooks.CellScope(scoped):
            inside = handlers()
        assert scoped in inside and probe not in inside  # the global slot yields
        assert probe in handlers() and scoped not in handlers()
        hooks.set_global(None)
        assert probe not in handlers()
    finally:
        hooks.set_global(old)
        hooks.SCOPED.enabled = False
