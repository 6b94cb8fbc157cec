"""Model text read like the model meant it (issue #12), in JupyterLab and real Chromium.

The answer channel renders as Markdown while it streams (completed blocks once, the open tail
per frame), safe by construction (markdown-it html: false, DOMPurify allow-list, http(s)/mailto
links only, images never loaded); a raw toggle; copy buttons; a reasoning lane; Stop for runs
the kernel can hear; readable in light and dark themes. The renderer is loaded once per page
from the kernel session's library model.
"""

from __future__ import annotations

import json
import statistics
import time

import pytest
from labkit import CELL_TIMEOUT, LabPage, write_notebook

pytestmark = pytest.mark.browser

MD = """\
## Plan of attack

Three steps, each **small** and *testable*:

- read the input
- parse it with `json.loads`
- [x] print the result

| step | cost | note |
|:-----|-----:|:----:|
| read | 1 ms | io |
| parse | 2 ms | cpu |

```python
import json

def load(path):
    with open(path) as f:
        return json.load(f)  # the whole file
```

That is ~~everything~~ all, see https://example.org/docs for more.
"""

OPEN_FENCE = "Here is code that never closes:\n\n```python\nfor i in range(3):\n    print(i)\n"

PAYLOADS = [
    "<script>window.__pwned=1</script>",
    '<img src=x onerror="window.__pwned=2">',
    '<svg onload="window.__pwned=3"><circle r=5></circle></svg>',
    '<iframe src="javascript:window.__pwned=4"></iframe>',
    "[click me](javascript:window.__pwned=5)",
    "[data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[vb](vbscript:msgbox(1))",
    "![remote image](http://evil.example/x.png)",
    '<p style="color:red" onclick="window.__pwned=6">styled</p>',
    "&lt;script&gt;window.__pwned=7&lt;/script&gt; and "
    "&#60;img src=x onerror=window.__pwned=8&#62;",
    "<a href='http://evil.example/'>a link</a>",
    "[ok](https://example.org/safe) and <https://example.org/auto>",
]
HOSTILE = "# Payloads\n\n" + "\n\n".join(f"{i}: {p}" for i, p in enumerate(PAYLOADS)) + "\n\nEnd."

TRIO = {
    "one": "Run one is short and finishes quickly. " * 3,
    "two": "Run two streams a long answer so that it can be stopped halfway through. " * 12,
    "three": "Run three is short too, and done. " * 3,
}
SYNC_LONG = "A sync cell blocks the kernel, so the Stop button cannot be heard here. " * 6
SCRIPT = {"md": MD, "open": OPEN_FENCE, "hostile": HOSTILE, "sync": SYNC_LONG, **TRIO}

# The answer's Markdown container, its raw text, status, prompt: read in one JS turn.
READ = """cell => {
    const panel = cell.querySelector('.lcnb-board .lcnb-panel');
    if (!panel) return null;
    const md = panel.querySelector(':scope > .lcnb-md');
    return {
        status: panel.querySelector('.lcnb-status').textContent.trim(),
        raw: panel.querySelector(':scope > pre.lcnb-text').textContent,
        tags: [...md.querySelectorAll('*')].map(e => e.tagName.toLowerCase()),
        openCode: md.querySelectorAll('pre.lcnb-code-open').length,
        prompt: cell.querySelector('.jp-InputArea-prompt').textContent.trim(),
    };
}"""

