"""Statements an attacker builds from rows of their own: inserts shaped like their rows, updates
of their rows, and calls of functions with plausible arguments."""

from __future__ import annotations

import secrets
import uuid

from psycopg import sql

from tests.security.catalog import Function, Relation
from tests.security.rows import Row, locator

# Values of a function argument, by type, when nothing better is known.
PLAIN_VALUES = {
    "jsonb": "{}",
    "json": "{}",
    "int2": "1",
    "int4": "1",
    "int8": "1",
    "float4": "0.5",
    "float8": "0.5",
    "numeric": "0.5",
    "text": "red team",
    "varchar": "red team",
    "bool": "false",
}


def cast(value: str | None, type_sql: str) -> sql.Composed:
    return sql.SQL("{}::{}").format(sql.Literal(value), sql.SQL(type_sql))


def insert_columns(rel: Relation, insertable: set[str], template: Row) -> dict[str, str | None]:
    """A copy of `template` in the columns the role may insert, with what must be unique made
    fresh: database-generated uuids left to their default, text given a random suffix."""
    values = {c.name: template.get(c.name) for c in rel.columns if c.name in insertable}
    dropped: set[str] = set()
    for key in rel.unique_keys:
        if not set(key.columns) <= set(values):
            continue
        for name in key.columns:
            column = rel.column(name)
            if column.base_type == "uuid" and column.has_default:
                dropped.add(name)
            elif column.base_type in ("text", "varchar") and values.get(name) is not None:
                values[name] = f"{values[name]}-rt{secrets.token_hex(3)}"
    return {k: v for k, v in values.items() if k not in dropped}


def insert(
    rel: Relation, values: dict[str, str | None], suffix: sql.Composable | None = None
) -> sql.Composed:
    names = list(values)
    return sql.SQL("insert into {}.{} as t ({}) values ({}){}").format(
        sql.Identifier(rel.schema),
        sql.Identifier(rel.name),
        sql.SQL(", ").join(sql.Identifier(n) for n in names),
        sql.SQL(", ").join(
            cast(values[n], rel.column(n).type_sql) if values[n] is not None else sql.SQL("null")
            for n in names
        ),
        suffix or sql.SQL(""),
    )


def insert_with(
    rel: Relation, values: dict[str, str | None], overrides: dict[str, sql.Composable]
) -> sql.Composed:
    """An insert of `values` with some columns set to SQL expressions."""
    names = list(dict.fromkeys([*values, *overrides]))
    parts: list[sql.Composable] = []
    for n in names:
        if n in overrides:
            parts.append(overrides[n])
        elif values[n] is None:
            parts.append(sql.SQL("null"))
        else:
            parts.append(cast(values[n], rel.column(n).type_sql))
    return sql.SQL("insert into {}.{} as t ({}) values ({})").format(
        sql.Identifier(rel.schema),
        sql.Identifier(rel.name),
        sql.SQL(", ").join(sql.Identifier(n) for n in names),
        sql.SQL(", ").join(parts),
    )


def update_row(rel: Relation, row: Row, overrides: dict[str, sql.Composable]) -> sql.Composed:
    return sql.SQL("update {}.{} as t set {} where {}").format(
        sql.Identifier(rel.schema),
        sql.Identifier(rel.name),
        sql.SQL(", ").join(
            sql.SQL("{} = {}").format(sql.Identifier(n), e) for n, e in overrides.items()
        ),
        locator(row),
    )


def touch_all_rows(rel: Relation, updatable: set[str]) -> sql.Composed:
    """An update of every row in reach that changes nothing but runs every update trigger."""
    names = [c.name for c in rel.columns if c.name in updatable]
    return sql.SQL("update {}.{} as t set {}").format(
        sql.Identifier(rel.schema),
        sql.Identifier(rel.name),
        sql.SQL(", ").join(sql.SQL("{0} = t.{0}").format(sql.Identifier(n)) for n in names),
    )


def call(
    function: Function,
    plain: dict[str, str],
    overrides: dict[int, str] | None = None,
) -> sql.Composed:
    """A call with the required arguments: `overrides` by position, else a plain value of the
    argument's type (`plain` adds to PLAIN_VALUES: the attacker's own ids, a vector)."""
    args = []
    for i in range(function.required_args):
        value = (overrides or {}).get(i)
        if value is None:
            value = plain.get(
                function.arg_base_types[i], PLAIN_VALUES.get(function.arg_base_types[i])
            )
        args.append(cast(value, function.arg_types[i]))
    return sql.SQL("select {}.{}({})").format(
        sql.Identifier(function.schema), sql.Identifier(function.name), sql.SQL(", ").join(args)
    )


def fresh_value(base_type: str) -> str:
    """A value no row holds."""
    if base_type == "uuid":
        return str(uuid.uuid4())
    if base_type in ("int2", "int4", "int8"):
        return str(2_000_000_000 - secrets.randbelow(1000))
    return f"red-team-{secrets.token_hex(6)}"
