"""The typed records and results.json: the exact flat key names, a round trip through JSON,
failed cells, and reading partial (older or failed) files.

The JSON shapes are written out by hand: they are what every finished cell on disk and the
report already rely on."""

from __future__ import annotations

import json

from ragft.records import (
    CellResult,
    Cost,
    GenerationStats,
    IndexStats,
    ModelInfo,
    TrainStats,
)

TRAIN = TrainStats(
    train_seconds=12.5,
    train_tokens=4000,
    train_tokens_per_s=320.0,
    train_world_size=1,
    train_strategy="auto",
    train_precision="32-true",
    train_steps=10,
    train_examples=40,
    trainable_parameters=1000,
    total_parameters=100000,
    first_loss=5.0,
    final_loss=1.5,
    resumed=False,
    train_cache_hit=False,
    adapter_mb=0.25,
    train_seconds_saved=None,
)
COST = Cost(
    data_seconds=0.1,
    index=IndexStats(build_seconds=1.5, index_bytes=2048, n_chunks=7, cache_hit=0.0),
    model_load_seconds=2.0,
    train=TRAIN,
    retrieve_seconds=0.3,
    generation=GenerationStats(
        generate_seconds=4.0,
        generated_tokens=64,
        generate_tokens_per_s=16.0,
        seconds_per_question=0.5,
        generate_batch_size=8,
        prompt_tokens_per_question=40.5,
    ),
    peak_memory_mb=512.0,
    total_seconds=21.0,
    cell_cache_hit=False,
    replay_seconds=None,
)
COST_JSON = {
    "data_seconds": 0.1,
    "index_build_seconds": 1.5,
    "index_index_bytes": 2048,
    "index_n_chunks": 7,
    "index_cache_hit": 0.0,
    "model_load_seconds": 2.0,
    "train_seconds": 12.5,
    "train_tokens": 4000,
    "train_tokens_per_s": 320.0,
    "train_world_size": 1,
    "train_strategy": "auto",
    "train_precision": "32-true",
    "train_steps": 10,
    "train_examples": 40,
    "trainable_parameters": 1000,
    "total_parameters": 100000,
    "first_loss": 5.0,
    "final_loss": 1.5,
    "resumed": False,
    "train_cache_hit": False,
    "adapter_mb": 0.25,
    "retrieve_seconds": 0.3,
    "generate_seconds": 4.0,
    "generated_tokens": 64,
    "generate_tokens_per_s": 16.0,
    "seconds_per_question": 0.5,
    "generate_batch_size": 8,
    "prompt_tokens_per_question": 40.5,
    "peak_memory_mb": 512.0,
    "total_seconds": 21.0,
    "cell_cache_hit": False,
}
MODEL = ModelInfo(
    fingerprint={"source": "tiny-random", "seed": 0},
    model_cache_hit=True,
    device="cpu",
    parameters=100000,
    gguf_file=None,
)
CELL = CellResult(
    status="ok",
    name="0_approach=finetune",
    approach="finetune",
    config={"approach": {"name": "finetune"}, "seed": 0},
    group="multirun_x",
    scores={"exact_match": 0.25, "f1": 0.5},
    scores_by_phrasing={"heldout": {"exact_match": 0.25}},
    primary_metric="contains",
    n_eval=8,
    n_train=16,
    cost=COST,
    adapter="/out/adapter",
    adapter_entry="/cache/adapter/abc",
    model=MODEL,
    versions={"python": "3.11.0", "torch": "2.5.0"},
    git_sha="0" * 40,
    reused_cell=None,
    error=None,
)
OK_KEYS = {
    "status",
    "approach",
    "name",
    "group",
    "scores",
    "scores_by_phrasing",
    "evaluation",
    "primary_metric",
    "n_eval",
    "n_train",
    "cost",
    "adapter",
    "adapter_entry",
    "model",
    "config",
    "versions",
    "git_sha",
}


def test_cost_is_flat_with_the_index_figures_prefixed():
    assert COST.to_json() == COST_JSON


def test_figures_a_cell_did_not_record_are_left_out():
    cost = Cost(index=IndexStats(n_chunks=3), generation=GenerationStats(generated_tokens=5))
    assert cost.to_json() == {"index_n_chunks": 3, "generated_tokens": 5}
    assert Cost().to_json() == {}


