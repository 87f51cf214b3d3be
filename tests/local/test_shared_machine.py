"""`lift-db` run as root on a machine it shares with other users, tried as they would attack it.

The service user `lift-db` owns the cluster's data directory, and anyone who can log in to the
database as its superuser can run programs as `lift-db` (`copy … to program`). Root must never
write through a link that user planted, never open a private folder to everyone, never unpack a
package it planted, and never hand a path to a shell.
"""

from __future__ import annotations

import grp
import os
import pwd
import secrets
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lift_db.local.project import Project
from lift_db.local.server import SERVICE_USER, running_as_root
from tests.conftest import ROOT, free_port, run_lift_db

as_root = pytest.mark.skipif(not running_as_root(), reason="the attacks need root and lift-db")


def _env(state: Path, port: int) -> dict[str, str]:
    return {"LIFT_DB_STATE_DIR": str(state), "LIFT_DB_PORT": str(port)}


def _as_service_user(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(argv), user=SERVICE_USER, capture_output=True, text=True, check=False, cwd="/"
    )


def _give_to_service_user(*paths: Path) -> None:
    user = pwd.getpwnam(SERVICE_USER)
    for path in paths:
        os.chown(path, user.pw_uid, user.pw_gid, follow_symlinks=False)


@pytest.fixture
def scratch_base(project: Project) -> Iterator[Path]:
    """A folder for a test's own state folders; their servers are stopped and it is removed."""
    base = project.state_dir / "scratch" / f"host-{secrets.token_hex(4)}"
    base.mkdir(parents=True)
    yield base
    for data in base.rglob("data"):
        if (data / "PG_VERSION").exists():
            run_lift_db("stop", env={"LIFT_DB_STATE_DIR": str(data.parent)})
    shutil.rmtree(base, ignore_errors=True)


# -- item 4: links planted in the state folder -------------------------------------------------


@as_root
def test_root_never_writes_through_a_link_the_service_user_planted(
    scratch_base: Path, tmp_path: Path
) -> None:
    # Files only root may read or write, one for each file root used to write in the state
    # folder: the initdb password file, the port record and the server settings.
    secrets_dir = tmp_path / "root-only"
    secrets_dir.mkdir(mode=0o700)
    targets = {name: secrets_dir / name for name in (".pwfile", "server.json", "lift-db.conf")}
    for target in targets.values():
        target.write_text(f"root's own {target.name}\n")
        target.chmod(0o600)
    before = {name: (t.read_bytes(), os.stat(t)) for name, t in targets.items()}

    # A state folder as earlier versions left it: the service user's, links and all.
    state = scratch_base / "state"
    state.mkdir()
    _give_to_service_user(state)
    for name in (".pwfile", "server.json"):
        planted = _as_service_user("ln", "-sfn", str(targets[name]), str(state / name))
        assert planted.returncode == 0, planted.stderr
    env = _env(state, free_port())

    def assert_untouched(after: str) -> None:
        for name, target in targets.items():
            content, st = before[name]
            now = os.stat(target)
            assert target.read_bytes() == content, (
                f"{after}: root wrote through the planted {name} link"
            )
            assert (now.st_uid, now.st_gid, now.st_mode) == (st.st_uid, st.st_gid, st.st_mode), (
                f"{after}: root handed {target} over through the planted {name} link"
            )

    first = run_lift_db("start", env=env)
    assert_untouched("the first start")
    assert first.returncode == 0, first.stderr
    # Now the service user plants links again, as `copy … to program` lets a database
    # superuser do at any time; lift-db may refuse them only by owning the folder.
    _as_service_user("ln", "-sfn", str(targets["lift-db.conf"]), str(state / "data/lift-db.conf"))
    _as_service_user("ln", "-sfn", str(targets["server.json"]), str(state / "server.json"))
    _as_service_user("ln", "-sfn", str(targets[".pwfile"]), str(state / ".pwfile"))
    for command in ("stop", "start", "reset", "stop", "start"):
        result = run_lift_db(command, env=env)
        assert_untouched(command)
        assert result.returncode == 0, f"{command}: {result.stderr}"
    run_lift_db("stop", env=env)

    # The state folder is root's again; only the data directory is the service user's.
    assert os.stat(state).st_uid == os.geteuid()
    assert not os.path.islink(state / "server.json")
    assert os.stat(state / "data").st_uid == pwd.getpwnam(SERVICE_USER).pw_uid


