"""Personal-information detectors (issue 4): find, mask, and judge doxxing pages.

The detectors run over the engine's normalised scan text (``Normalized``), where digits
are ASCII whatever their width and noise characters (spaces, ``-``, ``.``, ``*`` …) are
gone or, between two longer words, reduced to one space. So one compiled pass over the
text (``_piiscan``) finds every run of 11 or more digits, even when written
``１３８ １２３４ ５６７８``, with the labels and ``@`` signs. Dropping the noise
also joins numbers that are really separate (``12 13812345678``), so each run is cut back
into the groups it was written in (``norm.pos`` and the source text show what sat between
the digits), and a value is accepted only as whole groups in a usual layout: one group,
the usual groupings of its kind (phone 3-4-4, ID 6-8-4, cards in fours) or one digit per
group. A value is never taken from the middle of a longer number.

E-mail addresses are found on the source text (their ``.``, ``-``, ``_`` are noise in the
normalised text); QQ and WeChat ids and street addresses only after a label announcing
them (``QQ：``, ``微信号``, ``家庭住址`` …).

All offsets are scan-text coordinates (indexes into ``norm.source``); the engine maps
them to the document and masks the ``hide`` ranges. Nothing here logs or keeps values.

Why hand-written: the checks are national formats (GB 11643 ID numbers, mainland mobile
ranges, Luhn with card issuer ranges) that no maintained Python library covers together
with an offset map back to the original characters.
"""

from __future__ import annotations

import bisect
import datetime as _dt
import re
import unicodedata
from dataclasses import dataclass

import numpy as np

import qinglang.engine._piiscan as _piiscan
from qinglang.engine.normalize import BOUNDARY, Normalized, normalize
from qinglang.engine.settings import ScanSettings

KINDS = ("cn_id", "cn_mobile", "bank_card", "email", "qq", "wechat", "address")


@dataclass(frozen=True, slots=True)
class PiiFound:
    """One personal-information value, in scan-text coordinates (``norm.source``)."""

    kind: str  # cn_id | cn_mobile | bank_card | email | qq | wechat | address
    start: int
    end: int
    value: str  # canonical value, for counting distinct values; never logged
    hide: tuple[tuple[int, int], ...]  # scan-text ranges to mask
    # The value points at one person on its own (ID number, bank card, home address);
    # a doxxing page needs at least one (see ``doxxing_exposure``).
    identifies: bool = False


# --- value checks (also used by the outbound guard) ------------------------------------------

# First two digits of a resident ID: province-level regions (GB/T 2260), plus 71/81/82/83
# (Taiwan, Hong Kong, Macau and the residence permits that use those codes).
PROVINCES = frozenset(
    {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46}
    | {50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82, 83}
)
_ID_WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))
_ID_CHECK = "10X98765432"  # ISO 7064 MOD 11-2 check character by remainder
_ID_RE = re.compile(r"[0-9]{17}[0-9X]")
_MOBILE_RE = re.compile(r"1[3-9][0-9]{9}")
_MOBILE_ANYWHERE = _MOBILE_RE
_DIGITS_RE = re.compile(r"[0-9]+")


def cn_id_check_char(first17: str) -> str:
    """GB 11643 check character of the first 17 digits of a resident ID number."""
    return _ID_CHECK[sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]


def is_cn_id(value: str, today: _dt.date | None = None) -> bool:
    """18 characters, a real province, a real birth date (1900..today), the right check."""
    v = value.upper()
    if not _ID_RE.fullmatch(v) or int(v[:2]) not in PROVINCES:
        return False
    try:
        born = _dt.date(int(v[6:10]), int(v[10:12]), int(v[12:14]))
    except ValueError:
        return False
    if born.year < 1900 or born > (today or _dt.date.today()):
        return False
    return cn_id_check_char(v[:17]) == v[17]


def is_mobile(digits: str) -> bool:
    """A mainland mobile number: 11 digits starting 13-19."""
    return _MOBILE_RE.fullmatch(digits) is not None


def luhn_ok(digits: str) -> bool:
    return _DIGITS_RE.fullmatch(digits) is not None and _luhn_sum(digits) % 10 == 0


# Luhn doubles every second digit from the right and adds the digits of the product.
_LUHN_DOUBLED = str.maketrans("0123456789", "0246813579")


