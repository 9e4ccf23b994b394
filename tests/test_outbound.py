"""The outbound guard: the child's own personal data in requests, with mitmproxy's own test
helpers (taddons, tflow) and a real SQLite event log; no network."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import textwrap
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from mitmproxy import http
from mitmproxy.test import taddons, tflow

from qinglang.content.reqtext import body_texts, url_texts
from qinglang.engine.pii.owndata import OwnDataMatcher
from qinglang.engine.yamlloc import SourceError
from qinglang.policy.config import OwnData, parse_config
from qinglang.proxy.filtering import Qinglang
from qinglang.proxy.outbound import REASON_OWN_DATA, OutboundGuard
from qinglang.store.events import EventStore

CHILD_ID = "110101201003071233"  # a valid resident ID number (check digit 3)
CONFIG = f"""
    lists: [lists]
    profiles:
      child:
        own_data:
          name: 张小明
          phone: "138 1234 5678"
          id: "{CHILD_ID}"
          school: 北京市第八中学
          address: 中关村大街27号
          email: Xiao.Ming@example.com
        own_data_allow: [school.example.cn, "*.edu.example"]
      english:
        own_data: {{name: [Tom Lee, Tommy]}}
      adult: {{filter: false}}
    clients:
      - {{match: 10.0.0.0/8, profile: adult}}
      - {{match: 192.168.9.9, profile: english}}
    default_profile: child
"""
LIST = """
    category: gambling
    terms: [赌博网站]
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    (tmp_path / "lists").mkdir()
    (tmp_path / "lists" / "g.yaml").write_text(textwrap.dedent(LIST), encoding="utf-8")
    cfg = tmp_path / "qinglang.yaml"
    cfg.write_text(textwrap.dedent(CONFIG), encoding="utf-8")
    return cfg


class Harness:
    """Qinglang and the guard in one mitmproxy test context, events in real SQLite."""

    def __init__(self, main: Qinglang, guard: OutboundGuard, db: Path) -> None:
        self.main, self.guard, self.db = main, guard, db

    def send(
        self,
        path: str,
        body: bytes = b"",
        ctype: str | None = None,
        host: str = "forms.example",
        peer: str = "192.168.1.20",
        method: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> http.HTTPFlow:
        f = tflow.tflow()
        f.client_conn.peername = (peer, 50000)
        req = f.request
        req.method = method or ("POST" if body else "GET")
        req.host, req.port, req.scheme = host, 443, "https"
        req.headers.clear()
        req.headers["host"] = host
        req.path = path
        if ctype:
            req.headers["content-type"] = ctype
        for k, v in (headers or {}).items():
            req.headers[k] = v
        req.content = body
        asyncio.run(self._hooks(f))
        return f

    async def _hooks(self, f: http.HTTPFlow) -> None:
        r = self.main.request(f)
        if r is not None:
            await r
        r = self.guard.request(f)  # a coroutine only for a large body
        if r is not None:
            await r

    def events(self) -> list[sqlite3.Row]:
        assert self.main.events is not None and self.main.events.flush()
        db = sqlite3.connect(self.db)
        db.row_factory = sqlite3.Row
        try:
            return db.execute("SELECT * FROM events ORDER BY ts").fetchall()
        finally:
            db.close()


@pytest.fixture
def harness(config: Path, tmp_path: Path) -> Iterator[Harness]:
    main = Qinglang()
    guard = OutboundGuard(main)
    with taddons.context(main, guard) as tctx:
        tctx.configure(main, qinglang_config=str(config), qinglang_workers=0)
        db = tmp_path / "events.sqlite"
        main.stores.events = EventStore(db, 30, flush_seconds=0.05)
        try:
            yield Harness(main, guard, db)
        finally:
            main.done()


def stopped(f: http.HTTPFlow) -> bool:
    return f.response is not None and f.response.status_code == 403


# --- matching -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/signup?phone=13812345678",
        "/signup?phone=138-1234-5678",
        "/signup?phone=138+1234+5678",  # + is a space in a query
        "/signup?phone=%2B86%20138%201234%205678",
        "/signup?phone=" + quote("１３８ １２３４ ５６７８"),  # full-width digits
        "/signup?phone=" + quote(quote("138 1234 5678")),  # encoded twice
        "/u/13812345678/profile",
        "/signup?tel=0086-13812345678",
    ],
)
def test_phone_in_the_address_is_caught_however_written(harness: Harness, path: str) -> None:
    f = harness.send(path)
    assert stopped(f)
    assert f.metadata["qinglang"]["event"]


@pytest.mark.parametrize(
    "path",
    [
        "/order?id=913812345678",  # inside a longer number
        "/order?id=138123456789",
        "/signup?phone=13812345679",  # someone else's
        "/search?q=" + quote("张小"),  # part of the name only
        "/page?ts=1381234567",
    ],
)
def test_other_numbers_and_parts_pass(harness: Harness, path: str) -> None:
    assert harness.send(path).response is None


