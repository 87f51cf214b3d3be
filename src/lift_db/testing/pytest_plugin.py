"""The pytest plugin that collects every pgTAP file in supabase/tests as a pytest item.

pyproject.toml loads it (`-p lift_db.testing.pytest_plugin`); the project is pytest's root folder.

The files are the same ones `supabase test db` runs; here each becomes one item that fails with
pgTAP's own diagnostics. The setup files (`0nn_setup_<job>.sql`, the helpers) run before any
other whenever the helpers are missing, even when a single file is selected, because the others
depend on what they install.

A run leaves nothing behind on the database it tested: the last file drops schema `tests`, and
when the session ends (also when it fails or is interrupted) the plugin drops it again, and drops
the pgTAP extension if the session found it absent. Only regular files inside the project run:
a symbolic link is refused by name.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from lift_db.local import project_files
from lift_db.local.project import find_project
from lift_db.local.target import resolve_target
from lift_db.testing import _pgtap


class PgTapFailure(Exception):
    pass


def _tests_dir(root: Path) -> Path:
    return root / "supabase" / "tests"


def _setup_files(root: Path) -> list[Path]:
    return sorted(_tests_dir(root).glob("*_setup_*.sql"))


def run_pgtap_file(path: Path, url: str, root: Path) -> _pgtap.TapRun:
    """Run one pgTAP file of the project at `root`; a link or a file outside it is refused."""
    try:
        project_files.read_sql(path, "pgTAP file", root)
    except project_files.ProjectFileError as exc:
        raise PgTapFailure(str(exc)) from exc
    return _pgtap.run_file(path, url)


def _helpers_installed(url: str) -> bool:
    with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
        row = conn.execute("select to_regnamespace('tests') is not null").fetchone()
    return bool(row and row[0])


class PgTapItem(pytest.Item):
    def runtest(self) -> None:
        url = self.config.stash[_URL_KEY]
        self.config.stash[_RAN_KEY] = True
        root = self.config.rootpath
        before = [f for f in _setup_files(root) if f.name < self.path.name]
        if before and not _helpers_installed(url):
            for helpers in before:
                setup = run_pgtap_file(helpers, url, root)
                if not setup.passed:
                    raise PgTapFailure(f"{helpers.name} (test helpers) failed:\n{setup.report()}")
        run = run_pgtap_file(self.path, url, root)
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
_RAN_KEY = pytest.StashKey[bool]()
_PGTAP_BEFORE_KEY = pytest.StashKey[bool]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_URL_KEY] = resolve_target(find_project(config.rootpath)).url


def pytest_collect_file(parent: pytest.Collector, file_path: Path) -> PgTapFile | None:
    if file_path.suffix == ".sql" and file_path.parent == _tests_dir(parent.config.rootpath):
        return PgTapFile.from_parent(parent, path=file_path)
    return None


def pytest_collection_finish(session: pytest.Session) -> None:
    """Note whether pgTAP is installed before this session's pgTAP files (or pg_prove) add it."""
    if not any(isinstance(item, PgTapItem) for item in session.items):
        return
    try:
        with psycopg.connect(session.config.stash[_URL_KEY], connect_timeout=10) as conn:
            row = conn.execute("select count(*) from pg_extension where extname = 'pgtap'")
            session.config.stash[_PGTAP_BEFORE_KEY] = row.fetchone() == (1,)
    except psycopg.Error:
        pass  # the items report the unreachable database themselves


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Drop what the pgTAP files installed, however the session ended (KeyboardInterrupt too)."""
    config = session.config
    if not config.stash.get(_RAN_KEY, False):
        return
    statements = ["drop schema if exists tests cascade"]
    if config.stash.get(_PGTAP_BEFORE_KEY, True) is False:
        statements.append("drop extension if exists pgtap")
    try:
        with psycopg.connect(config.stash[_URL_KEY], autocommit=True, connect_timeout=10) as conn:
            for statement in statements:
                conn.execute(statement)
    except psycopg.Error as exc:
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        message = (
            f"could not drop the pgTAP helpers (schema tests) after the run: {exc}; "
            "drop them by hand: drop schema tests cascade"
        )
        if reporter is not None:
            reporter.write_line(f"ERROR: {message}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
