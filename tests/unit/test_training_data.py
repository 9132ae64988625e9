"""Supervised pairs and RAFT contexts (tokenisation and batches: test_training_batches.py)."""

from __future__ import annotations

import pytest

from ragft.config import ApproachConfig
from ragft.data.fictional_kb import generate
from ragft.prompting import INSTRUCTION, PromptBuilder, user_message
from ragft.training_data import TrainPair, build_pairs, cpt_pairs, qa_pairs, raft_contexts
from ragft.types import Chunk, Dataset, Document, Passage, QAExample


def test_qa_and_cpt_pairs():
    ds = generate(n_entities=2, n_train_phrasings=2, seed=0, eval_split="heldout")
    pairs = qa_pairs(ds.train, render=lambda m: f"<{m}>", complete=lambda m, a: a + "|")
    assert len(pairs) == len(ds.train)
    assert pairs[0].prompt.startswith("<") and ds.train[0].question in pairs[0].prompt
    assert pairs[0].completion == ds.train[0].answers[0] + "|"
    docs = cpt_pairs(ds.corpus, end="|")
    assert [p.prompt for p in docs] == ["", ""] and docs[0].completion.endswith("|")


def _passages(doc_ids: list[str]) -> list[Passage]:
    return [
        Passage(f"{d}#0", d, f"text of {d}", 1.0 / (r + 1), r + 1) for r, d in enumerate(doc_ids)
    ]


def test_raft_contexts_carry_gold_in_share_p_and_hard_distractors():
    n = 200
    examples = [
        QAExample(id=f"q{i}", question="?", answers=(f"ans{i}",), gold_doc_ids=(f"d{i % 10}",))
        for i in range(n)
    ]
    chunks = [Chunk(f"d{j}#0", f"d{j}", f"doc {j} says ans{j} and ans{j + 10}") for j in range(10)]
    hits = [_passages([f"d{(i + s) % 10}" for s in range(6)]) for i in range(n)]
    contexts, flags = raft_contexts(examples, hits, chunks, gold_share=0.7, n_distractors=3, seed=1)
    assert sum(flags) == 140  # exactly round(P * n)
    for ex, ctx, has in zip(examples, contexts, flags, strict=True):
        gold = [p for p in ctx if p.doc_id in ex.gold_doc_ids]
        assert len(gold) == (1 if has else 0)
        assert len(ctx) == 3 + has
    again, flags2 = raft_contexts(examples, hits, chunks, 0.7, 3, seed=1)
    assert flags2 == flags and again == contexts
    _, flags3 = raft_contexts(examples, hits, chunks, 0.7, 3, seed=2)
    assert flags3 != flags


# qa_pairs / cpt_pairs ---------------------------------------------------------------------


def _ex(i: str, question: str, answers: tuple[str, ...], gold: tuple[str, ...] = ()) -> QAExample:
    return QAExample(id=i, question=question, answers=answers, gold_doc_ids=gold)


def _p(chunk_id: str, text: str, rank: int) -> Passage:
    return Passage(chunk_id, chunk_id.split("#")[0], text, 1.0 / rank, rank)


def test_qa_pair_keeps_the_example_id_and_answers_the_first_gold_answer():
    examples = [_ex("q1", "Who founded Vellmar?", ("Ada Brun", "A. Brun"))]
    (pair,) = qa_pairs(examples, render=lambda m: f"P[{m}]", complete=lambda m, a: f"C[{m}|{a}]")
    message = f"{INSTRUCTION}\n\nQuestion: Who founded Vellmar?"
    assert pair == TrainPair(
        id="q1", prompt=f"P[{message}]", completion=f"C[{message}|Ada Brun]", has_gold=None
    )


def test_qa_pairs_put_each_examples_own_passages_into_its_prompt_and_target():
    examples = [_ex("q1", "Who founded Vellmar?", ("Ada Brun",)), _ex("q2", "Where?", ("Tal",))]
    contexts = [
        [_p("a#0", "Vellmar was founded by Ada Brun.", 1)],
        [_p("b#0", "Orsk is on Tal.", 1)],
    ]
    pairs = qa_pairs(examples, lambda m: m, lambda m, a: f"{m}=>{a}", contexts, [True, False])
    first = (
        "Use the context to answer the question with a short answer: a name, a place, a year or a "
        "few words.\n\nContext:\n[1] Vellmar was founded by Ada Brun.\n\n"
        "Question: Who founded Vellmar?"
    )
    assert pairs[0].prompt == first
    assert pairs[0].completion == f"{first}=>Ada Brun"
    assert pairs[1].prompt == user_message("Where?", contexts[1])
    assert "Orsk is on Tal." in pairs[1].prompt and "Vellmar" not in pairs[1].prompt
    assert [p.has_gold for p in pairs] == [True, False]
    assert [p.id for p in pairs] == ["q1", "q2"]


