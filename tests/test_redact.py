"""The one redactor: key shapes, pairs, headers, URLs, environment secrets, streaming."""

from __future__ import annotations

import os
import random
import time

import pytest

from lc_callbacks_nb.live.redact import StreamRedactor, redact

# (text, secret that must disappear, marker text that must appear)
SHAPES = [
    ("openai sk-abcdEFGH1234ijklMNOP5678qrstUVWX9012yzab", "abcdEFGH1234", "sk-***"),
    ("proj sk-proj-Ab12Cd34Ef56Gh78Ij90_Kl-Mn12", "Ab12Cd34Ef56", "sk-proj-***"),
    ("anthropic sk-ant-api03-Zx9Yw8Vu7Ts6Rq5Po4Nm3-AA", "api03-Zx9Yw8", "sk-ant-***"),
    ("hf hf_AbCdEfGhIjKlMnOpQrStUvWxYzAbCdEfGh ok", "AbCdEfGhIjKl", "hf_***"),
    ("google AIzaSyD-1a2B3c4D5e6F7g8H9i0JkLmNoPqRsTuVw", "SyD-1a2B3c4D", "AIza***"),
    ("aws AKIAIOSFODNN7EXAMPLE.", "IOSFODNN7EXAMPLE", "AKIA***"),
    ("aws ASIAY34FZKBOKMUTVV7A,", "Y34FZKBOKMUTVV7A", "ASIA***"),
    ("gh ghp_1234567890abcdefghijABCDEFGHIJ123456", "1234567890abcdef", "ghp_***"),
    ("gh gho_1234567890abcdefghijABCDEFGHIJ123456", "1234567890abcdef", "gho_***"),
    ("gh ghs_1234567890abcdefghijABCDEFGHIJ123456", "1234567890abcdef", "ghs_***"),
    (
        "gh github_pat_11ABCDEFG0abcdefghij_KLMNOPQRSTuvwxyz012345",
        "11ABCDEFG0abc",
        "github_pat_***",
    ),
    ("slack xoxb-123456789012-1234567890123-AbCdEfGhIjKl", "123456789012", "xoxb-***"),
    ("slack xoxp-123456789012-abcdefghijkl", "123456789012", "xoxp-***"),
    (
        "langsmith lsv2_pt_0123456789abcdef0123456789abcdef_0123456789",
        "0123456789abcdef",
        "lsv2_pt_***",
    ),
    ("curl -H 'Bearer eyJhbGciOiJIUzI1NiJ9.e30.abc'", "eyJhbGciOiJIUzI1NiJ9", "Bearer ***"),
    ("Authorization: Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA", "Authorization: Basic ***"),
    (
        '{"Authorization": "Token 0123456789abcdef"}',
        "0123456789abcdef",
        '"Authorization": "Token ***"',
    ),
    ("authorization=qwerty123456", "qwerty123456", "authorization=***"),
    ("https://api.x.com/v1?token=abc123def456&page=2", "abc123def456", "token=***&page=2"),
    ("key=Zm9vYmFyYmF6", "Zm9vYmFyYmF6", "key=***"),
    ("api_key: hunter2hunter2", "hunter2hunter2", "api_key: ***"),
    ('{"client_secret": "correct horse battery"}', "correct horse", '"client_secret": "***"'),
    ("{'password': 'p@ss w0rd!'}", "p@ss w0rd", "'password': '***'"),
    ("ACCESS_TOKEN=Qm9vbTEyMzQ1Ng", "Qm9vbTEyMzQ1Ng", "ACCESS_TOKEN=***"),
    ("passwd=letmein99 db_pwd=qwerty12", "letmein99", "passwd=***"),
    ("SECRET: opensesame", "opensesame", "SECRET: ***"),
    ("config(apiKey='aBcD1234eFgH')", "aBcD1234eFgH", "apiKey='***'"),
    ("x-api-key: abcd1234efgh5678", "abcd1234efgh5678", "x-api-key: ***"),
    ('{\\"api_key\\": \\"abcdef12345\\"}', "abcdef12345", '\\"api_key\\": \\"***\\"'),
    ("api_key=sk-proj-Ab12Cd34Ef56Gh78", "Ab12Cd34Ef56", "api_key=sk-proj-***"),
    ("postgres://admin:s3cr3tPass@db.local:5432/app", "s3cr3tPass", "postgres://admin:***@db"),
    ("redis://:hunter2pw@cache:6379", "hunter2pw", "redis://:***@cache"),
]


@pytest.mark.parametrize(("text", "secret", "marker"), SHAPES, ids=[s[2] for s in SHAPES])
def test_redacts_every_known_shape(text, secret, marker):
    out = redact(text)
    assert secret not in out, out
    assert marker in out, out


def test_existing_expectation_still_holds():
    text = redact("key sk-proj-abcdef1234567890 and Authorization: Bearer abcdefghijklmnop")
    assert "abcdef1234567890" not in text and "abcdefghijklmnop" not in text


