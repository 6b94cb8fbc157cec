"""The one reader of structured values (live/values.py) and its text/HTML writer
(views/value_render.py), over the shapes LangChain and LangGraph hand to callbacks; no kernel.

Every tree must be JSON-able, bounded, free of secrets and signatures, and never raise.
"""

from __future__ import annotations

import collections
import dataclasses
import enum
import json
import operator
import subprocess
import sys
import textwrap
import threading
from collections.abc import Mapping
from typing import Annotated, Any, TypedDict

import pytest
from langchain_core.documents import Document
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    ChatMessage,
    FunctionMessage,
    HumanMessage,
    RemoveMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.prompts import ChatPromptTemplate
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.types import Send
from pydantic import BaseModel, SecretStr

from lc_callbacks_nb.live import values
from lc_callbacks_nb.live.values import Ledger, prompt_line, read
from lc_callbacks_nb.views.value_render import value_html, value_lines

SECRET = "sk-proj-Q7vT2mX9pL4kW8nR3sY6"
SECRET_BODY = SECRET[len("sk-proj-") :]
IMAGE_B64 = "iVBORw0KGgoAAAANSUhEUgAA" + "Qk1Ng9XzT5aYp+/wR2" * 300  # looks like real base64
SIGNATURE = "EqQBCkgIARABGAIiQL2" + "xY9" * 200


def dumped(tree: Any) -> str:
    text = json.dumps(tree, ensure_ascii=False, allow_nan=False)
    json.loads(text)  # valid JSON, round trip
    return text


def only(tree: dict[str, Any], t: str) -> dict[str, Any]:
    assert tree["t"] == t, tree
    return tree


def msgs(tree: Any) -> list[dict[str, Any]]:
    return only(tree, "msgs")["items"]


# -- messages ------------------------------------------------------------------------------
def test_every_role_reads_as_a_transcript_row() -> None:
    history = [
        SystemMessage("Be brief."),
        HumanMessage("Weather in Paris?", name="ada"),
        AIMessage("", tool_calls=[{"name": "get_weather", "args": {"city": "Paris"}, "id": "c1"}]),
        ToolMessage("sunny", tool_call_id="c1", name="get_weather"),
        ToolMessage("no clock", tool_call_id="c2", name="get_time", status="error"),
        AIMessageChunk(content="It is sunny."),
        ChatMessage("Looks right.", role="critic"),
        FunctionMessage("42", name="answer"),
        RemoveMessage(id="old-1"),
    ]
    rows = msgs(read(history))
    assert [r["role"] for r in rows] == [
        "system", "human", "ai", "tool", "tool", "ai", "critic", "function", "remove"
    ]  # fmt: skip
    assert rows[1] == {"t": "msg", "role": "human", "name": "ada", "text": "Weather in Paris?"}
    assert rows[2] == {
        "t": "msg", "role": "ai",
        "calls": [{"t": "call", "name": "get_weather", "args": '{"city": "Paris"}'}],
    }  # fmt: skip
    assert rows[3] == {"t": "msg", "role": "tool", "name": "get_weather", "text": "sunny"}
    assert rows[4]["status"] == "error" and rows[4]["name"] == "get_time"
    assert value_lines(read(history)) == [
        "system: Be brief.",
        "human ada: Weather in Paris?",
        'ai: → get_weather({"city": "Paris"})',
        "tool get_weather: sunny",
        "tool get_time [error]: no clock",
        "ai: It is sunny.",
        "critic: Looks right.",
        "function answer: 42",
        "remove:",
    ]


def test_no_metadata_ids_or_reprs_are_read() -> None:
    ai = AIMessage(
        "Hi",
        id="lc_run--123",
        additional_kwargs={"refusal": None, "custom": "x"},
        response_metadata={"model_name": "gpt", "token_usage": {"total_tokens": 3}},
        usage_metadata={"input_tokens": 1, "output_tokens": 2, "total_tokens": 3},
    )
    text = dumped(read({"messages": [HumanMessage("Q", id="abc-1"), ai]}))
    for absent in ("additional_kwargs", "response_metadata", "usage", "lc_run--123", "abc-1",
                   "model_name", "token_usage", "refusal"):  # fmt: skip
        assert absent not in text, absent


