"""Every run, wherever and however it ends: what reaches the saved notebook.

A notebook is executed headless with nbclient (what nbval and ``make demo`` see: it records
only IOPub messages parented to the cell it is executing) and its saved outputs are read: the
static twin of each board (``text/plain``) and the widget state's rows.
"""

from __future__ import annotations

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
        "async for step in agent.astream({'messages': [('user', 'Weather in Paris?')]}):\n"
        "    break"
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
