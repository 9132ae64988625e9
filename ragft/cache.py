"""A content-addressed cache shared by cells and re-runs.

An entry is a folder `<root>/<kind>/<key>/` whose key is the hash of everything that
determines its contents (a config slice plus input fingerprints). Entries are built in a
temporary folder and renamed into place, carry a manifest with a SHA-256 per file, and are
checked before use: a corrupt or half-written entry is rebuilt, never used. A file lock per
entry keeps two processes from building the same entry at once.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

MANIFEST = "MANIFEST.json"


def default_cache_dir() -> Path:
    """$RAGFT_CACHE_DIR, else $XDG_CACHE_HOME/ragft, else ~/.cache/ragft."""
    if os.environ.get("RAGFT_CACHE_DIR"):
        return Path(os.environ["RAGFT_CACHE_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "ragft"


def hash_key(parts: Any) -> str:
    """A stable hash of JSON-able parts (dict order does not matter)."""
    blob = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def file_sha256(path: str | os.PathLike, chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def texts_sha256(texts: list[str]) -> str:
    """Fingerprint of an ordered list of strings (chunks, documents)."""
    h = hashlib.sha256()
    for t in texts:
        data = t.encode()
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()


class Cache:
    """Folder-per-entry cache under `root`."""

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root).expanduser() if root else default_cache_dir()

    def entry_dir(self, kind: str, key: str) -> Path:
        return self.root / kind / key

    @contextmanager
    def _lock(self, kind: str, key: str) -> Iterator[None]:
        (self.root / kind).mkdir(parents=True, exist_ok=True)
        with open(self.root / kind / f".{key}.lock", "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def lookup(self, kind: str, key: str) -> Path | None:
        """The entry's folder if it exists and passes its checksums, else None."""
        path = self.entry_dir(kind, key)
        return path if path.is_dir() and verify(path) else None

    def get_or_build(
        self,
        kind: str,
        parts: Mapping[str, Any],
        build: Callable[[Path], None],
    ) -> tuple[Path, bool]:
        """Return (entry folder, hit). On a miss, `build(tmp_dir)` writes the files."""
        key = hash_key(dict(parts))
        final = self.entry_dir(kind, key)
        with self._lock(kind, key):
            if final.is_dir():
                if verify(final):
                    return final, True
                log.warning("cache entry %s is corrupt or incomplete; rebuilding it", final)
                remove(final)
            tmp = final.parent / f".tmp-{key}-{os.getpid()}-{time.time_ns()}"
            tmp.mkdir(parents=True)
            try:
                build(tmp)
                write_manifest(tmp, dict(parts))
                os.replace(tmp, final)
            except BaseException:
                remove(tmp)
                raise
        return final, False


def write_manifest(folder: Path, parts: Mapping[str, Any]) -> None:
    files = {}
    for f in sorted(folder.rglob("*")):
        if f.is_file() and f.name != MANIFEST:
            rel = f.relative_to(folder).as_posix()
            files[rel] = {"size": f.stat().st_size, "sha256": file_sha256(f)}
    manifest = {"key_parts": parts, "files": files, "created": time.time()}
    tmp = folder / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=1, default=str))
    os.replace(tmp, folder / MANIFEST)


def verify(folder: Path) -> bool:
    """True if the manifest exists and every file it lists has its size and checksum."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
        for rel, meta in manifest["files"].items():
            f = folder / rel
            if f.stat().st_size != meta["size"] or file_sha256(f) != meta["sha256"]:
                return False
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return True


@dataclass(frozen=True)
class Entry:
    """One cache entry as `ragft cache ls` shows it."""

    kind: str
    key: str
    path: Path
    size_bytes: int
    created: float  # the manifest's time; the folder's mtime when it has none


def entries(root: Path, kind: str | None = None) -> list[Entry]:
    """Every finished entry under `root` (of `kind`), oldest first; building and trash
    folders (dot-names) are left out."""
    found = []
    for kind_dir in sorted(p for p in root.glob(kind or "*") if p.is_dir()):
        for path in sorted(p for p in kind_dir.iterdir() if p.is_dir()):
            if path.name.startswith("."):
                continue
            try:
                created = float(json.loads((path / MANIFEST).read_text())["created"])
            except (OSError, ValueError, KeyError, TypeError):
                created = path.stat().st_mtime
            size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
            found.append(Entry(kind_dir.name, path.name, path, size, created))
    return sorted(found, key=lambda e: e.created)


def leftovers(root: Path, kind: str | None = None) -> list[Path]:
    """Folders a killed build or removal left behind (`.tmp-<key>-<pid>-<ns>`, `.trash-*`);
    a build whose process is still alive is no leftover."""
    found = []
    for p in sorted(root.glob(f"{kind or '*'}/.*")):
        if not p.is_dir() or p.name[:5] not in (".tmp-", ".tras"):
            continue
        pid = p.name.split("-")[-2] if p.name.startswith(".tmp-") else ""
        if pid.isdigit() and _alive(int(pid)):
            continue
        found.append(p)
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


@contextmanager
def unused(path: Path) -> Iterator[bool]:
    """Hold an entry's lock if no one else does (a build or a reader of it); yields whether
    it was free, so `ragft cache prune` never removes an entry in use."""
    name = path.name
    if name.startswith(".trash-"):  # already renamed away by a removal: no one reads it
        yield True
        return
    key = name[5:].rsplit("-", 2)[0] if name.startswith(".tmp-") else name
    with open(path.parent / f".{key}.lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def remove(path: Path) -> None:
    """Remove an entry folder: renamed first, so no reader sees it half-deleted."""
    trash = path.parent / f".trash-{path.name}-{os.getpid()}-{time.time_ns()}"
    try:
        os.replace(path, trash)
    except OSError:
        return
    shutil.rmtree(trash, ignore_errors=True)