def _luhn_sum(digits: str) -> int:
    """The Luhn sum of ASCII digits, summed as bytes at C speed: the plain places as they
    are, the doubled places mapped through ``_LUHN_DOUBLED``."""
    kept = digits[-1::-2].encode()
    doubled = digits[-2::-2].translate(_LUHN_DOUBLED).encode()
    return sum(kept) + sum(doubled) - 48 * len(digits)


def card_iin_ok(digits: str) -> bool:
    """Issuer prefix and length of a payment card network in use (UnionPay, Visa, ...).

    Used for numbers with no card label nearby: Luhn alone passes one random number in
    ten, and long numeric ids (posts, orders, parcels, IMEIs, SIM cards) are everywhere.
    Visa's old 13-digit numbers are out of circulation and collide with parcel numbers,
    so a 13-digit number is a card only after a card label.
    """
    n = len(digits)
    p2, p3, p4 = int(digits[:2]), int(digits[:3]), int(digits[:4])
    if digits[0] == "4":  # Visa
        return n in (16, 19)
    if 51 <= p2 <= 55 or 2221 <= p4 <= 2720:  # Mastercard
        return n == 16
    if p2 in (34, 37):  # American Express
        return n == 15
    if p2 == 62 or 3528 <= p4 <= 3589 or p4 == 6011 or p2 == 65 or 644 <= p3 <= 649:
        return 16 <= n <= 19  # UnionPay, JCB, Discover
    if p2 in (36, 38, 39) or 300 <= p3 <= 305:  # Diners Club
        return 14 <= n <= 19
    return False


def canonical(value: str) -> str:
    """A value as the detectors compare it: normalised like scan text (case, width,
    traditional -> simplified, noise dropped), without spaces, and a ``+86``/``0086``
    mobile reduced to its 11 digits: ``138 1234 5678`` and ``+86-138-1234-5678`` give
    the same key. Look for it in a page or request with ``find_value``."""
    text = normalize(value).text.replace(" ", "")
    for pre in ("0086", "86"):
        if text.startswith(pre) and is_mobile(text[len(pre) :]):
            return text[len(pre) :]
    return text.upper() if is_cn_id(text) else text


def find_value(norm: Normalized, key: str) -> list[tuple[int, int]]:
    """Source spans where ``key`` (from ``canonical``) occurs in normalised text, spaces
    ignored. For the outbound guard: configured values against a URL or a body."""
    if not key:
        return []
    text, pos = norm.text, norm.pos
    if " " in text:
        keep = np.flatnonzero(
            np.frombuffer(text.encode("utf-32-le", "surrogatepass"), np.uint32) != 32
        )
        text = text.replace(" ", "")
        pos = pos[keep]
    key = key.lower()  # an ID's X is lower case in normalised text
    out: list[tuple[int, int]] = []
    i = text.find(key)
    while i >= 0:
        out.append((int(pos[i]), int(pos[i + len(key) - 1]) + 1))
        i = text.find(key, i + 1)
    return out


def classify_value(value: str) -> tuple[str, str]:
    """(kind, canonical value) of one configured value; kind ``text`` when it is none of
    the detected kinds (a name, a school)."""
    key = canonical(value)
    if is_cn_id(key):
        return "cn_id", key
    if is_mobile(key):
        return "cn_mobile", key
    if 13 <= len(key) <= 19 and luhn_ok(key):
        return "bank_card", key
    if _EMAIL_FULL.fullmatch(unicodedata.normalize("NFKC", value.strip())):
        return "email", unicodedata.normalize("NFKC", value.strip()).lower()
    return "text", key


# --- numbers -----------------------------------------------------------------------------------

# Numbers are runs of 11+ digits in the normalised text, where the normaliser may have kept
# one space between digit groups, and an ID's final X when no letter follows (found by
# _piiscan, which drops runs with no stretch of whole groups of a value's length and layout).
_MAX_DIGITS = 19  # the longest value: a 19-digit card
_LENGTHS = frozenset({11, 13, 14, 15, 16, 17, 18, 19})  # digits in a value, with +86/0086

# What may sit between the groups of one number (besides spaces, dashes and dots, which
# are the usual ones): nothing that marks a new number or a line.
_HARD_GAP = frozenset("\n\r\x0b\x0c\x85\u2028\u2029/\\|+=#^`")
_SOFT, _DOT, _HARD = 0, 1, 2

