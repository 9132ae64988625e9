"""The reliability suite's tally: bad inputs tried, faults survived, results lost.

A test records what it checked through the `tally` fixture; only tests that ran and passed
count. The totals print as one line at the end of the pytest run.
"""

from __future__ import annotations

from collections import Counter

import pytest

KINDS = ("bad_input", "fault", "lost", "leaked")
TOTALS: Counter = Counter()
RAN: Counter = Counter()


class Tally:
    """Counts for one test, kept in its report's user_properties."""

    def __init__(self, item: pytest.Item):
        self._item = item

    def _add(self, kind: str, n: int = 1) -> None:
        self._item.user_properties.append(("reliability", kind, n))

    def bad_input(self, n: int = 1) -> None:
        """A bad input that was tried and got the right answer (a clear error, or handled)."""
        self._add("bad_input", n)

    def fault(self, n: int = 1) -> None:
        """A fault (kill, corruption, contention) that the framework survived."""
        self._add("fault", n)

    def lost(self, n: int) -> None:
        """Finished results that a fault made disappear (the tests assert 0)."""
        self._add("lost", n)

    def leaked(self, n: int) -> None:
        """Secrets found in files or output (the tests assert 0)."""
        self._add("leaked", n)


@pytest.fixture
def tally(request: pytest.FixtureRequest) -> Tally:
    return Tally(request.node)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when != "call":
        return
    props = [p for p in report.user_properties if p and p[0] == "reliability"]
    if not props:
        return
    RAN["tests"] += 1
    for _, kind, n in props:
        if report.passed or kind in ("lost", "leaked"):  # counted even when the test fails
            TOTALS[kind] += n
    if not report.passed:
        RAN["failed"] += 1


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if not RAN["tests"]:
        return
    failed = f", {RAN['failed']} reliability tests failed" if RAN["failed"] else ""
    terminalreporter.write_line(
        f"reliability: {TOTALS['bad_input']} bad inputs tried and handled with a clear "
        f"outcome, {TOTALS['fault']} faults survived, {TOTALS['lost']} results lost, "
        f"{TOTALS['leaked']} secrets leaked{failed}"
    )
