"""A seeded, generated knowledge base of invented people that no language model can know.

Each entity (an invented person) has four facts: hometown, birth_year, invention and
society (founded). One short prose document per entity states each fact exactly once; seven
question wordings per attribute are shuffled per fact: the first is held out for eval, the
next `n_train_phrasings` are for training.

Order. Facts are listed in rotating rounds: round r asks entity e about attribute
ATTRIBUTES[(e + r) % 4], for every entity, before round r + 1 starts. So any prefix of the
eval set (`data.max_eval`) covers as many distinct entities as it can (up to all of them)
with the four attributes in equal shares. Train follows the same fact order, each fact's
phrasings together.

Invented words (name parts, towns, invention and society words, filler places) are unique
across the knowledge base and none is a substring of another or of the fixed template text,
so each answer string occurs in its own document only, exactly once.

Unanswerable questions (`n_unanswerable`, eval only, `answers` empty) alternate between the
four attributes asked about invented people who have no document (fresh names, in the same
wordings as the answerable questions) and facts no document states about people who have one
(`ABSENT`). They are spread evenly through the eval set, so a `max_eval` prefix keeps their
share; they draw from their own seeded generator, so the rest of the data is the same
whatever their number.
"""

from __future__ import annotations

import random
import re
from string import Formatter

from ragft.data.kb_vocabulary import (
    _FIXED_TEXT,
    ANIMALS,
    ATTRIBUTES,
    CODAS,
    DEVICES,
    EVAL_SPLITS,
    FACTS,
    FILLERS,
    FOODS,
    HOBBIES,
    INTROS,
    JOBS,
    LANDMARKS,
    N_QUESTION_TEMPLATES,
    ONSETS,
    QUESTIONS,
    SOCIETY_KINDS,
    SUFFIXES,
    VOWELS,
    YEARS,
)
from ragft.types import Dataset, Document, QAExample

# Facts no document states (the fillers speak of hobbies, places, pets and food only).
ABSENT = (
    "In what year did {name} die?",
    "What was the name of {name}'s first teacher?",
    "Whom did {name} marry?",
    "How many children did {name} have?",
    "Which university did {name} attend?",
    "What was the name of {name}'s older brother?",
)


