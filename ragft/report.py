"""A sweep, read back: one table and a few plots from the files its cells wrote.

    rep = build_report(Path("multirun/2026-11-22/14-50-00"))
    print(rep.markdown_table)  # also in <sweep>/report/report.md, report.csv and PNGs

Plain paths in, no config: every figure comes from each cell folder's `results.json` and
`predictions.jsonl`. A cell folder without `results.json` is listed as "missing" (crashed,
interrupted or still running), one with `"status": "failed"` as failed, with its error.

Plots are drawn on `matplotlib.figure.Figure` objects with the Agg canvas, never through
pyplot, so building a report opens no window, changes no global backend and leaves no
figure open.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ragft.config import APPROACHES
from ragft.errors import RagftError
from ragft.metrics import bootstrap_ci
from ragft.tracking import atomic_write_text

if TYPE_CHECKING:  # pandas and matplotlib load on first use: reading cells needs neither
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

NA = "–"  # an axis that does not apply to the cell's approach (a retriever for finetune)
DEFAULT_METRIC = "contains"
METRIC_ORDER = ("exact_match", "f1", "contains", "rouge_l", "bleu", "recall_at_k", "mrr")
COST_COLUMNS = (
    "train_seconds",
    "seconds_per_question",
    "total_seconds",
    "peak_memory_mb",
    "adapter_mb",
    "trainable_parameters",
)
# Axis order in labels and tables.
AXES = (
    "approach",
    "model",
    "data",
    "eval_split",
    "lora",
    "quant",
    "retriever",
    "k",
    "n_train_phrasings",
    "seed",
)
APPROACH_COLORS = {
    "base": "#7f7f7f",
    "rag": "#1f77b4",
    "finetune": "#ff7f0e",
    "hybrid": "#2ca02c",
    "raft": "#9467bd",
}
PLOT_FILES = {
    "scores": "scores.png",
    "lora_rank": "score_vs_lora_rank.png",
    "cost": "score_vs_cost.png",
    "paired": "paired_differences.png",
}
DPI = 120
_GROUPS = ("approach", "model", "lora", "quant", "retriever", "data", "trainer", "logger")
_JOB_DIR = re.compile(r"^(\d+)(?:_(.*))?$")


# --- cells ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    """One cell folder of a sweep, as its files describe it."""

    dir: Path
    job: int
    name: str  # the override string ("approach=rag,lora.r=8"), or the folder name
    status: str  # "ok" | "failed" | "missing"
    approach: str
    label: str  # short, from the axes that vary across the sweep: "hybrid r=8"
    axes: dict[str, Any]  # AXES -> value; NA where the axis does not apply, None if unknown
    scores: dict[str, float] = field(default_factory=dict)  # fractions in [0, 1]
    cost: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    primary_metric: str | None = None
    n_eval: int | None = None
    _memo: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def per_question(self, metric: str) -> dict[str, float]:
        """{question id: value of `metric`} from predictions.jsonl ({} when there is none)."""
        if "rows" not in self._memo:
            self._memo["rows"] = _read_predictions(self.dir / "predictions.jsonl")
        return {qid: float(m[metric]) for qid, m in self._memo["rows"].items() if metric in m}

    def ci(self, metric: str) -> tuple[float, float] | None:
        """Bootstrap 95% CI of the mean of `metric` over questions (None without predictions)."""
        key = ("ci", metric)
        if key not in self._memo:
            values = list(self.per_question(metric).values())
            self._memo[key] = bootstrap_ci(values) if values else None
        return self._memo[key]

    @property
    def train_seconds(self) -> float | None:
        """Time spent training this cell's adapter, also when the cell reused it from the cache."""
        if "train_seconds" not in self.cost:
            return None
        if self.cost.get("train_cache_hit"):
            return float(self.cost.get("train_seconds_saved", self.cost["train_seconds"]))
        return float(self.cost["train_seconds"])


