"""Content-Type parameters, charset labels and the <meta> prescan, as browsers read them.

The reference for labels is the Encoding standard's table as ``webencodings`` (html5lib's
dependency) carries it; the reference for the Content-Type is the MIME Sniffing standard's
parser, checked here by round trips of generated headers and by its own edge cases.
"""

from __future__ import annotations

import codecs
import encodings.aliases

import webencodings
from hypothesis import given, settings
from hypothesis import strategies as st

from qinglang.content import charset, metascan, mimetype

TOKEN = st.text(
    alphabet="!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    min_size=1,
    max_size=12,
)
# HTTP quoted-string code points (no DEL): tab, 0x20-0x7E, 0x80-0xFF.
QUOTABLE = st.text(
    alphabet=st.sampled_from(["\t", *map(chr, range(0x20, 0x7F)), *map(chr, range(0x80, 0x100))]),
    max_size=12,
)
LABELS = sorted(webencodings.LABELS)


def _quote(v: str) -> str:
    return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'


@settings(max_examples=300, deadline=None)
@given(
    TOKEN,
    TOKEN,
    st.lists(st.tuples(TOKEN, QUOTABLE, st.booleans()), max_size=5),
    st.sampled_from(["", " ", "\t", " \t "]),
)
def test_generated_content_types_round_trip(
    typ: str, sub: str, params: list[tuple[str, str, bool]], ws: str
) -> None:
    header = f"{ws}{typ}/{sub}"
    expected: dict[str, str] = {}
    for name, value, quoted in params:
        plain = value and all(c in mimetype._TOKEN for c in value)
        text = value if plain and not quoted else _quote(value)
        header += f";{ws}{name}={text}"
        expected.setdefault(name.lower(), value)  # an empty quoted value counts too
    m = mimetype.parse(header + ws)
    assert m is not None
    assert m.essence == f"{typ}/{sub}".lower()
    # An empty quoted value is a value (""); the first of a repeated name wins.
    assert m.params == {k: v for k, v in expected.items()}


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=60))
def test_any_header_parses_or_is_none(value: str) -> None:
    m = mimetype.parse(value)
    if m is not None:
        assert "/" not in m.type and m.essence == m.essence.lower()
        assert all(k == k.lower() for k in m.params)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(TOKEN, TOKEN), max_size=4), st.sampled_from(LABELS))
def test_charset_parameter_is_found_among_others(others: list[tuple[str, str]], label: str) -> None:
    others = [(k, v) for k, v in others if k.lower() != "charset"]
    decoys = "".join(f"; x{k}charset={v}" for k, v in others)
    header = f"text/html{decoys}; charset={label}; charset=latin_1"
    assert charset.header_charset(header) == charset.codec_for(label)


def test_mime_edge_cases() -> None:
    p = mimetype.parse
    assert p("text/html; xcharset=latin1; charset=utf-8").params == {  # type: ignore[union-attr]
        "xcharset": "latin1",
        "charset": "utf-8",
    }
    assert p('text/html;charset="gbk\\"";x=1').params == {"charset": 'gbk"', "x": "1"}  # type: ignore[union-attr]
    assert p('text/html;charset="utf-8" trailing').params == {"charset": "utf-8"}  # type: ignore[union-attr]
    assert p("text/html;charset=;charset=gbk").params == {"charset": "gbk"}  # type: ignore[union-attr]
    assert p("text/html;;;charset=gbk").params == {"charset": "gbk"}  # type: ignore[union-attr]
    assert p("text/html; charset =gbk").params == {}  # type: ignore[union-attr]
    assert p("TEXT/HTML ; Charset=GBK").params == {"charset": "GBK"}  # type: ignore[union-attr]
    for bad in ("", "text", "/html", "text/", "te xt/html", "text/ht ml;x=1", "text/h@ml"):
        assert p(bad) is None, bad


@given(st.sampled_from(LABELS), st.sampled_from(["", " ", "\t\n"]), st.booleans())
def test_every_browser_label_resolves_as_the_standard_says(
    label: str, ws: str, upper: bool
) -> None:
    name = webencodings.LABELS[label]
    written = ws + (label.upper() if upper else label) + ws
    assert charset.web_name(written) == name
    codec = charset.codec_for(written)
    assert codec is not None
    if name not in ("utf-16le", "utf-16be", "replacement"):
        # ASCII-compatible: plain ASCII decodes as itself.
        assert charset.decode(b"plain ascii <p>", f"text/html; charset={written.strip()}").text == (
            "plain ascii <p>"
        )


