"""Which servers hold the shared state when several workers run behind a balancer.

``qinglang_store`` (events) and ``qinglang_state`` (quota minutes and a parent's overrides)
are URLs: empty keeps the embedded SQLite files. Their passwords never reach a log line:
every message that names a server goes through ``redact``, and an error text from a driver
goes through ``scrub`` with the password it must not show.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import SplitResult, unquote, urlsplit

STORE_SCHEMES = ("postgresql", "postgres")
STATE_SCHEMES = ("redis", "rediss")


@dataclass(frozen=True, slots=True)
class ServerURL:
    """A server's URL, and the password it carries (kept out of ``str``)."""

    url: str
    scheme: str
    password: str

    def __str__(self) -> str:
        return redact(self.url)

    def __repr__(self) -> str:
        return f"ServerURL({redact(self.url)!r})"

    def scrub(self, text: str) -> str:
        return scrub(text, self.password)


def _netloc_without_password(parts: SplitResult) -> str:
    host = parts.netloc.rpartition("@")[2]
    if parts.username is None and parts.password is None:
        return host
    user = parts.netloc.rpartition("@")[0].partition(":")[0]
    return f"{user}:***@{host}" if parts.password is not None else f"{user}@{host}"


def redact(url: str) -> str:
    """``url`` with its password (and any ``password=`` query value) replaced by ``***``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(unparsable URL)"
    query = "&".join(
        f"{k}=***" if k.lower() == "password" else f"{k}={v}" if sep else k
        for k, sep, v in (q.partition("=") for q in parts.query.split("&") if q)
    )
    return parts._replace(netloc=_netloc_without_password(parts), query=query).geturl()


def scrub(text: str, password: str) -> str:
    """``text`` (say, a driver's error message) without ``password`` in it."""
    if not password:
        return text
    return text.replace(password, "***")


def parse(url: str, schemes: tuple[str, ...], what: str) -> ServerURL:
    """A ``ServerURL`` for ``url``; ``ValueError`` (without the password) when it is not one
    of ``schemes`` or has no host."""
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise ValueError(f"{what}: not a URL: {redact(url)}") from None
    if parts.scheme.lower() not in schemes:
        raise ValueError(
            f"{what}: {redact(url)} is not a {' or '.join(s + '://' for s in schemes)} URL"
        )
    if not parts.hostname and not parts.path.strip("/") and "host=" not in parts.query:
        raise ValueError(f"{what}: {redact(url)} names no server")
    password = unquote(parts.password or "")
    for q in parts.query.split("&"):
        k, _, v = q.partition("=")
        if k.lower() == "password":
            password = unquote(v)
    return ServerURL(url.strip(), parts.scheme.lower(), password)
