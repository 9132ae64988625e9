"""The reliability suite's summary line: what was checked, and only what was checked.

Each reliability test says what it measures when it starts, with a marker:

    @pytest.mark.measures("fault", "lost")
    def test_...(tally): ...; tally.lost(n); tally.fault()

Kinds: `bad_input` (a bad input answered with a clear outcome), `valid_input` (a valid but
unusual input read correctly: a BOM, CRLF, a 10 MB file), `fault` (a kill, corruption or
contention survived), `lost` (finished results a fault made disappear), `leaked` (secrets
found in files or output). A test may only tally kinds it declared.

The line at the end counts a kind only from tests that passed; a kind that no passing test
measured prints "not checked" (so `-m "not slow"`, which skips the loss and leak tests, cannot
claim "0 results lost"). Failed tests and errors in any phase, setup included, are counted and
printed.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
TOTALS: Counter = Counter()  # tallied amounts, from passing tests
MEASURED: Counter = Counter()  # passing tests that measured each kind
OUTCOMES: Counter = Counter()  # "failed" (a test's call) and "error" (its setup or teardown)
PHRASES = {
    "bad_input": "bad inputs tried and handled with a clear outcome",
    "valid_input": "valid edge-case inputs read",
    "fault": "faults survived",
    "lost": "results lost",
    "leaked": "secrets leaked",
}
KINDS = tuple(PHRASES)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "measures(*kinds): what a reliability test checks")


def declared(item: pytest.Item) -> tuple[str, ...]:
    marker = item.get_closest_marker("measures")
    kinds = tuple(marker.args) if marker else ()
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise pytest.UsageError(f"{item.nodeid}: unknown reliability kinds {unknown}")
    return kinds


class Tally:
    """Amounts for one test, kept in its report's user_properties."""

    def __init__(self, item: pytest.Item):
        self._item = item
        self._kinds = _ITEMS.get(item.nodeid, ())  # declared at collection

    def _add(self, kind: str, n: int) -> None:
        if kind not in self._kinds:
            raise AssertionError(
                f"{self._item.nodeid} tallies {kind!r} but declares only {self._kinds}; "
                f'add @pytest.mark.measures("{kind}")'
            )
        self._item.user_properties.append(("reliability", kind, n))

    def bad_input(self, n: int = 1) -> None:
        self._add("bad_input", n)

    def valid_input(self, n: int = 1) -> None:
        self._add("valid_input", n)

    def fault(self, n: int = 1) -> None:
        self._add("fault", n)

    def lost(self, n: int) -> None:
        self._add("lost", n)

    def leaked(self, n: int) -> None:
        self._add("leaked", n)


@pytest.fixture
def tally(request: pytest.FixtureRequest) -> Tally:
    return Tally(request.node)


_ITEMS: dict[str, tuple[str, ...]] = {}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(item.path).parents:  # every test of this suite: its failures count
            _ITEMS[item.nodeid] = declared(item)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.nodeid not in _ITEMS:
        return
    if report.failed:
        OUTCOMES["failed" if report.when == "call" else "error"] += 1
    if report.when != "call" or not report.passed:
        return
    for kind in _ITEMS[report.nodeid]:
        MEASURED[kind] += 1
    for prop in report.user_properties:
        if prop and prop[0] == "reliability":
            TOTALS[prop[1]] += prop[2]


def summary_line() -> str:
    parts = [
        f"{TOTALS[k]} {PHRASES[k]}" if MEASURED[k] else f"{PHRASES[k]}: not checked" for k in KINDS
    ]
    bad = [f"{OUTCOMES[k]} {k}" for k in ("failed", "error") if OUTCOMES[k]]
    tail = f"; reliability tests {', '.join(bad)}" if bad else ""
    return "reliability: " + ", ".join(parts) + tail


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if _ITEMS:
        terminalreporter.write_line(summary_line())
