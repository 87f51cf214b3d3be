"""Install pgTAP into the embedded server's `share/extension`.

pgTAP is pure SQL. Debian packages it per PostgreSQL major version; the SQL of any recent one works
on the embedded server, so we take whichever `postgresql-<N>-pgtap` apt knows, download it with
`apt-get download` (nothing is installed system-wide) and copy its `pgtap*` extension files.

This runs as root, so the package must be the one we mean:
- The cache (`.lift-db/cache`) is used only when it is a real folder that we own and nobody else
  may write in, and only for a package whose SHA-256 is pinned in `PINNED_SHA256` below.
- Otherwise the package is downloaded afresh into a new private temporary folder; `apt-get
  download` checks it against the archive's signed index. A pinned name must then also match its
  pin; an unpinned one (another Debian or Ubuntu release) is accepted on apt's check, and its
  checksum printed so that it can be pinned. Only pinned packages are cached.
- From the package only regular files named `usr/share/postgresql/<N>/extension/pgtap*` are
  copied, as plain 0644 files: no link, device, directory, setuid or setgid bit leaves it.

Pinning a new version (README, "Running lift-db safely"): on the new release run
`apt-get download postgresql-<N>-pgtap`, compare `sha256sum` of the file with the `SHA256:` line
of `apt-cache show postgresql-<N>-pgtap`, and add the file name and checksum to `PINNED_SHA256`.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import pwd
import re
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from lift_db.errors import LiftDbError
from lift_db.local import hostfs
from lift_db.local.binaries import find_install
from lift_db.local.project import find_project
from lift_db.local.server import SERVICE_USER

# Debian's own checksums (the `SHA256:` of `apt-cache show`), one line per package file.
PINNED_SHA256 = {
    # Debian 12 (bookworm) main
    "postgresql-15-pgtap_1.2.0-3_all.deb": (
        "eb2e8de6d1a66c6d7c8d91f442033d2a4948538026e86ecfb63e641f88ff2e4d"
    ),
}
PACKAGE_FILE = re.compile(r"postgresql-[0-9]+-pgtap_[A-Za-z0-9.+~-]+_all\.deb")
EXTENSION_FILE = re.compile(r"usr/share/postgresql/[0-9]+/extension/pgtap[A-Za-z0-9._-]*")
MAX_PACKAGE_BYTES = 16 << 20
MAX_FILE_BYTES = 8 << 20


def _candidates() -> list[str]:
    result = subprocess.run(
        ["apt-cache", "search", "--names-only", r"^postgresql-[0-9]+-pgtap$"],
        capture_output=True,
        text=True,
        check=False,
    )
    names = re.findall(r"^(postgresql-(\d+)-pgtap)\s", result.stdout, re.MULTILINE)
    return [name for name, _ in sorted(names, key=lambda n: -int(n[1]))]


def _service_uid() -> int | None:
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SERVICE_USER).pw_uid
    except KeyError:
        return None


@contextlib.contextmanager
def _cache_folder(state_dir: Path) -> Iterator[int]:
    """The cache folder's descriptor: a real folder of ours that nobody else may write in.

    A cache that someone else owns (earlier versions handed the whole state folder to the
    service user) is removed, never read.
    """
    state_fd = hostfs.open_own_folder(state_dir, reclaim_from=_service_uid())
    try:
        with contextlib.suppress(FileExistsError):
            os.mkdir("cache", 0o755, dir_fd=state_fd)
        st = os.stat("cache", dir_fd=state_fd, follow_symlinks=False)
        reason = hostfs.why_untrusted(state_dir / "cache", st, allow_sticky=False)
        if reason:
            print(f"note: ignoring and removing {state_dir / 'cache'}: {reason}", file=sys.stderr)
            if stat.S_ISDIR(st.st_mode):
                shutil.rmtree("cache", dir_fd=state_fd)
            else:
                os.unlink("cache", dir_fd=state_fd)
            os.mkdir("cache", 0o755, dir_fd=state_fd)
        fd = os.open("cache", os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=state_fd)
    finally:
        os.close(state_fd)
    try:
        yield fd
    finally:
        os.close(fd)


def _read_own(dir_fd: int, name: str) -> bytes | None:
    """A plain file of ours in the folder (never through a link), or None."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid():
            return None
        if st.st_size > MAX_PACKAGE_BYTES:
            return None
        with os.fdopen(os.dup(fd), "rb") as fh:
            return fh.read(MAX_PACKAGE_BYTES + 1)
    finally:
        os.close(fd)


