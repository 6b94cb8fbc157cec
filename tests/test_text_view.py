"""Text mode (``LiveStreamHandler(mode="text")``): what a terminal reads.

Most tests drive ``TextView.render()`` with hand-built ``Changes`` (the shape
``RunBoard.collect()`` produces) into a ``StringIO``; the last ones run real LangChain
objects in-process through ``LiveStreamHandler(mode="text")``. The rule under test is in
``lc_callbacks_nb/views/text.py``'s docstring: one label per line, never doubled; model text
bare only while the cell's one run is a plain model call; tool calls, results and status lines
always labelled and on a line of their own.
"""

from __future__ import annotations

import contextlib
import io
import json
import random
import re
from collections.abc import Iterator
from typing import Any

import pytest

from lc_callbacks_nb.langchain.tokens import TEXT, TOOL_ARGS
from lc_callbacks_nb.live.runs import CHAIN, LLM, TOOL, Changes
from lc_callbacks_nb.views.text import TextView

LABEL = re.compile(r"\[(?:\d+:[^\]]+|tool:[^\]]+|chain:[^\]]+|retriever:[^\]]+)\]")


def meta(run_id: str, kind: str = LLM, name: str = "M", parent: str | None = None) -> dict:
    return {"id": run_id, "kind": kind, "name": name, "parent": parent, "order": 0}


class Cell:
    """One cell's TextView and what it printed."""

    def __init__(self) -> None:
        self.out = io.StringIO()
        self.view = TextView(stream=self.out)

    def render(self, started=(), updates=None, finished=()) -> Cell:
        changes = Changes(0.0, list(started), dict(updates or {}), list(finished))
        self.view.render(changes, live_runs=1)
        return self

    def start(self, *metas: dict) -> Cell:
        return self.render(started=metas)

    def text(self, run_id: str, text: str) -> Cell:
        return self.render(updates={run_id: {"delta": {TEXT: text}}})

    def end(self, run_id: str, status: str = "done", **fields: Any) -> Cell:
        update: dict[str, Any] = {"status": status, "final": fields.pop("final", {})}
        if "delta" in fields:
            update["delta"] = {TEXT: fields.pop("delta")}
        update.update(fields)
        return self.render(updates={run_id: update}, finished=[run_id])

    @property
    def lines(self) -> list[str]:
        return self.out.getvalue().split("\n")


def assert_one_label_per_line(lines: list[str]) -> None:
    for line in lines:
        assert len(LABEL.findall(line)) <= 1, f"label doubled: {line!r}"
        if LABEL.search(line):
            assert LABEL.match(line), f"label not at the start: {line!r}"


# -- a single plain model call ---------------------------------------------------------------
def test_single_run_streams_bare_text_and_ends_its_line():
    cell = Cell().start(meta("a", name="ChatOpenAI"))
    for chunk in ["These words", " arrive", " one by one"]:
        cell.text("a", chunk)
    cell.end("a", final={TEXT: "These words arrive one by one"})
    assert cell.out.getvalue() == "These words arrive one by one\n"


def test_single_run_keeps_its_blank_lines_and_drops_leading_newlines():
    cell = Cell().start(meta("a")).text("a", "\n\nfirst\n").text("a", "\nsecond").end("a")
    assert cell.out.getvalue() == "first\n\nsecond\n"


def test_defect3_error_mid_line_starts_its_own_line():
    # was: "Why don't[1:ChatOpenAI error: ValueError: boom]"
    cell = Cell().start(meta("a", name="ChatOpenAI")).text("a", "Why").text("a", " don't")
    cell.end("a", "error", error="ValueError: boom")
    assert cell.lines == ["Why don't", "[1:ChatOpenAI] error: ValueError: boom", ""]


def test_defect3_error_mid_line_when_runs_interleave():
    cell = Cell().start(meta("a"), meta("b"))
    cell.text("a", "Why").text("b", "Sure").text("b", ", here").text("a", " don't")
    cell.end("a", "error", error="ValueError: boom").text("b", " it is").end("b")
    assert cell.lines == [
        "[1:M] Why",
        "[2:M] Sure, here",
        "[1:M]  don't",
        "[1:M] error: ValueError: boom",
        "[2:M]  it is",
        "",
    ]


