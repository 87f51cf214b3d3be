"""Files that `lift-db` writes on a shared machine: never through a link, never where others write.

Run as root, `lift-db start` hands the cluster's data directory to the unprivileged service user,
who (like anyone who can log in to the database as its superuser and run `copy … to program`)
can create links there. So root writes only into folders that no less privileged user controls
(verified from `/` down), opens every file relative to a verified folder descriptor with
`O_NOFOLLOW`, creates new files with `O_EXCL`, and hands a file or folder to the service user
with `fchown` on the descriptor it opened, never by path.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import stat
from pathlib import Path

from lift_db.errors import ServerError
from lift_db.local import _acl

# Characters a POSIX shell gives a meaning, inside double quotes or outside them. initdb and
# pg_ctl start the server through /bin/sh with the paths pasted in double quotes.
SHELL_METACHARACTERS = "$`\"'\\!;&|<>(){}[]*?"

_OPEN_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


def refuse_shell_metacharacters(path: Path, what: str) -> None:
    """Refuse a path that a shell would not take literally, naming the first such character."""
    for ch in str(path):
        if ch in SHELL_METACHARACTERS or not ch.isprintable():
            shown = repr(ch) if ch.isprintable() else f"control character {ch!r}"
            raise ServerError(
                f"the {what} {str(path)!r} contains the shell metacharacter {shown}; "
                "initdb and pg_ctl pass paths through /bin/sh, so lift-db refuses it",
                "use a path made of letters, digits, spaces and -_.,:@+=%/ "
                "(move the checkout, or set LIFT_DB_STATE_DIR)",
            )


def _owner_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def why_untrusted(path: Path, st: os.stat_result, allow_sticky: bool) -> str | None:
    """Why a less privileged user controls this folder's entries, or None when nobody does."""
    if stat.S_ISLNK(st.st_mode):
        return "it is a symbolic link"
    if not stat.S_ISDIR(st.st_mode):
        return "it is not a folder"
    if st.st_uid not in (0, os.geteuid()):
        return f"it belongs to {_owner_name(st.st_uid)}"
    if allow_sticky and st.st_mode & stat.S_ISVTX:
        # Others may add names (each checked on the way down), but not rename or delete ours.
        return None
    if _acl.others_may_write(st, _acl.read(path), {0, os.geteuid()}, {0, os.getegid()}):
        return "users other than its owner may create and rename entries in it"
    return None


def verify_folder_chain(path: Path) -> None:
    """Refuse unless every existing folder from `/` to `path` is controlled by us alone.

    A link on the way is followed only from a folder already verified (nobody else can change
    it), and its target's own chain is verified in turn.
    """
    _verify_chain(Path(os.path.abspath(path)), path, depth=0)


def _verify_chain(path: Path, named: Path, depth: int) -> None:
    if depth > 40:
        raise ServerError(f"too many links on the way to {named}")
    current = Path("/")
    _require_trusted(current, named, os.stat(current, follow_symlinks=False), last=False)
    for part in path.parts[1:]:
        step = current / part
        try:
            st = os.stat(step, follow_symlinks=False)
        except FileNotFoundError:
            return
        if stat.S_ISLNK(st.st_mode):
            link = os.readlink(step)
            if ".." in Path(link).parts:
                # normpath would drop `x/..` where the kernel follows x first: not verifiable.
                raise ServerError(f"refusing {named}: the link {step} -> {link} climbs with '..'")
            target = Path(os.path.normpath(current / link))
            _verify_chain(target, named, depth + 1)
            current = target
            continue
        _require_trusted(step, named, st, last=step == path)
        current = step


def _require_trusted(folder: Path, named: Path, st: os.stat_result, last: bool) -> None:
    reason = why_untrusted(folder, st, allow_sticky=not last)
    if reason:
        raise ServerError(
            f"refusing to write in {named}: {folder} is not safe for "
            f"{_owner_name(os.geteuid())} to write under ({reason})",
            "keep the project (or LIFT_DB_STATE_DIR) in a folder that only you control, "
            "or run lift-db as the user who owns that folder",
        )


