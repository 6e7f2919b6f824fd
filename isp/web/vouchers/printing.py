"""Print views (being written)."""
