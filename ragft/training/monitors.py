"""The Trainer's own callbacks: its progress display and, when it has loggers, the learning
rate and throughput monitors.

- Progress: Lightning's tqdm bar on a terminal; in a log (stdout, where Lightning writes its
  bar, is not a TTY: SLURM, submitit) `LineProgressBar`, a plain line per tenth of an epoch
  or per `progress.LINE_SECONDS`, with the loss.
- `LearningRateMonitor`: the scheduler's rate every step, as `train/lr`.
- `ThroughputMonitor`: `train/time`, `train/samples` (examples, also those of a packed row),
  `train/lengths` (answer-and-prompt tokens, padding left out) every step and, once
  `THROUGHPUT_WINDOW` steps are in, their rolling rates (`train/device/samples_per_sec`,
  `train/device/items_per_sec`: tokens/s). The FLOPs per batch are unknown
  (`CausalLMModule.flops_per_batch` is None): no MFU.

Both monitors log into the trainer's loggers (the cell's CSV and, when on, its W&B run).
"""

from __future__ import annotations

import sys
from typing import Any

import pytorch_lightning as pl

from ragft import progress
from ragft.training.batches import batch_examples, batch_tokens

THROUGHPUT_WINDOW = 10  # steps a rolling throughput rate averages over
LR_NAME = "train/lr"  # the scheduler's name: LearningRateMonitor logs it under this key


def callbacks(has_logger: bool) -> list[pl.Callback]:
    """The progress display, and the two monitors when there is a logger to log into."""
    out: list[pl.Callback] = [progress_callback()]
    if has_logger:  # LearningRateMonitor refuses a Trainer without a logger
        out.append(pl.callbacks.LearningRateMonitor(logging_interval="step"))
        out.append(
            pl.callbacks.ThroughputMonitor(
                batch_size_fn=batch_examples,  # padded or packed (one row) batches alike
                length_fn=batch_tokens,
                window_size=THROUGHPUT_WINDOW,
            )
        )
    return out


def progress_callback() -> pl.Callback:
    """tqdm's bar where stdout redraws in place, plain lines where it is a log."""
    if progress.interactive(sys.stdout):
        return pl.callbacks.TQDMProgressBar(refresh_rate=1)
    return LineProgressBar()


class LineProgressBar(pl.callbacks.ProgressBar):
    """Training progress as plain lines (`progress.LineBar`) on stdout, one bar per epoch."""

    def __init__(self) -> None:
        super().__init__()
        self._enabled = True
        self._bar: progress.LineBar | None = None

    def disable(self) -> None:  # Lightning calls this on ranks other than 0
        self._enabled = False

    def enable(self) -> None:
        self._enabled = True

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._close()
        if self._enabled:
            total = self.total_train_batches
            epochs = trainer.max_epochs if trainer.max_epochs and trainer.max_epochs > 0 else None
            desc = f"train epoch {trainer.current_epoch + 1}" + (f"/{epochs}" if epochs else "")
            self._bar = progress.LineBar(
                int(total) if total != float("inf") else None, desc, "batch", sys.stdout
            )

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any,
        batch_idx: int,
    ) -> None:  # fmt: skip
        if self._bar is not None:
            shown = self.get_metrics(trainer, pl_module)
            self._bar.set_postfix({k: v for k, v in shown.items() if k != "v_num"})
            self._bar.update(1)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._close()

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._close()

    def _close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
