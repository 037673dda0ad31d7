"""`kb report --month YYYY-MM`: the monthly support and knowledge review, as JSON (for other
tools; the top-level keys are a contract), Markdown or self-contained HTML with charts.

Charts are drawn with pygal (pinned in requirements.txt): pure Python, SVG is its native
output, no network and no native libraries, ~130 kB — matplotlib would bring eight packages
and ~40 MB for two charts. Each SVG is embedded as a ``data:`` image, so nothing in it can run.

Text that comes from users (queries, ticket fields, names) is escaped for HTML by Jinja2's
autoescaping and for Markdown here, and neutralised against spreadsheet formula injection
(a leading ``= + - @`` gets a ``'``) wherever a spreadsheet might open it (Markdown, HTML).
"""
from __future__ import annotations

import base64
import datetime as dt
import json
import re
from pathlib import Path

from kb.core.db import Database

from kb.analytics import metrics
from kb.core.config import Settings
from kb.core.errors import ConfigError
from kb.analytics.stale import stale_articles
from kb.requests import figures as requests_figures
from kb.tickets.model import CHANNELS, PRIORITIES

FORMATS = ("md", "html", "json")
CHANNEL_COLOURS = {"phone": "#2563eb", "email": "#16a34a", "web": "#d97706", "chat": "#9333ea"}
_FORMULA = re.compile(r"^[=+\-@\t\r]")


