"""The config schema and its validation: one rule per slice, one error listing every problem,
the cache identity of a cell, and the option names against the dispatch dicts."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from ragft import config, validation
from ragft.approaches import APPROACHES
from ragft.cache import hash_key
from ragft.config import RunConfig, cell_identity
from ragft.errors import ConfigError
from ragft.validation import validate

ROOT = Path(__file__).resolve().parents[2]
CONF = ROOT / "ragft" / "conf"


def make(**keys: object) -> RunConfig:
    """A validated config: the schema defaults, retriever=bm25, plus dotted keys (a__b = a.b)."""
    cfg = OmegaConf.structured(RunConfig)
    OmegaConf.update(cfg, "retriever.name", "bm25")
    for key, value in keys.items():
        OmegaConf.update(cfg, key.replace("__", "."), value, merge=False)
    return validate(cfg)


def problems(**keys: object) -> list[str]:
    with pytest.raises(ConfigError) as e:
        make(**keys)
    return e.value.problems


# ---- the cache identity: byte-identical to the one before the redesign

# hash_key({"config": cell_identity(validate(compose(overrides))), "format": 1}). Cache keys
# change only on purpose: last recomputed when generation.backend / batching,
# model.inference_dtype and trainer.packing came in (with CELL_FORMAT 2, the first-line stop
# and the prompt budget, every earlier finished cell was stale already); the pairs below must
# stay equal whatever changes.
IDENTITY_HASHES = {
    "approach=base": "8dcd72bbbd7c572e96b65840b90e96a6",
    "approach=rag": "6ac2253bb47c9a3eac81f19d1fdeea80",
    "approach=finetune": "4bd68cfed6c05b38162bd68958e87ae8",
    "approach=hybrid": "c729967a0d8faa1156e2aa8fd3949229",
    "approach=raft": "17ced3261b4f3593bc4cabaeb3129905",
    "approach=raft retriever=bm25 lora.r=8": "17f2d5790cdf4f2afaab961e6e40e9fa",
    "approach=finetune lora=none": "9708737995da02ca999dbac1a18a7f87",
    "approach=finetune quant=nf4": "82599a04fd5ba4986db6cd5b14f9e018",
    "approach=rag retriever=hybrid retriever.k=3": "0d801f346e6f013046a7434f5963c47c",
    "model=tiny-llama approach=hybrid objective=qa+cpt": "54bbe1feb5f2a1012d03827915c2ee92",
    # a retriever means nothing to base: the same computation as approach=base
    "approach=base retriever=bm25": "8dcd72bbbd7c572e96b65840b90e96a6",
    # the data's content is fingerprinted, not its config: the same as approach=finetune
    "data=qa-jsonl data.path={qa} approach=finetune": "4bd68cfed6c05b38162bd68958e87ae8",
}


@pytest.fixture(scope="module")
def composed():
    config.register()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        yield lambda overrides: compose("config", overrides=overrides)


@pytest.mark.parametrize("variant", list(IDENTITY_HASHES))
def test_cell_identity_is_unchanged(composed, variant, tmp_path, monkeypatch):
    monkeypatch.setattr(
        validation.checks, "bitsandbytes_installed", lambda: True
    )  # quant=nf4 anywhere
    qa = tmp_path / "qa.jsonl"
    qa.write_text('{"id": "q1", "question": "Who?", "answers": ["Me"]}\n')
    run = validate(composed(variant.format(qa=qa).split()))
    assert hash_key({"config": cell_identity(run), "format": 1}) == IDENTITY_HASHES[variant]


def test_identity_drops_the_slices_an_approach_does_not_use():
    base = cell_identity(make(approach__name="base"))
    assert {"lora", "trainer", "objective", "retriever", "logger", "cache", "data"}.isdisjoint(base)
    finetune = cell_identity(make(approach__name="finetune"))
    assert "retriever" not in finetune and "name" not in finetune["trainer"]
    assert cell_identity(make(approach__name="raft"))["approach"] == {
        "name": "raft",
        "raft_gold_share": 0.8,
        "raft_distractors": 1,
    }
    assert cell_identity(make(approach__name="rag", lora__r=4)) == cell_identity(make())


# ---- the names the schema allows are the dispatch dicts' keys and the conf/ group files


def _group_names(group: str) -> set[str]:
    """The option files of a group; each sets `name` to its own stem."""
    names = set()
    for f in (CONF / group).glob("*.yaml"):
        body = yaml.safe_load(f.read_text())
        assert body.get(group, body)["name"] == f.stem, f  # raft.yaml is @package _global_
        names.add(f.stem)
    return names


def test_names_equal_the_dispatch_dicts():
    from ragft import data, metrics, modeling, retrieval

    assert set(config.MODEL_SOURCES) == set(modeling.RESOLVERS)
    assert set(config.RETRIEVER_NAMES) == {"none", *retrieval.RETRIEVERS}
    assert set(config.DATA_NAMES) == set(data.LOADERS)
    assert config.ANSWER_METRICS == tuple(metrics.ANSWER_METRICS)
    assert config.RETRIEVAL_METRICS == tuple(metrics.RETRIEVAL_METRICS)


@pytest.mark.parametrize(
    ("group", "names"),
    [
        ("approach", tuple(APPROACHES)),
        ("quant", config.QUANT_NAMES),
        ("lora", config.LORA_NAMES),
        ("retriever", config.RETRIEVER_NAMES),
        ("data", config.DATA_NAMES),
        ("metrics", config.METRICS_NAMES),
        ("logger", config.LOGGER_NAMES),
    ],
)
def test_names_equal_the_conf_group_files(group, names):
    assert _group_names(group) == set(names)


def test_model_files_name_known_sources():
    sources = {yaml.safe_load(f.read_text())["source"] for f in (CONF / "model").glob("*.yaml")}
    assert sources == set(config.MODEL_SOURCES)


def test_validation_imports_no_torch():
    import subprocess
    import sys

    code = "import sys, ragft.validation; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.stdout.strip() == "False", out.stderr


# ---- every conf option validates as it ships


@pytest.mark.parametrize("approach", list(APPROACHES))
@pytest.mark.parametrize("model", ["smollm2-135m", "tiny-llama"])
def test_the_shipped_options_are_valid(composed, approach, model, monkeypatch):
    monkeypatch.setattr(validation.checks, "bitsandbytes_installed", lambda: True)
    for extra in ([], ["trainer=gpu"], ["trainer=ddp"], ["quant=nf4"], ["logger=none"]):
        validate(composed([f"approach={approach}", f"model={model}", *extra]))


# ---- one rule per slice: the key, the bad value and what is allowed

TRAIN = {"approach__name": "finetune"}

# keys -> the words the one problem must hold
CASES: list[tuple[dict, tuple[str, ...]]] = [
    ({"seed": -1}, ("seed=-1", "between 0 and 4294967295")),
    ({"approach__name": "nope"}, ("approach='nope'", "base, rag, finetune, hybrid, raft")),
    ({"approach__raft_gold_share": 1.5}, ("approach.raft_gold_share=1.5", "between 0 and 1")),
    ({"approach__raft_distractors": -1}, ("approach.raft_distractors=-1", ">= 0")),
    ({"model__source": "gguf"}, ("model.source='gguf'", "package-gguf, hf, tiny-random")),
    ({"model__dtype": "fp8"}, ("model.dtype='fp8'", "float32")),
    ({"model__max_input_tokens": 0}, ("model.max_input_tokens=0", "positive")),
    ({"model__package": None}, ("model.source=package-gguf needs model.package",)),
    ({"model__package": "no_such_pkg_xyz"}, ("model.package='no_such_pkg_xyz'", "not installed")),
    ({"model__gguf_file": "nope.gguf"}, ("model.gguf_file='nope.gguf'", "is not in")),
    ({"model__source": "hf"}, ("model.source=hf needs model.path",)),
    (
        {"model__source": "hf", "model__path": "/nonexistent/llama"},
        ("model.path='/nonexistent/llama'", "no such folder"),
    ),
    (
        {"model__source": "tiny-random", "model__tiny__hidden_size": 0},
        ("model.tiny.hidden_size=0", "a positive integer"),
    ),
    (
        {
            "model__source": "tiny-random",
            "model__tiny__num_attention_heads": 3,
            "model__tiny__num_key_value_heads": 1,
        },
        ("model.tiny.hidden_size=64", "multiple of", "model.tiny.num_attention_heads=3"),
    ),
    (
        {"model__source": "tiny-random", "model__tiny__num_key_value_heads": 3},
        ("model.tiny.num_attention_heads=4", "multiple of", "model.tiny.num_key_value_heads=3"),
    ),
    (
        {"model__source": "tiny-random", "model__tiny__max_position_embeddings": -5},
        ("model.tiny.max_position_embeddings=-5", "positive"),
    ),
    ({"lora__name": "qlora"}, ("lora='qlora'", "none, default")),
    ({**TRAIN, "lora__r": 0}, ("lora.r=0", "a positive integer")),
    ({**TRAIN, "lora__alpha": 0}, ("lora.alpha=0", "positive")),
    ({**TRAIN, "lora__dropout": 1.0}, ("lora.dropout=1.0", "[0, 1)")),
    ({**TRAIN, "lora__target_modules": []}, ("lora.target_modules=[]", "all-linear", "list")),
    ({"quant__name": "int4"}, ("quant='int4'", "none, int8, nf4")),
    ({"quant__compute_dtype": "int4"}, ("quant.compute_dtype='int4'", "bfloat16")),
    (
        {**TRAIN, "lora__name": "none", "quant__name": "nf4"},
        ("quant=nf4 with lora=none", "lora=default"),
    ),
    ({"retriever__name": "sparse"}, ("retriever='sparse'", "none, bm25, dense, hybrid")),
    ({"retriever__name": "none"}, ("approach=rag retrieves", "retriever=none", "bm25")),
    ({"retriever__k": 0}, ("retriever.k=0", "a positive integer")),
    (
        {"retriever__chunk_size": 0, "retriever__chunk_overlap": 0},
        ("retriever.chunk_size=0", "positive"),
    ),
    ({"retriever__chunk_overlap": 48}, ("retriever.chunk_overlap=48", "smaller than")),
    ({"retriever__candidates": 2}, ("retriever.candidates=2", ">= retriever.k=5")),
    ({"retriever__rrf_k": -1}, ("retriever.rrf_k=-1", ">= 0")),
    ({"retriever__nprobe": 0}, ("retriever.nprobe=0", "a positive integer")),
    ({"retriever__index_factory": " "}, ("retriever.index_factory=' '", "faiss")),
    ({"retriever__embedder__batch_size": 0}, ("retriever.embedder.batch_size=0", "positive")),
    ({"retriever__embedder__device": "gpu"}, ("retriever.embedder.device='gpu'", "cuda:N")),
    (
        {"retriever__name": "dense", "retriever__embedder__path": "/nonexistent/minilm"},
        ("retriever.embedder.path='/nonexistent/minilm'", "no such folder"),
    ),
    (
        {"retriever__name": "dense", "retriever__embedder__package": "no_such_pkg_xyz"},
        ("retriever.embedder.package='no_such_pkg_xyz'", "not installed"),
    ),
    (
        {"retriever__name": "hybrid", "retriever__embedder__package": None},
        ("retriever.embedder.package and retriever.embedder.path are both null",),
    ),
    ({"data__name": "squad"}, ("data='squad'", "fictional-kb, qa-jsonl, alpaca-jsonl")),
    ({"data__eval_split": "test"}, ("data.eval_split='test'", "heldout, seen")),
    ({"data__seed": 2**32}, ("data.seed=4294967296", "between 0 and")),
    ({"data__n_entities": 1}, ("data.n_entities=1", ">= 2")),
    ({"data__n_train_phrasings": 7}, ("data.n_train_phrasings=7", "between 1 and 6")),
    ({"data__eval_fraction": 0.0}, ("data.eval_fraction=0.0", "(0, 1]")),
    ({"data__max_eval": 0}, ("data.max_eval=0", "positive")),
    ({"approach__name": "base", "data__name": "qa-jsonl"}, ("data=qa-jsonl needs data.path",)),
    (
        {"approach__name": "base", "data__name": "qa-jsonl", "data__path": "/nonexistent/q.jsonl"},
        ("data.path='/nonexistent/q.jsonl'", "no such file"),
    ),
    (
        {"data__name": "alpaca-jsonl", "data__path": "{tmp}", "data__corpus_path": "{tmp}"},
        ("data.path='{tmp}'", "is a folder"),
    ),
    (
        {"data__name": "qa-jsonl", "data__path": "{qa}", "data__corpus_path": "/nonexistent/d"},
        ("data.corpus_path='/nonexistent/d'", "no such file or folder", ".txt/.md"),
    ),
    (
        {"data__name": "qa-jsonl", "data__path": "{qa}", "data__corpus_path": "{csv}"},
        ("data.corpus_path='{csv}'", "neither a folder", ".jsonl"),
    ),
    (
        {"data__name": "qa-jsonl", "data__path": "{qa}"},
        ("approach=rag with data=qa-jsonl needs data.corpus_path",),
    ),
    ({"metrics__name": "judge"}, ("metrics='judge'", "qa")),
    (
        {"metrics__answer": ["contains", "accuracy"]},
        ("metrics.answer='accuracy'", "exact_match, f1"),
    ),
    ({"metrics__answer": [], "metrics__primary": "mrr"}, ("metrics.answer=[]", "at least one")),
    ({"metrics__primary": "precision"}, ("metrics.primary='precision'", "contains", "mrr")),
    (
        {"metrics__answer": ["f1"], "metrics__primary": "contains"},
        ("metrics.primary='contains'", "metrics.answer=['f1']", "f1, recall_at_k, mrr"),
    ),
    ({**TRAIN, "trainer__accelerator": "quantum"}, ("trainer.accelerator='quantum'", "cpu, gpu")),
    ({**TRAIN, "trainer__precision": "fp8"}, ("trainer.precision='fp8'", "bf16-mixed")),
    ({**TRAIN, "trainer__devices": 0}, ("trainer.devices=0", "a count >= 1")),
    ({**TRAIN, "trainer__devices": "two"}, ("trainer.devices='two'", "a count >= 1")),
    ({**TRAIN, "trainer__devices": [0, -1]}, ("trainer.devices=[0, -1]", "device ids")),
    ({**TRAIN, "trainer__num_nodes": 0}, ("trainer.num_nodes=0", ">= 1")),
    ({**TRAIN, "trainer__strategy": ""}, ("trainer.strategy=''", "Lightning strategy")),
    ({**TRAIN, "trainer__max_epochs": 0}, ("trainer.max_epochs=0", "positive", "max_steps")),
    (
        {**TRAIN, "trainer__max_epochs": 0, "trainer__max_steps": 5},
        ("trainer.max_epochs=0", "positive"),
    ),
    ({**TRAIN, "trainer__max_steps": 0}, ("trainer.max_steps=0", "positive, or -1")),
    ({**TRAIN, "trainer__learning_rate": 0.0}, ("trainer.learning_rate=0.0", "positive")),
    ({**TRAIN, "trainer__weight_decay": -0.1}, ("trainer.weight_decay=-0.1", ">= 0")),
    ({**TRAIN, "trainer__warmup_ratio": 1.0}, ("trainer.warmup_ratio=1.0", "[0, 1)")),
    ({**TRAIN, "trainer__batch_size": 0}, ("trainer.batch_size=0", "positive")),
    (
        {**TRAIN, "trainer__accumulate_grad_batches": 0},
        ("trainer.accumulate_grad_batches=0", ">= 1"),
    ),
    ({**TRAIN, "trainer__gradient_clip_val": -1.0}, ("trainer.gradient_clip_val=-1.0", ">= 0")),
    ({**TRAIN, "trainer__max_length": 0}, ("trainer.max_length=0", "positive")),
    ({**TRAIN, "trainer__val_fraction": 1.0}, ("trainer.val_fraction=1.0", "[0, 1)")),
    ({**TRAIN, "objective": "chat"}, ("objective='chat'", "qa, cpt, qa+cpt")),
    ({"objective": "cpt"}, ("objective=cpt", "approach=rag does not train")),
    ({"logger__name": "mlflow"}, ("logger='mlflow'", "none, wandb")),
    ({"logger__mode": "cloud"}, ("logger.mode='cloud'", "offline, online, disabled")),
    ({"logger__project": ""}, ("logger.project=''", "W&B project")),
    ({"generation__max_new_tokens": 0}, ("generation.max_new_tokens=0", "positive")),
    ({"generation__batch_size": -1}, ("generation.batch_size=-1", "0: fill the GPU")),
    ({"cache__dir": "{qa}"}, ("cache.dir='{qa}'", "is a file", "folder")),
]


@pytest.fixture
def files(tmp_path) -> dict[str, str]:
    qa = tmp_path / "qa.jsonl"
    qa.write_text('{"id": "q1", "question": "Who?", "answers": ["Me"]}\n')
    csv = tmp_path / "docs.csv"
    csv.write_text("id,text\n")
    return {"qa": str(qa), "csv": str(csv), "tmp": str(tmp_path)}


def _fill(value: object, files: dict[str, str]) -> object:
    return value.format(**files) if isinstance(value, str) else value


@pytest.mark.parametrize(("keys", "needles"), CASES, ids=[" ".join(c[0]) for c in CASES])
def test_each_bad_value_is_one_problem_naming_key_value_and_allowed(keys, needles, files):
    got = problems(**{k: _fill(v, files) for k, v in keys.items()})
    assert len(got) == 1, got
    for needle in needles:
        assert _fill(needle, files) in got[0], got[0]


def test_one_error_lists_every_problem():
    with pytest.raises(ConfigError) as e:
        make(
            approach__name="finetune",
            retriever__k=0,
            lora__r=0,
            trainer__warmup_ratio=2.0,
            data__seed=-3,
            metrics__primary="precision",
            generation__max_new_tokens=0,
        )
    assert len(e.value.problems) == 6
    message = str(e.value)
    for key in ("retriever.k=0", "lora.r=0", "trainer.warmup_ratio=2.0", "data.seed=-3"):
        assert f"  - {key}" in message
    assert "metrics.primary='precision'" in message and "generation.max_new_tokens=0" in message


def test_missing_keys_are_named():
    cfg = OmegaConf.structured(RunConfig)
    OmegaConf.update(cfg, "model.path", "???")
    with pytest.raises(ConfigError, match=r"model.path is required \(give model.path=...\)"):
        validate(cfg)


def test_rules_for_unused_slices_are_not_checked():
    # no adapter, no trainer for rag; no embedder for bm25 or for approaches that never retrieve
    make(lora__r=0, trainer__max_steps=0, trainer__devices=0)
    make(retriever__embedder__package="no_such_pkg_xyz")
    make(approach__name="finetune", retriever__name="dense", retriever__embedder__path="/nope")
    make(approach__name="finetune", lora__name="none", lora__alpha=0)


def test_valid_values_at_the_edges():
    make(
        approach__name="raft",
        approach__raft_gold_share=1.0,
        approach__raft_distractors=0,
        seed=2**32 - 1,
        trainer__max_epochs=-1,
        trainer__max_steps=3,
        trainer__devices="0,1",
        trainer__warmup_ratio=0.0,
        trainer__gradient_clip_val=0.0,
        trainer__precision="auto",
        retriever__embedder__device="cuda:1",
        generation__batch_size=0,
        metrics__primary="recall_at_k",
        lora__target_modules=["q_proj", "v_proj"],
    )
    make(approach__name="finetune", trainer__devices="auto")
    make(approach__name="finetune", trainer__devices=[0, 1])


def test_bitsandbytes_is_needed_for_quantised_weights(monkeypatch):
    monkeypatch.setattr(validation.checks, "bitsandbytes_installed", lambda: False)
    got = problems(quant__name="nf4")
    assert got == ["quant=nf4 needs bitsandbytes (pip install 'bitsandbytes>=0.47')"]


def test_local_embedder_folder_needs_modules_json(tmp_path):
    got = problems(retriever__name="dense", retriever__embedder__path=str(tmp_path))
    assert got == [
        f"retriever.embedder.path={str(tmp_path)!r} holds no modules.json; give a "
        "sentence-transformers folder (modules.json + weights) or a hub id"
    ]
    (tmp_path / "modules.json").write_text("[]")
    make(retriever__name="dense", retriever__embedder__path=str(tmp_path))
    make(retriever__name="dense", retriever__embedder__path="sentence-transformers/all-MiniLM")


def test_objective_defaults_to_qa_and_is_ignored_in_sweeps_by_cells_that_do_not_train():
    assert make().objective == "qa"
    cfg = OmegaConf.structured(RunConfig)
    OmegaConf.update(cfg, "retriever.name", "bm25")
    OmegaConf.update(cfg, "objective", "cpt")
    assert validate(cfg, in_sweep=True).objective == "qa"
    assert make(approach__name="finetune", objective="qa+cpt").objective == "qa+cpt"
