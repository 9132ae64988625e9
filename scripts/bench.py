#!/usr/bin/env python
"""Benchmarks: ragft against the plain tools it wraps, side by side, in one run.

    python scripts/bench.py --quick          # every CPU row, small sizes (a few minutes)
    python scripts/bench.py                  # full sizes, plus the default compare sweep
    python scripts/bench.py --rows generation,bm25 --out /tmp/bench.json

Every row is the ratio of two figures measured in this run on the same inputs. The two
sides alternate (A B A B ...) over the repeats and each side's median is taken, so a noisy,
shared machine moves both alike. Writes the table as JSON (`--out`) and prints it.
Benchmarks are not tests: nothing here asserts a target; the table says which rows meet it.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ragft.records import CellResult

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@dataclass
class Row:
    name: str
    ragft: str  # what ragft's side measures
    against: str  # what the plain side measures
    unit: str
    target: float  # the ratio ragft / plain must reach (or stay under, with at_most)
    at_most: bool = False
    ragft_value: float | None = None
    plain_value: float | None = None
    ratio: float | None = None
    notes: dict = field(default_factory=dict)

    @property
    def meets(self) -> bool | None:
        if self.ratio is None:
            return None
        return self.ratio <= self.target if self.at_most else self.ratio >= self.target


@dataclass(frozen=True)
class Sizes:
    repeats: int
    train_steps: int
    useful_batches: int  # examples sampled = useful_batches x batch size
    gen_prompts: int
    gen_job: int  # prompts of the continuous-vs-static generation job
    queries: int
    cell: tuple[str, ...]  # overrides of the cached-cell row
    sweep: tuple[str, ...]  # overrides of the sweep row
    sweep_dir: str | None = None  # keep the sweep's folder there (default: a temporary one)


QUICK = Sizes(
    repeats=3,
    train_steps=6,
    useful_batches=2,
    gen_prompts=16,
    gen_job=48,
    queries=256,
    cell=("approach=finetune", "data.n_entities=4", "trainer.max_epochs=1"),
    sweep=("data.n_entities=2", "trainer.max_epochs=1", "generation.max_new_tokens=12"),
)
FULL = Sizes(
    repeats=3,
    train_steps=8,
    useful_batches=9,
    gen_prompts=32,
    gen_job=200,
    queries=1024,
    cell=("approach=finetune",),
    sweep=(),
)


def median_pair(
    repeats: int, a: Callable[[], float], b: Callable[[], float]
) -> tuple[float, float]:
    """Alternate a and b `repeats` times; the median of each."""
    xs, ys = [], []
    for _ in range(repeats):
        xs.append(a())
        ys.append(b())
    return statistics.median(xs), statistics.median(ys)


# ---- shared inputs -------------------------------------------------------------------------


class Inputs:
    """The default model, data, prompts and chunks, loaded once for every row."""

    def __init__(self, cache_dir: Path):
        from ragft import data, modeling, prompting, training_data
        from ragft.cache import Cache
        from ragft.config import DataConfig, ModelConfig, QuantConfig, RetrieverConfig
        from ragft.retrieval.chunking import chunk_documents
        from ragft.training.batches import tokenize_pairs

        self.cache = Cache(cache_dir)
        t0 = time.perf_counter()
        loaded = modeling.load(ModelConfig(), QuantConfig(), self.cache)
        self.model, self.tok = loaded.model, loaded.tokenizer
        self.load_seconds = time.perf_counter() - t0
        self.model_cache_hit = loaded.info.model_cache_hit
        self.ds = data.load(DataConfig())
        r = RetrieverConfig()
        self.chunks = chunk_documents(self.ds.corpus, r.chunk_size, r.chunk_overlap)

        def render(m: str) -> str:
            return prompting.render(self.tok, m)

        def complete(m: str, a: str) -> str:
            return prompting.completion(self.tok, m, a)

        pairs = training_data.qa_pairs(self.ds.train, render, complete)
        self.tokenized = tokenize_pairs(self.tok, pairs, 512)
        docs = training_data.cpt_pairs(self.ds.corpus, self.tok.eos_token)  # objective=qa+cpt
        self.tokenized_qa_cpt = self.tokenized + tokenize_pairs(self.tok, docs, 512)
        self.questions = [ex.question for ex in self.ds.eval]
        # search rows: the largest fictional KB (250 documents, ~560 chunks, 1000 questions);
        # on the default 8 documents a search is microseconds and measures only Python calls
        self.search_ds = data.load(DataConfig(n_entities=250))
        self.prompts = [render(prompting.user_message(q)) for q in self.questions]


# ---- rows ----------------------------------------------------------------------------------


def _fresh_lora(inp: Inputs):
    from ragft.training.adapters import attach_adapter
    from ragft.training.specs import AdapterSpec

    model = attach_adapter(copy.deepcopy(inp.model), AdapterSpec(), False, False)
    model.train()
    return model


def _plain_loop(inp: Inputs, steps: int, loss_fn, step_times: list | None = None) -> float:
    """A plain PyTorch + PEFT loop: ragft's batches, AdamW, cosine warm-up, clipping."""
    import torch
    from transformers import get_cosine_schedule_with_warmup

    from ragft.training.batches import LengthGroupedBatches, collate
    from ragft.training.specs import FitSpec

    t = FitSpec()
    lengths = [len(x["input_ids"]) for x in inp.tokenized]
    order = LengthGroupedBatches(lengths, t.batch_size, seed=0)._batches()[:steps]
    model = _fresh_lora(inp)
    started = time.perf_counter()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=t.learning_rate, weight_decay=t.weight_decay)
    sched = get_cosine_schedule_with_warmup(opt, int(t.warmup_ratio * steps), steps)
    tokens = 0
    for idx in order:
        batch = collate([inp.tokenized[i] for i in idx], inp.tok.pad_token_id)
        step_start = time.perf_counter()
        loss = loss_fn(model, batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, t.gradient_clip_val)
        opt.step()
        sched.step()
        opt.zero_grad()
        tokens += int(batch["attention_mask"].sum())
        if step_times is not None:
            step_times.append(time.perf_counter() - step_start)
    return tokens / (time.perf_counter() - started)