REASONING_MODEL = """\
import asyncio
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

THOUGHT = ["First, ", "I consider **the question**. ", "Then ", "I weigh two options. "] * 4
ANSWER = ["## Answer\\n\\n", "The answer ", "is *42*.\\n"]


class Thinker(BaseChatModel):
    delay: float = 0.15

    @property
    def _llm_type(self):
        return "thinker"

    def _generate(self, messages, stop=None, run_manager=None, **kw):
        return ChatResult(generations=[ChatGeneration(message=AIMessage("".join(ANSWER)))])

    async def _astream(self, messages, stop=None, run_manager=None, **kw):
        for piece in THOUGHT:
            await asyncio.sleep(self.delay)
            block = [{"type": "reasoning", "reasoning": piece}]
            yield ChatGenerationChunk(message=AIMessageChunk(content=block))
        for piece in ANSWER:
            await asyncio.sleep(self.delay)
            yield ChatGenerationChunk(message=AIMessageChunk(content=piece))
        usage = {"input_tokens": 120, "output_tokens": 60, "total_tokens": 180,
                 "input_token_details": {"cache_read": 100},
                 "output_token_details": {"reasoning": 48}}
        yield ChatGenerationChunk(message=AIMessageChunk(content="", usage_metadata=usage))
"""


@pytest.fixture(autouse=True)
def _script(chat_server):
    chat_server.script = SCRIPT
    chat_server.token_delay = 0.04
    chat_server.reset()
    yield
    chat_server.reset()


def read(page: LabPage, i: int) -> dict | None:
    return page.cell(i).evaluate(READ)


def arm_traps(page: LabPage) -> list[str]:
    """Every way a payload could show itself: window flags, dialogs."""
    dialogs: list[str] = []

    def on_dialog(d) -> None:
        dialogs.append(d.message)
        d.dismiss()

    page.page.on("dialog", on_dialog)
    return dialogs


def switch_theme(page: LabPage, theme: str) -> None:
    """Settings › Theme › <theme> (the menu item runs apputils:change-theme)."""
    page.page.locator(".lm-MenuBar-itemLabel", has_text="Settings").click()
    page.page.locator(".lm-Menu-itemLabel", has_text="Theme").first.hover()
    page.page.locator(".lm-Menu-itemLabel", has_text=theme).first.click()
    want = "false" if "Dark" in theme else "true"
    page.page.wait_for_function(
        f"() => document.body.dataset.jpThemeLight === '{want}'", timeout=30_000
    )
    page.page.wait_for_timeout(500)


def luminance(rgb: str) -> float:
    parts = [float(x) for x in rgb[rgb.index("(") + 1 : rgb.index(")")].split(",")[:3]]
    return 0.2126 * parts[0] + 0.7152 * parts[1] + 0.0722 * parts[2]


