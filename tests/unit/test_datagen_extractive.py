"""The rule-based generator: the questions it writes, the spans it answers with, and the
fictional knowledge base's facts it covers."""

from __future__ import annotations

import pytest

from ragft.data import fictional_kb
from ragft.datagen import extractive, pipeline
from ragft.metrics import normalize_answer
from ragft.retrieval.chunking import chunk_documents
from ragft.types import Chunk, Document


def asked(text: str, subject: str = "Fevulkix Thearnix") -> list[tuple[str, str, str]]:
    chunk = Chunk(id="d#0", doc_id="d", text=text)
    return [(r.type, r.instruction, r.output) for r in extractive.questions(chunk, subject)]


def test_a_pronoun_becomes_the_subject_and_a_trailing_clause_is_dropped():
    assert asked("Its hometown was Demylkard, a market town.") == [
        ("wh_question", "Fevulkix Thearnix's hometown was what?", "Demylkard"),
        ("cloze", "Fill in the blank: Fevulkix Thearnix's hometown was _____, a market town.",
         "Demylkard"),
    ]  # fmt: skip


def test_wh_words_follow_the_span():
    assert asked("She was born in 1916 in the north.")[0][1:] == (
        "Fevulkix Thearnix was born when in the north?", "1916"
    )  # fmt: skip
    assert asked("The old bridge has 12 arches over the river.")[0][1:] == (
        "The old bridge has how many arches over the river?", "12"
    )  # fmt: skip
    assert asked("Her favourite place was the Thairvix bridge at dawn.")[0][1:] == (
        "Fevulkix Thearnix's favourite place was which bridge at dawn?", "Thairvix"
    )  # fmt: skip
    assert asked("Her lasting legacy is the Trysys Society, which she founded.")[0][1:] == (
        "Fevulkix Thearnix's lasting legacy is what?", "Trysys Society"
    )  # fmt: skip
    assert asked("The Vearvwyn telescope was invented in a workshop.")[0][1:] == (
        "Which telescope was invented in a workshop?", "Vearvwyn"
    )  # fmt: skip
    assert asked("In 1798, she was born to a family of modest means.")[0][1:] == (
        "When she was born to a family of modest means?", "1798"
    )  # fmt: skip


def test_the_subject_itself_is_never_an_answer_and_short_sentences_ask_nothing():
    assert asked("Fevulkix Thearnix was a bookbinder known to all.") == []
    assert asked("Born in 1916.") == []  # three words
    assert asked("the cat sat on the mat quietly.") == []  # no number, no name


def test_at_most_two_spans_per_sentence_numbers_first():
    out = asked("In 1901 Zara Vell and Oku Dant built 3 bridges in Lamar.")
    answers = [a for t, _, a in out if t == "wh_question"]
    assert answers == ["1901", "3"]


def test_numbers_inside_words_are_not_numbers():
    assert asked("The doc-000 file mentions the x86 target twice.", subject="") == []


def test_the_subject_is_the_first_heading_else_the_title():
    assert extractive.document_subject("# Lake Baikal\n\nIt is deep.", "doc-1") == "Lake Baikal"
    assert extractive.document_subject("Lake Baikal is deep.\n# Later", "doc-1") == "doc-1"


def test_headings_do_not_run_into_the_first_sentence():
    doc = Document(id="a.md", title="a", text="# Zara Vell\n\nZara Vell founded Lamar in 1901.")
    records = pipeline.extractive_records(chunk_documents([doc], 200, 0), [doc])
    assert {r.output for r in records} == {"Lamar", "1901"}
    assert all("Zara Vell Zara Vell" not in r.instruction for r in records)


def test_every_answer_is_a_span_of_its_chunk_and_facts_pair_a_wh_with_a_cloze():
    ds = fictional_kb.generate(6, 2, 0, "heldout")
    chunks = chunk_documents(ds.corpus, 200, 0)
    text = {c.id: c.text for c in chunks}
    records = pipeline.extractive_records(chunks, ds.corpus)
    assert records
    for r in records:
        assert r.extractive and r.output in text[r.chunk_id]
        assert r.fact == f"{r.doc_id}:{normalize_answer(r.output)}"
    by_fact: dict[str, set[str]] = {}
    for r in records:
        by_fact.setdefault(r.fact, set()).add(r.type)
    assert all(types == {"wh_question", "cloze"} for types in by_fact.values())


def test_it_covers_the_knowledge_bases_facts():
    ds = fictional_kb.generate(8, 2, 0, "heldout")
    records = pipeline.extractive_records(chunk_documents(ds.corpus, 200, 0), ds.corpus)
    found = {(r.doc_id, normalize_answer(r.output)) for r in records}
    facts = {(ex.gold_doc_ids[0], normalize_answer(ex.answers[0])) for ex in ds.eval}
    exact = facts & found
    # hometown, birth year and founded are asked with the KB's own answer; the invention
    # ("Vearvwyn telescope") is asked as "which telescope", answered "Vearvwyn"
    assert len(exact) == 3 * len(facts) // 4
    for doc, answer in facts - exact:
        assert (doc, answer.split()[0]) in found


