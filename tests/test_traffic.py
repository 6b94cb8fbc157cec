"""Kernel -> browser traffic follows the text, at any pace (issue #16).

A LiveStreamHandler in widget mode is driven with an injected clock and a non-threaded flush
scheduler: each token advances the clock by 1/pace and the scheduler ticks, exactly as the
flush thread would. Every comm message the board's widget sends is captured as it would cross
the wire (data as JSON + buffers), counted, and replayed through tests/board_replay.py (the
mirror of the browser's store), so what is measured is also what a browser would draw.

Budget: bytes <= 1.3 x text + 60 B per message, messages <= fps x seconds + 5. Before this issue
each tick carried ~200 B of envelope whatever the text, and the running text was re-synced into
state every 5 s (quadratic): these tests failed at every pace.
"""

from __future__ import annotations

import inspect
import json
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from board_replay import late_board, replay, wire_bytes
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.outputs import ChatGeneration, LLMResult

from lc_callbacks_nb import LiveStreamHandler
from lc_callbacks_nb.live.flush import FlushScheduler
from lc_callbacks_nb.notebook.cells import Cell
from lc_callbacks_nb.offline.server_script import tokenize
from lc_callbacks_nb.views.widget import RunBoardWidget

FPS = 20


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def prose(tokens: int) -> list[str]:
    from pydoc_data.topics import topics

    words = " ".join(topics[k] for k in sorted(topics))
    return tokenize(words)[:tokens]


def code(tokens: int) -> list[str]:
    import json.decoder
    import json.encoder

    source = "```python\n" + inspect.getsource(json.encoder) + inspect.getsource(json.decoder)
    return tokenize(source)[:tokens]


