"""Saved-notebook size per board (#11): the static twin, and the widget state when stored.

Notebooks are executed with nbclient (``store_widget_state`` True and False, as JupyterLab
saves with ``saveState`` on and off) against the embedded ``LocalChatServer``, and written
with nbformat (what a save writes: indent 1, multiline strings as lists of lines). Cases:

1. **short**: one cell, one short run.
2. **long**: one cell, one run of 20,000 server tokens. Each mime type's bytes are set against
   the text's length, and each mime type is checked to hold the text once (the twin clips a
   text at 20,000 characters; the widget state keeps the full text, zlib-compressed).
3. **20 short boards**: 20 cells with one short run each: total bytes with and without
   widget state, and bytes per board beyond its text (aim: under 25 KB = 25,000 bytes).

A board's bytes are measured as the file's growth: the notebook as saved minus the same
notebook with that board's output (and its widget models) taken out. "Beyond its text" then
subtracts the UTF-8 bytes of the run's final text once.

Run: ``.venv/bin/python benchmarks/bench_saved_size.py [OUT.json]`` (writes
results/saved_size.json unless told otherwise; about 25 s).
"""

from __future__ import annotations

import copy
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient

from lc_callbacks_nb.offline.server_script import count_tokens, tokenize
from lc_callbacks_nb.server import LocalChatServer

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "saved_size.json"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
LONG_TOKENS = 20_000
N_BOARDS = 20
BUDGET = 25_000  # bytes per short board beyond its text

SETUP = """\
from langchain_core.messages import HumanMessage
from langchain_openai import ChatOpenAI
from lc_callbacks_nb import LiveStreamHandler

live = LiveStreamHandler()
chat = ChatOpenAI(base_url={base_url!r}, api_key="sk-local", model="gpt-4o-mini",
                  streaming=True, max_retries=0, callbacks=[live])
"""


def short_reply(i: int) -> str:
    return f"Short reply {i}: the quick brown fox jumps over the lazy dog, twice."


def long_reply(n_tokens: int) -> str:
    """Real English prose (Python's own help texts) of exactly ``n_tokens`` server tokens."""
    from pydoc_data.topics import topics

    prose = " ".join(" ".join(topics[k].split()) for k in sorted(topics))
    text = "".join(tokenize(prose)[:n_tokens])
    while count_tokens(text) < n_tokens:  # the help texts are long enough; just in case
        text += " " + text
    text = "".join(tokenize(text)[:n_tokens])
    assert count_tokens(text) == n_tokens
    return text


def notebook(base_url: str, cells: list[str]) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    setup = SETUP.format(base_url=base_url)
    nb.cells = [nbformat.v4.new_code_cell(src) for src in [setup, *cells]]
    return nb


def execute(nb: nbformat.NotebookNode, *, store_widget_state: bool) -> nbformat.NotebookNode:
    nb = copy.deepcopy(nb)
    NotebookClient(nb, timeout=300, store_widget_state=store_widget_state).execute()
    return nb


def size(nb: nbformat.NotebookNode) -> int:
    return len(nbformat.writes(nb).encode())


def boards(nb: nbformat.NotebookNode) -> list[tuple[int, int, dict[str, Any]]]:
    """(cell index, output index, output) of every board output."""
    return [
        (c, o, out)
        for c, cell in enumerate(nb.cells)
        for o, out in enumerate(cell.get("outputs", []))
        if WIDGET_VIEW in out.get("data", {})
    ]


def widget_models(nb: nbformat.NotebookNode) -> dict[str, Any]:
    return nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})


def board_models(nb: nbformat.NotebookNode, model_id: str) -> list[str]:
    """The board's model and the models it references (its Layout)."""
    state = widget_models(nb)
    if model_id not in state:
        return []
    ids = [model_id]
    for value in state[model_id].get("state", {}).values():
        if isinstance(value, str) and value.startswith("IPY_MODEL_"):
            ref = value[len("IPY_MODEL_") :]
            if ref in state:
                ids.append(ref)
    return ids


def without(nb: nbformat.NotebookNode, picked: list[tuple[int, int, dict[str, Any]]]):
    """The notebook with the picked board outputs and their widget models taken out."""
    nb = copy.deepcopy(nb)
    state = widget_models(nb)
    for c, o, out in sorted(picked, key=lambda p: (p[0], p[1]), reverse=True):
        del nb.cells[c].outputs[o]
        for mid in board_models(nb, out["data"][WIDGET_VIEW]["model_id"]):
            state.pop(mid, None)
    return nb


