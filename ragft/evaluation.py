"""The scoring stage: every score of a cell's answers, beside the string metrics.

`evaluate` joins, per question and averaged:
- the answer and retrieval metrics (`ragft.metrics.score_predictions`; answerable questions
  only, since an unanswerable one has no gold answer to compare with);
- abstention (`ragft.abstention`): when the eval set has unanswerable questions or the prompt
  asks the model to abstain;
- `faithfulness` (retrieval cells): the share of an answer's content tokens found in the
  passages it was given (`metrics.faithfulness`), over the answers that did not abstain;
- `semantic`: the cosine between the answer and its closest gold answer, both embedded with
  `metrics.embedder` (the packaged MiniLM by default);
- `judge`: an LLM's 1..scale rating of each answerable answer (`ragft.judge`), normalised
  to [0, 1]; a question the judge gave no rating is missing, never 0.

Models (the embedder, the judge) come in as callables, so this module stays testable with
fakes; `embedder_for` and `judge_for` build the real ones.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ragft import abstention, metrics
from ragft.cache import Cache
from ragft.config import EmbedderConfig, MetricsConfig, PromptConfig, QuantConfig, RunConfig
from ragft.types import Prediction

Embed = Callable[[list[str]], np.ndarray]  # texts -> L2-normalised rows


@dataclass(frozen=True)
class Evaluation:
    scores: dict[str, float]
    per_example: list[dict[str, float]]  # predictions.jsonl's "metrics", per question
    rows: list[dict[str, Any]]  # further predictions.jsonl fields, per question
    info: dict[str, Any] = field(default_factory=dict)  # results.json's "evaluation"


def semantic(predictions: Sequence[Prediction], embed: Embed) -> list[float | None]:
    """Cosine of each answer with its closest gold answer (None: no gold answer)."""
    golds = [list(p.example.answers) for p in predictions]
    texts = [p.answer for p in predictions] + [g for gs in golds for g in gs]
    vectors = embed(texts) if texts else np.zeros((0, 1))
    out: list[float | None] = []
    start = len(predictions)
    for i, gs in enumerate(golds):
        refs = vectors[start : start + len(gs)]
        start += len(gs)
        if not gs:
            out.append(None)
        elif not predictions[i].answer.strip():
            out.append(0.0)  # an empty answer says nothing
        else:
            out.append(float(np.clip(np.max(refs @ vectors[i]), -1.0, 1.0)))
    return out


def _add(name: str, values: Sequence[float | None], per_example, scores) -> None:
    """Put `values` (None = not scored) in the per-question dicts and their mean in scores."""
    kept = []
    for m, v in zip(per_example, values, strict=True):
        if v is not None:
            m[name] = v
            kept.append(v)
    if kept:
        scores[name] = float(np.mean(kept))


def evaluate(
    predictions: Sequence[Prediction],
    cfg: MetricsConfig,
    prompt: PromptConfig,
    k: int | None,
    embed: Embed | None = None,
    judge: Callable[[Sequence[Prediction]], Any] | None = None,
) -> Evaluation:
    """Every score of `predictions` (the module docstring lists them)."""
    scores, per_example = metrics.score_predictions(predictions, cfg.answer, k)
    rows: list[dict[str, Any]] = [{"answerable": bool(p.example.answers)} for p in predictions]
    info: dict[str, Any] = {}
    n_unanswerable = sum(not r["answerable"] for r in rows)
    phrases = list(prompt.abstain_phrases)
    flags = [abstention.abstained(p.answer, phrases) for p in predictions]
    if n_unanswerable or prompt.abstain:
        answers = [p.answer for p in predictions]
        scores.update(abstention.scores(answers, [p.example.answers for p in predictions], phrases))
        for row, flag in zip(rows, flags, strict=True):
            row["abstained"] = flag
        info["abstention"] = {"n_answerable": len(rows) - n_unanswerable,
                              "n_unanswerable": n_unanswerable}  # fmt: skip
    if cfg.faithfulness and any(p.passages for p in predictions):
        values = [None if flag else metrics.faithfulness(p.answer, [q.text for q in p.passages])
                  for p, flag in zip(predictions, flags, strict=True)]  # fmt: skip
        _add("faithfulness", values, per_example, scores)
    if embed is not None:
        _add("semantic", semantic(predictions, embed), per_example, scores)
    if judge is not None:
        _judged(predictions, judge, cfg.judge, per_example, rows, scores, info)
    return Evaluation(scores, per_example, rows, info)


def _judged(predictions, judge, judge_cfg, per_example, rows, scores, info) -> None:
    """The judge's ratings of the answerable answers, in rows, per_example and scores."""
    from ragft.judge import normalised

    asked = [i for i, p in enumerate(predictions) if p.example.answers]
    if not asked:
        return
    verdict = judge([predictions[i] for i in asked])
    values: list[float | None] = [None] * len(predictions)
    for j, i in enumerate(asked):
        rating = verdict.ratings[j]
        rows[i]["judge"] = {"rating": rating, "explanation": verdict.explanations[j],
                            "attempts": verdict.attempts[j]}  # fmt: skip
        values[i] = None if rating is None else normalised(rating, judge_cfg.scale)
    _add("judge", values, per_example, scores)
    rated = sum(r is not None for r in verdict.ratings)
    info["judge"] = {
        "backend": judge_cfg.backend, "scale": judge_cfg.scale, "rated": rated,
        "missing": len(asked) - rated, "requests_sent": verdict.requests_sent,
        "from_journal": verdict.from_journal, "seconds": verdict.seconds,
        "tokens_in": verdict.tokens_in, "tokens_out": verdict.tokens_out,
    }  # fmt: skip


def embedder_for(cfg: EmbedderConfig) -> Embed:
    """The sentence-transformers embedder `cfg` names, loaded on first use (once a process)."""
    from ragft.retrieval.dense import text_embedder  # torch: only when semantic is scored

    return text_embedder(cfg)


def judge_for(run: RunConfig, cache: Cache, progress: bool = True):
    """The cell's judge: predictions -> `judge.Judgement`, through the request journal (a
    judgement made once is never asked again, also across cells and re-runs)."""
    from dataclasses import asdict

    from ragft import judge
    from ragft.llm.factory import make_backend

    cfg = run.metrics.judge
    model = judge.judge_model(cfg, run.model)
    quant = run.quant if cfg.path is None else QuantConfig()
    make = make_backend(cfg.backend, cfg.endpoint, model, quant, cache, run.seed,
                        cfg.batch_size, max(model.max_input_tokens, 2048),
                        "metrics.judge.endpoint")  # fmt: skip
    ident = {"model": asdict(model), "quant": asdict(quant)} if cfg.backend == "hf" else {}
    journal = judge.journal_path(cache.root, cfg, ident)

    def rate(predictions: Sequence[Prediction]):
        items = [judge.JudgeItem(p.example.question, " | ".join(p.example.answers), p.answer)
                 for p in predictions]  # fmt: skip
        return judge.judge(items, cfg, make, journal, progress)

    return rate
