"""The training stage's plain, typed arguments: what determines a trained adapter.

`spec_for` (in `ragft.training`) builds a `TrainSpec` from the run's config; nothing below it
reads config. A spec owns its JSON (the ranks ragft starts read it back) and the parts of
the adapter's cache key. Those key parts are, byte for byte, the ones the cache has always
used (the config slices `lora`, `quant` and `trainer` as dicts), so adapters trained before
these records existed are still found.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ragft.cache import texts_sha256
from ragft.records import ModelSource, QuantSpec, TrainStats
from ragft.training_data import TrainPair

FORMAT = 1  # bump when training changes in a way that makes old cached adapters stale


@dataclass(frozen=True)
class AdapterSpec:
    """A LoRA adapter on the frozen base model (with a QuantSpec: QLoRA)."""

    r: int = 16
    alpha: int = 32
    dropout: float = 0.0
    target_modules: str | tuple[str, ...] = "all-linear"  # or module leaf names

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AdapterSpec:
        targets = data["target_modules"]
        targets = targets if isinstance(targets, str) else tuple(targets)
        return cls(**dict(data, target_modules=targets))


@dataclass(frozen=True)
class DeviceSpec:
    """Where the ranks run, as Lightning's Trainer takes it."""

    accelerator: str = "cpu"
    devices: Any = 1  # a count, a list of ids, "0,1", "auto" or -1
    num_nodes: int = 1
    strategy: str = "auto"
    precision: str = "32-true"  # or auto (see fit.resolve_precision)
    preset: str = "cpu"  # the trainer preset's name, for messages (not part of the key)


@dataclass(frozen=True)
class FitSpec:
    """What the optimiser does, on what batches."""

    max_epochs: int = 4
    max_steps: int = -1
    learning_rate: float = 3e-3
    weight_decay: float = 0.0
    warmup_ratio: float = 0.1
    batch_size: int = 8
    accumulate_grad_batches: int = 1
    gradient_clip_val: float = 1.0
    gradient_checkpointing: bool = False
    max_length: int = 512  # tokens per example; prompts are cut from the left
    val_fraction: float = 0.0
    packing: bool = False  # each batch one row, no padding (batches.collate_packed)


@dataclass(frozen=True)
class Inert:
    """Values the config carried that change nothing in this training but have always been
    part of the adapter's cache key: the LoRA numbers under full fine-tuning, the
    bitsandbytes options without quantisation. Kept so that keys stay byte-identical."""

    lora: AdapterSpec = field(default_factory=AdapterSpec)
    quant_compute_dtype: str = "auto"
    quant_double_quant: bool = True


@dataclass(frozen=True)
class TrainSpec:
    """Everything besides the data that determines a trained adapter (or full weights)."""

    fingerprint: dict[str, Any]  # the base model's identity (ModelInfo.fingerprint)
    adapter: AdapterSpec | None  # None: full fine-tuning, every weight trainable
    quant: QuantSpec | None  # None: full-precision base weights
    devices: DeviceSpec = field(default_factory=DeviceSpec)
    fit: FitSpec = field(default_factory=FitSpec)
    seed: int = 0
    model: ModelSource | None = None  # to reload the model in ranks ragft starts (not hashed)
    inert: Inert = field(default_factory=Inert)

    @property
    def kind(self) -> str:
        """What training produces, for messages."""
        if self.adapter is None:
            return "full fine-tune"
        return "QLoRA adapter" if self.quant is not None else "LoRA adapter"

    def key_parts(self, pairs: Sequence[TrainPair]) -> dict[str, Any]:
        """The adapter's cache key parts (the same dict as before these records existed)."""
        lora = self.adapter or self.inert.lora
        quant = self.quant or QuantSpec(
            "none", self.inert.quant_compute_dtype, self.inert.quant_double_quant
        )
        devices = {k: v for k, v in asdict(self.devices).items() if k != "preset"}
        fit = asdict(self.fit)
        if not self.fit.packing:  # keys from before packing existed stay byte-identical
            del fit["packing"]
        texts = [t for p in pairs for t in (p.prompt, p.completion)]
        return {
            "model": self.fingerprint,
            "lora": {"name": "default" if self.adapter else "none", **asdict(lora)},
            "quant": {
                "name": quant.kind,
                "compute_dtype": quant.compute_dtype,
                "double_quant": quant.double_quant,
            },  # fmt: skip
            "trainer": {**devices, **fit},
            "seed": self.seed,
            "pairs": texts_sha256(texts),
            "n_pairs": len(pairs),
            "format": FORMAT,
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "fingerprint": self.fingerprint,
            "adapter": asdict(self.adapter) if self.adapter else None,
            "quant": self.quant.to_json() if self.quant else None,
            "devices": asdict(self.devices),
            "fit": asdict(self.fit),
            "seed": self.seed,
            "model": self.model.to_json() if self.model else None,
            "inert": asdict(self.inert),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TrainSpec:
        inert = dict(data["inert"])
        return cls(
            fingerprint=data["fingerprint"],
            adapter=AdapterSpec.from_json(data["adapter"]) if data["adapter"] else None,
            quant=QuantSpec.from_json(data["quant"]),
            devices=DeviceSpec(**data["devices"]),
            fit=FitSpec(**data["fit"]),
            seed=data["seed"],
            model=ModelSource.from_json(data["model"]),
            inert=Inert(**dict(inert, lora=AdapterSpec.from_json(inert["lora"]))),
        )


@dataclass(frozen=True)
class Trained:
    """The training stage's output. In a rank other than 0 of ranks started outside ragft
    (SLURM tasks, torchrun), `model` and `entry` are None: only rank 0 evaluates."""

    model: Any  # ready to generate (a PEFT model for LoRA), in eval mode
    stats: TrainStats
    entry: Path | None  # the adapter's (or full weights') cache entry
