"""kb: knowledge base search for technical support teams. No web code lives here.

The packages, from the bottom up (docs/ARCHITECTURE.md draws them; `lint-imports` checks the
arrows): ``core`` (settings, errors, text analysis, articles, git, database, encoders, the index
generation format), ``search``, ``quality``, ``accounts``, ``tickets``, ``contrib``,
``analytics``, ``ops``, then ``evaluation`` and ``cli`` on top. ``indexer/`` (beside ``kb``)
builds what ``search`` reads.
"""

__version__ = "0.1.0"