def test_markdown_live_raw_toggle_copy_and_themes(new_page, lab, chat_server):
    """Heading, list, table and highlighted code exist as elements before the run ends; an
    unclosed fence is a code block in progress; raw toggle; copy; light and dark themes."""
    page = new_page()
    page.page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=lab.url)
    chat_server.token_delay = 0.05
    name = write_notebook(
        lab,
        "markdown.ipynb",
        [
            'await chat(live).ainvoke([HumanMessage("md")])',
            'await chat(live).ainvoke([HumanMessage("open")])',
        ],
        base_url=chat_server.base_url,
    )
    page.open(name)
    page.run_cell(0)

    # -- live: elements appear while the cell is still [*]
    page.start_cell(1)
    seen: dict[str, bool] = {}
    open_code_mid = False
    deadline = time.monotonic() + CELL_TIMEOUT
    while time.monotonic() < deadline:
        r = read(page, 1)
        if r is None:
            page.page.wait_for_timeout(50)
            continue
        if r["prompt"] != "[*]:" or r["status"] != "streaming":
            break
        for tag in ("h2", "li", "table", "pre", "s", "a"):
            seen[tag] = seen.get(tag, False) or tag in r["tags"]
        open_code_mid = open_code_mid or r["openCode"] > 0
        page.page.wait_for_timeout(60)
    page.wait_cell_done(1)
    for tag in ("h2", "li", "table", "pre"):
        assert seen.get(tag), f"no <{tag}> before the run ended: {seen}"
    assert open_code_mid, "the code block never showed as in progress while it streamed"

    panel = page.panels(1).first
    final = read(page, 1)
    assert final["status"] == "done"
    assert final["raw"] == MD
    assert final["openCode"] == 0
    md = panel.locator(":scope > .lcnb-md")
    assert md.locator("h2").inner_text() == "Plan of attack"
    assert md.locator("strong").inner_text() == "small"
    assert md.locator("table th").count() == 3 and md.locator("table td").count() == 6
    assert md.locator("td.lcnb-al-right").count() == 2  # alignment as a class, not a style
    assert md.locator("pre code.language-python .hljs-keyword").count() >= 2
    assert md.locator("s").inner_text() == "everything"
    assert md.locator("li.lcnb-task-done").count() == 1
    link = md.locator("a")
    assert link.get_attribute("href") == "https://example.org/docs"
    assert link.get_attribute("target") == "_blank"
    assert link.get_attribute("rel") == "noopener noreferrer"
    # prose in a proportional font, wrapped at words; code in monospace
    styles = md.evaluate(
        """md => ({p: getComputedStyle(md.querySelector('p')).fontFamily,
                   wb: getComputedStyle(md.querySelector('p')).wordBreak,
                   code: getComputedStyle(md.querySelector('pre code')).fontFamily})"""
    )
    assert "mono" not in styles["p"].lower() and styles["wb"] != "break-all", styles
    assert "mono" in styles["code"].lower(), styles
    page.shot(1, "lab-markdown-light.png")

    # -- raw toggle: the source as written, then back
    raw_button = panel.locator(".lcnb-raw-toggle")
    raw_pre = panel.locator(":scope > pre.lcnb-text")
    assert raw_pre.is_hidden() and md.is_visible()
    raw_button.click()
    assert raw_pre.is_visible() and md.is_hidden()
    assert raw_pre.inner_text() == MD.rstrip("\n") or raw_pre.inner_text() == MD
    raw_button.click()
    assert raw_pre.is_hidden() and md.is_visible()

    # -- copy: the answer as Markdown source; a code block's code. The label changes in place.
    copy = panel.locator(".lcnb-head .lcnb-copy")
    box_before = copy.bounding_box()
    copy.click()
    page.page.wait_for_function(
        "b => b.textContent === 'copied'", arg=copy.element_handle(), timeout=5000
    )
    box_after = copy.bounding_box()
    assert box_before == box_after, (box_before, box_after)
    assert page.page.evaluate("() => navigator.clipboard.readText()") == MD
    page.page.wait_for_function(
        "b => b.textContent === 'copy'", arg=copy.element_handle(), timeout=5000
    )
    code_copy = md.locator("pre .lcnb-copy-code").first
    code_copy.click()
    page.page.wait_for_function(
        "b => b.textContent === 'copied'", arg=code_copy.element_handle(), timeout=5000
    )
    code = page.page.evaluate("() => navigator.clipboard.readText()")
    assert code.startswith("import json\n") and code.rstrip().endswith("# the whole file")

    # -- an unclosed fence at the end: a code block, marked in progress... until the run ends
    page.run_cell(2)
    r = read(page, 2)
    assert r["raw"] == OPEN_FENCE
    assert "pre" in r["tags"] and "code" in r["tags"]
    code_text = page.panels(2).first.locator(":scope > .lcnb-md pre code").inner_text()
    assert "print(i)" in code_text

    # -- themes: readable in dark too (light text on a dark panel)
    def colours() -> dict:
        return panel.evaluate(
            """p => ({fg: getComputedStyle(p.querySelector('.lcnb-md p')).color,
                      bg: getComputedStyle(p).backgroundColor,
                      code: getComputedStyle(p.querySelector('.lcnb-md pre')).backgroundColor})"""
        )

    light = colours()
    assert luminance(light["fg"]) < luminance(light["bg"]), light
    switch_theme(page, "JupyterLab Dark")
    dark = colours()
    assert luminance(dark["fg"]) > luminance(dark["bg"]) + 80, dark
    assert luminance(dark["code"]) < 100, dark
    page.shot(1, "lab-markdown-dark.png")
    switch_theme(page, "JupyterLab Light")
    assert not page.foreign_requests(), page.foreign_requests()


