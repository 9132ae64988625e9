"""The user's documents: a folder of .txt/.md (and, with the `docs` extra, .pdf/.docx/.html)
files, or a JSONL of {"id", "text", "title"?}."""

from __future__ import annotations

import logging
import os
from pathlib import Path, PurePath

from ragft.data.jsonl import IdRegistry, get_id, get_str, read_jsonl
from ragft.errors import DataError
from ragft.types import Document

log = logging.getLogger(__name__)

PLAIN_EXTS = [".txt", ".md"]  # read as UTF-8 text, as they are
RICH_EXTS = [".pdf", ".docx", ".html", ".htm"]  # llama-index's own readers (extra `docs`)
FOLDER_EXTS = PLAIN_EXTS + RICH_EXTS
DOCS_EXTRA = "pip install 'ragft[docs]' (llama-index-readers-file, pypdf, docx2txt, beautifulsoup4)"


def load_corpus(path: str | Path) -> tuple[Document, ...]:
    """Load a corpus from a folder (recursively, .txt and .md) or a .jsonl file.

    Folder documents are identified by their path relative to the folder (posix) and titled
    by their file stem; blank files are skipped.
    """
    p = Path(path)
    if not p.exists():
        raise DataError(f"{p}: no such file or folder")
    if p.is_dir():
        docs = _load_folder(p)
    elif p.is_file() and p.suffix.lower() == ".jsonl":
        docs = _load_jsonl(p)
    else:
        raise DataError(f"{p}: expected a folder of .txt/.md files or a .jsonl file")
    if not docs:
        raise DataError(f"{p}: the corpus is empty")
    log.info("%s: %d documents", p, len(docs))
    return docs


def _load_folder(folder: Path) -> tuple[Document, ...]:
    # Imported here: llama-index is heavy, and only folder corpora need it.
    from llama_index.core import SimpleDirectoryReader

    try:
        # exclude_hidden=False: llama-index tests every part of the absolute path, so a
        # corpus below any dotted folder (~/.cache/...) would look empty; we filter below.
        reader = SimpleDirectoryReader(
            input_dir=str(folder),
            recursive=True,
            required_exts=FOLDER_EXTS,
            exclude_hidden=False,
        )
    except ValueError:  # "No files found in ..."
        raise DataError(
            f"{folder}: no readable .txt or .md files (nor .pdf, .docx, .html)"
        ) from None

    # We read only plain text, so the warning that the optional readers package is missing
    # (logged once per file) is noise; silence it while we load.
    quiet = _DropMissingReadersWarning()
    reader_log = logging.getLogger("llama_index.core.readers.file.base")
    reader_log.addFilter(quiet)
    try:
        return _read_files(folder, reader.input_files)
    finally:
        reader_log.removeFilter(quiet)


class _DropMissingReadersWarning(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "llama-index-readers-file" not in record.getMessage()


def _read_files(folder: Path, files: list) -> tuple[Document, ...]:
    from llama_index.core import SimpleDirectoryReader

    base = os.path.abspath(folder)
    docs: list[Document] = []
    for file in files:
        rel = PurePath(os.path.relpath(os.path.abspath(file), base))
        if any(part.startswith(".") for part in rel.parts):
            continue
        try:
            # One file at a time, so a decoding error names its file; "utf-8-sig" drops a
            # BOM, and "strict" refuses to silently drop bytes (the llama-index default).
            loaded = SimpleDirectoryReader.load_file(
                input_file=Path(file),
                file_metadata=None,
                file_extractor=_extractor(Path(file)),
                encoding="utf-8-sig",
                errors="strict",
                raise_on_error=True,
            )
        except UnicodeDecodeError as e:
            raise DataError(
                f"{file}: not UTF-8 ({e.reason} at byte {e.start}); save the file as UTF-8"
            ) from None
        except DataError:
            raise
        except ImportError:  # a reader's own dependency (pypdf, docx2txt, bs4) is missing
            raise _needs_docs_extra(Path(file)) from None
        except Exception as e:  # a reader's own error on a damaged PDF / DOCX / HTML file
            raise DataError(f"{file}: cannot read it ({type(e).__name__}: {e})") from None
        text = ("\n\n" if Path(file).suffix.lower() in RICH_EXTS else "").join(
            d.text for d in loaded
        )
        if not text.strip():
            log.warning("%s: no text in it, skipped", file)
            continue
        docs.append(Document(id=rel.as_posix(), text=text, title=rel.stem))
    if not docs and files:
        raise DataError(f"{folder}: the corpus is empty (every .txt/.md file is blank or hidden)")
    return tuple(sorted(docs, key=lambda d: d.id))


def _extractor(file: Path) -> dict:
    """{} for plain text (read as is); llama-index's reader for a PDF, Word or HTML file."""
    ext = file.suffix.lower()
    if ext not in RICH_EXTS:
        return {}
    try:
        from llama_index.readers.file import DocxReader, HTMLTagReader, PDFReader
    except ImportError:
        raise _needs_docs_extra(file) from None
    reader = {".pdf": PDFReader, ".docx": DocxReader}.get(ext)
    return {ext: reader() if reader else HTMLTagReader(tag="body")}


def _needs_docs_extra(file: Path) -> DataError:
    ext = file.suffix.lower()
    return DataError(f"{file}: reading {ext} files needs the docs extra: {DOCS_EXTRA}")


def _load_jsonl(path: Path) -> tuple[Document, ...]:
    ids = IdRegistry(path)
    docs: list[Document] = []
    for line, row in read_jsonl(path):
        where = f"{path}:{line}"
        doc_id = get_id(row, where, default=None)
        text = get_str(row, "text", where)
        title = get_str(row, "title", where, required=False) or ""
        ids.add(doc_id, line)
        docs.append(Document(id=doc_id, text=text, title=title))
    return tuple(docs)