def _ragft_fit(inp: Inputs, steps: int, step_times: list | None = None) -> float:
    """ragft's training stage (Lightning Trainer + PEFT), `steps` optimiser steps."""
    import pytorch_lightning as pl

    from ragft.training.fit import fit_model
    from ragft.training.specs import AdapterSpec, FitSpec, TrainSpec

    class StepTimer(pl.Callback):  # batch start -> after the optimiser step
        def on_train_batch_start(self, *args) -> None:
            self.start = time.perf_counter()

        def on_train_batch_end(self, *args) -> None:
            if step_times is not None:
                step_times.append(time.perf_counter() - self.start)

    spec = TrainSpec({}, AdapterSpec(), None, fit=FitSpec(max_steps=steps, max_epochs=1), seed=0)
    with tempfile.TemporaryDirectory() as ckpt:
        model = _fresh_lora(inp)
        stats = fit_model(model, inp.tok, inp.tokenized, spec, Path(ckpt), None, [StepTimer()])
    return stats["train_tokens"] / stats["train_seconds"]


def row_training(inp: Inputs, s: Sizes) -> Row:
    from ragft.training.module import answer_loss

    row = Row(
        "training step",
        "Lightning + PEFT training stage (tokens/s)",
        "plain PyTorch + PEFT loop, same batches, loss, AdamW, schedule, clipping",
        "tokens/s",
        0.95,
    )
    ragft_steps: list[float] = []
    plain_steps: list[float] = []
    row.ragft_value, row.plain_value = median_pair(
        s.repeats,
        lambda: _ragft_fit(inp, s.train_steps, ragft_steps),
        lambda: _plain_loop(inp, s.train_steps, answer_loss, plain_steps),
    )
    # per step (forward, backward, optimiser) the two should match; the rest of the gap is
    # what a fit costs once (start-up, the resume checkpoint at the end)
    row.notes["median step seconds, ragft / plain"] = [
        round(statistics.median(ragft_steps), 3),
        round(statistics.median(plain_steps), 3),
    ]
    # what a plain loop usually does: the model's own loss, logits at every position
    hf = _plain_loop(inp, max(2, s.train_steps // 2), lambda m, b: m(**b).loss)
    row.notes["plain loop with the model's own loss (tokens/s, one run: indicative)"] = round(hf, 1)
    row.notes["steps per measurement"] = s.train_steps
    return row


def row_useful_tokens(inp: Inputs, s: Sizes, objective: str = "qa") -> Row:
    """Non-padding tokens/s of the training step: length-grouped vs random batches."""
    import torch

    from ragft.training.batches import LengthGroupedBatches, collate
    from ragft.training.module import answer_loss
    from ragft.training.specs import FitSpec

    bs = FitSpec().batch_size
    examples = list(inp.tokenized if objective == "qa" else inp.tokenized_qa_cpt)
    random.Random(0).shuffle(examples)  # a seeded sample: both sides train on exactly these
    examples = examples[: s.useful_batches * bs]
    lengths = [len(x["input_ids"]) for x in examples]
    grouped = LengthGroupedBatches(lengths, bs, seed=0)._batches()
    shuffled = [list(range(i, min(i + bs, len(lengths)))) for i in range(0, len(lengths), bs)]
    model = _fresh_lora(inp)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)

    def run(batches: list[list[int]]) -> float:
        useful, started = 0, time.perf_counter()
        for b in batches:
            batch = collate([examples[i] for i in b], inp.tok.pad_token_id)
            answer_loss(model, batch).backward()
            opt.step()
            opt.zero_grad()
            useful += int(batch["attention_mask"].sum())
        return useful / (time.perf_counter() - started)

    def padding_share(batches: list[list[int]]) -> float:
        padded = sum(max(lengths[i] for i in b) * len(b) for b in batches)
        return round(1 - sum(lengths) / padded, 3)

    row = Row(
        f"useful ({objective})",
        f"non-padding tokens/s, length-grouped batches (fictional-kb, objective={objective})",
        "the same with random batches",
        "tokens/s",
        1.3,
    )
    row.ragft_value, row.plain_value = median_pair(
        s.repeats, lambda: run(grouped), lambda: run(shuffled)
    )
    row.notes["padding share, length-grouped"] = padding_share(grouped)
    row.notes["padding share, random"] = padding_share(shuffled)
    row.notes["example length min/median/max"] = [
        min(lengths),
        int(statistics.median(lengths)),
        max(lengths),
    ]
    return row


def row_generation(inp: Inputs, s: Sizes) -> Row:
    import torch

    from ragft import generation
    from ragft.config import GenerationConfig, ModelConfig

    g, m = GenerationConfig(), ModelConfig()
    prompts = (inp.prompts * (s.gen_prompts // len(inp.prompts) + 1))[: s.gen_prompts]
    model = inp.model.eval()
    stops = generation._stop_ids(inp.tok)

    def ragft_side(batch: int = 16) -> float:
        t0 = time.perf_counter()
        generation.generate(
            model,
            inp.tok,
            prompts,
            max_new_tokens=g.max_new_tokens,
            batch_size=batch,
            max_input_tokens=m.max_input_tokens,
            progress=False,
        )
        return len(prompts) / (time.perf_counter() - t0)

    def plain_side() -> float:
        t0 = time.perf_counter()
        for p in prompts:
            ids = inp.tok(p, return_tensors="pt", add_special_tokens=False)
            with torch.inference_mode():
                model.generate(
                    **ids,
                    max_new_tokens=g.max_new_tokens,
                    do_sample=False,
                    pad_token_id=inp.tok.pad_token_id,
                    eos_token_id=stops,
                )
        return len(prompts) / (time.perf_counter() - t0)

    row = Row(
        "generation",
        "batched generation at batch 16 (answers/s)",
        "model.generate one prompt at a time",
        "answers/s",
        3.0,
    )
    row.ragft_value, row.plain_value = median_pair(max(1, s.repeats - 1), ragft_side, plain_side)
    row.notes["prompts"] = len(prompts)
    whole = statistics.median(ragft_side(len(prompts)) for _ in range(max(1, s.repeats - 1)))
    row.notes["ratio with all prompts in one batch"] = round(whole / row.plain_value, 2)
    return row


def row_first_line(inp: Inputs, s: Sizes) -> Row:
    """Answers that stop at the end of their first line (the only line kept) against answers
    that run to max_new_tokens or an end token: the same answers, fewer tokens."""
    from ragft import generation, retrieval
    from ragft.config import GenerationConfig, ModelConfig, RetrieverConfig
    from ragft.prompting import PromptBuilder, extract_answer

    g, m = GenerationConfig(), ModelConfig()
    model = inp.model.eval()
    retriever = retrieval.build(RetrieverConfig(), inp.ds.corpus, inp.cache)  # the default rag
    hits = retriever.search(inp.questions, RetrieverConfig().k)
    builder = PromptBuilder(inp.tok)
    with_context = [builder.prompt(q, h) for q, h in zip(inp.questions, hits, strict=True)]
    half = max(1, s.gen_prompts // 2)  # half closed-book (base), half with passages (rag)
    prompts = [*inp.prompts[:half], *with_context[:half]]
    runs: dict[bool, list] = {}

    def side(first_line: bool) -> float:
        t0 = time.perf_counter()
        runs[first_line], _ = generation.generate(
            model, inp.tok, prompts, max_new_tokens=g.max_new_tokens, batch_size=16,
            max_input_tokens=m.max_input_tokens, progress=False, first_line=first_line,
        )  # fmt: skip
        return len(prompts) / (time.perf_counter() - t0)

    row = Row("first_line", "answers ending at their first line (answers/s)",
              "answers run to max_new_tokens or an end token", "answers/s", 1.0)  # fmt: skip
    row.ragft_value, row.plain_value = median_pair(
        max(1, s.repeats - 1), lambda: side(True), lambda: side(False)
    )
    short, full = (sum(o.new_tokens for o in runs[k]) for k in (True, False))
    rag_short, rag_full = (sum(o.new_tokens for o in runs[k][half:]) for k in (True, False))
    same = sum(extract_answer(a.text) == extract_answer(b.text)
               for a, b in zip(runs[True], runs[False], strict=True))  # fmt: skip
    row.notes.update(prompts=len(prompts), new_tokens_first_line=short, new_tokens_before=full,
                     tokens_saved=round(1 - short / full, 3) if full else None,
                     rag_new_tokens=f"{rag_short} vs {rag_full}",
                     same_answers=f"{same}/{len(prompts)}")  # fmt: skip
    return row


def row_continuous(inp: Inputs, s: Sizes, n: int = 0, new_tokens: int = 24) -> Row:
    """Continuous batching (transformers' paged-cache manager) against static, length-sorted
    batches on one generation job: `n` distinct questions of the largest fictional KB,
    closed-book, greedy, both 16 rows at a time. With 24 new tokens and the first-line stop
    this is a large eval set; with 128 and no stop, dataset generation or a judge."""
    from ragft import continuous, generation, prompting
    from ragft.config import ModelConfig

    m, model, n = ModelConfig(), inp.model.eval(), n or s.gen_job
    questions = [ex.question for ex in inp.search_ds.eval][:n]
    prompts = [prompting.render(inp.tok, prompting.user_message(q)) for q in questions]
    first_line = new_tokens <= 24
    runs: dict[str, list] = {}

    def side(name: str, fn) -> float:
        t0 = time.perf_counter()
        runs[name], _ = fn(
            model, inp.tok, prompts, max_new_tokens=new_tokens, batch_size=16,
            max_input_tokens=m.max_input_tokens, progress=False, first_line=first_line,
        )  # fmt: skip
        return len(prompts) / (time.perf_counter() - t0)

    row = Row(
        f"continuous ({n}x{new_tokens})",
        f"continuous batching, {n} prompts, {new_tokens} new tokens (answers/s)",
        "static length-sorted batches of 16",
        "answers/s",
        1.0,
    )
    row.ragft_value, row.plain_value = median_pair(
        max(1, s.repeats - 1),
        lambda: side("continuous", continuous.generate_continuous),
        lambda: side("static", generation.generate),
    )
    same = sum(a.text == b.text for a, b in zip(runs["continuous"], runs["static"], strict=True))
    row.notes.update(
        prompts=len(prompts),
        first_line=first_line,
        same_answers=f"{same}/{len(prompts)}",
        new_tokens=f"{sum(o.new_tokens for o in runs['continuous'])} vs "
        f"{sum(o.new_tokens for o in runs['static'])}",
    )
    return row


def _mixed_instructions(inp: Inputs, max_length: int = 512) -> list[dict]:
    """Long instruction data of mixed length: each training question with 0, 2, 4 or 6
    passages of the corpus (a seeded draw) in its prompt, as RAFT-style prompts carry them."""
    from ragft import prompting
    from ragft.training.batches import tokenize_pairs
    from ragft.training_data import qa_pairs

    rng = random.Random(0)
    contexts = [rng.sample(inp.chunks, rng.choice([0, 2, 4, 6])) for _ in inp.ds.train]
    pairs = qa_pairs(
        inp.ds.train,
        lambda m: prompting.render(inp.tok, m),
        lambda m, a: prompting.completion(inp.tok, m, a),
        contexts,
    )
    return tokenize_pairs(inp.tok, pairs, max_length)


def row_packing(inp: Inputs, s: Sizes, data: str = "qa+cpt") -> Row:
    """Useful tokens/s of the training step: packed rows vs length-grouped padded batches
    (the same batches of the same examples, the same loss, AdamW step)."""
    import torch

    from ragft.training.batches import (
        LengthGroupedBatches,
        batch_tokens,
        collate,
        collate_packed,
    )
    from ragft.training.module import answer_loss, packing_problem
    from ragft.training.specs import FitSpec

    bs = FitSpec().batch_size
    pool = inp.tokenized_qa_cpt if data == "qa+cpt" else _mixed_instructions(inp)
    examples = list(pool)
    random.Random(0).shuffle(examples)  # a seeded sample: both sides train on exactly these
    examples = examples[: s.useful_batches * bs]
    lengths = [len(x["input_ids"]) for x in examples]
    grouped = LengthGroupedBatches(lengths, bs, seed=0)._batches()
    model = _fresh_lora(inp)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    pad = inp.tok.pad_token_id

    def run(make) -> float:
        useful, started = 0, time.perf_counter()
        for b in grouped:
            batch = make([examples[i] for i in b])
            answer_loss(model, batch).backward()
            opt.step()
            opt.zero_grad()
            useful += batch_tokens(batch)
        return useful / (time.perf_counter() - started)

    first = [examples[i] for i in grouped[0]]
    with torch.no_grad():  # the two sides train on the same loss
        a, b = answer_loss(model, collate_packed(first)), answer_loss(model, collate(first, pad))
    row = Row(
        f"packing ({data})",
        f"non-padding tokens/s, packed rows (fictional-kb, {data})",
        "the same batches length-grouped and padded",
        "tokens/s",
        1.0,
    )
    row.ragft_value, row.plain_value = median_pair(
        s.repeats, lambda: run(collate_packed), lambda: run(lambda rows: collate(rows, pad))
    )
    padded = sum(max(lengths[i] for i in b) * len(b) for b in grouped)
    row.notes["padding share, length-grouped"] = round(1 - sum(lengths) / padded, 3)
    row.notes["example length min/median/max"] = [
        min(lengths),
        int(statistics.median(lengths)),
        max(lengths),
    ]
    row.notes["packed row tokens (median)"] = int(
        statistics.median(sum(lengths[i] for i in b) for b in grouped)
    )
    row.notes["examples, batches of"] = [len(examples), bs]
    row.notes["first batch loss, packed / padded - 1"] = float(a / b - 1)
    row.notes["attention"] = inp.model.config._attn_implementation
    row.notes["packing check"] = packing_problem(model) or "ok"
    return row


def row_rag_eval(inp: Inputs, s: Sizes) -> Row:
    """ragft's RAG evaluation (dense search, fitted prompts, batched generation, answers)
    against a plain script doing the same retrieval, prompts and generation by hand."""
    import numpy as np
    import torch

    from ragft import answering, generation, prompting, retrieval
    from ragft.config import GenerationConfig, ModelConfig, RetrieverConfig

    g, m, r = GenerationConfig(), ModelConfig(), RetrieverConfig()
    ret = retrieval.build(r, inp.ds.corpus, inp.cache)
    examples, texts = list(inp.ds.eval), [c.text for c in ret.chunks]
    search = _raw_faiss(ret, texts)
    builder = prompting.PromptBuilder(inp.tok)
    stops = generation._stop_ids(inp.tok, inp.model)

    def ragft_side() -> float:
        t0 = time.perf_counter()
        hits = ret.search([ex.question for ex in examples], r.k)
        local = answering.local(inp.model, inp.tok, max_new_tokens=g.max_new_tokens,
                                 batch_size=g.batch_size, max_input_tokens=m.max_input_tokens,
                                 progress=False)  # fmt: skip
        generation.answer(local, builder.fitted, examples, hits, m.max_input_tokens)
        return len(examples) / (time.perf_counter() - t0)

    def plain_side() -> float:
        t0 = time.perf_counter()
        ids = search([ex.question for ex in examples], r.k)
        prompts = [prompting.render(inp.tok, prompting.user_message(
            ex.question, [ret.chunks[i] for i in row if i >= 0]))
            for ex, row in zip(examples, np.asarray(ids), strict=True)]  # fmt: skip
        for start in range(0, len(prompts), g.batch_size):
            batch = inp.tok(prompts[start : start + g.batch_size], return_tensors="pt",
                            padding=True, add_special_tokens=False)  # fmt: skip
            with torch.inference_mode():
                out = inp.model.generate(**batch, max_new_tokens=g.max_new_tokens,
                                         do_sample=False, pad_token_id=inp.tok.pad_token_id,
                                         eos_token_id=stops)  # fmt: skip
            new = out[:, batch["input_ids"].shape[1] :]
            [
                prompting.extract_answer(t)
                for t in inp.tok.batch_decode(new, skip_special_tokens=True)
            ]
        return len(examples) / (time.perf_counter() - t0)

    row = Row(
        "rag evaluation",
        "dense search + fitted prompts + generation.answer (answers/s)",
        "raw faiss search + the same prompts + model.generate in batches of 16, by hand",
        "answers/s",
        1.0,
    )
    row.ragft_value, row.plain_value = median_pair(max(1, s.repeats - 1), ragft_side, plain_side)
    row.notes["questions"], row.notes["k"] = len(examples), r.k
    return row


def _queries(inp: Inputs, n: int) -> list[str]:
    return [ex.question for ex in inp.search_ds.eval][:n]


def _search_row(inp: Inputs, s: Sizes, name: str, plain, row: Row, repeats: int) -> Row:
    """ragft's `retriever=name` search against `plain(queries, k, texts)` on the same chunks."""
    from ragft import retrieval
    from ragft.config import RetrieverConfig

    cfg = RetrieverConfig(name=name)
    ret = retrieval.build(cfg, inp.search_ds.corpus, inp.cache)
    queries = _queries(inp, s.queries)
    texts = [c.text for c in ret.chunks]
    search = plain(ret, texts)

    def qps(fn: Callable[[], object]) -> float:
        t0 = time.perf_counter()
        fn()
        return len(queries) / (time.perf_counter() - t0)

    row.ragft_value, row.plain_value = median_pair(
        repeats,
        lambda: qps(lambda: ret.search(queries, cfg.k)),
        lambda: qps(lambda: [[texts[i] for i in hit] for hit in search(queries, cfg.k)]),
    )
    row.notes["queries"], row.notes["chunks"] = len(queries), len(texts)
    return row


def _raw_faiss(ret, texts: list[str]):
    """The retriever's own sentence-transformers model + a raw flat inner-product index."""
    import faiss
    import numpy as np

    emb = ret.model.encode(texts, normalize_embeddings=True, convert_to_numpy=True)
    index = faiss.IndexFlatIP(emb.shape[1])
    index.add(np.ascontiguousarray(emb, dtype=np.float32))

    def search(queries: list[str], k: int):
        q = ret.model.encode(queries, batch_size=64, normalize_embeddings=True)
        return index.search(np.ascontiguousarray(q, dtype=np.float32), k)[1]

    return search


def _raw_bm25s(ret, texts: list[str]):
    import bm25s

    index = bm25s.BM25()
    index.index(bm25s.tokenize(texts, stopwords="en", show_progress=False), show_progress=False)

    def search(queries: list[str], k: int):
        q = bm25s.tokenize(queries, stopwords="en", return_ids=False, show_progress=False)
        return index.retrieve(q, k=k, show_progress=False)[0]

    return search


def row_dense(inp: Inputs, s: Sizes) -> Row:
    row = Row(
        "dense search",
        "DenseRetriever.search (encode + FAISS + passages), queries/s",
        "sentence-transformers encode + raw faiss.IndexFlatIP on the same vectors",
        "queries/s",
        0.9,
    )
    return _search_row(inp, s, "dense", _raw_faiss, row, s.repeats)


def row_bm25(inp: Inputs, s: Sizes) -> Row:
    row = Row(
        "bm25 search",
        "BM25Retriever.search (tokenise + bm25s + passages), queries/s",
        "raw bm25s tokenize + retrieve on the same chunks",
        "queries/s",
        0.9,
    )
    return _search_row(inp, s, "bm25", _raw_bm25s, row, 21)  # milliseconds each: more repeats


def _run_py(args: list[str], env: dict, cwd: Path = ROOT) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, str(ROOT / "run.py"), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"run.py {' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    return time.perf_counter() - t0


def _primed_cache(inp: Inputs, work: Path) -> dict:
    """An empty cache that already holds the converted default model (a sweep's usual state)."""
    cache = work / "cache"
    (cache / "model").mkdir(parents=True)
    for entry in (inp.cache.root / "model").iterdir():
        if entry.is_dir():
            (cache / "model" / entry.name).symlink_to(entry)
    return dict(os.environ, RAGFT_CACHE_DIR=str(cache))


def _result(path: Path) -> CellResult:
    """A cell's results.json, read through its record (never by string keys)."""
    from ragft.records import CellResult

    return CellResult.from_json(json.loads(path.read_text()))


def row_cached_cell(inp: Inputs, s: Sizes) -> Row:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        env = _primed_cache(inp, work)
        args = [*s.cell, "logger=none"]
        first = _run_py([*args, f"hydra.run.dir={work / 'a'}"], env)
        second = _run_py([*args, f"hydra.run.dir={work / 'b'}"], env)
        replay = _result(work / "b" / "results.json")
        same = (work / "a" / "predictions.jsonl").read_text() == (
            work / "b" / "predictions.jsonl"
        ).read_text()
    row = Row(
        "cached cell",
        "second identical `run.py` (the finished cell is replayed), seconds",
        "the first (data, model load, training, generation)",
        "x faster",
        20.0,
    )
    row.ragft_value, row.plain_value, row.ratio = second, first, first / second
    row.notes["cell"] = " ".join(args)
    row.notes["same predictions"] = same
    row.notes["replay seconds inside run.py"] = replay.cost.replay_seconds
    return row


def row_sweep(inp: Inputs, s: Sizes) -> Row:
    """The compare sweep's wall time against the sum of its stages' own seconds."""
    stage_keys = (
        "data_seconds",
        "index_build_seconds",
        "model_load_seconds",
        "train_seconds",
        "retrieve_seconds",
        "generate_seconds",
    )
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        env = dict(os.environ, RAGFT_CACHE_DIR=str(work / "cache"))  # cold: conversion too
        sweep_dir = Path(s.sweep_dir) if s.sweep_dir else work / "sweep"
        wall = _run_py(["-m", "experiment=compare", *s.sweep, f"hydra.sweep.dir={sweep_dir}"], env)
        cells = [_result(p) for p in sorted(sweep_dir.glob("*/results.json"))]
    # train_seconds as the cell recorded it (0 on a cache hit): cached stages count 0.
    flat = {c.approach: c.cost.to_json() for c in cells}
    stages = {a: {k: figures.get(k) or 0.0 for k in stage_keys} for a, figures in flat.items()}
    total = sum(sum(v.values()) for v in stages.values())
    row = Row(
        "sweep",
        "`run.py -m experiment=compare` wall time, seconds",
        "the sum of its unique stages' seconds (data, index, model load, train, retrieve, "
        "generate; cached stages count 0)",
        "x",
        1.2,
        at_most=True,
    )
    row.ragft_value, row.plain_value, row.ratio = wall, total, wall / total
    row.notes["overrides"] = " ".join(s.sweep) or "(the default)"
    row.notes["stages"] = {a: round(sum(v.values()), 1) for a, v in stages.items()}
    row.notes["peak memory MB (max over cells)"] = max(
        c["cost"].get("peak_memory_mb", 0) for c in cells
    )
    return row


ROWS: dict[str, Callable[[Inputs, Sizes], Row]] = {
    "training": row_training,
    "useful_tokens": row_useful_tokens,
    "useful_tokens_cpt": lambda inp, s: row_useful_tokens(inp, s, "qa+cpt"),
    "generation": row_generation,
    "first_line": row_first_line,
    "continuous": row_continuous,
    "continuous_long": lambda inp, s: row_continuous(inp, s, n=s.gen_job // 4, new_tokens=128),
    "rag_eval": row_rag_eval,
    "packing_cpt": lambda inp, s: row_packing(inp, s, "qa+cpt"),
    "packing_mixed": lambda inp, s: row_packing(inp, s, "mixed"),
    "dense": row_dense,
    "bm25": row_bm25,
    "cached_cell": row_cached_cell,
    "sweep": row_sweep,
}


def model_load_times(inp: Inputs) -> dict:
    """Loading the default model cold (GGUF conversion) and from the converted cache."""
    from ragft import modeling
    from ragft.cache import Cache
    from ragft.config import ModelConfig, QuantConfig

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        modeling.load(ModelConfig(), QuantConfig(), Cache(tmp))
        cold = time.perf_counter() - t0
        t0 = time.perf_counter()
        modeling.load(ModelConfig(), QuantConfig(), Cache(tmp))
        warm = time.perf_counter() - t0
    return {"cold_seconds": round(cold, 2), "from_cache_seconds": round(warm, 2)}


# ---- output --------------------------------------------------------------------------------


def table(rows: list[Row]) -> str:
    lines = [
        f"{'row':<16} {'ragft':>10} {'plain':>10} {'ratio':>8} {'target':>8}  meets  unit",
        "-" * 72,
    ]
    for r in rows:
        if r.ratio is None and r.ragft_value and r.plain_value:
            r.ratio = r.ragft_value / r.plain_value
        target = f"{'<=' if r.at_most else '>='}{r.target:g}"
        meets = {True: "yes", False: "NO", None: "-"}[r.meets]
        lines.append(
            f"{r.name:<16} {_fmt(r.ragft_value):>10} {_fmt(r.plain_value):>10} "
            f"{_fmt(r.ratio, 2):>8} {target:>8}  {meets:<5}  {r.unit}"
        )
    return "\n".join(lines)


def _fmt(x: float | None, digits: int = 1) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def machine() -> dict:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        info = Path("/proc/cpuinfo").read_text().splitlines()
        cpu = next(ln.split(":", 1)[1].strip() for ln in info if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "cuda": torch.cuda.is_available(),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes: a few minutes on a CPU")
    ap.add_argument("--rows", default=",".join(ROWS), help=f"comma list of {', '.join(ROWS)}")
    ap.add_argument("--out", default=None, help="JSON file (default: bench-<mode>.json here)")
    ap.add_argument("--sweep-dir", default=None, help="keep the sweep row's sweep folder here")
    args = ap.parse_args()
    names = [n.strip() for n in args.rows.split(",") if n.strip()]
    unknown = [n for n in names if n not in ROWS]
    if unknown:
        ap.error(f"unknown rows {unknown}; choose from {', '.join(ROWS)}")
    sizes = replace(QUICK if args.quick else FULL, sweep_dir=args.sweep_dir)
    mode = "quick" if args.quick else "full"
    started = time.perf_counter()

    from ragft.cache import default_cache_dir

    inp = Inputs(default_cache_dir())
    rows = []
    for name in names:
        t0 = time.perf_counter()
        print(f"[bench] {name} ...", file=sys.stderr, flush=True)
        row = ROWS[name](inp, sizes)
        row.notes["row seconds"] = round(time.perf_counter() - t0, 1)
        rows.append(row)
        print(table([row]).splitlines()[-1], file=sys.stderr, flush=True)
    extra = {"model load": model_load_times(inp)}
    out = Path(args.out or f"bench-{mode}.json")
    report = {
        "mode": mode,
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "machine": machine(),
        "rows": [{**r.__dict__, "meets": r.meets} for r in rows],
        "extra": extra,
        "seconds": round(time.perf_counter() - started, 1),
    }
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(report, indent=1, default=str))
    tmp.replace(out)
    print(table(rows))
    for r in rows:
        for k, v in r.notes.items():
            print(f"  {r.name}: {k}: {v}")
    print(f"model load: {extra['model load']}")
    print(f"wrote {out} ({report['seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