def test_interrupted_and_other_statuses_are_status_lines():
    cell = Cell().start(meta("a")).text("a", "Counting: one, two")
    cell.end("a", "interrupted", error="interrupted")
    assert cell.lines == ["Counting: one, two", "[1:M] interrupted", ""]

    cell = Cell().start(meta("a")).text("a", "Waiting")
    cell.end("a", "paused", error="waiting for input: approve send_email?")
    assert cell.lines == ["Waiting", "[1:M] waiting for input: approve send_email?", ""]

    cell = Cell().start(meta("a")).end("a", "handed_off", error="handed off to billing_agent")
    assert cell.lines == ["[1:M] handed off to billing_agent", ""]

    cell = Cell().start(meta("a")).end("a", "paused")
    assert cell.lines == ["[1:M] paused", ""]

    cell = Cell().start(meta("a")).end("a", "interrupted", error="CancelledError")
    assert cell.lines == ["[1:M] interrupted: CancelledError", ""]


def test_single_plain_call_with_tool_calls_labels_the_tool_call_lines():
    # bind_tools(...).invoke(...): one root model run, text then tool calls
    cell = Cell().start(meta("a", name="ChatOpenAI")).text("a", "Let me check.")
    calls = '\nget_weather {"city": "Paris"}\nget_time {"city": "Paris"}'
    cell.end("a", final={TEXT: "Let me check.", TOOL_ARGS: calls})
    assert cell.lines == [
        "Let me check.",
        '[1:ChatOpenAI] tool call: get_weather {"city": "Paris"}',
        '[1:ChatOpenAI] tool call: get_time {"city": "Paris"}',
        "",
    ]


def test_single_run_cell_followed_by_a_second_run():
    cell = Cell().start(meta("a", name="ChatOpenAI")).text("a", "Teal.").end("a")
    cell.start(meta("b", name="ChatOpenAI")).text("b", "Hello from").text("b", " the model!")
    cell.end("b")
    assert cell.lines == ["Teal.", "[2:ChatOpenAI] Hello from the model!", ""]


def test_labels_turn_on_for_good_when_a_second_run_starts_mid_line():
    # lines already printed are never relabelled; the next line is
    cell = Cell().start(meta("a")).text("a", "Hello")
    cell.start(meta("b")).text("a", " world\nsecond line").text("b", "B").end("a").end("b")
    assert cell.lines == ["Hello world", "[1:M] second line", "[2:M] B", ""]


def test_runs_started_in_separate_flushes_before_any_text_are_all_labelled():
    # agenerate: the first start is drawn at once, the second in the next flush
    cell = Cell().start(meta("a")).start(meta("b"))
    cell.text("a", "joke").text("b", "haiku").end("a").end("b")
    assert cell.lines == ["[1:M] joke", "[2:M] haiku", ""]


# -- runs interleaving ----------------------------------------------------------------------
def test_defect1_delta_starting_with_newline_after_a_switch_adds_no_blank_line():
    # was: "[1:M] hello", "[2:M] x", "[1:M] ", "[1:M] world"
    cell = Cell().start(meta("a"), meta("b"))
    cell.text("a", "hello").text("b", "x").text("a", "\nworld").text("b", "\ny")
    assert cell.lines == ["[1:M] hello", "[2:M] x", "[1:M] world", "[2:M] y"]


def test_a_blank_line_of_the_text_itself_survives_a_switch():
    cell = Cell().start(meta("a"), meta("b"))
    cell.text("a", "hello\n").text("b", "x\n").text("a", "\nworld\n").text("b", "y")
    assert cell.lines == ["[1:M] hello", "[2:M] x", "[1:M] ", "[1:M] world", "[2:M] y"]


def test_deltas_ending_with_newlines_give_no_extra_lines():
    cell = Cell().start(meta("a"), meta("b"))
    cell.text("a", "one\n").text("b", "two\n").text("a", "three\n").text("b", "four")
    cell.end("a").end("b")
    assert cell.out.getvalue() == "[1:M] one\n[2:M] two\n[1:M] three\n[2:M] four\n"


