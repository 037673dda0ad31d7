"""Article search at query time: the Searcher over the live index generation (keyword BM25F
impacts, vector scans, fusion, role filters), hits with snippets, and suggestions while someone
types. Reads generations, never builds them (that is ``indexer``)."""