def build(db: Database, settings: Settings, month: str, *, articles: list[dict] | None = None,
          now: dt.datetime | None = None, families=None) -> dict:
    """Every figure of the month as one JSON-ready dict. With ``families`` (the live generation's,
    kb.search.families) an article's versions in several languages count as one article, and the
    translations behind their source and the missing ones readers ask for are reported."""
    p = metrics.month_period(month)
    now = now or dt.datetime.now(dt.timezone.utc)
    targets = settings.first_response_targets()
    resolved = metrics.resolved_tickets(db, p)
    created = metrics.created_tickets(db, p)
    overall = metrics.support(resolved, created, targets, now)
    kcs = metrics.kcs(db, p, resolved)
    split = {}
    for key, linked in (("with_article", True), ("without_article", False)):
        split[key] = metrics.support([t for t in resolved if bool(t["linked"]) == linked],
                                     [t for t in created if bool(t["linked"]) == linked], targets, now)
    titles = {a["id"]: a.get("title", "") for a in articles or []}
    demo = db.execute("SELECT count(*) FROM tickets WHERE demo = 1 AND ((created_at >= ? AND created_at < ?) "
                           "OR (resolved_at >= ? AND resolved_at < ?))", [p.lo, p.hi, p.lo, p.hi]).fetchone()[0]
    return {
        "month": p.label,
        "tickets": {
            "created": len(created), "resolved": len(resolved),
            "reopened": sum(1 for t in resolved if t["reopened"]),
            "by_channel": {c: sum(1 for t in created if t["channel"] == c) for c in CHANNELS},
            "by_priority": {c: sum(1 for t in created if t["priority"] == c) for c in PRIORITIES},
        },
        "link_rate": kcs["link_rate"],
        "reuse_rate": kcs["reuse_rate"],
        "articles_created_from_tickets": kcs["articles_created_from_tickets"],
        "mttr_hours": overall["mttr_hours"],
        "fcr_rate": overall["fcr_rate"],
        "csat_avg": overall["csat_avg"],
        "first_response_met": overall["first_response_met"],
        "with_article": split["with_article"],
        "without_article": split["without_article"],
        "zero_result_queries": metrics.zero_result_queries(db, p),
        "self_service": _per_family(requests_figures.month(db, p.lo, p.hi, titles), families, titles),
        "stale_articles": stale_articles(db, articles, min(now, p.end), families=families),
        "translations": _translations(db, families, articles, min(now, p.end)),
        # more than the contract asks for
        "mttr_median_hours": overall["mttr_median_hours"],
        "csat_responses": overall["csat_responses"],
        "csat_distribution": overall["csat_distribution"],
        "links": kcs["links"],
        "created_articles": kcs["created_articles"],
        "time_to_publish": kcs["time_to_publish"],
        "participation": kcs["participation"],
        "no_click_queries": metrics.no_click_queries(db, p),
        "products_rarely_linked": metrics.products_rarely_linked(resolved),
        "falling_helpfulness": metrics.falling_helpfulness(db, p, families.family if families else None),
        "tickets_per_week": metrics.tickets_per_week(created, p),
        "link_rate_trend": metrics.link_rate_trend(db, p),
        "demo_tickets": demo,
        "generated_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def _per_family(q: dict, families, titles: dict[str, str]) -> dict:
    """The self-service figures with the requests each article prevented added up per article."""
    if families is None:
        return q
    summed: dict[str, int] = {}
    for a in q["top_deflecting_articles"]:
        key = families.family(a["article_id"])
        summed[key] = summed.get(key, 0) + a["requests_prevented"]
    q["top_deflecting_articles"] = [{"article_id": a, "title": titles.get(a, ""), "requests_prevented": n}
                                    for a, n in sorted(summed.items(), key=lambda kv: (-kv[1], kv[0]))]
    return q


def _translations(db: Database, families, articles: list[dict] | None, now: dt.datetime) -> dict:
    """Articles in several languages, translations behind their source, and the missing
    translations readers ask for most (kb/analytics/translations.py)."""
    if families is None or articles is None:
        return {"families": 0, "outdated": [], "priorities": []}
    from kb.analytics.translations import priorities
    known = {a["id"]: a for a in articles}
    outdated = [{"article_id": t, "title": (known.get(t) or {}).get("title", ""), "source": families.source(t),
                 "since": b.since[:10], "days": b.days(now), "changes": b.commits}
                for t, b in sorted(families.outdated().items()) if t in known]
    return {"families": len(families.groups), "outdated": outdated,
            "priorities": priorities(db, families, known, now=now, limit=10)}


# --- safe text -----------------------------------------------------------------------------

def cell(value) -> str:
    """User text made safe for a spreadsheet: a leading formula character gets a quote."""
    s = "" if value is None else str(value)
    return "'" + s if _FORMULA.match(s) else s


def md(value) -> str:
    """User text for a Markdown table cell: no formulas, no HTML, no table or emphasis syntax."""
    s = " ".join(cell(value).split())
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return re.sub(r"([\\`*_\[\]|#])", r"\\\1", s)


def pct(v) -> str:
    return "–" if v is None else f"{v * 100:.1f} %"


def num(v, unit: str = "") -> str:
    return "–" if v is None else f"{v:g}{unit}"


def duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:g} s"
    if seconds < 7200:
        return f"{seconds / 60:g} min"
    return f"{seconds / 3600:g} h"


# --- Markdown ------------------------------------------------------------------------------