def load_cells(sweep_dir: Path) -> list[Cell]:
    """Every cell folder of a sweep (ok, failed and missing), sorted by job number."""
    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        raise RagftError(f"sweep folder {sweep_dir} does not exist")
    found = []
    for d in sweep_dir.iterdir():
        m = _JOB_DIR.match(d.name)
        if d.is_dir() and (m or (d / "results.json").is_file()):
            job = int(m.group(1)) if m else 10**9
            found.append((job, d.name, d))
    if not found:
        raise RagftError(
            f"no cell folders in {sweep_dir}: a sweep folder holds one subfolder per cell "
            "(e.g. 0_approach=base), written by `python run.py -m ...`"
        )
    raw = [_read_cell(d, job) for job, _, d in sorted(found)]
    varying = _varying_axes([r["axes"] for r in raw])
    labels = [_label(r["axes"], varying) or r["name"] or f"cell {r['job']}" for r in raw]
    seen: dict[str, int] = {}
    for lab in labels:
        seen[lab] = seen.get(lab, 0) + 1
    cells = []
    for r, lab in zip(raw, labels, strict=True):
        if seen[lab] > 1:  # e.g. `base` under three retrievers: the same label, three cells
            lab = f"{lab} #{r['job']}"
        cells.append(Cell(label=lab, **r))
    return cells


