"""The risk notice on pages where personal information was masked (scan workers' code path:
``content.pipeline.run_job``, no mitmproxy, no processes)."""

from __future__ import annotations

import textwrap
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest
from mitmproxy import http

from qinglang.content.pipeline import ScanJob, ScanOutcome, insert_notice, run_job
from qinglang.engine.lists import load_lists
from qinglang.engine.scanner import Engine
from qinglang.pages.risknotice import notice_for, notice_html
from qinglang.policy.config import Profile
from qinglang.policy.hosts import PROXY_HOST, page_url, request_host

LIST = """
    category: gambling
    lang: zh
    terms:
      - {term: 网络赌场, weight: 40}
"""
PHONE = "13812345678"
ZH_TITLE = "清朗提醒：这个页面上别人的个人信息已被隐藏"
EN_TITLE = "qinglang: someone's personal information on this page was hidden"
PAGE_URL = "https://forum.example/thread/42"


def page(body: str, charset: str = "utf-8", body_tag: str = '<body class="main">') -> str:
    return (
        f'<!DOCTYPE html><html><head><meta charset="{charset}"><title>t</title></head>'
        f"{body_tag}<p>{body}</p></body></html>"
    )


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    d = tmp_path_factory.mktemp("lists")
    (d / "g.yaml").write_text(textwrap.dedent(LIST), encoding="utf-8")
    return Engine(load_lists([d], use_cache=False))


def scan(
    engine: Engine,
    body: bytes,
    ctype: str | None = "text/html; charset=utf-8",
    lang: str | None = "zh-CN,zh;q=0.9",
    profile: Profile | None = None,
) -> ScanOutcome:
    job = ScanJob(body, ctype, None, None, profile or Profile(), accept_language=lang, url=PAGE_URL)
    return run_job(engine, job, notice_for)


class _Tree(HTMLParser):
    """Start tags in document order, with their parent, as a browser's tree builder sees them
    for well-nested markup (no void elements are used in the tests' pages)."""

    VOID = frozenset({"meta", "br", "img", "input", "link", "hr"})

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.starts: list[tuple[str, str | None, dict[str, str | None]]] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.starts.append((tag, self.stack[-1] if self.stack else None, dict(attrs)))
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()


def tree(doc: str) -> _Tree:
    t = _Tree()
    t.feed(doc)
    t.close()
    return t


def test_notice_is_inserted_right_after_the_body_tag(engine: Engine) -> None:
    out = scan(engine, page(f"联系我：{PHONE}").encode())
    assert out.status == "mask"
    assert out.body is not None
    doc = out.body.decode("utf-8")
    assert PHONE not in doc and "138****5678" in doc
    head, _, rest = doc.partition('<body class="main">')
    assert rest.startswith('<details open="" lang="zh-CN"')
    assert "<details" not in head


def test_page_with_notice_is_well_formed_and_the_notice_sits_in_the_body(engine: Engine) -> None:
    out = scan(engine, page(f"电话 {PHONE}").encode())
    assert out.body is not None
    doc = out.body.decode("utf-8")
    t = tree(doc)
    assert t.errors == [] and t.stack == []
    details = [(parent, attrs) for tag, parent, attrs in t.starts if tag == "details"]
    assert details == [("body", details[0][1])]
    assert details[0][1]["data-qinglang"] == "pii-notice"
    # The notice alone is well-formed markup (it parses as XML) with its title first.
    start = doc.index("<details")
    end = doc.index("</details>") + len("</details>")
    el = ET.fromstring(doc[start:end])
    assert el[0].tag == "summary"


def test_chinese_or_english_from_accept_language(engine: Engine) -> None:
    body = page(f"手机 {PHONE}").encode()
    zh = scan(engine, body, lang="zh-CN,zh;q=0.9,en;q=0.8").body
    en = scan(engine, body, lang="en-GB,en;q=0.9").body
    none = scan(engine, body, lang=None).body
    assert zh is not None and en is not None and none is not None
    assert ZH_TITLE in zh.decode() and EN_TITLE not in zh.decode()
    assert EN_TITLE in en.decode().replace("&#x27;", "'") and ZH_TITLE not in en.decode()
    assert ZH_TITLE in none.decode()  # Chinese when the browser names neither


def test_notice_links_to_the_report_entry_with_the_page_address(engine: Engine) -> None:
    out = scan(engine, page(f"电话 {PHONE}").encode())
    assert out.body is not None
    links = [a["href"] for tag, _, a in tree(out.body.decode()).starts if tag == "a"]
    assert len(links) == 1
    u = urlsplit(links[0] or "")
    assert (u.scheme, u.hostname, u.path) == ("http", PROXY_HOST, "/report")
    assert parse_qs(u.query) == {"kind": ["pii"], "url": [PAGE_URL]}


