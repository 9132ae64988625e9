"""Where a Hugging Face model lives: a local folder or a hub id, and whether it can be loaded
offline. Light (no torch): `validation` and the model stage both ask it.
"""

from __future__ import annotations

import os


def looks_local(path: str) -> bool:
    """A filesystem path rather than a hub id ("org/name" has one slash and no leading dot)."""
    return path.startswith((".", "/", "~")) or path.count("/") > 1 or "\\" in path


def hub_offline() -> bool:
    return any(
        os.environ.get(k, "").strip().lower() in ("1", "true", "yes", "on")
        for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def model_path_problems(path: str, revision: str | None = None) -> list[str]:
    """Why `model.path` cannot be loaded (a missing local folder, a folder without
    config.json, a hub id while downloads are off and it is not cached), or [] if it can."""
    local = os.path.expanduser(path)
    if os.path.exists(local):
        if os.path.isfile(os.path.join(local, "config.json")):
            return []
        return [
            f"model.path={path!r} exists but holds no config.json; give a Hugging Face "
            "model folder (config.json + weights) or a hub id"
        ]
    if looks_local(path):
        return [
            f"model.path={path!r}: no such folder; give a Hugging Face model folder "
            "(config.json + weights) or a hub id such as org/name"
        ]
    if hub_offline() and not _in_hub_cache(path, revision):
        return [
            f"model.path={path!r} is a hub id, but downloads are off (HF_HUB_OFFLINE=1) and "
            "it is not in the local Hugging Face cache; give a local model folder, or unset "
            "HF_HUB_OFFLINE to download it once"
        ]
    return []


def _in_hub_cache(repo_id: str, revision: str | None) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(repo_id, "config.json", revision=revision)
    except Exception:  # noqa: BLE001 - e.g. an invalid repo id: let loading report it
        return False
    return isinstance(found, str)
