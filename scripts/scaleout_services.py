"""PostgreSQL, Redis and HAProxy from Debian's packages, as private servers on 127.0.0.1.

Used by the scale-out end-to-end test (tests/e2e/test_scale_out.py) and the scale benchmark
(scripts/bench_scale.py), and by ``.ci/run``:

    python3 scripts/scaleout_services.py install
        apt-get installs haproxy, redis-server and postgresql when they are missing
        (idempotent: nothing is done when all three are there)
    python3 scripts/scaleout_services.py start
        starts the three on free loopback ports in a temporary folder, prints their URLs
        and stops them when standard input closes (Ctrl-D)

Each server gets its own temporary folder and free port, so a second run, or a run beside
the system's own instances, never collides with anything; nothing depends on systemd.
PostgreSQL refuses to run as root: as root, its folder is given to the ``postgres`` user
the package creates and the server runs as that user. Every server is stopped (SIGTERM,
then SIGKILL) by ``stop``, also when the caller failed.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

PACKAGES = {"haproxy": "haproxy", "redis-server": "redis-server", "postgresql": "initdb"}
START_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pg_bin() -> Path:
    """The bin folder of the newest installed PostgreSQL (Debian keeps them per version)."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if not found:
        raise RuntimeError(
            "PostgreSQL is not installed: python3 scripts/scaleout_services.py install"
        )
    return found[-1].parent


def missing() -> list[str]:
    out = []
    if shutil.which("haproxy") is None:
        out.append("haproxy")
    if shutil.which("redis-server") is None:
        out.append("redis-server")
    try:
        pg_bin()
    except RuntimeError:
        out.append("postgresql")
    return out


def install() -> None:
    need = missing()
    if not need:
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    # The packages would start their system-wide servers (PostgreSQL on 5432, Redis on
    # 6379): nothing here uses them, so policy-rc.d says no while they install.
    policy = Path("/usr/sbin/policy-rc.d")
    made = not policy.exists()
    if made:
        policy.write_text("#!/bin/sh\n# qinglang: no service starts while installing\nexit 101\n")
        policy.chmod(0o755)
    try:
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *need],
            check=True,
            env=env,
            stdout=subprocess.DEVNULL,
        )
    finally:
        if made:
            policy.unlink(missing_ok=True)


