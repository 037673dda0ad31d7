"""Index build speed, before and after a git revision, in one run on one machine: full builds
of a Chinese-only and a mixed English/Chinese knowledge base with both encoders, an
incremental build after one edit, the no-op `kb index`, the keyword-only full build on one
process against every core, and the similar-ticket index for generated mixed tickets.

    .venv/bin/python bench/build.py [--before 580bfa2] [--mixed 1000] [--keyword 10000,100000]
                                    [--tickets 100000] [--skip zh,mixed,keyword,tickets] [--work DIR]

Every build is a real `kb index --full` (or the ticket index update) in a fresh KB_HOME, so
nothing comes from the embedding cache; the "before" code runs from a git worktree of
``--before``. The Chinese-only KBs are the starter's Chinese articles repeated and, when
../shared/eval/gnome-help-zh is there, the GNOME-zh help pages (read in place); the mixed KB
is made from the starter's English and Chinese articles, half each. Wall times include starting
Python and loading the models, as a user running the command sees them.
"""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = str(ROOT / ".venv" / "bin" / "python")
GNOME_ZH = ROOT.parent / "shared" / "eval" / "gnome-help-zh"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from results import load_bench, load_generator  # noqa: E402

generate = load_generator()


def env_for(home: Path, articles: Path, **extra: str) -> dict:
    return {**os.environ, "KB_HOME": str(home), "KB_ARTICLES": str(articles), "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1", "KB_REFRESH_SECONDS": "0", **extra}


def run(code: Path, env: dict, *args: str) -> tuple[float, str]:
    """Wall time of ``kb ARGS`` run from the tree ``code``, and what it printed."""
    t = time.perf_counter()
    r = subprocess.run([PY, "-m", "kb.cli", *args], cwd=code, env=env, capture_output=True, text=True)
    took = time.perf_counter() - t
    if r.returncode:
        raise SystemExit(f"kb {' '.join(args)} in {code} failed:\n{r.stdout[-800:]}\n{r.stderr[-1500:]}")
    return took, r.stdout + r.stderr


def stages(output: str) -> str:
    """The stage timings of the closing line ("indexed … in 12.3s (scan 0.1s, …)"), if printed."""
    m = re.search(r"^indexed \d+ articles.* in [\d.]+s \((.*)\)$", output, flags=re.M)
    return m.group(1) if m else ""


def full_build(code: Path, home: Path, articles: Path, **extra: str) -> tuple[float, str]:
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    return run(code, env_for(home, articles, **extra), "index", "--full")


def chinese_share(folder: Path) -> str:
    """How many of a KB's chunks are Chinese (what an English-only encoder skips)."""
    from kb.core.articles import parse_article
    from indexer.vectors import chunk_article
    langs = [c.language for p in sorted(folder.glob("*.md"))
             for c in chunk_article(parse_article(p.name, p.read_bytes()))]
    return f"{sum(x == 'zh' for x in langs) / len(langs):.0%} of {len(langs):,} chunks Chinese"


def starter_copy(lang: str, dest: Path) -> Path:
    """A fresh folder with the starter KB's articles whose front matter says ``lang`` (Chinese
    or not)."""
    from kb.core.articles import parse_article
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    for p in sorted(ROOT.glob("articles/*.md")):
        if (parse_article(p.name, p.read_bytes()).language == "zh") == (lang == "zh"):
            shutil.copy(p, dest / p.name)
    return dest


def zh_kbs(work: Path) -> list[tuple[Path, str]]:
    """Chinese-only KBs: 300 articles made from the starter's Chinese ones, and the GNOME-zh
    help pages when ../shared is beside the checkout (a zh_CN translation with untranslated
    English paragraphs, which an English-only encoder still reads)."""
    out = []
    dest = work / "zh-starter"
    shutil.rmtree(dest, ignore_errors=True)
    generate(starter_copy("zh", work / "zh-src"), dest, 300, seed=3)
    out.append((dest, f"300 articles from the starter's Chinese ones ({chinese_share(dest)})"))
    if (GNOME_ZH / "corpus.jsonl").exists():
        from kb.evaluation.labelled import load_dataset, write_corpus
        dest = work / "zh-gnome"
        shutil.rmtree(dest, ignore_errors=True)
        corpus, _, _ = load_dataset(GNOME_ZH)
        write_corpus(corpus, dest, "zh")
        out.append((dest, f"the {len(corpus)} GNOME-zh help pages ({chinese_share(dest)})"))
    return out


