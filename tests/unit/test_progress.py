"""Progress bars in logs (ragft.progress): a stream that is not a TTY gets a plain line per
tenth of the way or per minute, never carriage-return redraws; a terminal gets tqdm. The
generation, judge and datagen bars are this one bar. Expected lines are counted by hand."""

from __future__ import annotations

import io
import threading

from ragft import generation, progress
from ragft.datagen.pipeline import Asker
from ragft.progress import LineBar


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_1000_step_bar_in_a_log_is_ten_lines_without_carriage_returns():
    log = io.StringIO()
    with progress.bar(1000, "generate", "q", file=log) as bar:
        assert isinstance(bar, LineBar)
        for _ in range(1000):
            bar.update(1)
    text = log.getvalue()
    assert "\r" not in text and text.endswith("\n")
    lines = text.splitlines()
    assert len(lines) == 10  # one per tenth; the closing figures are the tenth's own line
    assert [line.split("% ")[1].split(" ")[0] for line in lines] == [
        f"{100 * i}/1000" for i in range(1, 11)
    ]
    assert lines[0].startswith("generate:  10% 100/1000 [") and "q/s" in lines[0]


def test_big_updates_print_once_each_and_a_short_bar_prints_its_end():
    log = io.StringIO()
    bar = LineBar(1000, "judge", "answer", log)
    bar.update(350)  # past three tenths at once: one line
    bar.update(10)  # 360: not at the next tenth (400)
    bar.close()
    bar.close()  # closing twice prints nothing more
    assert [line.split(" [")[0] for line in log.getvalue().splitlines()] == [
        "judge:  35% 350/1000",
        "judge:  36% 360/1000",
    ]
    short = io.StringIO()
    with LineBar(3, "x", "it", short) as b:
        b.update(1)  # a tenth of 3 rounds up to 1: every step is a line
        b.update(2)
    assert len(short.getvalue().splitlines()) == 2


def test_a_slow_bar_prints_a_line_a_minute_between_tenths():
    clock, log = Clock(), io.StringIO()
    bar = LineBar(1_000_000, "datagen types", "req", log, clock=clock)
    for _ in range(600):  # 10 minutes at one request a second, far from a tenth
        clock.now += 1.0
        bar.update(1)
    lines = log.getvalue().splitlines()
    assert len(lines) == 10 and lines[0].split(" [")[0] == "datagen types:   0% 60/1000000"
    assert "[01:00<" in lines[0] and "[10:00<" in lines[-1]


def test_without_a_total_only_the_clock_and_the_end_print():
    clock, log = Clock(), io.StringIO()
    bar = LineBar(None, "train epoch 1", "batch", log, clock=clock)
    bar.update(5)
    assert log.getvalue() == ""
    clock.now = 61.0
    bar.set_postfix({"train/loss": 0.123456, "step": 7})
    bar.update(1)
    bar.update(4)
    bar.close()
    lines = log.getvalue().splitlines()
    assert len(lines) == 2
    assert (
        lines[0].startswith("train epoch 1: 6 [01:01, ") and "train/loss=0.1235, step=7" in lines[0]
    )
    assert lines[1].startswith("train epoch 1: 10 [01:01, ")
    float_total = io.StringIO()  # Lightning's "unknown" length is float("inf")
    with LineBar(float("inf"), "t", "it", float_total) as b:  # type: ignore[arg-type]
        b.update(3)
    assert float_total.getvalue().startswith("t: 3 [")


def test_updates_from_threads_all_count():
    log = io.StringIO()
    bar = LineBar(8000, "judge", "answer", log)
    threads = [threading.Thread(target=lambda: [bar.update(1) for _ in range(1000)])
               for _ in range(8)]  # fmt: skip
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    bar.close()
    assert bar.n == 8000 and log.getvalue().splitlines()[-1].split(" [")[0].endswith("8000/8000")


def test_a_terminal_gets_tqdm_and_disabled_prints_nothing():
    tty = Terminal()
    bar = progress.bar(5, "generate", "q", file=tty)
    assert not isinstance(bar, LineBar) and type(bar).__module__.startswith("tqdm")
    bar.update(5)
    bar.close()
    assert "\r" in tty.getvalue() and "5/5" in tty.getvalue()  # redrawn in place
    quiet = io.StringIO()
    off = progress.bar(5, "generate", "q", file=quiet, disable=True)
    off.update(5)
    off.close()
    assert quiet.getvalue() == ""
    assert not progress.interactive(io.StringIO()) and progress.interactive(Terminal())


# the stages' bars --------------------------------------------------------------------------


def test_generation_in_a_log_writes_lines(monkeypatch, capsys):
    def fake_batch(model, tokenizer, texts, eos, max_new, max_input, processors, first_line):
        return [generation.Generated(text=t.upper(), new_tokens=2, prompt_tokens=3) for t in texts]

    monkeypatch.setattr(generation, "_generate_batch", fake_batch)
    monkeypatch.setattr(generation, "_stop_ids", lambda tokenizer, model=None: [0])
    prompts = [f"p{i}" for i in range(40)]
    outs, _ = generation.generate(
        None, None, prompts, max_new_tokens=4, batch_size=4, max_input_tokens=16, progress=True
    )
    assert [o.text for o in outs] == [p.upper() for p in prompts]
    err = capsys.readouterr().err  # pytest's capture: not a TTY
    assert "\r" not in err and len(err.splitlines()) == 10
    assert err.splitlines()[-1].startswith("generate: 100% 40/40 [")


def test_datagen_requests_in_a_log_write_lines(capsys):
    class Journal:
        def complete(self, backend, requests, on_reply):
            for i, r in enumerate(requests):
                on_reply(i, r)
            return [], len(requests), 0

    Asker(None, Journal(), progress=True).ask("types", list(range(20)))  # type: ignore[arg-type]
    err = capsys.readouterr().err
    assert "\r" not in err and err.splitlines()[-1].startswith("datagen types: 100% 20/20 [")
    Asker(None, Journal(), progress=False).ask("types", list(range(20)))  # type: ignore[arg-type]
    assert capsys.readouterr().err == ""


def test_the_judge_in_a_log_writes_lines(tmp_path, capsys):
    from ragft.judge import judge

    from .test_judge import CFG, ITEMS, Maker, StandIn

    judge(ITEMS, CFG, Maker(StandIn()), tmp_path / "j.jsonl", progress=True)
    err = capsys.readouterr().err
    assert "\r" not in err and err.splitlines()[-1].startswith("judge: 100% 3/3 [")