def _read_cell(d: Path, job: int) -> dict[str, Any]:
    m = _JOB_DIR.match(d.name)
    name = (m.group(2) or "") if m else d.name
    path = d / "results.json"
    results: dict[str, Any] = {}
    if not path.is_file():
        status, error = (
            "missing",
            "no results.json: the cell crashed, was interrupted or is still running",
        )
    else:
        try:
            results = json.loads(path.read_text(encoding="utf-8"))
            status = str(results.get("status", "ok"))
            error = str(results.get("error") or "")
        except (OSError, ValueError) as e:
            status, error = "failed", f"unreadable results.json: {e}"
    config = results.get("config") or _fallback_config(d) or _config_from_overrides(name)
    approach = str(results.get("approach") or _get(config, "approach.name") or "?")
    return {
        "dir": d,
        "job": job,
        "name": str(results.get("name") or name),
        "status": status,
        "approach": approach,
        "axes": _axes(config, approach),
        "scores": dict(results.get("scores") or {}) if status == "ok" else {},
        "cost": dict(results.get("cost") or {}),
        "error": error,
        "primary_metric": results.get("primary_metric"),
        "n_eval": results.get("n_eval"),
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


def _config_from_overrides(name: str) -> dict[str, Any]:
    """{"approach": {"name": "raft"}, "lora": {"r": 8}} from "approach=raft,lora.r=8"."""
    cfg: dict[str, Any] = {}
    for item in name.split(","):
        key, sep, value = item.lstrip("+~").partition("=")
        if not sep or not key:
            continue
        parts = key.split(".")
        if len(parts) == 1 and key in _GROUPS:
            parts.append("name")  # a config group: approach=raft picks approach.name
        node = cfg
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                break
        else:
            node[parts[-1]] = int(value) if value.isdigit() else value
    return cfg


def _get(cfg: Mapping[str, Any], dotted: str) -> Any:
    node: Any = cfg
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _axes(cfg: Mapping[str, Any], approach: str) -> dict[str, Any]:
    trains, _, retrieves = APPROACHES.get(approach, (True, True, True))
    lora_name = _get(cfg, "lora.name")
    if not trains:
        lora: Any = NA
    elif lora_name == "none":
        lora = "full"  # no adapter: every weight trained
    else:
        lora = _get(cfg, "lora.r")
    return {
        "approach": approach if approach != "?" else None,
        "model": _get(cfg, "model.name"),
        "data": _get(cfg, "data.name"),
        "eval_split": _get(cfg, "data.eval_split"),
        "lora": lora,
        "quant": _get(cfg, "quant.name"),
        "retriever": _get(cfg, "retriever.name") if retrieves else NA,
        "k": _get(cfg, "retriever.k") if retrieves else NA,
        "n_train_phrasings": _get(cfg, "data.n_train_phrasings") if trains else NA,
        "seed": _get(cfg, "seed"),
    }


def _varying_axes(all_axes: Sequence[Mapping[str, Any]]) -> set[str]:
    """Axes with more than one value among the cells they apply to."""
    out = set()
    for axis in AXES:
        values = {repr(a.get(axis)) for a in all_axes if a.get(axis) not in (None, NA)}
        if len(values) > 1:
            out.add(axis)
    return out


_AXIS_TEXT: dict[str, Callable[[Any], str]] = {
    "lora": lambda v: "full-ft" if v == "full" else f"r={v}",
    "quant": lambda v: "no-quant" if v == "none" else str(v),
    "k": lambda v: f"k={v}",
    "n_train_phrasings": lambda v: f"phr={v}",
    "seed": lambda v: f"seed={v}",
}


def _label(axes: Mapping[str, Any], varying: set[str], exclude: tuple[str, ...] = ()) -> str:
    parts = [
        _AXIS_TEXT.get(axis, str)(axes[axis])
        for axis in AXES
        if axis in varying and axis not in exclude and axes.get(axis) not in (None, NA)
    ]
    if "approach" not in varying and not parts and axes.get("approach"):
        return str(axes["approach"])
    return " ".join(parts)


def _read_predictions(path: Path) -> dict[str, dict[str, float]]:
    rows: dict[str, dict[str, float]] = {}
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
        if "id" in row and isinstance(row.get("metrics"), Mapping):
            rows[str(row["id"])] = row["metrics"]
    return rows


# --- table ------------------------------------------------------------------------------


def _metric_key(name: str) -> tuple[int, str]:
    return (METRIC_ORDER.index(name) if name in METRIC_ORDER else len(METRIC_ORDER), name)


def score_names(cells: Sequence[Cell]) -> list[str]:
    """Every score any ok cell has, in the usual order (exact_match, f1, contains, ...)."""
    return sorted({k for c in cells if c.ok for k in c.scores}, key=_metric_key)


def _short(error: str, width: int = 100) -> str:
    """One line: the first non-empty line (with what follows, when it ends in a colon)."""
    lines = [line.strip() for line in error.strip().splitlines() if line.strip()]
    if not lines:
        return ""
    text = " ".join(lines) if lines[0].endswith(":") else lines[0]
    return text if len(text) <= width else text[: width - 1] + "…"


def table(cells: Sequence[Cell]) -> pd.DataFrame:
    """One row per cell: axes, every score in % (1 decimal), cost figures, status, error.

    `train_seconds` is the time spent training the cell's adapter, also when the cell reused
    an adapter trained by another cell (`reused` says so).
    """
    metrics = score_names(cells)
    import pandas as pd

    rows = []
    for c in cells:
        a = c.axes
        row: dict[str, Any] = {
            "job": c.job,
            "cell": c.label,
            "approach": c.approach,
            "model": a["model"],
            "data": a["data"],
            "eval_split": a["eval_split"],
            "lora_r": a["lora"],
            "quant": a["quant"],
            "retriever": a["retriever"],
            "k": a["k"],
            "n_train_phrasings": a["n_train_phrasings"],
            "seed": a["seed"],
            "n_eval": c.n_eval,
        }
        for m in metrics:
            v = c.scores.get(m)
            row[m] = round(100 * float(v), 1) if v is not None else math.nan
        for key in COST_COLUMNS:
            v = c.train_seconds if key == "train_seconds" else c.cost.get(key)
            row[key] = v if v is not None else math.nan
        reused = []
        if c.cost.get("cell_cache_hit"):
            reused.append("cell")
        if c.cost.get("train_cache_hit"):
            reused.append("adapter")
        row["reused"] = "+".join(reused)
        row["status"] = c.status
        row["error"] = _short(c.error)
        rows.append(row)
    df = pd.DataFrame(rows)
    for col in ("seed", "n_eval", "trainable_parameters"):  # whole numbers, also beside NaN
        numbers = pd.to_numeric(df[col], errors="coerce")
        if df[col].isna().equals(numbers.isna()) and (numbers.dropna() % 1 == 0).all():
            df[col] = numbers.astype("Int64")
    return df


def markdown_table(df: pd.DataFrame) -> tuple[str, dict[str, Any]]:
    """A GitHub Markdown table of `df`, and the columns it leaves out for having one value.

    Columns blank in every row are dropped; so are the axis columns with one value in every
    row that has one (returned, to be said once above the table). Scores show one decimal.
    """
    import pandas as pd

    constant: dict[str, Any] = {}
    keep = []
    for col in df.columns:
        values = [v for v in df[col] if not _blank(v)]
        if col == "job" or not values:
            continue
        if col in _AXIS_COLUMNS and len(df) > 1 and len({repr(v) for v in values}) == 1:
            constant[col] = values[0]
            continue
        keep.append(col)
    scores = set(METRIC_ORDER) | {c for c in df.columns if c not in _NON_SCORE_COLUMNS}
    numeric = {col for col in keep if pd.api.types.is_numeric_dtype(df[col])}
    head = "| " + " | ".join(keep) + " |"
    rule = "|" + "|".join("---:" if col in numeric else "---" for col in keep) + "|"
    lines = [head, rule]
    for _, row in df[keep].iterrows():
        cells = [
            f"{row[col]:.1f}" if col in scores and not _blank(row[col]) else _md_cell(row[col])
            for col in keep
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines), constant


_AXIS_COLUMNS = (
    "approach",
    "model",
    "data",
    "eval_split",
    "lora_r",
    "quant",
    "retriever",
    "k",
    "n_train_phrasings",
    "seed",
    "n_eval",
)
_NON_SCORE_COLUMNS = {"job", "cell", *_AXIS_COLUMNS, *COST_COLUMNS, "reused", "status", "error"}


def _blank(v: Any) -> bool:
    import pandas as pd

    return v is None or (isinstance(v, str) and v == "") or bool(pd.isna(v))


def _md_cell(v: Any) -> str:
    if _blank(v):
        return ""
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, (float, np.floating)):
        if float(v).is_integer():
            return f"{int(v):,}" if abs(v) >= 10000 else str(int(v))
        return f"{float(v):.4g}"
    if isinstance(v, (int, np.integer)) and abs(int(v)) >= 10000:
        return f"{int(v):,}"
    return str(v).replace("|", "\\|").replace("\n", " ")


