"""The reference page's example: in a real kernel, and through `make demo`'s runner."""

from __future__ import annotations

import ast
import os
import queue
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import pytest

from lc_callbacks_nb.server import LocalChatServer

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "async_callbacks.ipynb"
JOKE_TOKENS = ["Why", " don", "'t", " scientists", " trust", " atoms", "?", "\n\n",
               "Because", " they", " make", " up", " everything", "."]  # fmt: skip
START = ["zzzz....", "Hi! I just woke up. Your llm is starting"]
END = ["zzzz....", "Hi! I just woke up. Your llm is ending"]
SYNC_LINE = re.compile(
    r"^Sync handler being called in a `thread_pool_executor`: token: (.*) \[(.+)\]$"
)


def _notebook_cell(marker: str) -> str:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code" and marker in cell.source:
            return cell.source
    raise AssertionError(f"no code cell containing {marker!r} in {NOTEBOOK}")


def _check_reference_output(lines: list[str]) -> list[str]:
    """Check the reference's shape in printed lines; return the sync lines' thread names."""
    i = lines.index(START[0])
    assert lines[i : i + 2] == START
    sync = [(j, SYNC_LINE.match(line)) for j, line in enumerate(lines) if SYNC_LINE.match(line)]
    assert sync, "no sync-handler lines"
    assert sync[0][0] == i + 2, "tokens began before the async on_llm_start finished"
    last = sync[-1][0]
    assert [j for j, _ in sync] == list(range(i + 2, last + 1)), "sync lines are not contiguous"
    assert lines[last + 1 : last + 3] == END
    tokens = [ast.literal_eval(m.group(1)) for _, m in sync]
    # One line per streamed token, in order: '' (role chunk), the joke, then '' for the
    # finish chunk and LangChain's closing chunk.
    assert tokens[: len(JOKE_TOKENS) + 1] == ["", *JOKE_TOKENS]
    assert tokens[len(JOKE_TOKENS) + 1 :] and set(tokens[len(JOKE_TOKENS) + 1 :]) == {""}
    return [m.group(2) for _, m in sync]


# -- a real kernel, a server in this process ------------------------------------------------
def test_reference_example_in_a_kernel(kernel):
    with LocalChatServer(token_delay=0.005) as server:
        kernel.run(f"openai_kwargs = {{'base_url': {server.base_url!r}, 'api_key': 'sk-test'}}")
        kernel.run(_notebook_cell("class MyCustomSyncHandler"))
        result = kernel.run(_notebook_cell("await chat.agenerate"), timeout=120)
        requests = server.requests

    assert result.stderr == ""
    threads = _check_reference_output(result.stdout.splitlines())
    # Sync handlers run in the loop's default executor, never on the kernel's main thread.
    assert "MainThread" not in threads
    assert all(name.startswith("asyncio_") for name in threads), threads
    # Every stream message belongs to this cell (the ContextVar parent travels with
    # copy_context into the executor), and the result comes after the last line.
    kinds = [m["msg_type"] for m in result.of_type("stream", "execute_result")]
    assert kinds[-1] == "execute_result" and kinds.count("execute_result") == 1
    text = result.result_text()
    assert text.startswith("LLMResult(generations=[[ChatGeneration(text=\"Why don't")
    assert len(requests) == 1 and requests[0]["stream"] is True
    # langchain-openai 1.x sends max_tokens=25 as max_completion_tokens.
    assert requests[0].get("max_completion_tokens", requests[0].get("max_tokens")) == 25


# -- the demo runner ------------------------------------------------------------------------
def _demo(*args: str, env_extra: dict[str, str] | None = None, **kw) -> subprocess.Popen[str]:
    env = dict(os.environ)
    env.update(env_extra or {})
    return subprocess.Popen(
        [sys.executable, "-m", "lc_callbacks_nb.offline.demo", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


def test_demo_runs_the_reference_notebook_offline():
    before = NOTEBOOK.read_bytes()
    # A key in the environment must not reach the kernel: the demo stays offline.
    proc = _demo(str(NOTEBOOK), env_extra={"OPENAI_API_KEY": "sk-not-a-real-key"})
    out, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, err
    lines = out.splitlines()
    assert "No OPENAI_API_KEY: using the embedded LocalChatServer." in lines
    _check_reference_output(lines)
    assert any(line.startswith("Out[") and "LLMResult(generations=" in line for line in lines)
    # the board's saved state is printed once, final (not its first, empty state)
    assert "LangChain runs: 1 (1 done)" in lines and "LangChain runs: none" not in lines
    assert lines[-1] == "Done: every cell ran."
    assert NOTEBOOK.read_bytes() == before  # the demo never writes the notebook


def _write_notebook(path: Path, *sources: str) -> Path:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)
    return path


def test_demo_prints_output_while_the_cell_runs(tmp_path):
    """The cell waits for a file this test creates only after it has seen the first line."""
    flag = tmp_path / "go"
    nb = _write_notebook(
        tmp_path / "live.ipynb",
        "import pathlib, time\n"
        f"flag = pathlib.Path({str(flag)!r})\n"
        "print('waiting for the test', flush=True)\n"
        "for _ in range(1200):\n"
        "    if flag.exists():\n"
        "        break\n"
        "    time.sleep(0.05)\n"
        "print('released' if flag.exists() else 'never released')",
    )
    proc = _demo(str(nb))
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout], daemon=True).start()
    try:
        deadline = time.monotonic() + 120
        while True:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            if line.strip() == "waiting for the test":
                break
        flag.touch()
        assert proc.wait(timeout=120) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    rest = []
    while not lines.empty():
        rest.append(lines.get().strip())
    assert "released" in rest


def test_demo_failing_cell_is_one_line_and_nonzero(tmp_path):
    nb = _write_notebook(tmp_path / "bad.ipynb", "x = 1", "print('before')\n1 / 0")
    proc = _demo(str(nb))
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1
    assert "before" in out
    assert err.strip().splitlines()[-1] == (
        "lc_callbacks_nb.offline.demo: error: In [2] failed: ZeroDivisionError: division by zero"
    )
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["missing.ipynb"], "cannot read notebook 'missing.ipynb'"),
        ([str(NOTEBOOK), "--real"], "--real needs OPENAI_API_KEY"),
    ],
)
def test_demo_usage_errors(args, expected):
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    res = subprocess.run(
        [sys.executable, "-m", "lc_callbacks_nb.offline.demo", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 2
    assert res.stderr.count("\n") == 1 and expected in res.stderr
