"""The request by e-mail to the support address (``KB_SUPPORT_EMAIL``) through the mail
server of ``KB_SMTP_URL``, with the standard library's smtplib and email: ``smtp://`` upgrades
the connection with STARTTLS (and refuses to go on without it), ``smtps://`` speaks TLS from
the start; the certificate and host name are always checked (``KB_SMTP_CA_FILE`` names a
private CA); a user and password in the URL log in.

The mail is plain text only — the same content as the webhook — with the screenshots
attached. ``Reply-To`` is the customer, the subject starts with the reference in brackets (the
helpdesk keeps it, and kb matches the resolved ticket by it), and the ``Message-ID`` is made
from the idempotency key, so a mail sent twice after a crash is recognisably the same mail.
"""
from __future__ import annotations

import smtplib
import ssl
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate

from kb.core.handoff import smtp_parts
from kb.requests import payload as payloads
from kb.requests.webhook import DeliveryFailed


def message(settings, p: dict, files: list[dict]) -> EmailMessage:
    msg = EmailMessage(policy=SMTP)
    sender = settings.mail_from or settings.support_email
    msg["From"] = sender
    msg["To"] = settings.support_email
    msg["Reply-To"] = Address(display_name=p["customer"]["name"], addr_spec=p["customer"]["email"])
    msg["Subject"] = f"[{p['reference']}] {p['subject']}"
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = f"<{p['idempotency_key']}@{sender.rpartition('@')[2]}>"
    msg["X-KB-Reference"] = p["reference"]
    msg["X-KB-Priority"] = p["priority"]
    msg.set_content(payloads.text(p), subtype="plain", charset="utf-8")
    for f in files:
        main, _, sub = f["mime"].partition("/")
        msg.add_attachment(bytes(f["data"]), maintype=main, subtype=sub, filename=f["name"])
    return msg


def send(settings, p: dict, files: list[dict]) -> None:
    """Send the mail, or DeliveryFailed saying why."""
    server = smtp_parts(settings.smtp_url)
    context = ssl.create_default_context(cafile=str(settings.smtp_ca_file) if settings.smtp_ca_file else None)
    msg = message(settings, p, files)
    where = f"{server['host']}:{server['port']}"
    try:
        if server["tls"] == "tls":
            smtp = smtplib.SMTP_SSL(server["host"], server["port"], timeout=settings.request_timeout, context=context)
        else:
            smtp = smtplib.SMTP(server["host"], server["port"], timeout=settings.request_timeout)
        with smtp:
            if server["tls"] == "starttls":
                smtp.ehlo()
                if not smtp.has_extn("starttls"):
                    raise DeliveryFailed(f"the mail server {where} offers no STARTTLS: kb does not send in clear")
                smtp.starttls(context=context)
                smtp.ehlo()
            if server["user"]:
                smtp.login(server["user"], server["password"])
            smtp.send_message(msg)
    except DeliveryFailed:
        raise
    except smtplib.SMTPAuthenticationError as e:
        raise DeliveryFailed(f"the mail server {where} refused the login in KB_SMTP_URL ({e.smtp_code})") from None
    except smtplib.SMTPResponseException as e:
        text = e.smtp_error.decode("utf-8", "replace") if isinstance(e.smtp_error, bytes) else str(e.smtp_error)
        raise DeliveryFailed(f"the mail server {where} answered {e.smtp_code}: {' '.join(text.split())[:200]}") from None
    except smtplib.SMTPNotSupportedError as e:
        raise DeliveryFailed(f"the mail server {where} cannot do what KB_SMTP_URL asks: {e}") from None
    except ssl.SSLError as e:
        raise DeliveryFailed(f"TLS with the mail server {where} failed: {e.reason or e}") from None
    except (smtplib.SMTPException, OSError) as e:
        raise DeliveryFailed(f"the mail server {where} cannot be reached: {e}") from None
