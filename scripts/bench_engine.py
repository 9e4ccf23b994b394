"""Engine benchmark: the whole engine against a bare ahocorasick-rs scan, side by side.

For each list size (1,000, 10,000 and 100,000 terms by default) it times, in one run and on
the same text:

- the engine: ``Engine(listset).scan(text, "text", profile)`` (extract, normalise, match,
  score, mask), with a profile that never blocks so masking is always timed;
- a bare scan: ``AhoCorasick(patterns)`` with default settings and
  ``find_matches_as_indexes(text)`` on the raw text, with the same pattern strings;

and prints their throughput (MB of UTF-8 per second), the ratio engine / bare, the build
times (``load_lists`` from YAML files + ``Engine``; the bare automaton) and memory (RSS
growth for building, peak RSS while scanning). Each size runs in its own process so memory
readings do not mix. At the largest size it also measures PII detection (``pii: mask``
against ``pii: off``), the text cut into 64 KB documents, and generated HTML pages.

Data are generated deterministically from material on this machine (see benchdata.py) and
cached in ``.bench/`` at the repository root (gitignored).

    python scripts/bench_engine.py            # full run (20 MB, 1k/10k/100k terms)
    python scripts/bench_engine.py --quick    # smoke run (2 MB, 1k/10k terms)
    python scripts/bench_engine.py --profile  # also cProfile scan and load_lists at the top size

Timings are the best of ``--repeat`` runs, engine and bare interleaved in a rotating order,
because other work on a shared machine only ever makes a run slower. Memory is read from
/proc/self/status.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import inspect
import io
import json
import os
import platform
import pstats
import shlex
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
# The engine of this checkout, not an installed one (an editable install of another
# checkout would otherwise be measured in its place).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "addons"))

import benchdata

ROOT = Path(__file__).resolve().parents[1]
NEVER_BLOCK = 10**9  # block_threshold that lets every page through, so masking is timed
DOC_CHARS = 64 * 1024  # "documents" variant: the text cut into pieces of about this size
RESULT = "RESULT "


# --- memory ------------------------------------------------------------------------------------


def _status() -> dict[str, float]:
    """VmRSS and VmHWM in MB, or {} where /proc is not available."""
    out: dict[str, float] = {}
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                key, _, val = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    out[key] = int(val.split()[0]) / 1024
    except OSError:
        pass
    return out


def rss() -> float | None:
    return _status().get("VmRSS")


def reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False where not possible."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak() -> float | None:
    return _status().get("VmHWM")


def _sub(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


# --- worker: one list size in its own process ---------------------------------------------------


@dataclass
class Timed:
    best: float  # seconds
    peak: float | None  # VmHWM during the run, MB
    grow: float | None  # peak minus RSS before the run, MB
    out: Any


def timed(fn: Callable[[], Any]) -> Timed:
    gc.collect()
    can_reset = reset_peak()
    before = rss()
    t0 = time.perf_counter()
    out = fn()
    dt = time.perf_counter() - t0
    hwm = peak() if can_reset else None
    return Timed(dt, hwm, _sub(hwm, before), out)


def interleaved(fns: dict[str, Callable[[], Any]], repeat: int) -> dict[str, list[Timed]]:
    """Each function ``repeat`` times, the order rotated every round: a run right after a
    large scan pays for memory the allocator gave back, so no function may always go first."""
    names = list(fns)
    runs: dict[str, list[Timed]] = {k: [] for k in names}
    for i in range(repeat):
        k = i % len(names)
        for name in names[k:] + names[:k]:
            runs[name].append(timed(fns[name]))
    return runs


def best_of(runs: list[Timed]) -> dict[str, Any]:
    grows = [r.grow for r in runs if r.grow is not None]
    peaks = [r.peak for r in runs if r.peak is not None]
    return {
        "s": min(r.best for r in runs),
        "peak": max(peaks) if peaks else None,
        "grow": max(grows) if grows else None,
    }


def _documents(text: str) -> list[str]:
    """The text cut at paragraph ends into documents of about DOC_CHARS characters."""
    docs: list[str] = []
    at = 0
    while at < len(text):
        cut = text.find("\n\n", at + DOC_CHARS)
        end = len(text) if cut < 0 else cut + 2
        docs.append(text[at:end])
        at = end
    return docs


def _profile_text(fn: Callable[[], Any], top: int) -> str:
    prof = cProfile.Profile()
    prof.enable()
    fn()
    prof.disable()
    buf = io.StringIO()
    stats = pstats.Stats(prof, stream=buf)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return buf.getvalue()


def _load(dirs: list[str], *, cache: bool) -> Any:
    """``load_lists``, with its content-keyed cache on or off where it has one."""
    from qinglang.engine.lists import load_lists

    if "use_cache" in inspect.signature(load_lists).parameters:
        return load_lists(dirs, use_cache=cache)
    return load_lists(dirs)


def build_worker(job: dict[str, Any]) -> dict[str, Any]:
    """A fresh process with an empty list cache: what the first start costs."""
    from qinglang.engine.normalize import tables
    from qinglang.engine.scanner import Engine

    tables()
    gc.collect()
    before = rss()
    t0 = time.perf_counter()
    ls = _load([job["lists"]], cache=True)  # parses, then writes the cache
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    Engine(ls)
    engine_s = time.perf_counter() - t0
    gc.collect()
    return {"load_s": load_s, "engine_s": engine_s, "mb": _sub(rss(), before)}


def worker(job: dict[str, Any]) -> dict[str, Any]:
    """Loads the lists again (from the cache the build worker wrote), then scans."""
    from ahocorasick_rs import AhoCorasick

    from qinglang.engine.normalize import tables
    from qinglang.engine.scanner import Engine
    from qinglang.policy.config import Profile

    res: dict[str, Any] = {"rss_start": rss()}
    t0 = time.perf_counter()
    tables()  # built once per process; the proxy does it once at start-up
    res["tables_s"] = time.perf_counter() - t0
    gc.collect()
    before = rss()
    res["rss_before_build"] = before

    t0 = time.perf_counter()
    ls = _load([job["lists"]], cache=True)
    res["load_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    engine = Engine(ls, frozenset(job["off"]))
    res["engine_s"] = time.perf_counter() - t0
    gc.collect()
    after = rss()
    res["engine_mb"] = _sub(after, before)
    res["terms"] = len(ls.terms)
    res["exceptions"] = len(ls.exceptions)
    res["combinations"] = len(ls.combinations)

    patterns = json.loads(Path(job["lists"], "patterns.json").read_text(encoding="utf-8"))
    res["patterns"] = len(patterns)
    t0 = time.perf_counter()
    bare = AhoCorasick(patterns)
    res["bare_s"] = time.perf_counter() - t0
    gc.collect()
    res["bare_mb"] = _sub(rss(), after)

    raw = Path(job["text"]).read_bytes()
    res["text_mb"] = len(raw) / 1e6
    text = raw.decode("utf-8")
    del raw
    res["rss_before_scan"] = rss()
    off = Profile(block_threshold=NEVER_BLOCK, pii="off")
    on = Profile(block_threshold=NEVER_BLOCK, pii="mask")
    repeat = job["repeat"]

    def scan(doc: str, kind: str, prof: Profile) -> Any:
        return engine.scan(doc, kind, prof)  # type: ignore[arg-type]

    # Timed functions return only counts: a result kept alive would sit in the RSS of every
    # later run. The peak (VmHWM) still sees each result while it exists.
    def summary(doc: str, kind: str, prof: Profile) -> Counter[str]:
        r = scan(doc, kind, prof)
        return Counter(
            matches=len(r.matches), pii=len(r.pii), changed=r.changed, problems=bool(r.problem)
        )

    def summaries(docs: list[str], kind: str, prof: Profile) -> Counter[str]:
        total: Counter[str] = Counter()
        for d in docs:
            total.update(summary(d, kind, prof))
        return total

    def bare_count(docs: list[str]) -> int:
        return sum(len(bare.find_matches_as_indexes(d)) for d in docs)

    # Warm up every code path once (lazy imports, first numpy calls) so run 1 is not special.
    sample = text[:DOC_CHARS]
    bare.find_matches_as_indexes(sample)
    scan(sample, "text", off)
    scan(sample, "text", on)
    scan(f"<p>{sample[:4096]}</p>", "html", off)

    fns = {
        "bare": lambda: bare_count([text]),
        "engine": lambda: summary(text, "text", off),
    }
    if job["variants"]:
        fns["engine_pii"] = lambda: summary(text, "text", on)
    if job["rule_costs"]:
        from qinglang.engine.evasion import SWITCHES

        # Each evasion rule switched off on its own, and all of them, on the same text.
        def make(rules: frozenset[str]) -> Callable[[], Any]:
            eng = Engine(ls, rules | frozenset(job["off"]))
            eng.scan(sample, "text", off)  # type: ignore[arg-type]
            return lambda: Counter(
                matches=len(eng.scan(text, "text", off).matches)  # type: ignore[arg-type]
            )

        for rule in SWITCHES:
            fns[f"off_{rule}"] = make(frozenset({rule}))
        fns["off_all"] = make(frozenset(SWITCHES))
    runs = interleaved(fns, repeat)
    res["bare_matches"] = runs["bare"][0].out
    res["engine_matches"] = runs["engine"][0].out["matches"]
    res["engine_changed"] = bool(runs["engine"][0].out["changed"])
    for name, rs in runs.items():
        if rs:
            res[name] = best_of(rs)
    if runs.get("engine_pii"):
        res["pii_found"] = runs["engine_pii"][0].out["pii"]
    del runs

    if job["variants"]:
        docs = _documents(text)
        res["docs"] = {"n": len(docs), "mb": res["text_mb"]}
        d_runs = interleaved(
            {
                "bare": lambda: bare_count(docs),
                "engine": lambda: summaries(docs, "text", off),
            },
            repeat,
        )
        res["docs"].update({k: best_of(v) for k, v in d_runs.items()})
        del docs, d_runs

    if job["variants"] and job.get("html"):
        pages = Path(job["html"]).read_text(encoding="utf-8").split(benchdata.PAGE_SEP)
        res["html"] = {"n": len(pages), "mb": sum(len(p.encode("utf-8")) for p in pages) / 1e6}
        h_runs = interleaved(
            {
                "bare": lambda: bare_count(pages),
                "engine": lambda: summaries(pages, "html", off),
            },
            repeat,
        )
        res["html"]["matches"] = h_runs["engine"][0].out["matches"]
        res["html"]["problems"] = h_runs["engine"][0].out["problems"]
        res["html"].update({k: best_of(v) for k, v in h_runs.items()})
        del pages, h_runs

    if job["profile"]:
        res["profile_scan"] = _profile_text(lambda: scan(text, "text", off), job["profile_top"])
        res["profile_load"] = _profile_text(
            lambda: _load([job["lists"]], cache=False), job["profile_top"]
        )
    return res


# --- parent: data, one process per size, the table -----------------------------------------------


def _mbps(mb: float, s: float) -> float:
    return mb / s if s > 0 else float("inf")


def _mem(x: float | None) -> str:
    return "n/a" if x is None else f"{x:,.0f}"


def _run_worker(job: dict[str, Any], timeout: float, cache: Path) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(job)]
    env = {**os.environ, "QINGLANG_CACHE": str(cache)}  # never touch the user's own cache
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, check=False, env=env
        )
    except subprocess.TimeoutExpired:
        sys.exit(f"bench_engine: the {job['n']:,}-term run took over {timeout:.0f} s; stopped")
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT):
            return json.loads(line[len(RESULT) :])
    tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
    sys.exit(f"bench_engine: the {job['n']:,}-term run failed (exit {proc.returncode}):\n{tail}")


def _loadavg() -> str:
    """The 1-minute load average: other work on the machine makes every number worse."""
    try:
        with open("/proc/loadavg", encoding="ascii") as f:
            return f.read().split()[0]
    except OSError:
        return "n/a"


def _code() -> str:
    """The commit measured, and whether the engine's files differ from it."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "addons/qinglang"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
    except OSError:
        return "unknown (no git)"
    if not head:
        return "unknown (not a git checkout)"
    return head + (" with uncommitted changes in addons/qinglang" if dirty else "")


