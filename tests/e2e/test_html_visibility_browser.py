"""Pages that hide a word from a naive HTML scanner, served through a real mitmdump with
the addon to real headless Chromium: the word is on screen when the page is loaded
directly, and never in what the child's browser renders (the text of the document and of
every frame, the tab's title, form fields).
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from headless import launch
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from .conftest import ADULT, CHILD, Proxy
from .upstream import MASK_TERM, Upstream
from .upstream import Page as Served

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

W = MASK_TERM  # weight 40: masked for the child (in place, or by emptying a frame)
B64 = base64.b64encode(f"<p>{W}</p>".encode()).decode()
PCT = quote(f"<b>{W}</b>", safe="")
GBK = quote(f'<meta charset="gbk"><b>{W}</b>'.encode("gbk"), safe="")

# (name, body, content type)
CASES = [
    ("xmp", f"<xmp>{W}</xmp>", "text/html"),
    ("plaintext", f"<p>ok</p><plaintext>{W}", "text/html"),
    ("abrupt-comment", f"<!-->{W}<!-- -->", "text/html"),
    ("abrupt-comment-dash", f"<!--->{W}", "text/html"),
    ("bang-comment-end", f"<!-- x --!>{W}", "text/html"),
    ("bogus-comments", f"<!x>{W[0]}</ x>{W[1]}<?x>{W[2:]}", "text/html"),
    ("svg-cdata", f'<svg><foreignObject width="300" height="50"><p><![CDATA[x]]>{W}</p>'
     f"</foreignObject></svg><svg><text><![CDATA[{W}]]></text></svg>", "text/html"),
    ("svg-style-breakout", f"<svg><style><p>{W}</p></style></svg>", "text/html"),
    ("svg-script-breakout", f"<svg><script><p>{W}</p></script></svg>", "text/html"),
    ("svg-title-comment", f"<svg><style><!--</style>--><p>{W}</p></svg>", "text/html"),
    ("unmatched-end-in-svg", f"<div><svg></foo><style><p>{W}</p></style></svg></div>", "text/html"),
    ("long-numeric-refs", "<p>&#0000000000032593;&#x000000000000007edc;赌场</p>", "text/html"),
    ("refs-without-semicolon", "<p>&#x7F51&#32476赌场</p>", "text/html"),
    ("title-fake-end", f"<title></titlex><!-- {W} --></title><p>ok</p>", "text/html"),
    ("input-value", f'<input value="{W}" size="40"><input placeholder="{W}">', "text/html"),
    ("textarea", f"<textarea>{W}</textarea>", "text/html"),
    ("srcdoc", f'<iframe srcdoc="<p>{W}</p>"></iframe>', "text/html"),
    ("srcdoc-escaped", f'<iframe srcdoc="&lt;p&gt;{W}&lt;/p&gt;"></iframe>', "text/html"),
    ("data-iframe", f'<iframe src="data:text/html;charset=utf-8,{PCT}"></iframe>', "text/html"),
    ("data-iframe-meta-gbk", f'<iframe src="data:text/html,{GBK}"></iframe>', "text/html"),
    ("data-iframe-base64", f'<iframe src="data:text/html;charset=utf-8;base64,{B64}"></iframe>',
     "text/html"),
    ("data-object",
     f'<object data="data:text/html;charset=utf-8;base64,{B64}" type="text/html"></object>',
     "text/html"),
    ("xhtml-dtd-entity",
     '<?xml version="1.0"?><!DOCTYPE html [<!ENTITY w "' + W + '">]>'
     '<html xmlns="http://www.w3.org/1999/xhtml"><body><p>&w;</p></body></html>',
     "application/xhtml+xml"),
    ("xhtml-cdata",
     '<html xmlns="http://www.w3.org/1999/xhtml"><body><p><![CDATA[' + W + "]]></p>"
     "<script/><p>" + W + "</p></body></html>", "application/xhtml+xml"),
    ("svg-dtd-entity",
     '<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY w "' + W + '">]>'
     '<svg xmlns="http://www.w3.org/2000/svg" width="300" height="50">'
     '<text x="0" y="20">&w;</text></svg>', "image/svg+xml"),
]  # fmt: skip

# Everything a person sees of one frame's document.
SHOWN = """() => {
  const d = document, parts = [d.title], r = d.documentElement;
  if (r) parts.push(r.innerText ?? r.textContent);
  for (const e of d.querySelectorAll('input, textarea')) parts.push(e.value, e.placeholder);
  return parts.join('\\n');
}"""


@pytest.fixture(scope="module")
def chromium() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def served(upstream: Upstream) -> list[str]:
    for name, body, ctype in CASES:
        upstream.pages[f"/vis/{name}"] = Served(
            body.encode(), {"content-type": f"{ctype}; charset=utf-8"}
        )
    return [name for name, _, _ in CASES]


def shown(page: Page, url: str) -> str:
    page.goto(url, wait_until="load")
    texts = []
    for frame in page.frames:
        try:
            texts.append(frame.evaluate(SHOWN))
        except Exception as e:  # a frame navigated away while read: read it again
            raise AssertionError(f"frame {frame.url} of {url}: {e}") from e
    return "\n".join(texts)


def _browser(p: Playwright, proxy: str | None) -> Browser:
    return launch(p, "--proxy-bypass-list=<-loopback>", proxy=proxy)


def test_each_construct_shows_the_word_without_the_filter(
    chromium: Playwright, upstream: Upstream, served: list[str]
) -> None:
    # The pages do put the word on screen: the test below would catch a miss.
    direct = _browser(chromium, None)
    try:
        page = direct.new_page()
        missing = [n for n in served if W not in shown(page, upstream.url(f"/vis/{n}"))]
    finally:
        direct.close()
    assert missing == []


def test_the_child_never_sees_the_word(
    chromium: Playwright, proxy: Proxy, upstream: Upstream, served: list[str]
) -> None:
    child = _browser(chromium, proxy.url)
    try:
        page = child.new_page()
        seen = {n: t for n in served if W in (t := shown(page, upstream.url(f"/vis/{n}")))}
        # A masked page keeps its markup: the rest of it still renders.
        ok = shown(page, upstream.url("/vis/plaintext"))
    finally:
        child.close()
    assert seen == {}
    assert "ok" in ok and "****" in ok


# A clean page with the same constructs, as real sites write them: inline SVG icons with
# styles and CDATA, MathML, templates, noscript, forms, frames, entities.
BENIGN = (
    "<!DOCTYPE html><html><head><title>天气 &amp; 公园</title>"
    "<style>p{color:#333}</style><script>var t = '<p>x</p>';</script></head><body>"
    '<svg width="16" height="16"><style><![CDATA[.a{fill:red}]]></style><title>图标</title>'
    '<path class="a" d="M0 0h16v16H0z"/></svg>'
    "<math><mi>x</mi><mo>=</mo><mn>2</mn></math>"
    "<template><li>模板</li></template><noscript><p>请开启脚本</p></noscript>"
    '<form><input value="北京" placeholder="城市"><textarea>今天天气很好</textarea></form>'
    '<iframe srcdoc="&lt;p&gt;我们去公园散步&lt;/p&gt;"></iframe>'
    '<p title="说明">今天&nbsp;天气很好&#65292;我们去公园散步。</p>'
    '<a href="data:text/plain,hello">x</a><xmp><b>不是标签</b></xmp>'
    "</body></html>"
)


def test_benign_page_passes_byte_identical(proxy: Proxy, upstream: Upstream) -> None:
    body = BENIGN.encode()
    upstream.pages["/vis/benign"] = Served(body, {"content-type": "text/html; charset=utf-8"})
    with proxy.client(CHILD) as child, proxy.client(ADULT) as adult:
        for c in (child, adult):
            r = c.get(upstream.url("/vis/benign"))
            assert r.status_code == 200 and r.content == body
