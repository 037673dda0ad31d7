"""Blueprint ``agent``: the staff side, signed-in roles only — the search console used on live
calls (console.py), tickets (tickets.py), similar resolved tickets (similar.py), and article pages with history, links, feedback and
flags (articles.py)."""
from flask import Blueprint

bp = Blueprint("agent", __name__, url_prefix="/agent")

from web.agent import articles, console, tickets  # noqa: E402,F401  (registers the views)
from web.agent import similar  # noqa: E402,F401
