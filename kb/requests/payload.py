"""What the helpdesk receives about one request — the same content two ways: the webhook's
JSON object and the plain text of the mail (never HTML). Screenshots travel as base64 in the
JSON and as attachments of the mail.
"""
from __future__ import annotations

import base64
import json

VERSION = 1


def build(request: dict, files: list[dict], *, with_content: bool = True) -> dict:
    """The webhook's JSON object for a stored request (kb.requests.records.get's row)."""
    ctx = request["context"] if isinstance(request["context"], dict) else json.loads(request["context"] or "{}")
    shots = []
    for f in files:
        shot = {"name": f["name"], "mime": f["mime"], "size": f["size"], "width": f["width"], "height": f["height"]}
        if with_content:
            shot["content_base64"] = base64.b64encode(bytes(f["data"])).decode("ascii")
        shots.append(shot)
    return {
        "type": "kb.request", "version": VERSION,
        "reference": request["reference"], "idempotency_key": request["idempotency_key"],
        "created_at": request["created_at"], "channel": "web", "priority": request["priority"],
        "language": request["language"],
        "customer": {"name": request["name"], "email": request["email"]},
        "product": request["product"], "subject": request["subject"], "description": request["description"],
        "articles": {"suggested": ctx.get("suggested", []), "opened": ctx.get("opened", [])},
        "searches": ctx.get("searches", []),
        "screenshots": shots,
    }


def _articles(items: list[dict]) -> list[str]:
    return [f"  - {a['id']}  {a.get('title') or ''}" + (f"\n    {a['url']}" if a.get("url") else "") for a in items] \
        or ["  (none)"]


def text(p: dict) -> str:
    """The mail's plain-text body: the same content as the JSON (screenshots are attached)."""
    c = p["customer"]
    lines = [f"New request from the help center: {p['reference']}", "",
             f"From:        {c['name']} <{c['email']}>",
             f"Product:     {p['product'] or '(not given)'}",
             f"How urgent:  {p['priority']}",
             f"Language:    {p['language']}",
             f"Received:    {p['created_at']}", "",
             f"Subject: {p['subject']}", "", p["description"], "",
             "Articles suggested to the customer:", *_articles(p["articles"]["suggested"]), "",
             "Articles the customer opened:", *_articles(p["articles"]["opened"]), "",
             "Searches in the help center:",
             *([f"  - {q}" for q in p["searches"]] or ["  (none)"]), ""]
    if p["screenshots"]:
        lines += [f"Screenshots attached: {len(p['screenshots'])}", *[
            f"  - {s['name']} ({s['width']}×{s['height']}, {s['size']} bytes)" for s in p["screenshots"]], ""]
    lines += ["--", f"Reference: {p['reference']}", f"Idempotency key: {p['idempotency_key']}",
              "Reply to this mail to answer the customer."]
    return "\n".join(lines) + "\n"
