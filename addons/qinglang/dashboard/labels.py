"""Words the dashboard shows for what the proxy and the dashboard record in their own terms:
audit actions (``ask.grant``), event details (``time is up; access returns <ISO time>``)
and config errors. Stored records keep their terms; only what a parent reads is turned
into their language, and every time into the dashboard's local time."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

_AUDIT: dict[str, tuple[str, str]] = {
    "signin": ("登录", "signed in"),
    "admin.create": ("新建管理员", "admin account created"),
    "admin.password": ("修改密码", "password changed"),
    "admin.remove": ("删除管理员", "admin account removed"),
    "ask.grant": ("允许请求", "request granted"),
    "ask.refuse": ("拒绝请求", "request refused"),
    "override.revoke": ("撤销许可", "access revoked"),
    "report.dismiss": ("忽略举报", "report dismissed"),
    "report.category": ("设定举报类别", "report category set"),
    "reports.export": ("导出举报", "reports exported"),
    "config.profile": ("修改档案", "profile changed"),
    "config.clients": ("修改设备", "devices changed"),
}

# An ISO 8601 time as Python writes it (datetime.isoformat), with its offset.
ISO_TIME = re.compile(
    r"\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?\b"
)

# What the proxy writes as an event's detail (proxy/answers.py, proxy/filtering.py,
# content/pipeline.py), and the Chinese for it; {0}… are the parts matched.
_DETAILS: tuple[tuple[re.Pattern[str], str, str], ...] = (
    (re.compile(r"^time is up; access returns not within a week$"), "时间已用完；一周内不恢复",
     "time is up; access does not return within a week"),
    (re.compile(r"^time is up; access returns (.+)$"), "时间已用完；{0} 恢复访问",
     "time is up; access returns {0}"),
    (re.compile(r"^streamed, not scanned$"), "实时数据流，没有检查", "streamed, not scanned"),
    (re.compile(r"^no scan workers$"), "检查进程不可用", "no scan workers"),
    (re.compile(r"^the shared quota store is unreachable$"), "连不上共享的时长数据库",
     "the shared quota store is unreachable"),
    (re.compile(r"^body of (\d+) bytes is over (\d+)$"), "内容 {0} 字节，超过上限 {1}",
     "body of {0} bytes is over {1}"),
    (re.compile(r"^decoded body is larger than (\d+) bytes$"), "解压后超过 {0} 字节",
     "decoded body is larger than {0} bytes"),
    (re.compile(r"^scan failed: (\w+)$"), "检查失败：{0}", "scan failed: {0}"),
)  # fmt: skip


# engine/pii/detect.py's KINDS, as the event log names them (``pii:<kind>``).
_PII_KINDS: dict[str, tuple[str, str]] = {
    "cn_id": ("身份证号", "ID card number"),
    "cn_mobile": ("手机号", "mobile number"),
    "bank_card": ("银行卡号", "bank card number"),
    "email": ("邮箱", "email address"),
    "qq": ("QQ 号", "QQ number"),
    "wechat": ("微信号", "WeChat ID"),
    "address": ("住址", "home address"),
}


def term(name: str, lang: str) -> str:
    """A deciding term as a parent reads it: list terms as listed, ``pii:<kind>`` named."""
    kind = name.removeprefix("pii:")
    if kind == name:
        return name
    pair = _PII_KINDS.get(kind, (kind, kind))
    return f"个人信息：{pair[0]}" if lang == "zh" else f"personal information: {pair[1]}"


def audit_action(action: str, lang: str) -> str:
    pair = _AUDIT.get(action)
    if pair is None:
        return action
    return pair[0] if lang == "zh" else pair[1]


def local_times(text: str, when: Callable[[float], str]) -> str:
    """Every ISO time in ``text`` as the dashboard shows times (local, to the minute)."""

    def one(m: re.Match[str]) -> str:
        try:
            return when(datetime.fromisoformat(m.group(0).replace("Z", "+00:00")).timestamp())
        except ValueError:
            return m.group(0)

    return ISO_TIME.sub(one, text)


def event_detail(detail: str | None, lang: str, when: Callable[[float], str]) -> str:
    """An event's detail for a parent: known phrases in their language, times local."""
    if not detail:
        return ""
    text = local_times(detail, when)
    for pattern, zh, en in _DETAILS:
        m = pattern.match(text)
        if m:
            return (zh if lang == "zh" else en).format(*m.groups())
    return text
