"""Contributions: articles and improvements agents capture from tickets, their review states,
and their export to git branches (and merge tracking)."""
