"""ragft.evaluation with fakes (no model): which scores `evaluate` adds and over which
questions (answer metrics on answerable ones, abstention when it applies, faithfulness,
semantic similarity through a fake embedder, the judge through a fake judge), and
`metrics.faithfulness` against its docstring's definition."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from ragft.config import JudgeConfig, MetricsConfig, PromptConfig
from ragft.evaluation import evaluate, semantic
from ragft.metrics import faithfulness
from ragft.types import Passage, Prediction, QAExample

METRICS = MetricsConfig(answer=["exact_match", "contains"])
PLAIN = PromptConfig()
ABSTAIN = PromptConfig(abstain=True)


def passage(text: str, rank: int = 1) -> Passage:
    return Passage(chunk_id=f"c{rank}", doc_id=f"d{rank}", text=text, score=1.0 / rank, rank=rank)


def pred(
    id_: str, answer: str, answers: tuple[str, ...] = (), passages: tuple[str, ...] = ()
) -> Prediction:
    ex = QAExample(id=id_, question=f"Question {id_}?", answers=answers)
    ps = tuple(passage(t, r) for r, t in enumerate(passages, 1))
    return Prediction(example=ex, prompt=f"prompt {id_}", answer=answer, passages=ps)


class FakeEmbed:
    """Fixed unit vectors per text (so cosines are known); records what it was asked."""

    def __init__(self, vectors: dict[str, list[float]]):
        self.vectors = {
            t: np.asarray(v, dtype=float) / np.linalg.norm(v) for t, v in vectors.items()
        }
        self.calls: list[list[str]] = []

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.calls.append(list(texts))
        return np.stack([self.vectors[t] for t in texts])


# ---------------------------------------------------------------- answer metrics, abstention


def mixed() -> list[Prediction]:
    return [
        pred("a1", "Paris", ("Paris",), ("Paris is the capital of France.",)),
        pred("u1", "I don't know.", (), ("Nothing relevant here.",)),
        pred("a2", "Munich", ("Berlin",), ("Berlin is the capital of Germany.",)),
        pred("u2", "Zurich", (), ("Zurich lies on a lake.",)),
    ]


def test_answer_metrics_are_means_over_the_answerable_questions_only():
    ev = evaluate(mixed(), METRICS, PLAIN, k=None)
    assert ev.scores["exact_match"] == 0.5 and ev.scores["contains"] == 0.5  # (1 + 0) / 2
    assert ev.per_example[0]["exact_match"] == 1.0 and ev.per_example[2]["exact_match"] == 0.0
    for i in (1, 3):  # unanswerable: no gold answer to compare with
        assert "exact_match" not in ev.per_example[i] and "contains" not in ev.per_example[i]


def test_abstention_scores_when_the_eval_set_has_unanswerable_questions():
    ev = evaluate(mixed(), METRICS, PLAIN, k=None)
    # a1 correct, u1 correct (abstained), a2 hallucinated, u2 hallucinated
    assert ev.scores["accuracy"] == 0.5
    assert ev.scores["abstain_rate"] == 0.25
    assert ev.scores["hallucination_rate"] == 0.5
    assert ev.scores["crag"] == 0.0
    assert ev.scores["answerable_accuracy"] == 0.5
    assert ev.scores["answerable_abstain_rate"] == 0.0
    assert ev.scores["answerable_hallucination_rate"] == 0.5
    assert ev.scores["unanswerable_abstain_rate"] == 0.5
    assert ev.scores["unanswerable_hallucination_rate"] == 0.5
    assert ev.info["abstention"] == {"n_answerable": 2, "n_unanswerable": 2}


def test_rows_say_whether_each_question_is_answerable_and_whether_it_abstained():
    ev = evaluate(mixed(), METRICS, PLAIN, k=None)
    assert [r["answerable"] for r in ev.rows] == [True, False, True, False]
    assert [r["abstained"] for r in ev.rows] == [False, True, False, False]


def test_no_abstention_scores_for_answerable_questions_without_prompt_abstain():
    preds = [pred("a1", "I don't know", ("Paris",)), pred("a2", "Oslo", ("Oslo",))]
    ev = evaluate(preds, METRICS, PLAIN, k=None)
    assert not {"accuracy", "abstain_rate", "hallucination_rate", "crag"} & set(ev.scores)
    assert not any(k.startswith(("answerable_", "unanswerable_")) for k in ev.scores)
    assert "abstention" not in ev.info
    assert ev.rows == [{"answerable": True}, {"answerable": True}]
    assert ev.scores["contains"] == 0.5


def test_prompt_abstain_adds_abstention_scores_for_answerable_questions_only_sets():
    preds = [
        pred("a1", "I don't know", ("Paris",)),
        pred("a2", "Oslo", ("Oslo",)),
        pred("a3", "Kesh", ("Orsk",)),
        pred("a4", "Orsk", ("Orsk",)),
    ]
    ev = evaluate(preds, METRICS, ABSTAIN, k=None)
    assert ev.scores["accuracy"] == 0.5 == ev.scores["answerable_accuracy"]
    assert ev.scores["abstain_rate"] == 0.25 == ev.scores["answerable_abstain_rate"]
    assert ev.scores["hallucination_rate"] == 0.25
    assert ev.scores["crag"] == 0.25
    assert "unanswerable_abstain_rate" not in ev.scores
    assert [r["abstained"] for r in ev.rows] == [True, False, False, False]
    assert ev.info["abstention"] == {"n_answerable": 4, "n_unanswerable": 0}


def test_abstention_uses_the_prompts_phrases():
    preds = [pred("u1", "No idea", ()), pred("u2", "I don't know", ())]
    ev = evaluate(preds, METRICS, PromptConfig(abstain_phrases=["no idea"]), k=None)
    assert [r["abstained"] for r in ev.rows] == [True, False]
    assert ev.scores["accuracy"] == 0.5 and ev.scores["hallucination_rate"] == 0.5


# ---------------------------------------------------------------- faithfulness


def test_faithfulness_is_the_share_of_content_tokens_found_in_the_passages():
    # tokens: he was born in town of velmora in 1842 ("the" is an article);
    # content tokens (function words out): born, town, velmora, 1842; supported: born, velmora
    answer = "He was born in the town of Velmora in 1842."
    assert faithfulness(answer, ["Ilsa was born in Velmora.", "The year 1850."]) == 0.5
    # any passage may support a token
    assert faithfulness(answer, ["Ilsa was born", "in a town", "Velmora, 1842"]) == 1.0


def test_faithfulness_counts_whole_tokens_and_repeated_claims():
    assert faithfulness("Velmora", ["Velmoran lore"]) == 0.0
    assert faithfulness("Velmora Velmora Orsk", ["velmora!"]) == pytest.approx(2 / 3)


def test_faithfulness_is_none_without_content_tokens_or_passages():
    assert faithfulness("It is in the", ["It is in the box."]) is None  # function words only
    assert faithfulness("", ["text"]) is None
    assert faithfulness("Velmora", []) is None


def test_evaluate_faithfulness_skips_abstentions_and_averages_over_the_scored():
    ev = evaluate(mixed(), METRICS, PLAIN, k=None)
    # a1 "Paris" supported: 1.0; u1 abstained: None; a2 "Munich" unsupported: 0.0; u2 1.0
    assert [m.get("faithfulness") for m in ev.per_example] == [1.0, None, 0.0, 1.0]
    assert ev.scores["faithfulness"] == pytest.approx(2 / 3)


def test_evaluate_faithfulness_leaves_out_answers_without_passages():
    preds = [
        pred("a1", "Orsk", ("Orsk",), ("Orsk lies on the river Tal.",)),
        pred("a2", "Kesh", ("Kesh",)),  # no passage: not scored
        pred("a3", "Tal river", ("Tal",), ("The Tal runs north.",)),  # river unsupported
    ]
    ev = evaluate(preds, METRICS, PLAIN, k=None)
    assert [m.get("faithfulness") for m in ev.per_example] == [1.0, None, 0.5]
    assert "faithfulness" not in ev.per_example[1]
    assert ev.scores["faithfulness"] == 0.75


def test_no_faithfulness_for_closed_book_cells_or_when_switched_off():
    closed = [pred("a1", "Orsk", ("Orsk",)), pred("a2", "Kesh", ("Kesh",))]
    ev = evaluate(closed, METRICS, PLAIN, k=None)
    assert "faithfulness" not in ev.scores
    assert all("faithfulness" not in m for m in ev.per_example)
    off = MetricsConfig(answer=["contains"], faithfulness=False)
    ev = evaluate(mixed(), off, PLAIN, k=None)
    assert "faithfulness" not in ev.scores
    assert all("faithfulness" not in m for m in ev.per_example)


def test_no_faithfulness_score_when_every_answer_abstained():
    preds = [pred("u1", "I don't know", (), ("Some text.",))]
    ev = evaluate(preds, METRICS, PLAIN, k=None)
    assert "faithfulness" not in ev.scores and "faithfulness" not in ev.per_example[0]


# ---------------------------------------------------------------- semantic


EMBED = {
    "Paris": [1, 0, 0],
    "Lyon": [0, 1, 0],
    "Paris city": [0.6, 0.8, 0],  # cos 0.6 with Paris, 0.8 with Lyon
    "Rome": [0, 0, 1],
    "anti-Paris": [-1, 0, 0],
    "": [1, 0, 0],  # the same as Paris: an empty answer must still score 0
    "Nowhere": [0, 0.6, 0.8],
}


def test_semantic_is_the_cosine_with_the_closest_gold_answer():
    embed = FakeEmbed(EMBED)
    preds = [
        pred("a1", "Paris city", ("Paris", "Lyon")),
        pred("a2", "Paris city", ("Paris", "Rome")),
        pred("a3", "Rome", ("Rome",)),
        pred("a4", "anti-Paris", ("Paris",)),
    ]
    assert semantic(preds, embed) == pytest.approx([0.8, 0.6, 1.0, -1.0])


def test_semantic_of_an_empty_answer_is_zero_and_unanswerable_is_not_scored():
    # "" and "  " embed like the gold answers (cosine 1): only the empty-answer rule gives 0
    embed = FakeEmbed({**EMBED, "  ": [0, 1, 0]})
    preds = [pred("a1", "", ("Paris",)), pred("u1", "Nowhere", ()), pred("a2", "  ", ("Lyon",))]
    assert semantic(preds, embed) == [0.0, None, 0.0]


def test_semantic_embeds_the_answers_then_every_gold_answer_in_one_call():
    embed = FakeEmbed(EMBED)
    semantic([pred("a1", "Rome", ("Paris", "Lyon")), pred("a2", "Lyon", ("Rome",))], embed)
    assert embed.calls == [["Rome", "Lyon", "Paris", "Lyon", "Rome"]]


def test_evaluate_semantic_means_over_the_scored_questions():
    preds = [
        pred("a1", "Paris city", ("Lyon",)),  # 0.8
        pred("u1", "Nowhere", ()),  # not scored
        pred("a2", "", ("Paris",)),  # 0.0
        pred("a3", "Rome", ("Rome",)),  # 1.0
    ]
    ev = evaluate(preds, METRICS, PLAIN, k=None, embed=FakeEmbed(EMBED))
    assert [m.get("semantic") for m in ev.per_example] == pytest.approx([0.8, None, 0.0, 1.0])
    assert "semantic" not in ev.per_example[1]
    assert ev.scores["semantic"] == pytest.approx(0.6)


def test_evaluate_without_an_embedder_has_no_semantic_score():
    ev = evaluate(mixed(), METRICS, PLAIN, k=None)
    assert "semantic" not in ev.scores
    assert all("semantic" not in m for m in ev.per_example)


# ---------------------------------------------------------------- judge


class FakeJudge:
    """Returns fixed verdicts (a `judge.Judgement`'s fields) and records what it was asked."""

    def __init__(self, ratings, explanations, attempts, requests_sent=0, from_journal=0):
        self.verdict = SimpleNamespace(
            ratings=ratings,
            explanations=explanations,
            attempts=attempts,
            requests_sent=requests_sent,
            from_journal=from_journal,
            seconds=1.5,
            tokens_in=120,
            tokens_out=30,
        )
        self.calls: list[list[str]] = []

    def __call__(self, predictions):
        self.calls.append([p.example.id for p in predictions])
        return self.verdict


def judged_cfg(scale: int = 5) -> MetricsConfig:
    return MetricsConfig(answer=["contains"], judge=JudgeConfig(backend="openai", scale=scale))


def judged_preds() -> list[Prediction]:
    return [
        pred("a1", "Velmora", ("Velmora",)),
        pred("u1", "Orsk", ()),
        pred("a2", "Kesh", ("Tal",)),
        pred("a3", "Tal", ("Tal",)),
    ]


def test_the_judge_rates_answerable_questions_only_in_order():
    judge = FakeJudge([5, None, 2], ["right", "junk", "wrong"], [1, 3, 2], 5, 1)
    evaluate(judged_preds(), judged_cfg(), PLAIN, k=None, judge=judge)
    assert judge.calls == [["a1", "a2", "a3"]]


def test_judge_ratings_are_normalised_and_a_missing_rating_is_left_out_not_zero():
    judge = FakeJudge([5, None, 2], ["right", "junk", "wrong"], [1, 3, 2], 5, 1)
    ev = evaluate(judged_preds(), judged_cfg(scale=5), PLAIN, k=None, judge=judge)
    # (r - 1) / (scale - 1): 5 -> 1.0, 2 -> 0.25; the missing one is not in the mean
    assert ev.per_example[0]["judge"] == 1.0
    assert "judge" not in ev.per_example[1]  # unanswerable: not asked
    assert "judge" not in ev.per_example[2]  # missing: absent, not 0
    assert ev.per_example[3]["judge"] == 0.25
    assert ev.scores["judge"] == pytest.approx(0.625)


def test_judge_verdicts_land_in_the_rows_of_the_questions_asked():
    judge = FakeJudge([5, None, 2], ["right", "junk", "wrong"], [1, 3, 2], 5, 1)
    ev = evaluate(judged_preds(), judged_cfg(), PLAIN, k=None, judge=judge)
    assert ev.rows[0]["judge"] == {"rating": 5, "explanation": "right", "attempts": 1}
    assert "judge" not in ev.rows[1]
    assert ev.rows[2]["judge"] == {"rating": None, "explanation": "junk", "attempts": 3}
    assert ev.rows[3]["judge"] == {"rating": 2, "explanation": "wrong", "attempts": 2}


def test_judge_info_counts_rated_missing_and_requests():
    judge = FakeJudge([5, None, 2], ["right", "junk", "wrong"], [1, 3, 2], 5, 1)
    ev = evaluate(judged_preds(), judged_cfg(scale=5), PLAIN, k=None, judge=judge)
    assert ev.info["judge"] == {
        "backend": "openai",
        "scale": 5,
        "rated": 2,
        "missing": 1,
        "requests_sent": 5,
        "from_journal": 1,
        "seconds": 1.5,
        "tokens_in": 120,
        "tokens_out": 30,
    }


def test_judge_on_the_default_ten_point_scale():
    judge = FakeJudge([10, 1, 4], ["", "", ""], [1, 1, 1])
    ev = evaluate(judged_preds(), judged_cfg(scale=10), PLAIN, k=None, judge=judge)
    assert [m.get("judge") for m in ev.per_example] == pytest.approx([1.0, None, 0.0, 1 / 3])
    assert ev.scores["judge"] == pytest.approx((1.0 + 0.0 + 1 / 3) / 3)


def test_a_judge_that_rated_nothing_gives_no_score_but_counts_the_missing():
    judge = FakeJudge([None, None, None], ["", "", ""], [3, 3, 3], 9, 0)
    ev = evaluate(judged_preds(), judged_cfg(), PLAIN, k=None, judge=judge)
    assert "judge" not in ev.scores
    assert all("judge" not in m for m in ev.per_example)
    assert ev.info["judge"]["rated"] == 0 and ev.info["judge"]["missing"] == 3


def test_the_judge_is_not_called_when_no_question_is_answerable():
    judge = FakeJudge([], [], [])
    preds = [pred("u1", "Orsk", ()), pred("u2", "I don't know", ())]
    ev = evaluate(preds, judged_cfg(), PLAIN, k=None, judge=judge)
    assert judge.calls == []
    assert "judge" not in ev.scores and "judge" not in ev.info
    assert all("judge" not in r for r in ev.rows)
