"""The Flask application factory: one app, one Searcher shared by all requests."""
from __future__ import annotations

from flask import Flask, jsonify, render_template, request

from kb.config import Settings
from kb.errors import BadQuery, IndexMissing, KbError, NotFound
from kb.search import Searcher, SearchQuery

SEARCH_PARAMS = {"q", "limit", "lang", "product", "mode"}


def create_app(settings: Settings | None = None, searcher: Searcher | None = None) -> Flask:
    settings = settings or Settings.load()
    app = Flask(__name__)
    app.config["KB_SETTINGS"] = settings
    app.extensions["kb_searcher"] = searcher or Searcher(settings)

    def run_search(args, role: str):
        unknown = sorted(set(args) - SEARCH_PARAMS)
        if unknown:
            raise BadQuery(unknown[0], "unknown parameter")
        try:
            limit = int(args.get("limit", 10))
        except ValueError:
            raise BadQuery("limit", f"must be a whole number, got {args.get('limit')!r}") from None
        q = SearchQuery(text=args.get("q", ""), limit=limit, role=role, lang=args.get("lang") or None,
                        product=args.get("product") or None, mode=args.get("mode", "hybrid"))
        return app.extensions["kb_searcher"].search(q)

    @app.get("/")
    def home():
        return render_template("search.html")

    @app.get("/api/v1/search")
    def api_search():
        res = run_search(request.args, role="customer")
        return jsonify(res.to_dict(explain=False))

    @app.errorhandler(BadQuery)
    def bad_query(e: BadQuery):
        return jsonify({"error": str(e), "field": e.field}), 400

    @app.errorhandler(NotFound)
    def not_found(e):
        return jsonify({"error": str(e)}), 404

    @app.errorhandler(IndexMissing)
    def index_missing(e):
        return jsonify({"error": str(e)}), 503

    @app.errorhandler(KbError)
    def kb_error(e):
        return jsonify({"error": str(e)}), 400

    return app
