"""The signed webhook to the helpdesk (``KB_REQUEST_WEBHOOK_URL``), through the standard
library's urllib.

Every attempt sends the same JSON body with ``Idempotency-Key`` (one per request, the same on
every retry) and ``X-KB-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">``, keyed
with ``KB_REQUEST_WEBHOOK_SECRET``. ``verify`` is what a receiver does (the README shows it);
a 2xx answer is a delivery, and a JSON answer may name the helpdesk's ticket
(``ticket_id``, ``id`` or ``ticket.id``). Anything else is a failure to retry.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request

import kb

HEADER = "X-KB-Signature"
TOLERANCE = 300            # seconds a receiver should accept between the signature's time and its own
MAX_ANSWER = 64 * 1024


class DeliveryFailed(Exception):
    """One attempt did not deliver; the message says why (never the customer's data)."""


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    t = int(time.time() if timestamp is None else timestamp)
    mac = hmac.new(secret.encode("utf-8"), f"{t}.".encode("ascii") + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def verify(secret: str, body: bytes, header: str | None, *, now: float | None = None,
           tolerance: int = TOLERANCE) -> bool:
    """Whether ``header`` signs ``body`` with ``secret`` within ``tolerance`` seconds of ``now``."""
    try:
        parts = dict(p.split("=", 1) for p in (header or "").split(","))
        t = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - t) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, body, t), f"t={t},v1={parts.get('v1', '')}")


def _ticket_id(answer: bytes) -> str | None:
    try:
        data = json.loads(answer or b"null")
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    for value in (data.get("ticket_id"), data.get("id"),
                  data.get("ticket", {}).get("id") if isinstance(data.get("ticket"), dict) else None):
        if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value).strip():
            return str(value).strip()[:100]
    return None


def send(settings, payload: dict) -> str | None:
    """POST the payload; the helpdesk's ticket id when its answer names one. DeliveryFailed else."""
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    req = urllib.request.Request(settings.request_webhook_url, data=body, method="POST", headers={
        "Content-Type": "application/json; charset=utf-8", "User-Agent": f"kb/{kb.__version__}",
        "Idempotency-Key": payload["idempotency_key"], "X-KB-Reference": payload["reference"],
        HEADER: sign(settings.request_webhook_secret, body)})
    try:
        with urllib.request.urlopen(req, timeout=settings.request_timeout) as resp:
            return _ticket_id(resp.read(MAX_ANSWER))
    except urllib.error.HTTPError as e:
        detail = " ".join(e.read(300).decode("utf-8", "replace").split())[:200]
        raise DeliveryFailed(f"the helpdesk answered HTTP {e.code}" + (f": {detail}" if detail else "")) from None
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise DeliveryFailed(f"the helpdesk cannot be reached: {reason}") from None