def shared_state(nb: nbformat.NotebookNode) -> dict[str, Any]:
    """Widget models no board output owns (stored once per notebook, e.g. a shared library)."""
    models = widget_models(nb)
    owned = {
        m
        for _, _, out in boards(nb)
        for m in board_models(nb, out["data"][WIDGET_VIEW]["model_id"])
    }
    rest = {m: v for m, v in models.items() if m not in owned}
    return {
        "models": sorted(f"{v.get('model_module')}.{v.get('model_name')}" for v in rest.values()),
        "bytes": sum(
            len(json.dumps(v, indent=1, ensure_ascii=False).encode()) for v in rest.values()
        ),
    }


def utf8(value: Any) -> int:
    return len(value.encode()) if isinstance(value, str) else 0


def mime_bytes(nb: nbformat.NotebookNode, out: dict[str, Any]) -> dict[str, int]:
    """Each mime type's bytes as saved (the JSON string, escapes included), and the state's."""
    data = out["data"]
    row = {mime: len(json.dumps(data[mime], ensure_ascii=False).encode()) for mime in data}
    models = widget_models(nb)
    ids = board_models(nb, data[WIDGET_VIEW]["model_id"])
    row["widget state"] = sum(
        len(json.dumps(models[m], indent=1, ensure_ascii=False).encode()) for m in ids
    )
    if ids:
        board = models[ids[0]]
        row["  of which _esm + _css"] = sum(utf8(board["state"].get(k)) for k in ("_esm", "_css"))
        row["  of which archive (base64)"] = sum(
            utf8(b.get("data")) for b in board.get("buffers", []) if b.get("path") == ["archive"]
        )
    return row


def count_in(haystack: str, needle: str) -> int:
    return haystack.count(needle)


def measure_board(nb: nbformat.NotebookNode, pick: tuple[int, int, dict[str, Any]], text: str):
    grown = size(nb) - size(without(nb, [pick]))
    return {
        "board_bytes": grown,
        "text_bytes": utf8(text),
        "beyond_text": grown - utf8(text),
        "mime_bytes": mime_bytes(nb, pick[2]),
    }


def case_short(base_url: str) -> dict[str, Any]:
    nb = notebook(base_url, ['_ = await chat.ainvoke("short 0")'])
    out: dict[str, Any] = {"text_chars": len(short_reply(0))}
    for stored in (False, True):
        done = execute(nb, store_widget_state=stored)
        (pick,) = boards(done)
        out["with_state" if stored else "without_state"] = {
            "file_bytes": size(done),
            "shared_state": shared_state(done),
            **measure_board(done, pick, short_reply(0)),
        }
    return out


def case_long(base_url: str, text: str) -> dict[str, Any]:
    import html

    nb = notebook(base_url, ['_ = await chat.ainvoke("long")'])
    out: dict[str, Any] = {"tokens": LONG_TOKENS, "text_chars": len(text), "text_bytes": utf8(text)}
    probe_head = text[:200]
    probe_tail = text[-200:]
    for stored in (False, True):
        t0 = time.perf_counter()
        done = execute(nb, store_widget_state=stored)
        seconds = time.perf_counter() - t0
        (pick,) = boards(done)
        data = pick[2]["data"]
        plain = "".join(data["text/plain"])
        page = "".join(data["text/html"])
        row = {"execute_seconds": round(seconds, 2), **measure_board(done, pick, text)}
        # each mime type holds the text at most once (the head once; the tail is past the clip)
        row["occurrences"] = {
            "text/plain": {
                "head": count_in(plain, probe_head),
                "tail": count_in(plain, probe_tail),
            },
            "text/html": {
                "head": count_in(page, html.escape(probe_head, quote=False)),
                "tail": count_in(page, html.escape(probe_tail, quote=False)),
            },
        }
        clip = [ln for ln in plain.split("\n") if "[clipped:" in ln]
        row["clip_marker"] = clip[0].split("… ", 1)[-1].strip() if clip else ""
        if stored:
            from lc_callbacks_nb.views.widget import saved_runs

            models = widget_models(done)
            (run,) = saved_runs(models[data[WIDGET_VIEW]["model_id"]])
            full = run.get("text", {}).get("text", "")
            row["state_has_full_text"] = full == text
            row["occurrences"]["widget state (runs)"] = count_in(
                json.dumps(models[data[WIDGET_VIEW]["model_id"]]["state"].get("runs", [])),
                probe_head,
            )
        out["with_state" if stored else "without_state"] = row
    return out


