"""ragft: should I fine-tune, retrieve (RAG), or both? One reproducible cell at a time."""

__version__ = "0.1.0"