def test_openai_dicts_and_tuples_are_messages() -> None:
    rows = msgs(
        read(
            [
                {"role": "developer", "content": "Rules."},
                {"role": "user", "content": [{"type": "text", "text": "Hi"}]},
                {"role": "assistant", "content": None, "tool_calls": [
                    {"id": "c", "type": "function",
                     "function": {"name": "f", "arguments": '{"x": 1}'}}]},
                {"role": "tool", "content": "done", "tool_call_id": "c", "name": "f"},
            ]
        )
    )  # fmt: skip
    assert [(r["role"], r.get("text", "")) for r in rows] == [
        ("system", "Rules."), ("human", "Hi"), ("ai", ""), ("tool", "done")
    ]  # fmt: skip
    assert rows[2]["calls"] == [{"t": "call", "name": "f", "args": '{"x": 1}'}]
    assert msgs(read([("human", "hello"), ("ai", "hi")]))[1] == {
        "t": "msg",
        "role": "ai",
        "text": "hi",
    }


def test_reasoning_folds_to_its_size_signatures_never_shown() -> None:
    anthropic = AIMessage(
        content=[
            {
                "type": "thinking",
                "thinking": "The user asks about weather." * 10,
                "signature": SIGNATURE,
                "index": 0,
            },
            {"type": "redacted_thinking", "data": "EmwKAhgBEgy3" * 20},
            {"type": "text", "text": "Sunny.", "citations": [{"cited_text": "x"}]},
            {"type": "tool_use", "id": "t1", "name": "get_weather", "input": {"city": "Paris"}},
        ],
        tool_calls=[{"name": "get_weather", "args": {"city": "Paris"}, "id": "t1"}],
    )
    responses = AIMessage(content=[
        {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "Plan."}],
         "encrypted_content": "gAAAAAB" + "x" * 500},
        {"type": "text", "text": "Done.", "annotations": []},
    ])  # fmt: skip
    v1 = AIMessage(
        content=[{"type": "reasoning", "reasoning": "Think."}, {"type": "text", "text": "Ok"}]
    )
    deepseek = AIMessage("Answer", additional_kwargs={"reasoning_content": "Hmm, let me see."})
    rows = msgs(read([anthropic, responses, v1, deepseek]))
    assert rows[0] == {
        "t": "msg", "role": "ai", "text": "Sunny.", "reasoning": 280 + 240,
        "calls": [{"t": "call", "name": "get_weather", "args": '{"city": "Paris"}'}],
    }  # fmt: skip
    assert (rows[1]["text"], rows[1]["reasoning"]) == ("Done.", 5)
    assert (rows[2]["text"], rows[2]["reasoning"]) == ("Ok", 6)
    assert (rows[3]["text"], rows[3]["reasoning"]) == ("Answer", 16)
    text = dumped(rows)
    assert SIGNATURE[:20] not in text and "gAAAAAB" not in text and "EmwKAhgB" not in text
    assert "The user asks" not in text
    assert value_lines(read(anthropic)) == [
        "ai [reasoning: 520 characters]: Sunny.",
        '  → get_weather({"city": "Paris"})',
    ]


