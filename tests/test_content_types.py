"""HTML and JSON: only what a person sees is matched and masked; the rest stays intact."""

from __future__ import annotations

import json
from html.parser import HTMLParser

import pytest

from qinglang.engine.extract import extract

LISTS = """
category: gambling
weight: 10
terms:
  - 赌博
  - casino
  - {term: 网络赌场, weight: 100}
"""


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):  # type: ignore[no-untyped-def]
        self.tags.append((tag, attrs))
        self._in_script = tag in ("script", "style")

    def handle_endtag(self, tag):  # type: ignore[no-untyped-def]
        self._in_script = False

    def handle_data(self, data):  # type: ignore[no-untyped-def]
        if self._in_script:
            self.scripts.append(data)


def structure(doc: str) -> _Collect:
    p = _Collect()
    p.feed(doc)
    p.close()
    return p


PAGE = """<!DOCTYPE html>
<html><head><title>赌博 news</title>
<style>.赌博 { color: red } /* casino */</style>
<script>var casino = "赌博"; if (a < b && c > d) {}</script>
<meta name="description" content="赌博 casino">
</head>
<body class="casino">
<!-- 赌博 in a comment -->
<p data-x="赌博" title="casino night">玩赌<b>博</b>和 &#36172;&#21338; &amp; c&#97;sino</p>
<img src="/casino.png" alt="casino">
<input placeholder="赌博">
<a href="https://example.com/赌博?casino=1">link</a>
<textarea>赌博</textarea>
</body></html>"""


def test_html_masks_visible_text_only(scan) -> None:
    r = scan(PAGE, "html", lists=LISTS)
    body = r.body
    assert r.action == "mask"
    # Visible text, split across tags and written as entities, is masked.
    assert "<title>** news</title>" in body
    assert "玩*<b>*</b>和 ** &amp; ******</p>" in body
    assert 'title="****** night"' in body
    assert 'alt="******"' in body
    assert 'placeholder="**"' in body
    assert "<textarea>**</textarea>" in body
    # Markup, scripts, styles, comments, URLs and non-visible attributes are untouched.
    for intact in (
        "<style>.赌博 { color: red } /* casino */</style>",
        '<script>var casino = "赌博"; if (a < b && c > d) {}</script>',
        '<meta name="description" content="赌博 casino">',
        '<body class="casino">',
        "<!-- 赌博 in a comment -->",
        'data-x="赌博"',
        'src="/casino.png"',
        'href="https://example.com/赌博?casino=1"',
    ):
        assert intact in body
    # Still the same HTML: same tags and attributes in the same order.
    before, after = structure(PAGE), structure(body)
    assert [t for t, _ in before.tags] == [t for t, _ in after.tags]
    assert before.scripts == after.scripts


def test_html_offsets_and_text(scan) -> None:
    r = scan(PAGE, "html", lists=LISTS)
    for m in r.matches:
        assert PAGE[m.start : m.end] == m.text
    assert "赌<b>博" in [m.text for m in r.matches]
    assert "&#36172;&#21338;" in [m.text for m in r.matches]


def test_html_blocks_do_not_join_words(scan) -> None:
    r = scan("<div>赌</div><div>博</div><p>网络赌</p><p>场</p>", "html", lists=LISTS)
    assert r.matches == []


def test_unchanged_html_is_identical(scan) -> None:
    doc = "<html><body><p>今天天气很好</p><script>赌博()</script></body></html>"
    r = scan(doc, "html", lists=LISTS)
    assert r.action == "allow" and r.body == doc and not r.changed


@pytest.mark.parametrize(
    "broken",
    [
        "<p>赌博 <b>unclosed",
        "<p title='赌博>赌博</p>",
        "<<<>>> 赌博 </p></div></html>",
        "<!-- never closed 赌博",
        "<script>赌博",
        "<p>赌博 &#99999999; &bogus; &",
        "<",
        "",
        "<p a=b c='d' e=\"f\" g>赌博</p",
    ],
)
def test_malformed_html_never_crashes(scan, broken: str) -> None:
    r = scan(broken, "html", lists=LISTS)
    assert r.action in ("allow", "mask")
    assert len(r.body) == len(broken) or r.body == broken


def test_json_masks_string_values_not_keys(scan) -> None:
    doc = json.dumps(
        {
            "赌博": "去赌场玩赌博",
            "list": ["casino", 1, True, None, {"casino": "赌博"}],
            "escaped": '\u8d4c\u535a and \\"casino\\"',
            "n": 3.5,
        },
        ensure_ascii=False,
    )
    doc = doc.replace("赌博 and", "\\u8d4c\\u535a and")
    r = scan(doc, "json", lists=LISTS)
    out = json.loads(r.body)
    assert set(out) == {"赌博", "list", "escaped", "n"}  # keys intact
    assert out["赌博"] == "去赌场玩**"
    assert out["list"][0] == "******"
    assert out["list"][4] == {"casino": "**"}
    assert out["escaped"] == '** and \\"******\\"'
    assert out["n"] == 3.5


