"""ragft: one cell of the fine-tune vs RAG vs both comparison.

    python run.py                                  # the default cell: RAG on the embedded model
    python run.py approach=base retriever=none     # closed-book
    python run.py approach=finetune                # LoRA fine-tune, then closed-book
    python run.py -m experiment=compare            # the comparison, one cell per approach

The flow of one cell, top to bottom:
config -> validate -> data -> retriever/index -> model -> (train) -> generate -> score -> log
"""

from __future__ import annotations

import gc
import logging
import os
import resource
import sys
import time
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from ragft import config as config_schema
from ragft.cache import hash_key
from ragft.errors import ConfigError, RagftError

log = logging.getLogger("ragft")
CELL_FORMAT = 1  # bump when a change makes earlier finished cells stale
config_schema.register()


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> float | None:
    hc = HydraConfig.get()
    out_dir = Path(hc.runtime.output_dir)
    reset_peak_memory()
    try:
        return run_cell(cfg, out_dir, cell_name(hc), group_name(cfg, hc))
    except RagftError as e:
        print(f"ragft: error: {e}", file=sys.stderr, flush=True)
        if hc.mode == RunMode.RUN:
            sys.exit(2)  # bad input on a single run: the message, no results.json
        record_failure(cfg, out_dir, cell_name(hc), e)
    except Exception as e:
        if hc.mode == RunMode.RUN:
            raise
        log.exception("cell failed")
        record_failure(cfg, out_dir, cell_name(hc), e)
    finally:
        gc.collect()  # the next cell of a sweep runs in this process: free this one's model
    return None  # in a sweep a failed cell is recorded and the sweep goes on


def record_failure(cfg: DictConfig, out_dir: Path, name: str, error: BaseException) -> None:
    """A failed sweep cell: results.json says so (the report lists it, the sweep exits 1)."""
    from ragft.tracking import atomic_write_json

    try:
        resolved = OmegaConf.to_container(cfg, resolve=True)
    except Exception:  # noqa: BLE001 - the config itself may be what failed
        resolved = OmegaConf.to_container(cfg, resolve=False)
    atomic_write_json(
        out_dir / "results.json",
        {
            "status": "failed",
            "approach": OmegaConf.select(cfg, "approach.name"),
            "name": name,
            "error": f"{type(error).__name__}: {error}",
            "config": resolved,
        },
    )


