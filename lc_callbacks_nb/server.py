"""Public path of the embedded chat server: ``from lc_callbacks_nb.server import
LocalChatServer``. It speaks OpenAI (Chat Completions, Responses), Anthropic (Messages) and
Ollama (chat); the code lives in ``offline/`` (``server.py`` and one module per wire protocol).
``python -m lc_callbacks_nb.server`` serves from a terminal."""

from .offline.server import DEFAULT_REPLY, LocalChatServer, Reply, ToolCall
from .offline.server_cli import main

__all__ = ["DEFAULT_REPLY", "LocalChatServer", "Reply", "ToolCall"]

if __name__ == "__main__":
    raise SystemExit(main())
