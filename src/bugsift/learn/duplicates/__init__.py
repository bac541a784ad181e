"""Duplicate search: full-text candidates in the store, re-ranked by a model learned from duplicate links."""
