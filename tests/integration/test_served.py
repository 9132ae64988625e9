"""`generation.backend=openai`: a rag cell answered by a real `transformers serve` on
127.0.0.1 serving the tiny model's folder. The prompts sent are the local path's prompts, the
answers and scores are the local cell's, and a re-run with the server gone sends nothing (the
request journal answers)."""

from __future__ import annotations

import json

import pytest

from ragft.cache import entries as cache_entries
from ragft.cache import remove

from ..helpers import N_EVAL, run_py, tiny_model_folder, transformers_serve

pytestmark = [pytest.mark.integration, pytest.mark.slow]

COMPLETIONS = '"POST /v1/completions HTTP/1.1" 200'


def test_a_served_rag_cell_matches_the_local_one_and_resends_nothing(tmp_path):
    cache = tmp_path / "cache"
    folder = tiny_model_folder(cache)
    # the server answers with the weights as saved (float32): the local cell in float32 too
    common = (
        "approach=rag",
        "retriever=bm25",
        "model.inference_dtype=float32",
        f"cache.dir={cache}",
    )
    local = run_py(tmp_path / "local", *common)
    assert local.returncode == 0, local.stderr[-3000:]

    log = tmp_path / "serve.log"
    served_args = (
        *common, "generation.backend=openai", f"generation.endpoint.model={folder}",
        "generation.endpoint.max_retries=0", "generation.endpoint.concurrency=2",
    )  # fmt: skip
    with transformers_serve(folder, log) as base_url:
        url = f"generation.endpoint.base_url={base_url}"
        served = run_py(tmp_path / "served", *served_args, url)
    assert served.returncode == 0, served.stderr[-3000:] + log.read_text()[-2000:]
    assert log.read_text().count(COMPLETIONS) == N_EVAL  # one request per question

    mine, theirs = local.predictions, served.predictions
    assert [p["prompt"] for p in theirs] == [p["prompt"] for p in mine]  # the same prompts
    assert [p["passages"] for p in theirs] == [p["passages"] for p in mine]
    same = sum(a["prediction"] == b["prediction"] for a, b in zip(mine, theirs, strict=True))
    # greedy on the same weights; one batch of padded rows here against one row at a time
    # there may flip a near-tie of the random model's logits, never most answers
    pairs = [(a["prediction"], b["prediction"]) for a, b in zip(mine, theirs, strict=True)]
    assert same >= N_EVAL - 1, pairs
    if same == N_EVAL:
        assert served.results["scores"] == pytest.approx(local.results["scores"], abs=1e-6)
    cost, local_cost = served.results["cost"], local.results["cost"]
    # the server counted the same prompt tokens: the same text, tokenised the same way
    assert cost["prompt_tokens_per_question"] == local_cost["prompt_tokens_per_question"]
    assert cost["generated_tokens"] > 0 and cost["generate_batch_size"] == 2
    assert served.results["model"]["fingerprint"]["served"]["base_url"] == base_url

    # the server is gone and the finished cells are forgotten: the journal answers
    for entry in cache_entries(cache, "cell"):
        remove(entry.path)
    again = run_py(tmp_path / "again", *served_args, url)
    assert again.returncode == 0, again.stderr[-3000:]
    assert [p["prediction"] for p in again.predictions] == [p["prediction"] for p in theirs]
    assert (
        json.loads((tmp_path / "again" / "results.json").read_text())["scores"]
        == (served.results["scores"])
    )
