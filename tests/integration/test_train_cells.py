"""finetune / hybrid / raft cells through run.py on the tiny model."""

from __future__ import annotations

import pytest

from ..helpers import run_py

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SMALL = (
    "data.n_train_phrasings=1",
    "trainer.max_epochs=1",
    "trainer.batch_size=4",
    "lora.r=4",
)
COST_KEYS = {
    "train_seconds",
    "train_tokens_per_s",
    "trainable_parameters",
    "total_parameters",
    "adapter_mb",
    "peak_memory_mb",
}


def test_hybrid_reuses_the_adapter_its_finetune_twin_trained(tmp_path):
    ft = run_py(tmp_path / "ft", "approach=finetune", "logger=wandb", "logger.mode=offline", *SMALL)
    assert ft.returncode == 0, ft.stderr[-3000:]
    cost = ft.results["cost"]
    assert COST_KEYS <= set(cost) and cost["train_cache_hit"] is False
    assert cost["train_seconds"] > 0 and 0 < cost["trainable_parameters"] < cost["total_parameters"]
    assert (ft.out_dir / "adapter" / "adapter_model.safetensors").is_file()
    assert (ft.out_dir / "adapter" / "adapter_config.json").is_file()
    assert (ft.out_dir / "train" / "metrics.csv").is_file()  # the loss curve
    assert list((ft.out_dir / "wandb").glob("offline-run-*"))
    # closed-book: the string metrics and semantic similarity, no retrieval scores
    assert set(ft.results["scores"]) == {
        "exact_match", "f1", "contains", "rouge_l", "bleu", "semantic"
    }  # fmt: skip

    hy = run_py(tmp_path / "hy", "approach=hybrid", "retriever=bm25", *SMALL)
    assert hy.returncode == 0, hy.stderr[-3000:]
    assert hy.results["cost"]["train_cache_hit"] is True
    assert hy.results["cost"]["train_seconds"] == 0.0
    assert "recall_at_k" in hy.results["scores"]
    assert (hy.out_dir / "adapter" / "adapter_model.safetensors").is_file()


def test_raft_trains_with_retrieved_context(tmp_path):
    res = run_py(
        tmp_path / "raft", "approach=raft", "retriever=bm25", "approach.raft_distractors=1", *SMALL
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.results["cost"]["train_cache_hit"] is False  # different prompts: own adapter
    assert "recall_at_k" in res.results["scores"]


def test_qlora_nf4_cell_runs_on_cpu(tmp_path):
    res = run_py(tmp_path / "q", "approach=finetune", "quant=nf4", "trainer.max_steps=2", *SMALL)
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.results["cost"]["train_steps"] == 2
    assert res.results["config"]["quant"]["name"] == "nf4"