def test_name_school_address_and_id_in_the_address(harness: Harness) -> None:
    assert stopped(harness.send("/s?q=" + quote("我叫张小明")))
    assert stopped(harness.send("/s?q=" + quote("我在北京市第八中学上学")))
    assert stopped(harness.send("/s?addr=" + quote("北京 中关村 大街 27 号")))
    assert stopped(harness.send(f"/s?id={CHILD_ID[:6]}-{CHILD_ID[6:14]}-{CHILD_ID[14:]}"))
    # Traditional characters normalise to the simplified name.
    assert stopped(harness.send("/s?q=" + quote("張小明")))


def test_latin_names_match_whole_words_only(harness: Harness) -> None:
    peer = "192.168.9.9"  # the english profile: Tom Lee, Tommy
    assert stopped(harness.send("/s?q=hi+tom+lee", peer=peer))
    assert stopped(harness.send("/s?q=TomLee", peer=peer))
    assert stopped(harness.send("/s?who=Tommy", peer=peer))
    assert harness.send("/s?q=tom+leeks", peer=peer).response is None
    assert harness.send("/s?q=tommy2000", peer=peer).response is None
    assert harness.send("/recipes/tomato", peer=peer).response is None


def test_form_body(harness: Harness) -> None:
    body = ("name=" + quote("张小明") + "&tel=138+1234+5678&ok=1").encode()
    f = harness.send("/register", body, "application/x-www-form-urlencoded")
    assert stopped(f)
    assert (
        harness.send("/register", b"tel=10086&ok=1", "application/x-www-form-urlencoded").response
        is None
    )


def test_form_body_of_a_gbk_page(harness: Harness) -> None:
    # A GBK page's form is sent in GBK, with no charset in the header.
    body = b"name=" + quote("张小明".encode("gbk")).encode() + b"&x=1"
    assert stopped(harness.send("/register", body, "application/x-www-form-urlencoded"))


def test_json_body_with_escapes_and_numbers(harness: Harness) -> None:
    escaped = json.dumps({"user": {"name": "张小明"}}, ensure_ascii=True).encode()
    assert b"\\u5f20" in escaped
    assert stopped(harness.send("/api/user", escaped, "application/json"))
    number = b'{"contact": {"mobile": 13812345678}}'
    assert stopped(harness.send("/api/user", number, "application/json"))
    fine = b'{"contact": {"mobile": 13900000000}, "name": "\\u674e\\u56db"}'
    assert harness.send("/api/user", fine, "application/json").response is None


def test_multipart_text_field_in_its_own_charset_and_media_parts_skipped(
    harness: Harness,
) -> None:
    b = b"----qlboundary"
    png = b"\x89PNG\r\n\x1a\n" + b"13812345678" + bytes(range(256))
    text_part = (
        b"--" + b + b"\r\n"
        b'Content-Disposition: form-data; name="school"\r\n'
        b"Content-Type: text/plain; charset=gbk\r\n\r\n" + "北京市第八中学".encode("gbk") + b"\r\n"
    )
    file_part = (
        b"--" + b + b"\r\n"
        b'Content-Disposition: form-data; name="avatar"; filename="a.png"\r\n'
        b"Content-Type: image/png\r\n\r\n" + png + b"\r\n"
    )
    end = b"--" + b + b"--\r\n"
    ctype = "multipart/form-data; boundary=" + b.decode()
    f = harness.send("/upload", text_part + file_part + end, ctype)
    assert stopped(f)
    assert "own_data:school" in harness.events()[-1]["decided_by"]
    # The digits inside the image are not text the child typed.
    assert harness.send("/upload", file_part + end, ctype).response is None


def test_plain_text_body(harness: Harness) -> None:
    body = "我的邮箱是 xiao.ming@example.com，电话 138 1234 5678".encode()
    f = harness.send("/chat", body, "text/plain; charset=utf-8")
    assert stopped(f)
    row = harness.events()[-1]
    assert json.loads(row["decided_by"]) == ["own_data:email", "own_data:phone"]


def test_allowed_hosts_and_subdomains_pass(harness: Harness) -> None:
    body = b"tel=13812345678"
    ctype = "application/x-www-form-urlencoded"
    assert harness.send("/r", body, ctype, host="school.example.cn").response is None
    assert harness.send("/r", body, ctype, host="www.school.example.cn").response is None
    assert harness.send("/r", body, ctype, host="a.edu.example").response is None
    assert stopped(harness.send("/r", body, ctype, host="edu.example"))  # *. is subdomains only
    assert stopped(harness.send("/r", body, ctype, host="school.example.cn.evil.example"))


