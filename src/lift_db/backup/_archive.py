"""The backup's tar file: written private and never over another file, read without trusting it.

A backup is an uncompressed tar file of a few plain files with names known in advance. The
reader parses the tar headers itself rather than through `tarfile`, which follows sparse maps,
GNU long names and pax records and reads some of them whole into memory. Before a byte of a
member's data is read it refuses:

- any member that is not a plain file: links, devices, folders, FIFOs, sparse files, GNU long
  names, global pax headers;
- a name that is not one of the expected members (so no path, no `..`), or one seen twice;
- pax records other than the timestamps, owner and size `tarfile` writes;
- a member larger than its limit (`Limits`), than the archive file holds, or than the free space
  of the folder it is copied to.

Members are then copied in 1 MiB blocks into a private folder and hashed on the way, so memory
use does not grow with the size of the backup.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from lift_db.errors import LiftDbError

BLOCK = 512
CHUNK = 1 << 20
GIB = 1 << 30
MIB = 1 << 20
# The largest member a restore copies, unless LIFT_DB_BACKUP_MAX_BYTES says otherwise.
DEFAULT_MAX_MEMBER = 64 * GIB
MAX_PAX_HEADER = 64 * 1024
_PAX_KEYS = frozenset({"mtime", "atime", "ctime", "uid", "gid", "uname", "gname", "size"})
_TYPE_NAMES = {
    b"1": "a hard link",
    b"2": "a symbolic link",
    b"3": "a character device",
    b"4": "a block device",
    b"5": "a folder",
    b"6": "a FIFO",
    b"7": "a contiguous file",
    b"S": "a sparse file",
    b"L": "a GNU long name",
    b"K": "a GNU long link name",
    b"g": "a global pax header",
    b"D": "a GNU dump folder",
    b"M": "a multi-volume part",
    b"V": "a volume label",
}


class ArchiveError(LiftDbError):
    """A backup file is missing, unreadable, or holds what `lift-db dump` never writes."""


@dataclass(frozen=True)
class Limits:
    """The largest size accepted for each member, in bytes (a missing name is not expected)."""

    sizes: Mapping[str, int]

    @classmethod
    def for_members(
        cls, small: Mapping[str, int], large: tuple[str, ...], env: Mapping[str, str] | None = None
    ) -> Limits:
        """`small` members have fixed limits; `large` ones LIFT_DB_BACKUP_MAX_BYTES (64 GiB)."""
        env = os.environ if env is None else env
        raw = env.get("LIFT_DB_BACKUP_MAX_BYTES", "").strip()
        try:
            big = int(raw) if raw else DEFAULT_MAX_MEMBER
        except ValueError:
            raise ArchiveError(
                f"LIFT_DB_BACKUP_MAX_BYTES is not a number of bytes: {raw!r}",
                "set it to a whole number of bytes, or unset it for the default of 64 GiB",
            ) from None
        if big <= 0:
            raise ArchiveError("LIFT_DB_BACKUP_MAX_BYTES must be positive")
        return cls({**small, **dict.fromkeys(large, big)})


def extract(path: Path, folder: Path, limits: Limits) -> dict[str, str]:
    """Copy the archive's members into `folder`; their sha256 by name. Refuses (see the module
    docstring) before reading any member's data."""
    where = str(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise ArchiveError(f"cannot open backup file {where}: {exc.strerror}") from exc
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fh.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise ArchiveError(f"{where} is not a regular file")
        return _members(fh, info.st_size, where, folder, limits)


def _members(
    fh: BinaryIO, file_size: int, where: str, folder: Path, limits: Limits
) -> dict[str, str]:
    seen: dict[str, str] = {}
    pax: dict[str, str] = {}
    offset = 0
    while True:
        header = fh.read(BLOCK)
        if len(header) == 0 and not seen:
            raise ArchiveError(f"{where} is not a lift-db backup (it is empty)")
        if len(header) < BLOCK:
            raise ArchiveError(f"{where} is not a lift-db backup (the tar file is truncated)")
        if header == bytes(BLOCK):
            if pax:
                raise ArchiveError(f"{where} is not a lift-db backup (a pax header ends it)")
            return seen
        _check_sum(header, where)
        kind = header[156:157]
        size = _size(header, pax.pop("size", None), where)
        name = _name(header)
        data_at = offset + BLOCK
        padded = (size + BLOCK - 1) // BLOCK * BLOCK
        if data_at + padded > file_size:
            raise ArchiveError(
                f"{where} is not a lift-db backup: member {name!r} declares {size} bytes, more "
                "than the file holds"
            )
        if kind == b"x":
            if pax:
                raise ArchiveError(f"{where} is not a lift-db backup (two pax headers in a row)")
            if size > MAX_PAX_HEADER:
                raise ArchiveError(f"{where} is not a lift-db backup: a pax header of {size} bytes")
            pax = _pax_records(fh.read(padded)[:size], where)
            offset = data_at + padded
            continue
        if kind not in (b"0", b"\0"):
            what = _TYPE_NAMES.get(kind, f"of tar type {kind!r}")
            raise ArchiveError(
                f"{where} is not a lift-db backup: member {name!r} is {what}, not a plain file",
                "a backup holds only the plain files `lift-db dump` writes; nothing was read",
            )
        pax = {}
        if name not in limits.sizes:
            raise ArchiveError(
                f"{where} is not a lift-db backup: unexpected member {name!r}",
                f"a backup holds only {', '.join(sorted(limits.sizes))}; nothing was read",
            )
        if name in seen:
            raise ArchiveError(f"{where} is not a lift-db backup: member {name!r} appears twice")
        if size > limits.sizes[name]:
            raise ArchiveError(
                f"{where}: member {name} holds {size} bytes, more than the limit of "
                f"{limits.sizes[name]}",
                "for a larger backup raise LIFT_DB_BACKUP_MAX_BYTES (bytes)"
                if limits.sizes[name] >= DEFAULT_MAX_MEMBER or name.endswith(".pgdump")
                else "this member is never that large in a backup `lift-db dump` wrote",
            )
        free = shutil.disk_usage(folder).free
        if size > free:
            raise ArchiveError(
                f"{where}: member {name} holds {size} bytes, more than the {free} bytes free in "
                f"{folder}",
                "free some space, or point TMPDIR at a folder with room",
            )
        seen[name] = _copy(fh, size, folder / name, where)
        fh.seek(padded - size, os.SEEK_CUR)
        offset = data_at + padded


def _copy(fh: BinaryIO, size: int, dest: Path, where: str) -> str:
    digest = hashlib.sha256()
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as out:
        left = size
        while left:
            block = fh.read(min(CHUNK, left))
            if not block:
                raise ArchiveError(f"{where} is not a lift-db backup (the tar file is truncated)")
            digest.update(block)
            out.write(block)
            left -= len(block)
    return digest.hexdigest()


def _check_sum(header: bytes, where: str) -> None:
    try:
        stored = int(header[148:156].split(b"\0", 1)[0].strip() or b"-1", 8)
    except ValueError:
        stored = -1
    unsigned = sum(header[:148]) + 8 * 32 + sum(header[156:])
    if stored != unsigned:
        raise ArchiveError(
            f"{where} is not a lift-db backup (not a readable tar file: bad header checksum)",
            "pass the file `lift-db dump` wrote",
        )


def _size(header: bytes, pax_size: str | None, where: str) -> int:
    field = header[124:136]
    try:
        if field[0] & 0x80:  # base-256, GNU's form for sizes of 8 GiB and more
            size = int.from_bytes(field[1:], "big")
        else:
            size = int(field.split(b"\0", 1)[0].strip() or b"0", 8)
        if pax_size is not None:
            size = int(pax_size)
    except ValueError:
        raise ArchiveError(f"{where} is not a lift-db backup (unreadable member size)") from None
    if size < 0:
        raise ArchiveError(f"{where} is not a lift-db backup (negative member size)")
    return size


def _name(header: bytes) -> str:
    name = header[0:100].split(b"\0", 1)[0]
    if header[257:262] == b"ustar":
        prefix = header[345:500].split(b"\0", 1)[0]
        if prefix:
            name = prefix + b"/" + name
    return name.decode("utf-8", "backslashreplace")


def _pax_records(data: bytes, where: str) -> dict[str, str]:
    records: dict[str, str] = {}
    pos = 0
    while pos < len(data):
        space = data.find(b" ", pos)
        try:
            length = int(data[pos:space])
        except ValueError:
            raise ArchiveError(f"{where} is not a lift-db backup (malformed pax header)") from None
        record = data[space + 1 : pos + length]
        if length <= 0 or not record.endswith(b"\n") or b"=" not in record:
            raise ArchiveError(f"{where} is not a lift-db backup (malformed pax header)")
        key, _, value = record[:-1].partition(b"=")
        text = key.decode("utf-8", "backslashreplace")
        if text not in _PAX_KEYS:
            raise ArchiveError(
                f"{where} is not a lift-db backup: pax record {text!r} (lift-db dump writes "
                f"none but {', '.join(sorted(_PAX_KEYS))})",
                "a backup holds only the plain files `lift-db dump` writes; nothing was read",
            )
        records[text] = value.decode("utf-8", "replace")
        pos += length
    return records


# -- writing -------------------------------------------------------------------------------------


def write(output: Path, members: list[tuple[str, Path]]) -> None:
    """Write a tar of `members` (name, file) to `output`, which must not exist.

    The file is created with mode 0600 from its first byte (it holds password hashes), next to
    the destination, and linked into place only when complete: a failed dump leaves no half
    file, and an output that appeared meanwhile is never overwritten.
    """
    partial = output.with_name(f".{output.name}.{os.urandom(4).hex()}.partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            with tarfile.open(fileobj=fh, mode="w", format=tarfile.PAX_FORMAT) as tar:
                now = int(datetime.now(UTC).timestamp())
                for name, source in members:
                    info = tarfile.TarInfo(name)
                    info.size = source.stat().st_size
                    info.mtime = now  # a whole number: no pax record for it
                    info.mode = 0o600
                    with source.open("rb") as data:
                        tar.addfile(info, data)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(partial, output)
        except FileExistsError:
            raise ArchiveError(
                f"{output} already exists", "choose another --output, or move the old file away"
            ) from None
    finally:
        partial.unlink(missing_ok=True)
