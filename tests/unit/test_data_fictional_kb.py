"""ragft.data.fictional_kb: properties of the generated knowledge base (words, documents, order)."""

from __future__ import annotations

import re
from itertools import product

import pytest

from ragft.data.fictional_kb import _sentence, _with_article, generate
from ragft.data.kb_vocabulary import (
    ATTRIBUTES,
    CODAS,
    JOBS,
    LANDMARKS,
    ONSETS,
    SUFFIXES,
    VOWELS,
    YEARS,
)
from ragft.types import Dataset

# Three vowels in a row, a doubled letter, or a "y" next to a vowel.
CLUMSY = re.compile(r"[aeiouy]{3}|(.)\1|y[aeiou]|[aeiou]y")


def alternatives(parts) -> str:
    return "(?:" + "|".join(sorted(map(re.escape, set(parts)), key=len, reverse=True)) + ")"


SYLLABLE = alternatives(ONSETS) + alternatives(VOWELS)
ENDING = alternatives(CODAS) + alternatives(SUFFIXES)
ONE_SYLLABLE = re.compile(f"{SYLLABLE}{ENDING}")
TWO_SYLLABLES = re.compile(f"{SYLLABLE}{SYLLABLE}{ENDING}")

ARTICLE = {  # English, by ear
    "cartographer": "a",
    "clockmaker": "a",
    "botanist": "a",
    "glassblower": "a",
    "astronomer": "an",
    "weaver": "a",
    "shipwright": "a",
    "apothecary": "an",
    "bookbinder": "a",
    "surveyor": "a",
}


def facts(ds: Dataset, e: int) -> dict[str, str]:
    """Entity e's fact values (the first answer of each of its eval questions)."""
    return {
        ex.fact_id.split(".")[1]: ex.answers[0]
        for ex in ds.eval
        if ex.fact_id.startswith(f"e{e:03d}.")
    }


def invented_words(ds: Dataset) -> list[str]:
    """Every invented word: name parts, hometowns, invention and society names, places, pets
    (a document that mentions its place twice counts it once)."""
    words = []
    for e, doc in enumerate(ds.corpus):
        f = facts(ds, e)
        words += doc.title.split()
        words += [f["hometown"], f["invention"].split()[0], f["society"].split()[0]]
        words += set(re.findall(r"named (\w+),", doc.text))  # the pet
        words += set(re.findall(rf"the (\w+) (?:{'|'.join(LANDMARKS)})", doc.text))  # the place
    return words


def sentences(text: str) -> list[str]:
    return re.split(r"(?<=\.) (?=[A-Z])", text)


@pytest.fixture
def kb() -> Dataset:
    # Function-scoped on purpose: mutmut maps a function to the tests that call it, and a
    # module-scoped fixture would run `generate` outside all but the first of them.
    return generate(60, 1, 11, "heldout")


# ---------------------------------------------------------------- invented words


def test_invented_words_are_well_formed(kb):
    words = invented_words(kb)
    assert len(words) >= 60 * 5
    for w in words:
        low = w.lower()
        assert w == low.capitalize(), w
        assert 5 <= len(w) <= 9, w
        assert not CLUMSY.search(low), w
        assert ONE_SYLLABLE.fullmatch(low) or TWO_SYLLABLES.fullmatch(low), w


def test_invented_words_are_unique_and_none_is_inside_another():
    """So each answer occurs in its own document only (checked on the largest knowledge base:
    the more words, the likelier a clash)."""
    kb = generate(len(YEARS), 1, 3, "heldout")
    words = sorted({w.lower() for w in invented_words(kb)}, key=len)
    assert len(words) == len(invented_words(kb)) > 251 * 5
    for i, short in enumerate(words):
        assert not any(short in long for long in words[i + 1 :]), short


