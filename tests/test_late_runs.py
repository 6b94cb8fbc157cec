"""Every run, wherever and however it ends: what reaches the saved notebook.

A notebook is executed headless with nbclient (what nbval and ``make demo`` see: it records
only IOPub messages parented to the cell it is executing) and its saved outputs are read: the
static twin of each board (``text/plain``) and the widget state's rows.
"""

from __future__ import annotations

import time

import nbformat
import pytest
from nbclient import NotebookClient

from lc_callbacks_nb.server import LocalChatServer, Reply, ToolCall
from lc_callbacks_nb.views.widget import saved_runs

SCRIPT = {
    "Weather in Paris?": [
        Reply(tool_calls=[ToolCall("get_weather", {"city": "Paris"})]),
        "It is sunny in Paris today.",
    ],
}

SETUP = """\
%load_ext lc_callbacks_nb
import asyncio
from langchain_openai import ChatOpenAI
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.output_parsers import StrOutputParser
from langchain_core.tools import tool
from langchain.agents import create_agent
chat = ChatOpenAI(base_url={base_url!r}, api_key='sk-local', model='gpt-4o-mini', max_retries=0)
chain = ChatPromptTemplate.from_messages([('human', '{{q}}')]) | chat | StrOutputParser()

@tool
def get_weather(city: str) -> str:
    \"\"\"Current weather for a city.\"\"\"
    return f"sunny in {{city}}"

agent = create_agent(chat, tools=[get_weather])
"""


def execute(cells: list[str], **server: object) -> nbformat.NotebookNode:
    with LocalChatServer(token_delay=0.01, script=SCRIPT, **server) as srv:  # type: ignore[arg-type]
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
        sources = [SETUP.format(base_url=srv.base_url), *cells]
        nb.cells = [nbformat.v4.new_code_cell(src) for src in sources]
        NotebookClient(nb, timeout=120, store_widget_state=True).execute()
    return nb


def twin(cell: nbformat.NotebookNode) -> str:
    texts = [
        o["data"]["text/plain"]
        for o in cell.outputs
        if "application/vnd.jupyter.widget-view+json" in o.get("data", {})
    ]
    assert len(texts) == 1, f"one board in the cell, got {len(texts)}: {cell.outputs}"
    return texts[0]


def widget_rows(nb: nbformat.NotebookNode, cell: nbformat.NotebookNode) -> list[dict]:
    view = "application/vnd.jupyter.widget-view+json"
    (out,) = [o for o in cell.outputs if view in o.get("data", {})]
    model_id = out.data[view]["model_id"]
    state = nb.metadata.widgets["application/vnd.jupyter.widget-state+json"]["state"]
    return saved_runs(state[model_id])


BREAKS = {
    "model": "async for chunk in chat.astream('Tell me a joke'):\n    break",
    "chain": "async for chunk in chain.astream({'q': 'Tell me a joke'}):\n    break",
    "agent": (
        "async for step in agent.astream({'messages': [('user', 'Weather in Paris?')]}):\n    break"
    ),
    "astream_events v1": (
        "async for event in chat.astream_events('Tell me a joke', version='v1'):\n"
        "    if event['event'] == 'on_chat_model_stream':\n"
        "        break"
    ),
    "astream_events v2": (
        "async for event in chat.astream_events('Tell me a joke', version='v2'):\n"
        "    if event['event'] == 'on_chat_model_stream':\n"
        "        break"
    ),
    "held, closed": (
        "agen = chat.astream('Tell me a joke')\n"
        "async for chunk in agen:\n    break\n"
        "await agen.aclose()"
    ),
}


