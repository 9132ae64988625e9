"""W&B run settings: the mode (online, offline), run ids, the sweep's group; what runs get
besides their scores: the predictions table, the adapter artifact (logged by the cell that
trained it, used by the cells that reused it); the sweep's summary run, and each cell's
difference from the sweep's reference row.

The mode is `logger.mode`, else `$WANDB_MODE`, else online when W&B has a key to send with
(`$WANDB_API_KEY`, or a key `wandb login` stored in the netrc file), else offline: nothing is
ever sent without a key, and a user who logged in gets online runs without saying so again.
A run's id comes from its cell folder, so re-running a sweep resumes (updates) each cell's
run instead of adding a second one beside it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import netrc
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlparse

from ragft.config import LoggerConfig

log = logging.getLogger(__name__)
DEFAULT_HOST = "https://api.wandb.ai"
API_TIMEOUT = 20  # seconds per W&B API request at the sweep's end
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


def cell_run_id(folder: Path, in_sweep: bool = False) -> str:
    """A cell's run id: `run_id(folder)`, except for a single run under a W&B sweep agent,
    whose run the agent has named already ($WANDB_SWEEP_ID and $WANDB_RUN_ID): that run is
    the W&B sweep's trial. (A Hydra sweep under an agent keeps one run per cell.)"""
    if os.environ.get("WANDB_SWEEP_ID") and os.environ.get("WANDB_RUN_ID") and not in_sweep:
        return os.environ["WANDB_RUN_ID"]
    return run_id(folder)


def sweep_group(sweep_dir: str | Path, experiment: str | None = None) -> str:
    """The W&B group of a sweep's cells and of its summary run: "compare-2026-11-22-14-50-00"
    (the experiment, then the sweep's date and time from Hydra's default folder layout, or
    the sweep folder's name)."""
    parts = Path(sweep_dir).parts
    when = "-".join(parts[-2:]) if len(parts) > 1 and _DATE.match(parts[-2]) else parts[-1]
    return f"{experiment or 'sweep'}-{when}" if parts else experiment or "sweep"


def predictions_table(predictions: list[dict[str, Any]]):
    """predictions.jsonl's rows as a W&B table: the question, golds, answer, top passage and
    one column per metric."""
    import wandb

    metric_names = sorted({m for p in predictions for m in p.get("metrics", {})})
    columns = ["id", "question", "golds", "prediction", "top_passage", *metric_names]
    table = wandb.Table(columns=columns)
    for p in predictions:
        top = p["passages"][0]["doc_id"] if p.get("passages") else ""
        table.add_data(
            p["id"],
            p["question"],
            " | ".join(p["golds"]),
            p["prediction"],
            top,
            *[p["metrics"].get(m) for m in metric_names],
        )
    return table


def log_adapter(run: Any, entry: Path, folder: Path, full_model: bool, reused: bool) -> None:
    """The adapter in `folder` (copied from the cache `entry`) as an artifact of `run`.

    The artifact's name comes from the cache entry ("lora-adapter-<entry>", or "model-..."
    for full weights, logged by reference to the entry), so the cells that share an adapter
    name one artifact with one digest. The cell that trained it logs it; a cell that reused
    it (`reused`: the hybrid cell, whose finetune twin trained it) declares it an input
    instead, so W&B's lineage graph reads finetune -> adapter -> hybrid and holds one version:

    - online, `run.use_artifact(artifact)`: W&B finds the version with the same digest (no
      second version, no second upload) and records the run as its user;
    - offline, `use_artifact` is refused (it needs the server); the run logs the artifact
      flagged use-after-commit, which is what `use_artifact` itself sends for a new artifact
      online, so `wandb sync` makes the same input edge.
    """
    import wandb

    kind = "model" if full_model else "lora-adapter"
    artifact = wandb.Artifact(f"{kind}-{entry.name[:16]}", type=kind)
    if full_model:  # the cache entry: the same reference (and digest) for every cell
        artifact.add_reference(entry.resolve().as_uri(), checksum=False)
    else:
        artifact.add_dir(str(folder))
    if not reused:
        run.log_artifact(artifact)
    elif not getattr(run, "offline", False):
        run.use_artifact(artifact)
    elif hasattr(run, "_log_artifact"):
        run._log_artifact(artifact, use_after_commit=True)
    else:  # a wandb without it: a duplicate log, which W&B still keeps as one version
        run.log_artifact(artifact)


def log_sweep_summary(
    sweep_dir: Path, report: Any, logger: LoggerConfig, experiment: str | None = None
) -> None:
    """One extra W&B run per sweep (job_type "summary"): the decision, the table, the
    comparisons, the plots and each cell's difference from the reference row (`versus`);
    then those differences into the cell runs' own summaries (`update_cell_runs`: online
    runs only) and, online, the group's URL printed."""
    import wandb

    group = logger.group or sweep_group(sweep_dir, experiment)
    mode = wandb_mode(logger)
    figures = versus(report.rows, report.metric)
    run = wandb.init(
        project=logger.project,
        entity=logger.entity,
        group=group,
        job_type="summary",
        name="summary",
        tags=["summary", *logger.tags],
        dir=str(sweep_dir),
        mode=mode,
        id=run_id(Path(sweep_dir) / "summary"),
        resume="allow",
        reinit="finish_previous",
    )
    try:
        _log_report(run, report, figures)
        url = group_url(run, group) if mode == "online" else None
    finally:
        run.finish()
    update_cell_runs(figures, logger.entity)
    if url:
        print(f"wandb:  {url}", flush=True)