def case_many(base_url: str) -> dict[str, Any]:
    cells = [f'_ = await chat.ainvoke("short {i}")' for i in range(N_BOARDS)]
    nb = notebook(base_url, cells)
    texts = [short_reply(i) for i in range(N_BOARDS)]
    out: dict[str, Any] = {"boards": N_BOARDS, "text_bytes": sum(utf8(t) for t in texts)}
    for stored in (False, True):
        done = execute(nb, store_widget_state=stored)
        picks = boards(done)
        assert len(picks) == N_BOARDS, len(picks)
        total = size(done)
        bare = size(without(done, picks))
        per_board = (total - bare) / N_BOARDS
        beyond = (total - bare - out["text_bytes"]) / N_BOARDS
        out["with_state" if stored else "without_state"] = {
            "file_bytes": total,
            "file_bytes_without_boards": bare,
            "shared_state": shared_state(done),
            "boards_bytes": total - bare,
            "per_board_bytes": round(per_board),
            "per_board_beyond_text": round(beyond),
            "budget_met": beyond < BUDGET,
        }
    return out


def main(out: Path = RESULTS) -> None:
    os.environ.pop("OPENAI_API_KEY", None)  # kernels must talk to the embedded server only
    long_text = long_reply(LONG_TOKENS)
    script = {f"short {i}": short_reply(i) for i in range(N_BOARDS)}
    script["long"] = long_text
    t0 = time.perf_counter()
    with LocalChatServer(script=script) as srv:
        short = case_short(srv.base_url)
        long = case_long(srv.base_url, long_text)
        many = case_many(srv.base_url)
    import lc_callbacks_nb

    result = {
        "short": short,
        "long": long,
        "many": many,
        "budget_per_board_beyond_text": BUDGET,
        "seconds": round(time.perf_counter() - t0, 1),
        "package": str(Path(lc_callbacks_nb.__file__).parent),
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d"),
    }
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(table(result))


def table(r: dict[str, Any]) -> str:
    s, lg, m = r["short"], r["long"], r["many"]
    mimes = ["text/plain", "text/html", WIDGET_VIEW, "widget state"]
    extra = ["  of which _esm + _css", "  of which archive (base64)"]
    lines = [
        "| bytes per board, as saved | short, no state | short, state "
        f"| {lg['tokens']:,}-token run, no state | {lg['tokens']:,}-token run, state |",
        "|---|---|---|---|---|",
    ]
    cols = [s["without_state"], s["with_state"], lg["without_state"], lg["with_state"]]
    for mime in mimes + extra:
        label = "widget view ref" if mime == WIDGET_VIEW else mime
        lines.append(
            f"| {label} | " + " | ".join(f"{c['mime_bytes'].get(mime, 0):,}" for c in cols) + " |"
        )
    lines.append(
        "| board (file growth) | " + " | ".join(f"{c['board_bytes']:,}" for c in cols) + " |"
    )
    lines.append("| text (UTF-8) | " + " | ".join(f"{c['text_bytes']:,}" for c in cols) + " |")
    lines.append("| beyond text | " + " | ".join(f"{c['beyond_text']:,}" for c in cols) + " |")
    for stored in ("without_state", "with_state"):
        occ = lg[stored]["occurrences"]
        seen = ", ".join(
            f"{k}: head ×{v['head']}, tail ×{v['tail']}"
            if isinstance(v, dict)
            else f"{k}: head ×{v}"
            for k, v in occ.items()
        )
        lines.append(
            f"\n{lg['tokens']:,}-token text ({lg['text_chars']:,} characters), {stored}: "
            f"{seen}; twin: {lg[stored]['clip_marker'] or 'not clipped'}"
        )
    lines += [
        "",
        f"| {m['boards']} short boards in one notebook | no state | state |",
        "|---|---|---|",
    ]
    w, st = m["without_state"], m["with_state"]
    for key, label in [
        ("file_bytes", "notebook bytes"),
        ("file_bytes_without_boards", "same notebook, board outputs taken out"),
        ("per_board_bytes", "per board"),
        (
            "per_board_beyond_text",
            f"per board beyond its text (aim < {r['budget_per_board_beyond_text']:,})",
        ),
        ("budget_met", "aim met"),
    ]:
        lines.append(
            f"| {label} | {w[key]:,} | {st[key]:,} |"
            if key != "budget_met"
            else f"| {label} | {w[key]} | {st[key]} |"
        )
    lines.append(
        f"| widget models no board owns (once per notebook) | {w['shared_state']['bytes']:,} "
        f"| {st['shared_state']['bytes']:,} {st['shared_state']['models'] or ''} |"
    )
    lines.append(f"\n({r['seconds']} s; package {r['package']})")
    return "\n".join(lines)


if __name__ == "__main__":
    # An optional argument: where to write the JSON instead of results/saved_size.json.
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else RESULTS))
