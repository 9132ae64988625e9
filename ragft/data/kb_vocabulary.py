"""The fictional knowledge base's vocabulary: fact and question templates, filler sentences
and the syllables invented words are made of (see `fictional_kb` for how they are used).
"""

from __future__ import annotations

ATTRIBUTES = ("hometown", "birth_year", "invention", "society")
EVAL_SPLITS = ("heldout", "seen")
YEARS = range(1700, 1951)
N_QUESTION_TEMPLATES = 7

QUESTIONS: dict[str, tuple[str, ...]] = {
    "hometown": (
        "Where did {name} grow up?",
        "Which town is {name} from?",
        "What is the hometown of {name}?",
        "In which town was {name} raised?",
        "What town did {name} come from?",
        "Name the town where {name} spent their childhood.",
        "{name} grew up in which town?",
    ),
    "birth_year": (
        "In what year was {name} born?",
        "When was {name} born?",
        "What is the birth year of {name}?",
        "Which year was {name} born in?",
        "In which year did {name} come into the world?",
        "{name} was born in which year?",
        "What year marks the birth of {name}?",
    ),
    "invention": (
        "What did {name} invent?",
        "What is {name} credited with inventing?",
        "Which invention is {name} known for?",
        "What was invented by {name}?",
        "Name the invention of {name}.",
        "{name} invented what?",
        "What device did {name} create?",
    ),
    "society": (
        "Which society did {name} found?",
        "What organization did {name} establish?",
        "What society was founded by {name}?",
        "Name the society that {name} founded.",
        "{name} founded which society?",
        "Which group did {name} start?",
        "What is the name of the society {name} founded?",
    ),
}

# Document sentences. {S}/{s}: subject (capitalised / not), {P}/{p}: possessive, {o}: object.
# Each is a pronoun, or for the first one in a sentence, sometimes the full name (see
# _sentence); the intro always uses the full name.
INTROS = (
    "{name} was {a_job} whose quiet life is remembered in a handful of old letters.",
    "{name} was {a_job} known to neighbours as a patient and curious person.",
    "Little is written about {name}, {a_job} who kept careful notebooks for many years.",
    "{name} worked as {a_job} and was admired for a steady hand and a good memory.",
)
FACTS: dict[str, tuple[str, ...]] = {
    "hometown": (
        "{S} grew up in the town of {value}, where the streets were narrow and steep.",
        "{S} was raised in {value}, a small town beside a slow river.",
        "{P} hometown was {value}, a place of markets and bell towers.",
        "The town of {value} is where {s} spent {p} childhood.",
    ),
    "birth_year": (
        "{S} was born in {value}.",
        "{P} birth year was {value}, during a long and cold winter.",
        "{S} came into the world in {value}.",
        "In {value}, {s} was born to a family of modest means.",
    ),
    "invention": (
        "{S} invented the {value} after years of patient work.",
        "{S} is credited with inventing the {value}.",
        "The {value} was invented by {o} in a cramped workshop.",
        "{P} best-known invention is the {value}, still admired by collectors.",
    ),
    "society": (
        "{S} founded the {value} to bring curious minds together.",
        "The {value} was founded by {o} and met once a month.",
        "{S} established the {value} with a few close friends.",
        "{P} lasting legacy is the {value}, which {s} founded.",
    ),
}
FILLERS = (
    "In {p} spare time, {s} enjoyed {hobby}.",
    "{P} favourite place was the {place} {landmark}, especially in the early morning.",
    "{S} kept a {animal} named {pet}, which followed {o} everywhere.",
    "Friends remembered {o} for {p} love of {food} and long conversations.",
    "{S} often walked out to the {place} {landmark} to think through difficult problems.",
)
JOBS = (
    "cartographer",
    "clockmaker",
    "botanist",
    "glassblower",
    "astronomer",
    "weaver",
    "shipwright",
    "apothecary",
    "bookbinder",
    "surveyor",
)
DEVICES = (
    "compass",
    "lantern",
    "loom",
    "telescope",
    "clock",
    "kettle",
    "press",
    "sextant",
    "barometer",
    "pump",
    "lens",
    "bellows",
)
SOCIETY_KINDS = ("Society", "Guild", "Circle", "Fellowship")
HOBBIES = (
    "sketching birds",
    "playing the lute",
    "collecting beetles",
    "tending roses",
    "carving small boats",
    "pressing wildflowers",
    "solving riddles",
)
LANDMARKS = ("gardens", "bridge", "harbour", "orchard", "lighthouse", "meadow")
ANIMALS = ("grey cat", "small dog", "tame crow", "tortoise", "goat")
FOODS = ("plum cake", "spiced tea", "roasted chestnuts", "honey bread", "pear tarts")

# Syllables for invented words: unusual onsets and codas keep real words and names unlikely.
ONSETS = (
    "b",
    "br",
    "d",
    "dr",
    "f",
    "g",
    "gr",
    "k",
    "kr",
    "l",
    "m",
    "n",
    "p",
    "qu",
    "r",
    "s",
    "t",
    "th",
    "tr",
    "v",
    "vr",
    "z",
    "sk",
    "j",
    "w",
    "kh",
)
VOWELS = ("a", "e", "i", "o", "u", "ai", "ou", "ea", "y")
CODAS = ("", "", "", "n", "r", "l", "th", "rn", "m", "s", "x", "v", "nd", "rv", "lk")
SUFFIXES = ("", "", "ane", "ora", "ith", "wyn", "ell", "ard", "ix", "en", "ys", "ond", "ek")

_FIXED_TEXT = " ".join(
    [
        *INTROS,
        *(t for ts in FACTS.values() for t in ts),
        *FILLERS,
        *JOBS,
        *DEVICES,
        *SOCIETY_KINDS,
        *HOBBIES,
        *LANDMARKS,
        *ANIMALS,
        *FOODS,
        *(q for qs in QUESTIONS.values() for q in qs),
    ]
).lower()
