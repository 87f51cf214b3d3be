"""What the app's data is, and a content checksum of it that two databases can compare.

The app's schemas are `public`, `supabase_migrations` (the migration history) and every other
schema the migration role (the owner of `supabase_migrations`) owns, except the platform's own
and the pgTAP helpers. They are found in the catalog, so a schema or table a new migration adds
is covered without a code change. The auth users the app's tables reference (and their
identities) belong to the app's data too: a profile without its auth user is not a restorable
account.

A table's checksum is the md5 of its rows' text, sorted, in UTC: equal for equal content whatever
the physical order, and the same query on both sides of a dump and restore.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql
from psycopg.rows import TupleRow

# Schemas Supabase (or the platform layer) manages, and the pgTAP helpers of supabase/tests.
PLATFORM_SCHEMAS = frozenset(
    {
        "auth",
        "extensions",
        "graphql",
        "graphql_public",
        "net",
        "pgbouncer",
        "pgsodium",
        "pgsodium_masks",
        "realtime",
        "_realtime",
        "storage",
        "supabase_functions",
        "vault",
        "cron",
        "tests",
    }
)
MIGRATION_SCHEMA = "supabase_migrations"

_APP_SCHEMAS = """
select n.nspname
  from pg_catalog.pg_namespace as n
 where (n.nspname in ('public', %(migrations)s)
        or n.nspowner = coalesce(
             (select m.nspowner from pg_catalog.pg_namespace as m where m.nspname = %(migrations)s),
             (select r.oid from pg_catalog.pg_roles as r where r.rolname = current_user)))
   and n.nspname <> all(%(platform)s)
   and n.nspname not like 'pg\\_%%'
   and n.nspname <> 'information_schema'
 order by n.nspname
"""

_TABLES = """
select n.nspname, c.relname
  from pg_catalog.pg_class as c
  join pg_catalog.pg_namespace as n on n.oid = c.relnamespace
 where c.relkind in ('r', 'p')
   and n.nspname = any(%s)
   and not exists (select from pg_catalog.pg_depend as d
                    where d.objid = c.oid and d.deptype = 'e')
 order by n.nspname, c.relname
"""

# Single-column foreign keys from the app's tables to auth.users: which users the app references.
_AUTH_REFERENCES = """
select n.nspname, c.relname, a.attname
  from pg_catalog.pg_constraint as k
  join pg_catalog.pg_class as c on c.oid = k.conrelid
  join pg_catalog.pg_namespace as n on n.oid = c.relnamespace
  join pg_catalog.pg_attribute as a on a.attrelid = k.conrelid and a.attnum = k.conkey[1]
 where k.contype = 'f'
   and k.confrelid = to_regclass('auth.users')
   and cardinality(k.conkey) = 1
   and n.nspname = any(%s)
 order by 1, 2, 3
"""


@dataclass(frozen=True)
class TableDigest:
    rows: int
    md5: str


def app_schemas(conn: psycopg.Connection[TupleRow]) -> list[str]:
    rows = conn.execute(
        _APP_SCHEMAS, {"migrations": MIGRATION_SCHEMA, "platform": sorted(PLATFORM_SCHEMAS)}
    ).fetchall()
    return [str(r[0]) for r in rows]


def app_tables(conn: psycopg.Connection[TupleRow], schemas: list[str]) -> list[tuple[str, str]]:
    return [(str(s), str(t)) for s, t in conn.execute(_TABLES, (schemas,)).fetchall()]


def referenced_users_filter(
    conn: psycopg.Connection[TupleRow], schemas: list[str]
) -> sql.Composable:
    """A condition on `u.id` selecting the auth users the app's tables reference."""
    refs = conn.execute(_AUTH_REFERENCES, (schemas,)).fetchall()
    if not refs:
        return sql.SQL("false")
    parts = [
        sql.SQL("u.id in (select {} from {})").format(
            sql.Identifier(column), sql.Identifier(schema, table)
        )
        for schema, table, column in refs
    ]
    return sql.SQL("(") + sql.SQL(" or ").join(parts) + sql.SQL(")")