def test_invented_words_use_every_length_and_both_syllable_counts(kb):
    words = [w.lower() for w in invented_words(kb)]
    assert {len(w) for w in words} == {5, 6, 7, 8, 9}
    assert any(ONE_SYLLABLE.fullmatch(w) and not TWO_SYLLABLES.fullmatch(w) for w in words)
    assert any(TWO_SYLLABLES.fullmatch(w) and not ONE_SYLLABLE.fullmatch(w) for w in words)


# ---------------------------------------------------------------- documents


def test_document_is_an_intro_four_facts_and_one_to_three_fillers(kb):
    filler_counts = set()
    for e, doc in enumerate(kb.corpus):
        parts = sentences(doc.text)
        assert doc.text == " ".join(parts)
        assert all(s.endswith(".") for s in parts), doc.text
        values = facts(kb, e).values()
        assert doc.title in parts[0]  # the intro names the entity
        body = parts[1:]
        fact_sentences = [s for s in body if any(v in s for v in values)]
        assert len(fact_sentences) == 4, doc.text
        filler_counts.add(len(body) - 4)
    assert filler_counts == {1, 2, 3}


def test_sentences_name_the_entity_sometimes_and_use_pronouns_otherwise(kb):
    named = {"fact": set(), "filler": set()}
    for e, doc in enumerate(kb.corpus):
        values = facts(kb, e).values()
        for s in sentences(doc.text)[1:]:
            kind = "fact" if any(v in s for v in values) else "filler"
            named[kind].add(doc.title in s)
    assert named == {"fact": {True, False}, "filler": {True, False}}


def test_each_entity_has_one_gender_and_both_occur(kb):
    genders = []
    for doc in kb.corpus:
        tokens = set(re.findall(r"\w+", doc.text.lower()))
        she, he = bool(tokens & {"she", "her"}), bool(tokens & {"he", "his", "him"})
        assert not (she and he), doc.text
        if she or he:
            genders.append(she)
    assert set(genders) == {True, False}


def test_intro_gives_the_job_with_the_right_article(kb):
    jobs = set()
    for doc in kb.corpus:
        intro = sentences(doc.text)[0]
        (job,) = [j for j in JOBS if j in intro]
        assert f"{ARTICLE[job]} {job}" in intro, intro
        jobs.add(job)
    assert {"astronomer", "apothecary"} & jobs and {"weaver", "botanist"} & jobs


@pytest.mark.parametrize(
    "noun,phrase",
    [
        ("astronomer", "an astronomer"),
        ("apothecary", "an apothecary"),
        ("umbrella maker", "an umbrella maker"),
        ("innkeeper", "an innkeeper"),
        ("engraver", "an engraver"),
        ("weaver", "a weaver"),
        ("baker", "a baker"),
        ("tailor", "a tailor"),
    ],
)
def test_with_article(noun, phrase):
    assert _with_article(noun) == phrase


# ---------------------------------------------------------------- sentence templates


@pytest.mark.parametrize(
    "template,named,female,expected",
    [
        (
            "{P} lasting legacy is the {value}, which {s} founded.",
            True,
            True,
            "Ada Lorn's lasting legacy is the Zorn Guild, which she founded.",
        ),
        (
            "{P} lasting legacy is the {value}, which {s} founded.",
            False,
            False,
            "His lasting legacy is the Zorn Guild, which he founded.",
        ),
        (
            "In {p} spare time, {s} enjoyed {value}.",
            True,
            False,
            "In Ada Lorn's spare time, he enjoyed Zorn Guild.",
        ),
        (
            "The {value} was founded by {o} and met once a month.",
            True,
            True,
            "The Zorn Guild was founded by Ada Lorn and met once a month.",
        ),
        (
            "The {value} was founded by {o} and met once a month.",
            False,
            False,
            "The Zorn Guild was founded by him and met once a month.",
        ),
        (
            "{S} kept {value}, which followed {o} everywhere; {S} liked {p} pets.",
            True,
            True,
            "Ada Lorn kept Zorn Guild, which followed her everywhere; She liked her pets.",
        ),
        (
            "{S} wrote {{notes}} about the {value} for {p} friends.",
            False,
            True,
            "She wrote {notes} about the Zorn Guild for her friends.",
        ),
    ],
)
def test_sentence_names_the_first_reference_only(template, named, female, expected):
    assert _sentence(template, "Ada Lorn", named, female, value="Zorn Guild") == expected


