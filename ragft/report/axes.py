"""A cell's place in the sweep grid: the axes of a sweep, a cell's values on them, its label.

The axes are found from what varies. The known axes (`ragft.approaches.AXES`: approach,
model, data, lora rank, retriever, k, prompt, seed, ...) are always read, so a table can say
once what every cell shares. Every other config key whose value differs across the sweep's
cells becomes an axis too, named by its dotted key (`trainer.learning_rate`), except:

- keys that never change a result (`logger.*`, `cache.*`);
- keys whose values equal a known axis's in every cell (`data.seed` is `${seed}`);
- keys a group choice decides: a key that has one value among the cells with the same
  approach, or with the same choice of its own config group (`retriever.embedder.*` under
  `retriever=dense`; RAFT's `trainer.max_epochs: 2` under `approach=raft`), is said by that
  group's column already. (So a sweep that pairs one learning rate with each approach shows
  no learning-rate column; a grid of both does.)

An axis that does not apply to a cell's approach (`approaches.applies`) is NA there.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ragft.approaches import APPROACHES, AXES, applies

NA = "–"  # an axis that does not apply to the cell's approach (a retriever for finetune)

# Where each known axis (but `approach` and `lora`, read below) sits in a cell's config.
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
# Keys the known axes read (so they are no second axis) and keys that never change a result.
_READ = frozenset({"approach.name", "lora.name", "lora.r", *CONFIG_KEYS.values()})
_NEVER = ("logger.", "cache.", "labels.")  # labels.*: read as the group axes' values
# A key naming a config group's choice: what it decides needs no column of its own.
_GROUP_LEAVES = ("name", "backend")

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


def flatten(cfg: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"trainer.learning_rate": 0.003, ...}: every leaf of a nested config, in file order."""
    out: dict[str, Any] = {}
    for key, value in cfg.items():
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def axis_name(key: str) -> str:
    """The axis a config key makes: the key, or its group for a choice ("trainer.name")."""
    head, _, leaf = key.rpartition(".")
    return head if head and leaf == "name" else key


def text(axis: str, value: Any) -> str:
    """A value as a label shows it: "r=16", "k=5", "learning_rate=0.001", "rag"."""
    if axis in _AXIS_TEXT:
        return _AXIS_TEXT[axis](value)
    shown = value_text(value)
    return shown if axis in AXES else f"{axis.rpartition('.')[2]}={shown}"


def value_text(value: Any) -> str:
    """0.001 -> "0.001", 3e-05 -> "3e-05", [a, b] -> "a,b"."""
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return ",".join(value_text(v) for v in value)
    return str(value)


def _slice(axis: str) -> str:
    """The top-level config slice an axis reads ("trainer" for trainer.learning_rate)."""
    return CONFIG_KEYS.get(axis, axis).split(".")[0]


def _known_value(cfg: Mapping[str, Any], axis: str, approach: str) -> Any:
    if axis == "approach":
        return approach if approach != "?" else None
    if axis == "lora":  # the rank, or "full" without an adapter (every weight trained)
        return "full" if get(cfg, "lora.name") == "none" else get(cfg, "lora.r")
    key = CONFIG_KEYS[axis]
    if key.endswith(".name"):  # a user's own option shows by its own name (cell.labels)
        return get(cfg, f"labels.{key.split('.')[0]}") or get(cfg, key)
    return get(cfg, key)


def _value(cfg: Mapping[str, Any], flat: Mapping[str, Any], axis: str, approach: str) -> Any:
    """A cell's value on an axis: NA where it does not apply, None where it is unknown."""
    known = APPROACHES.get(approach)
    if axis in AXES:
        return _known_value(cfg, axis, approach) if applies(axis, known) else NA
    key = next((k for k in (axis, f"{axis}.name") if k in flat), axis)
    return flat.get(key) if applies(key, known) else NA


def _same(v: Any) -> str:
    return json.dumps(v, sort_keys=True, default=str)


