"""ragft.training.launch: where training ranks come from (pure functions of the settings and
the environment), and the job a rank ragft starts reads."""

from __future__ import annotations

import os
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from ragft import ranks
from ragft.errors import ConfigError, DataError, RagftError
from ragft.training import launch

ENV_KEYS = (
    "TORCHELASTIC_RUN_ID",
    "WORLD_SIZE",
    "RANK",
    "LOCAL_RANK",
    "SLURM_NTASKS",
    "SLURM_PROCID",
    "SLURM_LOCALID",
    "SLURM_JOB_NAME",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for key in ENV_KEYS:
        monkeypatch.delenv(key, raising=False)


def test_one_device_trains_in_process_and_ddp_gets_its_own_ranks():
    assert launch.mode("cpu", 1, 1, "auto") == "local"
    assert launch.mode("cpu", 2, 1, "auto") == "workers"
    assert launch.mode("gpu", [0, 1], 1, "ddp") == "workers"
    assert launch.mode("gpu", 1, 1, "ddp") == "workers"  # a 1-GPU DDP run: its own group too


def test_ranks_started_by_slurm_or_torchrun_are_external_and_must_match(monkeypatch):
    monkeypatch.setenv("SLURM_NTASKS", "8")
    monkeypatch.setenv("SLURM_PROCID", "5")
    monkeypatch.setenv("SLURM_LOCALID", "1")
    assert launch.mode("gpu", 4, 2, "ddp") == "external"
    assert (ranks.global_rank(), ranks.local_rank()) == (5, 1)
    with pytest.raises(ConfigError, match="8 ranks were started"):
        launch.mode("gpu", 2, 1, "ddp")
    monkeypatch.setenv("SLURM_JOB_NAME", "bash")  # `srun --pty bash`: one interactive shell
    assert ranks.external_world_size() == 1 and ranks.global_rank() == 0


def test_torchrun_environment_wins_over_an_enclosing_slurm_job(monkeypatch):
    monkeypatch.setenv("SLURM_NTASKS", "1")
    for key, value in {
        "TORCHELASTIC_RUN_ID": "x",
        "WORLD_SIZE": "2",
        "RANK": "1",
        "LOCAL_RANK": "1",
    }.items():
        monkeypatch.setenv(key, value)
    assert launch.mode("cpu", 2, 1, "ddp") == "external"
    assert ranks.global_rank() == 1
    assert [type(p).__name__ for p in launch.cluster_plugins()] == ["TorchElasticEnvironment"]


def test_several_nodes_need_ranks_started_by_the_cluster():
    with pytest.raises(ConfigError, match="trainer.num_nodes=2"):
        launch.mode("gpu", 4, 2, "ddp")


def test_world_size_counts_lists_and_strings():
    assert launch.requested_world_size("gpu", [0, 2, 3], 2) == 6
    assert launch.requested_world_size("gpu", "0,1", 1) == 2
    assert launch.requested_world_size("cpu", "auto", 1) == 1


def test_ranks_never_let_lightning_launch_processes_again():
    assert launch.strategy_for("ddp_spawn", started_externally=True) == "ddp"
    assert launch.strategy_for("auto", started_externally=True) == "ddp"
    assert launch.strategy_for("fsdp", started_externally=True) == "fsdp"
    assert launch.strategy_for("auto", started_externally=False) == "auto"


def test_slurm_preset_gives_one_task_per_gpu_on_every_node():
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from ragft import config

    from ..helpers import ROOT

    config.register()
    with initialize_config_dir(version_base="1.3", config_dir=str(ROOT / "ragft" / "conf")):
        cfg = compose(
            config_name="config",
            overrides=[
                "hydra/launcher=slurm_ddp",
                "trainer=ddp",
                "trainer.devices=4",
                "trainer.num_nodes=2",
            ],
            return_hydra_config=True,
        )
    launcher = OmegaConf.to_container(cfg.hydra.launcher, resolve=True)
    assert launcher["_target_"].endswith("SlurmLauncher")
    assert (launcher["tasks_per_node"], launcher["nodes"], launcher["gpus_per_node"]) == (4, 2, 4)


def test_gpu_trainer_without_cuda_says_how_to_run_on_the_cpu(tmp_path):
    import torch

    from ragft import training
    from ragft.cache import Cache
    from ragft.records import LoadedModel, ModelInfo
    from ragft.training_data import TrainPair

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    spec = training.TrainSpec(
        {}, training.AdapterSpec(), None, training.DeviceSpec(accelerator="gpu", preset="ddp")
    )
    loaded = LoadedModel(None, None, ModelInfo({}, False), 0.0)
    with pytest.raises(ConfigError, match=r"\(trainer=ddp\).*trainer.accelerator=cpu for DDP"):
        training.train(loaded, [TrainPair("a", "q", "a")], spec, Cache(tmp_path))
    with pytest.raises(DataError, match="nothing to train on"):
        training.train(loaded, [], spec, Cache(tmp_path))


def test_worker_job_carries_a_spec_that_reads_back_equal(tmp_path):
    import json

    from ragft.records import ModelSource, QuantSpec
    from ragft.training import AdapterSpec, DeviceSpec, TrainSpec

    spec = TrainSpec(
        {"path": "/m"},
        AdapterSpec(r=4, target_modules=("q_proj", "v_proj")),
        QuantSpec("nf4", double_quant=False),
        DeviceSpec(accelerator="gpu", devices=[0, 1], strategy="ddp"),
        model=ModelSource("/cache/tiny-model/abc", dtype="bfloat16"),
    )
    rows = [{"input_ids": [1, 2], "labels": [-100, 2]}]
    job = launch.worker_job(spec, rows, tmp_path / "ckpt", tmp_path / "out", None)
    back = json.loads(json.dumps(job))  # what the worker reads from its file
    assert TrainSpec.from_json(back["spec"]) == spec and back["tokenized"] == rows
    with pytest.raises(RagftError, match="needs TrainSpec.model"):
        launch.worker_job(replace(spec, model=None), rows, tmp_path, tmp_path, None)


def test_workers_start_the_worker_module_with_ragft_importable(tmp_path, monkeypatch):
    """run_workers' command runs ragft.training.worker, found from any working directory."""
    import subprocess

    seen = {}
    real_run = subprocess.run

    def fake_run(cmd, env, check):
        seen.update(cmd=cmd, env=env)
        return subprocess.CompletedProcess(cmd, 0)

    monkeypatch.setattr(launch.subprocess, "run", fake_run)
    monkeypatch.setenv("SLURM_JOB_ID", "7")
    launch.run_workers(2, {"x": 1}, tmp_path / "job")
    cmd = seen["cmd"]
    assert cmd[cmd.index("-m", 2) + 1] == "ragft.training.worker"
    assert "--nproc_per_node=2" in cmd and "SLURM_JOB_ID" not in seen["env"]
    root = seen["env"]["PYTHONPATH"].split(os.pathsep)[0]
    probe = real_run(
        [sys.executable, "-c", "import importlib.util as u; print(u.find_spec('ragft').origin)"],
        env=dict(os.environ, PYTHONPATH=root),
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    found = Path(probe.stdout.strip()).parent / "training" / "worker.py"
    assert found == Path(launch.__file__).with_name("worker.py")
    assert not (tmp_path / "job").exists()  # the spec folder is removed after success
