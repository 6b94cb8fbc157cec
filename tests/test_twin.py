"""The static twin of a board (views/twin.py): plain text and HTML from FinishedRun dicts."""

from __future__ import annotations

import html.parser
import json
import re
from typing import Any

import pytest

from lc_callbacks_nb.views.twin import (
    from_history_rows,
    render_bundle,
    render_html,
    render_plain,
    summary_line,
)


def run(rid: str, kind: str = "llm", parent: str | None = None, **fields: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": rid,
        "parent": parent,
        "kind": kind,
        "name": fields.pop("name", f"{kind}-{rid}"),
        "order": fields.pop("order", 0),
        "model": "",
        "tags": [],
        "inputs": "",
        "status": "done",
    }
    row.update(fields)
    return row


def tree() -> list[dict[str, Any]]:
    """An LLM run with text, and a chain whose tool child failed (rows given out of order)."""
    return [
        run("t", "tool", parent="c", order=2, name="get_weather", status="error",
            inputs="{'city': 'Paris'}", error="ToolException: no weather\ntoday"),
        run("a", order=0, name="ChatOpenAI", model="gpt-4o-mini", tokens=9, elapsed=0.41,
            usage={"input_tokens": 11, "output_tokens": 9}, inputs="Human: Tell me a joke",
            final={"text": "Why did the chicken cross the road?\nTo get to the other side."}),
        run("c", "chain", order=1, name="agent", status="done",
            inputs="{'input': 'weather?'}", outputs="sorry"),
        run("m", parent="c", order=3, name="ChatOpenAI", status="done", tokens=2,
            final={"text": "sorry"}),
    ]  # fmt: skip


EXPECTED_PLAIN = """\
LangChain runs: 4 (3 done, 1 error)
[done] llm ChatOpenAI · gpt-4o-mini · 9 tokens · usage: 11 prompt + 9 completion
  prompt: Human: Tell me a joke
  │ Why did the chicken cross the road?
  │ To get to the other side.
[done] chain agent
  in: {'input': 'weather?'}
  out: sorry
  [error] tool get_weather
    in: {'city': 'Paris'}
    error: ToolException: no weather ↵ today
  [done] llm ChatOpenAI · 2 tokens
    │ sorry"""


def test_plain_tree_order_indentation_and_no_timings_or_ids() -> None:
    text = render_plain(tree())
    assert text == EXPECTED_PLAIN
    assert render_plain(tree()) == text  # deterministic
    assert "0.41" not in text and "410 ms" not in text  # no timings by default
    for rid in ("'a'", "'c'", "'t'", "'m'"):
        assert rid not in text


def test_plain_timings_only_in_the_sanitized_form() -> None:
    text = render_plain(tree(), timings=True)
    assert "· 410 ms" in text.splitlines()[1]
    # notebooks/sanitize.cfg [lc_runs_durations] masks exactly this form
    masked = re.sub(r"· \d+(\.\d+)? (ms|s)\b", "· T", text)
    assert masked.splitlines()[1].endswith("· T")


def test_summary_and_dropped() -> None:
    assert summary_line(tree()) == "LangChain runs: 4 (3 done, 1 error)"
    assert summary_line([]) == "LangChain runs: none"
    text = render_plain(tree(), dropped=12)
    assert text.splitlines()[1] == "12 earlier finished runs not kept"
    assert "12 earlier finished runs not kept" in render_html(tree(), dropped=12)
    assert "1 earlier finished run not kept" in render_plain([], dropped=1)
    assert render_plain(tree(), title="cell 3").startswith("cell 3 · LangChain runs: 4")


@pytest.mark.parametrize(
    ("status", "error", "label", "line"),
    [
        ("running", "", "[running]", None),
        ("done", "", "[done]", None),
        ("error", "ValueError: bad", "[error]", "error: ValueError: bad"),
        ("interrupted", "", "[interrupted]", None),
        ("paused", "waiting for input: approve?", "[paused]", "waiting for input: approve?"),
        ("handed_off", "handed off to billing", "[handed off]", "handed off to billing"),
    ],
)
def test_every_status(status: str, error: str, label: str, line: str | None) -> None:
    rows = [run("x", "chain", name="graph", status=status, error=error)]
    text = render_plain(rows)
    assert text.splitlines()[1].startswith(f"{label} chain graph")
    if line:
        assert text.splitlines()[2] == f"  {line}"
    page = render_html(rows)
    assert f">{label[1:-1]}</strong>" in page  # the status as a word, not colour only
    open_ = status not in ("done", "interrupted")
    assert page.count("<details open") == (1 if open_ else 0)
    _check_safe(page)


def test_running_run_shows_its_text_so_far() -> None:
    rows = [run("x", status="running", tokens=3, text={"text": "Once upon a"})]
    text = render_plain(rows)
    assert text == "LangChain runs: 1 (1 running)\n[running] llm llm-x · 3 tokens\n  │ Once upon a"
    assert "Once upon a" in render_html(rows)


