"""The data directory: where ``qinglang run`` keeps its config, lists, stores and CA.

Chosen, first match wins: ``--data-dir DIR``; ``$QINGLANG_HOME``;
``$XDG_DATA_HOME/qinglang``; ``~/.local/share/qinglang``. The service uses
``/var/lib/qinglang`` (scripts/qinglang.service). Layout::

    qinglang.yaml                  the config (written once, with comments; never overwritten)
    lists/                         the parent's own list files, added after the shipped lists
    ca/                            mitmproxy's confdir: the CA certificate and its private key
    qinglang-events.sqlite         the event log
    qinglang-quota.sqlite          minutes used of the daily quotas
    qinglang-dashboard.sqlite      dashboard accounts, audit log, requests, overrides
    qinglang-dashboard.key         the dashboard's session-signing key
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

CONFIG_NAME = "qinglang.yaml"
LISTS_NAME = "lists"
CA_NAME = "ca"
SERVICE_DIR = "/var/lib/qinglang"
# Only the owner (the service user) may read the folder and the CA; see docs/deploying.md.
DIR_MODE = 0o700

# Every path in it is relative to the file, so it stays valid if the folder is moved.
# `<shipped>` stands for the lists that come with qinglang, wherever it is installed.
DEFAULT_CONFIG = """\
# 清朗 qinglang: configuration / 配置文件
#
# Written by the first `qinglang run`; qinglang never overwrites it. Edit it freely: the
# proxy picks up changes within seconds (a mistake is reported and the old rules stay).
# 首次运行时自动生成，之后不会被覆盖。可以直接修改，几秒内自动生效；写错时保留旧规则并报告错误。
# Full reference / 完整说明: the manual, docs/configuration.md and docs/youth-mode.md.

# Keyword lists: folders of list files. `<shipped>` is the lists that come with qinglang;
# put your own list files in the `lists` folder next to this file.
# 关键词列表：<shipped> 是随 qinglang 提供的列表；自己的列表文件放在同目录的 lists 文件夹里。
lists:
  - <shipped>
  - lists

# Profiles: what each kind of device may see. `child` uses the defaults (block at score
# 100, mask harmful words and personal information) and the games preset (game sites of
# the shipped list only Friday to Sunday and on holidays, 20:00-21:00); `parent` is not
# filtered.
# 配置档：child 使用默认过滤规则和游戏时段（周五至周日及节假日 20:00-21:00）；parent 不过滤。
profiles:
  child:
    games: true
  parent:
    filter: false

# Which device gets which profile, first match wins, e.g.
#   - {match: 192.168.1.23, profile: parent}    # my phone / 我的手机
# The dashboard (Devices) edits this list for you.
# 设备与配置档的对应，按顺序匹配第一条；可以在家长面板里修改。
clients: []

# Devices matched by no rule get this profile (child: filtered, fail-closed).
# 未匹配的设备使用此配置档（child：过滤）。
default_profile: child

# Event log: what was blocked or masked (never the page content), kept 30 days.
# 事件记录（不记录网页内容），保留 30 天。
events:
  db: qinglang-events.sqlite
  retention_days: 30

# Minutes used of the daily quotas (survive restarts). 每日上网时长的已用分钟数。
quota:
  db: qinglang-quota.sqlite

# The parents' dashboard / 家长面板: http://<this machine>:8081/
# Set its password with `qinglang admin set-password` (see what `qinglang run` prints).
dashboard:
  listen: 0.0.0.0:8081
  db: qinglang-dashboard.sqlite
  secret_key: qinglang-dashboard.key
"""

LISTS_README = """\
Your own keyword lists / 自己的关键词列表

Put list files (*.yaml, the format in docs/getting-started/lists.md) in this folder; they
are used after the shipped lists. Domain lists go in domains/*.txt.
把 *.yaml 列表文件放在这里（格式见 docs/getting-started/lists.md），会在随附列表之后加载。
"""


@dataclass(frozen=True, slots=True)
class DataDir:
    root: Path

    @property
    def config(self) -> Path:
        return self.root / CONFIG_NAME

    @property
    def lists(self) -> Path:
        return self.root / LISTS_NAME

    @property
    def ca(self) -> Path:
        return self.root / CA_NAME


def default_root() -> Path:
    env = os.environ.get("QINGLANG_HOME")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".local" / "share"
    return base / "qinglang"


def resolve(option: str | None) -> DataDir:
    """The data directory for ``--data-dir`` (None: the default), as an absolute path."""
    root = Path(option).expanduser() if option else default_root()
    return DataDir(root.resolve())


def existing_config(option: str | None = None) -> str | None:
    """The data directory's config, as ``qinglang run`` without ``--config`` reads it, if
    there is one (nothing is created): for commands that read the config only.

    Raises SourceError when it is there but cannot be read (another user's data
    directory): silently using other rules would test the wrong thing."""
    from qinglang.engine.yamlloc import SourceError

    path = resolve(option).config
    try:
        return str(path) if path.is_file() else None
    except OSError as e:
        raise SourceError(
            path,
            None,
            f"cannot read it: {e.strerror}; give --config, or run this as the user that "
            "runs the proxy (e.g. sudo -u qinglang)",
        ) from None


def ensure(d: DataDir) -> bool:
    """Create what is missing (folders, the default config); True if the config was new.

    Raises OSError when the folder cannot be made or written."""
    for folder in (d.root, d.ca):
        folder.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    # mkdir's mode is filtered by the umask and leaves an existing folder as it was.
    for folder in (d.root, d.ca):
        if folder.stat().st_mode & 0o077 and folder.stat().st_uid == os.geteuid():
            folder.chmod(DIR_MODE)
    d.lists.mkdir(mode=0o750, exist_ok=True)
    readme = d.lists / "README.txt"
    if not readme.exists():
        readme.write_text(LISTS_README, encoding="utf-8")
    return write_default_config(d.config)


def write_default_config(path: Path) -> bool:
    """Write the commented default config unless a file is there (never overwritten)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(DEFAULT_CONFIG)
    return True
