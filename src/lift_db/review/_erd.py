"""`docs/ERD.md`: a Mermaid entity-relationship diagram of the project's tables, from the catalog.

Reviewers see on the pull request itself what a migration does to the data model: tables with
their columns and types, primary, foreign and unique keys, the relations between tables, and
whether Row Level Security guards each table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TypeVar

import psycopg
from psycopg.rows import TupleRow, class_row

QualifiedName = tuple[str, str]
_Row = TypeVar("_Row")

_TABLES = """
select c.oid::bigint as oid, n.nspname::text as schema, c.relname::text as name,
       c.relrowsecurity as rls, c.relforcerowsecurity as forced
  from pg_catalog.pg_class as c
  join pg_catalog.pg_namespace as n on n.oid = c.relnamespace
 where c.relkind in ('r', 'p')
   and not c.relispartition
   and n.nspname not in ('pg_catalog', 'information_schema', 'supabase_migrations')
   and n.nspname !~ '^pg_'
 order by n.nspname, c.relname
"""
_COLUMNS = """
select a.attrelid::bigint as rel, a.attnum::int as num, a.attname::text as name,
       pg_catalog.format_type(a.atttypid, a.atttypmod) as type, a.attnotnull as not_null
  from pg_catalog.pg_attribute as a
 where a.attrelid = any(%s::oid[]) and a.attnum > 0 and not a.attisdropped
 order by a.attrelid, a.attnum
"""
_CONSTRAINTS = """
select con.conrelid::bigint as rel, con.conname::text as name, con.contype::text as kind,
       con.conkey::int[] as keys, con.confrelid::bigint as target,
       coalesce(con.confkey::int[], '{}') as target_keys
  from pg_catalog.pg_constraint as con
 where con.conrelid = any(%s::oid[]) and con.contype in ('p', 'u', 'f')
 order by con.conrelid, con.contype, con.conname
"""
_POLICIES = """
select p.schemaname::text as schema, p.tablename::text as "table", p.policyname::text as name,
       lower(p.cmd) as command, array(select r::text from unnest(p.roles) as r order by 1) as roles
  from pg_catalog.pg_policies as p
 order by 1, 2, 3
