"""What the red team aims at, read from the catalog, so that what a new migration adds is
attacked without a change to the tests.

Relations: every table, partitioned table, view and materialized view of the schemas an API role
may use (USAGE), with their columns and each API role's privileges on them. Functions: every
function outside PostgreSQL's and the extensions' own, with its body, and what reaches it
(triggers, policies, column defaults, check constraints, views, other functions' bodies).
Settings: every setting the schema reads with current_setting().
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from psycopg import sql

from tests.reliability.support import Conn

SYSTEM_SCHEMAS = ("pg_catalog", "information_schema", "pg_toast")


@dataclass(frozen=True)
class Column:
    name: str
    type_sql: str  # schema-qualified, without type modifier: usable in a cast
    base_type: str  # the type's own name (jsonb, text, uuid, …)
    not_null: bool
    has_default: bool
    generated: bool


@dataclass(frozen=True)
class UniqueKey:
    name: str
    arbiter: list[str]  # column names or parenthesised expressions, for ON CONFLICT (…)
    columns: list[str]  # every column the key's values come from
    predicate: str | None


@dataclass(frozen=True)
class ForeignKey:
    columns: list[str]
    target: str  # qualified relation
    target_columns: list[str]


@dataclass
class Relation:
    oid: int
    schema: str
    name: str
    kind: str
    columns: list[Column]
    unique_keys: list[UniqueKey] = field(default_factory=list)
    foreign_keys: list[ForeignKey] = field(default_factory=list)

    @property
    def qualified(self) -> str:
        return f"{quote(self.schema)}.{quote(self.name)}"

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


@dataclass(frozen=True)
class Function:
    oid: int
    schema: str
    name: str
    signature: str
    security_definer: bool
    language: str
    body: str
    arg_types: list[str]  # qualified, as for a cast
    arg_base_types: list[str]
    required_args: int  # arguments without a default

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"


def quote(name: str) -> str:
    return name if re.fullmatch(r"[a-z_][a-z0-9_]*", name) else '"' + name.replace('"', '""') + '"'


def _rows(
    conn: Conn,
    query: str | sql.Composed,
    params: dict[str, object] | tuple[object, ...] | None = None,
) -> list[tuple[Any, ...]]:
    return list(conn.execute(query, params).fetchall())


def type_sql(namespace: str, type_: str) -> sql.SQL:
    """The schema-qualified name of a type (pg_catalog's too: pg_temp comes first otherwise)."""
    return sql.SQL(
        "case when {n}.nspname = 'pg_catalog'"
        " then 'pg_catalog.' || pg_catalog.quote_ident({t}.typname)"
        " else pg_catalog.quote_ident({n}.nspname) || '.' || pg_catalog.quote_ident({t}.typname)"
        " end".replace("{n}", namespace).replace("{t}", type_)
    )


_RELATIONS = """
select c.oid::int, n.nspname, c.relname, c.relkind::text
  from pg_catalog.pg_class as c
  join pg_catalog.pg_namespace as n on n.oid = c.relnamespace
 where c.relkind in ('r', 'p', 'v', 'm', 'f')
   and n.nspname <> all(%(system)s)
   and n.nspname not like 'pg\\_temp%%' and n.nspname not like 'pg\\_toast%%'
   and (pg_catalog.has_schema_privilege('anon', n.oid, 'usage')
        or pg_catalog.has_schema_privilege('authenticated', n.oid, 'usage'))
   and not exists (select from pg_catalog.pg_depend as d
                    where d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
                      and d.objid = c.oid and d.deptype = 'e')
 order by 2, 3
"""

_COLUMNS = sql.SQL("""
select a.attname, {type}, t.typname, a.attnotnull, a.atthasdef, a.attgenerated <> ''
  from pg_catalog.pg_attribute as a
  join pg_catalog.pg_type as t on t.oid = a.atttypid
  join pg_catalog.pg_namespace as tn on tn.oid = t.typnamespace
 where a.attrelid = %s and a.attnum > 0 and not a.attisdropped
 order by a.attnum
""").format(type=type_sql("tn", "t"))

_UNIQUE_KEYS = """
select i.relname,
       array(select case when x.attnum = 0
                         then '(' || pg_catalog.pg_get_indexdef(x.indexrelid, x.k, true) || ')'
                         else pg_catalog.quote_ident(a.attname) end
               from (select ix.indexrelid, k, ix.indkey[k - 1] as attnum
                       from generate_series(1, ix.indnkeyatts) as k) as x
               left join pg_catalog.pg_attribute as a
                      on a.attrelid = ix.indrelid and a.attnum = x.attnum
              order by x.k),
       pg_catalog.pg_get_expr(ix.indexprs, ix.indrelid),
       array(select a.attname from pg_catalog.pg_attribute as a
              where a.attrelid = ix.indrelid and a.attnum = any(ix.indkey) and a.attnum > 0),
       pg_catalog.pg_get_expr(ix.indpred, ix.indrelid)
  from pg_catalog.pg_index as ix
  join pg_catalog.pg_class as i on i.oid = ix.indexrelid
 where ix.indrelid = %s and ix.indisunique and ix.indisvalid
 order by 1
"""

_FOREIGN_KEYS = """
select array(select a.attname from unnest(k.conkey) with ordinality as u(n, o)
               join pg_catalog.pg_attribute as a on a.attrelid = k.conrelid and a.attnum = u.n
              order by u.o),
       k.confrelid::pg_catalog.regclass::text,
       array(select a.attname from unnest(k.confkey) with ordinality as u(n, o)
               join pg_catalog.pg_attribute as a on a.attrelid = k.confrelid and a.attnum = u.n
              order by u.o)
  from pg_catalog.pg_constraint as k
 where k.conrelid = %s and k.contype = 'f'
 order by k.conname
"""


def relations(conn: Conn) -> list[Relation]:
    """Every relation of a schema an API role may use (partitions included)."""
    conn.execute("set search_path = ''")
    try:
        found: list[Relation] = []
        for oid, schema, name, kind in _rows(conn, _RELATIONS, {"system": list(SYSTEM_SCHEMAS)}):
            columns = [
                Column(str(n), str(t), str(b), bool(nn), bool(d), bool(g))
                for n, t, b, nn, d, g in _rows(conn, _COLUMNS, (oid,))
            ]
            rel = Relation(int(str(oid)), str(schema), str(name), str(kind), columns)
            for key_name, arbiter, exprs, plain, pred in _rows(conn, _UNIQUE_KEYS, (oid,)):
                cols = set(plain)
                if exprs:  # the columns an expression reads are the key's columns too
                    tokens = set(re.findall(r"[a-z_][a-z0-9_]*", str(exprs)))
                    cols |= {c.name for c in columns if c.name in tokens}
                rel.unique_keys.append(
                    UniqueKey(
                        str(key_name),
                        list(arbiter),
                        [c.name for c in columns if c.name in cols],
                        None if pred is None else str(pred),
                    )
                )
            for cols, target, target_cols in _rows(conn, _FOREIGN_KEYS, (oid,)):
                rel.foreign_keys.append(ForeignKey(list(cols), str(target), list(target_cols)))
            found.append(rel)
        return found
    finally:
        conn.execute("reset search_path")


@dataclass(frozen=True)
class Privileges:
    select: bool
    insert: set[str]  # columns
    update: set[str]
    delete: bool
    any_select: bool  # some column readable


def privileges(conn: Conn, role: str, rel: Relation) -> Privileges:
    row = conn.execute(
        "select pg_catalog.has_table_privilege(%(r)s, %(o)s::oid, 'select'),"
        "       pg_catalog.has_table_privilege(%(r)s, %(o)s::oid, 'delete'),"
        "       pg_catalog.has_schema_privilege(%(r)s, c.relnamespace, 'usage')"
        "  from pg_catalog.pg_class as c where c.oid = %(o)s::oid",
        {"r": role, "o": rel.oid},
    ).fetchone()
    assert row is not None
    usage = bool(row[2])
    cols: dict[str, tuple[bool, bool, bool]] = {}
    for name, sel, ins, upd in _rows(
        conn,
        "select a.attname,"
        "       pg_catalog.has_column_privilege(%(r)s, a.attrelid, a.attnum, 'select'),"
        "       pg_catalog.has_column_privilege(%(r)s, a.attrelid, a.attnum, 'insert'),"
        "       pg_catalog.has_column_privilege(%(r)s, a.attrelid, a.attnum, 'update')"
        "  from pg_catalog.pg_attribute as a"
        " where a.attrelid = %(o)s::oid and a.attnum > 0 and not a.attisdropped",
        {"r": role, "o": rel.oid},
    ):
        cols[str(name)] = (bool(sel), bool(ins), bool(upd))
    return Privileges(
        select=usage and bool(row[0]),
        insert={c for c, p in cols.items() if usage and p[1]},
        update={c for c, p in cols.items() if usage and p[2]},
        delete=usage and bool(row[1]),
        any_select=usage and any(p[0] for p in cols.values()),
    )


_FUNCTIONS = sql.SQL("""
select p.oid::int, n.nspname, p.proname, p.oid::pg_catalog.regprocedure::text, p.prosecdef,
       l.lanname,
       case when p.prosqlbody is not null then pg_catalog.pg_get_functiondef(p.oid)
            else coalesce(p.prosrc, '') end,
       array(select {type}
               from unnest(p.proargtypes) with ordinality as u(t, o)
               join pg_catalog.pg_type as at on at.oid = u.t
               join pg_catalog.pg_namespace as atn on atn.oid = at.typnamespace
              order by u.o),
       array(select at.typname::text
               from unnest(p.proargtypes) with ordinality as u(t, o)
               join pg_catalog.pg_type as at on at.oid = u.t
              order by u.o),
       p.pronargs - p.pronargdefaults
  from pg_catalog.pg_proc as p
  join pg_catalog.pg_namespace as n on n.oid = p.pronamespace
  join pg_catalog.pg_language as l on l.oid = p.prolang
 where n.nspname <> all(%(system)s)
   and n.nspname not like 'pg\\_temp%%' and n.nspname not like 'pg\\_toast%%'
   and p.prokind in ('f', 'p')
   and l.lanname in ('sql', 'plpgsql')
   and not exists (select from pg_catalog.pg_depend as d
                    where d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass
                      and d.objid = p.oid and d.deptype = 'e')
 order by 4
""").format(type=type_sql("atn", "at"))


def functions(conn: Conn) -> list[Function]:
    """Every SQL and PL/pgSQL function that PostgreSQL and the extensions do not own."""
    conn.execute("set search_path = ''")
    try:
        return [
            Function(
                int(str(oid)),
                str(s),
                str(n),
                str(sig),
                bool(sd),
                str(lang),
                str(body),
                list(types),
                list(bases),
                int(str(req)),
            )
            for oid, s, n, sig, sd, lang, body, types, bases, req in _rows(
                conn, _FUNCTIONS, {"system": list(SYSTEM_SCHEMAS)}
            )
        ]
    finally:
        conn.execute("reset search_path")


def executable(conn: Conn, role: str, function: Function) -> bool:
    row = conn.execute(
        "select pg_catalog.has_function_privilege(%(r)s, %(o)s::oid, 'execute')"
        "   and pg_catalog.has_schema_privilege(%(r)s, p.pronamespace, 'usage')"
        "  from pg_catalog.pg_proc as p where p.oid = %(o)s::oid",
        {"r": role, "o": function.oid},
    ).fetchone()
    return bool(row and row[0])


# -- what reaches a function ----------------------------------------------------------------------

# Expressions stored in the catalog that run when a relation is used: (relation oid, the commands
# that run it, the expression's text).
_EXPRESSIONS = """
select p.polrelid::int,
       case p.polcmd when 'r' then 'select' when 'a' then 'insert' when 'w' then 'update'
                     when 'd' then 'delete' else 'all' end,
       coalesce(pg_catalog.pg_get_expr(p.polqual, p.polrelid), '') || ' '
       || coalesce(pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid), '')
  from pg_catalog.pg_policy as p
union all
select d.adrelid::int, 'insert', pg_catalog.pg_get_expr(d.adbin, d.adrelid)
  from pg_catalog.pg_attrdef as d
union all
select k.conrelid::int, 'insert update', pg_catalog.pg_get_expr(k.conbin, k.conrelid)
  from pg_catalog.pg_constraint as k where k.contype = 'c' and k.conrelid <> 0
union all
select c.oid::int, 'select', pg_catalog.pg_get_viewdef(c.oid)
  from pg_catalog.pg_class as c where c.relkind in ('v', 'm')
"""

_TRIGGERS = """
select t.tgrelid::int, t.tgfoid::int,
       concat_ws(' ',
                 case when t.tgtype::int & 4 <> 0 then 'insert' end,
                 case when t.tgtype::int & 8 <> 0 then 'delete' end,
                 case when t.tgtype::int & 16 <> 0 then 'update' end)
  from pg_catalog.pg_trigger as t where not t.tgisinternal
"""


@dataclass(frozen=True)
class Touch:
    """A use of a relation (select, insert, update, delete) or a direct call of a function."""

    kind: str
    oid: int


def mentions(text: str, function: Function) -> bool:
    pattern = rf"\b{re.escape(function.schema)}\s*\.\s*{re.escape(function.name)}\s*\("
    return re.search(pattern, text, re.IGNORECASE) is not None


# Foreign keys whose action writes the referencing table when the referenced row goes:
# (referencing table, referenced table).
_CASCADES = """
select k.conrelid::int, k.confrelid::int
  from pg_catalog.pg_constraint as k
 where k.contype = 'f' and (k.confdeltype in ('c', 'n', 'd') or k.confupdtype in ('c', 'n', 'd'))
"""

_RELATION_NAMES = """
select c.oid::int, n.nspname, c.relname
  from pg_catalog.pg_class as c join pg_catalog.pg_namespace as n on n.oid = c.relnamespace
 where c.relkind in ('r', 'p', 'v', 'm', 'f') and n.nspname <> all(%(system)s)
"""


def reaching(conn: Conn, funcs: list[Function]) -> dict[int, set[Touch]]:
    """For each function, every use of a relation or call that runs it: what runs it directly
    (a call, a trigger, a policy, a default, a check, a view), the calls of the functions that
    call it, the calls of the functions that use a relation that runs it, and the deletes of
    the rows a foreign key's action reaches it from."""
    direct: dict[int, set[Touch]] = {f.oid: {Touch("call", f.oid)} for f in funcs}
    for rel, commands, text in _rows(conn, _EXPRESSIONS):
        for f in funcs:
            if mentions(str(text), f):
                kinds = (
                    ["select", "insert", "update", "delete"]
                    if commands == "all"
                    else str(commands).split()
                )
                direct[f.oid] |= {Touch(k, int(str(rel))) for k in kinds}
    for rel, foid, events in _rows(conn, _TRIGGERS):
        if int(str(foid)) in direct:
            direct[int(str(foid))] |= {Touch(e, int(str(rel))) for e in str(events).split()}
    callers = {
        f.oid: [g.oid for g in funcs if g.oid != f.oid and mentions(g.body, f)] for f in funcs
    }
    users: dict[int, list[int]] = {}  # relation -> functions whose body names it
    for oid, schema, name in _rows(conn, _RELATION_NAMES, {"system": list(SYSTEM_SCHEMAS)}):
        pattern = re.compile(rf"\b{re.escape(str(schema))}\s*\.\s*{re.escape(str(name))}\b")
        users[int(oid)] = [g.oid for g in funcs if pattern.search(g.body)]
    parents: dict[int, list[int]] = {}
    for child, parent in _rows(conn, _CASCADES):
        parents.setdefault(int(child), []).append(int(parent))
    reached: dict[int, set[Touch]] = {}
    for f in funcs:
        touches: set[Touch] = set()
        work = list(direct[f.oid])
        while work:
            touch = work.pop()
            if touch in touches:
                continue
            touches.add(touch)
            if touch.kind == "call":
                work.extend(Touch("call", g) for g in callers.get(touch.oid, []))
                continue
            work.extend(Touch("call", g) for g in users.get(touch.oid, []))
            if touch.kind in ("update", "delete"):
                work.extend(Touch("delete", p) for p in parents.get(touch.oid, []))
        reached[f.oid] = touches
    return reached


# -- settings ---------------------------------------------------------------------------------

_SETTING = re.compile(r"current_setting\s*\(\s*'([^']+)'", re.IGNORECASE)


def settings_read(conn: Conn, funcs: list[Function]) -> set[str]:
    """Every setting a function body, policy, default, check constraint or view reads."""
    texts = [f.body for f in funcs] + [str(r[2]) for r in _rows(conn, _EXPRESSIONS)]
    return {m for text in texts for m in _SETTING.findall(text)}


# -- names a function resolves at run time ---------------------------------------------------

_IDENTIFIER = re.compile(r'(?<![.\w"$])([a-z_][a-z0-9_$]*)', re.IGNORECASE)
_OPERATOR = re.compile(r"[+\-*/<>=~!@#%^&|`?]+")
_CALL = re.compile(r'(?<![.\w"$])([a-z_][a-z0-9_$]*)\s*\(', re.IGNORECASE)


def strip_strings(body: str) -> str:
    """The body without its comments (a name in a comment resolves nothing)."""
    body = re.sub(r"--[^\n]*", " ", body)
    return re.sub(r"/\*.*?\*/", " ", body, flags=re.DOTALL)


def unqualified_names(body: str) -> set[str]:
    return {m.lower() for m in _IDENTIFIER.findall(strip_strings(body))}


def called_names(body: str) -> set[str]:
    return {m.lower() for m in _CALL.findall(strip_strings(body))}


def operator_names(body: str) -> set[str]:
    return set(_OPERATOR.findall(strip_strings(body)))
