"""The support ticket record: its fields, the vocabularies helpdesks use for them, and the
validation that turns whatever a helpdesk sends (CSV cell, JSON value, webhook body) into one
normalised row. Every problem raises TicketError naming the field.

Times are stored as UTC ``YYYY-MM-DDTHH:MM:SSZ`` so that SQL compares them as text. A time
without a zone is taken as UTC.
"""
from __future__ import annotations

import datetime as dt
import json
import math
import re
from typing import Any

from kb.core.errors import TicketError

CHANNELS = ("phone", "email", "web", "chat")
PRIORITIES = ("urgent", "important", "normal")
STATUSES = ("new", "open", "pending", "resolved", "closed")
DONE = ("resolved", "closed")
LINK_KINDS = ("resolved_by", "created_from", "referenced")
TIMES = ("created_at", "first_response_at", "resolved_at", "closed_at")
TEXTS = {"id": 100, "customer": 200, "contact": 200, "product": 100, "subject": 500,
         "description": 100_000, "resolution": 100_000, "agent": 200}
FIELDS = ("id", "channel", "priority", "customer", "contact", "product", "subject", "description",
          "resolution", "agent", "status", "created_at", "first_response_at", "resolved_at",
          "closed_at", "csat", "fcr", "reopened")
REQUIRED = ("id", "channel", "priority", "subject", "created_at")
COLUMNS = FIELDS + ("demo", "source", "extra", "updated_at")

# What other helpdesks call the same things (compared lower-case).
CHANNEL_ALIASES = {
    "phone": "phone", "call": "phone", "voice": "phone", "telephone": "phone", "tel": "phone",
    "hotline": "phone", "电话": "phone",
    "email": "email", "e-mail": "email", "mail": "email", "邮件": "email", "电子邮件": "email",
    "web": "web", "portal": "web", "web form": "web", "webform": "web", "form": "web",
    "self-service": "web", "api": "web", "网页": "web", "门户": "web",
    "chat": "chat", "live chat": "chat", "livechat": "chat", "messaging": "chat", "im": "chat",
    "聊天": "chat", "在线客服": "chat",
}
PRIORITY_ALIASES = {
    "urgent": "urgent", "critical": "urgent", "p1": "urgent", "1": "urgent", "紧急": "urgent",
    "important": "important", "high": "important", "p2": "important", "2": "important",
    "重要": "important", "高": "important",
    "normal": "normal", "medium": "normal", "low": "normal", "p3": "normal", "p4": "normal",
    "3": "normal", "4": "normal", "一般": "normal", "普通": "normal", "中": "normal", "低": "normal",
}
STATUS_ALIASES = {
    "new": "new", "open": "open", "in progress": "open", "in_progress": "open", "assigned": "open",
    "reopened": "open", "pending": "pending", "on hold": "pending", "on-hold": "pending",
    "hold": "pending", "waiting": "pending", "resolved": "resolved", "solved": "resolved",
    "closed": "closed", "新建": "new", "处理中": "open", "等待": "pending", "已解决": "resolved",
    "已关闭": "closed",
}
_TRUE = {"1", "true", "yes", "y", "t", "是"}
_FALSE = {"0", "false", "no", "n", "f", "否"}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def now_iso(now: dt.datetime | None = None) -> str:
    return fmt_time(now or dt.datetime.now(dt.timezone.utc))


_STORED = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
_DIGITS = re.compile(r"\d{9,13}")
_SLASHED = re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})")
_UTC = re.compile(r"(?i)\s*(utc|z)$")
_HOUR = re.compile(r"([ T])(\d):")


def fmt_time(t: dt.datetime) -> str:
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.timezone.utc)
    elif t.utcoffset():
        t = t.astimezone(dt.timezone.utc)
    return f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}Z"


def parse_iso(s: str) -> dt.datetime:
    """A stored time back into an aware datetime."""
    return dt.datetime.fromisoformat(s)


