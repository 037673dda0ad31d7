"""`kb eval` builds a throwaway KB and agrees with the reference scorer to the last digit."""
import json
import re
import subprocess
import sys
import tempfile

from click.testing import CliRunner

from kb.evaluation import labelled as evaluation
from kb.cli import main
from tests.conftest import SHARED, needs_shared

SCORER = SHARED / "eval" / "score.py"


def dataset(tmp_path):
    d = tmp_path / "set"
    d.mkdir()
    docs = [
        {"id": "doc#1/a", "title": "Printer offline", "text": "The printer shows offline after the router change."},
        {"id": "docs/2", "title": "VPN error 809", "text": "Allow IPsec passthrough on the home router."},
        {"id": "d3", "title": "Reset password", "text": "Use the self-service portal to reset a forgotten password."},
        {"id": "d4", "title": "Mailbox full", "text": "Archive old mail or ask for a larger quota."},
        {"id": "d5", "title": "Printer paper jam", "text": "Open tray two and remove the jammed paper."},
    ]
    (d / "corpus.jsonl").write_text("\n".join(json.dumps(x) for x in docs), "utf-8")
    qs = [{"id": "q1", "text": "printer is offline"}, {"id": "q2", "text": "router ipsec vpn"},
          {"id": "q3", "text": "forgot password"}, {"id": "q4", "text": "printer paper"},
          {"id": "q5", "text": "nothing matches zebra"}]
    (d / "queries.jsonl").write_text("\n".join(json.dumps(x) for x in qs), "utf-8")
    (d / "qrels.tsv").write_text("query-id\tdoc-id\trelevance\nq1\tdoc#1/a\t1\nq2\tdocs/2\t1\nq3\td3\t1\n"
                                 "q4\td5\t2\nq4\tdoc#1/a\t1\nq5\td4\t1\n", "utf-8")
    return d


@needs_shared
def test_eval_matches_reference_scorer_and_keeps_ids_exact(tmp_path, monkeypatch):
    d = dataset(tmp_path)
    live = tmp_path / "live"
    run_file = tmp_path / "run.txt"
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    r = CliRunner().invoke(main, ["eval", "--dataset", str(d), "--mode", "keyword", "--run-out", str(run_file)],
                           env={"KB_HOME": str(live), "KB_SEMANTIC": "0"}, catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert not live.exists()                                   # the live KB_HOME is never touched
    assert list(scratch.iterdir()) == []                       # nor is the throwaway KB left behind
    ours = re.search(r"keyword\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)", r.output).groups()
    ids = {line.split(" ")[2] for line in run_file.read_text().splitlines()}
    assert {"doc#1/a", "docs/2", "d3", "d5"} <= ids             # byte-exact corpus ids
    ref = subprocess.run([sys.executable, str(SCORER), str(run_file), str(d / "qrels.tsv")],
                         capture_output=True, text=True)
    assert ref.returncode == 0, ref.stderr
    nums = [float(x) for x in re.findall(r"\d\.\d{3,}", ref.stdout)][:4]
    assert [round(float(x), 4) for x in ours] == [round(x, 4) for x in nums]


@needs_shared
def test_metrics_match_reference_on_ties_and_duplicates(tmp_path):
    qrels = {"q": {"a": 1, "b": 2, "c": 0}}
    run = {"q": [("c", 1.0), ("b", 1.0), ("a", 0.5), ("a", 0.2)]}
    evaluation.write_run(run, tmp_path / "r.txt", "t")
    (tmp_path / "qrels.tsv").write_text("query-id\tdoc-id\trelevance\nq\ta\t1\nq\tb\t2\nq\tc\t0\n")
    ref = subprocess.run([sys.executable, str(SCORER), str(tmp_path / "r.txt"), str(tmp_path / "qrels.tsv")],
                         capture_output=True, text=True)
    nums = [float(x) for x in re.findall(r"\d\.\d{3,}", ref.stdout)][:4]
    ours = evaluation.metrics(run, qrels)
    assert [round(v, 4) for v in ours.values()] == [round(x, 4) for x in nums]


def test_bad_dataset_is_a_clear_error(tmp_path):
    r = CliRunner().invoke(main, ["eval", "--dataset", str(tmp_path)], env={"KB_SEMANTIC": "0"})
    assert r.exit_code == 2 and "corpus.jsonl does not exist" in r.output


def test_a_corpus_document_without_a_title_gets_none(tmp_path):
    """Neither its id nor its file name becomes its title, and nothing but its text is embedded;
    a titled document still leads its chunks with its title."""
    from indexer.vectors import chunk_article
    from kb.core.articles import parse_article
    corpus = [{"id": "untitled-42", "text": "Allow IPsec passthrough on the home router."},
              {"id": "t1", "title": "VPN error 809", "text": "Allow IPsec passthrough on the home router."}]
    evaluation.write_corpus(corpus, tmp_path / "a", "en")
    parsed = {a.id: a for a in (parse_article(p.name, p.read_bytes()) for p in sorted((tmp_path / "a").glob("*.md")))}
    assert parsed["untitled-42"].title == "" and parsed["t1"].title == "VPN error 809"
    assert [(c.section, c.text) for c in chunk_article(parsed["untitled-42"])] == [
        ("body", "Allow IPsec passthrough on the home router.")]
    assert [(c.section, c.text) for c in chunk_article(parsed["t1"])] == [
        ("title", "VPN error 809"), ("body", "VPN error 809\nAllow IPsec passthrough on the home router.")]