def test_hostile_markdown_corpus_is_inert(page: LabPage, lab, chat_server):
    """Raw HTML shows as literal text; no script, handler, frame or image; only http(s)
    links, opened safely; no request to any host but Jupyter's."""
    dialogs = arm_traps(page)
    chat_server.token_delay = 0.005
    name = write_notebook(
        lab,
        "hostile-md.ipynb",
        ['_ = await chat(live).agenerate([[HumanMessage("hostile")]] + [[HumanMessage(p)] '
         f"for p in {PAYLOADS!r}])"],
        base_url=chat_server.base_url,
        handler_args="max_panels=20",
    )  # fmt: skip
    page.open(name)
    page.page.evaluate("() => { window.alert = () => { window.__pwned = 'alert'; }; }")
    page.run_cell(0)
    page.run_cell(1)
    page.page.wait_for_timeout(1500)  # room for a late onerror / onload / fetch

    assert page.panel_texts(1) == [HOSTILE, *PAYLOADS]  # the raw text, verbatim
    assert page.statuses(1) == ["done"] * (1 + len(PAYLOADS))
    board = page.cell(1).locator(".lcnb-board")
    for tag in ("img", "script", "iframe", "object", "embed", "svg", "style", "input", "form"):
        assert board.locator(tag).count() == 0, f"a <{tag}> element inside the board"
    assert board.locator("[style]").count() == 0 or all(
        # our own inline styles: display toggles on containers, never inside rendered text
        el.evaluate("e => !e.closest('.lcnb-md')")
        for el in board.locator("[style]").all()
    )
    assert board.locator(".lcnb-md [style], .lcnb-md [onclick], .lcnb-md [onerror]").count() == 0
    hrefs = board.locator(".lcnb-md a").evaluate_all(
        "as => as.map(a => [a.getAttribute('href'), a.target, a.rel])"
    )
    assert hrefs, "the safe links were dropped too"
    for href, target, rel in hrefs:
        assert href and href.startswith(("http://", "https://", "mailto:")), href
        assert target == "_blank" and rel == "noopener noreferrer", (href, target, rel)
    assert "https://example.org/safe" in [h for h, _, _ in hrefs]
    assert "https://example.org/auto" in [h for h, _, _ in hrefs]
    # the image: its alt text and its URL as a link, never loaded
    img = board.locator(".lcnb-md .lcnb-img")
    assert img.count() >= 1
    assert "remote image" in img.first.inner_text()
    assert img.first.locator("a").get_attribute("href") == "http://evil.example/x.png"
    # raw HTML is literal text in the rendered Markdown too
    rendered = board.locator(".lcnb-md").evaluate_all(
        "ms => ms.map(m => m.textContent).join('\\n')"
    )
    for literal in ("<script>window.__pwned=1</script>", "<iframe", "<svg onload", "onerror"):
        assert literal in rendered, literal
    assert "<script>window.__pwned=7</script>" in rendered  # entities decode to text, not tags
    assert page.page.evaluate("() => typeof window.__pwned") == "undefined"
    assert not dialogs, dialogs
    assert not page.foreign_requests(), page.foreign_requests()
    assert not [u for u in page.requests if "evil.example" in u or u.endswith("/x")]


