"""The `kb` command: index, search, check, show, eval, serve. A contract other tools script
against: names and JSON shapes stay stable. Bad input exits non-zero with a one-line reason.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from kb.config import Settings
from kb.errors import ConfigError, KbError


class KbGroup(click.Group):
    """Turns kb's own errors into one line on stderr and exit status 2."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except KbError as e:
            click.echo(f"kb: error: {e}", err=True)
            sys.exit(2)


@click.group(cls=KbGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="kb")
@click.pass_context
def main(ctx):
    """Knowledge base search for support teams (state folder: KB_HOME, default ./.kb)."""
    ctx.obj = Settings.load()


def _settings(ctx, **overrides) -> Settings:
    return ctx.obj.replace(**{k: v for k, v in overrides.items() if v is not None})


def _progress_bar(label: str):
    """A progress callback that draws a bar on a terminal (stderr) and stays quiet otherwise."""
    state: dict = {}
    if not sys.stderr.isatty():
        return lambda stage, done, total: None

    def tick(stage, done, total):
        bar = state.get(stage)
        if bar is None and total > 50:
            bar = state[stage] = click.progressbar(length=total, label=f"{label}: {stage}", file=sys.stderr)
            bar.__enter__()
        if bar is not None:
            bar.update(done - bar.pos)
            if done >= total:
                bar.__exit__(None, None, None)
    return tick


@main.command()
@click.option("--articles", type=click.Path(file_okay=False, path_type=Path),
              help="Articles folder (default: KB_ARTICLES or ./articles).")
@click.option("--full", is_flag=True, help="Rebuild everything instead of what changed.")
@click.pass_context
def index(ctx, articles, full):
    """Build or update the search index from the articles folder."""
    from indexer.build import build
    from kb.encoders import EncoderPool
    s = _settings(ctx, articles=articles)
    pool = EncoderPool(s.encoders if s.semantic else ())    # loaded once for articles and tickets
    report = build(s, full=full, pool=pool, progress=_progress_bar("index"))
    for e in report.errors:
        click.echo(str(e), err=True)
    kind = "full build" if report.full else "incremental"
    click.echo(f"indexed {report.articles} articles ({kind}: {len(report.added)} added, "
               f"{len(report.changed)} changed, {len(report.removed)} removed, {report.unchanged} unchanged), "
               f"{report.chunks} chunks, embedded {sum(report.embedded.values())} "
               f"in {report.timings['total']:.1f}s")
    for name, why in report.encoder_failures.items():
        click.echo(f"warning: semantic search without {name}: {why}", err=True)
    from kb.cli_similar import update_ticket_index
    update_ticket_index(s, full, _progress_bar("index"), pool)
    if report.errors:
        click.echo(f"{len(report.errors)} article(s) skipped because of errors", err=True)
        sys.exit(1)


@main.command()
@click.argument("query")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--limit", default=10, show_default=True, type=click.IntRange(1, 100))
@click.option("--role", default="agent", show_default=True, type=click.Choice(["customer", "agent"]))
@click.option("--lang", type=click.Choice(["en", "zh"]), help="Only articles in this language.")
@click.option("--product", help="Only articles of this product.")
@click.option("--tag", "tags", multiple=True, help="Only articles with this tag (repeatable).")
@click.option("--status", type=click.Choice(["draft", "review", "published", "archived"]))
@click.option("--mode", default="hybrid", show_default=True, type=click.Choice(["keyword", "semantic", "hybrid"]))
@click.option("--explain", is_flag=True, help="Show why each hit ranked, and stage timings.")
@click.pass_context
def search(ctx, query, as_json, limit, role, lang, product, tags, status, mode, explain):
    """Search the knowledge base."""
    from kb.search import Searcher, SearchQuery
    from kb.tickets import boost_provider
    searcher = Searcher(ctx.obj, boosts=boost_provider(ctx.obj))
    res = searcher.search(SearchQuery(query, limit, role, lang, product, tuple(tags), status, mode))
    if as_json:
        click.echo(json.dumps(res.to_dict(explain=explain), ensure_ascii=False, indent=2))
        return
    if res.degraded:
        click.echo(f"(degraded to keyword search: {res.degraded_reason})", err=True)
    if res.did_you_mean:
        click.echo(f"did you mean: {res.did_you_mean}")
    if not res.results:
        click.echo("no results")
    for i, h in enumerate(res.results, 1):
        flags = "" if (h.visibility, h.status) == ("public", "published") else f" [{h.visibility}, {h.status}]"
        click.echo(f"{i:2}. {h.id}  {h.title}{flags}")
        click.echo(f"    {h.product or '-'} · {h.language} · {h.slug}   score {h.score:.4f}")
        if h.snippet:
            click.echo(f"    {h.snippet[:200]}")
        if explain:
            e = h.explanation
            parts = [f"{k} #{v['rank']} ({v['score']})" for k, v in e.items() if isinstance(v, dict) and "rank" in v]
            click.echo(f"    why: {', '.join(parts) or '-'}; terms {e.get('matched_terms')}; "
                       f"section {e.get('section')!r}; boosts {e.get('boosts') or 'none'}")
    if explain:
        click.echo(f"took {res.took_ms:.1f} ms: " + ", ".join(f"{k} {v:.1f}" for k, v in res.timings.items()))


