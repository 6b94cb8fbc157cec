"""Model answers of the shapes real models write, at any length, for the streaming renderer's
tests and benchmark (issue #16): prose with and without blank lines, tight and loose lists,
a table, long fenced code in several languages (multi-line strings and comments included),
quotes, a list inside a quote, code inside list items, and a mix of all of them.

``answer(shape, tokens)`` repeats the shape's unit until the text has at least that many
tokens (counted by the embedded server's tokenizer, which is what streams them).
"""

from __future__ import annotations

from collections.abc import Callable

from lc_callbacks_nb.offline.server_script import tokenize


def _prose(n: int) -> str:
    return (
        f"Paragraph {n} explains step {n} with **bold** words, `inline code` and a "
        f"[link](https://example.org/{n}); it runs long enough to wrap in a panel, like real "
        "model prose tends to do.\n\n"
    )


def _prose_lines(n: int) -> str:
    # one paragraph, line after line, never a blank line; emphasis and code spans inside lines
    return (
        f"Line {n} keeps the same paragraph going with *emphasis*, `code` and plain words, "
        "without ever leaving a blank line.\n"
    )


def _tight_item(n: int) -> str:
    return f"- item {n}: **{n % 7}** things to check, see `cfg_{n}` and [docs](https://example.org/{n})\n"


def _loose_item(n: int) -> str:
    return f"{n + 1}. **Step {n}** does one thing.\n\n   It is explained in a second paragraph.\n\n"


def _row(n: int) -> str:
    return f"| {n} | `name_{n}` | {n * 3.5:.1f} | *{'yes' if n % 2 else 'no'}* |\n"


TABLE_HEAD = "| # | name | value | ok |\n|--:|:-----|------:|:--:|\n"

CODE_UNITS: dict[str, Callable[[int], str]] = {
    "python": lambda n: (
        f"def step_{n}(x, y={n}):\n"
        f'    """Docstring of step {n},\n    spread over lines."""\n'
        f"    total = x * y + {n}  # comment {n}\n"
        f'    return f"{{total}} items" if total > {n} else None\n\n'
    ),
    "javascript": lambda n: (
        f"function step{n}(x) {{\n"
        f"  /* a block comment\n     over two lines */\n"
        f"  const s = `template ${{x}}\n  line {n}`;\n"
        f'  return <div className="s{n}">{{s}}</div>;\n}}\n'
    ),
    "typescript": lambda n: (
        f"export interface Item{n} {{ id: number; name: string }}\n"
        f"const list{n}: Array<Item{n}> = [];\n"
        f"function get{n}<T>(xs: T[]): T | undefined {{ return xs[{n % 3}]; }}\n"
    ),
    "sql": lambda n: (
        f"SELECT id, name /* multi\n   line */ FROM t{n}\nWHERE note = 'it''s\n{n}' AND v > {n};\n"
    ),
    "bash": lambda n: f'for i in $(seq {n}); do\n  echo "step $i of {n}" >> log_{n}.txt\ndone\n',
    "rust": lambda n: (
        f'fn step_{n}(x: u32) -> String {{\n    let s = r#"raw\n{n}"#;\n    format!("{{}}{{}}", s, x)\n}}\n'  # noqa: E501
    ),
}


def _fence(lang: str) -> Callable[[int], str]:
    return CODE_UNITS[lang]


def _quote_line(n: int) -> str:
    return f"> Quoted line {n} of a long quote, with *emphasis* and `code`.\n"


def _quote_item(n: int) -> str:
    return f"> - quoted item {n} with **bold** text\n"


def _code_item(n: int) -> str:
    return f"{n + 1}. Run this:\n\n   ```bash\n   echo step {n}\n   ls -la /tmp/{n}\n   ```\n"


def _mixed(n: int) -> str:
    return (
        f"## Part {n}\n\n{_prose(n)}{_tight_item(n)}{_tight_item(n + 1)}\n"
        f"```python\n{CODE_UNITS['python'](n)}```\n\n{TABLE_HEAD}{_row(n)}{_row(n + 1)}\n"
        f"{_quote_line(n)}\n"
    )


# shape -> (text before the repeated unit, unit(n), text after)
SHAPES: dict[str, tuple[str, Callable[[int], str], str]] = {
    "prose": ("", _prose, ""),
    "prose-no-blank-lines": ("", _prose_lines, ""),
    "tight-list": ("Checklist:\n\n", _tight_item, ""),
    "loose-list": ("Steps:\n\n", _loose_item, ""),
    "table": ("Results:\n\n" + TABLE_HEAD, _row, "\nEnd of table.\n"),
    "quote": ("", _quote_line, ""),
    "list-in-quote": ("> A quoted list:\n>\n", _quote_item, ""),
    "code-in-list": ("", _code_item, ""),
    "mixed": ("", _mixed, ""),
    **{
        f"fence-{lang}": (f"Code:\n\n```{lang}\n", _fence(lang), "```\n\nDone.\n")
        for lang in CODE_UNITS
    },
}

# The five shapes of the benchmark (issue #16).
BENCH_SHAPES = ["prose", "prose-no-blank-lines", "tight-list", "table", "fence-python"]


def answer(shape: str, tokens: int) -> str:
    """A text of `shape` with at least `tokens` tokens."""
    head, unit, tail = SHAPES[shape]
    base = len(tokenize(head + tail))
    per = max(1, len(tokenize(unit(1))))
    parts = [head]
    n = 0
    count = base
    while count < tokens:
        piece = unit(n)
        parts.append(piece)
        count += per
        n += 1
    parts.append(tail)
    return "".join(parts)


# -- random documents: every construct, nested, with the cases that change earlier output ------