def test_reasoning_lane_then_answer(page: LabPage, lab, chat_server):
    """Reasoning streams into its own lane above the answer, open while it streams, folded
    once the answer starts; its token count and cached input tokens are shown when reported."""
    name = write_notebook(
        lab,
        "reasoning.ipynb",
        [REASONING_MODEL, 'async for _ in Thinker(callbacks=[live]).astream("why?"):\n    pass'],
        base_url=chat_server.base_url,
    )
    page.open(name)
    page.run_cell(0)
    page.run_cell(1)
    page.start_cell(2)
    lane_js = """cell => {
        const p = cell.querySelector('.lcnb-panel');
        const lane = p && p.querySelector(':scope > details.lcnb-reasoning');
        if (!lane) return null;
        return {visible: getComputedStyle(lane).display !== 'none', open: lane.open,
                label: lane.querySelector('summary').textContent,
                reasoning: lane.querySelector('pre.lcnb-text').textContent,
                strong: lane.querySelectorAll('.lcnb-md strong').length,
                answer: p.querySelector(':scope > pre.lcnb-text').textContent,
                above: !!(lane.compareDocumentPosition(p.querySelector(':scope > .lcnb-md'))
                          & Node.DOCUMENT_POSITION_FOLLOWING)};
    }"""
    page.page.wait_for_function(
        f"cell => {{ const r = ({lane_js})(cell); return r && r.visible && r.open "
        "&& r.reasoning.length > 20 && !r.answer; }",
        arg=page.cell(2).element_handle(),
        timeout=CELL_TIMEOUT * 1000,
    )
    mid = page.cell(2).evaluate(lane_js)
    assert mid["above"] and mid["strong"] >= 1, mid
    page.wait_cell_done(2)
    end = page.cell(2).evaluate(lane_js)
    assert not end["open"], "the lane did not fold once the answer started"
    assert end["answer"] == "## Answer\n\nThe answer is *42*.\n"
    assert end["reasoning"].startswith("First, I consider **the question**.")
    md = page.panels(2).first.locator(":scope > .lcnb-md")
    assert md.locator("h2").inner_text() == "Answer" and md.locator("em").inner_text() == "42"
    metrics = page.panels(2).first.locator(".lcnb-metrics").inner_text()
    # Needs the handler to report usage cache_read / reasoning (the lead's side).
    assert "reasoning · 48 tokens" in end["label"], (end["label"], metrics)
    assert "100 cached" in metrics, metrics


def stop_button(page: LabPage, i: int, prompt_text: str):
    prompt = page.page.locator(".lcnb-prompt", has_text=prompt_text)
    panel = page.cell(i).locator(".lcnb-panel", has=prompt)
    return panel, panel.locator(".lcnb-head .lcnb-stop")


def test_stop_one_of_three_async_runs(page: LabPage, lab, chat_server):
    """Stop in an async cell: the stopped run reads 'stopped' (neutral) with its partial text;
    the other two finish done."""
    chat_server.token_delay = 0.06
    name = write_notebook(
        lab,
        "stop.ipynb",
        ["import asyncio\n"
         "res = await asyncio.gather(*(chat(live).ainvoke([HumanMessage(p)]) "
         f"for p in {list(TRIO)!r}), return_exceptions=True)\n"
         "[type(r).__name__ for r in res]"],
        base_url=chat_server.base_url,
    )  # fmt: skip
    page.open(name)
    page.run_cell(0)
    page.start_cell(1)
    panel, stop = stop_button(page, 1, "two")
    page.page.wait_for_function(
        """p => p && p.querySelector(':scope > pre.lcnb-text').textContent.length > 40""",
        arg=panel.element_handle(timeout=CELL_TIMEOUT * 1000),
        timeout=CELL_TIMEOUT * 1000,
    )
    assert stop.is_visible() and stop.is_enabled(), "no enabled Stop on a stoppable run"
    stop.click()
    assert stop.inner_text() in ("stopping…", "") or stop.is_hidden()
    page.wait_cell_done(1)
    texts = {p: t for p, t in zip(TRIO, page.panel_texts(1), strict=True)}
    statuses = dict(zip(TRIO, page.statuses(1), strict=True))
    assert statuses == {"one": "done", "two": "stopped", "three": "done"}, statuses
    assert texts["one"] == TRIO["one"] and texts["three"] == TRIO["three"]
    assert texts["two"] and TRIO["two"].startswith(texts["two"]) and texts["two"] != TRIO["two"]
    badge = panel.locator(".lcnb-status")
    bg = badge.evaluate("b => getComputedStyle(b).backgroundColor")
    assert bg not in ("rgb(197, 34, 31)", "rgb(24, 128, 56)"), bg  # neither red nor green
    assert stop.is_hidden()


