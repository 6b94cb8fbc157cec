"""The pure-Python core: runs model, token pieces, the flush scheduler on a fake clock."""

from __future__ import annotations

import threading

import pytest

from lc_callbacks_nb.langchain.tokens import REASONING, TEXT, TOOL_ARGS, token_pieces
from lc_callbacks_nb.live.flush import FlushScheduler
from lc_callbacks_nb.live.handler import LiveStreamHandler
from lc_callbacks_nb.live.redact import redact
from lc_callbacks_nb.live.runs import DONE, ERROR, LLM, RunBoard


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class CountingTarget:
    context = None

    def __init__(self, fps: float) -> None:
        self.interval = 1.0 / fps
        self.flushes = 0
        self.errors: list[BaseException] = []
        self.again: list[float] = []  # times at which the target asks for another flush

    def flush(self) -> None:
        self.flushes += 1

    def on_error(self, exc: BaseException) -> None:
        self.errors.append(exc)

    def retry_at(self) -> float | None:
        return self.again.pop(0) if self.again else None


def test_scheduler_flushes_at_most_fps_times_per_second():
    clock = FakeClock()
    sched = FlushScheduler(clock, threaded=False)
    target = CountingTarget(fps=20)
    # 10 simulated seconds, a wake every millisecond (as tokens would)
    for _ in range(10_000):
        sched.wake(target)
        sched.tick()
        clock.now += 0.001
    assert 195 <= target.flushes <= 201  # 20 per second, never more


def test_scheduler_first_wake_after_idle_flushes_immediately():
    clock = FakeClock()
    sched = FlushScheduler(clock, threaded=False)
    target = CountingTarget(fps=10)
    sched.wake(target)
    assert sched.tick() is None and target.flushes == 1
    clock.now += 0.01
    sched.wake(target)
    wait = sched.tick()
    assert target.flushes == 1 and wait == pytest.approx(0.09)
    clock.now += 0.09
    sched.tick()
    assert target.flushes == 2


def test_scheduler_flush_now_and_failing_target():
    sched = FlushScheduler(FakeClock(), threaded=False)

    class Broken(CountingTarget):
        def flush(self) -> None:
            raise RuntimeError("boom")

    broken = Broken(fps=5)
    sched.flush_now(broken)  # never raises into the caller; the target's owner is told
    assert [type(e) for e in broken.errors] == [RuntimeError]


def test_scheduler_thread_flushes_and_parks():
    sched = FlushScheduler()
    done = threading.Event()

    class Target(CountingTarget):
        def flush(self) -> None:
            done.set()

    sched.wake(Target(fps=50))
    assert done.wait(5)
    sched.close()


def test_runs_collect_deltas_once_and_release_finished_text():
    clock = FakeClock()
    board = RunBoard("cell", clock=clock)
    run = board.start("r1", None, LLM, "ChatOpenAI", model="m")
    first = board.collect()
    assert [m["id"] for m in first.started] == ["r1"]
    run.text[TEXT].extend(["Hel", "lo"])
    run.tokens = 2
    board.add_pieces(run, [(TOOL_ARGS, "\nf "), (TOOL_ARGS, "{}")])
    second = board.collect()
    assert second.updates["r1"]["delta"] == {TEXT: "Hello", TOOL_ARGS: "\nf {}"}
    assert board.collect().updates == {}  # nothing new, nothing sent
    clock.now += 1
    assert board.finish(run, status=DONE, final_text="Hello")
    assert not board.finish(run, status=ERROR)  # a late event changes nothing
    last = board.collect()
    assert last.finished == ["r1"]
    assert last.updates["r1"]["final"] == {TEXT: "Hello", TOOL_ARGS: "\nf {}"}
    assert "delta" not in last.updates["r1"]
    assert run.text == {TEXT: [], REASONING: [], TOOL_ARGS: []}  # released
    assert board.live_count == 0


def test_final_text_that_differs_is_sent_as_a_reset():
    board = RunBoard("cell", clock=FakeClock())
    run = board.start("r1", None, LLM, "x")
    run.text[TEXT].append("partial")
    board.collect()
    board.finish(run, final_text="the real answer")
    update = board.collect().updates["r1"]
    assert update["reset"] is True and update["delta"][TEXT] == "the real answer"


def test_metrics_use_the_injected_clock():
    clock = FakeClock()
    board = RunBoard("cell", clock=clock)
    run = board.start("r1", None, LLM, "x")
    clock.now += 0.5
    board.add_pieces(run, [(TEXT, "a")])
    for _ in range(10):
        clock.now += 0.1
        board.add_pieces(run, [(TEXT, "b")])
    assert run.metrics(clock.now) == {"tokens": 11, "elapsed": 1.5, "ttft": 0.5, "tps": 10.0}


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        ("", []),
        ("hi", [(TEXT, "hi")]),
        ([{"type": "text", "text": "a"}, {"type": "reasoning", "summary": [{"text": "r"}]}],
         [(TEXT, "a"), (REASONING, "r")]),
        ([{"type": "reasoning", "reasoning": "thinking"}], [(REASONING, "thinking")]),
        ([{"type": "tool_call_chunk", "name": "f", "args": '{"x"'}], [(TOOL_ARGS, "\nf "),
                                                                     (TOOL_ARGS, '{"x"')]),
        ([], []),
        (None, []),
    ],
)
def test_token_pieces(token, expected):
    assert token_pieces(token) == expected