def mixed_articles(work: Path, n: int) -> Path:
    """``n`` articles, half from the starter's Chinese ones and half from its English ones."""
    dest = work / f"mixed{n}"
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir()
    for lang, count in (("zh", n // 2), ("en", n - n // 2)):
        out = work / f"{lang}-gen"
        shutil.rmtree(out, ignore_errors=True)
        generate(starter_copy(lang, work / f"{lang}-only"), out, count, seed=7)
        for p in out.glob("*.md"):
            text = p.read_text("utf-8").replace("id: GEN-", f"id: {lang.upper()}-", 1)
            (dest / f"{lang}-{p.name}").write_text(text, "utf-8")
    return dest


def compare(label: str, before: Path, work: Path, articles: Path, rounds: int) -> list[str]:
    """Full builds with both encoders, before and after, alternated ``rounds`` times."""
    times: dict[str, list[float]] = {"before": [], "after": []}
    detail = ""
    order = ["before", "after", "after", "before"] * rounds
    for which in order[:2 * rounds]:
        took, out = full_build(before if which == "before" else ROOT, work / f"home-{which}", articles)
        times[which].append(took)
        detail = stages(out) or detail if which == "after" else detail
        print(f"  {label} {which}: {took:.1f} s", flush=True)
    b, a = statistics.median(times["before"]), statistics.median(times["after"])
    return [f"| {label} | {b:.1f} s | {a:.1f} s | **{b / a:.2f}×** | {len(times['after'])} | {detail} |"]


def incremental(before: Path, work: Path, articles: Path) -> list[str]:
    """After the last full builds of ``compare``: the no-op `kb index` (after) and one edited
    article (before and after, each on its own home)."""
    noop = []
    for _ in range(5):
        noop.append(run(ROOT, env_for(work / "home-after", articles), "index")[0])
    victim = sorted(articles.glob("*.md"))[len(list(articles.glob("*.md"))) // 2]
    original = victim.read_text("utf-8")
    edit = {}
    try:
        for i, which in enumerate(("before", "after")):
            victim.write_text(original + f"\n\nOne more line, edit {i}.\n", "utf-8")
            took, _ = run(before if which == "before" else ROOT, env_for(work / f"home-{which}", articles), "index")
            edit[which] = took
    finally:
        victim.write_text(original, "utf-8")
    return [f"- no-op `kb index` (nothing changed), after: median **{statistics.median(noop):.2f} s** of 5 "
            f"(min {min(noop):.2f}, max {max(noop):.2f}), wall time of the whole command",
            f"- one edited article, `kb index`: before {edit['before']:.1f} s, after {edit['after']:.1f} s"]


def keyword(work: Path, sizes: list[int]) -> list[str]:
    procs = os.cpu_count() or 1
    lines = ["| articles | 1 process | %d processes | speed-up | stages (%d processes) | no-op `kb index` |"
             % (procs, procs), "|---|---|---|---|---|---|"]
    for n in sizes:
        arts = work / f"kw{n}"
        shutil.rmtree(arts, ignore_errors=True)
        generate(ROOT / "articles", arts, n, seed=9)
        got = {}
        for p in (1, procs):
            got[p] = full_build(ROOT, work / "home-kw", arts, KB_SEMANTIC="0", KB_ENCODERS="none",
                                KB_BUILD_PROCS=str(p))
            print(f"  keyword {n} × {p} process(es): {got[p][0]:.1f} s", flush=True)
        env = env_for(work / "home-kw", arts, KB_SEMANTIC="0", KB_ENCODERS="none")
        noop = statistics.median(run(ROOT, env, "index")[0] for _ in range(3))
        shutil.rmtree(arts, ignore_errors=True)
        one, many = got[1][0], got[procs][0]
        lines.append(f"| {n:,} | {one:.1f} s | {many:.1f} s | **{one / many:.2f}×** | {stages(got[procs][1])} "
                     f"| {noop:.2f} s |")
    return lines


ZH_SUBJECTS = ["打印机脱机", "无法连接 VPN", "邮箱已满", "忘记密码", "电脑开不了机", "会议室摄像头黑屏", "手机收不到验证码",
               "扩展坞显示器不亮", "账户被锁定", "无线网络经常断开", "共享盘打不开", "报销系统导出乱码"]


def zh_sentences(work: Path) -> list[str]:
    """The sentences of the starter's Chinese articles: what Chinese tickets are made of."""
    out = []
    for p in starter_copy("zh", work / "zh-src").glob("*.md"):
        body = p.read_text("utf-8").split("\n---\n", 1)[-1]
        out += [s.strip(" #-*\n") + "。" for s in re.split(r"[。\n]", body)
                if len(s.strip()) > 8 and re.search(r"[\u4e00-\u9fff]", s)]
    return out


def write_tickets(path: Path, rows: int, seed: int = 4) -> None:
    """Resolved tickets, half English and half Chinese, each with a subject, a short description
    and a resolution, as a helpdesk exports them."""
    rng = random.Random(seed)
    words = load_bench("tickets").WORDS         # the English vocabulary of bench/tickets.py
    zh = zh_sentences(path.parent)
    start = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "subject", "description", "resolution", "channel", "priority", "product", "status",
                    "created", "resolved"])
        for i in range(rows):
            created = start + dt.timedelta(seconds=rng.randrange(300 * 86400))
            if i % 2:
                subject = rng.choice(ZH_SUBJECTS) + f"（{rng.randrange(1000)}）"
                desc, fix = "".join(rng.sample(zh, 3)), "".join(rng.sample(zh, 2))
            else:
                subject = " ".join(rng.sample(words, 4))
                desc = f"User reports {subject}. " + " ".join(rng.sample(words, 12)) + "."
                fix = "Fixed: " + " ".join(rng.sample(words, 10)) + "."
            w.writerow([f"T{i:07d}", subject, desc, fix, rng.choice(("email", "web", "phone", "chat")), "normal",
                        rng.choice(("printing", "vpn", "email", "network")), "resolved", created.isoformat(),
                        (created + dt.timedelta(hours=rng.randrange(1, 48))).isoformat()])


UPDATE = ("import time; from kb.core.config import Settings; from indexer.tickets import update; "
          "t = time.perf_counter(); r = update(Settings.load(), full=True); "
          "print(f'{time.perf_counter() - t:.3f} {r.tickets}')")


def tickets(before: Path, work: Path, rows: int) -> list[str]:
    path = work / "tickets.csv"
    write_tickets(path, rows)
    arts = work / "starter"
    shutil.rmtree(arts, ignore_errors=True)
    shutil.copytree(ROOT / "articles", arts)
    got = {}
    for which in ("before", "after"):
        code, home = (before if which == "before" else ROOT), work / f"home-t-{which}"
        shutil.rmtree(home, ignore_errors=True)
        home.mkdir(parents=True)
        env = env_for(home, arts)
        run(code, env, "tickets", "import", str(path))
        t = time.perf_counter()
        r = subprocess.run([PY, "-c", UPDATE], cwd=code, env=env, capture_output=True, text=True)
        if r.returncode:
            raise SystemExit(f"ticket index in {code} failed:\n{r.stderr[-1500:]}")
        wall = time.perf_counter() - t
        inner, count = r.stdout.split()[-2:]
        got[which] = (wall, float(inner), int(count))
        print(f"  tickets {which}: {wall:.1f} s", flush=True)
        shutil.rmtree(home, ignore_errors=True)
    b, a = got["before"], got["after"]
    return [f"| {b[2]:,} mixed tickets | {b[0] / 60:.1f} min | {a[0] / 60:.1f} min | **{b[0] / a[0]:.2f}×** |"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--before", default="580bfa2", help="git revision to compare with")
    ap.add_argument("--mixed", type=int, default=1000, help="articles in the mixed English/Chinese KB")
    ap.add_argument("--keyword", default="10000,100000", help="sizes of the keyword-only builds")
    ap.add_argument("--tickets", type=int, default=100_000, help="generated tickets for the ticket index")
    ap.add_argument("--rounds", type=int, default=2, help="before/after pairs per KB")
    ap.add_argument("--skip", default="", help="comma list of parts to leave out: zh, mixed, keyword, tickets")
    ap.add_argument("--work", type=Path, help="folder for the generated KBs (default: a temporary one)")
    args = ap.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    work = args.work or Path(tempfile.mkdtemp(prefix="kb-bench-build-"))
    work.mkdir(parents=True, exist_ok=True)
    before = work / "before-code"
    if not before.exists():
        subprocess.run(["git", "worktree", "add", "-q", "--detach", str(before), args.before], cwd=ROOT, check=True)
    out: list[str] = []

    def emit(lines: list[str]) -> None:       # each part as soon as it is measured
        out.extend(lines)
        print("\n".join(lines), flush=True)

    emit([f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {platform.machine()}, "
          f"{os.cpu_count()} cores, Python {platform.python_version()}: `.venv/bin/python bench/build.py "
          f"--before {args.before} --mixed {args.mixed} --keyword {args.keyword} --tickets {args.tickets}`; "
          f"before = {args.before}, after = this code; median of alternated runs.", ""])
    if not {"zh", "mixed"} <= skip:
        emit(["| full `kb index --full`, MiniLM + USE | before | after | speed-up | runs each | after's stages |",
              "|---|---|---|---|---|---|"])
    if "zh" not in skip:
        for zh, what in zh_kbs(work):
            emit(compare(f"Chinese only: {what}", before, work, zh, args.rounds))
    if "mixed" not in skip:
        mixed = mixed_articles(work, args.mixed)
        emit(compare(f"mixed 50/50: {args.mixed:,} articles", before, work, mixed, args.rounds))
        emit([""] + incremental(before, work, mixed))
    if "keyword" not in skip:
        emit(["", "Keyword-only full build (`KB_SEMANTIC=0`), this code, `KB_BUILD_PROCS` 1 against every core:",
              ""])
        emit(keyword(work, [int(x) for x in args.keyword.split(",") if x]))
    if "tickets" not in skip:
        emit(["", "Similar-ticket index, full build with MiniLM + USE (import not counted; wall time "
              "including model load):", "", "| tickets | before | after | speed-up |", "|---|---|---|---|"])
        emit(tickets(before, work, args.tickets))
    print("\n" + "\n".join(out), flush=True)
    if not args.work:
        subprocess.run(["git", "worktree", "remove", "--force", str(before)], cwd=ROOT)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
