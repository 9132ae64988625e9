"""The `ragft` command's own parts: dispatch, `ragft report` errors, `ragft cache ls | verify |
prune` on a cache with a good, a corrupt and an old entry and a leftover build folder."""

from __future__ import annotations

import json
import os
import time

import pytest

from ragft import cli
from ragft.cache import MANIFEST, Cache


def test_usage_and_unknown_commands(capsys):
    assert cli.main([]) == 2 and "ragft cache ls" in capsys.readouterr().out
    assert cli.main(["--help"]) == 0
    assert cli.main(["train"]) == 2
    assert "unknown command 'train'" in capsys.readouterr().err


def test_report_of_nothing_says_so(tmp_path, capsys):
    assert cli.main(["report", str(tmp_path / "nowhere")]) == 2
    assert capsys.readouterr().err.startswith("report: error:")


@pytest.fixture
def store(tmp_path) -> Cache:
    cache = Cache(tmp_path / "cache")
    for kind, n in (("cell", 3), ("index", 1)):
        for i in range(n):
            cache.get_or_build(kind, {"i": i}, lambda d, i=i: (d / "f.txt").write_text("x" * i))
    return cache


def _entries(cache: Cache) -> list[str]:
    return sorted(f"{p.parent.name}/{p.name}" for p in _dirs(cache.root, "*"))


def _dirs(root, kind: str):
    return sorted(p for p in root.glob(f"{kind}/*") if p.is_dir() and not p.name.startswith("."))


def test_cache_ls_lists_every_entry_with_its_size(store, capsys):
    assert cli.main(["cache", "ls", "--dir", str(store.root)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 5 and out[-1].startswith("4 entries")
    assert sum(line.startswith("cell ") for line in out) == 3
    assert cli.main(["cache", "ls", "--dir", str(store.root), "--kind", "index"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("1 entries")


def test_cache_verify_finds_the_corrupt_entry_and_prune_removes_it(store, capsys):
    assert cli.main(["cache", "verify", "--dir", str(store.root)]) == 0
    victim = _dirs(store.root, "cell")[1]
    (victim / "f.txt").write_text("changed")
    import subprocess

    gone = subprocess.Popen(["true"])
    gone.wait()  # a build whose process has ended
    leftover = store.root / "cell" / f".tmp-abc-{gone.pid}-2"
    leftover.mkdir()
    capsys.readouterr()
    assert cli.main(["cache", "verify", "--dir", str(store.root)]) == 1
    assert f"bad: cell/{victim.name}" in capsys.readouterr().out
    before = _entries(store)
    assert cli.main(["cache", "prune", "--dir", str(store.root), "--broken", "--dry-run"]) == 0
    assert _entries(store) == before and leftover.is_dir()
    assert cli.main(["cache", "prune", "--dir", str(store.root), "--broken"]) == 0
    assert _entries(store) == [e for e in before if e != f"cell/{victim.name}"]
    assert not leftover.exists()
    assert cli.main(["cache", "verify", "--dir", str(store.root)]) == 0


def test_prune_keeps_what_is_being_built_or_read(store, capsys):
    import fcntl

    live = store.root / "cell" / f".tmp-abc-{os.getpid()}-1"  # this process: alive
    live.mkdir()
    victim = _dirs(store.root, "cell")[0]
    (victim / "f.txt").write_text("changed")
    with open(store.root / "cell" / f".{victim.name}.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)  # another build holds the entry
        assert cli.main(["cache", "prune", "--dir", str(store.root), "--broken"]) == 0
        assert victim.is_dir() and live.is_dir()
        assert f"in use, kept: {victim}" in capsys.readouterr().out
    assert cli.main(["cache", "prune", "--dir", str(store.root), "--broken"]) == 0
    assert not victim.exists() and live.is_dir()  # the live build is never a leftover


def test_cache_prune_older_than_keeps_the_recent_entries(store, capsys):
    old = _dirs(store.root, "cell")[0]
    manifest = json.loads((old / MANIFEST).read_text())
    manifest["created"] = time.time() - 10 * 86400
    (old / MANIFEST).write_text(json.dumps(manifest))
    assert cli.main(["cache", "prune", "--dir", str(store.root)]) == 2  # says what to prune
    assert cli.main(["cache", "prune", "--dir", str(store.root), "--older-than", "7"]) == 0
    assert not old.exists() and len(_entries(store)) == 3
    assert "1 folders" in capsys.readouterr().out


def test_the_installed_command_is_the_cli():
    from importlib.metadata import entry_points

    (ep,) = [e for e in entry_points(group="console_scripts") if e.name == "ragft"]
    assert ep.value == "ragft.cli:main"
    assert os.path.isfile(os.path.join(os.path.dirname(cli.__file__), "conf", "config.yaml"))
