"""The declarative schema: `supabase/schemas/*.sql`, as `supabase db diff` reads it.

`[db.migrations] schema_paths` in config.toml lists the files (paths or globs, relative to
`supabase/`) in the order they are applied; a glob's matches are applied in name order and a file
named twice runs once, where it is first named. Without the setting, `schemas/*.sql` is read.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import psycopg

from lift_db.errors import ConfigError, LiftDbError
from lift_db.local.platform_layer import ensure_platform_layer
from lift_db.local.project import Project
from lift_db.local.server import LocalServer
from lift_db.local.target import connect
from lift_db.review._snapshot import scratch_database

SCHEMAS_DIR = "schemas"
DEFAULT_PATHS = ("./schemas/*.sql",)


def _configured(project: Project) -> list[str] | None:
    db = project.config().get("db", {})
    section = db.get("migrations", {}) if isinstance(db, dict) else {}
    paths = section.get("schema_paths") if isinstance(section, dict) else None
    if paths is None:
        return None
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        raise ConfigError(
            f"[db.migrations] schema_paths in {project.config_file} must be a list of paths"
        )
    return paths


def enabled(project: Project) -> bool:
    """`supabase/schemas/` exists and `schema_paths` names it: the declarative schema is the
    target."""
    paths = _configured(project)
    if paths is None or not (project.supabase_dir / SCHEMAS_DIR).is_dir():
        return False
    return any(p.removeprefix("./").split("/", 1)[0] == SCHEMAS_DIR for p in paths)


def files(project: Project) -> list[Path]:
    """The schema files in the order they are applied."""
    found: list[Path] = []
    for pattern in _configured(project) or list(DEFAULT_PATHS):
        relative = pattern.removeprefix("./")
        matches = sorted(p for p in project.supabase_dir.glob(relative) if p.is_file())
        if not matches and not any(ch in pattern for ch in "*?["):
            raise ConfigError(
                f"schema file {pattern} named in {project.config_file} does not exist",
                "create it or remove it from [db.migrations] schema_paths",
            )
        found.extend(m for m in matches if m not in found)
    if not found:
        raise ConfigError(
            "no declarative schema files: supabase/schemas/ has no .sql file "
            "([db.migrations] schema_paths)",
            "add the schema files, or drop --from-schemas",
        )
    return found


@contextlib.contextmanager
def built_database(server: LocalServer, project: Project) -> Iterator[str]:
    """A scratch database with the platform layer and the schema files applied, in order."""
    paths = files(project)
    with scratch_database(server) as dbname:
        with connect(server.admin_url(dbname)) as conn:
            ensure_platform_layer(conn)
        with connect(server.url(dbname=dbname)) as conn:
            for path in paths:
                rel = path.relative_to(project.root).as_posix()
                try:
                    with conn.transaction():
                        conn.execute(path.read_text(encoding="utf-8").encode())
                except psycopg.Error as exc:
                    raise LiftDbError(
                        f"schema file {rel} failed: {exc.diag.message_primary or exc}"
                        f" [SQLSTATE {exc.diag.sqlstate}]",
                        f"fix {rel}: the files of supabase/schemas/ must build the schema in the "
                        "order [db.migrations] schema_paths lists them",
                    ) from exc
        yield dbname