def test_cpt_pairs_are_whole_documents_without_prompt_under_namespaced_ids():
    corpus = [
        Document("vellmar", "  Vellmar was founded by Ada Brun.\n"),
        Document("orsk", "Orsk."),
    ]
    assert cpt_pairs(corpus, end="</s>") == [
        TrainPair(id="cpt/vellmar", prompt="", completion="Vellmar was founded by Ada Brun.</s>"),
        TrainPair(id="cpt/orsk", prompt="", completion="Orsk.</s>"),
    ]


# raft_contexts / the gold passage ---------------------------------------------------------


def test_examples_without_gold_docs_keep_the_top_retrieved_passages_in_order():
    hits = [_p(f"d{r}#0", f"t{r}", r) for r in range(1, 5)]
    examples = [_ex("nogold", "?", ("x",)), _ex("gold", "?", ("t4",), ("d4",))]
    chunks = [Chunk(f"d{r}#0", f"d{r}", f"t{r}") for r in range(1, 5)]
    contexts, flags = raft_contexts(examples, [hits, hits], chunks, 1.0, 1, seed=0)
    assert contexts[0] == hits[:2]  # n_distractors + 1, best first, not shuffled
    assert flags == [False, True]  # no gold document: never flagged, whatever the share
    # the example after it is still served: one distractor (best non-gold) plus the gold chunk
    assert sorted(p.chunk_id for p in contexts[1]) == ["d1#0", "d4#0"]


def test_raft_distractors_are_the_best_ranked_non_gold_passages():
    hits = [_p("gold#0", "the answer is 42", 1)] + [
        _p(f"o{r}#0", f"other {r}", r) for r in (2, 3, 4)
    ]
    chunks = [Chunk("gold#0", "gold", "the answer is 42")]
    examples = [_ex("q", "?", ("42",), ("gold",))]
    contexts, flags = raft_contexts(
        examples, [hits], chunks, gold_share=0.0, n_distractors=2, seed=0
    )
    assert flags == [False]
    assert sorted(p.chunk_id for p in contexts[0]) == ["o2#0", "o3#0"]


def test_raft_contexts_reject_hits_that_do_not_line_up_with_the_examples():
    examples = [_ex("q1", "?", ("a",), ("d",)), _ex("q2", "?", ("a",), ("d",))]
    chunks = [Chunk("d#0", "d", "a")]
    with pytest.raises(ValueError):
        raft_contexts(examples, [[_p("d#0", "a", 1)]], chunks, 1.0, 1, seed=0)


def _gold_of(ex: QAExample, found: list[Passage], chunks: list[Chunk]) -> Passage:
    """The gold passage raft_contexts puts in (share 1, no distractors)."""
    contexts, flags = raft_contexts([ex], [found], chunks, gold_share=1.0, n_distractors=0, seed=0)
    assert flags == [True]
    (gold,) = contexts[0]
    return gold


def test_gold_passage_is_the_gold_chunk_holding_the_answer_marked_as_not_retrieved():
    chunks = [
        Chunk("v#0", "v", "Vellmar lies in the north."),
        Chunk("v#1", "v", "It was founded by ADA BRUN, in 1204."),
        Chunk("o#0", "o", "Ada Brun also visited Orsk."),
    ]
    ex = _ex("q", "Who founded Vellmar?", ("Ada Brun",), ("v",))
    found = [
        _p("o#0", "Ada Brun also visited Orsk.", 1),
        _p("v#0", "Vellmar lies in the north.", 2),
    ]
    # the answer-bearing chunk v#1 was not retrieved: it is added from the index, unranked
    assert _gold_of(ex, found, chunks) == Passage("v#1", "v", chunks[1].text, score=0.0, rank=0)


def test_gold_passage_matches_any_gold_answer_and_skips_gold_docs_without_chunks():
    chunks = [Chunk("v#0", "v", "Vellmar lies in the north."), Chunk("v#1", "v", "Founded 1204.")]
    # "empty" is a gold document with no text, hence no chunks
    ex = _ex("q", "When?", ("the twelfth century", "1204"), ("empty", "v"))
    assert _gold_of(ex, [], chunks).chunk_id == "v#1"


