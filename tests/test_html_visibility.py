"""What the browser shows of a page is scanned and masked in place; what cannot be masked
in place (an embedded document, an XML entity) is emptied or blocked (docs/matching.md)."""

from __future__ import annotations

import base64
import textwrap

import pytest

from qinglang.content import xmldtd
from qinglang.content.pipeline import ScanJob, run_job
from qinglang.engine.embedded import decode_url
from qinglang.engine.lists import load_lists
from qinglang.engine.scanner import Engine
from qinglang.policy.config import Profile

LIST = """
    category: gambling
    lang: zh
    terms:
      - {term: 网络赌场, weight: 40}
      - {term: 赌博网站, weight: 120}
"""
WORD = "网络赌场"  # masked
BAD = "赌博网站"  # blocks


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    d = tmp_path_factory.mktemp("lists")
    (d / "g.yaml").write_text(textwrap.dedent(LIST), encoding="utf-8")
    return Engine(load_lists([d], use_cache=False))


def served(engine: Engine, page: str, ctype: str = "text/html; charset=utf-8") -> tuple[str, str]:
    out = run_job(engine, ScanJob(page.encode(), ctype, "", None, Profile()))
    body = out.body.decode() if out.body is not None else page
    return out.status, body


@pytest.mark.parametrize(
    "page",
    [
        f"<xmp>{WORD}</xmp>",
        f"<plaintext>{WORD}",
        f"<!-->{WORD}<!-- -->",
        f"<!--->{WORD}",
        f"<svg><![CDATA[{WORD}]]></svg>",
        f"<svg><style><p>{WORD}</style>",
        f"<svg><script><p>{WORD}</script>",
        f'<input value="{WORD}">',
        f'<iframe srcdoc="<p>{WORD}</p>"></iframe>',
        f"<noscript><p>{WORD}</p></noscript>",
        f"<title>{WORD}</title>",
    ],
)
def test_masked_in_place(engine: Engine, page: str) -> None:
    status, body = served(engine, page)
    assert status == "mask" and WORD not in body and "****" in body
    assert len(body) == len(page)  # one mask character per character: markup intact


def test_references_of_any_length_are_masked_whole(engine: Engine) -> None:
    page = "<p>&#000000000000000000032593;络赌场</p>"  # 网 with 21 leading zeros
    status, body = served(engine, page)
    assert status == "mask" and body == "<p>****</p>"


@pytest.mark.parametrize(
    ("page", "emptied"),
    [
        (f'<iframe srcdoc="&lt;b&gt;{WORD}&lt;/b&gt;"></iframe>', '<iframe srcdoc=""></iframe>'),
        (
            '<iframe src="data:text/html,%E7%BD%91%E7%BB%9C%E8%B5%8C%E5%9C%BA"></iframe>',
            '<iframe src=""></iframe>',
        ),
        (
            '<object data="data:text/html;base64,PGI+572R57uc6LWM5Zy6PC9iPg=="></object>',
            '<object data=""></object>',
        ),
    ],
)
def test_embedded_documents_are_emptied(engine: Engine, page: str, emptied: str) -> None:
    status, body = served(engine, "<p>ok</p>" + page)
    assert status == "mask" and body == "<p>ok</p>" + emptied


def test_embedded_document_over_the_threshold_blocks(engine: Engine) -> None:
    status, _ = served(engine, f'<iframe srcdoc="&lt;b&gt;{BAD}"></iframe>')
    assert status == "block"


def test_data_urls_of_images_are_not_documents() -> None:
    assert decode_url("data:image/png;base64,iVBORw0KGgo=") is None
    assert decode_url(" data:,plain%20words") == ("text", "plain words")
    gbk = base64.b64encode(WORD.encode("gbk")).decode()
    assert decode_url(f"DATA:text/html;charset=gbk;base64,{gbk}") == ("html", WORD)
    assert decode_url("javascript:'%E7%BD%91'") == ("text", "'网'")
    assert decode_url("https://example.com/") is None


SVG_DTD = """<?xml version="1.0"?>
<!DOCTYPE svg [
  <!ENTITY a "网络">
  <!ENTITY w "&a;赌场">
]>
<svg xmlns="http://www.w3.org/2000/svg"><text x="0" y="20">&w;</text></svg>"""


def test_xml_entities_are_expanded_and_blocked_when_they_would_be_masked(engine: Engine) -> None:
    status, _ = served(engine, SVG_DTD, "image/svg+xml")
    assert status == "block"
    clean = SVG_DTD.replace("赌场", "天气")
    assert served(engine, clean, "image/svg+xml") == ("allow", clean)


def test_xml_cdata_and_self_closing_script_are_read_as_xml(engine: Engine) -> None:
    page = f'<html xmlns="http://www.w3.org/1999/xhtml"><body><![CDATA[{WORD}]]><script/>{WORD}</body></html>'
    status, body = served(engine, page, "application/xhtml+xml")
    assert status == "mask" and WORD not in body
    # The same bytes as HTML: CDATA is a comment there, and <script/> opens a script.
    assert served(engine, page, "text/html")[0] == "allow"


def test_billion_laughs_is_refused_not_expanded() -> None:
    decls = '<!ENTITY l0 "ha">' + "".join(
        f'<!ENTITY l{i} "{("&l" + str(i - 1) + ";") * 10}">' for i in range(1, 8)
    )
    doc = f"<!DOCTYPE svg [{decls}]><svg><text>&l7;</text></svg>"
    with pytest.raises(xmldtd.DtdError):
        xmldtd.expand(doc, 1_000_000)


def test_parameter_entities_fail_closed(engine: Engine) -> None:
    doc = "<!DOCTYPE svg [<!ENTITY % p \"<!ENTITY w 'x'>\"> %p;]><svg>&w;</svg>"
    status, _ = served(engine, doc, "image/svg+xml")
    assert status == "error"  # the profile's on_error: block for a filtering profile


def test_text_read_two_ways_is_masked_once(engine: Engine) -> None:
    # After </p> in MathML, older parsers stay in foreign content where <xmp> is markup
    # (references decoded); Chromium reads raw text. Both readings are scanned and the
    # masks of both land on the same characters without garbling the page.
    page = "<math></p><xmp>网&#32476;赌场 &amp; 网络赌场</xmp>"
    status, body = served(engine, page)
    assert status == "mask"
    assert body == "<math></p><xmp>**** &amp; ****</xmp>"
