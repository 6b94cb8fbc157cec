"""Finished runs release their buffers: 1,000 runs in one cell keep the kernel bounded."""

from __future__ import annotations

import json

from harness import KernelSession

SETUP = """
import gc, itertools, json, os, psutil
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from lc_callbacks_nb import LiveStreamHandler
from lc_callbacks_nb.live.boards import CLAIMS as _claims
from lc_callbacks_nb.live.flush import get_scheduler

TEXT = " ".join(f"word{i}" for i in range(100))  # ~0.7 KB, 200 tokens per run
live = LiveStreamHandler(max_rows=100)
model = GenericFakeChatModel(messages=itertools.repeat(AIMessage(content=TEXT)))

async def runs(n):
    for _ in range(n):
        async for _chunk in model.astream("go", config={"callbacks": [live]}):
            pass

def rss_mb():
    gc.collect()
    return psutil.Process(os.getpid()).memory_info().rss / 2**20
"""


def test_thousand_runs_keep_the_kernel_bounded():
    with KernelSession() as k:
        k.run(SETUP)
        k.run("await runs(200)")  # warm-up: caches, the board reaches max_rows
        before = k.eval("rss_mb()")
        k.run("await runs(800)", timeout=600)
        stats = k.eval(
            "{'rss': rss_mb(), 'live': live.live_run_count(), 'claims': len(_claims),"
            " 'boards': len(live._boards),"
            " 'rows': [len(b.view._rows) for b in live._boards],"
            " 'final': [len(b.view._final) for b in live._boards],"
            " 'dropped': [b.view._dropped for b in live._boards],"
            " 'started': [b.runs.total_started for b in live._boards],"
            " 'due': len(get_scheduler()._due)}"
        )
        # the structures that could grow with runs do not
        assert stats["live"] == 0 and stats["claims"] == 0 and stats["due"] == 0
        assert stats["boards"] == 1 and stats["started"] == [800]  # this cell's board
        assert stats["rows"] == [100] and stats["final"] == [100]
        assert stats["dropped"] == [700]
        # 800 more runs (~0.6 MB of text) add no more than a little allocator noise
        growth = stats["rss"] - before
        print(json.dumps({"rss_before_mb": before, **stats, "growth_mb": growth}))
        assert growth < 8, f"kernel grew by {growth:.1f} MB over 800 runs"