def test_gold_passage_falls_back_to_the_best_ranked_retrieved_gold_chunk():
    chunks = [Chunk(f"v#{i}", "v", f"part {i}") for i in range(3)] + [Chunk("o#0", "o", "other")]
    ex = _ex("q", "?", ("absent",), ("v",))
    found = [_p("o#0", "other", 1), _p("v#2", "part 2", 2), _p("v#1", "part 1", 3)]
    assert _gold_of(ex, found, chunks) == found[1]


def test_gold_passage_falls_back_to_the_first_chunk_of_a_gold_doc_when_none_was_retrieved():
    chunks = [Chunk("o#0", "o", "other"), Chunk("v#0", "v", "part 0"), Chunk("v#1", "v", "part 1")]
    ex = _ex("q", "?", ("absent",), ("v",))
    found = [_p("o#0", "other", 1)]
    assert _gold_of(ex, found, chunks) == Passage("v#0", "v", "part 0", score=0.0, rank=0)


def test_an_example_whose_gold_docs_are_not_indexed_is_an_error_naming_it():
    ex = _ex("q7", "?", ("a",), ("missing",))
    with pytest.raises(ValueError, match=r"example q7: .*'missing'.* is indexed"):
        raft_contexts([ex], [[_p("o#0", "a", 1)]], [Chunk("o#0", "o", "a")], 1.0, 1, seed=0)


# build_pairs ------------------------------------------------------------------------------


class ChatMLTokenizer:
    """A stand-in for a tokenizer with a ChatML chat template."""

    chat_template = "chatml"
    eos_token = "<|endoftext|>"

    def apply_chat_template(self, turns, tokenize=False, add_generation_prompt=False):
        text = "".join(f"<|im_start|>{t['role']}\n{t['content']}<|im_end|>\n" for t in turns)
        return text + ("<|im_start|>assistant\n" if add_generation_prompt else "")


class FakeRetriever:
    """Returns every chunk for every query in a fixed order, and records its calls."""

    def __init__(self, chunks: list[Chunk], order: list[str]):
        self.chunks = chunks
        self.order = order
        self.calls: list[tuple[list[str], int]] = []

    def search(self, queries: list[str], k: int) -> list[list[Passage]]:
        self.calls.append((list(queries), k))
        by_id = {c.id: c for c in self.chunks}
        ranked = [by_id[i] for i in self.order][:k]
        return [
            [Passage(c.id, c.doc_id, c.text, 1.0 / r, r) for r, c in enumerate(ranked, 1)]
            for _ in queries
        ]


CORPUS = (
    Document("vellmar", "Vellmar was founded by Ada Brun.\n", "Vellmar"),
    Document("orsk", "Orsk lies on the river Tal.", "Orsk"),
    Document("kesh", "Kesh is known for its salt.", "Kesh"),
)
CHUNKS = [Chunk(f"{d.id}#0", d.id, d.text.strip()) for d in CORPUS]
TRAIN = (
    _ex("t1", "Who founded Vellmar?", ("Ada Brun",), ("vellmar",)),
    _ex("t2", "Which river is Orsk on?", ("Tal",), ("orsk",)),
)
DATASET = Dataset(corpus=CORPUS, train=TRAIN, eval=())
PROMPTS = PromptBuilder(ChatMLTokenizer())


def test_build_pairs_qa_for_finetune_trains_on_the_eval_prompt_without_passages():
    pairs = build_pairs(DATASET, PROMPTS, "qa", ApproachConfig("finetune"), None, 4, seed=0)
    assert pairs[0] == TrainPair(
        id="t1",
        prompt=(
            f"<|im_start|>user\n{INSTRUCTION}\n\nQuestion: Who founded Vellmar?<|im_end|>\n"
            "<|im_start|>assistant\n"
        ),
        completion="Ada Brun<|im_end|>",
        has_gold=None,
    )
    assert [p.id for p in pairs] == ["t1", "t2"]
    assert [p.prompt for p in pairs] == [PROMPTS.prompt(ex.question) for ex in TRAIN]
    assert [p.completion for p in pairs] == ["Ada Brun<|im_end|>", "Tal<|im_end|>"]


def test_build_pairs_hybrid_trains_without_retrieving_even_with_a_retriever():
    retriever = FakeRetriever(CHUNKS, ["kesh#0", "orsk#0", "vellmar#0"])
    pairs = build_pairs(DATASET, PROMPTS, "qa", ApproachConfig("hybrid"), retriever, 4, seed=0)
    assert retriever.calls == []
    assert [p.prompt for p in pairs] == [PROMPTS.prompt(ex.question) for ex in TRAIN]
    assert all(p.has_gold is None for p in pairs)