def test_tool_call_chunks_from_chat_completions():
    from langchain_core.messages import AIMessageChunk
    from langchain_core.outputs import ChatGenerationChunk

    chunk = ChatGenerationChunk(
        message=AIMessageChunk(
            content="", tool_call_chunks=[{"name": "get", "args": '{"a":', "id": "1", "index": 0}]
        )
    )
    assert token_pieces("", chunk) == [(TOOL_ARGS, "\nget "), (TOOL_ARGS, '{"a":')]


def test_redact_removes_keys_and_auth_headers():
    text = redact("key sk-proj-abcdef1234567890 and Authorization: Bearer abcdefghijklmnop")
    assert "abcdef1234567890" not in text and "abcdefghijklmnop" not in text


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"fps": 0}, "fps must be a number from 0.5 to 120 (got 0)"),
        ({"fps": "fast"}, "fps must be a number from 0.5 to 120 (got 'fast')"),
        ({"mode": "sideways"}, "mode must be one of auto, widget, text (got 'sideways')"),
        ({"max_panels": -1}, "max_panels must be a whole number >= 0 (got -1)"),
    ],
)
def test_bad_options_are_one_line_value_errors(kwargs, message):
    with pytest.raises(ValueError) as info:
        LiveStreamHandler(**kwargs)
    assert str(info.value) == message


def test_a_burst_of_wakes_is_one_flush_per_interval():
    clock = FakeClock()
    sched = FlushScheduler(clock, threaded=False)
    target = CountingTarget(fps=20)
    for _ in range(100):  # e.g. 100 runs of one agenerate ending together
        sched.wake(target)
    sched.tick()
    assert target.flushes == 1  # the first one, at once
    for _ in range(100):
        sched.wake(target)
    sched.tick()
    assert target.flushes == 1  # not before its interval
    clock.now += 0.05
    sched.tick()
    assert target.flushes == 2  # the other 100, coalesced into the next slot


def test_a_target_with_an_absurd_interval_cannot_stop_the_ticker():
    """Regression (#10 defect 6): fps=1e-300 made the ticker sleep on 1e300 s (OverflowError)
    and die, freezing every handler's updates."""
    sched = FlushScheduler()
    slow, done = CountingTarget(fps=1e-300), threading.Event()

    class Target(CountingTarget):
        def flush(self) -> None:
            done.set()

    sched.flush_now(slow)
    sched.wake(slow)  # due in 1e300 seconds
    sched.wake(Target(fps=50))
    assert done.wait(5), "the ticker died"
    assert sched._thread is not None and sched._thread.is_alive()
    sched.close()


def test_a_deferred_flush_the_target_asks_for_happens():
    clock = FakeClock()
    sched = FlushScheduler(clock, threaded=False)
    target = CountingTarget(fps=20)
    target.again = [clock.now + 1.0]
    sched.flush_now(target)
    assert target.flushes == 1
    clock.now += 0.5
    sched.tick()
    assert target.flushes == 1
    clock.now += 0.5
    sched.tick()
    assert target.flushes == 2


def test_text_view_labels_every_line_once_runs_interleave():
    import io

    from lc_callbacks_nb.live.runs import Changes
    from lc_callbacks_nb.views.text import TextView

    out = io.StringIO()
    view = TextView(stream=out)
    started = [
        {"id": "a", "kind": LLM, "name": "M", "order": 0},
        {"id": "b", "kind": LLM, "name": "M", "order": 1},
    ]
    view.render(Changes(0, started, {}, []), live_runs=2)
    view.render(Changes(0, [], {"a": {"delta": {TEXT: "one\n\ntwo"}}}, []), live_runs=2)
    view.render(Changes(0, [], {"b": {"delta": {TEXT: "three\nfour"}}}, []), live_runs=2)
    view.render(Changes(0, [], {"a": {"delta": {TEXT: " more"}}}, []), live_runs=2)
    assert out.getvalue().splitlines() == [
        "[1:M] one",
        "[1:M] ",
        "[1:M] two",
        "[2:M] three",
        "[2:M] four",
        "[1:M]  more",
    ]


def test_a_responses_api_stream_end_is_recognised():
    """The Responses API's last chunk has no finish_reason, only chunk_position='last'."""
    from langchain_core.messages import AIMessageChunk
    from langchain_core.outputs import ChatGenerationChunk

    from lc_callbacks_nb.langchain.payloads import is_finish_chunk

    last = ChatGenerationChunk(
        message=AIMessageChunk(content=[], chunk_position="last",
                               response_metadata={"status": "completed"})
    )
    middle = ChatGenerationChunk(message=AIMessageChunk(content=[{"type": "text", "text": "x"}]))
    assert is_finish_chunk(last) and not is_finish_chunk(middle)