def test_json_block_on_score(scan) -> None:
    r = scan('{"msg": "欢迎来到网络赌场"}', "json", lists=LISTS)
    assert r.action == "block"


@pytest.mark.parametrize(
    "doc",
    ['{"a": "赌博', '{"a": [' * 5000 + '"赌博"' + "]" * 5000 + "}", "[1, 2,", "not json 赌博"],
)
def test_broken_or_deep_json_is_safe(scan, doc: str) -> None:
    r = scan(doc, "json", lists=LISTS)
    assert r.action in ("allow", "mask")
    if '"赌博"' in doc:
        assert '"**"' in r.body


def test_json_escapes_of_every_kind(scan) -> None:
    # Words spelled with escapes are found and masked escape by escape; keys, broken
    # escapes, a surrogate pair and an unterminated last string stay as they were.
    doc = (
        '{"\\u8d4c\\u535a": "\\u8d4c\\u535a\\uD83D\\uDE00", "b" : "赌\\u535a\\q\\u12",'
        ' "c": ["", "", "x\\"赌博\\"\\n"], "d": "\\u0041\\/", "e": "赌博'
    )
    r = scan(doc, "json", lists=LISTS)
    assert r.body == (
        '{"\\u8d4c\\u535a": "**\\uD83D\\uDE00", "b" : "**\\q\\u12",'
        ' "c": ["", "", "x\\"**\\"\\n"], "d": "\\u0041\\/", "e": "赌博'
    )
    # One boundary before each value; the empty values share theirs with the next one.
    assert extract(doc, "json").text == '\x1e赌博\U0001f600\x1e赌博qu12\x1ex"赌博"\n\x1eA/'


def test_json_lone_surrogate_escapes_neither_fail_nor_hide_words(scan) -> None:
    # Half an emoji (a string cut inside a surrogate pair) cannot go to the matcher: it
    # once failed the whole scan, and the response went out unfiltered.
    doc = '{"a": "\\ud83d赌博", "b": ["赌\\udc00博", "\\uD83D\\u0041\\u0041\\uDC00 ok"]}'
    r = scan(doc, "json", lists=LISTS)
    assert r.action == "mask"
    assert r.body == '{"a": "\\ud83d**", "b": ["*\\udc00*", "\\uD83D\\u0041\\u0041\\uDC00 ok"]}'
    assert extract(doc, "json").text == "\x1e赌博\x1e赌博\x1eAA ok"


def test_plain_text(scan) -> None:
    r = scan("赌博\ncasino\nclassic", "text", lists=LISTS)
    assert r.body == "**\n******\nclassic"


def test_markup_inside_scripts_and_quotes_is_not_text(scan) -> None:
    doc = (
        '<SCRIPT type="x">document.write("<b>赌博</b>")</SCRIPT >'
        '<a title="a > b 赌博" href="x">go</a>'
        '<textarea placeholder="赌博">赌博 <b>not a tag</b></textarea>'
        "<p>ok</p><style>p::after { content: '赌博' }</style>"
    )
    r = scan(doc, "html", lists=LISTS)
    assert r.body == (
        '<SCRIPT type="x">document.write("<b>赌博</b>")</SCRIPT >'
        '<a title="a > b **" href="x">go</a>'
        '<textarea placeholder="**">** <b>not a tag</b></textarea>'
        "<p>ok</p><style>p::after { content: '赌博' }</style>"
    )


def test_plaintext_and_unclosed_elements(scan) -> None:
    r = scan("<p>a</p><plaintext>赌博 <b>x</b>", "html", lists=LISTS)
    assert r.body == "<p>a</p><plaintext>** <b>x</b>"
    r = scan("<title>赌博", "html", lists=LISTS)
    assert r.body == "<title>**"
    r = scan("<script>赌博", "html", lists=LISTS)
    assert r.body == "<script>赌博"


def test_tag_names_are_ascii_case_insensitive_only(scan) -> None:
    # A browser lower-cases tag names in ASCII only: "<ſcript>" (long s) is not a tag but
    # text on the screen, and "<ſtyle>" cannot hide words either; "<SCRİPT>" is no script.
    doc = "<p>a</p><ſcript>赌博</ſcript><ſtyle>赌博</ſtyle><ScRiPt>赌博()</sCrIpT>"
    r = scan(doc, "html", lists=LISTS)
    assert r.body == "<p>a</p><ſcript>**</ſcript><ſtyle>**</ſtyle><ScRiPt>赌博()</sCrIpT>"
    r = scan("<tİtle>赌博</tİtle><a tİtle='赌博' TITLE='赌博'>x</a>", "html", lists=LISTS)
    assert r.body == "<tİtle>**</tİtle><a tİtle='赌博' TITLE='**'>x</a>"