def run_cell(cfg: DictConfig, out_dir: Path, name: str, group: str) -> float:
    """Run one cell; write its files; return the primary score (for Hydra sweepers)."""
    in_sweep = HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN
    run = config_schema.validate(cfg, in_sweep)  # every config problem at once, before any work
    from ragft.ranks import global_rank

    rank = global_rank()  # > 0 only in a rank of a SLURM / torchrun job (trainer=ddp)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    cost: dict[str, float] = {}
    started = time.time()

    from ragft import data  # light: bad data files fail before torch is imported

    dataset = timed(cost, "data_seconds", data.load, run.data)
    check_dataset(run, dataset)
    log.info(
        "data: %d documents, %d train and %d eval questions",
        len(dataset.corpus),
        len(dataset.train),
        len(dataset.eval),
    )

    from ragft import tracking
    from ragft.cache import Cache

    cache = Cache(run.cache.dir)
    cell = {
        "config": config_schema.cell_identity(run),
        "data": data.fingerprint(dataset, with_train=run.approach.trains),
        "format": CELL_FORMAT,
    }
    finished = cache.lookup("cell", hash_key(cell))
    if finished is not None:  # this exact computation already ran: replay its results
        if rank > 0:
            return 0.0  # rank 0 replays it
        return replay_cell(finished, cfg, run, out_dir, name, group, started)

    from ragft import generation, metrics, modeling, prompting, retrieval
    from ragft.types import Prediction

    seed_everything(run.seed)
    retriever = None
    if run.approach.retrieves:
        retriever = retrieval.build(run.retriever, dataset.corpus, cache)
        cost.update({f"index_{k}": v for k, v in retriever.stats.items()})

    loaded = modeling.load(run.model, run.quant, cache, seed=run.seed)
    model, tokenizer = loaded.model, loaded.tokenizer
    cost["model_load_seconds"] = loaded.load_seconds

    def render(message: str) -> str:
        return prompting.render(
            tokenizer,
            message,
            chat_template=run.model.chat_template,
            system_prompt=run.model.system_prompt,
        )

    resolved = OmegaConf.to_container(cfg, resolve=True)
    tags = [
        f"model:{run.model.name}",
        f"quant:{run.quant.name}",
        f"retriever:{run.retriever.name if retriever else 'none'}",
        f"lora:{run.lora.name}" if run.approach.trains else "untrained",
    ]
    if rank > 0:  # a rank SLURM/torchrun started: help train, then leave evaluation to rank 0
        if run.approach.trains:
            from ragft import training

            pairs = training_pairs(run, dataset, retriever, tokenizer, render)
            training.train(loaded, pairs, training.spec_for(run, loaded), cache)
        return 0.0
    with tracking.Tracker(
        out_dir, run.logger, resolved, job_type=run.approach.name, name=name, group=group, tags=tags
    ) as tracker:
        adapter = adapter_entry = None
        if run.approach.trains:
            from ragft import training  # imports Lightning (~10 s): only for training cells

            pairs = training_pairs(run, dataset, retriever, tokenizer, render)
            spec = training.spec_for(run, loaded)
            trained = training.train(loaded, pairs, spec, cache, tracker.lightning_loggers())
            model, entry = trained.model, trained.entry
            cost.update(trained.stats.to_json())
            adapter = tracker.save_adapter(entry, full_model=spec.adapter is None)
            adapter_entry = str(entry)

        questions = [ex.question for ex in dataset.eval]
        hits = (
            timed(cost, "retrieve_seconds", retriever.search, questions, run.retriever.k)
            if retriever
            else [()] * len(questions)
        )
        prompts = [
            render(prompting.user_message(q, h)) for q, h in zip(questions, hits, strict=True)
        ]
        outputs, gen_cost = generation.generate(
            model,
            tokenizer,
            prompts,
            max_new_tokens=run.generation.max_new_tokens,
            batch_size=run.generation.batch_size,
            max_input_tokens=run.model.max_input_tokens,
        )
        cost.update(gen_cost)

        predictions = [
            Prediction(
                example=ex,
                prompt=p,
                answer=prompting.extract_answer(o.text),
                passages=tuple(h),
                new_tokens=o.new_tokens,
            )
            for ex, p, o, h in zip(dataset.eval, prompts, outputs, hits, strict=True)
        ]
        scores, per_example = metrics.score_predictions(
            predictions, list(run.metrics.answer), run.retriever.k if retriever else None
        )
        cost["peak_memory_mb"] = peak_memory_mb()
        cost["total_seconds"] = round(time.time() - started, 3)
        results = {
            "status": "ok",
            "approach": run.approach.name,
            "name": name,
            "group": group,
            "scores": scores,
            "scores_by_phrasing": metrics_by_phrasing(predictions, per_example),
            "primary_metric": run.metrics.primary,
            "n_eval": len(predictions),
            "n_train": len(dataset.train),
            "cost": cost,
            "adapter": str(adapter) if adapter else None,
            "adapter_entry": adapter_entry,
            "model": loaded.info.to_json(),
            "config": resolved,
            "versions": tracking.versions(),
            "git_sha": tracking.git_sha(),
        }
        rows = [
            prediction_row(p, o.text, m)
            for p, o, m in zip(predictions, outputs, per_example, strict=True)
        ]
        tracker.record(results, rows)
    cache.get_or_build("cell", cell, lambda d: keep_cell(out_dir, d))

    tracking.print_summary(
        f"\n{run.approach.name} on {run.data.name} ({len(predictions)} questions, "
        f"model {run.model.name}) -> {out_dir}\n"
        + tracking.score_table([(run.approach.name, scores)])
    )
    return float(scores.get(run.metrics.primary, 0.0))


def keep_cell(out_dir: Path, entry: Path) -> None:
    """Copy a finished cell's results into its cache entry."""
    import shutil

    for name in ("results.json", "predictions.jsonl"):
        shutil.copy2(out_dir / name, entry / name)


def replay_cell(
    entry: Path, cfg: DictConfig, run, out_dir: Path, name: str, group: str, started: float
) -> float:
    """Write a finished cell's results (from the cache) as this cell's, and log them."""
    import json

    from ragft import tracking

    results = json.loads((entry / "results.json").read_text())
    rows = [json.loads(line) for line in (entry / "predictions.jsonl").read_text().splitlines()]
    resolved = OmegaConf.to_container(cfg, resolve=True)
    results.update(
        name=name,
        group=group,
        config=resolved,
        reused_cell=str(entry),
        versions=tracking.versions(),
        git_sha=tracking.git_sha(),
    )
    results["cost"]["cell_cache_hit"] = True
    results["cost"]["replay_seconds"] = round(time.time() - started, 3)
    log.info("cell: already computed; reusing %s", entry)
    with tracking.Tracker(
        out_dir,
        run.logger,
        resolved,
        job_type=run.approach.name,
        name=name,
        group=group,
        tags=["reused"],
    ) as tracker:
        adapter_entry = results.get("adapter_entry")
        if adapter_entry and Path(adapter_entry).is_dir():
            adapter = tracker.save_adapter(Path(adapter_entry), run.lora.name == "none")
            results["adapter"] = str(adapter)
        tracker.record(results, rows)
    tracking.print_summary(
        f"\n{run.approach.name} on {run.data.name} (reused: {entry})\n"
        + tracking.score_table([(run.approach.name, results["scores"])])
    )
    return float(results["scores"].get(run.metrics.primary, 0.0))


