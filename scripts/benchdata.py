"""Deterministic benchmark data for scripts/bench_engine.py: mixed text, HTML pages, term lists.

Everything comes from material already on the machine, so the benchmark runs offline:

- Chinese phrases: the simplified side of OpenCC's ``STPhrases.txt`` as shipped inside the
  ``opencc-python-reimplemented`` package (with its traditional forms, used as evasions).
- English words: Debian's word list (``apt-get install wamerican`` gives
  ``/usr/share/dict/american-english``).

Either source may be missing; pseudo-words or pseudo-phrases are generated instead and the
benchmark says so, because its numbers are then less like real text.

The vocabulary is split in two: words the text is written with (drawn with Zipf frequencies),
and words only the lists use. A fixed share of the terms comes from the text's vocabulary,
so bigger lists find more matches, roughly as a bigger real blocklist would.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import random
import re
from bisect import bisect_right
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import accumulate
from pathlib import Path

import yaml

GEN_VERSION = 1  # bump when the generator changes, so cached files are rebuilt
WORDLIST = Path("/usr/share/dict/american-english")
PAGE_SEP = "\f"  # between cached HTML pages; never produced inside a page

CATEGORIES = {
    "porn": 30,
    "gambling": 20,
    "drugs": 20,
    "violence": 15,
    "fraud": 15,
    "selfharm": 25,
    "hate": 20,
    "weapons": 10,
}

# Share of the terms that are drawn from the words the text is written with; the rest are
# words and phrases the text never uses (most of a real blocklist never occurs on a page).
HIT_SHARE = 0.005
TEXT_ZH, TEXT_EN = 20_000, 25_000  # text vocabulary sizes
COMMON = 300  # the most frequent words of each language are never terms
SHORT_ZH_SHARE = 0.05  # share of two-character Chinese phrases kept among list-only terms
PARTICLES = "的了是在和也就都而及把被让给向从对与或"
ZH_PUNCT = ["，", "，", "，", "、", "：", "；"]
ZH_END = ["。", "。", "。", "！", "？", "……"]
EN_END = [".", ".", ".", "!", "?", ";"]
NOISE = ["*", " ", "·", "_", "-", "."]


@dataclass
class Vocab:
    zh: list[str]  # simplified Chinese phrases
    trad: dict[str, str]  # simplified phrase -> a traditional form
    en: list[str]  # lower-case English words
    notes: list[str] = field(default_factory=list)  # what was used, and any fallback


def _opencc_phrases() -> Path | None:
    spec = importlib.util.find_spec("opencc")
    if spec is None or not spec.submodule_search_locations:
        return None
    for loc in spec.submodule_search_locations:
        p = Path(loc) / "dictionary" / "STPhrases.txt"
        if p.is_file():
            return p
    return None


def _pseudo_zh(rng: random.Random, n: int) -> list[str]:
    # Characters from the common part of the CJK block, 2-4 per phrase.
    chars = [chr(cp) for cp in range(0x4E00, 0x4E00 + 3500)]
    out: set[str] = set()
    while len(out) < n:
        out.add("".join(rng.choice(chars) for _ in range(rng.choice((2, 2, 3, 4)))))
    return sorted(out)


def _pseudo_en(rng: random.Random, n: int) -> list[str]:
    onsets = ["b", "c", "d", "f", "g", "h", "l", "m", "n", "p", "r", "s", "t", "v", "w", "st", "tr"]
    vowels = ["a", "e", "i", "o", "u", "ea", "ou", "io"]
    codas = ["", "", "n", "r", "s", "t", "l", "nd", "ng", "ck"]
    out: set[str] = set()
    while len(out) < n:
        k = rng.choice((1, 2, 2, 3, 3, 4))
        out.add(
            "".join(rng.choice(onsets) + rng.choice(vowels) + rng.choice(codas) for _ in range(k))
        )
    return sorted(out)


def load_vocab(wordlist: Path = WORDLIST) -> Vocab:
    notes: list[str] = []
    rng = random.Random(7)
    zh: list[str] = []
    trad: dict[str, str] = {}
    path = _opencc_phrases()
    if path is not None:
        for line in path.read_text(encoding="utf-8").splitlines():
            simp, _, rest = line.partition("\t")
            if 2 <= len(simp) <= 6 and all("\u4e00" <= c <= "\u9fff" for c in simp):
                zh.append(simp)
                t = rest.split(" ")[0].strip()
                if t and t != simp and len(t) == len(simp):
                    trad[simp] = t
        zh = sorted(set(zh))
        notes.append(
            f"Chinese: {len(zh):,} phrases from OpenCC STPhrases.txt ({path.parent.parent.name})"
        )
    else:
        zh = _pseudo_zh(rng, 45_000)
        notes.append(
            "Chinese: opencc-python-reimplemented not installed, using generated pseudo-phrases "
            "(pip install opencc-python-reimplemented for real phrases)"
        )
    if wordlist.is_file():
        words = wordlist.read_text(encoding="utf-8", errors="replace").split()
        en = sorted({w.lower() for w in words if re.fullmatch(r"[A-Za-z]+", w)})
        notes.append(f"English: {len(en):,} words from {wordlist}")
    else:
        en = _pseudo_en(rng, 70_000)
        notes.append(
            f"English: {wordlist} missing, using generated pseudo-words "
            "(apt-get install wamerican for real words)"
        )
    return Vocab(zh, trad, en, notes)


class Chooser:
    """Draws from a list with Zipf-like frequencies (rank r weighs 1 / (r + 10))."""

    def __init__(self, items: list[str]) -> None:
        self.items = items
        self.cum = list(accumulate(1.0 / (r + 10) for r in range(len(items))))

    def __call__(self, rng: random.Random) -> str:
        return self.items[bisect_right(self.cum, rng.random() * self.cum[-1])]


@dataclass
class Split:
    """The vocabulary divided into what the text uses and what only the lists use."""

    zh_text: list[str]  # by frequency rank
    en_text: list[str]
    zh_only: list[str]
    en_only: list[str]
    zh_coll: list[str]  # fixed two-phrase collocations the text uses
    en_coll: list[str]  # fixed two-word collocations the text uses
    trad: dict[str, str]

    def fingerprint(self) -> str:
        """Names cached files: text made from other words must not be reused."""
        h = hashlib.sha256()
        for words in (self.zh_text, self.en_text):
            h.update("\n".join(words).encode("utf-8") + b"\0")
        return h.hexdigest()[:10]


def split_vocab(v: Vocab, seed: int) -> Split:
    rng = random.Random(seed)
    zh = v.zh[:]
    en = v.en[:]
    rng.shuffle(zh)
    rng.shuffle(en)
    zh_text, zh_only = zh[:TEXT_ZH], zh[TEXT_ZH:]
    en_text, en_only = en[:TEXT_EN], [w for w in en[TEXT_EN:] if len(w) >= 3]
    # Frequency rank: short words tend to be the common ones, as in real text.
    zh_text.sort(key=lambda w: len(w) + 3 * rng.random())
    en_text.sort(key=lambda w: len(w) + 6 * rng.random())
    zh_coll = sorted({zh_text[rng.randrange(2000)] + rng.choice(zh_text) for _ in range(1500)})
    en_coll = sorted(
        {en_text[rng.randrange(2000)] + " " + rng.choice(en_text) for _ in range(3000)}
    )
    rng.shuffle(zh_coll)
    rng.shuffle(en_coll)
    return Split(zh_text, en_text, zh_only, en_only, zh_coll, en_coll, v.trad)


# --- text -------------------------------------------------------------------------------------


def _cn_id(rng: random.Random) -> str:
    body = f"{rng.choice((110101, 310104, 440305, 510107))}{rng.randint(1960, 2015)}"
    body += f"{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randint(0, 999):03d}"
    w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    check = "10X98765432"[sum(int(c) * k for c, k in zip(body, w, strict=True)) % 11]
    return body + check


def _luhn_card(rng: random.Random) -> str:
    digits = [6, 2, 2, 2] + [rng.randint(0, 9) for _ in range(11)]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 0:
            d *= 2
            d = d - 9 if d > 9 else d
        total += d
    return "".join(map(str, digits)) + str((10 - total % 10) % 10)


class Writer:
    """Sentences as lists of tokens (each token carries its own spacing)."""

    def __init__(self, s: Split, rng: random.Random) -> None:
        self.s = s
        self.rng = rng
        self.zh = Chooser(s.zh_text)
        self.en = Chooser(s.en_text)
        self.zh_coll = Chooser(s.zh_coll)
        self.en_coll = Chooser(s.en_coll)

    def pii(self) -> str:
        r = self.rng
        kind = r.randrange(6)
        if kind == 0:
            return f"1{r.choice('3456789')}{r.randint(0, 999_999_999):09d}"
        if kind == 1:
            return f"{r.choice(self.s.en_text[:3000])}{r.randint(1, 99)}@example.com"
        if kind == 2:
            return _cn_id(r)
        if kind == 3:
            return f"QQ {r.randint(10_000, 9_999_999_999)}"
        if kind == 4:
            return _luhn_card(r)
        return f"{r.randint(1, 999)}号{r.randint(1, 30)}栋"

    def number(self) -> str:
        r = self.rng
        k = r.randrange(6)
        if k == 0:
            return str(r.randint(1990, 2030))
        if k == 1:
            return f"{r.randint(1, 99)}.{r.randint(0, 9)}%"
        if k == 2:
            return f"¥{r.randint(1, 9999)}"
        if k == 3:
            # Full-width digits, as Chinese pages often write them.
            return "".join(chr(0xFF10 + int(c)) for c in str(r.randint(1, 9999)))
        return str(r.randint(1, 500))

    def zh_sentence(self) -> list[str]:
        r = self.rng
        out: list[str] = []
        n = r.randint(4, 14)
        for i in range(n):
            x = r.random()
            if x < 0.03:
                tok = self.zh_coll(r)
            elif x < 0.06:
                tok = f" {self.en(r)} "
            elif x < 0.08:
                tok = self.number()
            else:
                tok = self.zh(r)
                y = r.random()
                if y < 0.01 and tok in self.s.trad:
                    tok = self.s.trad[tok]  # traditional characters
                elif y < 0.014:
                    tok = r.choice(NOISE).join(tok)  # 赌*博
            out.append(tok)
            if r.random() < 0.3:
                out.append(r.choice(PARTICLES))
            if 0 < i < n - 1 and r.random() < 0.15:
                out.append(r.choice(ZH_PUNCT))
        if r.random() < 0.01:
            out.append(self.pii())
        out.append(r.choice(ZH_END))
        return out

    def en_sentence(self) -> list[str]:
        r = self.rng
        out: list[str] = []
        n = r.randint(6, 18)
        for i in range(n):
            x = r.random()
            if x < 0.03:
                tok = self.en_coll(r)
            elif x < 0.05:
                tok = self.number()
            elif x < 0.06:
                tok = self.zh(r)
            else:
                tok = self.en(r)
                y = r.random()
                if y < 0.01:
                    tok = tok.upper()
                elif y < 0.012:
                    tok = "".join(chr(ord(c) + 0xFEE0) for c in tok)  # full-width ＰＯＲＮ
                elif y < 0.014 and len(tok) <= 6:
                    tok = ".".join(tok)  # p.o.r.n
            if i == 0:
                tok = tok[:1].upper() + tok[1:]
            if i < n - 1 and r.random() < 0.08:
                tok += ","
            out.append(tok + " ")
        if r.random() < 0.01:
            out.append(self.pii() + " ")
        out[-1] = out[-1].rstrip() + r.choice(EN_END) + " "
        return out

    def paragraphs(self) -> Iterator[list[list[str]]]:
        """Endless paragraphs (lists of sentences), about half Chinese by characters."""
        zh_chars = en_chars = 0
        while True:
            para: list[list[str]] = []
            for _ in range(self.rng.randint(3, 8)):
                if zh_chars <= en_chars:
                    sent = self.zh_sentence()
                    zh_chars += sum(map(len, sent))
                else:
                    sent = self.en_sentence()
                    en_chars += sum(map(len, sent))
                para.append(sent)
            yield para


def gen_text(s: Split, target_bytes: int, seed: int) -> str:
    w = Writer(s, random.Random(seed))
    parts: list[str] = []
    size = 0
    for para in w.paragraphs():
        p = "".join("".join(sent) for sent in para).rstrip() + "\n\n"
        parts.append(p)
        size += len(p.encode("utf-8"))
        if size >= target_bytes:
            return "".join(parts)
    raise AssertionError("unreachable")


# --- HTML -------------------------------------------------------------------------------------

_CSS = (
    "body{font-family:sans-serif;margin:0 auto;max-width:60em}\n"
    ".nav a{padding:0 .5em;color:#06c}\n.post p{line-height:1.6}\n"
    "footer{color:#888;font-size:small}\n"
)


def _esc(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _html_tokens(w: Writer, sent: list[str]) -> str:
    r = w.rng
    out: list[str] = []
    for tok in sent:
        x = r.random()
        t = _esc(tok)
        if x < 0.05:
            out.append(f"<b>{t}</b>")
        elif x < 0.08:
            out.append(f'<a href="/tag/{r.randint(1, 9999)}">{t}</a>')
        elif x < 0.09 and len(tok) >= 2 and "\u4e00" <= tok[0] <= "\u9fff":
            out.append(f"{tok[0]}<em>{_esc(tok[1:])}</em>")  # 赌<em>博</em>
        elif x < 0.095 and tok and "\u4e00" <= tok[0] <= "\u9fff":
            out.append(f"&#{ord(tok[0])};{_esc(tok[1:])}")  # numeric entity
        else:
            out.append(t)
    return "".join(out).replace("  ", " &nbsp;")


def gen_page(w: Writer, paras: Iterator[list[list[str]]], target_chars: int, n: int) -> str:
    r = w.rng
    title = "".join(next(paras)[0]).strip()
    head = (
        '<!DOCTYPE html>\n<html lang="zh-CN">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{_esc(title)}</title>\n<style>\n{_CSS}</style>\n"
        f'<script>window.__page={{id:{n},tags:["{w.en(r)}","{w.zh(r)}"]}};'
        f'function track(e){{console.log("{w.en(r)}",e)}}</script>\n</head>\n<body>\n'
    )
    nav = '<div class="nav">' + "".join(
        f'<a href="/c/{i}" title="{_esc(w.zh(r))}">{_esc(w.en(r))}</a>' for i in range(8)
    )
    parts = [head, nav, '</div>\n<article class="post">\n', f"<h1>{_esc(title)}</h1>\n"]
    size = sum(map(len, parts))
    while size < target_chars:
        para = next(paras)
        body = "".join(_html_tokens(w, sent) for sent in para)
        if r.random() < 0.2:
            alt = _esc("".join(para[0])[:40])
            body += f'\n<img src="/img/{r.randint(1, 99999)}.jpg" alt="{alt}">'
        p = f"<p>{body}</p>\n"
        parts.append(p)
        size += len(p)
    parts.append(
        '</article>\n<form><input name="q" placeholder="'
        + _esc(w.zh(r) + " " + w.en(r))
        + '"></form>\n<footer>&copy; 2024 '
        + _esc(w.en(r))
        + "</footer>\n</body>\n</html>\n"
    )
    return "".join(parts)


def gen_html(s: Split, target_bytes: int, seed: int) -> list[str]:
    w = Writer(s, random.Random(seed + 1))
    paras = w.paragraphs()
    pages: list[str] = []
    size = 0
    while size < target_bytes:
        page = gen_page(w, paras, w.rng.randint(20_000, 60_000), len(pages))
        pages.append(page)
        size += len(page.encode("utf-8"))
    return pages


# --- term lists -------------------------------------------------------------------------------


def _is_zh(t: str) -> bool:
    return any("\u4e00" <= c <= "\u9fff" for c in t)


def ordered_terms(
    s: Split, n: int, seed: int, norm: Callable[[str], str], hit_share: float = HIT_SHARE
) -> list[str]:
    """``n`` distinct terms; every prefix is itself a fair sample (1k within 10k within 100k).

    ``norm`` is the engine's term normalisation, so that no two terms collapse into one.
    """
    rng = random.Random(seed + 2)
    hits = [w for w in s.zh_text[COMMON:] + s.en_text[COMMON:] if len(w) >= 3 or _is_zh(w)]
    hits += s.zh_coll[:500] + s.en_coll[:1000]
    rng.shuffle(hits)
    # Two-character phrases that the text is not written with still turn up across word
    # gaps in randomly joined text far more often than in real text; keep a few of them.
    zh_misses = [w for w in s.zh_only if len(w) >= 3 or rng.random() < SHORT_ZH_SHARE]
    misses = zh_misses + s.en_only
    rng.shuffle(misses)

    def pairs() -> Iterator[str]:  # multi-word terms the text never contains
        while True:
            if rng.random() < 0.5:
                yield rng.choice(s.zh_only) + rng.choice(s.zh_only)
            else:
                yield rng.choice(s.en_only) + " " + rng.choice(s.en_only)

    extra = pairs()
    hit_it, miss_it = iter(hits), iter(misses)
    out: list[str] = []
    seen: set[str] = set()
    every = max(1, round(1 / hit_share))
    while len(out) < n:
        if every == 1 or len(out) % every == every // 2:
            t = next(hit_it)
        elif rng.random() < 0.15:
            t = next(extra)  # some multi-word terms at every size
        else:
            t = next(miss_it, None) or next(extra)
        k = norm(t)
        if k and k not in seen:
            seen.add(k)
            out.append(t)
    return out


def write_lists(terms: list[str], s: Split, seed: int, folder: Path) -> list[str]:
    """Write ``terms`` as YAML list files (a zh and an en file per category), with a few
    per-term weights and match modes, exceptions and combinations. Returns every pattern
    string the lists contain (terms, exceptions, combination parts), for the bare scan."""
    rng = random.Random(seed + 3 + len(terms))
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[tuple[str, str], dict] = {}
    for cat, weight in CATEGORIES.items():
        for lang in ("zh", "en"):
            files[(cat, lang)] = {
                "category": cat,
                "lang": lang,
                "weight": weight,
                "terms": [],
                "exceptions": [],
            }
    cats = list(CATEGORIES)
    patterns: list[str] = []
    for t in terms:
        lang = "zh" if _is_zh(t) else "en"
        f = files[(rng.choice(cats), lang)]
        x = rng.random()
        if x < 0.05:
            f["terms"].append({"term": t, "weight": rng.choice((5, 40, 60))})
        elif x < 0.07 and lang == "en" and len(t) >= 5:
            f["terms"].append({"term": t, "match": rng.choice(("prefix", "substring"))})
        else:
            f["terms"].append(t)
        patterns.append(t)
    # Exceptions: phrases of the text's own vocabulary (some overlap term hits).
    for _ in range(max(1, len(terms) // 200)):
        lang = rng.choice(("zh", "en"))
        phrase = rng.choice(s.zh_coll) if lang == "zh" else rng.choice(s.en_coll)
        files[(rng.choice(cats), lang)]["exceptions"].append(phrase)
        patterns.append(phrase)
    # Combinations of two common words, some as negative context.
    for _ in range(max(1, len(terms) // 500)):
        lang = rng.choice(("zh", "en"))
        pool = s.zh_text[COMMON:3000] if lang == "zh" else s.en_text[COMMON:3000]
        a, b = rng.sample(pool, 2)
        w = rng.choice((30, 30, -20))
        files[(rng.choice(cats), lang)]["terms"].append({"all": [a, b], "weight": w})
        patterns += [a, b]
    for (cat, lang), data in files.items():
        if not data["exceptions"]:
            del data["exceptions"]
        text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=1000)
        (folder / f"{cat}-{lang}.yaml").write_text(text, encoding="utf-8")
    unique = list(dict.fromkeys(patterns))
    (folder / "patterns.json").write_text(json.dumps(unique, ensure_ascii=False), encoding="utf-8")
    return unique


# --- cache ------------------------------------------------------------------------------------


def cached_text(cache: Path, s: Split, mb: float, seed: int) -> Path:
    path = cache / f"text-v{GEN_VERSION}-s{seed}-{s.fingerprint()}-{mb:g}MB.txt"
    if not path.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(gen_text(s, int(mb * 1e6), seed), encoding="utf-8")
        tmp.replace(path)
    return path


def cached_html(cache: Path, s: Split, mb: float, seed: int) -> Path:
    path = cache / f"html-v{GEN_VERSION}-s{seed}-{s.fingerprint()}-{mb:g}MB.txt"
    if not path.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(PAGE_SEP.join(gen_html(s, int(mb * 1e6), seed)), encoding="utf-8")
        tmp.replace(path)
    return path
