"""LangGraph's control flow (interrupt, Command.PARENT, drain) is told apart from failures.

Unit tests of ``lc_callbacks_nb.langchain.control_flow`` on constructed exceptions, on
look-alike classes (no LangGraph import), and on what real graphs fire at a recording
callback handler: which runs get which error event, what the root run receives, what a
resume looks like. The recorder classifies at event time, as the live handler must
(LangGraph rewrites a ParentCommand's target in place as it climbs).
"""

from __future__ import annotations

import asyncio
import operator
import subprocess
import sys
import textwrap
import types
import uuid
import warnings
from dataclasses import dataclass, field
from typing import Annotated, Any, TypedDict
from uuid import UUID

import pytest

from lc_callbacks_nb.langchain.control_flow import (
    HANDED_OFF,
    MAX_CHARS,
    PAUSED,
    classify,
    describe_interrupts,
    paused_event,
    paused_outputs,
    resumed_with,
    thread_of,
)

# -- without LangGraph: look-alike classes, and the import itself ------------------------


def _fake_module_class(module: str, name: str, *bases: type) -> type:
    return types.new_class(
        name, bases or (Exception,), exec_body=lambda ns: ns.update({"__module__": module})
    )


def test_fake_graph_interrupt_in_a_langgraph_module_is_paused() -> None:
    interrupt_cls = _fake_module_class("langgraph.fake", "Interrupt")
    fake = _fake_module_class("langgraph.fake", "GraphInterrupt")
    item = interrupt_cls()
    item.value = "approve?"
    assert classify(fake((item,))) == (PAUSED, "waiting for input: approve?")
    # a subclass defined by the user still reads as the LangGraph class it derives from
    sub = _fake_module_class("user_code", "MyInterrupt", fake)
    assert classify(sub(("plain value",))) == (PAUSED, "waiting for input: plain value")


def test_same_names_outside_langgraph_are_errors() -> None:
    for name in ("GraphInterrupt", "ParentCommand", "GraphBubbleUp", "GraphDrained"):
        assert classify(_fake_module_class("mylib.errors", name)("x")) is None
        assert classify(_fake_module_class("langgraphx.errors", name)("x")) is None
    assert classify(ValueError("GraphInterrupt")) is None
    assert classify(KeyboardInterrupt()) is None


def test_unknown_graph_bubble_up_kin_is_paused_not_failed() -> None:
    base = _fake_module_class("langgraph.errors", "GraphBubbleUp")
    kin = _fake_module_class("langgraph.future", "GraphSuspended", base)
    assert classify(kin("waiting for a lease")) == (PAUSED, "GraphSuspended: waiting for a lease")
    assert classify(kin()) == (PAUSED, "GraphSuspended")


