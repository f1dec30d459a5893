"""Preprocessing: the column codec that maps a table to model coordinates, and discreteness."""