def _wait_port(port: int, proc: subprocess.Popen[bytes], what: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited early:\n{_tail(log)}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on {port} in {START_TIMEOUT} s:\n{_tail(log)}")


def _tail(log: Path) -> str:
    try:
        return log.read_text(errors="replace")[-3000:]
    except OSError:
        return ""


def _stop(proc: subprocess.Popen[bytes] | None, sig: int = signal.SIGTERM) -> None:
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


@dataclass
class Postgres:
    """A private PostgreSQL cluster: role ``qinglang`` with a random password, db ``qinglang``."""

    port: int = field(default_factory=free_port)
    password: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    proc: subprocess.Popen[bytes] | None = None
    home: Path | None = None

    @property
    def url(self) -> str:
        return f"postgresql://qinglang:{self.password}@127.0.0.1:{self.port}/qinglang"

    def start(self) -> Postgres:
        bindir = pg_bin()
        # Not under pytest's tmp folders: those are closed to other users.
        self.home = Path(tempfile.mkdtemp(prefix="qinglang-pg-"))
        data, pwfile, log = self.home / "data", self.home / "pw", self.home / "postgres.log"
        pwfile.write_text(self.password + "\n")
        user: str | None = None
        if os.geteuid() == 0:
            user = "postgres"
            pw = pwd.getpwnam(user)
            os.chown(self.home, pw.pw_uid, pw.pw_gid)
            os.chown(pwfile, pw.pw_uid, pw.pw_gid)
        subprocess.run(
            [str(bindir / "initdb"), "-D", str(data), "-U", "qinglang", f"--pwfile={pwfile}",
             "-A", "scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync"],
            check=True, user=user, cwd=self.home,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        logf = open(log, "wb")  # noqa: SIM115 - the server writes it until stopped
        if user:
            os.chown(log, pwd.getpwnam(user).pw_uid, pwd.getpwnam(user).pw_gid)
        self.proc = subprocess.Popen(
            [str(bindir / "postgres"), "-D", str(data), "-p", str(self.port),
             "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={self.home}",
             "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "max_connections=50"],
            stdout=logf, stderr=subprocess.STDOUT, user=user, cwd=self.home,
            start_new_session=True,
        )  # fmt: skip
        _wait_port(self.port, self.proc, "postgres", log)
        self._createdb(bindir)
        return self

    def _createdb(self, bindir: Path) -> None:
        env = {**os.environ, "PGPASSWORD": self.password}
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            r = subprocess.run(
                [str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
                 "-U", "qinglang", "qinglang"],
                env=env, capture_output=True, text=True,
            )  # fmt: skip
            if r.returncode == 0 or "already exists" in r.stderr:
                return
            if time.monotonic() > deadline:  # still starting up, or broken
                raise RuntimeError(f"createdb failed: {r.stderr}")
            time.sleep(0.2)

    def stop(self) -> None:
        _stop(self.proc, signal.SIGINT)  # SIGINT: PostgreSQL's fast shutdown
        if self.home is not None:
            shutil.rmtree(self.home, ignore_errors=True)


@dataclass
class Redis:
    port: int = field(default_factory=free_port)
    password: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    proc: subprocess.Popen[bytes] | None = None
    home: Path | None = None

    @property
    def url(self) -> str:
        return f"redis://:{self.password}@127.0.0.1:{self.port}/0"

    def start(self) -> Redis:
        self.home = Path(tempfile.mkdtemp(prefix="qinglang-redis-"))
        conf = self.home / "redis.conf"
        # In a file, so the password is not on a command line others can read.
        conf.write_text(
            f'port {self.port}\nbind 127.0.0.1\nsave ""\nappendonly no\n'
            f"requirepass {self.password}\ndir {self.home}\ndaemonize no\n"
        )
        conf.chmod(0o600)
        log = self.home / "redis.log"
        self.proc = subprocess.Popen(
            ["redis-server", str(conf)],
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        _wait_port(self.port, self.proc, "redis-server", log)
        return self

    def stop(self) -> None:
        _stop(self.proc)
        if self.home is not None:
            shutil.rmtree(self.home, ignore_errors=True)


HAPROXY_CFG = """\
global
    maxconn 4096
    log stderr format short local0 notice

defaults
    mode tcp
    log global
    option tcplog
    timeout connect 1s
    timeout client 60s
    timeout server 60s
    # A connection a dead worker refuses is tried again, on another worker.
    retries 3
    option redispatch 1

frontend proxy
    bind 127.0.0.1:{port}
    default_backend workers

backend workers
    balance {balance}
{servers}
"""


HTTP_MODE = """\
    mode http
    # The device's address for qinglang_trusted_proxies; one worker connection per
    # device connection (proxy log-ins are remembered per connection).
    option forwardfor
    http-reuse never
    timeout http-request 10s
    timeout tunnel 1h
"""


def haproxy_config(
    port: int,
    workers: list[int],
    balance: str = "leastconn",
    mode: str = "tcp",
    source: str | None = None,
) -> str:
    """``mode``: ``tcp`` (workers see HAProxy's address) or ``http`` (X-Forwarded-For);
    ``source``: the address HAProxy connects to the workers from."""
    src = f" source {source}" if source else ""
    servers = "\n".join(
        f"    server w{i} 127.0.0.1:{p} check inter 500ms fall 2 rise 2{src}"
        for i, p in enumerate(workers, 1)
    )
    cfg = HAPROXY_CFG.format(port=port, servers=servers, balance=balance)
    if mode == "http":
        cfg = cfg.replace("    mode tcp\n", HTTP_MODE).replace("    option tcplog\n", "")
    return cfg


@dataclass
class HAProxy:
    workers: list[int]
    port: int = field(default_factory=free_port)
    balance: str = "leastconn"
    mode: str = "tcp"
    source: str | None = None
    proc: subprocess.Popen[bytes] | None = None
    home: Path | None = None

    def start(self) -> HAProxy:
        self.home = Path(tempfile.mkdtemp(prefix="qinglang-haproxy-"))
        cfg = self.home / "haproxy.cfg"
        cfg.write_text(
            haproxy_config(self.port, self.workers, self.balance, self.mode, self.source)
        )
        log = self.home / "haproxy.log"
        self.proc = subprocess.Popen(
            ["haproxy", "-db", "-f", str(cfg)],
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        _wait_port(self.port, self.proc, "haproxy", log)
        return self

    def log(self) -> str:
        return _tail(self.home / "haproxy.log") if self.home else ""

    def stop(self) -> None:
        _stop(self.proc)
        if self.home is not None:
            shutil.rmtree(self.home, ignore_errors=True)


@contextlib.contextmanager
def running(*servers: Postgres | Redis | HAProxy) -> Iterator[None]:
    """Start ``servers`` in order; stop every one that started, also on failure."""
    started: list[Postgres | Redis | HAProxy] = []
    try:
        for s in servers:
            started.append(s)
            s.start()
        yield
    finally:
        for s in reversed(started):
            s.stop()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("command", choices=("install", "start"))
    args = p.parse_args(argv)
    if args.command == "install":
        install()
        return 0
    pg, rd = Postgres(), Redis()
    with running(pg, rd):
        print(
            f"postgresql: {pg.url}\nredis:      {rd.url}\n(stop: close standard input)", flush=True
        )
        sys.stdin.read()
    return 0


if __name__ == "__main__":
    sys.exit(main())
