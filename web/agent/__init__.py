"""Blueprint ``agent``: the staff side, signed-in roles only — the search console used on live
calls (console.py), tickets (tickets.py), similar resolved tickets (similar.py), and article pages with history, links, feedback and
flags (articles.py)."""
from flask import Blueprint, current_app, url_for
from werkzeug.routing import BuildError

bp = Blueprint("agent", __name__, url_prefix="/agent")
# The view that captures a new article from a ticket (web/contrib); it takes ``ticket_id``.
CAPTURE_ENDPOINT = "contrib.capture_from_ticket"


def capture_url(ticket_id: str) -> str | None:
    """Where to capture an article from this ticket, when the app has the capture form."""
    if CAPTURE_ENDPOINT not in current_app.view_functions:
        return None
    try:
        return url_for(CAPTURE_ENDPOINT, ticket_id=ticket_id)
    except BuildError:
        return None


from web.agent import articles, console, tickets  # noqa: E402,F401  (registers the views)
from web.agent import similar  # noqa: E402,F401
