"""Sign-in, sessions, CSRF, rate limiting, device access and the admin command."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace

from qinglang.dashboard import accounts
from qinglang.dashboard.app import create_app
from qinglang.store import dashdb as db

from .conftest import PASSWORD, Home, TestClient, csrf_of, sign_in


def test_pages_need_sign_in(make_client: Callable[..., TestClient]) -> None:
    c = make_client(signed_in=False)
    for path in ("/", "/events", "/asks", "/profiles", "/clients", "/reports", "/audit"):
        r = c.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/signin", path


def test_sign_in_sets_a_strict_http_only_cookie(make_client: Callable[..., TestClient]) -> None:
    c = make_client(signed_in=False)
    page = c.get("/signin")
    r = c.post(
        "/signin",
        data={"csrf": csrf_of(page.text), "user": "mum", "password": PASSWORD},
        follow_redirects=False,
    )
    assert r.status_code == 303
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert "secure" not in cookie  # plain HTTP here; see the TLS test
    assert PASSWORD not in r.headers["set-cookie"]


def test_cookie_is_secure_over_tls(home: Home) -> None:
    app = create_app(replace(home.settings, tls=True))
    c = TestClient(app, base_url="https://testserver", client=("127.0.0.1", 1))
    page = c.get("/signin")
    r = c.post(
        "/signin",
        data={"csrf": csrf_of(page.text), "user": "mum", "password": PASSWORD},
        follow_redirects=False,
    )
    assert "secure" in r.headers["set-cookie"].lower()


def test_wrong_password_and_rate_limit(home: Home) -> None:
    app = create_app(home.settings)
    c = TestClient(app, client=("127.0.0.1", 1), headers={"accept-language": "en"})
    token = csrf_of(c.get("/signin").text)
    for _ in range(5):
        r = c.post("/signin", data={"csrf": token, "user": "mum", "password": "nope-nope"})
        assert r.status_code == 401 and "Wrong name or password" in r.text
    # Even the right password waits now: the address is locked out for a while, and a
    # forwarded-for header does not change who is asking.
    c.headers["x-forwarded-for"] = "1.2.3.4"
    r = c.post("/signin", data={"csrf": token, "user": "mum", "password": PASSWORD})
    assert r.status_code == 429 and "Too many attempts" in r.text
    # Another device is not affected.
    dad = TestClient(app, client=("10.0.0.2", 1), headers={"accept-language": "en"})
    sign_in(dad)


def test_post_without_csrf_token_changes_nothing(
    make_client: Callable[..., TestClient], home: Home
) -> None:
    c = make_client()
    before = home.config.read_text(encoding="utf-8")
    r = c.post("/profiles/child", data={"block_threshold": "5"})
    assert r.status_code == 403 and "expired" in r.text
    r = c.post("/profiles/child", data={"block_threshold": "5", "csrf": "forged"})
    assert r.status_code == 403
    assert home.config.read_text(encoding="utf-8") == before
    r = c.post("/signin", data={"user": "mum", "password": PASSWORD})
    assert r.status_code == 403


def test_password_change_ends_sessions(make_client: Callable[..., TestClient], home: Home) -> None:
    c = make_client()
    assert c.get("/", follow_redirects=False).status_code == 200
    conn = db.connect(home.settings.state_db)
    accounts.set_password(conn, "mum", "a brand new password")
    conn.close()
    assert c.get("/", follow_redirects=False).status_code == 303


def test_sign_out(make_client: Callable[..., TestClient]) -> None:
    c = make_client()
    r = c.post("/signout", data={"csrf": csrf_of(c.get("/").text)}, follow_redirects=False)
    assert r.status_code == 303
    assert c.get("/", follow_redirects=False).status_code == 303


def test_filtered_devices_cannot_open_it(make_client: Callable[..., TestClient]) -> None:
    child = make_client("10.0.0.7", signed_in=False)
    r = child.get("/signin")
    assert r.status_code == 403
    assert (
        "10.0.0.7" in r.text and "child" in r.text and "{match: 10.0.0.7, profile: adult}" in r.text
    )
    # The page names the command that does it, so no one has to edit the YAML by hand
    # (the config's unfiltered profile here is "adult", not the default "parent").
    assert "qinglang allow-device 10.0.0.7 --profile adult" in r.text
    assert child.get("/static/dashboard.css").status_code == 403
    # An unknown device gets the default profile (child): closed too.
    assert make_client("192.0.2.9", signed_in=False).get("/signin").status_code == 403
    # Dad's phone has the unfiltered profile.
    dad = make_client("10.0.0.2", signed_in=False)
    assert dad.get("/signin").status_code == 200
    sign_in(dad)


def test_several_admins_and_the_audit_log(
    make_client: Callable[..., TestClient], home: Home
) -> None:
    conn = db.connect(home.settings.state_db)
    accounts.set_password(conn, "teacher-li", "another password")
    conn.close()
    c = make_client()
    sign_in(make_client(signed_in=False), "teacher-li", "another password")
    page = c.get("/audit")
    assert "mum" in page.text and "teacher-li" in page.text and "signed in" in page.text
    assert PASSWORD not in page.text


def test_admin_command_sets_a_hashed_password(home: Home) -> None:
    dbfile = home.root / "cli.sqlite"
    r = subprocess.run(
        [sys.executable, "-m", "qinglang.cli", "admin", "set-password", "--user", "gran",
         "--password-stdin", "--db", str(dbfile)],
        input="granny's secret\n", capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "gran" in r.stdout and "granny's secret" not in r.stdout + r.stderr
    raw = dbfile.read_bytes()
    assert b"granny's secret" not in raw and b"$argon2id$" in raw
    conn = db.connect(dbfile)
    assert accounts.verify(conn, "gran", "granny's secret") is not None
    assert accounts.verify(conn, "gran", "wrong") is None
    row = conn.execute("SELECT user, action, detail FROM audit").fetchone()
    assert row["action"] == "admin.create" and row["detail"] == "gran"
    conn.close()
    r = subprocess.run(
        [sys.executable, "-m", "qinglang.cli", "admin", "set-password", "--password-stdin",
         "--db", str(dbfile)],
        input="short\n", capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert r.returncode == 2 and "at least 8 characters" in r.stderr
