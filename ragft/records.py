"""The typed records a cell's stages hand on, and `CellResult`, the record results.json holds.

Each record owns its JSON: `to_json()` gives exactly the fields results.json has always had
(cost figures flat under "cost", with the index figures prefixed `index_`), and
`from_json()` reads them back, tolerating fields a cell did not record (a failed cell, a cell
from before a figure existed). The report reads results.json through `CellResult.from_json`
and nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, TypeVar

R = TypeVar("R")


def _pick(cls: type[R], data: Mapping[str, Any], prefix: str = "") -> R | None:
    """`cls` from the `prefix`-ed keys of `data` (missing ones None), or None if none is there."""
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    if not any(prefix + n in data for n in names):
        return None
    return cls(**{n: data.get(prefix + n) for n in names})


def _flat(record: Any, prefix: str = "") -> dict[str, Any]:
    """The record's fields as `prefix`-ed keys, leaving out the ones it did not record (None)."""
    if record is None:
        return {}
    return {
        prefix + f.name: getattr(record, f.name)
        for f in fields(record)
        if getattr(record, f.name) is not None
    }


@dataclass(frozen=True)
class ModelInfo:
    """What was loaded: enough to tell two models apart and to say where it ran."""

    fingerprint: dict[str, Any]  # decides the identity of adapters trained on it
    model_cache_hit: bool
    device: str | None = None
    parameters: int | None = None
    gguf_file: str | None = None  # source=package-gguf only

    def to_json(self) -> dict[str, Any]:
        return _flat(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> ModelInfo | None:
        return _pick(cls, data) if data else None


@dataclass(frozen=True)
class QuantSpec:
    """bitsandbytes quantisation of the base weights; where a spec is optional, None means
    full-precision weights."""

    kind: str  # int8 | nf4
    compute_dtype: str = "auto"  # nf4: auto = bfloat16 on a GPU, float32 on the CPU
    double_quant: bool = True  # nf4 only

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> QuantSpec | None:
        return cls(**data) if data else None


@dataclass(frozen=True)
class ModelSource:
    """What `from_pretrained` reads for a model: a resolved local folder (a cache entry) or a
    hub id, and how. Enough for another process to load the same model without any config."""

    path: str
    dtype: str = "float32"  # auto = bfloat16 on a GPU, float32 on the CPU
    trust_remote_code: bool = False
    revision: str | None = None  # hub models only

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> ModelSource | None:
        return cls(**data) if data else None


@dataclass(frozen=True)
class LoadedModel:
    """The model stage's output: a model in eval mode on its device, and its tokenizer."""

    model: Any
    tokenizer: Any
    info: ModelInfo
    load_seconds: float
    source: ModelSource | None = None  # where it was loaded from (training workers reload it)


@dataclass(frozen=True)
class IndexStats:
    """Build figures of a retriever's index (in cost as index_build_seconds, ...)."""

    build_seconds: float | None = None  # chunking included
    index_bytes: int | None = None  # size on disk of its cache entries
    n_chunks: int | None = None
    cache_hit: float | None = None  # 1.0 when the index came from the cache, else 0.0


@dataclass(frozen=True)
class TrainStats:
    """What training cost and did (in cost as train_seconds, train_steps, ...)."""

    train_seconds: float | None = None  # 0 when the adapter came from the cache
    train_tokens: int | None = None
    train_tokens_per_s: float | None = None
    train_world_size: int | None = None
    train_strategy: str | None = None
    train_precision: str | None = None
    train_steps: int | None = None
    train_examples: int | None = None
    trainable_parameters: int | None = None
    total_parameters: int | None = None
    first_loss: float | None = None
    final_loss: float | None = None
    resumed: bool | None = None
    train_cache_hit: bool | None = None
    adapter_mb: float | None = None
    train_seconds_saved: float | None = None  # a cache hit: what training the adapter took

    def to_json(self) -> dict[str, Any]:
        return _flat(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TrainStats:
        return _pick(cls, data) or cls()

    @property
    def seconds_spent(self) -> float | None:
        """Time spent training this adapter, also when this cell reused it from the cache."""
        if self.train_cache_hit and self.train_seconds_saved is not None:
            return float(self.train_seconds_saved)
        return None if self.train_seconds is None else float(self.train_seconds)


@dataclass(frozen=True)
class GenerationStats:
    """What answering the eval questions cost."""

    generate_seconds: float | None = None
    generated_tokens: int | None = None
    generate_tokens_per_s: float | None = None
    seconds_per_question: float | None = None
    generate_batch_size: int | None = None
    # prompt tokens per question (instructions, retrieved passages and question), the context
    # an answer costs; the report's `prompt_tokens_per_question`
    prompt_tokens_per_question: float | None = None


@dataclass(frozen=True)
class Cost:
    """A cell's cost figures: seconds per stage, sizes, peak memory. Flat in results.json."""

    data_seconds: float | None = None
    index: IndexStats | None = None
    model_load_seconds: float | None = None
    train: TrainStats | None = None
    retrieve_seconds: float | None = None
    generation: GenerationStats | None = None
    peak_memory_mb: float | None = None
    total_seconds: float | None = None
    cell_cache_hit: bool | None = None  # replayed from the finished-cell cache
    replay_seconds: float | None = None

    _NESTED = {"index": (IndexStats, "index_"), "train": (TrainStats, ""),
               "generation": (GenerationStats, "")}  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in self._NESTED:
                out.update(_flat(value, self._NESTED[f.name][1]))
            elif value is not None:
                out[f.name] = value
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Cost:
        data = data or {}
        kwargs: dict[str, Any] = {}
        for f in fields(cls):
            if f.name in cls._NESTED:
                kind, prefix = cls._NESTED[f.name]
                kwargs[f.name] = _pick(kind, data, prefix)
            else:
                kwargs[f.name] = data.get(f.name)
        return cls(**kwargs)

    @property
    def train_seconds(self) -> float | None:
        """Time spent training the cell's adapter, also when it was reused from the cache."""
        return self.train.seconds_spent if self.train else None

    def figure(self, key: str) -> Any:
        """One figure by its results.json name (`adapter_mb`, `seconds_per_question`, ...)."""
        return self.to_json().get(key)


@dataclass(frozen=True)
class CellResult:
    """One cell's outcome: what results.json holds, written and read only through this type.

    `status` is "ok" or "failed" (a sweep cell that raised; `error` says why). Scores are
    fractions in [0, 1].
    """

    status: str
    name: str
    approach: str | None
    config: dict[str, Any]
    group: str | None = None
    scores: dict[str, float] = field(default_factory=dict)
    scores_by_phrasing: dict[str, dict[str, float]] = field(default_factory=dict)
    primary_metric: str | None = None
    n_eval: int | None = None
    n_train: int | None = None
    cost: Cost = field(default_factory=Cost)
    adapter: str | None = None  # the cell's own copy of the trained adapter
    adapter_entry: str | None = None  # the cache entry it came from
    model: ModelInfo | None = None
    versions: dict[str, str] = field(default_factory=dict)
    git_sha: str | None = None
    reused_cell: str | None = None  # the finished-cell cache entry a replay came from
    error: str | None = None
    # how the scores were made: judge counts, abstention and control set sizes (evaluation.py)
    evaluation: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_json(self) -> dict[str, Any]:
        if not self.ok:
            return {"status": self.status, "approach": self.approach, "name": self.name,
                    "error": self.error, "config": self.config}  # fmt: skip
        out = {
            "status": self.status,
            "approach": self.approach,
            "name": self.name,
            "group": self.group,
            "scores": self.scores,
            "scores_by_phrasing": self.scores_by_phrasing,
            "evaluation": self.evaluation,
            "primary_metric": self.primary_metric,
            "n_eval": self.n_eval,
            "n_train": self.n_train,
            "cost": self.cost.to_json(),
            "adapter": self.adapter,
            "adapter_entry": self.adapter_entry,
            "model": self.model.to_json() if self.model else None,
            "config": self.config,
            "versions": self.versions,
            "git_sha": self.git_sha,
        }
        if self.reused_cell is not None:
            out["reused_cell"] = self.reused_cell
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CellResult:
        """Read results.json's dict; a file without "status" is an ok cell (older files)."""
        return cls(
            status=str(data.get("status") or "ok"),
            name=str(data.get("name") or ""),
            approach=data.get("approach"),
            config=dict(data.get("config") or {}),
            group=data.get("group"),
            scores={k: float(v) for k, v in (data.get("scores") or {}).items()},
            scores_by_phrasing=dict(data.get("scores_by_phrasing") or {}),
            primary_metric=data.get("primary_metric"),
            n_eval=data.get("n_eval"),
            n_train=data.get("n_train"),
            cost=Cost.from_json(data.get("cost")),
            adapter=data.get("adapter"),
            adapter_entry=data.get("adapter_entry"),
            model=ModelInfo.from_json(data.get("model")),
            versions=dict(data.get("versions") or {}),
            git_sha=data.get("git_sha"),
            reused_cell=data.get("reused_cell"),
            error=None if data.get("error") is None else str(data.get("error")),
            evaluation=dict(data.get("evaluation") or {}),
        )
