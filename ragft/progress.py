"""Progress bars that suit where they are written.

    with progress.bar(total=len(prompts), desc="generate", unit="q") as bar:
        bar.update(8)

On a terminal (or in a notebook) this is tqdm's bar. In a log (the stream is not a TTY:
SLURM, submitit, a pipe), a carriage-return bar would be one endless line of redraws, so
`LineBar` prints a plain line instead, at most every tenth of the way and at least every
`LINE_SECONDS` while updates come, and the closing line with the total. `disable=True`
prints nothing at all. The line has tqdm's own figures ("generate:  40% 400/1000
[00:12<00:18, 33.3q/s]").
"""

from __future__ import annotations

import math
import sys
import threading
import time
from collections.abc import Callable, Mapping
from typing import IO, Any

LINE_SECONDS = 60.0  # a line at least this often while updates come
LINE_FRACTION = 0.1  # ... and at each tenth of the total
_FORMAT = (
    "{desc}: {percentage:3.0f}% {n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_fmt}{postfix}]"
)
_FORMAT_OPEN = "{desc}: {n_fmt} [{elapsed}, {rate_fmt}{postfix}]"  # no total known


def interactive(stream: IO[str]) -> bool:
    """Whether `stream` redraws a bar in place: a terminal, or a Jupyter notebook's output."""
    try:
        if stream.isatty():
            return True
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False
    from tqdm.autonotebook import tqdm as auto

    return auto.__module__ == "tqdm.notebook"  # tqdm found a notebook kernel


def bar(
    total: int | None,
    desc: str,
    unit: str = "it",
    *,
    disable: bool = False,
    file: IO[str] | None = None,
):
    """A progress bar on `file` (stderr by default): tqdm where it redraws in place, else a
    `LineBar`. Both have `update(n)`, `set_postfix(...)`, `close()` and work as a context."""
    stream = file if file is not None else sys.stderr
    if disable or interactive(stream):
        from tqdm.auto import tqdm

        return tqdm(total=total, desc=desc, unit=unit, disable=disable, file=stream)
    return LineBar(total, desc, unit, stream)


class LineBar:
    """A progress bar as plain lines, for logs. Thread-safe (replies may arrive on threads)."""

    def __init__(
        self,
        total: int | None,
        desc: str,
        unit: str,
        file: IO[str],
        every_seconds: float = LINE_SECONDS,
        every_fraction: float = LINE_FRACTION,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.total = total if total and math.isfinite(total) else None
        self.desc, self.unit, self.file, self.clock = desc, unit, file, clock
        self.every_seconds = every_seconds
        self.step = max(1, math.ceil(self.total * every_fraction)) if self.total else None
        self.n = 0
        self.postfix = ""
        self.started = self._last_time = clock()
        self._next_n = self.step
        self._printed_n: int | None = None
        self._closed = False
        self._lock = threading.Lock()

    def update(self, n: int = 1) -> None:
        with self._lock:
            self.n += n
            now = self.clock()
            due_n = self._next_n is not None and self.n >= self._next_n
            if due_n or now - self._last_time >= self.every_seconds:
                self._print(now)

    def set_postfix(self, values: Mapping[str, Any] | None = None, **more: Any) -> None:
        """Figures shown after the rate ("loss=0.42"), as tqdm's `set_postfix`."""
        items = {**(values or {}), **more}
        self.postfix = ", ".join(f"{k}={_short(v)}" for k, v in items.items())

    def line(self, now: float | None = None) -> str:
        from tqdm import tqdm

        elapsed = (self.clock() if now is None else now) - self.started
        return tqdm.format_meter(
            self.n, self.total, elapsed, prefix=self.desc, unit=self.unit,
            bar_format=_FORMAT if self.total else _FORMAT_OPEN, postfix=self.postfix or None,
        )  # fmt: skip

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._printed_n != self.n:  # the closing figures, unless just printed
                self._print(self.clock())

    def _print(self, now: float) -> None:
        self.file.write(self.line(now) + "\n")
        self.file.flush()
        self._last_time, self._printed_n = now, self.n
        if self.step is not None:
            self._next_n = (self.n // self.step + 1) * self.step

    def __enter__(self) -> LineBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _short(v: Any) -> str:
    if hasattr(v, "item"):  # a tensor or numpy scalar
        v = v.item()
    return f"{v:.4g}" if isinstance(v, float) else str(v)
