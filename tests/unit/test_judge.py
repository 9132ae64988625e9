"""The LLM judge in process: its request (text, schema, a different request per attempt), the
rating read from a reply (JSON, MT-Bench's [[n]], out of range, junk), and `judge` with a
stand-in backend: retries then missing (never 0), a journalled re-run that builds no backend
and sends nothing, duplicates asked once, the journal's path keyed on what decides replies."""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path

import pytest

from ragft.config import EndpointConfig, JudgeConfig, ModelConfig
from ragft.judge import (
    JudgeItem,
    journal_path,
    judge,
    judge_model,
    normalised,
    rating_of,
    request_for,
)
from ragft.llm import Reply, parse_reply

CFG = JudgeConfig(backend="openai", endpoint=EndpointConfig(model="judge-model"))
ITEM = JudgeItem("Where did Ilsa grow up?", "Velmora", "She grew up in Velmora.")


def reply(text: str, scale: int = 10) -> Reply:
    return parse_reply(text, request_for(ITEM, replace(CFG, scale=scale)).schema, 4, 3)


# -- the request ------------------------------------------------------------------------------


def test_the_request_shows_question_reference_answer_and_the_scale():
    r = request_for(ITEM, CFG)
    assert r.system == CFG.system and r.max_tokens == CFG.max_tokens == 256
    assert r.user.startswith(
        "[Question]\nWhere did Ilsa grow up?\n\n[Reference answer]\nVelmora\n\n"
        "[Answer]\nShe grew up in Velmora.\n\nRate the answer on a scale of 1 to 10, "
    )
    assert r.user.endswith('as JSON: {"explanation": "...", "rating": <1-10>}.')
    assert "Attempt" not in r.user


def test_the_schema_asks_for_an_explanation_and_an_integer_rating_in_the_scale():
    assert request_for(ITEM, replace(CFG, scale=5)).schema == {
        "type": "object",
        "properties": {
            "explanation": {"type": "string", "maxLength": 300},
            "rating": {"type": "integer", "minimum": 1, "maximum": 5},
        },
        "required": ["explanation", "rating"],
        "additionalProperties": False,
    }


def test_a_later_attempt_names_itself_so_its_request_and_key_differ():
    first, second, third = (request_for(ITEM, CFG, a) for a in range(3))
    assert second.user == (
        first.user + "\n\nAttempt 2: your previous reply had no rating. Reply with the JSON only."
    )
    assert third.user.endswith("Attempt 3: your previous reply had no rating. Reply with the "
                               "JSON only.")  # fmt: skip
    assert len({first.key, second.key, third.key}) == 3
    assert request_for(ITEM, CFG, 1).key == second.key  # the same try is the same request


def test_the_template_and_system_are_config_and_user_text_is_never_reformatted():
    cfg = replace(CFG, system="", template="Q={question} R={reference} A={answer} /{scale}")
    item = JudgeItem("What is {x}?", "{answer}", "it is {0}")
    r = request_for(item, cfg)
    assert r.user == "Q=What is {x}? R={answer} A=it is {0} /10"
    assert r.messages() == [{"role": "user", "content": r.user}]


# -- the rating -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "rating"),
    [
        ('{"explanation": "Right.", "rating": 7}', 7),
        ('```json\n{"explanation": "Right.", "rating": 10}\n```', 10),
        ('{"explanation": "Wrong.", "rating": 1}', 1),
        ("The answer is right. Rating: [[7]]", 7),
        ("[[3]] at first, but on reflection [[8]]", 8),  # the last mark counts
        ("Rating: [[ 6 ]]", 6),
        ("Rating: [[7.0]]", 7),  # a whole number written as a float
        ('{"explanation": "' + "x" * 400 + '", "rating": 7}', 7),  # breaks maxLength only
        ('Here: {"explanation": "ok", "rating": 4} done', 4),
    ],
)
def test_a_rating_is_read_from_json_then_the_mt_bench_mark(text, rating):
    assert rating_of(reply(text), 10)[0] == rating


@pytest.mark.parametrize(
    "text",
    [
        '{"explanation": "Off the scale.", "rating": 11}',
        '{"explanation": "Off the scale.", "rating": 0}',
        '{"explanation": "A string.", "rating": "7"}',
        "Rating: [[0]]",
        "Rating: [[11]]",
        "Rating: [[-3]]",
        "Rating: [[7.5]]",  # no halves on an integer scale: no rating, not a rounded one
        "Rating: [[8]] and then [[12]]",  # the last mark is out of range: no fallback to 8
        "Rating: [7]",
        "I would give it a seven.",
        "",
        '{"explanation": "no rating"}',
    ],
)
def test_out_of_range_half_and_junk_ratings_are_none_never_zero(text):
    rating, _ = rating_of(reply(text), 10)
    assert rating is None