# --- paired differences -----------------------------------------------------------------


@dataclass(frozen=True)
class PairedDifference:
    """Mean of (other - reference) over the questions both answered, with a 95% CI."""

    mean: float
    low: float
    high: float
    n: int


def paired_difference(
    reference: Mapping[str, float],
    other: Mapping[str, float],
    n_resamples: int = 1000,
    seed: int = 0,
) -> PairedDifference:
    """Paired bootstrap over question ids: each resample draws ids and takes both cells' values.

    Resampling ids jointly is resampling the per-question differences, which keeps the
    pairing (the same hard questions count against both cells).
    """
    ids = sorted(set(reference) & set(other))
    if not ids:
        raise ValueError("paired_difference needs questions present in both cells, got none")
    diffs = np.array([other[i] - reference[i] for i in ids], dtype=float)
    low, high = bootstrap_ci(diffs, n_resamples=n_resamples, seed=seed)
    return PairedDifference(float(diffs.mean()), low, high, len(ids))


def reference_cell(cells: Sequence[Cell], metric: str) -> Cell | None:
    """The `base` cell when the sweep has one, else the first ok cell with predictions."""
    usable = [c for c in cells if c.ok and c.per_question(metric)]
    return next((c for c in usable if c.approach == "base"), usable[0] if usable else None)


def paired_differences(
    cells: Sequence[Cell], metric: str
) -> tuple[Cell | None, list[tuple[Cell, PairedDifference]]]:
    """Each ok cell against the reference cell, on the questions both answered."""
    ref = reference_cell(cells, metric)
    if ref is None:
        return None, []
    ref_values = ref.per_question(metric)
    out = []
    for c in cells:
        if c is ref or not c.ok:
            continue
        values = c.per_question(metric)
        if set(values) & set(ref_values):
            out.append((c, paired_difference(ref_values, values)))
    return ref, out


# --- plots ------------------------------------------------------------------------------


def _png_path(out: Path, key: str) -> Path:
    out = Path(out)
    return out if out.suffix.lower() == ".png" else out / PLOT_FILES[key]


def _figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="tight")