@pytest.mark.parametrize("last", [True, False], ids=["last_cell", "followed"])
def test_break_out_of_an_async_stream_ends_the_run_in_its_own_cell(last):
    """``async for ... : break`` drops the stream: its runs read interrupted in the saved twin
    and widget state of that cell, also when it is the notebook's last cell (nothing after it
    could carry a late update)."""
    cells = list(BREAKS.values())
    if not last:
        cells = [c + "\n" for c in cells] + ["await asyncio.sleep(0.5)"]
    nb = execute(cells)
    for i, name in enumerate(BREAKS, start=1):
        cell = nb.cells[i]
        text = twin(cell)
        assert "running" not in text, (name, text)
        assert "interrupted" in text and "stream closed before its end" in text, (name, text)
        rows = widget_rows(nb, cell)
        assert rows and all(r["status"] != "running" for r in rows), (name, rows)
        root = next(r for r in rows if r["parent"] is None)
        assert root["status"] == "interrupted", (name, rows)


def test_a_dropped_stream_ends_its_run_before_the_next_statement():
    """In-process: the run ends when the generator is dropped, not when the event loop next
    gets round to ``aclose()``; a stream the caller keeps is not touched."""
    import asyncio
    from uuid import UUID

    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel

    from lc_callbacks_nb.langchain.events import Outcome, RunEvents, Start

    class Ends(RunEvents):
        def __init__(self) -> None:
            super().__init__()
            self.ended: list[tuple[str, str]] = []

        def run_started(self, run_id: UUID, start: Start) -> bool:
            return True

        def run_ended(self, run_id: UUID, outcome: Outcome) -> None:
            self.ended.append((outcome.status, outcome.error))

    async def main() -> tuple[list, list, list]:
        events = Ends()
        model = GenericFakeChatModel(messages=iter(["one two three four", "five six seven"]))
        config = {"callbacks": [events]}
        async for _chunk in model.astream("hi", config=config):
            break
        dropped = list(events.ended)
        kept = model.astream("hi", config=config)
        await kept.__anext__()
        still = list(events.ended)
        await kept.aclose()
        return dropped, still, list(events.ended)

    dropped, still, closed = asyncio.run(main())
    assert dropped == [("interrupted", "stream closed before its end")]
    assert still == dropped  # kept: not finalized, not ended
    assert closed[-1] == ("interrupted", "stream closed before its end")


# -- runs that outlive their cell: a background task ----------------------------------------
VIEW = "application/vnd.jupyter.widget-view+json"
LONG = " ".join(f"w{i}" for i in range(120)) + " THE END."
LATE_SCRIPT = {"Tell me a story": LONG, "Say hi": "Hello from a task.", **SCRIPT}
STREAMING_JOB = """\
first = asyncio.Event()
async def job():
    text = ''
    async for chunk in chat.astream('Tell me a story'):
        text += chunk.content
        first.set()
    return text
t = asyncio.create_task(job())
await first.wait()  # the run streams on past this cell's end
"""


def boards(nb: nbformat.NotebookNode) -> list[tuple[int, nbformat.NotebookNode]]:
    """Every board output of the notebook: (cell index, output)."""
    return [
        (i, o)
        for i, cell in enumerate(nb.cells)
        for o in cell.get("outputs", [])
        if VIEW in o.get("data", {})
    ]


def one_board(nb: nbformat.NotebookNode) -> tuple[int, str, list[dict]]:
    """The notebook's one board: its cell, its twin, its saved widget rows."""
    found = boards(nb)
    assert len(found) == 1, f"one board in the notebook, got {[(i, o) for i, o in found]}"
    index, out = found[0]
    state = nb.metadata.widgets["application/vnd.jupyter.widget-state+json"]["state"]
    model_id = out.data[VIEW]["model_id"]
    assert model_id in state, "the board's model is in the saved widget state"
    return index, out.data["text/plain"], saved_runs(state[model_id])


def assert_done(twin_text: str, rows: list[dict], final: str) -> None:
    assert "1 done" in twin_text and "running" not in twin_text, twin_text
    assert final in twin_text or final[:200] in twin_text, twin_text
    (row,) = rows
    assert row["status"] == "done", row
    assert row["text"].get("text") == final, row


