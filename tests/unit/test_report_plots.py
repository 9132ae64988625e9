"""The four plots: PNGs drawn on Agg Figures, skipped (None) without what they need."""

from __future__ import annotations

import sys
from pathlib import Path

from ragft.report import (
    load_cells,
    plot_paired_differences,
    plot_scores,
    plot_vs_cost,
    plot_vs_lora_rank,
)
from ragft.report.figures import color

from .report_sweeps import sweep

__all__ = ["sweep"]  # the fixture
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_plots_are_skipped_without_what_they_need(sweep: Path, tmp_path: Path):
    cells = load_cells(sweep)
    one_rank = [c for c in cells if c.axes["lora"] != 4]
    assert plot_vs_lora_rank(one_rank, "contains", tmp_path / "r.png") is None
    nothing_ok = [c for c in cells if not c.ok]
    for fn in (plot_scores, plot_vs_cost, plot_paired_differences, plot_vs_lora_rank):
        assert fn(nothing_ok, "contains", tmp_path / "x.png") is None
    assert plot_paired_differences(cells[:1], "contains", tmp_path / "p.png") is None
    assert not list(tmp_path.glob("*.png"))


def test_a_plot_goes_to_the_named_file_or_into_the_folder(sweep: Path, tmp_path: Path):
    cells = load_cells(sweep)
    assert plot_scores(cells, "f1", tmp_path / "mine.png") == tmp_path / "mine.png"
    assert plot_vs_cost(cells, "contains", tmp_path / "sub") == tmp_path / "sub/score_vs_cost.png"
    for p in (tmp_path / "mine.png", tmp_path / "sub/score_vs_cost.png"):
        data = p.read_bytes()
        assert data[:8] == PNG_MAGIC and len(data) > 10_000
    assert not list(tmp_path.rglob("*.tmp"))
    if "matplotlib.pyplot" in sys.modules:  # another test may use pyplot; ours leave no figure
        import matplotlib.pyplot as plt

        assert plt.get_fignums() == []


def test_every_approach_has_its_colour():
    assert color("rag") == "#1f77b4" and color("raft") == "#9467bd"
    assert color("mine") == color("mine")  # an unknown approach: fixed by its name