_ID_SHAPES = frozenset(
    {(18,), (6, 8, 4), (6, 4, 4, 4), (4, 4, 4, 4, 2), (6, 12), (6, 8, 3, 1), (17, 1)}
    | {(3, 3, 4, 4, 4), (6, 8, 2, 2)}
)
_MOBILE_SHAPES = frozenset({(11,), (3, 4, 4), (3, 8), (7, 4), (4, 7)})
# Every layout in more than one group a value may have (besides one digit per group): a
# cheap first test, so that long runs of grouped numbers cost little.
_SHAPES = frozenset(
    _ID_SHAPES
    | _MOBILE_SHAPES
    | {(n, *m) for n in (2, 4) for m in _MOBILE_SHAPES}
    | {(m[0] + n, *m[1:]) for n in (2, 4) for m in _MOBILE_SHAPES}
    | {(4,) * g + (last,) for g in (2, 3, 4) for last in (1, 2, 3, 4)}
    | {(4, 6, 5), (4, 6, 4)}
)

# Labels before a number (in the normalised text, within _WINDOW characters); the label
# nearest the number wins. A number announced as an order, parcel, serial, ISBN ... is
# none of ours; one announced as a post or user id is not a phone or card (an ID number
# is told by its own checks); one announced as a card is a card whatever its issuer.
_WINDOW = 14
_CONTEXT = re.compile(
    r"(?P<neg>订单|单号|运单|快递|物流|包裹|流水|交易号|交易单|序列号|序号|编号|条码|条形码"
    r"|工单|发票|批次|批号|型号|货号|商品|券码|兑换码|激活码|验证码|学号|工号|准考证|考号"
    r"|时间戳|isbn|issn|imei|meid|iccid|sim卡|order|tracking|invoice|serial|sku|asin"
    r"|timestamp|waybill)"
    r"|(?P<ident>(?<![a-z])(?:u?id|mid)|微博|帖子|视频)"
    r"|(?P<card>卡号|银行卡|信用卡|储蓄卡|借记卡|银联|开户|账号|帐号|账户|帐户|card|visa"
    r"|mastercard|unionpay)"
    r"|(?P<phone>手机|电话|联系|tel|phone|mobile)"
)


@dataclass(slots=True)
class _Run:
    """One run of digits as written: the digits, where each sits in the source, the groups
    they were written in and what joins the groups.

    Group ``k`` is ``d[starts[k]:ends[k]]``. A space the normaliser kept between two
    digit groups is not a digit: ``d`` and ``p`` skip it, ``nidx`` keeps each digit's
    normalised index for the label check.
    """

    d: str  # the digits (and an ID's final "x")
    p: list[int]  # source index of each digit
    nidx: list[int]  # normalised index of each digit
    starts: list[int]
    ends: list[int]
    joins: list[int]  # join kind between group k and k + 1
    bad_before: bool  # glued to a code or URL on the left
    bad_after: bool
    whole_block: bool  # the run is all there is in its text block


def _gap_kind(gap: str) -> int:
    if len(gap) > 3:
        return _HARD
    g = unicodedata.normalize("NFKC", gap)
    if any(c in _HARD_GAP for c in g):
        return _HARD
    return _DOT if g == "." else _SOFT


def _is_code_char(c: str) -> bool:
    c = unicodedata.normalize("NFKC", c)
    return len(c) == 1 and c.isascii() and c.isalnum()


def _glued_left(src: str, i: int) -> bool:
    """Source char before index ``i`` makes the digits part of a code or URL."""
    if i <= 0:
        return False
    c = src[i - 1]
    if _is_code_char(c):
        return True
    if c in "-_":  # SF-1402093765214
        return i >= 2 and _is_code_char(src[i - 2])
    return c in "/=?&#%" and _in_url(src, i)


_URL = re.compile(r"://|www\.|[a-z0-9]\.[a-z]{2,6}[/?]", re.I)


def _in_url(src: str, i: int) -> bool:
    """The text just before ``i`` (back to a space) is a URL."""
    k = i - 1
    stop = max(0, i - 300)
    while k > stop and not src[k - 1].isspace() and src[k - 1] != BOUNDARY:
        k -= 1
    return _URL.search(src, k, i) is not None


