"""Questions without a model (pure): wh- and cloze questions around the numbers, dates and
names of each sentence, answered by the span itself.

"Its hometown was Demylkard, a market town." in a document titled "Fevulkix Thearnix" gives
"Fevulkix Thearnix's hometown was what?" and "Fill in the blank: Fevulkix Thearnix's hometown
was _____, a market town." (answer "Demylkard"). A leading pronoun becomes the document's
title, so a question names its subject; the clause after the span is dropped from the
wh-question when a comma ends it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from ragft.datagen.prompts import Record
from ragft.metrics import normalize_answer
from ragft.retrieval.chunking import split_sentences
from ragft.types import Chunk

MAX_SPANS_PER_SENTENCE = 2

_SUBJECT = {"he", "she", "it", "they"}
_POSSESSIVE = {"his", "her", "its", "their"}
_FUNCTION_WORDS = set(
    "the a an in on at this that these those it when if for to by of as and but or with from "
    "each every some all most many after before".split()
)
_NOT_NOUNS = set(
    "is was are were be been has had have and or but in on at of to by for with which who that "
    "where when as from after before since while".split()
)
_NUMBER = re.compile(r"(?<![\w.-])\d+(?:[.,]\d+)*(?![\w-])")
_NAME = re.compile(r"\b[A-Z][\w-]*(?:\s+[A-Z][\w-]*)*")
_MARKUP = re.compile(r"[#*`_>|]+")
_CLAUSE_END = re.compile(r"\s*[,;:(\u2014]")


def questions(chunk: Chunk, subject: str, title_line: str = "") -> Iterator[Record]:
    """A wh-question and a cloze question for up to two spans of every usable sentence.

    `subject` is what the document is about (`document_subject`): a leading pronoun becomes
    it, and spans that name it are skipped, since a question whose answer is the subject is
    asked of every sentence alike. `title_line` is the line the chunker put on top.
    """
    body = chunk.text
    if title_line and body.startswith(title_line + "\n"):
        body = body[len(title_line) + 1 :]
    for raw in (s for block in _blocks(body) for s in split_sentences(block)):
        sentence = _clean(raw)
        words = sentence.split()
        if not 4 <= len(words) <= 40:
            continue
        sentence = _resolve_pronoun(sentence, subject)
        spans = [s for s in _spans(sentence) if not _is_subject(sentence[s[0] : s[1]], subject)]
        for start, end, kind in spans[:MAX_SPANS_PER_SENTENCE]:
            answer = sentence[start:end]
            fact = f"{chunk.doc_id}:{normalize_answer(answer)}"
            common = dict(output=answer, doc_id=chunk.doc_id, chunk_id=chunk.id,
                          extractive=True, fact=fact)  # fmt: skip
            yield Record(instruction=wh_question(sentence, start, end, kind), input="",
                         type="wh_question", **common)  # fmt: skip
            yield Record(instruction=cloze(sentence, start, end), input="", type="cloze",
                         **common)  # fmt: skip


def document_subject(text: str, title: str) -> str:
    """What a document is about: its first Markdown heading, else its title."""
    for line in text.splitlines():
        if line.startswith("#"):
            heading = _clean(line)
            if heading:
                return heading
        elif line.strip():
            break
    return title


def _is_subject(span: str, subject: str) -> bool:
    return bool(subject) and normalize_answer(span) == normalize_answer(subject)


def _blocks(text: str) -> list[str]:
    """Paragraphs without their heading lines (a heading has no full stop to end it)."""
    blocks = []
    for block in re.split(r"\n\s*\n", text):
        lines = [line for line in block.splitlines() if not line.lstrip().startswith("#")]
        if any(line.strip() for line in lines):
            blocks.append(" ".join(lines))
    return blocks


def _clean(text: str) -> str:
    return " ".join(_MARKUP.sub(" ", text).split())


def _resolve_pronoun(sentence: str, subject: str) -> str:
    first, _, rest = sentence.partition(" ")
    if not subject or not rest:
        return sentence
    if first.lower() in _SUBJECT:
        return f"{subject} {rest}"
    if first.lower() in _POSSESSIVE:
        return f"{subject}'s {rest}"
    return sentence


def _spans(sentence: str) -> list[tuple[int, int, str]]:
    """(start, end, kind) of numbers first (kind "year" or "number"), then names ("name")."""
    found: list[tuple[int, int, str]] = []
    for m in _NUMBER.finditer(sentence):
        g = m.group()  # "1,642" and "12.5" are numbers, "1916" a year
        year = len(g) == 4 and g.isdigit() and 1000 <= int(g) <= 2999
        found.append((m.start(), m.end(), "year" if year else "number"))
    for m in _NAME.finditer(sentence):
        start, text = m.start(), m.group()
        head, _, tail = text.partition(" ")
        if head.lower() in _FUNCTION_WORDS:  # "The Vearvwyn" -> "Vearvwyn"; "In" -> nothing
            if not tail:
                continue
            start, text = start + len(head) + 1, tail
        if start == 0 and " " not in text:
            continue  # a lone capitalised first word is just a sentence start
        found.append((start, start + len(text), "name"))
    return found


def wh_question(sentence: str, start: int, end: int, kind: str) -> str:
    before, after = sentence[:start], sentence[end:]
    lower = before.lower()
    if kind == "year" and lower.endswith("in "):
        before, wh = before[:-3], "when"
    elif kind == "number":
        wh = "how many"
    elif lower.endswith("the "):  # "the X bridge" -> "which bridge", "the X Society" -> "what"
        noun = re.match(r"\s*([a-z]+)\b", after)
        before = before[:-4]
        wh = "which" if noun and noun.group(1) not in _NOT_NOUNS else "what"
    elif lower.endswith("by "):
        before, wh = before[:-3], "by whom"
    else:
        wh = "what"
    clause = _CLAUSE_END.search(after)
    tail = after[: clause.start()] if clause else after
    if not before.strip():  # "In 1798, X was born" -> "When X was born?": keep the clause
        tail = after.lstrip(" ,;:")
        tail = f" {tail}" if tail else ""
    text = f"{before}{wh}{tail}".strip().rstrip(".!?").strip()
    return text[:1].upper() + text[1:] + "?"


def cloze(sentence: str, start: int, end: int) -> str:
    return f"Fill in the blank: {sentence[:start]}_____{sentence[end:]}"


_PARAPHRASE_TEMPLATES = (
    "According to the documents, {q}",
    "Based on what you know, {q}",
    "Answer briefly: {q}",
    "Quick question: {q}",
)


def paraphrases(question: str, k: int) -> list[str]:
    """K rewordings by template (the rule-based generator cannot do better)."""
    q = question[:1].lower() + question[1:] if not question[:2].isupper() else question
    return [_PARAPHRASE_TEMPLATES[i % len(_PARAPHRASE_TEMPLATES)].format(q=q) for i in range(k)]
