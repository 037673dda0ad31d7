"""Building kb's search indexes from the articles folder (keyword index and vectors)."""
