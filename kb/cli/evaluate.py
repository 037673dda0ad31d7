"""`kb eval`: search quality on a labelled dataset, or on KB_HOME's own tickets."""
from __future__ import annotations

import json
from pathlib import Path

import click

from kb.cli import common
from kb.core.errors import ConfigError
from kb.evaluation import labelled
from kb.evaluation import tickets as ticket_eval


@click.command("eval")
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
    if tickets or cutoff:
        return _tickets(dataset, tickets, cutoff, mode, run_out, home, as_json, ctx.obj)
    if dataset is None:
        raise ConfigError("--dataset: give a dataset folder, or --tickets to measure on your own tickets")
    out = labelled.evaluate(dataset, ctx.obj, mode, home=home, run_out=run_out, progress=common.progress_bar("eval"))
    if as_json:
        click.echo(json.dumps({"dataset": out["dataset"], "articles": out["articles"], "modes": out["modes"]}))
        return
    click.echo(f"{dataset.name}: {out['articles']} docs, {out['queries']} queries")
    click.echo(f"{'mode':10} {'nDCG@10':>8} {'MRR@10':>8} {'R@10':>8} {'R@100':>8}")
    for m, v in out["modes"].items():
        click.echo(f"{m:10} {v['ndcg@10']:8.4f} {v['mrr@10']:8.4f} {v['recall@10']:8.4f} {v['recall@100']:8.4f}")


def _tickets(dataset, tickets, cutoff, mode, run_out, home, as_json, settings) -> None:
    """Search quality on KB_HOME's own tickets, with and without the ticket boost (read-only)."""
    if dataset is not None:
        raise ConfigError("--tickets: measures KB_HOME's own tickets; leave out --dataset")
    if not tickets:
        raise ConfigError("--cutoff: only goes with --tickets")
    for flag, value in (("--run-out", run_out), ("--home", home)):
        if value:
            raise ConfigError(f"{flag}: only goes with --dataset")
    modes = ["keyword", "semantic", "hybrid"] if mode == "all" else [mode]
    out = ticket_eval.evaluate_tickets(settings, modes, cutoff)
    if as_json:
        click.echo(json.dumps({"tickets": out}))
        return
    click.echo(f"tickets: boost learned from {out['learned_from']} tickets resolved before {out['cutoff']} "
               f"({out['boosted_articles']} articles boosted); measured on {out['evaluated']} tickets after it")
    click.echo(f"{'mode':10} {'boost':6} {'nDCG@10':>8} {'MRR@10':>8} {'R@10':>8} {'R@100':>8}")
    for m, both in out["modes"].items():
        for name, label in (("no_boost", "no"), ("boost", "yes")):
            v = both[name]
            click.echo(f"{m:10} {label:6} {v['ndcg@10']:8.4f} {v['mrr@10']:8.4f} {v['recall@10']:8.4f} "
                       f"{v['recall@100']:8.4f}")
        delta = both["boost"]["ndcg@10"] - both["no_boost"]["ndcg@10"]
        click.echo(f"{m:10} {'Δ':6} {delta:+8.4f}")
