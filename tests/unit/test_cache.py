"""The content-addressed cache: keys, hits and misses, entries that fail their checksums
(a byte flipped in place, a truncated file, a missing manifest) are rebuilt, the per-entry
lock, and the manifest's contents (checked against hashlib directly)."""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path

import pytest

from ragft.cache import (
    MANIFEST,
    Cache,
    default_cache_dir,
    file_sha256,
    hash_key,
    texts_sha256,
    verify,
)

PARTS = {"kind": "index", "chunk_size": 48, "nested": {"b": [1, 2], "a": "x"}}


class Builder:
    """A build function that writes two files (one in a subfolder) and counts its calls."""

    def __init__(self, payload: bytes = b"weights-" * 64):
        self.payload = payload
        self.calls = 0

    def __call__(self, folder: Path) -> None:
        self.calls += 1
        (folder / "model.bin").write_bytes(self.payload)
        (folder / "sub").mkdir()
        (folder / "sub" / "config.json").write_text('{"layers": 2}')


def test_hash_key_ignores_dict_order_and_is_the_sha256_of_sorted_json():
    reordered = {"nested": {"a": "x", "b": [1, 2]}, "chunk_size": 48, "kind": "index"}
    assert hash_key(PARTS) == hash_key(reordered)
    blob = '{"chunk_size":48,"kind":"index","nested":{"a":"x","b":[1,2]}}'
    assert hash_key(PARTS) == hashlib.sha256(blob.encode()).hexdigest()[:32]


def test_hash_key_changes_with_any_value_and_with_list_order():
    base = hash_key(PARTS)
    assert hash_key({**PARTS, "chunk_size": 49}) != base
    assert hash_key({**PARTS, "nested": {"b": [2, 1], "a": "x"}}) != base
    assert hash_key({**PARTS, "extra": None}) != base


def test_file_sha256_reads_in_chunks(tmp_path):
    f = tmp_path / "f"
    data = bytes(range(256)) * 40
    f.write_bytes(data)
    assert file_sha256(f, chunk=7) == hashlib.sha256(data).hexdigest()


def test_texts_sha256_keeps_order_and_boundaries():
    assert texts_sha256(["ab", "c"]) != texts_sha256(["a", "bc"])
    assert texts_sha256(["a", "b"]) != texts_sha256(["b", "a"])
    assert texts_sha256(["a", "b"]) == texts_sha256(["a", "b"])