# ---------------------------------------------------------------- question order


@pytest.mark.parametrize("n_entities,n_train", [(3, 1), (6, 2)])
def test_questions_come_in_rotating_rounds(n_entities, n_train):
    """Round r asks entity e about ATTRIBUTES[(e + r) % 4] (the module docstring)."""
    ds = generate(n_entities, n_train, 0, "heldout")
    expected = [
        f"e{e:03d}.{ATTRIBUTES[(e + r) % 4]}"
        for r, e in product(range(len(ATTRIBUTES)), range(n_entities))
    ]
    assert [ex.fact_id for ex in ds.eval] == expected
    assert [ex.fact_id for ex in ds.train] == [f for f in expected for _ in range(n_train)]
    assert [ex.id for ex in ds.train[:n_train]] == [
        f"{expected[0]}/train{i}" for i in range(n_train)
    ]


# ---------------------------------------------------------------- sizes it accepts


def test_accepts_one_entity_up_to_one_per_year():
    assert len(generate(1, 1, 0, "heldout").corpus) == 1
    big = generate(len(YEARS), 1, 0, "seen")
    assert len(big.corpus) == len(YEARS) == 251
    assert sorted(int(facts_year) for facts_year in _birth_years(big)) == list(YEARS)


def _birth_years(ds: Dataset) -> list[str]:
    return [ex.answers[0] for ex in ds.eval if ex.fact_id.endswith(".birth_year")]


@pytest.mark.parametrize(
    "args,message",
    [
        ((0, 1, "heldout"), "n_entities=0 must be between 1 and 251"),
        ((252, 1, "heldout"), "n_entities=252 must be between 1 and 251"),
        ((4, 0, "heldout"), "n_train_phrasings=0 must be between 1 and 6"),
        ((4, 7, "heldout"), "n_train_phrasings=7 must be between 1 and 6"),
        ((4, 2, "test"), "eval_split='test' must be one of: heldout, seen"),
    ],
)
def test_rejects_out_of_range_arguments_saying_the_range(args, message):
    n_entities, n_train, eval_split = args
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        generate(n_entities, n_train, 0, eval_split)


# ---------------------------------------------------------------- unanswerable questions

import math  # noqa: E402

from ragft.data import fictional_kb  # noqa: E402
from ragft.data.kb_vocabulary import QUESTIONS  # noqa: E402


def _unanswerable(ds: Dataset) -> list:
    return [ex for ex in ds.eval if not ex.answers]


def _asked_about(question: str, templates) -> tuple[str, str] | None:
    """(template, name) when `question` is one of `templates` filled with a name."""
    for t in templates:
        head, tail = t.split("{name}")
        m = re.fullmatch(re.escape(head) + r"(.+?)" + re.escape(tail), question)
        if m:
            return t, m.group(1)
    return None


@pytest.mark.parametrize("n", [1, 2, 7])
def test_unanswerable_questions_leave_the_answerable_data_as_it_is(n):
    base = generate(5, 2, 3, "heldout")
    ds = generate(5, 2, 3, "heldout", n_unanswerable=n)
    assert ds.corpus == base.corpus
    assert ds.train == base.train
    assert tuple(ex for ex in ds.eval if ex.answers) == base.eval
    assert generate(5, 2, 3, "heldout", n_unanswerable=0) == base


