"""The Flask application factory: ``create_app(settings)`` wires one Searcher, per-request
database connections, sessions, CSRF protection, security and caching headers, UI language,
metrics and the blueprints of each surface: ``portal`` (customers), ``agent`` and ``contrib``
(staff), ``auth`` (signing in), ``api`` with the helpdesk ``webhooks`` and the ``githook``
(machines), ``ops`` (metrics and health) and ``files`` (what articles reference).
``start_refresher(app)`` and ``start_deliverer(app)`` run the refresher and the deliverer of
customers' requests in a server process.
"""
from __future__ import annotations

import datetime as dt
import gc
import hashlib
import os
import secrets
import sqlite3
from pathlib import Path

from flask import Flask, g, has_request_context, jsonify, make_response, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from kb.core import store
from kb.core.config import Settings
from kb.core.errors import DatabaseError, FieldError, IndexMissing, KbError, NotFound
from kb.search.searcher import Searcher
from kb.tickets.boost import searcher as boosted_searcher
from web import caching, common, i18n, telemetry

# Content Security Policy: no inline scripts or styles, nothing from other origins.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")


def _secret_key(settings: Settings) -> str:
    """KB_SECRET_KEY, or one generated once into KB_HOME/secret_key (readable by the owner only)."""
    if settings.secret_key:
        return settings.secret_key
    path = Path(settings.home) / "secret_key"
    try:
        return path.read_text("ascii").strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".secret_key.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_hex(32))
    try:
        os.link(tmp, path)      # atomic and never overwrites: concurrent workers agree on one key
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return path.read_text("ascii").strip()


def create_app(settings: Settings | None = None, searcher: Searcher | None = None) -> Flask:
    settings = settings or Settings.load()
    app = Flask(__name__)
    app.config.update(
        KB_SETTINGS=settings,
        SECRET_KEY=_secret_key(settings),
        SESSION_COOKIE_NAME="kb_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        PERMANENT_SESSION_LIFETIME=dt.timedelta(hours=settings.session_hours),
        WTF_CSRF_TIME_LIMIT=None,          # valid as long as the session: a call can last long
        MAX_CONTENT_LENGTH=1 << 20,
        JSON_SORT_KEYS=False,
        SEND_FILE_MAX_AGE_DEFAULT=3600,
    )
    app.json.ensure_ascii = False
    if settings.proxy_hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.proxy_hops, x_proto=settings.proxy_hops,
                                x_host=settings.proxy_hops)
    if searcher is None:
        searcher = boosted_searcher(settings)
    app.extensions["kb_searcher"] = searcher
    # One connection held for the app's life: the database exists, is in WAL mode and migrated
    # before the first request (requests never race to create it), and a request closing its
    # connection is never the last one, whose WAL clean-up takes an exclusive lock.
    # (PostgreSQL needs no such keeper: the database is only brought up to date here.)
    if settings.database_url:
        store.connect(settings).close()
    else:
        app.extensions["kb_db_keeper"] = store.connect(settings)
    csrf = CSRFProtect(app)
    i18n.init_app(app)

    app.before_request(common.load_user)
    app.before_request(caching.before_request)
    app.teardown_appcontext(common.close_db)

    from web import agent, api, auth, contrib, files, ops, portal
    from web.api import githook, helpdesk
    for blueprint in (auth.bp, agent.bp, portal.bp, api.bp, helpdesk.bp, githook.bp, ops.bp, contrib.bp, files.bp):
        app.register_blueprint(blueprint)
    # Machine-to-machine blueprints authenticate by signature or token, not by a session cookie;
    # anonymous feedback is checked by origin instead (web/portal/feedback.py), so its page can be cached.
    for blueprint in (helpdesk.bp, githook.bp, api.bp, ops.bp):
        csrf.exempt(blueprint)
    csrf.exempt(portal.feedback.feedback)
    # the request form checks origin or token itself, after raising the body limit for its screenshots
    csrf.exempt(portal.contact.contact_post)
    csrf.exempt(portal.answers.contact_solved)
    portal.contact.init_app(app)

    @app.get("/")
    def home():
        return redirect(url_for("agent.console" if common.current_user() else "portal.home"))

    @app.after_request
    def headers(resp):
        resp.headers.setdefault("Content-Security-Policy", CSP)
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("Referrer-Policy", "same-origin")
        resp.headers.setdefault("X-Frame-Options", "DENY")
        return telemetry.count_response(caching.after_request(resp))

    _template_globals(app, settings)
    _error_handlers(app)
    return app