def test_images_audio_and_files_are_a_type_and_a_size() -> None:
    content = [
        {"type": "text", "text": "What is in these?"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{IMAGE_B64}"}},
        {"type": "image_url", "image_url": {"url": "https://example.org/cat.png"}},
        {"type": "image",
         "source": {"type": "base64", "media_type": "image/jpeg", "data": IMAGE_B64}},
        {"type": "image", "base64": IMAGE_B64, "mime_type": "image/webp"},
        {"type": "image", "url": "https://example.org/dog.png"},
        {"type": "input_image", "image_url": f"data:image/gif;base64,{IMAGE_B64}"},
        {"type": "input_audio", "input_audio": {"data": IMAGE_B64, "format": "wav"}},
        {"type": "audio", "base64": IMAGE_B64, "mime_type": "audio/mpeg"},
        {"type": "file", "base64": IMAGE_B64, "mime_type": "application/pdf", "filename": "a.pdf"},
        {"type": "document", "source": {"type": "base64", "media_type": "application/pdf",
                                        "data": IMAGE_B64}},
        {"type": "video", "url": "https://example.org/v.mp4"},
    ]  # fmt: skip
    (row,) = msgs(read(HumanMessage(content=content)))
    assert row["text"] == "What is in these?"
    size = len(IMAGE_B64) * 3 // 4
    assert row["parts"] == [
        {"t": "media", "kind": "image", "size": size, "mime": "image/png"},
        {"t": "media", "kind": "image", "url": "https://example.org/cat.png"},
        {"t": "media", "kind": "image", "size": size, "mime": "image/jpeg"},
        {"t": "media", "kind": "image", "size": size, "mime": "image/webp"},
        {"t": "media", "kind": "image", "url": "https://example.org/dog.png"},
        {"t": "media", "kind": "image", "size": size, "mime": "image/gif"},
        {"t": "media", "kind": "audio", "size": size, "mime": "audio/wav"},
        {"t": "media", "kind": "audio", "size": size, "mime": "audio/mpeg"},
        {"t": "media", "kind": "file", "size": size, "mime": "application/pdf", "name": "a.pdf"},
        {"t": "media", "kind": "file", "size": size, "mime": "application/pdf"},
        {"t": "media", "kind": "video", "url": "https://example.org/v.mp4"},
    ]
    assert IMAGE_B64[30:60] not in dumped(row)
    assert value_lines(read(HumanMessage(content=content)))[1] == "  [image · image/png · 4.0 KB]"


def test_base64_and_bytes_anywhere_are_a_size() -> None:
    tree = read({"png": f"data:image/png;base64,{IMAGE_B64}", "raw": b"\x89PNG" * 1000,
                 "b64": IMAGE_B64, "view": memoryview(bytes(3000)),
                 "text": "a b " * 100})  # fmt: skip
    items = dict(only(tree, "map")["items"])
    assert items["png"] == {
        "t": "media",
        "kind": "image",
        "size": len(IMAGE_B64) * 3 // 4,
        "mime": "image/png",
    }
    assert items["raw"] == {"t": "media", "kind": "bytes", "size": 4000}
    assert items["b64"] == {"t": "media", "kind": "base64", "size": len(IMAGE_B64) * 3 // 4}
    assert items["view"] == {"t": "media", "kind": "bytes", "size": 3000}
    assert items["text"] == "a b " * 100  # long text with spaces is text


def test_content_blocks_outside_a_message_read_like_a_message_content() -> None:
    # a tool's multimodal result: the blocks LangChain and providers use, not a list of dicts
    tree = read([
        {"type": "text", "text": "Here is the chart."},
        {"type": "image", "base64": IMAGE_B64, "mime_type": "image/png"},
        {"type": "thinking", "thinking": "hmm" * 10, "signature": SIGNATURE},
        {"type": "tool_use", "id": "t", "name": "plot", "input": {"x": [1, 2]}},
    ])  # fmt: skip
    assert tree == {"t": "list", "items": [
        "Here is the chart.",
        {"t": "media", "kind": "image", "size": len(IMAGE_B64) * 3 // 4, "mime": "image/png"},
        {"t": "obj", "cls": "reasoning", "text": "[reasoning: 30 characters]"},
        {"t": "call", "name": "plot", "args": '{"x": [1, 2]}'},
    ]}  # fmt: skip
    assert SIGNATURE[:20] not in dumped(tree)
    text_only = [{"type": "text", "text": "sunny "}, {"type": "text", "text": "in Paris"}]
    assert read(text_only) == "sunny in Paris"
    assert read([{"type": "row", "n": 1}])["items"][0]["t"] == "map"  # other typed dicts: dicts


# -- documents, models, containers -------------------------------------------------------
def test_documents_show_title_source_and_first_lines() -> None:
    docs = [
        Document(
            page_content="Line one\nLine two\nLine three\nLine four",
            metadata={"source": "notes/paris.md", "title": "Paris"},
        ),
        Document(page_content="short"),
    ]
    tree = read(docs)
    assert tree == {"t": "list", "items": [
        {"t": "doc", "title": "Paris", "source": "notes/paris.md",
         "text": "Line one\nLine two\nLine three", "len": 38},
        {"t": "doc", "text": "short"},
    ]}  # fmt: skip
    assert value_lines(tree)[:5] == [
        "- document Paris · notes/paris.md:",
        "    Line one",
        "    Line two",
        "    Line three",
        "    … [38 characters]",
    ]


class Color(enum.Enum):
    RED = 1


class Address(BaseModel):
    city: str
    zip_code: str = "75001"


class Profile(BaseModel):
    name: str
    api_key: str
    password: SecretStr
    home: Address
    tags: list[str] = []


@dataclasses.dataclass
class Step:
    node: str
    color: Color = Color.RED
    hidden: str = dataclasses.field(default="internal", repr=False)


Point = collections.namedtuple("Point", "x y")


def test_pydantic_dataclasses_namedtuples_as_key_value_trees() -> None:
    profile = Profile(name="Ada", api_key="abc123secret", password=SecretStr("hunter2hunter2"),
                      home=Address(city="Paris"), tags=["a", "b"])  # fmt: skip
    tree = read({"profile": profile, "step": Step("plan"), "point": Point(1, 2)})
    items = dict(tree["items"])
    assert items["profile"] == {"t": "map", "cls": "Profile", "items": [
        ["name", "Ada"], ["api_key", "***"], ["password", "***"],
        ["home", {"t": "map", "cls": "Address",
                  "items": [["city", "Paris"], ["zip_code", "75001"]]}],
        ["tags", {"t": "list", "items": ["a", "b"]}],
    ]}  # fmt: skip
    assert items["step"]["cls"] == "Step"
    assert [k for k, _ in items["step"]["items"]] == ["node", "color"]  # repr=False stays hidden
    assert items["step"]["items"][1][1]["t"] == "obj"
    assert items["point"] == {"t": "map", "cls": "Point", "items": [["x", 1], ["y", 2]]}
    text = dumped(tree)
    assert "abc123secret" not in text and "hunter2" not in text
    lines = value_lines(tree)
    assert '    home: Address(city="Paris", zip_code="75001")' in lines, lines


def test_nested_containers_are_bounded_in_depth_items_and_size() -> None:
    deep: dict[str, Any] = {}
    cur = deep
    for _ in range(1000):
        cur["x"] = {}
        cur = cur["x"]
    tree = read(deep)
    assert "nested too deep" in "\n".join(value_lines(tree))
    many = read(list(range(100_000)))
    assert len(many["items"]) == values.MAX_ITEMS and many["more"] == 100_000 - values.MAX_ITEMS
    wide = read({f"k{i}": i for i in range(100_000)})
    assert wide["more"] == 100_000 - values.MAX_ITEMS
    huge = read("x" * 10_000_000)  # a value that is one string (a tool's result): 20,000
    assert huge == {"t": "text", "text": "x" * values.TEXT_CLIP, "len": 10_000_000}
    nested = read(["x" * 10_000_000])["items"][0]
    assert nested == {"t": "text", "text": "x" * values.STRING_CLIP, "len": 10_000_000}
    big = read([{"text": "y" * 5000, "nested": [["z" * 3000] * 40] * 40}] * 40)
    assert len(dumped(big)) < 2 * values.BUDGET + 60_000
    assert read((1, 2))["cls"] == "tuple" and read({1, 2})["cls"] == "set"
    assert read(collections.deque([1]))["cls"] == "deque"


def test_cycles_odd_objects_and_numbers_never_raise() -> None:
    loop: list[Any] = [1]
    loop.append(loop)
    ring: dict[str, Any] = {"a": 1}
    ring["self"] = ring
    assert read(loop)["items"][1] == {"t": "cut", "why": "cycle", "cls": "list"}
    assert dict(read(ring)["items"])["self"]["why"] == "cycle"

    class BadRepr:
        def __repr__(self) -> str:
            raise RuntimeError("no")

    class BadMapping(Mapping[str, Any]):
        def __getitem__(self, key: str) -> Any:
            raise KeyError(key)

        def __iter__(self):  # type: ignore[override]
            raise RuntimeError("no iteration")

        def __len__(self) -> int:
            return 3

    class BadEq:
        def __eq__(self, other: object) -> bool:
            raise RuntimeError("no eq")

        __hash__ = object.__hash__

    assert read(BadRepr()) == {"t": "obj", "cls": "BadRepr", "text": "<BadRepr>"}
    assert read(BadMapping())["t"] == "obj"
    assert read([BadEq()])["items"][0]["t"] == "obj"
    assert read({"n": float("nan"), "inf": float("inf"), "big": 2**80, "ok": 1.5}) == {
        "t": "map", "items": [["n", "nan"], ["inf", "inf"], ["big", str(2**80)], ["ok", 1.5]]
    }  # fmt: skip
    assert read("\ud83d lone") == "\ufffd lone"  # valid UTF-8 for the wire
    dumped(read([loop, ring, BadRepr(), BadMapping(), object(), type, len, threading.Lock()]))


# -- LangGraph, by class name ----------------------------------------------------------------
def test_command_send_interrupt_by_class_name() -> None:
    from langgraph.types import Command, Interrupt, Send

    tree = read([Command(update={"messages": [AIMessage("hi")]}, goto="tools")])
    (command,) = tree["items"]
    assert command["cls"] == "Command"
    assert [k for k, _ in command["items"]] == ["update", "goto"]  # graph/resume left out: empty
    assert read(Command(resume="yes"))["items"] == [["resume", "yes"]]
    assert read(Command(graph=Command.PARENT, goto="other"))["items"] == [
        ["graph", "parent"],
        ["goto", "other"],
    ]
    assert read(Send("worker", {"item": 1})) == {"t": "map", "cls": "Send", "items": [
        ["node", "worker"], ["arg", {"t": "map", "items": [["item", 1]]}]]}  # fmt: skip
    assert read(Interrupt(value="approve?"))["items"] == [["value", "approve?"]]
    assert value_lines(tree) == ["Command", "  update:", "    ai: hi", "  goto: tools"]
    assert value_lines(read(Send("worker", {"item": 1}))) == [
        "Send", "  node: worker", '  arg: {"item": 1}'
    ]  # fmt: skip


def test_look_alikes_are_read_without_importing_langgraph() -> None:
    code = """
    import sys
    sys.modules['langgraph'] = None  # any import of langgraph now fails
    from lc_callbacks_nb.live.values import read
    Command = type("Command", (), {"__module__": "langgraph.types"})
    c = Command()
    c.graph, c.update, c.goto, c.resume = None, {"k": 1}, "next", None
    NotOurs = type("Command", (), {"__module__": "mylib"})
    print(read(c)["cls"], read(c)["items"], read(NotOurs())["t"])
    assert not sys.modules.get("langgraph")
    """
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (
        done.stdout.strip()
        == "Command [['update', {'t': 'map', 'items': [['k', 1]]}], ['goto', 'next']] obj"
    )


def test_tool_calls_and_tool_call_with_context() -> None:
    call = {"name": "get_weather", "args": {"city": "Paris"}, "id": "c1", "type": "tool_call"}
    assert read([call]) == {"t": "list", "items": [
        {"t": "call", "name": "get_weather", "args": '{"city": "Paris"}'}]}  # fmt: skip
    wrapped = read(
        {"__type": "tool_call_with_context", "tool_call": call, "state": {"messages": []}}
    )
    assert wrapped["cls"] == "tool_call_with_context"
    assert wrapped["items"][0] == [
        "tool_call",
        {"t": "call", "name": "get_weather", "args": '{"city": "Paris"}'},
    ]
    long = read(
        AIMessage(
            "",
            invalid_tool_calls=[
                {"name": "f", "args": "{bad " + "x" * 1000, "id": "1", "error": "e"}
            ],
        )
    )
    (bad,) = long["items"][0]["calls"]
    assert bad["invalid"] and bad["len"] == 1005 and len(bad["args"]) == values.ARGS_CLIP


def test_prompt_values_and_prompt_line() -> None:
    prompt = ChatPromptTemplate.from_messages([("system", "Be brief."), ("human", "Hi {x}")])
    tree = read(prompt.invoke({"x": "there"}))
    assert tree["cls"] == "ChatPromptValue" and [m["role"] for m in tree["items"]] == [
        "system",
        "human",
    ]
    assert read(prompt.invoke({"x": "y"}).to_string()) == "System: Be brief.\nHuman: Hi y"
    ai = AIMessage("", tool_calls=[{"name": "f", "args": {"a": 1}, "id": "1"}])
    assert prompt_line([HumanMessage("  What's\n up? ")]) == "What's up?"
    assert prompt_line([HumanMessage("q"), ai]) == '→ f({"a": 1})'
    assert (
        prompt_line([ToolMessage("sunny", tool_call_id="1", name="get_weather")])
        == "get_weather: sunny"
    )
    assert (
        prompt_line([HumanMessage(content=[{"type": "image", "base64": IMAGE_B64}])])
        == "[1 attachment]"
    )
    assert prompt_line([HumanMessage(f"my key {SECRET}")]) == "my key sk-proj-***"
    assert len(prompt_line([HumanMessage("w " * 1000)])) == 300
    assert prompt_line([]) == ""


# -- secrets in every leaf -------------------------------------------------------------------
def test_secrets_are_redacted_in_every_kind_of_leaf(monkeypatch) -> None:
    env_secret = "zq-4c7e1f0b9a2d6e8f"  # no known shape: caught as the environment's value
    monkeypatch.setenv("MY_SERVICE_TOKEN", env_secret)
    from langgraph.types import Command

    tree = read({
        "plain": f"use {SECRET}",
        "api_key": "no-shape-at-all-but-named",
        SECRET: "a key that is itself a secret",
        "env": f"token {env_secret}",
        "nested": [{"deep": {"auth": f"Bearer {SECRET_BODY}xyz"}}],
        "url": "https://user:hunter2pass@example.org/x",
        "messages": [
            HumanMessage(f"my key is {SECRET}"),
            AIMessage(f"I saw {SECRET} and {env_secret}",
                      tool_calls=[{"name": "login", "args": {"password": "pw-hunter2pass"},
                                   "id": "1"}]),
            ToolMessage(f"token={SECRET_BODY}", tool_call_id="1", name="login"),
            SystemMessage(content=[{"type": "text",
                                    "text": f"Authorization: Bearer {SECRET_BODY}"}]),
        ],
        "docs": [Document(page_content=f"doc {SECRET}", metadata={"title": SECRET, "source": f"s3://k:{SECRET_BODY}@b/x"})],
        "media": HumanMessage(content=[{"type": "image", "url": f"https://u:{SECRET_BODY}@ex.org/i.png"}]),
        "model": Profile(name=SECRET, api_key="x", password=SecretStr("y"),
                         home=Address(city=env_secret)),
        "step": Step(node=SECRET),
        "command": Command(update={"note": SECRET}, goto=SECRET),
        "repr": type("Opaque", (), {"__repr__": lambda self: f"Opaque({SECRET})"})(),
        "long": "x" * 990 + SECRET,  # cut at the clip edge: still recognised
    })  # fmt: skip
    text = dumped(tree)
    for leaked in (SECRET_BODY, env_secret, "hunter2pass", "no-shape-at-all"):
        assert leaked not in text, leaked
    assert "sk-proj-***" in text
    for lines in (value_lines(tree), [value_html(tree)]):
        joined = "\n".join(lines)
        assert SECRET_BODY not in joined and env_secret not in joined


def test_model_text_keeps_key_value_prose_other_text_does_not() -> None:
    rows = msgs(read([HumanMessage("password: hunter22"), AIMessage("password: hunter22")]))
    assert rows[0]["text"] == "password: ***"  # a value the user typed: every rule
    assert rows[1]["text"] == "password: hunter22"  # what a model wrote: prose (redact_model_text)


# -- the ledger: each message once per board --------------------------------------------------
def test_a_message_shown_before_folds_into_ranges() -> None:
    ledger = Ledger()
    human = {"role": "user", "content": "Plan my day"}
    assert read({"messages": [human]}, ledger)["items"][0][1]["items"][0]["i"] == 0
    history = [HumanMessage("Plan my day", id="h")]  # LangGraph's message for the dict above
    for n in range(1, 5):
        history.append(AIMessage(f"step {n}", id=f"a{n}"))
        tree = read({"messages": history}, ledger)
        items = tree["items"][0][1]["items"]
        assert items == [
            {"t": "fold", "n": n, "at": [[0, n - 1]]},
            {"t": "msg", "role": "ai", "text": f"step {n}", "i": n},
        ]
    assert len(ledger) == 5
    # not consecutive: several ranges, in the order the messages come
    out = read([history[3], history[1], history[2], HumanMessage("new")], ledger)["items"]
    assert out[0] == {"t": "fold", "n": 3, "at": [[3, 3], [1, 2]]}
    assert value_lines(read(history, ledger)) == ["… 5 earlier messages (shown above)"]


def test_ids_and_hashes_tell_messages_apart() -> None:
    ledger = Ledger()
    read([HumanMessage("yes", id="1")], ledger)
    # the same words with another id are another message; an edited message is shown again
    assert read([HumanMessage("yes", id="2")], ledger)["items"][0]["t"] == "msg"
    assert read([HumanMessage("yes, sure", id="1")], ledger)["items"][0]["t"] == "msg"
    # an id-less message matches one seen without an id, once taken over by an id not again
    read([{"role": "user", "content": "go"}], ledger)
    assert read([{"role": "user", "content": "go"}], ledger)["items"][0]["t"] == "fold"
    assert read([HumanMessage("go", id="g1")], ledger)["items"][0]["t"] == "fold"
    assert read([HumanMessage("go", id="g2")], ledger)["items"][0]["t"] == "msg"
    # no ledger: nothing folds
    assert read([HumanMessage("yes", id="1")] * 2)["items"][1]["t"] == "msg"


def test_ledger_is_consistent_across_threads_and_expands() -> None:
    ledger = Ledger(keep=True)
    shared = [HumanMessage(f"m{i}", id=f"m{i}") for i in range(30)]
    trees: list[Any] = []
    lock = threading.Lock()

    def branch() -> None:
        tree = read({"messages": shared}, ledger)
        with lock:
            trees.append(tree)

    threads = [threading.Thread(target=branch) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(ledger) == 30, "every message numbered once, whichever branch saw it first"
    for tree in trees:
        full = ledger.expand(tree)
        assert [m["text"] for m in full["items"][0][1]["items"]] == [f"m{i}" for i in range(30)]


def test_past_the_bound_new_messages_show_the_latest() -> None:
    history = [HumanMessage(f"m{i}") for i in range(values.MAX_MESSAGES + 10)]
    items = read(history, Ledger())["items"]
    assert items[0] == {"t": "gap", "n": 10}
    assert items[1]["text"] == "m10" and items[-1]["text"] == f"m{values.MAX_MESSAGES + 9}"
    assert value_lines(read(history))[0] == "… 10 messages not shown"
    full = Ledger(size=3)
    read([HumanMessage(f"x{i}") for i in range(5)], full)
    assert read([HumanMessage("x4")], full)["items"][0]["t"] == "msg"  # not remembered: shown


# -- a real graph: subgraphs, parallel branches, Send ---------------------------------------
class GraphState(MessagesState):
    results: Annotated[list[str], operator.add]


class Item(TypedDict):
    city: str


def test_graph_nodes_show_what_they_changed(monkeypatch) -> None:
    from lc_callbacks_nb.notebook import cells
    from lc_callbacks_nb.notebook.history import RunRecorder

    monkeypatch.setattr(cells, "current", lambda: cells.Cell("cell-1", 1))

    def plan(state: GraphState) -> dict[str, Any]:
        return {"messages": [AIMessage("Checking two cities.", id="plan")]}

    def fan_out(state: GraphState) -> list[Send]:
        return [Send("worker", {"city": c}) for c in ("Paris", "Rome")]

    def worker(item: Item) -> dict[str, Any]:
        return {"results": [f"sunny in {item['city']}"]}

    sub = StateGraph(GraphState)
    sub.add_node("summarize", lambda s: {"messages": [AIMessage("Both sunny.", id="sum")]})
    sub.add_edge(START, "summarize")
    sub.add_edge("summarize", END)
    graph = StateGraph(GraphState)
    graph.add_node("plan", plan)
    graph.add_node("worker", worker)
    graph.add_node("report", sub.compile())
    graph.add_edge(START, "plan")
    graph.add_conditional_edges("plan", fan_out, ["worker"])
    graph.add_edge("worker", "report")
    graph.add_edge("report", END)
    rec = RunRecorder()
    graph.compile().invoke({"messages": [HumanMessage("Weather?", id="q")]}, {"callbacks": [rec]})
    rows = rec.view().data()
    view = repr(rec.view())
    by_name: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_name.setdefault(row["name"], []).append(row)
    workers = by_name["worker"]
    assert sorted(json.dumps(w["inputs"]) for w in workers) == [
        json.dumps({"t": "map", "items": [["city", c]]}) for c in ("Paris", "Rome")
    ]
    assert sorted(w["outputs"]["items"][0][1]["items"][0] for w in workers) == [
        "sunny in Paris",
        "sunny in Rome",
    ]
    (plan_row,) = by_name["plan"]
    assert plan_row["outputs"]["items"][0][1]["items"][0]["text"] == "Checking two cities."
    # the subgraph's node adds one message; its input shows the earlier ones folded (in the
    # recorder's text) and --json unfolds them
    (report,) = [r for r in by_name["report"] if r["depth"] == 1]
    assert [m["text"] for m in report["inputs"]["items"][0][1]["items"]] == [
        "Weather?",
        "Checking two cities.",
    ]
    assert "ai: Both sunny." in view
    assert "… 2 earlier messages (shown above)" in view
    assert view.count("human: Weather?") == 1


# -- the writers -----------------------------------------------------------------------------
HOSTILE = '<script>alert(1)</script><img src=x onerror="alert(2)"> javascript:alert(3)'


def test_html_is_script_free_whatever_the_leaves_say() -> None:
    tree = read({
        HOSTILE: HOSTILE,
        "messages": [HumanMessage(HOSTILE), AIMessage(HOSTILE, tool_calls=[
            {"name": HOSTILE, "args": {HOSTILE: HOSTILE}, "id": "1"}]),
            ToolMessage(HOSTILE, tool_call_id="1", name=HOSTILE, status="error")],
        "doc": Document(page_content=HOSTILE, metadata={"title": HOSTILE, "source": HOSTILE}),
        "media": HumanMessage(content=[{"type": "image", "url": HOSTILE}]),
        "obj": type("X", (), {"__repr__": lambda self: HOSTILE})(),
        "model": Step(node=HOSTILE),
    })  # fmt: skip
    page = value_html(tree)
    assert "<script" not in page and "<img" not in page
    assert "onerror=" not in page and "javascript:" not in page
    assert page.count("&lt;script&gt;") >= 8
    plain = "\n".join(value_lines(tree))
    assert plain.count("<script>alert(1)</script>") >= 8  # text stays text


def test_writers_never_raise_on_malformed_trees() -> None:
    odd = [{"t": "msgs", "items": [{"t": "msg"}, {"t": "fold"}, 3, None]},
           {"t": "map", "items": [1, [2]]}, {"t": 5}, {"t": "call"}, {"t": "media", "size": "big"},
           {"t": "unknown"}, [1, [2]], {}]  # fmt: skip
    for tree in odd:
        assert isinstance(value_lines(tree), list)
        assert isinstance(value_html(tree), str)


@pytest.mark.parametrize(
    ("value", "line"),
    [("short", "short"), (3, "3"), (None, "null"), (True, "true"), ({"a": 1}, '{"a": 1}'),
     ([1, "b"], '[1, "b"]'), ({"__type": "Point", "x": 1}, "Point(x=1)")],
)  # fmt: skip
def test_scalars_and_short_values_are_one_line(value: Any, line: str) -> None:
    assert value_lines(read(value)) == [line]


def test_responses_api_function_call_blocks_read_as_the_tool_calls_they_are():
    """ChatOpenAI(use_responses_api=True): an AI message's content holds function_call blocks
    (item id fc_..., call_id = the tool call's id) beside tool_calls: shown once, as calls."""
    from langchain_core.messages import AIMessage

    from lc_callbacks_nb.live.values import read
    from lc_callbacks_nb.views.value_render import value_lines

    message = AIMessage(
        content=[
            {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "h"}]},
            {"type": "function_call", "name": "get_weather", "arguments": '{"city": "Paris"}',
             "call_id": "call_1", "id": "fc_1", "index": 0},
        ],
        tool_calls=[{"name": "get_weather", "args": {"city": "Paris"}, "id": "call_1"}],
    )
    shown = "\n".join(value_lines(read([message])))
    assert 'get_weather({"city": "Paris"})' in shown
    for noise in ("function_call", "call_id", "fc_1", "index", "arguments"):
        assert noise not in shown, shown
