"""What a plugin sees: the one package codecs, tasks, metrics and datasets import from (the layer test enforces it).

A codec subclasses :class:`Codec` and returns :class:`Tokens`; a task subclasses :class:`Task` and writes rows through
its :class:`TaskContext`; a metric subclasses :class:`Metric`; a dataset adapter is a function registered with
:func:`register_dataset`. Options are annotated with the types of :mod:`codecbench.util.options` (:class:`Range`,
:data:`PositiveInt`, ...), checked where a config enters. Weights are declared as :class:`Asset` and found with
``assets.locate`` / :func:`weights_or_random`; helpers plugins share (audio I/O and resampling, caches, the text
normaliser and alignment, kNN, parity checks) are here too.

Names load on first use (``from codecbench.api import Codec`` imports torch; ``import codecbench.api`` does not).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

#: name -> the module that defines it
_SOURCES: dict[str, str] = {
    "Capabilities": "codecbench.api.codec",
    "Codec": "codecbench.api.codec",
    "GroupedCodec": "codecbench.api.codec",
    "Tokens": "codecbench.api.codec",
    "codebook_tables": "codecbench.api.codec",
    "elias_gamma_bits": "codecbench.api.codec",
    "length_groups": "codecbench.api.codec",
    "map_length_groups": "codecbench.api.codec",
    "pad_batch": "codecbench.api.codec",
    "checked_audio": "codecbench.api.contract",
    "checked_decode": "codecbench.api.contract",
    "contract_failures": "codecbench.api.contract",
    "DatasetSpec": "codecbench.api.datasets",
    "Download": "codecbench.api.datasets",
    "Utterance": "codecbench.api.datasets",
    "load_dataset": "codecbench.api.datasets",
    "DiskCache": "codecbench.api.diskcache",
    "make_key": "codecbench.api.diskcache",
    "cosine_distance": "codecbench.api.nearest",
    "knn": "codecbench.api.nearest",
    "Backend": "codecbench.api.metric",
    "Metric": "codecbench.api.metric",
    "MetricOutput": "codecbench.api.metric",
    "Score": "codecbench.api.metric",
    "library_versions": "codecbench.api.metric",
    "Check": "codecbench.api.parity",
    "compare_tensors": "codecbench.api.parity",
    "ItemId": "codecbench.api.rows",
    "WHOLE": "codecbench.api.rows",
    "Row": "codecbench.api.rows",
    "RowSink": "codecbench.api.rows",
    "RATE_OUTPUTS": "codecbench.api.task",
    "Task": "codecbench.api.task",
    "TaskContext": "codecbench.api.task",
    "cached_encode": "codecbench.api.task",
    "codec_flags": "codecbench.api.task",
    "score_batch": "codecbench.api.task",
    "scoring_window": "codecbench.api.task",
    "align": "codecbench.api.text",
    "english_normalizer": "codecbench.api.text",
    "word_errors": "codecbench.api.text",
    "words": "codecbench.api.text",
    "Asset": "codecbench.assets",
    "AssetNotFound": "codecbench.assets",
    "weights_or_random": "codecbench.assets",
    "load_transformers": "codecbench.assets.checks",
    "register_codec": "codecbench.plugins.registry",
    "register_command": "codecbench.plugins.registry",
    "register_dataset": "codecbench.plugins.registry",
    "register_metric": "codecbench.plugins.registry",
    "register_parity": "codecbench.plugins.registry",
    "register_task": "codecbench.plugins.registry",
    "AudioError": "codecbench.util.audio",
    "CodecInput": "codecbench.util.audio",
    "METRIC_SAMPLE_RATE": "codecbench.util.audio",
    "array_digest": "codecbench.util.audio",
    "codec_input": "codecbench.util.audio",
    "load_audio": "codecbench.util.audio",
    "match_length": "codecbench.util.audio",
    "resample": "codecbench.util.audio",
    "validate_audio": "codecbench.util.audio",
    "write_audio": "codecbench.util.audio",
    "file_name": "codecbench.util.names",
    "BatchSize": "codecbench.util.options",
    "Count": "codecbench.util.options",
    "Dropout": "codecbench.util.options",
    "Fraction": "codecbench.util.options",
    "NonNegativeFloat": "codecbench.util.options",
    "OpenFraction": "codecbench.util.options",
    "PositiveFloat": "codecbench.util.options",
    "PositiveInt": "codecbench.util.options",
    "Range": "codecbench.util.options",
    "SampleRate": "codecbench.util.options",
    "Seed": "codecbench.util.options",
    "arg_type": "codecbench.util.options",
    "validate_options": "codecbench.util.options",
    "cache_dir": "codecbench.util.paths",
    "prefetch": "codecbench.util.prefetch",
    "configured_threads": "codecbench.util.threads",
    "load_yaml": "codecbench.util.yamlfile",
}
#: modules plugins use whole (``assets.locate(...)``)
_MODULES = {"assets": "codecbench.assets"}

__all__ = [
    "Asset",
    "AssetNotFound",
    "AudioError",
    "Backend",
    "BatchSize",
    "Capabilities",
    "Check",
    "Codec",
    "CodecInput",
    "Count",
    "DatasetSpec",
    "Download",
    "DiskCache",
    "Dropout",
    "Fraction",
    "GroupedCodec",
    "ItemId",
    "METRIC_SAMPLE_RATE",
    "Metric",
    "MetricOutput",
    "NonNegativeFloat",
    "OpenFraction",
    "PositiveFloat",
    "PositiveInt",
    "RATE_OUTPUTS",
    "Range",
    "Row",
    "RowSink",
    "SampleRate",
    "Score",
    "Seed",
    "Task",
    "TaskContext",
    "Tokens",
    "Utterance",
    "WHOLE",
    "align",
    "arg_type",
    "array_digest",
    "assets",
    "cache_dir",
    "cached_encode",
    "checked_audio",
    "checked_decode",
    "contract_failures",
    "codebook_tables",
    "codec_flags",
    "codec_input",
    "compare_tensors",
    "configured_threads",
    "cosine_distance",
    "elias_gamma_bits",
    "english_normalizer",
    "file_name",
    "knn",
    "length_groups",
    "library_versions",
    "load_audio",
    "load_dataset",
    "load_transformers",
    "load_yaml",
    "make_key",
    "map_length_groups",
    "match_length",
    "pad_batch",
    "prefetch",
    "register_codec",
    "register_command",
    "register_dataset",
    "register_metric",
    "register_parity",
    "register_task",
    "resample",
    "score_batch",
    "scoring_window",
    "validate_audio",
    "validate_options",
    "weights_or_random",
    "word_errors",
    "words",
    "write_audio",
]


def __getattr__(name: str) -> Any:
    if name in _MODULES:
        return importlib.import_module(_MODULES[name])
    if name in _SOURCES:
        value = getattr(importlib.import_module(_SOURCES[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'codecbench.api' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:  # the same names, for type checkers and editors
    from codecbench import assets as assets
    from codecbench.api.codec import (
        Capabilities,
        Codec,
        GroupedCodec,
        Tokens,
        codebook_tables,
        elias_gamma_bits,
        length_groups,
        map_length_groups,
        pad_batch,
    )
    from codecbench.api.contract import checked_audio, checked_decode, contract_failures
    from codecbench.api.datasets import DatasetSpec, Download, Utterance, load_dataset
    from codecbench.api.diskcache import DiskCache, make_key
    from codecbench.api.metric import Backend, Metric, MetricOutput, Score, library_versions
    from codecbench.api.nearest import cosine_distance, knn
    from codecbench.api.parity import Check, compare_tensors
    from codecbench.api.rows import WHOLE, ItemId, Row, RowSink
    from codecbench.api.task import (
        RATE_OUTPUTS,
        Task,
        TaskContext,
        cached_encode,
        codec_flags,
        score_batch,
        scoring_window,
    )
    from codecbench.api.text import align, english_normalizer, word_errors, words
    from codecbench.assets import Asset, AssetNotFound, weights_or_random
    from codecbench.assets.checks import load_transformers
    from codecbench.plugins.registry import (
        register_codec,
        register_command,
        register_dataset,
        register_metric,
        register_parity,
        register_task,
    )
    from codecbench.util.audio import (
        METRIC_SAMPLE_RATE,
        AudioError,
        CodecInput,
        array_digest,
        codec_input,
        load_audio,
        match_length,
        resample,
        validate_audio,
        write_audio,
    )
    from codecbench.util.names import file_name
    from codecbench.util.options import (
        BatchSize,
        Count,
        Dropout,
        Fraction,
        NonNegativeFloat,
        OpenFraction,
        PositiveFloat,
        PositiveInt,
        Range,
        SampleRate,
        Seed,
        arg_type,
        validate_options,
    )
    from codecbench.util.paths import cache_dir
    from codecbench.util.prefetch import prefetch
    from codecbench.util.threads import configured_threads
    from codecbench.util.yamlfile import load_yaml
