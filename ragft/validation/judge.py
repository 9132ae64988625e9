"""Rules for the LLM judge (`metrics.judge`): backend, scale, attempts, the prompt template, the
judge model's folder (hf) or the endpoint's settings (openai)."""

from __future__ import annotations

import string
from pathlib import Path

from ragft.approaches import Approach
from ragft.config import JUDGE_BACKENDS, JudgeConfig, RunConfig
from ragft.validation.checks import Problems, check, endpoint_problems, one_of, positive

KEY = "metrics.judge"
PLACEHOLDERS = ("question", "reference", "answer")  # {scale} may appear too; nothing else


def judge_rule(run: RunConfig, approach: Approach | None) -> Problems:
    """Checked for every cell; everything but the backend's name only when a judge is on."""
    j = run.metrics.judge
    p = one_of(f"{KEY}.backend", j.backend, JUDGE_BACKENDS)
    if j.backend not in ("hf", "openai"):
        return p
    p += check(j.scale >= 2, f"{KEY}.scale", j.scale, ">= 2 (ratings run from 1 to scale)")
    p += check(j.max_attempts >= 1, f"{KEY}.max_attempts", j.max_attempts, ">= 1")
    p += positive(f"{KEY}.max_tokens", j.max_tokens)
    p += positive(f"{KEY}.batch_size", j.batch_size)
    p += template_problems(j)
    if j.backend == "hf" and j.path is not None:
        p += path_problems(j.path)
    if j.backend == "openai":
        p += endpoint_problems(f"{KEY}.endpoint", j.endpoint)
        p += positive(f"{KEY}.endpoint.max_tokens", j.endpoint.max_tokens)
    return p


def template_problems(j: JudgeConfig) -> Problems:
    """The template must name the question, the reference and the answer, and format."""
    key = f"{KEY}.template"
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(j.template) if name}
        j.template.format(question="q", reference="r", answer="a", scale=j.scale)
    except (KeyError, IndexError, ValueError, AttributeError) as e:
        return [
            f"{key} does not format ({type(e).__name__}: {e}); its only placeholders are "
            "{question}, {reference}, {answer} and {scale}; write other braces doubled, "
            'e.g. {{"rating": 7}}'
        ]
    missing = [f"{{{name}}}" for name in PLACEHOLDERS if name not in fields]
    if missing:
        return [f"{key} must contain {', '.join(missing)} (the judge is shown each answer's "
                "question, reference and answer)"]  # fmt: skip
    return []


def path_problems(path: str) -> Problems:
    folder = Path(path).expanduser()
    if not folder.is_dir():
        return [
            f"{KEY}.path={path!r} is not a folder; give a local Hugging Face model folder "
            "(config.json + weights), or null to judge with the cell's own model"
        ]
    if not (folder / "config.json").is_file():
        return [f"{KEY}.path={path!r} holds no config.json; give a Hugging Face model folder"]
    return []
