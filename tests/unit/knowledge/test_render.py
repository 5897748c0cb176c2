"""Rendering an article's Markdown: what an editor means comes out, and nothing active does.

Hostile input tried: script and style tags, event handlers on raw tags, javascript:,
vbscript:, data: and entity-encoded javascript: links (inline, reference and autolink
forms), raw iframes/forms/objects, images (tracking pixels), inline styles, a quote
breaking out of an href, markup in link titles, NUL characters.
"""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from cti.knowledge.render import ALLOWED_ATTRIBUTES, ALLOWED_TAGS, URL_SCHEMES, excerpt, to_html

HOSTILE = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x](&#106;avascript:alert(1))",
    "[x](java\tscript:alert(1))",
    "[x](vbscript:msgbox(1))",
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[x][r]\n\n[r]: javascript:alert(1)",
    "<javascript:alert(1)>",
    "<iframe src=https://evil.example></iframe>",
    "<form action=https://evil.example><input name=p></form>",
    "<object data=x></object>",
    "<style>body{display:none}</style>",
    '<p style="position:fixed;top:0">fake login</p>',
    '[x](https://ok.example "a\\" onmouseover=\\"alert(1)")',
    "![pixel](https://tracker.example/p.gif)",
    "<svg onload=alert(1)>",
    "<div onclick=alert(1)>x</div>",
    "x\x00<script>alert(1)</script>",
]


class _Elements(HTMLParser):
    """Every element and attribute the browser would build from the HTML."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes.extend((tag, name, value or "") for name, value in attrs)


def _elements(html: str) -> _Elements:
    parser = _Elements()
    parser.feed(html)
    parser.close()
    return parser


@pytest.mark.parametrize("text", HOSTILE)
def test_nothing_active_comes_out(text):
    html = to_html(text)
    found = _elements(html)
    assert set(found.tags) <= ALLOWED_TAGS, html
    for tag, name, value in found.attributes:
        assert name in ALLOWED_ATTRIBUTES.get(tag, set()) | ({"rel"} if tag == "a" else set())
        if name == "href":
            scheme = value.split(":", 1)[0].lower() if ":" in value else ""
            assert scheme in URL_SCHEMES or not scheme, value
    # and what the browser shows as text is the hostile text, escaped
    assert "<script" not in html.lower()


def test_hostile_markup_is_shown_as_the_text_it_is():
    assert to_html("<script>alert(1)</script>") == "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>\n"
    assert "&lt;b&gt;" in to_html("<b>not bold</b>")


def test_what_an_editor_writes_is_rendered():
    html = to_html(
        "# Gas leak\n\n**Leave** the flat, *then* call [the gas board](https://gas.example/x).\n\n"
        "- open windows\n- no switches\n\n1. one\n2. two\n\n`code`\n\n> quote\n\n"
        "| a | b |\n|---|---|\n| 1 | 2 |\n\n~~old~~ [mail](mailto:help@example.org) "
        "[call](tel:+861234)"
    )
    assert "<h1>Gas leak</h1>" in html
    assert "<strong>Leave</strong>" in html and "<em>then</em>" in html
    assert (
        '<a href="https://gas.example/x" rel="noopener noreferrer nofollow">the gas board</a>'
        in html
    )
    assert "<li>open windows</li>" in html and "<ol>" in html
    assert "<code>code</code>" in html and "<blockquote>" in html
    assert "<table>" in html and "<td>2</td>" in html
    assert "<s>old</s>" in html
    assert 'href="mailto:help@example.org"' in html and 'href="tel:+861234"' in html


def test_excerpt_is_plain_text_cut_at_the_limit():
    assert (
        excerpt("# Title\n\nSome **bold** & <i>raw</i> text") == "Title Some bold & <i>raw</i> text"
    )
    long = excerpt("word " * 100, limit=50)
    assert len(long) <= 50 and long.endswith("…")