@pytest.mark.parametrize("n", [1, 6, 11])
def test_n_unanswerable_questions_without_answers_phrased_unanswerable(n):
    ds = generate(4, 2, 0, "seen", n_unanswerable=n)
    extra = _unanswerable(ds)
    assert len(extra) == n == len(ds.eval) - 16
    assert all(ex.answers == () and ex.phrasing == "unanswerable" for ex in extra)
    assert all(ex.gold_doc_ids == () for ex in extra)
    assert len({ex.id for ex in ds.eval}) == len(ds.eval)  # ids stay unique
    assert len({ex.question for ex in extra}) == n
    assert not {ex.question for ex in extra} & {ex.question for ex in ds.train}


def test_even_unanswerable_questions_ask_about_names_in_no_document():
    ds = generate(4, 2, 1, "heldout", n_unanswerable=10)
    evens = _unanswerable(ds)[0::2]
    attributes = []
    for ex in evens:
        found = [(a, _asked_about(ex.question, QUESTIONS[a])) for a in ATTRIBUTES]
        (attr, (_, name)), *more = [(a, f) for a, f in found if f]
        assert not more, ex.question
        attributes.append(attr)
        for doc in ds.corpus:
            assert name not in doc.title and name not in doc.text
            for part in name.split():  # not even a part of the name occurs anywhere
                assert (
                    part.lower() not in doc.text.lower() and part.lower() not in doc.title.lower()
                )
    assert set(attributes) == set(ATTRIBUTES)  # they go through all four attributes


def test_odd_unanswerable_questions_ask_absent_facts_about_people_in_the_kb():
    ds = generate(4, 2, 1, "heldout", n_unanswerable=12)
    titles = {d.title for d in ds.corpus}
    odds = _unanswerable(ds)[1::2]
    templates = []
    for ex in odds:
        found = _asked_about(ex.question, fictional_kb.ABSENT)
        assert found is not None, ex.question
        template, name = found
        assert name in titles
        templates.append(template)
    assert len(odds) == 6 and set(templates) == set(fictional_kb.ABSENT)


@pytest.mark.parametrize(("n_entities", "n"), [(2, 3), (5, 6), (8, 13), (3, 1)])
def test_unanswerable_questions_are_spread_so_any_prefix_keeps_their_share(n_entities, n):
    ds = generate(n_entities, 2, 0, "heldout", n_unanswerable=n)
    total = len(ds.eval)
    for size in (total // 2, total // 4, (3 * total) // 4, *range(1, total + 1)):
        held = sum(not ex.answers for ex in ds.eval[:size])
        share = n * size / total
        assert math.floor(share) <= held <= math.ceil(share), (size, held, share)


def test_unanswerable_questions_do_not_all_come_first_or_last():
    ds = generate(4, 2, 0, "heldout", n_unanswerable=4)
    kinds = ["u" if not ex.answers else "a" for ex in ds.eval]
    assert kinds[:2] == ["a", "a"] and kinds[-2:] == ["a", "a"]
    assert "".join(kinds).count("uu") == 0


def test_unanswerable_questions_depend_on_the_seed_only():
    a = generate(4, 2, 5, "heldout", n_unanswerable=6)
    assert a == generate(4, 2, 5, "heldout", n_unanswerable=6)
    b = generate(4, 2, 6, "heldout", n_unanswerable=6)
    assert [ex.question for ex in _unanswerable(a)] != [ex.question for ex in _unanswerable(b)]


def test_a_negative_number_of_unanswerable_questions_is_an_error():
    with pytest.raises(ValueError, match=r"^n_unanswerable=-1 must be >= 0$"):
        generate(4, 2, 0, "heldout", n_unanswerable=-1)


def test_no_document_states_a_fact_the_absent_questions_ask_about():
    ds = generate(40, 2, 0, "heldout")
    text = " ".join(d.text for d in ds.corpus).lower()
    for stem in ("died", "death", "teacher", "taught", "marr", "wife", "husband", "children",
                 "daughter", "university", "college", "studied", "brother"):  # fmt: skip
        assert not re.search(rf"\b{stem}", text), stem
