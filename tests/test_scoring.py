"""Scores per category, singular counting, combinations, context and the decision."""

from __future__ import annotations

from qinglang.policy.config import Profile

LISTS = """
category: gambling
weight: 30
terms:
  - 赌博
  - 老虎机
  - {term: 百家乐, weight: 50}
  - {all: [赌场, 充值], weight: 40}
  - {all: [breast, cancer], weight: -30}
  - {term: 公益, weight: -20}
"""


def test_each_term_counts_once_per_page(scan) -> None:
    r = scan("赌博 赌博 赌博 赌博 老虎机", lists=LISTS)
    assert r.categories == {"gambling": 60}
    assert r.score == 60 and r.action == "mask"
    assert len(r.matches) == 5  # every occurrence is reported and masked


def test_count_every_occurrence_is_a_profile_option(scan) -> None:
    r = scan("赌博 赌博 赌博 赌博", lists=LISTS, profile=Profile(count="every"))
    assert r.score == 120 and r.action == "block"


def test_count_every_as_a_list_option(scan) -> None:
    r = scan("赌博 赌博 赌博 赌博", lists="category: g\nweight: 30\ncount: every\nterms: [赌博]\n")
    assert r.score == 120 and r.action == "block"


def test_threshold_blocks_at_or_above(scan) -> None:
    r = scan("赌博 百家乐 老虎机", lists=LISTS)  # 30 + 50 + 30
    assert r.score == 110 and r.action == "block" and r.reason == "keywords"
    assert r.body == ""
    r = scan("赌博 百家乐 老虎机", lists=LISTS, profile=Profile(block_threshold=111))
    assert r.action == "mask"


def test_combination_counts_only_with_every_part(scan) -> None:
    assert scan("赌场", lists=LISTS).score == 0
    assert scan("充值", lists=LISTS).score == 0
    r = scan("赌场 首次充值送彩金", lists=LISTS)
    assert r.score == 40
    assert [(c.all, c.weight) for c in r.combinations] == [(["赌场", "充值"], 40)]
    assert r.action == "allow"  # combination parts are context, not words to mask


def test_negative_weights_lower_the_score_but_not_below_zero(scan) -> None:
    r = scan("赌博 百家乐 公益 广告", lists=LISTS)
    assert r.score == 60
    r = scan("公益 breast cancer", lists=LISTS)
    assert r.score == 0 and r.categories == {"gambling": 0}


def test_mask_false_reports_but_does_not_mask(scan) -> None:
    r = scan("赌博", lists=LISTS, profile=Profile(mask=False))
    assert r.action == "allow" and r.body == "赌博" and r.score == 30


def test_decided_by_names_terms_only(scan) -> None:
    r = scan("这里有赌博和百家乐，还有赌场充值", lists=LISTS)
    assert r.decided_by() == ["百家乐", "赌博", "赌场+充值"]


def test_scores_are_per_category(scan) -> None:
    lists = "category: a\nweight: 60\nterms: [alpha]\n"
    r = scan("alpha", lists=lists, profile=Profile(categories=["b"]))
    assert r.score == 0


def test_large_document(scan) -> None:
    chunk = "普通的文字 ordinary words 1234567890。" * 20
    doc = (chunk + "\n") * (50 * 1024 * 1024 // (len(chunk.encode()) + 1))
    doc += "赌博"
    r = scan(doc, lists=LISTS)
    assert r.score == 30 and r.matches[-1].end == len(doc)
    assert r.body.endswith("**") and len(r.body) == len(doc)


def test_exceptions_cancel_harm_but_not_context(scan) -> None:
    lists = """
category: gambling
weight: 30
terms:
  - gambling
  - {term: problem gambling, weight: -40}
  - {all: [gambling, helpline], weight: -20}
  - {all: [gambling, bonus], weight: 60}
exceptions:
  - problem gambling
"""
    r = scan("problem gambling helpline bonus", lists=lists)
    # "gambling" and the +60 combination are cancelled, the context still counts.
    assert r.term_names == ["problem gambling"]
    assert r.score == 0
    assert [(c.all, c.weight) for c in r.combinations] == [(["gambling", "helpline"], -20)]
    r = scan("gambling bonus", lists=lists)
    assert r.score == 90


def test_typographic_apostrophes(scan) -> None:
    lists = "category: bullying\nweight: 50\nterms:\n  - don't tell your parents\n"
    for text in ("Don’t tell your parents!", "don't tell your parents", "DON‘T TELL YOUR PARENTS"):
        assert scan(text, lists=lists).score == 50, text
    assert scan("condon't tell your parents", lists=lists).score == 0


def test_mask_min_weight_leaves_names_of_harms_readable(scan) -> None:
    # 赌博 (30) is masked by default; with mask_min_weight 40 only 百家乐 (50) is.
    r = scan("赌博的危害和百家乐", lists=LISTS)
    assert r.body == "**的危害和***"
    r = scan("赌博的危害和百家乐", lists=LISTS, profile=Profile(mask_min_weight=40))
    assert r.body == "赌博的危害和***" and r.score == 80
