"""The summary line itself: it reports only what passing tests measured, and every failure."""

from __future__ import annotations

from pathlib import Path

import pytest

CONFTEST = Path(__file__).with_name("conftest.py")

SUITE = """
import pytest

@pytest.mark.measures("fault")
def test_survives(tally):
    tally.fault(2)

@pytest.mark.measures("lost")
def test_loses_a_result(tally):
    tally.lost(1)
    assert False, "a result was lost"

@pytest.fixture
def broken():
    raise RuntimeError("setup fails")

@pytest.mark.measures("leaked")
def test_never_starts(broken, tally):
    tally.leaked(0)

@pytest.mark.measures("bad_input")
def test_tallies_what_it_did_not_declare(tally):
    tally.fault()
"""


def test_failures_and_errors_show_and_unmeasured_kinds_read_not_checked(pytester):
    pytester.makeconftest(CONFTEST.read_text())
    pytester.makepyfile(test_suite=SUITE)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=2, errors=1)
    result.stdout.fnmatch_lines(
        [
            "reliability: bad inputs tried and handled with a clear outcome: not checked, "
            "valid edge-case inputs read: not checked, 2 faults survived, "
            "results lost: not checked, secrets leaked: not checked; "
            "reliability tests 2 failed, 1 error"
        ]
    )
    result.stdout.fnmatch_lines(["*tallies 'fault' but declares only ('bad_input',)*"])


def test_an_unknown_kind_is_a_usage_error(pytester):
    pytester.makeconftest(CONFTEST.read_text())
    pytester.makepyfile(
        test_suite='import pytest\n\n@pytest.mark.measures("lots")\ndef test_x():\n    pass\n'
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "unknown reliability kinds ['lots']" in result.stdout.str() + result.stderr.str()