@main.command()
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.option("--strict", is_flag=True, help="Also require every field, a Resolution and working links.")
@click.option("--against", "against", metavar="REF", help="Only added/changed articles since REF are checked strictly (pull requests).")
@click.pass_context
def check(ctx, path, strict, against):
    """Validate articles; list every problem as path:line and exit 1 if any."""
    from kb.check import check_folder
    root = path or ctx.obj.articles
    similarity = None
    if strict and against:        # near-duplicate check of the added or changed articles
        from kb.cli_contrib import duplicate_similarity
        similarity = duplicate_similarity(ctx.obj)
    problems, count = check_folder(Path(root), strict=strict, against=against, similarity=similarity)
    for p in problems:
        click.echo(str(p))
    click.echo(f"{count} article(s) checked, {len(problems)} problem(s)", err=True)
    sys.exit(1 if problems else 0)


@main.command()
@click.argument("article_id")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def show(ctx, article_id, as_json):
    """One article as the index sees it (by id or slug)."""
    from kb.search import Searcher
    doc = Searcher(ctx.obj).get(article_id, role="admin")
    if as_json:
        click.echo(json.dumps(doc, ensure_ascii=False, indent=2, default=str))
        return
    meta = doc.get("meta", {})
    click.echo(f"{doc['id']}  {doc['title']}")
    for key in ("slug", "path", "product", "language", "visibility", "status"):
        click.echo(f"  {key}: {doc.get(key)}")
    for key in ("tags", "owners", "review_by", "updated", "author", "commit"):
        click.echo(f"  {key}: {meta.get(key)}")
    click.echo(f"  sections: {', '.join(s['heading'] or '(intro)' for s in meta.get('sections', []))}")
    click.echo("")
    click.echo(doc.get("body", ""))


@main.command("eval")
@click.option("--dataset", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Folder with corpus.jsonl, queries.jsonl, qrels.tsv.")
@click.option("--tickets", "tickets", is_flag=True,
              help="Instead of a dataset: KB_HOME's own resolved tickets (query = subject + description, "
                   "relevant = resolved_by articles), with and without the ticket boost, split in time.")
@click.option("--cutoff", metavar="TIME", help="With --tickets: learn the boost from tickets resolved before "
              "TIME, measure on those after (default: when 75% of them were resolved).")
@click.option("--mode", default="hybrid", show_default=True,
              type=click.Choice(["keyword", "semantic", "hybrid", "all"]))
@click.option("--run-out", type=click.Path(dir_okay=False, path_type=Path), help="Write a TREC run file.")
@click.option("--home", type=click.Path(file_okay=False, path_type=Path),
              help="Keep the throwaway KB here (reused by the next run; default: a temp folder).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def eval_(ctx, dataset, tickets, cutoff, mode, run_out, home, as_json):
    """Measure nDCG@10, MRR@10, Recall@10/100 on a labelled dataset (never touches KB_HOME)."""
    from kb import evaluation
    from kb.search import Searcher
    if tickets or cutoff:
        from kb.cli_support import eval_tickets
        return eval_tickets(ctx, dataset, tickets, cutoff, mode, run_out, home, as_json)
    if dataset is None:
        raise ConfigError("--dataset: give a dataset folder, or --tickets to measure on your own tickets")
    s, labels, report = evaluation.prepare(dataset, ctx.obj, home, progress=_progress_bar("eval"))
    searcher = Searcher(s)
    modes = ["keyword", "semantic", "hybrid"] if mode == "all" else [mode]
    out = {}
    for m in modes:
        run = evaluation.run_queries(searcher, labels, m)
        out[m] = evaluation.metrics(run, labels.qrels)
        if run_out and (m == mode or (mode == "all" and m == "hybrid")):
            evaluation.write_run(run, run_out, f"kb-{m}")
    if as_json:
        click.echo(json.dumps({"dataset": str(dataset), "articles": report.articles, "modes": out}))
        return
    click.echo(f"{dataset.name}: {report.articles} docs, {len(labels.qrels)} queries")
    click.echo(f"{'mode':10} {'nDCG@10':>8} {'MRR@10':>8} {'R@10':>8} {'R@100':>8}")
    for m, v in out.items():
        click.echo(f"{m:10} {v['ndcg@10']:8.4f} {v['mrr@10']:8.4f} {v['recall@10']:8.4f} {v['recall@100']:8.4f}")


@main.command()
@click.option("--host", default=None, help="Address to bind (default 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port (default 5000).")
@click.option("--debug", is_flag=True, help="Flask's development server with reloading.")
@click.pass_context
def serve(ctx, host, port, debug):
    """Serve the web app (gunicorn, several workers; Flask's dev server only with --debug)."""
    from kb.cli_web import announce_demo_users
    s = _settings(ctx, host=host, port=port)
    announce_demo_users(s)
    click.echo(f"kb serving on http://{s.host}:{s.port}/", err=True)
    if debug:
        from web import create_app
        create_app(s).run(host=s.host, port=s.port, debug=True)
        return
    from web.server import serve as run_server
    run_server(s)


from kb.cli_web import users as _users  # noqa: E402
main.add_command(_users)


from kb.cli_support import COMMANDS as _support  # noqa: E402
for _cmd in _support:
    main.add_command(_cmd)

from kb.cli_contrib import contrib_group as _contrib  # noqa: E402
main.add_command(_contrib)


from kb.cli_similar import similar as _similar  # noqa: E402
main.add_command(_similar)


if __name__ == "__main__":
    main()
