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
from types import FrameType

from langchain_core.callbacks.manager import AsyncCallbackManager

_BUGGY_SITE = AsyncCallbackManager.on_llm_start.__code__


def asked_by_async_llm_start(caller: FrameType) -> bool:
    """True when ``caller`` (the frame reading ``run_inline``) is the buggy call site."""
    if caller.f_code is _BUGGY_SITE:  # Python >= 3.12: comprehensions are inlined
        return True
    # Python 3.11: the list comprehension has a frame of its own.
    outer = caller.f_back
    return caller.f_code.co_name == "<listcomp>" and outer is not None and (
        outer.f_code is _BUGGY_SITE
    )


class InlineHandlerMixin:
    """Put before the LangChain base: ``class H(InlineHandlerMixin, BaseCallbackHandler)``."""

    @property
    def run_inline(self) -> bool:  # a property over BaseCallbackHandler's class flag
        return not asked_by_async_llm_start(sys._getframe(1))