def test_saved_runs_rows_with_final_text_in_text() -> None:
    """widget.saved_runs() puts the final text under "text": the twin reads it too."""
    rows = [run("x", text={"text": "hello"})]
    assert "│ hello" in render_plain(rows)


def test_reasoning_tool_calls_events() -> None:
    rows = [
        run("x", final={"text": "", "reasoning": "think " * 3, "tool_args": '\nsearch {"q": 1}'}),
        run("c", "chain", order=1, events=["step 1", "step 2"]),
    ]
    text = render_plain(rows)
    assert "  reasoning (18 characters):\n  ┆ think think think" in text
    assert '  tool calls:\n  → search {"q": 1}' in text
    assert "  event: step 1\n  event: step 2" in text
    page = render_html(rows)
    assert "<summary" in page and "reasoning (18 characters)" in page
    assert "tool calls</summary>" in page


def test_clipping_marker_with_full_length() -> None:
    long = "x" * 54_321
    text = render_plain([run("x", final={"text": long})])
    assert "… [clipped: 20,000 of 54,321 characters]" in text
    assert len(text) < 21_000
    text = render_plain([run("x", final={"text": long})], clip=100)
    assert text.endswith("x" * 100 + "… [clipped: 100 of 54,321 characters]")
    page = render_html([run("x", final={"text": long})])
    assert "… [clipped: 20,000 of 54,321 characters]" in page
    # tool inputs/outputs (as text, views/value_render.py) are clipped at 4,000
    tool = render_plain([run("t", "tool", inputs="i" * 5000)])
    assert "… [clipped: 4,000 of 5,000 characters]" in tool


def test_total_budget_bounds_many_runs() -> None:
    rows = [run(str(i), order=i, final={"text": "y" * 50_000}) for i in range(40)]
    text = render_plain(rows)
    page = render_html(rows)
    assert len(text) < 220_000 + 40 * 300
    assert len(page) < 260_000 + 40 * 3_000
    assert text.count("[clipped: ") == 40  # every text says so, none cut silently
    many = [run(str(i), "chain", order=i) for i in range(700)]
    assert "… 200 more runs not shown" in render_plain(many)


def test_one_megabyte_token_is_bounded() -> None:
    big = "<b>" + "z" * 1_000_000
    for out in render_bundle([run("x", final={"text": big}, inputs=big, error=big)]).values():
        assert len(out) < 40_000
        assert "[clipped: 20,000 of 1,000,003 characters]" in out


HOSTILE = (
    "<script>alert(1)</script> <img src=x onerror=alert(1)> [x](javascript:alert(1)) "
    "![i](https://evil.example/x.png) <a href=http://evil.example>a</a> "
    '<iframe src="//evil.example"></iframe> <style>@import url(//evil.example/x.css)</style> '
    "<svg onload=alert(1)> JaVaScRiPt:alert(2) &amp; &lt;"
)


