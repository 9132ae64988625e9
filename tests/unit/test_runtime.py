"""Stage timings and peak memory of a cell."""

from __future__ import annotations

import time

from ragft import runtime


def test_stopwatch_records_each_stage_and_passes_results_through():
    clock = runtime.Stopwatch()
    out = clock.time("nap", lambda s: (time.sleep(s), "done")[1], 0.05)
    assert out == "done"
    assert 0.04 <= clock.seconds["nap"] < 1.0
    assert clock.elapsed() >= clock.seconds["nap"]


def test_peak_memory_counts_afresh_after_a_reset():
    runtime.reset_peak_memory()
    before = runtime.peak_memory_mb()
    block = bytearray(200 * 2**20)  # 200 MiB, touched
    block[::4096] = b"x" * len(block[::4096])
    grown = runtime.peak_memory_mb()
    assert grown >= before + 150
    del block
    runtime.reset_peak_memory()
    assert runtime.peak_memory_mb() < grown - 100
