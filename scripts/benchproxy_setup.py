"""The setup of scripts/bench_proxy.py: its pages, the upstream server process, the two
mitmdump processes (bare and with qinglang) and CPU readings from /proc.

The upstream is the end-to-end tests' server (tests/e2e/upstream.py) run in a process of its
own, so its CPU is measured apart from the load generator's and the proxy's; the proxies are
the end-to-end tests' ``Proxy`` (tests/e2e/conftest.py), started with or without the addon.

    python scripts/benchproxy_setup.py upstream --big-mb 10
        serves the benchmark pages; prints one JSON line (ports, pid), exits when its
        standard input closes
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import brotli
import zstandard

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.e2e.conftest import ADDON, START_TIMEOUT, Proxy  # noqa: E402
from tests.e2e.upstream import Page, Upstream  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_BYTES = 100_000
JSON_BYTES = 30_000
SMALL_BYTES = 2_000
# Terms from the shipped vulgar lists (vulgar.zh.yaml, vulgar.en.yaml): together they score
# 15 + 5 + 15 = 35, under the child profile's block threshold of 100, so a page with them is
# masked, never blocked, however often they occur.
MASK_TERMS = ("卧槽", "damn", "wtf")
ENCODINGS = ("gzip", "br", "zstd")

# --- pages ---------------------------------------------------------------------------------

ZH = [
    "今天天气很好，我们一家人去公园散步。",
    "图书馆周末开放到晚上八点，欢迎同学们来借书。",
    "这道菜需要先把鸡蛋打散，再加一点盐和葱花。",
    "科学家发现了一种新的深海鱼类，它会发出蓝色的光。",
    "学校的篮球队在市里的比赛中获得了第二名。",
    "春天来了，河边的柳树长出了嫩绿的新芽。",
    "老师说明天的数学课要带上尺子和圆规。",
    "这本小说讲述了一个少年环游世界的故事。",
    "博物馆新展出了几件一千多年前的青铜器。",
    "我们用纸箱做了一个会转动的风车模型。",
    "地铁三号线的新站点下个月正式开通。",
    "音乐会上，小提琴手演奏了一首优美的曲子。",
    "爷爷在阳台上种了西红柿、黄瓜和辣椒。",
    "天文台邀请大家晚上一起观看流星雨。",
    "运动会的接力比赛非常激烈，观众们都站了起来。",
    "这个周末的电影讲的是一只勇敢的小狐狸。",
    "妈妈教我用毛笔写自己的名字。",
    "城市的新公园里有一片很大的向日葵花田。",
    "志愿者们帮助社区的老人打扫房间。",
    "我们在实验课上观察了洋葱表皮的细胞。",
]
EN = [
    "The weather is nice today, so the whole family went for a walk in the park.",
    "The library is open until eight on weekends and everyone is welcome.",
    "First beat the eggs, then add a little salt and some chopped spring onion.",
    "Scientists found a new deep-sea fish that glows with a soft blue light.",
    "Our school basketball team came second in the city tournament.",
    "Spring is here and the willows by the river have fresh green leaves.",
    "Please bring a ruler and a compass to tomorrow's maths lesson.",
    "This novel tells the story of a boy who travels around the world.",
    "The museum is showing bronze vessels that are over a thousand years old.",
    "We built a paper windmill that turns when the wind blows.",
    "The new station on metro line three opens next month.",
    "At the concert the violinist played a beautiful piece by Dvorak.",
    "Grandpa grows tomatoes, cucumbers and peppers on the balcony.",
    "The observatory invites everyone to watch the meteor shower tonight.",
    "The relay race at sports day was so close that everyone stood up.",
    "This weekend's film is about a brave little fox and its friends.",
    "Mum showed me how to write my name with a brush.",
    "The new park in the city has a huge field of sunflowers.",
    "Volunteers helped the older neighbours clean their flats.",
    "In the science lesson we looked at onion skin cells under a microscope.",
]

HEAD = """<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>body{{font-family:sans-serif;margin:0}}.card{{padding:8px;border:1px solid #ddd}}
nav a{{margin-right:12px}}footer{{color:#666;font-size:12px}}</style>
<script>window.dataLayer=window.dataLayer||[];function track(e){{dataLayer.push(e)}}</script>
</head><body><header><nav>{nav}</nav></header><main><h1>{title}</h1>
"""
TAIL = (
    '</main><footer><p>© 2024 Example News · <a href="/about">About</a></p></footer>'
    "</body></html>\n"
)


def html_page(size: int, seed: int, with_terms: bool) -> bytes:
    """A news-like UTF-8 page of about ``size`` bytes: nav, articles, links, images.

    With ``with_terms``, one paragraph in four carries one of MASK_TERMS, so the page is
    masked all the way down rather than in one place.
    """
    rnd = random.Random(seed)
    nav = "".join(f'<a href="/section/{i}">栏目{i} Section {i}</a>' for i in range(12))
    parts = [HEAD.format(title="校园新闻 School News", nav=nav)]
    total = len(parts[0].encode())
    n = 0
    tail = TAIL.encode()
    while total < size - len(tail) - 200:
        zh = "".join(rnd.sample(ZH, 4))
        en = " ".join(rnd.sample(EN, 2))
        if with_terms and n % 4 == 0:
            term = MASK_TERMS[(n // 4) % len(MASK_TERMS)]
            zh = zh[:10] + (term if not term.isascii() else "") + zh[10:]
            en = en + (f" Oh {term}, what a day." if term.isascii() else "")
        # Ids, image hashes, times and counts as real pages have them: they are what keeps
        # a real page from compressing as well as repeated sentences would (about 6x, not 15x).
        key, img = f"{rnd.getrandbits(48):012x}", f"{rnd.getrandbits(128):032x}"
        when = f"2024-{rnd.randrange(1, 13):02d}-{rnd.randrange(1, 29):02d}"
        block = (
            f'<article class="card" data-id="{key}"><h2><a href="/news/{key}.html">'
            f'{zh[:14]}</a></h2><div class="meta"><time datetime="{when}T{rnd.randrange(24):02d}:'
            f'{rnd.randrange(60):02d}">{when}</time> · {rnd.randrange(100000)} views · '
            f'{rnd.randrange(1000)} likes</div><p>{zh}</p><p lang="en">{en}</p>'
            f'<img src="https://img.example.com/{img[:2]}/{img}.jpg" '
            f'width="{rnd.randrange(200, 800)}" alt="{EN[n % len(EN)][:40]}"></article>\n'
        )
        parts.append(block)
        total += len(block.encode())
        n += 1
    parts.append(TAIL)
    return "".join(parts).encode()


def json_api(size: int, seed: int) -> bytes:
    """A feed API response of about ``size`` bytes; two items carry a term (masked)."""
    rnd = random.Random(seed)
    items = []
    total = 0
    i = 0
    while total < size - 100:
        title = rnd.choice(ZH)
        if i in (3, 17):
            title = title[:6] + MASK_TERMS[0] + title[6:]
        item = {
            "id": 100000 + i,
            "title": title,
            "summary": " ".join(rnd.sample(EN, 2)),
            "author": {"id": rnd.randrange(1000), "name": f"user{rnd.randrange(10000)}"},
            "tags": rnd.sample(["school", "science", "sports", "food", "city", "music"], 2),
            "likes": rnd.randrange(5000),
            "url": f"https://example.com/news/{i}",
        }
        items.append(item)
        total += len(json.dumps(item, ensure_ascii=False).encode()) + 2
        i += 1
    doc = {"page": 1, "count": len(items), "items": items}
    return json.dumps(doc, ensure_ascii=False).encode()


@dataclass(frozen=True)
class BenchPage:
    path: str
    label: str  # for the tables
    body: bytes  # as the upstream sends it (content-encoded for the compressed variants)
    headers: dict[str, str]
    masked: bool  # qinglang should change it (True) or pass it byte for byte (False)


def _encode(body: bytes, enc: str) -> bytes:
    # Levels as a web server would use them: gzip 6 (nginx's usual gzip_comp_level range),
    # brotli 5 and zstd 3 for dynamic pages.
    if enc == "gzip":
        return gzip.compress(body, compresslevel=6, mtime=0)
    if enc == "br":
        return brotli.compress(body, quality=5)
    if enc == "zstd":
        return zstandard.ZstdCompressor(level=3).compress(body)
    raise ValueError(enc)


def bench_pages(big_bytes: int) -> dict[str, BenchPage]:
    """Every page the benchmark asks for, by path (deterministic: built the same in every
    process)."""
    html_h = {"content-type": "text/html; charset=utf-8"}
    clean = html_page(PAGE_BYTES, 1, with_terms=False)
    match = html_page(PAGE_BYTES, 1, with_terms=True)
    pages = [
        BenchPage("/clean.html", "HTML 100 KB, no match", clean, html_h, False),
        BenchPage("/match.html", "HTML 100 KB, masked", match, html_h, True),
        BenchPage(
            "/api.json",
            "JSON API 30 KB, masked",
            json_api(JSON_BYTES, 2),
            {"content-type": "application/json"},
            True,
        ),
    ]
    for enc in ENCODINGS:
        for name, body, masked in (("clean", clean, False), ("match", match, True)):
            what = "masked" if masked else "no match"
            pages.append(
                BenchPage(
                    f"/{name}.html.{enc}",
                    f"HTML 100 KB, {what}, {enc} upstream",
                    _encode(body, enc),
                    {**html_h, "content-encoding": enc},
                    masked,
                )
            )
    pages.append(
        BenchPage(
            "/photo.jpg",
            "JPEG 20 KB (not scanned)",
            # Most requests of a page load are media: what qinglang costs where it only
            # looks at the headers.
            b"\xff\xd8\xff\xe0" + random.Random(5).randbytes(20_000),
            {"content-type": "image/jpeg"},
            False,
        )
    )
    pages.append(
        BenchPage("/small.html", "HTML 2 KB", html_page(SMALL_BYTES, 3, False), html_h, False)
    )
    pages.append(
        BenchPage(
            "/big.html",
            f"HTML {big_bytes / 1e6:g} MB, masked",
            html_page(big_bytes, 4, True),
            html_h,
            True,
        )
    )
    return {p.path: p for p in pages}


# --- the upstream server process -----------------------------------------------------------


@dataclass
class UpstreamProc:
    proc: subprocess.Popen[str]
    http_port: int
    https_port: int

    @property
    def pid(self) -> int:
        return self.proc.pid

    def url(self, path: str, tls: bool = False) -> str:
        port = self.https_port if tls else self.http_port
        return f"{'https' if tls else 'http'}://127.0.0.1:{port}{path}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(OSError):
                assert self.proc.stdin is not None
                self.proc.stdin.close()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def start_upstream(big_bytes: int) -> UpstreamProc:
    cmd = [sys.executable, __file__, "upstream", "--big-bytes", str(big_bytes)]
    # Its standard error gets http.server's tracebacks for connections a load generator
    # resets when it stops: noise, not failures.
    proc = subprocess.Popen(
        cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        proc.wait(5)
        raise RuntimeError("the upstream server did not start")
    info = json.loads(line)
    return UpstreamProc(proc, info["http"], info["https"])


def _serve_upstream(big_bytes: int) -> None:
    with tempfile.TemporaryDirectory(prefix="qinglang-bench-upstream-") as tmp:
        up = Upstream(Path(tmp))
        # The tests keep every request for their assertions; a benchmark would keep
        # hundreds of thousands: only the last few are kept.
        up.requests = deque(maxlen=100)  # type: ignore[assignment]
        # http.server writes the headers and the body in two sends: with Nagle's algorithm
        # on, a small page then waits for the client's delayed ACK (40 ms here, capping a
        # 2 KB page at 350 req/s over 16 connections). Real servers set TCP_NODELAY.
        # And socketserver listens with a backlog of 5: when a load generator opens 16
        # connections at once, mitmproxy opens 16 upstream connections at once, and those
        # that overflow the backlog wait a second for a SYN retransmission (seen as p99 near
        # 1 s). Listening again on a listening socket only resizes its backlog.
        for server in up._servers:
            server.RequestHandlerClass.disable_nagle_algorithm = True  # type: ignore[attr-defined]
            server.socket.listen(128)
        for p in bench_pages(big_bytes).values():
            up.pages[p.path] = Page(p.body, p.headers)
        print(json.dumps({"http": up.http_port, "https": up.https_port}), flush=True)
        sys.stdin.read()  # until the benchmark closes our standard input (or dies)
        up.close()


# --- the proxies ---------------------------------------------------------------------------


class BenchProxy(Proxy):
    """A mitmdump from the end-to-end tests, bare (no addon) or with qinglang on the
    shipped lists and the default child profile."""

    def __init__(
        self, home: Path, qinglang: bool, workers: int = -1, extra: list[str] | None = None
    ) -> None:
        super().__init__(home, extra)  # extra: more mitmdump options (bench_scale.py)
        self.qinglang = qinglang
        self.workers = workers
        lists = ROOT / "blocklists"
        # The default config, with the shipped lists named explicitly; events go to the
        # proxy's own folder. The upstream listens on an ephemeral port, which a child's
        # tunnel may only reach when the profile allows it (docs/proxy.md, "Tunnels").
        self.config.write_text(
            f"lists: [{json.dumps(str(lists))}]\nevents: {{db: events.sqlite}}\n"
            'profiles: {child: {allow_ports: ["1024-65535"]}}\n',
            encoding="utf-8",
        )

    def start(self) -> BenchProxy:
        cmd = [
            sys.executable,
            "-c",
            "from mitmproxy.tools.main import mitmdump; mitmdump()",
            "--listen-host",
            "127.0.0.1",
            "--listen-port",
            str(self.port),
            "--set",
            f"confdir={self.confdir}",
            "--set",
            "ssl_insecure=true",
            "--set",
            "flow_detail=0",
        ]
        if self.qinglang:
            cmd += [
                "-s",
                str(ADDON),
                "--set",
                f"qinglang_config={self.config}",
                "--set",
                f"qinglang_workers={self.workers}",
                *self.extra,
            ]
        logf = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            cmd, stdout=logf, stderr=subprocess.STDOUT, start_new_session=True, cwd=self.home
        )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mitmdump exited early:\n{self.log()[-3000:]}")
            ready = not self.qinglang or "qinglang: filtering proxy listening" in self.log()
            if ready and self.ca.exists() and _accepts(self.port):
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"mitmdump did not start in {START_TIMEOUT} s:\n{self.log()[-3000:]}")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid


def _accepts(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
        return True
    return False


# --- CPU -----------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """utime + stime of one process from /proc/<pid>/stat (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            stat = f.read()
    except OSError:
        return 0.0
    # The command name (field 2) may hold spaces: the fields after it start after its ')'.
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (qinglang's scan workers are forked from mitmdump)."""
    out: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with (
                contextlib.suppress(OSError),
                open(f"/proc/{pid}/task/{task}/children", encoding="ascii") as f,
            ):
                out.extend(int(c) for c in f.read().split())
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("upstream", help="serve the benchmark pages until stdin closes")
    up.add_argument("--big-bytes", type=int, default=10_000_000)
    args = ap.parse_args(argv)
    if args.cmd == "upstream":
        _serve_upstream(args.big_bytes)


if __name__ == "__main__":
    main()
