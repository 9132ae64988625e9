"""The comparisons and the decision: tests and CIs against scipy and brute force, Holm's
correction by hand, which pairs are compared, and what the decision says."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from ragft.metrics import bootstrap_ci, nested_bootstrap_ci
from ragft.report import load_cells, pool
from ragft.report.compare import (
    MCNEMAR,
    PERMUTATION,
    compare,
    comparisons,
    holm,
    mcnemar_exact,
    one_axis_pairs,
    permutation_p,
)
from ragft.report.decision import decision, pareto_front

from .report_sweeps import edit_results, new_sweep, write_eval_cell

# --- the statistics on fixed inputs ---------------------------------------------------------


def test_mcnemar_is_the_exact_binomial_test_on_the_discordant_pairs():
    a = [1] * 12 + [0] * 3 + [1] * 5 + [0] * 10  # 12 a-only, 3 b-only, 5 both, 10 neither
    b = [0] * 12 + [1] * 3 + [1] * 5 + [0] * 10
    p, a_only, b_only = mcnemar_exact(a, b)
    assert (a_only, b_only) == (12, 3)
    assert p == pytest.approx(stats.binomtest(12, 15, 0.5).pvalue)
    # by hand: 2 * P(X <= 3), X ~ Binomial(15, 1/2)
    assert p == pytest.approx(2 * sum(math.comb(15, k) for k in range(4)) / 2**15)
    assert mcnemar_exact([1, 0, 1], [1, 0, 1]) == (1.0, 0, 0)  # no discordant pair
    assert mcnemar_exact([1, 1, 1, 1], [0, 0, 0, 0])[0] == pytest.approx(0.125)


def test_permutation_p_is_exact_sign_flipping_for_few_pairs():
    a = np.array([0.9, 0.4, 0.7, 0.8, 0.3, 0.6, 0.75, 0.5])
    b = np.array([0.5, 0.5, 0.2, 0.6, 0.35, 0.1, 0.7, 0.45])
    d = a - b
    observed = abs(d.mean())
    flips = [np.mean(d * np.array(s)) for s in itertools.product([1, -1], repeat=len(d))]
    brute = np.mean([abs(f) >= observed - 1e-12 for f in flips])
    assert permutation_p(a, b) == pytest.approx(brute)
    assert permutation_p(a, a) == 1.0


def test_holm_by_hand():
    # sorted: 0.005 x4 = 0.02, 0.01 x3 = 0.03, 0.03 x2 = 0.06, 0.04 x1 = 0.04 -> 0.06 (monotone)
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])  # capped at 1
    assert holm([0.02]) == [0.02]
    assert holm([]) == []


def test_one_group_bootstrap_is_the_plain_bootstrap_and_agrees_with_scipy():
    rng = np.random.default_rng(3)
    values = rng.random(200)
    ours = nested_bootstrap_ci([values], n_resamples=4000)
    assert ours == bootstrap_ci(values, n_resamples=4000)
    ref = stats.bootstrap((values,), np.mean, n_resamples=4000, method="percentile", rng=1)
    assert ours[0] == pytest.approx(ref.confidence_interval.low, abs=0.01)
    assert ours[1] == pytest.approx(ref.confidence_interval.high, abs=0.01)


def test_nested_bootstrap_takes_the_seed_variation_into_account():
    # constant within each seed: only the seeds vary, so the CI is the seeds' bootstrap
    seed_means = [0.2, 0.5, 0.6, 0.9]
    groups = [[m] * 30 for m in seed_means]
    low, high = nested_bootstrap_ci(groups, n_resamples=4000)
    ref = stats.bootstrap((seed_means,), np.mean, n_resamples=4000, method="percentile", rng=0)
    assert low == pytest.approx(ref.confidence_interval.low, abs=0.03)
    assert high == pytest.approx(ref.confidence_interval.high, abs=0.03)
    # the same values as one seed's questions give a much narrower interval
    flat = bootstrap_ci([v for g in groups for v in g], n_resamples=4000)
    assert (high - low) > 2 * (flat[1] - flat[0])
    with pytest.raises(ValueError):
        nested_bootstrap_ci([[1.0], []])


# --- rows compared ---------------------------------------------------------------------------

A = [1, 1, 1, 1, 1, 1, 1, 0, 1, 1]  # 9 of 10
B = [1, 0, 0, 1, 0, 0, 0, 0, 1, 0]  # 3 of 10
C = [1, 0, 1, 1, 0, 1, 0, 0, 1, 0]  # 5 of 10


def _sweep(tmp_path: Path, cells: list[tuple[str, list[int], dict]]) -> list:
    s = new_sweep(tmp_path)
    for job, (approach, contains, config) in enumerate(cells):
        trained = approach in ("finetune", "hybrid", "raft")
        d = write_eval_cell(s, job, f"{job}_{approach}", approach, [float(x) for x in contains],
                            r=config.pop("r", 16))  # fmt: skip
        if trained:
            edit_results(d, cost={"train_seconds": config.pop("train", 10.0), "adapter_mb": 2.0,
                                  "seconds_per_question": 0.2})  # fmt: skip
        else:
            edit_results(d, cost={"seconds_per_question": config.pop("latency", 1.0)})
        if config:
            edit_results(d, config=config)
    return pool(load_cells(s))


def test_compare_pairs_the_same_seed_and_uses_mcnemar_for_a_0_1_metric(tmp_path: Path):
    rows = _sweep(tmp_path, [("rag", A, {"seed": 0}), ("rag", C, {"seed": 1}),
                             ("base", B, {"seed": 0}), ("base", B, {"seed": 1})])  # fmt: skip
    rag, base = rows
    c = compare(rag, base, "contains")
    assert c.n == 20 and c.test == MCNEMAR
    assert c.mean == pytest.approx(np.mean([0.9 - 0.3, 0.5 - 0.3]))
    diffs = [np.subtract(A, B), np.subtract(C, B)]
    assert (c.low, c.high) == nested_bootstrap_ci(diffs)
    a_only = sum(x == 1 and y == 0 for x, y in zip(A + C, B + B, strict=True))
    b_only = sum(x == 0 and y == 1 for x, y in zip(A + C, B + B, strict=True))
    assert (c.a_only, c.b_only) == (a_only, b_only)
    assert c.p == pytest.approx(stats.binomtest(a_only, a_only + b_only, 0.5).pvalue)


def test_a_graded_metric_gets_the_permutation_test(tmp_path: Path):
    rows = _sweep(tmp_path, [("rag", A, {}), ("base", B, {})])
    for row, values in zip(rows, (A, B), strict=True):  # a graded per-question score
        d = row.cells[0].dir
        lines = (d / "predictions.jsonl").read_text().splitlines()
        import json

        out = []
        for line, v in zip(lines, values, strict=True):
            r = json.loads(line)
            r["metrics"]["f1"] = 0.25 + 0.5 * v
            out.append(json.dumps(r))
        (d / "predictions.jsonl").write_text("\n".join(out) + "\n")
    rows = pool(load_cells(rows[0].cells[0].dir.parent))
    c = compare(rows[0], rows[1], "f1")
    assert c.test == PERMUTATION and c.a_only is None
    xa = [0.25 + 0.5 * v for v in A]
    xb = [0.25 + 0.5 * v for v in B]
    assert c.p == pytest.approx(permutation_p(xa, xb))


def test_pairs_differ_in_one_axis_and_holm_covers_them_all(tmp_path: Path):
    rows = _sweep(
        tmp_path,
        [("base", B, {}), ("rag", A, {}), ("finetune", C, {"r": 4}), ("finetune", A, {"r": 16}),
         ("hybrid", C, {"r": 16})],
    )  # fmt: skip
    labels = {frozenset((r.label, s.label)): axis for r, s, axis in one_axis_pairs(rows)}
    # base and rag apply to no rank: each pairs with every other row on the approach alone
    assert labels[frozenset(("finetune r=4", "finetune r=16"))] == "lora"
    assert labels[frozenset(("base", "finetune r=4"))] == "approach"
    assert labels[frozenset(("finetune r=16", "hybrid r=16"))] == "approach"
    assert frozenset(("finetune r=4", "hybrid r=16")) not in labels  # two axes differ
    found = comparisons(rows, "contains", also=[(rows[1], rows[4])])
    assert len(found) == len(labels) + (frozenset(("rag", "hybrid r=16")) not in labels)
    assert [c.p_holm for c in found] == sorted(c.p_holm for c in found)
    raw = [c.p for c in found]
    assert [c.p_holm for c in found] == pytest.approx(holm(raw))
    assert all(c.a.score("contains") >= c.b.score("contains") for c in found)


# --- the decision ----------------------------------------------------------------------------


def test_the_decision_names_the_best_its_margin_and_costs(tmp_path: Path):
    rows = _sweep(tmp_path, [("base", B, {"latency": 0.5}), ("rag", C, {"latency": 1.0}),
                             ("finetune", A, {"train": 60.0})])  # fmt: skip
    found = comparisons(rows, "contains", also=[(rows[2], rows[1])])
    made = decision(rows, found, "contains")
    assert made.best.label == "finetune" and made.runner_up.label == "rag"
    assert made.versus.mean == pytest.approx(0.4)
    text = made.text
    assert text.startswith("**finetune** is best on `contains` (90.0%), +40.0 points over")
    assert f"Holm-corrected p = {made.versus.p_holm:.3g}" in text
    assert ("): a significant margin" in text) == made.versus.significant
    assert made.versus.p == pytest.approx(0.125)  # 4 discordant pairs, all finetune's
    assert "not a significant margin" in text  # Holm: 2 x 0.125 with base vs finetune
    assert "Against rag it costs training of 60 s where it needs none; " in text
    assert "0.2x the answer latency (0.2 vs 1 s per question)" in text
    assert "adapter of 2 MB where it needs none" in text


def test_the_decision_says_when_the_winner_hallucinates_or_forgets_more(tmp_path: Path):
    s = new_sweep(tmp_path)
    write_eval_cell(s, 0, "approach=finetune", "finetune", [1.0] * 8 + [0.0] * 2,
                    unanswerable=[False, False], control=(0.4, 0.9))  # fmt: skip
    write_eval_cell(s, 1, "approach=rag", "rag", [1.0] * 6 + [0.0] * 4,
                    abstained=[False] * 6 + [True] * 4, unanswerable=[True, True],
                    control=(0.9, 0.9))  # fmt: skip
    rows = pool(load_cells(s))
    made = decision(rows, comparisons(rows, "contains", also=[tuple(rows)]), "contains")
    assert made.best.label == "finetune"
    assert "it hallucinates more: 33.3% of its answers" in made.text
    assert "rather than abstentions, against 0.0%" in made.text  # rag abstains instead
    assert "it forgets more: 40.0% on the control questions" in made.text


def test_one_row_has_nothing_to_beat(tmp_path: Path):
    rows = _sweep(tmp_path, [("rag", A, {})])
    made = decision(rows, [], "contains")
    assert made.runner_up is None and "only row" in made.text
    assert decision(rows, [], "judge") is None


def test_pareto_front():
    points = [(0.9, 100.0), (0.6, 10.0), (0.5, 50.0), (0.9, 200.0), (0.2, 10.0)]
    assert pareto_front(points) == [True, True, False, False, False]
    assert pareto_front([(0.5, 1.0), (0.5, 1.0)]) == [True, True]  # ties beat neither


def test_permutation_p_for_many_pairs_is_symmetric_and_near_a_reference_sign_flip():
    rng = np.random.default_rng(7)
    a = rng.random(40)
    b = a - 0.05 + rng.normal(0, 0.2, 40)
    p = permutation_p(a, b)
    assert p == pytest.approx(permutation_p(b, a))  # two-sided
    d = a - b
    flips = rng.choice([-1.0, 1.0], size=(20000, d.size))
    reference = np.mean(np.abs((flips * d).mean(axis=1)) >= abs(d.mean()) - 1e-12)
    assert p == pytest.approx(reference, abs=0.015)


def test_rows_compare_on_the_questions_both_answered(tmp_path: Path):
    rows = _sweep(tmp_path, [("rag", A, {}), ("base", B, {})])
    base = rows[1].cells[0].dir / "predictions.jsonl"
    lines = base.read_text().splitlines()
    base.write_text("\n".join(lines[:6]) + "\n")  # base answered only q0..q5
    rag, base_row = pool(load_cells(rows[0].cells[0].dir.parent))
    c = compare(rag, base_row, "contains", axis="approach")
    assert c.n == 6 and c.axis == "approach" and (c.a, c.b) == (rag, base_row)
    assert c.mean == pytest.approx(np.mean(np.subtract(A[:6], B[:6])))
    assert math.isnan(c.p_holm) and c.significant == (c.p < 0.05)  # raw p before Holm


def test_a_0_1_metric_against_a_graded_one_gets_the_permutation_test(tmp_path: Path):
    import json

    rows = _sweep(tmp_path, [("rag", A, {}), ("base", B, {})])
    d = rows[1].cells[0].dir / "predictions.jsonl"
    out = []
    for line in d.read_text().splitlines():
        r = json.loads(line)
        r["metrics"]["contains"] = 0.5  # graded for base only
        out.append(json.dumps(r))
    d.write_text("\n".join(out) + "\n")
    rag, base = pool(load_cells(rows[0].cells[0].dir.parent))
    c = compare(rag, base, "contains")
    assert c.test == PERMUTATION and (c.a, c.b, c.n) == (rag, base, 10)
    assert c.mean == pytest.approx(0.9 - 0.5)
    assert (c.low, c.high) == nested_bootstrap_ci([np.subtract(A, 0.5)])


def test_costs_said_the_same_and_where_only_the_other_needs_them(tmp_path: Path):
    from ragft.report.decision import cost_phrase, warnings

    rows = _sweep(tmp_path, [("finetune", A, {"train": 60.0}), ("hybrid", C, {"train": 60.0}),
                             ("rag", B, {"latency": 0.2})])  # fmt: skip
    ft, hybrid, rag = rows
    assert "the same training (60 vs 60 s)" in cost_phrase(ft, hybrid)
    assert "the same adapter (2 vs 2 MB)" in cost_phrase(ft, hybrid)
    assert cost_phrase(rag, ft).startswith("no training where it needs 60 s; ")
    assert "the same answer latency" in cost_phrase(ft, rag)  # 0.2 vs 0.2
    assert warnings(ft, rag) == []  # no abstention or control scores: nothing to warn of


def test_no_warning_when_the_best_hallucinates_and_forgets_less(tmp_path: Path):
    from ragft.report.decision import warnings

    s = new_sweep(tmp_path)
    write_eval_cell(s, 0, "approach=rag", "rag", [1.0] * 8 + [0.0] * 2,
                    unanswerable=[False, True], control=(0.9, 0.9))  # fmt: skip
    write_eval_cell(s, 1, "approach=finetune", "finetune", [1.0] * 6 + [0.0] * 4,
                    unanswerable=[False, False], control=(0.5, 0.9))  # fmt: skip
    best, other = pool(load_cells(s))
    assert warnings(best, other) == []
    assert len(warnings(other, best)) == 2


def test_the_decision_summary_and_html(tmp_path: Path):
    rows = _sweep(tmp_path, [("base", B, {}), ("finetune", A, {})])
    made = decision(rows, comparisons(rows, "contains"), "contains")
    summary = made.summary()
    assert summary["best"] == "finetune" and summary["runner_up"] == "base"
    assert summary["best_score"] == pytest.approx(0.9)
    assert summary["runner_up_score"] == pytest.approx(0.3)
    assert summary["margin"] == pytest.approx(0.6)
    assert (summary["margin_low"], summary["margin_high"]) == (made.versus.low, made.versus.high)
    assert summary["margin_p_holm"] == made.versus.p_holm
    assert summary["margin_significant"] == made.versus.significant
    html = made.html()
    assert html.startswith("<b>finetune</b> is best on <code>contains</code> (90.0%)")
    assert "**" not in html and "`" not in html
    only = decision(rows[1:], [], "contains")
    assert only.summary() == {"best": "finetune", "best_score": pytest.approx(0.9)}
