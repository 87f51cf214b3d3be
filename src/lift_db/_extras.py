"""Which requirements of an extra of this distribution are missing from the environment.

The store installs alone (`pip install lift-sys-db`: psycopg and its pool). `lift-db`, the local
stack, the runner and the review tools come with the extra `local`. The requirements are read
from the installed distribution's own metadata, so this check cannot drift from pyproject.toml.
Only the standard library is imported here: the check runs before anything that needs the extra.
"""

from __future__ import annotations

import re
from importlib import metadata

DISTRIBUTION = "lift-sys-db"

_NAME = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?")


def _extra_of(marker: str) -> str | None:
    found = re.search(r"""extra\s*==\s*["']([^"']+)["']""", marker)
    return found.group(1) if found else None


def missing(extra: str, distribution: str = DISTRIBUTION) -> list[str]:
    """The distributions that `distribution[extra]` needs and the environment lacks.

    An empty list when the distribution itself is not installed (a source tree on sys.path):
    there is no metadata to check, and the imports report what is missing.
    """
    try:
        requires = metadata.requires(distribution) or []
    except metadata.PackageNotFoundError:
        return []
    absent: list[str] = []
    for requirement in requires:
        spec, _, marker = requirement.partition(";")
        if _extra_of(marker) != extra:
            continue
        parsed = _NAME.match(spec)
        if parsed is None:
            continue
        name, extras = parsed.group(1), parsed.group(2)
        if _normalized(name) == _normalized(distribution):
            for inner in (extras or "").split(","):
                if inner.strip():
                    absent += missing(inner.strip(), distribution)
            continue
        try:
            metadata.distribution(name)
        except metadata.PackageNotFoundError:
            absent.append(name)
    return sorted(set(absent))


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()