def _log_report(run: Any, report: Any, figures: dict[Path, dict[str, Any]]) -> None:
    import pandas as pd
    import wandb

    run.log({"comparison": wandb.Table(dataframe=pd.read_csv(report.csv_path))})
    run.log({"pairwise": wandb.Table(dataframe=pd.read_csv(report.comparisons_csv_path))})
    run.log({p.stem: wandb.Image(str(p)) for p in report.plots})
    if figures:  # offline cell runs cannot take them: here they are in any mode
        rows = [{"cell": d.name, "run_id": run_id(d), **f} for d, f in figures.items()]
        run.log({"vs_reference": wandb.Table(dataframe=pd.DataFrame(rows))})
    made = report.verdict  # the decision: its text as HTML, its figures in the summary
    if made is not None:
        run.log({"decision": wandb.Html(f"<p>{made.html()}</p>")})
    run.summary.update({"cells_ok": report.n_ok, "cells_failed": report.n_failed,
                        "cells_missing": report.n_missing, "metric": report.metric,
                        "decision": report.decision,
                        **(made.summary() if made is not None else {})})  # fmt: skip


def group_url(run: Any, group: str) -> str | None:
    """The W&B page of the sweep's group (its runs together), from the run's project URL."""
    project = run.project_url
    return f"{project}/groups/{quote(group, safe='')}" if project else None


def reference_row(rows: Sequence[Any], metric: str) -> Any | None:
    """The row each cell is measured against: the first `base` row with a `metric` score
    (the untrained model without retrieval; the report's known / unknown split measures by
    a base cell too), else the decision's runner-up (what the decision measures the best
    against: the second of `decision.ranked`); None with under two scored rows."""
    from ragft.report.decision import ranked

    scored = ranked(rows, metric)
    base = next((r for r in rows if r.approach == "base" and r.score(metric) is not None), None)
    return base if base is not None else (scored[1] if len(scored) > 1 else None)


def versus(rows: Sequence[Any], metric: str) -> dict[Path, dict[str, Any]]:
    """{cell folder: its row minus the reference row on `metric`} for every ok cell of the
    report's `rows` (`Report.rows`: those its decision ranked, a search's trials only).

    The figures are the report's paired comparison (`compare.compare`: the mean difference
    over shared questions and seeds, fractions, with its nested bootstrap 95% CI), under
    the keys `<metric>`, `<metric>_ci_low`, `<metric>_ci_high`, with `label` (the reference
    row's label), `row` (the cell's own), `metric` and `is_reference`. Every seed of a row
    gets the row's figures. {} when there is no reference (under two scored rows).
    """
    from ragft.report.compare import compare

    ref = reference_row(rows, metric)
    if ref is None:
        return {}
    out: dict[Path, dict[str, Any]] = {}
    for r in rows:
        score, base = r.score(metric), ref.score(metric)
        if score is None or base is None:
            continue
        figures: dict[str, Any] = {"label": ref.label, "row": r.label, "metric": metric,
                                   "is_reference": r is ref, metric: score - base}  # fmt: skip
        c = compare(r, ref, metric) if r is not ref else None
        if c is not None:
            figures.update({metric: c.mean, f"{metric}_ci_low": c.low, f"{metric}_ci_high": c.high})
        out.update({cell.dir: figures for cell in r.cells if cell.ok})
    return out


def update_cell_runs(figures: dict[Path, dict[str, Any]], entity: str | None) -> int:
    """Add each cell's figures to its W&B run's summary as `vs_reference.<key>`; returns how
    many runs took them.

    Through W&B's public API (`Api().run(path).summary.update`: one request per run, no run
    re-opened), for the cells whose run was online (their folder's wandb_run.json says so).
    An offline run cannot be updated after it finished: re-opening it offline writes a second
    offline folder whose summary, once synced, would replace the run's own. Its figures are
    in the summary run's `vs_reference` table instead. A run W&B cannot find is skipped.
    """
    online = {}
    for folder, f in figures.items():
        meta = _run_meta(folder)
        if meta.get("mode") == "online" and meta.get("id"):
            parts = (meta.get("entity") or entity, meta.get("project"), meta["id"])
            online["/".join(p for p in parts if p)] = f
    if not online:
        return 0
    import wandb

    done = 0
    try:
        api = wandb.Api(timeout=API_TIMEOUT)
    except Exception as e:  # noqa: BLE001 - e.g. no key after all: the sweep still ends
        log.warning("W&B: no API to add the vs_reference figures to the cell runs: %s", e)
        return 0
    for path, f in online.items():
        try:
            api.run(path).summary.update({f"vs_reference.{k}": v for k, v in f.items()})
            done += 1
        except Exception as e:  # noqa: BLE001 - one run W&B refuses must not end the sweep
            log.warning("W&B: run %s did not take its vs_reference figures: %s", path, e)
    log.info("W&B: %d of %d online cell runs took their vs_reference figures", done, len(online))
    return done


def _run_meta(folder: Path) -> dict[str, Any]:
    """The cell's wandb_run.json (written by the Tracker); {} without one."""
    try:
        return json.loads((Path(folder) / "wandb_run.json").read_text())
    except (OSError, ValueError):
        return {}
