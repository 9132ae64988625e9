"""The plots of the report's rows: PNGs drawn on Agg Figures, skipped (None) without what
they need; the pure parts (x scale, file names, which axes, Pareto points, the difference
matrix) checked by value."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ragft.report.axes import NA
from ragft.report.cells import load_cells
from ragft.report.compare import MCNEMAR, Comparison, comparisons
from ragft.report.compare_plots import cell_text, difference_matrix, plot_differences
from ragft.report.figures import (
    AXIS_PLOT_PREFIX,
    PLOT_FILES,
    axis_plot_file,
    color,
    error_bars,
    is_axis_plot,
    x_scale,
)
from ragft.report.plots import (
    axis_plots,
    bar_text,
    cost_points,
    plot_pareto,
    plot_scores,
    plot_vs_axis,
    plotted_axes,
)
from ragft.report.rows import Row, pool

from .report_sweeps import edit_results, new_sweep, sweep, write_cell

__all__ = ["sweep"]  # the fixture
ROOT = Path(__file__).resolve().parents[2]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
LEARNING_RATES = (1e-4, 1e-3, 1e-2)


def is_png(p: Path) -> bool:
    data = p.read_bytes()
    return data[:8] == PNG_MAGIC and len(data) > 10_000


def make_seeded_sweep(root: Path) -> Path:
    """base and rag, finetune under three learning rates; each under seeds 0 and 1."""
    s = new_sweep(root)
    job = 0
    cells = [("base", None, (2, 3)), ("rag", None, (7, 6))]
    cells += [("finetune", lr, (3 + i, 5 + i)) for i, lr in enumerate(LEARNING_RATES)]
    for approach, lr, hits in cells:
        for seed, h in enumerate(hits):
            trained = approach == "finetune"
            d = write_cell(s, job, f"approach={approach},seed={seed}", approach, h,
                           train_seconds=30.0 + 10 * seed if trained else None)  # fmt: skip
            changes: dict = {"seed": seed}
            if lr is not None:
                changes["trainer"] = {"learning_rate": lr}
            edit_results(d, config=changes)
            job += 1
    return s


@pytest.fixture(scope="module")
def rows(sweep: Path) -> list[Row]:
    return pool(load_cells(sweep))


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> list[Row]:
    return pool(load_cells(make_seeded_sweep(tmp_path_factory.mktemp("seeded"))))


def row(label: str, approach: str = "finetune", **axes: object) -> Row:
    """A row of no cells: its axes only (no score)."""
    return Row(label, approach, {"approach": approach, **axes}, ())


def test_the_x_scale_follows_the_values():
    assert x_scale([4, 16, 64]) == "log2"
    assert x_scale([1, 2]) == "log2" and x_scale([4, 16.0]) == "log2"
    assert x_scale([1e-4, 1e-3, 1e-2]) == "log10"
    assert x_scale([3, 48]) == "log10"  # not powers of two, a factor of 16 apart
    assert x_scale([3, 5, 10]) == "linear" and x_scale([2, 3]) == "linear"
    assert x_scale([0, 8]) == "linear" and x_scale([-4, 16]) == "linear"
    assert x_scale([0.5, 1.0]) == "linear"  # 0.5 is no rank


def test_plot_file_names():
    assert axis_plot_file("lora") == PLOT_FILES["lora_rank"] == "score_vs_lora_rank.png"
    assert axis_plot_file("trainer.learning_rate") == "score_vs_trainer_learning_rate.png"
    assert axis_plot_file("k") == "score_vs_k.png"
    assert is_axis_plot("score_vs_k.png") and is_axis_plot("score_vs_lora_rank.png")
    assert not is_axis_plot("scores.png") and not is_axis_plot("score_vs_k.csv")
    assert AXIS_PLOT_PREFIX == "score_vs_"
    assert set(PLOT_FILES) == {"scores", "lora_rank", "pareto", "differences", "abstention"}
    assert PLOT_FILES["pareto"] == "pareto.png"
    assert PLOT_FILES["differences"] == "differences.png"


def test_bar_text_shows_the_spread_across_seeds_only_when_seeds_vary():
    assert bar_text(62.5, 0.031, pooled=True) == "62.5 ± 3.1%"
    assert bar_text(62.5, None, pooled=True) == "62.5%"
    assert bar_text(62.5, 0.031, pooled=False) == "62.5%"


def test_error_bars_are_the_ci_around_the_row_score(rows: list[Row]):
    rag = next(r for r in rows if r.label == "rag bm25")
    low, high = rag.ci("contains")
    err = error_bars([rag, row("none")], "contains")
    assert err.shape == (2, 2)
    assert err[:, 0] == pytest.approx([100 * (0.7 - low), 100 * (high - 0.7)])
    assert list(err[:, 1]) == [0.0, 0.0]  # no score, no CI


def test_scores_plot(rows: list[Row], seeded: list[Row], tmp_path: Path):
    assert plot_scores(rows, "contains", tmp_path) == tmp_path / "scores.png"
    assert plot_scores(seeded, "contains", tmp_path / "s.png") == tmp_path / "s.png"
    assert is_png(tmp_path / "scores.png") and is_png(tmp_path / "s.png")
    failed = [r for r in rows if not r.ok]
    assert failed and plot_scores(failed, "contains", tmp_path / "none.png") is None
    assert plot_scores(rows, "judge", tmp_path / "judge.png") is None
    assert not (tmp_path / "none.png").exists() and not list(tmp_path.rglob("*.tmp"))


def test_score_vs_lora_rank(rows: list[Row], tmp_path: Path):
    assert [r.axes["lora"] for r in rows[:2]] == [NA, NA]  # base and rag: references
    made = plot_vs_axis(rows, "contains", "lora", tmp_path)
    assert made == tmp_path / "score_vs_lora_rank.png" and is_png(made)
    one_rank = [r for r in rows if r.axes["lora"] != 4]
    assert plot_vs_axis(one_rank, "contains", "lora", tmp_path / "one.png") is None
    assert plot_vs_axis(rows[:1], "contains", "lora", tmp_path / "one.png") is None
    assert plot_vs_axis(rows, "contains", "approach", tmp_path / "one.png") is None
    assert not (tmp_path / "one.png").exists()


def test_score_vs_learning_rate_pools_seeds(seeded: list[Row], tmp_path: Path):
    assert len(seeded) == 5 and all(len(r.ok_cells) == 2 for r in seeded)
    assert [r.axes["trainer.learning_rate"] for r in seeded] == [NA, NA, *LEARNING_RATES]
    made = axis_plots(seeded, "contains", tmp_path)
    assert made == [tmp_path / "score_vs_trainer_learning_rate.png"]
    assert is_png(made[0]) and not list(tmp_path.glob("score_vs_seed*"))


def test_axis_plots_pick_the_numeric_varying_axes_in_axis_order(rows: list[Row]):
    assert plotted_axes(rows, {"approach", "lora"}) == ["lora"]
    assert plotted_axes(rows, {"approach", "retriever"}) == []  # a name is no number
    hand = [
        row("a", lora=4, k=3, prompt="short", n_train_phrasings=2, **{"trainer.lr": 0.1}),
        row("b", lora="full", k=5, prompt="long", n_train_phrasings=4, **{"trainer.lr": 1.0}),
        row("c", "rag", lora=NA, k=8, prompt="long", n_train_phrasings=NA, **{"trainer.lr": NA}),
    ]
    varying = {"approach", "lora", "k", "prompt", "n_train_phrasings", "trainer.lr", "seed"}
    # "full" (full fine-tuning) leaves lora numeric; seed is never drawn (rows pool it)
    assert plotted_axes(hand, varying) == ["lora", "k", "n_train_phrasings", "trainer.lr"]
    assert plotted_axes(hand, {"k"}) == ["k"]
    assert axis_plots([], "contains", Path("unused")) == []


def test_axis_plots_skip_an_axis_with_one_scored_value(rows: list[Row], tmp_path: Path):
    one_rank = [r for r in rows if r.axes["lora"] != 4]
    assert axis_plots(one_rank, "contains", tmp_path) == []
    assert axis_plots(rows, "contains", tmp_path) == [tmp_path / "score_vs_lora_rank.png"]


def test_cost_points_count_untrained_rows_at_zero_training_seconds(rows: list[Row]):
    trained = cost_points(rows, "train_seconds")
    assert [(r.label, c) for r, c in trained] == [
        ("base", 0.0), ("rag bm25", 0.0), ("finetune r=4", 30.0), ("finetune r=16", 40.0),
        ("hybrid r=16 bm25", 40.0),
    ]  # fmt: skip
    latency = cost_points(rows, "seconds_per_question")
    assert [c for _, c in latency] == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.5])
    assert cost_points(rows, "adapter_mb") == []  # 0.5 MB everywhere: nothing to compare
    assert cost_points(rows, "peak_memory_mb") == []  # recorded by none
    assert cost_points(rows[2:3], "train_seconds") == []  # one row
    assert [c for _, c in cost_points(rows[2:3], "train_seconds", spread=False)] == [30.0]
    assert [c for _, c in cost_points(rows, "adapter_mb", spread=False)] == [0.5, 0.5, 0.5]


def test_pareto_plot(rows: list[Row], seeded: list[Row], tmp_path: Path):
    assert plot_pareto(rows, "contains", tmp_path) == tmp_path / "pareto.png"
    assert plot_pareto(seeded, "contains", tmp_path / "p.png") == tmp_path / "p.png"
    assert is_png(tmp_path / "pareto.png") and is_png(tmp_path / "p.png")
    assert plot_pareto([r for r in rows if not r.ok], "contains", tmp_path / "x.png") is None
    assert plot_pareto(rows[5:], "contains", tmp_path / "x.png") is None  # failed, missing
    assert not (tmp_path / "x.png").exists()
    # one row: nothing to trade off, but the decision's plot still shows its costs
    assert plot_pareto(rows[:1], "contains", tmp_path / "one.png") == tmp_path / "one.png"
    assert is_png(tmp_path / "one.png")


def fake(a: Row, b: Row, mean: float, p_holm: float) -> Comparison:
    return Comparison(a, b, "approach", mean, mean - 0.1, mean + 0.1, 10, MCNEMAR, p_holm,
                      p_holm)  # fmt: skip


def test_the_difference_matrix_is_row_minus_column_best_first(rows: list[Row]):
    base, rag, ft4, ft16, hybrid = rows[:5]  # contains: 20, 70, 30, 50, 90%
    found = [fake(rag, base, 0.5, 0.01), fake(hybrid, ft16, 0.4, 0.2)]
    m = difference_matrix(found, rows, "contains")
    assert [r.label for r in m.rows] == ["hybrid r=16 bm25", "rag bm25", "finetune r=16", "base"]
    assert m.values[1, 3] == pytest.approx(50.0) and m.values[3, 1] == pytest.approx(-50.0)
    assert m.values[0, 2] == pytest.approx(40.0) and m.values[2, 0] == pytest.approx(-40.0)
    assert np.isnan(m.values[0, 1]) and np.isnan(np.diag(m.values)).all()  # not compared
    assert m.significant[1, 3] and m.significant[3, 1] and not m.significant[0, 2]
    assert m.significant.sum() == 2 and (~np.isnan(m.values)).sum() == 4
    top = difference_matrix(found, rows, "contains", limit=2)  # hybrid and rag: no pair
    assert [r.label for r in top.rows] == ["hybrid r=16 bm25", "rag bm25"] and np.isnan(
        top.values
    ).all()
    assert ft4 not in m.rows
    assert cell_text(9.44, False) == "+9.4" and cell_text(-3.0, True) == "-3.0*"
    assert cell_text(-0.01, False) == "0.0"


def test_differences_plot(rows: list[Row], tmp_path: Path):
    found = comparisons(rows, "contains")
    assert found and all(not math.isnan(c.p_holm) for c in found)
    made = plot_differences(found, rows, "contains", tmp_path)
    assert made == tmp_path / "differences.png" and is_png(made)
    assert plot_differences([], rows, "contains", tmp_path / "none.png") is None
    base, rag = rows[:2]
    only = [fake(rag, base, 0.5, 0.01)]
    assert plot_differences(only, rows, "contains", tmp_path / "one.png") == tmp_path / "one.png"
    assert not (tmp_path / "none.png").exists()


def test_every_approach_has_its_colour():
    assert color("rag") == "#1f77b4" and color("raft") == "#9467bd"
    assert color("mine") == color("mine")  # an unknown approach: fixed by its name


def test_the_plots_never_load_pyplot(tmp_path: Path):
    code = (
        "import sys; from pathlib import Path\n"
        "from tests.unit.report_sweeps import make_sweep\n"
        "from ragft.report.cells import load_cells\n"
        "from ragft.report.rows import pool\n"
        "from ragft.report.compare import comparisons\n"
        "from ragft.report import plots, compare_plots\n"
        f"out = Path({str(tmp_path)!r})\n"
        "rows = pool(load_cells(make_sweep(out)))\n"
        "made = [plots.plot_scores(rows, 'contains', out), *plots.axis_plots(rows, 'contains', "
        "out), plots.plot_pareto(rows, 'contains', out), compare_plots.plot_differences("
        "comparisons(rows, 'contains'), rows, 'contains', out)]\n"
        "print(sum(p is not None for p in made), 'matplotlib.pyplot' in sys.modules)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, timeout=300, check=False)  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["4", "False"]