def test_cost_round_trips_through_json():
    assert Cost.from_json(json.loads(json.dumps(COST_JSON))) == COST


def test_cost_figure_by_its_results_json_name():
    assert COST.figure("index_n_chunks") == 7
    assert COST.figure("seconds_per_question") == 0.5
    assert COST.figure("adapter_mb") == 0.25
    assert COST.figure("replay_seconds") is None  # not recorded


def test_an_ok_cell_has_exactly_the_results_json_keys():
    data = CELL.to_json()
    assert set(data) == OK_KEYS
    assert data["cost"] == COST_JSON
    assert data["model"] == {
        "fingerprint": {"source": "tiny-random", "seed": 0},
        "model_cache_hit": True,
        "device": "cpu",
        "parameters": 100000,
    }
    assert data["scores"] == {"exact_match": 0.25, "f1": 0.5}


def test_a_replayed_cell_also_names_the_entry_it_came_from():
    from dataclasses import replace

    data = replace(CELL, reused_cell="/cache/cell/k").to_json()
    assert set(data) == OK_KEYS | {"reused_cell"} and data["reused_cell"] == "/cache/cell/k"


def test_a_cell_round_trips_through_json():
    text = json.dumps(CELL.to_json())
    assert CellResult.from_json(json.loads(text)) == CELL


def test_a_failed_cell_has_only_status_approach_name_error_config():
    failed = CellResult(
        status="failed",
        name="1_retriever=dense",
        approach="rag",
        config={"retriever": {"name": "dense"}},
        scores={"f1": 0.1},  # never written for a failed cell
        error="ModelError: no such folder",
    )
    assert failed.to_json() == {
        "status": "failed",
        "approach": "rag",
        "name": "1_retriever=dense",
        "error": "ModelError: no such folder",
        "config": {"retriever": {"name": "dense"}},
    }
    back = CellResult.from_json(failed.to_json())
    assert not back.ok and back.error == "ModelError: no such folder" and back.scores == {}


def test_reading_partial_dicts():
    empty = CellResult.from_json({})
    assert empty.ok and empty.status == "ok"  # a file without status: an older ok cell
    assert (empty.name, empty.approach, empty.config, empty.scores) == ("", None, {}, {})
    assert empty.cost == Cost() and empty.model is None and empty.versions == {}

    older = CellResult.from_json(
        {"name": "c", "scores": {"f1": 1, "contains": "0.5"}, "cost": {"train_seconds": 3}}
    )
    assert older.scores == {"f1": 1.0, "contains": 0.5}
    assert all(type(v) is float for v in older.scores.values())
    assert older.cost.train == TrainStats(train_seconds=3)
    assert older.cost.index is None and older.cost.generation is None
    assert older.cost.train_seconds == 3.0

    only_index = Cost.from_json({"index_n_chunks": 4})
    assert only_index.index == IndexStats(n_chunks=4) and only_index.train is None
    assert Cost.from_json(None) == Cost()
    assert CellResult.from_json({"error": 7}).error == "7"


def test_train_stats_round_trip_and_partial_read():
    assert TrainStats.from_json(TRAIN.to_json()) == TRAIN
    assert TrainStats.from_json({}) == TrainStats()
    assert TrainStats.from_json({"train_steps": 2, "unrelated": 1}) == TrainStats(train_steps=2)


def test_training_time_counts_the_cached_adapters_original_cost():
    hit = TrainStats(train_seconds=0.0, train_cache_hit=True, train_seconds_saved=42.0)
    assert hit.seconds_spent == 42.0
    assert Cost(train=hit).train_seconds == 42.0
    assert TrainStats(train_seconds=5, train_cache_hit=False).seconds_spent == 5.0
    assert TrainStats(train_seconds=0.0, train_cache_hit=True).seconds_spent == 0.0
    assert TrainStats().seconds_spent is None
    assert Cost().train_seconds is None


def test_model_info_round_trip():
    assert ModelInfo.from_json(MODEL.to_json()) == MODEL
    assert ModelInfo.from_json(None) is None and ModelInfo.from_json({}) is None