def parse_time(value: Any, field: str) -> str | None:
    """ISO 8601 (with or without zone, ``T`` or space), a date, or Unix seconds → stored form."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, dt.datetime):
        return fmt_time(value)
    if isinstance(value, dt.date):
        return fmt_time(dt.datetime(value.year, value.month, value.day))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        secs = value / 1000 if value > 1e11 else value      # milliseconds from JavaScript exports
        try:
            return fmt_time(dt.datetime.fromtimestamp(secs, dt.timezone.utc))
        except (OverflowError, OSError, ValueError):
            raise TicketError(field, f"{value!r} is not a valid Unix time") from None
    s = str(value).strip()
    if _STORED.fullmatch(s):
        return s                                              # already in the stored form
    if _DIGITS.fullmatch(s):
        return parse_time(int(s), field)
    try:
        t = dt.datetime.fromisoformat(s)
    except ValueError:
        s2 = _SLASHED.sub(lambda m: f"{m[1]}-{int(m[2]):02d}-{int(m[3]):02d}", s)
        s2 = _HOUR.sub(r"\g<1>0\g<2>:", _UTC.sub("+00:00", s2))
        try:
            t = dt.datetime.fromisoformat(s2)
        except ValueError:
            raise TicketError(field, f"{s!r} is not a date and time (use ISO 8601, "
                                     "e.g. 2026-03-01T09:30:00Z)") from None
    if not 2000 <= t.year <= 2100:
        raise TicketError(field, f"{s!r} is outside the years 2000-2100")
    return fmt_time(t)


def _text(value: Any, field: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, (dict, list)):
        raise TicketError(field, "expected text, got a " + type(value).__name__)
    s = str(value)
    if "\r" in s:
        s = s.replace("\r\n", "\n").replace("\r", "\n")
    if _CONTROL.search(s):
        s = _CONTROL.sub("", s)
    s = s.strip()
    if not s:
        return None
    limit = TEXTS.get(field, 200)
    if len(s) > limit:
        raise TicketError(field, f"too long ({len(s)} characters, at most {limit})")
    return s


def _choice(value: Any, field: str, aliases: dict[str, str], allowed: tuple[str, ...]) -> str | None:
    if value is None or str(value).strip() == "":
        return None
    key = " ".join(str(value).strip().lower().split())
    if key not in aliases:
        raise TicketError(field, f"{value!r} is not one of {', '.join(allowed)}")
    return aliases[key]


def _bool(value: Any, field: str) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        return int(value)
    s = str(value).strip().lower()
    if s in _TRUE:
        return 1
    if s in _FALSE:
        return 0
    raise TicketError(field, f"{value!r} is not yes/no (use true/false, 1/0, yes/no)")


def _int(value: Any, field: str, lo: int, hi: int | None) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        return int(value)
    try:
        f = float(str(value).strip())
    except ValueError:
        raise TicketError(field, f"{value!r} is not a whole number") from None
    if not math.isfinite(f) or f != int(f) or f < lo or (hi is not None and f > hi):
        raise TicketError(field, f"{value!r} must be a whole number from {lo}"
                                 + (f" to {hi}" if hi is not None else " up"))
    return int(f)


def article_ids(value: Any) -> list[str]:
    """The ``articles`` field: a JSON list, or text separated by commas, semicolons, | or spaces."""
    if value is None:
        return []
    if isinstance(value, str):
        s = value.strip()
        if s.startswith("["):
            try:
                value = json.loads(s)
            except json.JSONDecodeError:
                raise TicketError("articles", f"{s[:60]!r} is not a JSON list") from None
        else:
            value = re.split(r"[,;|\s]+", s)
    if not isinstance(value, (list, tuple)):
        raise TicketError("articles", "expected a list of article ids")
    out: list[str] = []
    for v in value:
        a = str(v).strip() if v is not None else ""
        if not a:
            continue
        if len(a) > 100 or _CONTROL.search(a):
            raise TicketError("articles", f"{a[:60]!r} is not an article id")
        if a not in out:
            out.append(a)
    return out


def normalise(fields: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Ticket fields given (any subset) → (known fields normalised, unknown fields kept as is)."""
    row: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in fields.items():
        if key in ("articles", "demo", "source", "extra", "updated_at"):
            continue
        if key not in FIELDS:
            extra[key] = value
            continue
        if key in TIMES:
            row[key] = parse_time(value, key)
        elif key == "channel":
            row[key] = _choice(value, key, CHANNEL_ALIASES, CHANNELS)
        elif key == "priority":
            row[key] = _choice(value, key, PRIORITY_ALIASES, PRIORITIES)
        elif key == "status":
            row[key] = _choice(value, key, STATUS_ALIASES, STATUSES)
            if value is not None and str(value).strip().lower() == "reopened":
                row["_reopen"] = True
        elif key == "csat":
            row[key] = _int(value, key, 1, 5)
        elif key == "fcr":
            row[key] = _bool(value, key)
        elif key == "reopened":
            row[key] = _int(value, key, 0, None)
        else:
            row[key] = _text(value, key)
            if key == "product" and row[key]:
                row[key] = row[key].lower()
            if key == "id" and row[key] and any(c.isspace() for c in row[key]):
                raise TicketError("id", f"{row[key]!r} contains spaces")
    if "id" in fields and not row.get("id"):
        raise TicketError("id", "missing")
    return row, extra


