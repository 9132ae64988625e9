"""ragft.abstention: when an answer abstains (whole normalised words), each question's CRAG
outcome, and the abstention scores of a mixed set, computed by hand."""

from __future__ import annotations

import pytest

from ragft.abstention import SCORES, abstained, outcome, scores
from ragft.config import PromptConfig

PHRASES = ["I don't know", "I do not know", "not in the context", "unknown"]


# ---------------------------------------------------------------- abstained


@pytest.mark.parametrize(
    "answer",
    [
        "I don't know.",  # the trailing full stop goes with normalisation
        "i DONT know!!",  # case and the apostrophe too
        "Sorry, I do not know, really",  # inside a longer answer
        "The answer is unknown.",
        "It's not in the context.",  # "the" is an article: both sides drop it
        "unknown",  # the whole answer
    ],
)
def test_an_answer_holding_a_phrase_as_whole_normalised_words_abstains(answer):
    assert abstained(answer, PHRASES) is True


@pytest.mark.parametrize(
    "answer",
    [
        "unknownium",  # "unknown" is not a word of it
        "the unknowns",
        "I don't knowledge",
        "Paris",
        "",
        "Known to be Oslo",
    ],
)
def test_an_answer_without_a_whole_phrase_does_not_abstain(answer):
    assert abstained(answer, PHRASES) is False


def test_phrases_are_normalised_too():
    assert abstained("i dont know", ["I DON'T KNOW!"]) is True
    assert abstained("It is not in context", ["Not in the context."]) is True


def test_no_phrase_never_abstains():
    assert abstained("I don't know.", []) is False
    assert abstained("unknown", []) is False


def test_a_phrase_that_normalises_to_nothing_never_matches():
    # "" and "The ..." normalise to "": they must not make every (or an empty) answer abstain.
    assert abstained("", [""]) is False
    assert abstained("...", ["the"]) is False
    assert abstained("Paris", ["", "a"]) is False


def test_the_default_phrases_catch_a_plain_i_dont_know():
    phrases = PromptConfig().abstain_phrases
    assert abstained("I don't know.", phrases) is True
    assert abstained("I cannot answer that.", phrases) is True
    assert abstained("Velmora", phrases) is False


# ---------------------------------------------------------------- outcome


def test_an_answerable_question_answered_with_a_gold_answer_is_correct():
    assert outcome("She grew up in Velmora.", ("Velmora",), PHRASES) == "correct"
    assert outcome("the Kealen clock", ("Orsk", "Kealen clock"), PHRASES) == "correct"


def test_an_answerable_question_answered_abstaining_is_missing():
    assert outcome("I don't know.", ("Velmora",), PHRASES) == "missing"
    # abstaining wins even when the answer also holds the gold answer
    assert outcome("Velmora? I don't know", ("Velmora",), PHRASES) == "missing"


def test_an_answerable_question_answered_wrongly_is_hallucinated():
    assert outcome("Orsk", ("Velmora",), PHRASES) == "hallucinated"
    assert outcome("Velmoran", ("Velmora",), PHRASES) == "hallucinated"  # whole tokens only


def test_an_unanswerable_question_is_correct_when_it_abstains_and_hallucinated_otherwise():
    assert outcome("I do not know", (), PHRASES) == "correct"
    assert outcome("That is unknown.", [], PHRASES) == "correct"
    assert outcome("Velmora", (), PHRASES) == "hallucinated"
    assert outcome("unknownium", (), PHRASES) == "hallucinated"


# ---------------------------------------------------------------- scores

# (answer, golds, outcome, abstains), by hand
MIXED = [
    ("It is Paris.", ("Paris",), "correct", False),
    ("I don't know.", ("Berlin",), "missing", True),
    ("Madrid", ("Rome",), "hallucinated", False),
    ("Oslo", ("Oslo", "Christiania"), "correct", False),
    ("I do not know", (), "correct", True),
    ("Zurich", (), "hallucinated", False),
    ("That is not in the context.", (), "correct", True),
    ("unknown", ("1842",), "missing", True),
]


def test_the_hand_outcomes_of_the_mixed_set():
    for answer, golds, expected, abstains in MIXED:
        assert outcome(answer, golds, PHRASES) == expected, answer
        assert abstained(answer, PHRASES) is abstains, answer