def start_refresher(app: Flask):
    """Run the refresher (kb/service/refresher.py) in this server process, with the encoders its
    Searcher already loaded. Every worker runs one; the node's lock lets one of them work per
    cycle. A push webhook wakes this process's refresher at once."""
    from kb.service.refresher import Refresher
    refresher = Refresher(app.config["KB_SETTINGS"], pool=app.extensions["kb_searcher"].pool).start()
    app.extensions["kb_refresher"] = refresher
    return refresher


def start_deliverer(app: Flask):
    """Run the deliverer of customers' requests (kb/requests/deliverer.py) in this server
    process; the lease in the database lets one sender deliver each request."""
    from kb.requests.deliverer import Deliverer
    deliverer = Deliverer(app.config["KB_SETTINGS"]).start()
    app.extensions["kb_deliverer"] = deliverer
    return deliverer


def warm_up(app: Flask) -> None:
    """Load what the first search would otherwise wait for: the index, the Chinese dictionary and
    the sentence encoders (each worker process calls this once before taking requests)."""
    from kb.search.searcher import SearchQuery
    try:
        for text in ("printer offline", "打印机脱机"):    # each language uses its own encoders
            app.extensions["kb_searcher"].search(SearchQuery(text=text, limit=1))
        app.extensions["kb_searcher"].warm()          # now that the encoders are loaded
        with app.app_context():
            for role in ("customer", "agent"):
                common.facets(role)
    except IndexMissing:
        pass
    except Exception as e:   # a worker that cannot warm up still serves (and reports) requests
        app.logger.warning("warm-up search failed: %s", e)
    # What a warm worker holds for its whole life (the models, the loaded index: ~500k objects)
    # leaves the cyclic collector's sight: full collections walked it in the middle of searches
    # (34-300 ms pauses at 10k articles). A replaced index generation is still freed: it holds
    # no reference cycles, so reference counting frees it (tests/test_faults.py).
    gc.collect()
    gc.freeze()


STATUS_LABELS = {"published": "Published", "review": "In review", "draft": "Draft", "archived": "Archived"}
LINK_LABELS = {"resolved_by": "resolved by", "created_from": "created from", "referenced": "referenced"}
JS_STRINGS = {"copied": "Resolution copied", "copy_failed": "Could not copy: select the text instead",
              "network": "Network problem: try again", "set_ticket_first": "Set the current ticket first",
              "all_results": "See all results for “{q}”", "thanks_more": "Thank you! Anything to add? (optional)",
              "copy_code": "Copy", "code_copied": "Code copied", "uploading": "Adding the image…",
              "back_to_help": "Back to the help center"}


