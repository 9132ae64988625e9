"""A request journal: every reply is appended (and synced) as it arrives, so a generation that
is killed half-way resumes where it stopped and never sends a finished request again.

One JSON line per reply, `{"key": request.key, "reply": {...}}`. A line cut short by a kill
is ignored on reading; the request it belonged to is simply asked again.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from ragft.llm import Backend, Reply, Request


class Journal:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.replies: dict[str, Reply] = {}
        if self.path.is_file():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                try:
                    row = json.loads(line)
                    self.replies[row["key"]] = Reply.from_json(row["reply"])
                except (ValueError, KeyError, TypeError):
                    continue  # the last line of a killed run

    def complete(
        self,
        backend: Backend,
        requests: Sequence[Request],
        on_reply: Callable[[int, Reply], None] | None = None,
    ) -> tuple[list[Reply], int, int]:
        """Replies in request order, asking `backend` only for the ones not journalled yet.

        Returns the replies, how many requests were sent, and how many distinct ones were
        answered from the journal.
        """
        keys = [r.key for r in requests]
        todo: list[int] = []
        asked: set[str] = set()
        for i, k in enumerate(keys):  # a request asked twice is sent once
            if k not in self.replies and k not in asked:
                todo.append(i)
                asked.add(k)
        for i, k in enumerate(keys):
            if k in self.replies and on_reply is not None:
                on_reply(i, self.replies[k])
        if todo:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as fh:

                def keep(j: int, reply: Reply) -> None:
                    i = todo[j]
                    self.replies[keys[i]] = reply
                    fh.write(json.dumps({"key": keys[i], "reply": reply.to_json()}) + "\n")
                    fh.flush()
                    os.fsync(fh.fileno())
                    if on_reply is not None:
                        on_reply(i, reply)

                backend.complete([requests[i] for i in todo], keep)
        resumed = len({k for k in keys if k not in asked})
        return [self.replies[k] for k in keys], len(todo), resumed
