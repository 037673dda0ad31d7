"""`kb search` and `kb show`: the index as a person or a script sees it."""
from __future__ import annotations

import json

import click

from kb.cli import common
from kb.search.searcher import Searcher, SearchQuery


@click.command()
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
    searcher = common.searcher(ctx.obj)
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
        if h.versions:
            click.echo("    also in " + ", ".join(f"{v['language']} ({v['id']}, {v['slug']})" for v in h.versions))
        if h.snippet:
            click.echo(f"    {h.snippet[:200]}")
        if explain:
            e = h.explanation
            parts = [f"{k} #{v['rank']} ({v['score']})" for k, v in e.items() if isinstance(v, dict) and "rank" in v]
            click.echo(f"    why: {', '.join(parts) or '-'}; terms {e.get('matched_terms')}; "
                       f"section {e.get('section')!r}; boosts {e.get('boosts') or 'none'}")
    if explain:
        click.echo(f"took {res.took_ms:.1f} ms: " + ", ".join(f"{k} {v:.1f}" for k, v in res.timings.items()))


@click.command()
@click.argument("article_id")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def show(ctx, article_id, as_json):
    """One article as the index sees it (by id or slug)."""
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
