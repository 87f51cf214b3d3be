"""POSIX access ACLs: let one user search a folder without opening it to anyone else.

Root starts the server as the service user, who must reach the data directory through every
folder above it. Widening a folder's mode (`o+x`) would open it to every user of the machine;
a named ACL entry opens it to the service user alone. The ACL is read and written as the
kernel's `system.posix_acl_access` extended attribute, so no `setfacl` is needed; `getfacl`
shows the result.
"""

from __future__ import annotations

import errno
import grp
import os
import pwd
import stat
import struct
from dataclasses import dataclass, replace
from pathlib import Path

ACCESS_XATTR = "system.posix_acl_access"
_VERSION = 2
_HEADER = struct.Struct("<I")
_ENTRY = struct.Struct("<HHI")

USER_OBJ, USER, GROUP_OBJ, GROUP, MASK, OTHER = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20
UNDEFINED_ID = 0xFFFFFFFF
READ, WRITE, SEARCH = 4, 2, 1


class AclError(Exception):
    """The folder's ACL cannot be read, or the grant would give someone else more."""


@dataclass(frozen=True)
class Entry:
    tag: int
    perm: int
    qualifier: int = UNDEFINED_ID


def decode(raw: bytes) -> list[Entry]:
    if len(raw) < _HEADER.size or (len(raw) - _HEADER.size) % _ENTRY.size:
        raise AclError(f"malformed ACL of {len(raw)} bytes")
    (version,) = _HEADER.unpack_from(raw)
    if version != _VERSION:
        raise AclError(f"unknown ACL version {version}")
    return [
        Entry(*_ENTRY.unpack_from(raw, offset))
        for offset in range(_HEADER.size, len(raw), _ENTRY.size)
    ]


def encode(entries: list[Entry]) -> bytes:
    # The kernel wants entries ordered by tag, then by qualifier.
    ordered = sorted(entries, key=lambda e: (e.tag, e.qualifier))
    return _HEADER.pack(_VERSION) + b"".join(
        _ENTRY.pack(e.tag, e.perm, e.qualifier) for e in ordered
    )


def from_mode(mode: int) -> list[Entry]:
    return [
        Entry(USER_OBJ, (mode >> 6) & 7),
        Entry(GROUP_OBJ, (mode >> 3) & 7),
        Entry(OTHER, mode & 7),
    ]


def read(path: Path) -> list[Entry]:
    """The folder's access ACL; its mode as a minimal ACL when it has none."""
    try:
        return decode(os.getxattr(path, ACCESS_XATTR, follow_symlinks=False))
    except OSError as exc:
        if exc.errno in (errno.ENODATA, errno.EOPNOTSUPP):
            return from_mode(os.stat(path, follow_symlinks=False).st_mode)
        raise


def _perm(entries: list[Entry], tag: int) -> int | None:
    return next((e.perm for e in entries if e.tag == tag), None)


def user_groups(user: pwd.struct_passwd) -> set[int]:
    return {user.pw_gid} | {g.gr_gid for g in grp.getgrall() if user.pw_name in g.gr_mem}


def effective(st: os.stat_result, entries: list[Entry], uid: int, gids: set[int]) -> int:
    """What `uid` (in `gids`) may do, by the POSIX.1e access check."""
    if uid == st.st_uid:
        return _perm(entries, USER_OBJ) or 0
    mask = _perm(entries, MASK)
    mask = 7 if mask is None else mask
    for e in entries:
        if e.tag == USER and e.qualifier == uid:
            return e.perm & mask
    matching = [
        e.perm
        for e in entries
        if (e.tag == GROUP_OBJ and st.st_gid in gids) or (e.tag == GROUP and e.qualifier in gids)
    ]
    if matching:
        combined = 0
        for perm in matching:
            combined |= perm
        return combined & mask
    return _perm(entries, OTHER) or 0


def others_may_write(
    st: os.stat_result, entries: list[Entry], trusted_uids: set[int], trusted_gids: set[int]
) -> bool:
    """Whether a user or group not trusted may create, rename or delete entries."""
    mask = _perm(entries, MASK)
    mask = 7 if mask is None else mask
    for e in entries:
        if e.tag == USER and e.qualifier not in trusted_uids and e.perm & mask & WRITE:
            return True
        if e.tag == GROUP and e.qualifier not in trusted_gids and e.perm & mask & WRITE:
            return True
        if e.tag == GROUP_OBJ and st.st_gid not in trusted_gids and e.perm & mask & WRITE:
            return True
        if e.tag == OTHER and e.perm & WRITE:
            return True
    return False


def grant_search(path: Path, user: pwd.struct_passwd) -> bool:
    """Let `user` search the folder by a named ACL entry; False when it already could.

    Nobody else gains anything: the owning group keeps its permissions (the ACL mask, which
    `ls -l` shows as the group bits, becomes the group's own bits plus search), and a folder
    whose existing mask withholds search from another entry is refused instead.
    """
    st = os.stat(path, follow_symlinks=False)
    if not stat.S_ISDIR(st.st_mode):
        raise AclError(f"{path} is not a folder")
    entries = read(path)
    if effective(st, entries, user.pw_uid, user_groups(user)) & SEARCH:
        return False
    old_mask = _perm(entries, MASK)
    if old_mask is None:
        # A minimal ACL: the mask takes the owning group's bits, so the group keeps exactly them.
        new_mask = (_perm(entries, GROUP_OBJ) or 0) | SEARCH
    else:
        new_mask = old_mask | SEARCH
        for e in entries:
            theirs = e.tag in (GROUP_OBJ, GROUP) or (e.tag == USER and e.qualifier != user.pw_uid)
            if theirs and e.perm & SEARCH and not old_mask & SEARCH:
                raise AclError(
                    f"the ACL mask of {path} withholds search permission from other entries; "
                    "adding search for one user would give it to them too"
                )
    mine = next((e for e in entries if e.tag == USER and e.qualifier == user.pw_uid), None)
    kept = [e for e in entries if e.tag != MASK and e is not mine]
    granted = (
        Entry(USER, SEARCH, user.pw_uid) if mine is None else replace(mine, perm=mine.perm | SEARCH)
    )
    os.setxattr(
        path, ACCESS_XATTR, encode([*kept, granted, Entry(MASK, new_mask)]), follow_symlinks=False
    )
    return True
