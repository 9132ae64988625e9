"""Human evaluation: the blinded sheet out, ratings in, and the report's Human section.

The sheet round trip runs on report_sweeps' eval sweep (base, rag and finetune with judge
ratings); kappa is checked against sklearn on the same pairs.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from sklearn.metrics import cohen_kappa_score

from ragft.errors import RagftError
from ragft.report import build_report, export_sheet, import_sheet, read_ratings
from ragft.report.human import NO_ANSWER, RATINGS_FILE, SHEET_COLUMNS, key_path

from .report_sweeps import EVAL_JUDGE, make_eval_sweep, md_table

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = str(ROOT / "scripts" / "human_eval.py")
CELLS = ("0_approach=base", "1_approach=rag", "2_approach=finetune")


@pytest.fixture
def sweep(tmp_path: Path) -> Path:
    return make_eval_sweep(tmp_path)


def read_sheet(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


def write_sheet(path: Path, rows: list[dict[str, str]]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=SHEET_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")


def human_rating(cell: str, qid: str) -> int | None:
    """A made-up rater: near the judge, blank on every fourth question."""
    n = int(qid[1:])
    if qid.startswith("u"):
        return 5 + n
    if n % 4 == 3:
        return None
    judge = EVAL_JUDGE[cell.split("=")[1]][n]
    return min(10, max(1, (judge or 5) + (n % 3) - 1))


def rate(sheet: Path) -> dict[str, dict[str, int]]:
    """Fill the sheet's ratings with human_rating; the ratings human_ratings.json should get."""
    key = json.loads(key_path(sheet).read_text())["items"]
    rows = read_sheet(sheet)
    expected: dict[str, dict[str, int]] = {}
    for row in rows:
        where = key[row["item"]]
        rating = human_rating(where["cell"], where["id"])
        row["rating"] = "" if rating is None else str(rating)
        if rating is not None:
            expected.setdefault(where["cell"], {})[where["id"]] = rating
    write_sheet(sheet, rows)
    return expected


def test_the_sheet_is_shuffled_and_blinded(sweep: Path):
    done = export_sheet(sweep, seed=3)
    assert done.sheet == sweep / "human_eval.csv" and done.key == sweep / "human_eval.key.json"
    assert (done.n_items, done.n_cells) == (36, 3)  # 12 questions (2 unanswerable) x 3 cells
    text = done.sheet.read_text()
    assert text.splitlines()[0] == ",".join(SHEET_COLUMNS)
    for secret in ("approach", "base", "rag", "finetune", "0_", "1_", "2_", "q0", "u0"):
        assert secret not in text  # no cell, approach or question id in the sheet
    rows = read_sheet(done.sheet)
    assert [r["item"] for r in rows] == [str(i) for i in range(1, 37)]
    assert all(r["rating"] == "" for r in rows)
    key = json.loads(done.key.read_text())
    cells = [key["items"][r["item"]]["cell"] for r in rows]
    assert sorted(set(cells)) == list(CELLS) and cells != sorted(cells)  # mixed, not by cell
    first = rows[0]
    where = key["items"]["1"]
    assert first["question"] == where["question"]
    if where["id"].startswith("u"):
        assert first["reference"] == NO_ANSWER
    else:
        assert first["reference"] == "x | ex"
    assert export_sheet(sweep, sweep / "again.csv", seed=3).sheet.read_text() == text
    assert export_sheet(sweep, sweep / "other.csv", seed=4).sheet.read_text() != text


def test_max_per_cell_asks_the_same_questions_of_every_cell(sweep: Path, tmp_path: Path):
    done = export_sheet(sweep, tmp_path / "small.csv", seed=1, max_per_cell=4)
    assert done.n_items == 12
    key = json.loads(done.key.read_text())["items"]
    by_cell: dict[str, set[str]] = {}
    for where in key.values():
        by_cell.setdefault(where["cell"], set()).add(where["id"])
    assert len(by_cell) == 3 and all(len(ids) == 4 for ids in by_cell.values())
    assert len({frozenset(ids) for ids in by_cell.values()}) == 1


def test_round_trip_and_the_human_section(sweep: Path):
    done = export_sheet(sweep, seed=0)
    expected = rate(done.sheet)
    got = import_sheet(done.sheet)  # the sweep from the key file
    assert got.ratings == sweep / RATINGS_FILE and got.sweep == sweep.resolve()
    assert read_ratings(sweep) == expected
    assert got.n_rated == sum(map(len, expected.values())) and got.n_rated + got.n_blank == 36
    md = build_report(sweep).markdown
    text = md.split("## Human evaluation", 1)[1].split("\n## ", 1)[0]
    assert "quadratic weights" in text and "unweighted" in text
    cols = md_table(text)
    assert cols["cell"] == ["base", "rag", "finetune", "all cells"]
    pooled_h: list[int] = []
    pooled_j: list[int] = []
    labels = list(range(1, 11))
    for i, cell in enumerate(CELLS):
        mine = expected[cell]
        judge = EVAL_JUDGE[cell.split("=")[1]]
        pairs = [(r, judge[int(q[1:])]) for q, r in sorted(mine.items()) if q.startswith("q")]
        pairs = [(h, j) for h, j in pairs if j is not None]  # the judge rates answerable only
        h, j = [p[0] for p in pairs], [p[1] for p in pairs]
        pooled_h += h
        pooled_j += j
        assert cols["rated"][i] == str(len(mine)) and cols["both"][i] == str(len(pairs))
        assert cols["human mean"][i] == f"{sum(mine.values()) / len(mine):.2f}"
        assert cols["judge mean"][i] == f"{sum(j) / len(j):.2f}"
        quadratic = cohen_kappa_score(h, j, labels=labels, weights="quadratic")
        assert cols["kappa (quadratic)"][i] == f"{quadratic:.2f}"
        assert cols["kappa (unweighted)"][i] == f"{cohen_kappa_score(h, j, labels=labels):.2f}"
    pooled = cohen_kappa_score(pooled_h, pooled_j, labels=labels, weights="quadratic")
    assert cols["kappa (quadratic)"][3] == f"{pooled:.2f}"
    assert cols["both"][3] == str(len(pooled_h))


