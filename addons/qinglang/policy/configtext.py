"""The Chinese of a config error: pydantic's standard error types by ``type`` and
``ctx``, our validators' messages from the ``Bilingual`` they raise.

English stays pydantic's own (``parse_config`` keeps it as it was); only the dashboard's zh
pages read this.
"""

from __future__ import annotations

import re
from typing import Any

from qinglang.engine.bilingual import Bilingual

# pydantic error type -> Chinese, formatted with the error's ``ctx``.
PYDANTIC_ZH: dict[str, str] = {
    "missing": "缺少这一项",
    "extra_forbidden": "未知的键 `{key}`",
    "literal_error": "只能是 {expected}",
    "int_type": "应为整数",
    "int_parsing": "应为整数",
    "int_from_float": "应为整数",
    "float_type": "应为数字",
    "float_parsing": "应为数字",
    "bool_type": "应为 true 或 false",
    "bool_parsing": "应为 true 或 false",
    "string_type": "应为文字",
    "list_type": "应为列表",
    "tuple_type": "应为列表",
    "dict_type": "应为映射（键: 值）",
    "model_type": "应为映射（键: 值）",
    "model_attributes_type": "应为映射（键: 值）",
    "greater_than": "应大于 {gt}",
    "greater_than_equal": "应不小于 {ge}",
    "less_than": "应小于 {lt}",
    "less_than_equal": "应不大于 {le}",
    "string_too_short": "至少 {min_length} 个字符",
    "string_too_long": "最多 {max_length} 个字符",
    "too_short": "至少 {min_length} 项",
    "too_long": "最多 {max_length} 项",
    "string_pattern_mismatch": "格式不对，应符合 {pattern}",
    "date_type": "应为日期 YYYY-MM-DD",
    "date_parsing": "应为日期 YYYY-MM-DD",
    "date_from_datetime_parsing": "应为日期 YYYY-MM-DD",
    "date_from_datetime_inexact": "应为日期 YYYY-MM-DD",
    "finite_number": "应为有限的数字",
    "union_tag_invalid": "类型 {tag} 无效，应为 {expected_tags}",
    "union_tag_not_found": "无法判断这是哪一种",
    "none_required": "应为空",
    "value_error": "值不正确",
    "assertion_error": "值不正确",
}


def _values(ctx: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in ctx.items() if k != "error"}
    # literal_error's "'block' or 'pass'": the joining word in Chinese too.
    if isinstance(out.get("expected"), str):
        out["expected"] = re.sub(r"(?<=') or (?=')", " 或 ", out["expected"])
    return out


def zh_reason(err: Any, key: str | None = None) -> str:
    """The Chinese reason of one pydantic error (an item of ``ValidationError.errors()``).
    An error type without a text here is still said in Chinese, generically."""
    ctx = err.get("ctx") or {}
    cause = ctx.get("error")
    if isinstance(cause, Bilingual):
        return cause.zh
    template = PYDANTIC_ZH.get(str(err.get("type")), "值不正确")
    try:
        return template.format(key=key, **_values(ctx))
    except (KeyError, IndexError):
        return template.split("{", 1)[0].rstrip("，, ") or "值不正确"
