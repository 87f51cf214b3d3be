"""Run one pgTAP file the way `pg_prove` does (psql, unaligned tuples) and read its TAP output."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from lift_db.local.binaries import find_install
from lift_db.local.target import client_env

_PLAN = re.compile(r"^1\.\.(\d+)")
# What the server said while the file ran (RAISE NOTICE/WARNING/INFO, NOTICEs of DDL), as psql
# prints it on stderr: `psql:<file>:<line>: NOTICE:  <text>`.
_SERVER_MESSAGE = re.compile(r"^(?:psql:[^:]*:\d+: )?(NOTICE|WARNING|INFO|LOG|DEBUG):\s")
MAX_MESSAGES = 40
_RESULT = re.compile(r"^(not )?ok (\d+)(?: - (.*?))?(\s+#\s*(TODO|SKIP)\b.*)?$", re.IGNORECASE)
TIMEOUT_S = 600


@dataclass
class Assertion:
    number: int
    ok: bool
    description: str
    directive: str | None = None
    diagnostics: list[str] = field(default_factory=list)


@dataclass
class TapRun:
    path: Path
    returncode: int
    stdout: str
    stderr: str
    planned: int | None = None
    assertions: list[Assertion] = field(default_factory=list)
    diagnostics: list[str] = field(default_factory=list)  # not attached to an assertion

    @property
    def failures(self) -> list[Assertion]:
        return [a for a in self.assertions if not a.ok and (a.directive or "").upper() != "TODO"]

    @property
    def passed(self) -> bool:
        return (
            self.returncode == 0
            and self.planned is not None
            and self.planned == len(self.assertions)
            and not self.failures
        )

    @property
    def server_messages(self) -> list[str]:
        """The NOTICE, WARNING and INFO lines the file made the server send (RAISE output)."""
        return [ln for ln in self.stderr.splitlines() if _SERVER_MESSAGE.match(ln)]

    def report(self) -> str:
        lines: list[str] = []
        messages = set(self.server_messages)
        if self.returncode != 0:
            lines.append(f"psql exited with {self.returncode}:")
            errors = [ln for ln in self.stderr.strip().splitlines() if ln not in messages]
            lines.extend("  " + ln for ln in errors[-20:])
        if self.planned is None:
            lines.append(f"{self.path.name}: no plan: the file never called plan(n)")
        elif self.planned != len(self.assertions):
            lines.append(
                f"{self.path.name}: planned {self.planned} tests but ran {len(self.assertions)}"
                f" ({_plan_gap(self.planned, self.assertions)})"
            )
        for failure in self.failures:
            lines.append(f"not ok {failure.number} - {failure.description}")
            lines.extend("  " + d for d in failure.diagnostics)
        if self.diagnostics and (self.failures or self.planned != len(self.assertions)):
            lines.extend(self.diagnostics)
        if self.server_messages:
            shown = self.server_messages[-MAX_MESSAGES:]
            skipped = len(self.server_messages) - len(shown)
            lines.append(
                "server messages (RAISE, NOTICE)"
                + (f", the last {len(shown)} of {len(self.server_messages)}" if skipped else "")
                + ":"
            )
            lines.extend("  " + ln for ln in shown)
        return "\n".join(lines)


def _plan_gap(planned: int, assertions: list[Assertion]) -> str:
    ran = len(assertions)
    if ran < planned:
        last = assertions[-1].number if assertions else 0
        return f"{planned - ran} never ran, the last to run was {last}"
    return f"{ran - planned} more than planned: raise plan({ran}) if they are meant"


def parse_tap(run: TapRun) -> TapRun:
    current: Assertion | None = None
    for raw in run.stdout.splitlines():
        line = raw.strip()
        if not line:
            continue
        if plan := _PLAN.match(line):
            run.planned = int(plan.group(1))
            current = None
        elif result := _RESULT.match(line):
            directive = result.group(5).upper() if result.group(5) else None
            current = Assertion(
                int(result.group(2)), result.group(1) is None, result.group(3) or "", directive
            )
            run.assertions.append(current)
        elif line.startswith("#"):
            text = line[1:].strip()
            if current is not None and not current.ok:
                current.diagnostics.append(text)
            else:
                run.diagnostics.append(text)
    return run


def run_file(path: Path, url: str) -> TapRun:
    psql = find_install().bin("psql")
    # The password goes by environment: a command line is readable by every local user.
    conninfo, env = client_env(url)
    result = subprocess.run(
        [
            str(psql),
            "--no-psqlrc",
            "--no-align",
            "--quiet",
            "--tuples-only",
            "--pset=pager=off",
            "--set=ON_ERROR_STOP=1",
            "--file",
            str(path),
            conninfo,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    return parse_tap(TapRun(path, result.returncode, result.stdout, result.stderr))