def test_for_page_drops_the_query_from_the_report_address() -> None:
    req = http.Request.make(
        "GET",
        "https://search.example/s?q=13812345678&tok=secret",
        headers={"accept-language": "en", "sec-fetch-dest": "document"},
    )
    url = page_url(req.scheme, request_host(req), req.port, req.path)
    job = ScanJob(b"", "text/html", None, None, Profile()).for_page(req.headers, url)
    assert job.url == "https://search.example/s"
    assert job.accept_language == "en" and job.fetch_dest == "document"


def test_gbk_page_keeps_gbk(engine: Engine) -> None:
    raw = page(f"联系电话：{PHONE}，欢迎来电。", charset="gbk").encode("gbk")
    out = scan(engine, raw, ctype="text/html; charset=gbk")
    assert out.status == "mask" and out.body is not None
    assert out.content_type is None  # the header still says gbk
    doc = out.body.decode("gbk")  # strict: every inserted byte is GBK
    assert ZH_TITLE in doc and "举报这个页面" in doc
    assert ZH_TITLE.encode("gbk") in out.body
    with pytest.raises(UnicodeDecodeError):
        out.body.decode("utf-8")


def test_no_notice_in_json(engine: Engine) -> None:
    out = scan(engine, f'{{"phone": "{PHONE}", "msg": "hi"}}'.encode(), "application/json")
    assert out.status == "mask" and out.body is not None
    assert b"138****5678" in out.body and b"details" not in out.body
    assert "清朗" not in out.body.decode()


def test_no_notice_when_nothing_was_masked(engine: Engine) -> None:
    clean = scan(engine, page("今天天气很好").encode())
    assert clean.status == "allow" and clean.body is None
    words = scan(engine, page("这里有网络赌场的广告").encode())  # masked words, no personal data
    assert words.status == "mask" and words.body is not None
    assert b"<details" not in words.body


def test_no_notice_when_the_profile_turns_it_off(engine: Engine) -> None:
    out = scan(engine, page(f"电话 {PHONE}").encode(), profile=Profile(pii_notice=False))
    assert out.status == "mask" and out.body is not None
    assert b"138****5678" in out.body and b"<details" not in out.body


def test_no_notice_in_svg_or_xml(engine: Engine) -> None:
    svg = f'<svg xmlns="http://www.w3.org/2000/svg"><text>电话 {PHONE}</text></svg>'.encode()
    out = scan(engine, svg, "image/svg+xml")
    assert out.status == "mask" and out.body is not None and b"<details" not in out.body


def test_only_in_the_page_of_the_tab_not_in_frames_or_script_requests(engine: Engine) -> None:
    body = page(f"电话 {PHONE}").encode()

    def notice(dest: str | None) -> bool:
        job = ScanJob(body, "text/html", None, None, Profile(), url=PAGE_URL, fetch_dest=dest)
        out = run_job(engine, job, notice_for)
        assert out.status == "mask" and out.body is not None and PHONE.encode() not in out.body
        return b"pii-notice" in out.body

    assert notice("document") and notice(None)  # older browsers do not say
    assert not notice("iframe") and not notice("empty")


def test_body_tag_in_a_comment_or_script_is_not_the_body() -> None:
    doc = (
        '<html><head><!-- <body class="old"> --><script>var s = "<body>";</script></head>'
        '<body data-x="a>b"><p>x</p></body></html>'
    )
    got = insert_notice(doc, "<i>N</i>")
    assert got is not None
    assert '<body data-x="a>b"><i>N</i><p>x</p>' in got
    assert got.count("<i>N</i>") == 1


def test_document_without_body_tag_gets_the_notice_at_the_end() -> None:
    doc = "<!DOCTYPE html><title>t</title><p>x</p>"
    assert insert_notice(doc, "<i>N</i>") == doc + "<i>N</i>"


def test_fragment_gets_no_notice(engine: Engine) -> None:
    # A piece of HTML that a script puts into a page it already showed.
    assert insert_notice(f"<li>电话 {PHONE}</li>", "<i>N</i>") is None
    out = scan(engine, f"<li>电话 {PHONE}</li>".encode())
    assert out.status == "mask" and out.body is not None and b"<details" not in out.body


def test_notice_without_an_address_has_no_report_link() -> None:
    assert "<a " not in notice_html("en", None)
    assert "qinglang.home.arpa/report" in notice_html("en", "http://a.example/")
