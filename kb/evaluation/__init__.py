"""`kb eval`: search quality measured on labelled sets (built into a throwaway index through
``indexer``) and on the knowledge base's own resolved tickets. Sits above ``kb.search`` and
``indexer``."""
