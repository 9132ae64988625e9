"""A sweep folder's cells: one typed `Cell` per cell folder, from the files the cell wrote.

results.json is read only through `CellResult.from_json`. A cell folder without it is
"missing" (crashed, interrupted or still running); one whose result says `"status":
"failed"` is failed, with its error; one whose results.json cannot be read is failed too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ragft.errors import RagftError
from ragft.metrics import bootstrap_ci
from ragft.records import CellResult, Cost
from ragft.report.axes import axis_values, get, label, sweep_axes, varying_axes

MISSING = "no results.json: the cell crashed, was interrupted or is still running"
# Config groups: in a folder name, `approach=raft` picks `approach.name`.
_GROUPS = ("approach", "model", "lora", "quant", "retriever", "data", "trainer", "logger")
# predictions.jsonl keys the report never reads, left out of memory (passages are long)
_HEAVY = frozenset({"prompt", "raw_output", "passages"})
_JOB_DIR = re.compile(r"^(\d+)(?:_(.*))?$")


@dataclass(frozen=True)
class Cell:
    """One cell folder of a sweep, as its files describe it."""

    dir: Path
    job: int
    name: str  # the override string ("approach=rag,lora.r=8"), or the folder name
    status: str  # "ok" | "failed" | "missing"
    approach: str  # "?" when no file names it
    label: str  # short, from the axes that vary across the sweep: "hybrid r=8"
    # the sweep's axes (`axes.sweep_axes`) -> value; NA where the axis does not apply, None
    # if unknown
    axes: dict[str, Any]
    result: CellResult | None = None  # None: missing or unreadable
    error: str = ""
    # results.json's "evaluation" (judge, abstention, control); {} in older files
    evaluation: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict, repr=False)  # resolved, or what is known
    _memo: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def scores(self) -> dict[str, float]:
        """Fractions in [0, 1]; none for a cell that did not finish."""
        return self.result.scores if self.ok and self.result else {}

    @property
    def cost(self) -> Cost:
        return self.result.cost if self.result else Cost()

    @property
    def primary_metric(self) -> str | None:
        return self.result.primary_metric if self.result else None

    @property
    def n_eval(self) -> int | None:
        return self.result.n_eval if self.result else None

    @property
    def train_seconds(self) -> float | None:
        """Time spent training this cell's adapter, also when the cell reused it from the cache."""
        return self.cost.train_seconds

    def rows(self) -> dict[str, dict[str, Any]]:
        """{question id: its predictions.jsonl row} ({} when there is none)."""
        if "rows" not in self._memo:
            self._memo["rows"] = _read_predictions(self.dir / "predictions.jsonl")
        return self._memo["rows"]

    def per_question(self, metric: str, answerable_only: bool = False) -> dict[str, float]:
        """{question id: value of `metric`} from predictions.jsonl ({} when there is none).

        Unanswerable questions have no answer metrics, so they drop out of those anyway;
        `answerable_only` also drops them from the others (a judge rating of an abstention).
        """
        return {
            qid: float(row["metrics"][metric])
            for qid, row in self.rows().items()
            if row["metrics"].get(metric) is not None and (answerable(row) or not answerable_only)
        }

    def ci(self, metric: str) -> tuple[float, float] | None:
        """Bootstrap 95% CI of the mean of `metric` over questions (None without predictions)."""
        key = ("ci", metric)
        if key not in self._memo:
            values = list(self.per_question(metric).values())
            self._memo[key] = bootstrap_ci(values) if values else None
        return self._memo[key]


def answerable(row: Mapping[str, Any]) -> bool:
    """A predictions.jsonl row's "answerable" flag; rows from before it were all answerable."""
    if "answerable" in row:
        return bool(row["answerable"])
    return bool(row.get("golds", True))


def with_metric(cells: Sequence[Cell], metric: str) -> list[Cell]:
    """The ok cells that have a `metric` score."""
    return [c for c in cells if c.ok and metric in c.scores]