class _Tags(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


ALLOWED_TAGS = {"div", "span", "b", "strong", "pre", "details", "summary"}


def _check_safe(page: str) -> _Tags:
    low = page.lower()
    assert "<script" not in low
    assert not re.search(r"\son\w+\s*=", low)
    assert "javascript:" not in low
    assert "src=" not in low
    assert not re.search(r"href\s*=\s*[\"']?\s*(https?:)?//", low)
    assert "<style" not in low  # (url( / @import as text are harmless; attributes checked below)
    parser = _Tags()
    parser.feed(page)
    parser.close()
    for tag, attrs in parser.tags:
        assert tag in ALLOWED_TAGS, tag
        for name, value in attrs:
            assert name in ("style", "class", "open"), (tag, name)
            assert "url(" not in (value or "") and "javascript" not in (value or "").lower()
    return parser


def test_html_escapes_model_text_and_has_no_active_content() -> None:
    rows = [
        run("x", name="<b>name</b>", model="<i>m</i>", tags=["<x>"], final={"text": HOSTILE},
            inputs=HOSTILE),
        run("c", "chain", order=1, name="onload=x", inputs=HOSTILE, outputs=HOSTILE,
            error=HOSTILE, status="error", events=[HOSTILE]),
        run("t", "tool", parent="c", order=2, name="javascript:x", inputs=HOSTILE),
    ]  # fmt: skip
    page = render_html(rows)
    parser = _check_safe(page)
    text = "".join(parser.text)
    # the text reads exactly as written: escaped, never parsed
    assert "<script>alert(1)</script> <img src=x onerror=alert(1)>" in text
    assert "[x](javascript:alert(1))" in text and "![i](https://evil.example/x.png)" in text
    assert "&amp; &lt;" in text
    assert '<pre style="white-space:pre-wrap' in page
    # the plain twin shows the text as is
    assert HOSTILE in render_plain(rows)


def test_html_tree_folding_and_balance() -> None:
    page = render_html(tree())
    _check_safe(page)
    # the chain finished but its tool failed: the chain stays open, the failed tool too
    assert page.count("<details open") == 2
    done_chain = render_html([run("c", "chain", outputs="ok"), run("m", parent="c", order=1)])
    assert "<details style" in done_chain and "<details open" not in done_chain

    class Balance(html.parser.HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.stack: list[str] = []

        def handle_starttag(self, tag: str, attrs: Any) -> None:
            self.stack.append(tag)

        def handle_endtag(self, tag: str) -> None:
            assert self.stack.pop() == tag

    for rows in (tree(), [run("c", "chain"), run("d", "chain", parent="c", order=1)]):
        checker = Balance()
        checker.feed(render_html(rows))
        assert checker.stack == []
    # the LLM child of the chain is inside the chain's <details>
    chain_at = page.index("<b>agent</b>")
    assert page.index("sorry</pre>", chain_at) < page.rindex("</details>")


def test_many_llm_runs_fold_like_the_table() -> None:
    rows = [run(str(i), order=i, final={"text": f"answer {i}"}) for i in range(10)]
    rows[3]["status"] = "error"
    rows[3]["error"] = "RateLimitError"
    page = render_html(rows, max_panels=8)
    assert page.count("<details") == 10 and page.count("<details open") == 1
    assert "answer 7" in page
    assert render_html(rows, max_panels=20).count("<details") == 0


def _controls() -> str:
    return "".join(chr(c) for c in range(32)) + "\x7f\x85 \ud800 lone \udfff \U0001f600 end"


def test_control_characters_and_lone_surrogates() -> None:
    nasty = _controls()
    rows = [
        run("x", name=nasty, final={"text": nasty, "reasoning": nasty}, error=nasty),
        run("c", "chain", order=1, inputs=nasty, outputs=nasty, events=[nasty]),
    ]
    for out in render_bundle(rows).values():
        encoded = json.dumps(out, ensure_ascii=False).encode("utf-8")  # no surrogates left
        assert json.loads(encoded) == out
        out.encode("utf-8")
        assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]", out)
        assert "\ufffd lone \ufffd" in out  # lone surrogates replaced visibly
        assert "\U0001f600" in out  # real characters kept
    text = render_plain(rows)
    assert "␀␁␂" in text and "␛" in text and "\t" in text


def test_bad_input_never_raises() -> None:
    class Boom:
        def __str__(self) -> str:
            raise RuntimeError("no str")

    odd: list[Any] = [
        None,
        42,
        "text",
        [None, 1, "x", {"id": 1}],
        [{"id": "a", "parent": "b"}, {"id": "b", "parent": "a"}],  # a cycle
        [{"id": "a", "parent": "a", "kind": Boom(), "name": Boom(), "status": Boom()}],
        [{"id": "x", "final": {"text": Boom()}, "tokens": "many", "usage": {"input_tokens": "x"},
          "events": "notalist", "tags": "notalist", "order": float("nan")}],
    ]  # fmt: skip
    for runs in odd:
        for out in (render_plain(runs), render_html(runs), summary_line(runs)):
            assert isinstance(out, str) and out.startswith(("LangChain", "<div"))
    cyc = render_plain(odd[4])
    assert cyc.count("[done]") == 0 and cyc.count("[running]") == 2  # both shown, no loop

    errors: list[BaseException] = []

    class Rows(list):  # type: ignore[type-arg]
        def __iter__(self) -> Any:
            raise RuntimeError("broken rows")

    out = render_html(Rows([{}]), on_error=errors.append)
    assert out == "LangChain runs: 1 (summary unavailable)"
    assert isinstance(errors[0], RuntimeError)
    assert render_plain(Rows([{}, {}]), dropped=3) == (
        "LangChain runs: 2 (summary unavailable); 3 earlier finished runs not kept"
    )


def test_deep_nesting_does_not_recurse() -> None:
    rows = [run(str(i), "chain", parent=str(i - 1) if i else None, order=i) for i in range(3000)]
    text = render_plain(rows, max_runs=3000)
    assert text.splitlines()[-1].startswith("  " * 2999 + "[done] chain")
    _check_safe(render_html(rows))


def test_from_history_rows() -> None:
    rows: list[dict[str, Any]] = [
        {"run_id": "r", "parent_run_id": None, "kind": "chain", "name": "seq", "status": "ok",
         "error": None, "duration_s": 1.5, "streamed_tokens": 0, "usage": {}, "preview": ""},
        {"run_id": "l", "parent_run_id": "r", "kind": "chat model", "name": "ChatOpenAI",
         "status": "error", "error": "ValueError: x", "duration_s": None, "streamed_tokens": 3,
         "usage": {"input_tokens": 1, "output_tokens": 3}, "preview": "Hi"},
    ]  # fmt: skip
    text = render_plain(from_history_rows(rows), timings=True)
    assert text == (
        "LangChain runs: 2 (1 done, 1 error)\n"
        "[done] chain seq · 1.50 s\n"
        "  [error] chat model ChatOpenAI · 3 tokens · usage: 1 prompt + 3 completion\n"
        "    │ Hi\n"
        "    error: ValueError: x"
    )
