"""ragft: one cell of the fine-tune vs RAG vs both comparison.

    ragft run                                  # the default cell: RAG on the embedded model
    ragft run approach=base retriever=none     # closed-book
    ragft run approach=finetune                # LoRA fine-tune, then closed-book
    ragft run -m experiment=compare            # the comparison, one cell per approach

(`python run.py ...` in a checkout is the same.) The configs are ragft/conf/; a folder of
your own joins them with `--config-dir DIR` or `hydra.searchpath=[file://DIR]`.

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
    control,
    data,
    datagen,
    evaluation,
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
    # long because: the flow of one cell reads top to bottom, stage by stage (ARCHITECTURE.md)
    run = validation.validate(cfg, where.in_sweep)  # every config problem at once, before any work
    rank = ranks.global_rank()  # > 0 only in a rank of a SLURM / torchrun job (trainer=ddp)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    clock = runtime.Stopwatch()
    cache = Cache(run.cache.dir)
    generate = datagen.stage(run, cache) if run.data.name == "generated" else None
    dataset = clock.time("data_seconds", data.load, run.data, generate)  # fails before torch
    data.check(dataset, run.data.name, run.approach, run.objective, run.prompt.abstain)
    controls = control.load_set(run.metrics.control_path) if run.metrics.control else ()
    log.info("data: %d documents, %d train and %d eval questions",
             len(dataset.corpus), len(dataset.train), len(dataset.eval))  # fmt: skip

    identity = cell.identity(run, dataset)
    finished = cache.lookup("cell", hash_key(identity))
    if finished is not None:  # this exact computation already ran: rank 0 replays its results
        return cell.replay(finished, cfg, run, where, clock.elapsed()) if rank == 0 else 0.0

    from ragft import answering, generation, modeling, retrieval, served  # torch: after checks

    runtime.seed_everything(run.seed)
    retriever = None
    if run.approach.retrieves:
        retriever = retrieval.build(run.retriever, dataset.corpus, cache)
    remote = run.generation.backend == "openai"  # a server answers: no weights load here
    if remote:
        loaded = served.load(run.model, run.generation.endpoint, cache, run.seed)
    else:
        loaded = modeling.load(run.model, run.quant, cache, seed=run.seed)
    prompts = prompting.PromptBuilder(
        loaded.tokenizer, run.model.chat_template, run.model.system_prompt, run.prompt
    )

    def ask(model, examples, search=None):  # the cell's way of answering: retrieve, generate
        hits = search(examples) if search else [()] * len(examples)
        return generation.answer(
            answerer(model), prompts.fitted, examples, hits, run.model.max_input_tokens
        )

    def answerer(model) -> generation.Generate:  # the local model, or the server
        g = run.generation
        if remote:
            journal = served.journal_path(cache.root, g.endpoint)
            return served.generator(g.endpoint, g.max_new_tokens, journal)
        dtype = modeling.inference_dtype(run.model.inference_dtype, model)
        return answering.local(model, loaded.tokenizer, max_new_tokens=g.max_new_tokens,
                                batch_size=g.batch_size, dtype=dtype, batching=g.batching,
                                max_input_tokens=run.model.max_input_tokens)  # fmt: skip

    def search(examples):
        questions = [ex.question for ex in examples]
        return retriever.search(questions, run.retriever.k)

    control_base = None
    if controls and rank == 0:  # the untrained model's control score, before training
        dtype = runtime.resolved_inference_dtype(run.model.inference_dtype)  # auto, made real
        key = control.base_key(controls, model=run.model, quant=run.quant, prompt=run.prompt,
                               generation=run.generation, seed=run.seed, dtype=dtype)  # fmt: skip
        control_base = control.base_score(
            cache, key, lambda: control.score(ask(loaded.model, controls)[0])
        )
    resolved = cell.resolved(cfg, where)
    tags = cell.tags(run, where.labels)
    with cell.tracker(run, where, resolved, tags, active=rank == 0) as tracker:
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

        search_eval = (
            (lambda exs: clock.time("retrieve_seconds", search, exs)) if retriever else None
        )
        predictions, outputs, gen_stats = ask(model, dataset.eval, search_eval)
        k = run.retriever.k if retriever else None
        judged = evaluation.judge_for(run, cache) if run.metrics.judge.backend != "none" else None
        embed = evaluation.embedder_for(run.metrics.embedder) if run.metrics.semantic else None
        scored = evaluation.evaluate(predictions, run.metrics, run.prompt, k, embed, judged)
        control_rows = None
        if controls:  # the control set asked the cell's way (its model, its retriever)
            asked, control_out, _ = ask(model, controls, search if retriever else None)
            scored.scores.update(control.scores(control.score(asked), control_base))
            scored.info["control"] = {"n": len(controls), "base_score": control_base}
            control_rows = tracking.prediction_rows(asked, [o.text for o in control_out],
                                                    [{} for _ in asked])  # fmt: skip

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
        by_phrasing = metrics.by_phrasing(predictions, scored.per_example)
        result = cell.result(
            run, where, resolved, dataset, scored.scores, by_phrasing, cost, loaded, trained,
            scored.info,
        )  # fmt: skip
        rows = tracking.prediction_rows(
            predictions, [o.text for o in outputs], scored.per_example, scored.rows
        )
        score = cell.finish(tracker, run, result, rows, control_rows)
    cell.keep(cache, identity, where.out_dir)
    return score


if __name__ == "__main__":
    main()
