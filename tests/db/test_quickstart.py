"""examples/quickstart.py runs as a new user would run it, against the local stack."""

from __future__ import annotations

import os
import subprocess
import sys

from lift_db.local.project import Project
from lift_db.local.target import resolve_target
from tests.conftest import ROOT


def test_quickstart_runs(project: Project) -> None:
    env = {**os.environ, "DATABASE_URL": resolve_target(project).url}
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "quickstart.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "stale update refused: ir version conflict" in result.stdout
    assert "rolled back to version 1 as new version 3" in result.stdout
    assert "isolation holds" in result.stdout
    assert "his edit is refused" in result.stdout
    assert "as editor, bob writes IR version 4" in result.stdout
    assert "bob sees nothing again" in result.stdout