def test_two_runs_alternating_every_way_keep_each_runs_text():
    """Random chunkings and switch points: every line has one label at its start, and each
    run's lines, read in order, are its text (a switch only adds line breaks)."""
    texts = {
        "a": "The first line.\nA second, longer line\n\nAfter a blank line\nend",
        "b": "\nBeta starts with a newline\nand ends with one\n",
    }
    rng = random.Random(7)
    for _ in range(200):
        cell = Cell().start(meta("a"), meta("b"))
        rest = dict(texts)
        while any(rest.values()):
            run_id = rng.choice([r for r, t in rest.items() if t])
            cut = rng.randint(1, len(rest[run_id]))
            cell.text(run_id, rest[run_id][:cut])
            rest[run_id] = rest[run_id][cut:]
        cell.end("a").end("b")
        lines = cell.lines
        assert lines[-1] == ""
        assert_one_label_per_line(lines[:-1])
        for run_id, label in (("a", "[1:M] "), ("b", "[2:M] ")):
            own = [line[len(label) :] for line in lines[:-1] if line.startswith(label)]
            text = texts[run_id].strip("\n")
            assert "".join(own) == text.replace("\n", "")
            # blank lines: only those of the text itself
            assert own.count("") == text.split("\n").count("")
        assert all(line.startswith(("[1:M] ", "[2:M] ")) for line in lines[:-1])


def test_defect2_llm_error_label_not_doubled():
    # was: "[1:ChatOpenAI] [1:ChatOpenAI error: RateLimitError: slow down]"
    cell = Cell().start(meta("a", name="ChatOpenAI"), meta("b", name="ChatOpenAI"))
    cell.text("a", "Par").text("b", "Fine.")
    cell.end("a", "error", error="RateLimitError: slow down").end("b")
    assert cell.lines == [
        "[1:ChatOpenAI] Par",
        "[2:ChatOpenAI] Fine.",
        "[1:ChatOpenAI] error: RateLimitError: slow down",
        "",
    ]
    assert_one_label_per_line(cell.lines)


def test_defect2_tool_error_label_not_doubled():
    # was: "[tool:explode] [tool:explode error: ValueError: kaboom]"
    cell = Cell().start(meta("g", CHAIN, "agent"))
    cell.start(meta("a", parent="g")).end("a", final={TOOL_ARGS: "\nexplode {}"})
    cell.start(meta("t", TOOL, "explode", parent="g"))
    cell.end("t", "error", error="ValueError: kaboom")
    cell.start(meta("b", parent="g")).text("b", "It failed.").end("b")
    cell.start(meta("t2", TOOL, "explode", parent="g"))
    cell.end("t2", "error", error="ValueError: kaboom")
    assert cell.lines == [
        "[1:M] tool call: explode {}",
        "[tool:explode] error: ValueError: kaboom",
        "[2:M] It failed.",
        "[tool:explode] error: ValueError: kaboom",
        "",
    ]
    assert_one_label_per_line(cell.lines)


def test_defect4_tool_calls_after_an_empty_text_print_no_empty_labelled_line():
    # was: "[3:ChatOpenAI] " then "[tool calls] get_weather ..."
    cell = Cell().start(*(meta(r, name="ChatOpenAI") for r in "abc"))
    cell.text("a", "One").text("b", "Two").end("a").end("b")
    calls = '\nget_weather {"city": "Paris"}\nget_time {"city": "Paris"}'
    cell.end("c", final={TOOL_ARGS: calls})
    assert cell.lines == [
        "[1:ChatOpenAI] One",
        "[2:ChatOpenAI] Two",
        '[3:ChatOpenAI] tool call: get_weather {"city": "Paris"}',
        '[3:ChatOpenAI] tool call: get_time {"city": "Paris"}',
        "",
    ]


def test_tool_calls_while_another_run_is_mid_line():
    cell = Cell().start(meta("a"), meta("b")).text("a", "Thinking")
    cell.end("b", final={TOOL_ARGS: "\nsearch {}"}).text("a", " aloud").end("a")
    assert cell.lines == ["[1:M] Thinking", "[2:M] tool call: search {}", "[1:M]  aloud", ""]


