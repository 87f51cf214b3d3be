"""Collect every pgTAP file in supabase/tests as a pytest item.

The files are the same ones `supabase test db` runs; here each becomes one item that fails with
pgTAP's own diagnostics. The first file (the helpers) runs before any other, even when a single
file is selected, because the others depend on what it installs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lift_db import pgtap
from lift_db.project import find_project
from lift_db.target import resolve_target

ROOT = Path(__file__).parent
TESTS_DIR = ROOT / "supabase" / "tests"


class PgTapFailure(Exception):
    pass


class PgTapItem(pytest.Item):
    def runtest(self) -> None:
        url = self.config.stash[_URL_KEY]
        helpers = sorted(TESTS_DIR.glob("*.sql"))[0]
        if not self.config.stash.get(_HELPERS_KEY, False) and self.path != helpers:
            setup = pgtap.run_file(helpers, url)
            if not setup.passed:
                raise PgTapFailure(f"{helpers.name} (test helpers) failed:\n{setup.report()}")
            self.config.stash[_HELPERS_KEY] = True
        run = pgtap.run_file(self.path, url)
        if self.path == helpers and run.passed:
            self.config.stash[_HELPERS_KEY] = True
        if not run.passed:
            raise PgTapFailure(run.report())

    def repr_failure(
        self, excinfo: pytest.ExceptionInfo[BaseException], style: object = None
    ) -> str:
        if isinstance(excinfo.value, PgTapFailure):
            return f"pgTAP {self.path.name}:\n{excinfo.value}"
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"pgTAP {self.path.name}"


class PgTapFile(pytest.File):
    def collect(self) -> list[PgTapItem]:
        return [PgTapItem.from_parent(self, name=self.path.name)]


_URL_KEY = pytest.StashKey[str]()
_HELPERS_KEY = pytest.StashKey[bool]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_URL_KEY] = resolve_target(find_project(ROOT)).url


def pytest_collect_file(parent: pytest.Collector, file_path: Path) -> PgTapFile | None:
    if file_path.suffix == ".sql" and file_path.parent == TESTS_DIR:
        return PgTapFile.from_parent(parent, path=file_path)
    return None
