"""Task plugins, one module each; imported as ``codecbench.tasks.<name>``."""
