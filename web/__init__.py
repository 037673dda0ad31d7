"""kb's web app: create_app(settings) builds the Flask application."""
from web.app import create_app

__all__ = ["create_app"]