def _versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    parts = [f"Python {platform.python_version()}"]
    for pkg in ("ahocorasick-rs", "numpy", "zhconv-rs"):
        with contextlib.suppress(PackageNotFoundError):
            parts.append(f"{pkg} {version(pkg)}")
    parts.append(f"{os.cpu_count()} CPUs")
    return ", ".join(parts)


def speed_table(results: list[dict[str, Any]]) -> list[str]:
    rows = [
        "| terms | patterns | engine (MB/s) | bare (MB/s) | engine / bare "
        "| matches per MB, engine / bare |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        mb = r["text_mb"]
        e = _mbps(mb, r["engine"]["s"])
        b = _mbps(mb, r["bare"]["s"])
        rows.append(
            f"| {r['n']:,} | {r['patterns']:,} | {e:.1f} | {b:.1f} | {e / b:.0%} "
            f"| {r['engine_matches'] / mb:,.0f} / {r['bare_matches'] / mb:,.0f} |"
        )
    return rows


def build_table(results: list[dict[str, Any]]) -> list[str]:
    rows = [
        "| terms | load_lists, cold / cached (s) | Engine() (s) | bare build (s) "
        "| build RSS, cold / cached (MB) | bare build RSS (MB) | RSS before scan (MB) "
        "| peak RSS in scan, engine / bare (MB) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        c = r["cold"]
        rows.append(
            f"| {r['n']:,} | {c['load_s']:.2f} / {r['load_s']:.2f} | {r['engine_s']:.2f} "
            f"| {r['bare_s']:.2f} | {_mem(c['mb'])} / {_mem(r['engine_mb'])} "
            f"| {_mem(r['bare_mb'])} | {_mem(r['rss_before_scan'])} "
            f"| {_mem(r['engine']['peak'])} / {_mem(r['bare']['peak'])} |"
        )
    return rows


def variant_table(r: dict[str, Any]) -> list[str]:
    rows = [
        f"| input ({r['n']:,} terms) | MB | engine (MB/s) | bare (MB/s) | engine / bare "
        "| peak RSS in scan (MB) |",
        "|---|---:|---:|---:|---:|---:|",
    ]

    def row(label: str, mb: float, eng: dict[str, Any], bare: dict[str, Any]) -> None:
        e, b = _mbps(mb, eng["s"]), _mbps(mb, bare["s"])
        rows.append(
            f"| {label} | {mb:.1f} | {e:.1f} | {b:.1f} | {e / b:.0%} | {_mem(eng['peak'])} |"
        )

    row("text, one document, `pii: off`", r["text_mb"], r["engine"], r["bare"])
    row("text, one document, `pii: mask`", r["text_mb"], r["engine_pii"], r["bare"])
    d = r["docs"]
    row(f"text as {d['n']:,} documents of ~64 KB, `pii: off`", d["mb"], d["engine"], d["bare"])
    if "html" in r:
        h = r["html"]
        row(f"HTML, {h['n']:,} pages (kind `html`), `pii: off`", h["mb"], h["engine"], h["bare"])
    return rows


def rule_table(results: list[dict[str, Any]]) -> list[str]:
    """Each evasion rule's cost: the engine's time with it against without it."""
    out = [
        "| terms | rule switched off | MB/s without it | MB/s with all rules | share of "
        "engine time the rule costs |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        mb, eng = r["text_mb"], r["engine"]["s"]
        for key in sorted(k for k in r if k.startswith("off_")):
            t = r[key]["s"]
            out.append(
                f"| {r['n']:,} | {key.removeprefix('off_')} | {_mbps(mb, t):.1f} "
                f"| {_mbps(mb, eng):.1f} | {1 - t / eng:.0%} |"
            )
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: 2 MB, 1k and 10k terms")
    ap.add_argument("--mb", type=float, help="MB of text (default 20, quick 2)")
    ap.add_argument("--html-mb", type=float, help="MB of HTML pages (default = --mb; 0: none)")
    ap.add_argument("--sizes", help="comma-separated term counts (default 1000,10000,100000)")
    ap.add_argument("--repeat", type=int, help="timed runs per measurement (default 5, quick 1)")
    ap.add_argument("--seed", type=int, default=1, help="data seed (default 1)")
    ap.add_argument(
        "--hit-share",
        type=float,
        default=benchdata.HIT_SHARE,
        help=f"share of terms drawn from the text's own words (default {benchdata.HIT_SHARE})",
    )
    ap.add_argument("--cache", type=Path, default=ROOT / ".bench", help="data cache folder")
    ap.add_argument(
        "--wordlist",
        type=Path,
        default=benchdata.WORDLIST,
        help=f"English word list (default {benchdata.WORDLIST}; pseudo-words if missing)",
    )
    ap.add_argument("--profile", action="store_true", help="cProfile scan and load_lists")
    ap.add_argument("--profile-top", type=int, default=25, help="functions to list")
    ap.add_argument("--timeout", type=float, default=900, help="seconds per list size")
    ap.add_argument("--json", type=Path, help="also write the raw measurements to this file")
    ap.add_argument(
        "--evasion-off",
        default="",
        help="comma-separated evasion rules switched off for the whole engine "
        "(leet, repeats, confusables, skips, numerals, phrases, fold)",
    )
    ap.add_argument(
        "--rule-costs",
        action="store_true",
        help="also time the engine with each evasion rule switched off on its own",
    )
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    a.mb = a.mb if a.mb is not None else (2.0 if a.quick else 20.0)
    a.html_mb = a.html_mb if a.html_mb is not None else a.mb
    a.sizes = a.sizes or ("1000,10000" if a.quick else "1000,10000,100000")
    a.repeat = a.repeat or (1 if a.quick else 5)
    a.evasion_off = {x.strip() for x in a.evasion_off.split(",") if x.strip()}
    known = {"leet", "repeats", "confusables", "skips", "numerals", "phrases", "fold"}
    if a.evasion_off - known:
        ap.error(f"--evasion-off: unknown rules {sorted(a.evasion_off - known)}")
    try:
        a.size_list = sorted({int(x.replace("_", "")) for x in a.sizes.split(",") if x.strip()})
    except ValueError:
        ap.error(f"--sizes: not a list of whole numbers: {a.sizes!r}")
    if not a.size_list or min(a.size_list) < 10:
        ap.error("--sizes: each size must be at least 10 terms")
    if not 0 < a.hit_share <= 1:
        ap.error("--hit-share must be more than 0 and at most 1")
    if a.mb <= 0 or a.html_mb < 0 or a.repeat < 1:
        ap.error("--mb must be positive, --html-mb not negative, --repeat at least 1")
    return a


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    if a.worker:
        job = json.loads(a.worker)
        fn = build_worker if job["mode"] == "build" else worker
        print(RESULT + json.dumps(fn(job)), flush=True)
        return 0

    from qinglang.engine.normalize import normalize_term

    t0 = time.perf_counter()
    vocab = benchdata.load_vocab(a.wordlist)
    split = benchdata.split_vocab(vocab, a.seed)
    text_path = benchdata.cached_text(a.cache, split, a.mb, a.seed)
    html_path = benchdata.cached_html(a.cache, split, a.html_mb, a.seed) if a.html_mb else None
    terms = benchdata.ordered_terms(
        split, max(a.size_list), a.seed, normalize_term, hit_share=a.hit_share
    )
    print(f"data ready in {time.perf_counter() - t0:.1f} s (cache: {a.cache})", file=sys.stderr)

    load_start = _loadavg()
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="qinglang-bench-") as tmp:
        for n in a.size_list:
            folder = Path(tmp) / f"lists-{n}"
            benchdata.write_lists(terms[:n], split, a.seed, folder)
            top = n == max(a.size_list)
            job = {
                "n": n,
                "lists": str(folder),
                "text": str(text_path),
                "html": str(html_path) if html_path else None,
                "repeat": a.repeat,
                "variants": top,
                "profile": a.profile and top,
                "off": sorted(a.evasion_off),
                "rule_costs": a.rule_costs,
                "profile_top": a.profile_top,
            }
            print(f"running {n:,} terms ...", file=sys.stderr, flush=True)
            cache = Path(tmp) / f"cache-{n}"
            cold = _run_worker({**job, "mode": "build"}, a.timeout, cache)
            r = _run_worker({**job, "mode": "scan"}, a.timeout, cache)
            r["n"] = n
            r["cold"] = cold
            results.append(r)

    if a.json:
        a.json.write_text(json.dumps(results, indent=1), encoding="utf-8")
    first, last = results[0], results[-1]
    cmd = "python scripts/bench_engine.py" + "".join(
        " " + shlex.quote(x) for x in (argv if argv is not None else sys.argv[1:])
    )
    print("## Engine benchmark\n")
    print(f"Command: `{cmd}`  ")
    print(f"Machine: {_versions()}; load average {load_start} at start, {_loadavg()} at end  ")
    print(f"Code: {_code()}  ")
    print(
        f"Text: {first['text_mb']:.1f} MB of generated mixed Chinese/English "
        f"(seed {a.seed}); " + "; ".join(vocab.notes) + "  "
    )
    print(
        f"Best of {a.repeat} run(s). MB = 10^6 bytes of UTF-8. Engine profile: "
        "`block_threshold` never reached (so every match is masked), `pii: off`. "
        "Bare: `AhoCorasick(patterns)` default settings, `find_matches_as_indexes` on the raw "
        "text. Cold: a fresh process with an empty list cache (parse, write the cache); "
        "cached: a fresh process that finds it. Build RSS = RSS growth over `load_lists` + "
        "`Engine()` (bare: over `AhoCorasick()`). RSS before scan: the process with lists, "
        "automata and the text loaded; peak RSS: the whole process while scanning. "
        "Engine matches are the scored matches it reports; bare matches are raw hits. "
        f"Normalisation tables, built once per process, took {first['tables_s']:.2f} s "
        "and are not counted.\n"
    )
    print("\n".join(speed_table(results)))
    print()
    print("\n".join(build_table(results)))
    print()
    print("\n".join(variant_table(last)))
    if a.rule_costs:
        print()
        print("\n".join(rule_table(results)))
    pii_cost = 1 - last["engine"]["s"] / last["engine_pii"]["s"]
    counts = ", ".join(f"{r['n']:,}: {r['patterns']:,}" for r in results)
    print(
        f"\nPII detection (`pii: mask` against `pii: off`) costs {pii_cost:.0%} of engine "
        f"throughput ({last.get('pii_found', 0):,} PII values found). "
        f"Patterns per list: terms + exceptions + combination parts "
        f"({counts})."
    )
    if "html" in last and last["html"]["problems"]:
        print(f"Note: {last['html']['problems']} HTML pages reported a problem.")
    for r in results:
        if r.get("profile_scan"):
            print(f"\n### cProfile: Engine.scan, {r['n']:,} terms\n\n```")
            print(r["profile_scan"].strip())
            print(f"```\n\n### cProfile: load_lists, {r['n']:,} terms\n\n```")
            print(r["profile_load"].strip())
            print("```")
    return 0


if __name__ == "__main__":
    sys.exit(main())
