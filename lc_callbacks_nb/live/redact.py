"""Keep credentials out of everything we display, send over IOPub or store.

One function, :func:`redact`, is applied to every text the extension shows or keeps (panels,
widget state, text mode, ``%lc_runs``, saved output). It hides:

* keys of a known shape (OpenAI ``sk-``/``sk-proj-``, Anthropic ``sk-ant-``, Hugging Face
  ``hf_``, Google ``AIza``, AWS ``AKIA``/``ASIA``, GitHub ``ghp_``/``gho_``/``ghs_``/
  ``github_pat_``, Slack ``xox?-``, LangSmith, Groq, Tavily, Stripe, GitLab, npm, PyPI, ...);
* ``Bearer ...`` tokens and ``Authorization: ...`` header values;
* the value of ``key``/``token``/``secret``/``password``/``passwd``/``pwd`` pairs (also as
  suffixes: ``api_key``, ``access_token``, ``client_secret``, ``apiKey``) written ``k=v``,
  ``k: v``, ``"k": "v"`` or ``'k': 'v'``;
* the password of ``scheme://user:password@host`` URLs;
* the literal value of every environment variable whose name contains KEY, TOKEN, SECRET,
  PASSWORD or PASSWD (8 characters or more), so a credential of no known shape is caught too.
  The environment is re-read when it changes, checked by a cheap fingerprint.

Only secret characters are replaced, by ``***``; a key's public prefix stays so the reader
knows what was there (``sk-proj-***``, ``hf_***``, ``Bearer ***``, ``api_key=***``).

:class:`StreamRedactor` does the same for text that arrives in pieces: it holds back only a
trailing fragment that could still turn out to be (part of) a secret, at most ``max_hold``
characters, so that the concatenated output equals ``redact`` of the whole text.

All patterns are linear: no nested quantifiers, every run is a single character class.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from typing import Any

__all__ = ["StreamRedactor", "redact", "redact_model_text", "secret_name"]

MARK = "***"

# --------------------------------------------------------------------------------------------
# Known key shapes: public prefix -> (kind, minimum body length). The body is the rest of the
# token ([A-Za-z0-9_-]); it is checked in Python so that ordinary words stay untouched.
#   "distinct": prefix alone is distinctive; body of at least n characters.
#   "random":   body of at least n characters that looks random (a digit or an upper-case
#               letter, or very long) - keeps "sk-learn-style-words" intact.
#   "alnum":    like "random", and the body is letters and digits only (hf_, gh*_).
#   "aws":      16 to 24 upper-case letters or digits.
# --------------------------------------------------------------------------------------------
_SHAPES: dict[str, tuple[str, int]] = {
    "sk-ant-": ("distinct", 8),  # Anthropic
    "sk-proj-": ("distinct", 8),  # OpenAI project key
    "sk-svcacct-": ("distinct", 8),  # OpenAI service account
    "sk-admin-": ("distinct", 8),  # OpenAI admin key
    "sk-or-": ("distinct", 8),  # OpenRouter
    "sk-": ("random", 16),  # OpenAI legacy, DeepSeek, ...
    "pk-": ("random", 16),
    "rk-": ("random", 16),
    "sk_live_": ("distinct", 8),  # Stripe
    "sk_test_": ("distinct", 8),
    "rk_live_": ("distinct", 8),
    "rk_test_": ("distinct", 8),
    "hf_": ("alnum", 20),  # Hugging Face
    "AIza": ("distinct", 30),  # Google
    "AKIA": ("aws", 16),  # AWS access key id
    "ASIA": ("aws", 16),  # AWS temporary key id
    "ghp_": ("alnum", 20),  # GitHub
    "gho_": ("alnum", 20),
    "ghs_": ("alnum", 20),
    "ghu_": ("alnum", 20),
    "ghr_": ("alnum", 20),
    "github_pat_": ("distinct", 20),
    "xoxa-": ("distinct", 10),  # Slack
    "xoxb-": ("distinct", 10),
    "xoxe-": ("distinct", 10),
    "xoxo-": ("distinct", 10),
    "xoxp-": ("distinct", 10),
    "xoxr-": ("distinct", 10),
    "xoxs-": ("distinct", 10),
    "xapp-": ("distinct", 10),
    "glpat-": ("distinct", 16),  # GitLab
    "lsv2_pt_": ("distinct", 16),  # LangSmith
    "lsv2_sk_": ("distinct", 16),
    "gsk_": ("random", 20),  # Groq
    "tvly-": ("random", 16),  # Tavily
    "pplx-": ("random", 16),  # Perplexity
    "xai-": ("random", 20),  # xAI
    "r8_": ("alnum", 20),  # Replicate
    "npm_": ("alnum", 30),  # npm
    "pypi-": ("distinct", 30),  # PyPI
}
_PREFIX_ALT = "|".join(re.escape(p) for p in sorted(_SHAPES, key=len, reverse=True))
_TOKEN_CH = r"[A-Za-z0-9_\-]"
_SHAPE_AT = re.compile(rf"(?P<p>{_PREFIX_ALT})(?P<v>{_TOKEN_CH}*)")
_TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
# Finding shape candidates fast: every prefix but AIza/AKIA/ASIA contains "-" or "_"; a
# character-class scan finds the separators and look-behinds keep those ending a prefix's
# first segment ("sk-", "github_", "xoxb-"), from which the prefix start follows.
_SEGMENTS = sorted(
    {
        p[: min(i for i in (p.find("-"), p.find("_")) if i >= 0) + 1]
        for p in _SHAPES
        if "-" in p or "_" in p
    },
    key=len,
    reverse=True,
)
_SEG_HINT = re.compile(
    "[-_](?<="
    + "|".join(sorted({re.escape(g[-2:]) for g in _SEGMENTS}))
    + ")(?:"
    + "|".join(f"(?<={re.escape(g)})" for g in _SEGMENTS)
    + ")"
)
_SEGS_BY_END: dict[str, tuple[str, ...]] = {}
for _g in _SEGMENTS:  # longest first, so earlier starts come first
    _SEGS_BY_END[_g[-2:]] = (*_SEGS_BY_END.get(_g[-2:], ()), _g)
_A_HINT = re.compile(r"A(?:Iza|KIA|SIA)")
_AWS_BODY = re.compile(r"[A-Z0-9]{16,24}")

# "Bearer <token>"
_BEARER_CH = r"[A-Za-z0-9\-._~+/]"
_BEARER_RE = re.compile(rf"(?i:\bbearer)[ \t]+(?P<v>{_BEARER_CH}+=*)")
_BEARER_TAIL = re.compile(rf"(?i:\bbearer)(?:[ \t]+(?P<v>{_BEARER_CH}*=*))?\Z")

# "Authorization: <scheme> <credentials>" (also JSON / repr / k=v forms)
_SCHEMES = r"(?i:bearer|basic|token|digest|negotiate|apikey|key|hmac|aws4-hmac-sha256)"
_AUTH_VALUE = r"[^\s'\"\\,;}\]]"
_AUTH_HEAD = r"(?i:\bauthorization)\\?[\"']?[ \t]*"  # also inside Proxy-Authorization
_AUTH_RE = re.compile(
    rf"{_AUTH_HEAD}[:=][ \t]*(?:\\?[\"'])?(?:{_SCHEMES}[ \t]+)?(?P<v>{_AUTH_VALUE}+)"
)
_AUTH_TAIL = re.compile(
    rf"{_AUTH_HEAD}(?:[:=][ \t]*(?:\\?[\"'])?(?:{_SCHEMES}[ \t]+)?(?P<v>{_AUTH_VALUE}*))?\Z"
)

# "<name>=<value>" where the name ends in a secret word. "token", "secret", "password" and
# "passwd" may be glued to anything before them (accesstoken); "key", "pwd", "sig" and
# "signature" must start the name, follow a separator (api_key, x-api-key, aws.key), follow a
# lower-case letter in camelCase (apiKey), or follow a few known words (apikey, secretkey), so
# that monkey=, turkey=, hotkey= are left alone.
_GLUED_KEY = "".join(
    rf"|(?<=(?i:{w}))" for w in ("api", "access", "secret", "private", "auth", "pass", "master")
)
_KEYWORD = (
    r"(?:(?i:token|secret|passw(?:or)?d)"
    rf"|(?:(?<=[_.\-])|(?<![\w.\-]){_GLUED_KEY})(?i:key|pwd|signature|sig)"
    r"|(?<=[a-z0-9])(?:Key|KEY|Pwd|PWD|Signature|Sig))"
)
_SEP = r"\\?[\"']?[ \t]*(?:=(?![=>~])|:(?![:=]))[ \t]*"
_DQ = r"[^\"\n\\]*(?:\\.[^\"\n\\]*)*"
_SQ = r"[^'\n\\]*(?:\\.[^'\n\\]*)*"
_BARE_CH = r"[^\s\"'`,;&<>(){}\[\]\\]"
_PAIR_RE = re.compile(
    rf"{_KEYWORD}{_SEP}"
    rf"(?:\"(?P<dq>{_DQ})\"|'(?P<sq>{_SQ})'|(?:\\[\"'])?(?P<bv>{_BARE_CH}+))"
)
_PAIR_TAIL = re.compile(
    rf"{_KEYWORD}\\?[\"']?[ \t]*(?:(?:=(?![=>~])|:(?![:=]))[ \t]*"
    rf"(?:\"(?P<dq>{_DQ}\\?)|'(?P<sq>{_SQ}\\?)|(?:\\[\"']?)?(?P<bv>{_BARE_CH}*)))?\Z"
)
# Values that are not secrets even after a secret-looking name (code, placeholders, types).
_NOT_SECRET = frozenset(
    {"none", "null", "nil", "true", "false", "undefined", "secretstr", "string", "optional"}
)
_SCHEME_WORDS = frozenset({"bearer", "basic", "token", "digest", "negotiate", "apikey", "key"})

# scheme://user:password@host
_URL_CH = r"[^\s/@?#'\"<>]"
_URL_RE = re.compile(rf"://[^\s/@:?#'\"<>]*:(?P<v>{_URL_CH}+)@")
_URL_TAIL = re.compile(rf"://[^\s/@:?#'\"<>]*(?::(?P<v>{_URL_CH}*))?\Z")

_PAIR_WORDS = ("key", "token", "secret", "passw", "pwd", "sig")
_ASCII_LOWER = {c: c + 32 for c in range(65, 91)}

# Continuations that swallow the rest of a secret cut by the hold limit (see StreamRedactor).
_CONT = {
    "shape": re.compile(rf"{_TOKEN_CH}*"),
    "bearer": re.compile(rf"{_BEARER_CH}*=*"),
    "auth": re.compile(rf"{_AUTH_VALUE}*"),
    "dq": re.compile(rf"{_DQ}\\?"),
    "sq": re.compile(rf"{_SQ}\\?"),
    "bv": re.compile(rf"{_BARE_CH}*"),
    "url": re.compile(rf"{_URL_CH}*"),
}


def _public_len(value: str) -> int:
    """Length of a known key prefix that ``value`` starts with (kept visible), else 0."""
    m = _SHAPE_AT.match(value)
    return len(m.group("p")) if m else 0


def _shape_ok(prefix: str, body: str) -> bool:
    kind, n = _SHAPES[prefix]
    if len(body) < n:
        return False
    if kind == "distinct":
        return True
    if kind == "aws":
        return _AWS_BODY.fullmatch(body) is not None
    if kind == "alnum" and not body.isalnum():
        return False
    return len(body) >= 32 or any(c.isdigit() or c.isupper() for c in body)


def _value_ok(value: str, after: str) -> bool:
    """Whether a pair / header value should be hidden (not code, a type or a placeholder)."""
    if len(value) < 4 or value.startswith(MARK):
        return False
    low = value.lower()
    if low in _NOT_SECRET or low in _SCHEME_WORDS:
        return False
    return after not in ("(", "[")  # os.environ["X"], getenv("X"), SecretStr('...')


# --------------------------------------------------------------------------------------------
# Environment secrets
# --------------------------------------------------------------------------------------------
_ENV_WORDS = ("KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD")
_ENV_MIN = 8
_ENV_RESCAN = 2.0  # seconds: full re-read as a backstop to the fingerprint


class _EnvSecrets:
    """Values of secret-named environment variables, re-read when the environment changes.

    Fingerprint: the size of the environment plus the raw values of the relevant variables
    (a dict lookup each), so a new variable, a changed value or a removal is noticed at once;
    a full re-read also happens every ``_ENV_RESCAN`` seconds.
    """

    def __init__(self) -> None:
        self._keys: tuple[Any, ...] = ()
        self._fp: tuple[Any, ...] | None = None
        self._at = 0.0
        # (value, length of its public key prefix), longest first; replaced as a whole so
        # that threads reading it never see a half-updated state
        self.values: tuple[tuple[str, int], ...] = ()

    def _store(self) -> Any:
        data = getattr(os.environ, "_data", None)
        return data if isinstance(data, dict) else os.environ

    def _fingerprint(self, store: Any) -> tuple[Any, ...]:
        get = store.get
        return (len(store), *[get(k) for k in self._keys])

    def current(self) -> tuple[tuple[str, int], ...]:
        store = self._store()
        now = time.monotonic()
        if now - self._at < _ENV_RESCAN and self._fingerprint(store) == self._fp:
            return self.values
        self._rescan(store)
        self._at = now
        return self.values

    def _rescan(self, store: Any) -> None:
        decode_key = getattr(os.environ, "decodekey", None) if store is not os.environ else None
        decode_value = getattr(os.environ, "decodevalue", None) if decode_key else None
        keys: list[Any] = []
        values: set[str] = set()
        for raw_key, raw_value in list(store.items()):
            try:
                name = decode_key(raw_key) if decode_key else raw_key
                value = decode_value(raw_value) if decode_value else raw_value
            except Exception:
                continue
            if not isinstance(name, str) or not isinstance(value, str):
                continue
            upper = name.upper()
            if any(w in upper for w in _ENV_WORDS):
                keys.append(raw_key)
                if len(value) >= _ENV_MIN:
                    values.add(value)
        self._keys = tuple(keys)
        self._fp = self._fingerprint(store)
        self.values = tuple((v, _public_len(v)) for v in sorted(values, key=len, reverse=True))


_ENV = _EnvSecrets()


# --------------------------------------------------------------------------------------------
# Scanning: a text -> the intervals of secret characters (and every rule match's extent)
#
# Each rule is a regex that can only match where a cheap scan finds a trigger (a prefix
# separator, a key word in the lower-cased text, "://"). The regex is tried at those places
# only, in order and without overlap, which gives exactly what ``finditer`` would give, at a
# fraction of the cost: a text without triggers costs a few ``str.find`` calls.
# --------------------------------------------------------------------------------------------
def _lower(text: str) -> str:
    """Lower-cased text with the same indices (``str.lower`` can lengthen some letters)."""
    low = text.lower()
    return low if len(low) == len(text) else text.translate(_ASCII_LOWER)


def _finds(low: str, words: tuple[str, ...], pos: int) -> list[int]:
    found: list[int] = []
    for w in words:
        i = low.find(w, pos)
        while i >= 0:
            found.append(i)
            i = low.find(w, i + 1)
    if len(words) > 1:
        found.sort()
    return found


def _shape_matches(text: str, pos: int = 0) -> Iterator[re.Match[str]]:
    """Matches of the key shapes from ``pos`` on, as ``finditer`` of the shapes would give.

    Prefixes with a separator are found from their first segment's separator; AIza, AKIA and
    ASIA by their literal start. A match must start a token, so the two kinds never overlap.
    """
    if "-" in text or "_" in text:
        floor = i = pos
        while True:
            h = _SEG_HINT.search(text, i)
            if h is None:
                break
            j = i = h.end()
            for g in _SEGS_BY_END.get(text[j - 2 : j], ()):
                s = j - len(g)
                if s < floor or not text.startswith(g, s):
                    continue
                if s and text[s - 1] in _TOKEN_CHARS:
                    continue
                m = _SHAPE_AT.match(text, s)
                if m:
                    yield m
                    floor = i = m.end()
                    break
    if "A" in text:
        floor = i = pos
        while True:
            h = _A_HINT.search(text, i)
            if h is None:
                break
            s = h.start()
            i = s + 1
            if s >= floor and not (s and text[s - 1] in _TOKEN_CHARS):
                m = _SHAPE_AT.match(text, s)
                if m:
                    yield m
                    floor = i = m.end()


def _matches_at(regex: re.Pattern[str], text: str, starts: list[int]) -> Iterator[re.Match[str]]:
    end = 0
    for i in starts:
        if i >= end:
            m = regex.match(text, i)
            if m:
                yield m
                end = m.end()


def _scan(
    text: str, matches: list[tuple[int, int]] | None = None, *, pairs: bool = True
) -> list[tuple[int, int]]:
    """Sorted, merged (overlapping only) intervals of secret characters in ``text``.

    ``matches``, if given, receives the extent of every rule match (used by the stream
    redactor to find restart points that no match straddles).
    """
    found: list[tuple[int, int]] = []

    def add(s: int, e: int) -> None:
        if s < e:
            found.append((s, e))

    def value(start: int, val: str, end: int) -> None:
        if _value_ok(val, text[end : end + 1]):
            add(start + _public_len(val), start + len(val))

    for m in _shape_matches(text):
        if matches is not None:
            matches.append(m.span())
        if _shape_ok(m.group("p"), m.group("v")):
            add(*m.span("v"))
    low = _lower(text)
    if "bearer" in low:
        for m in _matches_at(_BEARER_RE, text, _finds(low, ("bearer",), 0)):
            if matches is not None:
                matches.append(m.span())
            if len(m.group("v")) >= 8:
                value(m.start("v"), m.group("v"), m.end())
    if "authorization" in low:
        for m in _matches_at(_AUTH_RE, text, _finds(low, ("authorization",), 0)):
            if matches is not None:
                matches.append(m.span())
            value(m.start("v"), m.group("v"), m.end())
    if "=" in text or ":" in text:
        for m in _matches_at(_PAIR_RE, text, _finds(low, _PAIR_WORDS, 0) if pairs else []):
            if matches is not None:
                matches.append(m.span())
            g = "dq" if m.group("dq") is not None else "sq" if m.group("sq") is not None else "bv"
            value(m.start(g), m.group(g), m.end())
        if "://" in text:
            for m in _matches_at(_URL_RE, text, _finds(text, ("://",), 0)):
                if matches is not None:
                    matches.append(m.span())
                add(*m.span("v"))
    for v, skip in _ENV.current():
        i = text.find(v)
        if i >= 0:
            while i >= 0:
                add(i + skip, i + len(v))
                i = text.find(v, i + 1)
    if not found:
        return found
    found.sort()
    merged = [found[0]]
    for s, e in found[1:]:
        ps, pe = merged[-1]
        if s < pe:
            if e > pe:
                merged[-1] = (ps, e)
        else:
            merged.append((s, e))
    return merged


def _apply(text: str, spans: list[tuple[int, int]], start: int, stop: int) -> str:
    """``text[start:stop]`` with every span (clipped to the range) replaced by the marker."""
    out: list[str] = []
    pos = start
    for s, e in spans:
        if e <= start or s >= stop:
            continue
        s, e = max(s, start), min(e, stop)
        out.append(text[pos:s])
        out.append(MARK)
        pos = e
    out.append(text[pos:stop])
    return "".join(out)


def redact(text: str) -> str:
    """Replace every credential in ``text`` by a marker (``sk-proj-***``, ``api_key=***``).

    Never raises; linear in the length of the text.
    """
    if not text:
        return text
    if not isinstance(text, str):
        text = str(text)
    spans = _scan(text)
    if not spans:
        return text
    return _apply(text, spans, 0, len(text))


_SECRET_NAME = re.compile(rf"(?:{_KEYWORD}|(?i:authorization))\Z")


def secret_name(name: str) -> bool:
    """Whether a field called ``name`` holds a credential, by the rule of ``name=value`` pairs
    (``api_key``, ``accessToken``, ``client_secret``, ``password``; not ``monkey``).

    Structured values (a dict, a model's fields) have no ``=`` for :func:`redact` to see:
    their readers ask this for each key and hide the whole value.
    """
    return isinstance(name, str) and _SECRET_NAME.search(name) is not None


def redact_model_text(text: str) -> str:
    """:func:`redact` for what a model wrote: every rule except ``name=value`` pairs.

    Prose and Markdown are full of ``Key: value`` lines that are not credentials; key shapes,
    ``Bearer``/``Authorization`` credentials, ``user:pass@`` URLs and the values of the
    environment's secrets are caught in model text as everywhere else.
    """
    if not text:
        return text
    if not isinstance(text, str):
        text = str(text)
    spans = _scan(text, pairs=False)
    if not spans:
        return text
    return _apply(text, spans, 0, len(text))


# --------------------------------------------------------------------------------------------
# Streaming
# --------------------------------------------------------------------------------------------
def _open_tails(text: str, lo: int, pairs: bool = True) -> Iterator[tuple[int, int, Any]]:
    """Rule matches that reach the end of ``text`` and could still grow into a secret.

    Yields (match start, where the secret part starts, continuation) for those starting at or
    after ``lo``; the continuation swallows the rest of that secret after a forced cut.
    """
    n = len(text)
    for m in _shape_matches(text, lo):
        if m.end() == n:
            yield m.start(), m.start("v"), _CONT["shape"]
    low = _lower(text)
    tails: tuple[tuple[re.Pattern[str], tuple[str, ...], str], ...] = (
        (_BEARER_TAIL, ("bearer",), "bearer"),
        (_AUTH_TAIL, ("authorization",), "auth"),
        (_PAIR_TAIL, _PAIR_WORDS if pairs else (), ""),
    )
    for regex, words, kind in tails:
        for i in _finds(low, words, lo):
            t = regex.match(text, i)
            if t:
                if kind:
                    yield i, t.start("v") if t.group("v") is not None else n, _CONT[kind]
                else:
                    for g in ("dq", "sq", "bv"):
                        if t.group(g) is not None:
                            yield i, t.start(g), _CONT[g]
                            break
                    else:
                        yield i, n, None
                break
    for i in _finds(text, ("://",), lo):
        u = _URL_TAIL.match(text, i)
        if u:
            yield i, u.start("v") if u.group("v") is not None else n, _CONT["url"]
            break
    for value, skip in _ENV.current():
        first = value[0]
        i = text.find(first, max(lo, n - len(value) + 1))
        while i >= 0:
            if value.startswith(text[i:]):
                yield i, min(i + skip, n), ("env", value, i)
                break
            i = text.find(first, i + 1)


class StreamRedactor:
    """Redact text that arrives in pieces (model tokens), emitting as much as is safe.

    ``feed(piece)`` returns the text that can be shown now, ``flush()`` the rest at the end;
    their concatenation equals ``redact(whole text)``. Only a trailing fragment that could
    still become secret characters is held back (for example ``hf_abc`` or ``api_key=x``; a
    key's public prefix and a ``key=`` name go out at once), at most ``max_hold`` characters.
    Past that limit the fragment is shown as ``***`` and the rest of that secret is swallowed
    as it arrives, so no secret character is ever emitted.
    """

    _CONTEXT = 256  # characters kept before the emitted position, for names and lookbehinds
    _WINDOW = 4096  # hard bound on the kept text when no clean restart point exists

    def __init__(self, max_hold: int = 256, *, pairs: bool = True) -> None:
        self.max_hold = max(16, int(max_hold))
        self.pairs = pairs  # False: model text (redact_model_text's rules)
        self._buf = ""  # kept raw text: some context, then the not yet emitted part
        self._done = 0  # index in _buf up to which output has been emitted
        self._cont: Any = None  # continuation being swallowed after a forced cut
        self._forced = 0  # how many times the hold limit forced a cut (for tests)

    @property
    def pending(self) -> int:
        """Number of characters held back."""
        return len(self._buf) - self._done

    def feed(self, piece: str) -> str:
        if not piece:
            return ""
        if not isinstance(piece, str):
            piece = str(piece)
        self._buf += piece
        try:
            return self._emit(final=False)
        except Exception:  # never break a run; fall back to whole-buffer redaction
            return self._emit_all()

    def flush(self) -> str:
        try:
            out = self._emit(final=True)
        except Exception:
            out = self._emit_all()
        self._buf, self._done, self._cont = "", 0, None
        return out

    def _emit_all(self) -> str:
        text = self._buf
        out = "" if self._cont is not None else redact(text[self._done :])
        self._buf, self._done, self._cont = "", 0, None
        return out

    def _swallow(self, final: bool) -> bool:
        """Consume the continuation of a secret cut by the hold limit; True while it goes on."""
        buf, done, cont = self._buf, self._done, self._cont
        if isinstance(cont, tuple):  # ("env", value, characters already seen)
            _, v, k = cont
            rest = v[k:]
            j = 0
            limit = min(len(rest), len(buf) - done)
            while j < limit and buf[done + j] == rest[j]:
                j += 1
            self._done = done + j
            if j == len(rest) or done + j < len(buf) or final:
                self._cont = None
                return False
            self._cont = ("env", v, k + j)
            return True
        m = cont.match(buf, done)
        self._done = m.end()
        if self._done < len(buf) or final:
            self._cont = None
            return False
        return True

    def _emit(self, final: bool) -> str:
        if self._cont is not None and self._swallow(final):
            self._trim(self._done)
            return ""
        buf, done = self._buf, self._done
        n = len(buf)
        matches: list[tuple[int, int]] = []
        spans = _scan(buf, matches, pairs=self.pairs)
        cut, cont, open_start = n, None, n
        if not final:
            lo = max(0, done - 64)
            for start, secret, c in _open_tails(buf, lo, self.pairs):
                open_start = min(open_start, start)
                if secret < cut:
                    cut, cont = max(secret, done), c
            for s, e in spans:  # never cut inside a complete secret
                if s < cut < e:
                    cut = max(s, done)
                    cont = _CONT["shape"] if cont is None else cont
        out = _apply(buf, spans, done, cut)
        if not final and n - cut > self.max_hold:
            out += MARK
            self._forced += 1
            if isinstance(cont, tuple):  # ("env", value, where it started)
                cont = ("env", cont[1], n - cont[2])
            self._cont = cont if cont is not None else _CONT["shape"]
            cut = n
            open_start = n
        self._done = cut
        self._trim(min(cut, open_start), matches)
        return out

    def _trim(self, limit: int, matches: list[tuple[int, int]] | None = None) -> None:
        """Drop kept text before a clean restart point well before ``limit``.

        A clean point follows a whitespace character (so lookbehinds see the same as at the
        start of a text) and lies inside no rule match, so scanning from there finds exactly
        the matches a scan of the whole text would.
        """
        buf = self._buf
        target = min(limit, self._done) - self._CONTEXT
        if target <= 0:
            return
        # The last non-whitespace run could still be the start of a name or key.
        inside = matches or []
        point = target
        while point > 0:
            ws = max(buf.rfind(" ", 0, point), buf.rfind("\n", 0, point), buf.rfind("\t", 0, point))
            if ws < 0:
                point = 0
                break
            point = ws + 1
            if not any(s < point < e for s, e in inside):
                break
            point = ws
        if point <= 0:
            if len(buf) - self._done + self._CONTEXT < self._WINDOW and self._done < self._WINDOW:
                return
            point = max(1, self._done - self._CONTEXT)  # no clean point: bound the memory
        self._buf = buf[point:]
        self._done -= point