def test_the_scale_bounds_the_rating():
    assert rating_of(reply("Rating: [[5]]", 5), 5)[0] == 5
    assert rating_of(reply("Rating: [[6]]", 5), 5)[0] is None
    assert rating_of(Reply('{"rating": 6}', {"explanation": "", "rating": 6}), 5)[0] is None


def test_the_explanation_is_kept_short_and_on_one_line():
    assert rating_of(reply('{"explanation": "Right.", "rating": 7}'), 10) == (7, "Right.")
    assert rating_of(reply("It is  right.\nRating: [[7]]"), 10) == (7, "It is right.")
    long = rating_of(reply("word " * 200), 10)
    assert long[0] is None and len(long[1]) == 300
    assert rating_of(reply('{"explanation": "' + "y" * 400 + '", "rating": 7}'), 10) == (
        7, "y" * 300,
    )  # fmt: skip


def test_normalised_maps_the_scale_onto_0_1():
    assert [normalised(r, 10) for r in (1, 10)] == [0.0, 1.0]
    assert normalised(4, 7) == pytest.approx(0.5)
    assert normalised(None, 10) is None


# -- judge() with a stand-in backend ----------------------------------------------------------


class StandIn:
    """Rates 9 if the answer holds the reference, else 2; the first `silent` replies (or all,
    with `silent=-1`) are prose without a rating."""

    def __init__(self, silent: int = 0):
        self.asked: list = []
        self.silent = silent

    def complete(self, requests, on_reply=None):
        out = []
        for i, r in enumerate(requests):
            self.asked.append(r)
            ref, ans = r.user.split("[Reference answer]\n")[1].split("\n\n[Answer]\n")
            good = ref.lower() in ans.split("\n\n")[0].lower()
            quiet = self.silent < 0 or len(self.asked) <= self.silent
            text = "Hmm, hard to say." if quiet else json.dumps(
                {"explanation": "ok" if good else "no", "rating": 9 if good else 2})  # fmt: skip
            out.append(parse_reply(text, r.schema, 10, 5))
            if on_reply:
                on_reply(i, out[-1])
        return out


class Maker:
    def __init__(self, backend: StandIn):
        self.backend, self.builds = backend, 0

    def __call__(self) -> StandIn:
        self.builds += 1
        return self.backend


ITEMS = [
    JudgeItem("Where did Ilsa grow up?", "Velmora", "In Velmora."),
    JudgeItem("Who wrote it?", "Arno Vell", "Nobody knows."),
    JudgeItem("When was it built?", "1742", "It was built in 1742."),
]


def test_ratings_come_back_in_item_order_with_the_cost(tmp_path):
    make = Maker(StandIn())
    got = judge(ITEMS, CFG, make, tmp_path / "j.jsonl", progress=False)
    assert got.ratings == [9, 2, 9] and got.explanations == ["ok", "no", "ok"]
    assert got.attempts == [1, 1, 1] and got.missing == 0
    assert (got.requests_sent, got.from_journal, make.builds) == (3, 0, 1)
    assert (got.tokens_in, got.tokens_out) == (30, 15)


def test_a_reply_without_a_rating_is_asked_again_then_rated(tmp_path):
    make = Maker(StandIn(silent=2))  # the first two replies have no rating
    got = judge(ITEMS, CFG, make, tmp_path / "j.jsonl", progress=False)
    assert got.ratings == [9, 2, 9] and got.attempts == [2, 2, 1]
    assert got.requests_sent == 5
    retried = make.backend.asked[3:]
    assert all("Attempt 2: your previous reply had no rating." in r.user for r in retried)


def test_no_rating_after_every_attempt_is_missing_never_zero(tmp_path):
    make = Maker(StandIn(silent=-1))
    cfg = replace(CFG, max_attempts=3)
    got = judge(ITEMS, cfg, make, tmp_path / "j.jsonl", progress=False)
    assert got.ratings == [None, None, None] and 0 not in got.ratings
    assert got.attempts == [3, 3, 3] and got.missing == 3
    assert got.requests_sent == len(ITEMS) * cfg.max_attempts == len(make.backend.asked)
    assert got.explanations == ["Hmm, hard to say."] * 3
    once = judge(ITEMS[:1], replace(CFG, max_attempts=1), Maker(StandIn(-1)),
                 tmp_path / "k.jsonl", progress=False)  # fmt: skip
    assert (once.ratings, once.attempts, once.requests_sent) == ([None], [1], 1)