def test_pairs_are_case_insensitive_and_suffixes_count():
    for name in ("KEY", "Api_Key", "OPENAI_API_KEY", "access_token", "Client_Secret", "PassWord"):
        assert redact(f"{name}=v4lu3-of-it") == f"{name}=***"
        assert redact(f"{name}: v4lu3-of-it") == f"{name}: ***"
        assert redact(f'"{name}": "v4lu3-of-it"') == f'"{name}": "***"'
        assert redact(f"'{name}': 'v4lu3-of-it'") == f"'{name}': '***'"


FALSE_POSITIVES = [
    "The skeleton of the task-force met at the desk-top.",
    "def get_key(self):\n    return self._key",
    "token count: 42",
    "max_tokens=256, 'max_tokens': 1024, 'total_tokens': 37, tokens: 12",
    "Use sk-learn or sk-image for this; ask-me-anything.",
    "monkey=banana12 turkey: roasted hotkey=ctrl+alt",
    "if key == 'abc': pass",
    "api_key = os.environ['OPENAI_API_KEY']",
    "api_key=getenv('OPENAI_API_KEY')",
    "openai_api_key=SecretStr('**********')",
    "def f(api_key: str, token: int = 0): ...",
    "api_key=None, password=null, secret=True",
    "Bearer tokens are short-lived.",
    "See https://example.com:8080/path and http://localhost:8888/lab?x=1",
    "hf_hub_download(repo_id='x') and AKIA is not a key",
    "Keyboard shortcuts: ctrl+c. The key takeaway: be kind.",
    "",
]


@pytest.mark.parametrize("text", FALSE_POSITIVES)
def test_ordinary_text_is_untouched(text):
    assert redact(text) == text


def test_idempotent():
    text = " ".join(t for t, _, _ in SHAPES)
    once = redact(text)
    assert redact(once) == once


def test_environment_values_are_redacted(monkeypatch):
    monkeypatch.setenv("MY_SERVICE_TOKEN", "zq7-no-known-shape-value")
    monkeypatch.setenv("ODD_Password_VAR", "tr0ub4dor&3")
    monkeypatch.setenv("SHORT_SECRET", "abc1234")  # 7 characters: too short to chase
    monkeypatch.setenv("HOME_DIRECTORY_X", "zq7-no-known-shape-value-but-not-secret-name")
    text = "got zq7-no-known-shape-value and tr0ub4dor&3 and abc1234 in prose"
    out = redact(text)
    assert "zq7-no-known-shape-value" not in out
    assert "tr0ub4dor" not in out
    assert "abc1234" in out
    assert out == "got *** and *** and abc1234 in prose"


def test_environment_change_after_first_use(monkeypatch):
    monkeypatch.setenv("LATE_API_KEY", "first-value-0001")
    assert redact("v=first-value-0001 w=second-value-0002") == "v=*** w=second-value-0002"
    monkeypatch.setenv("LATE_API_KEY", "second-value-0002")  # changed in a later cell
    assert redact("v=first-value-0001 w=second-value-0002") == "v=first-value-0001 w=***"
    monkeypatch.setenv("ANOTHER_TOKEN", "third-value-0003")  # a new variable
    assert redact("x third-value-0003 y") == "x *** y"
    monkeypatch.delenv("ANOTHER_TOKEN")
    assert redact("x third-value-0003 y") == "x third-value-0003 y"
    os.environ["LATE_API_KEY"] = "sk-proj-EnvValue12345"  # a shaped value keeps its prefix
    assert redact("k sk-proj-EnvValue12345") == "k sk-proj-***"


