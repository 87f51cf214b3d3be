"""Where the project's files are, and what `supabase/config.toml` says about the database."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from lift_db.errors import ConfigError

DEFAULT_DB_PORT = 54322


@dataclass(frozen=True)
class Project:
    """A checkout of the datastore: the `supabase/` folder and the local stack's state folder."""

    root: Path
    state: Path | None = None  # where the embedded server lives, when not `.lift-db/`

    @property
    def supabase_dir(self) -> Path:
        return self.root / "supabase"

    @property
    def config_file(self) -> Path:
        return self.supabase_dir / "config.toml"

    @property
    def migrations_dir(self) -> Path:
        return self.supabase_dir / "migrations"

    @property
    def tests_dir(self) -> Path:
        return self.supabase_dir / "tests"

    @property
    def state_dir(self) -> Path:
        """Git-ignored home of the embedded server (data directory, log, pid and port)."""
        if self.state is not None:
            return self.state
        override = os.environ.get("LIFT_DB_STATE_DIR")
        return Path(override).resolve() if override else self.root / ".lift-db"

    def config(self) -> dict[str, object]:
        try:
            with self.config_file.open("rb") as fh:
                return tomllib.load(fh)
        except FileNotFoundError as exc:
            raise ConfigError(
                f"{self.config_file} is missing",
                "run lift-db from a checkout of the project (it needs supabase/config.toml)",
            ) from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{self.config_file} is not valid TOML: {exc}") from exc

    def db_port(self) -> int:
        db = self.config().get("db", {})
        port = db.get("port", DEFAULT_DB_PORT) if isinstance(db, dict) else DEFAULT_DB_PORT
        if not isinstance(port, int) or not 1 <= port <= 65535:
            raise ConfigError(f"[db] port in {self.config_file} must be a TCP port, not {port!r}")
        return port

    def seed_files(self) -> list[Path]:
        """The seed files `supabase db reset` would run, in the order config.toml lists them."""
        db = self.config().get("db", {})
        seed = db.get("seed", {}) if isinstance(db, dict) else {}
        if not isinstance(seed, dict) or seed.get("enabled", True) is False:
            return []
        patterns = seed.get("sql_paths", ["./seed.sql"])
        if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
            raise ConfigError(f"[db.seed] sql_paths in {self.config_file} must be a list of paths")
        files: list[Path] = []
        for pattern in patterns:
            # Paths are relative to supabase/, and may be globs, as the CLI reads them.
            matches = sorted(self.supabase_dir.glob(pattern.removeprefix("./")))
            if not matches and not any(ch in pattern for ch in "*?["):
                raise ConfigError(
                    f"seed file {pattern} named in {self.config_file} does not exist",
                    "create it or remove it from [db.seed] sql_paths",
                )
            files.extend(m for m in matches if m not in files)
        return files


def find_project(start: Path | None = None) -> Project:
    """The nearest folder at or above `start` (default: cwd) holding `supabase/config.toml`."""
    override = os.environ.get("LIFT_DB_PROJECT")
    if override:
        return Project(Path(override).resolve())
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "supabase" / "config.toml").is_file():
            return Project(folder)
    raise ConfigError(
        f"no supabase/config.toml at or above {here}",
        "run lift-db inside a checkout of the project, or set LIFT_DB_PROJECT",
    )
