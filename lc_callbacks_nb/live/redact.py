"""Keep credentials out of everything we display or send over IOPub.

Panels show error messages and tool inputs/outputs, which can quote a request. Anything
that looks like an API key or an Authorization header is replaced before it leaves here.
"""

from __future__ import annotations

import re

_PATTERNS = [
    # OpenAI-style keys (sk-..., sk-proj-...), and other common bearer secrets.
    re.compile(r"\b(sk|pk|rk)-[A-Za-z0-9_\-]{8,}"),
    re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9_\-\.=:+/]{8,}"),
    re.compile(r"(?i)(authorization|api[_-]?key|x-api-key)(['\"]?\s*[:=]\s*['\"]?)[^\s'\",}]+"),
]


def redact(text: str) -> str:
    """Replace anything that looks like a credential with a fixed marker."""
    if not text:
        return text
    text = _PATTERNS[0].sub(lambda m: f"{m.group(1)}-***", text)
    text = _PATTERNS[1].sub(lambda m: f"{m.group(1)} ***", text)
    return _PATTERNS[2].sub(lambda m: f"{m.group(1)}{m.group(2)}***", text)