def test_default_cache_dir_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("RAGFT_CACHE_DIR", str(tmp_path / "explicit"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "explicit"
    monkeypatch.delenv("RAGFT_CACHE_DIR")
    assert default_cache_dir() == tmp_path / "xdg" / "ragft"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "ragft"


def test_miss_builds_then_hit_reuses(tmp_path):
    cache, build = Cache(tmp_path), Builder()
    path, hit = cache.get_or_build("index", PARTS, build)
    assert (hit, build.calls) == (False, 1)
    assert path == tmp_path / "index" / hash_key(PARTS)
    assert (path / "model.bin").read_bytes() == build.payload
    again, hit = cache.get_or_build("index", dict(reversed(list(PARTS.items()))), build)
    assert (again, hit, build.calls) == (path, True, 1)
    assert cache.lookup("index", hash_key(PARTS)) == path
    # no temporary folders are left behind
    assert sorted(p.name for p in (tmp_path / "index").iterdir() if p.is_dir()) == [path.name]


def test_different_parts_or_kind_are_different_entries(tmp_path):
    cache, build = Cache(tmp_path), Builder()
    a, _ = cache.get_or_build("index", PARTS, build)
    b, hit_b = cache.get_or_build("index", {**PARTS, "chunk_size": 12}, build)
    c, hit_c = cache.get_or_build("adapter", PARTS, build)
    assert len({a, b, c}) == 3 and not hit_b and not hit_c and build.calls == 3


def test_manifest_lists_every_file_with_its_size_and_sha256(tmp_path):
    path, _ = Cache(tmp_path).get_or_build("index", PARTS, Builder())
    manifest = json.loads((path / MANIFEST).read_text())
    assert manifest["key_parts"] == PARTS
    assert isinstance(manifest["created"], float)
    expected = {}
    for rel in ("model.bin", "sub/config.json"):
        data = (path / rel).read_bytes()
        expected[rel] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    assert manifest["files"] == expected  # the manifest does not list itself


def _flip_first_byte_in_place(f: Path) -> None:
    size = f.stat().st_size
    with open(f, "r+b") as fh:
        first = fh.read(1)
        fh.seek(0)
        fh.write(bytes([first[0] ^ 0xFF]))
    assert f.stat().st_size == size  # same size: only a checksum can tell


def test_a_byte_flipped_in_place_fails_lookup_and_is_rebuilt(tmp_path):
    cache, build = Cache(tmp_path), Builder()
    path, _ = cache.get_or_build("index", PARTS, build)
    _flip_first_byte_in_place(path / "model.bin")
    assert not verify(path)
    assert cache.lookup("index", hash_key(PARTS)) is None
    again, hit = cache.get_or_build("index", PARTS, build)
    assert (again, hit, build.calls) == (path, False, 2)
    assert (path / "model.bin").read_bytes() == build.payload
    assert verify(path)


def test_a_flipped_byte_in_a_nested_file_is_caught_too(tmp_path):
    cache, build = Cache(tmp_path), Builder()
    path, _ = cache.get_or_build("index", PARTS, build)
    _flip_first_byte_in_place(path / "sub" / "config.json")
    assert cache.lookup("index", hash_key(PARTS)) is None
    assert cache.get_or_build("index", PARTS, build)[1] is False and build.calls == 2


@pytest.mark.parametrize("damage", ["truncate", "delete_file", "delete_manifest", "bad_json"])
def test_an_incomplete_entry_is_rebuilt(tmp_path, damage):
    cache, build = Cache(tmp_path), Builder()
    path, _ = cache.get_or_build("index", PARTS, build)
    if damage == "truncate":
        with open(path / "model.bin", "r+b") as fh:
            fh.truncate(10)
    elif damage == "delete_file":
        (path / "sub" / "config.json").unlink()
    elif damage == "delete_manifest":
        (path / MANIFEST).unlink()
    else:
        (path / MANIFEST).write_text('{"files": ')
    assert cache.lookup("index", hash_key(PARTS)) is None
    again, hit = cache.get_or_build("index", PARTS, build)
    assert (again, hit, build.calls) == (path, False, 2)
    assert cache.lookup("index", hash_key(PARTS)) == path


def test_a_failed_build_leaves_nothing_and_the_next_call_builds(tmp_path):
    cache = Cache(tmp_path)

    def broken(folder: Path) -> None:
        (folder / "half.bin").write_bytes(b"x")
        raise RuntimeError("out of memory")

    with pytest.raises(RuntimeError, match="out of memory"):
        cache.get_or_build("index", PARTS, broken)
    assert [p for p in (tmp_path / "index").iterdir() if p.is_dir()] == []
    assert cache.lookup("index", hash_key(PARTS)) is None
    build = Builder()
    assert cache.get_or_build("index", PARTS, build)[1] is False and build.calls == 1


def test_lookup_of_a_missing_entry(tmp_path):
    assert Cache(tmp_path).lookup("index", "0" * 32) is None


def test_the_lock_makes_a_second_caller_wait_and_reuse_the_first_build(tmp_path):
    """Two builders of one entry: the second waits for the lock, then gets a hit."""
    cache = Cache(tmp_path)
    started, release = threading.Event(), threading.Event()
    calls: list[str] = []

    def slow(folder: Path) -> None:
        calls.append("slow")
        started.set()
        assert release.wait(10)
        (folder / "a.bin").write_bytes(b"first")

    def fast(folder: Path) -> None:
        calls.append("fast")
        (folder / "a.bin").write_bytes(b"second")

    results: dict[str, tuple[Path, bool]] = {}
    first = threading.Thread(target=lambda: results.update(a=cache.get_or_build("k", PARTS, slow)))
    first.start()
    assert started.wait(10)
    second = threading.Thread(target=lambda: results.update(b=cache.get_or_build("k", PARTS, fast)))
    second.start()
    second.join(0.5)
    assert second.is_alive(), "the second caller did not wait for the first one's lock"
    release.set()
    first.join(10)
    second.join(10)
    assert calls == ["slow"]
    assert results["a"][1] is False and results["b"] == (results["a"][0], True)
    assert (results["b"][0] / "a.bin").read_bytes() == b"first"
    assert (tmp_path / "k" / f".{hash_key(PARTS)}.lock").is_file()


def test_a_corrupt_entry_whose_files_cannot_all_be_deleted_is_still_rebuilt(tmp_path, monkeypatch):
    """Deleting the moved-away corrupt entry is best effort (a busy file on a network file
    system): the rebuild goes on and the leftovers stay under a .trash- name."""
    import ragft.cache as cache_module

    def rmtree_that_fails(path, ignore_errors=False, **kwargs):
        if not ignore_errors:  # shutil.rmtree's contract: errors raise unless ignored
            raise OSError(f"{path}: device or resource busy")

    cache, build = Cache(tmp_path), Builder()
    entry, _ = cache.get_or_build("model", PARTS, build)
    (entry / "model.bin").write_bytes(b"x" * len(build.payload))  # same size, other bytes
    monkeypatch.setattr(cache_module.shutil, "rmtree", rmtree_that_fails)
    again, hit = cache.get_or_build("model", PARTS, build)
    assert (hit, build.calls, again) == (False, 2, entry)
    assert (again / "model.bin").read_bytes() == build.payload
    assert len([p for p in entry.parent.iterdir() if p.name.startswith(".trash-")]) == 1


def test_keys_are_stable_across_versions():
    # A changed hash silently orphans every cache a user has; these values are the format.
    assert hash_key(PARTS) == "1b7315b944e434380aa3e5150c045a34"
    assert texts_sha256(["a", "bc"]) == (
        "9a8acca1b6c6c0befd3fbc756aed625da998c998f7252e738c4ef061906b9b21"
    )


def test_key_parts_that_are_not_json_are_hashed_and_recorded_as_text(tmp_path):
    parts = {"path": Path("/data/docs"), "n": 1}
    assert hash_key(parts) == hash_key({"path": "/data/docs", "n": 1})
    path, _ = Cache(tmp_path).get_or_build("index", parts, Builder())
    assert json.loads((path / MANIFEST).read_text())["key_parts"]["path"] == "/data/docs"


def test_a_cache_without_a_root_is_the_default_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("RAGFT_CACHE_DIR", str(tmp_path / "here"))
    assert Cache().root == default_cache_dir() == tmp_path / "here"
    assert Cache(None).root == tmp_path / "here"


def test_rebuilding_a_corrupt_entry_says_which(tmp_path, caplog):
    cache, build = Cache(tmp_path), Builder()
    path, _ = cache.get_or_build("index", PARTS, build)
    (path / MANIFEST).unlink()
    with caplog.at_level("WARNING", logger="ragft.cache"):
        cache.get_or_build("index", PARTS, build)
    assert caplog.messages == [f"cache entry {path} is corrupt or incomplete; rebuilding it"]
