"""Public path of the embedded OpenAI-compatible server: ``from lc_callbacks_nb.server import
LocalChatServer``. The code lives in ``offline/server.py``; ``python -m lc_callbacks_nb.server``
serves from a terminal."""

from .offline.server import DEFAULT_REPLY, LocalChatServer, Reply, ToolCall, main

__all__ = ["DEFAULT_REPLY", "LocalChatServer", "Reply", "ToolCall"]

if __name__ == "__main__":
    raise SystemExit(main())