def test_profiles_without_own_data_and_flows_without_a_profile_pass(harness: Harness) -> None:
    assert harness.send("/s?tel=13812345678", peer="10.1.1.1").response is None  # adult
    f = tflow.tflow()
    f.request.path = "/s?tel=13812345678"
    assert harness.guard.request(f) is None  # Qinglang never saw it: no profile, no action
    assert f.response is None


def test_event_names_the_kind_never_the_value(harness: Harness) -> None:
    f = harness.send("/u/13812345678/edit?phone=13812345678&x=1")
    assert stopped(f)
    (row,) = harness.events()
    assert row["id"] == f.metadata["qinglang"]["event"]
    assert row["action"] == "block" and row["reason"] == REASON_OWN_DATA
    assert json.loads(row["decided_by"]) == ["own_data:phone"]
    assert row["path"] == "/u/…/edit"
    assert row["host"] == "forms.example" and row["profile"] == "child"
    everything = " ".join(str(v) for v in tuple(row))
    assert "13812345678" not in everything and "5678" not in everything
    assert "in the address" in row["detail"]


def test_explanation_page_in_both_languages(harness: Harness) -> None:
    f = harness.send("/s?tel=13812345678", headers={"accept-language": "en-US,en;q=0.9"})
    assert stopped(f)
    assert f.response is not None
    page = f.response.text or ""
    assert f.response.headers["content-type"].startswith("text/html")
    assert page.index("Your personal information was not sent") < page.index(
        "你的个人信息没有被发出去"
    )
    assert "phone number" in page and "手机号" in page and "forms.example" in page
    assert "13812345678" not in page
    assert f.metadata["qinglang"]["event"] in page
    zh = harness.send("/s?tel=13812345678", headers={"accept-language": "zh-CN"})
    assert zh.response is not None
    text = zh.response.text or ""
    assert text.index("你的个人信息没有被发出去") < text.index("Your personal information")


def test_programs_asking_for_json_get_json(harness: Harness) -> None:
    f = harness.send("/api?tel=13812345678", headers={"accept": "application/json"})
    assert f.response is not None and f.response.status_code == 403
    doc = json.loads(f.response.content or b"")
    assert doc["reason"] == REASON_OWN_DATA and doc["data"] == ["phone"]
    assert "13812345678" not in f.response.text


def test_large_body_is_searched_off_the_event_loop(harness: Harness) -> None:
    body = ("x" * 200_000 + " 张小明 ").encode()
    assert stopped(harness.send("/post", body, "text/plain"))


# --- the pieces on their own ----------------------------------------------------------------


def test_matcher_on_its_own() -> None:
    m = OwnDataMatcher(OwnData(phone=["+86 138 1234 5678"], email=["a.b@x.com"]))
    assert m.kinds_in(["tel:+8613812345678"]) == ["phone"]
    assert m.kinds_in(["call 138.1234.5678 now"]) == ["phone"]
    assert m.kinds_in(["A.B@X.COM"]) == ["email"]
    assert m.kinds_in(["za.b@x.com"]) == []
    assert m.kinds_in(["138", "12345678"]) == []  # never across two fields


def test_request_text_decoding() -> None:
    assert url_texts("/a%20b/c?x=1+2&y=%E5%BC%A0") == ["/a b/c", "x=1 2&y=张"]
    assert sorted(body_texts(b'{"a": ["b", {"c": 1}]}', "application/json")) == ["1", "a", "b", "c"]
    assert body_texts(b"\x89PNG\r\n\x1a\n13812345678", "application/octet-stream") == []


def test_config_checks_the_values_without_repeating_them(tmp_path: Path) -> None:
    def err(own: str) -> str:
        text = f"profiles:\n  child:\n    own_data:\n      {own}\n"
        with pytest.raises(SourceError) as e:
            parse_config(text, tmp_path / "q.yaml")
        return str(e.value)

    msg = err('phone: "138 1234 567"')
    assert "q.yaml:4" in msg and "own_data.phone" in msg and "mobile number" in msg
    assert "1234" not in msg
    msg = err('id: "110101201003071234"')  # wrong check digit
    assert "resident ID number" in msg and "110101" not in msg
    assert "e-mail" in err("email: xiaoming")
    assert "too short" in err("name: 明")
    assert "empty" in err('school: ""')
    assert "unknown key `nickname`" in err("nickname: 小明")
    ok = parse_config(
        "profiles:\n  child:\n    own_data: {phone: 13812345678, name: [张小明, Tom Lee]}\n",
        tmp_path / "q.yaml",
    )
    own = ok.profiles["child"].own_data
    assert own is not None and own.phone == ["13812345678"]  # YAML's integer, kept as text
    with pytest.raises(SourceError, match="own_data_allow"):
        parse_config("profiles:\n  child:\n    own_data_allow: ['a b']\n", tmp_path / "q.yaml")