def _save(fig: Figure, path: Path) -> Path:
    """Render to a temporary file beside `path`, then rename (readers never see half a PNG)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            fig.savefig(f, format="png", dpi=DPI)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _percent(axis: Any) -> None:
    from matplotlib.ticker import PercentFormatter

    axis.set_major_formatter(PercentFormatter(100, decimals=0))


def _color(approach: str) -> str:
    if approach in APPROACH_COLORS:
        return APPROACH_COLORS[approach]
    palette = ["#8c564b", "#e377c2", "#bcbd22", "#17becf", "#d62728"]
    return palette[sum(map(ord, approach)) % len(palette)]


def _with_metric(cells: Sequence[Cell], metric: str) -> list[Cell]:
    return [c for c in cells if c.ok and metric in c.scores]


def _err(cells: Sequence[Cell], metric: str) -> np.ndarray:
    """Asymmetric error bars (in %) from each cell's CI; zero where a cell has none."""
    err = np.zeros((2, len(cells)))
    for i, c in enumerate(cells):
        ci = c.ci(metric)
        if ci is not None:
            v = c.scores[metric]
            err[:, i] = [max(v - ci[0], 0.0) * 100, max(ci[1] - v, 0.0) * 100]
    return err


def plot_scores(cells: Sequence[Cell], metric: str, out: Path) -> Path | None:
    """Horizontal bars: `metric` (and f1) per ok cell, with bootstrap 95% CIs over questions."""
    from matplotlib.patches import Patch

    shown = _with_metric(cells, metric)
    if not shown:
        return None
    metrics = [metric]
    if metric != "f1" and all("f1" in c.scores for c in shown):
        metrics.append("f1")
    n = len(shown)
    height = 0.8 / len(metrics)
    fig = _figure(8.5, max(2.8, 0.32 * n * len(metrics) + 1.6))
    ax = fig.add_subplot()
    y = np.arange(n)
    colors = [_color(c.approach) for c in shown]
    for j, m in enumerate(metrics):
        values = np.array([100 * c.scores[m] for c in shown])
        pos = y - 0.4 + height * (j + 0.5)
        ax.barh(
            pos,
            values,
            height=height * 0.92,
            color=colors,
            alpha=1.0 if j == 0 else 0.45,
            hatch=None if j == 0 else "//",
            edgecolor="white" if j == 0 else "#444444",
            linewidth=0.5,
        )
        err = _err(shown, m)
        ax.errorbar(values, pos, xerr=err, fmt="none", ecolor="black", capsize=3, lw=1)
        for p, v, hi in zip(pos, values, err[1], strict=True):
            ax.text(v + hi + 1.2, p, f"{v:.1f}%", va="center", fontsize=8)
    ax.set_yticks(y, [c.label for c in shown])
    ax.invert_yaxis()  # job order, top to bottom
    ax.set_xlim(0, 112)
    ax.set_xticks([0, 20, 40, 60, 80, 100])
    _percent(ax.xaxis)
    ax.set_xlabel("score (% of questions; bar: mean, whiskers: 95% bootstrap CI)")
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)
    n_q = max((c.n_eval or 0) for c in shown)
    ax.set_title(f"{' and '.join(metrics)} per cell" + (f" ({n_q} questions)" if n_q else ""))
    if len(metrics) > 1:
        handles = [
            Patch(facecolor="#555555", edgecolor="white", label=f"{metrics[0]} (primary)"),
            Patch(facecolor="#555555", alpha=0.45, hatch="//", edgecolor="#444444", label="f1"),
        ]
        ax.legend(handles=handles, loc="lower right", fontsize=8, framealpha=0.9)
    return _save(fig, _png_path(out, "scores"))


