"""The words that stand in for a chat message (WebSocket) that was blocked."""

from __future__ import annotations

from qinglang.pages.i18n import Words, choose_lang, in_lang

WORDS: Words = {
    "blocked": (
        "[清朗：这条消息含有不适合的内容，已被拦截]",
        "[qinglang: this message had unsuitable content and was blocked]",
    ),
}


def blocked_message(accept_language: str | None) -> str:
    """The notice in the reader's language (the WebSocket request's Accept-Language)."""
    return in_lang(WORDS, choose_lang(accept_language))["blocked"]