def multibyte(tokens: int) -> list[str]:
    line = "Größe: 東京の天気は晴れ 🌤️, «ça va» — naïve café; "
    return tokenize(line * (tokens // len(tokenize(line)) + 1))[:tokens]


SHAPES = {"prose": prose, "code": code, "multibyte": multibyte}


class Wire:
    """Every comm message of this test's board widget, as (data, buffers), in order (a board
    an earlier test left in this process may still send: its messages are not counted)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self._all: list[tuple[RunBoardWidget, dict[str, Any], list[bytes]]] = []
        self.lock = threading.Lock()
        self.handler: LiveStreamHandler | None = None
        wire = self

        def _send(self: RunBoardWidget, msg: dict[str, Any], buffers: Any = None) -> None:
            if self.comm is None:  # as ipywidgets: nothing leaves before the comm is open
                return
            with wire.lock:
                wire._all.append((self, msg, [bytes(b) for b in buffers or []]))

        monkeypatch.setattr(RunBoardWidget, "_send", _send)

    @property
    def sent(self) -> list[tuple[dict[str, Any], list[bytes]]]:
        assert self.handler is not None
        mine = [board.view.widget for board in self.handler._boards]
        with self.lock:
            return [(d, b) for w, d, b in self._all if any(w is m for m in mine)]

    def messages(self) -> list[dict[str, Any]]:
        """The captured traffic as IOPub comm messages, for board_replay (after an open)."""
        out = [_open()]
        for data, buffers in self.sent:
            out.append(
                {"msg_type": "comm_msg", "content": {"comm_id": "board", "data": data},
                 "buffers": buffers, "parent_header": {}}
            )
        return out

    def bytes(self) -> int:
        return sum(wire_bytes(data, buffers) for data, buffers in self.sent)


def _open() -> dict[str, Any]:
    state = {"_anywidget_id": "lc_callbacks_nb.views.widget.RunBoardWidget", "runs": []}
    return {
        "msg_type": "comm_open",
        "content": {"comm_id": "board", "data": {"state": state}},
        "parent_header": {},
    }


class Stream:
    """One model run driven through the handler's callbacks at a given pace."""

    def __init__(self, handler: LiveStreamHandler, clock: FakeClock, sched: FlushScheduler):
        self.handler, self.clock, self.sched = handler, clock, sched
        self.run_id = uuid.uuid4()
        self.fed: list[str] = []  # every token given to the handler, in order

    def start(self, prompt: str = "Tell me about Python") -> None:
        self.handler.on_chat_model_start(
            {"name": "ChatOpenAI"}, [[HumanMessage(prompt)]], run_id=self.run_id,
            metadata={"ls_model_name": "gpt-4o-mini"},
        )

    def tokens(self, tokens: list[str], pace: float) -> Iterator[int]:
        for i, token in enumerate(tokens):
            self.clock.now += 1.0 / pace
            self.feed(token)
            self.sched.tick()
            yield i

    def feed(self, token: str) -> None:
        self.fed.append(token)
        self.handler.on_llm_new_token(token, run_id=self.run_id)

    def settle(self) -> None:
        """Let the scheduler run until nothing is due: held text leaves within 1/fps + 0.15 s."""
        for _ in range(10):
            self.clock.now += 0.05
            self.sched.tick()

    def end(self, text: str) -> None:
        message = AIMessage(content=text)
        result = LLMResult(generations=[[ChatGeneration(message=message)]])
        self.handler.on_llm_end(result, run_id=self.run_id)
        self.clock.now += 1.0 / FPS
        self.sched.tick()
        self.handler.cell_ended(Cell("default", None), False)  # the cell's end draws the rest


def setup(monkeypatch: pytest.MonkeyPatch) -> tuple[Wire, Stream]:
    wire = Wire(monkeypatch)
    clock = FakeClock()
    sched = FlushScheduler(clock, threaded=False)
    handler = LiveStreamHandler(fps=FPS, mode="widget", clock=clock, scheduler=sched)
    wire.handler = handler
    monkeypatch.setattr("lc_callbacks_nb.notebook.cells.current", lambda: Cell("default", None))
    return wire, Stream(handler, clock, sched)


@pytest.mark.parametrize("shape", list(SHAPES))
@pytest.mark.parametrize("pace", [10, 50, 100, 300, 1000, 20_000])
def test_traffic_within_budget_at_every_pace(monkeypatch, pace, shape):
    tokens = SHAPES[shape](3000)
    text = "".join(tokens)
    wire, stream = setup(monkeypatch)
    t0 = stream.clock.now
    stream.start()
    for _ in stream.tokens(tokens, pace):
        pass
    stream.end(text)
    seconds = stream.clock.now - t0
    messages, size, text_bytes = len(wire.sent), wire.bytes(), len(text.encode())
    assert messages <= round(FPS * seconds) + 5, (messages, seconds)
    assert size <= 1.3 * text_bytes + 60 * messages, (size, text_bytes, messages)
    # ... and what crossed the wire rebuilds the text, in a view that saw it all
    (board,) = replay(wire.messages())
    (run,) = board.ordered()
    assert run.text["text"] == text and run.status == "done"
    assert run["tokens"] == len([t for t in tokens if t])


def test_a_long_answer_at_a_real_pace_costs_about_its_text(monkeypatch):
    """The issue's case: 20,000 tokens at 50 tokens/s took 6.33 MB (57 x the text)."""
    tokens = prose(20_000)
    text = "".join(tokens)
    wire, stream = setup(monkeypatch)
    stream.start()
    for _ in stream.tokens(tokens, 50):
        pass
    stream.end(text)
    assert wire.bytes() < 300_000
    assert wire.bytes() <= 1.3 * len(text.encode()) + 60 * len(wire.sent)


def test_no_tick_when_nothing_changed(monkeypatch):
    wire, stream = setup(monkeypatch)
    stream.start()
    before = len(wire.sent)
    for _ in range(200):  # ten seconds without a token: no message at all
        stream.clock.now += 0.05
        stream.sched.tick()
    assert len(wire.sent) == before


# -- a view that opens mid-stream ------------------------------------------------------------
def answer(stream: Stream, request: dict[str, Any]) -> None:
    """The front-end's catch-up request reaching the kernel (the shell thread, in a kernel)."""
    board = next(iter(stream.handler._boards))
    board.view._on_front_msg(board.view.widget, request)


def state_now(wire: Wire) -> dict[str, Any]:
    """The board's synced state as a front-end restoring the model now would get it."""
    (board,) = replay(wire.messages())
    return dict(board.state)


RACE = "RACE " * 20  # a token large enough to leave at once


def answer_between_collect_and_render(stream: Stream, request: dict[str, Any]) -> None:
    """The flush thread took new text from the run; the answer goes before the tick carrying
    it leaves."""
    board = next(iter(stream.handler._boards))
    changes = board.runs.collect()
    answer(stream, request)
    board.view.render(changes, live_runs=board.runs.live_count)


def answer_during_a_tick(stream: Stream, request: dict[str, Any]) -> None:
    """The shell thread asks while the flush thread is sending a tick (a RACE token)."""
    view = next(iter(stream.handler._boards)).view
    original = view.widget.send
    asked: list[threading.Thread] = []

    def send(content: Any, buffers: Any = None) -> None:
        if not asked:
            thread = threading.Thread(target=answer, args=(stream, request))
            asked.append(thread)
            thread.start()
            thread.join(0.2)  # blocked on the view's lock until this tick is out
        original(content, buffers)

    view.widget.send = send
    stream.clock.now += 0.2
    stream.feed(RACE)
    stream.sched.tick()
    asked[0].join(5)
    view.widget.send = original


def late_view(wire: Wire, stream: Stream, at: int, tokens: list[str], racing: str = "") -> Any:
    """Stream ``tokens``; after ``at`` of them a new front-end builds the model from the state
    of that moment; the next tick names a run it does not know, so it asks, and is answered
    (``racing``: at a moment that races a tick)."""
    late = None
    seen = 0
    for i in stream.tokens(tokens, 100):
        if i == at:
            late = late_board("board", state_now(wire))
            seen = len(wire.sent)  # it receives only what is sent from now on
        elif late is not None and not late.requests:
            for data, buffers in wire.sent[seen:]:
                late.apply({"content": {"data": data}, "buffers": buffers})
            seen = len(wire.sent)
            if not late.requests:
                continue
            (request,) = late.requests  # a tick of a run it never saw start: it asks
            if racing == "between collect and render":
                answer_between_collect_and_render(stream, request)
            elif racing == "during a tick":
                answer_during_a_tick(stream, request)
            else:
                answer(stream, request)
    assert late is not None and late.requests, "a front-end that lacks a live run asks for it"
    stream.settle()  # text held back for more (a slow stream) leaves now
    for data, buffers in wire.sent[seen:]:
        late.apply({"content": {"data": data}, "buffers": buffers})
    return late


@pytest.mark.parametrize("racing", ["", "between collect and render", "during a tick"])
def test_a_late_view_gets_the_whole_text_once(monkeypatch, racing):
    tokens = prose(2000)
    wire, stream = setup(monkeypatch)
    stream.start()
    late = late_view(wire, stream, 1000, tokens, racing)
    (run,) = late.ordered()
    text = "".join(stream.fed)
    assert run.text["text"] == text[: len(run.text["text"])]  # nothing doubled, nothing lost
    assert run.text["text"] == text  # ... and it is all there, before the run even ends
    assert run["tokens"] == len(stream.fed)
    sent = len(wire.sent)
    stream.end(text)
    for data, buffers in wire.sent[sent:]:  # everything the end sent, once
        late.apply({"content": {"data": data}, "buffers": buffers})
    assert run.status == "done" and run.text["text"] == text
    # the view that saw everything is unaffected by an answer meant for another
    (early,) = replay(wire.messages())
    assert early.texts() == [text] and early.answers == 1


def test_an_answer_is_text_as_sent_redacted(monkeypatch):
    monkeypatch.setenv("MY_SERVICE_TOKEN", "no-known-shape-0123456789")
    tokens = ["The key is ", "sk-proj-", "abcdefghij", "0123456789", " and the token ",
              "no-known-", "shape-0123456789", " ok."] + [" more"] * 50
    wire, stream = setup(monkeypatch)
    stream.start()
    late = late_view(wire, stream, 20, tokens)
    blob = json.dumps([d for d, _ in wire.sent], default=str) + str([b for _, b in wire.sent])
    assert "abcdefghij0123456789" not in blob
    (run,) = late.ordered()
    assert "sk-proj-***" in run.text["text"] and "0123456789" not in run.text["text"]
    (early,) = replay(wire.messages())
    assert early.ordered()[0].text["text"] == run.text["text"]


def test_a_catch_up_request_that_is_not_well_formed_is_ignored(monkeypatch):
    wire, stream = setup(monkeypatch)
    stream.start()
    before = len(wire.sent)
    for bad in ({"k": "catch_up"}, {"k": "catch_up", "id": 3}, {"k": "nope"}, ["catch_up"], None):
        answer(stream, bad)  # type: ignore[arg-type]
    assert len(wire.sent) == before
    assert stream.handler.internal_errors == []
