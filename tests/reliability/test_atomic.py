"""Atomic outputs: a reader sees the old results.json or the whole new one, never a part."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from ragft import files, tracking
from ragft.config import LoggerConfig
from ragft.records import CellResult


@pytest.mark.measures("fault")
def test_a_concurrent_reader_never_sees_a_partial_file(tmp_path, tally):
    path = tmp_path / "results.json"
    files.atomic_write_json(path, {"n": 0, "pad": ""})
    stop = threading.Event()
    bad: list[str] = []

    def read() -> None:
        while not stop.is_set():
            try:
                json.loads(path.read_text())
            except (ValueError, OSError) as e:
                bad.append(repr(e))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for i in range(60):  # sizes alternate: a torn write would show as invalid JSON
            files.atomic_write_json(path, {"n": i, "pad": "x" * (200_000 * (i % 3))})
    finally:
        stop.set()
        reader.join()
    assert not bad, bad[:3]
    assert json.loads(path.read_text())["n"] == 59
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.json"]  # no temp left
    tally.fault()


@pytest.mark.measures("fault")
def test_a_write_that_fails_midway_leaves_the_old_file_whole(tmp_path, monkeypatch, tally):
    path = tmp_path / "predictions.jsonl"
    files.atomic_write_jsonl(path, [{"id": "q1"}])

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError):
        files.atomic_write_jsonl(path, [{"id": f"q{i}"} for i in range(1000)])
    assert path.read_text() == '{"id": "q1"}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["predictions.jsonl"]
    tally.fault()


def test_results_json_is_written_last(tmp_path, monkeypatch):
    """results.json existing means predictions.jsonl is complete too."""
    order: list[str] = []
    real = files.atomic_write_text

    def spy(path: Path, text: str) -> None:
        order.append(path.name)
        real(path, text)

    monkeypatch.setattr(files, "atomic_write_text", spy)
    with tracking.Tracker(tmp_path, LoggerConfig(name="none"), {}, "base", "cell", "g") as t:
        t.record(CellResult("ok", "cell", "base", {}), [{"id": "q1"}])
    assert order[-2:] == ["predictions.jsonl", "results.json"]
