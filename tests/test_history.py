"""RunRecorder: the run tree per cell behind %lc_runs, driven through LangChain's own callback
managers (fake chat model from langchain_core) and a fake clock; no kernel."""

from __future__ import annotations

import threading
import uuid

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.outputs import LLMResult
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.tools import tool

from lc_callbacks_nb.notebook import cells
from lc_callbacks_nb.notebook.history import PREVIEW_CHARS, RunRecorder, format_duration


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        self.t += 0.25
        return self.t


@pytest.fixture(autouse=True)
def _cell_numbers(monkeypatch):
    """Each test says which cell is running by setting ``cell[0]`` (cells.current's answer)."""
    monkeypatch.setattr(cells, "current", lambda: cells.Cell(f"cell-{_CELL[0]}", _CELL[0]))


_CELL = [0]


def recorder(cell: list[int], **kw) -> RunRecorder:
    global _CELL
    _CELL = cell
    return RunRecorder(clock=Clock(), **kw)


def model(text: str) -> GenericFakeChatModel:
    return GenericFakeChatModel(messages=iter([AIMessage(content=text)]))


def test_chain_tree_kinds_status_and_preview():
    cell = [3]
    rec = recorder(cell)
    chain = ChatPromptTemplate.from_messages([("human", "{q}")]) | model("hello there world")
    assert chain.invoke({"q": "hi"}, config={"callbacks": [rec]}).content == "hello there world"
    data = rec.view().data()
    assert [(d["depth"], d["kind"], d["name"], d["status"], d["cell"]) for d in data] == [
        (0, "chain", "RunnableSequence", "done", 3),
        (1, "chain", "ChatPromptTemplate", "done", 3),
        (1, "llm", "GenericFakeChatModel", "done", 3),
    ]
    assert data[2]["preview"] == "hello there world"
    assert all(d["duration_s"] > 0 for d in data)
    text = repr(rec.view(3))
    assert text.splitlines()[0] == "cell [3]: 3 runs"
    assert "    GenericFakeChatModel  llm · done · 250 ms  'hello there world'" in text


def test_streamed_tokens_counted_preview_capped():
    rec = recorder([1])
    long = "word " * 100
    chunks = list(model(long).stream("x", config={"callbacks": [rec]}))
    (run,) = rec.view().data()
    assert run["streamed_tokens"] == len([c for c in chunks if c.content])
    assert run["preview"] == long[:PREVIEW_CHARS] and len(run["preview"]) == PREVIEW_CHARS


def test_error_and_tool_runs():
    rec = recorder([2])

    @tool
    def explode(x: str) -> str:
        """Always fails."""
        raise RuntimeError("tool broke: " + x)

    with pytest.raises(RuntimeError):
        explode.invoke("now", config={"callbacks": [rec]})
    (run,) = rec.view().data()
    assert (run["kind"], run["name"], run["status"]) == ("tool", "explode", "error")
    assert run["error"] == "RuntimeError: tool broke: now"
    assert "error: RuntimeError: tool broke: now" in repr(rec.view())


def test_runs_grouped_by_cell_children_follow_parent():
    cell = [5]
    rec = recorder(cell)
    root, child = uuid.uuid4(), uuid.uuid4()
    rec.on_chain_start({"name": "outer"}, {}, run_id=root)
    cell[0] = 6  # the child event arrives while another cell runs: stays with its parent
    rec.on_chat_model_start({"name": "inner"}, [[]], run_id=child, parent_run_id=root)
    rec.on_chain_start({"name": "new"}, {}, run_id=uuid.uuid4())
    assert [d["name"] for d in rec.view(5).data()] == ["outer", "inner"]
    assert [d["name"] for d in rec.view(6).data()] == ["new"]
    assert rec.view().cell == 6  # default: the most recent cell that started runs


def test_bounded_cells_and_runs_per_cell():
    cell = [0]
    rec = recorder(cell, max_cells=3, max_runs_per_cell=4)
    for c in range(10):
        cell[0] = c
        for _ in range(6):
            rid = uuid.uuid4()
            rec.on_llm_start({"name": "m"}, ["p"], run_id=rid)
            rec.on_llm_end(LLMResult(generations=[]), run_id=rid)
    assert rec.cells() == [7, 8, 9]
    assert len(rec._runs) == 12  # only runs of kept cells are indexed
    view = rec.view(9)
    assert view.runs.count == 4 and view.runs.dropped == 2
    assert repr(view).splitlines()[0] == "cell [9]: 4 runs (+2 not recorded: over the per-cell cap)"
    assert repr(rec.view(0)).startswith("lc_runs: no runs recorded for cell [0] (history keeps")
    rec.resize(max_cells=1)
    assert rec.cells() == [9]