def test_stop_disabled_in_sync_cell(page: LabPage, lab, chat_server):
    """A run in a sync cell: Stop is shown disabled, and its title says why."""
    chat_server.token_delay = 0.05
    name = write_notebook(
        lab, "stop-sync.ipynb", ['chat(live).invoke([HumanMessage("sync")]).content[:10]'],
        base_url=chat_server.base_url,
    )  # fmt: skip
    page.open(name)
    page.run_cell(0)
    page.start_cell(1)
    _panel, stop = stop_button(page, 1, "sync")
    stop.wait_for(state="visible", timeout=CELL_TIMEOUT * 1000)
    assert stop.is_disabled()
    assert "Kernel › Interrupt" in (stop.get_attribute("title") or "")
    assert read(page, 1)["status"] == "streaming"
    page.wait_cell_done(1)
    assert stop.is_hidden()


def test_renderer_loads_once_per_page(page: LabPage, lab, chat_server):
    """Two boards, one library model: the bundle is imported once (one cache entry)."""
    chat_server.token_delay = 0.0
    name = write_notebook(
        lab,
        "twice.ipynb",
        ['await chat(live).ainvoke([HumanMessage("md")])',
         'await chat(live).ainvoke([HumanMessage("md")])'],
        base_url=chat_server.base_url,
    )  # fmt: skip
    page.open(name)
    for i in range(3):
        page.run_cell(i)
    assert page.cell(2).locator(".lcnb-md h2").count() == 1
    keys = page.page.evaluate("() => Object.keys(globalThis.__lcnb_board_bundles__ || {})")
    assert len(keys) == 1, keys


LONG_FENCE = (
    "Here is the module:\n\n```python\n"
    + "".join(
        f'def step_{i}(x):\n    """Step {i},\n    documented."""\n    return x * {i}  # c\n\n'
        for i in range(400)
    )
    + "```\n\nThat is all.\n"
)

# The panel's rendered Markdown and a one-shot render of its raw text by the same bundle.
ONE_SHOT = """async cell => {
    const panel = cell.querySelector('.lcnb-board .lcnb-panel');
    const md = panel.querySelector(':scope > .lcnb-md').cloneNode(true);
    for (const pre of md.querySelectorAll('.lcnb-code-open'))
        pre.classList.remove('lcnb-code-open');
    const raw = panel.querySelector(':scope > pre.lcnb-text').textContent;
    const mod = await Object.values(globalThis.__lcnb_board_bundles__)[0];
    const box = document.createElement('div');
    box.append(mod.renderFragment(raw));
    return {view: md.innerHTML, oneShot: box.innerHTML, raw,
            runs: md.querySelectorAll('pre code > .lcnb-lines').length,
            keywords: md.querySelectorAll('pre code .hljs-keyword').length};
}"""


def test_long_fence_streamed_through_a_kernel_renders_as_one_shot(page: LabPage, lab, chat_server):
    """A 2,000-line code answer streams from the embedded server through a real kernel into
    JupyterLab; the panel's final DOM is the one-shot render of the text (issue #16)."""
    chat_server.script = {**SCRIPT, "fence": LONG_FENCE}
    chat_server.token_delay = 0.0005
    name = write_notebook(
        lab, "long-fence.ipynb", ['_ = await chat(live).ainvoke([HumanMessage("fence")])'],
        base_url=chat_server.base_url,
    )  # fmt: skip
    page.open(name)
    page.run_cell(0)
    page.run_cell(1, timeout=300)
    page.page.wait_for_function(
        "cell => !cell.querySelector('.lcnb-md pre.lcnb-code-open')",
        arg=page.cell(1).element_handle(), timeout=30_000,
    )  # fmt: skip
    r = page.cell(1).evaluate(ONE_SHOT)
    assert r["raw"] == LONG_FENCE
    assert r["view"] == r["oneShot"]
    assert r["runs"] >= 30 and r["keywords"] == 800, (r["runs"], r["keywords"])  # def, return