def _glued_right(src: str, i: int) -> bool:
    """Source char at index ``i`` (after the digits) makes them part of a code."""
    if i >= len(src):
        return False
    c = src[i]
    if _is_code_char(c):
        return True
    return c in "-_" and i + 1 < len(src) and _is_code_char(src[i + 1])  # 1234567890-AB


def _run(norm: Normalized, a: int, b: int) -> _Run:
    src, text = norm.source, norm.text
    seg = text[a:b]
    if " " in seg:
        nidx = [k for k in range(a, b) if text[k] != " "]
        d = seg.replace(" ", "")
        p = norm.pos[nidx].tolist()
    else:
        nidx = list(range(a, b))
        d = seg
        p = norm.pos[a:b].tolist()
    # Where noise sat between two digits; a plain loop is faster than numpy for the
    # usual short runs, numpy for the rare very long ones.
    if len(p) > 256:
        breaks = np.flatnonzero(np.diff(np.asarray(p)) != 1).tolist()
    else:
        breaks = [k for k in range(len(p) - 1) if p[k + 1] - p[k] != 1]
    starts, ends, joins = [0], [], []
    for k in breaks:
        ends.append(k + 1)
        starts.append(k + 1)
        joins.append(_gap_kind(src[p[k] + 1 : p[k + 1]]))
    ends.append(len(d))
    whole = (a == 0 or text[a - 1] == BOUNDARY) and (b == len(text) or text[b] == BOUNDARY)
    left, right = _glued_left(src, p[0]), _glued_right(src, p[-1] + 1)
    return _Run(d, p, nidx, starts, ends, joins, left, right, whole)


def _strip_prefix(lens: tuple[int, ...], n: int) -> tuple[int, ...] | None:
    if lens[0] == n:
        return lens[1:] or None
    if lens[0] > n:
        return (lens[0] - n, *lens[1:])
    return None


def _card_shape(lens: tuple[int, ...]) -> bool:
    if len(lens) == 1:
        return True
    if len(lens) >= 3 and all(x == 4 for x in lens[:-1]) and 1 <= lens[-1] <= 4:
        return True
    return lens in ((4, 6, 5), (4, 6, 4))


def _classify(d: str, lens: tuple[int, ...], plus: bool) -> tuple[str, int] | None:
    """Kind of the digits ``d`` written in groups ``lens``, and its country-code length."""
    n = len(d)
    ones = len(lens) > 1 and max(lens) == 1
    if n == 18:
        if (ones or lens in _ID_SHAPES) and is_cn_id(d):
            return "cn_id", 0
        if d[-1] == "x":
            return None
    if n == 11 and (ones or lens in _MOBILE_SHAPES) and is_mobile(d):
        return "cn_mobile", 0
    for pre in ("0086", "86"):
        if n == len(pre) + 11 and d.startswith(pre) and (plus or pre == "0086"):
            rest = _strip_prefix(lens, len(pre))
            if rest and (ones or rest in _MOBILE_SHAPES) and is_mobile(d[len(pre) :]):
                return "cn_mobile", len(pre)
    if 13 <= n <= 19 and (ones or _card_shape(lens)) and luhn_ok(d):
        return "bank_card", 0
    return None


def _context(text: str, a: int) -> str | None:
    """``neg``, ``ident``, ``card``, ``phone`` or None: the label nearest before
    normalised index ``a``."""
    last = None
    for m in _CONTEXT.finditer(text, max(0, a - _WINDOW), a):
        last = m.lastgroup
    return last


def _numbers(norm: Normalized, runs: list[tuple[int, int]], out: list[PiiFound]) -> None:
    for a, b in runs:
        if not _may_hold_value(norm.text[a:b].replace(" ", "")):
            continue
        r = _run(norm, a, b)
        for seg in _segments(r):
            _scan_segment(norm, r, seg, out)


def _may_hold_value(d: str) -> bool:
    """Whether some stretch of the digits ``d`` could be a value at all, whatever their
    grouping: a mobile number, an ID or a Luhn-valid 13-19 digit card. Every value
    ``_classify`` accepts is such a stretch, so a run failing this is skipped without
    the grouping work (dates, counts and ids fill news and shop pages)."""
    n = len(d)
    if n > 64:  # rare; the full analysis handles long runs itself
        return True
    if _MOBILE_ANYWHERE.search(d):
        return True
    if n >= 18 and any(is_cn_id(d[k : k + 18]) for k in range(n - 17)):
        return True
    return _luhn_stretch(d.rstrip("x"))