def test_template_paraphrases_are_distinct_and_keep_the_question():
    out = extractive.paraphrases("What is the capital?", 3)
    assert len(set(out)) == 3 and all("what is the capital?" in p for p in out)
    assert extractive.paraphrases("What?", 0) == []


def test_in_before_a_number_that_is_no_year_stays():
    assert asked("The hotel has rooms in 12 towers across the city.")[0][1:] == (
        "The hotel has rooms in how many towers across the city?", "12"
    )  # fmt: skip


def test_a_name_after_by_is_asked_by_whom():
    out = [(q, a) for t, q, a in asked("The bridge was designed by Zara Vell in 1901.")
           if t == "wh_question"]  # fmt: skip
    assert out == [
        ("The bridge was designed by Zara Vell when?", "1901"),
        ("The bridge was designed by whom in 1901?", "Zara Vell"),
    ]


def test_a_question_keeps_the_letters_around_the_span():
    assert asked("In 1798, Xeno Vell was born to a family of modest means.")[0][1] == (
        "When Xeno Vell was born to a family of modest means?"
    )
    assert asked("She drove 12 miles to reach XXX.")[0][1] == (
        "Fevulkix Thearnix drove how many miles to reach XXX?"
    )


def test_a_span_that_is_the_whole_sentence():
    assert extractive.wh_question("Alpha Beta Gamma Delta;", 0, 22, "name") == "What?"


def test_paraphrases_keep_a_leading_acronym():
    assert extractive.paraphrases("IPv4 has how many bits?", 1) == [
        "According to the documents, IPv4 has how many bits?"
    ]
    assert extractive.paraphrases("How many bits?", 1) == [
        "According to the documents, how many bits?"
    ]


def test_the_chunkers_title_line_is_not_part_of_a_sentence():
    chunk = Chunk(id="d#0", doc_id="d", text="Lake Baikal\nIt is 642 metres deep in Siberia.")
    out = [r.instruction for r in extractive.questions(chunk, "Lake Baikal", "Lake Baikal")]
    assert out[0] == "Lake Baikal is how many metres deep in Siberia?"


def test_sentence_length_bounds_and_a_short_sentence_does_not_stop_the_rest():
    assert asked("She founded Lamar quickly.")[0][1] == "Fevulkix Thearnix founded what quickly?"
    forty = "She founded Lamar " + " ".join(["very"] * 36) + " quickly."
    assert len(forty.split()) == 40 and asked(forty)
    assert asked("She founded Lamar " + " ".join(["very"] * 37) + " quickly.") == []
    out = asked("Born in 1916. Her hometown was Demylkard, a market town.")
    assert [a for _, _, a in out] == ["Demylkard", "Demylkard"]
    assert all(r.input == "" for r in extractive.questions(Chunk("d#0", "d", forty), "X"))


def test_paragraphs_and_wrapped_lines():
    assert [
        q
        for t, q, _ in asked("The team built 3 towers\n\nThe town kept 5 bridges.")
        if t == "wh_question"
    ] == [  # fmt: skip
        "The team built how many towers?",
        "The town kept how many bridges?",
    ]
    assert asked("The team built 3\ntowers by the river.")[0][1] == (
        "The team built how many towers by the river?"
    )
    text = "  # Zara Vell\nThe team built 3 towers by the river."
    assert asked(text, subject="")[0][1] == "The team built how many towers by the river?"


def test_without_a_subject_a_pronoun_stays():
    assert asked("It is 642 metres deep in Siberia.", subject="")[0][1] == (
        "It is how many metres deep in Siberia?"
    )


@pytest.mark.parametrize(
    ("sentence", "question"),
    [
        ("It is 1,642 metres deep today.", "Fevulkix Thearnix is how many metres deep today?"),
        ("It has 12.5 metres of rope.", "Fevulkix Thearnix has how many metres of rope?"),
        ("It was 2.5 metres long then.", "Fevulkix Thearnix was how many metres long then?"),
        ("She was born in 1000 in the north.", "Fevulkix Thearnix was born when in the north?"),
        (
            "She was born in 999 in the north.",
            "Fevulkix Thearnix was born in how many in the north?",
        ),
        ("She was born in 2999 in the north.", "Fevulkix Thearnix was born when in the north?"),
        ("She has 12345 stamps in total.", "Fevulkix Thearnix has how many stamps in total?"),
        (
            "She was born in 3000 in the north.",
            "Fevulkix Thearnix was born in how many in the north?",
        ),
    ],
)
def test_years_and_other_numbers(sentence, question):
    assert asked(sentence)[0][1] == question


def test_a_lone_capitalised_first_word_is_a_sentence_start_not_a_name():
    answers = [a for t, _, a in asked("Demylkard has 12 towers near Lamar.") if t == "cloze"]
    assert answers == ["12", "Lamar"]
    assert [a for t, _, a in asked("Zara Vell built 12 towers.") if t == "cloze"] == [
        "12",
        "Zara Vell",
    ]


def test_a_leading_article_is_dropped_from_a_longer_name():
    out = asked("The Skegronek Guild met every month.")
    assert out[0][1:] == ("Which met every month?", "Skegronek Guild")