"""


@dataclass(frozen=True)
class _TableRow:
    oid: int
    schema: str
    name: str
    rls: bool
    forced: bool


@dataclass(frozen=True)
class _ColumnRow:
    rel: int
    num: int
    name: str
    type: str
    not_null: bool


@dataclass(frozen=True)
class _ConstraintRow:
    rel: int
    name: str
    kind: str
    keys: list[int]
    target: int
    target_keys: list[int]


@dataclass(frozen=True)
class _PolicyRow:
    schema: str
    table: str
    name: str
    command: str
    roles: list[str]


# format_type() spellings with spaces, which a Mermaid attribute type cannot hold.
_SHORT_TYPES = [
    (re.compile(r"^timestamp(\(\d+\))? with time zone"), r"timestamptz\1"),
    (re.compile(r"^timestamp(\(\d+\))? without time zone"), r"timestamp\1"),
    (re.compile(r"^time(\(\d+\))? with time zone"), r"timetz\1"),
    (re.compile(r"^time(\(\d+\))? without time zone"), r"time\1"),
    (re.compile(r"^character varying"), "varchar"),
    (re.compile(r"^character"), "char"),
    (re.compile(r"^double precision"), "float8"),
    (re.compile(r"^bit varying"), "varbit"),
]
_MODIFIERS = re.compile(r"\(.*?\)")
_MERMAID_WORD = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-()\[\]]*$")


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    not_null: bool


@dataclass(frozen=True)
class ForeignKey:
    name: str
    columns: tuple[str, ...]
    target: QualifiedName
    target_columns: tuple[str, ...]


@dataclass(frozen=True)
class Policy:
    name: str
    command: str
    roles: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    schema: str
    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    unique_keys: tuple[tuple[str, ...], ...]
    foreign_keys: tuple[ForeignKey, ...]
    rls_enabled: bool
    rls_forced: bool
    policies: tuple[Policy, ...]

    @property
    def qualified(self) -> QualifiedName:
        return (self.schema, self.name)

    @property
    def label(self) -> str:
        return f"{self.schema}.{self.name}"


def table_names(conn: psycopg.Connection[TupleRow]) -> set[QualifiedName]:
    """Every ordinary and partitioned table of the database, outside the system schemas."""
    return {(t.schema, t.name) for t in read_tables(conn)}


def read_tables(conn: psycopg.Connection[TupleRow]) -> list[Table]:
    """Every table outside the system schemas, with columns, keys and policies, in name order."""
    heads = _fetch(conn, _TableRow, _TABLES)
    oids = [h.oid for h in heads]
    columns: dict[int, dict[int, Column]] = {oid: {} for oid in oids}
    for c in _fetch(conn, _ColumnRow, _COLUMNS, oids):
        columns[c.rel][c.num] = Column(c.name, c.type, c.not_null)
    constraints: dict[int, list[_ConstraintRow]] = {oid: [] for oid in oids}
    for k in _fetch(conn, _ConstraintRow, _CONSTRAINTS, oids):
        constraints[k.rel].append(k)
    policies: dict[QualifiedName, list[Policy]] = {}
    for p in _fetch(conn, _PolicyRow, _POLICIES):
        policies.setdefault((p.schema, p.table), []).append(
            Policy(p.name, p.command, tuple(p.roles))
        )
    names = {h.oid: (h.schema, h.name) for h in heads}
    tables: list[Table] = []
    for head in heads:
        cols = columns[head.oid]
        primary: tuple[str, ...] = ()
        unique: list[tuple[str, ...]] = []
        foreign: list[ForeignKey] = []
        for con in constraints[head.oid]:
            keys = tuple(cols[k].name for k in con.keys)
            if con.kind == "p":
                primary = keys
            elif con.kind == "u":
                unique.append(keys)
            elif con.target in names:  # a reference into a system schema is not drawn
                target_cols = tuple(columns[con.target][k].name for k in con.target_keys)
                foreign.append(ForeignKey(con.name, keys, names[con.target], target_cols))
        tables.append(
            Table(
                schema=head.schema,
                name=head.name,
                columns=tuple(cols[k] for k in sorted(cols)),
                primary_key=primary,
                unique_keys=tuple(unique),
                foreign_keys=tuple(foreign),
                rls_enabled=head.rls,
                rls_forced=head.forced,
                policies=tuple(policies.get((head.schema, head.name), [])),
            )
        )
    return tables


def _fetch(
    conn: psycopg.Connection[TupleRow], row: type[_Row], query: str, oids: list[int] | None = None
) -> list[_Row]:
    with conn.cursor(row_factory=class_row(row)) as cur:
        return cur.execute(query, None if oids is None else (oids,)).fetchall()


def mermaid_type(pg_type: str) -> str:
    """A Mermaid attribute type for a `format_type()` spelling (schema dropped, spaces shortened).

    What does not fit Mermaid's word syntax (e.g. `numeric(10,2)`) loses its modifiers; the
    attribute's comment then carries the exact type.
    """
    name = re.sub(r'^(?:"[^"]+"|[a-z_][a-z0-9_$]*)\.', "", pg_type)
    for pattern, short in _SHORT_TYPES:
        name = pattern.sub(short, name)
    if _MERMAID_WORD.match(name):
        return name
    bare = re.sub(r"\(.*?\)", "", name).replace(" ", "_").replace('"', "")
    return bare if _MERMAID_WORD.match(bare) else "unknown"


def _mermaid_name(identifier: str) -> str:
    return identifier if _MERMAID_WORD.match(identifier) else re.sub(r"\W", "_", identifier)


def render(tables: list[Table], project_tables: set[QualifiedName]) -> str:
    """The ERD.md text: the project's tables, and the tables they reference (referenced columns)."""
    by_name = {t.qualified: t for t in tables}
    mine = [t for t in tables if t.qualified in project_tables]
    referenced: dict[QualifiedName, set[str]] = {}
    for table in mine:
        for fk in table.foreign_keys:
            if fk.target not in project_tables:
                referenced.setdefault(fk.target, set()).update(fk.target_columns)
    lines = [
        "# Entity-relationship diagram",
        "",
        "Generated by `make snapshot` from the catalog of a database built by every migration in",
        "`supabase/migrations/`: do not edit it; `make test` fails when it is stale. Keys: `PK`",
        "primary, `FK` foreign, `UK` unique (single column). Tables the migrations do not create",
        "(such as `auth.users`) show only the columns the project's foreign keys reference.",
        "The full definitions, one file per table, view, function and publication, are in "
        "[schema/](schema/).",
        "",
    ]
    if not mine:
        lines += ["The migrations create no tables yet.", ""]
        return "\n".join(lines)
    lines += ["```mermaid", "erDiagram"]
    for table in mine:
        lines += _entity(table, None)
    for target in sorted(referenced):
        outside = by_name.get(target)
        if outside is not None:
            lines += _entity(outside, referenced[target])
    for table in mine:
        for fk in table.foreign_keys:
            lines.append("    " + _relation(table, fk))
    lines += ["```", "", "## Row Level Security", ""]
    lines += ["| table | RLS | policies (command: roles) |", "| --- | --- | --- |"]
    for table in mine:
        rls = "**off**"
        if table.rls_enabled:
            rls = "enabled, forced" if table.rls_forced else "enabled"
        policies = (
            "<br>".join(f"{p.name} ({p.command}: {', '.join(p.roles)})" for p in table.policies)
            or "none"
        )
        lines.append(f"| `{table.label}` | {rls} | {policies} |")
    lines.append("")
    return "\n".join(lines)


