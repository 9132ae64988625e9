#!/usr/bin/env python
"""The report of a sweep: a table, a CSV, plots and report.md in <sweep>/report/.

The same as `ragft report ...`:

    python scripts/report.py                                  # the newest sweep under multirun/
    python scripts/report.py multirun/2026-11-22/14-50-00
    python scripts/report.py multirun/2026-11-22/14-50-00 --metric f1

Exit status 0, or 2 with a one-line `report: error: ...` when there is nothing to report on.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    """`ragft report ARGV` (ragft/cli.py), runnable from a checkout without installing."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from ragft.cli import report

    return report(sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(main())
