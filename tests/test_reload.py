"""Rules reload from real files: edits picked up, broken edits rejected, touches ignored."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

import pytest

from qinglang.policy.reload import Reloader, Rules, load_rules


def write(p: Path, text: str) -> None:
    p.write_text(text, encoding="utf-8")
    st = p.stat()  # make sure the mtime moves even on coarse clocks
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))


def test_reloader(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "lists").mkdir()
    lst = tmp_path / "lists" / "a.yaml"
    write(lst, "category: gambling\nterms: [赌博]\n")
    cfg = tmp_path / "q.yaml"
    write(cfg, "lists: [lists]\n")
    applied: list[Rules] = []

    async def apply(rules: Rules) -> None:
        applied.append(rules)

    async def body() -> None:
        r = Reloader(load_rules(str(cfg)), 1, apply)
        assert not await r.check()  # nothing changed

        write(lst, "category: gambling\nterms: [赌博, 网络赌场]\n")
        assert await r.check()
        assert [t.pattern.text for t in applied[-1].lists.terms] == ["赌博", "网络赌场"]

        with caplog.at_level(logging.ERROR):
            write(lst, "category: gambling\nterms: [{term: x, weight: lots}]\n")
            assert not await r.check()
        assert "edit rejected" in caplog.text and "a.yaml:2" in caplog.text
        assert len(r.rules.lists.terms) == 2  # the previous rules stay

        write(lst, "category: gambling\nterms: [赌博, 网络赌场]\n")  # back as it was
        assert not await r.check()  # same content: nothing rebuilt
        (tmp_path / "lists" / "b.yaml").write_text("category: porn\nterms: [裸聊]\n", "utf-8")
        assert await r.check()  # a new file counts
        write(cfg, "lists: [lists]\ndefault_profile: child\nprofiles: {child: {mask: false}}\n")
        assert await r.check()
        assert applied[-1].config.profiles["child"].mask is False

    asyncio.run(body())


def test_a_phone_added_while_running_says_to_restart(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # `qinglang add-phone` edits the config of a running proxy: the rules reload, but the
    # phone's WireGuard listener starts with the process only, so the log says so.
    (tmp_path / "lists").mkdir()
    write(tmp_path / "lists" / "a.yaml", "category: gambling\nterms: [赌博]\n")
    cfg = tmp_path / "q.yaml"
    base = "lists: [lists]\nprofiles: {child: {}}\n"
    write(cfg, base + "devices: [{name: mei-phone, profile: child, wireguard_port: 51821}]\n")

    async def apply(rules: Rules) -> None:
        pass

    async def body() -> None:
        r = Reloader(load_rules(str(cfg)), 1, apply)
        with caplog.at_level(logging.INFO):
            write(cfg, base + "devices: [{name: mei-phone, profile: child, wireguard_port: "
                  "51821}, {name: li-phone, profile: child, wireguard_port: 51822}]\n")  # fmt: skip
            assert await r.check()
        assert "restart qinglang" in caplog.text and "li-phone (UDP 51822)" in caplog.text
        assert "mei-phone" not in caplog.text  # it has its listener

    asyncio.run(body())