def test_defect5_an_agents_first_turn_is_labelled_like_the_rest():
    # was: "[tool calls] get_weather ...", "get_time ...", "[tool:get_weather → ...]", ...,
    # "[2:ChatOpenAI] It is sunny ..."
    cell = Cell().start(meta("g", CHAIN, "LangGraph"), meta("m1", CHAIN, "model", parent="g"))
    cell.start(meta("a", name="ChatOpenAI", parent="m1"))
    calls = '\nget_weather {"city": "Paris"}\nget_time {"city": "Paris"}'
    cell.end("a", final={TOOL_ARGS: calls}).end("m1")
    cell.start(meta("t1", TOOL, "get_weather", parent="g"), meta("t2", TOOL, "get_time", "g"))
    cell.end("t1", outputs="sunny in Paris").end("t2", outputs="noon in Paris")
    cell.start(meta("m2", CHAIN, "model", parent="g"), meta("b", name="ChatOpenAI", parent="m2"))
    cell.text("b", "It is sunny in Paris,").text("b", " and the local time is noon.")
    cell.end("b").end("m2").end("g", outputs="{'messages': [...]}")
    assert cell.lines == [
        '[1:ChatOpenAI] tool call: get_weather {"city": "Paris"}',
        '[1:ChatOpenAI] tool call: get_time {"city": "Paris"}',
        "[tool:get_weather] → sunny in Paris",
        "[tool:get_time] → noon in Paris",
        "[2:ChatOpenAI] It is sunny in Paris, and the local time is noon.",
        "",
    ]


def test_a_model_inside_a_chain_is_labelled_from_its_first_line():
    cell = Cell().start(meta("s", CHAIN, "RunnableSequence"))
    cell.start(meta("a", name="ChatOpenAI", parent="s")).text("a", "Hi").end("a").end("s")
    assert cell.lines == ["[1:ChatOpenAI] Hi", ""]


# -- tools -----------------------------------------------------------------------------------
def test_tool_results_multi_line_empty_and_failed():
    cell = Cell().start(meta("t1", TOOL, "search"), meta("t2", TOOL, "noop"))
    cell.start(meta("t3", TOOL, "explode"), meta("t4", TOOL, "lookup"))
    cell.end("t1", outputs="first hit\nsecond hit\n").end("t2")
    cell.end("t3", "error", outputs="Error: kaboom\nTraceback...", error="Error: kaboom")
    cell.end("t4", outputs="None")
    assert cell.lines == [
        "[tool:search] → first hit",
        "[tool:search]   second hit",
        "[tool:noop] done",
        "[tool:explode] error: Error: kaboom",
        "[tool:lookup] → None",
        "",
    ]


def test_a_tool_called_alone_is_labelled():
    cell = Cell().start(meta("t", TOOL, "get_weather")).end("t", outputs="sunny")
    assert cell.lines == ["[tool:get_weather] → sunny", ""]


# -- chains: status lines only, said once ---------------------------------------------------
def test_chain_status_lines_said_once_for_an_error_rising_through_a_tree():
    cell = Cell().start(meta("g", CHAIN, "LangGraph"), meta("n", CHAIN, "tools", parent="g"))
    cell.start(meta("t", TOOL, "explode", parent="n"))
    for run_id in "tng":
        cell.end(run_id, "error", error="ValueError: kaboom")
    assert cell.lines == ["[tool:explode] error: ValueError: kaboom", ""]


