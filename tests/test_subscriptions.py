"""List subscriptions, fetched from a real HTTP server on 127.0.0.1: conversion of each
format, conditional requests, the size cap, the timeout, checksums, and the previous copy
kept whenever a download fails or does not load."""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from listserver import Published, list_server

from qinglang.engine.verdict import Action
from qinglang.listtools import subscribe
from qinglang.policy import youthgate
from qinglang.policy.config import Config, load_config
from qinglang.policy.urlrules import RequestInfo

DOMAINS = b"# a family list\nporn-one.example\n.porn-two.example\nnot a domain\n"
HOSTS = b"0.0.0.0 casino-one.example\n127.0.0.1 localhost\n0.0.0.0 casino-two.example\n"


@pytest.fixture
def pub() -> Iterator[Published]:
    with list_server() as p:
        yield p


def write_config(tmp_path: Path, subs: str) -> Path:
    path = tmp_path / "qinglang.yaml"
    path.write_text(
        f"lists: []\nprofiles: {{child: {{}}}}\nsubscriptions:\n{subs}", encoding="utf-8"
    )
    return path


def blocks(path: Path, host: str) -> bool:
    cfg = load_config(path)
    d = youthgate.build(cfg).for_profile("child").check(RequestInfo("GET", host, "/"), None)
    return d.action == Action.BLOCK


def run(path: Path, force: bool = True) -> dict[str, subscribe.Result]:
    return {r.name: r for r in subscribe.update(load_config(path), path, force=force)}


def test_domains_and_hosts_subscriptions_reach_the_rules(tmp_path: Path, pub: Published) -> None:
    pub.files["/family.txt"] = DOMAINS
    pub.files["/hosts"] = HOSTS
    path = write_config(
        tmp_path,
        f"  - {{name: family, url: '{pub.url('/family.txt')}', format: domains, category: porn}}\n"
        f"  - {{name: bets, url: '{pub.url('/hosts')}', format: hosts, category: gambling}}\n",
    )
    assert not blocks(path, "porn-one.example")  # not fetched yet: a start without it
    results = run(path)
    assert results["family"].status == "updated" and results["bets"].status == "updated"
    assert str(tmp_path / "subscriptions") in load_config(path).lists
    for host in ("porn-one.example", "www.porn-two.example", "casino-two.example"):
        assert blocks(path, host), host
    assert not blocks(path, "localhost") and not blocks(path, "news.example")


def test_conditional_request_and_interval(tmp_path: Path, pub: Published) -> None:
    pub.files["/family.txt"] = DOMAINS
    path = write_config(
        tmp_path, f"  - {{name: family, url: '{pub.url('/family.txt')}', format: domains, "
        "category: porn, interval: 12h}\n",
    )  # fmt: skip
    assert run(path)["family"].status == "updated"
    assert run(path, force=False)["family"].status == "not due"
    assert len(pub.requests) == 1
    assert run(path)["family"].status == "unchanged"
    headers = pub.requests[-1][1]
    assert headers["if-none-match"].startswith('"')
    assert headers["if-modified-since"] == "Mon, 10 Mar 2025 10:00:00 GMT"


def _two_versions(tmp_path: Path, pub: Published, extra: str = "") -> Path:
    pub.files["/family.txt"] = DOMAINS
    path = write_config(
        tmp_path, f"  - {{name: family, url: '{pub.url('/family.txt')}', format: domains, "
        f"category: porn{extra}}}\n",
    )  # fmt: skip
    return path


