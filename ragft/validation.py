"""Every rule on a run's configuration, checked once, up front, before any data or weights load.

One rule function per config slice; each returns its problems (the key, the bad value and
what is allowed), and `validate` joins them into the one ConfigError that lists them all.
Light on purpose: no torch; installed packages are found with `importlib.util.find_spec`,
which does not import them.
"""

from __future__ import annotations

import importlib.util
import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from ragft.approaches import APPROACHES, RETRIEVAL, TRAINING, Approach, uses
from ragft.config import (
    ANSWER_METRICS,
    DATA_NAMES,
    DTYPES,
    EVAL_SPLITS,
    LOGGER_NAMES,
    LORA_NAMES,
    METRICS_NAMES,
    MODEL_SOURCES,
    OBJECTIVES,
    QUANT_NAMES,
    RETRIEVAL_METRICS,
    RETRIEVER_NAMES,
    WANDB_MODES,
    RunConfig,
)
from ragft.errors import ConfigError
from ragft.hub import model_path_problems

Problems = list[str]
Rule = Callable[[RunConfig, Approach | None], Problems]

SEED_MAX = 2**32 - 1  # Lightning's seed_everything (and numpy) take 0 .. 2**32 - 1
ACCELERATORS = ("auto", "cpu", "gpu", "cuda", "mps", "tpu", "hpu")
# Lightning's precision values, plus ragft's own "auto" (training.resolve_precision).
PRECISIONS = (
    "auto",
    "32-true",
    "16-mixed",
    "bf16-mixed",
    "16-true",
    "bf16-true",
    "64-true",
    "transformer-engine",
    "transformer-engine-float16",
    "32",
    "16",
    "bf16",
    "64",
)
EMBEDDER_DEVICES = ("auto", "cpu", "cuda", "mps")
USER_DATA = ("qa-jsonl", "alpaca-jsonl")  # the data options that read data.path


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


# ---- helpers: each gives [] or one message naming the key, the value and what is allowed


def one_of(key: str, value: object, allowed: Iterable[str]) -> Problems:
    allowed = tuple(allowed)
    if value in allowed:
        return []
    return [f"{key}={value!r} is not allowed; choose one of: {', '.join(allowed)}"]


def check(ok: bool, key: str, value: object, allowed: str) -> Problems:
    """[] if ok, else "key=value must be <allowed>" (strings quoted, numbers as typed)."""
    if ok:
        return []
    shown = repr(value) if isinstance(value, str) else value
    return [f"{key}={shown} must be {allowed}"]


def positive(key: str, value: float, what: str = "positive") -> Problems:
    return check(value > 0, key, value, what)


def seed_range(key: str, value: int) -> Problems:
    return check(0 <= value <= SEED_MAX, key, value, f"between 0 and {SEED_MAX} (2**32 - 1)")