def _entity(table: Table, only: set[str] | None) -> list[str]:
    fk_columns = {c for fk in table.foreign_keys for c in fk.columns}
    unique_columns = {u[0] for u in table.unique_keys if len(u) == 1}
    out = [f'    "{table.label}" {{']
    for col in table.columns:
        if only is not None and col.name not in only:
            continue
        keys = [
            k
            for k, present in (
                ("PK", col.name in table.primary_key),
                ("FK", col.name in fk_columns and only is None),
                ("UK", col.name in unique_columns),
            )
            if present
        ]
        typ = mermaid_type(col.type)
        line = f"        {typ} {_mermaid_name(col.name)}"
        if keys:
            line += " " + ", ".join(keys)
        if _MODIFIERS.findall(typ) != _MODIFIERS.findall(col.type):
            line += f' "{col.type}"'  # keeps the modifiers Mermaid's type syntax cannot hold
        out.append(line)
    out.append("    }")
    return out


def _relation(table: Table, fk: ForeignKey) -> str:
    """`parent ||--o{ child : "columns"`, in crow's-foot notation.

    The parent side is exactly one when every referencing column is not null, else zero or one;
    the child side is zero or one when the referencing columns are unique, else zero or more. The
    line is solid (identifying) when the foreign key is part of the child's primary key.
    """
    by_name = {c.name: c for c in table.columns}
    mandatory = all(by_name[c].not_null for c in fk.columns)
    unique_sets = {frozenset(u) for u in table.unique_keys}
    if table.primary_key:
        unique_sets.add(frozenset(table.primary_key))
    one_to_one = frozenset(fk.columns) in unique_sets
    identifying = bool(table.primary_key) and set(fk.columns) <= set(table.primary_key)
    parent = "||" if mandatory else "|o"
    child = "o|" if one_to_one else "o{"
    line = "--" if identifying else ".."
    target = f"{fk.target[0]}.{fk.target[1]}"
    return f'"{target}" {parent}{line}{child} "{table.label}" : "{", ".join(fk.columns)}"'