def open_own_folder(path: Path, reclaim_from: int | None = None) -> int:
    """Create `path` if needed and open it, refusing a folder that others control.

    A folder owned by `reclaim_from` (the service user, which owned the whole state folder in
    earlier versions) is taken back: its parent chain is ours, so nobody can swap it meanwhile.
    """
    verify_folder_chain(path.parent)
    path.mkdir(mode=0o755, parents=True, exist_ok=True)
    verify_folder_chain(path.parent)
    try:
        fd = os.open(path, _OPEN_DIR)
    except OSError as exc:
        raise ServerError(
            f"cannot use {path} as the state folder: {exc.strerror}",
            "it must be a real folder, not a link",
        ) from exc
    try:
        st = os.fstat(fd)
        if reclaim_from is not None and st.st_uid == reclaim_from:
            os.fchown(fd, os.geteuid(), os.getegid())
            os.fchmod(fd, stat.S_IMODE(st.st_mode) & ~0o022)
            st = os.fstat(fd)
        reason = why_untrusted(path, st, allow_sticky=False)
        if reason:
            raise ServerError(
                f"refusing to write in {path}: {reason}",
                "remove it, or point LIFT_DB_STATE_DIR at a folder only you control",
            )
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_service_folder(parent_fd: int, name: str, owner: pwd.struct_passwd | None) -> int:
    """Create (0700) or open the folder `name` that the server owns, handing it to `owner`."""
    with contextlib.suppress(FileExistsError):
        os.mkdir(name, 0o700, dir_fd=parent_fd)
    try:
        fd = os.open(name, _OPEN_DIR, dir_fd=parent_fd)
    except OSError as exc:
        raise ServerError(f"{name} in the state folder is not a folder: {exc.strerror}") from exc
    try:
        st = os.fstat(fd)
        expected = owner.pw_uid if owner else os.geteuid()
        if owner is not None and st.st_uid == os.geteuid():
            os.fchown(fd, owner.pw_uid, owner.pw_gid)
        elif st.st_uid != expected:
            raise ServerError(
                f"the data folder belongs to {_owner_name(st.st_uid)}, not "
                f"{_owner_name(expected)} who runs the server",
                "run lift-db as the user who created it, or start afresh with another "
                "LIFT_DB_STATE_DIR",
            )
    except BaseException:
        os.close(fd)
        raise
    return fd


def _unlink(dir_fd: int, name: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(name, dir_fd=dir_fd)


def create_new(dir_fd: int, name: str, mode: int) -> int:
    """A new, empty file we created ourselves (whatever had the name before is removed)."""
    _unlink(dir_fd, name)
    return os.open(
        name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode,
        dir_fd=dir_fd,
    )  # fmt: skip


def replace_file(dir_fd: int, name: str, data: bytes, mode: int = 0o644) -> None:
    """Write `name` whole by renaming a new file over it: a link there is replaced, not followed."""
    tmp = f".{name}.{secrets.token_hex(4)}"
    fd = create_new(dir_fd, tmp, mode)
    try:
        os.write(fd, data)
        os.fchmod(fd, mode)
    finally:
        os.close(fd)
    os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)


def open_log(dir_fd: int, name: str) -> int:
    """Our own append-only log file; anything else under the name is replaced by a new one."""
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        pass
    else:
        if not (stat.S_ISREG(st.st_mode) and st.st_uid == os.geteuid() and st.st_nlink == 1):
            _unlink(dir_fd, name)
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
    fd = os.open(name, flags, 0o600, dir_fd=dir_fd)
    st = os.fstat(fd)
    if not (stat.S_ISREG(st.st_mode) and st.st_uid == os.geteuid() and st.st_nlink == 1):
        os.close(fd)
        raise ServerError(f"{name} in the state folder is not a plain file of ours")
    os.set_blocking(fd, True)
    return fd


def read_trusted(
    path: Path, limit: int = 1 << 20, tail: bool = False, also_owner: int | None = None
) -> bytes | None:
    """The file's bytes (at most `limit`, the last ones when `tail`), None when it is missing,
    a link, not a plain file, or owned by someone we do not trust (root, us, `also_owner`)."""
    try:
        fd = os.open(path, _READ)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_uid not in (0, os.geteuid(), also_owner):
            return None
        if tail and st.st_size > limit:
            os.lseek(fd, st.st_size - limit, os.SEEK_SET)
        chunks: list[bytes] = []
        size = 0
        while size < limit:
            chunk = os.read(fd, min(65536, limit - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_service_file(path: Path, limit: int = 4096) -> bytes | None:
    """A small file the server writes (its pid file): never through a link, never a FIFO."""
    try:
        fd = os.open(path, _READ)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return os.read(fd, limit)
    finally:
        os.close(fd)
