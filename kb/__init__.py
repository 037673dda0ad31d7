"""kb: knowledge base search for technical support teams (core library, no web code)."""

__version__ = "0.1.0"