def _run_python(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.parametrize("installed", [True, False], ids=["langgraph-installed", "no-langgraph"])
def test_importing_the_module_does_not_import_langgraph(installed: bool) -> None:
    # without it: sys.modules["langgraph"] = None makes any `import langgraph` fail
    prelude = "" if installed else "import sys; sys.modules['langgraph'] = None"
    out = _run_python(
        prelude
        + textwrap.dedent(
            """
        import sys
        import lc_callbacks_nb.langchain.control_flow as cf
        assert not sys.modules.get("langgraph"), sorted(m for m in sys.modules if "langgraph" in m)

        # and classifying look-alikes, resumes, metadata and outputs imports nothing either
        GraphInterrupt = type("GraphInterrupt", (Exception,), {"__module__": "langgraph.fake"})
        ParentCommand = type("ParentCommand", (Exception,), {"__module__": "langgraph.fake"})
        Command = type("Command", (), {"__module__": "langgraph.fake"})
        cmd = Command()
        cmd.goto, cmd.graph, cmd.resume = "other", "__parent__", "yes"
        print(cf.classify(GraphInterrupt(("approve?",))))
        print(cf.classify(ParentCommand(cmd)))
        print(cf.classify(RuntimeError("boom")))
        print(cf.resumed_with(cmd), cf.thread_of({"thread_id": "t1"}))
        print(cf.paused_outputs({"__interrupt__": ["q"]}), cf.paused_outputs({"x": 1}))
        assert not sys.modules.get("langgraph")
        print("clean")
        """
        )
    )
    assert out.splitlines() == [
        "('paused', 'waiting for input: approve?')",
        "('handed_off', 'handed off to other')",
        "None",
        "resumed with: yes t1",
        "waiting for input: q None",
        "clean",
    ]


# -- messages -------------------------------------------------------------------------------


def test_values_render_as_one_clipped_line() -> None:
    assert describe_interrupts(["line one\n  line two"]) == "waiting for input: line one line two"
    assert describe_interrupts([{"q": "ok?", "n": 1}]) == "waiting for input: {'q': 'ok?', 'n': 1}"
    assert describe_interrupts([3]) == "waiting for input: 3"
    assert describe_interrupts(["a", "b"]) == "waiting for input: a | b"
    assert describe_interrupts([]) == "paused at a breakpoint"
    long = describe_interrupts(["x" * 1000])
    assert len(long) == MAX_CHARS and long.endswith("…")

    class BadRepr:
        def __repr__(self) -> str:
            raise RuntimeError("no")

    assert describe_interrupts([BadRepr()]) == "waiting for input: <BadRepr>"


def test_human_in_the_loop_middleware_request_reads_as_a_review() -> None:
    request = {
        "action_requests": [
            {"name": "delete_file", "args": {"path": "/tmp/x"}, "description": "..."},
            {"name": "send_email", "args": {"to": "a@b"}},
        ],
        "review_configs": [],
    }
    assert describe_interrupts([request]) == (
        "waiting for input: review delete_file {'path': '/tmp/x'} | send_email {'to': 'a@b'}"
    )


def test_thread_of() -> None:
    assert thread_of({"thread_id": "t1", "ls_integration": "langgraph"}) == "t1"
    assert thread_of({"thread_id": 7}) == "7"
    tid = uuid.uuid4()
    assert thread_of({"thread_id": tid}) == str(tid)
    assert thread_of({"thread_id": ""}) is None
    assert thread_of({"thread_id": None}) is None
    assert thread_of({}) is None
    assert thread_of(None) is None


# -- real LangGraph: constructed exceptions ---------------------------------------------------

langgraph = pytest.importorskip("langgraph")

from langgraph.errors import (  # noqa: E402
    EmptyInputError,
    GraphBubbleUp,
    GraphDrained,
    GraphInterrupt,
    GraphRecursionError,
    InvalidUpdateError,
    NodeInterrupt,
    ParentCommand,
)
from langgraph.types import Command, Interrupt, Send  # noqa: E402


def test_constructed_interrupts() -> None:
    assert classify(GraphInterrupt((Interrupt(value="approve?"),))) == (
        PAUSED,
        "waiting for input: approve?",
    )
    assert classify(GraphInterrupt((Interrupt(value={"ask": 1}), Interrupt(value=2)))) == (
        PAUSED,
        "waiting for input: {'ask': 1} | 2",
    )
    assert classify(GraphInterrupt()) == (PAUSED, "paused at a breakpoint")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        node_interrupt = NodeInterrupt("legacy")
    assert classify(node_interrupt) == (PAUSED, "waiting for input: legacy")


def test_constructed_parent_commands() -> None:
    parent = Command.PARENT
    assert classify(ParentCommand(Command(graph=parent, goto="other"))) == (
        HANDED_OFF,
        "handed off to other",
    )
    assert classify(ParentCommand(Command(graph=parent, goto=Send("other", {"x": 1})))) == (
        HANDED_OFF,
        "handed off to other",
    )
    assert classify(
        ParentCommand(Command(graph=parent, goto=[Send("a", 1), Send("a", 2), "b"]))
    ) == (HANDED_OFF, "handed off to a, b")
    assert classify(ParentCommand(Command(graph=parent, update={"x": 1}))) == (
        HANDED_OFF,
        "handed off to the parent graph",
    )
    # LangGraph's rewrite once no parent graph is left: it escapes to the caller
    assert classify(ParentCommand(Command(graph="", goto="other"))) is None


def test_drain_and_real_errors() -> None:
    assert classify(GraphDrained("maintenance")) == (
        PAUSED,
        "drained (maintenance): resumable from its checkpoint",
    )
    assert isinstance(GraphDrained(), GraphBubbleUp)
    for error in (
        GraphRecursionError("limit"),
        InvalidUpdateError("two writes"),
        EmptyInputError(),
        ValueError("boom"),
    ):
        assert classify(error) is None


def test_paused_outputs_and_resume_inputs() -> None:
    ask = Interrupt(value="approve?")
    assert paused_outputs({"x": 1, "__interrupt__": [ask]}) == "waiting for input: approve?"
    assert paused_outputs({"x": 1}) is None
    assert paused_outputs({"__interrupt__": []}) is None
    assert paused_outputs("text") is None
    assert resumed_with(Command(resume="yes")) == "resumed with: yes"
    assert resumed_with(Command(resume={"0" * 32: "yes", "f" * 32: {"ok": True}})) == (
        "resumed with: yes | {'ok': True}"
    )
    assert resumed_with(Command(resume={"answer": 1})) == "resumed with: {'answer': 1}"
    assert resumed_with(Command(goto="other")) is None
    assert resumed_with({"resume": "yes"}) is None


# -- real LangGraph: what the callbacks receive ------------------------------------------------

from langchain_core.callbacks import BaseCallbackHandler  # noqa: E402
from langchain_core.tools import InjectedToolCallId  # noqa: E402
from langgraph.callbacks import GraphCallbackHandler  # noqa: E402
from langgraph.checkpoint.memory import InMemorySaver  # noqa: E402
from langgraph.graph import START, StateGraph  # noqa: E402
from langgraph.types import interrupt  # noqa: E402


@dataclass
class Ev:
    kind: str  # chain_start, chain_end, chain_error, tool_start, tool_end, tool_error, ...
    name: str
    run_id: UUID | None
    parent: str | None = None  # the parent run's name
    error: str = ""  # exception class name
    verdict: tuple[str, str] | None = None  # classify(error), at event time
    data: Any = None  # inputs / outputs / metadata / lifecycle event
    metadata: dict[str, Any] = field(default_factory=dict)


class Recorder(GraphCallbackHandler, BaseCallbackHandler):
    """Records callbacks, including LangGraph's own on_interrupt / on_resume."""

    def __init__(self) -> None:
        self.events: list[Ev] = []
        self.names: dict[UUID, str] = {}

    def _start(self, kind: str, name: str, run_id: UUID, parent: UUID | None, **kw: Any) -> None:
        self.names[run_id] = name
        self.events.append(Ev(kind, name, run_id, self.names.get(parent) if parent else None, **kw))

    def on_chain_start(
        self, serialized, inputs, *, run_id, parent_run_id=None, tags=None, metadata=None, **kw
    ):
        name = kw.get("name") or (serialized or {}).get("name") or "chain"
        self._start(
            "chain_start", name, run_id, parent_run_id, data=inputs, metadata=dict(metadata or {})
        )

    def on_tool_start(
        self, serialized, input_str, *, run_id, parent_run_id=None, metadata=None, **kw
    ):
        name = kw.get("name") or (serialized or {}).get("name") or "tool"
        self._start("tool_start", name, run_id, parent_run_id, metadata=dict(metadata or {}))

    def _done(self, kind: str, run_id: UUID, **kw: Any) -> None:
        self.events.append(Ev(kind, self.names.get(run_id, "?"), run_id, **kw))

    def on_chain_end(self, outputs, *, run_id, **kw):
        self._done("chain_end", run_id, data=outputs)

    def on_tool_end(self, output, *, run_id, **kw):
        self._done("tool_end", run_id, data=output)

    def on_chain_error(self, error, *, run_id, **kw):
        self._done("chain_error", run_id, error=type(error).__name__, verdict=classify(error))

    def on_tool_error(self, error, *, run_id, **kw):
        self._done("tool_error", run_id, error=type(error).__name__, verdict=classify(error))

    def on_interrupt(self, event):
        self.events.append(Ev("on_interrupt", "", event.run_id, data=event))

    def on_resume(self, event):
        self.events.append(Ev("on_resume", "", event.run_id, data=event))

    # views
    def of(self, *kinds: str) -> list[Ev]:
        return [e for e in self.events if e.kind in kinds]

    def trace(self) -> list[tuple[str, str, str]]:
        return [(e.kind, e.name, e.error) for e in self.events if not e.kind.endswith("_start")]

    @property
    def root(self) -> Ev:
        return self.events[0]


class S(TypedDict, total=False):
    x: str


def _ask(state: S) -> S:
    return {"x": f"answer={interrupt('approve?')}"}


def _ask_graph() -> Any:
    builder = StateGraph(S)
    builder.add_node("ask", _ask)
    builder.add_edge(START, "ask")
    return builder.compile(checkpointer=InMemorySaver())


def _config(rec: Recorder, thread: str | None = None) -> Any:
    config: dict[str, Any] = {"callbacks": [rec]}
    if thread:
        config["configurable"] = {"thread_id": thread}
    return config


def test_interrupt_in_a_node_then_resume() -> None:
    graph = _ask_graph()
    rec = Recorder()
    out = graph.invoke({"x": "hi"}, _config(rec, "t1"))

    # the cell gets __interrupt__; the node's run an error; the root ends normally
    assert [i.value for i in out["__interrupt__"]] == ["approve?"]
    assert rec.trace() == [
        ("chain_error", "ask", "GraphInterrupt"),
        ("on_interrupt", "", ""),
        ("chain_end", "LangGraph", ""),
    ]
    node_error = rec.of("chain_error")[0]
    assert node_error.verdict == (PAUSED, "waiting for input: approve?")

    # the root's on_chain_end outputs do not carry __interrupt__ (invoke adds it later) ...
    root_end = rec.of("chain_end")[0]
    assert root_end.run_id == rec.root.run_id
    assert "__interrupt__" not in root_end.data
    assert paused_outputs(root_end.data) is None
    assert paused_outputs(out) == "waiting for input: approve?"
    # ... LangGraph's on_interrupt names the root run, before its on_chain_end
    lifecycle = rec.of("on_interrupt")[0]
    assert lifecycle.run_id == rec.root.run_id
    assert paused_event(lifecycle.data) == "waiting for input: approve?"

    # the thread id is in every run's start metadata
    assert thread_of(rec.root.metadata) == "t1"
    assert {thread_of(e.metadata) for e in rec.of("chain_start")} == {"t1"}

    # resume in a later "cell": same thread, input is the Command, no error anywhere
    rec2 = Recorder()
    out2 = graph.invoke(Command(resume="yes"), _config(rec2, "t1"))
    assert out2 == {"x": "answer=yes"}
    assert resumed_with(rec2.root.data) == "resumed with: yes"
    assert thread_of(rec2.root.metadata) == "t1"
    assert rec2.trace() == [
        ("on_resume", "", ""),
        ("chain_end", "ask", ""),
        ("chain_end", "LangGraph", ""),
    ]
    assert rec2.of("on_resume")[0].run_id == rec2.root.run_id


def test_interrupt_async_is_the_same() -> None:
    graph = _ask_graph()
    rec = Recorder()
    out = asyncio.run(graph.ainvoke({"x": "hi"}, _config(rec, "t-async")))
    assert "__interrupt__" in out
    assert rec.trace() == [
        ("chain_error", "ask", "GraphInterrupt"),
        ("on_interrupt", "", ""),
        ("chain_end", "LangGraph", ""),
    ]
    assert rec.of("chain_error")[0].verdict == (PAUSED, "waiting for input: approve?")


def test_interrupt_in_a_subgraph_pauses_node_subgraph_and_parent_node() -> None:
    inner = StateGraph(S)
    inner.add_node("ask", _ask)
    inner.add_edge(START, "ask")
    outer = StateGraph(S)
    outer.add_node("sub", inner.compile())
    outer.add_edge(START, "sub")
    graph = outer.compile(checkpointer=InMemorySaver())

    rec = Recorder()
    graph.invoke({"x": "hi"}, _config(rec, "t-sub"))
    errors = rec.of("chain_error")
    # the node, the subgraph run, the parent's node that runs it: innermost first
    assert [(e.name, e.error) for e in errors] == [
        ("ask", "GraphInterrupt"),
        ("LangGraph", "GraphInterrupt"),
        ("sub", "GraphInterrupt"),
    ]
    assert {e.verdict for e in errors} == {(PAUSED, "waiting for input: approve?")}
    assert rec.trace()[-1] == ("chain_end", "LangGraph", "")  # the root ends normally

    rec2 = Recorder()
    assert graph.invoke(Command(resume="ok"), _config(rec2, "t-sub")) == {"x": "answer=ok"}
    assert not rec2.of("chain_error", "tool_error")
    assert len(rec2.of("on_resume")) == 2  # the root and the subgraph each report it


def test_parallel_interrupts_are_listed_together() -> None:
    class P(TypedDict, total=False):
        x: Annotated[list[str], operator.add]

    builder = StateGraph(P)
    builder.add_node("a1", lambda s: {"x": [interrupt("first?")]})
    builder.add_node("a2", lambda s: {"x": [interrupt("second?")]})
    builder.add_edge(START, "a1")
    builder.add_edge(START, "a2")
    graph = builder.compile(checkpointer=InMemorySaver())
    rec = Recorder()
    out = graph.invoke({"x": []}, _config(rec, "t-par"))
    assert sorted(e.verdict[1] for e in rec.of("chain_error") if e.verdict) == [
        "waiting for input: first?",
        "waiting for input: second?",
    ]
    # parallel nodes: LangGraph lists their interrupts in the order they happened to run
    both = {"waiting for input: first? | second?", "waiting for input: second? | first?"}
    assert paused_outputs(out) in both
    assert paused_event(rec.of("on_interrupt")[0].data) in both


def test_static_breakpoint_fires_no_error_only_on_interrupt() -> None:
    builder = StateGraph(S)
    builder.add_node("a", lambda s: {"x": "a"})
    builder.add_node("b", lambda s: {"x": "b"})
    builder.add_edge(START, "a")
    builder.add_edge("a", "b")
    graph = builder.compile(checkpointer=InMemorySaver(), interrupt_before=["b"])
    rec = Recorder()
    assert graph.invoke({"x": "hi"}, _config(rec, "t-bp")) == {"x": "a"}
    assert rec.trace() == [
        ("chain_end", "a", ""),
        ("on_interrupt", "", ""),
        ("chain_end", "LangGraph", ""),
    ]
    event = rec.of("on_interrupt")[0]
    assert event.run_id == rec.root.run_id
    assert paused_event(event.data) == "paused at a breakpoint (before a node)"


def _parent_command_graph(goto: Any) -> Any:
    def hop(state: S) -> Command:
        return Command(graph=Command.PARENT, goto=goto, update={"x": "hopped"})

    inner = StateGraph(S)
    inner.add_node("hop", hop)
    inner.add_edge(START, "hop")
    outer = StateGraph(S)
    outer.add_node("sub", inner.compile())
    outer.add_node("other", lambda s: {"x": s["x"] + "+other"})
    outer.add_node("other2", lambda s: {})
    outer.add_edge(START, "sub")
    return outer.compile()


@pytest.mark.parametrize(
    ("goto", "message", "ran"),
    [
        ("other", "handed off to other", ["other"]),
        (Send("other", {"x": "sent"}), "handed off to other", ["other"]),
        (["other", "other2"], "handed off to other, other2", ["other", "other2"]),
    ],
)
def test_parent_command_hands_off_three_runs_and_the_graph_finishes(
    goto: Any, message: str, ran: list[str]
) -> None:
    graph = _parent_command_graph(goto)
    rec = Recorder()
    out = graph.invoke({"x": "hi"}, _config(rec))
    assert out["x"].endswith("+other")
    errors = rec.of("chain_error")
    assert [(e.name, e.error) for e in errors] == [
        ("hop", "ParentCommand"),
        ("LangGraph", "ParentCommand"),  # the subgraph
        ("sub", "ParentCommand"),  # the parent's node running it
    ]
    assert {e.verdict for e in errors} == {(HANDED_OFF, message)}
    assert [e.name for e in rec.of("chain_end")] == [*ran, "LangGraph"]
    assert rec.of("chain_end")[-1].run_id == rec.root.run_id
    assert not rec.of("on_interrupt")


def test_parent_command_from_the_root_graph_escapes_as_an_error() -> None:
    builder = StateGraph(S)
    builder.add_node("hop", lambda s: Command(graph=Command.PARENT, goto="nowhere"))
    builder.add_edge(START, "hop")
    rec = Recorder()
    with pytest.raises(ParentCommand):
        builder.compile().invoke({"x": "hi"}, _config(rec))
    hop, root = rec.of("chain_error")
    assert hop.name == "hop" and hop.verdict == (HANDED_OFF, "handed off to nowhere")
    assert root.run_id == rec.root.run_id and root.verdict is None  # what the cell raises


def test_drain_pauses_the_root_and_reaches_the_caller() -> None:
    from langgraph.runtime import RunControl

    control = RunControl()

    def first(state: S) -> S:
        control.request_drain("maintenance")
        return {"x": "a"}

    builder = StateGraph(S)
    builder.add_node("a", first)
    builder.add_node("b", lambda s: {"x": "b"})
    builder.add_edge(START, "a")
    builder.add_edge("a", "b")
    graph = builder.compile(checkpointer=InMemorySaver())
    rec = Recorder()
    with pytest.raises(GraphDrained):
        graph.invoke({"x": "hi"}, _config(rec, "t-drain"), control=control)
    [root] = rec.of("chain_error")
    assert root.run_id == rec.root.run_id
    assert root.verdict == (PAUSED, "drained (maintenance): resumable from its checkpoint")
    assert graph.invoke(None, {"configurable": {"thread_id": "t-drain"}}) == {"x": "b"}


def _delete_tool() -> Any:
    from langchain_core.tools import tool

    @tool
    def delete_file(path: str) -> str:
        """Delete a file."""
        return f"deleted {path}" if interrupt(f"delete {path}?") == "yes" else "kept"

    return delete_file


def test_interrupt_inside_a_tool_of_a_tool_node() -> None:
    from langchain_core.messages import AIMessage
    from langgraph.graph import MessagesState
    from langgraph.prebuilt import ToolNode

    builder = StateGraph(MessagesState)
    builder.add_node("tools", ToolNode([_delete_tool()]))
    builder.add_edge(START, "tools")
    graph = builder.compile(checkpointer=InMemorySaver())
    call = AIMessage(
        "", tool_calls=[{"name": "delete_file", "args": {"path": "/tmp/x"}, "id": "c1"}]
    )
    rec = Recorder()
    graph.invoke({"messages": [call]}, _config(rec, "t-tool"))
    assert rec.trace() == [
        ("tool_error", "delete_file", "GraphInterrupt"),
        ("chain_error", "tools", "GraphInterrupt"),
        ("on_interrupt", "", ""),
        ("chain_end", "LangGraph", ""),
    ]
    assert {e.verdict for e in rec.of("tool_error", "chain_error")} == {
        (PAUSED, "waiting for input: delete /tmp/x?")
    }

    rec2 = Recorder()
    out = graph.invoke(Command(resume="yes"), _config(rec2, "t-tool"))
    assert out["messages"][-1].content == "deleted /tmp/x"
    assert [e.kind for e in rec2.of("tool_start", "tool_end", "tool_error")] == [
        "tool_start",
        "tool_end",
    ]


def test_interrupt_inside_a_tool_of_create_agent() -> None:
    agents = pytest.importorskip("langchain.agents")
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage, HumanMessage

    class FakeModel(GenericFakeChatModel):
        def bind_tools(self, tools: Any, **kwargs: Any) -> Any:
            return self

    call = AIMessage(
        "", tool_calls=[{"name": "delete_file", "args": {"path": "/tmp/x"}, "id": "c1"}]
    )
    model = FakeModel(messages=iter([call, AIMessage("done")]))
    agent = agents.create_agent(model, [_delete_tool()], checkpointer=InMemorySaver())
    rec = Recorder()
    out = agent.invoke({"messages": [HumanMessage("delete /tmp/x")]}, _config(rec, "t-agent"))
    assert paused_outputs(out) == "waiting for input: delete /tmp/x?"
    assert [(e.kind, e.name, e.error) for e in rec.of("tool_error", "chain_error")] == [
        ("tool_error", "delete_file", "GraphInterrupt"),
        ("chain_error", "tools", "GraphInterrupt"),
    ]
    assert rec.of("chain_end")[-1].run_id == rec.root.run_id

    rec2 = Recorder()
    out2 = agent.invoke(Command(resume="yes"), _config(rec2, "t-agent"))
    assert out2["messages"][-1].content == "done"
    assert not rec2.of("chain_error", "tool_error")
    assert resumed_with(rec2.root.data) == "resumed with: yes"
    assert thread_of(rec2.root.metadata) == "t-agent"


def test_a_runnable_wrapping_a_graph_ends_with_interrupt_in_its_outputs() -> None:
    from langchain_core.runnables import RunnableLambda

    graph = _ask_graph()
    wrapper: RunnableLambda[Any, Any] = RunnableLambda(
        lambda x, config: graph.invoke(x, config), name="wrapper"
    )
    rec = Recorder()
    wrapper.invoke({"x": "hi"}, _config(rec, "t-wrap"))
    assert rec.root.name == "wrapper"
    assert thread_of(rec.root.metadata) is None  # LangGraph adds it from the graph down
    ends = {e.name: e for e in rec.of("chain_end")}
    assert paused_outputs(ends["wrapper"].data) == "waiting for input: approve?"
    assert paused_outputs(ends["LangGraph"].data) is None
    assert rec.of("on_interrupt")[0].run_id == ends["LangGraph"].run_id


def test_handoff_tool_ends_normally_and_its_tool_node_hands_off() -> None:
    """The supervisor pattern: a tool returns Command(graph=PARENT); the tool run ends with
    on_tool_end (its output is the Command), ToolNode's node raises ParentCommand."""
    from langchain_core.messages import AIMessage, ToolMessage
    from langchain_core.tools import tool
    from langgraph.graph import MessagesState
    from langgraph.prebuilt import ToolNode

    @tool
    def transfer_to_other(tool_call_id: Annotated[str, InjectedToolCallId]) -> Command:
        """Hand the conversation to the other agent."""
        message = ToolMessage("handed off", tool_call_id=tool_call_id)
        return Command(graph=Command.PARENT, goto="other", update={"messages": [message]})

    inner = StateGraph(MessagesState)
    inner.add_node("tools", ToolNode([transfer_to_other]))
    inner.add_edge(START, "tools")
    outer = StateGraph(MessagesState)
    outer.add_node("agent", inner.compile())
    outer.add_node("other", lambda s: {"messages": [AIMessage("other here")]})
    outer.add_edge(START, "agent")
    call = AIMessage("", tool_calls=[{"name": "transfer_to_other", "args": {}, "id": "c1"}])
    rec = Recorder()
    out = outer.compile().invoke({"messages": [call]}, _config(rec))
    assert out["messages"][-1].content == "other here"
    assert rec.trace() == [
        ("tool_end", "transfer_to_other", ""),
        ("chain_error", "tools", "ParentCommand"),
        ("chain_error", "LangGraph", "ParentCommand"),
        ("chain_error", "agent", "ParentCommand"),
        ("chain_end", "other", ""),
        ("chain_end", "LangGraph", ""),
    ]
    assert {e.verdict for e in rec.of("chain_error")} == {(HANDED_OFF, "handed off to other")}
    assert type(rec.of("tool_end")[0].data).__name__ == "Command"