def test_chain_prints_its_own_failure_and_pause_but_not_interruption():
    cell = Cell().start(meta("s", CHAIN, "RunnableSequence"))
    cell.start(meta("p", CHAIN, "StrOutputParser", parent="s"))
    cell.end("p", "error", error="OutputParserException: bad")
    cell.end("s", "error", error="OutputParserException: bad")
    assert cell.lines == ["[chain:StrOutputParser] error: OutputParserException: bad", ""]

    cell = Cell().start(meta("g", CHAIN, "LangGraph"), meta("h", CHAIN, "review", parent="g"))
    cell.start(meta("t", TOOL, "ask_human", parent="h"))
    for run_id in "th":
        cell.end(run_id, "paused", error="waiting for input: approve the refund?")
    cell.end("g")  # the root graph swallows the interrupt
    assert cell.lines == ["[tool:ask_human] waiting for input: approve the refund?", ""]

    cell = Cell().start(meta("g", CHAIN, "LangGraph"), meta("n", CHAIN, "triage", parent="g"))
    cell.end("n", "handed_off", error="handed off to billing_agent").end("g")
    assert cell.lines == ["[chain:triage] handed off to billing_agent", ""]

    cell = Cell().start(meta("s", CHAIN, "RunnableSequence"), meta("a", parent="s"))
    cell.text("a", "Once upon")
    cell.end("s", "interrupted", error="interrupted").end("a", "interrupted", error="interrupted")
    assert cell.lines == ["[1:M] Once upon", "[1:M] interrupted", ""]


# -- a final text that replaces the stream --------------------------------------------------
def test_reset_final_text_extending_the_stream_prints_only_the_rest():
    cell = Cell().start(meta("a")).text("a", "Hello")
    cell.end("a", delta="Hello, world.", reset=True, final={TEXT: "Hello, world."})
    assert cell.out.getvalue() == "Hello, world.\n"


def test_reset_final_text_differing_from_the_stream_is_printed_whole():
    cell = Cell().start(meta("a"), meta("b")).text("a", "Hel").text("b", "Other")
    cell.end("a", delta="Goodbye.\nSee you.", reset=True, final={TEXT: "Goodbye.\nSee you."})
    cell.end("b")
    assert cell.lines == [
        "[1:M] Hel",
        "[2:M] Other",
        "[1:M] final text:",
        "[1:M] Goodbye.",
        "[1:M] See you.",
        "",
    ]


def test_text_of_a_run_that_did_not_stream_arrives_with_its_end():
    cell = Cell().start(meta("a"), meta("b")).text("b", "streaming")
    cell.end("a", delta="Not streamed.", final={TEXT: "Not streamed."}).end("b")
    assert cell.lines == ["[2:M] streaming", "[1:M] Not streamed.", ""]


def test_a_run_ending_in_the_same_flush_as_anothers_text():
    cell = Cell().start(meta("a"), meta("b")).text("a", "A1")
    cell.render(
        updates={
            "a": {"delta": {TEXT: " A2"}, "status": "done", "final": {TEXT: "A1 A2"}},
            "b": {"delta": {TEXT: "B1"}},
        },
        finished=["a"],
    )
    cell.end("b")
    assert cell.lines == ["[1:M] A1 A2", "[2:M] B1", ""]


# -- end to end: real LangChain runs through LiveStreamHandler(mode="text") -------------------
def _fake_model_class():
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage, AIMessageChunk
    from langchain_core.messages.tool import tool_call_chunk
    from langchain_core.outputs import ChatGenerationChunk

    class ScriptedModel(GenericFakeChatModel):
        """GenericFakeChatModel that also streams tool calls, and can fail mid-stream."""

        fail_after: int | None = None  # raise after this many tokens

        def bind_tools(self, tools: Any, **kwargs: Any) -> ScriptedModel:
            return self

        def _stream(self, messages, stop=None, run_manager=None, **kwargs) -> Iterator[Any]:
            message = next(self.messages)
            message = AIMessage(content=message) if isinstance(message, str) else message
            content = message.content if isinstance(message.content, str) else ""
            tokens = re.split(r"(\s)", content)
            for n, token in enumerate(t for t in tokens if t):
                if self.fail_after is not None and n == self.fail_after:
                    raise ValueError("boom: the connection dropped")
                chunk = ChatGenerationChunk(message=AIMessageChunk(content=token))
                if run_manager:
                    run_manager.on_llm_new_token(token, chunk=chunk)
                yield chunk
            for i, call in enumerate(message.tool_calls):
                tool_chunk = tool_call_chunk(
                    name=call["name"], args=json.dumps(call["args"]), id=call["id"], index=i
                )
                chunk = ChatGenerationChunk(
                    message=AIMessageChunk(content="", tool_call_chunks=[tool_chunk])
                )
                if run_manager:
                    run_manager.on_llm_new_token("", chunk=chunk)
                yield chunk

    return ScriptedModel