def test_size_cap_keeps_the_previous_copy(tmp_path: Path, pub: Published) -> None:
    path = _two_versions(tmp_path, pub, ", max_mb: 1")
    assert run(path)["family"].status == "updated"
    pub.files["/family.txt"] = b"huge.example\n" * (1024 * 1024 // 13 + 10)
    r = run(path)["family"]
    assert r.status == "failed" and "limit" in r.detail
    assert blocks(path, "porn-one.example") and not blocks(path, "huge.example")


def test_timeout_and_unreachable_keep_the_previous_copy(tmp_path: Path, pub: Published) -> None:
    path = _two_versions(tmp_path, pub, ", timeout: 0.5")
    assert run(path)["family"].status == "updated"
    pub.slow.add("/family.txt")
    assert run(path)["family"].status == "failed"
    pub.files.pop("/family.txt")
    pub.slow.clear()
    r = run(path)["family"]
    assert (r.status, r.detail) == ("failed", "HTTP 404")
    assert blocks(path, "porn-one.example")
    state = subscribe.status(load_config(path), path)[0]
    assert state["error"] == "HTTP 404" and state["entries"] == 2


def test_checksum(tmp_path: Path, pub: Published) -> None:
    digest = hashlib.sha256(DOMAINS).hexdigest()
    path = _two_versions(tmp_path, pub, f", sha256_url: '{pub.url('/family.txt.sha256')}'")
    pub.files["/family.txt.sha256"] = f"{digest}  family.txt\n".encode()
    assert run(path)["family"].status == "updated"
    pub.files["/family.txt"] = DOMAINS + b"tampered.example\n"
    r = run(path)["family"]
    assert r.status == "failed" and "checksum" in r.detail
    assert not blocks(path, "tampered.example") and blocks(path, "porn-one.example")


def test_a_list_that_does_not_load_keeps_the_previous(tmp_path: Path, pub: Published) -> None:
    pub.files["/words.yaml"] = b"category: gambling\nterms: [casinoword]\n"
    path = write_config(
        tmp_path, f"  - {{name: words, url: '{pub.url('/words.yaml')}', format: yaml}}\n"
    )
    assert run(path)["words"].status == "updated"
    assert (tmp_path / "subscriptions" / "words" / "words.yaml").is_file()
    pub.files["/words.yaml"] = b"category: gambling\nterms: [unclosed\n"
    r = run(path)["words"]
    assert r.status == "failed" and "does not load" in r.detail
    text = (tmp_path / "subscriptions" / "words" / "words.yaml").read_text("utf-8")
    assert "casinoword" in text
    assert len(load_config(path).lists) == 1  # the subscriptions folder, still loading


def _ut1_tarball() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for folder, names in (("adult", b"ut1-porn.example\n"), ("gambling", b"ut1-bet.example\n")):
            info = tarfile.TarInfo(f"blacklists/{folder}/domains")
            info.size = len(names)
            tar.addfile(info, io.BytesIO(names))
        evil = tarfile.TarInfo("../../escape/domains")
        evil.size = 5
        tar.addfile(evil, io.BytesIO(b"x.io\n"))
    return buf.getvalue()


def test_ut1_tarball(tmp_path: Path, pub: Published) -> None:
    pub.files["/blacklists.tar.gz"] = _ut1_tarball()
    path = write_config(
        tmp_path, f"  - {{name: ut1, url: '{pub.url('/blacklists.tar.gz')}', format: ut1, "
        "categories: {adult: porn}}\n",
    )  # fmt: skip
    r = run(path)["ut1"]
    # A member that points out of the folder is refused, and nothing is half-unpacked.
    assert r.status == "failed" and "outside the destination" in r.detail
    assert not (tmp_path.parent / "escape").exists()
    pub.files["/blacklists.tar.gz"] = _ut1_tarball_clean()
    r = run(path)["ut1"]
    assert r.status == "updated", r
    assert blocks(path, "ut1-porn.example") and not blocks(path, "ut1-bet.example")
    assert not (tmp_path.parent / "escape").exists()


def _ut1_tarball_clean() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for folder, names in (("adult", b"ut1-porn.example\n"), ("gambling", b"ut1-bet.example\n")):
            info = tarfile.TarInfo(f"blacklists/{folder}/domains")
            info.size = len(names)
            tar.addfile(info, io.BytesIO(names))
    return buf.getvalue()


def _sub(**kw: object) -> dict[str, object]:
    return {"subscriptions": [{"name": "a", "url": "http://x/", **kw}]}


def test_config_checks() -> None:
    with pytest.raises(ValueError, match="needs `category`"):
        Config.model_validate(_sub(format="hosts"))
    with pytest.raises(ValueError, match="15 minutes"):
        Config.model_validate(_sub(format="yaml", interval="5m"))
    with pytest.raises(ValueError, match="http"):
        Config.model_validate(_sub(format="yaml", url="file:///etc/passwd"))
    assert Config.model_validate(_sub(format="yaml", interval="1d")).subscriptions[0].interval == (
        86400
    )


def test_cli_update(tmp_path: Path, pub: Published) -> None:
    path = _two_versions(tmp_path, pub)
    cmd = [sys.executable, "-m", "qinglang.cli", "lists", "update", "--config", str(path)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "family: updated (2 entries)" in out.stdout, out.stderr
    pub.files.pop("/family.txt")
    out = subprocess.run([*cmd, "--force"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and "family: failed (HTTP 404)" in out.stdout