def test_a_second_import_replaces_only_what_it_rates(sweep: Path, tmp_path: Path):
    done = export_sheet(sweep, tmp_path / "a.csv", seed=0)
    expected = rate(done.sheet)
    import_sheet(done.sheet, sweep)
    rows = read_sheet(done.sheet)
    key = json.loads(done.key.read_text())["items"]
    for row in rows:
        row["rating"] = "1" if row["item"] == "1" else ""  # one new rating, the rest blank
    write_sheet(done.sheet, rows)
    got = import_sheet(done.sheet, sweep)
    assert (got.n_rated, got.n_blank) == (1, 35)
    where = key["1"]
    expected.setdefault(where["cell"], {})[where["id"]] = 1
    assert read_ratings(sweep) == expected


@pytest.mark.parametrize("bad", ["11", "0", "7.5", "seven", "-3"])
def test_a_bad_rating_names_its_row(sweep: Path, tmp_path: Path, bad: str):
    done = export_sheet(sweep, tmp_path / "s.csv")
    rows = read_sheet(done.sheet)
    rows[4]["rating"] = bad
    rows[0]["rating"] = "7.0"  # a spreadsheet's way of writing 7: fine
    write_sheet(done.sheet, rows)
    with pytest.raises(RagftError, match=rf"s\.csv row 6 \(item 5\): rating '{bad}' is not"):
        import_sheet(done.sheet)
    assert not (sweep / RATINGS_FILE).exists()  # nothing partial


def test_bad_sheets_are_clear_errors(sweep: Path, tmp_path: Path):
    done = export_sheet(sweep, tmp_path / "s.csv")
    with pytest.raises(RagftError, match="exists.*--force"):
        export_sheet(sweep, done.sheet)
    with pytest.raises(RagftError, match="at least 1"):
        export_sheet(sweep, tmp_path / "t.csv", max_per_cell=0)
    lone = tmp_path / "lone.csv"
    lone.write_text(done.sheet.read_text())
    with pytest.raises(RagftError, match=r"no key file .*lone\.key\.json"):
        import_sheet(lone)
    rows = read_sheet(done.sheet)
    rows[2]["question"] = "a question of another export?"
    write_sheet(done.sheet, rows)
    with pytest.raises(RagftError, match=r"row 4 \(item 3\): the question is not the key's"):
        import_sheet(done.sheet)
    rows = read_sheet(export_sheet(sweep, done.sheet, overwrite=True).sheet)
    rows.append({**rows[0], "item": "999"})
    write_sheet(done.sheet, rows)
    with pytest.raises(RagftError, match=r"row 38 \(item 999\): no such item"):
        import_sheet(done.sheet)
    rows[-1] = rows[0]
    write_sheet(done.sheet, rows)
    with pytest.raises(RagftError, match="twice"):
        import_sheet(done.sheet)
    (tmp_path / "x.csv").write_text("a,b\n1,2\n")
    key_path(tmp_path / "x.csv").write_text(done.key.read_text())
    with pytest.raises(RagftError, match="no item or rating column"):
        import_sheet(tmp_path / "x.csv")


def test_a_sheet_from_another_sweep(sweep: Path, tmp_path: Path):
    done = export_sheet(sweep, tmp_path / "s.csv")
    other = make_eval_sweep(tmp_path / "other")
    (other / "1_approach=rag").rename(other / "1_approach=rag,retriever=dense")
    with pytest.raises(RagftError, match="from another sweep: item .* which .*other"):
        import_sheet(done.sheet, other)
    with pytest.raises(RagftError, match="does not exist"):
        import_sheet(done.sheet, tmp_path / "absent")
    assert not (other / RATINGS_FILE).exists()


def test_a_bad_ratings_file_is_an_error(sweep: Path):
    (sweep / RATINGS_FILE).write_text(json.dumps({"0_approach=base": {"q0": 12}}))
    with pytest.raises(RagftError, match="human_ratings.json is not"):
        read_ratings(sweep)
    (sweep / RATINGS_FILE).write_text("{broken")
    with pytest.raises(RagftError, match="unreadable"):
        build_report(sweep)


def test_cli_export_then_import(sweep: Path, tmp_path: Path):
    sheet = tmp_path / "sheet.csv"

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, SCRIPT, *args], capture_output=True, text=True, timeout=120
        )

    res = run("export", str(sweep), "--out", str(sheet), "--seed", "2", "--max-per-cell", "5")
    assert res.returncode == 0, res.stderr
    assert f"sheet: {sheet} (15 answers of 3 cells)" in res.stdout
    assert f"key:   {tmp_path / 'sheet.key.json'}" in res.stdout
    expected = rate(sheet)
    res = run("import", str(sheet), "--sweep", str(sweep))
    assert res.returncode == 0, res.stderr
    assert f"ratings: {sweep / RATINGS_FILE}" in res.stdout
    assert read_ratings(sweep) == expected
    rows = read_sheet(sheet)
    rows[0]["rating"] = "ten"
    write_sheet(sheet, rows)
    res = run("import", str(sheet))
    assert res.returncode == 2 and res.stdout == ""
    assert res.stderr.startswith("human_eval: error: ") and "row 2 (item 1)" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    res = run("export", str(tmp_path / "absent"))
    assert res.returncode == 2 and "does not exist" in res.stderr