def _luhn_stretch(d: str) -> bool:
    """Whether some 13-19 digit stretch of the digits ``d`` passes Luhn."""
    n = len(d)
    return any(
        _luhn_sum(d[k : k + size]) % 10 == 0
        for size in range(13, min(n, _MAX_DIGITS) + 1)
        for k in range(n - size + 1)
    )


def _segments(r: _Run) -> list[range]:
    """Group indexes of each part of the run between hard gaps."""
    out: list[range] = []
    first = 0
    for k, j in enumerate(r.joins):
        if j == _HARD:
            out.append(range(first, k + 1))
            first = k + 1
    out.append(range(first, len(r.starts)))
    return out


def _scan_segment(norm: Normalized, r: _Run, seg: range, out: list[PiiFound]) -> None:
    last = len(r.starts) - 1
    size = [b - a for a, b in zip(r.starts, r.ends, strict=True)]
    p = r.p
    i = seg.start
    while i < seg.stop:
        # Inside a longer number written one digit (or four) at a time: no value starts
        # here. Checked first so that a page of "1 2 3 4 ..." costs one test per group.
        if i > seg.start and size[i] in (1, 4) and size[i - 1] == size[i]:
            i += 1
            continue
        # Longest candidate first: "6222 0212 3456 7890 123" is one card, not 16 digits + 3.
        ends: list[int] = []
        total = 0
        for j in range(i, seg.stop):
            total += size[j]
            if total > _MAX_DIGITS:
                break
            if total in _LENGTHS and (
                j == i or tuple(size[i : j + 1]) in _SHAPES or max(size[i : j + 1]) == 1
            ):
                ends.append(j)
        hit = None
        for j in reversed(ends):
            hit = _candidate(norm, r, i, j, last)
            if hit is not None:
                break
        if hit is None:
            i += 1
            continue
        kind, pre, j = hit
        s, e = r.starts[i], r.ends[j]
        d = r.d[s:e]
        if kind == "cn_mobile":
            value, h0, h1 = d[pre:], s + pre + 3, s + pre + 7
        elif kind == "cn_id":
            value, h0, h1 = d.upper(), s + 4, e - 4
        else:
            value, h0, h1 = d, s, e - 4
        hide = ((p[h0], p[h1 - 1] + 1),)
        out.append(PiiFound(kind, p[s], p[e - 1] + 1, value, hide, kind != "cn_mobile"))
        i = j + 1


def _candidate(norm: Normalized, r: _Run, i: int, j: int, last: int) -> tuple[str, int, int] | None:
    text, src, p = norm.text, norm.source, r.p
    s, e = r.starts[i], r.ends[j]
    d = r.d[s:e]
    lens = tuple(r.ends[k] - r.starts[k] for k in range(i, j + 1))
    plus = p[s] > 0 and src[p[s] - 1] in "+＋"
    got = _classify(d, lens, plus)
    if got is None:
        return None
    kind, pre = got
    before = r.joins[i - 1] if i > 0 else _HARD
    after = r.joins[j] if j < last else _HARD
    # Glued to a code or a URL: "SN13812345678", "weibo.com/123/4852601815908302".
    if before == _HARD and (r.bad_before if i == 0 else _glued_left(src, p[s])):
        return None
    if after == _HARD and (r.bad_after if j == last else _glued_right(src, p[e - 1] + 1)):
        return None
    if _DOT in (before, after):  # a decimal or version number: 0.4532015112830366
        return None
    # Inside a longer number written in the same layout (one digit apart, or in fours).
    for k, join in ((i - 1, before), (j + 1, after)):
        if join == _HARD:
            continue
        size = r.ends[k] - r.starts[k]
        if (len(lens) > 1 and max(lens) == 1 and size == 1) or (
            kind == "bank_card" and len(lens) > 2 and lens[0] == 4 and size == 4
        ):
            return None
    ctx = _context(text, r.nidx[s])
    if ctx == "neg" or (ctx == "ident" and kind != "cn_id"):
        return None
    if kind == "bank_card" and ctx != "card":
        if not card_iin_ok(d):
            return None
        # A bare number that is a whole text block (a JSON string, a table cell) with no
        # card label is far more often an id than a card; grouped in fours it is a card.
        if len(lens) == 1 and r.whole_block and i == 0 and j == last:
            return None
    return kind, pre, j