@as_root
def test_root_refuses_a_state_folder_inside_a_folder_others_may_write(scratch_base: Path) -> None:
    shared = scratch_base / "shared"
    shared.mkdir()
    shared.chmod(0o777)  # not sticky: anyone may rename or replace what root creates there
    state = shared / "state"

    result = run_lift_db("start", env=_env(state, free_port()))

    assert result.returncode == 1
    assert f"{shared} is not safe for root to write under" in result.stderr
    assert "may create and rename entries in it" in result.stderr
    assert "Traceback" not in result.stderr
    assert not state.exists()


# -- item 5: a package planted in the pgTAP cache ----------------------------------------------


def _planted_package(tmp_path: Path) -> Path:
    """A .deb that looks like pgTAP and carries setuid-root files."""
    root = tmp_path / "planted"
    ext = root / "usr/share/postgresql/15/extension"
    ext.mkdir(parents=True)
    (root / "DEBIAN").mkdir()
    (root / "DEBIAN/control").write_text(
        "Package: postgresql-15-pgtap\nVersion: 1.2.0-3\nArchitecture: all\n"
        "Maintainer: nobody <nobody@example.com>\nDescription: planted\n"
    )
    (ext / "pgtap.control").write_text("comment = 'planted'\ndefault_version = '1.2.0'\n")
    (ext / "pgtap--1.2.0.sql").write_text("select 'planted';\n")
    (ext / "pgtap-shell").write_text("#!/bin/sh\n# planted\nexec /bin/sh\n")
    (ext / "pgtap-shell").chmod(0o4755)
    (root / "usr/bin").mkdir()
    (root / "usr/bin/planted").write_text("#!/bin/sh\n# planted\n")
    (root / "usr/bin/planted").chmod(0o6755)
    (ext / "pgtap-link.sql").symlink_to("/etc/shadow")
    deb = tmp_path / "planted.deb"
    subprocess.run(
        ["dpkg-deb", "--root-owner-group", "--build", str(root), str(deb)],
        check=True,
        capture_output=True,
    )
    return deb


def _fake_install(tmp_path: Path) -> Path:
    from lift_db.local.binaries import find_install

    real = find_install().prefix
    fake = tmp_path / "pginstall"
    (fake / "share" / "extension").mkdir(parents=True)
    (fake / "bin").symlink_to(real / "bin")
    (fake / "lib").symlink_to(real / "lib")
    return fake


@as_root
@pytest.mark.parametrize("planter", ["service user", "root, unpinned"])
def test_install_pgtap_never_unpacks_a_package_planted_in_the_cache(
    scratch_base: Path, tmp_path: Path, planter: str
) -> None:
    if shutil.which("dpkg-deb") is None:
        pytest.skip("needs dpkg-deb to build the planted package")
    deb = _planted_package(tmp_path)
    fake = _fake_install(tmp_path)
    state = scratch_base / "state"
    cache = state / "cache"
    cache.mkdir(parents=True)
    if planter == "service user":
        # The layout earlier versions left: the whole state folder the service user's.
        planted = cache / "postgresql-99-pgtap_9.9-1_all.deb"
        shutil.copy(deb, planted)
        _give_to_service_user(state, cache, planted)
    else:
        # Root's own cache, but a file under the pinned name that is not the pinned package.
        shutil.copy(deb, cache / "postgresql-15-pgtap_1.2.0-3_all.deb")

    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts/install_pgtap.py")],
        env={**os.environ, "LIFT_DB_PG_PREFIX": str(fake), "LIFT_DB_STATE_DIR": str(state)},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )

    installed = [p for p in (fake / "share").rglob("*") if not p.is_dir()]
    for path in installed:
        st = os.lstat(path)
        assert stat.S_ISREG(st.st_mode), f"{path} is not a plain file"
        assert not st.st_mode & (stat.S_ISUID | stat.S_ISGID), f"{path} is setuid/setgid"
        assert stat.S_IMODE(st.st_mode) == 0o644, path
        assert b"planted" not in path.read_bytes(), f"{path} came from the planted package"
    assert not any(p.name in ("pgtap-shell", "planted", "pgtap-link.sql") for p in installed)
    if result.returncode == 0:
        # A fresh download (or none possible): the genuine package, nothing else.
        assert "Unit testing for PostgreSQL" in (fake / "share/extension/pgtap.control").read_text()
    else:
        assert "install_pgtap: error:" in result.stderr
        assert "Traceback" not in result.stderr


