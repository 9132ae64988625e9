"""A cell's place in the sweep grid: its axis values, and a short label from the varying ones.

The axes and the rule for which apply to which approach are `ragft.approaches.AXES` and
`applies`; this module only reads the values from a cell's config and writes them as text.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ragft.approaches import APPROACHES, AXES, applies

NA = "–"  # an axis that does not apply to the cell's approach (a retriever for finetune)

# Where each axis (but `approach` and `lora`, read below) sits in a cell's config.
CONFIG_KEYS = {
    "model": "model.name",
    "data": "data.name",
    "eval_split": "data.eval_split",
    "quant": "quant.name",
    "retriever": "retriever.name",
    "k": "retriever.k",
    "prompt": "prompt.name",
    "n_train_phrasings": "data.n_train_phrasings",
    "seed": "seed",
}

_AXIS_TEXT: dict[str, Callable[[Any], str]] = {
    "lora": lambda v: "full-ft" if v == "full" else f"r={v}",
    "quant": lambda v: "no-quant" if v == "none" else str(v),
    "k": lambda v: f"k={v}",
    "prompt": lambda v: f"prompt={v}",
    "n_train_phrasings": lambda v: f"phr={v}",
    "seed": lambda v: f"seed={v}",
}


def get(cfg: Mapping[str, Any], dotted: str) -> Any:
    """`cfg["a"]["b"]` for "a.b", None where a part is missing."""
    node: Any = cfg
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def axis_values(cfg: Mapping[str, Any], approach: str) -> dict[str, Any]:
    """Every axis of AXES -> its value in `cfg`: NA where it does not apply, None if unknown.

    `approach` "?" (a cell folder that names none) is unknown: every axis applies to it.
    """
    known = APPROACHES.get(approach)

    def value(axis: str) -> Any:
        if axis == "approach":
            return approach if approach != "?" else None
        if not applies(axis, known):
            return NA
        if axis == "lora":  # the rank, or "full" without an adapter (every weight trained)
            return "full" if get(cfg, "lora.name") == "none" else get(cfg, "lora.r")
        return get(cfg, CONFIG_KEYS[axis])

    return {axis: value(axis) for axis in AXES}


def varying_axes(all_axes: Sequence[Mapping[str, Any]]) -> set[str]:
    """Axes with more than one value among the cells they apply to."""
    out = set()
    for axis in AXES:
        values = {repr(a.get(axis)) for a in all_axes if a.get(axis) not in (None, NA)}
        if len(values) > 1:
            out.add(axis)
    return out


def label(axes: Mapping[str, Any], varying: set[str], exclude: tuple[str, ...] = ()) -> str:
    """ "hybrid r=8 bm25": the cell's values of the varying axes, in AXES order."""
    parts = [
        _AXIS_TEXT.get(axis, str)(axes[axis])
        for axis in AXES
        if axis in varying and axis not in exclude and axes.get(axis) not in (None, NA)
    ]
    if "approach" not in varying and not parts and axes.get("approach"):
        return str(axes["approach"])
    return " ".join(parts)
