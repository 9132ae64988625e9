"""Where training ranks come from, and where each rank puts its model (pure functions)."""

from __future__ import annotations

import pytest

from ragft import launch
from ragft.errors import ConfigError

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
    assert (launch.global_rank(), launch.local_rank()) == (5, 1)
    with pytest.raises(ConfigError, match="8 ranks were started"):
        launch.mode("gpu", 2, 1, "ddp")
    monkeypatch.setenv("SLURM_JOB_NAME", "bash")  # `srun --pty bash`: one interactive shell
    assert launch.external_world_size() == 1 and launch.global_rank() == 0


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
    assert launch.global_rank() == 1
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
    with initialize_config_dir(version_base="1.3", config_dir=str(ROOT / "conf")):
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
    from ragft.config import LoraConfig, QuantConfig, TrainerConfig
    from ragft.training_data import TrainPair

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    spec = training.TrainSpec(
        {}, LoraConfig(), QuantConfig(), TrainerConfig(name="ddp", accelerator="gpu"), 0
    )
    with pytest.raises(ConfigError, match="trainer.accelerator=cpu for DDP over gloo"):
        training.train(None, None, [TrainPair("a", "q", "a")], spec, Cache(tmp_path))
