"""The offline Whisper-base folder is assembled safely when several processes race (shard workers)."""

from __future__ import annotations

from pathlib import Path


def test_whisper_base_assembly_is_safe_when_processes_race(tmp_path, monkeypatch) -> None:
    """Several shard workers assembling the model folder at once all get a whole, correct model."""
    from concurrent.futures import ProcessPoolExecutor

    from codecbench.metrics._whisper import WHISPER_BASE_BYTES

    monkeypatch.setenv("CODECBENCH_CACHE", str(tmp_path))
    with ProcessPoolExecutor(3) as pool:
        folders = list(pool.map(_assemble, range(3)))
    model = Path(folders[0]) / "model.bin"
    assert len(set(folders)) == 1 and model.stat().st_size == WHISPER_BASE_BYTES
    assert not list(Path(folders[0]).glob("*.tmp")) and (Path(folders[0]) / "config.json").stat().st_size > 0


def _assemble(_: int) -> str:
    from codecbench.metrics._whisper import whisper_base_dir

    return str(whisper_base_dir())