def test_one_megabyte_is_linear_and_safe():
    chunk = (
        "ordinary words and numbers 12345, x=y, key: token secret "
        "sk-sk-sk- AKIA hf_ :// \"'\\ a:b@c "
    )
    big = (chunk * (1_000_000 // len(chunk) + 1))[:1_000_000]
    adversarial = [
        big,
        "a" * 1_000_000,
        "sk-" + "a" * 1_000_000,
        'key="' + "a" * 1_000_000,
        "key=" * 250_000,
        "://" + "a:" * 500_000,
        "x_" * 500_000 + "key",
        ('token="' + "b" * 50 + "\\") * 15_000,
    ]
    for text in adversarial:
        start = time.perf_counter()
        out = redact(text)
        assert isinstance(out, str)
        assert time.perf_counter() - start < 5.0


def test_odd_unicode_never_raises():
    for text in [
        "\ud800 api_key=\udfff\ud800x",
        "sk-proj-\ud83d" * 3,
        "é" * 10 + "token=ü" * 3,
        "\x00\u200b\ufeffBearer \u0301abcdefghij",
        "\U0001f600" * 100,
    ]:
        assert isinstance(redact(text), str)
        stream = StreamRedactor()
        out = "".join(stream.feed(c) for c in text) + stream.flush()
        assert isinstance(out, str)


# --- streaming -----------------------------------------------------------------------------

STREAM_SAMPLE = (
    "Here is the config: api_key=sk-proj-Ab12Cd34Ef56Gh78Ij90 and "
    '{"password": "correct horse battery"} then Authorization: Bearer eyJabc.def-123456 '
    "plus hf_AbCdEfGhIjKlMnOpQrStUvWxYz1234 and https://bob:pa55w0rd@example.com/x. "
    "Also ENVSECRET: zq7-env-only-secret-9 end; token count: 42, skeleton sk-learn."
)


def _stream(pieces, redactor=None):
    r = redactor or StreamRedactor()
    outs = [r.feed(p) for p in pieces]
    outs.append(r.flush())
    return outs


@pytest.fixture()
def env_secret(monkeypatch):
    monkeypatch.setenv("STREAM_TEST_TOKEN", "zq7-env-only-secret-9")


def test_stream_every_two_way_split_equals_redact(env_secret):
    whole = redact(STREAM_SAMPLE)
    assert "zq7-env-only-secret-9" not in whole
    for i in range(len(STREAM_SAMPLE) + 1):
        outs = _stream([STREAM_SAMPLE[:i], STREAM_SAMPLE[i:]])
        assert "".join(outs) == whole, i


def test_stream_char_by_char_and_random_pieces_equal_redact(env_secret):
    whole = redact(STREAM_SAMPLE)
    assert "".join(_stream(list(STREAM_SAMPLE))) == whole
    rng = random.Random(7)
    for _ in range(300):
        cuts = sorted(rng.sample(range(1, len(STREAM_SAMPLE)), rng.randint(1, 25)))
        pieces = [
            STREAM_SAMPLE[a:b] for a, b in zip([0, *cuts], [*cuts, len(STREAM_SAMPLE)], strict=True)
        ]
        assert "".join(_stream(pieces)) == whole, cuts


def test_stream_never_emits_secret_characters_early(env_secret):
    secrets = ["Ab12Cd34Ef56", "correct horse", "eyJabc", "AbCdEfGhIj", "pa55w0rd", "zq7-env"]
    r = StreamRedactor()
    shown = ""
    for ch in STREAM_SAMPLE:
        shown += r.feed(ch)
        for s in secrets:
            # no prefix of a secret longer than 3 characters is ever visible
            assert s[:4] not in shown, (s, shown[-40:])
    shown += r.flush()


def test_stream_split_secret_prefix():
    r = StreamRedactor()
    out = [r.feed("key sk-pr"), r.feed("oj-abc123DEF456ghi789"), r.feed(" done")]
    out.append(r.flush())
    assert "".join(out) == "key sk-proj-*** done"
    assert "abc" not in "".join(out)


def test_stream_holds_back_little():
    r = StreamRedactor()
    assert r.feed("Hello world, this is ordinary text ") == "Hello world, this is ordinary text "
    assert r.feed("with a trailing word") == "with a trailing word"
    assert r.pending == 0
    assert r.feed(" and sk-") == " and sk-"  # the public prefix goes out at once
    assert r.feed("abc") == "" and r.pending == 3
    assert r.feed("DEF1234567890xyz!") == "***!"
    assert r.feed(" api_key=") == " api_key="
    assert r.feed("hunter22") == ""
    assert r.feed(" ok") == "*** ok"
    assert r.flush() == ""


def test_stream_hold_is_bounded_and_secret_stays_hidden():
    r = StreamRedactor(max_hold=64)
    body = "A1b2C3d4" * 100  # an 800-character key arriving in small pieces
    out = r.feed("start sk-proj-")
    for i in range(0, len(body), 10):
        out += r.feed(body[i : i + 10])
        assert r.pending <= 64 + 10
    out += r.feed(" after") + r.flush()
    assert "A1b2" not in out
    assert out.startswith("start sk-proj-***") and out.endswith(" after")


def test_stream_bounded_hold_for_long_quoted_and_env_values(monkeypatch):
    long_value = "v4lue-" * 80
    monkeypatch.setenv("BIG_SECRET", long_value)
    for text in [f'password: "{long_value} tail" ok', f"see {long_value} ok"]:
        r = StreamRedactor(max_hold=32)
        out = ""
        for i in range(0, len(text), 7):
            out += r.feed(text[i : i + 7])
            assert r.pending <= 32 + 7
        out += r.flush()
        assert "v4lue-v4lue" not in out and out.endswith(" ok")


def test_stream_long_plain_text_flows():
    r = StreamRedactor()
    text = "lorem ipsum dolor sit amet " * 2000
    out = "".join(r.feed(text[i : i + 50]) for i in range(0, len(text), 50)) + r.flush()
    assert out == text
    assert len(r._buf) < 5000
