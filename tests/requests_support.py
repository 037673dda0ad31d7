"""Real counterparts of the helpdesk for the request tests: an HTTP receiver (a small threaded
http.server on a free loopback port) that checks each webhook's signature and answers as a
test scripts it, and a real SMTP server (aiosmtpd) with STARTTLS or TLS and a login, its
certificate signed by a throw-away CA (trustme). Both stop by themselves after ``LIFETIME``
seconds at the latest."""
from __future__ import annotations

import json
import socket
import ssl
import threading
import time
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from kb.requests.webhook import HEADER, verify

LIFETIME = 600
SECRET = "receiver-shared-secret-0123456789"
SMTP_USER, SMTP_PASSWORD = "kb-mailer", "smtp-password-42"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Receiver:
    """``statuses``: what the first POSTs get (e.g. [500, 500]); then 200 with a ticket id.
    A repeated idempotency key gets the same ticket id again and is not counted twice."""

    def __init__(self, statuses=(), secret: str = SECRET, hold: threading.Event | None = None, delay: float = 0):
        self.statuses = list(statuses)
        self.delay = delay                     # seconds each answer takes (a helpdesk is not instant)
        self.secret = secret
        self.hold = hold                       # set: the next POST waits for it before answering
        self.posts: list[dict] = []            # every POST: headers, body, signature_ok, status
        self.accepted: dict[str, dict] = {}    # idempotency key → first payload answered 200
        self.lock = threading.Lock()
        self.arrived = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.handle(self, body)

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/kb"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.timer = threading.Timer(LIFETIME, self.stop)
        self.timer.daemon = True
        self.timer.start()

    def handle(self, h, body: bytes) -> None:
        ok = verify(self.secret, body, h.headers.get(HEADER))
        key = h.headers.get("Idempotency-Key")
        with self.lock:
            post = {"headers": dict(h.headers), "body": body, "signature_ok": ok, "key": key}
            self.posts.append(post)
            status = 401 if not ok else (self.statuses.pop(0) if self.statuses else 200)
            post["status"] = status
            if status == 200 and key not in self.accepted:
                self.accepted[key] = json.loads(body)
            ticket = f"HD-{list(self.accepted).index(key) + 1000}" if key in self.accepted else None
        self.arrived.set()
        if self.delay:
            time.sleep(self.delay)
        if self.hold is not None and not self.hold.is_set():
            self.hold.wait(LIFETIME)
        answer = json.dumps({"ticket_id": ticket} if status == 200 else {"error": "down for maintenance"}).encode()
        try:
            h.send_response(status)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(answer)))
            h.end_headers()
            h.wfile.write(answer)
        except OSError:           # the sender is gone (killed): nothing to answer
            pass

    def stop(self) -> None:
        self.timer.cancel()
        if self.hold is not None:
            self.hold.set()
        self.server.shutdown()
        self.server.server_close()


class Mailbox:
    """aiosmtpd on a free loopback port: ``tls="starttls"`` (submission) or ``"tls"`` (smtps),
    a login required; ``messages`` are the parsed mails received."""

    def __init__(self, folder: Path, tls: str = "starttls", user: str = SMTP_USER, password: str = SMTP_PASSWORD):
        import trustme
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult

        self.messages: list = []
        self.envelopes: list = []
        self.arrived = threading.Event()
        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost")
        self.ca_file = Path(folder) / "smtp-ca.pem"
        ca.cert_pem.write_to_path(str(self.ca_file))
        server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(server_ctx)
        box = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                box.envelopes.append(envelope)
                box.messages.append(message_from_bytes(envelope.original_content or envelope.content,
                                                       policy=policy.default))
                box.arrived.set()
                return "250 OK"

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = auth_data.login.decode() == user and auth_data.password.decode() == password
            return AuthResult(success=ok, handled=False)      # handled=False: aiosmtpd answers 535 itself

        self.port = free_port()
        kwargs = dict(hostname="127.0.0.1", port=self.port, authenticator=authenticator, auth_required=True,
                      auth_exclude_mechanism=["LOGIN"],
                      auth_require_tls=True, server_hostname="localhost")
        if tls == "tls":       # aiosmtpd sees only STARTTLS as TLS; this connection is TLS from its first byte
            kwargs.update(ssl_context=server_ctx, auth_require_tls=False)
        else:
            kwargs.update(tls_context=server_ctx, require_starttls=True)
        self.controller = Controller(Handler(), **kwargs)
        self.controller.start()
        self.url = f"{'smtps' if tls == 'tls' else 'smtp'}://{user}:{password}@127.0.0.1:{self.port}"
        self.timer = threading.Timer(LIFETIME, self.stop)
        self.timer.daemon = True
        self.timer.start()

    def stop(self) -> None:
        self.timer.cancel()
        try:
            self.controller.stop()
        except Exception:        # already stopped
            pass
