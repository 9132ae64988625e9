"""Errors the user can act on. run.py prints their message (no traceback) and exits non-zero."""

from __future__ import annotations


class RagftError(Exception):
    """Base class: a problem with the user's configuration, data or environment."""


class ConfigError(RagftError):
    """One or more configuration problems, all listed at once."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"invalid configuration:\n{lines}")


class DataError(RagftError):
    """A data file or folder that cannot be used; the message names the file (and line)."""


class ModelError(RagftError):
    """A model that cannot be found or loaded."""