class _WordMaker:
    """Invents capitalised words, each new one unrelated (by substring) to all others."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.words: set[str] = set()
        self.pieces: set[str] = set()  # every substring of every word so far

    def new(self) -> str:
        while True:
            n = self.rng.randint(1, 2)
            parts = [self.rng.choice(ONSETS) + self.rng.choice(VOWELS) for _ in range(n)]
            w = "".join(parts) + self.rng.choice(CODAS) + self.rng.choice(SUFFIXES)
            if 5 <= len(w) <= 9 and not _CLUMSY.search(w) and self._fresh(w):
                self._keep(w)
                return w.capitalize()

    def _fresh(self, w: str) -> bool:
        if w in self.pieces or w in _FIXED_TEXT:
            return False
        return not any(w[i:j] in self.words for i, j in _spans(len(w)))

    def _keep(self, w: str) -> None:
        self.words.add(w)
        self.pieces.update(w[i:j] for i, j in _spans(len(w)))


def _spans(n: int) -> list[tuple[int, int]]:
    return [(i, j) for i in range(n) for j in range(i + 1, n + 1)]


# Three vowels in a row, a doubled letter, or a "y" next to a vowel reads badly.
_CLUMSY = re.compile(r"[aeiouy]{3}|(.)\1|y[aeiou]|[aeiou]y")

_PRONOUNS = {
    True: {"S": "She", "s": "she", "P": "Her", "p": "her", "o": "her"},
    False: {"S": "He", "s": "he", "P": "His", "p": "his", "o": "him"},
}


def _sentence(template: str, name: str, named: bool, female: bool, **values: str) -> str:
    """Fill a template; when `named`, the first reference is the full name, later ones pronouns."""
    out: list[str] = []
    for literal, field, _, _ in Formatter().parse(template):
        out.append(literal)
        if field is None:
            continue
        if field in _PRONOUNS[female]:
            if named:
                out.append(f"{name}'s" if field in ("P", "p") else name)
                named = False
            else:
                out.append(_PRONOUNS[female][field])
        else:
            out.append(values[field])
    return "".join(out)


def generate(
    n_entities: int,
    n_train_phrasings: int,
    seed: int,
    eval_split: str,
    n_unanswerable: int = 0,
) -> Dataset:
    """Generate the knowledge base: one document per entity, train and eval questions.

    eval_split "heldout" asks each fact in the wording kept out of training; "seen" asks it
    in its first training wording, verbatim. `n_unanswerable` eval questions have no answer
    in the knowledge base (the module docstring says which).
    """
    _check(n_entities, n_train_phrasings, eval_split)
    if n_unanswerable < 0:
        raise ValueError(f"n_unanswerable={n_unanswerable} must be >= 0")
    rng = random.Random(seed)
    words = _WordMaker(rng)
    years = rng.sample(YEARS, n_entities)
    corpus: list[Document] = []
    facts: dict[tuple[int, str], tuple[str, tuple[str, ...]]] = {}  # -> (name, answers)
    for e in range(n_entities):
        name = f"{words.new()} {words.new()}"
        device = f"{words.new()} {rng.choice(DEVICES)}"
        society = f"{words.new()} {rng.choice(SOCIETY_KINDS)}"
        values = {
            "hometown": words.new(),
            "birth_year": str(years[e]),
            "invention": device,
            "society": society,
        }
        answers = {
            "hometown": (values["hometown"],),
            "birth_year": (values["birth_year"],),
            "invention": (device, f"the {device}"),
            "society": (society, f"the {society}"),
        }
        corpus.append(_document(rng, words, e, name, values))
        for attr in ATTRIBUTES:
            facts[(e, attr)] = (name, answers[attr])

    # Shuffle templates in entity-major order (stable RNG use), emit in rotating rounds.
    wordings = {key: rng.sample(QUESTIONS[key[1]], N_QUESTION_TEMPLATES) for key in facts}
    train, eval_ = _questions(facts, wordings, n_entities, n_train_phrasings, eval_split)
    if n_unanswerable:
        words.rng = random.Random(f"{seed}/unanswerable")  # the answerable data stays as it is
        names = [d.title for d in corpus]
        eval_ = _spread(eval_, _unanswerable(words, names, n_unanswerable))
    return Dataset(corpus=tuple(corpus), train=tuple(train), eval=tuple(eval_))


def _unanswerable(words: _WordMaker, names: list[str], n: int) -> list[QAExample]:
    """Questions no document answers: about strangers (even i), absent facts (odd i)."""
    rng = words.rng
    out = []
    for i in range(n):
        if i % 2 == 0:
            attr = ATTRIBUTES[(i // 2) % len(ATTRIBUTES)]
            template = rng.choice(QUESTIONS[attr])
            name = f"{words.new()} {words.new()}"
        else:
            template = ABSENT[(i // 2) % len(ABSENT)]
            name = names[(i // 2) % len(names)]
        out.append(
            QAExample(
                id=f"u{i:03d}/eval",
                question=template.format(name=name),
                answers=(),
                phrasing="unanswerable",
            )  # fmt: skip
        )
    return out


def _spread(answerable: list[QAExample], unanswerable: list[QAExample]) -> list[QAExample]:
    """Both lists merged in their own orders, the unanswerable ones evenly spaced."""
    n, m = len(answerable), len(unanswerable)
    order = sorted(
        [((i + 1) / (n + 1), 0, i) for i in range(n)]
        + [((j + 1) / (m + 1), 1, j) for j in range(m)]
    )
    return [answerable[i] if kind == 0 else unanswerable[i] for _, kind, i in order]


def _check(n_entities: int, n_train_phrasings: int, eval_split: str) -> None:
    if not 1 <= n_train_phrasings <= N_QUESTION_TEMPLATES - 1:
        raise ValueError(
            f"n_train_phrasings={n_train_phrasings} must be between 1 and "
            f"{N_QUESTION_TEMPLATES - 1}"
        )
    if not 1 <= n_entities <= len(YEARS):
        raise ValueError(f"n_entities={n_entities} must be between 1 and {len(YEARS)}")
    if eval_split not in EVAL_SPLITS:
        raise ValueError(f"eval_split={eval_split!r} must be one of: {', '.join(EVAL_SPLITS)}")


def _questions(
    facts: dict[tuple[int, str], tuple[str, tuple[str, ...]]],
    wordings: dict[tuple[int, str], list[str]],
    n_entities: int,
    n_train_phrasings: int,
    eval_split: str,
) -> tuple[list[QAExample], list[QAExample]]:
    """Train and eval questions, fact by fact in rotating rounds (see the module docstring)."""
    train: list[QAExample] = []
    eval_: list[QAExample] = []
    for r in range(len(ATTRIBUTES)):
        for e in range(n_entities):
            attr = ATTRIBUTES[(e + r) % len(ATTRIBUTES)]
            name, answers = facts[(e, attr)]
            fact_id = f"e{e:03d}.{attr}"
            qs = [t.format(name=name) for t in wordings[(e, attr)]]
            common = {"answers": answers, "gold_doc_ids": (f"doc-{e:03d}",), "fact_id": fact_id}
            for i, q in enumerate(qs[1 : 1 + n_train_phrasings]):
                train.append(
                    QAExample(id=f"{fact_id}/train{i}", question=q, phrasing="train", **common)
                )
            q_eval = qs[0] if eval_split == "heldout" else qs[1]
            eval_.append(
                QAExample(id=f"{fact_id}/eval", question=q_eval, phrasing=eval_split, **common)
            )
    return train, eval_


def _document(
    rng: random.Random, words: _WordMaker, e: int, name: str, values: dict[str, str]
) -> Document:
    female = rng.random() < 0.5
    fill = {
        "job": rng.choice(JOBS),
        "hobby": rng.choice(HOBBIES),
        "place": words.new(),
        "landmark": rng.choice(LANDMARKS),
        "animal": rng.choice(ANIMALS),
        "pet": words.new(),
        "food": rng.choice(FOODS),
    }
    sentences = []
    for attr in ATTRIBUTES:
        template = rng.choice(FACTS[attr])
        named = rng.random() < 0.5
        sentences.append(_sentence(template, name, named, female, value=values[attr]))
    for template in rng.sample(FILLERS, rng.randint(1, 3)):
        sentences.append(_sentence(template, name, rng.random() < 0.5, female, **fill))
    rng.shuffle(sentences)
    intro = rng.choice(INTROS).format(name=name, a_job=_with_article(fill["job"]))
    text = " ".join([intro, *sentences])
    return Document(id=f"doc-{e:03d}", text=text, title=name)


def _with_article(noun: str) -> str:
    return f"an {noun}" if noun[0] in "aeiou" else f"a {noun}"
