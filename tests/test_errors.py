"""The tooling's errors form one tree in `lift_db.errors`, and a command's report type is one."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

from lift_db import errors
from tests.conftest import ROOT

PACKAGE = ROOT / "src" / "lift_db"
# The store is installed alone and has its own tree (`lift_db.store.errors`).
OWN_TREES = (PACKAGE / "store",)
# A pytest failure of a pgTAP file: reported by pytest, never by a command.
NOT_TOOLING = {"PgTapFailure"}


def _tooling_modules() -> list[Path]:
    return [
        path
        for path in sorted(PACKAGE.rglob("*.py"))
        if not any(path.is_relative_to(tree) for tree in OWN_TREES)
    ]


def _base_names(node: ast.ClassDef) -> list[str]:
    return [ast.unparse(base).rsplit(".", 1)[-1] for base in node.bases]


def test_every_exception_class_of_the_tooling_is_defined_in_errors() -> None:
    elsewhere = []
    for path in _tooling_modules():
        if path == PACKAGE / "errors.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ClassDef) or node.name.startswith("_"):
                continue
            if node.name in NOT_TOOLING:
                continue
            if any(b.endswith(("Error", "Exception")) for b in _base_names(node)):
                elsewhere.append(f"{path.relative_to(ROOT)}: {node.name}")
    assert elsewhere == [], "define these in src/lift_db/errors.py"


def test_every_error_in_errors_derives_from_lift_db_error() -> None:
    classes = [
        cls
        for _, cls in inspect.getmembers(errors, inspect.isclass)
        if issubclass(cls, BaseException) and cls.__module__ == errors.__name__
    ]
    assert len(classes) > 20
    assert [c.__name__ for c in classes if not issubclass(c, errors.LiftDbError)] == []


def test_the_named_errors_sit_on_their_branch() -> None:
    assert issubclass(errors.BackupError, errors.LiftDbError)
    assert issubclass(errors.RestoreError, errors.BackupError)
    assert issubclass(errors.ArchiveError, errors.BackupError)
    assert issubclass(errors.RefusedError, errors.BackupError)
    assert issubclass(errors.SnapshotError, errors.ReviewError)
    assert issubclass(errors.DiffRefusedError, errors.ReviewError)
    assert issubclass(errors.MigrationLockError, errors.MigrationError)
    assert issubclass(errors.MigrationLockTimeoutError, errors.MigrationError)
    assert issubclass(errors.AclError, errors.ServerError)


def test_report_is_defined_once() -> None:
    defined = [
        str(path.relative_to(ROOT))
        for path in _tooling_modules()
        for node in ast.parse(path.read_text()).body
        if isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "Report" for t in node.targets)
    ]
    assert defined == ["src/lift_db/errors.py"]