def load_cells(sweep_dir: Path) -> list[Cell]:
    """Every cell folder of a sweep (ok, failed and missing), sorted by job number."""
    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        raise RagftError(f"sweep folder {sweep_dir} does not exist")
    found = []
    for d in sweep_dir.iterdir():
        m = _JOB_DIR.match(d.name)
        if d.is_dir() and (m or (d / "results.json").is_file()):
            found.append((int(m.group(1)) if m else 10**9, d.name, d))
    if not found:
        raise RagftError(
            f"no cell folders in {sweep_dir}: a sweep folder holds one subfolder per cell "
            "(e.g. 0_approach=base), written by `python run.py -m ...`"
        )
    raw = [_read_cell(d, job) for job, _, d in sorted(found)]
    axes = sweep_axes([(r["config"], r["approach"]) for r in raw])
    for r in raw:
        r["axes"] = axis_values(r["config"], r["approach"], axes)
    varying = varying_axes([r["axes"] for r in raw])
    labels = [label(r["axes"], varying) or r["name"] or f"cell {r['job']}" for r in raw]
    cells = []
    for r, lab in zip(raw, labels, strict=True):
        if labels.count(lab) > 1:  # e.g. `base` under three retrievers: one label, three cells
            lab = f"{lab} #{r['job']}"
        cells.append(Cell(label=lab, **r))
    return cells


def _read_cell(d: Path, job: int) -> dict[str, Any]:
    """Cell's fields but its label (which depends on the other cells)."""
    m = _JOB_DIR.match(d.name)
    name = (m.group(2) or "") if m else d.name
    result, error = None, MISSING
    status = "missing"
    evaluation: Any = None
    path = d / "results.json"
    if path.is_file():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, Mapping):
                raise ValueError(f"a JSON object was expected, got {type(data).__name__}")
            result = CellResult.from_json(data)
            status, error = result.status, result.error or ""
            # CellResult's field when it has one, else the file's own (the same dict)
            evaluation = getattr(result, "evaluation", None) or data.get("evaluation")
        except (OSError, ValueError, TypeError, AttributeError) as e:
            result, status, error = None, "failed", f"unreadable results.json: {e}"
    config = (result.config if result else None) or _fallback_config(d) or _overrides(name)
    approach = str((result.approach if result else None) or get(config, "approach.name") or "?")
    return {
        "dir": d,
        "job": job,
        "name": (result.name if result else "") or name,
        "status": status,
        "approach": approach,
        "config": dict(config),
        "result": result,
        "error": error,
        "evaluation": dict(evaluation) if isinstance(evaluation, Mapping) else {},
    }


def _fallback_config(d: Path) -> dict[str, Any]:
    """A cell without results: the config it was started with, when it wrote one."""
    try:
        return json.loads((d / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        pass
    try:
        from omegaconf import OmegaConf

        cfg = OmegaConf.load(d / ".hydra" / "config.yaml")
        return OmegaConf.to_container(cfg, resolve=False)  # type: ignore[return-value]
    except Exception:  # noqa: BLE001 - no config at all: the label falls back to the name
        return {}


def _overrides(name: str) -> dict[str, Any]:
    """{"approach": {"name": "raft"}, "lora": {"r": 8}} from "approach=raft,lora.r=8"."""
    cfg: dict[str, Any] = {}
    for item in name.split(","):
        key, sep, value = item.lstrip("+~").partition("=")
        if not sep or not key:
            continue
        parts = key.split(".")
        if len(parts) == 1 and key in _GROUPS:
            parts.append("name")
        node = cfg
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                break
        else:
            node[parts[-1]] = int(value) if value.isdigit() else value
    return cfg


def _read_predictions(path: Path) -> dict[str, dict[str, Any]]:
    """{question id: its row} from predictions.jsonl (rows with metrics); {} without the file."""
    rows: dict[str, dict[str, Any]] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return rows
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            continue  # a truncated last line of an interrupted cell
        if isinstance(row, Mapping) and "id" in row and isinstance(row.get("metrics"), Mapping):
            rows[str(row["id"])] = {k: v for k, v in row.items() if k not in _HEAVY}
    return rows


def newest_sweep(root: Path = Path("multirun")) -> Path:
    """The most recently started sweep under `root`: a folder holding Hydra's multirun.yaml."""
    root = Path(root)
    if not root.is_dir():
        raise RagftError(f"no sweep folder: {root} does not exist (run `python run.py -m ...`)")
    found = [p for p in root.rglob("multirun.yaml") if p.is_file()]
    if not found:
        raise RagftError(
            f"no sweep under {root}: no folder holds a multirun.yaml (run `python run.py -m ...`)"
        )
    # multirun.yaml is written when the sweep starts, so its mtime orders sweeps by start;
    # a folder's own mtime would move whenever a report is (re)written into it.
    newest = max(found, key=lambda p: (p.stat().st_mtime, str(p)))
    return newest.parent
