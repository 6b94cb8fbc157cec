"""``python -m lc_callbacks_nb.server``: serve the embedded chat server from a terminal."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any

from lc_callbacks_nb.offline.server import LocalChatServer
from lc_callbacks_nb.offline.server_script import DEFAULT_REPLY


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # one line, no usage dump
        self.exit(2, f"{self.prog}: error: {message}\n")


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected seconds >= 0, got {text!r}")
    return value


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    parser = _Parser(
        prog="python -m lc_callbacks_nb.server",
        description="Serve scripted chat APIs on localhost until Ctrl-C: OpenAI "
        "(/v1/chat/completions, /v1/responses), Anthropic (/v1/messages) and Ollama "
        "(/api/chat). Point every client at the printed URL.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (default)")
    parser.add_argument("--token-delay", type=_seconds, default=0.0, metavar="S")
    parser.add_argument("--first-token-delay", type=_seconds, default=0.0, metavar="S")
    parser.add_argument("--echo", action="store_true", help="reply with the last user message")
    parser.add_argument("--reply", default=DEFAULT_REPLY, help="the reply when not echoing")
    parser.add_argument("--model", default="gpt-4o-mini-local", help="listed by /v1/models")
    parser.add_argument(
        "--cached-tokens", type=int, default=0, metavar="N", help="prompt tokens reported cached"
    )
    parser.add_argument(
        "--cache-creation-tokens",
        type=int,
        default=0,
        metavar="N",
        help="prompt tokens reported written to the cache",
    )
    args = parser.parse_args(argv)

    server = LocalChatServer(
        args.host,
        args.port,
        token_delay=args.token_delay,
        first_token_delay=args.first_token_delay,
        echo=args.echo,
        default_reply=args.reply,
        model_name=args.model,
        cached_tokens=max(args.cached_tokens, 0),
        cache_creation_tokens=max(args.cache_creation_tokens, 0),
    )
    try:
        server.start()
    except OSError as exc:
        print(
            f"{parser.prog}: error: cannot listen on {args.host}:{args.port}: {exc.strerror}",
            file=sys.stderr,
        )
        return 1
    # SIGTERM stops as cleanly as Ctrl-C (tests and process managers send it).
    signal.signal(signal.SIGTERM, _interrupt)
    print(f"LocalChatServer serving at {server.base_url} (Ctrl-C to stop)", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
