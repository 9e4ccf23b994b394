"""Personal information (anti-doxxing): what is found, what is left alone, how it is masked,
and which pages are blocked as doxxing.

Valid ID numbers and card numbers are generated here with the formats' own check digits
(computed independently of qinglang), never copied from real people.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from qinglang.engine.extract import extract
from qinglang.engine.lists import ListSet
from qinglang.engine.normalize import normalize
from qinglang.engine.pii.detect import (
    PiiFound,
    canonical,
    classify_value,
    detect_pii,
    doxxing_exposure,
    find_value,
)
from qinglang.engine.scanner import Engine, ScanResult
from qinglang.engine.verdict import Action, Reason
from qinglang.policy.config import Profile, parse_config

FIXTURES = Path(__file__).parent / "fixtures"

# --- generators (independent of the code under test) ---------------------------------------

_W = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]


def id_check(body17: str) -> str:
    return "10X98765432"[sum(int(c) * w for c, w in zip(body17, _W, strict=True)) % 11]


def make_id(region: str = "440301", born: str = "19900101", seq: str = "123") -> str:
    body = region + born + seq
    return body + id_check(body)


def id_ending_x() -> str:
    for n in range(1000):
        v = make_id(seq=f"{n:03d}")
        if v.endswith("X"):
            return v
    raise AssertionError("no X check digit in 1000 tries")


def wrong_check(v: str) -> str:
    """The same ID with another check character."""
    return v[:17] + ("0" if v[17] != "0" else "1")


def luhn_digit(partial: str) -> str:
    total = 0
    for i, c in enumerate(reversed(partial)):
        n = int(c)
        if i % 2 == 0:  # doubled once the check digit is appended
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return str((10 - total % 10) % 10)


def make_card(prefix: str = "6222", length: int = 16, fill: str = "0312458") -> str:
    body = (prefix + fill * 3)[: length - 1]
    return body + luhn_digit(body)


def bad_luhn(v: str) -> str:
    return v[:-1] + str((int(v[-1]) + 1) % 10)


def fullwidth(s: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in s)


# --- helpers --------------------------------------------------------------------------------


def found(text: str) -> list[tuple[str, str]]:
    """(kind, source text) of every value found in plain text."""
    return [(p.kind, text[p.start : p.end]) for p in detect_pii(normalize(text))]


def kinds(text: str) -> list[str]:
    return [k for k, _ in found(text)]


NO_DOX = Profile(doxxing_threshold=0)


def scan(doc: str, kind: str = "text", profile: Profile = NO_DOX) -> ScanResult:
    return Engine(ListSet()).scan(doc, kind, profile)  # type: ignore[arg-type]


def masked(text: str, kind: str = "text") -> str:
    return scan(text, kind).body


# --- resident ID numbers --------------------------------------------------------------------

ID = make_id()


@pytest.mark.parametrize(
    "text",
    [
        f"身份证号：{ID}",
        f"ID {ID}.",
        f"身份证{ID}，请核对",
        f"{ID[:6]} {ID[6:14]} {ID[14:]}",
        f"{ID[:6]}-{ID[6:10]}-{ID[10:14]}-{ID[14:]}",
        " ".join(ID),
        fullwidth(ID),
        f"身份证：{ID[:6]}\u200b{ID[6:]}",
    ],
)
def test_id_numbers_found_in_common_writings(text: str) -> None:
    assert kinds(text) == ["cn_id"]


def test_id_with_x_check_digit_either_case() -> None:
    v = id_ending_x()
    assert kinds(f"身份证 {v}") == ["cn_id"]
    assert kinds(f"身份证 {v.lower()}") == ["cn_id"]
    assert detect_pii(normalize(v.lower()))[0].value == v  # canonical: upper-case X


@pytest.mark.parametrize(
    "value",
    [
        wrong_check(ID),
        make_id(born="19900230"),  # 30 February
        make_id(born="19901301"),  # month 13
        make_id(born="19900100"),  # day 0
        make_id(born="18991231"),  # before 1900
        make_id(born="20991231"),  # in the future
        make_id(region="990301"),  # no province 99
        make_id(region="000000"),
    ],
)
def test_not_an_id_number(value: str) -> None:
    assert kinds(f"号码 {value}") == []


def test_id_inside_a_longer_number_is_not_an_id() -> None:
    assert kinds(f"1{ID}") == []
    assert kinds(f"{ID}7") == []
    assert kinds(f"流水 8{ID}3") == []


def test_id_mask_keeps_first_and_last_four() -> None:
    v = id_ending_x()
    assert masked(f"身份证：{v}") == f"身份证：{v[:4]}**********{v[-4:]}"
    spaced = f"{ID[:6]} {ID[6:14]} {ID[14:]}"
    assert masked(spaced) == f"{ID[:4]}** ******** {ID[14:]}"
    fw = fullwidth(ID)
    assert masked(fw) == fw[:4] + "*" * 10 + fw[-4:]


# --- mobile numbers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "手机 13812345678",
        "call 15912345678 now",
        "+8613812345678",
        "+86 13812345678",
        "+86 138 1234 5678",
        "+86-138-1234-5678",
        "0086 13812345678",
        "008613812345678",
        "138 1234 5678",
        "138-1234-5678",
        "138.1234.5678",
        "138 12345678",
        "1 3 8 1 2 3 4 5 6 7 8",
        "1*3*8*1*2*3*4*5*6*7*8",
        "１３８１２３４５６７８",
        "＋８６ １３８ １２３４ ５６７８",
        "电话：13812345678 12点以后打",
        "19912345678",
    ],
)
def test_mobile_numbers_found(text: str) -> None:
    assert kinds(text) == ["cn_mobile"]


def test_two_numbers_side_by_side_stay_two() -> None:
    assert found("12 13812345678") == [("cn_mobile", "13812345678")]
    assert found("13812345678 13912345678") == [
        ("cn_mobile", "13812345678"),
        ("cn_mobile", "13912345678"),
    ]
    assert kinds("电话：13812345678/13912345678") == ["cn_mobile", "cn_mobile"]


@pytest.mark.parametrize(
    "text",
    [
        "12812345678",  # no 12x mobile range
        "11812345678",
        "1381234567",  # 10 digits
        "138123456789",  # 12 digits: part of a longer number
        "9138123456781",
        "订单号 13812345678",
        "SN13812345678",
        "13812345678abc",
        "1381 234 5678",  # not a phone grouping
        "8613812345678",  # country code without + or 00: just a long number
        "1 3 8 1 2 3 4 5 6 7 8 9",  # one digit apart, but 12 of them
        "3.13812345678",
    ],
)
def test_not_a_mobile_number(text: str) -> None:
    assert kinds(text) == []


def test_mobile_mask_keeps_three_and_four() -> None:
    assert masked("手机 13812345678") == "手机 138****5678"
    assert masked("+86 138-1234-5678") == "+86 138-****-5678"
    assert masked("1 3 8 1 2 3 4 5 6 7 8") == "1 3 8 * * * * 5 6 7 8"
    assert masked("１３８１２３４５６７８") == "１３８****５６７８"


# --- bank cards -----------------------------------------------------------------------------

CARD16 = make_card("6222", 16)
CARD19 = make_card("6217", 19)
VISA = make_card("4", 16)


@pytest.mark.parametrize(
    "text",
    [
        f"银行卡 {CARD16}",
        f"付款 {CARD19}",
        f"{CARD16[:4]} {CARD16[4:8]} {CARD16[8:12]} {CARD16[12:]}",
        " ".join(CARD19[k : k + 4] for k in range(0, 19, 4)),
        f"card: {VISA}",
        f"visa {'-'.join(VISA[k : k + 4] for k in range(0, 16, 4))}",
        f"卡号：{make_card('9558', 19)}",  # an old domestic debit card: found after a label
        f"卡号 {make_card('6222', 13)}",
        fullwidth(f"储蓄卡 {CARD16}"),
    ],
)
def test_bank_cards_found(text: str) -> None:
    assert kinds(text) == ["bank_card"]


@pytest.mark.parametrize(
    "text",
    [
        f"银行卡 {bad_luhn(CARD16)}",
        f"银行卡 {bad_luhn(CARD19)}",
        f"付款 {make_card('9558', 19)}",  # no known issuer and no card label
        f"付款 {make_card('4', 13)}",  # 13 digits only after a card label
        f"9876 {CARD16[:4]} {CARD16[4:8]} {CARD16[8:12]} {CARD16[12:]}",  # a longer number
        f"{CARD16[:4]} {CARD16[4:8]} {CARD16[8:12]} {CARD16[12:]} 1234",  # a longer number
        f"银行卡 {CARD16}3",
        f"订单号：{CARD19}",
    ],
)
def test_not_a_bank_card(text: str) -> None:
    assert kinds(text) == []


def test_card_mask_keeps_last_four() -> None:
    assert masked(f"卡号 {CARD16}") == f"卡号 {'*' * 12}{CARD16[-4:]}"
    grouped = " ".join(CARD16[k : k + 4] for k in range(0, 16, 4))
    assert masked(grouped) == f"**** **** **** {CARD16[-4:]}"


def test_card_that_is_a_whole_json_string_needs_a_label() -> None:
    # A bare 16-digit id in an API is far more often a post or user id than a card.
    doc = json.dumps({"id": VISA, "note": f"卡号 {VISA}"}, ensure_ascii=False)
    out = json.loads(masked(doc, "json"))
    assert out["id"] == VISA
    assert out["note"] == f"卡号 {'*' * 12}{VISA[-4:]}"


# --- e-mail ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("邮箱：zhang.san@example.com。", "zhang.san@example.com"),
        ("Mail Zhang_San+tag@Mail.Example.CN, thanks", "zhang_san+tag@mail.example.cn"),
        ("ＺＨＡＮＧ＠ｅｘａｍｐｌｅ．ｃｏｍ", "zhang@example.com"),
        ("13812345678@163.com", "13812345678@163.com"),
    ],
)
def test_emails_found(text: str, value: str) -> None:
    got = detect_pii(normalize(text))
    assert [(p.kind, p.value) for p in got] == [("email", value)]


@pytest.mark.parametrize(
    "text", ["icon@2x.png", "关注 @清朗", "npm i react@18.2.0", "user@localhost", "a@b"]
)
def test_not_an_email(text: str) -> None:
    assert kinds(text) == []


def test_email_mask_keeps_first_letter_and_domain() -> None:
    assert masked("写信给 zhang.san@example.com") == "写信给 z********@example.com"
    assert masked("13812345678@163.com") == "1**********@163.com"


# --- labelled values: QQ, WeChat, addresses -------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("QQ：12345678", "12345678"),
        ("qq号 1234567890", "1234567890"),
        ("Q Q 号码：987654321", "987654321"),
        ("扣扣 54321", "54321"),
        ("QQ：12345678 2023年加的", "12345678"),
        ("QQ: 1234 5678", "12345678"),
    ],
)
def test_qq_found_after_a_label(text: str, value: str) -> None:
    got = detect_pii(normalize(text))
    assert [(p.kind, p.value) for p in got] == [("qq", value)]


@pytest.mark.parametrize(
    "text", ["12345678", "QQ群：12345678", "QQ：1234", "aqq 12345678", "QQ空间 2023"]
)
def test_not_a_qq_number(text: str) -> None:
    assert kinds(text) == []


@pytest.mark.parametrize(
    ("text", "source"),
    [
        ("微信：zhang_san88", "zhang_san88"),
        ("微信号 Li-Xiao-Mei", "Li-Xiao-Mei"),
        ("加vx: wx_abc123 备注来意", "wx_abc123"),
        ("WeChat ID: happy_kid_2010 thanks", "happy_kid_2010"),
        ("微信：12345678", "12345678"),
    ],
)
def test_wechat_found_after_a_label(text: str, source: str) -> None:
    assert found(text) == [("wechat", source)]


@pytest.mark.parametrize(
    "text", ["微信支付", "wechat pay", "微信群：abcdefg", "wxWidgets 3.2", "微信: ab", "wx12345678"]
)
def test_not_a_wechat_id(text: str) -> None:
    assert kinds(text) == []


def test_qq_and_wechat_mask_keep_first_and_last() -> None:
    assert masked("QQ：12345678") == "QQ：1******8"
    assert masked("微信：zhang_san88") == "微信：z*********8"


@pytest.mark.parametrize(
    ("text", "source", "shown"),
    [
        (
            "家庭住址：北京市朝阳区建国路88号3单元201室。电话另告",
            "北京市朝阳区建国路88号3单元201室",
            "北京市***************",
        ),
        (
            "他家住在广东省深圳市南山区桃源街道88号，天天路过",
            "广东省深圳市南山区桃源街道88号",
            "广东省深圳市*********",
        ),
        (
            "住址：浙江省杭州市西湖区文三路168号 电话 13812345678",
            "浙江省杭州市西湖区文三路168号",
            "浙江省杭州市*********",
        ),
        (
            "Home address: Flat 3, 12 Oak Street, Springfield\nPhone",
            "Flat 3, 12 Oak Street, Springfield",
            "**** ** ** *** ******* ***********\nPhone",
        ),
    ],
)
def test_addresses_found_after_a_label(text: str, source: str, shown: str) -> None:
    assert ("address", source) in found(text)
    assert shown in masked(text)
    assert source not in masked(text)


@pytest.mark.parametrize(
    "text",
    [
        "地址栏里输入网址",
        "IP地址：192.168.1.1",
        "网站地址：https://example.com/a/b",
        "邮箱地址：zhang@example.com",
        "公司地址：北京市朝阳区建国路88号",
        "地址：北京",  # no street
        "address: see below",
        "IP address 10.0.0.1",
    ],
)
def test_not_a_street_address(text: str) -> None:
    assert "address" not in kinds(text)


def test_address_stops_at_the_end_of_the_clause_and_a_maximum() -> None:
    got = found("住址：上海市浦东新区世纪大道100号；其他都是闲聊")
    assert got == [("address", "上海市浦东新区世纪大道100号")]
    long = "地址：四川省成都市武侯区人民南路四段27号" + "附近" * 100
    ((kind, value),) = found(long)
    assert kind == "address"
    assert len(value) <= 60


# --- look-alikes ----------------------------------------------------------------------------


def _negative_lines() -> list[str]:
    text = (FIXTURES / "pii_negatives.txt").read_text(encoding="utf-8")
    return [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]


@pytest.mark.parametrize("line", _negative_lines())
def test_look_alikes_are_not_personal_information(line: str) -> None:
    assert found(line) == []


def test_look_alike_corpus_as_documents() -> None:
    lines = _negative_lines()
    text = "\n".join(lines)
    assert found(text) == []
    page = "<html><body>" + "".join(f"<p>{ln}</p>" for ln in lines) + "</body></html>"
    res = scan(page, "html", Profile())
    assert res.pii == [] and res.body == page
    doc = json.dumps({"items": lines}, ensure_ascii=False)
    res = scan(doc, "json", Profile())
    assert res.pii == [] and res.body == doc


def test_news_list_dates_and_counts_stay_visible_around_values() -> None:
    # "2024-04-04 · 51093 views" is 13 digits once the noise is dropped: never a value, in
    # text or in a page; a phone, an ID and a card written among such lines are still found.
    dates = [f"2024-{k % 12 + 1:02d}-{k % 28 + 1:02d} · {51093 + 37 * k} views" for k in range(40)]
    card = " ".join(CARD16[k : k + 4] for k in range(0, 16, 4))
    lines = [*dates[:10], "联系电话 138-1234-5678", *dates[10:20], f"身份证 {ID}"]
    lines += [*dates[20:30], f"卡号 {card}", *dates[30:]]
    text = "\n".join(lines)
    assert found(text) == [("cn_mobile", "138-1234-5678"), ("cn_id", ID), ("bank_card", card)]
    body = masked(text)
    assert all(line in body for line in dates)
    assert "138-****-5678" in body and f"**** **** **** {CARD16[-4:]}" in body
    page = "<ul>" + "".join(f"<li>{ln}</li>" for ln in lines) + "</ul>"
    res = scan(page, "html")
    assert [p.kind for p in res.pii] == ["cn_mobile", "cn_id", "bank_card"]
    assert all(f"<li>{line}</li>" in res.body for line in dates)


def test_longest_label_at_a_place_names_the_value() -> None:
    # "家庭住址" (a home address: identifies a person) holds "住址"; "通讯地址" holds "地址".
    home = detect_pii(normalize("家庭住址：北京市朝阳区建国路88号3栋501室"))
    post = detect_pii(normalize("通讯地址：北京市朝阳区建国路88号3栋501室"))
    assert [(p.kind, p.identifies) for p in home] == [("address", True)]
    assert [(p.kind, p.identifies) for p in post] == [("address", False)]
    assert found("QQ号码：12345678，微信号：happy_panda88") == [
        ("qq", "12345678"),
        ("wechat", "happy_panda88"),
    ]


# --- masking through the engine, per content type -------------------------------------------


def test_text_masking_keeps_everything_else() -> None:
    doc = f"联系我：手机 138 1234 5678，身份证 {ID}，邮箱 zhang@example.com。\n谢谢！"
    res = scan(doc)
    assert res.action == Action.MASK
    assert [p.kind for p in res.pii] == ["cn_mobile", "cn_id", "email"]
    assert res.body == (
        f"联系我：手机 138 **** 5678，身份证 {ID[:4]}{'*' * 10}{ID[-4:]}，"
        "邮箱 z****@example.com。\n谢谢！"
    )
    # offsets are document offsets
    assert [doc[p.start : p.end] for p in res.pii] == ["138 1234 5678", ID, "zhang@example.com"]


def test_html_masking_across_inline_tags_entities_and_attributes() -> None:
    doc = (
        "<html><body>"
        '<p class="x">手机：138<b>1234</b>5678</p>'
        f'<img src="/a.png" alt="身份证 {ID}">'
        "<p>QQ：&#49;2345678</p>"
        '<a href="tel:13812345678" title="call 139 1234 5678">电话</a>'
        "<script>var phone = '13812345678';</script>"
        "</body></html>"
    )
    res = scan(doc, "html")
    assert res.action == Action.MASK
    assert res.body == (
        "<html><body>"
        '<p class="x">手机：138<b>****</b>5678</p>'
        f'<img src="/a.png" alt="身份证 {ID[:4]}{"*" * 10}{ID[-4:]}">'
        "<p>QQ：&#49;******8</p>"
        '<a href="tel:13812345678" title="call 139 **** 5678">电话</a>'
        "<script>var phone = '13812345678';</script>"
        "</body></html>"
    )


def test_json_masking_of_escaped_strings_stays_valid_json() -> None:
    data = {
        "user": {"mobile": "13812345678", "idCard": ID, "email": "li.si@example.com"},
        "bio": "住址：北京市海淀区中关村大街1号\n微信：li_si_2010",
        "count": 13812345678,
    }
    doc = json.dumps(data)  # ASCII only: Chinese and the newline as \\u escapes
    assert "\\u4f4f" in doc
    # the phone written with \\u escapes only: each escape masks to one "*"
    escaped = doc.replace(
        '"13812345678"', '"' + "".join(f"\\u{ord(c):04x}" for c in "13812345678") + '"'
    )
    res = scan(escaped, "json")
    out = json.loads(res.body)
    assert out["user"]["mobile"] == "138****5678"
    assert out["user"]["idCard"] == f"{ID[:4]}{'*' * 10}{ID[-4:]}"
    assert out["user"]["email"] == "l****@example.com"
    assert out["bio"] == "住址：北京市**********\n微信：l********0"
    assert out["count"] == 13812345678  # numbers are not text a person reads
    assert set(out) == set(data) and set(out["user"]) == set(data["user"])


def test_pii_off_leaves_the_page_alone() -> None:
    doc = f"手机 13812345678 身份证 {ID}"
    res = scan(doc, profile=Profile(pii="off"))
    assert res.pii == [] and res.body == doc and res.action == "allow"


# --- doxxing pages --------------------------------------------------------------------------


def _dox_values() -> dict[str, tuple[str, str, str]]:
    """placeholder -> (kind, how it is written in the page, canonical value)."""
    ids = {
        "zhang": make_id("440305", "20090312", "045"),
        "li": make_id("330106", "20081130", "128"),
        "wang": make_id("510107", "20090701", "203"),
    }
    mobiles = {
        "zhang": "13912340001",
        "zhang_father": "13612340002",
        "li": "15812340003",
        "li_mother": "18612340004",
        "wang": "17712340005",
    }
    cards = {"li_mother": make_card("6222", 16, "8405"), "wang": make_card("6217", 19, "3395")}
    out: dict[str, tuple[str, str, str]] = {}
    for k, v in ids.items():
        out[f"cn_id:{k}"] = ("cn_id", v, v)
        out[f"cn_id_684:{k}"] = ("cn_id", f"{v[:6]} {v[6:14]} {v[14:]}", v)
        out[f"cn_id_split:{k}"] = ("cn_id", f"{v[:6]}<i>{v[6:14]}</i>{v[14:]}", v)
    for k, v in mobiles.items():
        out[f"cn_mobile:{k}"] = ("cn_mobile", v, v)
        out[f"cn_mobile_344:{k}"] = ("cn_mobile", f"{v[:3]} {v[3:7]} {v[7:]}", v)
        out[f"cn_mobile_fw:{k}"] = ("cn_mobile", fullwidth(v), v)
    for k, v in cards.items():
        out[f"bank_card:{k}"] = ("bank_card", v, v)
        out[f"bank_card_4s:{k}"] = ("bank_card", " ".join(v[i : i + 4] for i in range(0, 16, 4)), v)
    out["qq:zhang"] = ("qq", "2837465910", "2837465910")
    out["qq:li"] = ("qq", "918273645", "918273645")
    return out


def dox_page() -> tuple[str, set[tuple[str, str]]]:
    """The fixture with its placeholders filled, and every (kind, value) it exposes."""
    template = (FIXTURES / "doxxing_page.html").read_text(encoding="utf-8")
    values = _dox_values()
    expected: set[tuple[str, str]] = set()

    def fill(m: re.Match[str]) -> str:
        kind, written, value = values[m.group(1)]
        expected.add((kind, value))
        return written

    page = re.sub(r"\{\{([a-z0-9_]+:[a-z_]+)\}\}", fill, template)
    assert "{{" not in page
    expected |= {
        ("wechat", "zhangmou2009"),
        ("wechat", "lixiaomei88"),
        ("email", "zhang.mou2009@example.com"),
        ("email", "wang_mou@example.org"),
        ("address", normalize("广东省深圳市南山区桃源街道龙珠大道88号龙珠花园7栋1203室").text),
        ("address", normalize("浙江省杭州市西湖区文三路168号3单元502室").text),
        ("address", normalize("四川省成都市武侯区人民南路四段27号").text),
    }
    return page, expected


def test_generated_fixture_values_pass_their_checks() -> None:
    for kind, _, value in _dox_values().values():
        if kind == "cn_id":
            assert id_check(value[:17]) == value[17]
        if kind == "bank_card":
            assert luhn_digit(value[:-1]) == value[-1]


def test_every_value_of_the_doxxing_page_is_masked_under_the_threshold() -> None:
    page, expected = dox_page()
    res = scan(page, "html", Profile(doxxing_threshold=100))
    assert res.action == Action.MASK

    got = {(p.kind, p.value) for p in detect_pii(normalize(extract(page, "html").text))}
    assert got == expected
    seen = normalize(extract(res.body, "html").text).text
    for kind, value in expected:
        v = normalize(value.split("@")[0]).text
        assert v not in seen, (kind, value)
    # markup survives: the same tags in the same order
    tags = re.compile(r"</?([a-zA-Z0-9]+)")
    assert tags.findall(res.body) == tags.findall(page)


def test_doxxing_page_is_blocked_at_the_default_threshold() -> None:
    page, _ = dox_page()
    res = scan(page, "html", Profile())
    assert res.action == Action.BLOCK
    assert res.reason == Reason.PII
    assert res.body == ""
    assert res.to_json()["reason"] == "personal information exposure"
    assert res.categories == {}  # blocked without any keyword


def test_doxxing_block_can_be_turned_off_and_needs_pii_masking() -> None:
    page, _ = dox_page()
    assert scan(page, "html", Profile(doxxing_threshold=0)).action == Action.MASK
    res = scan(page, "html", Profile(pii="off"))
    assert res.action == "allow" and res.body == page


def _p(kind: str, value: str, identifies: bool = False) -> PiiFound:
    return PiiFound(kind, 0, 1, value, ((0, 1),), identifies)


def test_doxxing_rule_counts_distinct_values_of_several_kinds() -> None:
    prof = Profile()
    one_id = [_p("cn_id", "x", True)]
    phones = [_p("cn_mobile", f"1381234567{i}") for i in range(4)]
    assert doxxing_exposure(one_id + phones, prof)
    assert not doxxing_exposure(one_id + phones[:3], prof)  # 4 values
    # the same phone repeated is one value
    assert not doxxing_exposure(one_id + [phones[0]] * 6, prof)
    # one kind only: a list of phone numbers is not a dox page by itself
    assert not doxxing_exposure([_p("cn_id", str(i), True) for i in range(9)], prof)
    # a contact page (phones and e-mails, nothing that identifies a person) is masked only
    mails = [_p("email", f"sales{i}@example.com") for i in range(4)]
    assert not doxxing_exposure(phones + mails, prof)
    assert doxxing_exposure(phones + mails[:1] + [_p("address", "x", True)], prof)
    assert not doxxing_exposure(one_id + phones, Profile(doxxing_threshold=0))
    assert doxxing_exposure(one_id + phones[:1], Profile(doxxing_threshold=2))


def test_doxxing_threshold_in_the_config_file(tmp_path: Path) -> None:
    cfg = parse_config(
        "profiles:\n  child: {doxxing_threshold: 8}\n  teen: {doxxing_threshold: 0}\n",
        tmp_path / "qinglang.yaml",
    )
    assert cfg.profiles["child"].doxxing_threshold == 8
    assert cfg.profiles["teen"].doxxing_threshold == 0
    assert Profile().doxxing_threshold == 5
    with pytest.raises(ValidationError):
        Profile(doxxing_threshold=-1)


# --- helpers the outbound guard reuses ------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "kind", "key"),
    [
        ("138 1234 5678", "cn_mobile", "13812345678"),
        ("+86-138-1234-5678", "cn_mobile", "13812345678"),
        ("１３８１２３４５６７８", "cn_mobile", "13812345678"),
        (ID.lower(), "cn_id", ID),
        (f"{ID[:6]} {ID[6:14]} {ID[14:]}", "cn_id", ID),
        (" ".join(CARD16[k : k + 4] for k in range(0, 16, 4)), "bank_card", CARD16),
        ("Zhang@Example.com", "email", "zhang@example.com"),
        ("张 三", "text", "张三"),
        ("北京市 海淀区 實驗小學", "text", "北京市海淀区实验小学"),
    ],
)
def test_configured_values_compare_after_normalisation(value: str, kind: str, key: str) -> None:
    assert classify_value(value) == (kind, key)
    if kind in ("cn_mobile", "cn_id", "text"):
        assert canonical(value) == key


def test_configured_values_are_found_in_a_request_body() -> None:
    body = f"name=Zhang&tel=138-1234-5678&memo=ID {ID[:6]} {ID[6:]}&school=实验小学"
    norm = normalize(body)
    (span,) = find_value(norm, canonical("138 1234 5678"))
    assert body[span[0] : span[1]] == "138-1234-5678"
    (span,) = find_value(norm, canonical(ID))
    assert body[span[0] : span[1]] == f"{ID[:6]} {ID[6:]}"
    assert find_value(norm, canonical("實驗小學")) != []
    assert find_value(norm, canonical("13912345678")) == []
