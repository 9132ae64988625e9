"""The data stage: generated knowledge base, JSONL loaders, corpora, dispatch."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from ragft import data
from ragft.config import DataConfig
from ragft.data.corpus import load_corpus
from ragft.data.fictional_kb import ATTRIBUTES, generate
from ragft.data.jsonl import read_jsonl
from ragft.data.qa import load_alpaca_jsonl, load_qa_jsonl
from ragft.errors import DataError

from ..helpers import write_jsonl


def qa_rows(n: int = 5, **extra) -> list[dict]:
    return [
        {"id": f"q{i}", "question": f"Question {i}?", "answers": [f"answer {i}"], **extra}
        for i in range(n)
    ]


def at(path: Path, line: int | None = None) -> str:
    """A regex for the start of an error message naming `path` (and `line`)."""
    return re.escape(f"{path}:{line}:" if line is not None else f"{path}:")


# ---------------------------------------------------------------- fictional knowledge base


def test_generate_is_deterministic_by_seed():
    assert generate(6, 3, seed=7, eval_split="heldout") == generate(6, 3, 7, "heldout")
    a = {d.title for d in generate(6, 3, 1, "heldout").corpus}
    b = {d.title for d in generate(6, 3, 2, "heldout").corpus}
    assert a.isdisjoint(b)


@pytest.mark.parametrize("n_entities,n_train", [(2, 1), (5, 3), (12, 6)])
def test_generate_sizes_and_ids(n_entities, n_train):
    ds = generate(n_entities, n_train, 0, "heldout")
    assert len(ds.corpus) == n_entities
    assert len(ds.eval) == n_entities * 4
    assert len(ds.train) == n_entities * 4 * n_train
    assert [d.id for d in ds.corpus] == [f"doc-{i:03d}" for i in range(n_entities)]
    assert len({d.title for d in ds.corpus}) == n_entities
    ids = [ex.id for ex in ds.train + ds.eval]
    assert len(set(ids)) == len(ids)
    assert {ex.fact_id for ex in ds.eval} == {
        f"e{e:03d}.{a}" for e in range(n_entities) for a in ATTRIBUTES
    }
    assert {ex.phrasing for ex in ds.train} == {"train"}
    assert {ex.phrasing for ex in ds.eval} == {"heldout"}
    for ex in ds.train + ds.eval:
        assert ex.gold_doc_ids == (f"doc-{ex.fact_id[1:4]}",)


def test_heldout_questions_never_trained_on():
    for seed in range(5):
        ds = generate(10, 6, seed, "heldout")
        train_qs = {ex.question for ex in ds.train}
        assert not any(ex.question in train_qs for ex in ds.eval)
        # every fact has 7 distinct wordings in all
        for ex in ds.eval:
            wordings = {t.question for t in ds.train if t.fact_id == ex.fact_id}
            assert len(wordings | {ex.question}) == 7


def test_seen_questions_are_the_first_training_phrasing():
    ds = generate(6, 2, 3, "seen")
    train = {ex.id: ex for ex in ds.train}
    assert {ex.phrasing for ex in ds.eval} == {"seen"}
    for ex in ds.eval:
        assert ex.question == train[f"{ex.fact_id}/train0"].question
        assert ex.answers == train[f"{ex.fact_id}/train0"].answers


def test_each_answer_is_in_its_gold_document_only():
    for seed in range(10):
        ds = generate(20, 1, seed, "heldout")
        texts = {d.id: d.text.lower() for d in ds.corpus}
        for ex in ds.eval:
            (gold,) = ex.gold_doc_ids
            for answer in ex.answers:
                a = answer.lower()
                assert texts[gold].count(a) == 1, (answer, texts[gold])
                assert not any(a in t for i, t in texts.items() if i != gold), answer


def test_documents_name_their_entity_and_read_like_prose():
    ds = generate(20, 1, 4, "heldout")
    for doc in ds.corpus:
        assert doc.text.startswith(doc.title) or doc.text.split(",")[0].endswith(doc.title)
        assert 50 <= len(doc.text.split()) <= 120
    for ex in ds.eval:
        name = ds.corpus[int(ex.fact_id[1:4])].title
        assert name in ex.question
    invention = next(ex for ex in ds.eval if ex.fact_id.endswith(".invention"))
    assert invention.answers[1] == "the " + invention.answers[0]


def test_eval_prefix_covers_entities_and_attributes():
    ds = generate(8, 1, 0, "heldout")
    prefix = ds.eval[:8]
    assert len({ex.fact_id[:4] for ex in prefix}) == 8
    assert {ex.fact_id.split(".")[1] for ex in prefix} == set(ATTRIBUTES)


@pytest.mark.parametrize("n_train", [0, 7, -1])
def test_n_train_phrasings_out_of_range(n_train):
    with pytest.raises(ValueError, match="n_train_phrasings"):
        generate(4, n_train, 0, "heldout")


def test_unknown_eval_split():
    with pytest.raises(ValueError, match="eval_split"):
        generate(4, 2, 0, "test")


# ---------------------------------------------------------------- read_jsonl


def test_read_jsonl_bom_crlf_blank_lines(tmp_path):
    p = tmp_path / "rows.jsonl"
    p.write_bytes(b'\xef\xbb\xbf{"a": 1}\r\n\r\n  \n{"a": "x\\u2028y"}\n{"a": 3}')
    assert read_jsonl(p) == [(1, {"a": 1}), (4, {"a": "x\u2028y"}), (5, {"a": 3})]


@pytest.mark.parametrize(
    "content,line,message",
    [
        (None, None, "no such file"),
        (b"", None, "the file is empty"),
        (b"\n  \n", None, "the file is empty"),
        (b'{"a": 1}\n{"a": "caf\xe9"}\n', 2, "not UTF-8"),
        (b'{"a": 1}\n{"a": 2}\n{"a": 3,,}\n', 3, r"not valid JSON \("),
        (b'{"a": 1}\n[1, 2]\n', 2, "expected a JSON object, got a list"),
    ],
)
def test_read_jsonl_rejects(tmp_path, content, line, message):
    p = tmp_path / "bad.jsonl"
    if content is not None:
        p.write_bytes(content)
    with pytest.raises(DataError, match=at(p, line) + ".*" + message):
        read_jsonl(p)


def test_read_jsonl_rejects_folder(tmp_path):
    with pytest.raises(DataError, match=at(tmp_path) + " is a folder"):
        read_jsonl(tmp_path)


# ---------------------------------------------------------------- QA JSONL


def test_qa_jsonl_seeded_split(tmp_path):
    p = write_jsonl(tmp_path / "qa.jsonl", qa_rows(10))
    ds = load_qa_jsonl(p, None, eval_fraction=0.2, seed=1)
    assert len(ds.eval) == 2 and len(ds.train) == 8 and ds.corpus == ()
    assert ds == load_qa_jsonl(p, None, 0.2, 1)
    assert {ex.id for ex in ds.train + ds.eval} == {f"q{i}" for i in range(10)}
    ex = ds.train[0]
    assert ex.answers == (f"answer {ex.id[1:]}",) and ex.phrasing == "" and ex.fact_id == ""
    assert len(load_qa_jsonl(p, None, 0.01, 1).eval) == 1  # at least one
    assert len(load_qa_jsonl(p, None, 1.0, 1).eval) == 10


def test_qa_jsonl_split_field_bom_crlf_default_ids(tmp_path):
    rows = [
        {"question": "A?", "answers": ["a"], "split": "train"},
        {"id": 7, "question": "B?", "answers": ["b", "bee"], "split": "eval",
         "gold_doc_ids": ["d1"]},
    ]  # fmt: skip
    p = write_jsonl(tmp_path / "qa.jsonl", rows, newline="\r\n", bom=True)
    ds = load_qa_jsonl(p, None, 0.5, 0)
    assert [ex.id for ex in ds.train] == ["line1"]
    (ev,) = ds.eval
    assert (ev.id, ev.answers, ev.gold_doc_ids) == ("7", ("b", "bee"), ("d1",))


@pytest.mark.parametrize(
    "bad_row,message",
    [
        ({"id": "x", "question": "Q?", "answers": "a"},
         "field 'answers' must be a list of strings"),
        ({"id": "x", "answers": ["a"]}, "field 'question' is missing"),
        ({"id": "x", "question": "  ", "answers": ["a"]}, "field 'question' is empty"),
        ({"id": "x", "question": "Q?", "answers": [""]}, "field 'answers' item 0 is empty"),
        ({"id": "x", "question": "Q?", "answers": ["a", ""]}, "field 'answers' item 1 is empty"),
        ({"id": "x", "question": "Q?", "answer": "a"}, "field 'answers' is missing.*'answer'"),
        ({"id": 1.5, "question": "Q?", "answers": ["a"]}, "field 'id' is a number"),
        ({"id": "x", "question": "Q?", "answers": ["a"], "gold_doc_ids": "d"},
         "field 'gold_doc_ids' must be a list"),
        ({"id": "x", "question": "Q?", "answers": ["a"], "split": "test"},
         "field 'split' is 'test' \\(expected 'train' or 'eval'\\)"),
    ],
)  # fmt: skip
def test_qa_jsonl_rejects_bad_rows(tmp_path, bad_row, message):
    p = write_jsonl(tmp_path / "qa.jsonl", [*qa_rows(2), bad_row])
    with pytest.raises(DataError, match=at(p, 3) + " " + message):
        load_qa_jsonl(p, None, 0.2, 0)


def test_qa_jsonl_rejects_duplicate_ids(tmp_path):
    rows = qa_rows(3)
    rows.append({**rows[1], "question": "Again?"})
    p = write_jsonl(tmp_path / "qa.jsonl", rows)
    with pytest.raises(DataError, match=at(p, 4) + " duplicate id 'q1' \\(also on line 2\\)"):
        load_qa_jsonl(p, None, 0.2, 0)


def test_qa_jsonl_split_on_some_rows_only(tmp_path):
    rows = qa_rows(3)
    rows[0]["split"] = "eval"
    p = write_jsonl(tmp_path / "qa.jsonl", rows)
    with pytest.raises(DataError, match=at(p, 2) + " field 'split' is missing"):
        load_qa_jsonl(p, None, 0.2, 0)


def test_qa_jsonl_split_without_eval_rows(tmp_path):
    p = write_jsonl(tmp_path / "qa.jsonl", qa_rows(3, split="train"))
    with pytest.raises(DataError, match=at(p) + ' no row has "split": "eval"'):
        load_qa_jsonl(p, None, 0.2, 0)


@pytest.mark.parametrize(
    "content,line,message",
    [
        (None, None, "no such file"),
        (b"", None, "empty"),
        (b'{"question": "Q\xff?", "answers": ["a"]}\n', 1, "not UTF-8"),
        (b'{"question": "Q?", "answers": ["a"]}\n\n{"question": "R?"\n', 3, "not valid JSON"),
    ],
)
def test_qa_jsonl_rejects_bad_files(tmp_path, content, line, message):
    p = tmp_path / "qa.jsonl"
    if content is not None:
        p.write_bytes(content)
    with pytest.raises(DataError, match=at(p, line) + ".*" + message):
        load_qa_jsonl(p, None, 0.2, 0)


def test_qa_jsonl_with_corpus_warns_about_unknown_gold_ids(tmp_path, caplog):
    corpus = write_jsonl(tmp_path / "corpus.jsonl", [{"id": "d1", "text": "Paris is big."}])
    rows = [
        {"question": "Q?", "answers": ["a"], "gold_doc_ids": ["d1"]},
        {"question": "R?", "answers": ["b"], "gold_doc_ids": ["d2", "d3"]},
    ]
    p = write_jsonl(tmp_path / "qa.jsonl", rows)
    with caplog.at_level(logging.WARNING, logger="ragft.data.qa"):
        ds = load_qa_jsonl(p, corpus, 0.5, 0)
    assert [d.id for d in ds.corpus] == ["d1"]
    assert "2 gold_doc_ids are not in the corpus: 'd2', 'd3'" in caplog.text


# ---------------------------------------------------------------- Alpaca JSONL


def test_alpaca_jsonl_builds_questions(tmp_path):
    rows = [
        {"instruction": "Translate to French.", "input": "cheese", "output": "fromage",
         "split": "eval"},
        {"instruction": "Name a colour.", "input": "", "output": "blue", "split": "train"},
        {"id": "c", "instruction": "Say hi.", "output": "hi", "split": "train"},
    ]  # fmt: skip
    ds = load_alpaca_jsonl(write_jsonl(tmp_path / "a.jsonl", rows), None, 0.2, 0)
    (ev,) = ds.eval
    assert ev.question == "Translate to French.\n\ncheese" and ev.answers == ("fromage",)
    assert [(ex.id, ex.question) for ex in ds.train] == [
        ("line2", "Name a colour."),
        ("c", "Say hi."),
    ]


@pytest.mark.parametrize(
    "bad_row,message",
    [
        ({"input": "x", "output": "y"}, "field 'instruction' is missing"),
        ({"instruction": "Do.", "output": ""}, "field 'output' is empty"),
        ({"instruction": "Do."}, "field 'output' is missing"),
        ({"instruction": "Do.", "input": 3, "output": "y"}, "field 'input' is not a string"),
    ],
)
def test_alpaca_jsonl_rejects_bad_rows(tmp_path, bad_row, message):
    p = write_jsonl(tmp_path / "a.jsonl", [{"instruction": "I.", "output": "O."}, bad_row])
    with pytest.raises(DataError, match=at(p, 2) + " " + message):
        load_alpaca_jsonl(p, None, 0.5, 0)


# ---------------------------------------------------------------- corpus


def test_corpus_from_folder(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.txt").write_text("Alpha text.", encoding="utf-8")
    (tmp_path / "sub" / "b.md").write_bytes(b"\xef\xbb\xbf# Beta\n\nBeta text.\r\n")
    (tmp_path / "blank.txt").write_text("  \n", encoding="utf-8")
    (tmp_path / "table.csv").write_text("x,y\n1,2\n", encoding="utf-8")
    (tmp_path / ".hidden.txt").write_text("secret", encoding="utf-8")
    docs = load_corpus(tmp_path)
    assert [(d.id, d.title) for d in docs] == [("a.txt", "a"), ("sub/b.md", "b")]
    assert docs[0].text == "Alpha text."
    assert docs[1].text.startswith("# Beta")  # BOM dropped


def test_corpus_folder_below_a_dotted_folder(tmp_path):
    # llama-index counts every dotted part of the absolute path as "hidden".
    folder = tmp_path / ".cache" / "docs"
    folder.mkdir(parents=True)
    (folder / "a.txt").write_text("Alpha.", encoding="utf-8")
    assert [d.id for d in load_corpus(folder)] == ["a.txt"]


def test_corpus_folder_errors(tmp_path):
    with pytest.raises(DataError, match=at(tmp_path) + " no readable .txt or .md files"):
        load_corpus(tmp_path)
    (tmp_path / "only.csv").write_text("x\n", encoding="utf-8")
    with pytest.raises(DataError, match=at(tmp_path) + " no readable .txt or .md files"):
        load_corpus(tmp_path)
    (tmp_path / "blank.md").write_text("\n\n", encoding="utf-8")
    with pytest.raises(DataError, match=at(tmp_path) + " the corpus is empty"):
        load_corpus(tmp_path)
    (tmp_path / "latin1.txt").write_bytes(b"caf\xe9")
    with pytest.raises(DataError, match=re.escape(str(tmp_path / "latin1.txt")) + ": not UTF-8"):
        load_corpus(tmp_path)


def test_corpus_from_jsonl(tmp_path):
    rows = [{"id": "d1", "text": "One.", "title": "First"}, {"id": 2, "text": "Two."}]
    docs = load_corpus(write_jsonl(tmp_path / "c.jsonl", rows))
    assert [(d.id, d.text, d.title) for d in docs] == [("d1", "One.", "First"), ("2", "Two.", "")]


@pytest.mark.parametrize(
    "rows,line,message",
    [
        ([{"id": "a", "text": "x"}, {"id": "a", "text": "y"}], 2, "duplicate id 'a'"),
        ([{"id": "a", "text": "x"}, {"id": "b", "text": " "}], 2, "field 'text' is empty"),
        ([{"id": "a", "text": "x"}, {"text": "y"}], 2, "field 'id' is missing"),
    ],
)
def test_corpus_jsonl_rejects(tmp_path, rows, line, message):
    p = write_jsonl(tmp_path / "c.jsonl", rows)
    with pytest.raises(DataError, match=at(p, line) + " " + message):
        load_corpus(p)


def test_corpus_path_errors(tmp_path):
    with pytest.raises(DataError, match=at(tmp_path / "nope") + " no such file or folder"):
        load_corpus(tmp_path / "nope")
    csv = tmp_path / "c.csv"
    csv.write_text("id,text\n", encoding="utf-8")
    with pytest.raises(DataError, match=at(csv) + " expected a folder of .txt/.md files or"):
        load_corpus(csv)


def test_corpus_large_document(tmp_path):
    big = ("word " * 2_000_000).strip()  # 10 MB
    (tmp_path / "big.txt").write_text(big, encoding="utf-8")
    (doc,) = load_corpus(tmp_path)
    assert len(doc.text) == len(big)
    (jdoc,) = load_corpus(write_jsonl(tmp_path / "big.jsonl", [{"id": "b", "text": big}]))
    assert jdoc.text == big


# ---------------------------------------------------------------- load() dispatch


def test_loaders_dispatch_dict():
    assert set(data.LOADERS) == {"fictional-kb", "qa-jsonl", "alpaca-jsonl", "generated"}


def test_load_fictional_kb_with_max_eval():
    full = data.load(DataConfig(n_entities=4, n_train_phrasings=2, seed=3))
    capped = data.load(DataConfig(n_entities=4, n_train_phrasings=2, seed=3, max_eval=5))
    assert capped.eval == full.eval[:5] and capped.train == full.train
    assert len(full.train) == 4 * 4 * 2
    seen = data.load(DataConfig(n_entities=4, n_train_phrasings=2, eval_split="seen"))
    assert {ex.phrasing for ex in seen.eval} == {"seen"}


def test_load_qa_and_alpaca_jsonl(tmp_path):
    corpus = tmp_path / "docs"
    corpus.mkdir()
    (corpus / "d.txt").write_text("Doc.", encoding="utf-8")
    qa_path = write_jsonl(tmp_path / "qa.jsonl", qa_rows(10))
    cfg = DataConfig(name="qa-jsonl", path=str(qa_path), corpus_path=str(corpus), max_eval=1)
    ds = data.load(cfg)
    assert len(ds.eval) == 1 and len(ds.train) == 8 and [d.id for d in ds.corpus] == ["d.txt"]
    a_path = write_jsonl(tmp_path / "a.jsonl", [{"instruction": "I.", "output": "O."}] * 3)
    ds = data.load(DataConfig(name="alpaca-jsonl", path=str(a_path), eval_fraction=1.0))
    assert len(ds.eval) == 3 and ds.train == () and ds.corpus == ()


def test_qa_jsonl_empty_answers_is_an_unanswerable_question(tmp_path):
    rows = [*qa_rows(2), {"id": "u", "question": "Who?", "answers": []}]
    p = write_jsonl(tmp_path / "qa.jsonl", rows)
    ds = data.qa.load_qa_jsonl(p, None, 0.5, 0)
    (u,) = [ex for ex in (*ds.train, *ds.eval) if ex.id == "u"]
    assert u.answers == ()
