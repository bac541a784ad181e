"""Tracker API clients: pages of live tracker data turned into `Report` records by the importers' parsers."""