def test_unfinished_run_shows_running_and_html_escapes():
    rec = recorder([1])
    rid = uuid.uuid4()
    rec.on_llm_start({"name": "<b>model</b>"}, ["p"], run_id=rid)
    rec.on_llm_new_token("<script>alert(1)</script>", run_id=rid)
    html = rec.view()._repr_html_()
    assert "<script>" not in html and "&lt;script&gt;" in html and "&lt;b&gt;model" in html
    assert "running · …" in repr(rec.view())


def test_token_usage_from_llm_output_and_content_blocks():
    rec = recorder([1])
    rid = uuid.uuid4()
    rec.on_llm_start({"name": "m"}, ["p"], run_id=rid)
    rec.on_llm_new_token(
        [{"type": "text", "text": "blo"}, {"type": "text", "text": "cks"}], run_id=rid
    )
    rec.on_llm_new_token("", run_id=rid)  # role/finish chunks do not count

    usage = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
    rec.on_llm_end(LLMResult(generations=[], llm_output={"token_usage": usage}), run_id=rid)
    (run,) = rec.view().data()
    assert run["usage"] == {"input_tokens": 3, "output_tokens": 2, "total_tokens": 5}
    assert run["streamed_tokens"] == 1 and run["preview"] == "blocks"
    assert "usage 3 in / 2 out" in repr(rec.view())


def test_thread_safe_under_concurrent_tokens():
    rec = recorder([1])
    ids = [uuid.uuid4() for _ in range(8)]
    for rid in ids:
        rec.on_llm_start({"name": "m"}, ["p"], run_id=rid)

    def spam(rid):
        for _ in range(2000):
            rec.on_llm_new_token("x", run_id=rid)

    threads = [threading.Thread(target=spam, args=(rid,)) for rid in ids for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [d["streamed_tokens"] for d in rec.view().data()] == [4000] * 8


def test_format_duration():
    assert [format_duration(x) for x in (None, 0.0123, 1.5)] == ["…", "12 ms", "1.50 s"]


def test_lc_runs_never_shows_a_secret_the_panel_hides(monkeypatch):
    """Regression (#10 defect 2): the recorder never called the redactor."""
    monkeypatch.setenv("MY_SERVICE_TOKEN", "no-known-shape-0123456789")
    cell = [7]
    rec = recorder(cell)

    @tool
    def leaky(x: str) -> str:
        """Returns credentials."""
        return "api_key=abcdef0123456789 and MY token no-known-shape-0123456789"

    @tool
    def unauthorized(x: str) -> str:
        """Fails like a 401 that echoes the header."""
        raise ValueError("401: Authorization: Bearer sk-live-abcdefghijklmnop0123")

    leaky.invoke("x", config={"callbacks": [rec]})
    with pytest.raises(ValueError):
        unauthorized.invoke("x", config={"callbacks": [rec]})
    view = rec.view()
    shown = repr(view) + view._repr_html_() + repr(view.data())
    for secret in ("abcdef0123456789", "no-known-shape-0123456789", "sk-live-abcdefghijklmnop"):
        assert secret not in shown
    assert "api_key=***" in shown and "Bearer sk-***" in shown


def test_inputs_and_outputs_are_kept_as_bounded_values():
    """What %lc_runs keeps of a chain's input and output: the panel's reading, smaller (a
    summary of a run, kept for 20 cells): a huge value costs a few kilobytes, not megabytes."""
    import json

    from langchain_core.runnables import RunnableLambda

    rec = recorder([7])
    big = {"rows": [{"text": "x" * 100_000, "n": i} for i in range(1_000)], "api_key": "abc12345"}
    RunnableLambda(lambda v: v, name="echo").invoke(big, config={"callbacks": [rec]})
    (row,) = rec.view().data()
    for key in ("inputs", "outputs"):
        text = json.dumps(row[key])
        assert len(text) < 20_000, (key, len(text))
        assert "abc12345" not in text
    rows = row["inputs"]["items"][0][1]
    assert rows["items"][0]["items"][0][1]["len"] == 100_000  # clipped, with its full length
    assert rows["more"] > 900  # the rest counted, not kept
    assert row["inputs"]["more"] == 1  # the budget spent: api_key counted, not shown