# --- e-mail ------------------------------------------------------------------------------------

_W = "A-Za-z0-9Ａ-Ｚａ-ｚ０-９"
_LOCAL = re.compile(rf"[{_W}._%+\-．＿－＋]{{1,64}}\Z")
_DOMAIN = re.compile(
    rf"(?:[{_W}](?:[{_W}\-－]{{0,61}}[{_W}])?[.．]){{1,8}}([A-Za-zＡ-Ｚａ-ｚ]{{2,24}})"
    rf"(?![{_W}\-－@＠])"
)
_EMAIL_FULL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,24}")
# name@2x.png and the like: file names, not mailboxes.
_FILE_TLD = re.compile(
    r"png|jpe?g|gif|webp|svg|bmp|ico|tiff?|avif|heic|m?js|css|json|xml|html?|php|aspx?|jsp"
    r"|txt|md|pdf|docx?|xlsx?|zip|gz|rar|mp[34]|webm|mov|wav"
)


def _ats(norm: Normalized, ats: list[int]) -> list[int]:
    """Source indexes of "@" and "＠", from the "@" of the normalised text at ``ats``
    (neither is noise, and both read as "@"; "﹫" reads as "@" too, but is not one)."""
    src, pos = norm.source, norm.pos
    return [i for i in pos[ats].tolist() if src[i] in "@＠"] if ats else []


def _emails(src: str, ats: list[int], out: list[PiiFound]) -> None:
    end = 0
    for k in ats:
        if k < end:
            continue
        lm = _LOCAL.search(src, max(0, k - 64), k)
        dm = _DOMAIN.match(src, k + 1)
        if lm is None or dm is None:
            continue
        ls = lm.start()
        while ls < k and not _is_code_char(src[ls]):
            ls += 1  # a local part starts with a letter or digit
        if ls == k or _FILE_TLD.fullmatch(unicodedata.normalize("NFKC", dm.group(1)).lower()):
            continue
        end = dm.end()
        value = unicodedata.normalize("NFKC", src[ls:end]).lower()
        hide = (ls + 1, k) if k - ls > 1 else (ls, k)
        out.append(PiiFound("email", ls, end, value, (hide,)))


# --- labelled values: QQ, WeChat, street addresses -----------------------------------------

# Labels in normalised text (lower case, full-width forms folded, noise gone: "QQ 号" is
# "qq号", "Home Address" is "homeaddress").
_LABELS = {
    **dict.fromkeys(("qq", "扣扣", "企鹅号"), "qq"),
    **dict.fromkeys(("微信", "vx", "wx", "v信", "weixin", "wechat"), "wx"),
    **dict.fromkeys(
        (
            "家庭住址",
            "家庭地址",
            "家住",
            "现住址",
            "住址",
            "居住地址",
            "居住地",
            "户籍地址",
            "户籍地",
            "户籍所在地",
            "收货地址",
            "homeaddress",
            "home address",
        ),
        "home",
    ),
    **dict.fromkeys(("通讯地址", "联系地址", "详细地址", "地址", "address"), "addr"),
}
# The pass over the text: labels (the longest at a place), digit runs that may hold a value.
_SCANNER = _piiscan.Scanner(tuple(_LABELS), _SHAPES, _LENGTHS)
_TAIL = {
    "qq": re.compile(" ?(?:号码|号|账号|帐号)"),
    "wx": re.compile(" ?(?:号|账号|帐号|id)"),
}
# Between a label and its value; a value may sit in the next table cell (one BOUNDARY).
# The normaliser may keep one space between two Latin words ("wechat id happy").
_SEP = re.compile(r" ?[:是为在]{0,2} ?(?:\x1e ?:? ?)?")
_QQ = re.compile(r"[1-9](?: ?[0-9]){4,}")
_WX_ID = re.compile(r"[a-z0-9][a-z0-9]{3,30}")
# Generic "地址"/"address" after these is a web, network or organisation address.
_ADDR_NOT = re.compile(
    r"(?:ip|mac|网站|网页|网址|邮箱|邮件|电邮|email|mail|服务器|链接|下载|钱包|合约|内存|公司"
    r"|单位|办公|学校|门店|店铺|商家|酒店|医院|工厂|总部|注册|营业|经营|办事处|机构|官方|学院"
    r"|大学|政府|会议|活动|比赛|考点|web|wallet|contract|memory|server|website|company"
    r"|office|business)\Z"
)
# An address runs to the end of its clause, at most 60 characters; an English one goes
# on over commas ("Flat 3, 12 Oak Street, Springfield") to the end of the line.
_CLAUSE = re.compile(r"[^\n\r\x1e。；;!！?？,，|<>()（）【】\[\]]{2,60}")
_CLAUSE_EN = re.compile(r"[^\n\r\x1e。；;!！?？|<>()（）【】\[\]]{2,60}")
_ADDR_STOP = re.compile(
    r"\s*(?:电话|手机|联系|tel\b|phone|mobile|qq|微信|邮箱|e-?mail|身份证|姓名|邮编|性别|年龄"
    r"|生日|出生|学校|班级|父亲|母亲|爸爸|妈妈)",
    re.I,
)
_ADDR_CN = re.compile(
    r"路|街|巷|弄|胡同|号|村|组|栋|幢|楼|单元|室|小区|大厦|公寓|花园|苑|社区|镇|乡"
)
_ADDR_EN = re.compile(
    r"\b(?:street|st|road|rd|avenue|ave|lane|ln|drive|dr|boulevard|blvd|way|court|ct|place"
    r"|pl|apt|apartment|unit|suite|floor|building|close|crescent|terrace)\b",
    re.I,
)
_ADDR_URL = re.compile(r"https?:|www\.|://|@", re.I)
_CITY = re.compile(r"[^市省]{0,6}[省]?[^市]{0,6}市|[^省区县]{1,6}[省区县]")


