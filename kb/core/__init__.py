"""The foundations every other part of kb stands on: the one Settings object, typed errors,
text analysis (Chinese and English), the Article model, the git repository of articles, the
database and its migrations, the sentence encoders, and the on-disk format of index
generations (written by ``indexer``, read by ``kb.search`` and ``kb.tickets``).
Imports nothing from the rest of kb."""