_WORDS = ["alpha", "beta", "gamma", "delta", "*em*", "**strong**", "`code`", "~~del~~", "[link](https://x.org)", "<b>raw</b>", "x_y", "2*3", "[1]", "foo]", "(bar)", "\\*", "&amp;", "https://e.org/a", "[R1]"]  # noqa: E501

# inline constructs that span lines, or stay open (a later line may close them)
_SPANS = [
    "`a code span\nover two lines` after",
    "*emphasis across\nlines* done",
    "[a link across\nlines](https://x.org) ok",
    "a ``` b\nand later `` c `` d",
    "[ref link][R1] and [R2]",
    "a stray ` tick and an *open one",
    "[an unclosed label\nstill ] later",
    "2*3 and then\n2*3 again",
]

_CODE = [
    ["def f(x):", '    """doc', "    string" + '"""', "    return x  # c"],
    [
        "const a = `tmpl",
        "${x}` + 1;",
        "/* block",
        "comment */",
        "let y = <div>hi</div>;",
        "function g() {",
        "  return 2;",
        "}",
    ],
    ['{"a": [1, 2,', '  "b"], "c": {"d": null}}'],
    ["echo $HOME", "for i in 1 2; do echo $i; done", "cat <<EOF", "text", "EOF"],
    ["<a href='x'>", "<script>var s = '</scr' + 'ipt>';</script>", "</a>"],
    ["fn main() {", '    let s = r#"raw', 'str"#;', "}"],
    ["Title", "=====", "* item", "```", "nested"],
]


def random_document(seed: int) -> str:
    """A random Markdown answer: paragraphs, headings (setext too), fences (closed or not, in
    several languages, with a hostile info string), tables, lists (tight, loose, nested, task
    items, with code and quotes inside), quotes (lazy lines too), indented code, reference
    definitions after their use, thematic breaks; sometimes CRLF or tabs."""
    import random

    r = random.Random(seed)

    def words(n: int) -> str:
        return " ".join(r.choice(_WORDS) for _ in range(n))

    def para(indent: str = "") -> str:
        lines = [words(r.randint(2, 9)) for _ in range(r.randint(1, 5))]
        if r.random() < 0.35:
            lines.insert(r.randint(0, len(lines)), r.choice(_SPANS))
        return "\n".join(indent + line for line in "\n".join(lines).split("\n"))

    def fence(indent: str = "") -> str:
        lang = r.choice(["python", "js", "typescript", "bash", "json", "", "xml", "rust",
                         "markdown", '"><script>x'])  # fmt: skip
        body = r.choice(_CODE) * r.randint(1, 4)
        if r.random() < 0.1:  # a long comment: no checkpoint for a while
            body = ["/*"] + [f"comment line {i} " + "x" * 60 for i in range(80)] + ["*/"] + body
        lines = ["```" + lang, *body] + (["```"] if r.random() < 0.9 else [])
        return "\n".join(indent + line for line in lines)

    def table() -> str:
        cols = r.randint(1, 4)
        head = "| " + " | ".join(words(1) for _ in range(cols)) + " |"
        delim = "|" + "|".join(r.choice([":--", "--:", ":-:", "---"]) for _ in range(cols)) + "|"
        rows = [
            "| " + " | ".join(words(r.randint(1, 3)) for _ in range(r.randint(1, cols + 1))) + " |"
            for _ in range(r.randint(0, 8))
        ]
        return "\n".join([head, delim, *rows])

    def lst(depth: int = 0, indent: str = "") -> str:
        ordered = r.random() < 0.4
        bullet = r.choice("-*+")
        out = []
        for i in range(r.randint(1, 6)):
            mark = f"{i + 1}." if ordered else bullet
            sub = indent + " " * (len(mark) + 1)
            head = indent + mark + " "
            k = r.random()
            if k < 0.5:
                out.append(head + words(r.randint(1, 6)))
            elif k < 0.6:
                out.append(head + f"[{r.choice(' x')}] task " + words(2))
            elif k < 0.75 and depth < 2:
                out.append(head + words(2) + "\n" + lst(depth + 1, sub))
            elif k < 0.85:
                out.append(head + words(2) + "\n" + fence(sub))
            elif k < 0.92:
                out.append(head + words(2) + "\n" + sub + "> " + words(3))
            else:
                out.append(head + words(2) + "\n\n" + para(sub))
        return ("\n\n" if r.random() < 0.3 else "\n").join(out)

    def quote() -> str:
        inner = r.choice([para(), lst(1), fence(), table()])
        lazy = r.random() < 0.3
        return "\n".join(
            line if (lazy and k and line.strip() and r.random() < 0.3) else "> " + line
            for k, line in enumerate(inner.split("\n"))
        )

    def block() -> str:
        k = r.random()
        if k < 0.25:
            return para()
        if k < 0.35:
            return "#" * r.randint(1, 3) + " " + words(3)
        if k < 0.5:
            return fence()
        if k < 0.6:
            return table()
        if k < 0.78:
            return lst()
        if k < 0.88:
            return quote()
        if k < 0.91:
            return para() + "\n" + r.choice(["===", "---"])
        if k < 0.94:
            return "    indented code\n    more code"
        if k < 0.97:
            return "[R1]: https://ref.example/1\n[R2]: https://ref.example/2 'T'"
        return "---"

    text = "".join(
        block() + r.choice(["\n\n", "\n\n", "\n", "\n\n\n"]) for _ in range(r.randint(3, 12))
    )
    if r.random() < 0.2:
        text = text.rstrip("\n")
    if r.random() < 0.05:
        text = text.replace("\n", "\r\n")
    if r.random() < 0.05:
        text = text.replace("    ", "\t")
    return text
