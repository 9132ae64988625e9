"""Reading JSON Lines files and checking their fields, with errors that name file and line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ragft.errors import DataError


def read_jsonl(path: str | Path) -> list[tuple[int, dict]]:
    """Return (1-based line number, object) for every non-blank line of a JSONL file.

    A UTF-8 byte-order mark and mixed \\r\\n / \\n line endings are accepted.
    """
    p = Path(path)
    if not p.exists():
        raise DataError(f"{p}: no such file")
    if p.is_dir():
        raise DataError(f"{p}: is a folder, expected a .jsonl file")
    data = p.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise DataError(
            f"{p}:{line}: not UTF-8 (byte 0x{data[e.start]:02x}); save the file as UTF-8"
        ) from None
    rows: list[tuple[int, dict]] = []
    # split("\n"), not splitlines(): a JSON string may hold U+2028 and friends verbatim.
    for n, line in enumerate(text.split("\n"), start=1):
        s = line.strip()
        if not s:
            continue
        try:
            obj = json.loads(s)
        except json.JSONDecodeError as e:
            raise DataError(f"{p}:{n}: not valid JSON ({e.msg}, column {e.colno})") from None
        if not isinstance(obj, dict):
            raise DataError(f"{p}:{n}: expected a JSON object, got {_kind(obj)}")
        rows.append((n, obj))
    if not rows:
        raise DataError(f"{p}: the file is empty (no JSON lines)")
    return rows


def _kind(value: Any) -> str:
    """Name a JSON value's type the way a user would read it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


def get_str(row: dict, key: str, where: str, *, required: bool = True) -> str | None:
    """Field `key` as a non-empty string; None when optional and absent (or null)."""
    value = row.get(key)
    if value is None:
        if required:
            raise DataError(f"{where}: field '{key}' is missing (expected a non-empty string)")
        return None
    if not isinstance(value, str):
        raise DataError(f"{where}: field '{key}' is {_kind(value)} (expected a non-empty string)")
    if not value.strip():
        raise DataError(f"{where}: field '{key}' is empty (expected a non-empty string)")
    return value


def get_str_list(
    row: dict, key: str, where: str, *, required: bool = True, empty_ok: bool = False
) -> tuple[str, ...]:
    """Field `key` as a tuple of non-empty strings; () when optional and absent (or null), or
    when `empty_ok` and it is the empty list."""
    value = row.get(key)
    expected = (
        "expected a list of non-empty strings, [] for an unanswerable question"
        if empty_ok
        else "expected a non-empty list of non-empty strings"
    )
    if value is None:
        if required:
            raise DataError(f"{where}: field '{key}' is missing ({expected})")
        return ()
    if isinstance(value, str):
        raise DataError(
            f"{where}: field '{key}' must be a list of strings, not a single string "
            f'(expected e.g. ["{value[:20]}"])'
        )
    if not isinstance(value, list):
        raise DataError(f"{where}: field '{key}' is {_kind(value)} ({expected})")
    if required and not value and not empty_ok:
        raise DataError(f"{where}: field '{key}' is an empty list ({expected})")
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            what = "empty" if isinstance(item, str) else _kind(item)
            raise DataError(f"{where}: field '{key}' item {i} is {what} ({expected})")
    return tuple(value)


def get_id(row: dict, where: str, default: str | None) -> str:
    """Field 'id' (a string or an integer) as a string; `default` when absent."""
    value = row.get("id")
    if value is None:
        if default is None:
            raise DataError(f"{where}: field 'id' is missing (expected a string or an integer)")
        return default
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise DataError(f"{where}: field 'id' is {_kind(value)} (expected a string or an integer)")
    if isinstance(value, str) and not value.strip():
        raise DataError(f"{where}: field 'id' is empty (expected a string or an integer)")
    return str(value)


class IdRegistry:
    """Remembers where each id was first seen, to reject duplicates by both line numbers."""

    def __init__(self, path: str | Path):
        self._path = path
        self._first: dict[str, int] = {}

    def add(self, id_: str, line: int) -> None:
        first = self._first.setdefault(id_, line)
        if first != line:
            raise DataError(
                f"{self._path}:{line}: duplicate id {id_!r} (also on line {first}); "
                "ids must be unique"
            )

    def __contains__(self, id_: str) -> bool:
        return id_ in self._first