def _big_markdown(tokens: int) -> str:
    from lc_callbacks_nb.offline.server_script import tokenize

    section = (
        "## Section {n}\n\nThis paragraph explains step {n} with **bold** words, `inline code` "
        "and a [link](https://example.org/{n}); it is long enough to wrap once or twice in a "
        "panel of ordinary width, like real model prose tends to be.\n\n"
        "- first point of {n}\n- second point, with *emphasis*\n\n"
        "```python\ndef step_{n}(x):\n    # square and add\n    return x * x + {n}\n```\n\n"
    )
    per = len(tokenize(section.format(n=1)))
    return "".join(section.format(n=i) for i in range(tokens // per + 1))


@pytest.mark.timeout(900)
def test_render_benchmark_100k_tokens(page: LabPage, lab, chat_server, capsys):
    """Figures, not assertions on timers: per-update Markdown render time and long tasks
    while a 100,000-token answer with code blocks streams at full speed."""
    from lc_callbacks_nb.offline.server_script import tokenize

    text = _big_markdown(100_000)
    n_tokens = len(tokenize(text))
    chat_server.script = {**SCRIPT, "big": text}
    chat_server.token_delay = 0.0
    name = write_notebook(
        lab, "bench.ipynb", ['_ = await chat(live).ainvoke([HumanMessage("big")])'],
        base_url=chat_server.base_url,
    )  # fmt: skip
    page.open(name)
    page.run_cell(0)
    page.page.evaluate(
        """() => { window.__lcnb_profile = []; window.__longtasks = [];
            new PerformanceObserver(l => { for (const e of l.getEntries())
                window.__longtasks.push(e.duration); }).observe({entryTypes: ['longtask']}); }"""
    )
    t0 = time.monotonic()
    page.run_cell(1, timeout=600)
    wall = time.monotonic() - t0
    page.page.wait_for_timeout(1000)
    prof = page.page.evaluate("() => window.__lcnb_profile")
    longtasks = page.page.evaluate("() => window.__longtasks")
    assert page.panel_texts(1) == [text]
    ms = sorted(p["ms"] for p in prof)
    assert ms, "no render was timed"

    def pct(q: float) -> float:
        return ms[min(len(ms) - 1, int(q * len(ms)))]

    early = [p["ms"] for p in prof if p["chars"] < len(text) * 0.1]
    late = [p["ms"] for p in prof if p["chars"] > len(text) * 0.9]
    figures = {
        "tokens": n_tokens,
        "chars": len(text),
        "wall_s": round(wall, 1),
        "updates": len(ms),
        "p50_ms": round(pct(0.5), 2),
        "p95_ms": round(pct(0.95), 2),
        "max_ms": round(ms[-1], 2),
        "early_median_ms": round(statistics.median(early), 2) if early else None,
        "late_median_ms": round(statistics.median(late), 2) if late else None,
        "renders_over_16ms": sum(1 for m in ms if m > 16),
        "renders_over_50ms": sum(1 for m in ms if m > 50),
        "longtasks_over_50ms": len(longtasks),
        "longest_task_ms": round(max(longtasks), 1) if longtasks else 0,
        "rendered_blocks": page.cell(1).locator(".lcnb-md-block").count(),
    }
    with capsys.disabled():
        print("\nbrowser render benchmark:", json.dumps(figures))
