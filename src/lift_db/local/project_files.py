"""Reading the SQL files the project runs: migrations, seed files and pgTAP files.

A file is read only when it is a regular file inside the project, reached without a symbolic
link. A link in `supabase/` could point anywhere on the machine, and the runner prints parts of
the files it runs (the statement that failed), so following it could both run and show text that
is not the project's. A refused file is named by its path in the project; its content is never
read, let alone printed.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from lift_db.errors import LiftDbError


class ProjectFileError(LiftDbError):
    """A file the project would run is a link, not a regular file, or lies outside the project."""


def display_name(path: Path, root: Path | None) -> str:
    """The path as the project names it (relative to the root when it lies inside)."""
    if root is not None:
        try:
            return path.relative_to(root).as_posix()
        except ValueError:
            pass
    return path.name


def check_inside(path: Path, root: Path, what: str) -> None:
    """Refuse `path` when it, or any folder on the way to it from `root`, leads outside `root`."""
    shown = display_name(path, root)
    real_root = root.resolve()
    real = path.resolve()
    if real != real_root and real_root not in real.parents:
        raise ProjectFileError(
            f"{what} {shown} lies outside the project (a symbolic link leads elsewhere); "
            "it was not read",
            f"replace the link {shown} with the real file or folder inside the project",
        )


def read_sql(path: Path, what: str, root: Path | None = None) -> str:
    """The text of a project SQL file; a link, a non-regular file or a file outside is refused.

    `what` names the kind of file in messages ("migration file", "seed file", "pgTAP file").
    """
    shown = display_name(path, root)
    if path.is_symlink():
        raise ProjectFileError(
            f"{what} {shown} is a symbolic link; lift-db reads no file through a link",
            f"replace the link {shown} with the real file",
        )
    if root is not None:
        check_inside(path, root, what)
    try:
        # O_NOFOLLOW: a link swapped in after the check above is refused, not followed.
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        raise ProjectFileError(f"cannot open {what} {shown}: {exc.strerror}") from exc
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            raise ProjectFileError(
                f"{what} {shown} is not a regular file", f"replace {shown} with a plain file"
            )
        data = fh.read()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProjectFileError(f"{what} {shown} is not valid UTF-8: {exc}") from exc
