"""ragft: one cell of the fine-tune vs RAG vs both comparison.

    python run.py                                  # the default cell: RAG on the embedded model
    python run.py approach=base retriever=none     # closed-book
    python run.py approach=finetune                # LoRA fine-tune, then closed-book
    python run.py -m experiment=compare            # the comparison, one cell per approach

The flow of one cell, top to bottom (ARCHITECTURE.md has the map):
config -> validate -> data -> retriever/index -> model -> (train) -> generate -> score -> log
"""

from __future__ import annotations

import gc
import logging
import os
import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from ragft import (
    cell,
    config,
    data,
    datagen,
    metrics,
    prompting,
    ranks,
    runtime,
    tracking,
    validation,
)
from ragft.cache import Cache, hash_key
from ragft.errors import RagftError
from ragft.records import Cost

log = logging.getLogger("ragft")
config.register()


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> float | None:
    where = cell.place(cfg, HydraConfig.get())
    runtime.reset_peak_memory()
    try:
        return run_cell(cfg, where)
    except RagftError as e:
        print(f"ragft: error: {e}", file=sys.stderr, flush=True)
        if not where.in_sweep:
            sys.exit(2)  # bad input on a single run: the message, no results.json
        cell.record_failure(cfg, where, e)
    except Exception as e:
        if not where.in_sweep:
            raise
        log.exception("cell failed")
        cell.record_failure(cfg, where, e)
    finally:
        gc.collect()  # the next cell of a sweep runs in this process: free this one's model
    return None  # in a sweep a failed cell is recorded and the sweep goes on


def run_cell(cfg: DictConfig, where: cell.Place) -> float:
    """Run one cell; write its files; return the primary score (for Hydra sweepers)."""
    run = validation.validate(cfg, where.in_sweep)  # every config problem at once, before any work
    rank = ranks.global_rank()  # > 0 only in a rank of a SLURM / torchrun job (trainer=ddp)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    clock = runtime.Stopwatch()
    cache = Cache(run.cache.dir)
    generate = datagen.stage(run, cache) if run.data.name == "generated" else None
    dataset = clock.time("data_seconds", data.load, run.data, generate)  # fails before torch
    data.check(dataset, run.data.name, run.approach, run.objective)
    log.info("data: %d documents, %d train and %d eval questions",
             len(dataset.corpus), len(dataset.train), len(dataset.eval))  # fmt: skip

    identity = cell.identity(run, dataset)
    finished = cache.lookup("cell", hash_key(identity))
    if finished is not None:  # this exact computation already ran: rank 0 replays its results
        return cell.replay(finished, cfg, run, where, clock.elapsed()) if rank == 0 else 0.0

    from ragft import generation, modeling, retrieval  # torch loads here, after the data checks

    runtime.seed_everything(run.seed)
    retriever = None
    if run.approach.retrieves:
        retriever = retrieval.build(run.retriever, dataset.corpus, cache)
    loaded = modeling.load(run.model, run.quant, cache, seed=run.seed)
    prompts = prompting.PromptBuilder(
        loaded.tokenizer, run.model.chat_template, run.model.system_prompt
    )
    resolved = cell.resolved(cfg)
    with cell.tracker(run, where, resolved, cell.tags(run), active=rank == 0) as tracker:
        model, trained = loaded.model, None
        if run.approach.trains:
            from ragft import training, training_data  # Lightning loads here: training cells only

            pairs = training_data.build_pairs(
                dataset, prompts, run.objective, run.approach, retriever,
                run.retriever.candidates, run.seed,
            )  # fmt: skip
            spec = training.spec_for(run, loaded)
            trained = training.train(loaded, pairs, spec, cache, tracker.lightning_loggers())
            model = trained.model
        if rank > 0:  # a rank SLURM/torchrun started has helped train; rank 0 evaluates
            return 0.0

        questions = [ex.question for ex in dataset.eval]
        hits = (
            clock.time("retrieve_seconds", retriever.search, questions, run.retriever.k)
            if retriever
            else [()] * len(questions)
        )
        texts = [prompts.prompt(q, h) for q, h in zip(questions, hits, strict=True)]
        outputs, gen_stats = generation.generate(
            model, loaded.tokenizer, texts,
            max_new_tokens=run.generation.max_new_tokens,
            batch_size=run.generation.batch_size,
            max_input_tokens=run.model.max_input_tokens,
        )  # fmt: skip
        predictions = generation.predictions(dataset.eval, texts, outputs, hits)
        k = run.retriever.k if retriever else None
        scores, per_example = metrics.score_predictions(predictions, run.metrics.answer, k)

        cost = Cost(
            data_seconds=clock.seconds["data_seconds"],
            index=retriever.stats if retriever else None,
            model_load_seconds=loaded.load_seconds,
            train=trained.stats if trained else None,
            retrieve_seconds=clock.seconds.get("retrieve_seconds"),
            generation=gen_stats,
            peak_memory_mb=runtime.peak_memory_mb(),
            total_seconds=clock.elapsed(),
        )
        by_phrasing = metrics.by_phrasing(predictions, per_example)
        result = cell.result(
            run, where, resolved, dataset, scores, by_phrasing, cost, loaded, trained
        )
        rows = tracking.prediction_rows(predictions, [o.text for o in outputs], per_example)
        score = cell.finish(tracker, run, result, rows)
    cell.keep(cache, identity, where.out_dir)
    return score


if __name__ == "__main__":
    main()