def _printed(run) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        run()
    return out.getvalue()


def test_end_to_end_agent_turn_tool_and_answer():
    from langchain.agents import create_agent
    from langchain_core.messages import AIMessage
    from langchain_core.tools import tool

    from lc_callbacks_nb import LiveStreamHandler

    @tool
    def get_weather(city: str) -> str:
        """The weather in a city."""
        return f"sunny in {city}"

    call = {"name": "get_weather", "args": {"city": "Paris"}, "id": "call_1", "type": "tool_call"}
    model = _fake_model_class()(
        messages=iter(
            [AIMessage(content="", tool_calls=[call]), "It is sunny in Paris,\nenjoy it."]
        )
    )
    agent = create_agent(model, tools=[get_weather])
    handler = LiveStreamHandler(mode="text", force_stream=True)
    question = {"messages": [{"role": "user", "content": "Weather in Paris?"}]}
    printed = _printed(lambda: agent.invoke(question, {"callbacks": [handler]}))
    assert handler.internal_errors == []
    assert printed.split("\n") == [
        '[1:ScriptedModel] tool call: get_weather {"city": "Paris"}',
        "[tool:get_weather] → sunny in Paris",
        "[2:ScriptedModel] It is sunny in Paris,",
        "[2:ScriptedModel] enjoy it.",
        "",
    ]


def test_end_to_end_tool_error_inside_an_agent_is_said_once():
    from langchain.agents import create_agent
    from langchain_core.messages import AIMessage
    from langchain_core.tools import tool

    from lc_callbacks_nb import LiveStreamHandler

    @tool
    def explode(city: str) -> str:
        """Always fails."""
        raise RuntimeError(f"no weather station in {city}")

    call = {"name": "explode", "args": {"city": "Atlantis"}, "id": "call_1", "type": "tool_call"}
    model = _fake_model_class()(messages=iter([AIMessage(content="", tool_calls=[call])]))
    agent = create_agent(model, tools=[explode])
    handler = LiveStreamHandler(mode="text")
    question = {"messages": [{"role": "user", "content": "Weather in Atlantis?"}]}

    def run() -> None:
        with pytest.raises(RuntimeError, match="no weather station"):
            agent.invoke(question, {"callbacks": [handler]})

    printed = _printed(run)
    assert handler.internal_errors == []
    assert printed.split("\n") == [
        '[1:ScriptedModel] tool call: explode {"city": "Atlantis"}',
        "[tool:explode] error: RuntimeError: no weather station in Atlantis",
        "",
    ]


def test_end_to_end_error_mid_stream():
    from lc_callbacks_nb import LiveStreamHandler

    model = _fake_model_class()(messages=iter(["Why don't skeletons fight?"]), fail_after=3)
    handler = LiveStreamHandler(mode="text")

    def run() -> None:
        with pytest.raises(ValueError, match="boom"):
            for _ in model.stream("Tell me a joke", config={"callbacks": [handler]}):
                pass

    printed = _printed(run)
    assert handler.internal_errors == []
    assert printed.split("\n") == [
        "Why don't",
        "[1:ScriptedModel] error: ValueError: boom: the connection dropped",
        "",
    ]


def test_end_to_end_chain_then_plain_call_in_one_cell():
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate

    from lc_callbacks_nb import LiveStreamHandler

    model = _fake_model_class()(messages=iter(["Teal.", "Hello\nthere."]))
    chain = ChatPromptTemplate.from_messages([("human", "{q}")]) | model | StrOutputParser()
    handler = LiveStreamHandler(mode="text", force_stream=True)

    def run() -> None:
        chain.invoke({"q": "Name a colour."}, {"callbacks": [handler]})
        model.invoke("Say hello.", config={"callbacks": [handler]})

    printed = _printed(run)
    assert handler.internal_errors == []
    assert printed.split("\n") == [
        "[1:ScriptedModel] Teal.",
        "[2:ScriptedModel] Hello",
        "[2:ScriptedModel] there.",
        "",
    ]
