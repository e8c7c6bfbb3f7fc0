"""Task plugins, one module each; imported as ``bench.tasks.<name>``."""
