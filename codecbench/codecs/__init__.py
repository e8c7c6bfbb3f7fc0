"""Codec plugins, one module (or package) each; imported as ``codecbench.codecs.<name>``.

A module registers its class with :func:`codecbench.plugins.registry.register_codec`, given one name or a
literal table of named variants and their params, and declares ``PLUGIN_EXTRA`` (or
``PLUGIN_HINT``) when it needs an optional dependency, so that ``codecbench list`` can show its
names even when that dependency is not installed. Pretrained weights are declared as
``assets`` on the class and resolved by :mod:`codecbench.assets`.
"""
