"""What an article shows besides its words: Markdown rendered to safe HTML with callouts,
highlighted code and figures (render.py), and the files it references from the articles
repository. Used by the pages, `kb check` and the indexer alike, so it sits just above the core.
"""
