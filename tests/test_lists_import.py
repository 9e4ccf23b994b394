"""`qinglang lists import`: real-format fixtures in, lists that load and behave out."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from qinglang.engine.lists import load_lists
from qinglang.engine.scanner import Engine
from qinglang.listtools.importers import ImportFailed, Options, run_import
from qinglang.policy.config import Profile
from qinglang.policy.domains import load_domains

FIX = Path(__file__).parent / "fixtures" / "import"


def qinglang(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "qinglang.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


def terms_by_text(folder: Path) -> dict[str, tuple[int, str, str]]:
    ls = load_lists([folder], use_cache=False)
    return {t.pattern.text: (t.weight, t.pattern.match, t.category) for t in ls.terms}


# --- e2guardian -------------------------------------------------------------


def test_e2guardian_weighted_list_with_includes(tmp_path: Path) -> None:
    r = qinglang(
        "lists", "import", "e2guardian", str(FIX / "e2guardian" / "weightedphraselist"),
        "--out", str(tmp_path),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    # #listcategory "Gambling" and "Pornography (Chinese)" become qinglang's categories.
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "gambling.weightedphraselist.yaml",
        "porn.weightedphraselist.yaml",
    ]
    t = terms_by_text(tmp_path)
    assert t["casino"] == (20, "word", "gambling")  # < casino >: the word
    assert t["poker"] == (10, "prefix", "gambling")  # < poker>: words starting with it
    assert t["jackpot"] == (30, "substring", "gambling")  # <jackpot>: anywhere
    assert t["bet"] == (5, "substring", "gambling")  # <bet >: no word-end mode, reported
    assert t["roulette"][0] == 15  # lower-cased as e2guardian does
    assert t["education"] == (-25, "word", "gambling")  # negative weights stay
    assert t["place your bets"][0] == 50  # <50%> of a threshold of 100
    assert t["sportsbook"][0] == 1000  # 2000 clamped to the format's maximum
    assert t["free spins"][0] == 30  # the first of three spellings is kept
    assert t["100 bonus"] == (30, "word", "gambling")  # "%" is punctuation: a space
    assert t["裸聊"] == (40, "substring", "porn")  # trailing "#naked chat" ignored
    assert t["一夜情"][0] == 30  # "<30>3": e2guardian reads 30
    ls = load_lists([tmp_path], use_cache=False)
    combos = {c.name: (c.weight, c.category) for c in ls.combinations}
    assert combos["online+casino"] == (40, "gambling")
    assert combos["casino+addiction help"] == (-50, "gambling")
    assert combos["性感+美女"] == (20, "porn")
    assert ls.langs[str(tmp_path / "porn.weightedphraselist.yaml")] == "zh"

    # The report names what was not imported, why, and where.
    err = r.stderr
    gambling = FIX / "e2guardian" / "phraselists" / "gambling" / "weighted"
    assert "included list not found (/etc/e2guardian/lists/phraselists/missing/weighted)" in err
    assert f"{FIX / 'e2guardian' / 'weightedphraselist'}:10" in err
    assert "not a phrase" in err and f"{gambling}:17" in err
    assert "only punctuation" in err or "empty phrase" in err
    assert f"{gambling}:16" in err
    assert "another weight" in err and f"{gambling}:12" in err
    assert "word-end-only phrase" in err and f"{gambling}:7" in err
    assert "clamped" in err and f"{gambling}:18" in err


def test_imported_e2guardian_list_scans_like_e2guardian(tmp_path: Path) -> None:
    run_import("e2guardian", FIX / "e2guardian" / "weightedphraselist", tmp_path, Options())
    engine = Engine(load_lists([tmp_path], use_cache=False))
    child = Profile()
    hit = engine.scan("Play at our Casino: PokerStars jackpots, free spins!", "text", child)
    assert {"casino", "poker", "jackpot", "free spins"} <= set(hit.decided_by())
    assert hit.categories["gambling"] == 20 + 10 + 30 + 30
    # < casino > is a word: not inside "casinos"; <jackpot> is a substring.
    miss = engine.scan("casinos", "text", child)
    assert "casino" not in miss.decided_by()
    # Both parts of a combination on one page add its weight.
    combo = engine.scan("Online fun at the casino tonight", "text", child)
    assert "online+casino" in combo.decided_by()


def test_e2guardian_banned_and_exception_lists(tmp_path: Path) -> None:
    run_import("e2guardian", FIX / "e2guardian" / "bannedphraselist", tmp_path, Options())
    rep = run_import(
        "e2guardian",
        FIX / "e2guardian" / "exceptionphraselist",
        tmp_path,
        Options(category="gambling"),
    )
    assert any("weight -1000" in n for n in rep.notes)
    t = terms_by_text(tmp_path)
    assert t["casino bonus code"] == (100, "substring", "gambling")  # banned: blocks alone
    assert t["bet365"] == (100, "word", "gambling")
    assert t["medical"] == (-1000, "word", "gambling")  # exception: page-wide
    ls = load_lists([tmp_path], use_cache=False)
    combos = {c.name: c.weight for c in ls.combinations}
    assert combos == {"roulette+deposit now": 100, "education+biology": -1000}
    engine = Engine(ls)
    assert engine.scan("Your casino bonus code", "text", Profile()).action == "block"
    assert engine.scan("casino bonus code, medical advice", "text", Profile()).score == 0


def test_e2guardian_list_kind_and_category_options(tmp_path: Path) -> None:
    run_import(
        "e2guardian",
        FIX / "e2guardian" / "bannedphraselist",
        tmp_path,
        Options(category="exceptions_test", kind="exception"),
    )
    t = terms_by_text(tmp_path)
    assert t["bet365"] == (-1000, "word", "exceptions_test")


def test_latin1_source_is_read(tmp_path: Path) -> None:
    src = tmp_path / "weighted_french"
    src.write_bytes(
        '#listcategory: "Gambling"\n<pari sportif gratuit><40>\n<tiercé><30>\n'.encode("latin-1")
    )
    out = tmp_path / "out"
    rep = run_import("e2guardian", src, out, Options())
    assert "tiercé" in terms_by_text(out)
    assert any("not UTF-8" in n for n in rep.notes)


def test_existing_files_are_not_replaced_without_force(tmp_path: Path) -> None:
    src = str(FIX / "e2guardian" / "bannedphraselist")
    assert qinglang("lists", "import", "e2guardian", src, "--out", str(tmp_path)).returncode == 0
    again = qinglang("lists", "import", "e2guardian", src, "--out", str(tmp_path))
    assert again.returncode == 2
    assert "--force" in again.stderr
    forced = qinglang("lists", "import", "e2guardian", src, "--out", str(tmp_path), "--force")
    assert forced.returncode == 0


def test_yaml_special_strings_survive(tmp_path: Path) -> None:
    src = tmp_path / "weighted"
    src.write_text(
        '#listcategory: "Test"\n<yes><5>\n<2257><5>\n<null><5>\n<a: b><5>\n<"quoted"><5>\n'
        "<{braces}><5>\n<#hash><5>\n",
        encoding="utf-8",
    )
    run_import("e2guardian", src, tmp_path / "out", Options())
    t = terms_by_text(tmp_path / "out")
    assert {"yes", "2257", "null", "a b", "quoted", "{braces}", "hash"} <= set(t)


# --- hosts, domains, adblock -------------------------------------------------


def test_hosts_file(tmp_path: Path) -> None:
    r = qinglang("lists", "import", "hosts", str(FIX / "hosts"), "--category", "gambling",
                 "--out", str(tmp_path))  # fmt: skip
    assert r.returncode == 0, r.stderr
    lines = (tmp_path / "domains" / "gambling.txt").read_text().splitlines()
    entries = [x for x in lines if not x.startswith("#")]
    assert entries == [
        "bet-two.example",
        "casino-one.example",
        "ipv6sink.example",
        "poker-a.example",
        "poker-b.example",
    ]
    assert "5 × local host name" in r.stderr
    assert f"{FIX / 'hosts'}:14" in r.stderr and "a redirect, not a block" in r.stderr
    assert f"{FIX / 'hosts'}:15" in r.stderr and "not a valid host name" in r.stderr
    d = load_domains([tmp_path])
    assert d.categories_for("www.poker-b.example") == {"gambling"}


def test_hosts_needs_a_category(tmp_path: Path) -> None:
    r = qinglang("lists", "import", "hosts", str(FIX / "hosts"), "--out", str(tmp_path))
    assert r.returncode == 2
    assert "--category" in r.stderr


def test_adblock_host_rules_and_exceptions(tmp_path: Path) -> None:
    r = qinglang("lists", "import", "adblock", str(FIX / "adblock.txt"), "--category", "ads",
                 "--out", str(tmp_path))  # fmt: skip
    assert r.returncode == 0, r.stderr
    d = load_domains([tmp_path])
    assert d.categories_for("ads.example.com") == {"ads"}
    assert d.categories_for("cdn.ads.example.com") == {"ads"}
    assert d.categories_for("good.ads.example.com") == set()  # @@ exception
    assert d.categories_for("tracker.example.net") == {"ads"}  # $important still blocks
    assert d.categories_for("thirdparty.example") == set()  # $third-party: not honoured
    assert d.categories_for("bücher.example") == {"ads"}
    assert d.counts()["ads"] == (3, 2)
    src = FIX / "adblock.txt"
    assert f"{src}:6" in r.stderr and "$ options" in r.stderr
    assert "2 × element-hiding" in r.stderr
    assert "regular-expression rule" in r.stderr and f"{src}:15" in r.stderr
    assert "path or pattern" in r.stderr and f"{src}:13" in r.stderr


def test_ut1_category_folders(tmp_path: Path) -> None:
    r = qinglang("lists", "import", "domains", str(FIX / "ut1"), "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr
    # UT1's "adult" is qinglang's "porn"; other names are kept.
    assert sorted(p.name for p in (tmp_path / "domains").iterdir()) == [
        "drugs.txt",
        "gambling.txt",
        "porn.txt",
    ]
    d = load_domains([tmp_path])
    assert d.categories_for("www.poker-room.example") == {"gambling"}
    assert d.categories_for("lottery.example") == {"gambling"}
    assert d.categories_for("192.0.2.7") == {"porn"}
    assert "urls file" in r.stderr and str(FIX / "ut1" / "gambling" / "urls") in r.stderr
    assert f"{FIX / 'ut1' / 'gambling' / 'domains'}:5" in r.stderr


def test_plain_domain_list(tmp_path: Path) -> None:
    with pytest.raises(ImportFailed, match="--category"):
        run_import("domains", FIX / "domains.txt", tmp_path, Options())
    run_import("domains", FIX / "domains.txt", tmp_path, Options(category="porn"))
    d = load_domains([tmp_path])
    assert d.categories_for("plain-two.example") == {"porn"}
    assert d.counts() == {"porn": (3, 0)}


def test_missing_source(tmp_path: Path) -> None:
    r = qinglang("lists", "import", "hosts", str(tmp_path / "nope"), "--category", "x")
    assert r.returncode == 2
    assert "no such file" in r.stderr


def test_every_change_of_meaning_is_reported(tmp_path: Path) -> None:
    src = tmp_path / "bannedphraselist"
    src.write_text(
        '#listcategory: "Gambling"\n<poker >\n< 赌博 >\n<online casino>\n< bet>,<赌场><30>\n',
        encoding="utf-8",
    )
    opts = Options(progress=False)
    report = run_import("e2guardian", src, tmp_path / "out", opts)
    changed = {reason: [line for _p, line in locs] for reason, locs in report.approximated.items()}
    by_start = {r.split(":")[0].split(" (")[0]: lines for r, lines in changed.items()}
    assert by_start["word-end-only phrase"] == [2]
    assert by_start["banned phrase"] == [2, 3, 4]
    assert by_start["word edges of a phrase that is not Latin script dropped"] == [3]
    assert by_start["phrase with spaces"] == [4]
    text = report.render()
    assert "imported with a change: 1 × word-end-only phrase (<word >)" in text

    ab = tmp_path / "filters.txt"
    ab.write_text("||casino.example\n||*.bet.example^\n||ok.example^\n", encoding="utf-8")
    report = run_import(
        "adblock", ab, tmp_path / "out2", Options(category="gambling", progress=False)
    )
    lines = sorted(line for locs in report.approximated.values() for _p, line in locs)
    assert lines == [1, 2]

    hosts = tmp_path / "hosts"
    hosts.write_text("0.0.0.0 ads.example\n", encoding="utf-8")
    report = run_import("hosts", hosts, tmp_path / "out3", Options(category="ads", progress=False))
    assert any("covers every name under it" in n for n in report.notes)
