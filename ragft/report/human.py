"""Human evaluation of a sweep: a blinded rating sheet out, the ratings back in.

    export_sheet(sweep)             -> <sweep>/human_eval.csv and human_eval.key.json
    import_sheet(sheet)             -> <sweep>/human_ratings.json
    read_ratings(sweep)             -> {cell folder name: {question id: rating}}

The sheet (CSV: item, question, reference, answer, rating) holds the answers of every ok
cell in one shuffled order, numbered 1, 2, ...; nothing in it says which cell or approach
gave an answer. That is in the key file beside it (item -> cell folder, question id, and
the question, to recognise the sheet again), which raters should not open. Ratings are
whole numbers 1..10 (HUMAN_SCALE); a blank rating is "not rated". Importing checks the
sheet against its key and the key against the sweep, and merges the ratings into
human_ratings.json, which the report reads (scripts/human_eval.py is the command line).
"""

from __future__ import annotations

import csv
import io
import json
import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ragft.errors import RagftError
from ragft.files import atomic_write_json, atomic_write_text
from ragft.report.cells import Cell, load_cells
from ragft.report.evaluation import HUMAN_SCALE

SHEET_COLUMNS = ("item", "question", "reference", "answer", "rating")
SHEET_FILE = "human_eval.csv"
RATINGS_FILE = "human_ratings.json"
NO_ANSWER = "(none: the documents do not answer this question; saying so is right)"
GOLD_SEPARATOR = " | "  # between the accepted reference answers


def key_path(sheet: Path) -> Path:
    """The key file of a sheet: human_eval.csv -> human_eval.key.json."""
    return Path(sheet).with_suffix(".key.json")


@dataclass(frozen=True)
class Exported:
    sheet: Path
    key: Path
    n_items: int
    n_cells: int


def _items(cells: list[Cell], rng: random.Random, max_per_cell: int | None) -> list[tuple]:
    """(cell, question id, row) to rate: per cell its questions in one shuffled id order, so
    cells cut by `max_per_cell` share their questions; then all shuffled together."""
    order = sorted({q for c in cells for q in c.rows()})
    rng.shuffle(order)
    items = []
    for c in cells:
        rows = c.rows()
        ids = [q for q in order if q in rows][:max_per_cell]
        items += [(c, q, rows[q]) for q in ids]
    rng.shuffle(items)
    return items


def export_sheet(
    sweep_dir: Path,
    out: Path | None = None,
    seed: int = 0,
    max_per_cell: int | None = None,
    overwrite: bool = False,
) -> Exported:
    """Write the blinded sheet (default <sweep>/human_eval.csv) and its key file beside it."""
    sweep_dir = Path(sweep_dir)
    sheet = Path(out) if out is not None else sweep_dir / SHEET_FILE
    if max_per_cell is not None and max_per_cell < 1:
        raise RagftError(f"--max-per-cell must be at least 1, got {max_per_cell}")
    if sheet.exists() and not overwrite:
        raise RagftError(f"{sheet} exists (it may hold ratings): pass --force to replace it")
    cells = [c for c in load_cells(sweep_dir) if c.ok and c.rows()]
    if not cells:
        raise RagftError(f"no cell of {sweep_dir} finished with a predictions.jsonl to rate")
    items = _items(cells, random.Random(seed), max_per_cell)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(SHEET_COLUMNS)
    key: dict[str, Any] = {}
    for n, (c, qid, row) in enumerate(items, start=1):
        golds = [str(g) for g in row.get("golds") or []]
        question = str(row.get("question", ""))
        reference = GOLD_SEPARATOR.join(golds) if golds else NO_ANSWER
        writer.writerow([n, question, reference, str(row.get("prediction", "")), ""])
        key[str(n)] = {"cell": c.dir.name, "id": qid, "question": question}
    sheet.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(sheet, buf.getvalue())
    meta = {"sweep": str(sweep_dir.resolve()), "scale": HUMAN_SCALE, "seed": seed}
    atomic_write_json(key_path(sheet), {**meta, "items": key})
    return Exported(sheet, key_path(sheet), len(items), len(cells))


@dataclass(frozen=True)
class Imported:
    ratings: Path  # <sweep>/human_ratings.json
    sweep: Path
    n_rated: int
    n_blank: int


def _read_key(sheet: Path) -> dict[str, Any]:
    path = key_path(sheet)
    if not path.is_file():
        raise RagftError(
            f"no key file {path} beside {sheet}: import needs the key that "
            "`human_eval.py export` wrote next to the sheet (keep the two together)"
        )
    try:
        key = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise RagftError(f"unreadable key file {path}: {e}") from None
    if not isinstance(key, dict) or not isinstance(key.get("items"), dict):
        raise RagftError(f"{path} is not a key file of human_eval.py export (no items)")
    return key


