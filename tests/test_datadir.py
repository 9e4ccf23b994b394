"""The data directory of `qinglang run`: where it is, what the first run writes, what it
prints, and `qinglang allow-device` (a parent's device let in without editing a file)."""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import socket
import stat
from pathlib import Path

import pytest

from qinglang.cli import run
from qinglang.cli.main import main
from qinglang.dashboard import accounts
from qinglang.dashboard.settings import settings_for
from qinglang.deploy import datadir, firstrun
from qinglang.policy.config import Profile, load_config, shipped_lists
from qinglang.store import dashdb as db
from qinglang.store.paths import events_db_path, quota_db_path


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


@pytest.fixture
def home(tmp_path: Path) -> datadir.DataDir:
    d = datadir.resolve(str(tmp_path / "data"))
    datadir.ensure(d)
    return d


def test_where_the_data_directory_is(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "me"))
    monkeypatch.delenv("QINGLANG_HOME", raising=False)
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    assert datadir.default_root() == tmp_path / "me" / ".local" / "share" / "qinglang"
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert datadir.default_root() == tmp_path / "xdg" / "qinglang"
    monkeypatch.setenv("QINGLANG_HOME", str(tmp_path / "qh"))
    assert datadir.default_root() == tmp_path / "qh"
    # --data-dir wins over everything, and is made absolute.
    monkeypatch.chdir(tmp_path)
    assert datadir.resolve("elsewhere").root == tmp_path / "elsewhere"


def test_first_run_layout_and_permissions(home: datadir.DataDir) -> None:
    assert home.config.is_file() and home.lists.is_dir() and home.ca.is_dir()
    assert _mode(home.root) == 0o700 and _mode(home.ca) == 0o700
    assert _mode(home.lists) & 0o007 == 0 and _mode(home.config) & 0o007 == 0
    text = home.config.read_text("utf-8")
    assert text.count("#") > 20 and "配置" in text  # commented, in Chinese and English


def test_the_config_is_written_once_and_never_overwritten(home: datadir.DataDir) -> None:
    home.config.write_text("# mine\n" + home.config.read_text("utf-8"), encoding="utf-8")
    assert datadir.ensure(home) is False
    assert home.config.read_text("utf-8").startswith("# mine\n")


def test_default_config_behaves_like_no_config(home: datadir.DataDir) -> None:
    cfg = load_config(home.config)
    # The child gets the games preset, so the shipped games list keeps to its window.
    # The shipped lists first, then the parent's own folder.
    assert cfg.lists == [str(shipped_lists()), str(home.lists)]
    assert cfg.default_profile == "child" and cfg.profiles["child"] == Profile(games=True)
    assert cfg.clients == []
    assert cfg.profiles["parent"].filter is False  # nobody gets it until a parent says so
    # Every store lands in the data directory, next to the config.
    confdir = str(home.ca)
    assert events_db_path(cfg, confdir) == home.root / "qinglang-events.sqlite"
    assert quota_db_path(cfg, confdir) == home.root / "qinglang-quota.sqlite"
    s = settings_for(cfg.dashboard, config_path=home.config, confdir=confdir)
    assert s.state_db == home.root / "qinglang-dashboard.sqlite"
    assert s.secret_key_file == home.root / "qinglang-dashboard.key"


def test_shipped_lists_survive_a_move_of_the_data_directory(
    home: datadir.DataDir, tmp_path: Path
) -> None:
    moved = tmp_path / "moved"
    home.root.rename(moved)
    cfg = load_config(moved / "qinglang.yaml")
    assert cfg.lists == [str(shipped_lists()), str(moved / "lists")]


def _prepare(argv: list[str]) -> run.Prepared:
    args, rest = run.parse(argv)
    return run._prepare_data_dir(args, rest)


def test_config_without_data_dir_creates_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QINGLANG_HOME", str(tmp_path / "qh"))
    cfg = tmp_path / "q.yaml"
    cfg.write_text("{}\n", encoding="utf-8")
    p = _prepare(["--config", str(cfg), "--listen-port", "1"])
    assert p.config == str(cfg) and p.rest == ["--listen-port", "1"] and p.data_dir is None
    assert not (tmp_path / "qh").exists()


