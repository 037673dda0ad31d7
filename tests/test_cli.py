"""The `kb` command as scripts use it: exit codes, JSON shape, one-line errors, KB_HOME."""
import json
import os
import re
import subprocess
import sys

from click.testing import CliRunner

from kb.cli import main
from tests.conftest import ROOT, article, needs_shared, write


def kb(settings, *args, env=None):
    e = {"KB_HOME": str(settings.home), "KB_ARTICLES": str(settings.articles), "KB_SEMANTIC": "0"}
    e.update(env or {})
    return CliRunner().invoke(main, list(args), env=e, catch_exceptions=False)


def test_index_then_search_json(settings):
    r = kb(settings, "index")
    assert r.exit_code == 0, r.output
    assert "indexed 6 articles (full build: 6 added" in r.output
    r = kb(settings, "search", "printer offline", "--json", "--role", "customer", "--limit", "2")
    data = json.loads(r.output)
    assert data["query"] == "printer offline" and isinstance(data["took_ms"], float)
    first = data["results"][0]
    assert {"id", "title", "slug", "score", "snippet"} <= set(first) and first["id"] == "KB-0001"
    assert "explanation" not in first
    assert len(data["results"]) <= 2


def test_search_explain_prints_why_and_timings(settings):
    kb(settings, "index")
    r = kb(settings, "search", "router", "--explain", "--mode", "keyword")
    assert "why: keyword #1" in r.output and "took" in r.output and "keyword_ms" in r.output
    for mode in ("keyword", "hybrid"):
        data = json.loads(kb(settings, "search", "router", "--json", "--explain", "--mode", mode).output)
        stages = data["timings"]
        assert list(stages)[:2] == ["load_index_ms", "filter_ms"] and list(stages)[-1] == "snippets_ms"
        assert abs(sum(stages.values()) - data["took_ms"]) < 0.01     # every stage named, nothing left out


def test_index_with_nothing_to_do_says_so_writes_no_generation_and_names_each_stage(settings):
    r = kb(settings, "index")
    assert re.search(r"in \d+\.\ds \(scan \d+\.\ds, parse \d+\.\ds, git \d+\.\ds, keyword \d+\.\ds", r.output)
    generations = sorted(p.name for p in (settings.home / "index").glob("gen-*"))
    r = kb(settings, "index")
    assert r.exit_code == 0 and "nothing changed, the live index stays" in r.output
    assert sorted(p.name for p in (settings.home / "index").glob("gen-*")) == generations


def test_progress_bars_show_each_stage_with_its_rate_on_a_terminal_only(monkeypatch):
    import io
    import time

    from kb.cli import common

    class Terminal(io.StringIO):
        def isatty(self):
            return True
    monkeypatch.setattr(sys, "stderr", Terminal())
    tick = common.progress_bar("index")
    tick("keyword", 0, 1000)
    time.sleep(0.6)
    tick("keyword", 600, 1000)
    tick("keyword", 1000, 1000)
    tick("embed use3", 0, 10)                       # short work: no bar
    drawn = sys.stderr.getvalue()
    assert "index: keyword" in drawn and "1000/1000" in drawn and re.search(r"[\d,]+/s", drawn)
    assert "embed use3" not in drawn
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    common.progress_bar("index")("keyword", 600, 1000)
    assert sys.stderr.getvalue() == ""


def test_role_flag_filters(settings):
    kb(settings, "index")
    r = kb(settings, "search", "spooler", "--json", "--role", "customer")
    assert json.loads(r.output)["results"] == []
    r = kb(settings, "search", "spooler", "--json", "--role", "agent")
    assert [h["id"] for h in json.loads(r.output)["results"]] == ["KB-0004"]


def test_index_with_broken_article_exits_1_and_names_it(settings, repo):
    write(repo, {"broken.md": "---\nid: KB-0100\nstatus: finished\n---\nbody\n"})
    r = CliRunner().invoke(main, ["index"], env={"KB_HOME": str(settings.home),
                                                   "KB_ARTICLES": str(repo), "KB_SEMANTIC": "0"})
    assert r.exit_code == 1
    assert f"{repo}/broken.md:3: status: 'finished' is not one of" in r.output
    assert "indexed 6 articles" in r.output


def test_check_lists_problems_and_exit_status(settings, repo):
    r = kb(settings, "check", str(repo))
    assert r.exit_code == 0, r.output
    write(repo, {"bad.md": "---\nid: KB-0001\nlanguage: de\n---\n## Symptoms\nx\n"})
    r = kb(settings, "check", str(repo))
    assert r.exit_code == 1
    assert f"{repo}/bad.md:3: language: 'de' is not one of en, zh" in r.output
    write(repo, {"bad.md": "---\nid: KB-0001\n---\n## Symptoms\nsee [x](nowhere.md)\n"})
    r = kb(settings, "check", str(repo), "--strict")
    lines = r.output.splitlines()
    assert f"{repo}/bad.md:2: id: duplicate id 'KB-0001', already used by printer-offline.md" in lines \
        or f"{repo}/printer-offline.md:2: id: duplicate id 'KB-0001', already used by bad.md" in lines
    assert f"{repo}/bad.md:5: broken link to 'nowhere.md': no such article" in lines
    assert any("bad.md:1: summary: required front matter field is missing" in l for l in lines)