def merge(existing: dict | None, given: dict[str, Any], extra: dict[str, Any], *,
          source: str, now: str) -> dict[str, Any]:
    """The stored row after applying ``given`` (present keys win, also when empty) to ``existing``;
    validated as a whole. A resolved ticket that goes back to an open status counts a reopen."""
    given = dict(given)
    reopen_word = given.pop("_reopen", False)
    row = {c: None for c in COLUMNS}
    if existing:
        row.update({c: existing.get(c) for c in COLUMNS})
    was_done = bool(existing) and existing.get("status") in DONE
    row.update(given)
    if extra:
        old = json.loads(row["extra"]) if row.get("extra") else {}
        old.update(extra)
        row["extra"] = json.dumps(old, ensure_ascii=False, default=str)
    if given.get("status"):
        pass
    elif existing and existing.get("status") and "status" not in given:
        row["status"] = existing["status"]
        if row["status"] not in DONE and (given.get("resolved_at") or given.get("closed_at")):
            row["status"] = _derive_status(row)
    else:
        row["status"] = _derive_status(row)
    reopening = row["status"] not in DONE and (was_done or (reopen_word and not existing))
    if reopening and "reopened" not in given:
        row["reopened"] = (row.get("reopened") or 0) + 1
    if reopening and was_done:
        for key in ("resolved_at", "closed_at"):
            if key not in given:
                row[key] = None
    if row["status"] in DONE and not row.get("resolved_at"):
        if row.get("closed_at"):
            row["resolved_at"] = row["closed_at"]
        elif source == "api":
            row["resolved_at"] = now          # a live event: it was resolved just now
        else:
            raise TicketError("resolved_at", f"required when status is {row['status']}")
    if row["status"] == "closed" and not row.get("closed_at") and source == "api":
        row["closed_at"] = now
    for key in REQUIRED:
        if row.get(key) in (None, ""):
            raise TicketError(key, "missing")
    for key in ("first_response_at", "resolved_at", "closed_at"):
        if row.get(key) and row[key] < row["created_at"]:
            raise TicketError(key, f"{row[key]} is before created_at {row['created_at']}")
    if row.get("closed_at") and row.get("resolved_at") and row["closed_at"] < row["resolved_at"]:
        raise TicketError("closed_at", f"{row['closed_at']} is before resolved_at {row['resolved_at']}")
    row["reopened"] = row.get("reopened") or 0
    row["demo"] = 1 if source == "demo" else 0
    row["source"] = source
    return row


def _derive_status(row: dict) -> str:
    return ("closed" if row.get("closed_at") else "resolved" if row.get("resolved_at")
            else "open" if row.get("first_response_at") else "new")


def same(a: dict | None, b: dict) -> bool:
    """Whether storing ``b`` would change nothing but bookkeeping."""
    return a is not None and all(a.get(c) == b.get(c) for c in FIELDS + ("extra", "demo"))


def public(row: dict | None) -> dict | None:
    """A stored row as callers see it: booleans as booleans, ``extra`` as a dict."""
    if row is None:
        return None
    out = dict(row)
    out["fcr"] = None if row.get("fcr") is None else bool(row["fcr"])
    out["demo"] = bool(row.get("demo"))
    out["extra"] = json.loads(row["extra"]) if row.get("extra") else {}
    return out
