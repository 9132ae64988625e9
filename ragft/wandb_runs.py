"""W&B run settings: the mode (online, offline), run ids, the sweep's group, its summary run.

The mode is `logger.mode`, else `$WANDB_MODE`, else online when W&B has a key to send with
(`$WANDB_API_KEY`, or a key `wandb login` stored in the netrc file), else offline: nothing is
ever sent without a key, and a user who logged in gets online runs without saying so again.
A run's id comes from its cell folder, so re-running a sweep resumes (updates) each cell's
run instead of adding a second one beside it.
"""

from __future__ import annotations

import hashlib
import netrc
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from ragft.config import LoggerConfig

DEFAULT_HOST = "https://api.wandb.ai"
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")  # Hydra's default sweep folder: <date>/<time>


def wandb_mode(cfg: LoggerConfig) -> str:
    """logger.mode, else $WANDB_MODE, else online with a key (variable or stored login),
    else offline."""
    if cfg.mode:
        return cfg.mode
    if os.environ.get("WANDB_MODE"):
        return os.environ["WANDB_MODE"]
    return "online" if os.environ.get("WANDB_API_KEY") or stored_login() else "offline"


def stored_login() -> bool:
    """Whether `wandb login` stored a key for W&B's host ($WANDB_BASE_URL, else
    api.wandb.ai) in the netrc file ($NETRC, else ~/.netrc), where wandb reads it."""
    host = urlparse(os.environ.get("WANDB_BASE_URL") or DEFAULT_HOST).hostname
    path = os.environ.get("NETRC") or os.path.join(os.path.expanduser("~"), ".netrc")
    try:
        entry = netrc.netrc(path).authenticators(host or "")
    except (OSError, netrc.NetrcParseError):
        return False
    return bool(entry and entry[2])


def run_id(folder: Path) -> str:
    """The W&B run id of a cell (or summary) folder: the same folder, the same run."""
    return hashlib.sha256(str(Path(folder).resolve()).encode()).hexdigest()[:16]


def sweep_group(sweep_dir: str | Path, experiment: str | None = None) -> str:
    """The W&B group of a sweep's cells and of its summary run: "compare-2026-11-22-14-50-00"
    (the experiment, then the sweep's date and time from Hydra's default folder layout, or
    the sweep folder's name)."""
    parts = Path(sweep_dir).parts
    when = "-".join(parts[-2:]) if len(parts) > 1 and _DATE.match(parts[-2]) else parts[-1]
    return f"{experiment or 'sweep'}-{when}" if parts else experiment or "sweep"


def log_sweep_summary(
    sweep_dir: Path, report: Any, logger: LoggerConfig, experiment: str | None = None
) -> None:
    """One extra W&B run per sweep (job_type "summary"): the decision, the table, the
    comparisons and the plots."""
    import pandas as pd
    import wandb

    run = wandb.init(
        project=logger.project,
        entity=logger.entity,
        group=logger.group or sweep_group(sweep_dir, experiment),
        job_type="summary",
        name="summary",
        tags=["summary", *logger.tags],
        dir=str(sweep_dir),
        mode=wandb_mode(logger),
        id=run_id(Path(sweep_dir) / "summary"),
        resume="allow",
        reinit="finish_previous",
    )
    try:
        run.log({"comparison": wandb.Table(dataframe=pd.read_csv(report.csv_path))})
        run.log({"pairwise": wandb.Table(dataframe=pd.read_csv(report.comparisons_csv_path))})
        run.log({p.stem: wandb.Image(str(p)) for p in report.plots})
        made = report.verdict  # the decision: its text as HTML, its figures in the summary
        if made is not None:
            run.log({"decision": wandb.Html(f"<p>{made.html()}</p>")})
        run.summary.update({"cells_ok": report.n_ok, "cells_failed": report.n_failed,
                            "cells_missing": report.n_missing, "metric": report.metric,
                            "decision": report.decision,
                            **(made.summary() if made is not None else {})})  # fmt: skip
    finally:
        run.finish()
