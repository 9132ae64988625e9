"""Generation from an endpoint killed with SIGKILL half-way, then re-run: the requests that
were answered are not sent again (the server counts them), the set equals an uninterrupted
run's byte for byte, and the key is in no file and no log."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integration.test_datagen import generate_py
from tests.llm_server import KEY, Server

from ..helpers import ROOT, kb_markdown

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def docs(tmp_path_factory) -> Path:
    """Four Markdown documents from the fictional knowledge base (facts known)."""
    return kb_markdown(tmp_path_factory.mktemp("docs"))


def _endpoint(server: Server, docs: Path, cache: Path) -> tuple[str, ...]:
    return (f"data.corpus_path={docs}", f"cache.dir={cache}", "datagen=openai",
            f"datagen.endpoint.base_url={server.base_url}", "datagen.endpoint.model=served",
            "datagen.endpoint.concurrency=1", "datagen.endpoint.api_key_env=RAGFT_TEST_KEY",
            "datagen.grounding=0", "datagen.paraphrases=1")  # fmt: skip


@pytest.mark.measures("fault", "lost", "leaked")
def test_a_killed_endpoint_generation_resumes_without_repeating_a_request(tmp_path, docs, tally):
    env = {**os.environ, "RAGFT_TEST_KEY": KEY}
    with Server("ok") as clean:  # the uninterrupted run, for comparison
        proc = generate_py(tmp_path / "clean", *_endpoint(clean, docs, tmp_path / "c1"), env=env)
        assert proc.returncode == 0, proc.stderr[-3000:]
    total = len(clean.answered())

    cache = tmp_path / "c2"  # the same server address again: base_url is part of the set's key
    with Server("ok", delay=0.25, port=clean.httpd.server_address[1]) as first:
        args = [sys.executable, str(ROOT / "generate.py"), f"hydra.run.dir={tmp_path / 'a'}",
                *_endpoint(first, docs, cache)]  # fmt: skip
        victim = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True)  # fmt: skip
        deadline = time.monotonic() + 300
        while len(first.answered()) < total // 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        victim.send_signal(signal.SIGKILL)
        killed_log = victim.communicate(timeout=60)[0]
    answered_before = set(first.answered())
    assert 0 < len(answered_before) < total

    with Server("ok", port=clean.httpd.server_address[1]) as second:
        proc = generate_py(tmp_path / "b", *_endpoint(second, docs, cache), env=env)
        assert proc.returncode == 0, proc.stderr[-3000:]
    again = set(second.answered())
    # at most the one request in flight at the kill is asked again (its reply never landed)
    assert len(answered_before & again) <= 1
    tally.fault()
    tally.lost(0)
    assert len(second.log) <= total - len(answered_before) + 1
    for name in ("qa.jsonl", "alpaca.jsonl"):
        assert (tmp_path / "b" / name).read_bytes() == (tmp_path / "clean" / name).read_bytes()
    report = (tmp_path / "b" / "generation_report.md").read_text()
    assert "requests_resumed" in report

    # the key is in no file and no log
    logs = killed_log + proc.stdout + proc.stderr
    assert KEY not in logs
    for folder in (tmp_path / "a", tmp_path / "b", tmp_path / "clean", cache, tmp_path / "c1"):
        for f in folder.rglob("*"):
            if f.is_file():
                assert KEY.encode() not in f.read_bytes(), f
    tally.leaked(0)