async def _execute_idle(cells: list[str], idle_after: set[int], mode: str) -> nbformat.NotebookNode:
    """nbclient, one cell at a time; after the cells in ``idle_after`` the kernel stays idle
    until ``t`` is done (asked with silent requests, which start no cell), as when a user
    waits before running the next cell."""
    with LocalChatServer(token_delay=0.005, script=LATE_SCRIPT) as srv:
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
        setup = SETUP.format(base_url=srv.base_url)
        if mode == "text":
            setup += "%lc_stream on --mode text\n"
        nb.cells = [nbformat.v4.new_code_cell(src) for src in [setup, *cells]]
        client = NotebookClient(nb, timeout=120, store_widget_state=True)
        async with client.async_setup_kernel():
            for index, cell in enumerate(nb.cells):
                await client.async_execute_cell(cell, index)
                if index in idle_after:
                    while True:
                        reply = await client.kc.execute(
                            "", silent=True, user_expressions={"d": "t.done()"}, reply=True
                        )
                        done = reply["content"]["user_expressions"]["d"]["data"]["text/plain"]
                        if done == "True":
                            break
            client.set_widgets_metadata()
    return nb


def execute_idle(cells: list[str], idle_after: set[int] = frozenset(), mode: str = "widget"):
    import asyncio

    return asyncio.run(_execute_idle(cells, set(idle_after), mode))


def test_a_task_awaited_in_the_next_cell_gets_one_board_with_its_final_state():
    """``t = asyncio.create_task(chat.ainvoke(...))`` then ``await t``: the run starts after
    its cell ended (a task of a sync cell runs once the kernel is idle); its one board is
    drawn in the cell running then, says where the run started, and is saved final."""
    nb = execute_idle(["t = asyncio.create_task(chat.ainvoke('Say hi'))", "r = await t\nr.content"])
    index, text, rows = one_board(nb)
    assert index == 2, "drawn in the cell running when it could be saved: the await"
    assert "started in In [" in text, text
    assert_done(text, rows, "Hello from a task.")


def test_a_stream_that_outlives_its_cell_ends_in_a_later_unrelated_cell():
    """A task streaming past its cell's end, ending while a later cell runs: its board stays
    in its own cell and the saved twin and state are final (updated by display id from the
    cell running when it ended); the twin drawn at its cell's end already said running."""
    nb = execute_idle([STREAMING_JOB, "while not t.done():\n    await asyncio.sleep(0.05)"])
    index, text, rows = one_board(nb)
    assert index == 1
    assert_done(text, rows, LONG)


@pytest.mark.parametrize(
    "start",
    [STREAMING_JOB, "t = asyncio.create_task(chat.ainvoke('Tell me a story'))"],
    ids=["started_in_its_cell", "started_while_idle"],
)
def test_a_task_that_ends_while_the_kernel_is_idle_is_saved_at_the_next_cell(start):
    """Nothing a kernel sends while idle is saved by nbclient: what the board sent then is sent
    again when the next cell starts (no front-end said it shows the view)."""
    nb = execute_idle([start, "1 + 1"], idle_after={1})
    index, text, rows = one_board(nb)
    assert index == (1 if start is STREAMING_JOB else 2)
    assert_done(text, rows, LONG)


def test_text_mode_prints_a_late_run_in_the_cell_running_or_the_next():
    """Text mode: what a task prints after its cell ended goes to the cell running then, or,
    while the kernel is idle, to the next cell; once, under a line saying where it started."""
    nb = execute_idle(
        [
            "t = asyncio.create_task(chat.ainvoke('Say hi'))",
            "r = await t",
            STREAMING_JOB,
            "x = 1",
        ],
        idle_after={3},
        mode="text",
    )

    def stdout(i: int) -> str:
        return "".join(o.get("text", "") for o in nb.cells[i].outputs if o.get("name") == "stdout")

    assert not boards(nb)
    assert "Hello from a task." not in stdout(1)
    assert "[started in In [" in stdout(2) and stdout(2).count("Hello from a task.") == 1
    whole = "".join(stdout(i) for i in range(len(nb.cells)))
    assert whole.count("THE END.") == 1, whole
    assert "THE END." in stdout(4) and "[started in In [" in stdout(4), stdout(4)