def plot_vs_lora_rank(cells: Sequence[Cell], metric: str, out: Path) -> Path | None:
    """`metric` vs LoRA rank (log2 axis), one line per approach (and other varying axes).

    Untrained cells (base, rag), when there are few, are dashed horizontal references.
    Skipped (None) unless trained cells cover at least two ranks.
    """
    from matplotlib.ticker import FixedLocator, NullLocator

    shown = _with_metric(cells, metric)
    ranked = [c for c in shown if isinstance(c.axes["lora"], int)]
    ranks = sorted({c.axes["lora"] for c in ranked})
    if len(ranks) < 2:
        return None
    varying = _varying_axes([c.axes for c in cells])
    series: dict[str, list[Cell]] = {}
    for c in ranked:
        series.setdefault(_label(c.axes, varying, exclude=("lora",)) or c.approach, []).append(c)
    fig = _figure(8.5, 4.8)
    ax = fig.add_subplot()
    for i, (key, group) in enumerate(series.items()):
        by_rank: dict[int, list[Cell]] = {}
        for c in group:
            by_rank.setdefault(c.axes["lora"], []).append(c)
        xs = sorted(by_rank)
        ys = [100 * float(np.mean([c.scores[metric] for c in by_rank[r]])) for r in xs]
        # Nudge each line sideways a little so whiskers at the same rank do not hide each other.
        nudge = 2 ** (0.05 * (i - (len(series) - 1) / 2))
        ax.errorbar(
            [x * nudge for x in xs],
            ys,
            yerr=_err([by_rank[r][0] for r in xs], metric),
            marker="o",
            ls=["-", "--", ":", "-."][i // len(APPROACH_COLORS) % 4],
            capsize=3,
            elinewidth=1,
            color=_color(group[0].approach),
            label=key,
        )
    untrained = [c for c in shown if c.axes["lora"] == NA]
    if len(untrained) <= 4:
        for c in untrained:
            ax.axhline(
                100 * c.scores[metric],
                color=_color(c.approach),
                ls="--",
                lw=1,
                alpha=0.8,
                label=f"{c.label} (untrained)",
            )
    ax.set_xscale("log", base=2)
    ax.xaxis.set_major_locator(FixedLocator(ranks))
    ax.xaxis.set_major_formatter(lambda v, _: f"{v:g}")
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xlim(ranks[0] / 1.4, ranks[-1] * 1.4)
    ax.set_ylim(0, 105)
    _percent(ax.yaxis)
    ax.set_xlabel("LoRA rank r (log2 scale)")
    ax.set_ylabel(f"{metric} (% of questions; whiskers: 95% CI)")
    ax.set_title(f"{metric} vs LoRA rank")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    return _save(fig, _png_path(out, "lora_rank"))


def plot_vs_cost(cells: Sequence[Cell], metric: str, out: Path) -> Path | None:
    """Two panels: `metric` vs training seconds (untrained cells at 0) and vs answer latency."""
    shown = _with_metric(cells, metric)
    if not shown:
        return None
    fig = _figure(12, 5)
    panels: list[tuple[Axes, Callable[[Cell], float | None], str, str]] = [
        (
            fig.add_subplot(1, 2, 1),
            lambda c: c.train_seconds or 0.0,
            "training time (s; untrained cells at 0)",
            f"{metric} vs training cost",
        ),
        (
            fig.add_subplot(1, 2, 2),
            lambda c: c.cost.get("seconds_per_question"),
            "answer latency (s per question)",
            f"{metric} vs answer latency",
        ),
    ]
    for ax, x_of, xlabel, title in panels:
        pts = [(c, float(x)) for c in shown if (x := x_of(c)) is not None]
        if not pts:
            ax.text(0.5, 0.5, "not recorded", ha="center", va="center", transform=ax.transAxes)
            ax.set_title(title)
            ax.set_axis_off()
            continue
        for approach in dict.fromkeys(c.approach for c, _ in pts):
            group = [(c, x) for c, x in pts if c.approach == approach]
            cs = [c for c, _ in group]
            ax.errorbar(
                [x for _, x in group],
                [100 * c.scores[metric] for c in cs],
                yerr=_err(cs, metric),
                fmt="o",
                capsize=3,
                elinewidth=1,
                alpha=0.9,
                color=_color(approach),
                label=approach,
            )
        # Alternate label offsets so labels of nearby points do not sit on top of each other.
        ordered = sorted(pts, key=lambda p: (p[1], p[0].scores[metric]))
        for i, (c, x) in enumerate(ordered):
            ax.annotate(
                c.label,
                (x, 100 * c.scores[metric]),
                xytext=(6, (4, -11)[i % 2]),
                textcoords="offset points",
                fontsize=8,
            )
        xmax = max(x for _, x in pts) or 1.0
        ax.set_xlim(-0.05 * xmax, 1.3 * xmax)
        ax.set_ylim(0, 105)
        _percent(ax.yaxis)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(f"{metric} (% of questions; whiskers: 95% CI)")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="best")
    return _save(fig, _png_path(out, "cost"))


