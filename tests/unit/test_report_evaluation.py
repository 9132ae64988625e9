"""The report's evaluation sections: known vs unknown, abstention, judge, control set.

Numbers are checked against scipy / sklearn and against the fixed figures the fake sweep
was written from (report_sweeps.EVAL_*); a sweep without them keeps its old report.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from scipy.stats import spearmanr
from sklearn.metrics import cohen_kappa_score

from ragft.report import (
    PLOT_FILES,
    build_report,
    kappa,
    known_unknown,
    known_unknown_split,
    load_cells,
    plot_accuracy_vs_hallucination,
    spearman,
)
from ragft.report.evaluation import abstention_rows, judge_rating, judge_rows

from .report_sweeps import (
    EVAL_CONTAINS,
    EVAL_CONTROL,
    EVAL_JUDGE,
    crag_scores,
    eval_sweep,
    md_table,
    new_sweep,
    sweep,
    write_cell,
    write_eval_cell,
)
from .test_report_tables import COLUMNS

__all__ = ["eval_sweep", "sweep"]  # the fixtures
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
NEW_SECTIONS = ("## Known vs unknown", "## Abstention", "## Judge", "## Human", "## Control")


@pytest.fixture(scope="module")
def built(eval_sweep: Path):
    return build_report(eval_sweep)


def section(md: str, heading: str) -> str:
    return md.split(f"## {heading}", 1)[1].split("\n## ", 1)[0]


def test_known_unknown_on_fixed_inputs():
    base = {"a": 1.0, "b": 0.0, "c": 1.0, "d": 0.5, "only-base": 1.0}
    other = {"a": 0.0, "b": 1.0, "c": 1.0, "d": 1.0, "only-other": 0.0}
    s = known_unknown(base, other)
    assert (s.known_n, s.known, s.unknown_n, s.unknown) == (2, 0.5, 2, 1.0)  # 0.5 is not 1
    s = known_unknown({"a": 0.0}, {"a": 1.0})
    assert (s.known_n, s.known, s.unknown_n, s.unknown) == (0, None, 1, 1.0)
    s = known_unknown({"a": 1.0}, {"b": 1.0})
    assert (s.known_n, s.known, s.unknown_n, s.unknown) == (0, None, 0, None)


def test_known_vs_unknown_by_the_base_cell(eval_sweep: Path, built):
    base, splits = known_unknown_split(load_cells(eval_sweep), "contains")
    assert base is not None and base.approach == "base"
    known_ids = [i for i, c in enumerate(EVAL_CONTAINS["base"]) if c == 1]  # q0..q2
    by_approach = {c.approach: s for c, s in splits}
    assert set(by_approach) == {"rag", "finetune"}  # base itself is not split; u* ignored
    for approach, s in by_approach.items():
        values = EVAL_CONTAINS[approach]
        known = [values[i] for i in known_ids]
        unknown = [v for i, v in enumerate(values) if i not in known_ids]
        assert (s.known_n, s.unknown_n) == (len(known), len(unknown)) == (3, 7)
        assert s.known == pytest.approx(sum(known) / 3)
        assert s.unknown == pytest.approx(sum(unknown) / 7)
    cols = md_table(section(built.markdown, "Known vs unknown (by base)"))
    assert cols == {
        "cell": ["rag", "finetune"],
        "known_n": ["3", "3"],
        "known_contains": ["66.7", "66.7"],
        "unknown_n": ["7", "7"],
        "unknown_contains": ["57.1", "42.9"],
    }
    df = pd.read_csv(built.csv_path)
    assert df["known_contains"].tolist()[1:] == [66.7, 66.7] and pd.isna(df["known_n"][0])
    assert df["unknown_n"].tolist()[1:] == [7, 7]


def test_no_base_cell_no_known_split(tmp_path: Path):
    s = new_sweep(tmp_path)
    write_cell(s, 0, "approach=rag", "rag", 5)
    write_cell(s, 1, "approach=finetune", "finetune", 6, train_seconds=1.0)
    assert known_unknown_split(load_cells(s), "contains") == (None, [])


def test_spearman_and_kappa_agree_with_scipy_and_sklearn():
    xs, ys = [0.1, 0.5, 0.5, 0.9, 0.2, 0.7], [0.0, 1.0, 0.0, 1.0, 0.0, 1.0]
    assert spearman(xs, ys) == pytest.approx(spearmanr(xs, ys).statistic)
    assert spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 1, 1], [1, 2, 3]) is None and spearman([1], [1]) is None
    with pytest.raises(ValueError, match="pairs"):
        spearman([1, 2], [1])
    a, b = [1, 5, 7, 10, 3, 8, 8, 2], [2, 5, 6, 9, 3, 8, 4, 2]
    labels = list(range(1, 11))
    for weights in ("quadratic", None):
        expected = cohen_kappa_score(a, b, labels=labels, weights=weights)
        assert kappa(a, b, 10, weights) == pytest.approx(expected)
    assert kappa(a, a, 10, None) == pytest.approx(1.0)
    # the labels are the whole scale: the quadratic weights see 1 vs 10 as far apart
    assert kappa([1, 10, 3], [2, 9, 3], 10, "quadratic") == pytest.approx(
        cohen_kappa_score([1, 10, 3], [2, 9, 3], labels=labels, weights="quadratic")
    )
    assert kappa([], [], 10, None) is None and kappa([5, 5], [5, 5], 10, "quadratic") is None


def judge_pairs_of(approach: str) -> tuple[list[int], list[int]]:
    pairs = [
        (j, c)
        for j, c in zip(EVAL_JUDGE[approach], EVAL_CONTAINS[approach], strict=True)
        if j is not None
    ]
    return [j for j, _ in pairs], [c for _, c in pairs]


def test_judge_section_rank_correlation_against_scipy(eval_sweep: Path, built):
    found, (pooled_n, pooled_rho) = judge_rows(load_cells(eval_sweep))
    pooled_j: list[int] = []
    pooled_c: list[int] = []
    for row in found:
        judge, contains = judge_pairs_of(row.cell.approach)
        pooled_j += judge
        pooled_c += contains
        assert row.n == len(judge) and row.rho == pytest.approx(spearmanr(judge, contains)[0])
        ratings = [r for r in EVAL_JUDGE[row.cell.approach] if r is not None]
        assert row.score == pytest.approx(sum((r - 1) / 9 for r in ratings) / len(ratings))
        assert (row.rated, row.missing) == (len(ratings), 10 - len(ratings))
    assert pooled_n == 28 and pooled_rho == pytest.approx(spearmanr(pooled_j, pooled_c)[0])
    text = section(built.markdown, "Judge")
    assert "Judge: `openai`, ratings 1–10." in text and "How to read it: a high ρ" in text
    cols = md_table(text)
    assert cols["cell"] == ["base", "rag", "finetune", "all cells (pooled)"]
    assert cols["rated"][:3] == ["9", "10", "9"] and cols["missing"][:3] == ["1", "0", "1"]
    assert cols["ρ vs contains"] == [f"{r.rho:.2f}" for r in found] + [f"{pooled_rho:.2f}"]
    df = pd.read_csv(built.csv_path)
    assert df["judge_rho"].tolist() == [round(r.rho, 3) for r in found]
    assert df["judge_rated"].tolist() == [9, 10, 9]


def test_judge_counts_without_an_evaluation_dict(tmp_path: Path):
    s = new_sweep(tmp_path)
    write_eval_cell(s, 0, "approach=rag", "rag", [1.0, 0.0, 1.0, 1.0],
                    judge=[7, None, 7, 7], scale=7, record_evaluation=False)  # fmt: skip
    [row], (n, rho) = judge_rows(load_cells(s))
    assert (row.rated, row.missing, row.n) == (3, 1, 3)
    assert row.rho is None and rho is None  # the judge gave one rating: undefined
    md = build_report(s).markdown
    assert md_table(section(md, "Judge"))["ρ vs contains"] == ["–", "–"]
    assert "Judge: `" not in md  # no backend recorded


def test_judge_ratings_on_the_human_scale():
    row = {"judge": {"rating": 4}, "metrics": {"judge": 0.75}}
    assert judge_rating(row, 10) == 4 and judge_rating(row, 5) == 8  # 1 + 0.75 * 9 = 7.75
    assert judge_rating({"metrics": {"judge": 0.0}}, 10) == 1
    assert judge_rating({"judge": {"rating": None}, "metrics": {}}, 10) is None


def test_abstention_section_and_plot(eval_sweep: Path, built):
    rows = abstention_rows(load_cells(eval_sweep))
    assert [(r.n_answerable, r.n_unanswerable) for r in rows] == [(10, 2)] * 3
    text = section(built.markdown, "Abstention")
    cols = md_table(text)
    assert cols["cell"] == ["base", "rag", "finetune"]
    assert cols["questions (ans. / unans.)"] == ["10 / 2"] * 3
    expected = crag_scores(
        [1.0, 1, 0, 1, 1, 1, 1, 0, 0, 0], [False] * 7 + [True, True, False], [True, True]
    )  # the rag cell's
    assert cols["CRAG"][1] == f"{100 * expected['crag']:.1f}" == "50.0"
    assert cols["hallucination"][1] == f"{100 * expected['hallucination_rate']:.1f}"
    assert cols["unanswerable: abstain"] == ["50.0", "100.0", "0.0"]
    assert "see the plot below" in text
    plot = built.markdown_path.parent / PLOT_FILES["abstention"]
    assert plot in built.plots and f"]({plot.name})" in built.markdown
    assert plot.read_bytes()[:8] == PNG_MAGIC


def test_the_results_table_leaves_the_details_to_their_sections(built):
    results = md_table(section(built.markdown, "Results"))
    assert {"judge", "crag", "control_drop", "contains"} <= set(results)
    for hidden in ("accuracy", "abstain_rate", "answerable_accuracy", "control", "control_base"):
        assert hidden not in results
    df = pd.read_csv(built.csv_path)  # report.csv has every score
    assert {"accuracy", "unanswerable_hallucination_rate", "control_base"} <= set(df.columns)
    cols = list(df.columns)
    assert cols.index("control_drop") < cols.index("known_n") < cols.index("train_seconds")


def test_control_section(built):
    cols = md_table(section(built.markdown, "Control set"))
    assert cols["cell"] == ["base", "rag", "finetune"] and cols["questions"] == ["20"] * 3
    assert cols["control"] == [f"{100 * EVAL_CONTROL[a][0]:.1f}" for a in EVAL_CONTROL]
    assert cols["control_base"] == ["90.0"] * 3
    assert cols["control_drop"] == ["+0.0", "+10.0", "+30.0"]


def test_a_sweep_without_them_has_none_of_the_sections(sweep: Path, tmp_path: Path):
    rep = build_report(sweep, tmp_path)
    # an older sweep with a base cell has what known vs unknown needs (per-question scores)
    assert [h for h in NEW_SECTIONS if h in rep.markdown] == ["## Known vs unknown"]
    known = ["known_n", "known_contains", "unknown_n", "unknown_contains"]
    at = COLUMNS.index("train_seconds")
    assert list(pd.read_csv(rep.csv_path).columns) == COLUMNS[:at] + known + COLUMNS[at:]
    s = new_sweep(tmp_path / "no-base")
    write_cell(s, 0, "approach=rag", "rag", 5)
    write_cell(s, 1, "approach=finetune", "finetune", 6, train_seconds=1.0)
    rep = build_report(s)
    assert not any(h in rep.markdown for h in NEW_SECTIONS)
    assert list(pd.read_csv(rep.csv_path).columns) == COLUMNS
    assert PLOT_FILES["abstention"] not in [p.name for p in rep.plots]
    assert plot_accuracy_vs_hallucination(load_cells(sweep), "contains", tmp_path) is None


def test_a_gain_on_the_control_set_is_a_negative_drop(tmp_path: Path):
    s = new_sweep(tmp_path)
    write_eval_cell(s, 0, "approach=rag", "rag", [1.0, 0.0], control=(0.95, 0.9))
    cols = md_table(section(build_report(s).markdown, "Control set"))
    assert cols["control_drop"] == ["-5.0"]
