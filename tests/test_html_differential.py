"""qinglang's HTML extraction against html5lib, a parser that follows the HTML standard:
every character a browser shows must be in the scan text (whitespace aside).

CI runs a few hundred generated documents (QINGLANG_HYPOTHESIS_EXAMPLES changes the
count); scripts/html_differential.py runs tens of thousands.
"""

from __future__ import annotations

import os

import pytest
from htmlref import ReferenceFailed, documents, missed, visible_text
from hypothesis import HealthCheck, given, reject, settings

from qinglang.engine.extract import extract

_EXAMPLES = int(os.environ.get("QINGLANG_HYPOTHESIS_EXAMPLES", "300"))


def _scan_text(doc: str) -> str:
    return extract(doc, "html").text


@given(documents)
@settings(
    max_examples=_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
def test_every_shown_character_is_scanned(doc: str) -> None:
    try:
        shown = visible_text(doc)
    except ReferenceFailed:
        reject()  # html5lib's own bug: no reference for this document
    assert not missed(shown, _scan_text(doc)), doc


# Hand-written pages: the constructs of the security review and their variants.
@pytest.mark.parametrize(
    "doc",
    [
        "<xmp>ABC</xmp>",
        "<plaintext>ABC<!-- D -->",
        "<!-->ABC<!-- -->",
        "<!--->ABC",
        "<!-- x --!>ABC",
        "<!x>ABC",
        "</ x>ABC",
        "<?x>ABC",
        "<svg><text><![CDATA[ABC]]></text></svg>",
        "<math><![CDATA[ABC]]></math>",
        "<svg><style><p>ABC</style>",
        "<svg><script><p>ABC</script>",
        "<svg><style><!--</style>--><p>ABC",
        "<svg><text><!-- x -->ABC</text></svg>",
        "<svg><font color=red>ABC",
        "<math></p><style><![CDATA[ABC]]>",
        "<math></p><xmp>&lt;ABC",
        "<math><mi><style>x</style>ABC</mi></math>",
        "<svg><foreignObject><div></svg><style>x</style>ABC",
        "<div><svg></foo><style><p>ABC</p></style>",
        "<table><tr><td><svg></td></tr></table><style>x</style>ABC",
        "<style><!--</style>ABC-->",
        "<style></style a='>'<!--x>ABC",
        "<title></titlex><!-- ABC --></title>",
        "<textarea></textarea x>ABC</textarea>",
        "<template><script></template><!--</script></template>ABC-->",
        "&#0000022312;&#x000000000000000000004e2d;",
        '<p title="&ampx=1&amp;y">ABC</p>',
        '<input value="ABC">',
        '<input placeholder="ABC">',
        '<iframe srcdoc="<p>ABC</p>"></iframe>',
        '<iframe srcdoc="&lt;p&gt;ABC&lt;/p&gt;"></iframe>',
        '<iframe src="data:text/html,%3Cb%3EABC%3C/b%3E"></iframe>',
        '<iframe src="data:text/html;base64,PGI+QUJDPC9iPg=="></iframe>',
        '<object data="data:text/plain,ABC"></object>',
        '<embed src=" DATA:text/html,<i>ABC</i>">',
        '<iframe src="&#100;ata:text/html,ABC"></iframe>',
        "<noscript><p>x</p></noscript>ABC",
        "<noscript><!-- </noscript> ABC -->",
    ],
)
def test_hand_written_pages(doc: str) -> None:
    shown = visible_text(doc)
    assert "ABC" in shown or "在中" in shown or "&y" in shown  # the page does show text
    assert not missed(shown, _scan_text(doc)), doc


def test_hidden_text_is_not_scanned() -> None:
    # What the browser never shows stays out of the scan (no false positives).
    for doc in [
        "<script>ABC</script>",
        "<style>ABC</style>",
        "<!--ABC-->",
        "<iframe>ABC</iframe>",
        "<noembed>ABC</noembed>",
        "<noframes>ABC</noframes>",
        "<![CDATA[ABC]]>",
        "<svg><![CDATA[x]]></svg><![CDATA[ABC]]>",
        "<math><mi><![CDATA[x]]></mi></math>",
    ]:
        assert "ABC" not in _scan_text(doc), doc
