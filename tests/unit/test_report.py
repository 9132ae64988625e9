"""The sweep report on a hand-written sweep folder: report.md/.csv, plots, CLI.

The parts have their own files: test_report_cells, _tables, _markdown, _stats, _plots.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from ragft.errors import RagftError
from ragft.report import Report, build_report

from .report_sweeps import md_table, md_tables, new_sweep, sweep, write_cell

__all__ = ["sweep"]  # the fixture
ROOT = Path(__file__).resolve().parents[2]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def built(sweep: Path) -> Report:
    return build_report(sweep)  # once: plotting is most of this file's time


def test_build_report_writes_markdown_csv_and_plots(sweep: Path, built: Report):
    rep = built
    out = sweep / "report"
    assert rep.markdown_path == out / "report.md" and rep.csv_path == out / "report.csv"
    assert (rep.n_ok, rep.n_failed, rep.n_missing) == (5, 1, 1)
    md = rep.markdown_path.read_text()
    assert md == rep.markdown and str(sweep) in md
    assert "Cells: 7 (5 ok, 1 failed, 1 missing). Primary metric: `contains`." in md
    # the decision comes first, right after the header
    first = md.split("\n## ", 2)[1]
    assert first.startswith(
        "Decision\n\n**hybrid r=16 bm25** is best on `contains` (90.0%), "
        "+20.0 points over the runner-up **rag bm25** (70.0%; 95% CI"
    )
    assert rep.decision and rep.decision in first and "pareto.png" in first
    assert rep.verdict.best.label == "hybrid r=16 bm25"
    results = md.split("## Results", 1)[1].split("##", 1)[0]
    cols = md_table(results)
    assert cols["row"][0] == "base" and "90.0" in cols["contains"]
    assert "model" not in cols and "model `tiny-llama`" in md  # said once, not a column
    assert rep.markdown_table in md and md_table(rep.markdown_table) == cols
    pairs = md_tables(md.split("## Comparisons", 1)[1])[0]
    assert pairs[0] == ["better", "than", "differs in", "pairs", "difference", "95% CI", "test",
                        "p", "Holm p", "significant"]  # fmt: skip
    by_pair = {(r[0], r[1]): r for r in pairs[2:]}
    hybrid = by_pair[("hybrid r=16 bm25", "base")]  # 7 discordant pairs, all hybrid's
    assert hybrid[2:5] == ["approach", "10", "+70.0"] and hybrid[6] == "McNemar (exact)"
    assert float(hybrid[7]) == pytest.approx(2 * 0.5**7, abs=1e-4)  # 3 significant digits
    assert float(hybrid[8]) >= float(hybrid[7])  # Holm never lowers a p-value
    assert len(pairs) - 2 == len(rep.comparisons) == len(pd.read_csv(rep.comparisons_csv_path))
    failed_section = md.split("## Failed cells", 1)[1]
    assert "5_approach=rag,retriever=dense" in failed_section and "**failed**" in failed_section
    assert "/nonexistent/embedder" in failed_section
    assert "6_approach=raft,lora.r=16" in failed_section and "**missing**" in failed_section
    df = pd.read_csv(rep.csv_path)
    assert len(df) == 7 and df["contains"].iloc[4] == 90.0
    assert len(pd.read_csv(rep.cells_csv_path)) == 7  # one seed: a row per cell
    assert [p.name for p in rep.plots] == [
        "scores.png",
        "score_vs_lora_rank.png",
        "pareto.png",
        "differences.png",
    ]
    for p in rep.plots:
        assert p.parent == out
        assert f"]({p.name})" in md  # embedded with a relative link
        data = p.read_bytes()
        assert data[:8] == PNG_MAGIC and len(data) > 10_000
    assert not list(out.glob("*.tmp"))


def test_a_skipped_plot_leaves_no_stale_file(tmp_path: Path):
    s = new_sweep(tmp_path)
    write_cell(s, 0, "approach=finetune", "finetune", 4, train_seconds=5.0)
    stale = s / "report" / "score_vs_lora_rank.png"
    stale.parent.mkdir()
    stale.write_bytes(PNG_MAGIC)  # from an earlier report, when the sweep had two ranks
    rep = build_report(s)
    assert [p.name for p in rep.plots] == ["scores.png", "pareto.png"]
    assert not stale.exists() and "score_vs_lora_rank" not in rep.markdown
    assert "None: every cell finished." in rep.markdown


def test_an_empty_sweep_is_an_error(tmp_path: Path):
    with pytest.raises(RagftError, match="no cell folders"):
        build_report(tmp_path)
    with pytest.raises(RagftError, match="does not exist"):
        build_report(tmp_path / "absent")


def test_unknown_metric_is_an_error(sweep: Path, tmp_path: Path):
    with pytest.raises(RagftError, match="available: exact_match, f1, contains"):
        build_report(sweep, tmp_path, metric="accuracy")


def test_another_metric_into_another_folder(sweep: Path, tmp_path: Path):
    rep = build_report(sweep, tmp_path / "f1", metric="f1")
    assert rep.metric == "f1" and rep.markdown_path == tmp_path / "f1" / "report.md"
    assert "Primary metric: `f1`." in rep.markdown and "(70.0%)" in rep.markdown


def test_cli_prints_the_table_and_paths(tmp_path: Path):
    s = new_sweep(tmp_path)
    write_cell(s, 0, "approach=rag", "rag", 7)  # one cell: two plots, a quick test
    script = str(ROOT / "scripts" / "report.py")
    res = subprocess.run(  # no argument: the newest sweep under ./multirun
        [sys.executable, script], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert res.returncode == 0, res.stderr
    cols = md_table(res.stdout)
    assert "decision: rag is the only row with a `contains` score" in res.stdout
    assert cols["row"] == ["rag"] and cols["approach"] == ["rag"] and cols["contains"] == ["70.0"]
    report_md = s.relative_to(tmp_path) / "report" / "report.md"
    assert f"report: {report_md}" in res.stdout
    assert "plot:   " in res.stdout and (tmp_path / report_md).is_file()

    (tmp_path / "empty").mkdir()
    res = subprocess.run(
        [sys.executable, script, str(tmp_path / "empty")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 2
    assert res.stderr.startswith("report: error: no cell folders")
    assert len(res.stderr.strip().splitlines()) == 1


def test_building_a_report_never_loads_pyplot(sweep: Path, tmp_path: Path):
    code = (
        "import sys; from ragft.report import build_report; "
        f"build_report({str(sweep)!r}, {str(tmp_path)!r}); "
        "print('matplotlib.pyplot' in sys.modules, "
        "'matplotlib.backends.backend_agg' in sys.modules)"
    )
    res = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["False", "True"]