def _from_cache(cache_fd: int) -> tuple[str, bytes] | None:
    for name in sorted(PINNED_SHA256, reverse=True):
        data = _read_own(cache_fd, name)
        if data is not None and hashlib.sha256(data).hexdigest() == PINNED_SHA256[name]:
            return name, data
    return None


def _download() -> tuple[str, bytes]:
    if shutil.which("apt-get") is None:
        raise LiftDbError(
            "pgTAP is not installed and apt-get is not available to fetch it",
            "on Debian/Ubuntu run `make pgtap`; elsewhere copy pgtap.control and pgtap--*.sql "
            "into the embedded server's share/extension",
        )
    names = _candidates()
    if not names:
        raise LiftDbError(
            "apt knows no postgresql-<N>-pgtap package",
            "run `apt-get update` (as root) and try again",
        )
    with tempfile.TemporaryDirectory(prefix="lift-db-pgtap-") as tmp:
        result = subprocess.run(
            ["apt-get", "download", names[0]], cwd=tmp, capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise LiftDbError(
                f"`apt-get download {names[0]}` failed: {result.stderr.strip()}",
                "check the network and apt sources, then run `make pgtap` again",
            )
        fd = os.open(tmp, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        try:
            found = [n for n in os.listdir(fd) if PACKAGE_FILE.fullmatch(n)]
            if len(found) != 1:
                raise LiftDbError(f"`apt-get download {names[0]}` left {sorted(os.listdir(fd))}")
            data = _read_own(fd, found[0])
        finally:
            os.close(fd)
    if data is None:
        raise LiftDbError(f"the downloaded {found[0]} is not a plain file below the size limit")
    return found[0], data


def _package(state_dir: Path) -> tuple[str, bytes]:
    """The package's file name and bytes: from the cache if pinned there, else fetched afresh."""
    with _cache_folder(state_dir) as cache_fd:
        cached = _from_cache(cache_fd)
        if cached is not None:
            return cached
        name, data = _download()
        digest = hashlib.sha256(data).hexdigest()
        pin = PINNED_SHA256.get(name)
        if pin is not None and pin != digest:
            raise LiftDbError(
                f"{name} from apt has SHA-256 {digest}, not the pinned {pin}",
                "the archive changed the package under the same version: check where it comes "
                "from before pinning the new checksum in scripts/install_pgtap.py",
            )
        if pin is None:
            print(
                f"note: {name} is not pinned in scripts/install_pgtap.py; accepted on apt's "
                f"signature check. To pin it, add {name!r}: {digest!r} to PINNED_SHA256",
                file=sys.stderr,
            )
        else:
            hostfs.replace_file(cache_fd, name, data)
        return name, data


def _extension_files(name: str, data: bytes) -> dict[str, bytes]:
    """The package's regular `pgtap*` extension files, by base name; nothing else is read."""
    with tempfile.TemporaryDirectory(prefix="lift-db-pgtap-") as tmp:
        deb = Path(tmp) / name
        deb.write_bytes(data)
        result = subprocess.run(
            ["dpkg-deb", "--fsys-tarfile", str(deb)], capture_output=True, check=False
        )
    if result.returncode != 0:
        raise LiftDbError(f"{name} is not a Debian package: {result.stderr.decode().strip()}")
    files: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(result.stdout), mode="r:") as tar:
        for member in tar:
            path = PurePosixPath(member.name.removeprefix("./")).as_posix()
            if not EXTENSION_FILE.fullmatch(path):
                continue
            if not member.isreg() or member.size > MAX_FILE_BYTES:
                print(f"note: skipped {member.name} of {name}: not a plain file", file=sys.stderr)
                continue
            extracted = tar.extractfile(member)
            if extracted is not None:
                files[PurePosixPath(path).name] = extracted.read()
    if "pgtap.control" not in files:
        raise LiftDbError(f"{name} holds no pgtap extension files")
    return files


def main() -> int:
    try:
        install = find_install()
        if install.has_extension("pgtap"):
            print(f"pgTAP already installed in {install.extension_dir}")
            return 0
        name, data = _package(find_project().state_dir)
        files = _extension_files(name, data)
        ext_fd = os.open(install.extension_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        try:
            # pgtap.control last: the extension counts as installed only once its SQL is there.
            for base in sorted(files, key=lambda n: n == "pgtap.control"):
                hostfs.replace_file(ext_fd, base, files[base], mode=0o644)
        finally:
            os.close(ext_fd)
        print(f"installed pgTAP from {name} into {install.extension_dir}")
        return 0
    except LiftDbError as exc:
        print(f"install_pgtap: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
