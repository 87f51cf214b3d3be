"""Reliability suite: report its figures at the end of the run."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from lift_db.project import find_project
from tests.conftest import ROOT
from tests.reliability import figures
from tests.reliability.support import CRASH_ROUNDS, FUZZ_EXAMPLES, FUZZ_STEPS


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    counts = figures.snapshot()
    if not counts:
        return
    terminalreporter.section("reliability figures")
    settings = (
        f"LIFT_FUZZ_EXAMPLES={FUZZ_EXAMPLES} LIFT_FUZZ_STEPS={FUZZ_STEPS} "
        f"LIFT_CRASH_ROUNDS={CRASH_ROUNDS}"
    )
    terminalreporter.write_line(settings)
    for name, value in counts.items():
        terminalreporter.write_line(f"{name}: {value}")
    state = find_project(ROOT).state_dir
    if state.is_dir():
        record = {
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "settings": settings,
            "figures": counts,
        }
        (state / "reliability-figures.json").write_text(json.dumps(record, indent=2) + "\n")