def check_dataset(run, dataset) -> None:
    """Data problems that only show once the data is loaded."""
    if not dataset.eval:
        raise ConfigError([f"data={run.data.name}: the eval split is empty"])
    if (run.approach.retrieves or run.objective != "qa") and not dataset.corpus:
        raise ConfigError(
            [
                f"approach={run.approach.name} objective={run.objective} needs "
                "documents; give data.corpus_path"
            ]
        )
    if run.approach.trains and run.objective != "cpt" and not dataset.train:
        raise ConfigError(
            [
                f"approach={run.approach.name} trains on the train split, which is "
                'empty; add rows with "split": "train" or lower '
                "data.eval_fraction"
            ]
        )


def training_pairs(run, dataset, retriever, tokenizer, render) -> list:
    """The supervised pairs for the cell's objective (and RAFT contexts when asked)."""
    from ragft import prompting, training_data

    def complete(message: str, answer: str) -> str:
        return prompting.completion(
            tokenizer,
            message,
            answer,
            chat_template=run.model.chat_template,
            system_prompt=run.model.system_prompt,
        )

    pairs = []
    if run.objective in ("qa", "qa+cpt"):
        contexts = flags = None
        if run.approach.trains_with_context:
            a = run.approach
            questions = [ex.question for ex in dataset.train]
            hits = retriever.search(
                questions, max(run.retriever.candidates, a.raft_distractors + 1)
            )
            contexts, flags = training_data.raft_contexts(
                dataset.train,
                hits,
                retriever.chunks,
                a.raft_gold_share,
                a.raft_distractors,
                run.seed,
            )
        pairs += training_data.qa_pairs(dataset.train, render, complete, contexts, flags)
    if run.objective in ("cpt", "qa+cpt"):
        pairs += training_data.cpt_pairs(dataset.corpus, tokenizer.eos_token or "")
    return pairs


def metrics_by_phrasing(predictions, per_example) -> dict[str, dict[str, float]]:
    """Scores per eval phrasing kind (heldout / seen), when the data says which."""
    groups: dict[str, list[dict[str, float]]] = {}
    for p, m in zip(predictions, per_example, strict=True):
        if p.example.phrasing:
            groups.setdefault(p.example.phrasing, []).append(m)
    return {
        kind: {k: sum(m[k] for m in ms) / len(ms) for k in ms[0]} for kind, ms in groups.items()
    }


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (training re-seeds through Lightning as well)."""
    import random

    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def timed(cost: dict[str, float], key: str, fn, *args):
    t0 = time.perf_counter()
    out = fn(*args)
    cost[key] = round(time.perf_counter() - t0, 3)
    return out


def reset_peak_memory() -> None:
    """Start this cell's peak-memory count afresh: in a sweep, cells share one process.

    Linux resets the resident-set high-water mark (VmHWM) on `5 > /proc/self/clear_refs`;
    elsewhere the figure stays the process's lifetime peak.
    """
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass
    if "torch" in sys.modules and sys.modules["torch"].cuda.is_available():
        sys.modules["torch"].cuda.reset_peak_memory_stats()


def peak_memory_mb() -> float:
    """Peak resident memory of this cell (plus the GPU's peak allocation when used)."""
    try:
        status = Path("/proc/self/status").read_text()
        peak = int(next(ln for ln in status.splitlines() if ln.startswith("VmHWM:")).split()[1])
    except (OSError, StopIteration, ValueError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    peak_mb = peak / 1024
    import torch

    if torch.cuda.is_available():
        peak_mb += torch.cuda.max_memory_allocated() / 2**20
    return round(peak_mb, 1)


def prediction_row(p, raw: str, scores: dict[str, float]) -> dict:
    ex = p.example
    return {
        "id": ex.id,
        "question": ex.question,
        "golds": list(ex.answers),
        "prediction": p.answer,
        "raw_output": raw,
        "prompt": p.prompt,
        "phrasing": ex.phrasing,
        "gold_doc_ids": list(ex.gold_doc_ids),
        "passages": [
            {
                "rank": q.rank,
                "doc_id": q.doc_id,
                "chunk_id": q.chunk_id,
                "score": round(float(q.score), 6),
                "text": q.text,
            }
            for q in p.passages
        ],
        "metrics": scores,
    }


def cell_name(hc) -> str:
    """The override string that makes this cell different (W&B run name)."""
    return hc.job.override_dirname or "default"


def group_name(cfg: DictConfig, hc) -> str:
    """W&B group: logger.group, else the sweep's folder for a multirun, else "single"."""
    from ragft.tracking import sweep_group

    if OmegaConf.select(cfg, "logger.group"):
        return str(cfg.logger.group)
    return sweep_group(hc.sweep.dir) if hc.mode == RunMode.MULTIRUN else "single"


if __name__ == "__main__":
    main()
