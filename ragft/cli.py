"""The `ragft` command.

    ragft run [-m] [OVERRIDES...]        one cell, or a sweep with -m (Hydra's own command line)
    ragft generate [OVERRIDES...]        documents -> a QA and instruction set
    ragft report [SWEEP] [--metric M]    the report of a sweep (default: the newest one)
    ragft cache ls | verify | prune      what the content-addressed cache holds

`run` and `generate` take everything `python run.py` / `python generate.py` take, including
`--config-dir DIR` (a folder of your own options beside the shipped ragft/conf/), `--cfg job`
and `--help`. `python -m ragft ...` is the same command.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

COMMANDS = ("run", "generate", "report", "cache")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.strip().split("\n\n")[1] if argv else __doc__.strip())
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command in ("run", "generate"):
        sys.argv = [f"ragft {command}", *rest]  # Hydra reads its overrides from sys.argv
        importlib.import_module(f"ragft.{command}").main()
        return 0
    if command == "report":
        return report(rest)
    if command == "cache":
        return cache(rest)
    print(
        f"ragft: error: unknown command {command!r}; one of {', '.join(COMMANDS)}", file=sys.stderr
    )
    return 2


def report(argv: list[str]) -> int:
    """`ragft report`: table, CSVs, plots and report.md of a sweep; 2 when there is none."""
    parser = argparse.ArgumentParser(
        prog="ragft report", description="Table, plots and decision of a `ragft run -m` sweep."
    )
    parser.add_argument(
        "sweep_dir",
        nargs="?",
        type=Path,
        help="the sweep folder (default: the newest sweep under ./multirun)",
    )
    parser.add_argument(
        "--metric", default=None, help="the score to compare (default: the sweep's primary metric)"
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="output folder (default: <sweep>/report)"
    )
    args = parser.parse_args(argv)

    from ragft import report as sweep_report
    from ragft.errors import RagftError

    try:
        sweep_dir = args.sweep_dir or sweep_report.newest_sweep(Path("multirun"))
        rep = sweep_report.build_report(sweep_dir, args.out, metric=args.metric)
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


def cache(argv: list[str]) -> int:
    """`ragft cache ls | verify | prune`: exit 1 when verify finds a bad entry."""
    from ragft import cache as store

    parser = argparse.ArgumentParser(
        prog="ragft cache",
        description="The content-addressed cache: models, indexes, adapters, finished cells.",
    )
    parser.add_argument("action", choices=("ls", "verify", "prune"))
    parser.add_argument(
        "--dir",
        type=Path,
        default=None,
        help="the cache folder (default: $RAGFT_CACHE_DIR, else ~/.cache/ragft)",
    )
    parser.add_argument("--kind", default=None, help="only entries of this kind (e.g. cell)")
    parser.add_argument(
        "--older-than",
        type=float,
        default=None,
        metavar="DAYS",
        help="prune: entries created more than DAYS ago",
    )
    parser.add_argument(
        "--broken",
        action="store_true",
        help="prune: entries that fail their checksums, and leftover folders",
    )
    parser.add_argument("--dry-run", action="store_true", help="prune: only say what would go")
    args = parser.parse_args(argv)
    root = (args.dir or store.default_cache_dir()).expanduser()
    if args.action == "prune" and args.older_than is None and not args.broken:
        print("ragft cache: error: prune needs --older-than DAYS and/or --broken", file=sys.stderr)
        return 2
    found = store.entries(root, args.kind)
    if args.action == "ls":
        for e in found:
            print(f"{e.kind:<14} {e.key[:16]}  {_size(e.size_bytes):>9}  {_date(e.created)}")
        print(f"{len(found)} entries, {_size(sum(e.size_bytes for e in found))} in {root}")
        return 0
    if args.action == "verify":
        bad = [e for e in found if not store.verify(e.path)]
        for e in bad:
            print(f"bad: {e.kind}/{e.key} (a file is missing or fails its checksum)")
        print(f"{len(found) - len(bad)} of {len(found)} entries pass their checksums")
        return 1 if bad else 0
    return _prune(args, root, found)


def _prune(args: argparse.Namespace, root: Path, found: list) -> int:
    """`ragft cache prune`: old entries, broken ones and leftovers; never one in use."""
    from ragft import cache as store

    cutoff = time.time() - args.older_than * 86400 if args.older_than is not None else None
    doomed = [e.path for e in found if cutoff is not None and e.created < cutoff]
    if args.broken:
        doomed += [e.path for e in found if e.path not in doomed and not store.verify(e.path)]
        doomed += store.leftovers(root, args.kind)
    sizes = {e.path: e.size_bytes for e in found}  # leftovers are not listed: measured here
    freed, gone = 0, 0
    for path in doomed:
        with store.unused(path) as free:
            if not free:  # being built or read right now
                print(f"in use, kept: {path}")
                continue
            freed += sizes.get(path) or sum(
                f.stat().st_size for f in path.rglob("*") if f.is_file()
            )
            gone += 1
            print(f"{'would remove' if args.dry_run else 'removed'}: {path}")
            if not args.dry_run:
                store.remove(path)
    print(f"{gone} folders, {_size(freed)}{' (dry run)' if args.dry_run else ''}")
    return 0


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n / 2**10:.1f} KiB"


def _date(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(t))


if __name__ == "__main__":
    sys.exit(main())