def test_labels_only_python_knows_are_not_given() -> None:
    python_only = {a.replace("_", "-") for a in encodings.aliases.aliases} | set(
        encodings.aliases.aliases
    )
    python_only = {a for a in python_only if a not in webencodings.LABELS}
    for label in [*sorted(python_only), "latin_1", "utf-7", "utf7", "cp037", "utf-32", "rot13"]:
        if label in webencodings.LABELS:
            continue
        assert charset.codec_for(label) is None, label
    assert charset.header_charset("text/html; charset=latin_1") is None
    # The known mappings that matter most to Chinese pages and to Latin ones.
    assert charset.codec_for("gb2312") == charset.codec_for("GBK") == "gb18030"
    assert charset.codec_for("latin1") == charset.codec_for("iso-8859-1") == "cp1252"
    assert charset.codec_for("ascii") == charset.codec_for("us-ascii") == "cp1252"
    assert charset.codec_for("big5") == "big5hkscs"
    assert charset.codec_for("iso-2022-kr") == "replacement"
    assert charset.codec_for("hz-gb-2312") == "replacement"
    assert codecs.lookup(charset.codec_for("utf-16") or "").name == "utf-16-le"


def test_decode_order_and_special_encodings() -> None:
    word = "网络赌场"
    # BOM first, whatever the header says.
    d = charset.decode(codecs.BOM_UTF8 + word.encode(), "text/html; charset=gbk", html=True)
    assert d.text == word and d.source == "bom"
    # A header charset=utf-16 is obeyed (Chromium: UTF-16LE); a <meta> one means UTF-8.
    assert charset.decode(word.encode("utf-16-le"), "text/html; charset=utf-16").text == word
    meta = f"<meta charset=utf-16>{word}".encode()
    assert charset.decode(meta, "text/html", html=True).charset == "utf-8"
    # A header label browsers do not know falls through to the <meta>.
    gbk = b"<meta charset=gbk>" + word.encode("gbk")
    assert word in charset.decode(gbk, "text/html; charset=utf-7", html=True).text
    # Plain text and JSON are never read for a <meta>.
    d = charset.decode(b"<meta charset=iso-8859-5>\xd0\xb0", "text/plain", html=False)
    assert d.source != "meta"
    # The replacement encoding shows one U+FFFD; x-user-defined maps high bytes to U+F7xx.
    assert charset.decode(b"<p>x</p>", "text/html; charset=iso-2022-kr").text == "\ufffd"
    d = charset.decode(b"a\x80", "text/html; charset=x-user-defined")
    assert d.text == "a\uf780" and charset.encode(d.text, d) == b"a\x80"
    # XML: the declaration, not a <meta>.
    xml = b"<?xml version='1.0' encoding='gbk'?><t>" + word.encode("gbk") + b"</t>"
    assert word in charset.decode(xml, "image/svg+xml", html=True).text


@given(st.sampled_from(LABELS))
def test_meta_charset_for_every_label(label: str) -> None:
    name = webencodings.LABELS[label]
    expected = {"utf-16le": "utf-8", "utf-16be": "utf-8", "x-user-defined": "windows-1252"}
    want = expected.get(name, name)
    assert metascan.prescan(f"<meta charset='{label}'>".encode()) == want
    pragma = f'<meta http-equiv="Content-Type" content="text/html; charset={label}">'
    assert metascan.prescan(pragma.encode()) == want
    # content= without http-equiv is not a declaration (Chromium and the standard agree).
    assert metascan.prescan(f'<meta content="text/html; charset={label}">'.encode()) is None


HEAD_TAGS = st.sampled_from(
    ["<title>" + "t" * 700 + "</title>", "<script>var a='<meta charset=big5>';</script>",
     "<link rel=x href=y>", "<style>p{}</style>", "<!-- <meta charset=big5> -->",
     "<base href=/>", "<noscript></noscript>"]
)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(st.lists(HEAD_TAGS, max_size=6))
def test_meta_in_head_is_found_past_1024_bytes(head: list[str]) -> None:
    doc = "<!doctype html><html><head>" + "".join(head) + "<meta charset=gbk>"
    assert metascan.prescan(doc.encode()) == "gbk"
    # Once a body tag came, only the first 1024 bytes count.
    late = "<html><body><p>" + "x" * 1100 + "</p><meta charset=gbk>"
    early = "<html><body><p>" + "x" * 800 + "</p><meta charset=gbk>"
    assert metascan.prescan(late.encode()) is None
    assert metascan.prescan(early.encode()) == "gbk"


def test_meta_prescan_edge_cases() -> None:
    s = metascan.prescan
    assert s(b"<meta charset=latin_1><meta charset=gb2312>") == "gbk"  # unknown: go on
    assert s(b"<!--><meta charset=gbk>") == "gbk"  # "<!-->" closes at once
    assert s(b"<!-- <meta charset=big5> --><meta charset=gbk>") == "gbk"
    assert s(b"<script><meta charset=big5></script><meta charset=gbk>") == "gbk"
    assert s(b'<meta charset="&#103;bk">') == "gbk"  # a reference in the value
    assert s(b"<meta charset=gbk charset=big5>") == "gbk"  # the first attribute wins
    assert s(b'<meta content="charset=big5" http-equiv=content-type charset=gbk>') == "big5"
    assert s(b"<META CHARSET=GBK>") == "gbk"
    assert metascan.content_charset("text/html; charset = 'x'") == "x"
    assert metascan.content_charset("charset") is None