def test_no_arguments_use_the_data_directory_and_its_ca(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QINGLANG_HOME", str(tmp_path / "qh"))
    p = _prepare([])
    assert p.created and p.data_dir == tmp_path / "qh"
    assert p.config == str(tmp_path / "qh" / "qinglang.yaml")
    assert p.rest == [
        "--set",
        f"confdir={tmp_path / 'qh' / 'ca'}",
        "--set",
        f"qinglang_data_dir={tmp_path / 'qh'}",  # the WireGuard key files
    ]
    again = _prepare(["--set", "confdir=/somewhere", "--set=qinglang_data_dir=/x"])
    assert not again.created
    assert again.rest == ["--set", "confdir=/somewhere", "--set=qinglang_data_dir=/x"]


def test_banner_lists_every_lan_address_dashboard_and_setup_page(home: datadir.DataDir) -> None:
    cfg = load_config(home.config)
    state_db = home.root / "qinglang-dashboard.sqlite"
    lines = firstrun.banner(
        cfg,
        ["--listen-port", "3128", "--mode", "regular", "--mode", "wireguard@51821"],
        config_path=home.config,
        state_db=state_db,
        data_dir=home.root,
        created=True,
        lan=["192.168.1.5", "10.0.0.7"],
    )
    text = "\n".join(lines)
    assert f"first run: created {home.root}" in text
    assert "192.168.1.5:3128, 10.0.0.7:3128" in text
    assert "WireGuard" in text and "192.168.1.5:51821" in text
    assert "dashboard on http://192.168.1.5:8081/, http://10.0.0.7:8081/" in text
    assert "http://qinglang.home.arpa/setup" in text and "http://192.168.1.5:8081/setup" in text
    assert f"qinglang admin set-password --config {home.config}" in text
    assert f"qinglang allow-device <its address> --config {home.config}" in text

    # Once there is an account, the sign-in step is not printed again.
    conn = db.connect(state_db)
    accounts.set_password(conn, "admin", "a long enough password")
    conn.close()
    lines = firstrun.banner(
        cfg,
        ["--set", "qinglang_dashboard=off"],
        config_path=home.config,
        state_db=state_db,
        data_dir=home.root,
        created=False,
        lan=["192.168.1.5"],
    )
    text = "\n".join(lines)
    assert "first run" not in text and "dashboard off" in text and "set-password" not in text
    assert "proxy (HTTP(S) proxy) on 192.168.1.5:8080" in text


def test_sign_in_step_names_a_confdir_given_on_the_command_line(tmp_path: Path) -> None:
    cfg_path = tmp_path / "q.yaml"
    cfg_path.write_text("lists: [<shipped>]\n", encoding="utf-8")
    cfg = load_config(cfg_path)
    lines = firstrun.banner(
        cfg, [], config_path=cfg_path, state_db=tmp_path / "none.sqlite", data_dir=None,
        created=False, lan=["192.168.1.5"], confdir="/srv/conf",
    )  # fmt: skip
    assert f"  qinglang admin set-password --config {cfg_path} --confdir /srv/conf" in lines
    assert not any("data directory" in line for line in lines)


def test_lan_addresses_are_this_machines_and_not_loopback() -> None:
    found = firstrun.lan_addresses()
    assert found
    for a in found:
        assert not a.startswith("127.")
        with socket.socket() as s:
            s.bind((a, 0))  # only an address of this machine can be bound


def test_allow_device_lets_a_parent_in_without_editing_a_file(
    home: datadir.DataDir, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg_path = str(home.config)
    assert main(["allow-device", "192.168.1.0/24", "--profile", "child", "--config", cfg_path]) == 2
    assert "filtered" in capsys.readouterr().err
    # A CIDR rule for the children first; then the parent's phone goes in front of it.
    text = home.config.read_text("utf-8").replace(
        "clients: []", "clients:\n  - {match: 192.168.1.0/24, profile: child}  # the kids"
    )
    home.config.write_text(text, encoding="utf-8")
    assert main(["allow-device", "192.168.1.23", "--config", cfg_path]) == 0
    cfg = load_config(home.config)
    assert [(r.match, r.profile) for r in cfg.clients] == [
        ("192.168.1.23", "parent"),
        ("192.168.1.0/24", "child"),
    ]
    new_text = home.config.read_text("utf-8")
    assert "# the kids" in new_text and "配置档" in new_text  # comments kept
    # Again for the same device: still one rule; a new unfiltered profile is made on demand.
    assert main(["allow-device", "192.168.1.23", "--profile", "dad", "--config", cfg_path]) == 0
    cfg = load_config(home.config)
    assert (cfg.clients[0].match, cfg.clients[0].profile) == ("192.168.1.23", "dad")
    assert len(cfg.clients) == 2 and cfg.profiles["dad"].filter is False
    assert main(["allow-device", "not-an-ip", "--config", cfg_path]) == 2
    assert "not an IP address" in capsys.readouterr().err


def test_init_makes_the_ca_readable_by_its_owner_only(tmp_path: Path) -> None:
    assert main(["init", "--data-dir", str(tmp_path / "d")]) == 0
    ca = tmp_path / "d" / "ca"
    assert _mode(ca / "mitmproxy-ca.pem") == 0o600
    assert (ca / "mitmproxy-ca-cert.pem").is_file()
    assert (tmp_path / "d" / "qinglang.yaml").is_file()


def test_run_parser_keeps_unknown_options_for_mitmdump() -> None:
    args, rest = run.parse(["--data-dir", "/x", "--listen-port", "8080", "--set", "a=b"])
    assert isinstance(args, argparse.Namespace) and args.data_dir == "/x"
    assert rest == ["--listen-port", "8080", "--set", "a=b"]
    assert os.sep in str(datadir.resolve(args.data_dir).root)


def test_admin_commands_default_to_the_data_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The hint on the dashboard's sign-in page is a bare `qinglang admin set-password`.
    monkeypatch.setenv("QINGLANG_HOME", str(tmp_path / "qh"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    datadir.ensure(datadir.resolve(None))
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))
    assert main(["admin", "set-password", "--password-stdin"]) == 0
    assert str(tmp_path / "qh" / "qinglang-dashboard.sqlite") in capsys.readouterr().out
    assert main(["admin", "list"]) == 0
    assert capsys.readouterr().out.split() == ["admin"]
    assert not (tmp_path / "home" / ".mitmproxy").exists()


def test_wireguard_key_files_live_in_the_data_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QINGLANG_HOME", str(tmp_path / "qh"))
    p = _prepare([])
    config = Path(p.config)
    config.write_text(
        config.read_text("utf-8").replace(
            "clients: []",
            "clients: []\ndevices:\n  - {name: mei-phone, profile: child, wireguard_port: 51821}",
        ),
        encoding="utf-8",
    )
    cfg = load_config(config)
    rest = run._device_listeners(cfg, p.rest)
    key = tmp_path / "qh" / "wireguard" / "mei-phone.conf"
    assert key.is_file() and _mode(key) == 0o600
    assert any(a.startswith("wireguard:") and a.endswith("@51821") for a in rest)
    lines = firstrun.banner(
        cfg, rest, config_path=config, state_db=tmp_path / "none", data_dir=p.data_dir,
        created=False, lan=["192.168.1.5"],
    )  # fmt: skip
    text = "\n".join(lines)
    assert "192.168.1.5:51821" in text and "192.168.1.5:8080" in text


def test_the_dashboard_reads_the_stores_the_proxy_writes(home: datadir.DataDir) -> None:
    # The dashboard's screen-time view reads the quota store the proxy writes: with the
    # data directory's config, both are next to the config, not in the confdir.
    from mitmproxy.test import taddons

    from qinglang.dashboard.server import DashboardAddon
    from qinglang.proxy.filtering import Qinglang

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dash, main_addon = DashboardAddon(), Qinglang()

    async def start_and_stop() -> tuple[Path | None, Path, Path]:
        with taddons.context(dash, main_addon) as tctx:
            tctx.configure(main_addon, qinglang_config=str(home.config), confdir=str(home.ca))
            tctx.configure(dash, qinglang_dashboard=f"127.0.0.1:{port}")
            await dash.running()
            try:
                assert dash.app is not None
                st = dash.app.state.dash.s
                return st.quota_db, st.events_db, st.state_db
            finally:
                await dash.done()

    quota, events, state = asyncio.run(start_and_stop())
    cfg = load_config(home.config)
    assert quota == quota_db_path(cfg, home.ca) == home.root / "qinglang-quota.sqlite"
    assert events == home.root / "qinglang-events.sqlite"
    assert state == home.root / "qinglang-dashboard.sqlite"


def test_add_phone_adds_a_wireguard_device_without_editing_a_file(
    home: datadir.DataDir, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg_path = str(home.config)
    assert main(["add-phone", "mei-phone", "--config", cfg_path]) == 0
    out = capsys.readouterr().out
    assert "Restart qinglang" in out and "51821" in out
    assert main(["add-phone", "dad-phone", "--profile", "parent", "--config", cfg_path]) == 0
    cfg = load_config(home.config)
    assert [(d.name, d.profile, d.wireguard_port) for d in cfg.devices] == [
        ("mei-phone", "child", 51821),
        ("dad-phone", "parent", 51822),
    ]
    assert "配置档" in home.config.read_text("utf-8")  # comments kept
    # Mistakes are said plainly and leave the file alone.
    before = home.config.read_text("utf-8")
    for argv, says in (
        (["mei-phone"], "already a device 'mei-phone'"),
        (["x", "--profile", "adult"], "no profile 'adult'"),
        (["bad name"], "not a device name"),
        (["kid2", "--port", "51822"], "already another device's"),
        (["kid2", "--port", "70000"], "not a UDP port"),
    ):
        assert main(["add-phone", *argv, "--config", cfg_path]) == 2
        err = capsys.readouterr().err
        assert err.startswith("qinglang: ") and says in err, err
    assert home.config.read_text("utf-8") == before
