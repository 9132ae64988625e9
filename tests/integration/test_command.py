"""The `ragft` command as an installed user meets it: a folder of the user's own options joins
the shipped ones and keeps its own label, and the wheel (not the checkout) runs a cell from
another folder with the configs it carries."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import zipfile

import pytest

from ..helpers import ROOT, TINY

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_own_option_in_a_config_dir_keeps_its_label(tmp_path):
    own = tmp_path / "my-conf" / "retriever"
    own.mkdir(parents=True)
    (own / "my-bm25.yaml").write_text(
        "# bm25 with one passage\ndefaults:\n  - bm25\n  - _self_\nk: 1\n"
    )
    sweep_dir = tmp_path / "sweep"
    args = [sys.executable, "-m", "ragft", "run", "-m", "--config-dir", str(tmp_path / "my-conf"),
            *TINY, "approach=rag", "retriever=bm25,my-bm25", "data.max_eval=4",
            f"hydra.sweep.dir={sweep_dir}"]  # fmt: skip
    proc = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    configs = {d.name: json.loads((d / "results.json").read_text())["config"]
               for d in sweep_dir.iterdir() if (d / "results.json").is_file()}  # fmt: skip
    mine = next(c for name, c in configs.items() if "my-bm25" in name)
    assert mine["labels"] == {"retriever": "my-bm25"}
    assert mine["retriever"]["name"] == "bm25" and mine["retriever"]["k"] == 1
    assert all("labels" not in c for name, c in configs.items() if "my-bm25" not in name)
    with open(sweep_dir / "report" / "report.csv") as fh:
        assert sorted(r["retriever"] for r in csv.DictReader(fh)) == ["bm25", "my-bm25"]


def test_the_wheel_runs_a_cell_from_another_folder(tmp_path):
    wheels = tmp_path / "wheels"
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
             "-q", "-w", str(wheels), str(ROOT)]  # fmt: skip
    subprocess.run(build, check=True, capture_output=True, timeout=600)
    (wheel,) = wheels.glob("ragft-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for shipped in ("ragft/conf/config.yaml", "ragft/conf/experiment/search-lora.yaml",
                    "ragft/conf/hydra/sweeper/optuna.yaml", "ragft/data/control.jsonl",
                    "hydra_plugins/ragft_search/__init__.py"):  # fmt: skip
        assert shipped in names, shipped
    target = tmp_path / "site"
    install = [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target",
               str(target), str(wheel)]  # fmt: skip
    subprocess.run(install, check=True, capture_output=True, timeout=600)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target)}
    where = subprocess.run([sys.executable, "-c", "import ragft; print(ragft.__file__)"],
                           cwd=elsewhere, env=env, capture_output=True, text=True)  # fmt: skip
    assert where.stdout.strip().startswith(str(target)), where.stdout
    out = elsewhere / "cell"
    proc = subprocess.run([str(target / "bin" / "ragft"), "run", *TINY, "approach=base",
                           f"hydra.run.dir={out}"], cwd=elsewhere, env=env,
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads((out / "results.json").read_text())["status"] == "ok"
