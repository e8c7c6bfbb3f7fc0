"""Command-line interface: ``bench run | table | check | list | quickstart | speed``."""