def auth_selects(
    conn: psycopg.Connection[TupleRow], schemas: list[str]
) -> dict[str, sql.Composable]:
    """`select` of the auth rows that belong to the app's data, keyed by table name."""
    users = referenced_users_filter(conn, schemas)
    selects: dict[str, sql.Composable] = {
        "auth.users": sql.SQL("select u.* from auth.users as u where {}").format(users)
    }
    if conn.execute("select to_regclass('auth.identities') is not null").fetchone() == (True,):
        selects["auth.identities"] = sql.SQL(
            "select i.* from auth.identities as i where i.user_id in "
            "(select u.id from auth.users as u where {})"
        ).format(users)
    return selects


def digest_query(source: sql.Composable) -> sql.Composed:
    """Row count and content checksum of the rows `source` (a table or a select) yields."""
    return sql.SQL(
        "select count(*), coalesce(md5(string_agg(t::text, E'\\n' order by t::text collate \"C\")),"
        " md5('')) from {} as t"
    ).format(source)


def table_source(schema: str, table: str) -> sql.Composed:
    return sql.SQL("only {}").format(sql.Identifier(schema, table))


def digest(conn: psycopg.Connection[TupleRow]) -> dict[str, TableDigest]:
    """Row count and checksum of every app table and of the auth rows the app references.

    Runs in one repeatable-read snapshot (unless the caller already holds a transaction), so the
    figures describe one moment even while others write.
    """
    if conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE and conn.autocommit:
        with conn.transaction():
            conn.execute("set transaction isolation level repeatable read")
            return _digest(conn)
    return _digest(conn)


def sources(conn: psycopg.Connection[TupleRow]) -> dict[str, sql.Composable]:
    """What the app's data is: every app table, and the auth rows the app references."""
    schemas = app_schemas(conn)
    found: dict[str, sql.Composable] = {
        f"{s}.{t}": table_source(s, t) for s, t in app_tables(conn, schemas)
    }
    for name, select in auth_selects(conn, schemas).items():
        found[name] = sql.SQL("({})").format(select)
    return found


def _digest(conn: psycopg.Connection[TupleRow]) -> dict[str, TableDigest]:
    conn.execute("set local timezone = 'UTC'")
    conn.execute("set local extra_float_digits = 3")
    result: dict[str, TableDigest] = {}
    for name, source in sources(conn).items():
        row = conn.execute(digest_query(source)).fetchone()
        if row is None:  # an aggregate always yields a row
            raise RuntimeError(f"no digest row for {name}")
        result[name] = TableDigest(int(row[0]), str(row[1]))
    return result


# Who may do what to every schema, table, column, sequence and function of the app, one line per
# grant, with a missing ACL spelled out as the built-in default it stands for. A restore that
# lands objects with other privileges (a target's default privileges can add grants) is caught.
PRIVILEGES_QUERY = """
with objects as (
  select 'schema ' || n.nspname as object,
         coalesce(n.nspacl, pg_catalog.acldefault('n', n.nspowner)) as acl
    from pg_catalog.pg_namespace as n
   where n.nspname = any({schemas}) and n.nspname <> 'public'
  union all
  select (case c.relkind when 'S' then 'sequence ' else 'table ' end) || c.oid::regclass::text,
         coalesce(c.relacl, pg_catalog.acldefault(
           case c.relkind when 'S' then 's'::"char" else 'r'::"char" end, c.relowner))
    from pg_catalog.pg_class as c
   where c.relnamespace::regnamespace::text = any({schemas})
     and c.relkind in ('r', 'p', 'v', 'm', 'f', 'S')
  union all
  select 'column ' || c.oid::regclass::text || '.' || quote_ident(a.attname), a.attacl
    from pg_catalog.pg_attribute as a
    join pg_catalog.pg_class as c on c.oid = a.attrelid
   where c.relnamespace::regnamespace::text = any({schemas})
     and a.attnum > 0 and not a.attisdropped and a.attacl is not null
  union all
  select 'function ' || p.oid::regprocedure::text,
         coalesce(p.proacl, pg_catalog.acldefault('f', p.proowner))
    from pg_catalog.pg_proc as p
   where p.pronamespace::regnamespace::text = any({schemas})
)
select o.object || ': '
       || case e.grantee when 0 then 'PUBLIC' else e.grantee::regrole::text end
       || ' ' || e.privilege_type || case when e.is_grantable then ' with grant option' else '' end
  from objects as o
 cross join lateral pg_catalog.aclexplode(o.acl) as e
 order by 1
"""


