"""Supervised pairs and RAFT contexts (tokenisation and batches: test_training_batches.py)."""

from __future__ import annotations

from ragft.data.fictional_kb import generate
from ragft.training_data import cpt_pairs, qa_pairs, raft_contexts
from ragft.types import Chunk, Passage, QAExample


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