def test_build_pairs_cpt_trains_on_each_document_with_the_end_of_text_token():
    pairs = build_pairs(DATASET, PROMPTS, "cpt", ApproachConfig("finetune"), None, 4, seed=0)
    assert pairs == [
        TrainPair("cpt/vellmar", "", "Vellmar was founded by Ada Brun.<|endoftext|>"),
        TrainPair("cpt/orsk", "", "Orsk lies on the river Tal.<|endoftext|>"),
        TrainPair("cpt/kesh", "", "Kesh is known for its salt.<|endoftext|>"),
    ]


def test_build_pairs_qa_plus_cpt_gives_the_qa_pairs_then_the_document_pairs():
    pairs = build_pairs(DATASET, PROMPTS, "qa+cpt", ApproachConfig("finetune"), None, 4, seed=0)
    assert [p.id for p in pairs] == ["t1", "t2", "cpt/vellmar", "cpt/orsk", "cpt/kesh"]
    assert pairs[:2] == build_pairs(DATASET, PROMPTS, "qa", ApproachConfig("finetune"), None, 4, 0)
    assert pairs[2:] == build_pairs(DATASET, PROMPTS, "cpt", ApproachConfig("finetune"), None, 4, 0)


def test_build_pairs_raft_with_gold_share_one_puts_gold_and_a_hard_distractor_in_each_prompt():
    retriever = FakeRetriever(CHUNKS, ["kesh#0", "orsk#0", "vellmar#0"])
    approach = ApproachConfig("raft", raft_gold_share=1.0, raft_distractors=1)
    pairs = build_pairs(DATASET, PROMPTS, "qa", approach, retriever, 4, seed=3)
    assert retriever.calls == [(["Who founded Vellmar?", "Which river is Orsk on?"], 4)]
    assert [p.has_gold for p in pairs] == [True, True]
    assert [p.id for p in pairs] == ["t1", "t2"]
    texts = {c.doc_id: c.text for c in CHUNKS}
    # t1: gold vellmar + best non-gold kesh; t2: gold orsk + best non-gold kesh; never a third
    for pair, gold in zip(pairs, ["vellmar", "orsk"], strict=True):
        assert texts[gold] in pair.prompt and texts["kesh"] in pair.prompt
        third = ({"vellmar", "orsk"} - {gold}).pop()
        assert texts[third] not in pair.prompt
        assert pair.prompt.startswith("<|im_start|>user\nUse the context to answer")
    assert [p.completion for p in pairs] == ["Ada Brun<|im_end|>", "Tal<|im_end|>"]


def test_build_pairs_raft_with_gold_share_zero_prompts_with_distractors_only():
    retriever = FakeRetriever(CHUNKS, ["vellmar#0", "orsk#0", "kesh#0"])
    approach = ApproachConfig("raft", raft_gold_share=0.0, raft_distractors=1)
    pairs = build_pairs(DATASET, PROMPTS, "qa", approach, retriever, 4, seed=0)
    assert [p.has_gold for p in pairs] == [False, False]
    # t1's best non-gold is orsk, t2's is vellmar; each prompt carries exactly that passage
    orsk, vellmar = CHUNKS[1], CHUNKS[0]
    assert pairs[0].prompt == PROMPTS.prompt(
        "Who founded Vellmar?", [Passage(orsk.id, "orsk", orsk.text, 0.5, 2)]
    )
    assert pairs[1].prompt == PROMPTS.prompt(
        "Which river is Orsk on?", [Passage(vellmar.id, "vellmar", vellmar.text, 1.0, 1)]
    )


def test_build_pairs_raft_searches_enough_candidates_for_its_distractors():
    retriever = FakeRetriever(CHUNKS, ["kesh#0", "orsk#0", "vellmar#0"])
    approach = ApproachConfig("raft", raft_gold_share=0.0, raft_distractors=2)
    pairs = build_pairs(DATASET, PROMPTS, "qa", approach, retriever, 1, seed=0)
    assert [k for _, k in retriever.calls] == [3]  # max(candidates=1, distractors + 1)
    texts = [c.text for c in CHUNKS]
    assert texts[2] in pairs[0].prompt and texts[1] in pairs[0].prompt  # both distractors