def _rating(text: str, where: str) -> int | None:
    """A cell of the rating column: None when blank, else a whole number 1..10."""
    text = text.strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not value.is_integer() or not 1 <= value <= HUMAN_SCALE:
        raise RagftError(
            f"{where}: rating {text!r} is not a whole number from 1 to {HUMAN_SCALE} "
            "(leave it blank for not rated)"
        )
    return int(value)


def _read_sheet(sheet: Path, items: Mapping[str, Any]) -> dict[str, int | None]:
    """{item: rating or None} from the sheet, each row checked against the key's items."""
    try:
        text = sheet.read_text(encoding="utf-8-sig")  # a spreadsheet's BOM, if it wrote one
    except OSError as e:
        raise RagftError(f"cannot read the sheet {sheet}: {e}") from None
    reader = csv.DictReader(io.StringIO(text))
    absent = [c for c in ("item", "rating") if c not in (reader.fieldnames or [])]
    if absent:
        raise RagftError(f"{sheet} has no {' or '.join(absent)} column: not a rating sheet")
    out: dict[str, int | None] = {}
    for n, row in enumerate(reader, start=2):  # row 1 is the header, as a spreadsheet counts
        item = str(row.get("item") or "").strip()
        where = f"{sheet} row {n} (item {item or '?'})"
        if item not in items:
            raise RagftError(f"{where}: no such item in its key file (a sheet of another export?)")
        if item in out:
            raise RagftError(f"{where}: the item appears twice")
        question = row.get("question")
        if question is not None and _same(question) != _same(items[item].get("question")):
            raise RagftError(
                f"{where}: the question is not the key's for this item "
                "(a sheet from another export or sweep?)"
            )
        out[item] = _rating(row.get("rating") or "", where)
    return out


def _same(text: Any) -> str:
    """Text as compared with the key: a spreadsheet may change spaces and line breaks."""
    return " ".join(str(text or "").split())


def _check_sweep(sweep: Path, key: Mapping[str, Any]) -> None:
    """Every cell and question the key names is in `sweep`, with the same question."""
    if not sweep.is_dir():
        raise RagftError(f"sweep folder {sweep} does not exist (give it with --sweep)")
    cells = {c.dir.name: c for c in load_cells(sweep)}
    for item, where in key["items"].items():
        cell = cells.get(str(where.get("cell")))
        row = cell.rows().get(str(where.get("id"))) if cell else None
        if row is None or _same(row.get("question")) != _same(where.get("question")):
            raise RagftError(
                f"the sheet is from another sweep: item {item} is question "
                f"{where.get('id')!r} of cell {where.get('cell')!r}, which {sweep} does not "
                f"have (the sheet was exported from {key.get('sweep')})"
            )


def import_sheet(sheet: Path, sweep_dir: Path | None = None) -> Imported:
    """Read a rated sheet back; merge its ratings into <sweep>/human_ratings.json.

    The sweep is `sweep_dir`, else the one the key file names. A rating given again for the
    same (cell, question) replaces the earlier one; blank ratings change nothing.
    """
    sheet = Path(sheet)
    key = _read_key(sheet)
    if sweep_dir is None and not key.get("sweep"):
        raise RagftError(f"{key_path(sheet)} names no sweep: give it with --sweep")
    sweep = Path(sweep_dir) if sweep_dir is not None else Path(str(key["sweep"]))
    ratings = _read_sheet(sheet, key["items"])
    _check_sweep(sweep, key)
    merged = read_ratings(sweep)
    for item, rating in ratings.items():
        if rating is not None:
            where = key["items"][item]
            merged.setdefault(str(where["cell"]), {})[str(where["id"])] = rating
    path = sweep / RATINGS_FILE
    atomic_write_json(path, {c: dict(sorted(r.items())) for c, r in sorted(merged.items())})
    n_rated = sum(r is not None for r in ratings.values())
    return Imported(path, sweep, n_rated, len(ratings) - n_rated)


def read_ratings(sweep_dir: Path) -> dict[str, dict[str, int]]:
    """<sweep>/human_ratings.json: {cell folder name: {question id: rating}}; {} without it."""
    path = Path(sweep_dir) / RATINGS_FILE
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise RagftError(f"unreadable {path}: {e}") from None
    ok = isinstance(data, dict) and all(
        isinstance(r, dict)
        and all(isinstance(v, int) and 1 <= v <= HUMAN_SCALE for v in r.values())
        for r in data.values()
    )
    if not ok:
        raise RagftError(
            f"{path} is not {{cell: {{question id: rating 1..{HUMAN_SCALE}}}}}: "
            "write it with `python scripts/human_eval.py import`"
        )
    return {str(c): {str(q): int(v) for q, v in r.items()} for c, r in data.items()}
