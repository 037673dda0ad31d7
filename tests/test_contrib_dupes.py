"""Near-duplicate check of `kb check --strict --against REF`: a near-copy of an existing article
is reported with that article's id and the score, an unrelated new article and a translation
are not. Keyword similarity here (the real encoders' run is marked ``models``)."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from kb.quality.check import check_folder
from kb.quality.dupes import THRESHOLDS, Similarity, keyword_matrix
from tests.conftest import article, commit_all, git, write

NEAR_COPY = article(
    "KB-0100", "How to fix: printer shows offline after the router was replaced", tags=("printer", "wifi"),
    body="## Symptoms\nPrinter shows offline after the router was replaced.\n\n## Environment\nWindows 11\n\n"
         "## Resolution\n1. Restart the device.\n2. Open **Settings**.\n\nReported again by a customer today.\n")
UNRELATED = article(
    "KB-0101", "Calendar invites arrive an hour late after daylight saving", product="email",
    tags=("calendar",), summary="Update the time zone of the mailbox.",
    body="## Symptoms\nMeeting invites show the wrong hour since the clocks changed.\n\n## Environment\nOutlook\n\n"
         "## Cause\nThe mailbox time zone is still the old one.\n\n## Resolution\n1. Set the mailbox time zone.\n")
TRANSLATION = article("KB-0102", "更换路由器后打印机显示脱机", language="zh", tags=("打印机",), summary="重新连接网络。",
                      body="## 问题\n更换路由器后打印机显示脱机。\n\n## 环境\nWindows 11\n\n## 解决方法\n"
                           "1. 重新启动设备。\n2. 打开**设置**。\n")


def _branch(repo, files, name="topic"):
    git(repo, "checkout", "-q", "-b", name)
    write(repo, files)
    commit_all(repo, "new articles")


def test_near_copy_is_reported_with_the_other_id_and_score(repo):
    _branch(repo, {"printer-offline-again.md": NEAR_COPY, "calendar-dst.md": UNRELATED,
                   "printer-offline-zh.md": TRANSLATION})
    problems, _ = check_folder(repo, strict=True, against="main", similarity=Similarity(None))
    dupes = [p for p in problems if "near-duplicate" in p.message]
    assert len(dupes) == 1, [str(p) for p in problems]
    d = dupes[0]
    assert d.path.endswith("printer-offline-again.md")
    assert "near-duplicate of KB-0001 (printer-offline.md)" in d.message and "by keyword" in d.message
    score = float(d.message.split("similarity ")[1].split()[0])
    assert THRESHOLDS["keyword"] <= score <= 1
    assert [str(p) for p in problems if "near-duplicate" not in p.message] == []
    # without --against (a whole-folder check) nothing is compared
    problems, _ = check_folder(repo, strict=True, similarity=Similarity(None))
    assert not [p for p in problems if "near-duplicate" in p.message]


def test_keyword_similarity_orders_copies_over_neighbours():
    m = keyword_matrix(["printer offline after router change", "printer offline after router replaced"],
                       ["printer offline after router change", "vpn error 809 at home", "printer jams"])
    assert m[0, 0] == pytest.approx(1, abs=1e-5)
    assert m[1, 0] > m[1, 2] > m[1, 1] == 0


def test_cli_reports_duplicates_and_which_method(repo, tmp_path):
    from kb.cli import main
    _branch(repo, {"printer-offline-again.md": NEAR_COPY})
    env = {"KB_HOME": str(tmp_path / "state"), "KB_SEMANTIC": "0", "KB_ENCODERS": "none"}
    r = CliRunner().invoke(main, ["check", str(repo), "--strict", "--against", "main"], env=env)
    assert r.exit_code == 1
    assert "near-duplicate of KB-0001" in r.stdout
    assert "en by keyword (threshold" in r.stderr
    git(repo, "checkout", "-q", "main")
    write(repo, {"calendar-dst.md": UNRELATED})
    r = CliRunner().invoke(main, ["check", str(repo), "--strict", "--against", "main"], env=env)
    assert r.exit_code == 0, r.stdout


@pytest.mark.models
def test_encoders_flag_the_near_copy_only(repo):
    from kb.core.encoders import EncoderPool
    _branch(repo, {"printer-offline-again.md": NEAR_COPY, "calendar-dst.md": UNRELATED,
                   "printer-offline-zh.md": TRANSLATION})
    sim = Similarity(EncoderPool(("minilm", "use3")))
    problems, _ = check_folder(repo, strict=True, against="main", similarity=sim)
    dupes = [p for p in problems if "near-duplicate" in p.message]
    assert len(dupes) == 1 and "KB-0001" in dupes[0].message and "by minilm" in dupes[0].message