def _labelled(
    norm: Normalized, labels: list[tuple[int, int]], taken: _Spans, out: list[PiiFound]
) -> None:
    text = norm.text
    for a, b in labels:
        label = text[a:b]
        kind = _LABELS[label]
        if label.isascii() and (
            (a > 0 and _is_code_char(text[a - 1])) or not _word_ends(norm, b, kind == "qq")
        ):
            continue  # part of a longer word: "wxid", "addressing"
        tail = _TAIL.get(kind)
        if tail is not None:
            t = tail.match(text, b)
            if t is not None:
                b = t.end()
            if text[b : b + 1] == "群":
                continue  # a group number is not a person's
        sep = _SEP.match(text, b)
        v = sep.end() if sep is not None else b
        if v >= len(text):
            continue
        if kind == "qq":
            got = _qq(norm, v)
        elif kind == "wx":
            got = _wechat(norm, v)
        elif kind == "addr" and _ADDR_NOT.search(text, max(0, a - 8), a):
            continue
        else:
            got = _address(norm, v, kind == "home", label.isascii(), taken)
        if got is not None and not taken.overlaps(got.start, got.end):
            out.append(got)
            taken.add(got.start, got.end)


def _word_ends(norm: Normalized, b: int, digits_ok: bool) -> bool:
    """The label's last character is not glued to a following letter (or digit) in the
    source: "wxWidgets", "wx12345678" are not labels; "QQ12345678" is."""
    if b >= len(norm.text):
        return True
    nxt = norm.text[b]
    if not _is_code_char(nxt) or (digits_ok and nxt.isdigit()):
        return True
    return int(norm.pos[b]) - int(norm.pos[b - 1]) > 1


class _Spans:
    """Scan-text spans already taken by a value; they never overlap one another."""

    def __init__(self, found: list[PiiFound]) -> None:
        spans = sorted((p.start, p.end) for p in found)
        self.starts = [a for a, _ in spans]
        self.ends = [b for _, b in spans]

    def overlaps(self, s: int, e: int) -> bool:
        k = bisect.bisect_left(self.starts, e)
        return k > 0 and self.ends[k - 1] > s

    def next_start(self, s: int) -> int | None:
        """Start of the first span starting after ``s``."""
        k = bisect.bisect_right(self.starts, s)
        return self.starts[k] if k < len(self.starts) else None

    def add(self, s: int, e: int) -> None:
        k = bisect.bisect_left(self.starts, s)
        self.starts.insert(k, s)
        self.ends.insert(k, e)


def _split_at_gaps(norm: Normalized, s: int, e: int) -> int:
    """End of ``[s, e)`` at the first word gap: a space kept by the normaliser or a source
    gap holding whitespace."""
    pos, src, text = norm.pos, norm.source, norm.text
    for k in range(s + 1, e):
        if text[k] == " ":
            return k
        lo, hi = int(pos[k - 1]), int(pos[k])
        if hi - lo > 1 and any(c.isspace() for c in src[lo + 1 : hi]):
            return k
    return e


