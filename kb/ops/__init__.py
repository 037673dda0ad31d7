"""Operating a kb: backups and restores of the database, and the demo data set."""