def _rows(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out


def to_markdown(r: dict) -> str:
    w, wo = r["with_article"], r["without_article"]
    t = r["tickets"]
    lines = [f"# Support and knowledge report — {r['month']}", ""]
    if r["demo_tickets"]:
        lines += [f"> Includes {r['demo_tickets']} demo tickets (`kb demo clear` removes them).", ""]
    lines += [f"{t['created']} tickets created, {t['resolved']} resolved ({t['reopened']} of them reopened before).",
              "", "## Support figures", ""]
    lines += _rows(["figure", "all", "with article", "without article"], [
        ["resolved tickets", str(t["resolved"]), str(w["tickets"]), str(wo["tickets"])],
        ["MTTR (mean)", num(r["mttr_hours"], " h"), num(w["mttr_hours"], " h"), num(wo["mttr_hours"], " h")],
        ["MTTR (median)", num(r["mttr_median_hours"], " h"), num(w["mttr_median_hours"], " h"),
         num(wo["mttr_median_hours"], " h")],
        ["first-contact resolution", pct(r["fcr_rate"]), pct(w["fcr_rate"]), pct(wo["fcr_rate"])],
        ["CSAT (1–5)", num(r["csat_avg"]), num(w["csat_avg"]), num(wo["csat_avg"])],
        ["CSAT responses", str(r["csat_responses"]), str(w["csat_responses"]), str(wo["csat_responses"])],
    ])
    lines += ["", "CSAT distribution: " + ", ".join(f"{k}★ {v}" for k, v in r["csat_distribution"].items()), "",
              "### First response within target", ""]
    rows = []
    for ch in CHANNELS:
        a, b, c = r["first_response_met"][ch], w["first_response_met"][ch], wo["first_response_met"][ch]
        rows.append([ch, duration(a["target_seconds"]), f"{pct(a['rate'])} ({a['met']}/{a['tickets']})",
                     pct(b["rate"]), pct(c["rate"])])
    lines += _rows(["channel", "target", "met", "with article", "without article"], rows)
    tp, part = r["time_to_publish"], r["participation"]
    lines += ["", "## Knowledge (KCS)", ""]
    lines += _rows(["figure", "value"], [
        ["link rate", pct(r["link_rate"])],
        ["reuse rate", pct(r["reuse_rate"])],
        ["links", ", ".join(f"{k} {v}" for k, v in r["links"].items())],
        ["articles created from tickets", str(r["articles_created_from_tickets"])],
        ["time to publish (median)", num(tp["median_hours"], " h") + f" over {tp['articles']} article(s)"],
        ["participation", f"{pct(part['rate'])} ({part['participating']} of {part['agents']} agents)"],
    ])
    lines += ["", "Link rate, last months: " + ", ".join(f"{m['month']} {pct(m['link_rate'])}"
                                                         for m in r["link_rate_trend"]), "", "## Gaps", ""]
    for title, key in (("Searches with no result", "zero_result_queries"),
                       ("Searches where nothing was opened", "no_click_queries")):
        lines += [f"### {title}", ""]
        lines += _rows(["query", "searches", "last"], [[md(q["query"]), str(q["count"]), q["last_seen"][:10]]
                                                        for q in r[key]]) if r[key] else ["None."]
        lines.append("")
    lines += ["### Products whose tickets rarely link to an article", ""]
    lines += _rows(["product", "resolved", "linked", "link rate"],
                   [[md(x["product"]), str(x["resolved"]), str(x["linked"]), pct(x["link_rate"])]
                    for x in r["products_rarely_linked"]]) if r["products_rarely_linked"] else ["None."]
    lines += ["", "### Articles with falling helpfulness", ""]
    lines += _rows(["article", "helpful now", "before"],
                   [[md(x["article_id"]), f"{pct(x['helpful_rate'])} of {x['votes']}",
                     f"{pct(x['helpful_rate_before'])} of {x['votes_before']}"]
                    for x in r["falling_helpfulness"]]) if r["falling_helpfulness"] else ["None."]
    lines += ["", "## Stale articles", ""]
    lines += _rows(["article", "title", "why"],
                   [[md(s["article_id"]), md(s["title"] or ""), md("; ".join(x["detail"] for x in s["reasons"]))]
                    for s in r["stale_articles"]]) if r["stale_articles"] else ["None."]
    lines += _self_service(r["self_service"])
    lines += _translation_lines(r["translations"])
    lines += ["", f"_Generated {r['generated_at']}._", ""]
    return "\n".join(lines)


def _translation_lines(t: dict) -> list[str]:
    lines = ["", "## Translations", "", f"{t['families']} article(s) in more than one language; "
             f"{len(t['outdated'])} translation(s) behind their source.", ""]
    if t["outdated"]:
        lines += _rows(["translation", "title", "source", "changed since", "days behind"],
                       [[md(x["article_id"]), md(x["title"]), md(x["source"]), x["since"], str(x["days"])]
                        for x in t["outdated"]]) + [""]
    lines += ["### Missing translations readers ask for", ""]
    lines += _rows(["article", "title", "missing", "searches", "views"],
                   [[md(x["article_id"]), md(x["title"] or ""), x["missing"], str(x["searches"]), str(x["views"])]
                    for x in t["priorities"]]) if t["priorities"] else ["None."]
    return lines


def _self_service(q: dict) -> list[str]:
    lines = ["", "## Self-service: requests to support", ""]
    lines += _rows(["figure", "value"], [
        ["request forms started", str(q["started"])],
        ["solved by an article (deflected)", f"{q['deflected']} ({pct(q['deflection_rate'])} of started)"],
        ["requests sent to support", str(q["submitted"])], ["delivered to the helpdesk", str(q["delivered"])],
        ["help-center visits (article views and searches)", str(q["help_center_visits"])],
        ["self-service score (visits ÷ requests)", num(q["self_service_score"])]])
    lines += ["", "### Articles that prevent most requests", ""]
    lines += _rows(["article", "title", "requests prevented"],
                   [[md(a["article_id"]), md(a["title"]), str(a["requests_prevented"])]
                    for a in q["top_deflecting_articles"]]) if q["top_deflecting_articles"] else ["None."]
    lines += ["", "### Subjects that reach support despite suggested articles", ""]
    lines += _rows(["subject", "requests", "products", "articles suggested"],
                   [[md(x["subject"]), str(x["requests"]), md(", ".join(x["products"])),
                     md(", ".join(x["articles_suggested"]))]
                    for x in q["subjects_despite_suggestions"]]) if q["subjects_despite_suggestions"] else ["None."]
    return lines


# --- HTML ----------------------------------------------------------------------------------

def _chart_uri(chart) -> str:
    svg = chart.render(is_unicode=True)
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def charts(r: dict) -> dict[str, str]:
    import pygal
    from pygal.style import Style
    style = Style(font_family="system-ui, sans-serif", background="white", plot_background="white",
                  colors=tuple(CHANNEL_COLOURS.values()), title_font_size=16, legend_font_size=13,
                  label_font_size=12, major_label_font_size=12, value_font_size=11)
    weeks = pygal.StackedBar(style=style, js=[], width=760, height=320, legend_at_bottom=True,
                             title="Tickets created per week, by channel", print_values=False,
                             disable_xml_declaration=True, show_y_guides=True, margin=16)
    weeks.x_labels = [f"{w['week']} ({w['starts'][5:]})" for w in r["tickets_per_week"]]
    for ch in CHANNELS:
        weeks.add(ch, [w[ch] for w in r["tickets_per_week"]])
    trend = pygal.Line(style=Style(font_family="system-ui, sans-serif", background="white",
                                   plot_background="white", colors=("#0f766e",), title_font_size=16,
                                   label_font_size=12, major_label_font_size=12, value_font_size=12),
                       js=[], width=760, height=300, show_legend=False, range=(0, 100), print_values=True,
                       title="Link rate of resolved tickets, by month (%)", disable_xml_declaration=True,
                       dots_size=4, margin=16, value_formatter=lambda v: f"{v:.0f}")
    trend.x_labels = [m["month"] for m in r["link_rate_trend"]]
    trend.add("link rate", [None if m["link_rate"] is None else round(m["link_rate"] * 100, 1)
                            for m in r["link_rate_trend"]])
    return {"weeks": _chart_uri(weeks), "trend": _chart_uri(trend)}


def to_html(r: dict) -> str:
    import jinja2
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(Path(__file__).parent / "templates")),
                             autoescape=True, undefined=jinja2.StrictUndefined)
    env.filters.update(cell=cell, pct=pct, num=num, duration=duration)
    return env.get_template("report.html").render(r=r, charts=charts(r), channels=CHANNELS)


def render(r: dict, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(r, ensure_ascii=False, indent=2) + "\n"
    if fmt == "md":
        return to_markdown(r)
    if fmt == "html":
        return to_html(r)
    raise ConfigError(f"--format: {fmt!r} is not one of {', '.join(FORMATS)}")


def write(text: str, out: Path) -> None:
    """Write next to ``out`` and rename over it, so a reader never sees half a report."""
    out = Path(out)
    if out.parent and not out.parent.exists():
        raise ConfigError(f"--out: folder {out.parent} does not exist")
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        tmp.write_text(text, "utf-8")
        tmp.replace(out)
    except OSError as e:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        raise ConfigError(f"--out: cannot write {out}: {e.strerror or e}") from None
