"""Bodies of unknown type read as Chromium reads them, and JSON behind wrappers."""

from __future__ import annotations

import json

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from qinglang.content import mediatypes as mt
from qinglang.content.compression import codings
from qinglang.content.headplan import navigated, plan_head
from qinglang.engine.extract import extract_json, json_span
from qinglang.policy.config import Profile

BINARY = bytes([*range(0x09), 0x0B, *range(0x0E, 0x1B), *range(0x1C, 0x20)])
TEXT_BYTES = st.binary(max_size=3000).map(lambda b: b.translate(None, BINARY))


@settings(max_examples=300, deadline=None)
@given(TEXT_BYTES, st.integers(0, 4000), st.sampled_from(list(BINARY)))
def test_binary_verdict_is_chromiums(text: bytes, at: int, byte: int) -> None:
    body = b"plain " + text
    assert mt.sniff(body).kind == "text"  # no binary byte: shown as text
    at = min(at, len(body))
    with_byte = body[:at] + bytes([byte]) + body[at:]
    # Only the first 1024 bytes decide (Chromium's kMaxBytesToSniff).
    assert (mt.sniff(with_byte).kind is None) == (at < mt.BINARY_SNIFF_BYTES)


def test_signatures_followed_by_text_are_text() -> None:
    for sig in (b"BZh", b"RIFF", b"\x7fELF", b"wOFF", b"wOF2", b"OTTO", b"%PDF-", b"ID3", b"BM"):
        assert mt.plan_for(None, sig + b" words").kind == "text", sig
    for ct in ("unknown/unknown", "application/unknown", "*/*", "html", "UNKNOWN/UNKNOWN"):
        assert mt.is_unknown(ct)
        assert mt.plan_for(ct, b"\x7fELF words").kind == "text", ct
    assert mt.plan_for(None, b"\x89PNG\r\n\x1a\n\x00\x00").kind is None


def test_html_sniffing_is_a_prefix_match_after_whitespace() -> None:
    for head in (b"<ab>x", b"<!--x", b"\x0b <B>", b"<?xml version='1.0'?><a/>", b"\n<P>"):
        assert mt.sniff(head).kind == "html", head
    assert mt.sniff(b"x<p>").kind == "text"
    assert mt.sniff(b" " * 600 + b"<p>").kind == "text"  # past the 512 bytes looked at


def test_nosniff_unknown_type_is_text() -> None:
    assert mt.nosniff("nosniff") and mt.nosniff("NoSniff, x") and not mt.nosniff("x, nosniff")
    assert mt.scan_type(None, True) == "text/plain"
    assert mt.scan_type("text/html", True) == "text/html"
    assert mt.scan_type(None, False) is None


def test_event_stream_opened_as_a_page() -> None:
    assert navigated("document", "text/event-stream")
    assert navigated("iframe", None)
    assert not navigated("empty", "text/html")
    assert not navigated(None, "text/event-stream")
    assert navigated(None, "text/html,*/*")
    assert not navigated(None, "*/*") and not navigated(None, None)
    child = Profile()
    kw = {"method": "GET", "status": 200, "content_type": "text/event-stream",
          "content_encoding": None, "profile": child}  # fmt: skip
    assert plan_head(length=None, **kw).action == "stream"  # type: ignore[arg-type]
    assert plan_head(length=None, page=True, **kw).action == "oversize"  # type: ignore[arg-type]
    assert plan_head(length=100, page=True, **kw).action == "buffer"  # type: ignore[arg-type]


def test_unknown_codings() -> None:
    assert codings("gzip, foo") == [] and codings("br") == ["br"]


JSON_VALUES = st.recursive(
    st.text(max_size=8) | st.integers() | st.booleans() | st.none(),
    lambda kids: (
        st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=5), kids, max_size=4)
    ),
    max_leaves=12,
)
WRAPPERS = st.sampled_from(
    [")]}'\n{}", ")]}',\n{}", "while(1);{}", "while (true);{}", "for(;;);{}", "for (;;); {}",
     "cb({});", "/**/ cb({})", "a.b_1$({});", "x['y']({})\n", "typeof cb === 'function' && cb({});",
     "&&&START&&&{}"]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(JSON_VALUES, WRAPPERS)
def test_wrapped_json_is_read_as_json(value: object, wrapper: str) -> None:
    doc = json.dumps({"v": value}, ensure_ascii=True)
    wrapped = wrapper.replace("{}", doc)
    assert json_span(wrapped) is not None
    assert extract_json(wrapped).text == extract_json(doc).text
    assert mt.is_json(wrapped)
    assert mt.plan_for("application/json", wrapped.encode()).kind == "json"
    assert mt.plan_for("text/javascript", wrapped.encode()).maybe_json
    assert json_span(doc) is None


def test_script_code_is_not_json() -> None:
    for code in ("define({a: 1})", "foo({x: function(){}})", "jQuery(function(){})"):
        assert not mt.is_json(code)
        plan = mt.plan_for("text/javascript", code.encode())
        assert mt.resolve(plan, code) is None


def test_markup_in_json_strings_is_read_as_html_and_as_text() -> None:
    doc = '{"a": "<b>\\u8d4c</b>&#x535a;<script>x</script>", "b": "<x 裸聊"}'
    e = extract_json(doc)
    at = e.text.index("赌博")  # the HTML view: tags hidden, the reference decoded
    assert "<b>赌</b>&#x535a;" in e.text  # the string as it is, for textContent
    assert "<x 裸聊" in e.text  # a "tag" to innerHTML, text to textContent
    mask = np.zeros(len(e.text), dtype=bool)
    mask[at : at + 2] = True
    assert e.masked(mask) == '{"a": "<b>*</b>*<script>x</script>", "b": "<x 裸聊"}'
    # Both views of one character masked: one edit, the document intact.
    raw = e.text.index("<b>赌")
    mask[raw + 3] = True
    assert e.masked(mask) == '{"a": "<b>*</b>*<script>x</script>", "b": "<x 裸聊"}'


def test_xml_shown_as_source_is_scanned_as_text() -> None:
    tree = b"<?xml version='1.0'?><!-- a --><root a='x'><!-- c --></root>"
    assert mt.xml_source_shown("application/xml", tree, "document")
    assert mt.xml_source_shown("text/xml", tree, None)
    assert mt.xml_source_shown(None, tree, None)  # sniffed <?xml
    assert mt.xml_source_shown("application/rss+xml", b"<rss/>", "document")
    # Rendered, not shown as source: a stylesheet, an XHTML/SVG root, SVG and XHTML types.
    styled = b"<?xml version='1.0'?><?xml-stylesheet href='a.css'?><root/>"
    assert not mt.xml_source_shown("text/xml", styled, "document")
    xhtml = b"<html xmlns='http://www.w3.org/1999/xhtml'><b/></html>"
    assert not mt.xml_source_shown("text/xml", xhtml, "document")
    assert not mt.xml_source_shown("image/svg+xml", b"<svg/>", "document")
    # A namespace named in a comment is not the root's.
    decoy = b"<?xml version='1.0'?><root><!-- http://www.w3.org/1999/xhtml --></root>"
    assert mt.xml_source_shown("text/xml", decoy, "document")
    # A script's XML is data, not a page.
    assert not mt.xml_source_shown("application/xml", tree, "empty")
