"""``run_inline`` for our handlers, minus one LangChain call site where it would hurt others.

Our handlers never block, so LangChain may call them inline, on the thread that fires the
event. But ``AsyncCallbackManager.on_llm_start`` (langchain-core 1.x, completion models,
async runs) has a bug: once any handler is inline, it calls *only* the inline ones, and
every other handler silently misses ``on_llm_start``. Loading our extension must not take
the user's own handlers' events away, so at that one call site our handlers answer
``run_inline = False``: LangChain then calls them with the others (in its executor, with
the context copied, so output still lands in the right cell). Everywhere else they are
inline. tests/test_inline.py shows the user's handler keeps its event.
"""

from __future__ import annotations

import sys
from types import CodeType, FrameType

from langchain_core.callbacks.manager import AsyncCallbackManager

_BUGGY_SITE = AsyncCallbackManager.on_llm_start.__code__
# The code objects that read run_inline there: the method itself (Python >= 3.12 inlines
# comprehensions) and, on 3.11, its list comprehensions, which run in frames of their own.
_BUGGY_CODES: tuple[CodeType, ...] = (
    _BUGGY_SITE,
    *(c for c in _BUGGY_SITE.co_consts if isinstance(c, CodeType) and c.co_name.startswith("<")),
)
# Compared by identity, never hashed: a code object's hash is computed anew each time from
# its bytecode and constants (0.1-0.3 µs for LangChain's dispatch frames), and run_inline is
# read three times per token. Three names, padded with a code object no frame runs.
_NEVER = (lambda: None).__code__
if len(_BUGGY_CODES) > 3:  # pragma: no cover - no LangChain has more than three
    raise ImportError(f"unexpected AsyncCallbackManager.on_llm_start shape: {_BUGGY_CODES}")
_A, _B, _C = (*_BUGGY_CODES, _NEVER, _NEVER)[:3]


def asked_by_async_llm_start(caller: FrameType) -> bool:
    """True when ``caller`` (the frame reading ``run_inline``) is the buggy call site."""
    code = caller.f_code
    return code is _A or code is _B or code is _C


class InlineHandlerMixin:
    """Put before the LangChain base: ``class H(InlineHandlerMixin, BaseCallbackHandler)``."""

    @property
    def run_inline(self) -> bool:  # a property over BaseCallbackHandler's class flag
        # read three times per event: one frame lookup and three identity tests, nothing more
        code = sys._getframe(1).f_code
        return code is not _A and code is not _B and code is not _C
