"""Data files of the harness (package data: found through bench.resources)."""
