"""`python -m kb.cli …` runs the `kb` command."""
from kb.cli import main

main()
