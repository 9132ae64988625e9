"""What W&B runs get besides their scores (ragft.wandb_runs), with no network: each cell's
difference from the sweep's reference row (by hand from the hand-written sweep), written to
the online cell runs through a stand-in API and always to the summary run; the group's URL
printed when online; the adapter artifact logged by the cell that trained it and used by the
cell that reused it (a stand-in run, and the real offline run's records); the config W&B
gets as flat dotted keys."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
import wandb

from ragft import wandb_runs
from ragft.config import LoggerConfig
from ragft.metrics import bootstrap_ci
from ragft.report import build_report
from ragft.tracking import Tracker
from ragft.wandb_runs import log_adapter, reference_row, run_id, versus

from .report_sweeps import make_sweep, new_sweep, write_cell


class FakeRun:
    """The parts of a wandb Run ragft calls, recording them."""

    def __init__(self, offline: bool = False, **init):
        self.init, self.offline = init, offline
        self.summary: dict = {}
        self.logged: list[dict] = []
        self.artifacts: list[tuple[str, object, dict]] = []
        self.finished = False
        self.id = init.get("id", "run")
        self.entity, self.project = "me", init.get("project")
        self.group, self.job_type, self.name = init.get("group"), init.get("job_type"), "n"
        self.dir, self.url = "/nowhere", None
        self.project_url = None if offline else f"https://wandb.example/me/{self.project}"

    def log(self, data: dict) -> None:
        self.logged.append(data)

    def log_artifact(self, artifact) -> None:
        self.artifacts.append(("log", artifact, {}))

    def use_artifact(self, artifact) -> None:
        if self.offline:  # what wandb does
            raise TypeError("Cannot use artifact when in offline mode.")
        self.artifacts.append(("use", artifact, {}))

    def _log_artifact(self, artifact, **kwargs) -> None:
        self.artifacts.append(("_log", artifact, kwargs))

    def finish(self, exit_code: int = 0) -> None:
        self.finished = True


class FakeApi:
    """wandb.Api: `run(path).summary.update(...)`, recording each update; `refuse` paths fail."""

    updates: dict[str, dict] = {}
    refuse: set[str] = set()

    def __init__(self, timeout=None):
        self.timeout = timeout

    def run(self, path: str):
        if path in self.refuse:
            raise ValueError(f"Could not find run {path}")
        updates = self.updates

        class Summary:
            def update(self, values: dict) -> None:
                updates.setdefault(path, {}).update(values)

        return type("ApiRun", (), {"summary": Summary()})()


# the reference row and each cell's difference from it ----------------------------------------


def _hits(d: Path) -> list[float]:
    return [json.loads(line)["metrics"]["contains"] for line in (d / "predictions.jsonl").open()]


def test_every_ok_cell_is_measured_against_the_base_row(tmp_path):
    sweep = make_sweep(tmp_path)  # base 2, rag 7, finetune r=4 3, r=16 5, hybrid 9 of 10
    got = {d.name: f for d, f in versus(build_report(sweep).rows, "contains").items()}
    assert set(got) == {"0_approach=base", "1_approach=rag", "2_approach=finetune,lora.r=4",
                        "3_approach=finetune,lora.r=16", "4_approach=hybrid,lora.r=16"}  # fmt: skip
    expected = {"0_approach=base": 0.0, "1_approach=rag": 0.5,
                "2_approach=finetune,lora.r=4": 0.1, "3_approach=finetune,lora.r=16": 0.3,
                "4_approach=hybrid,lora.r=16": 0.7}  # fmt: skip
    for name, diff in expected.items():
        assert got[name]["contains"] == pytest.approx(diff), name
        assert got[name]["label"] == got["0_approach=base"]["row"]  # the base row's label
        assert got[name]["metric"] == "contains"
        assert got[name]["is_reference"] is (name == "0_approach=base")
    assert "contains_ci_low" not in got["0_approach=base"]  # no interval against itself
    # the interval is the paired bootstrap of the per-question differences (one seed)
    hybrid, base = sweep / "4_approach=hybrid,lora.r=16", sweep / "0_approach=base"
    diffs = [a - b for a, b in zip(_hits(hybrid), _hits(base), strict=True)]
    assert diffs == [0, 0, 1, 1, 1, 1, 1, 1, 1, 0]
    low, high = bootstrap_ci(diffs, n_resamples=2000)
    h = got["4_approach=hybrid,lora.r=16"]
    assert (h["contains_ci_low"], h["contains_ci_high"]) == pytest.approx((low, high))
    assert low < 0.7 < high


def test_without_a_base_row_the_reference_is_the_runner_up_and_one_row_has_none(tmp_path):
    from ragft.report import build_report

    sweep = new_sweep(tmp_path)
    write_cell(sweep, 0, "approach=rag", "rag", 7)
    write_cell(sweep, 1, "approach=hybrid", "hybrid", 9)
    write_cell(sweep, 2, "approach=finetune", "finetune", 3)
    got = {d.name: f for d, f in versus(build_report(sweep).rows, "contains").items()}
    assert {n: round(f["contains"], 6) for n, f in got.items()} == {
        "0_approach=rag": 0.0, "1_approach=hybrid": 0.2, "2_approach=finetune": -0.4,
    }  # fmt: skip
    assert got["0_approach=rag"]["is_reference"]
    # the best's difference is the decision's margin over the runner-up
    margin = build_report(sweep).verdict.summary()["margin"]
    assert got["1_approach=hybrid"]["contains"] == pytest.approx(margin)
    alone = new_sweep(tmp_path / "alone")
    write_cell(alone, 0, "approach=rag", "rag", 7)
    assert versus(build_report(alone).rows, "contains") == {}
    assert reference_row([], "contains") is None


# the sweep's end: cell runs, the summary run, the group URL ---------------------------------


def _meta(cell: Path, mode: str, entity: str | None = "me") -> str:
    rid = run_id(cell)
    meta = {"id": rid, "project": "proj", "mode": mode, "group": "g"}
    if entity:
        meta["entity"] = entity
    (cell / "wandb_run.json").write_text(json.dumps(meta))
    return rid


def _summary_report(sweep: Path):
    from ragft.report import build_report

    return build_report(sweep)


def test_online_the_cell_runs_get_their_difference_and_the_group_url_is_printed(
    tmp_path, monkeypatch, capsys, caplog
):
    sweep = make_sweep(tmp_path)
    cells = {d.name.split("_")[0]: d for d in sweep.iterdir() if d.is_dir() and d.name[0].isdigit()}
    hybrid = _meta(cells["4"], "online")
    base = _meta(cells["0"], "online", entity=None)  # an older wandb_run.json: no entity
    refused = _meta(cells["1"], "online")
    _meta(cells["3"], "offline")  # offline: never sent
    _meta(cells["5"], "online")  # the failed cell: no figures
    runs: list[FakeRun] = []
    monkeypatch.setattr(wandb, "init", lambda **kw: runs.append(FakeRun(**kw)) or runs[-1])
    FakeApi.updates, FakeApi.refuse = {}, {f"me/proj/{refused}"}
    monkeypatch.setattr(wandb, "Api", FakeApi)
    logger = LoggerConfig(name="wandb", project="proj", entity="team", mode="online",
                          group="compare 1/2")  # fmt: skip
    wandb_runs.log_sweep_summary(sweep, _summary_report(sweep), logger)

    (summary,) = runs
    assert summary.finished and summary.init["job_type"] == "summary"
    assert set(FakeApi.updates) == {f"me/proj/{hybrid}", f"team/proj/{base}"}
    h = FakeApi.updates[f"me/proj/{hybrid}"]
    assert h["vs_reference.contains"] == pytest.approx(0.7)
    assert h["vs_reference.contains_ci_low"] < 0.7 < h["vs_reference.contains_ci_high"]
    assert h["vs_reference.label"] == FakeApi.updates[f"team/proj/{base}"]["vs_reference.row"]
    assert FakeApi.updates[f"team/proj/{base}"]["vs_reference.is_reference"] is True
    table = next(d["vs_reference"] for d in summary.logged if "vs_reference" in d)
    assert len(table.data) == 5  # every ok cell, online or not, in the summary run
    out = capsys.readouterr().out
    assert "wandb:  https://wandb.example/me/proj/groups/compare%201%2F2\n" in out
    assert f"run me/proj/{refused} did not take its vs_reference" in caplog.text  # not raised


def test_offline_nothing_is_sent_and_no_url_is_printed(tmp_path, monkeypatch, capsys):
    sweep = make_sweep(tmp_path)
    for d in sweep.iterdir():
        if d.is_dir() and d.name[0].isdigit():
            _meta(d, "offline")
    runs: list[FakeRun] = []
    monkeypatch.setattr(
        wandb, "init", lambda **kw: runs.append(FakeRun(offline=True, **kw)) or runs[-1]
    )

    def no_api(*a, **k):
        raise AssertionError("the API was asked for offline")

    monkeypatch.setattr(wandb, "Api", no_api)
    logger = LoggerConfig(name="wandb", project="proj", mode="offline")
    wandb_runs.log_sweep_summary(sweep, _summary_report(sweep), logger)
    assert runs[0].finished and "wandb:" not in capsys.readouterr().out
    assert any("vs_reference" in d for d in runs[0].logged)


# the adapter artifact ------------------------------------------------------------------------


def _adapter(tmp_path: Path, name: str) -> tuple[Path, Path]:
    entry = tmp_path / "cache" / "adapter" / "0123456789abcdef0123"
    entry.mkdir(parents=True, exist_ok=True)
    (entry / "adapter_model.safetensors").write_bytes(b"\x00weights" * 100)
    (entry / "adapter_config.json").write_text('{"r": 4}')
    folder = tmp_path / name / "adapter"
    folder.mkdir(parents=True)
    for f in entry.iterdir():
        (folder / f.name).write_bytes(f.read_bytes())
    return entry, folder


def test_the_trainer_logs_the_adapter_and_a_reuser_uses_the_same_one(tmp_path):
    entry, trained_in = _adapter(tmp_path, "finetune")
    _, reused_in = _adapter(tmp_path, "hybrid")
    finetune, hybrid, offline = FakeRun(), FakeRun(), FakeRun(offline=True)
    log_adapter(finetune, entry, trained_in, full_model=False, reused=False)
    log_adapter(hybrid, entry, reused_in, full_model=False, reused=True)
    log_adapter(offline, entry, reused_in, full_model=False, reused=True)
    (how, logged, _), = finetune.artifacts  # fmt: skip
    (use, used, _), = hybrid.artifacts  # fmt: skip
    (off, kept, kwargs), = offline.artifacts  # fmt: skip
    assert (how, use, off) == ("log", "use", "_log") and kwargs == {"use_after_commit": True}
    assert logged.name == used.name == kept.name == "lora-adapter-0123456789abcdef"
    assert logged.type == "lora-adapter"
    assert logged.digest == used.digest == kept.digest  # one artifact: W&B keeps one version


def test_full_weights_are_one_reference_to_the_cache_entry_whatever_the_cell(tmp_path):
    entry, a = _adapter(tmp_path, "finetune")
    _, b = _adapter(tmp_path, "hybrid")
    one, two = FakeRun(), FakeRun()
    log_adapter(one, entry, a, full_model=True, reused=False)
    log_adapter(two, entry, b, full_model=True, reused=True)
    first, second = one.artifacts[0][1], two.artifacts[0][1]
    assert first.name == "model-0123456789abcdef" and first.type == "model"
    assert first.digest == second.digest
    refs = sorted(e.ref for e in first.manifest.entries.values())
    assert refs == sorted(f.resolve().as_uri() for f in entry.iterdir())  # the entry's files


def _records(wandb_file: Path):
    """The records of an offline run's .wandb file (W&B's LevelDB-style log of protobufs:
    a 7-byte header, then 32 KiB blocks of chunks with a 7-byte header each)."""
    from wandb.proto import wandb_internal_pb2 as pb

    data, pos, block, buf = wandb_file.read_bytes(), 7, 32768, b""
    assert data[:4] == b":W&B"
    while pos + 7 <= len(data):
        if block - pos % block < 7:  # a block's tail too short for a header is padding
            pos += block - pos % block
            continue
        _crc, n, kind = struct.unpack("<IHB", data[pos : pos + 7])
        buf, pos = buf + data[pos + 7 : pos + 7 + n], pos + 7 + n
        if kind in (1, 4):  # a full record, or the last chunk of one
            record = pb.Record()
            record.ParseFromString(buf)
            yield record
            buf = b""


@pytest.mark.slow
def test_offline_the_reusing_cell_records_the_same_artifact_as_an_input(tmp_path, monkeypatch):
    monkeypatch.delenv("WANDB_MODE", raising=False)
    entry, _ = _adapter(tmp_path, "x")
    logger = LoggerConfig(name="wandb", project="ragft-test", mode="offline")
    found = {}
    for name, reused in (("finetune", False), ("hybrid", True)):
        out = tmp_path / name
        with Tracker(out, logger, {"approach": {"name": name}}, name, name, "g") as t:
            t.save_adapter(entry, reused=reused)
        (blob,) = (out / "wandb").glob("offline-run-*/*.wandb")
        found[name] = [
            r.artifact for r in _records(blob) if r.WhichOneof("record_type") == "artifact"
        ]
    (trained,), (used,) = found["finetune"], found["hybrid"]
    assert trained.name == used.name == "lora-adapter-0123456789abcdef"
    assert trained.digest == used.digest
    assert not trained.use_after_commit and used.use_after_commit  # `wandb sync`: an input


# the config W&B gets --------------------------------------------------------------------------


def test_the_config_is_flat_dotted_keys_with_the_swept_ones(tmp_path, monkeypatch):
    config = {
        "approach": {"name": "hybrid", "trains": True},
        "lora": {"name": "default", "r": 8, "target_modules": ["q_proj", "v_proj"]},
        "trainer": {"learning_rate": 3e-4, "max_epochs": 2},
        "retriever": {"name": "bm25", "k": 3},
        "seed": 1,
    }
    runs: list[FakeRun] = []
    monkeypatch.setattr(wandb, "init", lambda **kw: runs.append(FakeRun(**kw)) or runs[-1])
    logger = LoggerConfig(name="wandb", project="p", mode="offline")
    with Tracker(tmp_path / "cell", logger, config, "hybrid", "lora.r=8", "g"):
        pass
    given = runs[0].init["config"]
    assert not any(isinstance(v, dict) for v in given.values())  # one form: flat
    assert given == {
        "approach.name": "hybrid", "approach.trains": True, "lora.name": "default", "lora.r": 8,
        "lora.target_modules": "q_proj,v_proj", "trainer.learning_rate": 3e-4,
        "trainer.max_epochs": 2, "retriever.name": "bm25", "retriever.k": 3, "seed": 1,
    }  # fmt: skip
    assert runs[0].finished


def test_an_api_that_cannot_start_is_a_warning_not_a_failed_sweep(tmp_path, monkeypatch, caplog):
    from ragft.wandb_runs import update_cell_runs

    cell = tmp_path / "0_approach=base"
    cell.mkdir()
    _meta(cell, "online", entity=None)

    def no_key(*a, **k):
        raise wandb.errors.UsageError("api_key not configured")

    monkeypatch.setattr(wandb, "Api", no_key)
    assert update_cell_runs({cell: {"contains": 0.0}}, None) == 0
    assert "no API to add the vs_reference figures" in caplog.text
    assert update_cell_runs({}, None) == 0  # no cell run: the API is never asked