def test_check_against_ref_only_checks_changed_articles_strictly(settings, repo):
    from tests.conftest import commit_all, git
    write(repo, {"lax.md": "---\nid: KB-0200\ntitle: Lax\n---\nno sections\n"})
    commit_all(repo, "lax article")
    base = git(repo, "rev-parse", "HEAD").strip()
    write(repo, {"new.md": article("KB-0201", "A complete new article")})
    r = kb(settings, "check", str(repo), "--strict", "--against", base)
    assert r.exit_code == 0, r.output
    r = kb(settings, "check", str(repo), "--strict", "--against", "no-such-ref")
    assert r.exit_code == 2 and "unknown git ref 'no-such-ref'" in r.output


def test_show_prints_article_as_indexed(settings):
    kb(settings, "index")
    r = kb(settings, "show", "KB-0003")
    assert "重置忘记的账户密码" in r.output and "language: zh" in r.output
    r = kb(settings, "show", "KB-9999")
    assert r.exit_code == 2 and r.output.strip() == "kb: error: no article 'KB-9999'"


def test_bad_input_is_one_line_nonzero(settings):
    r = kb(settings, "search", "printer")
    assert r.exit_code == 2 and "run `kb index` first" in r.output
    assert len(r.output.strip().splitlines()) == 1
    r = kb(settings, "search", "x", "--limit", "0")
    assert r.exit_code == 2
    r = kb(settings, "index", env={"KB_ENCODERS": "bert"})
    assert r.exit_code == 2 and "KB_ENCODERS: unknown encoder 'bert'" in r.output
    for procs, why in (("two", "expected a whole number, got 'two'"), ("0", "must be 1 or more, got 0")):
        r = kb(settings, "index", env={"KB_BUILD_PROCS": procs})
        assert r.exit_code == 2 and r.output.strip() == f"kb: error: KB_BUILD_PROCS: {why}"
    assert kb(settings, "index", env={"KB_BUILD_PROCS": "1"}).exit_code == 0


def test_kb_home_is_honoured(settings, tmp_path):
    other = tmp_path / "elsewhere"
    r = kb(settings, "index", env={"KB_HOME": str(other)})
    assert r.exit_code == 0
    assert (other / "index" / "CURRENT").exists() and not settings.home.exists()


def test_console_script_is_installed():
    exe = os.path.join(os.path.dirname(sys.executable), "kb")
    out = subprocess.run([exe, "--help"], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0 and "index" in out.stdout and "search" in out.stdout


@needs_shared
def test_foreign_docfx_knowledge_base_indexes_and_searches(tmp_path):
    from tests.conftest import SHARED
    folder = SHARED / "eval" / "wsl-docs" / "articles"
    env = {"KB_HOME": str(tmp_path / "wsl"), "KB_ARTICLES": str(folder), "KB_SEMANTIC": "0"}
    r = CliRunner().invoke(main, ["index"], env=env, catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert "indexed 36 articles" in r.output
    r = CliRunner().invoke(main, ["search", "0x80370102 virtual machine could not be started", "--json"],
                           env=env, catch_exceptions=False)
    top = json.loads(r.output)["results"][0]
    assert top["id"] == "troubleshooting" and top["visibility"] == "internal"


def test_a_command_imports_its_own_module_only(settings):
    """`kb index` does not import what `kb check`, `kb eval` or `kb serve` need (each command's
    module is loaded when it runs), and every command, `serve` included, is still listed."""
    probe = ("import sys; from kb.cli import main; "
             "main(['index'], standalone_mode=False); "
             "print(sorted(m for m in sys.modules if m.startswith(('kb.cli.', 'web', 'kb.quality.dupes'))))")
    env = {**os.environ, "KB_HOME": str(settings.home), "KB_ARTICLES": str(settings.articles), "KB_SEMANTIC": "0"}
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    loaded = json.loads(out.stdout.strip().splitlines()[-1].replace("'", '"'))
    assert "kb.cli.index" in loaded
    assert not {"kb.cli.check", "kb.cli.evaluate", "kb.cli.backup", "web", "web.cli", "kb.quality.dupes"} & set(loaded)
    listed = CliRunner().invoke(main, ["--help"]).output
    for name in ("index", "check", "eval", "serve", "tickets", "similar", "requests"):
        assert re.search(rf"^  {name}\s", listed, re.M), name
    assert CliRunner().invoke(main, ["nope"]).exit_code == 2
