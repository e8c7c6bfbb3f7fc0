"""Data files of the harness (package data: found through codecbench.util.shipped)."""
