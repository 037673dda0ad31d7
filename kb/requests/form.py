"""What a customer may send on the request form, checked field by field: e-mail, name,
product, subject, description, how urgent, up to three screenshots. Every problem is a
FieldError naming the field, so the form shows it beside that field and nothing is stored.

A name or subject with a line break is refused, not repaired: those two go into mail headers
(Reply-To, Subject), where a line break would let the text add headers of its own.
"""
from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import dataclass, field

from kb.core.errors import FieldError, FileProblem
from kb.core.handoff import email_ok
from kb.documents.uploads import CleanImage, clean_image

PRIORITIES = ("urgent", "important", "normal")          # the helpdesk's priorities
LANGUAGES = ("en", "zh")
LIMITS = {"email": 254, "name": 100, "subject": 200, "description": 10_000, "product": 100}
MIN_DESCRIPTION = 10
MAX_SCREENSHOTS = 3
FIELDS = ("email", "name", "product", "subject", "description", "priority")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"                # no 0/O, 1/I/L, U: read out on the phone


@dataclass
class RequestForm:
    email: str
    name: str
    subject: str
    description: str
    priority: str = "normal"
    product: str | None = None
    language: str = "en"
    screenshots: list[CleanImage] = field(default_factory=list)


def new_reference() -> str:
    """``REQ-7K3M9QXD``: eight characters from 30, about 6.6 × 10¹¹ references."""
    return "REQ-" + "".join(secrets.choice(_ALPHABET) for _ in range(8))


def new_idempotency_key() -> str:
    return str(uuid.uuid4())


def one_line(value: str, name: str) -> str:
    if "\r" in value or "\n" in value:
        raise FieldError(name, "must be one line: line breaks are not allowed here")
    return value


def _text(data: dict, name: str, required: bool = True) -> str | None:
    raw = data.get(name)
    value = "" if raw is None else str(raw)
    if name == "description":
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    else:
        one_line(value, name)
    value = _CONTROL.sub("", value).strip()
    if not value:
        if required:
            raise FieldError(name, "required")
        return None
    if len(value) > LIMITS[name]:
        raise FieldError(name, f"too long ({len(value)} characters, at most {LIMITS[name]})")
    return value


def check_email(raw: str | None) -> str:
    value = (raw or "").strip()
    if not value:
        raise FieldError("email", "required")
    one_line(value, "email")
    if not email_ok(value):
        raise FieldError("email", f"{value[:80]!r} is not an e-mail address such as name@example.com")
    return value


def check(data: dict, *, products: list[str] | None = None, language: str = "en") -> RequestForm:
    """The form's text fields, checked in the order the form shows them (the first problem wins)."""
    email = check_email(data.get("email"))
    name = _text(data, "name")
    product = _text(data, "product", required=False)
    if product and products is not None and product not in products:
        raise FieldError("product", f"{product[:60]!r} is not one of the products offered")
    subject = _text(data, "subject")
    description = _text(data, "description")
    if len(description) < MIN_DESCRIPTION:
        raise FieldError("description", f"too short: describe the problem in at least {MIN_DESCRIPTION} characters")
    priority = (data.get("priority") or "normal").strip().lower()
    if priority not in PRIORITIES:
        raise FieldError("priority", f"{priority[:30]!r} is not one of {', '.join(PRIORITIES)}")
    return RequestForm(email=email, name=name, subject=subject, description=description, priority=priority,
                       product=product, language=language if language in LANGUAGES else "en")


def screenshots(files: list[tuple[str, bytes]], max_bytes: int) -> list[CleanImage]:
    """Uploaded screenshots checked and re-encoded without metadata (kb.documents.uploads)."""
    files = [(n, d) for n, d in files if n or d]
    if len(files) > MAX_SCREENSHOTS:
        raise FieldError("screenshots", f"at most {MAX_SCREENSHOTS} screenshots, got {len(files)}")
    out = []
    for name, data in files:
        try:
            out.append(clean_image(name or "screenshot", data, max_bytes))
        except FileProblem as e:
            raise FieldError("screenshots", str(e)) from None
    return out
