"""The honest state of a node, for ``/api/v1/health`` and `kb refresh`'s callers: ``ok``,
``degraded`` (it serves, but something needs a person: the last refresh failed, a model did
not load, a background job fails, articles were skipped, customers' requests cannot be delivered) or ``failing`` (it cannot serve
search: no index, or the database cannot be reached). Every reason is spelled out.
"""
from __future__ import annotations

import datetime as dt
import time

from kb.core import store
from kb.core.config import Settings
from kb.core.errors import IndexMissing
from kb.service.state import RefreshState

STALLED_CYCLES = 3       # a refresher this many intervals late is reported


def _age(iso: str | None, now: dt.datetime) -> float | None:
    if not iso:
        return None
    try:
        t = dt.datetime.fromisoformat(iso)
    except ValueError:
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.timezone.utc)
    return round((now - t).total_seconds(), 1)


def index_part(searcher, now: dt.datetime, problems: list[str], fatal: list[str]) -> dict:
    try:
        snap = searcher.snapshot()
    except IndexMissing as e:
        fatal.append(str(e))
        return {"generation": None}
    m = snap.manifest
    errors = m.get("errors") or []
    if errors:
        problems.append(f"{len(errors)} article(s) are not served because of errors, e.g. {errors[0]}")
    file_errors = m.get("file_errors") or []
    if file_errors:
        problems.append(f"{len(file_errors)} image(s) or file(s) that articles reference are not served, "
                        f"e.g. {file_errors[0]}")
    return {"generation": snap.generation.name, "commit": m.get("commit"), "built_at": m.get("built_at"),
            "age_seconds": _age(m.get("built_at"), now), "articles": len(snap.ids), "errors": errors[:20],
            "file_errors": file_errors[:20]}


def models_part(settings: Settings, searcher, problems: list[str]) -> dict:
    pool = searcher.pool
    failed = pool.failures()
    loaded = [e.name for e in pool.loaded()]
    out = {"semantic": bool(pool.names), "configured": list(pool.names), "loaded": loaded, "failed": failed}
    if not pool.names:
        out["note"] = "semantic search is switched off (KB_SEMANTIC=0 or KB_ENCODERS=none): keyword only"
    for name, why in failed.items():
        problems.append(f"search without the {name} encoder (keyword and other encoders still answer): {why}")
    return out


def database_part(settings: Settings, fatal: list[str]) -> dict:
    try:
        db = store.connect(settings)
        try:
            db.execute("SELECT 1").fetchone()
        finally:
            db.close()
    except Exception as e:       # whatever keeps the database from answering
        fatal.append(f"the database cannot be reached: {type(e).__name__}: {e}")
        return {"reachable": False, "error": f"{type(e).__name__}: {e}"}
    return {"reachable": True}


def refresh_part(settings: Settings, problems: list[str], now: float) -> dict:
    state = RefreshState(settings.home).read()
    last = state.get("last")
    out = {"interval_seconds": settings.refresh_seconds, "runs": state.get("runs", 0),
           "failures": state.get("failures", 0), "last_success": state.get("last_success"), "last": None}
    if last:
        out["last"] = {"started_at": last["started_at"], "finished_at": last.get("finished_at"),
                       "duration_seconds": last["seconds"], "result": last["result"], "error": last.get("error"),
                       "trigger": last.get("trigger"),
                       "steps": {k: {"status": v["status"], "message": v["message"]}
                                 for k, v in last.get("steps", {}).items()}}
        if last["result"] == "failed":
            problems.append(f"the last refresh failed: {last.get('error')}")
        late = now - float(last["started"]) - settings.refresh_seconds * STALLED_CYCLES
        if settings.refresh_seconds and late > 0:
            problems.append(f"no refresh for {now - float(last['started']):.0f} s "
                            f"(every {settings.refresh_seconds} s is configured)")
    return out


def requests_part(settings: Settings, problems: list[str]) -> dict:
    """Customers' requests waiting for the helpdesk: degraded while some keep failing."""
    from kb.requests.figures import health_part
    try:
        db = store.connect(settings)
        try:
            out = health_part(settings, db)
        finally:
            db.close()
    except Exception as e:        # the database part reports an unreachable database
        return {"status": "unknown", "error": f"{type(e).__name__}: {e}"}
    if out.get("problem"):
        problems.append(out.pop("problem"))
    return out


def background_part(searcher, problems: list[str]) -> dict:
    out = {}
    boost = getattr(searcher, "boosts", None)
    status = getattr(boost, "status", None)
    if callable(status):
        out["ticket_boost"] = status()
        if out["ticket_boost"].get("error"):
            problems.append(f"the ticket boost cannot be recomputed: {out['ticket_boost']['error']}")
    return out


def health(settings: Settings, searcher, extra: dict | None = None) -> tuple[dict, int]:
    """(report, HTTP status). ``extra`` adds parts that other packages check (each a dict that
    may carry a ``problem`` string), e.g. the company directory."""
    now = dt.datetime.now(dt.timezone.utc)
    problems: list[str] = []
    fatal: list[str] = []
    report = {
        "index": index_part(searcher, now, problems, fatal),
        "refresh": refresh_part(settings, problems, time.time()),
        "models": models_part(settings, searcher, problems),
        "database": database_part(settings, fatal),
        "background": background_part(searcher, problems),
        "requests": requests_part(settings, problems),
    }
    for name, part in (extra or {}).items():
        report[name] = part
        if part.get("problem"):
            problems.append(part["problem"])
    status = "failing" if fatal else "degraded" if problems else "ok"
    head = {"status": status, "ok": status == "ok", "problems": fatal + problems,
            "articles": report["index"].get("articles", 0), "checked_at": now.isoformat(timespec="seconds")}
    return {**head, **report}, 503 if fatal else 200
