"""Rules on what a cell is asked and how it is scored beyond the string metrics: the prompt
template (`prompt`), abstention, the control set, semantic similarity, unanswerable questions."""

from __future__ import annotations

from pathlib import Path

from ragft.approaches import Approach
from ragft.config import RunConfig
from ragft.validation.checks import Problems, check, package_problems

_FIELDS = ("instruction", "context_instruction")


def prompt_rule(run: RunConfig, approach: Approach | None) -> Problems:
    t = run.prompt
    p: Problems = []
    for name in _FIELDS:
        if not getattr(t, name).strip():
            p.append(f"prompt.{name} is empty; say what the model should answer")
    for i, shot in enumerate(t.shots):
        if not shot.question.strip() or not shot.answer.strip():
            p.append(f"prompt.shots[{i}] needs both a question and an answer")
    phrases = [x for x in t.abstain_phrases if x.strip()]
    if t.abstain and not phrases:
        p.append(
            "prompt.abstain=true needs prompt.abstain_phrases (what counts as 'I don't know'); "
            "give at least one"
        )
    if t.abstain and phrases and phrases[0].lower() not in t.abstain_instruction.lower():
        p.append(
            f"prompt.abstain_instruction does not ask for {phrases[0]!r}, the first of "
            "prompt.abstain_phrases (what a model is trained and told to say)"
        )
    return p


def evaluation_rule(run: RunConfig, approach: Approach | None) -> Problems:
    m, d = run.metrics, run.data
    p: Problems = []
    if m.control and m.control_path:
        path = Path(m.control_path).expanduser()
        if not path.is_file():
            p.append(f"metrics.control_path={m.control_path!r}: no such file; give a .jsonl "
                     'file of {"id", "question", "answers": [...]} rows')  # fmt: skip
    if m.semantic:
        e = m.embedder
        if e.path is None and e.package:
            p += package_problems("metrics.embedder.package", e.package)
        elif e.path is None:
            p.append("metrics.semantic=true needs metrics.embedder.package or .path")
    p += check(d.n_unanswerable >= 0, "data.n_unanswerable", d.n_unanswerable, ">= 0")
    if d.n_unanswerable and d.name != "fictional-kb":
        p.append(
            f"data.n_unanswerable={d.n_unanswerable} only applies to data=fictional-kb; "
            'mark unanswerable questions in a QA file with "answers": []'
        )
    return p