def test_a_journalled_rerun_builds_no_backend_and_sends_nothing(tmp_path):
    path = tmp_path / "judge-journal" / "j.jsonl"
    first = judge(ITEMS, CFG, Maker(StandIn(silent=1)), path, progress=False)
    make = Maker(StandIn(silent=-1))  # would rate nothing: any request sent would show
    again = judge(ITEMS, CFG, make, path, progress=False)
    assert make.builds == 0 and make.backend.asked == []
    assert again.ratings == first.ratings == [9, 2, 9]
    assert again.attempts == first.attempts == [2, 1, 1]
    assert (again.requests_sent, again.from_journal) == (0, 4)
    assert (again.tokens_in, again.tokens_out) == (0, 0)


def test_a_rerun_with_one_new_answer_asks_only_about_it(tmp_path):
    path = tmp_path / "j.jsonl"
    judge(ITEMS[:2], CFG, Maker(StandIn()), path, progress=False)
    make = Maker(StandIn())
    got = judge(ITEMS, CFG, make, path, progress=False)
    assert got.ratings == [9, 2, 9] and (got.requests_sent, got.from_journal) == (1, 2)
    assert make.builds == 1 and [r.user for r in make.backend.asked] == [
        request_for(ITEMS[2], CFG).user
    ]


def test_duplicate_items_are_asked_once_and_rated_alike(tmp_path):
    make = Maker(StandIn())
    items = [ITEMS[0], ITEMS[1], ITEMS[0], ITEMS[0]]
    got = judge(items, CFG, make, tmp_path / "j.jsonl", progress=False)
    assert got.ratings == [9, 2, 9, 9] and len(make.backend.asked) == got.requests_sent == 2


def test_no_items_no_backend(tmp_path):
    make = Maker(StandIn())
    got = judge([], CFG, make, tmp_path / "j.jsonl", progress=False)
    assert (got.ratings, got.requests_sent, make.builds) == ([], 0, 0)


def test_the_progress_bar_is_named_judge_and_counts_answers(tmp_path, capsys):
    judge(ITEMS, CFG, Maker(StandIn(silent=1)), tmp_path / "j.jsonl", progress=True)
    err = capsys.readouterr().err
    assert "judge" in err and "3/3" in err


# -- where the journal lives ------------------------------------------------------------------


def test_the_journal_is_keyed_on_what_decides_replies_not_on_concurrency(tmp_path):
    def path(cfg: JudgeConfig, model: dict | None = None) -> Path:
        return journal_path(tmp_path, cfg, model or {"name": "m"})

    base = path(CFG)
    assert base.parent == tmp_path / "judge-journal" and base.suffix == ".jsonl"
    e = CFG.endpoint
    same = [
        replace(CFG, endpoint=replace(e, concurrency=16, timeout=5.0, max_retries=0)),
        replace(CFG, batch_size=1, max_attempts=5),
    ]
    assert all(path(c) == base for c in same)
    assert path(CFG, {"name": "other"}) == base  # an endpoint's judge: the cell model is moot
    other = [
        replace(CFG, scale=5),
        replace(CFG, system="Be kind."),
        replace(CFG, template=CFG.template + " "),
        replace(CFG, max_tokens=64),
        replace(CFG, endpoint=replace(e, model="bigger")),
        replace(CFG, endpoint=replace(e, base_url="http://127.0.0.1:9/v1")),
        replace(CFG, backend="hf"),
    ]
    assert len({base, *(path(c) for c in other)}) == len(other) + 1
    hf = replace(CFG, backend="hf")
    assert path(hf, {"name": "a"}) != path(hf, {"name": "b"})
    assert path(hf) != path(replace(hf, path="/models/judge"))


def test_the_hf_judge_model_is_the_path_or_the_cells_own():
    cell = ModelConfig(dtype="bfloat16", max_input_tokens=4096)
    assert judge_model(JudgeConfig(backend="hf"), cell) is cell
    m = judge_model(JudgeConfig(backend="hf", path="/models/judge"), cell)
    assert (m.source, m.path, m.package, m.gguf_file) == ("hf", "/models/judge", None, None)
    assert (m.dtype, m.max_input_tokens) == ("bfloat16", 4096)
    assert asdict(m) != asdict(cell)