def _known(values: Sequence[Any]) -> list[tuple[int, str]]:
    return [(i, _same(v)) for i, v in enumerate(values) if v is not None and v != NA]


def _distinct(values: Sequence[Any]) -> int:
    return len({v for _, v in _known(values)})


def _equal(a: Sequence[Any], b: Sequence[Any]) -> bool:
    """The same value in every cell where both are known."""
    bs = dict(_known(b))
    return all(bs.get(i, v) == v for i, v in _known(a))


def _decided_by(values: Sequence[Any], group: Sequence[Any]) -> bool:
    """`values` is one value among the cells that share a value of `group` (a function of it)."""
    seen: dict[str, str] = {}
    mine = dict(_known(values))
    for i, g in _known(group):
        if i in mine and seen.setdefault(g, mine[i]) != mine[i]:
            return False
    return True


def sweep_axes(configs: Sequence[tuple[Mapping[str, Any], str]]) -> list[str]:
    """The axes of a sweep, in table order, from its cells' (config, approach) pairs: every
    known axis (AXES order, seed last), then each other key that varies, in config order."""
    flats = [flatten(cfg) for cfg, _ in configs]
    columns = {
        axis: [_value(cfg, flat, axis, a) for (cfg, a), flat in zip(configs, flats, strict=True)]
        for axis in AXES
    }
    groups = [a for a in AXES if a == "approach" or CONFIG_KEYS.get(a, "").endswith(".name")]
    keys = dict.fromkeys(k for flat in flats for k in flat)
    extra: list[str] = []
    choices: list[str] = []  # extra axes that are a group's choice ("trainer", "...backend")
    for key in keys:
        if key in _READ or key.startswith(_NEVER):
            continue
        axis = axis_name(key)
        values = [_value(cfg, flat, axis, a) for (cfg, a), flat in zip(configs, flats, strict=True)]
        if _distinct(values) < 2:
            continue
        if any(_equal(values, columns[a]) for a in AXES if _distinct(columns[a]) > 1):
            continue  # data.seed, which is ${seed}
        deciders = [g for g in (*groups, *choices) if g == "approach" or _slice(g) == _slice(axis)]
        if any(_decided_by(values, columns[g]) for g in deciders):
            continue
        if key.rpartition(".")[2] in _GROUP_LEAVES:
            choices.append(axis)
        columns[axis] = values
        extra.append(axis)
    return [*(a for a in AXES if a != "seed"), *extra, "seed"]


def axis_values(cfg: Mapping[str, Any], approach: str, axes: Sequence[str] = tuple(AXES)) -> dict:
    """Each axis -> the cell's value: NA where it does not apply, None where it is unknown.

    `approach` "?" (a cell folder that names none) is unknown: every axis applies to it.
    """
    flat = flatten(cfg)
    return {axis: _value(cfg, flat, axis, approach) for axis in axes}


def varying_axes(all_axes: Sequence[Mapping[str, Any]]) -> set[str]:
    """Axes with more than one value among the cells they apply to."""
    names = dict.fromkeys(a for values in all_axes for a in values)
    return {a for a in names if _distinct([x.get(a) for x in all_axes]) > 1}


def label(axes: Mapping[str, Any], varying: set[str], exclude: tuple[str, ...] = ()) -> str:
    """ "hybrid r=8 bm25": the cell's values of the varying axes, in axis order."""
    parts = [
        text(axis, value)
        for axis, value in axes.items()
        if axis in varying and axis not in exclude and value not in (None, NA)
    ]
    if "approach" not in varying and not parts and axes.get("approach"):
        return str(axes["approach"])
    return " ".join(parts)


def is_number(v: Any) -> bool:
    """A finite int or float (not a bool)."""
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def is_numeric(values: Sequence[Any]) -> bool:
    """Numbers only (bools are not), among the values that are known and apply."""
    known = [v for v in values if v is not None and v != NA]
    return bool(known) and all(is_number(v) for v in known)
