"""Blueprint ``contrib``: agents capture knowledge where support work happens — a new article
from a ticket (capture.py, with search-before-create and customer-data scrubbing) or an edited
existing article with live preview and diff (improve.py) — and engineers review the queue,
edit, reject with a reason or export to a git branch (review.py); screenshots pasted or uploaded
into a draft (images.py). The rules live in kb.contrib;
this package only turns requests into calls and answers into pages."""
from flask import Blueprint

bp = Blueprint("contrib", __name__, url_prefix="/agent/contrib")

from web.contrib import capture, images, improve, review, translate  # noqa: E402,F401  (registers the views)


@bp.app_template_global()
def open_improvements(article_id: str) -> list[dict]:
    """Improvements of an article waiting for review or merge (for the article page)."""
    from kb.contrib.capture import pending_for_article
    from web import common
    return pending_for_article(common.db()).get(article_id, [])