# -- item 6: private folders above the project -------------------------------------------------


def _can_stat(user: str, path: Path) -> bool:
    probe = ["stat", "--", str(path)]
    return subprocess.run(probe, user=user, capture_output=True, check=False).returncode == 0


@as_root
def test_start_opens_a_private_folder_to_the_service_user_alone(scratch_base: Path) -> None:
    private = scratch_base / "home"
    private.mkdir()
    private.chmod(0o700)
    state = private / "state"
    port = free_port()

    result = run_lift_db("start", env=_env(state, port))

    assert result.returncode == 0, result.stderr
    st = os.stat(private)
    assert stat.S_IMODE(st.st_mode) & 0o007 == 0, "start opened the folder to every user"
    assert st.st_uid == 0
    assert f"granted search permission on {private} to 'lift-db' alone" in result.stderr
    # Behaviour, not bits: the service user reaches the data directory, another user does not.
    assert _can_stat(SERVICE_USER, state / "data" / "PG_VERSION")
    assert not _can_stat("nobody", state)
    status = run_lift_db("status", env=_env(state, port))
    assert status.returncode == 0, status.stderr


@as_root
def test_a_grant_that_would_open_the_folder_to_another_group_is_refused(tmp_path: Path) -> None:
    from lift_db.local import _acl

    folder = tmp_path / "masked"
    folder.mkdir(mode=0o700)
    # A named group may search, but the mask withholds it: adding search to the mask for the
    # service user would hand it to that group as well.
    other_group = grp.getgrnam("nogroup").gr_gid
    os.setxattr(
        folder,
        _acl.ACCESS_XATTR,
        _acl.encode(
            [
                _acl.Entry(_acl.USER_OBJ, 7),
                _acl.Entry(_acl.GROUP_OBJ, 0),
                _acl.Entry(_acl.GROUP, _acl.SEARCH, other_group),
                _acl.Entry(_acl.MASK, 0),
                _acl.Entry(_acl.OTHER, 0),
            ]
        ),
    )
    before = os.getxattr(folder, _acl.ACCESS_XATTR)
    with pytest.raises(_acl.AclError, match="withholds search permission from other entries"):
        _acl.grant_search(folder, pwd.getpwnam(SERVICE_USER))
    assert os.getxattr(folder, _acl.ACCESS_XATTR) == before


# -- item 7: shell metacharacters in paths -----------------------------------------------------


@pytest.mark.parametrize(("trick", "character"), [("$(touch {})", "'$'"), ("`touch {}`", "'`'")])
def test_a_state_path_with_shell_metacharacters_is_refused(
    scratch_base: Path, trick: str, character: str
) -> None:
    marker = Path(f"/tmp/lift-db-pwned-{secrets.token_hex(4)}")
    state = scratch_base / f"state{trick.format(marker)}"
    try:
        result = run_lift_db("start", env=_env(state, free_port()))
        assert not marker.exists(), "a shell ran the command in the state path"
        assert result.returncode == 1
        assert f"contains the shell metacharacter {character}" in result.stderr
        assert "Traceback" not in result.stderr
        assert not state.exists()
    finally:
        marker.unlink(missing_ok=True)
        run_lift_db("stop", env={"LIFT_DB_STATE_DIR": str(state)})
