#!/usr/bin/env python
"""Human evaluation of a sweep: a blinded rating sheet out, the ratings back in.

    python scripts/human_eval.py export multirun/2026-11-22/14-50-00
    python scripts/human_eval.py export <sweep> --out sheet.csv --seed 1 --max-per-cell 20
    python scripts/human_eval.py import sheet.csv [--sweep <sweep>]

`export` writes a CSV (item, question, reference, answer, rating) with every ok cell's
answers shuffled together and nothing saying which cell gave which, plus its key file
beside it (sheet.key.json: item -> cell, question); give raters the CSV only. They fill
`rating` with whole numbers 1..10 (blank: not rated). `import` checks the sheet against
its key and the sweep and merges the ratings into <sweep>/human_ratings.json; the next
`python scripts/report.py <sweep>` shows them beside the judge's, with Cohen's kappa.

Exit status 0, or 2 with a one-line `human_eval: error: ...`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="human_eval", description="Blinded human rating of a `python run.py -m` sweep."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    export = sub.add_parser("export", help="write the blinded sheet and its key file")
    export.add_argument("sweep_dir", type=Path, help="the sweep folder")
    export.add_argument(
        "--out", type=Path, default=None, help="the sheet (default: <sweep>/human_eval.csv)"
    )
    export.add_argument("--seed", type=int, default=0, help="the shuffle's seed (default 0)")
    export.add_argument(
        "--max-per-cell",
        type=int,
        default=None,
        help="at most N answers of each cell, the same questions in every cell (default: all)",
    )
    export.add_argument("--force", action="store_true", help="replace an existing sheet")
    imp = sub.add_parser("import", help="read a rated sheet into <sweep>/human_ratings.json")
    imp.add_argument("sheet", type=Path, help="the rated CSV, its key file beside it")
    imp.add_argument(
        "--sweep", type=Path, default=None, help="the sweep folder (default: the key's)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if str(ROOT) not in sys.path:  # runnable from a checkout without installing ragft
        sys.path.insert(0, str(ROOT))
    from ragft.errors import RagftError
    from ragft.report import human

    try:
        if args.command == "export":
            done = human.export_sheet(
                args.sweep_dir, args.out, args.seed, args.max_per_cell, args.force
            )
            print(f"sheet: {done.sheet} ({done.n_items} answers of {done.n_cells} cells)")
            print(f"key:   {done.key} (keep it beside the sheet; do not show it to raters)")
        else:
            got = human.import_sheet(args.sheet, args.sweep)
            print(f"ratings: {got.ratings} ({got.n_rated} rated, {got.n_blank} blank)")
            print(f"report:  python scripts/report.py {got.sweep}")
    except RagftError as e:
        print(f"human_eval: error: {' '.join(str(e).split())}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
