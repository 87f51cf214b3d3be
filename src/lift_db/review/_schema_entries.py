"""A normalized schema dump as entries keyed by object, and the differences between two of them.

`lift-db diff` verifies a generated migration by comparing the dump of a database built with it
against the dump of the target; `lift-db drift` compares a live database with the migrations.
Both compare `pg_dump --schema-only` output (normalized by `snapshot.normalize`) entry by entry,
keyed by pg_dump's own header (`-- Name: …; Type: …; Schema: …`), so grants, comments,
publication membership and triggers on platform tables are compared as the dump states them.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from lift_db.review import _snapshot

# What the test harness and the runner install in the local database and no migration owns:
# pgTAP's helpers (`supabase/tests/00n_setup_*.sql`) and the migration history.
HARNESS_SCHEMAS = frozenset(("tests", "supabase_migrations"))
HARNESS_EXTENSIONS = frozenset(("pgtap",))
DUMP_TIMEOUT_S = 300

_HEADER = re.compile(
    r"^-- (?:Data for )?Name: (?P<name>[^\n]*); Type: (?P<type>[^;\n]*); "
    r"Schema: (?P<schema>[^;\n]*)(?:; Owner: (?P<owner>[^\n]*))?$",
    re.MULTILINE,
)


@dataclass(frozen=True)
class Key:
    name: str
    type: str
    schema: str

    def describe(self) -> str:
        where = "" if self.schema == "-" else f" in schema {self.schema}"
        return f"{self.type} {self.name}{where}"


@dataclass(frozen=True)
class Difference:
    key: Key
    expected: str | None  # None: the object is missing from `actual`
    actual: str | None  # None: the object is only in `actual`

    @property
    def kind(self) -> str:
        if self.expected is None:
            return "extra"
        return "missing" if self.actual is None else "changed"

    def render(self, expected_label: str, actual_label: str) -> str:
        if self.actual is None:
            return f"only in {expected_label}: {self.key.describe()}\n{_indent(self.expected)}"
        if self.expected is None:
            return f"only in {actual_label}: {self.key.describe()}\n{_indent(self.actual)}"
        lines = difflib.unified_diff(
            self.expected.splitlines(),
            self.actual.splitlines(),
            expected_label,
            actual_label,
            lineterm="",
        )
        return f"differs: {self.key.describe()}\n{_indent(chr(10).join(lines))}"


def _indent(text: str | None) -> str:
    return "\n".join("    " + line for line in (text or "").splitlines())


def key_of(entry: str) -> Key:
    match = _HEADER.search(entry)
    if match is None:  # every normalized entry starts with its header
        return Key(entry.splitlines()[0] if entry else "", "?", "-")
    return Key(match["name"], match["type"], match["schema"])


def body_of(entry: str) -> str:
    """The entry's SQL, without pg_dump's comment header."""
    return "\n".join(
        line for line in entry.splitlines() if line != "--" and not _HEADER.match(line)
    ).strip()


def by_key(entries: list[str]) -> dict[Key, str]:
    keyed: dict[Key, str] = {}
    for entry in entries:
        key = key_of(entry)
        keyed[key] = f"{keyed[key]}\n\n{entry}" if key in keyed else entry
    return keyed


def is_harness(key: Key) -> bool:
    """An object of the test harness or the migration runner, never of a migration."""
    if key.schema in HARNESS_SCHEMAS:
        return True
    if key.type == "SCHEMA" and key.name in HARNESS_SCHEMAS:
        return True
    if key.schema == "-" and key.name.startswith("SCHEMA "):
        return key.name.removeprefix("SCHEMA ") in HARNESS_SCHEMAS
    return key.type == "EXTENSION" and key.name in HARNESS_EXTENSIONS


def read(pg_dump: Path, url: str, exclude: Iterable[str] = ()) -> dict[Key, str]:
    """The database's schema, normalized and keyed, without the harness's objects.

    `exclude`: schemas left out of the dump as well (platform schemas of a live project).
    """
    entries = by_key(_snapshot.normalize(_snapshot.dump(pg_dump, url, sorted(exclude))))
    return {k: v for k, v in entries.items() if not is_harness(k)}


def compare(expected: dict[Key, str], actual: dict[Key, str]) -> list[Difference]:
    """Every object missing from `actual`, only in `actual`, or stated differently."""
    found: list[Difference] = []
    for key, text in expected.items():
        other = actual.get(key)
        if other != text:
            found.append(Difference(key, text, other))
    found.extend(Difference(key, None, text) for key, text in actual.items() if key not in expected)
    return sorted(found, key=lambda d: (d.key.schema, d.key.type, d.key.name))