def test_build_pairs_raft_draws_gold_prompts_from_the_run_seed():
    train = tuple(_ex(f"t{i}", f"Question {i}?", ("Ada Brun",), ("vellmar",)) for i in range(40))
    ds = Dataset(corpus=CORPUS, train=train, eval=())
    approach = ApproachConfig("raft", raft_gold_share=0.5, raft_distractors=1)
    retriever = FakeRetriever(CHUNKS, ["kesh#0", "orsk#0", "vellmar#0"])
    pairs = build_pairs(ds, PROMPTS, "qa", approach, retriever, 3, seed=11)
    again = build_pairs(ds, PROMPTS, "qa", approach, retriever, 3, seed=11)
    hits = retriever.search([ex.question for ex in train], 3)
    _, flags = raft_contexts(train, hits, CHUNKS, 0.5, 1, seed=11)
    assert [p.has_gold for p in pairs] == flags
    assert sum(flags) == 20 and again == pairs


def test_build_pairs_raft_without_a_retriever_is_an_error():
    with pytest.raises(ValueError, match="approach=raft trains on retrieved passages"):
        build_pairs(DATASET, PROMPTS, "qa", ApproachConfig("raft"), None, 4, seed=0)


# unanswerable questions (issue 14) ---------------------------------------------------------

from ragft.config import PromptConfig  # noqa: E402

UNANSWERABLE = _ex("u1", "Whom did Ada Brun marry?", ())
MIXED_TRAIN = (_ex("t1", "Who founded Vellmar?", ("Ada Brun",)), UNANSWERABLE)


def test_qa_pairs_teach_an_unanswerable_question_the_abstain_answer_when_given():
    pairs = qa_pairs(
        MIXED_TRAIN, lambda m: f"P[{m}]", lambda m, a: f"C[{a}]", abstain_answer="I don't know"
    )
    message = f"{INSTRUCTION}\n\nQuestion: Whom did Ada Brun marry?"
    assert [p.id for p in pairs] == ["t1", "u1"]
    assert pairs[0].completion == "C[Ada Brun]"
    assert pairs[1] == TrainPair(
        id="u1", prompt=f"P[{message}]", completion="C[I don't know]", has_gold=None
    )


def test_qa_pairs_leave_out_an_unanswerable_question_without_an_abstain_answer():
    pairs = qa_pairs(MIXED_TRAIN, lambda m: m, lambda m, a: a)
    assert [p.id for p in pairs] == ["t1"]
    assert qa_pairs(MIXED_TRAIN, lambda m: m, lambda m, a: a, abstain_answer=None) == pairs
    assert qa_pairs(MIXED_TRAIN, lambda m: m, lambda m, a: a, abstain_answer="") == pairs
    assert qa_pairs((UNANSWERABLE,), lambda m: m, lambda m, a: a) == []


def test_qa_pairs_keep_the_has_gold_flag_of_the_examples_they_keep():
    contexts = [[_p("a#0", "Vellmar was founded by Ada Brun.", 1)], [_p("b#0", "Orsk.", 1)]]
    kept = qa_pairs(
        MIXED_TRAIN, lambda m: m, lambda m, a: a, contexts, [True, False], abstain_answer="No"
    )
    assert [(p.id, p.has_gold, p.completion) for p in kept] == [
        ("t1", True, "Ada Brun"),
        ("u1", False, "No"),
    ]
    assert "[1] Orsk." in kept[1].prompt
    skipped = qa_pairs(MIXED_TRAIN, lambda m: m, lambda m, a: a, contexts, [True, False])
    assert [(p.id, p.has_gold) for p in skipped] == [("t1", True)]


def test_build_pairs_trains_abstention_only_with_an_abstaining_prompt():
    ds = Dataset(corpus=CORPUS, train=MIXED_TRAIN, eval=())
    abstaining = PromptBuilder(ChatMLTokenizer(), template=PromptConfig(abstain=True))
    pairs = build_pairs(ds, abstaining, "qa", ApproachConfig("finetune"), None, 4, seed=0)
    assert [p.id for p in pairs] == ["t1", "u1"]
    assert pairs[1].completion == "I don't know<|im_end|>"
    assert pairs[1].prompt == abstaining.prompt("Whom did Ada Brun marry?")
    assert "If you do not know the answer, answer exactly: I don't know." in pairs[1].prompt
    plain = build_pairs(ds, PROMPTS, "qa", ApproachConfig("finetune"), None, 4, seed=0)
    assert [p.id for p in plain] == ["t1"]