def plot_paired_differences(cells: Sequence[Cell], metric: str, out: Path) -> Path | None:
    """Forest plot: per-question paired difference of each cell vs the reference, 95% CI.

    The reference is the `base` cell when present, else the first ok cell; only questions
    both cells answered count. Skipped (None) without two ok cells with predictions.
    """
    ref, diffs = paired_differences(cells, metric)
    if ref is None or not diffs:
        return None
    n = len(diffs)
    fig = _figure(8.5, max(2.6, 0.42 * n + 1.6))
    ax = fig.add_subplot()
    y = np.arange(n)
    means = np.array([100 * d.mean for _, d in diffs])
    lows = np.array([100 * d.low for _, d in diffs])
    highs = np.array([100 * d.high for _, d in diffs])
    colors = [
        "#2ca02c" if lo > 0 else "#d62728" if hi < 0 else "#7f7f7f"
        for lo, hi in zip(lows, highs, strict=True)
    ]
    ax.barh(y, means, height=0.55, color=colors, alpha=0.35)
    ax.errorbar(
        means,
        y,
        xerr=[np.maximum(means - lows, 0), np.maximum(highs - means, 0)],
        fmt="o",
        color="black",
        capsize=3,
        ms=4,
    )
    ax.axvline(0, color="black", lw=1)
    left, right = min(float(lows.min()), 0.0), max(float(highs.max()), 0.0)
    span = max(right - left, 1.0)
    ax.set_xlim(left - 0.08 * span, right + 0.3 * span)  # room for the numbers on the right
    for yi, (_, d), hi in zip(y, diffs, highs, strict=True):
        ax.text(hi + 0.02 * span, yi, f"{100 * d.mean:+.1f} (n={d.n})", va="center", fontsize=8)
    ax.set_yticks(y, [c.label for c, _ in diffs])
    ax.invert_yaxis()
    ax.set_xlabel(f"{metric}: cell minus {ref.label} (percentage points; 95% paired bootstrap CI)")
    ax.set_title(f"Paired per-question difference vs {ref.label} (green: better, red: worse)")
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)
    return _save(fig, _png_path(out, "paired"))


# --- the report -------------------------------------------------------------------------


@dataclass(frozen=True)
class Report:
    """What build_report wrote."""

    markdown: str  # the whole report.md
    markdown_table: str  # the table (and a line naming what every cell shares), for a terminal
    csv_path: Path
    markdown_path: Path
    plots: list[Path]
    n_ok: int
    n_failed: int
    n_missing: int
    metric: str
    cells: list[Cell] = field(default_factory=list, repr=False)


def sweep_metric(cells: Sequence[Cell], metric: str | None = None) -> str:
    """`metric` if some ok cell has it, else the cells' primary metric (default `contains`)."""
    available = score_names(cells)
    if metric is None:
        metric = next(
            (c.primary_metric for c in cells if c.ok and c.primary_metric), DEFAULT_METRIC
        )
        if available and metric not in available:
            metric = available[0]
        return metric
    if available and metric not in available:
        raise RagftError(
            f"metric {metric!r} is in no cell's scores; available: {', '.join(available)}"
        )
    return metric


