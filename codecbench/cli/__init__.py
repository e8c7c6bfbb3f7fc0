"""Command-line interface: ``codecbench run | table | check | list | quickstart | speed``."""
