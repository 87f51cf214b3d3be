"""A throwaway copy of the project for tests of `lift-db start` and `stop` themselves."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from lift_db.local.project import Project
from tests.conftest import ROOT, free_port, run_lift_db


@pytest.fixture
def scratch_project(project: Project) -> Iterator[Path]:
    """A copy of the project whose config enables the pooler, on free ports, in a folder the
    service user can reach."""
    root = project.state_dir / "scratch" / f"pooler-{uuid.uuid4().hex[:8]}"
    (root / "supabase").mkdir(parents=True)
    config = (ROOT / "supabase" / "config.toml").read_text()
    db_port, pooler_port = free_port(), free_port()
    config = config.replace("port = 54322", f"port = {db_port}", 1)
    config = config.replace(
        "[db.pooler]\nenabled = false\nport = 54329",
        f"[db.pooler]\nenabled = true\nport = {pooler_port}",
    )
    assert f"port = {pooler_port}" in config
    (root / "supabase" / "config.toml").write_text(config)
    yield root
    run_lift_db("stop", env={"LIFT_DB_PROJECT": str(root)})
    shutil.rmtree(root, ignore_errors=True)