def _template_globals(app: Flask, settings: Settings) -> None:
    from kb.analytics.activity import FLAG_REASONS
    from web.agent.console import FLAG_LABELS

    static = Path(app.static_folder)
    versions = {p.name: hashlib.sha1(p.read_bytes()).hexdigest()[:10] for p in static.iterdir() if p.is_file()}
    # what a deploy may change in pages without a new index generation (part of their ETags)
    templates = sorted(Path(app.template_folder and Path(app.root_path) / app.template_folder).rglob("*.html"))
    app.config["KB_ASSETS_VERSION"] = hashlib.sha1("".join(
        [f"{k}={v}" for k, v in sorted(versions.items())] + [hashlib.sha1(p.read_bytes()).hexdigest()
                                                            for p in templates]).encode()).hexdigest()[:16]

    built: dict[tuple[str, str], str] = {}

    def asset(filename: str) -> str:
        """A static file's URL with its content version (built once per file and mount point:
        a results fragment draws a few dozen icons)."""
        key = (request.script_root if has_request_context() else "", filename)
        url = built.get(key)
        if url is None:
            url = built[key] = url_for("static", filename=filename, v=versions.get(filename))
        return url

    def js_strings() -> dict:
        return {k: i18n.gettext(v) for k, v in JS_STRINGS.items()}

    app.jinja_env.globals.update(asset=asset, status_labels=STATUS_LABELS, link_labels=LINK_LABELS,
                                 flag_labels=FLAG_LABELS, flag_reasons=FLAG_REASONS, js_strings=js_strings)

    @app.context_processor
    def per_request():
        user = g.get("user")
        count = 0
        if user is not None and user.is_engineer:
            count = common.db().execute("SELECT COUNT(*) FROM flags WHERE resolved_at IS NULL").fetchone()[0]
        return {"site_name": settings.site_name or i18n.gettext("Help Center"), "open_flag_count": count}


def _error_handlers(app: Flask) -> None:
    def page(status: int, title: str, message: str):
        if common.wants_json():
            return jsonify({"error": message}), status
        return render_template("error.html", status=status, title=title, message=message), status

    @app.errorhandler(FieldError)       # BadQuery and TicketError too
    def bad_field(e):
        if common.wants_json():
            return jsonify({"error": str(e), "field": e.field}), 400
        return page(400, i18n.gettext("That did not work"), str(e))

    @app.errorhandler(CSRFError)
    def csrf_error(e):
        return page(400, i18n.gettext("This form has expired"),
                    i18n.gettext("Reload the page and try again; nothing was saved."))

    @app.errorhandler(NotFound)
    def not_found(e):
        return page(404, i18n.gettext("Page not found"), i18n.gettext("There is no such page or article."))

    @app.errorhandler(IndexMissing)
    def index_missing(e):
        return page(503, i18n.gettext("Search is not ready"), str(e))

    @app.errorhandler(sqlite3.OperationalError)
    def database_busy(e):
        """Still locked after the connection's busy timeout (kb.core.store waits 30 s): try again
        later, not a crash. Other database errors stay 500s."""
        if "locked" not in str(e) and "busy" not in str(e):
            raise e
        app.logger.warning("%s %s answered 503: %s", request.method, request.path, e, exc_info=e)
        resp = make_response(page(503, i18n.gettext("The database is busy"),
                                  i18n.gettext("Try again in a moment; nothing was lost.")))
        resp.headers["Retry-After"] = "5"
        return resp

    @app.errorhandler(DatabaseError)
    def database_unreachable(e):
        """The database cannot be reached (a PostgreSQL server down, a file gone): 503, said once
        in the log with the reason, never a traceback to the visitor."""
        app.logger.error("%s %s answered 503: %s", request.method, request.path, e)
        resp = make_response(page(503, i18n.gettext("The database is busy"),
                                  i18n.gettext("Try again in a moment; nothing was lost.")))
        resp.headers["Retry-After"] = "5"
        return resp

    @app.errorhandler(KbError)
    def kb_error(e):
        return page(400, i18n.gettext("That did not work"), str(e))

    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException):
        titles = {403: "You cannot open this page", 404: "Page not found", 405: "Not allowed",
                  413: "That is too large", 429: "Too many attempts"}
        messages = {403: "Your role does not give access to this page.",
                    404: "There is no such page or article."}
        title = i18n.gettext(titles.get(e.code or 500, "Something went wrong"))
        msg = i18n.gettext(messages[e.code]) if e.code in messages else (e.description or "")
        return page(e.code or 500, title, msg)