def _keep_ends(norm: Normalized, idx: list[int]) -> tuple[tuple[int, int], ...]:
    """Hide all but the first and last of the normalised characters ``idx``."""
    pos = norm.pos
    return ((int(pos[idx[1]]), int(pos[idx[-2]]) + 1),)


def _qq(norm: Normalized, v: int) -> PiiFound | None:
    m = _QQ.match(norm.text, v)
    if m is None:
        return None
    s, e = m.start(), m.end()
    first = _split_at_gaps(norm, s, e)
    if 5 <= first - s <= 11:
        e = first  # "QQ：12345678 2023年": the number as written
    idx = [k for k in range(s, e) if norm.text[k] != " "]
    if not 5 <= len(idx) <= 11:
        return None
    pos = norm.pos
    value = "".join(norm.text[k] for k in idx)
    return PiiFound("qq", int(pos[s]), int(pos[e - 1]) + 1, value, _keep_ends(norm, idx))


def _wechat(norm: Normalized, v: int) -> PiiFound | None:
    m = _WX_ID.match(norm.text, v)
    if m is None:
        return None
    s = m.start()
    e = _split_at_gaps(norm, s, m.end())
    value = norm.text[s:e]
    pos = norm.pos
    start, end = int(pos[s]), int(pos[e - 1]) + 1
    if value.isdigit():
        if not 6 <= len(value) <= 11:
            return None
    elif not value[0].isalpha() or end - start < 6 or len(value) > 20:
        return None
    return PiiFound("wechat", start, end, value, _keep_ends(norm, list(range(s, e))))


def _address(norm: Normalized, v: int, home: bool, english: bool, taken: _Spans) -> PiiFound | None:
    src = norm.source
    s = int(norm.pos[v])
    m = (_CLAUSE_EN if english else _CLAUSE).match(src, s)
    if m is None:
        return None
    e = m.end()
    stop = _ADDR_STOP.search(src, s + 1, e)
    if stop:
        e = stop.start()
    nxt = taken.next_start(s)
    if nxt is not None and nxt < e:
        e = nxt  # another value ends the address: "住址：xx路1号13812345678"
    while e > s and src[e - 1].isspace():
        e -= 1
    clause = src[s:e]
    if len(clause) < 4 or _ADDR_URL.search(clause):
        return None
    if _ADDR_CN.search(clause):
        city = _CITY.match(clause)
        keep = min(city.end() if city else 3, len(clause) // 2)
    elif _ADDR_EN.search(clause) and any(c.isdigit() for c in clause):
        keep = 0
    else:
        return None
    pos = norm.pos
    a, b = int(np.searchsorted(pos, s)), int(np.searchsorted(pos, e))
    value = norm.text[a:b].replace(" ", "")
    return PiiFound("address", s, e, value, ((s + keep, e),), home)


# --- entry points ------------------------------------------------------------------------------


def detect_pii(norm: Normalized) -> list[PiiFound]:
    """Every personal-information value in the scan text, in order, without overlaps."""
    if not norm.text:
        return []
    runs, labels, ats = _SCANNER.scan(norm.text, norm.pos)
    out: list[PiiFound] = []
    _emails(norm.source, _ats(norm, ats), out)
    mails = _Spans(out)
    nums: list[PiiFound] = []
    _numbers(norm, runs, nums)
    out.extend(p for p in nums if not mails.overlaps(p.start, p.end))  # 13812345678@163.com
    _labelled(norm, labels, _Spans(out), out)
    out.sort(key=lambda p: p.start)
    return out


def doxxing_exposure(found: list[PiiFound], profile: ScanSettings) -> bool:
    """A page exposing people: at least ``profile.doxxing_threshold`` distinct values, of
    at least two kinds, one of which identifies a person on its own (an ID number, a bank
    card or a home address). A contact page with phones and e-mails is masked, not blocked.
    A threshold of 0 turns the check off."""
    n = profile.doxxing_threshold
    if n <= 0 or len(found) < n:
        return False
    values = {(p.kind, p.value) for p in found}
    if len(values) < n or len({k for k, _ in values}) < 2:
        return False
    return any(p.identifies for p in found)
