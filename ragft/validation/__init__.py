"""Every rule on a run's configuration, checked once, up front, before any data or weights load.

One rule function per config slice; each returns its problems (the key, the bad value and
what is allowed), and `validate` joins them into the one ConfigError that lists them all.
The small checks live in `checks`, the rules for model, lora, quant and trainer in `model`,
those for retriever, data and metrics in `inputs`, the rest here. Light on purpose: no torch;
installed packages are found with `importlib.util.find_spec`, which does not import them.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from ragft.approaches import APPROACHES, Approach
from ragft.config import (
    BATCHING,
    GENERATION_BACKENDS,
    LOGGER_NAMES,
    OBJECTIVES,
    WANDB_MODES,
    RunConfig,
)
from ragft.errors import ConfigError
from ragft.validation.checks import (
    Problems,
    Rule,
    check,
    endpoint_problems,
    one_of,
    positive,
    seed_range,
)
from ragft.validation.datagen import datagen_rule
from ragft.validation.evaluation import evaluation_rule, prompt_rule
from ragft.validation.inputs import data_rule, metrics_rule, retriever_rule
from ragft.validation.judge import judge_rule
from ragft.validation.model import lora_rule, model_rule, quant_rule, trainer_rule


def validate(cfg: DictConfig | RunConfig, in_sweep: bool = False) -> RunConfig:
    """Check every rule; return the typed config or raise one ConfigError listing all problems.

    `objective` left at null becomes "qa". A training objective given to an approach that
    does not train is a contradiction in a single run; in a sweep (`in_sweep`) it is a
    sweep-wide setting meant for the training cells, and the other cells ignore it.
    """
    if not isinstance(cfg, RunConfig):
        missing = sorted(OmegaConf.missing_keys(cfg))
        if missing:
            raise ConfigError([f"{k} is required (give {k}=...)" for k in missing])
    run = cfg if isinstance(cfg, RunConfig) else OmegaConf.to_object(cfg)
    approach = APPROACHES.get(run.approach.name)
    problems = objective_rule(run, approach, in_sweep)
    for rule in RULES:
        problems += rule(run, approach)
    if problems:
        raise ConfigError(problems)
    return run


def objective_rule(run: RunConfig, approach: Approach | None, in_sweep: bool) -> Problems:
    if run.objective is None:
        run.objective = "qa"
        return []
    p = one_of("objective", run.objective, OBJECTIVES)
    if approach is not None and not approach.trains:
        if in_sweep:
            run.objective = "qa"  # meant for the sweep's training cells; ignored here
        else:
            p.append(
                f"objective={run.objective} is a training objective, but "
                f"approach={approach.name} does not train; drop objective=... or "
                "choose approach=finetune, hybrid or raft"
            )
    return p


def seed_rule(run: RunConfig, approach: Approach | None) -> Problems:
    return seed_range("seed", run.seed)


def approach_rule(run: RunConfig, approach: Approach | None) -> Problems:
    a = run.approach
    p = one_of("approach", a.name, APPROACHES)
    p += check(
        0.0 <= a.raft_gold_share <= 1.0,
        "approach.raft_gold_share",
        a.raft_gold_share,
        "between 0 and 1",
    )
    p += check(a.raft_distractors >= 0, "approach.raft_distractors", a.raft_distractors, ">= 0")
    return p


def logger_rule(run: RunConfig, approach: Approach | None) -> Problems:
    lg = run.logger
    p = one_of("logger", lg.name, LOGGER_NAMES)
    if lg.mode is not None:
        p += one_of("logger.mode", lg.mode, WANDB_MODES)
    if lg.name == "wandb" and not lg.project.strip():
        p.append(f"logger.project={lg.project!r} must be a W&B project name")
    return p


def generation_rule(run: RunConfig, approach: Approach | None) -> Problems:
    g = run.generation
    p = positive("generation.max_new_tokens", g.max_new_tokens)
    if g.batch_size < 0:
        p.append(f"generation.batch_size={g.batch_size} must be positive (or 0: fill the GPU)")
    p += one_of("generation.batching", g.batching, BATCHING)
    p += one_of("generation.backend", g.backend, GENERATION_BACKENDS)
    if g.backend == "openai":
        p += endpoint_problems("generation.endpoint", g.endpoint)
        if approach is not None and approach.trains:
            p.append(
                f"generation.backend=openai answers with the server's weights, but "
                f"approach={approach.name} trains its own; serve only cells that do not train "
                "(approach=base or rag), or use generation.backend=local"
            )
        if run.quant.name != "none":
            p.append(f"quant={run.quant.name} quantises local weights; a served model is "
                     "quantised by its server (give quant=none)")  # fmt: skip
    return p


def cache_rule(run: RunConfig, approach: Approach | None) -> Problems:
    folder = run.cache.dir
    if folder and Path(folder).expanduser().is_file():
        return [f"cache.dir={folder!r} is a file; give a folder (it is created if missing)"]
    return []


RULES: tuple[Rule, ...] = (
    seed_rule,
    approach_rule,
    model_rule,
    lora_rule,
    quant_rule,
    retriever_rule,
    data_rule,
    datagen_rule,
    metrics_rule,
    evaluation_rule,
    prompt_rule,
    judge_rule,
    trainer_rule,
    logger_rule,
    generation_rule,
    cache_rule,
)
