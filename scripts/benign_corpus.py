"""False-positive check of the evasion rules on a benign corpus (see
``qinglang.listtools.benign``): every page scanned with the shipped lists and the
default child profile, evasion rules on against all of them off, and optionally against
another checkout's engine (``--baseline /path/to/checkout``, e.g. the main branch before
the rules existed), run in a subprocess with that checkout's package.

    python scripts/benign_corpus.py [--baseline /work/main]

Prints a Markdown table; exits 1 if any page is newly masked or blocked or gains a match.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
WORDS = Path("/usr/share/dict/american-english")


def outcomes(off: bool, words: Path) -> list[dict[str, Any]]:
    """Per page: lang, action, matched spans (of the engine importable here)."""
    from qinglang.engine.lists import load_lists
    from qinglang.engine.scanner import Engine
    from qinglang.listtools.benign import benign_pages
    from qinglang.policy.config import Profile, shipped_lists

    ls = load_lists([shipped_lists()], use_cache=False)
    if off:
        from qinglang.engine.evasion import SWITCHES

        engine = Engine(ls, frozenset(SWITCHES))
    else:
        engine = Engine(ls)
    out = []
    for lang, page in benign_pages(words):
        r = engine.scan(page, "text", Profile())  # type: ignore[arg-type]
        out.append(
            {
                "lang": lang,
                "bytes": len(page.encode()),
                "action": str(r.action),
                "spans": sorted([m.start, m.end, m.term] for m in r.matches),
            }
        )
    return out


def baseline(checkout: Path, words: Path) -> list[dict[str, Any]]:
    """The same scan by another checkout's package (its engine has no evasion switch)."""
    code = (
        "import json,sys;sys.path.insert(0,sys.argv[1]);"
        "from qinglang.engine.lists import load_lists;"
        "from qinglang.engine.scanner import Engine;"
        "from qinglang.policy.config import Profile, shipped_lists;"
        "sys.path.insert(0,sys.argv[2]);"
        "from benign_pages_shim import pages;"
        "e=Engine(load_lists([shipped_lists()],use_cache=False));"
        "print(json.dumps([{'lang':l,'bytes':len(p.encode()),'action':str(r.action),"
        "'spans':sorted([m.start,m.end,m.term] for m in r.matches)} "
        "for l,p in pages(sys.argv[3]) for r in [e.scan(p,'text',Profile())]]))"
    )
    shim = ROOT / ".bench" / "shim"
    shim.mkdir(parents=True, exist_ok=True)
    # The corpus builder of this checkout, importable by the other one.
    src = (ROOT / "addons/qinglang/listtools/benign.py").read_text(encoding="utf-8")
    (shim / "benign_pages_shim.py").write_text(
        src + "\n\ndef pages(w):\n    return benign_pages(Path(w))\n", encoding="utf-8"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    res = subprocess.run(
        [sys.executable, "-c", code, str(checkout / "addons"), str(shim), str(words)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        cwd=checkout,
    )
    return json.loads(res.stdout)  # type: ignore[no-any-return]


def compare(name: str, before: list[dict[str, Any]], after: list[dict[str, Any]]) -> int:
    worse = 0
    new_matches: list[str] = []
    for a, b in zip(before, after, strict=True):
        new = [s for s in b["spans"] if s not in a["spans"]]
        act = (a["action"] == "allow" and b["action"] != "allow") or (
            a["action"] != "block" and b["action"] == "block"
        )
        if new or act:
            worse += 1
            new_matches.extend(f"{s[2]}" for s in new[:5])

    def count(rows: list[dict[str, Any]], lang: str, action: str) -> int:
        return sum(1 for r in rows if r["lang"] == lang and r["action"] == action)

    for lang in ("en", "zh"):
        mb = sum(r["bytes"] for r in after if r["lang"] == lang) / 1e6
        pages = sum(1 for r in after if r["lang"] == lang)
        print(
            f"| {name} | {lang} | {pages} | {mb:.2f} | "
            f"{count(before, lang, 'mask')} / {count(after, lang, 'mask')} | "
            f"{count(before, lang, 'block')} / {count(after, lang, 'block')} |"
        )
    if new_matches:
        print(f"\nnew matches ({name}): {', '.join(sorted(set(new_matches))[:30])}\n")
    return worse


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--words", type=Path, default=WORDS)
    ap.add_argument("--baseline", type=Path, help="another checkout to compare with")
    a = ap.parse_args()
    after = outcomes(False, a.words)
    print("| compared with | lang | pages | MB | masked before / after | blocked before / after |")
    print("|---|---|---|---|---|---|")
    worse = compare("evasion rules off", outcomes(True, a.words), after)
    if a.baseline:
        worse += compare(f"`{a.baseline}`", baseline(a.baseline, a.words), after)
    print(f"\npages newly masked, blocked or with a new match: {worse}")
    return 1 if worse else 0


if __name__ == "__main__":
    sys.exit(main())