def test_scores_of_a_mixed_set_by_hand():
    got = scores([a for a, *_ in MIXED], [g for _, g, *_ in MIXED], PHRASES)
    # all 8: correct 1, 4, 5, 7; abstained 2, 5, 7, 8; hallucinated 3, 6
    # answerable (1, 2, 3, 4, 8): correct 1, 4; abstained 2, 8; hallucinated 3
    # unanswerable (5, 6, 7): abstained 5, 7; hallucinated 6
    expected = {
        "accuracy": 4 / 8,
        "abstain_rate": 4 / 8,
        "hallucination_rate": 2 / 8,
        "crag": 4 / 8 - 2 / 8,
        "answerable_accuracy": 2 / 5,
        "answerable_abstain_rate": 2 / 5,
        "answerable_hallucination_rate": 1 / 5,
        "unanswerable_abstain_rate": 2 / 3,
        "unanswerable_hallucination_rate": 1 / 3,
    }
    assert set(got) == set(SCORES) == set(expected)
    assert got == pytest.approx(expected)


def test_crag_is_accuracy_minus_hallucination_and_may_be_negative():
    got = scores(["Orsk", "Kesh", "Paris"], [("Velmora",), (), ("Paris",)], PHRASES)
    assert got["accuracy"] == pytest.approx(1 / 3)
    assert got["hallucination_rate"] == pytest.approx(2 / 3)
    assert got["crag"] == pytest.approx(-1 / 3)
    assert got["abstain_rate"] == 0.0


def test_only_answerable_questions_leave_out_the_unanswerable_split():
    got = scores(["Paris", "I don't know", "Lyon"], [("Paris",), ("Oslo",), ("Rome",)], PHRASES)
    assert set(got) == {
        "accuracy", "abstain_rate", "hallucination_rate", "crag",
        "answerable_accuracy", "answerable_abstain_rate", "answerable_hallucination_rate",
    }  # fmt: skip
    assert got["accuracy"] == pytest.approx(1 / 3) == got["answerable_accuracy"]
    assert got["abstain_rate"] == pytest.approx(1 / 3) == got["answerable_abstain_rate"]
    assert got["hallucination_rate"] == pytest.approx(1 / 3)
    assert got["answerable_hallucination_rate"] == pytest.approx(1 / 3)
    assert got["crag"] == pytest.approx(0.0)


def test_only_unanswerable_questions_leave_out_the_answerable_split():
    got = scores(["I don't know", "Velmora", "unknown", "not in the context"], [()] * 4, PHRASES)
    assert set(got) == {
        "accuracy", "abstain_rate", "hallucination_rate", "crag",
        "unanswerable_abstain_rate", "unanswerable_hallucination_rate",
    }  # fmt: skip
    assert got["accuracy"] == 0.75 and got["abstain_rate"] == 0.75
    assert got["hallucination_rate"] == 0.25 and got["crag"] == 0.5
    assert got["unanswerable_abstain_rate"] == 0.75
    assert got["unanswerable_hallucination_rate"] == 0.25


def test_without_phrases_nothing_abstains():
    got = scores(["I don't know", "Paris"], [(), ("Paris",)], [])
    assert got["abstain_rate"] == 0.0
    assert got["accuracy"] == 0.5 and got["hallucination_rate"] == 0.5
    assert got["unanswerable_hallucination_rate"] == 1.0


def test_scores_reject_answers_and_questions_that_do_not_line_up():
    with pytest.raises(ValueError, match="^2 answers for 1 questions$"):
        scores(["a", "b"], [("a",)], PHRASES)
    with pytest.raises(ValueError, match="^0 answers for 1 questions$"):
        scores([], [("a",)], PHRASES)


def test_scores_of_nothing_are_an_error_not_a_zero():
    with pytest.raises(ValueError, match="at least one answer, got none"):
        scores([], [], PHRASES)


@pytest.mark.parametrize("golds", [("Paris",), ()])
def test_an_empty_answer_is_missing_as_in_crag(golds):
    # CRAG counts an empty response as missing (0), never as a hallucination (-1)
    assert outcome("", golds, PHRASES) == "missing"
    assert outcome(" . ", golds, PHRASES) == "missing"  # nothing left after normalisation
    s = scores(["", "Paris"], [golds, ("Paris",)], PHRASES)
    assert s["hallucination_rate"] == 0.0 and s["accuracy"] == 0.5