def test_the_twin_drawn_at_the_cells_end_says_running_when_nothing_follows():
    """The notebook's last cell leaves a task streaming: nothing can carry a later update, and
    the saved twin and state say what was true at the cell's end (running), not "none"."""
    nb = execute([STREAMING_JOB.replace("'Tell me a story'", "'Weather in Paris?'")])
    cell = nb.cells[1]
    assert "1 running" in twin(cell), twin(cell)
    assert [r["status"] for r in widget_rows(nb, cell)] == ["running"]


@pytest.mark.parametrize("acked", [True, False], ids=["front_end_shows_it", "nobody_said"])
def test_a_board_shown_while_idle_is_displayed_again_only_if_no_front_end_shows_it(acked):
    """A board made while the kernel is idle goes out under its own cell (JupyterLab shows it
    there). A front-end that renders it says so (``shown``, views/board.js); then the next cell
    gets nothing; otherwise (nbclient, nbval) the next cell displays it, with its final state."""
    from harness import KernelSession

    with LocalChatServer(script=LATE_SCRIPT) as srv, KernelSession() as k:
        k.run(SETUP.format(base_url=srv.base_url))
        k.run("t = asyncio.create_task(chat.ainvoke('Say hi'))")
        deadline = time.monotonic() + 60
        while not (shown := [m for m in k.iopub if m["msg_type"] == "display_data"]):
            assert time.monotonic() < deadline, "the board was never displayed"
            time.sleep(0.05)
        if acked:
            comm_id = shown[0]["content"]["data"][VIEW]["model_id"]
            content = {"comm_id": comm_id, "data": {"method": "custom", "content": {"k": "shown"}}}
            k.kc.shell_channel.send(k.kc.session.msg("comm_msg", content))
        while True:  # silent requests start no cell: the kernel stays "idle" for the board
            msg_id = k.kc.execute("", silent=True, user_expressions={"d": "t.done()"})
            reply = k._get_reply(msg_id, deadline)
            if reply["content"]["user_expressions"]["d"]["data"]["text/plain"] == "True":
                break
            assert time.monotonic() < deadline, "the task never ended"
        later = k.run("1 + 1").of_type("display_data", "update_display_data")
        if acked:
            assert later == []
        else:
            (again,) = later
            assert again["msg_type"] == "display_data"
            assert again["content"]["data"][VIEW] == shown[0]["content"]["data"][VIEW]
            assert "1 done" in again["content"]["data"]["text/plain"]


@pytest.mark.parametrize(
    "start",
    [
        "t = asyncio.create_task(agent.ainvoke({'messages': [('user', 'Weather in Paris?')]}))",
        "t = asyncio.create_task(asyncio.to_thread(chat.batch, ['Say hi', 'Tell me a story']))",
        "t = asyncio.ensure_future(chain.ainvoke({'q': 'Say hi'}))",
    ],
    ids=["agent", "batch_in_a_thread", "chain_future"],
)
@pytest.mark.parametrize("idle", [False, True], ids=["awaited", "idle_between"])
def test_every_shape_of_background_run_ends_in_one_saved_board(start, idle):
    """Other runs started after their cell: an agent's tree, a sync batch on a worker thread
    (a copy of the cell's context), a chain; awaited in the next cell or ended while idle."""
    nb = execute_idle([start, "r = await t"], idle_after={1} if idle else set())
    _index, text, rows = one_board(nb)
    assert rows and all(r["status"] == "done" for r in rows), rows
    assert "running" not in text and "none" not in text.split("\n")[0], text
    assert f"{len(rows)} done" in text.split("\n")[0], text
