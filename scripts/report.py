#!/usr/bin/env python
"""The report of a sweep: a table, a CSV, plots and report.md in <sweep>/report/.

    python scripts/report.py                                  # the newest sweep under multirun/
    python scripts/report.py multirun/2026-11-22/14-50-00
    python scripts/report.py multirun/2026-11-22/14-50-00 --metric f1

Exit status 0, or 2 with a one-line `report: error: ...` when there is nothing to report on.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="report", description="Table and plots of a `python run.py -m` sweep."
    )
    parser.add_argument(
        "sweep_dir",
        nargs="?",
        type=Path,
        help="the sweep folder (default: the newest sweep under ./multirun)",
    )
    parser.add_argument(
        "--metric",
        default=None,
        help="the score to plot and compare (default: the sweep's primary metric)",
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="output folder (default: <sweep>/report)"
    )
    args = parser.parse_args(argv)

    if str(ROOT) not in sys.path:  # runnable from a checkout without installing ragft
        sys.path.insert(0, str(ROOT))
    from ragft import report
    from ragft.errors import RagftError

    try:
        sweep_dir = args.sweep_dir or report.newest_sweep(Path("multirun"))
        rep = report.build_report(sweep_dir, args.out, metric=args.metric)
    except RagftError as e:
        print(f"report: error: {' '.join(str(e).split())}", file=sys.stderr)
        return 2
    print(f"{sweep_dir}\n\n{rep.markdown_table}\n")
    if rep.decision:
        print(f"decision: {rep.decision.replace('**', '')}\n")
    print(
        f"cells: {rep.n_ok} ok, {rep.n_failed} failed, {rep.n_missing} missing; "
        f"metric: {rep.metric}"
    )
    print(f"report: {rep.markdown_path}\ntable:  {rep.csv_path}\ncells:  {rep.cells_csv_path}")
    for plot in rep.plots:
        print(f"plot:   {plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
