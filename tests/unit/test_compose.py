"""Every shipped config composes, and validates where it should, without loading a model.

The config groups are listed from conf/ itself, so a new option file is covered the day it
is added: each option of each group is composed on top of the defaults (Hydra's compose API
on the repository's conf/, the same schema run.py registers) and validated. The options
that need a value the user must give (model=hf needs model.path, the JSONL data sets need
data.path) must fail validation naming that key, and validate once it is given. Every
`experiment=*` file is composed for every cell of its sweep (the full cross of its
hydra.sweeper.params), as `run.py -m experiment=NAME` would, and each cell validates.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf

from ragft import config as schema
from ragft.errors import ConfigError

from ..helpers import ROOT

CONF = ROOT / "ragft" / "conf"
SPECIAL = ("experiment", "hydra")  # experiments are sweeps; hydra/* configures Hydra itself


def _validate(cfg, in_sweep: bool = False):
    from ragft.validation import validate

    return validate(cfg, in_sweep=in_sweep)


def _options(group_dir: Path) -> list[str]:
    return sorted(p.stem for p in group_dir.glob("*.yaml"))


def _groups() -> dict[str, list[str]]:
    """{group: options} for every folder of conf/ that holds option files."""
    out = {}
    for d in sorted(p for p in CONF.rglob("*") if p.is_dir()):
        group = d.relative_to(CONF).as_posix()
        if _options(d) and group.split("/")[0] not in SPECIAL:
            out[group] = _options(d)
    return out


GROUPS = _groups()
EXPERIMENTS = _options(CONF / "experiment")
GROUP_OPTIONS = [(g, o) for g, options in GROUPS.items() for o in options]


@pytest.fixture(scope="module")
def hydra_conf():
    schema.register()
    with initialize_config_dir(version_base="1.3", config_dir=str(CONF)):
        yield


@pytest.fixture(scope="module")
def hf_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("hf-model")
    (folder / "config.json").write_text('{"model_type": "llama"}')
    (folder / "qa.jsonl").write_text('{"question": "q?", "answers": ["a"]}\n')  # data.path
    (folder / "docs").mkdir()  # data.corpus_path
    (folder / "docs" / "a.txt").write_text("a document")
    return folder


def _needs(group: str, option: str, tmp: Path) -> tuple[list[str], str] | None:
    """(the overrides an option needs to validate, the text its error must hold), or None."""
    data = [f"data.path={tmp / 'qa.jsonl'}", f"data.corpus_path={tmp / 'docs'}"]
    return {
        ("model", "hf"): ([f"model.path={tmp}"], "model.path"),
        ("data", "qa-jsonl"): (data, "data.path"),
        ("data", "alpaca-jsonl"): (data, "data.path"),
        ("data", "generated"): ([f"data.corpus_path={tmp / 'docs'}"], "data.corpus_path"),
        ("retriever", "none"): (["approach=base"], "retriever=none"),
        ("judge", "openai"): (["metrics.judge.endpoint.model=m"], "metrics.judge.endpoint.model"),
        # a hub id while downloads are off (the tests run offline) and it is not cached
        ("model", "llama-2-7b-chat"): (["model.path=" + str(tmp)], "HF_HUB_OFFLINE"),
    }.get((group, option))


def test_the_groups_are_found():
    # the axes DESIGN.md names; more may come, none may silently disappear
    expected = {"approach", "model", "lora", "quant", "retriever", "data", "metrics"}
    assert expected | {"trainer", "logger"} <= set(GROUPS)
    assert {"base", "rag", "finetune", "hybrid", "raft"} <= set(GROUPS["approach"])
    assert {"compare", "grid"} <= set(EXPERIMENTS)


@pytest.mark.parametrize(
    ("group", "option"), GROUP_OPTIONS, ids=[f"{g}={o}" for g, o in GROUP_OPTIONS]
)
def test_every_option_composes_and_validates(hydra_conf, hf_folder, group, option):
    cfg = compose(config_name="config", overrides=[f"{group}={option}"])
    node = OmegaConf.select(cfg, group.replace("/", "."))
    if node is not None and "name" in node:
        assert node.name == option, f"conf/{group}/{option}.yaml sets name={node.name}"
    needs = _needs(group, option, hf_folder)
    if needs is None:
        run = _validate(cfg)
        assert run.objective == "qa"
        return
    extra, needle = needs
    with pytest.raises(ConfigError, match=needle.replace(".", r"\.")):
        _validate(cfg)
    if group == "model" and option == "llama-2-7b-chat":
        return  # validates online only; see the next test
    _validate(compose(config_name="config", overrides=[f"{group}={option}", *extra]))


def test_a_hub_model_validates_when_downloads_are_allowed(hydra_conf, monkeypatch):
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(var, raising=False)
    for option in GROUPS["model"]:
        cfg = compose(config_name="config", overrides=[f"model={option}"])
        if cfg.model.source == "hf" and cfg.model.path not in (None, "???"):
            assert "/" in cfg.model.path  # a hub id: checked against the hub only when loading
            _validate(cfg)


def test_every_approach_validates_with_full_fine_tuning(hydra_conf):
    # lora=none is the one option whose rules depend on the approach (training checks)
    for approach in GROUPS["approach"]:
        run = _validate(
            compose(config_name="config", overrides=[f"approach={approach}", "lora=none"])
        )
        assert (run.approach.name, run.lora.name) == (approach, "none")


def test_raft_sets_its_own_training_defaults_and_the_command_line_wins(hydra_conf):
    assert compose(config_name="config", overrides=["approach=raft"]).trainer.max_epochs == 2
    cfg = compose(config_name="config", overrides=["approach=raft", "trainer.max_epochs=4"])
    assert cfg.trainer.max_epochs == 4


def test_the_slurm_ddp_launcher_takes_its_tasks_from_the_trainer(hydra_conf):
    for option in _options(CONF / "hydra" / "launcher"):
        cfg = compose(
            config_name="config",
            overrides=[f"hydra/launcher={option}", "trainer=ddp", "trainer.devices=3"],
            return_hydra_config=True,
        )
        launcher = OmegaConf.to_container(cfg.hydra.launcher, resolve=True)
        assert launcher["_target_"].startswith("hydra_plugins.")
        if option == "slurm_ddp":
            assert (launcher["tasks_per_node"], launcher["gpus_per_node"]) == (3, 3)


def _axes(params: dict) -> list[list[str]]:
    """One list of `key=value` overrides per swept key (a single value is a one-point axis;
    a search's interval, its two ends)."""
    from hydra.core.override_parser.types import IntervalSweep

    parser = OverridesParser.create()
    axes = []
    for key, value in params.items():
        override = parser.parse_override(f"{key}={value}")
        sweep = override.value()
        if isinstance(sweep, IntervalSweep):
            cast = int if "int" in sweep.tags else float
            values = [cast(sweep.start), cast(sweep.end)]
        elif override.is_sweep_override():
            values = list(override.sweep_string_iterator())
        else:
            values = [value]
        axes.append([f"{key}={v}" for v in values])
    return axes


def _one_at_a_time(axes: list[list[str]]) -> list[list[str]]:
    """The first cell, then every other value of each axis with the rest at their first."""
    first = [axis[0] for axis in axes]
    cells = [first]
    for i, axis in enumerate(axes):
        cells += [[*first[:i], value, *first[i + 1 :]] for value in axis[1:]]
    return cells


def _sweep_params(experiment: str) -> dict:
    cfg = OmegaConf.load(CONF / "experiment" / f"{experiment}.yaml")
    params = OmegaConf.to_container(cfg.hydra.sweeper.params)
    assert params, f"experiment={experiment} sweeps nothing"
    return params


# what an experiment needs from its user (the judge's served model has no sensible default)
EXPERIMENT_NEEDS = {"compare-judged": ["metrics.judge.endpoint.model=served-model"]}


def test_an_experiment_that_needs_a_value_says_which(hydra_conf):
    for experiment, needs in EXPERIMENT_NEEDS.items():
        cfg = compose(config_name="config", overrides=[f"experiment={experiment}"])
        key = needs[0].split("=")[0]
        with pytest.raises(ConfigError, match=key.replace(".", r"\.") + " is required"):
            _validate(cfg, in_sweep=True)


def _check_cells(experiment: str, cells: list[list[str]]) -> None:
    for cell in cells:
        extra = EXPERIMENT_NEEDS.get(experiment, [])
        cfg = compose(config_name="config", overrides=[f"experiment={experiment}", *extra, *cell])
        run = _validate(cfg, in_sweep=True)
        for override in cell:  # each swept value reached the config
            key, value = override.split("=", 1)
            got = OmegaConf.select(cfg, f"{key}.name" if key in GROUPS else key)
            assert str(got) == value, (experiment, override)
        assert run.objective == "qa"


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_every_value_of_every_experiment_composes_and_validates(hydra_conf, experiment):
    """Each swept value once (the others at their first value): every option file and key
    an experiment names composes. The full cross is the slow test below."""
    axes = _axes(_sweep_params(experiment))
    assert sum(len(axis) for axis in axes) > 1
    _check_cells(experiment, _one_at_a_time(axes))


@pytest.mark.slow
@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_every_cell_of_every_experiment_composes_and_validates(hydra_conf, experiment):
    """The full cross, as `run.py -m experiment=NAME` runs it (grid: 60 cells)."""
    cells = [list(c) for c in itertools.product(*_axes(_sweep_params(experiment)))]
    _check_cells(experiment, cells)
