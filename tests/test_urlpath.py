"""The URL rules see the path a server resolves: the normaliser against real resolvers."""

from __future__ import annotations

import http.server
import posixpath
from urllib.parse import quote

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from qinglang.policy.urlpath import normalize, remove_dot_segments, server_views
from qinglang.policy.urlrules import compile_url_pattern

BOUNDED = settings(max_examples=400, deadline=None)

# Segments of the kind an attacker writes: dots, escapes of dots and letters, slashes.
_SEGMENT = st.sampled_from(
    ["a", "b", "secret", ".", "..", "", "%2e", "%2E%2e", ".%2e", "%73ecret", "%7e", "~", "x%2Fy"]
)
_PATHS = st.lists(_SEGMENT, min_size=1, max_size=8).map(lambda segs: "/" + "/".join(segs))
_TEXT = st.lists(
    st.sampled_from([*list("ab./%2eEfF7~;?=&\\"), "%2e", "%2F", "%41", "%7E", "%25", "é"]),
    max_size=30,
).map(lambda parts: "/" + "".join(parts))


class _Resolver(http.server.SimpleHTTPRequestHandler):
    """Python's file server's own path resolution, without a socket."""

    def __init__(self) -> None:
        self.directory = "/srv"


_SERVER = _Resolver()


def served_file(target: str) -> str:
    # The trailing slash it keeps from the request names the same directory.
    return _SERVER.translate_path(target).rstrip("/")


@BOUNDED
@given(_TEXT)
def test_idempotent(target: str) -> None:
    once = normalize(target)
    assert normalize(once) == once
    assert once.startswith("/")


@BOUNDED
@given(_PATHS)
@example("/a/b/../../../secret")
@example("/%2e%2e/secret")
@example("//a//b/./../secret/")
def test_same_file_as_a_real_server(target: str) -> None:
    """Python's file server opens the same file for the path and its normal form: decoding
    unreserved escapes and resolving dot segments never changes the resource."""
    assert served_file(normalize(target)) == served_file(target) or "%2F" in target.upper()


@BOUNDED
@given(_PATHS)
@example("/x%2Fy/%2E%2e/%2e%2e/secret")
def test_a_view_names_what_a_decoding_server_serves(target: str) -> None:
    """Python's server decodes ``%2F`` into a separator before it resolves dot segments:
    one of the views is that path, already resolved, so a rule written for it sees it."""
    served = served_file(target)
    resolved = [v for v in server_views(target) if remove_dot_segments(v) == v and "%" not in v]
    assert any(served_file(v) == served for v in resolved), server_views(target)


@BOUNDED
@given(st.lists(st.sampled_from(["a", "b", "c", ".", ".."]), min_size=1, max_size=10))
def test_dot_segments_as_posixpath_resolves_them(segs: list[str]) -> None:
    path = "/" + "/".join(segs)
    got = remove_dot_segments(path)
    want = posixpath.normpath(path)
    # RFC 3986 keeps the slash a trailing "." or ".." leaves; normpath drops it.
    assert got.rstrip("/") == want.rstrip("/")


@BOUNDED
@given(st.text(alphabet="abcxyz019-._~", min_size=1, max_size=12))
def test_escaped_unreserved_is_the_same_path(word: str) -> None:
    escaped = "".join(f"%{ord(c):02x}" for c in word)
    assert normalize(f"/p/{escaped}?q=1") == normalize(f"/p/{word}?q=1")
    assert normalize(f"/p/{escaped}x") == f"/p/{word}x"


def test_query_is_kept_and_escape_case_normalised() -> None:
    assert normalize("/a/./b?x=%2fy&z=%7e/../") == "/a/b?x=%2Fy&z=~/../"
    assert normalize("/a%2fb") == "/a%2Fb"  # an escaped slash is not a separator


@pytest.mark.parametrize(
    "target",
    [
        "/games",
        "/x/../games",
        "//games",
        "/./games/",
        "/%67ames",
        "/%2e%2e/games",
        "/%2E%2E/%2e/games",
        "/x/%2e%2e/games?id=1",
        "/games;jsessionid=1",
        "/g%61mes/2",
        "\\games",
        "/x\\..\\games",
        "/x%2f..%2fgames",
        "/x%5c..%5cgames",
        "/games;a=1/2",
        "/GAMES",
        "/%2567ames",  # decoded twice, as some servers do
    ],
)
def test_every_spelling_of_a_denied_path_is_denied(target: str) -> None:
    p = compile_url_pattern("example.com/games")
    assert p.matches("example.com", target), server_views(target)


@pytest.mark.parametrize("target", ["/gamesx", "/x/games", "/x/../gamesx", "/%2e/gamesx"])
def test_other_paths_pass(target: str) -> None:
    assert not compile_url_pattern("example.com/games").matches("example.com", target)


def test_pattern_written_with_escapes() -> None:
    assert compile_url_pattern("example.com/%7Euser").matches("example.com", "/~user")
    assert compile_url_pattern("example.com/搜索").matches("example.com", "/" + quote("搜索"))


@BOUNDED
@given(_TEXT)
def test_the_normal_form_is_always_a_view(target: str) -> None:
    views = server_views(target)
    assert views[0] == target and normalize(target) in views