def package_problems(key: str, package: str) -> Problems:
    """[] if `package` is installed (found without importing it)."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        spec = None
    if spec is not None:
        return []
    return [
        f"{key}={package!r} is not installed; pip install --no-deps {package.replace('_', '-')}"
    ]


def _looks_local(path: str) -> bool:
    return os.path.isabs(os.path.expanduser(path)) or path.startswith((".", "~"))


# ---- one rule per slice


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


def model_rule(run: RunConfig, approach: Approach | None) -> Problems:
    m = run.model
    p = one_of("model.source", m.source, MODEL_SOURCES)
    p += one_of("model.dtype", m.dtype, DTYPES)
    p += positive("model.max_input_tokens", m.max_input_tokens)
    if m.source in ("package-gguf", "tiny-random"):
        if not m.package:
            why = "the module that ships it" if m.source == "package-gguf" else "its tokenizer"
            p.append(f"model.source={m.source} needs model.package ({why})")
        else:
            p += _package_model_problems(m.package, m.gguf_file)
    if m.source == "hf":
        if not m.path:
            p.append("model.source=hf needs model.path=<local directory or hub id>")
        else:
            p += model_path_problems(m.path, m.revision)
    if m.source == "tiny-random":
        p += tiny_model_rule(run)
    return p


def _package_model_problems(package: str, gguf_file: str | None) -> Problems:
    missing = package_problems("model.package", package)
    if missing or not gguf_file:
        return missing
    spec = importlib.util.find_spec(package)
    folders = list(spec.submodule_search_locations or []) if spec else []
    if folders and not (Path(folders[0]) / gguf_file).is_file():
        return [
            f"model.gguf_file={gguf_file!r} is not in {folders[0]}; give the name of a .gguf "
            "file there (or null: its only one)"
        ]
    return []


def tiny_model_rule(run: RunConfig) -> Problems:
    t = run.model.tiny
    p: Problems = []
    for name in (
        "hidden_size",
        "intermediate_size",
        "num_hidden_layers",
        "num_attention_heads",
        "num_key_value_heads",
        "max_position_embeddings",
    ):
        p += positive(f"model.tiny.{name}", getattr(t, name), "a positive integer")
    if p:
        return p
    if t.hidden_size % t.num_attention_heads:
        p.append(
            f"model.tiny.hidden_size={t.hidden_size} must be a multiple of "
            f"model.tiny.num_attention_heads={t.num_attention_heads}"
        )
    if t.num_attention_heads % t.num_key_value_heads:
        p.append(
            f"model.tiny.num_attention_heads={t.num_attention_heads} must be a multiple of "
            f"model.tiny.num_key_value_heads={t.num_key_value_heads}"
        )
    return p


def lora_rule(run: RunConfig, approach: Approach | None) -> Problems:
    lo = run.lora
    p = one_of("lora", lo.name, LORA_NAMES)
    if lo.name != "default" or not uses_kind(approach, TRAINING):
        return p  # no adapter is built: its keys mean nothing here
    p += positive("lora.r", lo.r, "a positive integer")
    p += positive("lora.alpha", lo.alpha)
    p += check(0.0 <= lo.dropout < 1.0, "lora.dropout", lo.dropout, "in [0, 1)")
    t = lo.target_modules
    names_ok = isinstance(t, list) and t and all(isinstance(x, str) and x.strip() for x in t)
    if not (isinstance(t, str) and t.strip()) and not names_ok:
        p.append(
            f"lora.target_modules={t!r} must be all-linear or a non-empty list of module "
            "names, e.g. [q_proj,v_proj]"
        )
    return p


def quant_rule(run: RunConfig, approach: Approach | None) -> Problems:
    q = run.quant
    p = one_of("quant", q.name, QUANT_NAMES)
    p += one_of("quant.compute_dtype", q.compute_dtype, DTYPES)
    if q.name in QUANT_NAMES and q.name != "none" and not bitsandbytes_installed():
        p.append(f"quant={q.name} needs bitsandbytes (pip install 'bitsandbytes>=0.47')")
    if uses_kind(approach, TRAINING) and run.lora.name == "none" and q.name != "none":
        p.append(
            f"quant={q.name} with lora=none: full fine-tuning cannot update 4/8-bit "
            "weights; use lora=default (QLoRA) or quant=none"
        )
    return p


def retriever_rule(run: RunConfig, approach: Approach | None) -> Problems:
    r = run.retriever
    p = one_of("retriever", r.name, RETRIEVER_NAMES)
    if approach is not None and approach.retrieves and r.name == "none":
        p.append(
            f"approach={approach.name} retrieves at eval but retriever=none; "
            "choose retriever=bm25, dense or hybrid (or approach=base / finetune)"
        )
    p += positive("retriever.k", r.k, "a positive integer")
    p += positive("retriever.chunk_size", r.chunk_size)
    if not 0 <= r.chunk_overlap < max(r.chunk_size, 1):
        p.append(
            f"retriever.chunk_overlap={r.chunk_overlap} must be >= 0 and smaller than "
            f"retriever.chunk_size={r.chunk_size}"
        )
    if r.candidates < r.k:
        p.append(f"retriever.candidates={r.candidates} must be >= retriever.k={r.k}")
    p += check(r.rrf_k >= 0, "retriever.rrf_k", r.rrf_k, ">= 0")
    p += positive("retriever.nprobe", r.nprobe, "a positive integer")
    p += check(
        bool(r.index_factory.strip()),
        "retriever.index_factory",
        r.index_factory,
        'a faiss index_factory string, e.g. "Flat", "HNSW32", "IVF64,Flat"',
    )
    p += embedder_rule(run, approach)
    return p


def embedder_rule(run: RunConfig, approach: Approach | None) -> Problems:
    e = run.retriever.embedder
    p = positive("retriever.embedder.batch_size", e.batch_size, "a positive integer")
    if e.device not in EMBEDDER_DEVICES and not re.fullmatch(r"cuda:\d+", e.device):
        p.append(
            f"retriever.embedder.device={e.device!r} is not allowed; choose one of: "
            f"{', '.join(EMBEDDER_DEVICES)} (or cuda:N)"
        )
    if run.retriever.name not in ("dense", "hybrid") or not uses_kind(approach, RETRIEVAL):
        return p  # no embedder is loaded: where it lives does not matter here
    if e.path:
        local = Path(e.path).expanduser()
        if (_looks_local(e.path) or local.exists()) and not local.is_dir():
            what = "is a file" if local.exists() else "no such folder"
            p.append(
                f"retriever.embedder.path={e.path!r}: {what}; give a sentence-transformers "
                "folder (modules.json + weights) or a hub id"
            )
        elif local.is_dir() and not (local / "modules.json").is_file():
            p.append(
                f"retriever.embedder.path={e.path!r} holds no modules.json; give a "
                "sentence-transformers folder (modules.json + weights) or a hub id"
            )
    elif not e.package:
        p.append("retriever.embedder.package and retriever.embedder.path are both null; set one")
    else:
        p += package_problems("retriever.embedder.package", e.package)
    return p


def data_rule(run: RunConfig, approach: Approach | None) -> Problems:
    d = run.data
    p = one_of("data", d.name, DATA_NAMES)
    p += one_of("data.eval_split", d.eval_split, EVAL_SPLITS)
    p += seed_range("data.seed", d.seed)
    if d.name in USER_DATA:
        if not d.path:
            p.append(f"data={d.name} needs data.path=<a .jsonl file>")
        else:
            p += _file_problems("data.path", d.path)
        if d.corpus_path:
            p += _corpus_problems(d.corpus_path)
        elif approach is not None and approach.retrieves:
            p.append(f"approach={approach.name} with data={d.name} needs data.corpus_path")
    if d.name == "fictional-kb":
        p += check(d.n_entities >= 2, "data.n_entities", d.n_entities, ">= 2")
        p += check(
            1 <= d.n_train_phrasings <= 6,
            "data.n_train_phrasings",
            d.n_train_phrasings,
            "between 1 and 6",
        )
    p += check(0.0 < d.eval_fraction <= 1.0, "data.eval_fraction", d.eval_fraction, "in (0, 1]")
    if d.max_eval is not None and d.max_eval <= 0:
        p.append(f"data.max_eval={d.max_eval} must be positive (or null for all)")
    return p


def _file_problems(key: str, path: str) -> Problems:
    p = Path(path).expanduser()
    if p.is_file():
        return []
    if p.is_dir():
        return [f"{key}={path!r} is a folder, expected a .jsonl file"]
    return [f"{key}={path!r}: no such file; give an existing .jsonl file"]


def _corpus_problems(path: str) -> Problems:
    p = Path(path).expanduser()
    if p.is_dir() or (p.is_file() and p.suffix.lower() == ".jsonl"):
        return []
    if p.exists():
        return [
            f"data.corpus_path={path!r} is neither a folder of .txt/.md files nor a .jsonl file"
        ]
    return [
        f"data.corpus_path={path!r}: no such file or folder; give a folder of .txt/.md files "
        'or a .jsonl file of {"id", "text"} rows'
    ]


def metrics_rule(run: RunConfig, approach: Approach | None) -> Problems:
    m = run.metrics
    p = one_of("metrics", m.name, METRICS_NAMES)
    if not m.answer:
        p.append(f"metrics.answer=[] must name at least one of: {', '.join(ANSWER_METRICS)}")
    for name in m.answer:
        p += one_of("metrics.answer", name, ANSWER_METRICS)
    known = (*ANSWER_METRICS, *RETRIEVAL_METRICS)
    if m.primary not in known:
        p += one_of("metrics.primary", m.primary, known)
    elif m.primary in ANSWER_METRICS and m.primary not in m.answer:
        given = [name for name in m.answer if name in ANSWER_METRICS]
        p.append(
            f"metrics.primary={m.primary!r} is not scored: it is not in "
            f"metrics.answer={list(m.answer)}; choose one of: "
            f"{', '.join([*given, *RETRIEVAL_METRICS])}, or add it to metrics.answer"
        )
    return p


def trainer_rule(run: RunConfig, approach: Approach | None) -> Problems:
    if not uses_kind(approach, TRAINING):
        return []  # nothing trains: the trainer's keys mean nothing here
    t = run.trainer
    p = one_of("trainer.accelerator", t.accelerator, ACCELERATORS)
    p += one_of("trainer.precision", t.precision, PRECISIONS)
    p += _devices_problems(t.devices)
    p += check(t.num_nodes >= 1, "trainer.num_nodes", t.num_nodes, ">= 1")
    p += check(
        bool(t.strategy.strip()),
        "trainer.strategy",
        t.strategy,
        "a Lightning strategy name, e.g. auto or ddp",
    )
    if not (t.max_epochs > 0 or (t.max_epochs == -1 and t.max_steps > 0)):
        p.append(
            f"trainer.max_epochs={t.max_epochs} must be positive (or set trainer.max_steps"
            " with trainer.max_epochs=-1 for no epoch limit)"
        )
    p += check(
        t.max_steps == -1 or t.max_steps > 0,
        "trainer.max_steps",
        t.max_steps,
        "positive, or -1 for no step limit",
    )
    p += positive("trainer.learning_rate", t.learning_rate)
    p += check(t.weight_decay >= 0, "trainer.weight_decay", t.weight_decay, ">= 0")
    p += check(0.0 <= t.warmup_ratio < 1.0, "trainer.warmup_ratio", t.warmup_ratio, "in [0, 1)")
    p += positive("trainer.batch_size", t.batch_size)
    p += check(
        t.accumulate_grad_batches >= 1,
        "trainer.accumulate_grad_batches",
        t.accumulate_grad_batches,
        ">= 1",
    )
    p += check(
        t.gradient_clip_val >= 0,
        "trainer.gradient_clip_val",
        t.gradient_clip_val,
        ">= 0 (0: no clipping)",
    )
    p += positive("trainer.max_length", t.max_length, "a positive number of tokens")
    p += check(0.0 <= t.val_fraction < 1.0, "trainer.val_fraction", t.val_fraction, "in [0, 1)")
    return p


def _devices_problems(devices: object) -> Problems:
    """Lightning's devices: a count >= 1, -1 or "auto" (all), a list of ids, or "0,1"."""
    if isinstance(devices, bool):
        ok = False
    elif isinstance(devices, int):
        ok = devices >= 1 or devices == -1
    elif isinstance(devices, str):
        text = devices.strip()
        ids = [x.strip() for x in text.split(",") if x.strip()]
        ok = text in ("auto", "-1") or (bool(ids) and all(x.isdigit() for x in ids))
        ok = ok and text not in ("0",)
    elif isinstance(devices, list):
        ok = bool(devices) and all(
            isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in devices
        )
    else:
        ok = False
    return check(
        ok,
        "trainer.devices",
        devices,
        'a count >= 1, -1 or "auto" (every device), or a list of device ids',
    )


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
    return p


def cache_rule(run: RunConfig, approach: Approach | None) -> Problems:
    folder = run.cache.dir
    if folder and Path(folder).expanduser().is_file():
        return [f"cache.dir={folder!r} is a file; give a folder (it is created if missing)"]
    return []


def uses_kind(approach: Approach | None, kind: str) -> bool:
    """Whether the approach uses slices of `kind` (an unknown one, already reported: no)."""
    return approach is not None and uses(approach, kind)


def bitsandbytes_installed() -> bool:
    return importlib.util.find_spec("bitsandbytes") is not None


RULES: tuple[Rule, ...] = (
    seed_rule,
    approach_rule,
    model_rule,
    lora_rule,
    quant_rule,
    retriever_rule,
    data_rule,
    metrics_rule,
    trainer_rule,
    logger_rule,
    generation_rule,
    cache_rule,
)