def privileges_query(schemas: list[str]) -> sql.Composed:
    return sql.SQL(PRIVILEGES_QUERY).format(schemas=sql.Literal(schemas) + sql.SQL("::text[]"))


def privileges(conn: psycopg.Connection[TupleRow]) -> list[str]:
    """The app's privileges, one sorted line per grant (see PRIVILEGES_QUERY), names qualified."""
    if conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE and conn.autocommit:
        with conn.transaction():
            return privileges(conn)
    conn.execute("set local search_path = ''")
    rows = conn.execute(privileges_query(app_schemas(conn))).fetchall()
    return [str(r[0]) for r in rows]


# What the app attaches to objects that are not its own: its triggers on platform tables (profile
# sync on auth.users) and its tables in the platform's publications (Realtime). A dump of the
# app's schemas leaves both out, since they belong to the platform's tables and publications.
# Each row: a line that names the attachment, and the statement that recreates it.
ATTACHMENTS_QUERY = """
select 'trigger ' || pg_catalog.pg_get_triggerdef(t.oid),
       pg_catalog.pg_get_triggerdef(t.oid) || ';'
  from pg_catalog.pg_trigger as t
  join pg_catalog.pg_class as c on c.oid = t.tgrelid
  join pg_catalog.pg_proc as p on p.oid = t.tgfoid
 where not t.tgisinternal
   and c.relnamespace::regnamespace::text <> all({schemas})
   and p.pronamespace::regnamespace::text = any({schemas})
union all
select 'publication ' || pg_catalog.quote_ident(p.pubname) || ' table '
       || r.prrelid::regclass::text || coalesce(' (' || cols.list || ')', '')
       || coalesce(' where (' || pg_catalog.pg_get_expr(r.prqual, r.prrelid) || ')', ''),
       'alter publication ' || pg_catalog.quote_ident(p.pubname) || ' add table '
       || r.prrelid::regclass::text || coalesce(' (' || cols.list || ')', '')
       || coalesce(' where (' || pg_catalog.pg_get_expr(r.prqual, r.prrelid) || ')', '') || ';'
  from pg_catalog.pg_publication_rel as r
  join pg_catalog.pg_publication as p on p.oid = r.prpubid
  join pg_catalog.pg_class as c on c.oid = r.prrelid
 cross join lateral (
   select pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), ', ' order by a.attnum)
     from pg_catalog.pg_attribute as a
    where a.attrelid = r.prrelid and a.attnum = any(r.prattrs)
 ) as cols(list)
 where c.relnamespace::regnamespace::text = any({schemas})
union all
select 'publication ' || pg_catalog.quote_ident(p.pubname) || ' tables in schema '
       || pg_catalog.quote_ident(n.nspname),
       'alter publication ' || pg_catalog.quote_ident(p.pubname) || ' add tables in schema '
       || pg_catalog.quote_ident(n.nspname) || ';'
  from pg_catalog.pg_publication_namespace as pn
  join pg_catalog.pg_publication as p on p.oid = pn.pnpubid
  join pg_catalog.pg_namespace as n on n.oid = pn.pnnspid
 where n.nspname = any({schemas})
 order by 1
"""


def attachments_query(schemas: list[str]) -> sql.Composed:
    return sql.SQL(ATTACHMENTS_QUERY).format(schemas=sql.Literal(schemas) + sql.SQL("::text[]"))


def attachments(conn: psycopg.Connection[TupleRow]) -> list[tuple[str, str]]:
    """(line, statement) of every attachment (see ATTACHMENTS_QUERY), names qualified."""
    if conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE and conn.autocommit:
        with conn.transaction():
            return attachments(conn)
    conn.execute("set local search_path = ''")
    rows = conn.execute(attachments_query(app_schemas(conn))).fetchall()
    return [(str(line), str(statement)) for line, statement in rows]
