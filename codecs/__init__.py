"""Codec plugins, one module each; imported as ``bench.codecs.<name>``.

A module registers its variants with :func:`bench.registry.register_codec` and declares
``PLUGIN_NAMES`` (and ``PLUGIN_EXTRA`` when it needs an optional dependency) so that
``bench list`` can show it even when that dependency is not installed.
"""
