"""A training stopped after an epoch and resumed from its checkpoint sees the same batches,
in the same order, and ends with the same weights as one that ran straight through."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch

from ragft.training import AdapterSpec, FitSpec, TrainSpec
from ragft.training.adapters import attach_adapter
from ragft.training.fit import fit_model

from ..helpers import micro_llama


class Stop(Exception):
    """Stands for a kill right after an epoch's checkpoint was written."""


class Recorder(pl.Callback):
    def __init__(self, stop_at_epoch: int | None = None):
        self.batches: list[tuple[int, str]] = []
        self.stop_at_epoch = stop_at_epoch

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        if trainer.current_epoch == self.stop_at_epoch:
            raise Stop

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        digest = hashlib.sha1(batch["input_ids"].numpy().tobytes()).hexdigest()[:12]
        self.batches.append((trainer.current_epoch, digest))


class Tok:
    pad_token_id = 0


def fit(ckpt_dir: Path, recorder: Recorder) -> dict[str, torch.Tensor]:
    spec = TrainSpec(
        fingerprint={},
        adapter=AdapterSpec(r=4, alpha=8),
        quant=None,
        fit=FitSpec(max_epochs=4, batch_size=2, learning_rate=1e-2),
        seed=0,
    )
    pl.seed_everything(0, verbose=False)
    model = attach_adapter(micro_llama(), spec.adapter, False, False)
    g = torch.Generator().manual_seed(1)
    tokenized = []
    for n in range(10):
        ids = torch.randint(1, 64, (4 + n % 5,), generator=g).tolist()
        tokenized.append({"input_ids": ids, "labels": [-100, -100, *ids[2:]]})
    fit_model(model, Tok(), tokenized, spec, ckpt_dir, None, [recorder])
    return {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}


@pytest.mark.measures("fault")
@pytest.mark.slow
def test_resumed_training_equals_an_uninterrupted_one(tmp_path, tally):
    straight = Recorder()
    expected = fit(tmp_path / "a", straight)

    first = Recorder(stop_at_epoch=2)
    with pytest.raises(Stop):
        fit(tmp_path / "b", first)
    from tqdm import tqdm

    for bar in list(getattr(tqdm, "_instances", ())):  # the stopped fit's progress bar
        bar.close()
    assert (tmp_path / "b" / "last.ckpt").is_file()
    resumed = Recorder()
    got = fit(tmp_path / "b", resumed)

    assert first.batches + resumed.batches == straight.batches
    for name, value in expected.items():
        assert torch.equal(got[name], value), name
    tally.fault()