def build_report(sweep_dir: Path, out_dir: Path | None = None, metric: str | None = None) -> Report:
    """Table, plots and report.md / report.csv for a sweep folder (in <sweep>/report/)."""
    sweep_dir = Path(sweep_dir)
    out_dir = Path(out_dir) if out_dir is not None else sweep_dir / "report"
    cells = load_cells(sweep_dir)
    metric = sweep_metric(cells, metric)
    out_dir.mkdir(parents=True, exist_ok=True)

    df = table(cells)
    buf = io.StringIO()
    df.to_csv(buf, index=False)
    csv_path = out_dir / "report.csv"
    atomic_write_text(csv_path, buf.getvalue())

    plots: list[Path] = []
    for key, fn in (
        ("scores", plot_scores),
        ("lora_rank", plot_vs_lora_rank),
        ("cost", plot_vs_cost),
        ("paired", plot_paired_differences),
    ):
        target = out_dir / PLOT_FILES[key]
        path = fn(cells, metric, target)
        if path is None:
            target.unlink(missing_ok=True)  # a stale plot from an earlier, different report
        else:
            plots.append(path)

    md_table, constant = markdown_table(df)
    if constant:  # said once, above the table
        fixed = ", ".join(f"{k} `{_md_cell(v)}`" for k, v in constant.items())
        md_table = f"Every cell: {fixed}.\n\n{md_table}"
    text = _markdown(sweep_dir, cells, metric, md_table, plots, out_dir)
    md_path = out_dir / "report.md"
    atomic_write_text(md_path, text)
    return Report(
        markdown=text,
        markdown_table=md_table,
        csv_path=csv_path,
        markdown_path=md_path,
        plots=plots,
        n_ok=sum(c.status == "ok" for c in cells),
        n_failed=sum(c.status == "failed" for c in cells),
        n_missing=sum(c.status == "missing" for c in cells),
        metric=metric,
        cells=list(cells),
    )


_CAPTIONS = {
    "scores": "Score per cell; whiskers are 95% bootstrap CIs over questions.",
    "lora_rank": "Score vs LoRA rank (log2 axis), one line per approach.",
    "cost": "Score vs training time and vs answer latency.",
    "paired": "Per-question paired difference against the reference cell, 95% CI.",
}


def _markdown(
    sweep_dir: Path,
    cells: Sequence[Cell],
    metric: str,
    md_table: str,
    plots: Sequence[Path],
    out_dir: Path,
) -> str:
    n_ok = sum(c.ok for c in cells)
    bad = [c for c in cells if not c.ok]
    n_failed = sum(c.status == "failed" for c in cells)
    lines = [
        f"# Sweep report: {sweep_dir.name}",
        "",
        f"Sweep: `{sweep_dir}`  ",
        f"Cells: {len(cells)} ({n_ok} ok, {n_failed} failed, {len(bad) - n_failed} missing). "
        f"Primary metric: `{metric}`.",
        "",
    ]
    ranked = sorted(_with_metric(cells, metric), key=lambda c: -c.scores[metric])
    if ranked:
        best = ranked[0]
        lines += [f"Best `{metric}`: **{best.label}** ({100 * best.scores[metric]:.1f}%).", ""]
    lines += [
        "## Results",
        "",
        "Scores in % of questions. `train_seconds` is the time spent training the cell's "
        "adapter, also when it was reused from the cache (`reused`); `–` marks an axis that "
        "does not apply to the approach.",
        "",
        md_table,
        "",
    ]
    ref, diffs = paired_differences(cells, metric)
    if ref is not None and diffs:
        lines += [
            f"## Paired differences vs {ref.label}",
            "",
            f"Mean per-question difference in `{metric}` (percentage points) on the questions "
            "both cells answered, with a paired bootstrap 95% CI.",
            "",
            "| cell | questions | difference | 95% CI | verdict |",
            "|---|---:|---:|---|---|",
        ]
        for c, d in diffs:
            verdict = "better" if d.low > 0 else "worse" if d.high < 0 else "no clear difference"
            lines.append(
                f"| {_md_cell(c.label)} | {d.n} | {100 * d.mean:+.1f} | "
                f"[{100 * d.low:+.1f}, {100 * d.high:+.1f}] | {verdict} |"
            )
        lines.append("")
    if plots:
        lines += ["## Plots", ""]
        for p in plots:
            key = next((k for k, f in PLOT_FILES.items() if f == p.name), "")
            rel = os.path.relpath(p, out_dir).replace(os.sep, "/")
            lines += [f"![{p.stem}]({rel})", "", _CAPTIONS.get(key, ""), ""]
    lines += ["## Failed cells", ""]
    if not bad:
        lines += ["None: every cell finished.", ""]
    for c in bad:
        lines += [
            f"- `{c.dir.name}` ({c.label}): **{c.status}**",
            "",
            "  ```",
            *[f"  {line}" for line in c.error.strip().splitlines()],
            "  ```",
            "",
        ]
    return "\n".join(lines).rstrip() + "\n"


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
